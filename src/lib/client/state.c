/* The client state database (client.h; docs/client.md "State database"): opening, the schema,
 * the local key and the sealed columns.
 *
 * The local key: with a passphrase, Argon2id(passphrase, salt) at a cost recorded in the
 * database (meta 'kdf' = opslimit u32 BE ‖ memlimit u64 BE ‖ salt 16); without one, the 32 random
 * bytes of a 0600 key file (meta 'kdf' absent). Either way the column key is BLAKE2b-256 keyed by
 * that secret over SH_LABEL_CLIENT_KEY, and meta 'check' holds SH_LABEL_CLIENT_CHECK sealed under
 * it, so a wrong passphrase or key file is told apart from a damaged row. A sealed column is
 * nonce (24) ‖ XChaCha20-Poly1305(column key, value, ad = SH_LABEL_CLIENT_COLUMN ‖ 0 ‖ column). */
#include <string.h>

#include <sodium.h>

#include "client/internal.h"
#include "crypto/crypto.h"
#include "crypto/labels.h"
#include "util/err.h"
#include "util/fs.h"

#define KDF_META_BYTES (4 + 8 + crypto_pwhash_SALTBYTES)
#define KEYFILE_BYTES 32

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS device(id INTEGER PRIMARY KEY CHECK (id = 1), state BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS contacts(name TEXT PRIMARY KEY, session_id BLOB NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY, peer BLOB NOT NULL,"
    " outgoing INTEGER NOT NULL, device INTEGER NOT NULL, msg_id BLOB NOT NULL,"
    " sent_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL, state INTEGER NOT NULL,"
    " stored_k INTEGER NOT NULL DEFAULT 0, stored_n INTEGER NOT NULL DEFAULT 0,"
    " body BLOB NOT NULL, UNIQUE(peer, outgoing, msg_id));"
    "CREATE TABLE IF NOT EXISTS outbox(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL,"
    " peer BLOB NOT NULL, msg_id BLOB NOT NULL, payload BLOB NOT NULL, envelope BLOB,"
    " self_env BLOB, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,"
    " created_ms INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS cursors(ns INTEGER PRIMARY KEY, timestamp_ms INTEGER NOT NULL,"
    " hash BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS seen(ns INTEGER NOT NULL, hash BLOB NOT NULL,"
    " expiry_ms INTEGER NOT NULL, PRIMARY KEY(ns, hash)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS receipts(peer BLOB NOT NULL, msg_id BLOB NOT NULL,"
    " hash BLOB NOT NULL, expiry_ms INTEGER NOT NULL, PRIMARY KEY(peer, msg_id)) WITHOUT ROWID;"
    /* order per sender (order.c); a database made before them gets them here */
    "CREATE TABLE IF NOT EXISTS send_seq(peer BLOB PRIMARY KEY, next INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS order_in(peer BLOB NOT NULL, outgoing INTEGER NOT NULL,"
    " device INTEGER NOT NULL, next INTEGER NOT NULL, last_ms INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(peer, outgoing, device))"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS held(id INTEGER PRIMARY KEY, peer BLOB NOT NULL,"
    " outgoing INTEGER NOT NULL, device INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " msg_id BLOB NOT NULL, sent_ms INTEGER NOT NULL, held_ms INTEGER NOT NULL,"
    " body BLOB NOT NULL, UNIQUE(peer, outgoing, msg_id));"
    "CREATE INDEX IF NOT EXISTS held_sender ON held(peer, outgoing, device, seq);";

int sh__client_sql_fail(sh_client_state *s, int rc, const char *what)
{
    const char *msg = s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

    switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return sh_err_set(SH_ERR_FORMAT, "%s is not a shoal client database or is damaged (%s: %s)",
                          s->path, what, msg);
    case SQLITE_NOMEM: return sh_err_set(SH_ERR_NOMEM, "out of memory (%s)", what);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return sh_err_set(SH_ERR_BUSY, "%s is in use by another shoal process (%s)", s->path, what);
    case SQLITE_CONSTRAINT: return sh_err_set(SH_ERR_EXISTS, "%s: %s", what, msg);
    default: return sh_err_set(SH_ERR_IO, "%s: %s (%s)", what, msg, s->path);
    }
}

int sh__client_exec(sh_client_state *s, const char *sql, const char *what)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

    return rc == SQLITE_OK ? SH_OK : sh__client_sql_fail(s, rc, what);
}

int sh__client_prepare(sh_client_state *s, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);

    return rc == SQLITE_OK ? SH_OK : sh__client_sql_fail(s, rc, "preparing a query");
}

static void column_ad(const char *column, sh_buf *ad)
{
    (void)sh_buf_append_str(ad, SH_LABEL_CLIENT_COLUMN);
    (void)sh_buf_append_u8(ad, 0);
    (void)sh_buf_append_str(ad, column);
}

int sh__client_seal(const sh_client_state *s, const char *column, const uint8_t *in, size_t len,
                    sh_buf *out)
{
    uint8_t *p;
    sh_buf ad;
    int rc;

    sh_buf_init(&ad);
    column_ad(column, &ad);
    rc = sh_buf_extend(out, SH_CLIENT_NONCE_BYTES + len + SH_CLIENT_TAG_BYTES, &p);
    if (rc == SH_OK && ad.data != NULL) {
        randombytes_buf(p, SH_CLIENT_NONCE_BYTES);
        crypto_aead_xchacha20poly1305_ietf_encrypt(p + SH_CLIENT_NONCE_BYTES, NULL, in, len,
                                                   ad.data, ad.len, NULL, p, s->key);
    } else if (rc == SH_OK) {
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory sealing a column");
    }
    sh_buf_free(&ad);
    return rc;
}

int sh__client_open(const sh_client_state *s, const char *column, const uint8_t *in, size_t len,
                    sh_buf *out)
{
    uint8_t *p;
    sh_buf ad;
    int rc;

    if (len < SH_CLIENT_NONCE_BYTES + SH_CLIENT_TAG_BYTES)
        return sh_err_set(SH_ERR_FORMAT, "a sealed %s of %zu bytes is too short (damaged database?)",
                          column, len);
    sh_buf_init(&ad);
    column_ad(column, &ad);
    rc = sh_buf_extend(out, len - SH_CLIENT_NONCE_BYTES - SH_CLIENT_TAG_BYTES, &p);
    if (rc == SH_OK &&
        crypto_aead_xchacha20poly1305_ietf_decrypt(p, NULL, NULL, in + SH_CLIENT_NONCE_BYTES,
                                                   len - SH_CLIENT_NONCE_BYTES, ad.data, ad.len,
                                                   in, s->key) != 0)
        rc = sh_err_set(SH_ERR_FORMAT, "a sealed %s does not open: the database is damaged", column);
    sh_buf_free(&ad);
    return rc;
}

static void cost_limits(sh_kdf_cost cost, unsigned long long *ops, size_t *mem)
{
    switch (cost) {
    case SH_KDF_COST_MIN: *ops = crypto_pwhash_OPSLIMIT_MIN, *mem = crypto_pwhash_MEMLIMIT_MIN; break;
    case SH_KDF_COST_INTERACTIVE:
        *ops = crypto_pwhash_OPSLIMIT_INTERACTIVE, *mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
        break;
    case SH_KDF_COST_SENSITIVE:
        *ops = crypto_pwhash_OPSLIMIT_SENSITIVE, *mem = crypto_pwhash_MEMLIMIT_SENSITIVE;
        break;
    default: *ops = crypto_pwhash_OPSLIMIT_MODERATE, *mem = crypto_pwhash_MEMLIMIT_MODERATE; break;
    }
}

/* The column key from the passphrase and the recorded (or a new) kdf meta value. */
static int key_from_passphrase(sh_client_state *s, const sh_client_keysrc *src, sh_buf *kdf)
{
    uint8_t raw[32];
    unsigned long long ops;
    size_t mem;
    uint64_t ops_rec = 0, mem_rec = 0;

    if (kdf->len == 0) {
        cost_limits(src->cost, &ops, &mem);
        if (sh_buf_append_u32be(kdf, (uint32_t)ops) != SH_OK ||
            sh_buf_append_u64be(kdf, (uint64_t)mem) != SH_OK || sh_buf_extend(kdf, 16, &(uint8_t *){0}))
            return sh_err_set(SH_ERR_NOMEM, "out of memory");
        randombytes_buf(kdf->data + 12, crypto_pwhash_SALTBYTES);
    }
    if (kdf->len != KDF_META_BYTES)
        return sh_err_set(SH_ERR_FORMAT, "%s: the key derivation record is damaged", s->path);
    for (int i = 0; i < 4; i++)
        ops_rec = ops_rec << 8 | kdf->data[i];
    for (int i = 4; i < 12; i++)
        mem_rec = mem_rec << 8 | kdf->data[i];
    if (ops_rec < crypto_pwhash_OPSLIMIT_MIN || ops_rec > crypto_pwhash_OPSLIMIT_SENSITIVE ||
        mem_rec < crypto_pwhash_MEMLIMIT_MIN || mem_rec > crypto_pwhash_MEMLIMIT_SENSITIVE)
        return sh_err_set(SH_ERR_FORMAT, "%s: the recorded Argon2id cost is out of range", s->path);
    if (crypto_pwhash(raw, sizeof raw, src->passphrase, src->passphrase_len, kdf->data + 12,
                      ops_rec, (size_t)mem_rec, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return sh_err_set(SH_ERR_NOMEM, "Argon2id could not get %llu bytes of memory",
                          (unsigned long long)mem_rec);
    crypto_generichash(s->key, SH_CLIENT_KEY_BYTES, (const uint8_t *)SH_LABEL_CLIENT_KEY,
                       strlen(SH_LABEL_CLIENT_KEY), raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    return SH_OK;
}

static int key_from_file(sh_client_state *s, const char *path, bool create)
{
    sh_buf file;
    int rc;

    sh_buf_init_secret(&file);
    rc = sh_fs_read_file(path, 4096, &file);
    if (rc == SH_ERR_NOT_FOUND && create) {
        uint8_t *p;
        if ((rc = sh_buf_extend(&file, KEYFILE_BYTES, &p)) != SH_OK)
            goto done;
        randombytes_buf(p, KEYFILE_BYTES);
        rc = sh_fs_write_file(path, file.data, file.len, 0600);
    } else if (rc == SH_ERR_NOT_FOUND) {
        rc = sh_err_set(SH_ERR_CRYPTO, "the key file %s of the client database is missing", path);
    }
    if (rc == SH_OK && file.len != KEYFILE_BYTES)
        rc = sh_err_set(SH_ERR_CRYPTO, "the key file %s has %zu bytes, not %d", path, file.len,
                        KEYFILE_BYTES);
    if (rc == SH_OK)
        crypto_generichash(s->key, SH_CLIENT_KEY_BYTES, (const uint8_t *)SH_LABEL_CLIENT_KEY,
                           strlen(SH_LABEL_CLIENT_KEY), file.data, file.len);
done:
    sh_buf_free(&file);
    return rc;
}

static int check_key(sh_client_state *s, bool fresh, bool passphrase)
{
    sh_buf v, plain;
    int rc;

    sh_buf_init(&v);
    sh_buf_init_secret(&plain);
    if (fresh) {
        rc = sh__client_seal(s, "check", (const uint8_t *)SH_LABEL_CLIENT_CHECK,
                             strlen(SH_LABEL_CLIENT_CHECK), &v);
        if (rc == SH_OK)
            rc = sh_client_meta_put(s, "check", v.data, v.len);
        goto done;
    }
    rc = sh_client_meta_get(s, "check", &v);
    if (rc == SH_ERR_NOT_FOUND)
        rc = sh_err_set(SH_ERR_FORMAT, "%s has no key check: it is damaged", s->path);
    if (rc == SH_OK && sh__client_open(s, "check", v.data, v.len, &plain) != SH_OK)
        rc = sh_err_set(SH_ERR_CRYPTO, passphrase ? "wrong passphrase for %s"
                                                  : "the key file does not open %s", s->path);
done:
    sh_buf_free(&v);
    sh_buf_free(&plain);
    return rc;
}

static int setup_key(sh_client_state *s, const sh_client_keysrc *src)
{
    sh_buf kdf, fmt;
    bool fresh, has_kdf;
    int rc;

    sh_buf_init(&kdf);
    sh_buf_init(&fmt);
    rc = sh_client_meta_get(s, "format", &fmt);
    fresh = rc == SH_ERR_NOT_FOUND;
    if (fresh)
        rc = sh_client_meta_put(s, "format", (const uint8_t *)"shoal-client 1", 14);
    else if (rc == SH_OK && (fmt.len != 14 || memcmp(fmt.data, "shoal-client ", 13) != 0))
        rc = sh_err_set(SH_ERR_FORMAT, "%s is not a shoal client database", s->path);
    else if (rc == SH_OK && fmt.data[13] != '1')
        rc = sh_err_set(SH_ERR_UNSUPPORTED, "%s was written by a newer shoal (format %c)", s->path,
                        fmt.data[13]);
    if (rc != SH_OK)
        goto done;
    rc = sh_client_meta_get(s, "kdf", &kdf);
    has_kdf = rc == SH_OK;
    if (rc == SH_ERR_NOT_FOUND)
        rc = SH_OK;
    if (rc == SH_OK && !fresh && has_kdf != (src->passphrase != NULL))
        rc = sh_err_set(has_kdf ? SH_ERR_PERMISSION : SH_ERR_INVALID,
                        has_kdf ? "%s is protected by a passphrase and none was given"
                                : "%s is protected by a key file, not a passphrase", s->path);
    if (rc == SH_OK && src->passphrase != NULL) {
        rc = key_from_passphrase(s, src, &kdf);
        if (rc == SH_OK && fresh)
            rc = sh_client_meta_put(s, "kdf", kdf.data, kdf.len);
    } else if (rc == SH_OK) {
        rc = src->key_file != NULL ? key_from_file(s, src->key_file, fresh)
                                   : sh_err_set(SH_ERR_INVALID, "no passphrase and no key file");
    }
    if (rc == SH_OK)
        rc = check_key(s, fresh, src->passphrase != NULL);
done:
    sh_buf_free(&kdf);
    sh_buf_free(&fmt);
    return rc;
}

int sh_client_state_open(const char *path, const sh_client_keysrc *key, sh_client_state **out)
{
    sh_client_state *s = calloc(1, sizeof *s);
    int rc;

    if (s == NULL || (s->key = sh_secret_alloc(SH_CLIENT_KEY_BYTES)) == NULL) {
        free(s);
        return sh_err_set(SH_ERR_NOMEM, "out of memory opening the client database");
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        rc = sh__client_sql_fail(s, rc, "opening");
        goto done;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if ((rc = sh__client_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                 "PRAGMA foreign_keys=ON;", "setting up")) != SH_OK ||
        (rc = sh__client_exec(s, "BEGIN IMMEDIATE", "starting")) != SH_OK)
        goto done;
    rc = sh__client_exec(s, schema_sql, "creating the schema");
    /* a database made before the outbox had its times: add them (an error says they exist) */
    (void)sqlite3_exec(s->db, "ALTER TABLE outbox ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0",
                       NULL, NULL, NULL);
    (void)sqlite3_exec(s->db, "ALTER TABLE outbox ADD COLUMN next_ms INTEGER NOT NULL DEFAULT 0",
                       NULL, NULL, NULL);
    if (rc == SH_OK)
        rc = setup_key(s, key);
    if (rc == SH_OK)
        rc = sh__client_exec(s, "COMMIT", "committing the schema");
    else
        (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
done:
    if (rc != SH_OK) {
        sh_client_state_close(s);
        return rc;
    }
    *out = s;
    return SH_OK;
}

void sh_client_state_close(sh_client_state *s)
{
    if (s == NULL)
        return;
    sqlite3_close_v2(s->db);
    sh_secret_free(s->key);
    free(s);
}

int sh_client_state_begin(sh_client_state *s)
{
    return sh__client_exec(s, "BEGIN IMMEDIATE", "starting a transaction");
}

int sh_client_state_commit(sh_client_state *s)
{
    return sh__client_exec(s, "COMMIT", "committing");
}

void sh_client_state_rollback(sh_client_state *s)
{
    (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}
