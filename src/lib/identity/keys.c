/* Account keys and Session IDs (Session-compatible; ../shared/vectors/session/README.md, "Keys
 * and the Session ID"): Ed25519 from seed ‖ 16 zero bytes, X25519 converted from it, and the
 * Session ID 05 ‖ X25519 public key. */
#include "identity/account.h"

#include <sodium.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/encode.h"
#include "util/err.h"

_Static_assert(SH_ED25519_SEED_BYTES == crypto_sign_SEEDBYTES, "Ed25519 seed size");
_Static_assert(SH_ED25519_PK_BYTES == crypto_sign_PUBLICKEYBYTES, "Ed25519 key size");
_Static_assert(SH_SIGNATURE_BYTES == crypto_sign_BYTES, "signature size");
_Static_assert(SH_X25519_PK_BYTES == crypto_scalarmult_curve25519_BYTES, "X25519 key size");
_Static_assert(SH_SESSION_ID_BYTES == 1 + SH_X25519_PK_BYTES, "Session ID size");
_Static_assert(SH_SESSION_ID_HEX_BYTES == 2 * SH_SESSION_ID_BYTES + 1, "Session ID text size");

int sh_identity_init(void)
{
    return sh_crypto_init();
}

void sh_seed_generate(uint8_t seed[static SH_SEED_BYTES])
{
    randombytes_buf(seed, SH_SEED_BYTES);
}

int sh_account_from_ed25519_seed(sh_account **out, const uint8_t seed[static SH_ED25519_SEED_BYTES])
{
    static const uint8_t zeros[SH_ED25519_SEED_BYTES - SH_SEED_BYTES];
    sh_account *a = sh_secret_alloc(sizeof *a);
    int rc = SH_OK;

    if (a == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for account keys");
    memcpy(a->ed25519_seed, seed, SH_ED25519_SEED_BYTES);
    a->has_phrase = sodium_memcmp(seed + SH_SEED_BYTES, zeros, sizeof zeros) == 0;
    if (crypto_sign_seed_keypair(a->ed25519_pk, a->ed25519_sk, a->ed25519_seed) != 0 ||
        crypto_sign_ed25519_sk_to_curve25519(a->x25519_sk, a->ed25519_sk) != 0) {
        rc = sh_err_set(SH_ERR_INTERNAL, "cannot derive the account's key pairs");
        goto done;
    }
    if (crypto_sign_ed25519_pk_to_curve25519(a->x25519_pk, a->ed25519_pk) != 0) {
        rc = sh_err_set(SH_ERR_CRYPTO, "this seed gives an Ed25519 key with no X25519 form");
        goto done;
    }
    *out = a;
    a = NULL;
done:
    sh_secret_free(a);
    return rc;
}

int sh_account_from_seed(sh_account **out, const uint8_t seed[static SH_SEED_BYTES])
{
    uint8_t full[SH_ED25519_SEED_BYTES] = {0};
    int rc;

    memcpy(full, seed, SH_SEED_BYTES);
    rc = sh_account_from_ed25519_seed(out, full);
    sodium_memzero(full, sizeof full);
    return rc;
}

void sh_account_free(sh_account *account)
{
    sh_secret_free(account);
}

const uint8_t *sh_account_ed25519_pk(const sh_account *account)
{
    return account->ed25519_pk;
}

const uint8_t *sh_account_x25519_pk(const sh_account *account)
{
    return account->x25519_pk;
}

const uint8_t *sh_account_x25519_sk(const sh_account *account)
{
    return account->x25519_sk;
}

void sh_account_session_id(const sh_account *account, uint8_t out[static SH_SESSION_ID_BYTES])
{
    out[0] = SH_SESSION_ID_PREFIX;
    memcpy(out + 1, account->x25519_pk, SH_X25519_PK_BYTES);
}

void sh_account_session_id_hex(const sh_account *account, char out[static SH_SESSION_ID_HEX_BYTES])
{
    sh_session_id_format(out, account->x25519_pk);
}

int sh_account_phrase(const sh_account *account, char *out, size_t out_size)
{
    if (!account->has_phrase)
        return sh_err_set(SH_ERR_UNSUPPORTED,
                          "this account was made from a 32-byte seed; no recovery phrase encodes it");
    return sh_phrase_encode(out, out_size, account->ed25519_seed);
}

int sh_account_sign(const sh_account *account, uint8_t sig[static SH_SIGNATURE_BYTES],
                    const uint8_t *msg, size_t len)
{
    if (crypto_sign_detached(sig, NULL, msg, len, account->ed25519_sk) != 0)
        return sh_err_set(SH_ERR_INTERNAL, "Ed25519 signing failed");
    return SH_OK;
}

void sh_session_id_format(char out[static SH_SESSION_ID_HEX_BYTES],
                          const uint8_t x25519_pk[static SH_X25519_PK_BYTES])
{
    out[0] = '0';
    out[1] = '5';
    sodium_bin2hex(out + 2, SH_SESSION_ID_HEX_BYTES - 2, x25519_pk, SH_X25519_PK_BYTES);
}

static bool is_hex_digit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int sh_session_id_parse(uint8_t x25519_pk[static SH_X25519_PK_BYTES], const char *text)
{
    size_t len = text == NULL ? 0 : strlen(text);

    if (len != 2 * SH_SESSION_ID_BYTES)
        return sh_err_set(SH_ERR_FORMAT, "a Session ID has %d hex digits; this one has %zu",
                          2 * SH_SESSION_ID_BYTES, len);
    for (size_t i = 0; i < len; i++) {
        if (is_hex_digit(text[i]))
            continue;
        if (text[i] > ' ' && text[i] < 0x7f)
            return sh_err_set(SH_ERR_FORMAT, "character %zu of the Session ID, '%c', is not a hex digit",
                              i + 1, text[i]);
        return sh_err_set(SH_ERR_FORMAT, "character %zu of the Session ID (byte 0x%02x) is not a hex digit",
                          i + 1, (unsigned char)text[i]);
    }
    if (text[0] == '1' && text[1] == '5')
        return sh_err_set(SH_ERR_UNSUPPORTED, "'15…' is a blinded community ID, not a Session ID");
    if (text[0] == '2' && text[1] == '5')
        return sh_err_set(SH_ERR_UNSUPPORTED, "'25…' is a blinded community ID, not a Session ID");
    if (text[0] != '0' || text[1] != '5')
        return sh_err_set(SH_ERR_UNSUPPORTED, "a Session ID starts with 05, not %.2s", text);
    return sh_hex_decode(x25519_pk, SH_X25519_PK_BYTES, text + 2);
}
