/* Map diffs: over a chain of maps where nodes join, leave and change, every diff between any
 * two versions rebuilds a byte-identical map whose signatures verify; bad diffs are refused. */
#include "test.h"

#include <sodium.h>

#include "crypto/crypto.h"
#include "dir/internal.h"
#include "dirtest.h"

#define N_NODES 20
#define N_MAPS 6

static dt_key auth[3], node_key[N_NODES];
static sh_dir_node nodes[N_NODES];
static sh_dir_network *net;
static sh_dir_map *maps[N_MAPS];

/* Map v lists a sliding window of 13 nodes (one leaves, one joins each version); one node
 * upgrades its version string per map, and two gain the Guard flag at version 4. */
static void build_chain(void)
{
    for (uint32_t i = 0; i < N_NODES; i++)
        dt_node_make(&nodes[i], &node_key[i], i, DT_NOW, NULL);
    for (size_t v = 0; v < N_MAPS; v++) {
        sh_dir_node listed[N_NODES];
        size_t n = 0;
        for (size_t i = v; i < v + 13 && i < N_NODES; i++) {
            listed[n] = nodes[i];
            if (i >= v + 5)
                snprintf(listed[n].version, sizeof listed[n].version, "shoald 0.%d", i > v + 5);
            if (v >= 3 && i % 7 == 0)
                listed[n].flags = SH_DIR_FLAG_GUARD;
            n++;
        }
        sh_dir_vote *votes[3];
        for (size_t a = 0; a < 3; a++)
            votes[a] = dt_vote(net, v > 0 ? maps[v - 1] : NULL, &auth[a], DT_NOW + (int64_t)v * DT_HOUR,
                               listed, n);
        maps[v] = dt_consensus(net, v > 0 ? maps[v - 1] : NULL, votes, 3, auth, v % 2 == 0 ? 2 : 3);
        for (size_t a = 0; a < 3; a++)
            sh_dir_vote_free(votes[a]);
    }
}

static void test_round_trips(void)
{
    sh_buf diff, full, rebuilt_bytes;

    sh_buf_init(&diff);
    sh_buf_init(&full);
    sh_buf_init(&rebuilt_bytes);
    for (size_t from = 0; from < N_MAPS; from++)
        for (size_t to = 0; to < N_MAPS; to++) {
            sh_dir_map *rebuilt = NULL;
            CHECK_OK(sh_dir_map_diff(maps[from], maps[to], &diff));
            CHECK_OK(sh_dir_map_apply_diff(maps[from], diff.data, diff.len, &rebuilt));
            CHECK_OK(sh_dir_map_encode(maps[to], &full));
            CHECK_OK(sh_dir_map_encode(rebuilt, &rebuilt_bytes));
            CHECK_EQ(rebuilt_bytes.len, full.len);
            CHECK_MEM(rebuilt_bytes.data, full.data, full.len);
            CHECK_OK(sh_dir_map_verify(rebuilt, net, sh_dir_map_version(maps[from]) <= sh_dir_map_version(maps[to])
                                                         ? sh_dir_map_version(maps[from]) : 0,
                                       sh_dir_map_valid_after(maps[to])));
            /* A diff to the next version is much smaller than the map. */
            if (to == from + 1)
                CHECK(diff.len < full.len / 2);
            sh_dir_map_free(rebuilt);
        }
    sh_buf_free(&diff);
    sh_buf_free(&full);
    sh_buf_free(&rebuilt_bytes);
}

/* Decodes a diff, lets `edit` change it, and re-encodes it. */
static void edit_diff(const sh_buf *in, void (*edit)(Shoal__Dir__MapDiff *), sh_buf *out)
{
    Shoal__Dir__MapDiff *d = shoal__dir__map_diff__unpack(NULL, in->len, in->data);
    CHECK(d != NULL);
    ProtobufCBinaryData *removed = d->removed;
    size_t n_removed = d->n_removed, n_changed = d->n_changed;
    Shoal__Dir__Node **changed = d->changed;
    edit(d);
    CHECK_OK(sh__dir_pb_pack(&d->base, SH_DIR_DIFF_MAX_BYTES, out));
    d->removed = removed;
    d->n_removed = n_removed;
    d->changed = changed;
    d->n_changed = n_changed;
    shoal__dir__map_diff__free_unpacked(d, NULL);
}

static void drop_removed(Shoal__Dir__MapDiff *d) { d->n_removed = 0; }
static void drop_changed(Shoal__Dir__MapDiff *d) { d->n_changed--; }
static void swap_changed(Shoal__Dir__MapDiff *d)
{
    Shoal__Dir__Node *t = d->changed[0];
    d->changed[0] = d->changed[1];
    d->changed[1] = t;
}
static void remove_unknown(Shoal__Dir__MapDiff *d) { d->removed[0].data[0] ^= 0xff; }
static void bump_version(Shoal__Dir__MapDiff *d) { d->head->version++; }
static void flip_signature(Shoal__Dir__MapDiff *d) { d->signatures[0]->signature.data[0] ^= 1; }

static void test_bad_diffs(void)
{
    sh_buf diff, bad;
    sh_dir_map *out = NULL;

    sh_buf_init(&diff);
    sh_buf_init(&bad);
    CHECK_OK(sh_dir_map_diff(maps[1], maps[3], &diff));
    /* Applied to a map it was not made from. */
    CHECK_ERR(sh_dir_map_apply_diff(maps[2], diff.data, diff.len, &out), SH_ERR_STALE);
    /* Changes left out: the rebuilt body is not the one named. */
    edit_diff(&diff, drop_removed, &bad);
    CHECK_ERR(sh_dir_map_apply_diff(maps[1], bad.data, bad.len, &out), SH_ERR_CHECKSUM);
    edit_diff(&diff, drop_changed, &bad);
    CHECK_ERR(sh_dir_map_apply_diff(maps[1], bad.data, bad.len, &out), SH_ERR_CHECKSUM);
    edit_diff(&diff, bump_version, &bad);
    CHECK_ERR(sh_dir_map_apply_diff(maps[1], bad.data, bad.len, &out), SH_ERR_CHECKSUM);
    /* Out of order, or removing a node the map does not have. */
    edit_diff(&diff, swap_changed, &bad);
    CHECK_ERR(sh_dir_map_apply_diff(maps[1], bad.data, bad.len, &out), SH_ERR_FORMAT);
    edit_diff(&diff, remove_unknown, &bad);
    CHECK_ERR(sh_dir_map_apply_diff(maps[1], bad.data, bad.len, &out), SH_ERR_FORMAT);
    /* A forged signature survives applying (the body is right) but not verification. */
    edit_diff(&diff, flip_signature, &bad);
    CHECK_OK(sh_dir_map_apply_diff(maps[1], bad.data, bad.len, &out));
    CHECK_ERR(sh_dir_map_verify(out, net, 0, sh_dir_map_valid_after(maps[3])), SH_ERR_CRYPTO);
    sh_dir_map_free(out);
    /* Garbage and truncation. */
    CHECK_ERR(sh_dir_map_apply_diff(maps[1], diff.data, diff.len - 1, &out), SH_ERR_FORMAT);
    CHECK_ERR(sh_dir_map_apply_diff(maps[1], (const uint8_t *)"\x0a\x01x", 3, &out), SH_ERR_FORMAT);
    sh_buf_free(&diff);
    sh_buf_free(&bad);
}

int main(void)
{
    CHECK_OK(sh_crypto_init());
    net = dt_network_make(3, 2, NULL, auth);
    build_chain();
    test_round_trips();
    test_bad_diffs();
    for (size_t v = 0; v < N_MAPS; v++)
        sh_dir_map_free(maps[v]);
    sh_dir_network_free(net);
    return 0;
}
