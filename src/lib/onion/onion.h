/* Module onion (layer L4): Sphinx packets over ristretto255 (build, peel, replies), the node's
 * per-epoch onion keyring, the replay cache, the relay's circuit table and client path selection.
 * Everything here is a library without I/O of its own besides the replay cache's files and the
 * keyring file; the relay (module node) and the client drive it over net links. Format, labels and security argument:
 * docs/onion.md. Construction: Danezis & Goldberg, "Sphinx: A Compact and Provably Secure Mix
 * Format" (2009), with a LIONESS-style wide-block payload (Anderson & Biham 1996). */
#ifndef SH_ONION_ONION_H
#define SH_ONION_ONION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shoal/err.h>

#include "dir/dir.h"
#include "net/net.h"
#include "util/buf.h"

/* ---- Sizes (docs/onion.md "Packet format") ---- */
#define SH_ONION_MAX_HOPS 5
#define SH_ONION_ID_BYTES 32          /* a next hop's id: a node identity key or a service id */
#define SH_ONION_PUBLIC_KEY_BYTES 32  /* a ristretto255 group element */
#define SH_ONION_SECRET_KEY_BYTES 32  /* a ristretto255 scalar */
#define SH_ONION_MAC_BYTES 16
#define SH_ONION_ROUTING_BYTES 48
#define SH_ONION_HOP_BYTES (SH_ONION_ROUTING_BYTES + SH_ONION_MAC_BYTES)
#define SH_ONION_BETA_BYTES (SH_ONION_MAX_HOPS * SH_ONION_HOP_BYTES)
#define SH_ONION_HEADER_BYTES (1 + 8 + SH_ONION_PUBLIC_KEY_BYTES + SH_ONION_MAC_BYTES + SH_ONION_BETA_BYTES)
#define SH_ONION_VERSION 1
#define SH_ONION_TAG_BYTES 16         /* replay tag */
#define SH_ONION_KEY_BYTES 32         /* symmetric keys handed out (reply layer, end-to-end) */

/* Payload buckets: the only payload sizes on the wire, so a hop learns only the bucket. */
#define SH_ONION_BUCKET_1K 1024u
#define SH_ONION_BUCKET_4K 4096u
#define SH_ONION_BUCKET_16K 16384u
#define SH_ONION_BUCKET_64K 65536u
#define SH_ONION_BUCKET_256K 262144u
#define SH_ONION_BUCKET_COUNT 5
#define SH_ONION_BUCKET_MAX SH_ONION_BUCKET_256K
/* End-to-end overhead inside a bucket: a Poly1305 tag and a 4-byte length. */
#define SH_ONION_E2E_OVERHEAD_BYTES (16 + 4)
#define SH_ONION_MESSAGE_MAX_BYTES (SH_ONION_BUCKET_MAX - SH_ONION_E2E_OVERHEAD_BYTES)
#define SH_ONION_PACKET_MAX_BYTES (SH_ONION_HEADER_BYTES + SH_ONION_BUCKET_MAX)

/* Relay deadlines a client may ask for; a relay clamps to this. */
#define SH_ONION_REPLY_TIMEOUT_MAX_MS (5u * 60u * 1000u)

/* The bucket sizes in increasing order. */
extern const uint32_t sh_onion_buckets[SH_ONION_BUCKET_COUNT];
/* The smallest bucket that carries a message of msg_len bytes end to end; 0 if none does. */
size_t sh_onion_bucket_for(size_t msg_len);
bool sh_onion_is_bucket(size_t len);

/* ---- Building (client) ---- */

/* What a hop does with the packet after peeling its layer. */
typedef enum sh_onion_command {
    SH_ONION_RELAY_NODE = 1,    /* forward to the service node whose identity is next_id */
    SH_ONION_RELAY_SERVICE = 2, /* forward to the named service (file, community, push) next_id */
    SH_ONION_DELIVER = 3,       /* this hop is the destination: open the payload */
} sh_onion_command;

/* Routing flags. */
#define SH_ONION_FLAG_REPLY 0x01u /* the hop keeps circuit state for a reply */

/* One hop of a path as the client knows it from the map. */
typedef struct sh_onion_hop {
    uint8_t id[SH_ONION_ID_BYTES];
    uint8_t onion_key[SH_ONION_PUBLIC_KEY_BYTES]; /* this hop's onion key for `epoch` */
    uint64_t epoch;
    bool is_service;            /* the previous hop reaches it as a service, not a node */
    uint32_t reply_timeout_ms;  /* how long this hop (a relay) keeps the circuit for the reply */
} sh_onion_hop;

/* The client's secret state for one request: the reply keys of every hop. Kept until the reply
 * arrives or the request's deadline passes. */
typedef struct sh_onion_client sh_onion_client;

/* Builds a packet for hops[0..n_hops) carrying `msg` to the last hop, in the smallest bucket
 * that fits, into `packet` (replacing its contents). With `state` non-NULL every hop keeps
 * circuit state for a reply and *state receives what opening it takes. SH_ERR_LIMIT when the
 * message exceeds SH_ONION_MESSAGE_MAX_BYTES, SH_ERR_INVALID for 0 or more than 5 hops or a
 * hop key that is not a valid group element. */
int sh_onion_build(const sh_onion_hop *hops, size_t n_hops, const uint8_t *msg, size_t msg_len,
                   sh_buf *packet, sh_onion_client **state);
/* As sh_onion_build with a chosen bucket (at least the smallest that fits). */
int sh_onion_build_bucket(const sh_onion_hop *hops, size_t n_hops, const uint8_t *msg,
                          size_t msg_len, size_t bucket, sh_buf *packet, sh_onion_client **state);
void sh_onion_client_free(sh_onion_client *state);

/* Removes every relay's layer of a reply in place and checks the destination's end-to-end
 * authenticator; *msg then points at the message inside `reply`. SH_ERR_PROTOCOL for a length
 * that is not a bucket, SH_ERR_CRYPTO when any layer or the authenticator is wrong. */
int sh_onion_open_reply(const sh_onion_client *state, uint8_t *reply, size_t len,
                        const uint8_t **msg, size_t *msg_len) __attribute__((warn_unused_result));

/* ---- Node keys ---- */

typedef struct sh_onion_keyring sh_onion_keyring;

/* Epochs: epoch e is current during [e * epoch_ms, (e + 1) * epoch_ms) of the wall clock;
 * packets for epoch e are accepted until (e + 1) * epoch_ms + overlap_ms, then its key is
 * erased. overlap_ms < epoch_ms. */
typedef struct sh_onion_epochs {
    int64_t epoch_ms;
    int64_t overlap_ms;
} sh_onion_epochs;

typedef enum sh_onion_slot {
    SH_ONION_SLOT_PREVIOUS = 0, /* held only during the overlap */
    SH_ONION_SLOT_CURRENT = 1,
    SH_ONION_SLOT_NEXT = 2,     /* published ahead, not yet accepted */
} sh_onion_slot;
#define SH_ONION_SLOT_COUNT 3

/* SH_ERR_RANGE unless 0 <= overlap < epoch and now >= 0. */
int sh_onion_epoch_at(const sh_onion_epochs *ep, int64_t now_ms, uint64_t *epoch);
/* The window in which a key of `epoch` is used: valid_after = start, valid_until = end + overlap. */
void sh_onion_epoch_window(const sh_onion_epochs *ep, uint64_t epoch, int64_t *valid_after_ms,
                           int64_t *valid_until_ms);

/* An empty keyring (secrets in guarded memory); call sh_onion_keyring_advance to fill it. */
int sh_onion_keyring_new(const sh_onion_epochs *ep, sh_onion_keyring **out);
void sh_onion_keyring_free(sh_onion_keyring *kr);
/* Brings the keyring to time now_ms: current and next keys for the epochs of that time
 * (reusing the old next key as the new current one, generating what is missing), the old
 * current key kept as previous until the overlap ends, older keys wiped. *changed (may be NULL)
 * is set when a public key or epoch changed, i.e. a new descriptor should be published. */
int sh_onion_keyring_advance(sh_onion_keyring *kr, int64_t now_ms, bool *changed);
/* The epoch and public key in a slot. SH_ERR_NOT_FOUND when the slot is empty. */
int sh_onion_keyring_public(const sh_onion_keyring *kr, sh_onion_slot slot, uint64_t *epoch,
                            uint8_t public_key[static SH_ONION_PUBLIC_KEY_BYTES]);
/* The oldest epoch still accepted (for sh_onion_replay_retire); SH_ERR_NOT_FOUND when empty. */
int sh_onion_keyring_oldest(const sh_onion_keyring *kr, uint64_t *epoch);
/* Saves the keyring to a 0600 file (atomically) and loads it back; a loaded keyring drops keys
 * outside the epochs of now_ms on the next advance. */
int sh_onion_keyring_save(const sh_onion_keyring *kr, const char *path);
int sh_onion_keyring_load(const sh_onion_epochs *ep, const char *path, sh_onion_keyring **out)
    __attribute__((warn_unused_result));
/* Parses a saved keyring from memory (what _load does after reading the file). */
int sh_onion_keyring_parse(const sh_onion_epochs *ep, const uint8_t *data, size_t len,
                           sh_onion_keyring **out) __attribute__((warn_unused_result));

/* ---- Replay cache ---- */

typedef struct sh_onion_replay sh_onion_replay;

typedef struct sh_onion_replay_stats {
    uint64_t tags;          /* tags held, all epochs */
    uint64_t replays;       /* packets dropped as replays since open */
    uint64_t pending;       /* tags not yet on disk */
    uint64_t syncs;         /* syncs that fdatasync'ed something, since open */
} sh_onion_replay_stats;

/* Default limit of tags per epoch; beyond it packets are refused (SH_ERR_FULL) until the
 * next epoch, so memory stays bounded (at most 43 bytes per tag in the table). */
#define SH_ONION_REPLAY_MAX_TAGS (4u * 1024u * 1024u)
/* Pending tags that force a sync inside check_add. */
#define SH_ONION_REPLAY_BATCH_MAX 4096u

/* Opens the cache kept in directory `dir` (created 0700 if missing), loading every epoch file
 * found there; dir NULL keeps it in memory only (tests, fuzzing). max_tags 0 means the default. */
int sh_onion_replay_open(const char *dir, size_t max_tags, sh_onion_replay **out)
    __attribute__((warn_unused_result));
/* Writes pending tags and fsyncs (if any), then frees. */
int sh_onion_replay_close(sh_onion_replay *rc);
/* Records `tag` for `epoch`: SH_OK when new, SH_ERR_REPLAY when seen before (counted),
 * SH_ERR_STALE for an epoch already retired, SH_ERR_FULL past max_tags. A new tag is in memory
 * at once, in the file (kernel page cache: survives kill -9) after the next write or sync, and
 * on disk (survives power loss) after the next sync: relays peel a batch, write, forward it,
 * and sync on a timer. */
int sh_onion_replay_check_add(sh_onion_replay *rc, uint64_t epoch,
                              const uint8_t tag[static SH_ONION_TAG_BYTES])
    __attribute__((warn_unused_result));
int sh_onion_replay_write(sh_onion_replay *rc);
/* Writes pending tags and fdatasyncs every file written since the last sync. */
int sh_onion_replay_sync(sh_onion_replay *rc);
/* Drops every epoch below `oldest` (memory and files) and refuses them from now on. */
int sh_onion_replay_retire(sh_onion_replay *rc, uint64_t oldest);
void sh_onion_replay_stats_get(const sh_onion_replay *rc, sh_onion_replay_stats *out);

/* ---- Peeling (relay and destination) ---- */

/* What a hop learns from its layer. Holds secrets: wipe with sh_onion_peeled_wipe. */
typedef struct sh_onion_peeled {
    sh_onion_command command;
    uint8_t flags;
    uint32_t reply_timeout_ms;           /* relays: clamped to SH_ONION_REPLY_TIMEOUT_MAX_MS */
    uint64_t key_epoch;                  /* the epoch of the onion key this packet used */
    uint8_t next_id[SH_ONION_ID_BYTES];  /* relays: where to forward */
    uint8_t tag[SH_ONION_TAG_BYTES];
    uint8_t reply_key[SH_ONION_KEY_BYTES];   /* relay: its reply layer; destination: e2e reply */
    uint8_t request_key[SH_ONION_KEY_BYTES]; /* destination: e2e request key */
} sh_onion_peeled;

void sh_onion_peeled_wipe(sh_onion_peeled *p);

/* Peels this node's layer of `packet` in place. On success for a relay, `packet` holds the
 * packet to forward (same length); for the destination, the payload at
 * packet + SH_ONION_HEADER_BYTES is ready for sh_onion_open_request. Errors: SH_ERR_PROTOCOL
 * (size not a header plus a bucket, bad routing information), SH_ERR_UNSUPPORTED (version),
 * SH_ERR_STALE (key epoch not accepted now), SH_ERR_CRYPTO (bad group element or MAC),
 * SH_ERR_REPLAY, SH_ERR_FULL (replay cache full). `packet` is unspecified after an error. */
int sh_onion_peel(const sh_onion_keyring *kr, sh_onion_replay *rc, uint8_t *packet, size_t len,
                  sh_onion_peeled *out) __attribute__((warn_unused_result));

/* Destination: checks the end-to-end AEAD of the payload in place; *msg points inside it. */
int sh_onion_open_request(const sh_onion_peeled *p, uint8_t *payload, size_t len,
                          const uint8_t **msg, size_t *msg_len) __attribute__((warn_unused_result));
/* Destination: seals a reply in the smallest bucket that fits (or `bucket` if larger, 0 for
 * none) into `reply` (replacing its contents). */
int sh_onion_seal_reply(const sh_onion_peeled *p, const uint8_t *msg, size_t msg_len,
                        size_t bucket, sh_buf *reply);
/* Relay: adds its layer to a reply on the way back, in place. SH_ERR_PROTOCOL when len is not a
 * bucket. */
int sh_onion_wrap_reply(const uint8_t reply_key[static SH_ONION_KEY_BYTES], uint8_t *reply,
                        size_t len);

/* ---- Relay circuit table ---- */

/* A relay's memory of a forwarded packet: the circuit it came on and its reply key, found by the
 * (link, circuit id) it went out on. Links are numbered by the relay code. Circuit ids are drawn
 * at random per outgoing link. Entries live until the reply (take) or the deadline (expire). */
typedef struct sh_onion_circuits sh_onion_circuits;

typedef struct sh_onion_circuit {
    uint64_t in_link;
    uint64_t in_circuit;
    uint64_t out_link;
    uint64_t out_circuit;
    int64_t deadline_ms;
    uint8_t reply_key[SH_ONION_KEY_BYTES];
} sh_onion_circuit;

typedef int64_t (*sh_onion_clock_cb)(void *ctx);
typedef void (*sh_onion_expired_cb)(void *ctx, const sh_onion_circuit *c);

#define SH_ONION_CIRCUITS_MAX_DEFAULT 65536u

/* A table for at most `max` circuits (0: the default) reading time from `clock` (NULL: the
 * monotonic clock, ctx ignored). */
int sh_onion_circuits_new(size_t max, sh_onion_clock_cb clock, void *clock_ctx,
                          sh_onion_circuits **out);
void sh_onion_circuits_free(sh_onion_circuits *t);
/* Records a circuit whose packet leaves on out_link, with a fresh random circuit id for that link
 * in *out_circuit, expiring timeout_ms from now. SH_ERR_BUSY when the table is full. */
int sh_onion_circuits_add(sh_onion_circuits *t, uint64_t in_link, uint64_t in_circuit,
                          uint64_t out_link, uint32_t timeout_ms,
                          const uint8_t reply_key[static SH_ONION_KEY_BYTES],
                          uint64_t *out_circuit);
/* The reply came back on (out_link, out_circuit): moves the entry to *out and forgets it.
 * SH_ERR_NOT_FOUND for an unknown or already expired circuit. */
int sh_onion_circuits_take(sh_onion_circuits *t, uint64_t out_link, uint64_t out_circuit,
                           sh_onion_circuit *out) __attribute__((warn_unused_result));
/* Forgets every circuit whose deadline has passed, calling `cb` for each first (the relay sends
 * its error back); returns how many. */
size_t sh_onion_circuits_expire(sh_onion_circuits *t, sh_onion_expired_cb cb, void *ctx);
/* Forgets every circuit that went out on or came in on a closed link, calling `cb` for each. */
size_t sh_onion_circuits_drop_link(sh_onion_circuits *t, uint64_t link, sh_onion_expired_cb cb,
                                   void *ctx);
/* The earliest deadline, for the relay's timer; false when the table is empty. */
bool sh_onion_circuits_next_deadline(const sh_onion_circuits *t, int64_t *deadline_ms);
size_t sh_onion_circuits_count(const sh_onion_circuits *t);

/* ---- Path selection (client) ---- */

/* One node of the map as path selection sees it. */
typedef struct sh_onion_candidate {
    uint8_t id[SH_ONION_ID_BYTES];
    uint8_t addr[16];   /* IPv6, or IPv4 as ::ffff:a.b.c.d */
    bool in_swarm;
    uint64_t swarm_id;
    bool guard_flag;    /* the map's Guard flag: stable long enough to be a guard */
} sh_onion_candidate;

typedef struct sh_onion_path_policy {
    size_t n_guards;             /* guards kept, 2..SH_ONION_GUARDS_MAX */
    int64_t guard_lifetime_ms;   /* a guard is replaced this long after it was chosen */
    uint32_t guard_max_failures; /* consecutive failures that rotate a guard out */
    bool allow_same_subnet;      /* loopback devnet only: skip the /16 (IPv6 /32) rule */
} sh_onion_path_policy;

#define SH_ONION_GUARDS_MAX 3
#define SH_ONION_GUARD_LIFETIME_MS (6LL * 7 * 24 * 3600 * 1000) /* six weeks */
#define SH_ONION_GUARD_MAX_FAILURES 3u
#define SH_ONION_AVOID_MAX 64u

/* The client's kept guards (it saves them with its state). */
typedef struct sh_onion_guards {
    size_t n;
    struct {
        uint8_t id[SH_ONION_ID_BYTES];
        int64_t chosen_ms;
        uint32_t failures;
    } g[SH_ONION_GUARDS_MAX];
} sh_onion_guards;

/* Nodes that failed recently, avoided until their time passes (oldest replaced when full). */
typedef struct sh_onion_avoid {
    size_t n;
    struct {
        uint8_t id[SH_ONION_ID_BYTES];
        int64_t until_ms;
    } e[SH_ONION_AVOID_MAX];
} sh_onion_avoid;

/* Returns a uniform integer in [0, upper); NULL means randombytes_uniform. */
typedef uint32_t (*sh_onion_uniform_cb)(void *ctx, uint32_t upper);

/* Drops guards that left the map or outlived their lifetime, then tops the set up with random
 * Guard-flagged nodes (distinct /16s unless allowed). SH_ERR_UNAVAILABLE when no guard at all
 * can be had; SH_ERR_INVALID for a bad policy. */
int sh_onion_guards_update(sh_onion_guards *g, const sh_onion_candidate *cands, size_t n,
                           const sh_onion_path_policy *policy, int64_t now_ms,
                           sh_onion_uniform_cb uniform, void *ctx);
/* A path through this guard failed at the guard: after guard_max_failures in a row it is
 * dropped (the next update replaces it). A success resets the count. */
void sh_onion_guards_failed(sh_onion_guards *g, const uint8_t id[static SH_ONION_ID_BYTES],
                            const sh_onion_path_policy *policy);
void sh_onion_guards_succeeded(sh_onion_guards *g, const uint8_t id[static SH_ONION_ID_BYTES]);

void sh_onion_avoid_add(sh_onion_avoid *a, const uint8_t id[static SH_ONION_ID_BYTES],
                        int64_t until_ms);
bool sh_onion_avoid_has(const sh_onion_avoid *a, const uint8_t id[static SH_ONION_ID_BYTES],
                        int64_t now_ms);

/* A path: indices into the candidates for the guard and the middle; the destination is given. */
typedef struct sh_onion_path {
    size_t guard;
    size_t middle;
} sh_onion_path;

/* Picks a guard from the kept ones and a random middle for a path to `dest` (a node of the
 * target swarm, or a service with in_swarm false): guard, middle and destination distinct, guard
 * and middle never in the destination's swarm nor avoided, and no two of the three in one /16
 * unless the policy allows it. SH_ERR_UNAVAILABLE names the hop that could not be filled. */
int sh_onion_path_pick(const sh_onion_candidate *cands, size_t n, const sh_onion_guards *g,
                       const sh_onion_avoid *avoid, const sh_onion_candidate *dest,
                       const sh_onion_path_policy *policy, int64_t now_ms,
                       sh_onion_uniform_cb uniform, void *ctx, sh_onion_path *out);


/* ---- Messages inside packets (docs/onion.md "Requests, answers and relay errors") ---- */

/* What the destination receives: an RPC request for its own storage API (service "") or for a
 * named service it forwards to over a link. What the client receives: the RPC's answer. */
#define SH_ONION_MSG_VERSION 1
#define SH_ONION_METHOD_MAX_BYTES 64
#define SH_ONION_SERVICE_MAX_BYTES 64
#define SH_ONION_ERROR_MESSAGE_MAX_BYTES 256

typedef struct sh_onion_request {
    char service[SH_ONION_SERVICE_MAX_BYTES + 1]; /* "" for the destination node itself */
    char method[SH_ONION_METHOD_MAX_BYTES + 1];
    const uint8_t *body; /* points into the parsed bytes */
    size_t len;
} sh_onion_request;

typedef struct sh_onion_response {
    int status; /* SH_OK or a negative sh_err code */
    char message[SH_ONION_ERROR_MESSAGE_MAX_BYTES + 1];
    const uint8_t *body;
    size_t len;
} sh_onion_response;

/* version(1) ‖ service_len(1) ‖ service ‖ method_len(1) ‖ method ‖ body. Names are 1-64 (service
 * 0-64) characters of [a-z0-9_.-]. SH_ERR_INVALID for a bad name, SH_ERR_LIMIT past
 * SH_ONION_MESSAGE_MAX_BYTES. */
int sh_onion_request_encode(const char *service, const char *method, const uint8_t *body,
                            size_t len, sh_buf *out);
/* SH_ERR_UNSUPPORTED for another version, SH_ERR_FORMAT for anything malformed. */
int sh_onion_request_parse(const uint8_t *msg, size_t len, sh_onion_request *out)
    __attribute__((warn_unused_result));
/* version(1) ‖ status(4, big-endian, two's complement) ‖ message_len(2) ‖ message ‖ body. A
 * message is printable ASCII (others replaced by '?'), cut at 256 bytes. */
int sh_onion_response_encode(int status, const char *message, const uint8_t *body, size_t len,
                             sh_buf *out);
int sh_onion_response_parse(const uint8_t *msg, size_t len, sh_onion_response *out)
    __attribute__((warn_unused_result));

/* A relay that cannot get an answer from its next hop returns, instead of a reply, an error
 * block: 1 KiB holding "shoal/relay/err1" ‖ status(4) ‖ message_len(2) ‖ message ‖ zeros,
 * wide-block encrypted under its reply layer key (so earlier relays cannot read it, and only the
 * client can), then wrapped by every earlier relay like a reply. The status says why the next
 * hop failed. */
#define SH_ONION_RELAY_ERROR_MAGIC "shoal/relay/err1"
#define SH_ONION_RELAY_ERROR_MAGIC_BYTES 16
int sh_onion_relay_error(const uint8_t reply_key[static SH_ONION_KEY_BYTES], int status,
                         const char *message, sh_buf *out);
/* The client: when `reply` is an error block of relay `*hop` (0 = the first hop), gives its
 * status and message and returns SH_OK (the hop that failed is *hop + 1); SH_ERR_NOT_FOUND
 * otherwise. `reply` is not changed. */
int sh_onion_open_relay_error(const sh_onion_client *state, const uint8_t *reply, size_t len,
                              size_t *hop, int *status,
                              char message[static SH_ONION_ERROR_MESSAGE_MAX_BYTES + 1])
    __attribute__((warn_unused_result));


/* ---- Nodes from the map (client) ---- */

/* A node of a verified map as a client needs it: the candidate for path selection, where to
 * reach it, and its onion keys (the map's current and next). */
typedef struct sh_onion_node {
    sh_onion_candidate cand;                /* id = identity key, addr, swarm, Guard flag */
    char host[48];                          /* numeric IPv4 or IPv6, for sh_net_peer_new */
    uint16_t port;
    uint8_t link_key[SH_NET_KEY_BYTES];     /* Noise static key */
    struct {
        uint64_t epoch;
        uint8_t key[SH_ONION_PUBLIC_KEY_BYTES];
        int64_t valid_after_ms, valid_until_ms;
    } onion[2];                             /* [0] the map's current, [1] its next */
} sh_onion_node;

/* Turns a map (already verified by sh_dir_map_load) into nodes, sorted as the map sorts them;
 * nodes whose onion keys do not verify against their identity or whose address does not parse
 * are left out. *out is freed with free(). SH_ERR_UNAVAILABLE for a map without usable nodes. */
int sh_onion_nodes_from_map(const sh_dir_map *map, sh_onion_node **out, size_t *n)
    __attribute__((warn_unused_result));
/* The hop for a node at now_ms: its newest onion key already valid and not yet expired.
 * SH_ERR_STALE when neither key is valid now (the map is too old or too new). */
int sh_onion_node_hop(const sh_onion_node *node, int64_t now_ms, sh_onion_hop *hop);

/* ---- The onion caller (client side, over net links) ---- */

/* Sends RPC requests to destination nodes through 3-hop paths (guard, middle, destination):
 * builds each packet, sends it to the guard over a link made with a fresh random key, opens the
 * reply. When a hop fails it says which and why, avoids that node for a while (a guard also
 * counts a failure) and retries on a new path after a backoff. Runs on the sh_net's loop. */
typedef struct sh_onion_caller sh_onion_caller;

/* An attempt started (started set, status SH_OK) or ended (for logs and tests): its path and,
 * on failure, the hop (1-based) that failed and the error. */
typedef struct sh_onion_attempt {
    unsigned attempt;                    /* 1, 2, ... */
    bool started;
    const sh_onion_node *path[3];        /* guard, middle, destination */
    int status;                          /* SH_OK: the destination answered (any status) */
    unsigned failed_hop;                 /* 1..3, 0 when unknown or none */
    const char *message;
} sh_onion_attempt;
typedef void (*sh_onion_attempt_cb)(const sh_onion_attempt *a, void *ctx);

typedef struct sh_onion_caller_config {
    sh_onion_path_policy policy;
    unsigned max_attempts;        /* paths tried per request (>= 1) */
    uint32_t attempt_timeout_ms;  /* unused since relays see a fixed deadline (kept for callers) */
    uint32_t hop_timeout_ms;      /* the reply timeout and RPC deadline every hop is given,
                                   * the guard included (the same for all: no hop learns its
                                   * position); an attempt ends after it at the latest */
    uint32_t backoff_min_ms;      /* delay before the 2nd attempt, doubled each time ... */
    uint32_t backoff_max_ms;      /* ... up to this (jittered to 50-100 %) */
    int64_t avoid_ms;             /* a failing node is avoided this long */
    sh_onion_clock_cb clock;      /* wall clock in ms; NULL: sh_time_now_ms */
    void *clock_ctx;
    sh_onion_uniform_cb uniform;  /* NULL: randombytes_uniform */
    void *uniform_ctx;
    sh_onion_attempt_cb attempt_cb; /* may be NULL */
    void *attempt_ctx;
} sh_onion_caller_config;

#define SH_ONION_CALLER_ATTEMPTS_DEFAULT 3u
#define SH_ONION_CALLER_TIMEOUT_DEFAULT_MS 10000u
#define SH_ONION_CALLER_HOP_TIMEOUT_DEFAULT_MS 10000u
#define SH_ONION_CALLER_BACKOFF_MIN_DEFAULT_MS 100u
#define SH_ONION_CALLER_BACKOFF_MAX_DEFAULT_MS 5000u
#define SH_ONION_CALLER_AVOID_DEFAULT_MS (10LL * 60 * 1000)

void sh_onion_caller_config_default(sh_onion_caller_config *cfg);
/* A caller over `net` on `loop` (neither owned) with a copy of `nodes`. `guards` may be NULL (a
 * fresh set) or the set the client saved; sh_onion_caller_guards reads it back. */
int sh_onion_caller_new(uv_loop_t *loop, sh_net *net, const sh_onion_caller_config *cfg, const sh_onion_node *nodes,
                        size_t n_nodes, const sh_onion_guards *guards, sh_onion_caller **out)
    __attribute__((warn_unused_result));
/* Fails every request in progress with SH_ERR_CANCELLED (their callbacks run before it returns)
 * and frees the caller once its timer has closed (the loop must run). */
void sh_onion_caller_free(sh_onion_caller *c);
/* Replaces the nodes (a new map); requests in progress keep their paths. */
int sh_onion_caller_set_nodes(sh_onion_caller *c, const sh_onion_node *nodes, size_t n_nodes);
void sh_onion_caller_guards(const sh_onion_caller *c, sh_onion_guards *out);

/* The destination's answer (status, message, body: valid during the callback), or the error of
 * the last attempt with a message naming the hop that failed. */
typedef void (*sh_onion_answer_cb)(int status, const char *message, const uint8_t *body,
                                   size_t len, void *ctx);
/* Calls `method` of the node `dest_id` (in the nodes) with `body` through onion paths. On SH_OK
 * cb runs exactly once, later. SH_ERR_NOT_FOUND when dest_id is not a known node, SH_ERR_LIMIT /
 * SH_ERR_INVALID for a bad request. */
int sh_onion_caller_request(sh_onion_caller *c, const uint8_t dest_id[static SH_ONION_ID_BYTES],
                            const char *method, const uint8_t *body, size_t len,
                            sh_onion_answer_cb cb, void *ctx) __attribute__((warn_unused_result));
/* The same for a named service (e.g. "files") that the node dest_id forwards to; "" is the node
 * itself. An unknown service comes back as the answer's status (SH_ERR_NOT_FOUND). */
int sh_onion_caller_request_service(sh_onion_caller *c,
                                    const uint8_t dest_id[static SH_ONION_ID_BYTES],
                                    const char *service, const char *method, const uint8_t *body,
                                    size_t len, sh_onion_answer_cb cb, void *ctx)
    __attribute__((warn_unused_result));

#endif
