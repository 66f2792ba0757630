/* net-peer: one side of a multi-process loopback test of the net module (driven by loopback.c).
 *
 *   net-peer server [--handshake-timeout MS] [--write-queue BYTES] [--node-key HEX]
 *       Listens on 127.0.0.1 port 0 and prints "port N" and "key HEX" (its public key) on
 *       stdout. Methods: echo; delay (body: u32 ms, u32 tag; answers the tag after ms); big
 *       (body: u32 n; answers n bytes); node.echo (node method; --node-key may call it). Logs
 *       go to stderr at info level. Shuts down gracefully when stdin closes; exits 0.
 *   net-peer MODE --port N --key HEX [options]
 *       Well-behaved callers (sh_net): ooo (--calls N concurrent delayed calls, answered out of
 *       order), deadline (deadlines fire and do not hurt the link), steady (--calls N echo calls
 *       --interval MS apart, all must succeed), node (node.echo with --node-sk HEX, then without).
 *       Hostile peers (raw sockets, Noise by hand): garbage, truncated (half a handshake),
 *       wrongkey, replay (a frame sent twice), oversized (a message over the cap), hugehs (a
 *       handshake message over its limit), noread (asks for big answers and never reads; waits
 *       for stdin to close). Each hostile mode exits 0 once the server has cut it off.
 * Prints "ok ..." and exits 0 on success; prints why and exits 1 otherwise. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>
#include <uv.h>

#include "crypto/crypto.h"
#include "crypto/labels.h"
#include "net/envelope.h"
#include "net/frame.h"
#include "net/net.h"
#include "net/noise.h"
#include "util/buf.h"
#include "util/encode.h"
#include "util/err.h"
#include "util/log.h"

static struct options {
    const char *mode;
    uint16_t port;
    uint8_t key[32];
    uint8_t node_key[32], node_sk[32];
    bool has_node_key, has_node_sk;
    unsigned calls, interval_ms, handshake_timeout_ms;
    size_t write_queue;
} opt = {.calls = 100, .interval_ms = 10, .handshake_timeout_ms = 300,
         .write_queue = 256 * 1024};

static uv_loop_t loop;

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stdout, "FAIL %s: ", opt.mode);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fprintf(stdout, "\n");
    fflush(stdout);
    exit(1);
}

static void parse_key(const char *hex, uint8_t out[32])
{
    if (sh_hex_decode(out, 32, hex) != SH_OK)
        die("bad key '%s'", hex);
}

static void parse_args(int argc, char **argv)
{
    if (argc < 2)
        die("usage: net-peer server|MODE [--port N --key HEX ...]");
    opt.mode = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];

        if (strcmp(k, "--port") == 0)
            opt.port = (uint16_t)atoi(v);
        else if (strcmp(k, "--key") == 0)
            parse_key(v, opt.key);
        else if (strcmp(k, "--node-key") == 0)
            parse_key(v, opt.node_key), opt.has_node_key = true;
        else if (strcmp(k, "--node-sk") == 0)
            parse_key(v, opt.node_sk), opt.has_node_sk = true;
        else if (strcmp(k, "--calls") == 0)
            opt.calls = (unsigned)atoi(v);
        else if (strcmp(k, "--interval") == 0)
            opt.interval_ms = (unsigned)atoi(v);
        else if (strcmp(k, "--handshake-timeout") == 0)
            opt.handshake_timeout_ms = (unsigned)atoi(v);
        else if (strcmp(k, "--write-queue") == 0)
            opt.write_queue = (size_t)atol(v);
        else
            die("unknown option %s", k);
    }
}

/* Server ------------------------------------------------------------------------------------ */

static void echo_cb(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    (void)ctx;
    (void)sh_net_respond(req, SH_OK, body, len, NULL);
}

static void big_cb(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    static uint8_t zeros[SH_RPC_MAX_BODY_BYTES];
    uint32_t n = len == 4 ? sh_load_u32be(body) : 0;

    (void)ctx;
    if (n > sizeof zeros)
        n = sizeof zeros;
    (void)sh_net_respond(req, SH_OK, zeros, n, NULL);
}

typedef struct delayed {
    uv_timer_t timer;
    sh_net_req *req;
    uint8_t tag[4];
} delayed;

static void delayed_closed(uv_handle_t *h)
{
    free(h->data);
}

static void delayed_fire(uv_timer_t *t)
{
    delayed *d = t->data;

    (void)sh_net_respond(d->req, SH_OK, d->tag, sizeof d->tag, NULL);
    uv_close((uv_handle_t *)&d->timer, delayed_closed);
}

static void delay_cb(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    delayed *d;

    (void)ctx;
    if (len != 8 || (d = calloc(1, sizeof *d)) == NULL) {
        (void)sh_net_respond(req, SH_ERR_INVALID, NULL, 0, "delay takes u32 ms and u32 tag");
        return;
    }
    d->req = req;
    memcpy(d->tag, body + 4, 4);
    uv_timer_init(&loop, &d->timer);
    d->timer.data = d;
    uv_timer_start(&d->timer, delayed_fire, sh_load_u32be(body), 0);
}

static bool authorize_cb(const uint8_t key[static 32], const char *method, void *ctx)
{
    (void)method, (void)ctx;
    return opt.has_node_key && sodium_memcmp(key, opt.node_key, 32) == 0;
}

static sh_net *server_net;
static uv_pipe_t stdin_pipe;
static bool server_done;

static void server_closed_cb(void *ctx)
{
    (void)ctx;
    server_done = true;
}

static void stdin_alloc(uv_handle_t *h, size_t n, uv_buf_t *buf)
{
    static char scratch[256];

    (void)h, (void)n;
    *buf = uv_buf_init(scratch, sizeof scratch);
}

/* When the driver closes our stdin: shut down gracefully. */
static void stdin_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread >= 0)
        return;
    uv_read_stop(s);
    uv_close((uv_handle_t *)&stdin_pipe, NULL);
    if (server_net != NULL)
        sh_net_shutdown(server_net, server_closed_cb, NULL);
    else
        server_done = true;
}

static void watch_stdin(void)
{
    uv_pipe_init(&loop, &stdin_pipe, 0);
    uv_pipe_open(&stdin_pipe, 0);
    uv_read_start((uv_stream_t *)&stdin_pipe, stdin_alloc, stdin_read);
}

static int run_server(void)
{
    sh_net_config cfg;
    uint8_t sk[32], pk[32];
    char hex[65];
    uint16_t port;

    sh_net_config_default(&cfg);
    cfg.handshake_timeout_ms = opt.handshake_timeout_ms;
    cfg.max_write_queue_bytes = opt.write_queue;
    cfg.shutdown_timeout_ms = 2000;
    cfg.linger_ms = 500;
    randombytes_buf(sk, sizeof sk);
    crypto_scalarmult_base(pk, sk);
    if (sh_net_new(&loop, &cfg, &server_net) != SH_OK ||
        sh_net_listen(server_net, "127.0.0.1", 0, sk, &port) != SH_OK ||
        sh_net_register(server_net, "echo", SH_RPC_CLIENT, echo_cb, NULL, NULL) != SH_OK ||
        sh_net_register(server_net, "delay", SH_RPC_CLIENT, delay_cb, NULL, NULL) != SH_OK ||
        sh_net_register(server_net, "big", SH_RPC_CLIENT, big_cb, NULL, NULL) != SH_OK ||
        sh_net_register(server_net, "node.echo", SH_RPC_NODE, echo_cb, NULL, NULL) != SH_OK)
        die("server start: %s", sh_err_msg());
    sh_net_set_authorize(server_net, authorize_cb, NULL);
    sodium_memzero(sk, sizeof sk);
    (void)sh_hex_encode(hex, sizeof hex, pk, 32);
    printf("port %u\nkey %s\n", port, hex);
    fflush(stdout);
    watch_stdin();
    while (!server_done)
        uv_run(&loop, UV_RUN_ONCE);
    printf("ok server\n");
    return 0;
}

/* Well-behaved callers ----------------------------------------------------------------------- */

static sh_net *client_net;
static sh_net_peer *peer;
static unsigned answered, failures, out_of_order, next_expected;
static bool client_done;

static void client_closed_cb(void *ctx)
{
    (void)ctx;
    client_done = true;
}

static void client_start(const sh_net_peer_opts *opts)
{
    if (sh_net_new(&loop, NULL, &client_net) != SH_OK ||
        sh_net_peer_new(client_net, "127.0.0.1", opt.port, opt.key, opts, &peer) != SH_OK)
        die("client start: %s", sh_err_msg());
}

static void client_finish(void)
{
    sh_net_close(client_net, client_closed_cb, NULL);
    while (!client_done)
        uv_run(&loop, UV_RUN_ONCE);
}

static void ooo_cb(int status, const char *msg, const uint8_t *body, size_t len, void *ctx)
{
    uint32_t tag = (uint32_t)(uintptr_t)ctx;

    if (status != SH_OK || len != 4 || sh_load_u32be(body) != tag) {
        failures++;
        fprintf(stderr, "call %u: %s %s\n", tag, sh_err_name(status), msg);
    }
    if (tag != next_expected)
        out_of_order++;
    next_expected = tag + 1;
    answered++;
}

/* N calls at once; call i waits a pseudo-random 0-199 ms, so answers come back shuffled. */
static int run_ooo(void)
{
    client_start(NULL);
    for (uint32_t i = 0; i < opt.calls; i++) {
        uint8_t body[8];

        sh_store_u32be(body, (i * 7919u) % 200u);
        sh_store_u32be(body + 4, i);
        if (sh_net_call(peer, "delay", body, sizeof body, 10000, ooo_cb, (void *)(uintptr_t)i) !=
            SH_OK)
            die("call %u: %s", i, sh_err_msg());
    }
    while (answered < opt.calls)
        uv_run(&loop, UV_RUN_ONCE);
    client_finish();
    if (failures > 0)
        die("%u of %u calls failed", failures, opt.calls);
    if (out_of_order < opt.calls / 4)
        die("only %u answers came out of order", out_of_order);
    printf("ok %u calls in flight at once, %u answered out of order\n", opt.calls, out_of_order);
    return 0;
}

typedef struct expect {
    int status;
    bool done;
    char msg[300];
} expect;

static void expect_cb(int status, const char *msg, const uint8_t *body, size_t len, void *ctx)
{
    expect *e = ctx;

    (void)body, (void)len;
    e->status = status;
    e->done = true;
    snprintf(e->msg, sizeof e->msg, "%s", msg);
}

static void call_and_wait(const char *method, uint32_t ms, uint32_t deadline, expect *e)
{
    uint8_t body[8];

    sh_store_u32be(body, ms);
    sh_store_u32be(body + 4, 0);
    memset(e, 0, sizeof *e);
    if (sh_net_call(peer, method, body, sizeof body, deadline, expect_cb, e) != SH_OK)
        die("call: %s", sh_err_msg());
    while (!e->done)
        uv_run(&loop, UV_RUN_ONCE);
}

static int run_deadline(void)
{
    expect e;

    client_start(NULL);
    call_and_wait("delay", 10, 2000, &e);
    if (e.status != SH_OK)
        die("a 10 ms call with a 2 s deadline: %s %s", sh_err_name(e.status), e.msg);
    call_and_wait("delay", 1000, 50, &e);
    if (e.status != SH_ERR_TIMEOUT || strstr(e.msg, "within 50 ms") == NULL)
        die("a 1 s call with a 50 ms deadline: %s %s", sh_err_name(e.status), e.msg);
    /* The late answer arrives on the same link and is ignored; the link goes on. */
    call_and_wait("delay", 1100, 3000, &e);
    if (e.status != SH_OK)
        die("after a deadline: %s %s", sh_err_name(e.status), e.msg);
    client_finish();
    printf("ok deadlines\n");
    return 0;
}

static void tick_cb(uv_timer_t *t)
{
    static expect e;
    static unsigned made;

    if (made > 0 && !e.done)
        return; /* previous call still in flight */
    if (made > 0 && e.status != SH_OK)
        die("call %u of %u failed: %s %s", made, opt.calls, sh_err_name(e.status), e.msg);
    if (made == opt.calls) {
        uv_timer_stop(t);
        answered = made;
        return;
    }
    memset(&e, 0, sizeof e);
    if (sh_net_call(peer, "echo", (const uint8_t *)"steady", 6, 2000, expect_cb, &e) != SH_OK)
        die("call: %s", sh_err_msg());
    made++;
}

static int run_steady(void)
{
    uv_timer_t t;

    client_start(NULL);
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, tick_cb, 0, opt.interval_ms);
    while (answered < opt.calls)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    client_finish();
    printf("ok %u calls while others misbehaved\n", opt.calls);
    return 0;
}

static int run_node(void)
{
    sh_net_peer_opts o = {.local_static_sk = opt.node_sk};
    expect e;

    client_start(opt.has_node_sk ? &o : NULL);
    call_and_wait("node.echo", 0, 2000, &e);
    if (e.status != (opt.has_node_sk ? SH_OK : SH_ERR_PERMISSION))
        die("node.echo: %s %s", sh_err_name(e.status), e.msg);
    client_finish();
    printf("ok node.echo: %s\n", sh_err_name(e.status));
    return 0;
}

/* Hostile peers: blocking sockets and Noise by hand --------------------------------------------- */

static int raw_connect(int rcvbuf)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(opt.port)};
    struct timeval tv = {.tv_sec = 10};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("connect: %s", strerror(errno));
    return fd;
}

static void send_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n <= 0)
            die("send: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

static void recv_exact(int fd, uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);

        if (n <= 0)
            die("recv: %s", n == 0 ? "closed" : strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

/* Reads until the server closes the connection; fails after 10 s. */
static int wait_cut_off(int fd, const char *what)
{
    uint8_t buf[4096];

    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);

        if (n == 0 || (n < 0 && errno == ECONNRESET))
            break;
        if (n < 0)
            die("the server did not cut off %s: %s", what, strerror(errno));
    }
    close(fd);
    printf("ok cut off after %s\n", what);
    return 0;
}

typedef struct raw_link {
    int fd;
    sh_noise_hs hs;
    sh_frame_tx tx;
    sh_frame_rx rx;
} raw_link;

static void hs_send(raw_link *r)
{
    uint8_t msg[2 + 256];
    size_t n;

    if (sh_noise_write_message(&r->hs, NULL, 0, msg + 2, 256, &n) != SH_OK)
        die("write handshake: %s", sh_err_msg());
    sh_store_u16be(msg, (uint16_t)n);
    send_all(r->fd, msg, n + 2);
}

static void raw_handshake(raw_link *r, const uint8_t server_key[32])
{
    static const char prologue[] = SH_LABEL_LINK_PROLOGUE;
    uint8_t sk[32], msg[256], pl[64];
    sh_noise_cipher tx, rx;
    size_t pn;

    randombytes_buf(sk, sizeof sk);
    r->fd = raw_connect(0);
    if (sh_noise_hs_init(&r->hs, SH_NOISE_XK, true, (const uint8_t *)prologue,
                         sizeof prologue - 1, sk, server_key) != SH_OK)
        die("init: %s", sh_err_msg());
    hs_send(r); /* -> e, es */
    recv_exact(r->fd, msg, 2);
    if (sh_load_u16be(msg) > sizeof msg)
        die("msg2 too long");
    pn = sh_load_u16be(msg);
    recv_exact(r->fd, msg, pn);
    if (sh_noise_read_message(&r->hs, msg, pn, pl, sizeof pl, &pn) != SH_OK) /* <- e, ee */
        die("msg2: %s", sh_err_msg());
    hs_send(r); /* -> s, se */
    if (sh_noise_split(&r->hs, &tx, &rx) != SH_OK)
        die("split");
    sh__frame_tx_init(&r->tx, &tx, 0, 0);
    sh__frame_rx_init(&r->rx, &rx, SH_RPC_MAX_ENVELOPE_BYTES);
}

static int on_raw_message(void *ctx, uint8_t type, const uint8_t *data, size_t len)
{
    (void)data, (void)len;
    *(uint8_t *)ctx = type;
    return SH_OK;
}

/* Reads one whole frame and opens it; returns its type. */
static uint8_t raw_read_frame(raw_link *r)
{
    uint8_t *buf = malloc(SH_FRAME_MAX_WIRE_BYTES), type = 0;
    size_t used;

    recv_exact(r->fd, buf, 2);
    recv_exact(r->fd, buf + 2, sh_load_u16be(buf));
    if (sh__frame_rx_process(&r->rx, buf, 2 + sh_load_u16be(buf), &used, on_raw_message,
                             &type) != SH_OK)
        die("frame from the server: %s", sh_err_msg());
    free(buf);
    return type;
}

static int run_garbage(void)
{
    static const char junk[] = "GET / HTTP/1.1\r\nHost: shoal\r\n\r\n";
    int fd = raw_connect(0);

    send_all(fd, (const uint8_t *)junk, sizeof junk - 1);
    return wait_cut_off(fd, "garbage");
}

static int run_truncated(void)
{
    raw_link r;
    static const char prologue[] = SH_LABEL_LINK_PROLOGUE;
    uint8_t sk[32], msg[2 + 256];
    size_t n;

    randombytes_buf(sk, sizeof sk);
    r.fd = raw_connect(0);
    if (sh_noise_hs_init(&r.hs, SH_NOISE_XK, true, (const uint8_t *)prologue,
                         sizeof prologue - 1, sk, opt.key) != SH_OK ||
        sh_noise_write_message(&r.hs, NULL, 0, msg + 2, 256, &n) != SH_OK)
        die("handshake: %s", sh_err_msg());
    sh_store_u16be(msg, (uint16_t)n);
    send_all(r.fd, msg, 2 + n / 2); /* half of message 1, then silence */
    return wait_cut_off(r.fd, "a truncated handshake");
}

static int run_wrongkey(void)
{
    raw_link r;
    static const char prologue[] = SH_LABEL_LINK_PROLOGUE;
    uint8_t sk[32], wrong[32];

    randombytes_buf(sk, sizeof sk);
    memcpy(wrong, opt.key, 32);
    wrong[31] ^= 0x40;
    r.fd = raw_connect(0);
    if (sh_noise_hs_init(&r.hs, SH_NOISE_XK, true, (const uint8_t *)prologue,
                         sizeof prologue - 1, sk, wrong) != SH_OK)
        die("init: %s", sh_err_msg());
    hs_send(&r);
    return wait_cut_off(r.fd, "a handshake to the wrong key");
}

static int run_replay(void)
{
    raw_link r;
    sh_buf frame;

    raw_handshake(&r, opt.key);
    sh_buf_init(&frame);
    if (sh__rpc_seal_request(&r.tx, &frame, 1, "echo", 1000, (const uint8_t *)"once", 4) != SH_OK)
        die("seal: %s", sh_err_msg());
    send_all(r.fd, frame.data, frame.len);
    if (raw_read_frame(&r) != SH_FRAME_RESPONSE)
        die("no answer to the first copy");
    send_all(r.fd, frame.data, frame.len); /* the same bytes again */
    sh_buf_free(&frame);
    return wait_cut_off(r.fd, "a replayed frame");
}

static int run_oversized(void)
{
    raw_link r;
    sh_buf frames;
    uint8_t *big = calloc(1, SH_RPC_MAX_ENVELOPE_BYTES + 1);

    raw_handshake(&r, opt.key);
    sh_buf_init(&frames);
    /* A request message one byte over the envelope cap, in 9 chunks. */
    if (sh__frame_seal(&r.tx, SH_FRAME_REQUEST, big, SH_RPC_MAX_ENVELOPE_BYTES + 1, &frames) !=
        SH_OK)
        die("seal: %s", sh_err_msg());
    send_all(r.fd, frames.data, frames.len);
    sh_buf_free(&frames);
    free(big);
    return wait_cut_off(r.fd, "a message over the limit");
}

static int run_hugehs(void)
{
    uint8_t msg[2 + 2000] = {0x07, 0xd0}; /* a 2000-byte "message 1" */
    int fd = raw_connect(0);

    send_all(fd, msg, sizeof msg);
    return wait_cut_off(fd, "an oversized handshake message");
}

static int run_noread(void)
{
    raw_link r;
    sh_buf frames;
    uint8_t ask[4], c;

    raw_handshake(&r, opt.key);
    {
        int small = 4096;
        setsockopt(r.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    sh_buf_init(&frames);
    sh_store_u32be(ask, SH_RPC_MAX_BODY_BYTES);
    for (uint64_t id = 1; id <= 64; id++) {
        sh_buf_reset(&frames);
        if (sh__rpc_seal_request(&r.tx, &frames, id, "big", 10000, ask, sizeof ask) != SH_OK)
            die("seal: %s", sh_err_msg());
        send_all(r.fd, frames.data, frames.len);
    }
    sh_buf_free(&frames);
    printf("ok asked for 32 MiB and stopped reading\n");
    fflush(stdout);
    while (read(0, &c, 1) > 0) /* until the driver closes stdin */
        ;
    close(r.fd);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(void);
    } modes[] = {
        {"server", run_server},       {"ooo", run_ooo},           {"deadline", run_deadline},
        {"steady", run_steady},       {"node", run_node},         {"garbage", run_garbage},
        {"truncated", run_truncated}, {"wrongkey", run_wrongkey}, {"replay", run_replay},
        {"oversized", run_oversized}, {"hugehs", run_hugehs},     {"noread", run_noread},
    };

    parse_args(argc, argv);
    if (sh_crypto_init() != SH_OK)
        die("libsodium");
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(opt.mode, "server") == 0)
        sh_log_set_level(SH_LOG_INFO);
    sh_log_set_ident(opt.mode);
    uv_loop_init(&loop);
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (strcmp(opt.mode, modes[i].name) == 0) {
            int rc = modes[i].run();

            uv_run(&loop, UV_RUN_NOWAIT);
            (void)uv_loop_close(&loop);
            return rc;
        }
    }
    die("unknown mode");
}
