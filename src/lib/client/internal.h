/* Internals of the client module shared by its files: the state database's connection and
 * its sealed-column helpers. */
#ifndef SH_CLIENT_INTERNAL_H
#define SH_CLIENT_INTERNAL_H

#include <sqlite3.h>

#include "client/client.h"

#define SH_CLIENT_SCHEMA_VERSION 1
#define SH_CLIENT_NONCE_BYTES 24
#define SH_CLIENT_TAG_BYTES 16

struct sh_client_state {
    sqlite3 *db;
    uint8_t *key; /* SH_CLIENT_KEY_BYTES, sh_secret_alloc */
    char path[1024];
};

/* SQLite result code rc from doing `what` as an sh_err with a message. */
int sh__client_sql_fail(sh_client_state *s, int rc, const char *what);
int sh__client_exec(sh_client_state *s, const char *sql, const char *what) SH_CLIENT_WUR;
int sh__client_prepare(sh_client_state *s, const char *sql, sqlite3_stmt **st) SH_CLIENT_WUR;
/* Seals plaintext for column `column` into out (nonce ‖ ciphertext ‖ tag), and opens it. */
int sh__client_seal(const sh_client_state *s, const char *column, const uint8_t *in, size_t len,
                    sh_buf *out) SH_CLIENT_WUR;
int sh__client_open(const sh_client_state *s, const char *column, const uint8_t *in, size_t len,
                    sh_buf *out) SH_CLIENT_WUR;

#endif
