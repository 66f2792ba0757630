/* The node module's internals, shared by its files and its tests: the node object, the replay
 * cache, long-poll waiters, the load-driven PoW difficulty, authorization and metrics. */
#ifndef SH_NODE_INTERNAL_H
#define SH_NODE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#include "node/node.h"
#include "node/request.h"
#include "dir/dir.h"

#define SH_NODE_LOG_AREA "node"
#define SH_NODE_ERR_SLOTS 32 /* -sh_err codes counted in the reject metrics */

/* request.c: sh_node_request_encode with a given nonce (tests compare bytes with vectors). */
int sh__node_request_encode_nonce(sh_node_request *r, const sh_node_signer *signer,
                                  const uint8_t nonce[static SH_NODE_NONCE_BYTES], sh_buf *out)
    SH_NODE_WUR;

/* ---- replay.c: (signer, nonce) pairs seen in the last window ----------------------------------- */

/* Two generations of an open-addressing set of 16-byte keyed digests of signer ‖ nonce: the
 * current one takes new pairs; when it is a window old it becomes the previous one and the old
 * previous one is dropped. A pair is thus remembered between one and two windows. */
typedef struct sh__node_replay_gen {
    uint8_t (*slots)[16];
    size_t cap, n;
} sh__node_replay_gen;

typedef struct sh__node_replay {
    uint8_t key[32];
    sh__node_replay_gen cur, prev;
    int64_t cur_started_ms;
    int64_t window_ms;
    size_t max_entries;
} sh__node_replay;

int sh__node_replay_init(sh__node_replay *r, int64_t window_ms, size_t max_entries);
void sh__node_replay_free(sh__node_replay *r);
/* Remembers the pair: SH_OK when it is new, SH_ERR_REPLAY when it was seen within the window,
 * SH_ERR_BUSY when the cache holds max_entries. now_ms is a monotonic clock. */
int sh__node_replay_check(sh__node_replay *r, const uint8_t signer[static 32],
                          const uint8_t nonce[static SH_NODE_NONCE_BYTES], int64_t now_ms)
    SH_NODE_WUR;
size_t sh__node_replay_count(const sh__node_replay *r);

/* ---- load.c: the proof of work a store in namespace 0 needs now ------------------------------ */

/* An exponentially decaying rate of anonymous stores (time constant 1 s) and the writes queued
 * in the store: each doubling of the load over what the base difficulty is for adds one bit. */
typedef struct sh__node_load {
    double rate_per_s;
    int64_t last_ms;
} sh__node_load;

void sh__node_load_event(sh__node_load *l, int64_t now_ms);
unsigned sh__node_pow_required(const sh__node_load *l, int64_t now_ms, uint64_t queued,
                               uint32_t queue_max, const sh_node_config *cfg);

/* ---- keycache.c: Ed25519 -> X25519 conversions ------------------------------------------------- */

/* crypto_sign_ed25519_pk_to_curve25519 costs about as much as a signature check (it checks the
 * point's order), and the same signers come back: a direct-mapped cache of conversions, indexed
 * by SipHash under a random key (a caller cannot aim at a slot) and checked on the whole key. */
#define SH__NODE_KEYCACHE_SLOTS 4096

typedef struct sh__node_keycache {
    uint8_t sip_key[16];
    struct {
        bool used;
        uint8_t ed[32];
        uint8_t x[32];
    } slots[SH__NODE_KEYCACHE_SLOTS];
} sh__node_keycache;

void sh__node_keycache_init(sh__node_keycache *c);
/* The X25519 form of an Ed25519 key; false for a key that has none. c may be NULL. */
bool sh__node_ed_to_x(sh__node_keycache *c, const uint8_t ed[static 32], uint8_t x[static 32]);

/* ---- auth.c: who may do what ------------------------------------------------------------------- */

/* The rights a request needs and whether its signer holds them (docs/node.md "Who may do
 * what"): the owner's own key (its Ed25519 key converts to the owner's X25519 key), or a device
 * key with a token of the owner's account granting them, not on the revocation list (the owner's
 * namespace-12 message, which the caller looks up for requests with a token; NULL when there is
 * none). SH_ERR_PERMISSION otherwise (SH_ERR_STALE for an expired token, SH_ERR_CRYPTO for a
 * forged one). The signature itself was checked by sh_node_request_verify. */
int sh__node_authorize(const sh_node_request *r, const uint8_t *revocations, size_t rev_len,
                       int64_t now_ms, sh__node_keycache *cache) SH_NODE_WUR;
/* SH_ERR_PERMISSION unless a store in namespace 0 carries `bits` of work. */
int sh__node_check_pow(const sh_node_request *r, unsigned bits) SH_NODE_WUR;
/* What a store in a namespace of slots names its slot with: the signer's key (namespace 10). */
void sh__node_slot(const sh_node_request *r, const uint8_t **slot, size_t *slot_len);
/* Checks the data of a store in namespace 12 is a revocation list of the owner's account. */
int sh__node_check_content(const sh_node_request *r, sh__node_keycache *cache) SH_NODE_WUR;

/* ---- metrics.c --------------------------------------------------------------------------------- */

typedef struct sh__node_metrics {
    uint64_t calls[SH_NODE_EXPIRE + 1]; /* by method; 0: info and stats */
    uint64_t stored[SH_STORE_SUPERSEDED + 1];
    uint64_t retrieved_msgs, retrieved_bytes;
    uint64_t polls_waited, polls_woken, polls_timed_out, polls_cancelled;
    uint64_t deleted, expire_changed;
    uint64_t rejects[SH_NODE_EXPIRE + 1][SH_NODE_ERR_SLOTS];
    uint64_t sweeps, swept_rows, sweep_errors;
    /* In a network (node/join.h). */
    uint64_t replicated_in, ae_rounds, ae_items, ae_bytes, ae_refused, handed_over,
        handover_retries, handover_confirmed;
} sh__node_metrics;

void sh__node_count_reject(sh__node_metrics *m, sh_node_method method, int code);

/* ---- poll.c: long-polls waiting for a store ------------------------------------------------------ */

#define SH__NODE_WAIT_BUCKETS 4096

typedef struct sh__node_waiter sh__node_waiter;

typedef struct sh__node_waiters {
    uint8_t key[16]; /* SipHash key of the buckets */
    sh__node_waiter *buckets[SH__NODE_WAIT_BUCKETS];
    size_t count;
} sh__node_waiters;

/* ---- relay.c: the onion relay (docs/onion.md "The relay") ------------------------------------- */

typedef struct sh__node_relay sh__node_relay;

/* Loads (or makes) the onion keyring and replay cache in the data folder, the static map if
 * configured, and registers the `onion` method. */
int sh__node_relay_start(sh_node *n, const sh_node_keys *keys) SH_NODE_WUR;
/* Shutdown, first step: refuses new packets and fails what waits on other nodes. */
void sh__node_relay_stop(sh_node *n);
/* Last step, once the net is closed: saves the keyring, closes the cache, frees. */
void sh__node_relay_free(sh_node *n);
/* Parses an `onion_service` setting, "name host:port link-key-hex" (fuzzed), and adds it. */
int sh__node_onion_service_add(sh_node_config *c, const char *value);
/* Checks the frame of an `onion` call: circuit id (non-zero) ‖ header ‖ a bucket (fuzzed). */
int sh__node_relay_body(const uint8_t *body, size_t len, uint64_t *circuit) SH_NODE_WUR;
/* Replaces the map used to find next hops (taken over; NULL: none). */
void sh__node_relay_set_map(sh_node *n, sh_dir_map *map);

typedef struct sh__node_swarm sh__node_swarm; /* node/join.h; NULL when standing alone */

/* ---- the node ------------------------------------------------------------------------------------ */

struct sh_node {
    uv_loop_t *loop;
    sh_node_config cfg;
    uint8_t identity_pk[32], link_pk[32];
    sh_net *net;
    sh_store *store;
    uint16_t port;
    uv_timer_t sweep_timer;
    bool sweeping, stopping;
    sh__node_replay replay;
    sh__node_keycache keys;
    sh__node_waiters waiters;
    sh__node_load load;
    sh__node_metrics m;
    uint64_t writes_in_flight;
    int64_t started_mono_ms;
    sh__node_relay *relay;
    sh__node_swarm *swarm;
    void (*done_cb)(void *ctx);
    void *done_ctx;
};

/* The current proof of work of namespace 0. */
unsigned sh__node_pow_now(sh_node *n);
/* Answers with an error: status, message, and the ErrorResponse body (node time, PoW bits). */
void sh__node_fail(sh_node *n, sh_net_req *req, sh_node_method method, int status,
                   const char *message);
/* Answers OK with a packed message (or NOMEM when it cannot be packed); returns the bytes sent. */
size_t sh__node_respond_pb(sh_net_req *req, const ProtobufCMessage *m);
/* Answers with a page for the query when it found messages or `final` is set; returns whether
 * it answered (errors of the store are answered too). */
bool sh__node_answer_page(sh_node *n, sh_net_req *req, const sh_store_query *q, bool final);

void sh__node_waiters_init(sh__node_waiters *w);
/* Parks a retrieve that found nothing until a store of (owner, ns) commits or wait_ms pass. */
int sh__node_wait(sh_node *n, sh_net_req *req, const sh_store_query *q, uint32_t wait_ms)
    SH_NODE_WUR;
/* A message of (owner, ns) was committed: answer the waiters that now find something. */
void sh__node_wake(sh_node *n, const uint8_t owner[static SH_STORE_OWNER_BYTES], int16_t ns);
/* Answers every waiter with what it has (shutdown). */
void sh__node_wake_all(sh_node *n);

/* handlers.c: the RPC methods. */
int sh__node_register(sh_node *n) SH_NODE_WUR;

#endif
