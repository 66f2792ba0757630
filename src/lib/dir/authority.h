/* A directory authority (docs/directory.md "Authorities", "Voting schedule"; the program
 * shoal-dir is a thin wrapper around it). On the sh_net it is given, listening with the
 * authority's link key, it:
 *   - admits nodes: dir.publish (client kind, rate-limited) verifies a descriptor, applies the
 *     admission policy, then tests reachability with a Noise handshake to the descriptor's
 *     address and link key; only nodes that pass are voted for. Nodes are tested again every
 *     retest_ms; a listed node that fails stays listed for policy.drop_grace_ms, tested every
 *     failing_retest_ms meanwhile;
 *   - votes and agrees with the other authorities of the network file in rounds (dir.vote.get,
 *     dir.sig.get: node kind, allowed only to the other authorities' link keys), and publishes
 *     the consensus once it holds k signatures;
 *   - serves the map like every node (dir.map.get, dir.ping);
 *   - keeps its registry and the latest map in its data folder across restarts. */
#ifndef SH_DIR_AUTHORITY_H
#define SH_DIR_AUTHORITY_H

#include "dir/client.h"

/* When rounds happen. A scheduled round starts at every multiple of period_ms of the wall
 * clock (so authorities agree without talking); during [start, start + vote_ms) authorities
 * exchange their votes, at start + vote_ms each computes the consensus from the votes it has,
 * and during the following sig_ms they exchange signatures; a map is published as soon as it
 * has k. The map is valid from the round's start for lifetime_ms. */
typedef struct sh_dir_schedule {
    int64_t period_ms;
    int64_t vote_ms;
    int64_t sig_ms;
    int64_t lifetime_ms;
    int64_t tick_ms;      /* retries and phase changes happen on this tick */
    bool early;           /* devnet: a change (a node admitted or gone) starts a round at once */
} sh_dir_schedule;

/* Production: rounds every hour (5 min of votes, 5 min of signatures), maps valid 3 h, 1 s tick. */
void sh_dir_schedule_default(sh_dir_schedule *s);
/* Devnet: rounds every 10 s (2 s + 2 s), maps valid 5 min, 100 ms tick, early rounds. */
void sh_dir_schedule_devnet(sh_dir_schedule *s);
/* SH_ERR_RANGE unless 0 < tick < vote, vote + sig < period <= lifetime. */
int sh_dir_schedule_check(const sh_dir_schedule *s);

#define SH_DIR_AUTH_DEFAULT_REACH_TIMEOUT_MS (10LL * 1000)
#define SH_DIR_AUTH_DEFAULT_RETEST_MS (10LL * 60 * 1000)
#define SH_DIR_AUTH_DEFAULT_FAILING_RETEST_MS (30LL * 1000)
/* How long a listed node may fail its reachability tests before it is dropped from the map
 * (sh_dir_policy.drop_grace_ms): shoal-dir's default, and with --devnet. A node restarted
 * (an upgrade, a crash) within it keeps its place and its swarm. */
#define SH_DIR_AUTH_DEFAULT_DROP_GRACE_MS (15LL * 60 * 1000)
#define SH_DIR_AUTH_DEVNET_DROP_GRACE_MS (30LL * 1000)
#define SH_DIR_AUTH_DEVNET_FAILING_RETEST_MS (2LL * 1000)
#define SH_DIR_AUTH_DEVNET_RETEST_MS (10LL * 1000) /* a dead node is noticed within seconds */
#define SH_DIR_AUTH_DEFAULT_MAX_TESTS 64u
#define SH_DIR_AUTH_DEFAULT_PUBLISH_INTERVAL_MS (10LL * 1000)
#define SH_DIR_AUTH_DEFAULT_PEER_DEADLINE_MS 5000u

/* The running authority (sh_dir_authority is one entry of the network file). */
typedef struct sh_dir_auth sh_dir_auth;

typedef struct sh_dir_auth_config {
    const uint8_t *identity_sk;       /* 64 bytes: signs votes and maps (copied to secret memory) */
    const uint8_t *link_sk;           /* 32 bytes: the X25519 key its sh_net listens with */
    const char *data_dir;             /* registry and map files (created 0700 when missing) */
    sh_dir_policy policy;             /* copied, allow-list included */
    sh_dir_schedule schedule;
    int64_t reach_timeout_ms;         /* a reachability test must answer within this (0: default) */
    int64_t retest_ms;                /* test admitted nodes again after this (0: default) */
    int64_t failing_retest_ms;        /* ... and a failing one (listed, within the grace of
                                         policy.drop_grace_ms) after this (0: default) */
    unsigned max_tests;               /* reachability tests at once (0: default) */
    int64_t publish_interval_ms;      /* one node may publish at most this often (0: default) */
    sh_net_method_limits publish_limits; /* dir.publish for everyone ({0,0}: 20/s, bursts of 100) */
    uint32_t peer_deadline_ms;        /* calls to other authorities (0: default) */
    sh_dir_server_config server;      /* dir.map.get and dir.ping */
    /* A map was published (a new version, or the same with more signatures). May be NULL. */
    void (*published_cb)(const sh_dir_map *map, void *ctx);
    void *ctx;
} sh_dir_auth_config;

/* Starts an authority on `net` (which listens with cfg->link_sk): checks that its keys are an
 * authority of `network` (which must outlive it), loads its registry and map from data_dir,
 * registers its methods and the node-method authorization, and starts the round timer. */
int sh_dir_auth_new(uv_loop_t *loop, sh_net *net, const sh_dir_network *network,
                         const sh_dir_auth_config *cfg, sh_dir_auth **out)
    __attribute__((warn_unused_result));
/* The latest map this authority published or caught up with (maybe expired), or NULL. */
const sh_dir_map *sh_dir_auth_map(const sh_dir_auth *a);
/* Nodes admitted (reachable or not). */
size_t sh_dir_auth_node_count(const sh_dir_auth *a);
/* Saves the registry, ends tests and calls, and frees the authority. net has no way to
 * unregister methods, so call sh_net_shutdown (or sh_net_close) of its net in the same loop turn,
 * right after: no handler of a net that is shutting down runs again. */
void sh_dir_auth_close(sh_dir_auth *a);

/* ---- Authority key files (shoal-dir keygen) ------------------------------------------------ */

/* An authority's keys. Keep them in sh_secret_alloc memory. */
typedef struct sh_dir_auth_keys {
    uint8_t identity_sk[SH_DIR_SECRET_KEY_BYTES]; /* Ed25519 (seed || public key) */
    uint8_t link_sk[SH_NET_KEY_BYTES];            /* X25519 */
    uint8_t identity[SH_DIR_KEY_BYTES];
    uint8_t link_key[SH_DIR_KEY_BYTES];
} sh_dir_auth_keys;

#define SH_DIR_AUTH_KEYS_FILE_MAX_BYTES 1024

/* Fresh random keys. */
int sh_dir_auth_keys_generate(sh_dir_auth_keys *k);
/* The key file text (docs/directory.md "Running shoal-dir"): five lines, secrets in hex. Use a
 * secret buffer for out. */
int sh_dir_auth_keys_format(const sh_dir_auth_keys *k, sh_buf *out);
/* Parses a key file; the public keys written in it must match the secrets. */
int sh_dir_auth_keys_parse(const char *text, size_t len, sh_dir_auth_keys *out)
    __attribute__((warn_unused_result));

#endif
