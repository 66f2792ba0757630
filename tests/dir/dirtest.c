/* Helpers for the dir tests (see dirtest.h). */
#include "dirtest.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "test.h"

void dt_key_make(dt_key *k, uint32_t family, uint32_t n)
{
    uint8_t seed[32] = {0};

    memcpy(seed, &family, sizeof family);
    memcpy(seed + 4, &n, sizeof n);
    seed[31] = 0x5d;
    crypto_sign_seed_keypair(k->pk, k->sk, seed);
}

static void onion_point(uint8_t pk[32], uint32_t n, uint32_t which)
{
    uint8_t scalar[64] = {0}, reduced[32];

    memcpy(scalar, &n, sizeof n);
    memcpy(scalar + 4, &which, sizeof which);
    scalar[8] = 1;
    crypto_core_ristretto255_scalar_reduce(reduced, scalar);
    CHECK(crypto_scalarmult_ristretto255_base(pk, reduced) == 0);
}

void dt_node_make(sh_dir_node *node, dt_key *identity, uint32_t n, int64_t now, const char *address)
{
    uint8_t x_sk[32];

    memset(node, 0, sizeof *node);
    dt_key_make(identity, 1, n);
    memcpy(node->identity, identity->pk, 32);
    CHECK(crypto_sign_ed25519_sk_to_curve25519(x_sk, identity->sk) == 0);
    crypto_scalarmult_base(node->link_key, x_sk);
    node->onion_current = (sh_dir_onion_key){.epoch = 100, .valid_after_ms = now - DT_HOUR,
                                             .valid_until_ms = now + 23 * DT_HOUR};
    node->onion_next = (sh_dir_onion_key){.epoch = 101, .valid_after_ms = now + 22 * DT_HOUR,
                                          .valid_until_ms = now + 47 * DT_HOUR};
    onion_point(node->onion_current.public_key, n, 0);
    onion_point(node->onion_next.public_key, n, 1);
    CHECK_OK(sh_dir_onion_key_sign(&node->onion_current, identity->sk));
    CHECK_OK(sh_dir_onion_key_sign(&node->onion_next, identity->sk));
    if (address != NULL)
        snprintf(node->address, sizeof node->address, "%s", address);
    else
        snprintf(node->address, sizeof node->address, "10.%u.%u.1:7000", (n >> 8) & 0xff, n & 0xff);
    snprintf(node->version, sizeof node->version, "shoald 0.1.0");
    snprintf(node->contact, sizeof node->contact, "operator-%u@example.org", n);
    node->published_ms = now;
    sodium_memzero(x_sk, sizeof x_sk);
}

sh_dir_network *dt_network_make(size_t n, unsigned k, const sh_dir_swarm_params *params, dt_key *auth)
{
    sh_dir_authority a[SH_DIR_MAX_AUTHORITIES];
    sh_dir_network *net = NULL;
    uint8_t x_sk[32];

    CHECK(n <= SH_DIR_MAX_AUTHORITIES);
    for (size_t i = 0; i < n; i++) {
        dt_key_make(&auth[i], 2, (uint32_t)i);
        memcpy(a[i].identity, auth[i].pk, 32);
        CHECK(crypto_sign_ed25519_sk_to_curve25519(x_sk, auth[i].sk) == 0);
        crypto_scalarmult_base(a[i].link_key, x_sk);
        snprintf(a[i].address, sizeof a[i].address, "192.0.2.%zu:7100", i + 1);
    }
    CHECK_OK(sh_dir_network_new("test", k, a, n, params, &net));
    return net;
}

sh_dir_vote *dt_vote(const sh_dir_network *net, const sh_dir_map *prev, const dt_key *a,
                     int64_t after, const sh_dir_node *nodes, size_t n)
{
    sh_dir_vote *v = NULL;
    sh_buf b;

    sh_buf_init(&b);
    CHECK_OK(sh_dir_vote_create(net, prev, a->sk, after, after + DT_HOUR, nodes, n, &b));
    CHECK_OK(sh_dir_vote_load(b.data, b.len, net, prev, &v));
    sh_buf_free(&b);
    return v;
}

sh_dir_map *dt_consensus(const sh_dir_network *net, const sh_dir_map *prev,
                         sh_dir_vote *const *votes, size_t n_votes, const dt_key *auth,
                         size_t n_signers)
{
    sh_dir_map *m = NULL;

    CHECK_OK(sh_dir_consensus(net, prev, (const sh_dir_vote *const *)votes, n_votes, &m));
    for (size_t i = 0; i < n_signers; i++)
        CHECK_OK(sh_dir_map_sign(m, net, auth[i].sk));
    return m;
}
