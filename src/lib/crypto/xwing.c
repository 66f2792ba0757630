/* X-Wing, the hybrid of ML-KEM-768 and X25519 (draft-connolly-cfrg-xwing-kem at commit 9b6ce9e6,
 * the one the vectors in ../shared/vectors/xwing come from). The decapsulation key is a 32-byte
 * seed expanded with SHAKE256 to d || z || sk_X (expandDecapsulationKey); the shared secret is
 * SHA3-256(ss_M || ss_X || ct_X || pk_X || XWingLabel) (Combiner). X25519 is libsodium's.
 *
 * Decapsulation follows the draft exactly, including a ct_X of small order (ss_X is then all
 * zero). Encapsulation additionally refuses an encapsulation key whose X25519 part has small
 * order (ss_X would be all zero and public), beside the ML-KEM modulus check the draft requires. */
#include "crypto/kem.h"

#include <sodium.h>
#include <string.h>

#include "crypto/ct.h"
#include "crypto/mlkem768_internal.h"
#include "crypto/sha3.h"
#include "util/err.h"

/* XWingLabel = "\./" || "/^\" (draft section "Combiner"). */
static const uint8_t xwing_label[6] = {0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c};

_Static_assert(crypto_scalarmult_BYTES == 32 && crypto_scalarmult_SCALARBYTES == 32, "X25519");

/* The expanded key lives on the stack for the length of one call and is wiped at its end. */
typedef struct xwing_expanded {
    uint8_t dk_m[SH_MLKEM768_DK_BYTES];
    uint8_t ek_m[SH_MLKEM768_EK_BYTES];
    uint8_t sk_x[32];
    uint8_t pk_x[32];
} xwing_expanded;

/* expandDecapsulationKey(sk). */
static void expand_key(xwing_expanded *x, const uint8_t seed[static SH_XWING_DK_BYTES])
{
    uint8_t expanded[96];

    sh_shake256(expanded, sizeof expanded, seed, SH_XWING_DK_BYTES);
    sh_mlkem768_keygen_derand(x->ek_m, x->dk_m, expanded, expanded + 32);
    memcpy(x->sk_x, expanded + 64, 32);
    crypto_scalarmult_base(x->pk_x, x->sk_x);
    SH_CT_DECLASSIFY(x->pk_x, sizeof x->pk_x); /* the public key */
    sodium_memzero(expanded, sizeof expanded);
}

static void combiner(uint8_t ss[static 32], const uint8_t ss_m[static 32],
                     const uint8_t ss_x[static 32], const uint8_t ct_x[static 32],
                     const uint8_t pk_x[static 32])
{
    sh_keccak st;

    sh_sha3_256_init(&st);
    sh_keccak_absorb(&st, ss_m, 32);
    sh_keccak_absorb(&st, ss_x, 32);
    sh_keccak_absorb(&st, ct_x, 32);
    sh_keccak_absorb(&st, pk_x, 32);
    sh_keccak_absorb(&st, xwing_label, sizeof xwing_label);
    sh_sha3_256_final(&st, ss);
    sh_keccak_wipe(&st);
}

/* X25519(k, u); returns 0, or -1 when the result is all zero, which happens exactly when the
 * public point u has small order, so the result is public and may be branched on. */
static int x25519(uint8_t out[static 32], const uint8_t k[static 32], const uint8_t u[static 32])
{
    int rc = crypto_scalarmult(out, k, u);

    SH_CT_DECLASSIFY(&rc, sizeof rc);
    return rc;
}

int sh_xwing_keygen_derand(uint8_t ek[1216], uint8_t dk[32], const uint8_t seed[32])
{
    xwing_expanded x;

    expand_key(&x, seed);
    memcpy(ek, x.ek_m, SH_MLKEM768_EK_BYTES);
    memcpy(ek + SH_MLKEM768_EK_BYTES, x.pk_x, 32);
    memmove(dk, seed, SH_XWING_DK_BYTES);
    sodium_memzero(&x, sizeof x);
    return SH_OK;
}

int sh_xwing_keygen(uint8_t ek[1216], uint8_t dk[32])
{
    uint8_t seed[SH_XWING_SEED_BYTES];
    int rc;

    randombytes_buf(seed, sizeof seed);
    rc = sh_xwing_keygen_derand(ek, dk, seed);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

/* EncapsulateDerand(pk, eseed): ek_X = eseed[32:64], ML-KEM randomness m = eseed[0:32]. */
int sh_xwing_encaps_derand(uint8_t ct[1120], uint8_t ss[32], const uint8_t ek[1216],
                           const uint8_t eseed[64])
{
    const uint8_t *pk_x = ek + SH_MLKEM768_EK_BYTES;
    uint8_t ss_m[32], ss_x[32], ct_x[32];
    int rc;

    rc = sh_mlkem768_encaps_derand(ct, ss_m, ek, eseed);
    if (rc != SH_OK) {
        rc = sh_err_wrap(rc, "X-Wing encapsulation key");
        goto done;
    }
    crypto_scalarmult_base(ct_x, eseed + 32);
    if (x25519(ss_x, eseed + 32, pk_x) != 0) {
        rc = sh_err_set(SH_ERR_INVALID, "X-Wing encapsulation key: its X25519 public key has "
                                        "small order, so the classical share would be zero");
        goto done;
    }
    combiner(ss, ss_m, ss_x, ct_x, pk_x);
    memcpy(ct + SH_MLKEM768_CT_BYTES, ct_x, 32);
done:
    sodium_memzero(ss_m, sizeof ss_m);
    sodium_memzero(ss_x, sizeof ss_x);
    return rc;
}

int sh_xwing_encaps_buf(uint8_t ct[static SH_XWING_CT_BYTES], uint8_t ss[static SH_KEM_SS_BYTES],
                        const uint8_t *ek, size_t ek_len)
{
    if (ek_len != SH_XWING_EK_BYTES)
        return sh_err_set(SH_ERR_INVALID, "X-Wing encapsulation key is %zu bytes, not %d", ek_len,
                          SH_XWING_EK_BYTES);
    return sh_xwing_encaps(ct, ss, ek);
}

int sh_xwing_encaps(uint8_t ct[1120], uint8_t ss[32], const uint8_t ek[1216])
{
    uint8_t eseed[SH_XWING_ESEED_BYTES];
    int rc;

    randombytes_buf(eseed, sizeof eseed);
    rc = sh_xwing_encaps_derand(ct, ss, ek, eseed);
    sodium_memzero(eseed, sizeof eseed);
    return rc;
}

/* Decapsulate(ct, sk). A small-order ct_X gives ss_X = 0, as the draft computes it. */
int sh_xwing_decaps(uint8_t ss[32], const uint8_t ct[1120], const uint8_t dk[32])
{
    const uint8_t *ct_x = ct + SH_MLKEM768_CT_BYTES;
    xwing_expanded x;
    uint8_t ss_m[32], ss_x[32];

    expand_key(&x, dk);
    sh__mlkem768_decaps_unchecked(ss_m, ct, x.dk_m);
    if (x25519(ss_x, x.sk_x, ct_x) != 0)
        memset(ss_x, 0, sizeof ss_x);
    combiner(ss, ss_m, ss_x, ct_x, x.pk_x);
    sodium_memzero(&x, sizeof x);
    sodium_memzero(ss_m, sizeof ss_m);
    sodium_memzero(ss_x, sizeof ss_x);
    return SH_OK;
}

int sh_xwing_decaps_buf(uint8_t ss[static SH_KEM_SS_BYTES], const uint8_t *ct, size_t ct_len,
                        const uint8_t dk[static SH_XWING_DK_BYTES])
{
    if (ct_len != SH_XWING_CT_BYTES)
        return sh_err_set(SH_ERR_INVALID, "X-Wing ciphertext is %zu bytes, not %d", ct_len,
                          SH_XWING_CT_BYTES);
    return sh_xwing_decaps(ss, ct, dk);
}
