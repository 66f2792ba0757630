/* Internals of the client module shared by its files: the state database's connection and
 * its sealed-column helpers. */
#ifndef SH_CLIENT_INTERNAL_H
#define SH_CLIENT_INTERNAL_H

#include <sqlite3.h>

#include "client/client.h"
#include "node/swarm.h"

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

/* On how many distinct members of the owner's swarm in `map` the message (owner, ns, hash) is,
 * by the receipts rs that verify (sh_node_receipt_verify against map and prev); n is the size of
 * the swarm. A forged receipt, a node outside the swarm or another message never counts.
 * SH_ERR_STALE when a receipt names a map more than one version newer (fetch it, count again). */
int sh__client_receipts_count(const sh_dir_map *map, const sh_dir_map *prev,
                              const uint8_t owner[static 33], int16_t ns,
                              const uint8_t hash[static 32], const sh_node_receipt *rs,
                              size_t n_rs, uint32_t *k, uint32_t *n);

#endif
