/* The seed file: an account's 16-byte seed on disk, in clear or under a passphrase.
 * Version 1 layout (integers little-endian):
 *   "SHOALSEED" | version (1) | kind | Session ID (33)
 *   kind 0, clear:      seed (16) | CRC-32 of all the bytes before it (4)
 *   kind 1, passphrase: Argon2id opslimit (u32) | memlimit in bytes (u64) | salt (16) |
 *                       nonce (24) | XChaCha20-Poly1305 ciphertext of the seed (16 + 16)
 * The AEAD key is BLAKE2b-256 keyed by Argon2id(passphrase, salt) over SH_LABEL_SEEDFILE_KEY;
 * its associated data is SH_LABEL_SEEDFILE_AD followed by every byte before the ciphertext, so
 * the recorded Session ID and cost cannot be changed unnoticed. Argon2id's cost is recorded so
 * that a later run, whatever its own default, derives the same key. */
#include <shoal/identity.h>

#include <sodium.h>
#include <string.h>

#include "crypto/labels.h"
#include "identity/crc32.h"
#include "util/buf.h"
#include "util/err.h"

#define MAGIC "SHOALSEED"
#define MAGIC_BYTES (sizeof MAGIC - 1)
#define VERSION 1
#define KIND_CLEAR 0
#define KIND_PASSPHRASE 1
#define HEADER_BYTES (MAGIC_BYTES + 2 + SH_SESSION_ID_BYTES)
#define CLEAR_BYTES (HEADER_BYTES + SH_SEED_BYTES + 4)
#define KDF_BYTES (4 + 8 + crypto_pwhash_SALTBYTES)
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEALED_BYTES (SH_SEED_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define PASSPHRASE_BYTES (HEADER_BYTES + KDF_BYTES + NONCE_BYTES + SEALED_BYTES)
#define KEY_BYTES crypto_aead_xchacha20poly1305_ietf_KEYBYTES
/* The most a seed file may ask Argon2id for: libsodium's "sensitive" level, 4 passes and 1 GiB. */
#define MAX_OPSLIMIT 16
#define MAX_MEMLIMIT crypto_pwhash_MEMLIMIT_SENSITIVE

_Static_assert(PASSPHRASE_BYTES <= SH_SEEDFILE_MAX_BYTES, "passphrase seed file fits");
_Static_assert(CLEAR_BYTES <= SH_SEEDFILE_MAX_BYTES, "clear seed file fits");

int sh_kdf_cost_parse(const char *name, sh_kdf_cost *out)
{
    static const char *const names[] = {"min", "interactive", "moderate", "sensitive"};

    for (size_t i = 0; name != NULL && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (sh_kdf_cost)i;
            return SH_OK;
        }
    }
    return sh_err_set(SH_ERR_INVALID,
                      "unknown key-derivation cost '%s'; use min, interactive, moderate or sensitive",
                      name != NULL ? name : "");
}

static void cost_limits(sh_kdf_cost cost, uint32_t *ops, uint64_t *mem)
{
    switch (cost) {
    case SH_KDF_COST_MIN:
        *ops = crypto_pwhash_OPSLIMIT_MIN, *mem = crypto_pwhash_MEMLIMIT_MIN;
        break;
    case SH_KDF_COST_INTERACTIVE:
        *ops = crypto_pwhash_OPSLIMIT_INTERACTIVE, *mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
        break;
    case SH_KDF_COST_SENSITIVE:
        *ops = crypto_pwhash_OPSLIMIT_SENSITIVE, *mem = crypto_pwhash_MEMLIMIT_SENSITIVE;
        break;
    default:
        *ops = crypto_pwhash_OPSLIMIT_MODERATE, *mem = crypto_pwhash_MEMLIMIT_MODERATE;
        break;
    }
}

/* The AEAD key for a passphrase and the recorded salt and cost. */
static int derive_key(uint8_t key[static KEY_BYTES], const char *passphrase, size_t passphrase_len,
                      const uint8_t salt[static crypto_pwhash_SALTBYTES], uint32_t ops, uint64_t mem)
{
    uint8_t stretched[KEY_BYTES];

    if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > MAX_OPSLIMIT || mem < crypto_pwhash_MEMLIMIT_MIN ||
        mem > MAX_MEMLIMIT)
        return sh_err_set(SH_ERR_UNSUPPORTED,
                          "the seed file asks for Argon2id with %u passes and %llu bytes, outside "
                          "the allowed range", ops, (unsigned long long)mem);
    if (crypto_pwhash(stretched, sizeof stretched, passphrase, passphrase_len, salt, ops,
                      (size_t)mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return sh_err_set(SH_ERR_NOMEM, "Argon2id needs %llu bytes of memory, which are not available",
                          (unsigned long long)mem);
    crypto_generichash(key, KEY_BYTES, (const uint8_t *)SH_LABEL_SEEDFILE_KEY,
                       sizeof SH_LABEL_SEEDFILE_KEY - 1, stretched, sizeof stretched);
    sodium_memzero(stretched, sizeof stretched);
    return SH_OK;
}

#define AD_LABEL_BYTES (sizeof SH_LABEL_SEEDFILE_AD - 1)
#define AD_BYTES (AD_LABEL_BYTES + PASSPHRASE_BYTES - SEALED_BYTES)

/* AD = SH_LABEL_SEEDFILE_AD ‖ every file byte before the ciphertext. */
static void make_ad(uint8_t ad[static AD_BYTES], const uint8_t *file)
{
    memcpy(ad, SH_LABEL_SEEDFILE_AD, AD_LABEL_BYTES);
    memcpy(ad + AD_LABEL_BYTES, file, PASSPHRASE_BYTES - SEALED_BYTES);
}

static int write_header(uint8_t out[static HEADER_BYTES], uint8_t kind,
                        const uint8_t seed[static SH_SEED_BYTES])
{
    sh_account *acct;
    int rc = sh_account_from_seed(&acct, seed);

    if (rc != SH_OK)
        return rc;
    memcpy(out, MAGIC, MAGIC_BYTES);
    out[MAGIC_BYTES] = VERSION;
    out[MAGIC_BYTES + 1] = kind;
    sh_account_session_id(acct, out + MAGIC_BYTES + 2);
    sh_account_free(acct);
    return SH_OK;
}

static int seal_passphrase(uint8_t out[static SH_SEEDFILE_MAX_BYTES],
                           const uint8_t seed[static SH_SEED_BYTES], const char *passphrase,
                           size_t passphrase_len, sh_kdf_cost cost)
{
    uint8_t key[KEY_BYTES], ad[AD_BYTES], *p = out + HEADER_BYTES;
    uint32_t ops;
    uint64_t mem;
    int rc;

    cost_limits(cost, &ops, &mem);
    sh_store_u32le(p, ops);
    sh_store_u64le(p + 4, mem);
    randombytes_buf(p + 12, crypto_pwhash_SALTBYTES);
    randombytes_buf(p + KDF_BYTES, NONCE_BYTES);
    rc = derive_key(key, passphrase, passphrase_len, p + 12, ops, mem);
    if (rc != SH_OK)
        goto done;
    make_ad(ad, out);
    crypto_aead_xchacha20poly1305_ietf_encrypt(p + KDF_BYTES + NONCE_BYTES, NULL, seed,
                                               SH_SEED_BYTES, ad, sizeof ad, NULL,
                                               p + KDF_BYTES, key);
done:
    sodium_memzero(key, sizeof key);
    return rc;
}

int sh_seedfile_seal(uint8_t out[static SH_SEEDFILE_MAX_BYTES], size_t *out_len,
                     const uint8_t seed[static SH_SEED_BYTES], const char *passphrase,
                     size_t passphrase_len, sh_kdf_cost cost)
{
    bool locked = passphrase != NULL;
    int rc = write_header(out, locked ? KIND_PASSPHRASE : KIND_CLEAR, seed);

    if (rc == SH_OK && locked && passphrase_len == 0)
        rc = sh_err_set(SH_ERR_INVALID, "the passphrase is empty");
    if (rc != SH_OK)
        return rc;
    if (locked) {
        rc = seal_passphrase(out, seed, passphrase, passphrase_len, cost);
        if (rc == SH_OK)
            *out_len = PASSPHRASE_BYTES;
        return rc;
    }
    memcpy(out + HEADER_BYTES, seed, SH_SEED_BYTES);
    sh_store_u32le(out + HEADER_BYTES + SH_SEED_BYTES,
                   sh__identity_crc32(0, out, HEADER_BYTES + SH_SEED_BYTES));
    *out_len = CLEAR_BYTES;
    return SH_OK;
}

/* Checks magic, version, kind and length; sets *kind. */
static int parse_header(const uint8_t *file, size_t len, uint8_t *kind)
{
    size_t want;

    if (file == NULL || len < HEADER_BYTES || memcmp(file, MAGIC, MAGIC_BYTES) != 0)
        return sh_err_set(SH_ERR_FORMAT, "not a Shoal seed file");
    if (file[MAGIC_BYTES] != VERSION)
        return sh_err_set(SH_ERR_UNSUPPORTED, "seed file version %u; this build reads version %u",
                          file[MAGIC_BYTES], VERSION);
    *kind = file[MAGIC_BYTES + 1];
    if (*kind != KIND_CLEAR && *kind != KIND_PASSPHRASE)
        return sh_err_set(SH_ERR_UNSUPPORTED, "seed file of unknown kind %u", *kind);
    want = *kind == KIND_CLEAR ? CLEAR_BYTES : PASSPHRASE_BYTES;
    if (len != want)
        return sh_err_set(SH_ERR_FORMAT, "the seed file has %zu bytes instead of %zu; it is damaged",
                          len, want);
    return SH_OK;
}

int sh_seedfile_has_passphrase(const uint8_t *file, size_t len, bool *out)
{
    uint8_t kind = 0;
    int rc = parse_header(file, len, &kind);

    if (rc == SH_OK)
        *out = kind == KIND_PASSPHRASE;
    return rc;
}

int sh_seedfile_session_id(const uint8_t *file, size_t len, uint8_t out[static SH_SESSION_ID_BYTES])
{
    uint8_t kind = 0;
    int rc = parse_header(file, len, &kind);

    if (rc == SH_OK)
        memcpy(out, file + MAGIC_BYTES + 2, SH_SESSION_ID_BYTES);
    return rc;
}

static int open_passphrase(uint8_t seed[static SH_SEED_BYTES], const uint8_t *file,
                           const char *passphrase, size_t passphrase_len)
{
    const uint8_t *p = file + HEADER_BYTES;
    uint8_t key[KEY_BYTES], ad[AD_BYTES];
    int rc;

    if (passphrase == NULL)
        return sh_err_set(SH_ERR_PERMISSION, "the account is protected by a passphrase; none was given");
    rc = derive_key(key, passphrase, passphrase_len, p + 12, sh_load_u32le(p), sh_load_u64le(p + 4));
    if (rc != SH_OK)
        goto done;
    make_ad(ad, file);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(seed, NULL, NULL, p + KDF_BYTES + NONCE_BYTES,
                                                   SEALED_BYTES, ad, sizeof ad, p + KDF_BYTES,
                                                   key) != 0)
        rc = sh_err_set(SH_ERR_CRYPTO, "wrong passphrase (or the seed file was altered)");
done:
    sodium_memzero(key, sizeof key);
    return rc;
}

static int open_clear(uint8_t seed[static SH_SEED_BYTES], const uint8_t *file, const char *passphrase)
{
    uint32_t crc = sh__identity_crc32(0, file, HEADER_BYTES + SH_SEED_BYTES);

    if (passphrase != NULL)
        return sh_err_set(SH_ERR_INVALID, "a passphrase was given, but this account has none");
    if (crc != sh_load_u32le(file + HEADER_BYTES + SH_SEED_BYTES))
        return sh_err_set(SH_ERR_CHECKSUM, "the seed file is damaged (its checksum does not match)");
    memcpy(seed, file + HEADER_BYTES, SH_SEED_BYTES);
    return SH_OK;
}

/* The seed must give the Session ID the file records. */
static int check_session_id(const uint8_t seed[static SH_SEED_BYTES], const uint8_t *file)
{
    uint8_t header[HEADER_BYTES];
    int rc = write_header(header, file[MAGIC_BYTES + 1], seed);

    if (rc == SH_OK && memcmp(header, file, HEADER_BYTES) != 0)
        rc = sh_err_set(SH_ERR_CHECKSUM, "the seed file's Session ID does not match its seed; "
                                         "the file is damaged");
    return rc;
}

int sh_seedfile_open(uint8_t seed[static SH_SEED_BYTES], const uint8_t *file, size_t len,
                     const char *passphrase, size_t passphrase_len)
{
    uint8_t kind = 0, tmp[SH_SEED_BYTES];
    int rc = parse_header(file, len, &kind);

    if (rc != SH_OK)
        return rc;
    if (kind == KIND_CLEAR)
        rc = open_clear(tmp, file, passphrase);
    else
        rc = open_passphrase(tmp, file, passphrase, passphrase_len);
    if (rc == SH_OK)
        rc = check_session_id(tmp, file);
    if (rc == SH_OK)
        memcpy(seed, tmp, SH_SEED_BYTES);
    sodium_memzero(tmp, sizeof tmp);
    return rc;
}
