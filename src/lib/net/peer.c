/* The calling side: peers (remote endpoints that connect on demand and reconnect with backoff),
 * calls and their deadlines. A call waits on peer->pending until its peer has an open link, then
 * sits on that link's call_list and id map until its answer, its deadline (a min-heap of calls
 * by deadline, one timer per sh_net) or the link's end. A call's callback runs exactly once. */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "net/internal.h"
#include "util/err.h"
#include "util/log.h"

/* Calls wait (bodies copied) up to this many write queues' worth of bytes per peer. */
#define PENDING_BYTES_FACTOR 4

static void peer_kick(sh_net_peer *peer);

/* Deadlines: a binary min-heap of calls ordered by deadline. ------------------------------------ */

static void heap_set(sh_net *net, size_t i, sh_call *c)
{
    net->heap[i] = c;
    c->heap_index = i;
}

static void heap_up(sh_net *net, size_t i)
{
    sh_call *c = net->heap[i];

    while (i > 0 && net->heap[(i - 1) / 2]->deadline > c->deadline) {
        heap_set(net, i, net->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_set(net, i, c);
}

static void heap_down(sh_net *net, size_t i)
{
    sh_call *c = net->heap[i];

    for (;;) {
        size_t child = 2 * i + 1;

        if (child >= net->heap_len)
            break;
        if (child + 1 < net->heap_len &&
            net->heap[child + 1]->deadline < net->heap[child]->deadline)
            child++;
        if (net->heap[child]->deadline >= c->deadline)
            break;
        heap_set(net, i, net->heap[child]);
        i = child;
    }
    heap_set(net, i, c);
}

static void on_deadline(uv_timer_t *t);

static void deadline_rearm(sh_net *net)
{
    uint64_t now = uv_now(net->loop), due;

    if (net->closing)
        return;
    if (net->heap_len == 0) {
        uv_timer_stop(&net->deadline_timer);
        return;
    }
    due = net->heap[0]->deadline;
    uv_timer_start(&net->deadline_timer, on_deadline, due > now ? due - now : 0, 0);
}

static int heap_push(sh_net *net, sh_call *c)
{
    if (net->heap_len == net->heap_cap) {
        size_t cap = net->heap_cap == 0 ? 64 : net->heap_cap * 2;
        sh_call **p = realloc(net->heap, cap * sizeof *p);

        if (p == NULL)
            return sh_err_set(SH_ERR_NOMEM, "out of memory tracking call deadlines");
        net->heap = p;
        net->heap_cap = cap;
    }
    heap_set(net, net->heap_len++, c);
    heap_up(net, c->heap_index);
    if (c->heap_index == 0)
        deadline_rearm(net);
    return SH_OK;
}

static void heap_remove(sh_net *net, sh_call *c)
{
    size_t i = c->heap_index;
    sh_call *last = net->heap[--net->heap_len];

    if (i < net->heap_len) {
        heap_set(net, i, last);
        heap_up(net, i);
        heap_down(net, last->heap_index);
    }
    if (i == 0)
        deadline_rearm(net);
}

/* Calls --------------------------------------------------------------------------------------- */

/* Unlinks a call from everything, runs its callback and frees it. */
static void call_finish(sh_call *c, int status, const char *message, const uint8_t *body,
                        size_t len)
{
    sh_link *l = c->link;

    heap_remove(c->net, c);
    sh__list_remove(&c->node);
    if (l != NULL)
        (void)sh__idmap_remove(&l->calls, c->id);
    if (c->peer != NULL) {
        c->peer->n_calls--;
        if (l == NULL)
            c->peer->pending_bytes -= c->body.len;
    }
    c->cb(status, message, body, len, c->ctx);
    sh_buf_free(&c->body);
    free(c);
    if (l != NULL)
        sh__link_maybe_finish(l);
}

static void call_fail(sh_call *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void call_fail(sh_call *c, int status, const char *fmt, ...)
{
    char msg[SH_RPC_MAX_ERROR_MESSAGE_BYTES + 1];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    call_finish(c, status, msg, NULL, 0);
}

static void on_deadline(uv_timer_t *t)
{
    sh_net *net = t->data;
    uint64_t now = uv_now(net->loop);

    while (net->heap_len > 0 && net->heap[0]->deadline <= now) {
        sh_call *c = net->heap[0];
        sh_net_peer *p = c->peer;

        if (c->link == NULL && p != NULL && p->last_error[0] != '\0')
            call_fail(c, SH_ERR_TIMEOUT, "no answer to '%s' within %u ms: %s is unreachable (%s)",
                      c->method, c->deadline_ms, p->name, p->last_error);
        else
            call_fail(c, SH_ERR_TIMEOUT, "no answer to '%s' within %u ms from %s", c->method,
                      c->deadline_ms, c->link != NULL ? c->link->name : "the peer");
    }
    deadline_rearm(net);
}

/* Puts a call on an open link. On failure the call is unchanged (still unsent). */
static int call_send(sh_link *l, sh_call *c, const uint8_t *body, size_t len)
{
    int rc;

    c->id = l->next_id++;
    rc = sh__idmap_put(&l->calls, c->id, c);
    if (rc != SH_OK)
        return rc;
    rc = sh__link_send_request(l, c, body, len);
    if (rc != SH_OK) {
        (void)sh__idmap_remove(&l->calls, c->id);
        return rc;
    }
    if (c->peer != NULL)
        c->peer->pending_bytes -= c->body.len; /* 0 unless it waited */
    sh__list_remove(&c->node);
    sh__list_push(&l->call_list, &c->node);
    c->link = l;
    sh_buf_free(&c->body);
    return SH_OK;
}

int sh_net_call(sh_net_peer *peer, const char *method, const uint8_t *body, size_t len,
                uint32_t deadline_ms, sh_net_call_cb cb, void *ctx)
{
    sh_net *net = peer->net;
    sh_call *c;
    int rc;

    if (peer->closing || net->closing || net->draining)
        return sh_err_set(SH_ERR_CANCELLED, "the peer or the network layer is closing");
    if (!sh__rpc_method_valid(method))
        return sh_err_set(SH_ERR_INVALID, "method names are 1 to %u characters of a-z, 0-9, "
                                          "'_', '.' and '-'", SH_RPC_MAX_METHOD_BYTES);
    if (len > SH_RPC_MAX_BODY_BYTES)
        return sh_err_set(SH_ERR_INVALID, "a call body of %zu bytes is over the %u-byte limit",
                          len, SH_RPC_MAX_BODY_BYTES);
    if (deadline_ms == 0 || deadline_ms > SH_RPC_MAX_DEADLINE_MS)
        return sh_err_set(SH_ERR_INVALID, "a deadline of %u ms is outside 1 to %u ms",
                          deadline_ms, SH_RPC_MAX_DEADLINE_MS);
    if (cb == NULL)
        return sh_err_set(SH_ERR_INVALID, "a call needs a callback");
    if (peer->n_calls >= net->cfg.max_calls_per_peer)
        return sh_err_set(SH_ERR_BUSY, "%u calls to %s are waiting already, the limit",
                          peer->n_calls, peer->name);
    if (peer->pending_bytes + len > PENDING_BYTES_FACTOR * net->cfg.max_write_queue_bytes)
        return sh_err_set(SH_ERR_BUSY, "%zu bytes of calls to %s wait to be sent, the limit",
                          peer->pending_bytes, peer->name);
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a call");
    c->net = net;
    c->peer = peer;
    c->deadline_ms = deadline_ms;
    c->deadline = uv_now(net->loop) + deadline_ms;
    snprintf(c->method, sizeof c->method, "%s", method);
    c->cb = cb;
    c->ctx = ctx;
    sh_buf_init_secret(&c->body);
    sh__list_init(&c->node);
    rc = heap_push(net, c);
    if (rc != SH_OK) {
        free(c);
        return rc;
    }
    if (peer->link != NULL && sh__list_empty(&peer->pending) && sh__link_writable(peer->link))
        rc = call_send(peer->link, c, body, len);
    else if ((rc = sh_buf_append(&c->body, body, len)) == SH_OK) {
        sh__list_push(&peer->pending, &c->node);
        peer->pending_bytes += len;
    }
    if (rc != SH_OK) {
        heap_remove(net, c);
        sh_buf_free(&c->body);
        free(c);
        return rc;
    }
    peer->n_calls++;
    peer_kick(peer);
    return SH_OK;
}

/* Answers and link events --------------------------------------------------------------------- */

/* Error messages come from the peer: keep them printable for logs and terminals. */
static void sanitize(char *out, size_t out_size, const char *in)
{
    size_t i;

    for (i = 0; in[i] != '\0' && i + 1 < out_size; i++)
        out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
    out[i] = '\0';
}

int sh__peer_on_response(sh_link *l, const uint8_t *data, size_t len)
{
    char msg[SH_RPC_MAX_ERROR_MESSAGE_BYTES + 1];
    sh_rpc_response rs;
    sh_call *c;
    int rc;

    rc = sh__rpc_response_decode(data, len, &rs);
    if (rc != SH_OK)
        return rc;
    c = sh__idmap_get(&l->calls, rs.id);
    if (c == NULL) {
        uint64_t id = rs.id;

        sh__rpc_response_release(&rs);
        if (id >= l->next_id)
            return sh_err_set(SH_ERR_PROTOCOL, "an answer to call %llu, which was never made",
                              (unsigned long long)id);
        return SH_OK; /* its deadline passed already */
    }
    sanitize(msg, sizeof msg, rs.error_message);
    l->last_call_ms = uv_now(l->net->loop);
    call_finish(c, rs.status, msg, rs.body, rs.body_len);
    sh__rpc_response_release(&rs);
    return SH_OK;
}

void sh__peer_fail_link_calls(sh_link *l, int code, const char *reason)
{
    while (!sh__list_empty(&l->call_list)) {
        sh_call *c = SH_CONTAINER_OF(l->call_list.next, sh_call, node);

        call_fail(c, code, "the link to %s closed before the answer (the call may have run): %s",
                  l->name, reason);
    }
}

void sh__peer_link_open(sh_net_peer *peer)
{
    sh_link *l = peer->link;

    peer->failures = 0;
    peer->last_error[0] = '\0';
    while (!sh__list_empty(&peer->pending) && peer->link == l && sh__link_writable(l)) {
        sh_call *c = SH_CONTAINER_OF(peer->pending.next, sh_call, node);
        int rc = call_send(l, c, c->body.data, c->body.len);

        if (rc != SH_OK)
            call_fail(c, rc, "sending the call failed: %s", sh_err_msg());
    }
}

static void on_backoff(uv_timer_t *t)
{
    sh_net_peer *peer = t->data;

    peer->backoff_active = false;
    peer_kick(peer);
}

/* Reconnect delay after `failures` failed attempts: doubling from reconnect_min_ms up to
 * reconnect_max_ms, then a random 50-100% of it so that many clients do not return at once. */
static uint64_t backoff_ms(const sh_net_config *cfg, unsigned failures)
{
    uint64_t d = cfg->reconnect_min_ms;

    for (unsigned i = 1; i < failures && d < cfg->reconnect_max_ms; i++)
        d *= 2;
    if (d > cfg->reconnect_max_ms)
        d = cfg->reconnect_max_ms;
    return d / 2 + randombytes_uniform((uint32_t)(d / 2 + 1));
}

static void fail_pending(sh_net_peer *peer, int code, const char *reason)
{
    while (!sh__list_empty(&peer->pending))
        call_fail(SH_CONTAINER_OF(peer->pending.next, sh_call, node), code, "%s is unreachable (%s)", peer->name,
                  reason);
}

void sh__peer_link_closed(sh_net_peer *peer, sh_link *l, int code, const char *reason)
{
    uint64_t delay = 0;

    if (peer->link == l)
        peer->link = NULL;
    if (code != SH_OK) {
        snprintf(peer->last_error, sizeof peer->last_error, "%s", reason);
        if (!l->was_open)
            peer->failures++;
        if (!l->was_open && peer->fail_fast)
            fail_pending(peer, code, reason);
        delay = backoff_ms(&peer->net->cfg, peer->failures > 0 ? peer->failures : 1);
    }
    if (peer->closing || peer->net->closing || peer->net->draining)
        return;
    if (sh__list_empty(&peer->pending) && !peer->keep_open)
        return;
    sh_log_debug(SH_NET_LOG_AREA, "peer %s: reconnecting in %llu ms", peer->name,
                 (unsigned long long)delay);
    peer->backoff_active = true;
    uv_timer_start(&peer->backoff_timer, on_backoff, delay, 0);
}

void sh__peer_on_goaway(sh_link *l)
{
    sh_log_info(SH_NET_LOG_AREA,
                "link %s: GOAWAY from the server; calls in flight finish, new ones use a new link",
                l->name);
    sh__link_drain(l);
}

static void peer_kick(sh_net_peer *peer)
{
    int rc;

    if (peer->closing || peer->link != NULL || peer->backoff_active || peer->net->closing ||
        peer->net->draining)
        return;
    if (sh__list_empty(&peer->pending) && !peer->keep_open)
        return;
    rc = sh__link_connect(peer->net, peer);
    if (rc != SH_OK) {
        snprintf(peer->last_error, sizeof peer->last_error, "%s", sh_err_msg());
        peer->failures++;
        if (peer->fail_fast)
            fail_pending(peer, rc, peer->last_error);
        peer->backoff_active = true;
        uv_timer_start(&peer->backoff_timer, on_backoff,
                       backoff_ms(&peer->net->cfg, peer->failures), 0);
    }
}

/* Peers --------------------------------------------------------------------------------------- */

int sh_net_peer_new(sh_net *net, const char *address, uint16_t port,
                    const uint8_t remote_key[static SH_NET_KEY_BYTES],
                    const sh_net_peer_opts *opts, sh_net_peer **out)
{
    sh_net_peer *peer;
    bool v6;

    if (net->closing || net->draining)
        return sh_err_set(SH_ERR_CANCELLED, "the network layer is closing");
    peer = calloc(1, sizeof *peer);
    if (peer == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a peer");
    if (uv_ip4_addr(address, port, (struct sockaddr_in *)&peer->addr) != 0 &&
        uv_ip6_addr(address, port, (struct sockaddr_in6 *)&peer->addr) != 0) {
        free(peer);
        return sh_err_set(SH_ERR_INVALID, "'%s' is not a numeric IPv4 or IPv6 address", address);
    }
    if (opts != NULL && opts->local_static_sk != NULL) {
        peer->local_sk = sh_secret_alloc(SH_NET_KEY_BYTES);
        if (peer->local_sk == NULL) {
            free(peer);
            return sh_err_set(SH_ERR_NOMEM, "out of memory for a peer's key");
        }
        memcpy(peer->local_sk, opts->local_static_sk, SH_NET_KEY_BYTES);
    }
    v6 = peer->addr.ss_family == AF_INET6;
    snprintf(peer->name, sizeof peer->name, v6 ? "[%s]:%u" : "%s:%u", address, port);
    peer->net = net;
    memcpy(peer->remote_key, remote_key, SH_NET_KEY_BYTES);
    peer->keep_open = opts != NULL && opts->keep_open;
    peer->fail_fast = opts != NULL && opts->fail_fast;
    sh__list_init(&peer->pending);
    uv_timer_init(net->loop, &peer->backoff_timer);
    peer->backoff_timer.data = peer;
    sh__list_push(&net->peers, &peer->node);
    peer_kick(peer);
    *out = peer;
    return SH_OK;
}

static void peer_timer_closed(uv_handle_t *h)
{
    sh_net_peer *peer = h->data;
    sh_net *net = peer->net;

    sh__list_remove(&peer->node);
    sh_secret_free(peer->local_sk);
    free(peer);
    sh__net_maybe_free(net);
}

/* The first call in flight for `peer` on any link, or NULL. */
static sh_call *peer_call_in_flight(sh_net *net, const sh_net_peer *peer)
{
    for (sh_list *n = net->links.next; n != &net->links; n = n->next) {
        sh_link *l = SH_CONTAINER_OF(n, sh_link, node);

        for (sh_list *cn = l->call_list.next; cn != &l->call_list; cn = cn->next) {
            sh_call *c = SH_CONTAINER_OF(cn, sh_call, node);

            if (c->peer == peer)
                return c;
        }
    }
    return NULL;
}

/* Callbacks may end other calls, so the search restarts after each one. */
static void peer_cancel_calls(sh_net *net, sh_net_peer *peer)
{
    sh_call *c;

    while ((c = peer_call_in_flight(net, peer)) != NULL)
        call_fail(c, SH_ERR_CANCELLED, "the call to %s was cancelled", peer->name);
}

/* Graceful: calls in flight finish without their peer. */
static void peer_forget_calls(sh_net *net, sh_net_peer *peer)
{
    sh_call *c;

    while ((c = peer_call_in_flight(net, peer)) != NULL) {
        c->peer = NULL;
        peer->n_calls--;
    }
}

/* Ends a peer: its unsent calls fail; calls in flight are cancelled too, or (graceful) left to
 * finish on links that drain without it. */
static void peer_end(sh_net_peer *peer, bool graceful)
{
    sh_net *net = peer->net;
    sh_link *l = peer->link;

    if (peer->closing)
        return;
    peer->closing = true;
    while (!sh__list_empty(&peer->pending))
        call_fail(SH_CONTAINER_OF(peer->pending.next, sh_call, node), SH_ERR_CANCELLED,
                  "the call to %s was cancelled before it was sent", peer->name);
    if (graceful)
        peer_forget_calls(net, peer);
    else
        peer_cancel_calls(net, peer);
    if (l != NULL) {
        l->peer = NULL;
        peer->link = NULL;
        sh__link_drain(l);
    }
    uv_close((uv_handle_t *)&peer->backoff_timer, peer_timer_closed);
}

void sh_net_peer_close(sh_net_peer *peer)
{
    peer_end(peer, false);
}

void sh__peer_close_all(sh_net *net, bool graceful)
{
    for (sh_list *n = net->peers.next; n != &net->peers; n = n->next)
        peer_end(SH_CONTAINER_OF(n, sh_net_peer, node), graceful);
}
