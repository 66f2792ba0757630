/* Shoal RPC against raw libuv TCP on loopback, and against the AEAD it cannot outrun.
 * The server runs in its own process (as in production and in tests/net/loopback.c), so the
 * caller's sealing and the server's opening run on different cores. In one run:
 *   round trips: one 1 KiB message (call) at a time, echoed back;
 *   throughput: 60 KiB messages (calls) pipelined PIPELINE_DEPTH deep, each acknowledged with
 *   an empty answer;
 *   aead: libsodium's ChaCha20-Poly1305 (IETF) sealing and opening 64 KiB frames on one core.
 * The raw side frames messages with a 4-byte length and does nothing else, and makes the
 * system calls Shoal makes: what one read callback answers or sends leaves in one write. The
 * Shoal side runs the whole stack (Noise, frames, protobuf envelopes, dispatch). Raw, Shoal and
 * AEAD alternate in slices so that load swings on this shared machine hit them alike.
 * Figures: raw_roundtrip_per_s, rpc_roundtrip_per_s, rpc_roundtrip_ratio (target >= 0.6),
 * raw_throughput_mb_s, rpc_throughput_mb_s, rpc_throughput_ratio (target >= 0.5),
 * aead_seal_open_mb_s (one core sealing and opening each frame), rpc_throughput_vs_aead (up to
 * 2 when both ends have a core of their own, up to 1 when they share one), and, unmoved by the
 * load of other processes: raw_cpu_ns_per_byte and rpc_cpu_ns_per_byte (CPU time of both
 * processes per byte moved) and aead_share_of_rpc_cpu (the part of the latter that sealing and
 * opening alone need).
 * Usage: bench-net-rpc [roundtrip|throughput|profile] (default: both; profile runs only Shoal's
 * pipelined calls, for perf). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
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
#define READ_BYTES (256u * 1024u) /* as net's read buffers */
#define AEAD_FRAME_BYTES 65519u    /* the largest frame plaintext */

static uint8_t payload[BULK_BYTES];

typedef struct raw_write {
    uv_write_t req;
    uint8_t data[];
} raw_write;

static void raw_write_done(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

/* Messages are [u32 len][len bytes]; a connection reads into `in`. */
static void raw_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    sh_buf *in = h->data;

    (void)suggested;
    if (sh_buf_reserve(in, READ_BYTES) != SH_OK)
        abort();
    *buf = uv_buf_init((char *)in->data + in->len, (unsigned)(in->cap - in->len));
}

/* Length of the whole message at in[pos, len), or 0 while it is incomplete. */
static size_t raw_message_at(const sh_buf *in, size_t pos)
{
    size_t left = in->len - pos;

    if (left < 4 || left - 4 < sh_load_u32be(in->data + pos))
        return 0;
    return 4 + sh_load_u32be(in->data + pos);
}

/* The server process ------------------------------------------------------------------------ */

typedef struct server {
    uv_loop_t loop;
    uv_pipe_t stop; /* reads EOF when the client process is done */
    uv_tcp_t raw_listener;
    sh_net *net;
} server;

/* What the server process tells the client process. */
typedef struct server_info {
    uint16_t raw_port, rpc_port;
    uint8_t pk[32];
} server_info;

typedef struct raw_conn {
    uv_tcp_t tcp;
    sh_buf in;
} raw_conn;

static void raw_conn_closed(uv_handle_t *h)
{
    raw_conn *c = (raw_conn *)h;

    sh_buf_free(&c->in);
    free(c);
}

/* Pings (<= PING_BYTES) are echoed, bulk messages acknowledged empty; the answers to what one
 * read brought go out in one write. */
static void raw_server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    raw_conn *c = (raw_conn *)s;
    size_t pos = 0, out_len = 0, n;
    raw_write *w;
    uv_buf_t b;

    (void)buf;
    if (nread < 0) {
        uv_close((uv_handle_t *)s, raw_conn_closed);
        return;
    }
    c->in.len += (size_t)nread;
    for (size_t p = 0; (n = raw_message_at(&c->in, p)) != 0; p += n)
        out_len += n - 4 <= PING_BYTES ? n : 4;
    if (out_len > 0) {
        w = malloc(sizeof *w + out_len);
        if (w == NULL)
            abort();
        for (size_t o = 0; (n = raw_message_at(&c->in, pos)) != 0; pos += n) {
            size_t echo = n - 4 <= PING_BYTES ? n - 4 : 0;

            sh_store_u32be(w->data + o, (uint32_t)echo);
            memcpy(w->data + o + 4, c->in.data + pos + 4, echo);
            o += 4 + echo;
        }
        b = uv_buf_init((char *)w->data, (unsigned)out_len);
        uv_write(&w->req, s, &b, 1, raw_write_done);
    }
    memmove(c->in.data, c->in.data + pos, c->in.len - pos);
    c->in.len -= pos;
}

static void raw_on_connection(uv_stream_t *listener, int status)
{
    raw_conn *c = calloc(1, sizeof *c);

    if (status != 0 || c == NULL)
        abort();
    sh_buf_init(&c->in);
    uv_tcp_init(listener->loop, &c->tcp);
    c->tcp.data = &c->in;
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

static void stop_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char scratch[64];

    (void)h, (void)suggested;
    *buf = uv_buf_init(scratch, sizeof scratch);
}

/* The client process is done: close everything, so that the loop returns. */
static void stop_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    server *srv = s->data;

    (void)buf;
    if (nread == 0)
        return;
    sh_net_close(srv->net, NULL, NULL);
    uv_close((uv_handle_t *)&srv->raw_listener, NULL);
    uv_close((uv_handle_t *)&srv->stop, NULL);
}

/* Runs in the child: listens, reports its ports and key on info_fd, serves until stop_fd ends. */
static int server_main(int info_fd, int stop_fd)
{
    static server srv;
    struct sockaddr_in sa;
    int len = sizeof sa;
    sh_net_config cfg;
    server_info info;
    uint8_t sk[32];

    uv_loop_init(&srv.loop);
    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_init(&srv.loop, &srv.raw_listener);
    if (uv_tcp_bind(&srv.raw_listener, (struct sockaddr *)&sa, 0) != 0 ||
        uv_listen((uv_stream_t *)&srv.raw_listener, 16, raw_on_connection) != 0)
        return 1;
    uv_tcp_getsockname(&srv.raw_listener, (struct sockaddr *)&sa, &len);
    info.raw_port = ntohs(sa.sin_port);
    sh_net_config_default(&cfg);
    cfg.max_write_queue_bytes = 64u * 1024u * 1024u;
    cfg.peer_rate_per_s = 10000000;
    cfg.peer_burst = 10000000;
    randombytes_buf(sk, sizeof sk);
    crypto_scalarmult_base(info.pk, sk);
    if (sh_net_new(&srv.loop, &cfg, &srv.net) != SH_OK ||
        sh_net_listen(srv.net, "127.0.0.1", 0, sk, &info.rpc_port) != SH_OK ||
        sh_net_register(srv.net, "echo", SH_RPC_CLIENT, echo_cb, NULL, NULL) != SH_OK ||
        sh_net_register(srv.net, "sink", SH_RPC_CLIENT, sink_cb, NULL, NULL) != SH_OK) {
        fprintf(stderr, "server: %s\n", sh_err_msg());
        return 1;
    }
    sodium_memzero(sk, sizeof sk);
    uv_pipe_init(&srv.loop, &srv.stop, 0);
    srv.stop.data = &srv;
    if (uv_pipe_open(&srv.stop, stop_fd) != 0 ||
        uv_read_start((uv_stream_t *)&srv.stop, stop_alloc, stop_read) != 0 ||
        write(info_fd, &info, sizeof info) != (ssize_t)sizeof info)
        return 1;
    close(info_fd);
    uv_run(&srv.loop, UV_RUN_DEFAULT); /* until stop_read has closed everything */
    return uv_loop_close(&srv.loop) == 0 ? 0 : 1;
}

/* Raw client ---------------------------------------------------------------------------------- */

typedef struct raw_client {
    uv_tcp_t tcp;
    uv_connect_t connect;
    sh_buf in;
    uint64_t sent, done, target;
    uint32_t msg_len;
    bool connected, finished;
} raw_client;

/* Sends n messages in one write: their length prefixes, each followed by the payload. */
static void raw_client_send(raw_client *c, uint32_t n)
{
    raw_write *w = malloc(sizeof *w + 4 * (size_t)n);
    uv_buf_t b[2 * PIPELINE_DEPTH];

    if (w == NULL || n > PIPELINE_DEPTH)
        abort();
    for (uint32_t i = 0; i < n; i++) {
        sh_store_u32be(w->data + 4 * i, c->msg_len);
        b[2 * i] = uv_buf_init((char *)w->data + 4 * i, 4);
        b[2 * i + 1] = uv_buf_init((char *)payload, c->msg_len);
    }
    uv_write(&w->req, (uv_stream_t *)&c->tcp, b, 2 * n, raw_write_done);
    c->sent += n;
}

/* Each answer lets one more message go; those that one read lets go leave in one write. */
static void raw_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    raw_client *c = (raw_client *)s;
    size_t pos = 0, n;
    uint32_t more = 0;

    (void)buf;
    if (nread < 0)
        abort();
    c->in.len += (size_t)nread;
    for (; (n = raw_message_at(&c->in, pos)) != 0; pos += n) {
        c->done++;
        if (c->sent + more < c->target)
            more++;
    }
    if (more > 0)
        raw_client_send(c, more);
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
    uv_read_start((uv_stream_t *)&c->tcp, raw_alloc, raw_client_read);
    c->connected = true;
}

/* Runs `target` messages of msg_len bytes with `depth` in flight on a new connection; returns
 * seconds. */
static double raw_run(uv_loop_t *loop, uint16_t port, uint32_t msg_len, uint32_t depth,
                      uint64_t target)
{
    raw_client c = {.msg_len = msg_len, .target = target};
    struct sockaddr_in sa;
    double t0;

    sh_buf_init(&c.in);
    uv_ip4_addr("127.0.0.1", port, &sa);
    uv_tcp_init(loop, &c.tcp);
    c.tcp.data = &c.in;
    c.connect.data = &c;
    uv_tcp_connect(&c.connect, &c.tcp, (struct sockaddr *)&sa, raw_client_connected);
    while (!c.connected)
        uv_run(loop, UV_RUN_ONCE);
    t0 = bench_now_s();
    raw_client_send(&c, (uint32_t)(depth < target ? depth : target));
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

/* The limit of the crypto ------------------------------------------------------------------- */

/* Seals and opens `frames` frames of the largest size on this core, as a link's two ends do;
 * returns seconds. */
static double aead_run(uint64_t frames)
{
    static uint8_t buf[AEAD_FRAME_BYTES + crypto_aead_chacha20poly1305_ietf_ABYTES];
    uint8_t key[crypto_aead_chacha20poly1305_ietf_KEYBYTES];
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {0};
    double t0;

    randombytes_buf(key, sizeof key);
    memcpy(buf, payload, sizeof payload);
    t0 = bench_now_s();
    for (uint64_t i = 0; i < frames; i++) {
        sh_store_u64le(nonce + 4, i);
        crypto_aead_chacha20poly1305_ietf_encrypt(buf, NULL, buf, AEAD_FRAME_BYTES, NULL, 0,
                                                  NULL, nonce, key);
        if (crypto_aead_chacha20poly1305_ietf_decrypt(buf, NULL, NULL, buf, sizeof buf, NULL, 0,
                                                      nonce, key) != 0)
            abort();
    }
    t0 = bench_now_s() - t0;
    sodium_memzero(key, sizeof key);
    return t0;
}

/* Main ---------------------------------------------------------------------------------------- */

static pid_t server_spawn(server_info *info, int *stop_fd)
{
    int info_pipe[2], stop_pipe[2];
    pid_t pid;

    if (pipe(info_pipe) != 0 || pipe(stop_pipe) != 0)
        abort();
    fflush(stdout);
    pid = fork();
    if (pid < 0)
        abort();
    if (pid == 0) {
        close(info_pipe[0]);
        close(stop_pipe[1]);
        _exit(server_main(info_pipe[1], stop_pipe[0]));
    }
    close(info_pipe[1]);
    close(stop_pipe[0]);
    if (read(info_pipe[0], info, sizeof *info) != (ssize_t)sizeof *info) {
        fprintf(stderr, "the server process did not start\n");
        exit(1);
    }
    close(info_pipe[0]);
    *stop_fd = stop_pipe[1];
    return pid;
}

static void roundtrips(uv_loop_t *loop, const server_info *info, sh_net_peer *peer)
{
    uint64_t n = bench_iters(40000) / ROUNDS;
    double raw = 0, rpc = 0;

    for (int r = 0; r < ROUNDS; r++) {
        raw += raw_run(loop, info->raw_port, PING_BYTES, 1, n);
        rpc += rpc_run(loop, peer, "echo", PING_BYTES, 1, n);
    }
    raw = (double)(n * ROUNDS) / raw;
    rpc = (double)(n * ROUNDS) / rpc;
    printf("round trips of 1 KiB, one at a time: raw libuv %.0f/s, Shoal RPC %.0f/s "
           "(%.1f vs %.1f us each)\n", raw, rpc, 1e6 / raw, 1e6 / rpc);
    bench_report("raw_roundtrip_per_s", raw, "1/s");
    bench_report("rpc_roundtrip_per_s", rpc, "1/s");
    bench_report("rpc_roundtrip_ratio", rpc / raw, "ratio");
}

/* CPU seconds used so far by this process and by the server process. */
static clockid_t server_clock;

static double cpu_seconds(void)
{
    struct timespec self, server;

    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &self) != 0 ||
        clock_gettime(server_clock, &server) != 0)
        abort();
    return (double)self.tv_sec + (double)self.tv_nsec / 1e9 + (double)server.tv_sec +
           (double)server.tv_nsec / 1e9;
}

static void throughput(uv_loop_t *loop, const server_info *info, sh_net_peer *peer)
{
    uint64_t n = bench_iters(20000) / ROUNDS, frames = bench_iters(4000) / ROUNDS;
    double raw = 0, rpc = 0, aead = 0, raw_cpu = 0, rpc_cpu = 0, c;
    double bytes = (double)(n * ROUNDS) * BULK_BYTES;

    for (int r = 0; r < ROUNDS; r++) {
        c = cpu_seconds();
        raw += raw_run(loop, info->raw_port, BULK_BYTES, PIPELINE_DEPTH, n);
        raw_cpu += cpu_seconds() - c;
        c = cpu_seconds();
        rpc += rpc_run(loop, peer, "sink", BULK_BYTES, PIPELINE_DEPTH, n);
        rpc_cpu += cpu_seconds() - c;
        aead += aead_run(frames);
    }
    raw = bytes / raw / 1e6;
    rpc = bytes / rpc / 1e6;
    aead = (double)(frames * ROUNDS) * AEAD_FRAME_BYTES / aead / 1e6;
    printf("pipelined %u KiB messages, %u in flight: raw libuv %.0f MB/s, Shoal RPC %.0f MB/s\n",
           BULK_BYTES / 1024, PIPELINE_DEPTH, raw, rpc);
    printf("CPU of both processes per byte moved: raw libuv %.2f ns, Shoal RPC %.2f ns\n",
           raw_cpu / bytes * 1e9, rpc_cpu / bytes * 1e9);
    printf("ChaCha20-Poly1305 sealing and opening 64 KiB frames on one core: %.0f MB/s, %.2f ns "
           "per byte\n", aead, 1e3 / aead);
    bench_report("raw_throughput_mb_s", raw, "MB/s");
    bench_report("rpc_throughput_mb_s", rpc, "MB/s");
    bench_report("rpc_throughput_ratio", rpc / raw, "ratio");
    bench_report("aead_seal_open_mb_s", aead, "MB/s");
    bench_report("rpc_throughput_vs_aead", rpc / aead, "ratio");
    bench_report("raw_cpu_ns_per_byte", raw_cpu / bytes * 1e9, "ns");
    bench_report("rpc_cpu_ns_per_byte", rpc_cpu / bytes * 1e9, "ns");
    bench_report("aead_share_of_rpc_cpu", 1e3 / aead / (rpc_cpu / bytes * 1e9), "ratio");
}

int main(int argc, char **argv)
{
    bool all = argc < 2, rt = all, tp = all, prof = false;
    server_info info;
    uv_loop_t loop;
    sh_net *net;
    sh_net_peer *peer;
    sh_net_config cfg;
    int stop_fd, status;
    pid_t pid;

    for (int i = 1; i < argc; i++) {
        rt |= strcmp(argv[i], "roundtrip") == 0;
        tp |= strcmp(argv[i], "throughput") == 0;
        prof |= strcmp(argv[i], "profile") == 0;
    }
    if (sh_crypto_init() != SH_OK)
        return 1;
    randombytes_buf(payload, sizeof payload);
    pid = server_spawn(&info, &stop_fd);
    if (clock_getcpuclockid(pid, &server_clock) != 0)
        return 1;
    uv_loop_init(&loop);
    sh_net_config_default(&cfg);
    cfg.max_write_queue_bytes = 64u * 1024u * 1024u;
    if (sh_net_new(&loop, &cfg, &net) != SH_OK ||
        sh_net_peer_new(net, "127.0.0.1", info.rpc_port, info.pk, NULL, &peer) != SH_OK)
        return 1;
    /* Warm up both paths (connections, handshake, allocator). */
    (void)raw_run(&loop, info.raw_port, PING_BYTES, 1, 200);
    (void)rpc_run(&loop, peer, "echo", PING_BYTES, 1, 200);
    if (rt)
        roundtrips(&loop, &info, peer);
    if (tp)
        throughput(&loop, &info, peer);
    if (prof) {
        double bytes = (double)bench_iters(40000) * BULK_BYTES, c = cpu_seconds();

        printf("Shoal RPC pipelined: %.0f MB/s", bytes / 1e6 /
               rpc_run(&loop, peer, "sink", BULK_BYTES, PIPELINE_DEPTH, bench_iters(40000)));
        printf(", %.2f ns of CPU per byte\n", (cpu_seconds() - c) / bytes * 1e9);
    }

    sh_net_close(net, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    close(stop_fd);
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "the server process failed\n");
        return 1;
    }
    return 0;
}
