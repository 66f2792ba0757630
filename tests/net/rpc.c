/* RPC over real loopback links, server and client on one loop in one process: answers in and
 * out of order, errors (unknown method, node methods and authorization, rate limits, bad
 * arguments), bodies up to the limit, deadlines, cancellation of handlers, keepalive and idle
 * timeouts, connect and handshake timeouts, wrong keys, link caps, reconnecting with backoff,
 * rekeying, and graceful shutdown. Timeouts are configured in tens of milliseconds. The
 * multi-process tests (loopback.c) cover hostile peers. */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "crypto/crypto.h"
#include "net/internal.h"
#include "net/net.h"

#define U(s) ((const uint8_t *)(s))

static uv_loop_t loop;
static uint8_t server_sk[32], server_pk[32], node_sk[32], node_pk[32];

/* Runs the loop until *flag is true; fails the test after 10 s so that a bug cannot hang CI. */
static void guard_cb(uv_timer_t *t)
{
    (void)t;
    test_fail(__FILE__, __LINE__, "the loop did not reach its condition within 10 s");
}

static void run_until(const bool *flag)
{
    uv_timer_t guard;

    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, guard_cb, 10000, 0);
    while (!*flag)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
}

/* Runs the loop for `ms` of loop time (for idle and keepalive timers set to tens of ms). */
static void wait_cb(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static void run_for(uint64_t ms)
{
    uv_timer_t t;
    bool done = false;

    uv_timer_init(&loop, &t);
    t.data = &done;
    uv_timer_start(&t, wait_cb, ms, 0);
    run_until(&done);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
}

static void closed_cb(void *ctx)
{
    *(bool *)ctx = true;
}

static void close_net(sh_net *net)
{
    bool closed = false;

    sh_net_close(net, closed_cb, &closed);
    run_until(&closed);
}

/* Answers ----------------------------------------------------------------------------------- */

typedef struct answer {
    bool done;
    int status;
    char msg[300];
    sh_buf body;
    int order;
} answer;

static int answers_seen;

static void answer_cb(int status, const char *msg, const uint8_t *body, size_t len, void *ctx)
{
    answer *a = ctx;

    CHECK(!a->done); /* exactly once */
    a->done = true;
    a->status = status;
    a->order = answers_seen++;
    snprintf(a->msg, sizeof a->msg, "%s", msg);
    sh_buf_init(&a->body);
    CHECK_OK(sh_buf_append(&a->body, body, len));
}

static void answer_free(answer *a)
{
    sh_buf_free(&a->body);
    memset(a, 0, sizeof *a);
}

/* Server methods ------------------------------------------------------------------------------- */

static void echo_cb(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    (void)ctx;
    CHECK_OK(sh_net_respond(req, SH_OK, body, len, NULL));
}

/* Answers with as many bytes as the 4-byte body asks for. */
static void big_cb(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    static uint8_t zeros[SH_RPC_MAX_BODY_BYTES];

    (void)ctx;
    CHECK(len == 4);
    int rc = sh_net_respond(req, SH_OK, zeros, sh_load_u32be(body), NULL);

    CHECK(rc == SH_OK || rc == SH_ERR_CANCELLED); /* cancelled once the link is cut off */
}

/* Answers after the number of milliseconds in the body's first 4 bytes. */
typedef struct later {
    uv_timer_t timer;
    sh_net_req *req;
    uint32_t tag;
} later;

static void later_closed(uv_handle_t *h)
{
    free(h->data);
}

static void later_fire(uv_timer_t *t)
{
    later *w = t->data;
    uint8_t out[4];

    sh_store_u32be(out, w->tag);
    (void)sh_net_respond(w->req, SH_OK, out, sizeof out, NULL);
    uv_close((uv_handle_t *)&w->timer, later_closed);
}

static void later_cb(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    later *w = calloc(1, sizeof *w);

    (void)ctx;
    CHECK(len == 8);
    w->req = req;
    w->tag = sh_load_u32be(body + 4);
    uv_timer_init(&loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, later_fire, sh_load_u32be(body), 0);
}

/* Holds requests, and the bodies they came with, until the test answers them (or their link
 * dies). */
static sh_net_req *held[256];
static const uint8_t *held_body[256];
static size_t held_len[256];
static int n_held, n_cancelled;

static void hold_cancel_cb(sh_net_req *req, void *ctx)
{
    (void)ctx;
    CHECK(!sh_net_req_alive(req));
    n_cancelled++;
}

static void hold_cb(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    (void)ctx;
    CHECK(n_held < 256);
    CHECK(sh_net_req_alive(req));
    CHECK(sh_net_req_time_left_ms(req) > 0);
    sh_net_req_on_cancel(req, hold_cancel_cb, NULL);
    held_body[n_held] = body;
    held_len[n_held] = len;
    held[n_held++] = req;
}

static bool authorize_cb(const uint8_t key[static 32], const char *method, void *ctx)
{
    (void)ctx;
    CHECK_STR(method, "node.echo");
    return sodium_memcmp(key, node_pk, 32) == 0;
}

/* Link events, for the checks on reasons. */
typedef struct events {
    int opened, closed, last_status;
    char last_reason[256];
    int by_status[32];
} events;

static void link_event_cb(const sh_net_link_event *ev, void *ctx)
{
    events *e = ctx;

    if (ev->status == SH_OK && strcmp(ev->reason, "open") == 0) {
        e->opened++;
        CHECK(ev->remote_key != NULL);
        return;
    }
    e->closed++;
    e->last_status = ev->status;
    if (-ev->status >= 0 && -ev->status < 32)
        e->by_status[-ev->status]++;
    snprintf(e->last_reason, sizeof e->last_reason, "%s", ev->reason);
}

static void test_config(sh_net_config *cfg)
{
    sh_net_config_default(cfg);
    cfg->connect_timeout_ms = 200;
    cfg->handshake_timeout_ms = 200;
    cfg->idle_timeout_ms = 2000;
    cfg->keepalive_ms = 1000;
    cfg->keepalive_timeout_ms = 500;
    cfg->reconnect_min_ms = 20;
    cfg->reconnect_max_ms = 80;
    cfg->shutdown_timeout_ms = 2000;
    cfg->linger_ms = 200;
}

static sh_net *server_new(const sh_net_config *cfg, uint16_t *port)
{
    static const sh_net_method_limits one_per_s = {1, 2};
    sh_net *net;

    CHECK_OK(sh_net_new(&loop, cfg, &net));
    CHECK_OK(sh_net_listen(net, "127.0.0.1", *port, server_sk, port));
    CHECK(*port != 0);
    CHECK_OK(sh_net_register(net, "echo", SH_RPC_CLIENT, echo_cb, NULL, NULL));
    CHECK_OK(sh_net_register(net, "later", SH_RPC_CLIENT, later_cb, NULL, NULL));
    CHECK_OK(sh_net_register(net, "hold", SH_RPC_CLIENT, hold_cb, NULL, NULL));
    CHECK_OK(sh_net_register(net, "big", SH_RPC_CLIENT, big_cb, NULL, NULL));
    CHECK_OK(sh_net_register(net, "node.echo", SH_RPC_NODE, echo_cb, NULL, NULL));
    CHECK_OK(sh_net_register(net, "slow.lane", SH_RPC_CLIENT, echo_cb, NULL, &one_per_s));
    return net;
}

/* Tests ------------------------------------------------------------------------------------- */

static void call_ok(sh_net_peer *peer, const char *method, const void *body, size_t len,
                    answer *a)
{
    memset(a, 0, sizeof *a);
    CHECK_OK(sh_net_call(peer, method, body, len, 2000, answer_cb, a));
    CHECK(!a->done); /* never from inside sh_net_call */
    run_until(&a->done);
}

static void test_basic(void)
{
    sh_net_config cfg;
    sh_net *server, *client;
    sh_net_peer *peer, *node_peer;
    sh_net_peer_opts node_opts = {.local_static_sk = node_sk};
    uint16_t port = 0;
    answer a;
    events ev = {0};

    test_config(&cfg);
    cfg.link_cb = link_event_cb;
    cfg.link_ctx = &ev;
    server = server_new(&cfg, &port);
    CHECK_ERR(sh_net_register(server, "echo", SH_RPC_CLIENT, echo_cb, NULL, NULL), SH_ERR_EXISTS);
    CHECK_ERR(sh_net_register(server, "Bad Name", SH_RPC_CLIENT, echo_cb, NULL, NULL),
              SH_ERR_INVALID);
    CHECK_OK(sh_net_new(&loop, NULL, &client));
    CHECK_OK(sh_net_peer_new(client, "127.0.0.1", port, server_pk, NULL, &peer));
    CHECK_OK(sh_net_peer_new(client, "127.0.0.1", port, server_pk, &node_opts, &node_peer));

    call_ok(peer, "echo", "hello", 5, &a);
    CHECK_OK(a.status);
    CHECK_EQ(a.body.len, 5);
    CHECK_MEM(a.body.data, "hello", 5);
    answer_free(&a);
    call_ok(peer, "echo", NULL, 0, &a);
    CHECK_OK(a.status);
    CHECK_EQ(a.body.len, 0);
    answer_free(&a);

    call_ok(peer, "no.such", "x", 1, &a);
    CHECK_EQ(a.status, SH_ERR_NOT_FOUND);
    CHECK(strstr(a.msg, "no method 'no.such'") != NULL);
    answer_free(&a);
    /* Node methods: refused without an authorize callback, then by key. */
    call_ok(node_peer, "node.echo", "n", 1, &a);
    CHECK_EQ(a.status, SH_ERR_PERMISSION);
    answer_free(&a);
    sh_net_set_authorize(server, authorize_cb, NULL);
    call_ok(node_peer, "node.echo", "n", 1, &a);
    CHECK_OK(a.status);
    answer_free(&a);
    call_ok(peer, "node.echo", "n", 1, &a);
    CHECK_EQ(a.status, SH_ERR_PERMISSION);
    CHECK(strstr(a.msg, "service nodes") != NULL);
    answer_free(&a);
    /* The per-method bucket (1/s, burst 2): two pass at once, the third is rate-limited. */
    for (int i = 0; i < 3; i++) {
        call_ok(peer, "slow.lane", "s", 1, &a);
        CHECK_EQ(a.status, i < 2 ? SH_OK : SH_ERR_BUSY);
        if (i == 2)
            CHECK(strstr(a.msg, "rate-limited") != NULL);
        answer_free(&a);
    }
    /* Bad arguments are refused at once and the callback never runs. */
    CHECK_ERR(sh_net_call(peer, "Echo", NULL, 0, 100, answer_cb, &a), SH_ERR_INVALID);
    CHECK_ERR(sh_net_call(peer, "echo", NULL, 0, 0, answer_cb, &a), SH_ERR_INVALID);
    CHECK_ERR(sh_net_call(peer, "echo", NULL, 0, SH_RPC_MAX_DEADLINE_MS + 1, answer_cb, &a),
              SH_ERR_INVALID);
    CHECK_ERR(sh_net_call(peer, "echo", NULL, SH_RPC_MAX_BODY_BYTES + 1, 100, answer_cb, &a),
              SH_ERR_INVALID);
    CHECK_MSG("over the 524288-byte limit");
    CHECK_ERR(sh_net_peer_new(client, "localhost", port, server_pk, NULL, &peer), SH_ERR_INVALID);
    CHECK(ev.opened == 2); /* one link per peer, both kept open */
    close_net(client);
    close_net(server);
}

static void test_sizes_and_order(void)
{
    sh_net_config cfg;
    sh_net *server, *client;
    sh_net_peer *peer;
    uint16_t port = 0;
    answer a, many[200];
    sh_buf big;

    test_config(&cfg);
    cfg.rekey_after_frames = 16; /* rekeys many times below */
    server = server_new(&cfg, &port);
    CHECK_OK(sh_net_new(&loop, &cfg, &client));
    CHECK_OK(sh_net_peer_new(client, "127.0.0.1", port, server_pk, NULL, &peer));
    /* The largest body both ways (9 frames each), and one byte under a chunk boundary. */
    sh_buf_init(&big);
    CHECK_OK(sh_buf_reserve(&big, SH_RPC_MAX_BODY_BYTES));
    test_random(big.data, SH_RPC_MAX_BODY_BYTES);
    big.len = SH_RPC_MAX_BODY_BYTES;
    call_ok(peer, "echo", big.data, big.len, &a);
    CHECK_OK(a.status);
    CHECK_EQ(a.body.len, SH_RPC_MAX_BODY_BYTES);
    CHECK_MEM(a.body.data, big.data, big.len);
    answer_free(&a);
    call_ok(peer, "echo", big.data, SH_FRAME_MAX_CHUNK_BYTES - 20, &a);
    CHECK_EQ(a.body.len, SH_FRAME_MAX_CHUNK_BYTES - 20);
    answer_free(&a);
    /* 200 calls at once (every 50th with a body of several frames), answered in reverse order
     * of sending with the bodies the handler was given, which live until the answer; and 100
     * answered after timers (the "later" method). */
    answers_seen = n_held = 0;
    for (int i = 0; i < 200; i++) {
        uint8_t tag[4];

        sh_store_u32be(tag, (uint32_t)i);
        memset(&many[i], 0, sizeof many[i]);
        if (i % 50 == 0)
            CHECK_OK(sh_net_call(peer, "hold", big.data + i, 3 * SH_FRAME_MAX_CHUNK_BYTES + i,
                                 3000, answer_cb, &many[i]));
        else
            CHECK_OK(sh_net_call(peer, "hold", tag, sizeof tag, 3000, answer_cb, &many[i]));
    }
    while (n_held < 200)
        uv_run(&loop, UV_RUN_ONCE);
    for (int i = 199; i >= 0; i--)
        CHECK_OK(sh_net_respond(held[i], SH_OK, held_body[i], held_len[i], NULL));
    run_until(&many[0].done);
    for (int i = 0; i < 200; i++) {
        CHECK(many[i].done);
        CHECK_OK(many[i].status);
        if (i % 50 == 0) {
            CHECK_EQ(many[i].body.len, 3 * SH_FRAME_MAX_CHUNK_BYTES + i);
            CHECK_MEM(many[i].body.data, big.data + i, many[i].body.len);
        } else {
            CHECK_EQ(many[i].body.len, 4);
            CHECK_EQ(sh_load_u32be(many[i].body.data), (uint32_t)i);
        }
        CHECK_EQ(many[i].order, 199 - i);
        answer_free(&many[i]);
    }
    for (int i = 0; i < 100; i++) {
        uint8_t body[8];

        sh_store_u32be(body, (uint32_t)(i % 7) * 10);
        sh_store_u32be(body + 4, (uint32_t)i);
        memset(&many[i], 0, sizeof many[i]);
        CHECK_OK(sh_net_call(peer, "later", body, sizeof body, 3000, answer_cb, &many[i]));
    }
    for (int i = 0; i < 100; i++) {
        run_until(&many[i].done);
        CHECK_OK(many[i].status);
        CHECK_EQ(sh_load_u32be(many[i].body.data), (uint32_t)i);
        answer_free(&many[i]);
    }
    /* The links rekeyed in both directions and carried on. */
    sh_link *l = peer->link;
    CHECK(l != NULL && l->sec->tx.rekeys > 5 && l->sec->rx.rekeys > 5);
    sh_buf_free(&big);
    close_net(client);
    close_net(server);
}

static void test_deadlines_and_cancel(void)
{
    sh_net_config cfg;
    sh_net *server, *client;
    sh_net_peer *peer;
    uint16_t port = 0;
    answer a, b;

    test_config(&cfg);
    server = server_new(&cfg, &port);
    CHECK_OK(sh_net_new(&loop, &cfg, &client));
    CHECK_OK(sh_net_peer_new(client, "127.0.0.1", port, server_pk, NULL, &peer));
    n_held = n_cancelled = 0;
    /* The server holds the call; the caller's deadline fires. */
    memset(&a, 0, sizeof a);
    CHECK_OK(sh_net_call(peer, "hold", U("h"), 1, 50, answer_cb, &a));
    run_until(&a.done);
    CHECK_EQ(a.status, SH_ERR_TIMEOUT);
    CHECK(strstr(a.msg, "no answer to 'hold' within 50 ms") != NULL);
    CHECK_EQ(n_held, 1);
    CHECK(sh_net_req_alive(held[0]));
    CHECK_STR(sh_net_req_method(held[0]), "hold");
    CHECK(sh_net_req_time_left_ms(held[0]) <= 50);
    /* A late answer is dropped by the caller; the link goes on. */
    CHECK_OK(sh_net_respond(held[0], SH_OK, (const uint8_t *)"late", 4, NULL));
    call_ok(peer, "echo", "e", 1, &b);
    CHECK_OK(b.status);
    answer_free(&a);
    answer_free(&b);
    /* Closing the peer cancels its call at once; the server's handler is told. */
    memset(&a, 0, sizeof a);
    CHECK_OK(sh_net_call(peer, "hold", U("h"), 1, 5000, answer_cb, &a));
    while (n_held < 2)
        uv_run(&loop, UV_RUN_ONCE);
    sh_net_peer_close(peer);
    CHECK(a.done);
    CHECK_EQ(a.status, SH_ERR_CANCELLED);
    while (n_cancelled < 1)
        uv_run(&loop, UV_RUN_ONCE);
    CHECK(!sh_net_req_alive(held[1]));
    CHECK_ERR(sh_net_respond(held[1], SH_OK, NULL, 0, NULL), SH_ERR_CANCELLED);
    answer_free(&a);
    close_net(client);
    close_net(server);
}

static void test_keepalive_and_idle(void)
{
    sh_net_config scfg, ccfg;
    sh_net *server, *client;
    sh_net_peer *peer;
    uint16_t port = 0;
    answer a;
    events sev = {0}, cev = {0};

    test_config(&scfg);
    scfg.link_cb = link_event_cb;
    scfg.link_ctx = &sev;
    test_config(&ccfg);
    /* Periods leave hundreds of ms of slack: the suite runs under ASan on a loaded 2-core machine. */
    ccfg.keepalive_ms = 100;
    ccfg.keepalive_timeout_ms = 400;
    ccfg.idle_timeout_ms = 600;
    ccfg.link_cb = link_event_cb;
    ccfg.link_ctx = &cev;
    server = server_new(&scfg, &port);
    CHECK_OK(sh_net_new(&loop, &ccfg, &client));
    CHECK_OK(sh_net_peer_new(client, "127.0.0.1", port, server_pk, NULL, &peer));
    n_held = n_cancelled = 0;
    /* A call held for 5 keepalive periods: pings keep the link up. */
    memset(&a, 0, sizeof a);
    CHECK_OK(sh_net_call(peer, "hold", U("h"), 1, 5000, answer_cb, &a));
    run_for(1000);
    CHECK(!a.done);
    CHECK_EQ(cev.closed, 0);
    CHECK_OK(sh_net_respond(held[0], SH_OK, NULL, 0, NULL));
    run_until(&a.done);
    CHECK_OK(a.status);
    answer_free(&a);
    /* Idle: the caller closes its link after 600 ms without calls, cleanly on both sides. */
    run_for(1500);
    CHECK(peer->link == NULL);
    CHECK_EQ(cev.closed, 1);
    CHECK_EQ(cev.last_status, SH_OK);
    CHECK_EQ(sev.closed, 1);
    CHECK_EQ(sev.last_status, SH_OK);
    /* The next call opens a new link. */
    call_ok(peer, "echo", "x", 1, &a);
    CHECK_OK(a.status);
    CHECK_EQ(cev.opened, 2);
    answer_free(&a);
    /* A server that stops reading (so never answers pings) is dropped by the caller. */
    memset(&a, 0, sizeof a);
    CHECK_OK(sh_net_call(peer, "hold", U("h"), 1, 5000, answer_cb, &a));
    while (n_held < 2)
        uv_run(&loop, UV_RUN_ONCE);
    uv_read_stop((uv_stream_t *)&held[1]->link->tcp);
    run_until(&a.done);
    CHECK_EQ(a.status, SH_ERR_UNAVAILABLE);
    CHECK(strstr(a.msg, "despite pings") != NULL);
    CHECK_EQ(cev.last_status, SH_ERR_TIMEOUT);
    answer_free(&a);
    close_net(client);
    /* The server is not reading, so it cannot know yet: the answer goes nowhere. */
    CHECK_OK(sh_net_respond(held[1], SH_OK, NULL, 0, NULL));
    close_net(server);
}

/* A listening socket nobody accepts from. */
static int raw_listen(int backlog, uint16_t *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0);
    CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    CHECK(listen(fd, backlog) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static int raw_connect(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0);
    (void)connect(fd, (struct sockaddr *)&sa, sizeof sa);
    return fd;
}

/* One "echo x" call with this deadline, waited for; the answer in *a (answer_free it). */
static void echo_x(sh_net_peer *peer, uint32_t deadline_ms, answer *a)
{
    memset(a, 0, sizeof *a);
    CHECK_OK(sh_net_call(peer, "echo", U("x"), 1, deadline_ms, answer_cb, a));
    run_until(&a->done);
}

static void test_connect_failures(void)
{
    sh_net_config cfg;
    sh_net *server, *client;
    sh_net_peer *peer;
    uint16_t port;
    uint8_t wrong_pk[32];
    answer a;
    events cev = {0}, sev = {0};
    int lfd, fill[3];

    test_config(&cfg);
    cfg.connect_timeout_ms = 60;
    cfg.handshake_timeout_ms = 60;
    cfg.link_cb = link_event_cb;
    cfg.link_ctx = &cev;
    CHECK_OK(sh_net_new(&loop, &cfg, &client));
    /* Connect timeout: a listener whose backlog is full drops our SYN. */
    lfd = raw_listen(0, &port);
    for (int i = 0; i < 3; i++)
        fill[i] = raw_connect(port);
    run_for(20);
    CHECK_OK(sh_net_peer_new(client, "127.0.0.1", port, server_pk, NULL, &peer));
    echo_x(peer, 250, &a);
    CHECK_EQ(a.status, SH_ERR_TIMEOUT);
    CHECK(strstr(a.msg, "unreachable (TCP connect did not complete within 60 ms)") != NULL);
    CHECK(cev.by_status[-SH_ERR_TIMEOUT] >= 1);
    answer_free(&a);
    sh_net_peer_close(peer);
    for (int i = 0; i < 3; i++)
        close(fill[i]);
    close(lfd);
    /* A refused connect (a closed port): calls wait through reconnects until their deadline,
     * or with fail_fast fail at once with the reason. */
    lfd = raw_listen(0, &port);
    close(lfd);
    CHECK_OK(sh_net_peer_new(client, "127.0.0.1", port, server_pk, NULL, &peer));
    echo_x(peer, 400, &a);
    CHECK_EQ(a.status, SH_ERR_TIMEOUT);
    answer_free(&a);
    sh_net_peer_close(peer);
    sh_net_peer_opts fast = {.fail_fast = true};
    CHECK_OK(sh_net_peer_new(client, "127.0.0.1", port, server_pk, &fast, &peer));
    echo_x(peer, 60000, &a);
    CHECK_EQ(a.status, SH_ERR_UNAVAILABLE);
    CHECK(strstr(a.msg, "is unreachable (cannot connect: connection refused)") != NULL);
    answer_free(&a);
    sh_net_peer_close(peer);
    /* Handshake timeout: the kernel accepts, nobody answers. */
    lfd = raw_listen(16, &port);
    CHECK_OK(sh_net_peer_new(client, "127.0.0.1", port, server_pk, NULL, &peer));
    echo_x(peer, 250, &a);
    CHECK_EQ(a.status, SH_ERR_TIMEOUT);
    CHECK(strstr(a.msg, "the handshake did not complete within 60 ms") != NULL);
    answer_free(&a);
    sh_net_peer_close(peer);
    close(lfd);
    /* A wrong responder key: the server cuts the link at message 1; the caller is told. */
    test_config(&cfg);
    cfg.link_cb = link_event_cb;
    cfg.link_ctx = &sev;
    port = 0;
    server = server_new(&cfg, &port);
    memcpy(wrong_pk, server_pk, 32);
    wrong_pk[0] ^= 1;
    CHECK_OK(sh_net_peer_new(client, "127.0.0.1", port, wrong_pk, NULL, &peer));
    echo_x(peer, 150, &a);
    CHECK_EQ(a.status, SH_ERR_TIMEOUT);
    CHECK(strstr(a.msg, "wrong responder key") != NULL);
    CHECK(sev.by_status[-SH_ERR_CRYPTO] >= 1);
    CHECK(strstr(sev.last_reason, "another responder key") != NULL);
    CHECK_EQ(sev.opened, 0);
    answer_free(&a);
    close_net(client);
    close_net(server);
}

static void test_caps_and_reconnect(void)
{
    sh_net_config scfg, ccfg;
    sh_net *server, *client;
    sh_net_peer *peers[3];
    uint16_t port = 0;
    answer a[3];
    events sev = {0}, cev = {0};

    test_config(&scfg);
    scfg.max_links_per_ip = 2;
    scfg.link_cb = link_event_cb;
    scfg.link_ctx = &sev;
    test_config(&ccfg);
    ccfg.link_cb = link_event_cb;
    ccfg.link_ctx = &cev;
    server = server_new(&scfg, &port);
    CHECK_OK(sh_net_new(&loop, &ccfg, &client));
    for (int i = 0; i < 3; i++) {
        CHECK_OK(sh_net_peer_new(client, "127.0.0.1", port, server_pk, NULL, &peers[i]));
        memset(&a[i], 0, sizeof a[i]);
        CHECK_OK(sh_net_call(peers[i], "echo", U("c"), 1, 200, answer_cb, &a[i]));
        run_until(&a[i].done);
    }
    CHECK_OK(a[0].status);
    CHECK_OK(a[1].status);
    CHECK_EQ(a[2].status, SH_ERR_TIMEOUT);
    CHECK(sev.by_status[-SH_ERR_BUSY] >= 1);
    CHECK(strstr(sev.last_reason, "2 links are open from this address") != NULL);
    /* Once one link goes, the third peer gets in (its backoff retries). */
    sh_net_peer_close(peers[0]);
    answer_free(&a[2]);
    CHECK_OK(sh_net_call(peers[2], "echo", U("c"), 1, 2000, answer_cb, &a[2]));
    run_until(&a[2].done);
    CHECK_OK(a[2].status);
    for (int i = 0; i < 3; i++)
        answer_free(&a[i]);

    /* Reconnect: the server goes away, comes back on the same port; the waiting call goes
     * through, after a few refused attempts spaced by the backoff. */
    close_net(server);
    run_for(20);
    memset(&cev, 0, sizeof cev);
    memset(&a[0], 0, sizeof a[0]);
    CHECK_OK(sh_net_call(peers[1], "echo", U("r"), 1, 3000, answer_cb, &a[0]));
    run_for(200);
    CHECK(!a[0].done);
    CHECK(cev.by_status[-SH_ERR_UNAVAILABLE] >= 2);  /* refused, retried */
    CHECK(cev.by_status[-SH_ERR_UNAVAILABLE] <= 12); /* but not in a tight loop */
    CHECK(strstr(peers[1]->last_error, "cannot connect") != NULL);
    server = server_new(&scfg, &port);
    run_until(&a[0].done);
    CHECK_OK(a[0].status);
    answer_free(&a[0]);
    close_net(client);
    close_net(server);
}

static void test_shutdown(void)
{
    sh_net_config cfg;
    sh_net *server, *client;
    sh_net_peer *peer;
    uint16_t port = 0;
    answer a, b;
    bool server_closed = false;

    test_config(&cfg);
    server = server_new(&cfg, &port);
    CHECK_OK(sh_net_new(&loop, &cfg, &client));
    CHECK_OK(sh_net_peer_new(client, "127.0.0.1", port, server_pk, NULL, &peer));
    n_held = n_cancelled = 0;
    memset(&a, 0, sizeof a);
    CHECK_OK(sh_net_call(peer, "hold", U("h"), 1, 3000, answer_cb, &a));
    while (n_held < 1)
        uv_run(&loop, UV_RUN_ONCE);
    /* Graceful: the held call still gets its answer, then the server is gone. */
    sh_net_shutdown(server, closed_cb, &server_closed);
    run_for(50);
    CHECK(!server_closed);
    CHECK(peer->link == NULL); /* GOAWAY: no new calls on the old link */
    memset(&b, 0, sizeof b);
    CHECK_OK(sh_net_call(peer, "echo", U("x"), 1, 100, answer_cb, &b));
    CHECK_OK(sh_net_respond(held[0], SH_OK, (const uint8_t *)"done", 4, NULL));
    run_until(&a.done);
    CHECK_OK(a.status);
    CHECK_MEM(a.body.data, "done", 4);
    run_until(&server_closed);
    run_until(&b.done);
    CHECK_EQ(b.status, SH_ERR_TIMEOUT); /* nobody listens any more */
    answer_free(&a);
    answer_free(&b);
    /* A handler that never answers: the shutdown timeout cancels it. */
    cfg.shutdown_timeout_ms = 80;
    port = 0;
    server = server_new(&cfg, &port);
    sh_net_peer_close(peer);
    CHECK_OK(sh_net_peer_new(client, "127.0.0.1", port, server_pk, NULL, &peer));
    memset(&a, 0, sizeof a);
    CHECK_OK(sh_net_call(peer, "hold", U("h"), 1, 3000, answer_cb, &a));
    while (n_held < 2)
        uv_run(&loop, UV_RUN_ONCE);
    server_closed = false;
    sh_net_shutdown(server, closed_cb, &server_closed);
    run_until(&server_closed);
    CHECK_EQ(n_cancelled, 1);
    run_until(&a.done);
    CHECK_EQ(a.status, SH_ERR_UNAVAILABLE);
    CHECK_ERR(sh_net_respond(held[1], SH_OK, NULL, 0, NULL), SH_ERR_CANCELLED);
    answer_free(&a);
    close_net(client);
}

static void test_slow_reader(void)
{
    sh_net_config scfg;
    sh_net *server, *client;
    sh_net_peer *peer;
    uint16_t port = 0;
    answer a[48];
    events sev = {0};

    test_config(&scfg);
    scfg.max_write_queue_bytes = 256 * 1024;
    scfg.link_cb = link_event_cb;
    scfg.link_ctx = &sev;
    server = server_new(&scfg, &port);
    CHECK_OK(sh_net_new(&loop, NULL, &client));
    CHECK_OK(sh_net_peer_new(client, "127.0.0.1", port, server_pk, NULL, &peer));
    call_ok(peer, "echo", "x", 1, &a[0]);
    answer_free(&a[0]);
    /* The caller stops reading and keeps asking for 512 KiB answers. */
    uv_read_stop((uv_stream_t *)&peer->link->tcp);
    for (int i = 0; i < 48; i++) {
        uint8_t ask[4];

        sh_store_u32be(ask, SH_RPC_MAX_BODY_BYTES);
        memset(&a[i], 0, sizeof a[i]);
        CHECK_OK(sh_net_call(peer, "big", ask, sizeof ask, 5000, answer_cb, &a[i]));
    }
    while (sev.closed == 0)
        uv_run(&loop, UV_RUN_ONCE);
    CHECK_EQ(sev.last_status, SH_ERR_LIMIT);
    CHECK(strstr(sev.last_reason, "the peer is not reading") != NULL);
    close_net(client);
    for (int i = 0; i < 48; i++)
        answer_free(&a[i]);
    close_net(server);
}

static void test_limits(void)
{
    sh_net_config scfg, ccfg;
    sh_net *server, *client;
    sh_net_peer *peer, *peers[3];
    uint16_t port = 0;
    answer a[8];
    events sev = {0};

    /* Per-link bucket: burst 3, 1 call/s: the fourth call at once is refused. */
    test_config(&scfg);
    scfg.peer_rate_per_s = 1;
    scfg.peer_burst = 3;
    scfg.max_calls_per_link = 2;
    server = server_new(&scfg, &port);
    test_config(&ccfg);
    ccfg.max_calls_per_peer = 5;
    CHECK_OK(sh_net_new(&loop, &ccfg, &client));
    CHECK_OK(sh_net_peer_new(client, "127.0.0.1", port, server_pk, NULL, &peer));
    n_held = n_cancelled = 0;
    for (int i = 0; i < 4; i++) {
        memset(&a[i], 0, sizeof a[i]);
        CHECK_OK(sh_net_call(peer, "hold", U("h"), 1, 2000, answer_cb, &a[i]));
    }
    /* max_calls_per_peer = 5: the sixth waiting call is refused at once. */
    memset(&a[4], 0, sizeof a[4]);
    CHECK_OK(sh_net_call(peer, "echo", U("e"), 1, 2000, answer_cb, &a[4]));
    CHECK_ERR(sh_net_call(peer, "echo", U("e"), 1, 2000, answer_cb, &a[5]), SH_ERR_BUSY);
    CHECK_MSG("5 calls to 127.0.0.1");
    run_until(&a[4].done);
    /* Calls 1-2 are held (max 2 in flight per link), 3 is refused for that, 4 and 5 find the
     * bucket (3 tokens) empty. */
    CHECK(!a[0].done && !a[1].done);
    CHECK_EQ(a[2].status, SH_ERR_BUSY);
    CHECK(strstr(a[2].msg, "2 calls are in flight on this link") != NULL);
    CHECK_EQ(a[3].status, SH_ERR_BUSY);
    CHECK(strstr(a[3].msg, "rate limit: a link may make 1 calls per second") != NULL);
    CHECK_EQ(a[4].status, SH_ERR_BUSY);
    CHECK_OK(sh_net_respond(held[0], SH_OK, NULL, 0, NULL));
    CHECK_OK(sh_net_respond(held[1], SH_OK, NULL, 0, NULL));
    run_until(&a[1].done);
    for (int i = 0; i < 5; i++)
        answer_free(&a[i]);
    close_net(client);
    close_net(server);

    /* The cap on links in total (per address set high). */
    test_config(&scfg);
    scfg.max_links = 2;
    scfg.link_cb = link_event_cb;
    scfg.link_ctx = &sev;
    port = 0;
    server = server_new(&scfg, &port);
    CHECK_OK(sh_net_new(&loop, &ccfg, &client));
    for (int i = 0; i < 3; i++) {
        CHECK_OK(sh_net_peer_new(client, "127.0.0.1", port, server_pk, NULL, &peers[i]));
        memset(&a[i], 0, sizeof a[i]);
        CHECK_OK(sh_net_call(peers[i], "echo", U("c"), 1, 150, answer_cb, &a[i]));
        run_until(&a[i].done);
    }
    CHECK_OK(a[0].status);
    CHECK_OK(a[1].status);
    CHECK_EQ(a[2].status, SH_ERR_TIMEOUT);
    CHECK(strstr(sev.last_reason, "refused: 2 links are open, the limit") != NULL);
    for (int i = 0; i < 3; i++)
        answer_free(&a[i]);
    close_net(client);
    close_net(server);
}

static void test_server_idle_and_keep_open(void)
{
    sh_net_config scfg, ccfg;
    sh_net *server, *client;
    sh_net_peer *peer, *kept;
    sh_net_peer_opts keep = {.keep_open = true};
    uint16_t port = 0;
    answer a;
    events sev = {0}, cev = {0};

    test_config(&scfg);
    scfg.idle_timeout_ms = 480;
    scfg.keepalive_ms = 160;
    scfg.link_cb = link_event_cb;
    scfg.link_ctx = &sev;
    server = server_new(&scfg, &port);
    test_config(&ccfg);
    ccfg.keepalive_ms = 100; /* a kept link pings, so the server does not see it idle */
    ccfg.link_cb = link_event_cb;
    ccfg.link_ctx = &cev;
    CHECK_OK(sh_net_new(&loop, &ccfg, &client));
    CHECK_OK(sh_net_peer_new(client, "127.0.0.1", port, server_pk, NULL, &peer));
    CHECK_OK(sh_net_peer_new(client, "127.0.0.1", port, server_pk, &keep, &kept));
    call_ok(peer, "echo", "x", 1, &a);
    answer_free(&a);
    /* The server sends GOAWAY to the idle caller, which closes; the kept link stays up. */
    run_for(1200);
    CHECK(peer->link == NULL);
    CHECK(kept->link != NULL && kept->link->state == SH_LINK_OPEN);
    CHECK_EQ(sev.closed, 1);
    CHECK_EQ(sev.last_status, SH_OK);
    CHECK_EQ(cev.opened, 2);
    /* A call after the idle close opens a new link. */
    call_ok(peer, "echo", "y", 1, &a);
    CHECK_OK(a.status);
    answer_free(&a);
    /* The server goes away and comes back: the kept peer reconnects by itself. */
    close_net(server);
    run_for(30);
    CHECK(kept->link == NULL || kept->link->state != SH_LINK_OPEN);
    int opened = cev.opened;
    server = server_new(&scfg, &port);
    while (cev.opened < opened + 1 || kept->link == NULL || kept->link->state != SH_LINK_OPEN)
        uv_run(&loop, UV_RUN_ONCE);
    close_net(client);
    close_net(server);
}

static void test_ipv6(void)
{
    sh_net_config cfg;
    sh_net *server, *client;
    sh_net_peer *peer;
    uint16_t port = 0;
    answer a;
    events sev = {0};

    test_config(&cfg);
    cfg.link_cb = link_event_cb;
    cfg.link_ctx = &sev;
    CHECK_OK(sh_net_new(&loop, &cfg, &server));
    CHECK_ERR(sh_net_listen(server, "localhost", 0, server_sk, &port), SH_ERR_INVALID);
    CHECK_OK(sh_net_listen(server, "::1", 0, server_sk, &port));
    CHECK_OK(sh_net_register(server, "echo", SH_RPC_CLIENT, echo_cb, NULL, NULL));
    CHECK_OK(sh_net_new(&loop, &cfg, &client));
    CHECK_OK(sh_net_peer_new(client, "::1", port, server_pk, NULL, &peer));
    call_ok(peer, "echo", "six", 3, &a);
    CHECK_OK(a.status);
    CHECK_MEM(a.body.data, "six", 3);
    CHECK(strncmp(peer->link->name, "[::1]:", 6) == 0);
    answer_free(&a);
    close_net(client);
    close_net(server);
    CHECK_EQ(sev.opened, 2);
}

int main(void)
{
    CHECK_OK(sh_crypto_init());
    uv_loop_init(&loop);
    test_random(server_sk, 32);
    crypto_scalarmult_base(server_pk, server_sk);
    test_random(node_sk, 32);
    crypto_scalarmult_base(node_pk, node_sk);
    test_basic();
    test_sizes_and_order();
    test_deadlines_and_cancel();
    test_keepalive_and_idle();
    test_connect_failures();
    test_caps_and_reconnect();
    test_shutdown();
    test_slow_reader();
    test_limits();
    test_server_idle_and_keep_open();
    test_ipv6();
    CHECK_EQ(uv_loop_close(&loop), 0);
    return 0;
}
