/* ML-KEM-768 (FIPS 203): K-PKE (section 5, algorithms 13-15), the internal KEM algorithms
 * (section 6, algorithms 16-18), the input checks of section 7.2 (encapsulation key modulus
 * check) and 7.3 (decapsulation key hash check), and KeyGen/Encaps with randomness from libsodium
 * (algorithms 19 and 20). Decaps re-encrypts and replaces the key with J(z || c) when the
 * ciphertexts differ (implicit rejection), with a masked comparison and selection.
 *
 * Byte layout (k = 3): ek = ByteEncode12(t_hat) || rho (1184); dk = dk_pke || ek || H(ek) || z
 * (2400); c = c1 || c2 with c1 = ByteEncode10(Compress10(u)) (960) and c2 = ByteEncode4(...)
 * (128). H = SHA3-256, G = SHA3-512, J = SHAKE256 to 32 bytes, PRF = SHAKE256, XOF = SHAKE128. */
#include "crypto/kem.h"

#include <sodium.h>
#include <string.h>

#include "crypto/ct.h"
#include "crypto/mlkem768_internal.h"
#include "crypto/sha3.h"
#include "util/err.h"

#define K SH_MLKEM_K
#define DK_PKE_OFF 0
#define DK_EK_OFF SH_MLKEM_POLYVEC_BYTES
#define DK_H_OFF (DK_EK_OFF + SH_MLKEM768_EK_BYTES)
#define DK_Z_OFF (DK_H_OFF + 32)

_Static_assert(SH_MLKEM768_EK_BYTES == SH_MLKEM_POLYVEC_BYTES + 32, "ek = t_hat || rho");
_Static_assert(SH_MLKEM768_DK_BYTES == DK_Z_OFF + 32, "dk = dk_pke || ek || h || z");
_Static_assert(SH_MLKEM768_CT_BYTES == SH_MLKEM_U_BYTES + SH_MLKEM_V_BYTES, "c = c1 || c2");

/* Algorithm 13, K-PKE.KeyGen(d): ek_pke and dk_pke = ByteEncode12(s_hat). */
static void kpke_keygen(uint8_t ek[static SH_MLKEM768_EK_BYTES],
                        uint8_t dk_pke[static SH_MLKEM_POLYVEC_BYTES], const uint8_t d[static 32])
{
    uint8_t d_k[33], rho_sigma[64];
    const uint8_t *rho = rho_sigma, *sigma = rho_sigma + 32;
    sh_mlkem_polyvec s, e, a_row;
    sh_mlkem_poly t;

    memcpy(d_k, d, 32);
    d_k[32] = K;
    sh_sha3_512(rho_sigma, d_k, sizeof d_k); /* (rho, sigma) = G(d || k) */
    SH_CT_DECLASSIFY(rho_sigma, 32);         /* rho is published in ek */
    for (uint8_t i = 0; i < K; i++) {
        sh__mlkem_sample_cbd(&s.p[i], sigma, i);
        sh__mlkem_sample_cbd(&e.p[i], sigma, (uint8_t)(K + i));
    }
    for (int i = 0; i < K; i++) {
        sh__mlkem_ntt(&s.p[i]);
        sh__mlkem_ntt(&e.p[i]);
    }
    for (uint8_t i = 0; i < K; i++) {
        for (uint8_t j = 0; j < K; j++)
            sh__mlkem_sample_ntt(&a_row.p[j], rho, j, i); /* A_hat[i, j] */
        sh__mlkem_polyvec_basemul_acc(&t, &a_row, &s);
        sh__mlkem_poly_tomont(&t);
        sh__mlkem_poly_add(&t, &e.p[i]);
        sh__mlkem_poly_encode12(ek + i * SH_MLKEM_POLY_BYTES, &t);
        sh__mlkem_poly_encode12(dk_pke + i * SH_MLKEM_POLY_BYTES, &s.p[i]);
    }
    memcpy(ek + SH_MLKEM_POLYVEC_BYTES, rho, 32);
    sodium_memzero(d_k, sizeof d_k);
    sodium_memzero(rho_sigma, sizeof rho_sigma);
    sodium_memzero(&s, sizeof s);
    sodium_memzero(&e, sizeof e);
    sodium_memzero(&t, sizeof t);
}

/* Algorithm 14, K-PKE.Encrypt(ek_pke, m, r). */
static void kpke_encrypt(uint8_t c[static SH_MLKEM768_CT_BYTES],
                         const uint8_t ek[static SH_MLKEM768_EK_BYTES], const uint8_t m[static 32],
                         const uint8_t r[static 32])
{
    const uint8_t *rho = ek + SH_MLKEM_POLYVEC_BYTES;
    sh_mlkem_polyvec t_hat, y, a_row;
    sh_mlkem_poly u, v, noise;

    for (uint8_t i = 0; i < K; i++) {
        sh__mlkem_poly_decode12(&t_hat.p[i], ek + i * SH_MLKEM_POLY_BYTES);
        sh__mlkem_sample_cbd(&y.p[i], r, i);
        sh__mlkem_ntt(&y.p[i]);
    }
    for (uint8_t i = 0; i < K; i++) {
        for (uint8_t j = 0; j < K; j++)
            sh__mlkem_sample_ntt(&a_row.p[j], rho, i, j); /* A_hat^T[i, j] = A_hat[j, i] */
        sh__mlkem_polyvec_basemul_acc(&u, &a_row, &y);
        sh__mlkem_invntt(&u);
        sh__mlkem_sample_cbd(&noise, r, (uint8_t)(K + i)); /* e1[i] */
        sh__mlkem_poly_add(&u, &noise);
        sh__mlkem_poly_compress10(c + i * 320, &u);
    }
    sh__mlkem_polyvec_basemul_acc(&v, &t_hat, &y);
    sh__mlkem_invntt(&v);
    sh__mlkem_sample_cbd(&noise, r, 2 * K); /* e2 */
    sh__mlkem_poly_add(&v, &noise);
    sh__mlkem_poly_from_msg(&noise, m); /* mu = Decompress1(ByteDecode1(m)) */
    sh__mlkem_poly_add(&v, &noise);
    sh__mlkem_poly_compress4(c + SH_MLKEM_U_BYTES, &v);
    sodium_memzero(&y, sizeof y);
    sodium_memzero(&u, sizeof u);
    sodium_memzero(&v, sizeof v);
    sodium_memzero(&noise, sizeof noise);
}

/* Algorithm 15, K-PKE.Decrypt(dk_pke, c). */
static void kpke_decrypt(uint8_t m[static 32], const uint8_t dk_pke[static SH_MLKEM_POLYVEC_BYTES],
                         const uint8_t c[static SH_MLKEM768_CT_BYTES])
{
    sh_mlkem_polyvec u, s_hat;
    sh_mlkem_poly v, w;

    for (int i = 0; i < K; i++) {
        sh__mlkem_poly_decompress10(&u.p[i], c + i * 320);
        sh__mlkem_ntt(&u.p[i]);
        sh__mlkem_poly_decode12(&s_hat.p[i], dk_pke + i * SH_MLKEM_POLY_BYTES);
    }
    sh__mlkem_poly_decompress4(&v, c + SH_MLKEM_U_BYTES);
    sh__mlkem_polyvec_basemul_acc(&w, &s_hat, &u);
    sh__mlkem_invntt(&w);
    sh__mlkem_poly_sub(&v, &w); /* w = v' - NTT^-1(s_hat^T o NTT(u')) */
    sh__mlkem_poly_to_msg(m, &v);
    sodium_memzero(&s_hat, sizeof s_hat);
    sodium_memzero(&v, sizeof v);
    sodium_memzero(&w, sizeof w);
}

int sh_mlkem768_keygen_derand(uint8_t ek[1184], uint8_t dk[2400], const uint8_t d[32],
                              const uint8_t z[32])
{
    kpke_keygen(ek, dk + DK_PKE_OFF, d);
    memcpy(dk + DK_EK_OFF, ek, SH_MLKEM768_EK_BYTES);
    sh_sha3_256(dk + DK_H_OFF, ek, SH_MLKEM768_EK_BYTES);
    memcpy(dk + DK_Z_OFF, z, 32);
    return SH_OK;
}

int sh_mlkem768_keygen_seed(uint8_t ek[static SH_MLKEM768_EK_BYTES],
                            uint8_t dk[static SH_MLKEM768_DK_BYTES], const uint8_t *seed,
                            size_t seed_len)
{
    if (seed_len != SH_MLKEM768_KEYGEN_SEED_BYTES)
        return sh_err_set(SH_ERR_INVALID, "ML-KEM-768 key seed is %zu bytes, not %d (d || z)",
                          seed_len, SH_MLKEM768_KEYGEN_SEED_BYTES);
    return sh_mlkem768_keygen_derand(ek, dk, seed, seed + 32);
}

int sh_mlkem768_keygen(uint8_t ek[1184], uint8_t dk[2400])
{
    uint8_t dz[64];
    int rc;

    randombytes_buf(dz, sizeof dz);
    rc = sh_mlkem768_keygen_derand(ek, dk, dz, dz + 32);
    sodium_memzero(dz, sizeof dz);
    return rc;
}

int sh_mlkem768_ek_check(const uint8_t *ek, size_t ek_len)
{
    if (ek_len != SH_MLKEM768_EK_BYTES)
        return sh_err_set(SH_ERR_INVALID, "ML-KEM-768 encapsulation key is %zu bytes, not %d",
                          ek_len, SH_MLKEM768_EK_BYTES);
    for (int i = 0; i < K; i++)
        if (!sh__mlkem_poly_is_reduced(ek + i * SH_MLKEM_POLY_BYTES))
            return sh_err_set(SH_ERR_INVALID,
                              "ML-KEM-768 encapsulation key fails the modulus check (FIPS 203 "
                              "7.2): polynomial %d has a coefficient not below q = %d",
                              i, SH_MLKEM_Q);
    return SH_OK;
}

/* Algorithm 17 after the check: (K, r) = G(m || H(ek)), c = K-PKE.Encrypt(ek, m, r). */
int sh_mlkem768_encaps_derand(uint8_t ct[1088], uint8_t ss[32], const uint8_t ek[1184],
                              const uint8_t m[32])
{
    uint8_t m_h[64], k_r[64];
    int rc;

    if ((rc = sh_mlkem768_ek_check(ek, SH_MLKEM768_EK_BYTES)) != SH_OK)
        return rc;
    memcpy(m_h, m, 32);
    sh_sha3_256(m_h + 32, ek, SH_MLKEM768_EK_BYTES);
    sh_sha3_512(k_r, m_h, sizeof m_h);
    kpke_encrypt(ct, ek, m, k_r + 32);
    memcpy(ss, k_r, SH_KEM_SS_BYTES);
    sodium_memzero(m_h, sizeof m_h);
    sodium_memzero(k_r, sizeof k_r);
    return SH_OK;
}

int sh_mlkem768_encaps_buf(uint8_t ct[static SH_MLKEM768_CT_BYTES],
                           uint8_t ss[static SH_KEM_SS_BYTES], const uint8_t *ek, size_t ek_len,
                           const uint8_t m[static SH_MLKEM768_SEED_BYTES])
{
    int rc;

    if ((rc = sh_mlkem768_ek_check(ek, ek_len)) != SH_OK)
        return rc;
    return sh_mlkem768_encaps_derand(ct, ss, ek, m);
}

int sh_mlkem768_encaps(uint8_t ct[1088], uint8_t ss[32], const uint8_t ek[1184])
{
    uint8_t m[32];
    int rc;

    randombytes_buf(m, sizeof m);
    rc = sh_mlkem768_encaps_derand(ct, ss, ek, m);
    sodium_memzero(m, sizeof m);
    return rc;
}

/* 0xff when the two buffers are equal, else 0, in time independent of their contents. The empty
 * asm keeps the compiler from turning the accumulated difference back into a branch. */
static uint8_t ct_equal_mask(const uint8_t *a, const uint8_t *b, size_t len)
{
    uint32_t diff = 0;

    for (size_t i = 0; i < len; i++)
        diff |= (uint32_t)(a[i] ^ b[i]);
    __asm__("" : "+r"(diff));
    return (uint8_t)((diff - 1) >> 8);
}

/* Algorithm 18 (Decaps_internal): m' = Decrypt(c), (K', r') = G(m' || h), K_bar = J(z || c),
 * c' = Encrypt(ek, m', r'); the result is K' when c' = c, else K_bar. */
static void decaps_internal(uint8_t ss[static 32], const uint8_t c[static SH_MLKEM768_CT_BYTES],
                            const uint8_t dk[static SH_MLKEM768_DK_BYTES])
{
    uint8_t m_h[64], k_r[64], k_bar[32], c_prime[SH_MLKEM768_CT_BYTES];
    sh_keccak st;
    uint8_t equal;

    kpke_decrypt(m_h, dk + DK_PKE_OFF, c);
    memcpy(m_h + 32, dk + DK_H_OFF, 32);
    sh_sha3_512(k_r, m_h, sizeof m_h);
    sh_shake256_init(&st);
    sh_keccak_absorb(&st, dk + DK_Z_OFF, 32);
    sh_keccak_absorb(&st, c, SH_MLKEM768_CT_BYTES);
    sh_keccak_squeeze(&st, k_bar, sizeof k_bar);
    kpke_encrypt(c_prime, dk + DK_EK_OFF, m_h, k_r + 32);
    equal = ct_equal_mask(c, c_prime, SH_MLKEM768_CT_BYTES);
#ifdef SH_CT_LEAKY_DEMO
    /* Deliberately leaky, only for `tools/ct-check.sh --demo-leak`: a branch on the secret. */
    if (equal)
        memcpy(k_bar, k_r, 32);
    memcpy(ss, k_bar, 32);
#else
    for (int i = 0; i < 32; i++)
        ss[i] = (uint8_t)(k_bar[i] ^ (equal & (k_r[i] ^ k_bar[i])));
#endif
    sh_keccak_wipe(&st);
    sodium_memzero(m_h, sizeof m_h);
    sodium_memzero(k_r, sizeof k_r);
    sodium_memzero(k_bar, sizeof k_bar);
    sodium_memzero(c_prime, sizeof c_prime);
}

void sh__mlkem768_decaps_unchecked(uint8_t ss[static SH_KEM_SS_BYTES],
                                   const uint8_t ct[static SH_MLKEM768_CT_BYTES],
                                   const uint8_t dk[static SH_MLKEM768_DK_BYTES])
{
    decaps_internal(ss, ct, dk);
}

int sh_mlkem768_decaps(uint8_t ss[32], const uint8_t ct[1088], const uint8_t dk[2400])
{
    uint8_t h[32];
    int ok;

    sh_sha3_256(h, dk + DK_EK_OFF, SH_MLKEM768_EK_BYTES);
    ok = sodium_memcmp(h, dk + DK_H_OFF, sizeof h) == 0;
    sodium_memzero(h, sizeof h);
    if (!ok)
        return sh_err_set(SH_ERR_INVALID, "ML-KEM-768 decapsulation key fails the hash check "
                                          "(FIPS 203 7.3): H(ek) differs from the stored hash");
    decaps_internal(ss, ct, dk);
    return SH_OK;
}

int sh_mlkem768_decaps_buf(uint8_t ss[static SH_KEM_SS_BYTES], const uint8_t *ct, size_t ct_len,
                           const uint8_t *dk, size_t dk_len)
{
    if (ct_len != SH_MLKEM768_CT_BYTES)
        return sh_err_set(SH_ERR_INVALID, "ML-KEM-768 ciphertext is %zu bytes, not %d", ct_len,
                          SH_MLKEM768_CT_BYTES);
    if (dk_len != SH_MLKEM768_DK_BYTES)
        return sh_err_set(SH_ERR_INVALID, "ML-KEM-768 decapsulation key is %zu bytes, not %d",
                          dk_len, SH_MLKEM768_DK_BYTES);
    return sh_mlkem768_decaps(ss, ct, dk);
}
