/* Shoal RPC against raw libuv TCP on loopback, server and client on their own threads (their
 * own loops, so on different cores as in production), in one run:
 *   round trips: one 1 KiB message (call) at a time, echoed back;
 *   throughput: pipelined 60 KiB messages (calls), PIPELINE_DEPTH in flight, each acknowledged
 *   with an empty answer.
 * The raw side frames messages with a 4-byte length and does nothing else; the Shoal side runs
 * the whole stack (Noise, frames, protobuf envelopes, dispatch). The two alternate in slices.
 * Figures: raw_roundtrip_per_s, rpc_roundtrip_per_s, rpc_roundtrip_ratio (target >= 0.6),
 * raw_throughput_mb_s, rpc_throughput_mb_s, rpc_throughput_ratio (target >= 0.5). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bench.h"
#include "crypto/crypto.h"
#include "net/net.h"
#include "util/buf.h"
#include "util/err.h"

#define PING_BYTES 1024u
#define BULK_BYTES (60u * 1024u) /* one frame with its envelope */
#define PIPELINE_DEPTH 32u
#define ROUNDS 5

static uint8_t payload[BULK_BYTES];

/* The server thread ------------------------------------------------------------------------- */

typedef struct server {
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t stop;
    uv_tcp_t raw_listener;
    sh_net *net;
    uint16_t raw_port, rpc_port;
    uint8_t pk[32];
} server;

typedef struct raw_conn {
    uv_tcp_t tcp;
    sh_buf in;
} raw_conn;

typedef struct raw_write {
    uv_write_t req;
    uint32_t len;
    uint8_t data[];
} raw_write;

static void raw_write_done(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

/* Sends [u32 len][len bytes]: the echo of a ping, or an empty acknowledgement. */
static void raw_send(uv_stream_t *s, const uint8_t *data, uint32_t len)
{
    raw_write *w = malloc(sizeof *w + 4 + len);
    uv_buf_t b = uv_buf_init((char *)w->data, 4 + len);

    sh_store_u32be(w->data, len);
    memcpy(w->data + 4, data, len);
    uv_write(&w->req, s, &b, 1, raw_write_done);
}

static void raw_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    raw_conn *c = h->data;

    (void)suggested;
    if (sh_buf_reserve(&c->in, 256 * 1024) != SH_OK)
        abort();
    *buf = uv_buf_init((char *)c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

static void raw_conn_closed(uv_handle_t *h)
{
    raw_conn *c = h->data;

    sh_buf_free(&c->in);
    free(c);
}

/* Server side: pings (<= PING_BYTES) are echoed, bulk messages acknowledged empty. */
static void raw_server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    raw_conn *c = s->data;
    size_t pos = 0;

    (void)buf;
    if (nread < 0) {
        uv_close((uv_handle_t *)s, raw_conn_closed);
        return;
    }
    c->in.len += (size_t)nread;
    while (c->in.len - pos >= 4 && c->in.len - pos - 4 >= sh_load_u32be(c->in.data + pos)) {
        uint32_t len = sh_load_u32be(c->in.data + pos);

        raw_send(s, c->in.data + pos + 4, len <= PING_BYTES ? len : 0);
        pos += 4 + len;
    }
    memmove(c->in.data, c->in.data + pos, c->in.len - pos);
    c->in.len -= pos;
}

static void raw_on_connection(uv_stream_t *listener, int status)
{
    raw_conn *c = calloc(1, sizeof *c);

    (void)status;
    sh_buf_init(&c->in);
    uv_tcp_init(listener->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0)
        abort();
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, raw_alloc, raw_server_read);
}

static void echo_cb(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    (void)ctx;
    (void)sh_net_respond(req, SH_OK, body, len, NULL);
}

static void sink_cb(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    (void)body, (void)len, (void)ctx;
    (void)sh_net_respond(req, SH_OK, NULL, 0, NULL);
}

static void server_stop(uv_async_t *a)
{
    server *s = a->data;

    sh_net_close(s->net, NULL, NULL);
    uv_close((uv_handle_t *)&s->raw_listener, NULL);
    uv_close((uv_handle_t *)&s->stop, NULL);
}

static void server_thread(void *arg)
{
    server *s = arg;

    uv_run(&s->loop, UV_RUN_DEFAULT); /* until server_stop has closed everything */
}

static void server_start(server *s)
{
    struct sockaddr_in sa;
    int len = sizeof sa;
    sh_net_config cfg;
    uint8_t sk[32];

    uv_loop_init(&s->loop);
    uv_async_init(&s->loop, &s->stop, server_stop);
    s->stop.data = s;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_init(&s->loop, &s->raw_listener);
    if (uv_tcp_bind(&s->raw_listener, (struct sockaddr *)&sa, 0) != 0 ||
        uv_listen((uv_stream_t *)&s->raw_listener, 16, raw_on_connection) != 0)
        abort();
    uv_tcp_getsockname(&s->raw_listener, (struct sockaddr *)&sa, &len);
    s->raw_port = ntohs(sa.sin_port);
    sh_net_config_default(&cfg);
    cfg.max_write_queue_bytes = 64u * 1024u * 1024u;
    cfg.peer_rate_per_s = 10000000;
    cfg.peer_burst = 10000000;
    randombytes_buf(sk, sizeof sk);
    crypto_scalarmult_base(s->pk, sk);
    if (sh_net_new(&s->loop, &cfg, &s->net) != SH_OK ||
        sh_net_listen(s->net, "127.0.0.1", 0, sk, &s->rpc_port) != SH_OK ||
        sh_net_register(s->net, "echo", SH_RPC_CLIENT, echo_cb, NULL, NULL) != SH_OK ||
        sh_net_register(s->net, "sink", SH_RPC_CLIENT, sink_cb, NULL, NULL) != SH_OK) {
        fprintf(stderr, "server: %s\n", sh_err_msg());
        exit(1);
    }
    uv_thread_create(&s->thread, server_thread, s);
}

/* Raw client ---------------------------------------------------------------------------------- */

typedef struct raw_client {
    uv_tcp_t tcp;
    uv_connect_t connect;
    sh_buf in;
    uint64_t sent, done, target;
    uint32_t msg_len, depth;
    bool connected, finished;
} raw_client;

static void raw_client_send(raw_client *c)
{
    raw_write *w = malloc(sizeof *w + 4);
    uv_buf_t b[2];

    sh_store_u32be(w->data, c->msg_len);
    b[0] = uv_buf_init((char *)w->data, 4);
    b[1] = uv_buf_init((char *)payload, c->msg_len);
    uv_write(&w->req, (uv_stream_t *)&c->tcp, b, 2, raw_write_done);
    c->sent++;
}

static void raw_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    raw_client *c = h->data;

    (void)suggested;
    if (sh_buf_reserve(&c->in, 256 * 1024) != SH_OK)
        abort();
    *buf = uv_buf_init((char *)c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

static void raw_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    raw_client *c = s->data;
    size_t pos = 0;

    (void)buf;
    if (nread < 0)
        abort();
    c->in.len += (size_t)nread;
    while (c->in.len - pos >= 4 && c->in.len - pos - 4 >= sh_load_u32be(c->in.data + pos)) {
        pos += 4 + sh_load_u32be(c->in.data + pos);
        c->done++;
        if (c->sent < c->target)
            raw_client_send(c);
    }
    memmove(c->in.data, c->in.data + pos, c->in.len - pos);
    c->in.len -= pos;
    if (c->done == c->target)
        c->finished = true;
}

static void raw_client_connected(uv_connect_t *req, int status)
{
    raw_client *c = req->data;

    if (status != 0)
        abort();
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, raw_client_alloc, raw_client_read);
    c->connected = true;
}

/* Runs `target` messages of msg_len bytes with `depth` in flight; returns seconds. */
static double raw_run(uv_loop_t *loop, uint16_t port, uint32_t msg_len, uint32_t depth,
                      uint64_t target)
{
    raw_client c = {.msg_len = msg_len, .depth = depth, .target = target};
    struct sockaddr_in sa;
    double t0;

    sh_buf_init(&c.in);
    uv_ip4_addr("127.0.0.1", port, &sa);
    uv_tcp_init(loop, &c.tcp);
    c.tcp.data = c.connect.data = &c;
    uv_tcp_connect(&c.connect, &c.tcp, (struct sockaddr *)&sa, raw_client_connected);
    while (!c.connected)
        uv_run(loop, UV_RUN_ONCE);
    t0 = bench_now_s();
    for (uint32_t i = 0; i < depth && c.sent < target; i++)
        raw_client_send(&c);
    while (!c.finished)
        uv_run(loop, UV_RUN_ONCE);
    t0 = bench_now_s() - t0;
    uv_close((uv_handle_t *)&c.tcp, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    sh_buf_free(&c.in);
    return t0;
}

/* Shoal client -------------------------------------------------------------------------------- */

typedef struct rpc_client {
    sh_net_peer *peer;
    const char *method;
    uint64_t sent, done, target;
    uint32_t msg_len;
    bool finished;
} rpc_client;

static void rpc_send(rpc_client *c);

static void rpc_answer(int status, const char *msg, const uint8_t *body, size_t len, void *ctx)
{
    rpc_client *c = ctx;

    (void)body, (void)len;
    if (status != SH_OK) {
        fprintf(stderr, "call failed: %s %s\n", sh_err_name(status), msg);
        exit(1);
    }
    c->done++;
    if (c->sent < c->target)
        rpc_send(c);
    if (c->done == c->target)
        c->finished = true;
}

static void rpc_send(rpc_client *c)
{
    if (sh_net_call(c->peer, c->method, payload, c->msg_len, 30000, rpc_answer, c) != SH_OK) {
        fprintf(stderr, "call: %s\n", sh_err_msg());
        exit(1);
    }
    c->sent++;
}

static double rpc_run(uv_loop_t *loop, sh_net_peer *peer, const char *method, uint32_t msg_len,
                      uint32_t depth, uint64_t target)
{
    rpc_client c = {.peer = peer, .method = method, .msg_len = msg_len, .target = target};
    double t0 = bench_now_s();

    for (uint32_t i = 0; i < depth && c.sent < target; i++)
        rpc_send(&c);
    while (!c.finished)
        uv_run(loop, UV_RUN_ONCE);
    return bench_now_s() - t0;
}

int main(void)
{
    static server srv;
    uv_loop_t loop;
    sh_net *net;
    sh_net_peer *peer;
    sh_net_config cfg;
    uint64_t pings = bench_iters(40000), bulk = bench_iters(20000);
    double raw_rt = 0, rpc_rt = 0, raw_tp = 0, rpc_tp = 0;

    if (sh_crypto_init() != SH_OK)
        return 1;
    randombytes_buf(payload, sizeof payload);
    server_start(&srv);
    uv_loop_init(&loop);
    sh_net_config_default(&cfg);
    cfg.max_write_queue_bytes = 64u * 1024u * 1024u;
    if (sh_net_new(&loop, &cfg, &net) != SH_OK ||
        sh_net_peer_new(net, "127.0.0.1", srv.rpc_port, srv.pk, NULL, &peer) != SH_OK)
        return 1;
    /* Warm up both paths (connections, handshake, allocator). */
    (void)raw_run(&loop, srv.raw_port, PING_BYTES, 1, 200);
    (void)rpc_run(&loop, peer, "echo", PING_BYTES, 1, 200);

    /* Alternate raw and Shoal in ROUNDS slices, so that load swings on this shared machine hit
     * both alike. */
    for (int r = 0; r < ROUNDS; r++) {
        raw_rt += raw_run(&loop, srv.raw_port, PING_BYTES, 1, pings / ROUNDS);
        rpc_rt += rpc_run(&loop, peer, "echo", PING_BYTES, 1, pings / ROUNDS);
    }
    raw_rt = (double)(pings / ROUNDS * ROUNDS) / raw_rt;
    rpc_rt = (double)(pings / ROUNDS * ROUNDS) / rpc_rt;
    printf("round trips of 1 KiB, one at a time: raw libuv %.0f/s, Shoal RPC %.0f/s "
           "(%.1f vs %.1f us each)\n", raw_rt, rpc_rt, 1e6 / raw_rt, 1e6 / rpc_rt);
    for (int r = 0; r < ROUNDS; r++) {
        raw_tp += raw_run(&loop, srv.raw_port, BULK_BYTES, PIPELINE_DEPTH, bulk / ROUNDS);
        rpc_tp += rpc_run(&loop, peer, "sink", BULK_BYTES, PIPELINE_DEPTH, bulk / ROUNDS);
    }
    raw_tp = (double)(bulk / ROUNDS * ROUNDS) * BULK_BYTES / raw_tp / 1e6;
    rpc_tp = (double)(bulk / ROUNDS * ROUNDS) * BULK_BYTES / rpc_tp / 1e6;
    printf("pipelined %u KiB messages, %u in flight: raw libuv %.0f MB/s, Shoal RPC %.0f MB/s\n",
           BULK_BYTES / 1024, PIPELINE_DEPTH, raw_tp, rpc_tp);
    bench_report("raw_roundtrip_per_s", raw_rt, "1/s");
    bench_report("rpc_roundtrip_per_s", rpc_rt, "1/s");
    bench_report("rpc_roundtrip_ratio", rpc_rt / raw_rt, "ratio");
    bench_report("raw_throughput_mb_s", raw_tp, "MB/s");
    bench_report("rpc_throughput_mb_s", rpc_tp, "MB/s");
    bench_report("rpc_throughput_ratio", rpc_tp / raw_tp, "ratio");

    sh_net_close(net, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    uv_async_send(&srv.stop);
    uv_thread_join(&srv.thread);
    return 0;
}
