/* A stand-in for shoald as far as the directory goes, for the multi-process test (dirnet.c):
 *   fake-node node --network F --data D [--advertise ADDR] [--tamper forge|strip|old]
 *       listens on 127.0.0.1 (port 0) with a fresh link key, serves the map (dir.map.get,
 *       dir.ping), publishes its descriptor (onion keys from an onion keyring, republished when
 *       the epoch turns), fetches and verifies maps into a cache. Prints "port P", "id HEX",
 *       "link HEX", then
 *       "map V HASH nodes N swarms S in 0|1 swarm ID" (its own swarm, hex) for every new map and "publish ADDR STATUS" for
 *       every answer of an authority. --advertise publishes another address (unreachable
 *       nodes); --tamper serves a forged, under-signed or frozen old copy of the map instead.
 *       Ends cleanly at EOF on stdin or SIGTERM ("bye").
 *   fake-node fetch --network F [--cache FILE]     one refresh: "map V HASH" or "status CODE MSG"
 *   fake-node fetch-from --network F --address A --key HEX [--min-version V]
 *       the full map from one source, verified: "map V HASH" or "status CODE MSG"
 *   fake-node forged --network F        a forged descriptor to every authority: "ok" if all refuse it
 *   fake-node nodemethod --network F    dir.vote.get / dir.sig.get with a client key: "ok" if PERMISSION
 *   fake-node flood --network F --calls N   N dir.map.get at once to authority 0, then N/10
 *       publications of one descriptor: "ok ..." when both were rate-limited (SH_ERR_BUSY) */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "dir.pb-c.h"
#include "dir/rpc.h"
#include "onion/onion.h"
#include "util/encode.h"
#include "util/err.h"
#include "util/log.h"
#include "util/time.h"

#define EPOCH_MS (60LL * 60 * 1000)
#define OVERLAP_MS (10LL * 60 * 1000)

typedef struct opts {
    const char *mode, *network_path, *data, *advertise, *tamper, *cache, *address, *key;
    uint64_t min_version;
    unsigned calls;
    int64_t epoch_ms;
} opts;

static uv_loop_t loop;
static sh_dir_network *network;
static opts o;

static void die(const char *what)
{
    printf("status %s %s: %s\n", sh_err_name(SH_ERR_INTERNAL), what, sh_err_msg());
    fflush(stdout);
    exit(1);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static void map_line(const sh_dir_map *m, const uint8_t *self)
{
    const sh_dir_node *me = self != NULL ? sh_dir_map_find_node(m, self) : NULL;
    char hash[17];
    size_t n, s;

    sh_hex_encode(hash, sizeof hash, sh_dir_map_body_hash(m), 8);
    (void)sh_dir_map_nodes(m, &n);
    (void)sh_dir_map_swarms(m, &s);
    say("map %llu %s nodes %zu swarms %zu in %d swarm %016llx\n",
        (unsigned long long)sh_dir_map_version(m), hash, n, s, me != NULL,
        me != NULL ? (unsigned long long)me->swarm_id : 0ULL);
}

/* ---- node ----------------------------------------------------------------------------------- */

typedef struct node {
    sh_net *net;
    sh_dir_server *server;
    sh_dir_client *client;
    sh_dir_publisher *pub;
    sh_onion_keyring *keyring;
    sh_onion_epochs epochs;
    uv_timer_t epoch_timer;
    uv_signal_t sigterm;
    uv_pipe_t in;
    uint8_t id_pk[32], id_sk[64], link_sk[32], link_pk[32];
    bool stopping, froze;
} node;

/* A copy of m with the last signature byte flipped, or with one signature only. */
static void serve_tampered(node *n, const sh_dir_map *m)
{
    Shoal__Dir__Map *pb;
    sh_dir_map *t = NULL;
    uint8_t *p;
    sh_buf b, again;

    sh_buf_init(&b);
    sh_buf_init(&again);
    if (sh_dir_map_encode(m, &b) != SH_OK || (pb = shoal__dir__map__unpack(NULL, b.len, b.data)) == NULL)
        die("tamper");
    size_t n_sigs = pb->n_signatures;

    if (strcmp(o.tamper, "strip") == 0)
        pb->n_signatures = 1;
    else
        pb->signatures[0]->signature.data[0] ^= 1;
    if (sh_buf_extend(&again, shoal__dir__map__get_packed_size(pb), &p) != SH_OK)
        die("tamper");
    shoal__dir__map__pack(pb, p);
    pb->n_signatures = n_sigs; /* so that every one is freed */
    shoal__dir__map__free_unpacked(pb, NULL);
    if (sh_dir_map_decode(again.data, again.len, &t) != SH_OK)
        die("tamper decode");
    sh_dir_server_clear(n->server);
    if (sh_dir_server_set_map(n->server, t) != SH_OK)
        die("serve");
    sh_dir_map_free(t);
    sh_buf_free(&b);
    sh_buf_free(&again);
}

static void on_map(sh_dir_client *c, const sh_dir_map *m, void *ctx)
{
    node *n = ctx;

    (void)c;
    map_line(m, n->id_pk);
    if (o.tamper == NULL || (strcmp(o.tamper, "old") == 0 && n->froze))
        return;
    if (strcmp(o.tamper, "old") == 0) {
        n->froze = true; /* keeps serving this first map for ever */
        (void)sh_dir_server_set_map(n->server, m);
        return;
    }
    serve_tampered(n, m);
}

static void on_publish(const sh_dir_authority *a, int status, const char *msg, void *ctx)
{
    (void)ctx;
    say("publish %s %s %s\n", a->address, sh_err_name(status), msg);
}

/* Current and next onion keys from the keyring, their validity from the onion epochs. */
static void publish_keys(node *n)
{
    sh_dir_onion_key k[2] = {0};
    bool changed;

    if (sh_onion_keyring_advance(n->keyring, sh_time_now_ms(), &changed) != SH_OK)
        die("keyring");
    if (!changed)
        return;
    for (int i = 0; i < 2; i++) {
        if (sh_onion_keyring_public(n->keyring, i == 0 ? SH_ONION_SLOT_CURRENT : SH_ONION_SLOT_NEXT,
                                    &k[i].epoch, k[i].public_key) != SH_OK)
            die("keyring slot");
        sh_onion_epoch_window(&n->epochs, k[i].epoch, &k[i].valid_after_ms, &k[i].valid_until_ms);
    }
    if (sh_dir_publisher_set_onion_keys(n->pub, &k[0], &k[1]) != SH_OK)
        die("onion keys");
}

static void on_epoch_timer(uv_timer_t *t)
{
    publish_keys(t->data);
}

static void node_stop(node *n)
{
    if (n->stopping)
        return;
    n->stopping = true;
    sh_dir_publisher_close(n->pub);
    sh_dir_client_close(n->client);
    sh_net_close(n->net, NULL, NULL);
    uv_close((uv_handle_t *)&n->epoch_timer, NULL);
    uv_close((uv_handle_t *)&n->sigterm, NULL);
    uv_close((uv_handle_t *)&n->in, NULL);
}

static void on_sigterm(uv_signal_t *s, int signum)
{
    (void)signum;
    node_stop(s->data);
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    static char b[256];

    (void)h;
    (void)size;
    *buf = uv_buf_init(b, sizeof b);
}

static void on_stdin(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread < 0)
        node_stop(s->data);
}

static void node_publisher(node *n, const char *address)
{
    sh_dir_publisher_config cfg = {.identity_sk = n->id_sk, .interval_ms = 120000, .retry_ms = 500,
                                   .deadline_ms = 5000, .result_cb = on_publish};

    memcpy(cfg.node.identity, n->id_pk, 32);
    memcpy(cfg.node.link_key, n->link_pk, 32);
    snprintf(cfg.node.address, sizeof cfg.node.address, "%s", address);
    snprintf(cfg.node.version, sizeof cfg.node.version, "fake-node 1");
    snprintf(cfg.node.contact, sizeof cfg.node.contact, "test@example.org");
    if (sh_dir_publisher_new(&loop, n->net, network, &cfg, &n->pub) != SH_OK)
        die("publisher");
    n->epochs = (sh_onion_epochs){o.epoch_ms, o.epoch_ms / 4};
    if (sh_onion_keyring_new(&n->epochs, &n->keyring) != SH_OK)
        die("keyring");
    publish_keys(n);
    uv_timer_init(&loop, &n->epoch_timer);
    n->epoch_timer.data = n;
    uv_timer_start(&n->epoch_timer, on_epoch_timer, 1000, 1000);
}

static int run_node(void)
{
    static node n;
    char cache[512], address[64], hex[65], link[65];
    uint16_t port;
    sh_dir_client_config ccfg = {.cache_path = cache, .refresh_ms = 300, .retry_ms = 200,
                                 .deadline_ms = 2000, .self_link_key = n.link_pk, .map_cb = on_map,
                                 .ctx = &n};

    crypto_sign_keypair(n.id_pk, n.id_sk);
    randombytes_buf(n.link_sk, 32);
    crypto_scalarmult_base(n.link_pk, n.link_sk);
    snprintf(cache, sizeof cache, "%s/map", o.data);
    if (sh_net_new(&loop, NULL, &n.net) != SH_OK ||
        sh_net_listen(n.net, "127.0.0.1", 0, n.link_sk, &port) != SH_OK ||
        sh_dir_server_new(n.net, network, NULL, &n.server) != SH_OK)
        die("listen");
    if (o.tamper == NULL)
        ccfg.server = n.server;
    if (sh_dir_client_new(&loop, n.net, network, &ccfg, &n.client) != SH_OK)
        die("client");
    sh_hex_encode(hex, sizeof hex, n.id_pk, 32);
    sh_hex_encode(link, sizeof link, n.link_pk, 32);
    say("port %u\nid %s\nlink %s\n", port, hex, link);
    snprintf(address, sizeof address, "127.0.0.1:%u", port);
    node_publisher(&n, o.advertise != NULL ? o.advertise : address);
    uv_signal_init(&loop, &n.sigterm);
    n.sigterm.data = &n;
    uv_signal_start(&n.sigterm, on_sigterm, SIGTERM);
    uv_pipe_init(&loop, &n.in, 0);
    uv_pipe_open(&n.in, 0);
    n.in.data = &n;
    uv_read_start((uv_stream_t *)&n.in, on_alloc, on_stdin);
    uv_run(&loop, UV_RUN_DEFAULT);
    sh_dir_server_free(n.server);
    sh_onion_keyring_free(n.keyring);
    say("bye\n");
    return 0;
}

/* ---- One-shot modes ------------------------------------------------------------------------- */

typedef struct shot {
    bool done;
    int status;
    char msg[400];
    sh_buf body;
} shot;

static void on_shot(int status, const char *msg, const uint8_t *body, size_t len, void *ctx)
{
    shot *s = ctx;

    s->done = true;
    s->status = status;
    snprintf(s->msg, sizeof s->msg, "%s", msg != NULL ? msg : "");
    sh_buf_reset(&s->body);
    if (len > 0 && sh_buf_append(&s->body, body, len) != SH_OK)
        die("reply");
}

static void call_wait(sh_net_peer *p, const char *method, const sh_buf *body, shot *s)
{
    s->done = false;
    if (sh_net_call(p, method, body->data, body->len, 5000, on_shot, s) != SH_OK)
        die(method);
    while (!s->done)
        uv_run(&loop, UV_RUN_ONCE);
}

static sh_net_peer *peer_to(sh_net *net, const char *address, const uint8_t key[static 32])
{
    sh_net_peer *p;
    char host[48];
    uint16_t port;

    if (sh_dir_address_split(address, host, &port) != SH_OK ||
        sh_net_peer_new(net, host, port, key, NULL, &p) != SH_OK)
        die("peer");
    return p;
}

static void on_fetch_status(sh_dir_client *c, int status, const char *msg, void *ctx)
{
    shot *s = ctx;

    (void)c;
    s->done = true;
    s->status = status;
    snprintf(s->msg, sizeof s->msg, "%s", msg);
}

static int run_fetch(sh_net *net)
{
    shot s = {0};
    sh_dir_client_config cfg = {.cache_path = o.cache, .refresh_ms = 60000, .retry_ms = 60000,
                                .deadline_ms = 2000, .status_cb = on_fetch_status, .ctx = &s};
    sh_dir_client *c;
    const char *msg;

    if (sh_dir_client_new(&loop, net, network, &cfg, &c) != SH_OK)
        die("client");
    while (!s.done)
        uv_run(&loop, UV_RUN_ONCE);
    if (sh_dir_client_status(c, &msg) == SH_OK)
        map_line(sh_dir_client_map(c), NULL);
    else
        say("status %s %s\n", sh_err_name(sh_dir_client_status(c, NULL)), msg);
    sh_dir_client_close(c);
    return 0;
}

static int run_fetch_from(sh_net *net)
{
    uint8_t key[32];
    sh__dir_assembly a;
    sh_net_peer *p;
    sh_dir_map *m = NULL;
    shot s = {0};
    sh_buf body;
    int rc = SH_OK;

    if (o.address == NULL || o.key == NULL || sh_hex_decode(key, 32, o.key) != SH_OK)
        die("fetch-from needs --address and --key");
    p = peer_to(net, o.address, key);
    sh_buf_init(&body);
    sh__dir_assembly_init(&a, SH_DIR_MAP_MAX_BYTES);
    while (rc == SH_OK && !sh__dir_assembly_complete(&a)) {
        sh__dir_map_get g = {0};
        sh__dir_map_reply r;
        sh__dir_assembly_next(&a, &g.blob);
        if (sh__dir_map_get_encode(&g, &body) != SH_OK)
            die("encode");
        call_wait(p, SH_DIR_METHOD_MAP_GET, &body, &s);
        rc = s.status != SH_OK ? sh_err_set(s.status, "%s", s.msg)
                               : sh__dir_map_reply_decode(s.body.data, s.body.len, &r);
        if (rc == SH_OK) {
            rc = sh__dir_assembly_add(&a, &r.chunk);
            sh__dir_map_reply_release(&r);
        }
    }
    if (rc == SH_OK)
        rc = sh_dir_map_load(a.data.data, a.data.len, network, o.min_version, sh_time_now_ms(), &m);
    if (rc == SH_OK)
        map_line(m, NULL);
    else
        say("status %s %s\n", sh_err_name(rc), sh_err_msg());
    sh_dir_map_free(m);
    sh__dir_assembly_free(&a);
    sh_buf_free(&body);
    sh_buf_free(&s.body);
    sh_net_peer_close(p);
    return 0;
}

/* A descriptor of a fresh identity that listens nowhere (127.0.0.1:9). */
static void make_descriptor(sh_buf *desc)
{
    sh_dir_node n = {0};
    uint8_t sk[64], s[32];
    int64_t now = sh_time_now_ms();

    crypto_sign_keypair(n.identity, sk);
    randombytes_buf(n.link_key, 32);
    for (int i = 0; i < 2; i++) {
        sh_dir_onion_key *k = i == 0 ? &n.onion_current : &n.onion_next;
        *k = (sh_dir_onion_key){.epoch = 5 + (uint64_t)i, .valid_after_ms = now - 1000 + i * EPOCH_MS,
                                .valid_until_ms = now + (i + 1) * EPOCH_MS};
        crypto_core_ristretto255_scalar_random(s);
        if (crypto_scalarmult_ristretto255_base(k->public_key, s) != 0 ||
            sh_dir_onion_key_sign(k, sk) != SH_OK)
            die("onion key");
    }
    snprintf(n.address, sizeof n.address, "127.0.0.1:9");
    snprintf(n.version, sizeof n.version, "forger");
    n.published_ms = now;
    if (sh_dir_descriptor_sign(&n, sk, desc) != SH_OK)
        die("descriptor");
    sodium_memzero(sk, sizeof sk);
}

/* That descriptor with one byte of its signature flipped, to every authority. */
static int run_forged(sh_net *net)
{
    sh_buf desc, body;
    shot r = {0};
    int refused = 0;

    sh_buf_init(&desc);
    sh_buf_init(&body);
    make_descriptor(&desc);
    desc.data[desc.len - 10] ^= 0x40;
    if (sh__dir_publish_encode(desc.data, desc.len, &body) != SH_OK)
        die("encode");
    for (size_t i = 0; i < sh_dir_network_authority_count(network); i++) {
        const sh_dir_authority *a = sh_dir_network_authority(network, i);
        sh_net_peer *p = peer_to(net, a->address, a->link_key);
        call_wait(p, SH_DIR_METHOD_PUBLISH, &body, &r);
        say("forged %s: %s %s\n", a->address, sh_err_name(r.status), r.msg);
        refused += r.status == SH_ERR_CRYPTO;
        sh_net_peer_close(p);
    }
    say(refused == (int)sh_dir_network_authority_count(network) ? "ok\n" : "failed\n");
    sh_buf_free(&desc);
    sh_buf_free(&body);
    sh_buf_free(&r.body);
    return 0;
}

static int run_nodemethod(sh_net *net)
{
    const sh_dir_authority *a = sh_dir_network_authority(network, 0);
    sh_net_peer *p = peer_to(net, a->address, a->link_key);
    shot r = {0};
    sh_buf body;
    int refused = 0;

    sh_buf_init(&body);
    if (sh__dir_vote_get_encode(&(sh__dir_vote_get){.round = 1}, &body) != SH_OK)
        die("encode");
    call_wait(p, SH_DIR_METHOD_VOTE_GET, &body, &r);
    say("%s: %s %s\n", SH_DIR_METHOD_VOTE_GET, sh_err_name(r.status), r.msg);
    refused += r.status == SH_ERR_PERMISSION;
    if (sh__dir_sig_get_encode(1, &body) != SH_OK)
        die("encode");
    call_wait(p, SH_DIR_METHOD_SIG_GET, &body, &r);
    say("%s: %s %s\n", SH_DIR_METHOD_SIG_GET, sh_err_name(r.status), r.msg);
    refused += r.status == SH_ERR_PERMISSION;
    say(refused == 2 ? "ok\n" : "failed\n");
    sh_net_peer_close(p);
    sh_buf_free(&body);
    sh_buf_free(&r.body);
    return 0;
}

typedef struct flood {
    unsigned done, busy, ok;
} flood;

static void on_flood(int status, const char *msg, const uint8_t *body, size_t len, void *ctx)
{
    flood *f = ctx;

    (void)msg;
    (void)body;
    (void)len;
    f->done++;
    f->busy += status == SH_ERR_BUSY;
    f->ok += status == SH_OK;
}

static void flood_calls(sh_net_peer *p, const char *method, const sh_buf *body, unsigned n, flood *f)
{
    for (unsigned i = 0; i < n; i++)
        if (sh_net_call(p, method, body->data, body->len, 10000, on_flood, f) != SH_OK)
            die("call");
    while (f->done < n)
        uv_run(&loop, UV_RUN_ONCE);
}

/* --calls map requests at once on one link to authority 0, then a tenth as many publications
 * of one (unreachable) node's descriptor. */
static int run_flood(sh_net *net)
{
    const sh_dir_authority *a = sh_dir_network_authority(network, 0);
    sh_net_peer *p = peer_to(net, a->address, a->link_key);
    sh__dir_map_get g = {0};
    flood maps = {0}, pubs = {0};
    unsigned n_pub = o.calls / 10;
    sh_buf body, desc;

    sh_buf_init(&body);
    sh_buf_init(&desc);
    if (sh__dir_map_get_encode(&g, &body) != SH_OK)
        die("encode");
    flood_calls(p, SH_DIR_METHOD_MAP_GET, &body, o.calls, &maps);
    make_descriptor(&desc);
    if (sh__dir_publish_encode(desc.data, desc.len, &body) != SH_OK)
        die("encode");
    flood_calls(p, SH_DIR_METHOD_PUBLISH, &body, n_pub, &pubs);
    say(maps.busy > 0 && maps.ok > 0 && pubs.busy > 0 ? "ok " : "failed ");
    say("map requests busy %u of %u, publications busy %u of %u\n", maps.busy, o.calls, pubs.busy,
        n_pub);
    sh_net_peer_close(p);
    sh_buf_free(&body);
    sh_buf_free(&desc);
    return 0;
}

/* ---- main ----------------------------------------------------------------------------------- */

static void parse(int argc, char **argv)
{
    static const struct option opts[] = {
        {"network", required_argument, NULL, 'n'}, {"data", required_argument, NULL, 'd'},
        {"advertise", required_argument, NULL, 'a'}, {"tamper", required_argument, NULL, 't'},
        {"cache", required_argument, NULL, 'c'}, {"address", required_argument, NULL, 'A'},
        {"key", required_argument, NULL, 'k'}, {"min-version", required_argument, NULL, 'v'},
        {"calls", required_argument, NULL, 'C'}, {"epoch-ms", required_argument, NULL, 'e'},
        {NULL, 0, NULL, 0}};
    int c;

    o.calls = 300;
    o.epoch_ms = EPOCH_MS;
    if (argc < 2)
        die("usage: fake-node MODE --network FILE ...");
    o.mode = argv[1];
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n': o.network_path = optarg; break;
        case 'd': o.data = optarg; break;
        case 'a': o.advertise = optarg; break;
        case 't': o.tamper = optarg; break;
        case 'c': o.cache = optarg; break;
        case 'A': o.address = optarg; break;
        case 'k': o.key = optarg; break;
        case 'v': o.min_version = strtoull(optarg, NULL, 10); break;
        case 'C': o.calls = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'e': o.epoch_ms = strtoll(optarg, NULL, 10); break;
        default: die("bad option");
        }
    }
    if (o.network_path == NULL)
        die("--network is required");
}

static void net_closed(void *ctx)
{
    (void)ctx;
}

int main(int argc, char **argv)
{
    sh_net *net = NULL;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    if (sh_crypto_init() != SH_OK || uv_loop_init(&loop) != 0)
        die("init");
    parse(argc, argv);
    sh_log_set_ident(o.mode);
    if (sh_dir_network_load(o.network_path, &network) != SH_OK)
        die("network");
    if (strcmp(o.mode, "node") == 0) {
        if (o.data == NULL)
            die("node needs --data");
        rc = run_node();
    } else {
        if (sh_net_new(&loop, NULL, &net) != SH_OK)
            die("net");
        if (strcmp(o.mode, "fetch") == 0)
            rc = run_fetch(net);
        else if (strcmp(o.mode, "fetch-from") == 0)
            rc = run_fetch_from(net);
        else if (strcmp(o.mode, "forged") == 0)
            rc = run_forged(net);
        else if (strcmp(o.mode, "nodemethod") == 0)
            rc = run_nodemethod(net);
        else if (strcmp(o.mode, "flood") == 0)
            rc = run_flood(net);
        else
            die("unknown mode");
        sh_net_close(net, net_closed, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    sh_dir_network_free(network);
    uv_loop_close(&loop);
    return rc;
}
