/* The node's keys and their file (docs/node.md "Key file"): an Ed25519 identity and an X25519
 * link key (the Noise static key), kept in guarded memory and written as text, mode 0600:
 *   # comment lines
 *   shoald-keys 1
 *   identity-seed <64 hex digits>     the Ed25519 seed
 *   link-secret <64 hex digits>       the X25519 private key
 * Public keys are derived on reading. The file is untrusted input (it has a fuzz target). */
#include <sodium.h>
#include <string.h>

#include "crypto/crypto.h"
#include "node/internal.h"
#include "util/encode.h"
#include "util/err.h"
#include "util/fs.h"

#define KEYFILE_VERSION "1"

static int keys_alloc(sh_node_keys **out)
{
    sh_node_keys *k;
    int rc = sh_crypto_init();

    if (rc != SH_OK)
        return rc;
    if ((k = sh_secret_alloc(sizeof *k)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the node keys");
    memset(k, 0, sizeof *k);
    k->ed25519_sk = sh_secret_alloc(64);
    k->link_sk = sh_secret_alloc(32);
    if (k->ed25519_sk == NULL || k->link_sk == NULL) {
        sh_node_keys_free(k);
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the node keys");
    }
    *out = k;
    return SH_OK;
}

void sh_node_keys_free(sh_node_keys *k)
{
    if (k == NULL)
        return;
    sh_secret_free(k->ed25519_sk);
    sh_secret_free(k->link_sk);
    sh_secret_free(k);
}

static int keys_from(sh_node_keys *k, const uint8_t seed[static 32], const uint8_t link[static 32])
{
    if (crypto_sign_seed_keypair(k->ed25519_pk, k->ed25519_sk, seed) != 0)
        return sh_err_set(SH_ERR_INTERNAL, "cannot derive the node identity");
    memcpy(k->link_sk, link, 32);
    if (crypto_scalarmult_base(k->link_pk, k->link_sk) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "the link secret gives no usable public key");
    return SH_OK;
}

int sh_node_keys_generate(sh_node_keys **out)
{
    uint8_t seed[32], link[32];
    sh_node_keys *k;
    int rc;

    if ((rc = keys_alloc(&k)) != SH_OK)
        return rc;
    randombytes_buf(seed, sizeof seed);
    randombytes_buf(link, sizeof link);
    rc = keys_from(k, seed, link);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(link, sizeof link);
    if (rc != SH_OK) {
        sh_node_keys_free(k);
        return rc;
    }
    *out = k;
    return SH_OK;
}

int sh_node_keys_encode(const sh_node_keys *k, sh_buf *out)
{
    char hex[65];
    int rc;

    if ((rc = sh_buf_append_str(out, "# shoald node keys: keep this file secret (mode 0600).\n"
                                     "shoald-keys " KEYFILE_VERSION "\nidentity-seed ")) != SH_OK)
        return rc;
    sh_hex_encode(hex, sizeof hex, k->ed25519_sk, 32); /* libsodium's sk starts with the seed */
    rc = sh_buf_append_str(out, hex);
    if (rc == SH_OK)
        rc = sh_buf_append_str(out, "\nlink-secret ");
    sh_hex_encode(hex, sizeof hex, k->link_sk, 32);
    if (rc == SH_OK)
        rc = sh_buf_append_str(out, hex);
    if (rc == SH_OK)
        rc = sh_buf_append_str(out, "\n");
    sodium_memzero(hex, sizeof hex);
    return rc;
}

/* The value of `name` on a line of its own ("name value"); every other line is a comment, blank,
 * or one of the names the file has. */
static int field(const char *text, size_t len, const char *name, char *value, size_t size)
{
    size_t nlen = strlen(name), start = 0;
    bool found = false;

    while (start < len) {
        size_t end = start;
        while (end < len && text[end] != '\n')
            end++;
        if (end - start > nlen && memcmp(text + start, name, nlen) == 0 &&
            text[start + nlen] == ' ') {
            size_t vlen = end - start - nlen - 1;
            if (found)
                return sh_err_set(SH_ERR_FORMAT, "the key file names %s twice", name);
            if (vlen >= size)
                return sh_err_set(SH_ERR_FORMAT, "the key file's %s is too long", name);
            memcpy(value, text + start + nlen + 1, vlen);
            value[vlen] = '\0';
            found = true;
        }
        start = end + 1;
    }
    return found ? SH_OK : sh_err_set(SH_ERR_FORMAT, "the key file has no %s line", name);
}

int sh_node_keys_decode(const uint8_t *text, size_t len, sh_node_keys **out)
{
    char version[8], seed_hex[72], link_hex[72];
    uint8_t seed[32], link[32];
    sh_node_keys *k = NULL;
    int rc;

    if (len > SH_NODE_KEYFILE_MAX_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "the key file is over %d bytes", SH_NODE_KEYFILE_MAX_BYTES);
    if (memchr(text, '\0', len) != NULL)
        return sh_err_set(SH_ERR_FORMAT, "the key file holds a NUL byte");
    if ((rc = field((const char *)text, len, "shoald-keys", version, sizeof version)) != SH_OK ||
        (rc = field((const char *)text, len, "identity-seed", seed_hex, sizeof seed_hex)) != SH_OK ||
        (rc = field((const char *)text, len, "link-secret", link_hex, sizeof link_hex)) != SH_OK)
        goto done;
    if (strcmp(version, KEYFILE_VERSION) != 0) {
        rc = sh_err_set(SH_ERR_UNSUPPORTED, "key file version %s is not one this build reads",
                        version);
        goto done;
    }
    if (sh_hex_decode(seed, 32, seed_hex) != SH_OK || sh_hex_decode(link, 32, link_hex) != SH_OK) {
        rc = sh_err_set(SH_ERR_FORMAT, "the key file's keys must be 64 hex digits each");
        goto done;
    }
    if ((rc = keys_alloc(&k)) != SH_OK || (rc = keys_from(k, seed, link)) != SH_OK)
        goto done;
    *out = k;
    k = NULL;
done:
    sh_node_keys_free(k);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(link, sizeof link);
    sodium_memzero(seed_hex, sizeof seed_hex);
    sodium_memzero(link_hex, sizeof link_hex);
    return rc;
}

int sh_node_keys_load(const char *path, bool create, sh_node_keys **out, bool *created)
{
    sh_buf b;
    int rc;

    sh_buf_init_secret(&b);
    *out = NULL;
    *created = false;
    rc = sh_fs_read_file(path, SH_NODE_KEYFILE_MAX_BYTES, &b);
    if (rc == SH_OK) {
        rc = sh_node_keys_decode(b.data, b.len, out);
    } else if (rc == SH_ERR_NOT_FOUND && create) {
        if ((rc = sh_node_keys_generate(out)) == SH_OK &&
            (rc = sh_node_keys_encode(*out, &b)) == SH_OK &&
            (rc = sh_fs_write_file(path, b.data, b.len, 0600)) == SH_OK)
            *created = true;
        if (rc != SH_OK && *out != NULL) {
            sh_node_keys_free(*out);
            *out = NULL;
        }
    }
    if (rc != SH_OK)
        sh_err_wrap(rc, "key file %s", path);
    sh_buf_free(&b);
    return rc;
}
