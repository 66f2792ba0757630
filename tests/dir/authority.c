/* Three authorities (k = 2) and their nodes on one loop over loopback, with sub-second rounds:
 * nodes publish through sh_dir_publisher and serve dir.ping, the authorities test them, vote,
 * agree and publish the same map; a node whose address answers with another key stays out; with
 * one authority stopped the other two still publish (and admit a new node); the stopped one
 * restarts from its data folder with its registry and map, and catches up with the newer map.
 * Also: node methods refused to a client (PERMISSION), a forged descriptor (CRYPTO), a second
 * publication too soon (BUSY). The multi-process test (dirnet.c) does the same across processes. */
#include "test.h"

#include <sodium.h>

#include "crypto/crypto.h"
#include "dir/authority.h"
#include "dir/rpc.h"
#include "util/time.h"

#define N_AUTH 3
#define N_NODES 6

typedef struct tauth {
    sh_net *net;
    sh_dir_auth *auth;
    uint16_t port;
    uint8_t id_sk[64], link_sk[32], link_pk[32];
    char data[512];
    unsigned published;
} tauth;

typedef struct tnode {
    sh_net *net;
    sh_dir_server *server;
    sh_dir_publisher *pub;
    uint16_t port;
    uint8_t id_pk[32], id_sk[64], link_sk[32], link_pk[32];
    unsigned accepted, refused, unreachable;
} tnode;

static uv_loop_t loop;
static tauth auths[N_AUTH];
static tnode nodes[N_NODES];
static sh_dir_network *network;
static const char *tmp;

static void run_until_fn(bool (*done)(void *), void *ctx, int64_t ms, const char *what)
{
    int64_t end = sh_time_mono_ms() + ms;

    while (!done(ctx)) {
        if (sh_time_mono_ms() > end)
            test_fail(__FILE__, __LINE__, "timed out waiting for %s", what);
        uv_run(&loop, UV_RUN_ONCE);
    }
}

/* ---- Authorities ---------------------------------------------------------------------------- */

static void on_published(const sh_dir_map *m, void *ctx)
{
    (void)m;
    ((tauth *)ctx)->published++;
}

static void auth_listen(int i)
{
    tauth *a = &auths[i];
    uint16_t port;

    CHECK_OK(sh_net_new(&loop, NULL, &a->net));
    CHECK_OK(sh_net_listen(a->net, "127.0.0.1", a->port, a->link_sk, &port));
    a->port = port;
}

static void auth_begin(int i)
{
    tauth *a = &auths[i];
    sh_dir_auth_config cfg = {.identity_sk = a->id_sk, .link_sk = a->link_sk, .data_dir = a->data,
                              .policy = {.open = true, .max_per_16 = 1, .guard_stable_ms = 0},
                              .schedule = {.period_ms = 1200, .vote_ms = 300, .sig_ms = 300,
                                           .lifetime_ms = 60000, .tick_ms = 25, .early = true},
                              .reach_timeout_ms = 1000, .retest_ms = 60000,
                              .publish_interval_ms = 3000, .peer_deadline_ms = 500,
                              .published_cb = on_published, .ctx = a};

    CHECK_OK(sh_dir_auth_new(&loop, a->net, network, &cfg, &a->auth));
}

static void on_net_closed(void *ctx)
{
    *(bool *)ctx = true;
}

static bool flag_set(void *ctx)
{
    return *(bool *)ctx;
}

/* Stops an authority and waits until its port is free again. */
static void auth_stop(int i)
{
    bool closed = false;

    sh_dir_auth_close(auths[i].auth);
    auths[i].auth = NULL;
    sh_net_close(auths[i].net, on_net_closed, &closed);
    auths[i].net = NULL;
    run_until_fn(flag_set, &closed, 5000, "an authority's net to close");
}

static void make_network(void)
{
    sh_dir_authority list[N_AUTH];
    sh_dir_swarm_params params = {.target = 2, .min = 2, .merge_grace_ms = 60000};

    for (int i = 0; i < N_AUTH; i++) {
        tauth *a = &auths[i];
        uint8_t pk[32];
        crypto_sign_keypair(pk, a->id_sk);
        randombytes_buf(a->link_sk, 32);
        crypto_scalarmult_base(a->link_pk, a->link_sk);
        snprintf(a->data, sizeof a->data, "%s/auth%d", tmp, i);
        auth_listen(i);
        memcpy(list[i].identity, pk, 32);
        memcpy(list[i].link_key, a->link_pk, 32);
        snprintf(list[i].address, sizeof list[i].address, "127.0.0.1:%u", a->port);
    }
    CHECK_OK(sh_dir_network_new("authtest", 2, list, N_AUTH, &params, &network));
    for (int i = 0; i < N_AUTH; i++)
        auth_begin(i);
}

/* ---- Nodes ---------------------------------------------------------------------------------- */

static void on_result(const sh_dir_authority *a, int status, const char *msg, void *ctx)
{
    tnode *n = ctx;

    (void)a;
    (void)msg;
    n->unreachable += status == SH_ERR_UNAVAILABLE;
    if (status == SH_OK)
        n->accepted++;
    else
        n->refused++;
}

static void onion_key(sh_dir_onion_key *k, uint64_t epoch, int64_t after, int64_t until)
{
    uint8_t s[32];

    crypto_core_ristretto255_scalar_random(s);
    CHECK(crypto_scalarmult_ristretto255_base(k->public_key, s) == 0);
    k->epoch = epoch;
    k->valid_after_ms = after;
    k->valid_until_ms = until;
}

/* A node: serves the map (and so dir.ping) with its link key, publishes `address` (NULL: where
 * it listens) to the authorities. */
static void node_start(tnode *n, const char *address)
{
    sh_dir_publisher_config cfg = {.identity_sk = n->id_sk, .interval_ms = 60000, .retry_ms = 300,
                                   .deadline_ms = 3000, .result_cb = on_result, .ctx = n};
    sh_dir_onion_key cur, next;
    int64_t now = sh_time_now_ms();

    crypto_sign_keypair(n->id_pk, n->id_sk);
    randombytes_buf(n->link_sk, 32);
    crypto_scalarmult_base(n->link_pk, n->link_sk);
    CHECK_OK(sh_net_new(&loop, NULL, &n->net));
    CHECK_OK(sh_net_listen(n->net, "127.0.0.1", 0, n->link_sk, &n->port));
    CHECK_OK(sh_dir_server_new(n->net, network, NULL, &n->server));
    memcpy(cfg.node.identity, n->id_pk, 32);
    memcpy(cfg.node.link_key, n->link_pk, 32);
    if (address != NULL)
        snprintf(cfg.node.address, sizeof cfg.node.address, "%s", address);
    else
        snprintf(cfg.node.address, sizeof cfg.node.address, "127.0.0.1:%u", n->port);
    snprintf(cfg.node.version, sizeof cfg.node.version, "test 1");
    CHECK_OK(sh_dir_publisher_new(&loop, n->net, network, &cfg, &n->pub));
    onion_key(&cur, 7, now - 60000, now + 3600000);
    onion_key(&next, 8, now + 3000000, now + 7200000);
    CHECK_OK(sh_dir_publisher_set_onion_keys(n->pub, &cur, &next));
}

static void node_stop(tnode *n)
{
    sh_dir_publisher_close(n->pub);
    sh_net_close(n->net, NULL, NULL);
}

/* ---- Waiting for maps ----------------------------------------------------------------------- */

typedef struct want {
    const int *auths;     /* authorities that must hold it */
    size_t n_auths;
    const tnode *const *in; /* nodes that must be in it */
    size_t n_in;
    const tnode *out;     /* a node that must not */
    uint64_t min_version;
} want;

static bool map_ok(const sh_dir_map *m, const want *w)
{
    size_t n, n_swarms;

    if (m == NULL || sh_dir_map_version(m) < w->min_version || sh_dir_map_signature_count(m) < 2)
        return false;
    (void)sh_dir_map_nodes(m, &n);
    (void)sh_dir_map_swarms(m, &n_swarms);
    if (n != w->n_in || n_swarms == 0)
        return false;
    for (size_t i = 0; i < w->n_in; i++)
        if (sh_dir_map_find_node(m, w->in[i]->id_pk) == NULL)
            return false;
    return w->out == NULL || sh_dir_map_find_node(m, w->out->id_pk) == NULL;
}

/* Every authority listed holds a map that satisfies w, all with the same body. */
static bool maps_agree(void *ctx)
{
    const want *w = ctx;
    const sh_dir_map *first = NULL;

    for (size_t i = 0; i < w->n_auths; i++) {
        const sh_dir_map *m = sh_dir_auth_map(auths[w->auths[i]].auth);
        if (!map_ok(m, w))
            return false;
        if (first != NULL && memcmp(sh_dir_map_body_hash(m), sh_dir_map_body_hash(first), 32) != 0)
            return false;
        first = m;
    }
    return true;
}

static bool node_refused(void *ctx)
{
    return ((tnode *)ctx)->unreachable >= N_AUTH; /* each authority's test failed */
}

/* ---- Raw calls ------------------------------------------------------------------------------ */

typedef struct reply {
    bool done;
    int status;
    char msg[300];
} reply;

static void on_reply(int status, const char *msg, const uint8_t *body, size_t len, void *ctx)
{
    reply *r = ctx;

    (void)body;
    (void)len;
    r->done = true;
    r->status = status;
    snprintf(r->msg, sizeof r->msg, "%s", msg != NULL ? msg : "");
}

static bool reply_done(void *ctx)
{
    return ((reply *)ctx)->done;
}

static void raw_call(sh_net_peer *p, const char *method, const sh_buf *body, reply *r)
{
    *r = (reply){0};
    CHECK_OK(sh_net_call(p, method, body->data, body->len, 3000, on_reply, r));
    run_until_fn(reply_done, r, 5000, method);
}

static void test_bad_calls(void)
{
    sh_net_peer *p;
    sh_buf body, desc;
    reply r;
    sh_dir_node n = {0};
    uint8_t id_pk[32], id_sk[64];
    int64_t now = sh_time_now_ms();

    sh_buf_init(&body);
    sh_buf_init(&desc);
    CHECK_OK(sh_net_peer_new(auths[0].net, "127.0.0.1", auths[0].port, auths[0].link_pk, NULL, &p));
    /* A client (fresh key) asking for a vote: node methods are for the other authorities. */
    CHECK_OK(sh__dir_vote_get_encode(&(sh__dir_vote_get){.round = 1}, &body));
    raw_call(p, SH_DIR_METHOD_VOTE_GET, &body, &r);
    CHECK_EQ(r.status, SH_ERR_PERMISSION);
    CHECK_OK(sh__dir_sig_get_encode(1, &body));
    raw_call(p, SH_DIR_METHOD_SIG_GET, &body, &r);
    CHECK_EQ(r.status, SH_ERR_PERMISSION);
    /* A forged descriptor: signed, then one byte of the signature flipped. */
    crypto_sign_keypair(id_pk, id_sk);
    memcpy(n.identity, id_pk, 32);
    randombytes_buf(n.link_key, 32);
    onion_key(&n.onion_current, 1, now - 1000, now + 3600000);
    onion_key(&n.onion_next, 2, now + 3000000, now + 7200000);
    CHECK_OK(sh_dir_onion_key_sign(&n.onion_current, id_sk));
    CHECK_OK(sh_dir_onion_key_sign(&n.onion_next, id_sk));
    snprintf(n.address, sizeof n.address, "127.0.0.1:9");
    snprintf(n.version, sizeof n.version, "forger");
    n.published_ms = now;
    CHECK_OK(sh_dir_descriptor_sign(&n, id_sk, &desc));
    desc.data[desc.len - 1] ^= 0x01;
    CHECK_OK(sh__dir_publish_encode(desc.data, desc.len, &body));
    raw_call(p, SH_DIR_METHOD_PUBLISH, &body, &r);
    CHECK_EQ(r.status, SH_ERR_CRYPTO);
    /* The genuine one twice: tested (nothing listens: UNAVAILABLE), then too soon (BUSY). */
    desc.data[desc.len - 1] ^= 0x01;
    CHECK_OK(sh__dir_publish_encode(desc.data, desc.len, &body));
    raw_call(p, SH_DIR_METHOD_PUBLISH, &body, &r);
    CHECK_EQ(r.status, SH_ERR_UNAVAILABLE);
    CHECK(strstr(r.msg, "no Noise handshake") != NULL);
    raw_call(p, SH_DIR_METHOD_PUBLISH, &body, &r);
    CHECK_EQ(r.status, SH_ERR_BUSY);
    sh_net_peer_close(p);
    sh_buf_free(&body);
    sh_buf_free(&desc);
    printf("refused: node method from a client, forged descriptor, unreachable node, too soon\n");
}

int main(void)
{
    static const int all[] = {0, 1, 2}, two[] = {0, 1};
    const tnode *in[N_NODES];
    tnode impostor = {0};
    char address[32];

    CHECK_OK(sh_crypto_init());
    CHECK(uv_loop_init(&loop) == 0);
    tmp = test_tmpdir();
    make_network();
    for (int i = 0; i < N_NODES - 1; i++) {
        node_start(&nodes[i], NULL);
        in[i] = &nodes[i];
    }
    /* A node that publishes the address of node 0, which answers with node 0's key. */
    snprintf(address, sizeof address, "127.0.0.1:%u", nodes[0].port);
    node_start(&impostor, address);

    want w = {all, 3, in, N_NODES - 1, &impostor, 1};
    run_until_fn(maps_agree, &w, 20000, "all authorities to publish the same map");
    run_until_fn(node_refused, &impostor, 5000, "the impostor to be refused");
    CHECK_EQ(impostor.accepted, 0);
    uint64_t v1 = sh_dir_map_version(sh_dir_auth_map(auths[0].auth));
    printf("map version %llu: %d nodes on 3 authorities, the unreachable one left out\n",
           (unsigned long long)v1, N_NODES - 1);

    /* Authority 2 stops; a new node joins; the two others publish maps without it. */
    size_t before = sh_dir_auth_node_count(auths[2].auth);
    uint64_t v_stopped = sh_dir_map_version(sh_dir_auth_map(auths[2].auth));
    auth_stop(2);
    node_start(&nodes[N_NODES - 1], NULL);
    in[N_NODES - 1] = &nodes[N_NODES - 1];
    want w2 = {two, 2, in, N_NODES, NULL, v1 + 1};
    run_until_fn(maps_agree, &w2, 20000, "two authorities to publish the new node");
    uint64_t v2 = sh_dir_map_version(sh_dir_auth_map(auths[0].auth));
    printf("map version %llu with authority 3 stopped: the new node is in\n", (unsigned long long)v2);

    /* It restarts with its registry and map, and catches up. */
    auth_listen(2);
    auth_begin(2);
    CHECK(sh_dir_auth_node_count(auths[2].auth) >= before);
    CHECK_EQ(sh_dir_map_version(sh_dir_auth_map(auths[2].auth)), v_stopped);
    want w3 = {all, 3, in, N_NODES, NULL, v2};
    run_until_fn(maps_agree, &w3, 20000, "the restarted authority to catch up");
    printf("authority 3 restarted with %zu nodes and map version %llu, caught up to version %llu\n",
           before, (unsigned long long)v_stopped,
           (unsigned long long)sh_dir_map_version(sh_dir_auth_map(auths[2].auth)));

    test_bad_calls();

    for (int i = 0; i < N_NODES; i++)
        node_stop(&nodes[i]);
    node_stop(&impostor);
    for (int i = 0; i < N_AUTH; i++)
        auth_stop(i);
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < N_NODES; i++)
        sh_dir_server_free(nodes[i].server);
    sh_dir_server_free(impostor.server);
    sh_dir_network_free(network);
    CHECK(uv_loop_close(&loop) == 0);
    return 0;
}
