/* Shared by the onion fuzz targets: three nodes with fixed keys (so that seed packets built for
 * them pass the MAC and the fuzzer explores what comes after), and seed writing: run a target
 * with SHOAL_FUZZ_WRITE_SEEDS=<dir> to (re)write its seed corpus and exit. */
#ifndef SH_FUZZ_ONION_COMMON_H
#define SH_FUZZ_ONION_COMMON_H

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onion/internal.h"

#define FUZZ_NODES 3
#define FUZZ_EPOCH 3u

typedef struct fuzz_node {
    uint8_t id[SH_ONION_ID_BYTES];
    uint8_t public_key[SH_ONION_PUBLIC_KEY_BYTES];
    sh_onion_keyring *kr;
} fuzz_node;

static fuzz_node fuzz_nodes[FUZZ_NODES];

static inline void fuzz_setup_nodes(void)
{
    const sh_onion_epochs ep = {.epoch_ms = 60000, .overlap_ms = 1000};

    if (sodium_init() < 0)
        abort();
    for (int i = 0; i < FUZZ_NODES; i++) {
        uint8_t wide[64], secret[32];

        memset(wide, 0x30 + i, sizeof wide);
        crypto_core_ristretto255_scalar_reduce(secret, wide);
        memset(fuzz_nodes[i].id, i + 1, SH_ONION_ID_BYTES);
        if (crypto_scalarmult_ristretto255_base(fuzz_nodes[i].public_key, secret) != 0 ||
            sh_onion_keyring_new(&ep, &fuzz_nodes[i].kr) != SH_OK ||
            sh__onion_keyring_set(fuzz_nodes[i].kr, SH_ONION_SLOT_CURRENT, FUZZ_EPOCH, secret) != SH_OK)
            abort();
    }
}

/* A path over the first n fixed nodes. */
static inline void fuzz_path(size_t n, sh_onion_hop *hops)
{
    for (size_t i = 0; i < n; i++) {
        memset(&hops[i], 0, sizeof hops[i]);
        memcpy(hops[i].id, fuzz_nodes[i].id, SH_ONION_ID_BYTES);
        memcpy(hops[i].onion_key, fuzz_nodes[i].public_key, SH_ONION_PUBLIC_KEY_BYTES);
        hops[i].epoch = FUZZ_EPOCH;
        hops[i].reply_timeout_ms = 1000;
    }
}

static inline void fuzz_write_seed(const char *dir, const char *name, const uint8_t *data, size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        abort();
}

/* A fixed 3-hop request (its build seed chosen by the target), peeled by every node: the
 * client's state and each relay's keys, for targets about what comes back to the client. */
static inline void fuzz_peeled_request(uint8_t seed_byte, sh_onion_client **client,
                                       sh_onion_peeled peeled[static FUZZ_NODES])
{
    sh_onion_hop hops[FUZZ_NODES];
    sh_onion_replay *rc;
    sh_buf pkt;
    uint8_t seed[32] = {seed_byte};

    sh_buf_init(&pkt);
    fuzz_path(FUZZ_NODES, hops);
    if (sh__onion_build_seeded(hops, FUZZ_NODES, (const uint8_t *)"q", 1, SH_ONION_BUCKET_1K, seed,
                               &pkt, client) != SH_OK ||
        sh_onion_replay_open(NULL, 0, &rc) != SH_OK)
        abort();
    for (int i = 0; i < FUZZ_NODES; i++)
        if (sh_onion_peel(fuzz_nodes[i].kr, rc, pkt.data, pkt.len, &peeled[i]) != SH_OK)
            abort();
    sh_onion_replay_close(rc);
    sh_buf_free(&pkt);
}

/* LLVMFuzzerInitialize of such targets: nodes, the request, and with $SHOAL_FUZZ_WRITE_SEEDS
 * the seeds written there by write_seeds, then exit. */
static inline void fuzz_init_with_request(uint8_t seed_byte, sh_onion_client **client,
                                          sh_onion_peeled peeled[static FUZZ_NODES],
                                          void (*write_seeds)(const char *dir))
{
    const char *dir = getenv("SHOAL_FUZZ_WRITE_SEEDS");

    fuzz_setup_nodes();
    fuzz_peeled_request(seed_byte, client, peeled);
    if (dir != NULL) {
        write_seeds(dir);
        exit(0);
    }
}

#endif
