/* Onion keys across epochs: the keyring's transitions driven by an injected time, packets for the
 * previous epoch accepted during the overlap and refused after it, packets for the next epoch
 * refused, a node restart (keyring file and replay cache reloaded) that still drops a replay,
 * and every malformed keyring file refused. */
#include "test.h"

#include <sodium.h>
#include <sys/stat.h>

#include "onion/internal.h"
#include "util/fs.h"

#define E_MS 60000
#define OVERLAP_MS 5000

static const sh_onion_epochs ep = {.epoch_ms = E_MS, .overlap_ms = OVERLAP_MS};

static void hop_for(const sh_onion_keyring *kr, sh_onion_slot slot, sh_onion_hop *hop)
{
    memset(hop, 0, sizeof *hop);
    memset(hop->id, 0x42, sizeof hop->id);
    CHECK_OK(sh_onion_keyring_public(kr, slot, &hop->epoch, hop->onion_key));
}

static void build(const sh_onion_hop *hop, sh_buf *pkt)
{
    CHECK_OK(sh_onion_build(hop, 1, (const uint8_t *)"hello", 5, pkt, NULL));
}

static void test_epoch_math(void)
{
    const sh_onion_epochs bad[] = {{0, 0}, {E_MS, -1}, {E_MS, E_MS}, {-5, 0}};
    sh_onion_keyring *kr;
    int64_t after, until;
    uint64_t e;

    CHECK_OK(sh_onion_epoch_at(&ep, 0, &e));
    CHECK_EQ(e, 0);
    CHECK_OK(sh_onion_epoch_at(&ep, 10 * E_MS - 1, &e));
    CHECK_EQ(e, 9);
    CHECK_OK(sh_onion_epoch_at(&ep, 10 * E_MS, &e));
    CHECK_EQ(e, 10);
    CHECK_ERR(sh_onion_epoch_at(&ep, -1, &e), SH_ERR_RANGE);
    sh_onion_epoch_window(&ep, 10, &after, &until);
    CHECK_EQ(after, 10 * E_MS);
    CHECK_EQ(until, 11 * E_MS + OVERLAP_MS);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ERR(sh_onion_keyring_new(&bad[i], &kr), SH_ERR_RANGE);
        CHECK_MSG("overlap");
    }
}

static void test_transitions(void)
{
    sh_onion_keyring *kr;
    sh_onion_replay *rc;
    sh_onion_hop cur10, next11, again;
    sh_onion_peeled p;
    sh_buf pkt, pkt2;
    uint64_t e;
    uint8_t pk[32];
    bool changed;

    sh_buf_init(&pkt);
    sh_buf_init(&pkt2);
    CHECK_OK(sh_onion_replay_open(NULL, 0, &rc));
    CHECK_OK(sh_onion_keyring_new(&ep, &kr));
    CHECK_ERR(sh_onion_keyring_public(kr, SH_ONION_SLOT_CURRENT, &e, pk), SH_ERR_NOT_FOUND);
    CHECK_ERR(sh_onion_keyring_oldest(kr, &e), SH_ERR_NOT_FOUND);

    /* Epoch 10: current 10 and next 11, no previous. */
    CHECK_OK(sh_onion_keyring_advance(kr, 10 * E_MS + 100, &changed));
    CHECK(changed);
    hop_for(kr, SH_ONION_SLOT_CURRENT, &cur10);
    hop_for(kr, SH_ONION_SLOT_NEXT, &next11);
    CHECK_EQ(cur10.epoch, 10);
    CHECK_EQ(next11.epoch, 11);
    CHECK_ERR(sh_onion_keyring_public(kr, SH_ONION_SLOT_PREVIOUS, &e, pk), SH_ERR_NOT_FOUND);
    CHECK_OK(sh_onion_keyring_advance(kr, 11 * E_MS - 1, &changed));
    CHECK(!changed);
    hop_for(kr, SH_ONION_SLOT_CURRENT, &again);
    CHECK_MEM(again.onion_key, cur10.onion_key, 32);

    /* A packet for the next epoch is not accepted early. */
    build(&next11, &pkt);
    CHECK_ERR(sh_onion_peel(kr, rc, pkt.data, pkt.len, &p), SH_ERR_STALE);

    /* Epoch 11 within the overlap: next became current (same key), 10 is previous. */
    build(&cur10, &pkt);
    build(&cur10, &pkt2);
    CHECK_OK(sh_onion_keyring_advance(kr, 11 * E_MS + OVERLAP_MS - 1, &changed));
    CHECK(changed);
    hop_for(kr, SH_ONION_SLOT_CURRENT, &again);
    CHECK_EQ(again.epoch, 11);
    CHECK_MEM(again.onion_key, next11.onion_key, 32);
    hop_for(kr, SH_ONION_SLOT_PREVIOUS, &again);
    CHECK_EQ(again.epoch, 10);
    CHECK_OK(sh_onion_keyring_oldest(kr, &e));
    CHECK_EQ(e, 10);
    CHECK_OK(sh_onion_peel(kr, rc, pkt.data, pkt.len, &p));
    CHECK_EQ(p.key_epoch, 10);
    build(&next11, &pkt);
    CHECK_OK(sh_onion_peel(kr, rc, pkt.data, pkt.len, &p));
    CHECK_EQ(p.key_epoch, 11);

    /* The overlap ends: epoch 10's key is wiped and its packets refused. */
    CHECK_OK(sh_onion_keyring_advance(kr, 11 * E_MS + OVERLAP_MS, &changed));
    CHECK(!changed);
    CHECK_ERR(sh_onion_keyring_public(kr, SH_ONION_SLOT_PREVIOUS, &e, pk), SH_ERR_NOT_FOUND);
    CHECK_ERR(sh_onion_peel(kr, rc, pkt2.data, pkt2.len, &p), SH_ERR_STALE);
    CHECK_MSG("epoch 10");
    CHECK_OK(sh_onion_keyring_oldest(kr, &e));
    CHECK_EQ(e, 11);
    CHECK_OK(sh_onion_replay_retire(rc, e));
    CHECK_ERR(sh_onion_replay_check_add(rc, 10, p.tag), SH_ERR_STALE);

    /* A node that was down for epochs gets fresh keys, none of the old ones. */
    CHECK_OK(sh_onion_keyring_advance(kr, 20 * E_MS + 1, &changed));
    CHECK(changed);
    hop_for(kr, SH_ONION_SLOT_CURRENT, &again);
    CHECK_EQ(again.epoch, 20);
    CHECK(memcmp(again.onion_key, next11.onion_key, 32) != 0);
    CHECK_ERR(sh_onion_keyring_public(kr, SH_ONION_SLOT_PREVIOUS, &e, pk), SH_ERR_NOT_FOUND);
    CHECK_ERR(sh_onion_keyring_advance(kr, -1, NULL), SH_ERR_RANGE);

    sh_onion_keyring_free(kr);
    CHECK_OK(sh_onion_replay_close(rc));
    sh_buf_free(&pkt);
    sh_buf_free(&pkt2);
}

/* A restart: the keyring comes back from its file, the replay cache from its directory, and a
 * packet peeled before the restart is still a replay after it. */
static void test_restart(void)
{
    const char *dir = test_tmpdir();
    char key_path[512], cache_dir[512];
    sh_onion_keyring *kr, *kr2;
    sh_onion_replay *rc;
    sh_onion_replay_stats stats;
    sh_onion_hop hop, hop2;
    sh_onion_peeled p;
    sh_buf pkt, copy, other;
    struct stat st;

    sh_buf_init(&pkt);
    sh_buf_init(&copy);
    sh_buf_init(&other);
    CHECK_OK(sh_fs_join(key_path, sizeof key_path, dir, "onion.keys"));
    CHECK_OK(sh_fs_join(cache_dir, sizeof cache_dir, dir, "replay"));
    CHECK_OK(sh_onion_keyring_new(&ep, &kr));
    CHECK_OK(sh_onion_keyring_advance(kr, 3 * E_MS, NULL));
    CHECK_OK(sh_onion_keyring_save(kr, key_path));
    CHECK(stat(key_path, &st) == 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_OK(sh_onion_replay_open(cache_dir, 0, &rc));
    hop_for(kr, SH_ONION_SLOT_CURRENT, &hop);
    build(&hop, &pkt);
    build(&hop, &other);
    CHECK_OK(sh_buf_append(&copy, pkt.data, pkt.len));
    CHECK_OK(sh_onion_peel(kr, rc, pkt.data, pkt.len, &p));
    sh_onion_replay_stats_get(rc, &stats);
    CHECK_EQ(stats.pending, 1);
    CHECK_OK(sh_onion_replay_sync(rc));
    sh_onion_replay_stats_get(rc, &stats);
    CHECK_EQ(stats.pending, 0);
    CHECK_EQ(stats.syncs, 1);
    CHECK_OK(sh_onion_replay_close(rc));
    sh_onion_keyring_free(kr);

    /* The node comes back. */
    CHECK_OK(sh_onion_keyring_load(&ep, key_path, &kr2));
    CHECK_OK(sh_onion_keyring_advance(kr2, 3 * E_MS + 10, NULL));
    hop_for(kr2, SH_ONION_SLOT_CURRENT, &hop2);
    CHECK_MEM(hop2.onion_key, hop.onion_key, 32);
    CHECK_OK(sh_onion_replay_open(cache_dir, 0, &rc));
    sh_onion_replay_stats_get(rc, &stats);
    CHECK_EQ(stats.tags, 1);
    CHECK_ERR(sh_onion_peel(kr2, rc, copy.data, copy.len, &p), SH_ERR_REPLAY);
    CHECK_OK(sh_onion_peel(kr2, rc, other.data, other.len, &p));
    sh_onion_replay_stats_get(rc, &stats);
    CHECK_EQ(stats.replays, 1);
    CHECK_OK(sh_onion_replay_close(rc));
    sh_onion_keyring_free(kr2);
    sh_buf_free(&pkt);
    sh_buf_free(&copy);
    sh_buf_free(&other);
}

static void test_bad_files(void)
{
    uint8_t good[9 + 2 * 41], bad[sizeof good];
    uint8_t secret[32], wide[64] = {7};
    const char *dir = test_tmpdir();
    char path[512];
    sh_onion_keyring *kr;

    crypto_core_ristretto255_scalar_reduce(secret, wide);
    memcpy(good, "SHOALOK1", 8);
    good[8] = 2;
    for (int i = 0; i < 2; i++) {
        good[9 + 41 * i] = (uint8_t)(i + 1);
        sh_store_u64be(good + 10 + 41 * i, (uint64_t)(5 + i));
        memcpy(good + 18 + 41 * i, secret, 32);
    }
    CHECK_OK(sh_onion_keyring_parse(&ep, good, sizeof good, &kr));
    sh_onion_keyring_free(kr);
    CHECK_ERR(sh_onion_keyring_parse(&ep, good, 8, &kr), SH_ERR_FORMAT);
    CHECK_ERR(sh_onion_keyring_parse(&ep, good, sizeof good - 1, &kr), SH_ERR_FORMAT);
    memcpy(bad, good, sizeof bad);
    bad[0] = 'X';
    CHECK_ERR(sh_onion_keyring_parse(&ep, bad, sizeof bad, &kr), SH_ERR_FORMAT);
    memcpy(bad, good, sizeof bad);
    bad[8] = 4;
    CHECK_ERR(sh_onion_keyring_parse(&ep, bad, sizeof bad, &kr), SH_ERR_FORMAT);
    memcpy(bad, good, sizeof bad);
    bad[9 + 41] = 1; /* the same slot twice */
    CHECK_ERR(sh_onion_keyring_parse(&ep, bad, sizeof bad, &kr), SH_ERR_FORMAT);
    CHECK_MSG("twice");
    memcpy(bad, good, sizeof bad);
    bad[9] = 3; /* no such slot */
    CHECK_ERR(sh_onion_keyring_parse(&ep, bad, sizeof bad, &kr), SH_ERR_FORMAT);
    memcpy(bad, good, sizeof bad);
    memset(bad + 18, 0, 32); /* zero secret */
    CHECK_ERR(sh_onion_keyring_parse(&ep, bad, sizeof bad, &kr), SH_ERR_FORMAT);
    memcpy(bad, good, sizeof bad);
    memset(bad + 18, 0xff, 32); /* not reduced */
    CHECK_ERR(sh_onion_keyring_parse(&ep, bad, sizeof bad, &kr), SH_ERR_FORMAT);
    CHECK_MSG("invalid secret");
    CHECK_OK(sh_fs_join(path, sizeof path, dir, "missing.keys"));
    CHECK_ERR(sh_onion_keyring_load(&ep, path, &kr), SH_ERR_NOT_FOUND);
    CHECK_MSG("missing.keys");
    CHECK_OK(sh_fs_write_file(path, good, sizeof good + 0, 0600));
    CHECK_OK(sh_onion_keyring_load(&ep, path, &kr));
    sh_onion_keyring_free(kr);
}

int main(void)
{
    CHECK(sodium_init() >= 0);
    test_epoch_math();
    test_transitions();
    test_restart();
    test_bad_files();
    return 0;
}
