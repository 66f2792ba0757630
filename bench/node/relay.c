/* bench-relay: the 3-hop onion round trip on loopback against a plain 3-hop relay chain of raw
 * TCP forwarding (libuv, no crypto), measured in the same run (issue 8, docs/onion.md).
 *
 * Both chains have the same process layout: every hop is its own process (as every shoald is)
 * and the client runs in this one, so both pay the same cross-process wake-ups
 * (performance.md: a loopback round trip across cores costs ~6x one on a core).
 * Onion: three nodes (sh_node, each with its relay, keyring and replay cache on disk), one per
 * forked process; the client (sh_onion_caller) sends `info` through guard, middle and
 * destination, one request at a time. Raw: three libuv forwarders, one per forked process, pipe
 * bytes client -> f1 -> f2 -> f3, which echoes; the client sends as many bytes as an onion
 * packet with a 1 KiB bucket and waits for them to come back.
 * Figures: onion_3hop_p50_ms, onion_3hop_p99_ms, raw_3hop_p50_ms, onion_3hop_vs_raw_ratio. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "bench.h"
#include "node/node.h"
#include "onion/onion.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/time.h"

#define HOPS 3
#define RAW_BYTES (SH_ONION_HEADER_BYTES + SH_ONION_BUCKET_1K + 8)

static void die(const char *what)
{
    fprintf(stderr, "bench-relay: %s: %s\n", what, sh_err_msg());
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_double);
    return v[(size_t)(p * (double)(n - 1))];
}

/* ---- Onion: three nodes on a server loop ---------------------------------------------------- */

typedef struct server {
    pid_t pids[HOPS];
    int map_fd[HOPS]; /* to each node process: the map, length first */
    uint16_t ports[HOPS];
    sh_node_keys *keys[HOPS];
    char dirs[HOPS][256];
} server;

static void read_all(int fd, void *buf, size_t len)
{
    for (size_t got = 0; got < len;) {
        ssize_t r = read(fd, (char *)buf + got, len - got);
        if (r <= 0)
            die("reading a pipe");
        got += (size_t)r;
    }
}

static void write_all(int fd, const void *buf, size_t len)
{
    if (sh_fs_write_all(fd, buf, len) != 0)
        die("writing a pipe");
}

/* A node process: starts its node, reports its port, waits for the map, then serves. */
static void node_process(server *s, int i, int port_fd, int map_fd)
{
    sh_node_config cfg;
    uv_loop_t loop;
    sh_node *node;
    uint32_t len;
    uint8_t *map_bytes;
    uint16_t port;

    uv_loop_init(&loop);
    sh_node_config_default(&cfg);
    cfg.port = 0;
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", s->dirs[i]);
    if (sh_fs_mkdir_p(cfg.data_dir, 0700) != SH_OK || sh_node_start(&loop, &cfg, s->keys[i], &node) != SH_OK)
        die("node");
    port = sh_node_port(node);
    write_all(port_fd, &port, sizeof port);
    read_all(map_fd, &len, sizeof len);
    if ((map_bytes = malloc(len)) == NULL)
        die("out of memory");
    read_all(map_fd, map_bytes, len);
    {
        sh_dir_network *nw;
        sh_dir_map *map;
        uint32_t nlen;
        uint8_t *nb;
        read_all(map_fd, &nlen, sizeof nlen);
        if ((nb = malloc(nlen)) == NULL)
            die("out of memory");
        read_all(map_fd, nb, nlen);
        if (sh_dir_network_parse((const char *)nb, nlen, &nw) != SH_OK ||
            sh_dir_map_load(map_bytes, len, nw, 0, sh_time_now_ms(), &map) != SH_OK)
            die("map load");
        sh_node_set_map(node, map);
        sh_dir_network_free(nw);
        free(nb);
    }
    free(map_bytes);
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(0);
}

static void describe(server *s, int i, sh_dir_node *d)
{
    sh_onion_epochs ep = {SH_NODE_DEFAULT_ONION_EPOCH_MS, SH_NODE_DEFAULT_ONION_OVERLAP_MS};
    sh_dir_onion_key *k[2] = {&d->onion_current, &d->onion_next};
    char path[512];
    sh_onion_keyring *kr;

    snprintf(path, sizeof path, "%s/%s", s->dirs[i], SH_NODE_ONION_KEYS_FILE);
    if (sh_onion_keyring_load(&ep, path, &kr) != SH_OK)
        die("keyring");
    memset(d, 0, sizeof *d);
    memcpy(d->identity, s->keys[i]->ed25519_pk, 32);
    memcpy(d->link_key, s->keys[i]->link_pk, 32);
    for (int j = 0; j < 2; j++) {
        if (sh_onion_keyring_public(kr, j ? SH_ONION_SLOT_NEXT : SH_ONION_SLOT_CURRENT,
                                    &k[j]->epoch, k[j]->public_key) != SH_OK)
            die("onion key");
        sh_onion_epoch_window(&ep, k[j]->epoch, &k[j]->valid_after_ms, &k[j]->valid_until_ms);
        if (sh_dir_onion_key_sign(k[j], s->keys[i]->ed25519_sk) != SH_OK)
            die("signing");
    }
    snprintf(d->address, sizeof d->address, "127.0.0.1:%u", s->ports[i]);
    strcpy(d->version, SH_NODE_VERSION);
    d->flags = SH_DIR_FLAG_GUARD;
}

/* A one-authority map of the three nodes; each node gets a copy, the client its nodes. */
static void make_map(server *s, sh_onion_node **onodes, size_t *n)
{
    uint8_t apk[32], ask[64];
    sh_dir_authority a = {0};
    sh_dir_swarm_params sp = {.target = 5, .min = 7, .merge_grace_ms = 3600000}; /* no swarms */
    sh_dir_node d[HOPS];
    sh_dir_network *net;
    sh_dir_vote *vote;
    sh_dir_map *map;
    sh_buf b;
    int64_t now = sh_time_now_ms();

    crypto_sign_keypair(apk, ask);
    memcpy(a.identity, apk, 32);
    randombytes_buf(ask, 32), crypto_scalarmult_curve25519_base(a.link_key, ask);
    crypto_sign_keypair(apk, ask);
    memcpy(a.identity, apk, 32);
    strcpy(a.address, "127.0.0.1:1");
    sh_buf_init(&b);
    if (sh_dir_network_new("bench", 1, &a, 1, &sp, &net) != SH_OK)
        die("network");
    for (int i = 0; i < HOPS; i++)
        describe(s, i, &d[i]);
    if (sh_dir_vote_create(net, NULL, ask, now - 60000, now + 3600000, d, HOPS, &b) != SH_OK ||
        sh_dir_vote_load(b.data, b.len, net, NULL, &vote) != SH_OK ||
        sh_dir_consensus(net, NULL, (const sh_dir_vote *const *)&vote, 1, &map) != SH_OK ||
        sh_dir_map_sign(map, net, ask) != SH_OK || sh_dir_map_encode(map, &b) != SH_OK)
        die("map");
    if (sh_onion_nodes_from_map(map, onodes, n) != SH_OK)
        die("nodes");
    sh_dir_map_free(map);
    {
        sh_buf nb;
        uint32_t len = (uint32_t)b.len, nlen;
        sh_buf_init(&nb);
        if (sh_dir_network_format(net, &nb) != SH_OK)
            die("network encode");
        nlen = (uint32_t)nb.len;
        for (int i = 0; i < HOPS; i++) {
            write_all(s->map_fd[i], &len, sizeof len);
            write_all(s->map_fd[i], b.data, b.len);
            write_all(s->map_fd[i], &nlen, sizeof nlen);
            write_all(s->map_fd[i], nb.data, nb.len);
            close(s->map_fd[i]);
        }
        sh_buf_free(&nb);
    }
    sh_dir_vote_free(vote);
    sh_dir_network_free(net);
    sh_buf_free(&b);
}

static void server_start(server *s)
{
    char tmpl[512];
    const char *base;

    snprintf(tmpl, sizeof tmpl, "%s/bench-relay-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    base = mkdtemp(tmpl);

    if (base == NULL)
        die("mkdtemp");
    for (int i = 0; i < HOPS; i++) {
        int up[2], down[2];
        snprintf(s->dirs[i], sizeof s->dirs[i], "%s/n%d", base, i);
        if (sh_node_keys_generate(&s->keys[i]) != SH_OK || pipe(up) != 0 || pipe(down) != 0)
            die("node keys");
        if ((s->pids[i] = fork()) == 0) {
            close(up[0]), close(down[1]);
            node_process(s, i, up[1], down[0]);
        }
        close(up[1]), close(down[0]);
        read_all(up[0], &s->ports[i], sizeof s->ports[i]);
        close(up[0]);
        s->map_fd[i] = down[1];
    }
}

typedef struct client {
    uv_loop_t loop;
    sh_net *net;
    sh_onion_caller *caller;
    bool done;
    int status;
} client;

static void answer_cb(int status, const char *message, const uint8_t *body, size_t len, void *ctx)
{
    client *c = ctx;

    (void)body, (void)len;
    c->done = true;
    c->status = status;
    if (status != SH_OK)
        fprintf(stderr, "bench-relay: onion request failed: %s\n", message);
}

static void onion_round_trips(server *s, const sh_onion_node *onodes, size_t n, double *ms, size_t iters)
{
    sh_onion_caller_config cfg;
    client c = {0};
    /* The destination is the node that is neither guard nor middle: with three nodes, any. */
    const uint8_t *dest = onodes[0].cand.id;

    (void)s;
    uv_loop_init(&c.loop);
    if (sh_net_new(&c.loop, NULL, &c.net) != SH_OK)
        die("net");
    sh_onion_caller_config_default(&cfg);
    cfg.policy.n_guards = 2;
    cfg.policy.allow_same_subnet = true;
    cfg.max_attempts = 1;
    if (sh_onion_caller_new(&c.loop, c.net, &cfg, onodes, n, NULL, &c.caller) != SH_OK)
        die("caller");
    for (size_t i = 0; i < iters + 5; i++) {
        double t0 = bench_now_s();
        c.done = false;
        if (sh_onion_caller_request(c.caller, dest, "info", NULL, 0, answer_cb, &c) != SH_OK)
            die("request");
        while (!c.done)
            uv_run(&c.loop, UV_RUN_ONCE);
        if (c.status != SH_OK)
            exit(1);
        if (i >= 5) /* the first ones open links */
            ms[i - 5] = (bench_now_s() - t0) * 1000.0;
    }
    sh_onion_caller_free(c.caller);
    sh_net_close(c.net, NULL, NULL);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    uv_loop_close(&c.loop);
}

/* ---- Raw: three libuv forwarders, the last one echoes ---------------------------------------- */

typedef struct pipe_end {
    uv_tcp_t tcp;
    struct pipe_end *other; /* NULL at the echo */
    uv_connect_t conn;
} pipe_end;

typedef struct forwarder {
    uv_tcp_t listener;
    int next_port; /* 0: echo */
    int port;
} forwarder;

static uv_loop_t raw_loop;
static forwarder fw[HOPS];
static pid_t raw_pids[HOPS];

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(suggested);
    buf->len = suggested;
}

typedef struct write_req {
    uv_write_t w;
    char *data;
} write_req;

static void write_done(uv_write_t *w, int status)
{
    write_req *r = (write_req *)w;

    (void)status;
    free(r->data);
    free(r);
}

static void send_bytes(uv_tcp_t *to, char *data, size_t len)
{
    write_req *r = malloc(sizeof *r);
    uv_buf_t b = uv_buf_init(data, (unsigned)len);

    r->data = data;
    uv_write(&r->w, (uv_stream_t *)to, &b, 1, write_done);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    pipe_end *e = s->data;

    if (n <= 0) {
        free(buf->base);
        if (n < 0)
            uv_read_stop(s);
        return;
    }
    send_bytes(e->other ? &e->other->tcp : &e->tcp, buf->base, (size_t)n);
}

static void on_next_connected(uv_connect_t *c, int status)
{
    pipe_end *out = c->data;

    if (status != 0)
        exit(1);
    uv_read_start((uv_stream_t *)&out->tcp, alloc_cb, on_read);
    uv_read_start((uv_stream_t *)&out->other->tcp, alloc_cb, on_read);
}

static void on_accept(uv_stream_t *l, int status)
{
    forwarder *f = l->data;
    pipe_end *in = calloc(1, sizeof *in);

    if (status != 0)
        return;
    uv_tcp_init(&raw_loop, &in->tcp);
    in->tcp.data = in;
    uv_accept(l, (uv_stream_t *)&in->tcp);
    uv_tcp_nodelay(&in->tcp, 1);
    if (f->next_port == 0) {
        uv_read_start((uv_stream_t *)&in->tcp, alloc_cb, on_read);
        return;
    }
    pipe_end *out = calloc(1, sizeof *out);
    struct sockaddr_in a;
    uv_tcp_init(&raw_loop, &out->tcp);
    out->tcp.data = out;
    uv_tcp_nodelay(&out->tcp, 1);
    in->other = out;
    out->other = in;
    out->conn.data = out;
    uv_ip4_addr("127.0.0.1", f->next_port, &a);
    uv_tcp_connect(&out->conn, &out->tcp, (const struct sockaddr *)&a, on_next_connected);
}

/* Each forwarder in its own process (its own loop), started last to first. */
static void raw_start(void)
{
    for (int i = HOPS - 1; i >= 0; i--) {
        int up[2];
        fw[i].next_port = i == HOPS - 1 ? 0 : fw[i + 1].port;
        if (pipe(up) != 0)
            die("pipe");
        if ((raw_pids[i] = fork()) == 0) {
            struct sockaddr_in a;
            struct sockaddr_storage got;
            int len = sizeof got;
            uint16_t port;
            close(up[0]);
            uv_loop_init(&raw_loop);
            uv_tcp_init(&raw_loop, &fw[i].listener);
            fw[i].listener.data = &fw[i];
            uv_ip4_addr("127.0.0.1", 0, &a);
            uv_tcp_bind(&fw[i].listener, (const struct sockaddr *)&a, 0);
            uv_listen((uv_stream_t *)&fw[i].listener, 64, on_accept);
            uv_tcp_getsockname(&fw[i].listener, (struct sockaddr *)&got, &len);
            port = ntohs(((struct sockaddr_in *)&got)->sin_port);
            write_all(up[1], &port, sizeof port);
            uv_run(&raw_loop, UV_RUN_DEFAULT);
            _exit(0);
        }
        close(up[1]);
        {
            uint16_t port;
            read_all(up[0], &port, sizeof port);
            fw[i].port = port;
        }
        close(up[0]);
    }
}

/* A blocking client: one connection to the first forwarder, one message at a time. */
static void raw_round_trips(double *ms, size_t iters)
{
    static char msg[RAW_BYTES], back[RAW_BYTES];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fw[0].port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        exit(1);
    randombytes_buf(msg, sizeof msg);
    for (size_t i = 0; i < iters + 5; i++) {
        double t0 = bench_now_s();
        size_t got = 0;
        if (write(fd, msg, sizeof msg) != (ssize_t)sizeof msg)
            exit(1);
        while (got < sizeof back) {
            ssize_t r = read(fd, back + got, sizeof back - got);
            if (r <= 0)
                exit(1);
            got += (size_t)r;
        }
        if (i >= 5)
            ms[i - 5] = (bench_now_s() - t0) * 1000.0;
    }
    close(fd);
}

int main(void)
{
    size_t iters = bench_iters(2000), n_onodes;
    double *onion = calloc(iters, sizeof *onion), *raw = calloc(iters, sizeof *raw);
    double o50, o99, r50;
    sh_onion_node *onodes;
    server s = {0};

    if (sodium_init() < 0 || onion == NULL || raw == NULL)
        return 1;
    sh_log_set_level(SH_LOG_WARN);
    server_start(&s);
    make_map(&s, &onodes, &n_onodes);
    raw_start();
    raw_round_trips(raw, iters);
    onion_round_trips(&s, onodes, n_onodes, onion, iters);
    o50 = percentile(onion, iters, 0.50);
    o99 = percentile(onion, iters, 0.99);
    r50 = percentile(raw, iters, 0.50);
    printf("3-hop round trips on loopback, %zu each, one at a time; both chains: client in this "
           "process, each of the 3 hops in its own process:\n", iters);
    printf("  onion (Noise links, Sphinx peel per hop, replay tags written per loop turn and "
           "fdatasync'ed every %u ms, info at the destination): p50 %.3f ms, p99 %.3f ms\n",
           SH_NODE_DEFAULT_ONION_REPLAY_SYNC_MS, o50, o99);
    printf("  raw TCP chain (libuv forwarders, no crypto, %d bytes): p50 %.3f ms, p99 %.3f ms\n",
           RAW_BYTES, r50, percentile(raw, iters, 0.99));
    bench_report("onion_3hop_p50_ms", o50, "ms");
    bench_report("onion_3hop_p99_ms", o99, "ms");
    bench_report("raw_3hop_p50_ms", r50, "ms");
    bench_report("onion_3hop_vs_raw_ratio", o50 / r50, "x");
    for (int i = 0; i < HOPS; i++) {
        kill(s.pids[i], SIGKILL), kill(raw_pids[i], SIGKILL);
        waitpid(s.pids[i], NULL, 0), waitpid(raw_pids[i], NULL, 0);
        sh_node_keys_free(s.keys[i]);
    }
    free(onodes);
    free(onion);
    free(raw);
    return 0;
}
