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

static __attribute__((unused)) void run_for(uint64_t ms)
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

/* Holds requests until the test answers them (or their link dies). */
static sh_net_req *held[16];
static int n_held, n_cancelled;

static void hold_cancel_cb(sh_net_req *req, void *ctx)
{
    (void)ctx;
    CHECK(!sh_net_req_alive(req));
    n_cancelled++;
}

static void hold_cb(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    (void)body, (void)len, (void)ctx;
    CHECK(n_held < 16);
    CHECK(sh_net_req_alive(req));
    CHECK(sh_net_req_time_left_ms(req) > 0);
    sh_net_req_on_cancel(req, hold_cancel_cb, NULL);
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
    /* 200 calls at once, answered in reverse order of sending. */
    answers_seen = 0;
    for (int i = 0; i < 200; i++) {
        uint8_t body[8];

        sh_store_u32be(body, (uint32_t)(400 - 2 * i));
        sh_store_u32be(body + 4, (uint32_t)i);
        memset(&many[i], 0, sizeof many[i]);
        CHECK_OK(sh_net_call(peer, "later", body, sizeof body, 3000, answer_cb, &many[i]));
    }
    run_until(&many[0].done);
    for (int i = 0; i < 200; i++) {
        CHECK(many[i].done);
        CHECK_OK(many[i].status);
        CHECK_EQ(sh_load_u32be(many[i].body.data), (uint32_t)i);
        CHECK_EQ(many[i].order, 199 - i);
        answer_free(&many[i]);
    }
    /* The links rekeyed in both directions and carried on. */
    sh_link *l = peer->link;
    CHECK(l != NULL && l->sec->tx.rekeys > 5 && l->sec->rx.rekeys > 5);
    sh_buf_free(&big);
    close_net(client);
    close_net(server);
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
    CHECK_EQ(uv_loop_close(&loop), 0);
    return 0;
}
