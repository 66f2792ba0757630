/* Writes the seed corpora of the dir fuzz targets from the fixed world of common.h:
 *   dir-make-seeds fuzz/corpus
 * (built in fuzz builds as build/fuzz/fuzz/dir/dir-make-seeds). */
#include <sys/stat.h>

#include "common.h"
#include "dir/auth_internal.h"
#include "util/fs.h"

static void put(const char *root, const char *target, const char *name, const void *p, size_t n)
{
    char dir[512], path[600];

    snprintf(dir, sizeof dir, "%s/%s", root, target);
    if (sh_fs_mkdir_p(dir, 0755) != SH_OK)
        fz_die(dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (sh_fs_write_file(path, p, n, 0644) != SH_OK)
        fz_die(path);
}

/* An RPC body for fuzz-dir-rpc: the selector byte, then the body. */
static void put_rpc(const char *root, const char *name, uint8_t kind, const sh_buf *body)
{
    sh_buf b;

    sh_buf_init(&b);
    if (sh_buf_append_u8(&b, kind) != SH_OK || sh_buf_append(&b, body->data, body->len) != SH_OK)
        fz_die("rpc seed");
    put(root, "dir-rpc", name, b.data, b.len);
    sh_buf_free(&b);
}

static void rpc_seeds(const char *root, const fz_world *w)
{
    sh__dir_map_get g = {.has_have = true};
    sh__dir_latest latest = {.version = 1};
    sh__dir_sig_reply sr = {.round = FZ_NOW, .has_body = true, .version = 1};
    sh__dir_chunk c = {.present = true};
    uint8_t digest[32];
    sh_buf b, blob;

    sh_buf_init(&b);
    sh_buf_init(&blob);
    memcpy(g.have_body_hash, sh_dir_map_body_hash(w->map1), 32);
    memcpy(latest.body_hash, g.have_body_hash, 32);
    if (sh__dir_map_get_encode(&g, &b) != SH_OK)
        fz_die("map get");
    put_rpc(root, "map-get", 0, &b);
    if (sh_dir_map_encode(w->map1, &blob) != SH_OK)
        fz_die("map");
    sh__dir_hash(digest, blob.data, blob.len);
    c = (sh__dir_chunk){.present = true, .total = blob.len, .offset = 100, .data = blob.data + 100,
                        .len = blob.len - 100};
    memcpy(c.digest, digest, 32);
    g.blob = (sh__dir_blob_req){.has_digest = true, .offset = 100};
    memcpy(g.blob.digest, digest, 32);
    if (sh__dir_map_get_encode(&g, &b) != SH_OK)
        fz_die("map get");
    put_rpc(root, "map-get-next", 0, &b);
    c.offset = 0;
    c.data = blob.data;
    c.len = blob.len;
    if (sh__dir_map_reply_encode(1, 1, &c, &b) != SH_OK)
        fz_die("map reply");
    put_rpc(root, "map-reply-full", 1, &b);
    if (sh__dir_map_reply_encode(3, 1, NULL, &b) != SH_OK)
        fz_die("map reply");
    put_rpc(root, "map-reply-unchanged", 1, &b);
    sh__dir_pong pong = {.map_version = 2, .now_ms = FZ_NOW};
    memcpy(pong.network_id, sh_dir_network_id(w->net), 32);
    if (sh__dir_pong_encode(&pong, &b) != SH_OK)
        fz_die("pong");
    put_rpc(root, "pong", 2, &b);
    if (sh_dir_descriptor_sign(&w->nodes[0], w->node_sk[0], &blob) != SH_OK ||
        sh__dir_publish_encode(blob.data, blob.len, &b) != SH_OK)
        fz_die("publish");
    put_rpc(root, "publish", 3, &b);
    if (sh__dir_publish_reply_encode(&(sh__dir_publish_reply){true, 2}, &b) != SH_OK)
        fz_die("publish reply");
    put_rpc(root, "publish-reply", 4, &b);
    if (sh__dir_vote_get_encode(&(sh__dir_vote_get){.round = FZ_NOW}, &b) != SH_OK)
        fz_die("vote get");
    put_rpc(root, "vote-get", 5, &b);
    if (sh_dir_vote_create(w->net, w->map1, w->auth_sk[0], FZ_NOW, FZ_NOW + FZ_HOUR, w->nodes, 4,
                           &blob) != SH_OK)
        fz_die("vote");
    c = (sh__dir_chunk){.present = true, .total = blob.len, .data = blob.data, .len = blob.len};
    sh__dir_hash(c.digest, blob.data, blob.len);
    if (sh__dir_vote_reply_encode(FZ_NOW, &latest, &c, &b) != SH_OK)
        fz_die("vote reply");
    put_rpc(root, "vote-reply", 6, &b);
    if (sh__dir_sig_get_encode(FZ_NOW, &b) != SH_OK)
        fz_die("sig get");
    put_rpc(root, "sig-get", 7, &b);
    memcpy(sr.body_hash, latest.body_hash, 32);
    sr.n_sigs = w->map1->n_sigs;
    memcpy(sr.sigs, w->map1->sigs, sr.n_sigs * sizeof sr.sigs[0]);
    sr.latest = latest;
    if (sh__dir_sig_reply_encode(&sr, &b) != SH_OK)
        fz_die("sig reply");
    put_rpc(root, "sig-reply", 8, &b);
    sh_buf_free(&b);
    sh_buf_free(&blob);
}

/* A saved registry of three nodes, and an authority key file from fixed keys. */
static void state_and_key_seeds(const char *root, const fz_world *w)
{
    sh__dir_state_entry e[3];
    sh_buf desc[3], b;
    sh_dir_auth_keys k;
    uint8_t seed[32] = {9, 9, 9};

    sh_buf_init(&b);
    for (int i = 0; i < 3; i++) {
        sh_buf_init(&desc[i]);
        if (sh_dir_descriptor_sign(&w->nodes[i], w->node_sk[i], &desc[i]) != SH_OK)
            fz_die("descriptor");
        e[i] = (sh__dir_state_entry){desc[i].data, desc[i].len, i != 1, FZ_NOW - FZ_HOUR, FZ_NOW,
                                     i == 1 ? FZ_NOW - 1000 : 0};
    }
    if (sh__dir_state_encode(sh_dir_network_id(w->net), e, 3, &b) != SH_OK)
        fz_die("state");
    put(root, "dir-state", "three-nodes", b.data, b.len);
    crypto_sign_seed_keypair(k.identity, k.identity_sk, seed);
    memset(k.link_sk, 0x5a, 32);
    crypto_scalarmult_base(k.link_key, k.link_sk);
    if (sh_dir_auth_keys_format(&k, &b) != SH_OK)
        fz_die("key file");
    put(root, "dir-authkeys", "fixed", b.data, b.len);
    for (int i = 0; i < 3; i++)
        sh_buf_free(&desc[i]);
    sh_buf_free(&b);
}

int main(int argc, char **argv)
{
    fz_world w;
    sh_buf b;

    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_ROOT\n", argv[0]);
        return 2;
    }
    fz_world_init(&w);
    sh_buf_init(&b);
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "node%d", i);
        if (sh_dir_descriptor_sign(&w.nodes[i], w.node_sk[i], &b) != SH_OK)
            fz_die("descriptor");
        put(argv[1], "dir-descriptor", name, b.data, b.len);
    }
    if (sh_dir_vote_create(w.net, NULL, w.auth_sk[1], FZ_NOW, FZ_NOW + FZ_HOUR, w.nodes, 5, &b) != SH_OK)
        fz_die("vote");
    put(argv[1], "dir-vote", "first", b.data, b.len);
    if (sh_dir_vote_create(w.net, w.map1, w.auth_sk[0], FZ_NOW, FZ_NOW + FZ_HOUR, w.nodes + 3, 4, &b) != SH_OK)
        fz_die("vote");
    put(argv[1], "dir-vote", "on-map1", b.data, b.len);
    if (sh_dir_map_encode(w.map1, &b) != SH_OK)
        fz_die("map");
    put(argv[1], "dir-map", "map1", b.data, b.len);
    if (sh_dir_map_encode(w.map2, &b) != SH_OK)
        fz_die("map");
    put(argv[1], "dir-map", "map2", b.data, b.len);
    if (sh_dir_map_diff(w.map1, w.map2, &b) != SH_OK)
        fz_die("diff");
    put(argv[1], "dir-diff", "map1-to-map2", b.data, b.len);
    if (sh_dir_map_diff(w.map1, w.map1, &b) != SH_OK)
        fz_die("diff");
    put(argv[1], "dir-diff", "map1-to-map1", b.data, b.len);
    if (sh_dir_network_format(w.net, &b) != SH_OK)
        fz_die("network");
    put(argv[1], "dir-network", "canonical", b.data, b.len);
    static const char commented[] =
        "# a devnet\nshoal-network 1\nname devnet\nk 1\n\tswarm-target   4\nauthority "
        "0000000000000000000000000000000000000000000000000000000000000000 "
        "0000000000000000000000000000000000000000000000000000000000000000 [::1]:7100\n";
    put(argv[1], "dir-network", "bad-keys", commented, sizeof commented - 1);
    rpc_seeds(argv[1], &w);
    state_and_key_seeds(argv[1], &w);
    sh_buf_free(&b);
    sh_dir_map_free(w.map1);
    sh_dir_map_free(w.map2);
    sh_dir_network_free(w.net);
    return 0;
}
