/* Internals of the client module shared by its files: the state database's connection and
 * its sealed-column helpers, and the client's own state (client.c, devices.c, link.c). */
#ifndef SH_CLIENT_INTERNAL_H
#define SH_CLIENT_INTERNAL_H

#include <sqlite3.h>

#include "client/client.h"
#include "node/swarm.h"
#include "e2e/e2e.h"

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
/* Steps a statement that returns no row and finalizes it; `what` names it in the error. */
int sh__client_step_done(sh_client_state *s, sqlite3_stmt *st, const char *what);
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

struct sh_client {
    sh_client_state *state;
    sh_client_transport *tp;
    sh_account *account;   /* the primary's account key; NULL on a linked device */
    sh_e2e_device *dev;
    sh_node_signer signer; /* the account, or the device key with its token (linked) */
    sh_buf token;          /* linked device: its subaccount token */
    uint8_t sid[SH_SESSION_ID_BYTES];
    sh_client_event_cb cb;
    void *ctx;
    bool published; /* our keys were published (or found unchanged) by this client */
    int64_t lookback_ms; /* when the last look-back read ran (monotonic) */
    sh_client_options opt;
    int64_t receipts_mono_ms; /* when receipts were last counted again (monotonic) */
    int64_t publish_mono_ms;  /* when a poll last checked that our keys are published */
    int64_t own_list_ms;     /* linked device: when our account's list was last read */
    int64_t since_ms;        /* when this device's database was made (order.c: the start) */
};

/* client.c */
int sh__client_save_device(sh_client *c) SH_CLIENT_WUR;
/* Reads c->since_ms from the database (meta 'order-since'), saving now on a new device. */
int sh__client_load_since(sh_client *c) SH_CLIENT_WUR;
/* Fetches and learns the device list and bundles of the account with this Session ID. */
int sh__client_learn_peer(sh_client *c, const uint8_t sid[static SH_SESSION_ID_BYTES],
                          uint8_t ed[static 32]) SH_CLIENT_WUR;
/* devices.c */
/* Points c->signer at the account key (primary) or the device key and its token (linked). */
int sh__client_set_signer(sh_client *c) SH_CLIENT_WUR;
/* Primary: stores the device list (namespace 11) and the revocation list (namespace 12). */
int sh__client_publish_primary(sh_client *c, const sh_buf *list) SH_CLIENT_WUR;
/* Linked device: reads our account's device list again when it is older than the refresh
 * interval (or `force`): new devices get our copies, and a revoked device stops here
 * (SH_ERR_PERMISSION). Nothing for the primary. */
int sh__client_refresh_own(sh_client *c, bool force) SH_CLIENT_WUR;
/* An inbox message that is an envelope-key grant (a signed object, not an envelope: *handled)
 * is learned when it is ours and marked seen. */
int sh__client_take_grant(sh_client *c, const sh_store_msg *msg, bool *handled) SH_CLIENT_WUR;

#endif
