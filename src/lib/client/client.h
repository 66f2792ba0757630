/* The client (overview.md "Client state", "Protocol V2", "Namespaces of an account's swarm";
 * docs/client.md): one account's state in one SQLite database, a pluggable transport to the
 * network, and the operations the `shoal` program and bots are built on.
 *
 *   sh_client_state   the database: contacts, messages with delivery state, the outbox, the
 *                     e2e device state (ratchet sessions, device lists, prekeys), per-namespace
 *                     cursors and seen hashes. Sensitive columns are sealed with
 *                     XChaCha20-Poly1305 under a local key (Argon2id of a passphrase, or a random
 *                     key file).
 *   sh_client_transport  callbacks that store, retrieve and delete in an account's swarm; the
 *                     first implementation calls nodes directly (sh_client_direct_new), an onion
 *                     transport plugs in the same way.
 *   sh_client         an account at work: publishes its device list and prekey bundle, seals and
 *                     sends through the outbox, polls its inbox, decrypts, stores, acknowledges,
 *                     and reports events.
 *
 * Outbox state machine (one row per payload to deliver; client.c performs each step):
 *   PENDING --seal (recipient keys known)--> SEALED --store to the recipient's inbox--> gone
 *      |                                       |        (the message becomes "stored k of n")
 *      +-- keys or network missing: stays, attempts + 1, retried by the next flush
 * A flush works a window of rows at a time (sh_client_flush): the window's rows are sealed and
 * saved in one transaction with the e2e state before any is stored, so a crash never sends a
 * payload under two ratchet keys and never loses one; their stores are in flight together. */
#ifndef SH_CLIENT_CLIENT_H
#define SH_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shoal/identity.h>

#include "dir/dir.h"
#include "e2e/e2e.h"
#include "node/request.h"
#include "onion/onion.h"
#include "util/buf.h"
#include "util/err.h"

#define SH_CLIENT_WUR __attribute__((warn_unused_result))

#define SH_CLIENT_KEY_BYTES 32
#define SH_CLIENT_MSG_ID_BYTES 16
#define SH_CLIENT_MAX_TEXT_BYTES 16384     /* one text message */
#define SH_CLIENT_MAX_NAME_BYTES 64        /* a contact name */
#define SH_CLIENT_MAX_NODES 64             /* nodes a network file may name */
#define SH_CLIENT_NETFILE_MAX_BYTES 65536
#define SH_CLIENT_STATE_FILE "client.db"
#define SH_CLIENT_KEY_FILE "client.key"
#define SH_CLIENT_INBOX_TTL_MS (14 * 24 * 3600 * 1000LL)
#define SH_CLIENT_PUBLIC_TTL_MS (16 * 24 * 3600 * 1000LL) /* device list and bundles */
#define SH_CLIENT_REPUBLISH_MS (24 * 3600 * 1000LL)
/* A recipient's device list and bundles are fetched again before sealing when they are older
 * than this (protocol-v2.md §15: a revoked device must stop getting slots). */
#define SH_CLIENT_LIST_REFRESH_MS (10 * 60 * 1000LL)
/* How often a poll also re-reads the inbox's last two minutes for late arrivals (well under
 * SH_STORE_LOOKBACK_MS, so nothing that arrives late is missed). */
#define SH_CLIENT_LOOKBACK_EVERY_MS 10000
_Static_assert(SH_CLIENT_LOOKBACK_EVERY_MS * 4 <= SH_STORE_LOOKBACK_MS,
               "look back often enough to catch every late arrival");

/* ---- Payloads inside Protocol V2 envelopes (payload.c) -------------------------------------- */

typedef enum sh_client_kind {
    SH_CLIENT_TEXT = 1, /* a text message */
    SH_CLIENT_ACK = 2,  /* "delivered": the message with this id reached a device */
} sh_client_kind;

/*   u8 version = 2 | u8 kind | msg id (16) | u64 sent_ms | u64 seq | text (TEXT only, UTF-8)
 * (big-endian). seq numbers the texts of one sending device to one peer account (1, 2, ...; 0
 * in an acknowledgement), so that every device of the conversation files them in order
 * (docs/client.md "Order per sender"). Version 1 (no seq) is still read: its texts are
 * delivered as they come. */
#define SH_CLIENT_PAYLOAD_HEADER_BYTES 34
#define SH_CLIENT_PAYLOAD_V1_HEADER_BYTES 26

typedef struct sh_client_payload {
    uint8_t version; /* set by parse (1 or 2); encode always writes 2 */
    sh_client_kind kind;
    uint8_t msg_id[SH_CLIENT_MSG_ID_BYTES];
    int64_t sent_ms;
    int64_t seq;     /* text: from 1; acknowledgement and v1: 0 */
    const uint8_t *text; /* points into the parsed bytes */
    size_t text_len;
} sh_client_payload;

int sh_client_payload_encode(const sh_client_payload *p, sh_buf *out) SH_CLIENT_WUR;
/* SH_ERR_FORMAT for a short or malformed payload (text must be valid UTF-8 without NUL; numbers
 * as above), SH_ERR_UNSUPPORTED for another version or kind, SH_ERR_LIMIT for a text over the
 * maximum. Encode: SH_ERR_INVALID for what parse would refuse. */
int sh_client_payload_parse(const uint8_t *in, size_t len, sh_client_payload *out) SH_CLIENT_WUR;
/* Whether s is valid UTF-8 without NUL bytes or C0 controls other than tab and newline. */
bool sh_client_text_ok(const uint8_t *s, size_t len);

/* ---- The state database (state.c, rows.c) --------------------------------------------------- */

typedef struct sh_client_state sh_client_state;

/* Where the local key comes from. */
typedef struct sh_client_keysrc {
    const char *passphrase; /* non-NULL: Argon2id of it, salt and cost kept in the database */
    size_t passphrase_len;
    sh_kdf_cost cost;       /* for a new database; an existing one keeps its own */
    const char *key_file;   /* without a passphrase: 32 random bytes, made 0600 when missing */
} sh_client_keysrc;

/* Opens (creating when missing) the database at path. SH_ERR_CRYPTO: wrong passphrase or key
 * file; SH_ERR_FORMAT: not a client database or damaged; SH_ERR_UNSUPPORTED: a newer schema;
 * SH_ERR_PERMISSION: a passphrase database opened with a key file or the other way round. */
int sh_client_state_open(const char *path, const sh_client_keysrc *key, sh_client_state **out)
    SH_CLIENT_WUR;
void sh_client_state_close(sh_client_state *s);

int sh_client_state_begin(sh_client_state *s) SH_CLIENT_WUR;
int sh_client_state_commit(sh_client_state *s) SH_CLIENT_WUR;
void sh_client_state_rollback(sh_client_state *s);

/* The e2e device state (sealed at rest). SH_ERR_NOT_FOUND before the first save. */
int sh_client_state_device_get(sh_client_state *s, sh_buf *out) SH_CLIENT_WUR;
int sh_client_state_device_put(sh_client_state *s, const uint8_t *state, size_t len) SH_CLIENT_WUR;

/* Contacts: a name (1-64 printable characters, no spaces) for a Session ID. */
int sh_client_contact_add(sh_client_state *s, const char *name,
                          const uint8_t id[static SH_SESSION_ID_BYTES]) SH_CLIENT_WUR;
int sh_client_contact_get(sh_client_state *s, const char *name,
                          uint8_t id[static SH_SESSION_ID_BYTES]) SH_CLIENT_WUR;
/* The name of a Session ID, or "" when it is no contact. */
int sh_client_contact_name(sh_client_state *s, const uint8_t id[static SH_SESSION_ID_BYTES],
                           char name[static SH_CLIENT_MAX_NAME_BYTES + 1]) SH_CLIENT_WUR;
int sh_client_contact_remove(sh_client_state *s, const char *name) SH_CLIENT_WUR;
typedef void (*sh_client_contact_cb)(const char *name, const uint8_t id[static SH_SESSION_ID_BYTES],
                                     void *ctx);
int sh_client_contact_list(sh_client_state *s, sh_client_contact_cb cb, void *ctx) SH_CLIENT_WUR;

/* Messages. */
typedef enum sh_client_delivery {
    SH_CLIENT_QUEUED = 0,    /* in the outbox */
    SH_CLIENT_STORED = 1,    /* stored on k of n nodes of the recipient's swarm */
    SH_CLIENT_DELIVERED = 2, /* a device of the recipient acknowledged it */
    SH_CLIENT_RECEIVED = 3,  /* an incoming message */
    SH_CLIENT_EXPIRED = 4,   /* ours, never delivered: its TTL ended in the outbox (not sent)
                              * or in the recipient's inbox (stored, never acknowledged) */
} sh_client_delivery;

typedef struct sh_client_message {
    int64_t row;
    uint8_t peer[SH_SESSION_ID_BYTES]; /* the other account of the conversation */
    bool outgoing;
    uint32_t device;                   /* the sending device (incoming; 0 for ours) */
    uint8_t msg_id[SH_CLIENT_MSG_ID_BYTES];
    int64_t sent_ms, received_ms;
    sh_client_delivery state;
    uint32_t stored_k, stored_n;
    const uint8_t *text; /* valid during a callback */
    size_t text_len;
} sh_client_message;

/* Inserts a message; SH_ERR_EXISTS when (peer, direction, msg id) is already there. */
int sh_client_message_add(sh_client_state *s, const sh_client_message *m, int64_t *row)
    SH_CLIENT_WUR;
/* Raises the delivery state of our message (never lowers it); SH_ERR_NOT_FOUND if unknown. */
int sh_client_message_set_state(sh_client_state *s, const uint8_t peer[static SH_SESSION_ID_BYTES],
                                const uint8_t msg_id[static SH_CLIENT_MSG_ID_BYTES],
                                sh_client_delivery state, uint32_t k, uint32_t n) SH_CLIENT_WUR;
typedef void (*sh_client_message_cb)(const sh_client_message *m, void *ctx);
/* The conversation with peer in the order messages were written (oldest first); `limit` 0 = all. */
int sh_client_message_list(sh_client_state *s, const uint8_t peer[static SH_SESSION_ID_BYTES],
                           size_t limit, sh_client_message_cb cb, void *ctx) SH_CLIENT_WUR;

/* The outbox. */
typedef struct sh_client_outbox_row {
    int64_t row;
    sh_client_kind kind;
    uint8_t peer[SH_SESSION_ID_BYTES];
    uint8_t msg_id[SH_CLIENT_MSG_ID_BYTES];
    sh_buf payload;  /* plaintext payload (secret buffer) */
    sh_buf envelope; /* to the recipient; empty while PENDING */
    sh_buf self_env; /* to our other devices; may be empty */
    uint32_t attempts;
    int64_t created_ms; /* when queued (0: a row from before the outbox kept times) */
    int64_t next_ms;    /* not to be tried again before (backoff after a failure) */
} sh_client_outbox_row;

void sh_client_outbox_row_free(sh_client_outbox_row *r);
int sh_client_outbox_add(sh_client_state *s, sh_client_kind kind,
                         const uint8_t peer[static SH_SESSION_ID_BYTES],
                         const uint8_t msg_id[static SH_CLIENT_MSG_ID_BYTES],
                         const uint8_t *payload, size_t len) SH_CLIENT_WUR;
/* The oldest row after row `after` (0: the first); SH_ERR_NOT_FOUND past the last. Rows go
 * out in this order, so each conversation stays in order. */
int sh_client_outbox_next(sh_client_state *s, int64_t after, sh_client_outbox_row *out)
    SH_CLIENT_WUR;
int sh_client_outbox_count(sh_client_state *s, size_t *n) SH_CLIENT_WUR;
int sh_client_outbox_sealed(sh_client_state *s, int64_t row, const sh_buf *envelope,
                            const sh_buf *self_env) SH_CLIENT_WUR;
/* A failed attempt: attempts + 1, the error kept, and not tried again before next_ms. */
int sh_client_outbox_failed(sh_client_state *s, int64_t row, const char *error, int64_t next_ms)
    SH_CLIENT_WUR;
int sh_client_outbox_done(sh_client_state *s, int64_t row) SH_CLIENT_WUR;

/* The message in row `row` (SH_ERR_NOT_FOUND when there is none), given to cb. */
int sh_client_message_get(sh_client_state *s, int64_t row, sh_client_message_cb cb, void *ctx)
    SH_CLIENT_WUR;

/* Order per sender (order.c; docs/client.md "Order per sender"). Our texts to a peer are
 * numbered 1, 2, ... when queued; a receiving device files the texts of each (conversation,
 * sending device) in that order, holding one that skips ahead until the gap fills or it has
 * waited hold_ms. */
#define SH_CLIENT_HOLD_MS SH_STORE_LOOKBACK_MS
/* A device this young (by the sender's clock) may not have been known to the sender when it
 * sealed the texts before: the first one it sees from a sending device sets the start. */
#define SH_CLIENT_ORDER_NEW_DEVICE_MS (SH_CLIENT_LIST_REFRESH_MS + SH_CLIENT_HOLD_MS)

/* Message rows filed (made visible) in order, for the caller to announce. */
typedef struct sh_client_rows {
    int64_t *v;
    size_t n, cap;
} sh_client_rows;
void sh_client_rows_free(sh_client_rows *r);

/* Sender: the number of our next text to peer (from 1), saved. Call it in the transaction that
 * queues the text, so that retries keep the number and the order. */
int sh_client_order_next_seq(sh_client_state *s, const uint8_t peer[static SH_SESSION_ID_BYTES],
                             int64_t *seq) SH_CLIENT_WUR;
/* Receiver: files the incoming text m (m->peer the conversation, m->outgoing a copy of ours from
 * our device m->device, m->received_ms now) numbered seq (0: unnumbered, filed at once).
 * since_ms is when this device was made. Filed rows are appended to out in order; a text that
 * skips ahead is kept aside (held) instead. SH_ERR_EXISTS when the message is filed or held
 * already (exactly once). */
int sh_client_order_file(sh_client_state *s, const sh_client_message *m, int64_t seq,
                         int64_t since_ms, sh_client_rows *out) SH_CLIENT_WUR;
/* Receiver: for every sender whose oldest held text has waited hold_ms by now_ms, gives up the
 * missing numbers before it and files the held texts in order (appended to out). */
int sh_client_order_release(sh_client_state *s, int64_t now_ms, int64_t hold_ms,
                            sh_client_rows *out) SH_CLIENT_WUR;
/* How many texts are held. */
int sh_client_order_held(sh_client_state *s, size_t *n) SH_CLIENT_WUR;

/* Per-namespace cursors and the hashes already processed (dedupe). */
int sh_client_cursor_get(sh_client_state *s, int16_t ns, sh_store_cursor *out, bool *found)
    SH_CLIENT_WUR;
int sh_client_cursor_put(sh_client_state *s, int16_t ns, const sh_store_cursor *c) SH_CLIENT_WUR;
int sh_client_seen_check(sh_client_state *s, int16_t ns, const uint8_t hash[static 32],
                         bool *seen) SH_CLIENT_WUR;
int sh_client_seen_add(sh_client_state *s, int16_t ns, const uint8_t hash[static 32],
                       int64_t expiry_ms) SH_CLIENT_WUR;
/* Drops seen hashes whose messages have expired. */
int sh_client_seen_sweep(sh_client_state *s, int64_t now_ms) SH_CLIENT_WUR;

/* Where our stored messages are (the recipient's inbox), so that their receipts can be counted
 * again (a member that was down signs once it caught up). */
typedef struct sh_client_stored {
    uint8_t peer[SH_SESSION_ID_BYTES];
    uint8_t msg_id[SH_CLIENT_MSG_ID_BYTES];
    uint8_t hash[32];
    uint32_t stored_k, stored_n;
} sh_client_stored;
int sh_client_receipt_put(sh_client_state *s, const uint8_t peer[static SH_SESSION_ID_BYTES],
                          const uint8_t msg_id[static SH_CLIENT_MSG_ID_BYTES],
                          const uint8_t hash[static 32], int64_t expiry_ms) SH_CLIENT_WUR;
/* Up to cap messages still "stored" on fewer than all members (oldest first); forgets those
 * delivered or expired. */
int sh_client_receipt_pending(sh_client_state *s, int64_t now_ms, sh_client_stored *out,
                              size_t cap, size_t *n) SH_CLIENT_WUR;

/* Up to cap of our messages still "stored" (never acknowledged) whose copy in the recipient's
 * inbox has expired. */
int sh_client_stored_expired(sh_client_state *s, int64_t now_ms, sh_client_stored *out, size_t cap,
                             size_t *n) SH_CLIENT_WUR;

/* Small values: what was published and when, peers' account keys. */
int sh_client_meta_get(sh_client_state *s, const char *key, sh_buf *out) SH_CLIENT_WUR;
int sh_client_meta_put(sh_client_state *s, const char *key, const uint8_t *v, size_t len)
    SH_CLIENT_WUR;

/* ---- Transport --------------------------------------------------------------------------- */

/* What a store achieved: the hash and on how many of the swarm's nodes it is (k of n). */
typedef struct sh_client_receipt {
    uint8_t hash[SH_STORE_HASH_BYTES];
    sh_store_outcome outcome;
    int64_t expiry_ms;
    uint32_t stored_k, stored_n;
} sh_client_receipt;

/* One store of several made together (sh_client_transport.store_many): the request in, its own
 * result out (rc and error; on SH_OK the receipt). The pointers stay the caller's. */
typedef struct sh_client_store {
    const uint8_t *owner; /* 33 bytes */
    int16_t ns;
    const uint8_t *data;
    size_t len;
    int64_t ttl_ms;
    const sh_node_signer *signer;
    int rc;                       /* out: SH_OK, or the error store() would have returned */
    char error[SH_ERR_MSG_BYTES]; /* out: its message when rc != SH_OK */
    sh_client_receipt receipt;    /* out, on SH_OK */
} sh_client_store;

/* Synchronous callbacks: each returns when the network answered (or failed: SH_ERR_UNAVAILABLE,
 * SH_ERR_TIMEOUT, or the node's refusal with its message). `signer` NULL: an anonymous store in
 * namespace 0 or a read of a public namespace. A retrieve fills a page the caller frees with
 * sh_node_page_free; with wait_ms it long-polls. */
typedef struct sh_client_transport {
    void *ctx;
    int (*store)(void *ctx, const uint8_t owner[static 33], int16_t ns, const uint8_t *data,
                 size_t len, int64_t ttl_ms, const sh_node_signer *signer,
                 sh_client_receipt *out);
    int (*retrieve)(void *ctx, const uint8_t owner[static 33], int16_t ns,
                    const sh_store_cursor *after, bool lookback, uint32_t wait_ms,
                    const sh_node_signer *signer, sh_node_page *out);
    int (*remove)(void *ctx, const uint8_t owner[static 33], int16_t ns,
                  const uint8_t (*hashes)[SH_STORE_HASH_BYTES], size_t n,
                  const sh_node_signer *signer);
    /* One line for `shoal status` about the node(s) that serve owner. */
    int (*describe)(void *ctx, const uint8_t owner[static 33], char *out, size_t out_size);
    void (*close)(void *ctx);
    /* On how many of the owner's swarm members (k of n) the message `hash` is now, by their
     * verified receipts (get_receipts). NULL when the transport cannot tell. */
    int (*receipts)(void *ctx, const uint8_t owner[static 33], int16_t ns,
                    const uint8_t hash[static 32], uint32_t *k, uint32_t *n);
    /* n stores in flight together, each with its own attempts, retries and result (in
     * stores[i]); returns when every one has succeeded or failed (SH_OK), or an error for the
     * batch itself (then no result is set). NULL: the client calls store for each in turn. */
    int (*store_many)(void *ctx, sh_client_store *stores, size_t n);
} sh_client_transport;

/* The network file as the client reads it (docs/network-file.md, plus `node` lines that name
 * nodes to call directly until clients fetch the map: `node <ed25519-hex> <x25519-hex> <ip:port>`). */
typedef struct sh_client_node_addr {
    uint8_t identity_key[32];
    uint8_t link_key[32];
    char ip[64];
    uint16_t port;
} sh_client_node_addr;

typedef struct sh_client_network {
    size_t n_nodes;
    sh_client_node_addr nodes[SH_CLIENT_MAX_NODES];
    size_t n_authorities; /* authority lines (checked by the directory's parser) */
} sh_client_network;

/* SH_ERR_FORMAT naming the line; SH_ERR_NOT_FOUND when the file names neither a node to call nor
 * an authority. */
int sh_client_network_parse(const char *text, size_t len, sh_client_network *out) SH_CLIENT_WUR;
int sh_client_network_load(const char *path, sh_client_network *out) SH_CLIENT_WUR;

/* The direct transport: calls the nodes of the network file over Noise links. An owner is
 * served by the node at sh_swarm_space_position(key) mod n_nodes (every client computes the same
 * one); deadline_ms bounds each call that does not long-poll. */
int sh_client_direct_new(const sh_client_network *net, uint32_t deadline_ms,
                         sh_client_transport *out) SH_CLIENT_WUR;

/* Where the onion transport gets maps: sh_client_fetch_map(network_path, cache_path), or
 * `fetch` when set (tests). A map is fetched at open, every refresh_ms (0: never on a timer),
 * after a node answered SH_ERR_WRONG_SWARM, and after a call on which every path failed. */
typedef struct sh_client_maps {
    const char *network_path, *cache_path; /* copied */
    int (*fetch)(void *ctx, sh_dir_map **out);
    void *ctx;
    int64_t refresh_ms;
} sh_client_maps;

#define SH_CLIENT_MAP_REFRESH_MS (10 * 60 * 1000LL)

/* The onion transport: every call through a 3-hop onion path (guard, middle, a random member
 * of the owner's swarm) built by the onion module's caller from the nodes of a verified map;
 * store receipts checked against that map (k of n). cfg may be NULL (defaults); its
 * max_attempts is ignored: calls are re-signed and retried here. */
int sh_client_onion_open(const sh_client_maps *maps, const sh_onion_caller_config *cfg,
                         sh_client_transport *out) SH_CLIENT_WUR;

/* The network's current map: fetched from the authorities of the network file (or the nodes of
 * the cached map), verified (k signatures, network, validity) and cached in cache_path (may be
 * NULL). SH_ERR_UNAVAILABLE (or the map's own error) when no valid map came. */
int sh_client_fetch_map(const char *network_path, const char *cache_path, sh_dir_map **out)
    SH_CLIENT_WUR;
/* The onion nodes of that map (*nodes freed with free()). */
int sh_client_fetch_nodes(const char *network_path, const char *cache_path, sh_onion_node **nodes,
                          size_t *n) SH_CLIENT_WUR;

/* ---- The client ------------------------------------------------------------------------------ */

typedef enum sh_client_event_kind {
    SH_CLIENT_EV_MESSAGE = 1, /* a message arrived (or a copy of ours from another device) */
    SH_CLIENT_EV_STATE = 2,   /* one of our messages changed delivery state */
} sh_client_event_kind;

typedef struct sh_client_event {
    sh_client_event_kind kind;
    const sh_client_message *msg;
} sh_client_event;

typedef void (*sh_client_event_cb)(const sh_client_event *ev, void *ctx);

typedef struct sh_client sh_client;

/* Opens the account with this seed over its state; creates the e2e primary device on first use.
 * The client owns neither state nor transport: close them after sh_client_free. */
int sh_client_new(const uint8_t seed[static SH_SEED_BYTES], sh_client_state *state,
                  sh_client_transport *transport, sh_client_event_cb cb, void *ctx,
                  sh_client **out) SH_CLIENT_WUR;
void sh_client_free(sh_client *c);
sh_client_state *sh_client_get_state(sh_client *c);
/* Timers and limits of a client (tests shorten them instead of waiting). */
typedef struct sh_client_options {
    int64_t list_refresh_ms;   /* a recipient's keys older than this are fetched again */
    int64_t receipts_every_ms; /* a poll counts receipts of partly stored messages this often */
    int64_t message_ttl_ms;    /* how long our messages stay in the recipient's inbox; an
                                * outbox row older than this expires unsent */
    int64_t retry_min_ms, retry_max_ms; /* outbox backoff after a failed attempt */
    int64_t hold_ms;           /* the longest a text waits for an earlier one of its sender */
    int64_t publish_check_ms;  /* a poll checks this often that our keys are published and
                                * current (prekeys rotate daily; sh_client_publish) */
} sh_client_options;

#define SH_CLIENT_RECEIPTS_EVERY_MS 10000
#define SH_CLIENT_PUBLISH_CHECK_MS (10 * 60 * 1000LL)
#define SH_CLIENT_RETRY_MIN_MS 2000
#define SH_CLIENT_RETRY_MAX_MS (5 * 60 * 1000LL)

void sh_client_options_default(sh_client_options *o);
void sh_client_set_options(sh_client *c, const sh_client_options *o);
/* options.list_refresh_ms alone (default SH_CLIENT_LIST_REFRESH_MS). */
void sh_client_set_list_refresh_ms(sh_client *c, int64_t ms);
void sh_client_session_id(const sh_client *c, uint8_t out[static SH_SESSION_ID_BYTES]);
uint32_t sh_client_device_id(const sh_client *c);
bool sh_client_is_primary(const sh_client *c);

/* Publishes the device list and prekey bundle when they changed or are a day old. */
int sh_client_publish(sh_client *c, bool force) SH_CLIENT_WUR;
/* Asks the network for our device list: whether it can be reached and our keys are there. */
int sh_client_check(sh_client *c, bool *published) SH_CLIENT_WUR;
/* Puts a text message in the outbox (state QUEUED), then tries to flush. The message stays in
 * the outbox whatever the network does; *row names it. */
int sh_client_send_text(sh_client *c, const uint8_t to[static SH_SESSION_ID_BYTES],
                        const uint8_t *text, size_t len, int64_t *row) SH_CLIENT_WUR;
/* The same without the flush: the message waits in the outbox (QUEUED) for the next
 * sh_client_flush, which stores several queued rows together (the bot queues the sends it has
 * read, then flushes once). msg_id (SH_CLIENT_MSG_ID_BYTES, may be NULL) gets the message's id,
 * which its STATE events carry. */
int sh_client_queue_text(sh_client *c, const uint8_t to[static SH_SESSION_ID_BYTES],
                         const uint8_t *text, size_t len, int64_t *row, uint8_t *msg_id)
    SH_CLIENT_WUR;
/* Rows sealed and stored per window of a flush: up to this many rows (each with its store to the
 * recipient's inbox and its copy to ours) in flight together. */
#define SH_CLIENT_FLUSH_WINDOW 16
/* Seals and stores outbox rows in order, a window of SH_CLIENT_FLUSH_WINDOW rows at a time: the
 * window's rows are sealed and saved in one transaction, their stores made together, and the rows
 * whose stores succeeded marked done in one transaction. A row that fails stays for the next
 * flush (with its backoff), and the later rows to the same account in later windows wait too;
 * those of its window may already have gone out (the receiver orders by sequence number); rows
 * to other accounts go on. Returns the first error (SH_OK when every row went out); *sent
 * counts rows that went out. */
int sh_client_flush(sh_client *c, size_t *sent) SH_CLIENT_WUR;
/* Fetches the inbox (long-polling up to wait_ms when nothing is new), decrypts, stores, emits
 * events and queues acknowledgements. *received counts new messages and acknowledgements. */
int sh_client_poll(sh_client *c, uint32_t wait_ms, size_t *received) SH_CLIENT_WUR;
/* Asks the recipients' swarms again for the receipts of our messages stored on fewer than all
 * members; raises k (a STATE event each). *changed counts the messages whose k rose. */
int sh_client_update_receipts(sh_client *c, size_t *changed) SH_CLIENT_WUR;
/* The transport's description of the node serving our account. */
int sh_client_describe(sh_client *c, char *out, size_t out_size) SH_CLIENT_WUR;
/* The same for the account `sid`: over onion paths, the last path that answered a call for it
 * (guard, middle, swarm node). */
int sh_client_describe_peer(sh_client *c, const uint8_t sid[static SH_SESSION_ID_BYTES],
                            char *out, size_t out_size) SH_CLIENT_WUR;

/* ---- Linked devices (devices.c, link.c; docs/client.md "Linked devices") ------------------- */

/* Opens a linked device: its e2e state (made by sh_client_link_wait_response) is in `state`; it
 * holds no account seed and signs its requests with its device key and subaccount token.
 * SH_ERR_NOT_FOUND when the database holds no device, SH_ERR_INVALID when it holds a primary. */
int sh_client_new_linked(sh_client_state *state, sh_client_transport *transport,
                         sh_client_event_cb cb, void *ctx, sh_client **out) SH_CLIENT_WUR;

typedef struct sh_client_device_info {
    uint32_t id;
    bool primary, self, revoked;
    int64_t added_ms; /* when it was added (revoked: when it was revoked) */
} sh_client_device_info;

/* Our account's devices as this device knows them (current ones first, then revoked ones);
 * *n is how many there are, of which at most `max` are written. */
int sh_client_devices(sh_client *c, sh_client_device_info *out, size_t max, size_t *n)
    SH_CLIENT_WUR;
/* Primary: revokes a device (protocol-v2.md §11) and publishes the new device list (namespace
 * 11) and revocation list (namespace 12), after which nodes refuse its token. SH_ERR_PERMISSION
 * on a linked device; SH_ERR_NOT_FOUND for an id that is not a current linked device. */
int sh_client_revoke_device(sh_client *c, uint32_t device_id) SH_CLIENT_WUR;

/* Linking through the network: both devices meet in namespace 0 of a one-time rendezvous
 * account derived from the link code's secret (anonymous stores with proof of work; both read
 * it, signing as its owner). The link code and SAS are Protocol V2's (protocol-v2.md §11). */
typedef struct sh_client_link sh_client_link;
#define SH_CLIENT_LINK_TTL_MS SH_E2E_LINK_TTL_MS

/* Primary: a new one-time link code to show the new device. */
int sh_client_link_begin(sh_client *c, char code[static SH_E2E_LINK_CODE_BYTES],
                         sh_client_link **out) SH_CLIENT_WUR;
/* Primary: waits up to wait_ms for the new device's request and gives the SAS to compare.
 * SH_ERR_TIMEOUT when none came yet (call again), SH_ERR_STALE when the code expired. */
int sh_client_link_wait_request(sh_client_link *l, uint32_t wait_ms,
                                char sas[static SH_E2E_SAS_BYTES]) SH_CLIENT_WUR;
/* Primary, after the person compared the SAS: accept adds the device (its id in *device_id),
 * answers it and publishes the new device list; refuse tells the new device so. */
int sh_client_link_confirm(sh_client_link *l, bool accept, uint32_t *device_id) SH_CLIENT_WUR;
/* New device: reads the code (SH_ERR_FORMAT, SH_ERR_CHECKSUM for a typo), makes its keys and
 * sends its request; sas is what its screen shows. SH_ERR_EXISTS when the code was used. */
int sh_client_link_request(sh_client_state *state, sh_client_transport *transport,
                           const char *code, char sas[static SH_E2E_SAS_BYTES],
                           sh_client_link **out) SH_CLIENT_WUR;
/* New device: waits up to wait_ms for the primary's answer and saves the linked device in its
 * state. SH_ERR_TIMEOUT: no answer yet; SH_ERR_PERMISSION: the primary refused; SH_ERR_EXISTS:
 * the code was used by another device. */
int sh_client_link_wait_response(sh_client_link *l, uint32_t wait_ms) SH_CLIENT_WUR;
/* The Session ID of the account being linked to (new device) or linking (primary). */
void sh_client_link_account(const sh_client_link *l, uint8_t sid[static SH_SESSION_ID_BYTES]);
void sh_client_link_free(sh_client_link *l);

/* ---- Bot commands (bot.c): one JSON object per line ----------------------------------------- */

#define SH_CLIENT_BOT_LINE_MAX 65536

typedef struct sh_client_bot_cmd {
    char cmd[16];                         /* send, messages, contacts, devices, status, quit... */
    char to[SH_CLIENT_MAX_NAME_BYTES + 80]; /* a Session ID or contact name ("to" / "contact") */
    char id[64];                          /* echoed in the answer ("id", optional) */
    char name[SH_CLIENT_MAX_NAME_BYTES + 1]; /* a contact's name ("name") */
    char device[16];                      /* a device number ("device") */
    sh_buf text;                          /* "text", decoded from JSON escapes */
} sh_client_bot_cmd;

void sh_client_bot_cmd_init(sh_client_bot_cmd *c);
void sh_client_bot_cmd_free(sh_client_bot_cmd *c);
/* Parses one line: a flat JSON object of string values (unknown keys are refused).
 * SH_ERR_FORMAT with the column for malformed JSON, SH_ERR_INVALID for a missing or unknown
 * field, SH_ERR_LIMIT for a value too long. */
int sh_client_bot_parse(const char *line, size_t len, sh_client_bot_cmd *out) SH_CLIENT_WUR;
/* Appends s as a JSON string (quotes and escapes). */
int sh_client_json_string(sh_buf *out, const uint8_t *s, size_t len);

#endif
