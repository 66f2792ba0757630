/* Authority key files (docs/directory.md "Running shoal-dir"): the Ed25519 identity that signs
 * votes and maps, and the X25519 link key of the authority's Noise links, as five lines of text:
 *     shoal-authority-key 1
 *     identity-seed <64 hex digits>
 *     link-secret <64 hex digits>
 *     identity <64 hex digits>         (public: what the network file lists)
 *     link-key <64 hex digits>
 * The parser takes exactly this (one space, lower-case hex, "\n" line ends) and checks that the
 * public keys belong to the secrets, so a file edited by hand cannot silently pair wrong keys. */
#include "dir/authority.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/encode.h"
#include "util/err.h"

#define HEADER "shoal-authority-key 1"
#define N_LINES 5

static const char *const names[N_LINES] = {NULL, "identity-seed", "link-secret", "identity", "link-key"};

int sh_dir_auth_keys_generate(sh_dir_auth_keys *k)
{
    crypto_sign_keypair(k->identity, k->identity_sk);
    randombytes_buf(k->link_sk, sizeof k->link_sk);
    crypto_scalarmult_base(k->link_key, k->link_sk);
    return SH_OK;
}

int sh_dir_auth_keys_format(const sh_dir_auth_keys *k, sh_buf *out)
{
    const uint8_t *values[N_LINES] = {NULL, k->identity_sk, k->link_sk, k->identity, k->link_key};
    char hex[65];
    int rc = SH_OK;

    sh_buf_reset(out);
    if ((rc = sh_buf_append_str(out, HEADER "\n")) != SH_OK)
        return rc;
    for (int i = 1; i < N_LINES && rc == SH_OK; i++) {
        sh_hex_encode(hex, sizeof hex, values[i], 32);
        if ((rc = sh_buf_append_str(out, names[i])) == SH_OK &&
            (rc = sh_buf_append_str(out, " ")) == SH_OK && (rc = sh_buf_append_str(out, hex)) == SH_OK)
            rc = sh_buf_append_str(out, "\n");
    }
    sodium_memzero(hex, sizeof hex);
    return rc;
}

/* Line i of the file ("name hex"), its 32-byte value in out. */
static int parse_line(const char *line, size_t len, int i, uint8_t out[static 32])
{
    size_t nlen = strlen(names[i]);
    char hex[65];
    int rc;

    if (len != nlen + 1 + 64 || memcmp(line, names[i], nlen) != 0 || line[nlen] != ' ')
        return sh_err_set(SH_ERR_FORMAT, "key file line %d must be \"%s <64 hex digits>\"", i + 1,
                          names[i]);
    memcpy(hex, line + nlen + 1, 64);
    hex[64] = '\0';
    rc = strspn(hex, "0123456789abcdef") == 64 ? sh_hex_decode(out, 32, hex) : SH_ERR_FORMAT;
    sodium_memzero(hex, sizeof hex);
    if (rc != SH_OK)
        return sh_err_set(SH_ERR_FORMAT, "key file line %d: %s is not 64 lower-case hex digits",
                          i + 1, names[i]);
    return SH_OK;
}

static int check_public(sh_dir_auth_keys *k, const uint8_t seed[static 32],
                        const uint8_t identity[static 32], const uint8_t link_key[static 32])
{
    crypto_sign_seed_keypair(k->identity, k->identity_sk, seed);
    crypto_scalarmult_base(k->link_key, k->link_sk);
    if (memcmp(identity, k->identity, 32) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "key file: the identity does not belong to the identity seed");
    if (memcmp(link_key, k->link_key, 32) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "key file: the link key does not belong to the link secret");
    return SH_OK;
}

int sh_dir_auth_keys_parse(const char *text, size_t len, sh_dir_auth_keys *out)
{
    uint8_t seed[32], identity[32], link_key[32];
    uint8_t *dest[N_LINES] = {NULL, seed, out->link_sk, identity, link_key};
    size_t pos = 0;
    int rc = SH_OK;

    if (len > SH_DIR_AUTH_KEYS_FILE_MAX_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "a key file of %zu bytes; they are about 330", len);
    for (int i = 0; i < N_LINES && rc == SH_OK; i++) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - (text + pos)) : 0;

        if (nl == NULL)
            rc = sh_err_set(SH_ERR_FORMAT, "key file: line %d is missing or does not end in a "
                            "newline", i + 1);
        else if (i == 0 && (n != strlen(HEADER) || memcmp(text, HEADER, n) != 0))
            rc = sh_err_set(SH_ERR_FORMAT, "not a Shoal authority key file (the first line must be "
                            "\"" HEADER "\")");
        else if (i > 0)
            rc = parse_line(text + pos, n, i, dest[i]);
        pos += n + 1;
    }
    if (rc == SH_OK && pos != len)
        rc = sh_err_set(SH_ERR_FORMAT, "key file: unexpected text after line %d", N_LINES);
    if (rc == SH_OK)
        rc = check_public(out, seed, identity, link_key);
    sodium_memzero(seed, sizeof seed);
    if (rc != SH_OK)
        sodium_memzero(out, sizeof *out);
    return rc;
}
