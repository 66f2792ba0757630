/* Shared by the dir fuzz targets and their seed generator: one fixed network (3 authorities,
 * k = 2, devnet swarm parameters) and two consecutive signed maps of 14 nodes, all derived from
 * constant seeds, so that seeds written by dir-make-seeds match what the targets rebuild. */
#ifndef SH_FUZZ_DIR_COMMON_H
#define SH_FUZZ_DIR_COMMON_H

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "dir/dir.h"

#define FZ_NOW 1735689600000LL
#define FZ_HOUR 3600000LL
#define FZ_NODES 14

typedef struct fz_world {
    sh_dir_network *net;
    uint8_t auth_sk[3][64];
    uint8_t node_sk[FZ_NODES][64];
    sh_dir_node nodes[FZ_NODES];
    sh_dir_map *map1, *map2;
} fz_world;

static inline void fz_die(const char *what)
{
    fprintf(stderr, "fuzz setup failed: %s: %s\n", what, sh_err_msg());
    abort();
}

static inline void fz_key(uint8_t pk[32], uint8_t sk[64], uint8_t family, uint8_t n)
{
    uint8_t seed[32] = {family, n, 0x42};
    crypto_sign_seed_keypair(pk, sk, seed);
}

static inline void fz_node(fz_world *w, uint8_t i)
{
    sh_dir_node *n = &w->nodes[i];
    uint8_t scalar[32] = {i + 1}, x_sk[32];

    memset(n, 0, sizeof *n);
    fz_key(n->identity, w->node_sk[i], 1, i);
    crypto_sign_ed25519_sk_to_curve25519(x_sk, w->node_sk[i]);
    crypto_scalarmult_base(n->link_key, x_sk);
    n->onion_current = (sh_dir_onion_key){.epoch = 7, .valid_after_ms = FZ_NOW - FZ_HOUR,
                                          .valid_until_ms = FZ_NOW + 23 * FZ_HOUR};
    n->onion_next = (sh_dir_onion_key){.epoch = 8, .valid_after_ms = FZ_NOW + 22 * FZ_HOUR,
                                       .valid_until_ms = FZ_NOW + 47 * FZ_HOUR};
    crypto_scalarmult_ristretto255_base(n->onion_current.public_key, scalar);
    scalar[1] = 1;
    crypto_scalarmult_ristretto255_base(n->onion_next.public_key, scalar);
    if (sh_dir_onion_key_sign(&n->onion_current, w->node_sk[i]) != SH_OK ||
        sh_dir_onion_key_sign(&n->onion_next, w->node_sk[i]) != SH_OK)
        fz_die("onion keys");
    snprintf(n->address, sizeof n->address, i % 2 ? "127.0.0.1:%u" : "[::1]:%u", 7000u + i);
    snprintf(n->version, sizeof n->version, "shoald 0.1.%u", i % 3);
    if (i % 4 != 0)
        snprintf(n->contact, sizeof n->contact, "node%u@example.org", i);
    n->flags = i % 3 == 0 ? SH_DIR_FLAG_GUARD : 0;
    n->published_ms = FZ_NOW;
}

/* The consensus after prev of the three authorities' votes on nodes [first, first + count). */
static inline sh_dir_map *fz_map(fz_world *w, const sh_dir_map *prev, int64_t after, size_t first, size_t count)
{
    const sh_dir_vote *votes[3];
    sh_dir_map *map = NULL;
    sh_buf b;

    sh_buf_init(&b);
    for (size_t a = 0; a < 3; a++) {
        sh_dir_vote *v = NULL;
        if (sh_dir_vote_create(w->net, prev, w->auth_sk[a], after, after + FZ_HOUR, w->nodes + first,
                               count, &b) != SH_OK ||
            sh_dir_vote_load(b.data, b.len, w->net, prev, &v) != SH_OK)
            fz_die("vote");
        votes[a] = v;
    }
    if (sh_dir_consensus(w->net, prev, votes, 3, &map) != SH_OK ||
        sh_dir_map_sign(map, w->net, w->auth_sk[0]) != SH_OK ||
        sh_dir_map_sign(map, w->net, w->auth_sk[2]) != SH_OK)
        fz_die("consensus");
    for (size_t a = 0; a < 3; a++)
        sh_dir_vote_free((sh_dir_vote *)votes[a]);
    sh_buf_free(&b);
    return map;
}

static inline void fz_world_init(fz_world *w)
{
    sh_dir_authority a[3];
    sh_dir_swarm_params p = {4, 3, FZ_HOUR, 0};
    uint8_t x_sk[32];

    if (sh_crypto_init() != SH_OK)
        fz_die("crypto");
    memset(w, 0, sizeof *w);
    for (uint8_t i = 0; i < 3; i++) {
        fz_key(a[i].identity, w->auth_sk[i], 2, i);
        crypto_sign_ed25519_sk_to_curve25519(x_sk, w->auth_sk[i]);
        crypto_scalarmult_base(a[i].link_key, x_sk);
        snprintf(a[i].address, sizeof a[i].address, "127.0.0.1:%u", 7100u + i);
    }
    if (sh_dir_network_new("fuzz", 2, a, 3, &p, &w->net) != SH_OK)
        fz_die("network");
    for (uint8_t i = 0; i < FZ_NODES; i++)
        fz_node(w, i);
    w->map1 = fz_map(w, NULL, FZ_NOW, 0, 12);
    w->map2 = fz_map(w, w->map1, FZ_NOW + FZ_HOUR / 2, 2, 12);
}

#endif
