/* The service node (overview.md "Swarms", "Storage", "Signed requests", "Inbox abuse";
 * docs/node.md): the storage API over net links, backed by the message store. `shoald` is a thin
 * program around this header: configuration (a file of `key = value` lines and flags that set the
 * same keys), the node's keys (an Ed25519 identity and an X25519 link key in a 0600 file made on
 * first run), and the node itself on a libuv loop.
 *
 * RPC methods (all SH_RPC_CLIENT but stats):
 *   store, retrieve, delete, expire   signed requests (node/request.h), answers in storage.proto
 *   info                              version, limits, PoW difficulty, node time
 *   stats                             metrics as Prometheus text; SH_RPC_NODE, allowed only for
 *                                     callers holding the node's own link key (`shoald stats`)
 *   onion                             an onion packet to relay or deliver (node/relay.c)
 * In a network (config `network`) the node also joins (node/join.c, docs/swarm.md): it serves
 * the map, publishes its descriptor (with the relay's onion keys), serves only the owners of its
 * swarm, replicates to its swarm peers, runs anti-entropy with them and signs receipts
 * (node/swarm.h). */
#ifndef SH_NODE_NODE_H
#define SH_NODE_NODE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "dir/dir.h"
#include "node/request.h"
#include "util/buf.h"
#include "util/log.h"

#define SH_NODE_VERSION "0.1.0" /* kept equal to the meson project version */
#define SH_NODE_DEFAULT_PORT 4433
#define SH_NODE_PATH_BYTES 1024
#define SH_NODE_DB_FILE "messages.db"
#define SH_NODE_KEY_FILE "node.key"
#define SH_NODE_CONFIG_MAX_BYTES 65536 /* a configuration file */
#define SH_NODE_KEYFILE_MAX_BYTES 4096

/* Defaults of sh_node_config. */
#define SH_NODE_DEFAULT_POW_BITS 12u          /* about 4 000 hashes, a few ms of a client's CPU */
#define SH_NODE_DEFAULT_POW_MAX_BITS 24u      /* the most load may raise it to */
#define SH_NODE_DEFAULT_POW_LOAD_PER_S 2000u  /* anonymous stores per second before it rises */
#define SH_NODE_DEFAULT_SWEEP_INTERVAL_MS 10000u
#define SH_NODE_DEFAULT_SWEEP_ROWS 2000u
#define SH_NODE_MAX_WAITERS 65536u            /* long-polls waiting at once */
#define SH_NODE_REPLAY_MAX_ENTRIES (4u << 20) /* (signer, nonce) pairs remembered at once */
#define SH_NODE_DEFAULT_ONION_EPOCH_MS (24LL * 3600 * 1000) /* a day */
#define SH_NODE_DEFAULT_ONION_OVERLAP_MS (3600LL * 1000)    /* an hour */
#define SH_NODE_DEFAULT_ONION_RELAY_TIMEOUT_MS 30000u /* the deadline a relay gives the next hop */
#define SH_NODE_DEFAULT_ONION_REPLAY_SYNC_MS 100u     /* fdatasync period of the replay cache */
#define SH_NODE_ONION_SERVICES_MAX 16
#define SH_NODE_SERVICE_NAME_MAX 64

/* A named service this node forwards onion requests to (setting `onion_service`). */
typedef struct sh_node_onion_service {
    char name[SH_NODE_SERVICE_NAME_MAX + 1];
    char host[64];
    uint16_t port;
    uint8_t link_key[32];
} sh_node_onion_service;
#define SH_NODE_ONION_KEYS_FILE "onion.keys"
#define SH_NODE_ONION_REPLAY_DIR "onion-replay"
#define SH_NODE_DEFAULT_MAP_REFRESH_MS (10u * 60 * 1000)
#define SH_NODE_DEFAULT_PUBLISH_INTERVAL_MS (30u * 60 * 1000)
#define SH_NODE_DEFAULT_REPLICATE_TIMEOUT_MS 5000u
#define SH_NODE_DEFAULT_ANTIENTROPY_MS 30000u
#define SH_NODE_DEFAULT_ANTIENTROPY_BYTES_PER_S (4u << 20)
#define SH_NODE_DEFAULT_ANTIENTROPY_PEER_PER_S 4u
#define SH_NODE_MAP_FILE "map"

typedef struct sh_node_config {
    char listen[64]; /* numeric IPv4 or IPv6 address */
    uint16_t port;   /* 0: any free port */
    char data_dir[SH_NODE_PATH_BYTES];
    char key_file[SH_NODE_PATH_BYTES]; /* "" : <data_dir>/node.key */
    sh_log_level log_level;
    uint32_t pow_bits;       /* leading zero bits an anonymous store needs when idle */
    uint32_t pow_max_bits;   /* ... and under the heaviest load */
    uint32_t pow_load_per_s; /* anonymous stores per second the base difficulty is for */
    uint32_t max_msgs_per_ns;
    uint64_t max_bytes_per_ns;
    uint32_t max_wait_ms; /* longest long-poll this node grants (<= SH_NODE_MAX_WAIT_MS) */
    uint32_t sweep_interval_ms;
    uint32_t sweep_rows;
    uint32_t commit_linger_us;
    uint32_t peer_rate_per_s; /* requests per second per link, and the burst below */
    uint32_t peer_burst;
    uint32_t max_links;
    uint32_t shutdown_timeout_ms; /* calls in flight get this long at SIGTERM */
    /* Onion relay (docs/onion.md "The relay"): key epochs, and the services it forwards to. */
    uint64_t onion_epoch_ms;
    uint64_t onion_overlap_ms;
    uint32_t onion_relay_timeout_ms; /* every relay's deadline for its next hop, whatever its position */
    uint32_t onion_replay_sync_ms;   /* replay tags: written every loop turn, fdatasync'ed this often */
    sh_node_onion_service onion_services[SH_NODE_ONION_SERVICES_MAX];
    size_t n_onion_services;
    /* The network (docs/node.md "The network file and the map"): `network` is its network file
     * (old name `network_file`). Alone, the node joins that network (docs/swarm.md "Joining");
     * with `map_file`, it does not join but relays with that static signed map, verified
     * against the network file; without `network` it stands alone and serves every owner. */
    char network[SH_NODE_PATH_BYTES];
    char map_file[SH_NODE_PATH_BYTES];
    char advertise[64];      /* "ip:port" in the descriptor; "": listen:port */
    char contact[128];       /* operator contact in the descriptor */
    uint64_t map_refresh_ms; /* look for a newer map this often */
    uint64_t publish_interval_ms; /* republish the descriptor this often */
    uint32_t replicate_timeout_ms; /* a store waits this long for a peer's commit */
    uint64_t antientropy_ms; /* anti-entropy round with one peer this often */
    uint32_t antientropy_bytes_per_s; /* what anti-entropy may fetch, per second */
    uint32_t antientropy_peer_per_s;  /* digest and fetch calls a peer may make, per second */
} sh_node_config;

void sh_node_config_default(sh_node_config *cfg);
/* Sets one key (the names are the fields above, with `-` or `_`; docs/node.md lists them).
 * SH_ERR_NOT_FOUND for an unknown key, SH_ERR_INVALID / SH_ERR_RANGE for a bad value. */
int sh_node_config_set(sh_node_config *cfg, const char *key, const char *value) SH_NODE_WUR;
/* Reads `key = value` lines (`#` starts a comment); errors name the line. */
int sh_node_config_parse(sh_node_config *cfg, const char *text, size_t len) SH_NODE_WUR;
int sh_node_config_load(sh_node_config *cfg, const char *path) SH_NODE_WUR;
/* The key file's path: key_file, or <data_dir>/node.key. */
int sh_node_config_key_path(const sh_node_config *cfg, char out[static SH_NODE_PATH_BYTES])
    SH_NODE_WUR;

/* ---- The node's keys ------------------------------------------------------------------------ */

/* Secret halves in guarded memory (sh_secret_alloc). */
typedef struct sh_node_keys {
    uint8_t *ed25519_sk; /* 64 bytes, libsodium's form: seed ‖ public key */
    uint8_t ed25519_pk[32];
    uint8_t *link_sk; /* 32 bytes: the X25519 Noise static key */
    uint8_t link_pk[32];
} sh_node_keys;

/* New random keys. */
int sh_node_keys_generate(sh_node_keys **out) SH_NODE_WUR;
void sh_node_keys_free(sh_node_keys *k);
/* The key file's text (docs/node.md "Key file"), and back. */
int sh_node_keys_encode(const sh_node_keys *k, sh_buf *out) SH_NODE_WUR;
int sh_node_keys_decode(const uint8_t *text, size_t len, sh_node_keys **out) SH_NODE_WUR;
/* Reads the key file; when it is missing and `create` is set, makes new keys and writes them
 * (mode 0600, atomically). *created says which happened. */
int sh_node_keys_load(const char *path, bool create, sh_node_keys **out, bool *created)
    SH_NODE_WUR;

/* ---- The node ------------------------------------------------------------------------------- */

typedef struct sh_node sh_node;

/* Opens the store under cfg->data_dir (created 0700 if needed), listens, registers the methods
 * and starts the sweeper. Everything runs on `loop`. */
int sh_node_start(uv_loop_t *loop, const sh_node_config *cfg, const sh_node_keys *keys,
                  sh_node **out) SH_NODE_WUR;
/* Gives the onion relay the (verified) map it finds next hops in, replacing the one from
 * map_file; the node takes it over. */
void sh_node_set_map(sh_node *n, sh_dir_map *map);
/* The port it listens on (useful with port 0). */
uint16_t sh_node_port(const sh_node *n);
/* Graceful stop: answers waiting long-polls, stops accepting calls, lets calls in flight finish
 * (stores until their transaction committed) for up to shutdown_timeout_ms, commits what is
 * queued, closes the store. done_cb runs once everything is closed and the node freed. */
void sh_node_shutdown(sh_node *n, void (*done_cb)(void *ctx), void *ctx);
/* The metrics as Prometheus text (appended to out, NUL-terminated). */
int sh_node_metrics(sh_node *n, sh_buf *out) SH_NODE_WUR;

#endif
