/* The storage API of a service node as its callers see it (docs/node.md; overview.md "Storage",
 * "Signed requests", "Inbox abuse", "Bootstrap and time"): the canonical signed request, its
 * proof of work, the answers, the clock offset a client keeps from the node times in answers,
 * and a direct client over one net link. The client module (L6) builds on this; tests and
 * benchmarks use it too. The node's side is in node/node.h.
 *
 * A request travels as shoal.Signed { body = canonical Request, signature } (proto/storage.proto):
 *   Request { label = SH_LABEL_STORAGE_REQUEST, method, owner (33: 05 ‖ X25519), namespace,
 *             timestamp_ms, nonce (16), signer (Ed25519, 32), token, params of the method }
 * The signature is Ed25519 by `signer` over the body bytes. Account owners sign with the Ed25519
 * key their Session ID's X25519 key converts from; a linked device signs with its device key and
 * carries its subaccount token (identity/token.h). Anonymous stores in namespace 0 and reads of
 * public namespaces are not signed (no signature, signer, nonce or token).
 *
 * Proof of work of a store in namespace 0 (docs/node.md "Proof of work"):
 *   h = BLAKE2b-256(SH_LABEL_STORAGE_POW ‖ owner (33) ‖ message hash (32)
 *                   ‖ timestamp_ms (8, big-endian) ‖ pow_nonce (8, big-endian))
 * counts as `bits` of work when h starts with that many zero bits (most significant bit of
 * byte 0 first). The node announces the bits it requires in `info` and in the body of an error
 * answer, and raises them under load. */
#ifndef SH_NODE_REQUEST_H
#define SH_NODE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shoal/identity.h>

#include "net/net.h"
#include "store/store.h"
#include "util/buf.h"

#define SH_NODE_WUR __attribute__((warn_unused_result))

#define SH_NODE_NONCE_BYTES 16
#define SH_NODE_SIGNER_BYTES 32
/* A request's timestamp must lie within this of the node's clock. */
#define SH_NODE_MAX_CLOCK_SKEW_MS (60 * SH_MS_PER_SECOND)
/* (signer, nonce) pairs are remembered at least this long: a request is fresh at most for
 * 2 * SH_NODE_MAX_CLOCK_SKEW_MS of node time, so it can never be replayed. */
#define SH_NODE_REPLAY_WINDOW_MS (2 * SH_NODE_MAX_CLOCK_SKEW_MS)
/* The body of one storage call: a store of the largest message with a token fits. */
#define SH_NODE_MAX_BODY_BYTES 65536u
/* The longest long-poll; a retrieve waits at most this long for a new message. */
#define SH_NODE_MAX_WAIT_MS 60000u
#define SH_NODE_POW_MAX_BITS 40u

_Static_assert(SH_NODE_MAX_BODY_BYTES <= SH_STORE_MAX_REQUEST_BYTES,
               "a whole delete or expire request fits in a tombstone");
_Static_assert(SH_STORE_MAX_DATA_BYTES + 2048 <= SH_NODE_MAX_BODY_BYTES,
               "a store of the largest message, with its token and fields, fits in one call");
_Static_assert(SH_NODE_MAX_WAIT_MS < SH_RPC_MAX_DEADLINE_MS, "a long-poll fits in a call");

typedef enum sh_node_method {
    SH_NODE_STORE = 1,
    SH_NODE_RETRIEVE = 2,
    SH_NODE_DELETE = 3,
    SH_NODE_EXPIRE = 4,
} sh_node_method;

/* "store", "retrieve", "delete", "expire" (also the RPC method names); NULL for another value. */
const char *sh_node_method_name(sh_node_method m);

/* One request, decoded or to be encoded. Pointers point into the caller's memory (encoding) or
 * into the sh_node_parsed that holds it (decoding). */
typedef struct sh_node_request {
    sh_node_method method;
    uint8_t owner[SH_STORE_OWNER_BYTES];
    int16_t ns;
    int64_t timestamp_ms;
    bool is_signed; /* signer, nonce (and perhaps token) are set */
    uint8_t nonce[SH_NODE_NONCE_BYTES];
    uint8_t signer[SH_NODE_SIGNER_BYTES];
    const uint8_t *token; /* a signed subaccount token, or NULL */
    size_t token_len;
    /* store */
    const uint8_t *data;
    size_t data_len;
    int64_t ttl_ms;
    uint64_t pow_nonce;
    /* retrieve */
    sh_store_cursor after;
    bool lookback;
    uint32_t max_count;
    uint32_t max_bytes;
    uint32_t wait_ms;
    /* delete (hashes, or before_ms > 0 without hashes) and expire (hashes) */
    const uint8_t (*hashes)[SH_STORE_HASH_BYTES];
    size_t n_hashes;
    int64_t before_ms;
    int64_t expiry_ms;
    sh_store_expire_mode mode;
} sh_node_request;

/* Who signs: the owner's account (its Session ID is the owner), or a linked device's Ed25519
 * key (libsodium's 64-byte secret key) with its subaccount token. */
typedef struct sh_node_signer {
    const sh_account *account;
    const uint8_t *device_sk;
    const uint8_t *token;
    size_t token_len;
} sh_node_signer;

/* Encodes r as a call body (shoal.Signed). With a signer, fills r->signer, a fresh random
 * r->nonce and r->token, sets r->is_signed and signs; with NULL, the request goes unsigned.
 * SH_ERR_LIMIT when the body would pass SH_NODE_MAX_BODY_BYTES. */
int sh_node_request_encode(sh_node_request *r, const sh_node_signer *signer, sh_buf *out)
    SH_NODE_WUR;

/* A decoded call body. */
typedef struct sh_node_parsed sh_node_parsed;

/* Decodes a call body for `method` and checks its form: canonical encodings, label, method,
 * field sizes, the parameters of the method and no others, and the limits of one call.
 * SH_ERR_FORMAT for a malformed body, SH_ERR_LIMIT for one over a limit, SH_ERR_INVALID for an
 * unknown namespace or a bad parameter, SH_ERR_UNSUPPORTED for an owner that is not a Session ID.
 * Nothing about time or signatures yet. */
int sh_node_request_parse(const uint8_t *body, size_t len, sh_node_method method,
                          sh_node_parsed **out) SH_NODE_WUR;
const sh_node_request *sh_node_parsed_request(const sh_node_parsed *p);
void sh_node_parsed_free(sh_node_parsed *p);
/* Checks freshness against the node's clock (SH_ERR_STALE: the message says by how much and
 * gives the node time) and the signature of a signed request (SH_ERR_CRYPTO). */
int sh_node_request_verify(const sh_node_parsed *p, int64_t now_ms) SH_NODE_WUR;

/* Proof of work (formula at the top). */
void sh_node_pow_hash(uint8_t out[static 32], const uint8_t owner[static SH_STORE_OWNER_BYTES],
                      const uint8_t msg_hash[static SH_STORE_HASH_BYTES], int64_t timestamp_ms,
                      uint64_t nonce);
unsigned sh_node_pow_bits(const uint8_t hash[static 32]);
/* Finds the first nonce from 0 whose work has at least `bits` bits. */
uint64_t sh_node_pow_solve(const uint8_t owner[static SH_STORE_OWNER_BYTES],
                           const uint8_t msg_hash[static SH_STORE_HASH_BYTES],
                           int64_t timestamp_ms, unsigned bits);

/* ---- Answers ------------------------------------------------------------------------------ */

typedef struct sh_node_stored {
    uint8_t hash[SH_STORE_HASH_BYTES];
    sh_store_outcome outcome;
    int64_t expiry_ms;
} sh_node_stored;

typedef struct sh_node_page {
    sh_store_msg *msgs; /* owner and ns are the query's; data points into `arena` */
    size_t count;
    sh_store_cursor next;
    bool more;
    sh_buf arena;
} sh_node_page;
void sh_node_page_free(sh_node_page *p);

typedef struct sh_node_changed {
    uint64_t count;
    size_t n;          /* hashes of the request */
    bool *deleted;     /* delete: whether hash i was there */
    int64_t *expiries; /* expire: the resulting expiry of hash i, 0 when not there */
} sh_node_changed;
void sh_node_changed_free(sh_node_changed *c);

typedef struct sh_node_info {
    char version[32];
    uint8_t identity_key[32];
    uint8_t link_key[32];
    uint32_t pow_bits;
    uint32_t max_data_bytes, max_msgs_per_ns;
    uint64_t max_bytes_per_ns;
    uint64_t max_clock_skew_ms, max_future_ms;
    uint32_t max_wait_ms, page_max_count, page_max_bytes, max_hashes;
} sh_node_info;

/* Every answer starts with the node's clock; error answers also carry the PoW bits required
 * now. Reads both from any answer body (fields absent: 0). */
int sh_node_answer_time(const uint8_t *body, size_t len, int64_t *node_time_ms,
                        uint32_t *pow_bits) SH_NODE_WUR;
int sh_node_stored_parse(const uint8_t *body, size_t len, sh_node_stored *out) SH_NODE_WUR;
int sh_node_page_parse(const uint8_t *body, size_t len, const uint8_t owner[static 33], int16_t ns,
                       sh_node_page *out) SH_NODE_WUR;
int sh_node_changed_parse(const uint8_t *body, size_t len, sh_node_method method,
                          sh_node_changed *out) SH_NODE_WUR;
int sh_node_info_parse(const uint8_t *body, size_t len, sh_node_info *out) SH_NODE_WUR;
/* The metrics text of a `stats` answer (appended to out, NUL-terminated). */
int sh_node_stats_parse(const uint8_t *body, size_t len, sh_buf *out) SH_NODE_WUR;

/* ---- The client's clock ---------------------------------------------------------------------- */

#define SH_NODE_CLOCK_SAMPLES 7

/* The offset of the nodes' clocks from ours: the median of the last samples, each the node time
 * of an answer minus the midpoint of its call. */
typedef struct sh_node_clock {
    int64_t samples[SH_NODE_CLOCK_SAMPLES];
    unsigned n, next;
    int64_t offset_ms;
} sh_node_clock;

void sh_node_clock_init(sh_node_clock *c);
/* Our clock corrected by the offset: what to put in requests. */
int64_t sh_node_clock_now(const sh_node_clock *c);
void sh_node_clock_sample(sh_node_clock *c, int64_t node_time_ms, int64_t sent_ms,
                          int64_t received_ms);

/* ---- A direct client over one link ---------------------------------------------------------- */

/* Calls one node's storage API over an sh_net peer, keeping a clock offset and the PoW the node
 * wants. A call that fails with SH_ERR_STALE (our clock is off) or for too little proof of work
 * is sent once more, re-timed and re-signed, when the answer taught us something new; so a
 * client whose clock is minutes off succeeds after one round trip. Loop thread only. */
typedef struct sh_node_conn sh_node_conn;

/* remote_link_key: the node's X25519 link key. opts may be NULL (a fresh link key per connection). */
int sh_node_conn_new(sh_net *net, const char *address, uint16_t port,
                     const uint8_t remote_link_key[static 32], const sh_net_peer_opts *opts,
                     sh_node_conn **out) SH_NODE_WUR;
/* Fails its calls with SH_ERR_CANCELLED (their callbacks run) and frees it. */
void sh_node_conn_free(sh_node_conn *c);
sh_node_clock *sh_node_conn_clock(sh_node_conn *c);
/* The PoW bits the node asked for last (from info or an error answer). */
uint32_t sh_node_conn_pow_bits(const sh_node_conn *c);
void sh_node_conn_set_deadline(sh_node_conn *c, uint32_t deadline_ms);

/* Every callback gets the call's status and, on error, the node's message. */
typedef void (*sh_node_stored_cb)(int status, const char *message, const sh_node_stored *r,
                                  void *ctx);
typedef void (*sh_node_page_cb)(int status, const char *message, sh_node_page *page, void *ctx);
typedef void (*sh_node_changed_cb)(int status, const char *message, const sh_node_changed *r,
                                   void *ctx);
typedef void (*sh_node_info_cb)(int status, const char *message, const sh_node_info *info,
                                void *ctx);
typedef void (*sh_node_text_cb)(int status, const char *message, const char *text, void *ctx);
typedef void (*sh_node_raw_cb)(int status, const char *message, const uint8_t *body, size_t len,
                               void *ctx);

/* The request's method and parameters come from r; owner, ns and the parameters must stay valid
 * until the callback. Its timestamp (and for namespace 0 its proof of work) are filled in from
 * the clock; signer may be NULL (anonymous store in namespace 0, public read). The page passed
 * to a retrieve callback belongs to the callee (freed after the callback). */
int sh_node_conn_store(sh_node_conn *c, const sh_node_request *r, const sh_node_signer *signer,
                       sh_node_stored_cb cb, void *ctx) SH_NODE_WUR;
int sh_node_conn_retrieve(sh_node_conn *c, const sh_node_request *r, const sh_node_signer *signer,
                          sh_node_page_cb cb, void *ctx) SH_NODE_WUR;
int sh_node_conn_change(sh_node_conn *c, const sh_node_request *r, const sh_node_signer *signer,
                        sh_node_changed_cb cb, void *ctx) SH_NODE_WUR;
int sh_node_conn_info(sh_node_conn *c, sh_node_info_cb cb, void *ctx) SH_NODE_WUR;
int sh_node_conn_stats(sh_node_conn *c, sh_node_text_cb cb, void *ctx) SH_NODE_WUR;
/* A call with a body as given (tests of malformed input); the clock still learns from it. */
int sh_node_conn_call_raw(sh_node_conn *c, const char *method, const uint8_t *body, size_t len,
                          sh_node_raw_cb cb, void *ctx) SH_NODE_WUR;

#endif
