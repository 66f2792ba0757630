/* The map server and map client on one loop over loopback TCP: maps in small slices, diffs,
 * "unchanged", a blob that stays fetchable while the server moves on (and then is gone), a
 * forged map, a map with too few signatures, an older map than the one held, expired maps
 * (the error says how old), the disk cache, and falling back from bad or dead sources to a good
 * one. The wall clock is offset so that the test maps (valid from DT_NOW) are current. */
#include "test.h"

#include <sodium.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "dir/rpc.h"
#include "dirtest.h"
#include "util/fs.h"
#include "util/time.h"

#define N_AUTH 3
#define N_MAPS 6
#define CHUNK 300
#define MINUTE (60LL * 1000)

typedef struct srv {
    sh_net *net;
    sh_dir_server *server;
    uint16_t port;
} srv;

static uv_loop_t loop;
static dt_key auth[N_AUTH];
static uint8_t link_sk[N_AUTH][32], link_pk[N_AUTH][32];
static srv servers[N_AUTH];
static sh_dir_network *network;
static sh_dir_map *maps[N_MAPS]; /* maps[1..5]: a chain of versions 1..5 */
static sh_dir_map *forged, *one_sig;

static void set_now(int64_t t)
{
    sh_time_set_offset_ms(0);
    sh_time_set_offset_ms(t - sh_time_now_ms());
}

/* Runs the loop until *flag is set (10 s at most). */
static void run_until(const bool *flag)
{
    int64_t end = sh_time_mono_ms() + 10000;

    while (!*flag) {
        if (sh_time_mono_ms() > end)
            test_fail(__FILE__, __LINE__, "timed out waiting for the loop");
        uv_run(&loop, UV_RUN_ONCE);
    }
}

static uint16_t free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Authorities 0 and 1 listen (their servers start without a map); 2 is a dead address. */
static void make_world(void)
{
    sh_dir_authority a[N_AUTH];

    for (int i = 0; i < N_AUTH; i++) {
        dt_key_make(&auth[i], 2, (uint32_t)i);
        CHECK(crypto_sign_ed25519_sk_to_curve25519(link_sk[i], auth[i].sk) == 0);
        memcpy(a[i].identity, auth[i].pk, 32);
        crypto_scalarmult_base(link_pk[i], link_sk[i]);
        memcpy(a[i].link_key, link_pk[i], 32);
        if (i < 2) {
            CHECK_OK(sh_net_new(&loop, NULL, &servers[i].net));
            CHECK_OK(sh_net_listen(servers[i].net, "127.0.0.1", 0, link_sk[i], &servers[i].port));
        } else {
            servers[i].port = free_port();
        }
        snprintf(a[i].address, sizeof a[i].address, "127.0.0.1:%u", servers[i].port);
    }
    CHECK_OK(sh_dir_network_new("mapclient", 2, a, N_AUTH, NULL, &network));
    for (int i = 0; i < 2; i++)
        CHECK_OK(sh_dir_server_new(servers[i].net, network, &(sh_dir_server_config){.chunk_bytes = CHUNK},
                                   &servers[i].server));
}

/* Maps 1..5, each with a node more than the last, signed by authorities 0 and 1. */
static void make_maps(void)
{
    sh_dir_node nodes[8];
    dt_key keys[8];
    sh_buf b;

    /* Nodes listen nowhere: the client tries at most one of them (max_sources). */
    for (uint32_t i = 0; i < 8; i++) {
        char address[32];
        snprintf(address, sizeof address, "127.0.0.1:%u", free_port());
        dt_node_make(&nodes[i], &keys[i], i, DT_NOW, address);
    }
    for (int v = 1; v < N_MAPS; v++) {
        sh_dir_vote *votes[2];
        for (int i = 0; i < 2; i++)
            votes[i] = dt_vote(network, maps[v - 1], &auth[i], DT_NOW + v * MINUTE, nodes, (size_t)v + 2);
        maps[v] = dt_consensus(network, maps[v - 1], votes, 2, auth, 2);
        CHECK_EQ(sh_dir_map_version(maps[v]), v);
        sh_dir_vote_free(votes[0]);
        sh_dir_vote_free(votes[1]);
    }
    /* Version 6 signed by one authority only, and version 6 with a forged signature. */
    sh_dir_vote *votes[2] = {dt_vote(network, maps[5], &auth[0], DT_NOW + 6 * MINUTE, nodes, 8),
                             dt_vote(network, maps[5], &auth[1], DT_NOW + 6 * MINUTE, nodes, 8)};
    one_sig = dt_consensus(network, maps[5], votes, 2, auth, 1);
    forged = dt_consensus(network, maps[5], votes, 2, auth, 2);
    sh_buf_init(&b);
    CHECK_OK(sh_dir_map_encode(forged, &b));
    b.data[b.len - 1] ^= 1; /* the last byte of the last signature */
    sh_dir_map_free(forged);
    CHECK_OK(sh_dir_map_decode(b.data, b.len, &forged));
    sh_buf_free(&b);
    sh_dir_vote_free(votes[0]);
    sh_dir_vote_free(votes[1]);
}

static bool same_map(const sh_dir_map *a, const sh_dir_map *b)
{
    sh_buf x, y;
    bool same;

    sh_buf_init(&x);
    sh_buf_init(&y);
    CHECK_OK(sh_dir_map_encode(a, &x));
    CHECK_OK(sh_dir_map_encode(b, &y));
    same = x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
    sh_buf_free(&x);
    sh_buf_free(&y);
    return same;
}

/* ---- Raw calls to a server ---------------------------------------------------------------- */

typedef struct reply {
    bool done;
    int status;
    char msg[300];
    sh_buf body;
} reply;

static void on_reply(int status, const char *msg, const uint8_t *body, size_t len, void *ctx)
{
    reply *r = ctx;

    r->done = true;
    r->status = status;
    snprintf(r->msg, sizeof r->msg, "%s", msg != NULL ? msg : "");
    sh_buf_reset(&r->body);
    if (len > 0)
        CHECK_OK(sh_buf_append(&r->body, body, len));
}

static void call(sh_net_peer *p, const char *method, const sh_buf *body, reply *r)
{
    r->done = false;
    CHECK_OK(sh_net_call(p, method, body->data, body->len, 5000, on_reply, r));
    run_until(&r->done);
}

/* dir.map.get with `have` (or none) and the blob request; the decoded reply in *out. */
static int map_get(sh_net_peer *p, const sh_dir_map *have, const sh__dir_blob_req *blob,
                   sh__dir_map_reply *out, reply *r)
{
    sh__dir_map_get g = {.blob = *blob};
    sh_buf b;

    if (have != NULL) {
        g.has_have = true;
        memcpy(g.have_body_hash, sh_dir_map_body_hash(have), 32);
    }
    sh_buf_init(&b);
    CHECK_OK(sh__dir_map_get_encode(&g, &b));
    call(p, SH_DIR_METHOD_MAP_GET, &b, r);
    sh_buf_free(&b);
    if (r->status != SH_OK)
        return r->status;
    CHECK_OK(sh__dir_map_reply_decode(r->body.data, r->body.len, out));
    return SH_OK;
}

/* Fetches a whole blob, slice by slice; *kind gets its kind. */
static void fetch_blob(sh_net_peer *p, const sh_dir_map *have, sh__dir_assembly *a, uint32_t *kind)
{
    reply r = {0};

    sh_buf_init(&r.body);
    sh__dir_assembly_init(a, SH_DIR_DIFF_MAX_BYTES);
    do {
        sh__dir_blob_req req;
        sh__dir_map_reply mr;
        sh__dir_assembly_next(a, &req);
        CHECK_OK(map_get(p, have, &req, &mr, &r));
        CHECK(mr.chunk.len <= CHUNK);
        *kind = mr.kind;
        CHECK_OK(sh__dir_assembly_add(a, &mr.chunk));
        sh__dir_map_reply_release(&mr);
    } while (!sh__dir_assembly_complete(a));
    sh_buf_free(&r.body);
}

static void test_server_moves_on(sh_net_peer *p);

static void test_server_raw(void)
{
    sh_net_peer *p;
    sh__dir_assembly a;
    sh__dir_map_reply mr;
    sh__dir_blob_req req = {0};
    sh_dir_map *m;
    uint32_t kind;
    reply r = {0};

    sh_buf_init(&r.body);
    CHECK_OK(sh_net_peer_new(servers[0].net, "127.0.0.1", servers[0].port, link_pk[0], NULL, &p));
    CHECK_ERR(map_get(p, NULL, &req, &mr, &r), SH_ERR_UNAVAILABLE); /* no map yet */
    CHECK(strstr(r.msg, "no map yet") != NULL);
    CHECK_OK(sh_dir_server_set_map(servers[0].server, maps[1]));
    CHECK_OK(sh_dir_server_set_map(servers[0].server, maps[2]));
    CHECK(sh_dir_server_map(servers[0].server) != maps[2]); /* a copy */
    CHECK_OK(sh_dir_server_set_map(servers[0].server, maps[1])); /* older: ignored */
    CHECK_EQ(sh_dir_map_version(sh_dir_server_map(servers[0].server)), 2);

    /* Unchanged, diff, full. */
    CHECK_OK(map_get(p, maps[2], &req, &mr, &r));
    CHECK(mr.kind == SH__DIR_MAP_UNCHANGED && !mr.chunk.present && mr.version == 2);
    sh__dir_map_reply_release(&mr);
    fetch_blob(p, maps[1], &a, &kind);
    CHECK(kind == SH__DIR_MAP_DIFF);
    CHECK_OK(sh_dir_map_apply_diff(maps[1], a.data.data, a.data.len, &m));
    CHECK(same_map(m, maps[2]));
    sh_dir_map_free(m);
    sh__dir_assembly_free(&a);
    sh_buf_free(&r.body);
    test_server_moves_on(p);
    sh_net_peer_close(p);
    printf("server: unchanged, diff, full in %d-byte slices, old blob kept then gone\n", CHUNK);
}

/* A blob stays fetchable while it is among the recent maps; bad requests; dir.ping. */
static void test_server_moves_on(sh_net_peer *p)
{
    sh__dir_assembly a;
    sh__dir_map_reply mr;
    sh__dir_blob_req req = {0};
    sh_dir_map *m;
    reply r = {0};

    sh_buf_init(&r.body);
    /* A full map started before the server moves on can be finished... */
    sh__dir_assembly_init(&a, SH_DIR_MAP_MAX_BYTES);
    CHECK_OK(map_get(p, NULL, &req, &mr, &r));
    CHECK(mr.kind == SH__DIR_MAP_FULL && mr.chunk.total > 2 * CHUNK);
    CHECK_OK(sh__dir_assembly_add(&a, &mr.chunk));
    sh__dir_map_reply_release(&mr);
    CHECK_OK(sh_dir_server_set_map(servers[0].server, maps[3]));
    while (!sh__dir_assembly_complete(&a)) {
        sh__dir_assembly_next(&a, &req);
        CHECK_OK(map_get(p, NULL, &req, &mr, &r));
        CHECK(mr.kind == SH__DIR_MAP_FULL && mr.version == 2);
        CHECK_OK(sh__dir_assembly_add(&a, &mr.chunk));
        sh__dir_map_reply_release(&mr);
    }
    CHECK_OK(sh_dir_map_load(a.data.data, a.data.len, network, 0, sh_time_now_ms(), &m));
    CHECK(same_map(m, maps[2]));
    sh_dir_map_free(m);
    /* ... until it is no longer among the recent maps. */
    for (int v = 4; v < N_MAPS; v++)
        CHECK_OK(sh_dir_server_set_map(servers[0].server, maps[v]));
    CHECK_OK(sh_dir_server_set_map(servers[0].server, one_sig)); /* version 6 */
    req = (sh__dir_blob_req){.has_digest = true, .offset = CHUNK};
    memcpy(req.digest, a.digest, 32);
    CHECK_ERR(map_get(p, NULL, &req, &mr, &r), SH_ERR_NOT_FOUND);
    sh__dir_assembly_free(&a);
    /* An offset past the end; a body that is not a MapGet. */
    sh__dir_assembly_next(&a, &req);
    CHECK_OK(map_get(p, NULL, &req, &mr, &r));
    req = (sh__dir_blob_req){.has_digest = true, .offset = mr.chunk.total};
    memcpy(req.digest, mr.chunk.digest, 32);
    sh__dir_map_reply_release(&mr);
    CHECK_ERR(map_get(p, NULL, &req, &mr, &r), SH_ERR_RANGE);
    sh_buf junk;
    sh_buf_init(&junk);
    CHECK_OK(sh_buf_append(&junk, "\xff\xff\xff", 3));
    call(p, SH_DIR_METHOD_MAP_GET, &junk, &r);
    CHECK_EQ(r.status, SH_ERR_FORMAT);
    /* dir.ping tells the network and the map version. */
    sh_buf_reset(&junk);
    call(p, SH_DIR_METHOD_PING, &junk, &r);
    CHECK_OK(r.status);
    sh__dir_pong pong;
    CHECK_OK(sh__dir_pong_decode(r.body.data, r.body.len, &pong));
    CHECK_MEM(pong.network_id, sh_dir_network_id(network), 32);
    CHECK_EQ(pong.map_version, 6);
    sh_buf_free(&junk);
    sh_buf_free(&r.body);
}

/* ---- The client ----------------------------------------------------------------------------- */

typedef struct watch {
    bool refreshed;
    int status;
    char msg[400];
    unsigned maps;
} watch;

static void on_status(sh_dir_client *c, int status, const char *message, void *ctx)
{
    watch *w = ctx;

    (void)c;
    w->refreshed = true;
    w->status = status;
    snprintf(w->msg, sizeof w->msg, "%s", message);
}

static void on_map(sh_dir_client *c, const sh_dir_map *m, void *ctx)
{
    watch *w = ctx;

    (void)c;
    (void)m;
    w->maps++;
}

static sh_dir_client *client_new(const char *cache, watch *w)
{
    sh_dir_client_config cfg = {.cache_path = cache, .refresh_ms = 3600 * 1000, .retry_ms = 3600 * 1000,
                                .deadline_ms = 400, .max_sources = 1, .map_cb = on_map, .status_cb = on_status,
                                .ctx = w};
    sh_dir_client *c;

    memset(w, 0, sizeof *w);
    CHECK_OK(sh_dir_client_new(&loop, servers[0].net, network, &cfg, &c));
    run_until(&w->refreshed);
    return c;
}

static void refresh(sh_dir_client *c, watch *w)
{
    w->refreshed = false;
    sh_dir_client_refresh(c);
    run_until(&w->refreshed);
}

static void serve(const sh_dir_map *m0, const sh_dir_map *m1)
{
    for (int i = 0; i < 2; i++) {
        const sh_dir_map *m = i == 0 ? m0 : m1;
        sh_dir_server_clear(servers[i].server);
        if (m != NULL)
            CHECK_OK(sh_dir_server_set_map(servers[i].server, m));
    }
}

static void test_client(const char *dir)
{
    char cache[512];
    const char *msg;
    sh_dir_client *c;
    watch w;

    snprintf(cache, sizeof cache, "%s/map", dir);
    /* Both live sources have version 3; the dead one fails after its deadline. */
    serve(maps[3], maps[3]);
    c = client_new(cache, &w);
    CHECK_OK(w.status);
    CHECK(same_map(sh_dir_client_map(c), maps[3]));
    CHECK_OK(sh_dir_client_status(c, &msg));
    CHECK(sh_fs_exists(cache));
    CHECK(sh_dir_client_is_node(c, sh_dir_map_nodes(maps[3], &(size_t){0})[0].link_key));
    CHECK(!sh_dir_client_is_node(c, auth[0].pk));
    /* A newer map: fetched as a diff (the sources keep version 3); the same again: unchanged. */
    CHECK_OK(sh_dir_server_set_map(servers[0].server, maps[4]));
    CHECK_OK(sh_dir_server_set_map(servers[1].server, maps[4]));
    refresh(c, &w);
    CHECK_OK(w.status);
    CHECK(same_map(sh_dir_client_map(c), maps[4]));
    CHECK_EQ(w.maps, 2);
    refresh(c, &w);
    CHECK_OK(w.status);
    CHECK_EQ(w.maps, 2);
    /* Sources that only have an older map than the one held: refused as stale, ours kept. */
    serve(maps[2], maps[2]);
    refresh(c, &w);
    CHECK_EQ(w.status, SH_ERR_STALE);
    CHECK(strstr(w.msg, "map version 2 is older than version 4 already held") != NULL);
    CHECK(same_map(sh_dir_client_map(c), maps[4]));
    sh_dir_client_close(c);

    /* A new client starts from the cache and gets version 5 as a diff from it. */
    serve(maps[5], maps[5]);
    c = client_new(cache, &w);
    CHECK_OK(w.status);
    CHECK(same_map(sh_dir_client_map(c), maps[5]));
    sh_dir_client_close(c);
    printf("client: full, diff, unchanged, older refused, cache\n");
}

static void test_bad_sources(const char *dir)
{
    char cache[512];
    sh_dir_client *c;
    watch w;

    snprintf(cache, sizeof cache, "%s/bad", dir);
    /* A forged signature and too few signatures: nothing usable. */
    serve(forged, one_sig);
    c = client_new(cache, &w);
    CHECK_EQ(w.status, SH_ERR_CRYPTO);
    CHECK(strstr(w.msg, "does not verify") != NULL || strstr(w.msg, "this network needs 2") != NULL);
    CHECK(sh_dir_client_map(c) == NULL);
    CHECK_EQ(sh_dir_client_status(c, NULL), SH_ERR_CRYPTO);
    CHECK(!sh_fs_exists(cache));
    /* One forged source, one good one: the good map wins whatever the order. */
    serve(forged, maps[5]);
    for (int i = 0; i < 4; i++) {
        refresh(c, &w);
        CHECK_OK(w.status);
        CHECK(same_map(sh_dir_client_map(c), maps[5]));
    }
    sh_dir_client_close(c);
    printf("client: forged and under-signed maps refused, fallback to a good source\n");
}

static void test_expired(const char *dir)
{
    char cache[512];
    const char *msg;
    sh_dir_client *c;
    watch w;

    snprintf(cache, sizeof cache, "%s/map", dir);
    /* Two hours after version 5 ended, the only maps anywhere are stale. */
    set_now(sh_dir_map_valid_until(maps[5]) + 2 * DT_HOUR);
    serve(maps[5], maps[4]);
    c = client_new(cache, &w);
    CHECK_EQ(w.status, SH_ERR_STALE);
    CHECK(strstr(w.msg, "map version 5 expired 2 h 0 min ago") != NULL);
    CHECK(sh_dir_client_map(c) == NULL);
    CHECK(sh_dir_client_last_map(c) != NULL);
    CHECK_EQ(sh_dir_client_status(c, &msg), SH_ERR_STALE);
    CHECK(strstr(msg, "expired 2 h 0 min ago") != NULL);
    printf("client: %s\n", msg);
    sh_dir_client_close(c);
}

static void closed(void *ctx)
{
    (*(int *)ctx)++;
}

int main(void)
{
    const char *dir = test_tmpdir();
    int n_closed = 0;

    CHECK_OK(sh_crypto_init());
    CHECK(uv_loop_init(&loop) == 0);
    set_now(DT_NOW + 10 * MINUTE);
    make_world();
    make_maps();
    test_server_raw();
    test_client(dir);
    test_bad_sources(dir);
    test_expired(dir);
    for (int i = 0; i < 2; i++)
        sh_net_close(servers[i].net, closed, &n_closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(n_closed, 2);
    for (int i = 0; i < 2; i++)
        sh_dir_server_free(servers[i].server);
    for (int v = 0; v < N_MAPS; v++)
        sh_dir_map_free(maps[v]);
    sh_dir_map_free(forged);
    sh_dir_map_free(one_sig);
    sh_dir_network_free(network);
    CHECK(uv_loop_close(&loop) == 0);
    return 0;
}
