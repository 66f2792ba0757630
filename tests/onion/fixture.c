/* Fixed nodes for the onion tests. */
#include "fixture.h"

#include <sodium.h>

#include "test.h"

void fixture_nodes(fixture_node *nodes, size_t n)
{
    const sh_onion_epochs ep = {.epoch_ms = FIXTURE_EPOCH_MS, .overlap_ms = 1000};

    CHECK(sodium_init() >= 0);
    for (size_t i = 0; i < n; i++) {
        uint8_t wide[64], msg[16] = "shoal test node";

        msg[15] = (uint8_t)i;
        crypto_generichash(wide, sizeof wide, msg, sizeof msg, NULL, 0);
        crypto_core_ristretto255_scalar_reduce(nodes[i].secret, wide);
        CHECK(crypto_scalarmult_ristretto255_base(nodes[i].public_key, nodes[i].secret) == 0);
        memset(nodes[i].id, (int)i + 1, SH_ONION_ID_BYTES);
        CHECK_OK(sh_onion_keyring_new(&ep, &nodes[i].kr));
        CHECK_OK(sh__onion_keyring_set(nodes[i].kr, SH_ONION_SLOT_CURRENT, FIXTURE_EPOCH,
                                       nodes[i].secret));
        CHECK_OK(sh_onion_replay_open(NULL, 0, &nodes[i].rc));
    }
}

void fixture_free(fixture_node *nodes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sh_onion_keyring_free(nodes[i].kr);
        CHECK_OK(sh_onion_replay_close(nodes[i].rc));
    }
}

void fixture_path(const fixture_node *nodes, size_t n, sh_onion_hop *hops)
{
    for (size_t i = 0; i < n; i++) {
        memset(&hops[i], 0, sizeof hops[i]);
        memcpy(hops[i].id, nodes[i].id, SH_ONION_ID_BYTES);
        memcpy(hops[i].onion_key, nodes[i].public_key, SH_ONION_PUBLIC_KEY_BYTES);
        hops[i].epoch = FIXTURE_EPOCH;
        hops[i].reply_timeout_ms = (uint32_t)(1000 * (n - i));
    }
}
