/* Blinded community IDs (Session-compatible; ../shared/vectors/session/README.md, "Blinded IDs").
 * With A the account's Ed25519 key, a its secret scalar, and k a factor hashed from the server key:
 *   15: k = H(server_pk),              blinded key k·A   (the true sign of A; a server that knows
 *       only the X25519 key sees two candidates, ±k·A)
 *   25: k = H(05 ‖ X25519 pk ‖ server_pk), blinded key k·A', A' = A with the sign bit cleared,
 *       whose secret scalar is a or −a
 * where H is BLAKE2b-512 reduced mod ℓ. Signatures are plain Ed25519 over the blinded key
 * s = k·a (or k·−a); their nonce is ours: BLAKE2b-512 keyed by s over a label, the key and the
 * message, so it is deterministic and secret. */
#include "identity/account.h"

#include <sodium.h>
#include <string.h>

#include "crypto/labels.h"
#include "util/err.h"

#define SCALAR_BYTES crypto_core_ed25519_SCALARBYTES
#define SIGN_BIT 0x80

static int check_prefix(uint8_t prefix)
{
    if (prefix != SH_BLIND15_PREFIX && prefix != SH_BLIND25_PREFIX)
        return sh_err_set(SH_ERR_INVALID, "0x%02x is not a blinded ID prefix (0x15 or 0x25)", prefix);
    return SH_OK;
}

/* k for this server, as a reduced scalar. */
static void blind_factor(uint8_t k[static SCALAR_BYTES], uint8_t prefix,
                         const uint8_t x25519_pk[static 32], const uint8_t server_pk[static 32])
{
    static const uint8_t session_prefix = SH_SESSION_ID_PREFIX;
    crypto_generichash_state st;
    uint8_t hash[crypto_core_ed25519_NONREDUCEDSCALARBYTES];

    crypto_generichash_init(&st, NULL, 0, sizeof hash);
    if (prefix == SH_BLIND25_PREFIX) {
        crypto_generichash_update(&st, &session_prefix, 1);
        crypto_generichash_update(&st, x25519_pk, 32);
    }
    crypto_generichash_update(&st, server_pk, 32);
    crypto_generichash_final(&st, hash, sizeof hash);
    crypto_core_ed25519_scalar_reduce(k, hash);
}

/* The blinded secret scalar s and public key B = s·G of the account on this server. */
static int blinded_keypair(const sh_account *acct, uint8_t prefix, const uint8_t server_pk[static 32],
                           uint8_t s[static SCALAR_BYTES], uint8_t pk[static 32])
{
    uint8_t wide[crypto_core_ed25519_NONREDUCEDSCALARBYTES] = {0}, a[SCALAR_BYTES], k[SCALAR_BYTES];
    int rc = check_prefix(prefix);

    if (rc != SH_OK)
        return rc;
    /* The X25519 secret key is the clamped Ed25519 secret scalar a. */
    memcpy(wide, acct->x25519_sk, 32);
    crypto_core_ed25519_scalar_reduce(a, wide);
    if (prefix == SH_BLIND25_PREFIX && (acct->ed25519_pk[31] & SIGN_BIT) != 0)
        crypto_core_ed25519_scalar_negate(a, a);
    blind_factor(k, prefix, acct->x25519_pk, server_pk);
    crypto_core_ed25519_scalar_mul(s, k, a);
    if (crypto_scalarmult_ed25519_base_noclamp(pk, s) != 0)
        rc = sh_err_set(SH_ERR_CRYPTO, "the blinded key for this server is degenerate");
    sodium_memzero(wide, sizeof wide);
    sodium_memzero(a, sizeof a);
    sodium_memzero(k, sizeof k);
    return rc;
}

int sh_account_blinded_id(const sh_account *account, uint8_t prefix,
                          const uint8_t server_pk[static SH_SERVER_PK_BYTES],
                          uint8_t out[static SH_BLINDED_ID_BYTES])
{
    uint8_t s[SCALAR_BYTES];
    int rc = blinded_keypair(account, prefix, server_pk, s, out + 1);

    sodium_memzero(s, sizeof s);
    if (rc == SH_OK)
        out[0] = prefix;
    return rc;
}

/* r = BLAKE2b-512 keyed by s over (label ‖ B ‖ msg), reduced mod ℓ. */
static void nonce(uint8_t r[static SCALAR_BYTES], const uint8_t s[static SCALAR_BYTES],
                  const uint8_t pk[static 32], const uint8_t *msg, size_t len)
{
    crypto_generichash_state st;
    uint8_t hash[crypto_core_ed25519_NONREDUCEDSCALARBYTES];

    crypto_generichash_init(&st, s, SCALAR_BYTES, sizeof hash);
    crypto_generichash_update(&st, (const uint8_t *)SH_LABEL_BLINDED_SIGN_NONCE,
                              sizeof SH_LABEL_BLINDED_SIGN_NONCE - 1);
    crypto_generichash_update(&st, pk, 32);
    crypto_generichash_update(&st, msg, len);
    crypto_generichash_final(&st, hash, sizeof hash);
    crypto_core_ed25519_scalar_reduce(r, hash);
    sodium_memzero(hash, sizeof hash);
    sodium_memzero(&st, sizeof st);
}

/* An Ed25519 signature (RFC 8032 §5.1.6 from step 2 on) by secret scalar s with public key pk. */
static int sign_with_scalar(uint8_t sig[static 64], const uint8_t s[static SCALAR_BYTES],
                            const uint8_t pk[static 32], const uint8_t *msg, size_t len)
{
    crypto_hash_sha512_state st;
    uint8_t r[SCALAR_BYTES], hram[crypto_hash_sha512_BYTES], h[SCALAR_BYTES], hs[SCALAR_BYTES];
    int rc = SH_OK;

    nonce(r, s, pk, msg, len);
    if (crypto_scalarmult_ed25519_base_noclamp(sig, r) != 0) {
        rc = sh_err_set(SH_ERR_INTERNAL, "a zero signing nonce");
        goto done;
    }
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, sig, 32);
    crypto_hash_sha512_update(&st, pk, 32);
    crypto_hash_sha512_update(&st, msg, len);
    crypto_hash_sha512_final(&st, hram);
    crypto_core_ed25519_scalar_reduce(h, hram);
    crypto_core_ed25519_scalar_mul(hs, h, s);
    crypto_core_ed25519_scalar_add(sig + 32, r, hs);
done:
    sodium_memzero(r, sizeof r);
    sodium_memzero(hs, sizeof hs);
    return rc;
}

int sh_account_blinded_sign(const sh_account *account, uint8_t prefix,
                            const uint8_t server_pk[static SH_SERVER_PK_BYTES],
                            uint8_t sig[static SH_SIGNATURE_BYTES], const uint8_t *msg, size_t len)
{
    uint8_t s[SCALAR_BYTES], pk[32];
    int rc = blinded_keypair(account, prefix, server_pk, s, pk);

    if (rc == SH_OK)
        rc = sign_with_scalar(sig, s, pk, msg, len);
    sodium_memzero(s, sizeof s);
    return rc;
}

int sh_blinded_verify(const uint8_t blinded_id[static SH_BLINDED_ID_BYTES],
                      const uint8_t sig[static SH_SIGNATURE_BYTES], const uint8_t *msg, size_t len)
{
    int rc = check_prefix(blinded_id[0]);

    if (rc != SH_OK)
        return rc;
    if (crypto_sign_verify_detached(sig, msg, len, blinded_id + 1) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "the signature does not verify with this blinded ID");
    return SH_OK;
}

/* Unblinds the ID (k⁻¹·B = ±A) and compares the X25519 form, which is the same for both signs. */
int sh_blinded_id_matches(const uint8_t blinded_id[static SH_BLINDED_ID_BYTES],
                          const uint8_t x25519_pk[static SH_X25519_PK_BYTES],
                          const uint8_t server_pk[static SH_SERVER_PK_BYTES])
{
    uint8_t k[SCALAR_BYTES], k_inv[SCALAR_BYTES], ed_pk[32], x_pk[32];
    int rc = check_prefix(blinded_id[0]);

    if (rc != SH_OK)
        return rc;
    blind_factor(k, blinded_id[0], x25519_pk, server_pk);
    if (crypto_core_ed25519_scalar_invert(k_inv, k) != 0 ||
        crypto_scalarmult_ed25519_noclamp(ed_pk, k_inv, blinded_id + 1) != 0 ||
        crypto_sign_ed25519_pk_to_curve25519(x_pk, ed_pk) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "the blinded ID is not a valid key");
    /* A 25-blinded ID is made from the positive key only. */
    if ((blinded_id[0] == SH_BLIND25_PREFIX && (ed_pk[31] & SIGN_BIT) != 0) ||
        sodium_memcmp(x_pk, x25519_pk, 32) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "the blinded ID does not belong to this Session ID on this server");
    return SH_OK;
}
