/* The node in a network, shared by the node module's files (docs/swarm.md "Joining",
 * "Swarms", "Receipts"): the map client, server and publisher, the onion keyring, the node's
 * swarm and its peers (join.c); the owner check (swarm.c); replication (replicate.c);
 * anti-entropy (antientropy.c); receipts (receipts.c). Absent (n->swarm == NULL) when the node
 * stands alone. */
#ifndef SH_NODE_JOIN_H
#define SH_NODE_JOIN_H

#include "dir/client.h"
#include "node/internal.h"
#include "node/swarm.h"
#include "onion/onion.h"
#include "swarm.pb-c.h"

#define SH__NODE_MAX_PEERS 64 /* swarm peers we replicate to (a swarm splits at 2*target+1) */
#define SH__NODE_PUSH_MAX_ITEMS 64 /* items in one swarm.push call */

typedef struct sh__node_peer {
    uint8_t identity[32];
    uint8_t link_key[32];
    char address[SH_DIR_ADDRESS_MAX + 1];
    sh_net_peer *peer;
    /* Anti-entropy: calls this peer made to us in the current second (rate limit). */
    int64_t window_start_ms;
    uint32_t calls_in_window;
} sh__node_peer;

typedef struct sh__node_ae sh__node_ae;
typedef struct sh__node_pushq sh__node_pushq;
typedef struct sh__node_scanner sh__node_scanner;
typedef struct sh__node_ho sh__node_ho;

struct sh__node_swarm {
    sh_node *n;
    sh_dir_network *network;
    sh_dir_server *server;
    sh_dir_client *client;
    sh_dir_publisher *pub;
    uint64_t published_epoch;  /* the current onion key last published */
    uint8_t published_key[32];
    uv_timer_t key_timer;
    uint8_t *identity_sk; /* 64, secret memory: receipts */
    uint8_t *link_sk;     /* 32, secret memory: our static key towards peers */
    /* The map our swarm was computed from, and the swarm. */
    uint64_t map_version;
    uint64_t prev_map_version;
    uint8_t swarms_hash[32]; /* of the map's swarm ids: a change moves owners (handover) */
    bool in_swarm;
    uint64_t swarm_id;
    sh__node_peer peers[SH__NODE_MAX_PEERS];
    size_t n_peers;
    sh__node_ae *ae;
    sh__node_pushq *pushq;
    sh__node_scanner *scanner;
    sh__node_ho *ho;
    /* Links to members of other swarms (handover), reused round-robin. */
    sh__node_peer others[SH__NODE_MAX_PEERS];
    size_t n_others, next_other;
    bool closing;
};

/* relay.c: the relay's onion keyring (it turns it by epoch) and its epochs; NULL without one. */
const sh_onion_keyring *sh__node_relay_keyring(const sh_node *n, sh_onion_epochs *epochs);

/* join.c */
int sh__node_join_start(sh_node *n, const sh_node_keys *keys) SH_NODE_WUR;
/* Before the net shuts down: stops the client, publisher and timers. */
void sh__node_join_stop(sh_node *n);
/* After the net closed: frees what is left. */
void sh__node_join_free(sh_node *n);
/* The map the node works from (the newest verified one, even if it has expired), or NULL. */
const sh_dir_map *sh__node_map(const sh_node *n);
/* May this link key call this node method? */
bool sh__node_join_authorize(sh_node *n, const uint8_t key[static 32], const char *method);
/* A link to a node of another swarm (handover), or NULL. */
sh_net_peer *sh__node_other_peer(sh_node *n, const sh_dir_node *member);
/* The peer with this link key, or NULL. */
sh__node_peer *sh__node_peer_by_link(sh_node *n, const uint8_t key[static 32]);

/* swarm.c: is this owner ours? SH_OK, or the refusal already answered on req (WRONG_SWARM with
 * the right swarm's nodes, UNAVAILABLE while the node is in no swarm). */
int sh__node_swarm_check_owner(sh_node *n, sh_net_req *req, sh_node_method method,
                               const uint8_t owner[static SH_STORE_OWNER_BYTES]) SH_NODE_WUR;
/* Does the owner belong to our swarm in the current map? */
bool sh__node_swarm_owns(sh_node *n, const uint8_t owner[static SH_STORE_OWNER_BYTES]);
/* The owner's position in swarm space (what anti-entropy ranges cut). */
uint64_t sh__node_swarm_position(const uint8_t owner[static SH_STORE_OWNER_BYTES]);

/* replicate.c */
int sh__node_replicate_register(sh_node *n) SH_NODE_WUR;
/* A client's store in a network: commit here and push to every peer at once; answers when this
 * node and one peer committed. */
int sh__node_replicate_store(sh_node *n, sh_net_req *req, const sh_node_request *r) SH_NODE_WUR;
/* An owner's delete or expire that this node accepted: pushed to every peer. */
void sh__node_replicate_change(sh_node *n, const sh_node_request *r, const uint8_t *body,
                               size_t len);
/* Applies one pushed or fetched item (messages, or a signed delete/expire); cb(ctx, status,
 * outcome, hash) after commit (outcome 0 for a request). */
typedef void (*sh__node_apply_cb)(void *ctx, int status, sh_store_outcome outcome,
                                  const uint8_t hash[SH_STORE_HASH_BYTES]);
int sh__node_apply_item(sh_node *n, const Shoal__Swarm__Item *item,
                        sh__node_apply_cb cb, void *ctx) SH_NODE_WUR;
/* The checks of what a peer sends, without the store (also the fuzz targets' entry points):
 * a push body (1 to 64 items), a message item's fields, a request item's form and owner
 * signature, and the anti-entropy requests' ranges and sizes. */
int sh__node_push_parse(const uint8_t *body, size_t len, Shoal__Swarm__PushRequest **out)
    SH_NODE_WUR;
int sh__node_item_check_message(const Shoal__Swarm__Item *it) SH_NODE_WUR;
int sh__node_item_check_request(const Shoal__Swarm__Item *it) SH_NODE_WUR;
int sh__node_digest_check(const Shoal__Swarm__DigestRequest *m) SH_NODE_WUR;
int sh__node_fetch_check(const Shoal__Swarm__FetchRequest *m) SH_NODE_WUR;
/* The method of an owner request kept by a tombstone ("delete", "expire"), or NULL. */
const char *sh__node_request_method(const uint8_t *body, size_t len);

/* handover.c: the map moved owners away from our swarm: push their entries to every member of
 * their new swarm, again with backoff until each member confirms. */
int sh__node_handover_start(sh_node *n) SH_NODE_WUR;
void sh__node_handover(sh_node *n);
void sh__node_handover_stop(sh_node *n);
void sh__node_handover_free(sh_node *n);

/* push.c: outgoing swarm.push calls, batched per peer and loop turn. cb(ctx, status, receipt):
 * SH_OK when the peer committed the item (receipt: the peer's, for a message), an error
 * otherwise (SH_ERR_UNAVAILABLE: answered, but the item was not applied). */
typedef void (*sh__node_pushed_cb)(void *ctx, int status, const sh_node_receipt *receipt);
int sh__node_pushq_start(sh_node *n) SH_NODE_WUR;
int sh__node_push(sh_node *n, sh_net_peer *peer, const Shoal__Swarm__Item *it,
                  uint32_t timeout_ms, sh__node_pushed_cb cb, void *ctx) SH_NODE_WUR;
/* Fails what is still queued for the peer (NULL: for every peer), before the peer is closed. */
void sh__node_pushq_forget(sh_node *n, const sh_net_peer *peer);
void sh__node_pushq_stop(sh_node *n);
void sh__node_pushq_free(sh_node *n);

/* receipts.c */
int sh__node_receipts_register(sh_node *n) SH_NODE_WUR;
/* Our receipt for a message we have committed. */
int sh__node_receipt_sign(sh_node *n, const uint8_t hash[static SH_STORE_HASH_BYTES],
                          const uint8_t owner[static SH_STORE_OWNER_BYTES], int16_t ns,
                          int64_t expiry_ms, sh_node_receipt *out) SH_NODE_WUR;

void sh__node_receipt_to_pb(const sh_node_receipt *r, Shoal__Swarm__Receipt *m);
/* The first receipt of a PushResponse. */
int sh__node_receipts_parse_push(const uint8_t *body, size_t len, sh_node_receipt *out, size_t *n)
    SH_NODE_WUR;
int sh__node_receipt_from_pb(const Shoal__Swarm__Receipt *m, sh_node_receipt *r) SH_NODE_WUR;

/* scan.c: whole-store scans on the thread pool (one at a time, over a second store handle).
 * work(store, view, ctx) runs on a pool thread and sees the swarm through `view` only;
 * done(ctx, status, error) runs on the loop; SH_ERR_CANCELLED once the node stops (then done
 * may only free ctx: the node may be gone). */
typedef struct sh__node_view {
    uint64_t *ids; /* the map's swarm ids, sorted */
    size_t n;
    uint64_t swarm_id; /* ours, when in_swarm */
    bool in_swarm;
} sh__node_view;
bool sh__node_view_owner_swarm(const sh__node_view *v,
                               const uint8_t owner[static SH_STORE_OWNER_BYTES], uint64_t *id);
bool sh__node_view_owns(const sh__node_view *v, const uint8_t owner[static SH_STORE_OWNER_BYTES]);
typedef int (*sh__node_scan_work_fn)(sh_store *store, const sh__node_view *view, void *ctx);
typedef void (*sh__node_scan_done_fn)(void *ctx, int status, const char *error);
int sh__node_scan_start(sh_node *n) SH_NODE_WUR;
int sh__node_scan_submit(sh_node *n, sh__node_scan_work_fn work, sh__node_scan_done_fn done,
                         void *ctx) SH_NODE_WUR;
void sh__node_scan_close(sh_node *n);

/* antientropy.c */
int sh__node_ae_start(sh_node *n) SH_NODE_WUR;
void sh__node_ae_stop(sh_node *n);
void sh__node_ae_free(sh_node *n);

#endif
