/* The network half of the directory for nodes and clients (docs/directory.md "Protocol", "Map
 * client", "Joining as a node"): serving the current map to anyone (every node and authority
 * does), fetching and verifying the map from any node or authority with a disk cache and
 * refreshes, and publishing a node's signed descriptor to the authorities.
 *
 * Everything here runs on the loop of the sh_net it is given and follows net's rules: callbacks
 * run on that loop, never from inside the call that set them up. Close these objects before
 * closing or shutting down their sh_net (their handles then finish closing on the loop).
 *
 * A node joins like this (module node, shoald), with `loop` the loop of `net`:
 *     sh_dir_server_new(net, network, NULL, &srv);          dir.map.get + dir.ping, for anyone
 *     sh_dir_client_new(loop, net, network, &{.cache_path, .server = srv, .map_cb}, &cl);
 *     sh_dir_publisher_new(loop, net, network, &{identity_sk, node fields}, &pub);
 *     sh_dir_publisher_set_onion_keys(pub, &cur, &next);    at start and on every key rotation
 *     sh_net_set_authorize(net, cb, ...)  where cb calls sh_dir_client_is_node(cl, key)
 * and looks up its swarm in sh_dir_client_map(cl) whenever map_cb reports a new map. */
#ifndef SH_DIR_CLIENT_H
#define SH_DIR_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dir/dir.h"
#include "net/net.h"

/* RPC methods of the directory (docs/directory.md "Protocol"). */
#define SH_DIR_METHOD_MAP_GET "dir.map.get"    /* client kind: every node and authority */
#define SH_DIR_METHOD_PING "dir.ping"          /* client kind: reachability tests */
#define SH_DIR_METHOD_PUBLISH "dir.publish"    /* client kind: authorities, rate-limited */
#define SH_DIR_METHOD_VOTE_GET "dir.vote.get"  /* node kind: between authorities only */
#define SH_DIR_METHOD_SIG_GET "dir.sig.get"    /* node kind: between authorities only */

/* Blobs (maps, diffs, votes) travel in slices of at most this many bytes. */
#define SH_DIR_CHUNK_BYTES (256u * 1024)
/* A server keeps this many recent maps and answers a caller holding one of them with a diff. */
#define SH_DIR_SERVER_RECENT_MAPS 4

/* ---- Serving the map (every node and authority) ------------------------------------------- */

typedef struct sh_dir_server sh_dir_server;

typedef struct sh_dir_server_config {
    size_t chunk_bytes;                   /* 0: SH_DIR_CHUNK_BYTES (tests use less) */
    sh_net_method_limits map_get_limits;  /* {0, 0}: 50 per second, bursts of 200 */
} sh_dir_server_config;

/* Registers dir.map.get and dir.ping (client kind) on `net`, answering from the maps given to
 * sh_dir_server_set_map. `network` must outlive the server. cfg may be NULL. */
int sh_dir_server_new(sh_net *net, const sh_dir_network *network, const sh_dir_server_config *cfg,
                      sh_dir_server **out) __attribute__((warn_unused_result));
/* Serves `map` (copied) from now on. A newer version becomes current, the previous one is kept
 * for diffs; the same body with more signatures replaces the current one; an older one is
 * ignored. The caller verified it. */
int sh_dir_server_set_map(sh_dir_server *s, const sh_dir_map *map);
/* Forgets every map (then serves nothing until the next sh_dir_server_set_map). */
void sh_dir_server_clear(sh_dir_server *s);
/* The current map served, or NULL. */
const sh_dir_map *sh_dir_server_map(const sh_dir_server *s);
/* Frees the server. net has no way to unregister methods: call this only after sh_net_close
 * (or the shutdown) of its net has finished. */
void sh_dir_server_free(sh_dir_server *s);

/* ---- The map client (nodes and clients) ---------------------------------------------------- */

typedef struct sh_dir_client sh_dir_client;

/* A new verified map (newer version, or the same body with more signatures). */
typedef void (*sh_dir_client_map_cb)(sh_dir_client *c, const sh_dir_map *map, void *ctx);
/* A refresh ended: SH_OK when a source gave a verified map at least as new as ours, otherwise
 * why none did (a valid map may still be held: see sh_dir_client_map). */
typedef void (*sh_dir_client_status_cb)(sh_dir_client *c, int status, const char *message, void *ctx);

#define SH_DIR_CLIENT_DEFAULT_REFRESH_MS (10LL * 60 * 1000)
#define SH_DIR_CLIENT_DEFAULT_RETRY_MS (5LL * 1000)
#define SH_DIR_CLIENT_DEFAULT_DEADLINE_MS 10000u
#define SH_DIR_CLIENT_DEFAULT_SOURCES 8u

typedef struct sh_dir_client_config {
    const char *cache_path;         /* file holding the last verified map, or NULL */
    int64_t refresh_ms;             /* look for a newer map this often (0: default) */
    int64_t retry_ms;               /* after a refresh failed, first retry (doubles up to refresh_ms) */
    uint32_t deadline_ms;           /* per call (0: default) */
    unsigned max_sources;           /* sources tried per refresh (0: default) */
    const uint8_t *self_link_key;   /* a node's own link key: never fetch from itself (or NULL) */
    sh_dir_server *server;          /* fed every new map (or NULL) */
    sh_dir_client_map_cb map_cb;        /* may be NULL */
    sh_dir_client_status_cb status_cb;  /* may be NULL */
    void *ctx;
} sh_dir_client_config;

/* Loads the cached map (kept as a diff base even when expired, used only when verified and
 * valid) and starts fetching at once: from the authorities of the network file and the nodes of
 * the current map, in random order, each tried until one gives a map at least as new as the one
 * held that verifies (k signatures, version, validity); diffs are applied when a source has
 * them. Refreshes every refresh_ms, and sooner as the map nears its end. */
int sh_dir_client_new(uv_loop_t *loop, sh_net *net, const sh_dir_network *network, const sh_dir_client_config *cfg,
                      sh_dir_client **out) __attribute__((warn_unused_result));
/* The current verified map, valid now; NULL when there is none (see sh_dir_client_status). */
const sh_dir_map *sh_dir_client_map(const sh_dir_client *c);
/* The newest verified map even if it has expired (NULL when none): for diffs and for saying
 * what is known. */
const sh_dir_map *sh_dir_client_last_map(const sh_dir_client *c);
/* SH_OK when a valid map is held; otherwise the code of why not, *message (may be NULL) a
 * sentence for a person, e.g. SH_ERR_STALE "the newest map available (version 7) expired 2 h 0
 * min ago ...". Valid until the next refresh. */
int sh_dir_client_status(const sh_dir_client *c, const char **message);
/* Starts a refresh now (unless one is running). */
void sh_dir_client_refresh(sh_dir_client *c);
/* Is this the link key of a node in the current map? The authorization of node-only methods:
 * call it from the sh_net_authorize_cb. */
bool sh_dir_client_is_node(const sh_dir_client *c, const uint8_t link_key[static SH_DIR_KEY_BYTES]);
/* Cancels the fetch in progress and frees the client (its timer closes on the loop). */
void sh_dir_client_close(sh_dir_client *c);

/* ---- Publishing a node's descriptor (nodes) ------------------------------------------------ */

typedef struct sh_dir_publisher sh_dir_publisher;

/* The answer of one authority to a publication: SH_OK (admitted and reachable), the refusal
 * (SH_ERR_CRYPTO, SH_ERR_PERMISSION, SH_ERR_LIMIT, SH_ERR_STALE, ...), SH_ERR_UNAVAILABLE when
 * its handshake to the node failed, or a network error. */
typedef void (*sh_dir_publisher_result_cb)(const sh_dir_authority *authority, int status,
                                           const char *message, void *ctx);

#define SH_DIR_PUBLISHER_DEFAULT_INTERVAL_MS (30LL * 60 * 1000)
#define SH_DIR_PUBLISHER_DEFAULT_RETRY_MS (30LL * 1000)
#define SH_DIR_PUBLISHER_DEFAULT_DEADLINE_MS 30000u

typedef struct sh_dir_publisher_config {
    const uint8_t *identity_sk;     /* 64 bytes: the node's Ed25519 key (copied to secret memory) */
    /* identity, link_key, address, version, contact and the operator grant (has_operator,
     * operator_key, operator_sig); the onion keys come from sh_dir_publisher_set_onion_keys. */
    sh_dir_node node;
    int64_t interval_ms;            /* republish this often (0: default) */
    int64_t retry_ms;               /* retry an authority that failed after this (0: default) */
    uint32_t deadline_ms;           /* per call; covers the authority's reachability test */
    sh_dir_publisher_result_cb result_cb;
    void *ctx;
} sh_dir_publisher_config;

/* A publisher for the authorities of `network`. Nothing is sent before the onion keys are set. */
int sh_dir_publisher_new(uv_loop_t *loop, sh_net *net, const sh_dir_network *network, const sh_dir_publisher_config *cfg,
                         sh_dir_publisher **out) __attribute__((warn_unused_result));
/* Sets the current and next onion keys (epoch, public key, validity; sh_onion_epoch_window
 * gives the validity of an epoch), signs them with the identity and publishes the new
 * descriptor to every authority at once. Call it at start and whenever the keyring rotates. */
int sh_dir_publisher_set_onion_keys(sh_dir_publisher *p, const sh_dir_onion_key *current,
                                    const sh_dir_onion_key *next) __attribute__((warn_unused_result));
/* Publishes again now (e.g. after the node's address changed). */
void sh_dir_publisher_publish_now(sh_dir_publisher *p);
/* How many authorities accepted the latest descriptor (admitted and reachable). */
size_t sh_dir_publisher_accepted(const sh_dir_publisher *p);
void sh_dir_publisher_close(sh_dir_publisher *p);

/* Splits a canonical node or authority address ("192.0.2.1:7000", "[2001:db8::1]:7000") into the
 * numeric host net wants and the port. */
int sh_dir_address_split(const char *address, char host[static 48], uint16_t *port);

#endif
