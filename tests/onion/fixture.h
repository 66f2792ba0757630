/* Shared by the onion tests: a few nodes with fixed keys, each with a keyring holding one
 * current key and an in-memory replay cache, and the path that visits them. */
#ifndef SH_TEST_ONION_FIXTURE_H
#define SH_TEST_ONION_FIXTURE_H

#include "onion/internal.h"

#define FIXTURE_EPOCH 7u
#define FIXTURE_EPOCH_MS 60000

typedef struct fixture_node {
    uint8_t id[SH_ONION_ID_BYTES];
    uint8_t secret[SH_ONION_SECRET_KEY_BYTES];
    uint8_t public_key[SH_ONION_PUBLIC_KEY_BYTES];
    sh_onion_keyring *kr;
    sh_onion_replay *rc;
} fixture_node;

/* Node i's secret is reduce(BLAKE2b-512("shoal test node" || i)); its id is 32 bytes of i+1. */
void fixture_nodes(fixture_node *nodes, size_t n);
void fixture_free(fixture_node *nodes, size_t n);
/* hops[i] visits nodes[i] with FIXTURE_EPOCH and a 1000·(n-i) ms reply timeout. */
void fixture_path(const fixture_node *nodes, size_t n, sh_onion_hop *hops);

#endif
