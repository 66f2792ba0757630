/* Internals of the running authority shared by its files: auth.c (life cycle, persistence,
 * authorization), admit.c (dir.publish, reachability tests), round.c (rounds, votes,
 * signatures, catching up). */
#ifndef SH_DIR_AUTH_INTERNAL_H
#define SH_DIR_AUTH_INTERNAL_H

#include "dir/authority.h"
#include "dir/rpc.h"

#define SH__DIR_AUTH_LOG "dir-auth"

/* Another authority of the network, as this one talks to it. */
typedef struct sh__auth_peer {
    struct sh_dir_auth *a;
    size_t index;                  /* in the network file */
    const sh_dir_authority *info;
    sh_net_peer *peer;             /* calls with our link key as the Noise static key */
    bool busy;                     /* a call in flight */
    sh__dir_assembly blob;         /* its vote, arriving in slices */
    sh__dir_latest latest;         /* its latest map, as it last said */
    bool differs_logged;           /* this round: its consensus differs (said once) */
} sh__auth_peer;

/* A reachability test: a Noise handshake to a node, proven by any answer to dir.ping. */
typedef struct sh__reach_test {
    struct sh_dir_auth *a;
    struct sh__reach_test *next;
    uint8_t identity[SH_DIR_KEY_BYTES];
    uint8_t link_key[SH_DIR_KEY_BYTES];
    char address[SH_DIR_ADDRESS_MAX + 1];
    sh_net_peer *peer;
    sh_net_req *req;               /* the dir.publish waiting for the result, or NULL */
} sh__reach_test;

typedef struct sh__publish_time {
    uint8_t identity[SH_DIR_KEY_BYTES];
    int64_t at_ms;                 /* monotonic */
} sh__publish_time;

typedef enum sh__phase {
    SH__PHASE_IDLE,
    SH__PHASE_VOTING,
    SH__PHASE_SIGNING,
} sh__phase;

struct sh_dir_auth {
    uv_loop_t *loop;
    sh_net *net;
    const sh_dir_network *network;
    sh_dir_auth_config cfg;
    uint8_t *identity_sk;          /* secret memory */
    uint8_t *link_sk;              /* secret memory */
    uint8_t identity[SH_DIR_KEY_BYTES];
    size_t self;                   /* our index in the network file */
    size_t n_auth;
    char registry_path[4096];
    char map_path[4096];
    sh_dir_registry *registry;
    sh_dir_server *server;
    sh_dir_map *latest;            /* the latest map published or caught up with */
    uv_timer_t *tick;
    bool closing;
    bool dirty;                    /* the registry changed since it was saved */
    int64_t saved_ms;              /* when it was last saved (monotonic) */
    bool change;                   /* the nodes to vote for changed (early rounds) */
    /* The round in progress (round.c). */
    sh__phase phase;
    int64_t round;                 /* its start (ms since the epoch), its name on the wire */
    int64_t last_round;
    sh_buf my_vote;
    uint8_t my_vote_digest[SH_DIR_HASH_BYTES];
    sh_dir_vote *votes[SH_DIR_MAX_AUTHORITIES];  /* by network index, ours included */
    sh_dir_map *consensus;         /* ours, with the signatures collected */
    size_t published_sigs;         /* signatures of the consensus when last published; 0: not */
    sh__auth_peer *peers;          /* n_auth entries; ours unused */
    /* Catching up with a newer map held by another authority. */
    bool syncing;
    size_t sync_from;
    sh__dir_assembly sync_blob;
    uint32_t sync_kind;
    /* Admission (admit.c). */
    sh__reach_test *tests;
    unsigned n_tests;
    sh__publish_time *publish_times;
    size_t n_publish_times;
};

/* auth.c */
/* Adopts a verified map as the latest (saved, served, reported). Takes m. */
void sh__auth_set_latest(struct sh_dir_auth *a, sh_dir_map *m, bool report);
void sh__auth_latest(const struct sh_dir_auth *a, sh__dir_latest *out);

/* admit.c */
int sh__auth_admit_register(struct sh_dir_auth *a);
/* Starts tests of nodes not tested for retest_ms (as many as the limit allows). */
void sh__auth_retest(struct sh_dir_auth *a);
void sh__auth_admit_close(struct sh_dir_auth *a);

/* round.c */
int sh__auth_round_register(struct sh_dir_auth *a);
/* One tick: start, advance and end rounds, fetch what is missing. */
void sh__auth_round_tick(struct sh_dir_auth *a);
void sh__auth_round_close(struct sh_dir_auth *a);

#endif
