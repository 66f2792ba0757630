/* The sh_net object: configuration, the listener and the admission of incoming links, the method
 * registry, dispatch of requests to handlers with authorization and rate limits, answers, and
 * closing (at once, or gracefully after calls in flight). Links are in link.c, callers' side in
 * peer.c. */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "net/internal.h"
#include "util/err.h"
#include "util/log.h"

void sh_net_config_default(sh_net_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->connect_timeout_ms = SH_NET_DEFAULT_CONNECT_TIMEOUT_MS;
    cfg->handshake_timeout_ms = SH_NET_DEFAULT_HANDSHAKE_TIMEOUT_MS;
    cfg->idle_timeout_ms = SH_NET_DEFAULT_IDLE_TIMEOUT_MS;
    cfg->keepalive_ms = SH_NET_DEFAULT_KEEPALIVE_MS;
    cfg->keepalive_timeout_ms = SH_NET_DEFAULT_KEEPALIVE_TIMEOUT_MS;
    cfg->reconnect_min_ms = SH_NET_DEFAULT_RECONNECT_MIN_MS;
    cfg->reconnect_max_ms = SH_NET_DEFAULT_RECONNECT_MAX_MS;
    cfg->shutdown_timeout_ms = SH_NET_DEFAULT_SHUTDOWN_TIMEOUT_MS;
    cfg->linger_ms = SH_NET_DEFAULT_LINGER_MS;
    cfg->max_write_queue_bytes = SH_NET_DEFAULT_MAX_WRITE_QUEUE_BYTES;
    cfg->max_links = SH_NET_DEFAULT_MAX_LINKS;
    cfg->max_links_per_ip = SH_NET_DEFAULT_MAX_LINKS_PER_IP;
    cfg->max_calls_per_link = SH_NET_DEFAULT_MAX_CALLS_PER_LINK;
    cfg->max_calls_per_peer = SH_NET_DEFAULT_MAX_CALLS_PER_PEER;
    cfg->peer_rate_per_s = SH_NET_DEFAULT_PEER_RATE_PER_S;
    cfg->peer_burst = SH_NET_DEFAULT_PEER_BURST;
}

static int config_check(const sh_net_config *c)
{
    if (c->connect_timeout_ms == 0 || c->handshake_timeout_ms == 0 || c->idle_timeout_ms == 0 ||
        c->keepalive_ms == 0 || c->keepalive_timeout_ms == 0 || c->reconnect_min_ms == 0 ||
        c->reconnect_max_ms < c->reconnect_min_ms || c->shutdown_timeout_ms == 0 ||
        c->linger_ms == 0 || c->max_write_queue_bytes == 0 || c->max_links == 0 ||
        c->max_links_per_ip == 0 || c->max_calls_per_link == 0 || c->max_calls_per_peer == 0 ||
        c->peer_rate_per_s == 0 || c->peer_burst == 0)
        return sh_err_set(SH_ERR_INVALID, "a net timeout or limit is zero (or the reconnect "
                                          "maximum is below the minimum)");
    if (c->keepalive_ms >= c->idle_timeout_ms)
        return sh_err_set(SH_ERR_INVALID, "keepalive (%u ms) must be shorter than the idle "
                                          "timeout (%u ms)", c->keepalive_ms, c->idle_timeout_ms);
    return SH_OK;
}

void sh__bucket_init(sh_bucket *b, uint32_t rate_per_s, uint32_t burst, uint64_t now_ms)
{
    b->rate = rate_per_s;
    b->burst = burst;
    b->tokens = burst;
    b->last_ms = now_ms;
}

bool sh__bucket_take(sh_bucket *b, uint64_t now_ms)
{
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last_ms = now_ms;
    }
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

int sh_net_new(uv_loop_t *loop, const sh_net_config *cfg, sh_net **out)
{
    sh_net *net;
    int rc;

    rc = sh_crypto_init();
    if (rc != SH_OK)
        return rc;
    net = calloc(1, sizeof *net);
    if (net == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory creating the network layer");
    if (cfg != NULL)
        net->cfg = *cfg;
    else
        sh_net_config_default(&net->cfg);
    rc = config_check(&net->cfg);
    if (rc != SH_OK) {
        free(net);
        return rc;
    }
    net->loop = loop;
    sh__list_init(&net->links);
    sh__list_init(&net->peers);
    sh__idmap_init(&net->per_ip);
    uv_timer_init(loop, &net->deadline_timer);
    uv_timer_init(loop, &net->shutdown_timer);
    net->deadline_timer.data = net->shutdown_timer.data = net;
    net->handles_open = 2;
    *out = net;
    return SH_OK;
}

/* Listening ----------------------------------------------------------------------------------- */

static void on_connection(uv_stream_t *server, int status)
{
    sh_net *net = server->data;

    if (status < 0) {
        sh_log_warn(SH_NET_LOG_AREA, "accepting connections failed: %s", uv_strerror(status));
        return;
    }
    sh__link_accept(net);
}

static int parse_address(const char *address, uint16_t port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (uv_ip4_addr(address, port, (struct sockaddr_in *)ss) == 0 ||
        uv_ip6_addr(address, port, (struct sockaddr_in6 *)ss) == 0)
        return SH_OK;
    return sh_err_set(SH_ERR_INVALID, "'%s' is not a numeric IPv4 or IPv6 address", address);
}

int sh_net_listen(sh_net *net, const char *address, uint16_t port,
                  const uint8_t static_sk[static SH_NET_KEY_BYTES], uint16_t *bound_port)
{
    struct sockaddr_storage ss;
    int len = sizeof ss, rc;

    if (net->listening || net->closing || net->draining)
        return sh_err_set(SH_ERR_INVALID, "already listening, or closing");
    rc = parse_address(address, port, &ss);
    if (rc != SH_OK)
        return rc;
    net->static_sk = sh_secret_alloc(SH_NET_KEY_BYTES);
    if (net->static_sk == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the static key");
    memcpy(net->static_sk, static_sk, SH_NET_KEY_BYTES);
    uv_tcp_init(net->loop, &net->listener);
    net->listener.data = net;
    net->listening = true;
    net->handles_open++;
    rc = uv_tcp_bind(&net->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&net->listener, SOMAXCONN, on_connection);
    if (rc == 0)
        rc = uv_tcp_getsockname(&net->listener, (struct sockaddr *)&ss, &len);
    if (rc != 0)
        return sh_err_set(SH_ERR_IO, "cannot listen on %s port %u: %s", address, port,
                          uv_strerror(rc));
    if (bound_port != NULL)
        *bound_port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return SH_OK;
}

static uint64_t ip_key(const struct sockaddr_storage *ss)
{
    const uint8_t *a6;

    if (ss->ss_family == AF_INET)
        return 1ull << 32 | ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr);
    if (ss->ss_family != AF_INET6)
        return 1;
    a6 = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
    if (memcmp(a6, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) /* IPv4-mapped */
        return 1ull << 32 | sh_load_u32be(a6 + 12);
    /* A host usually has a whole /64: count it as one address. */
    return sh_load_u64be(a6) | 2;
}

int sh__net_admit(sh_net *net, sh_link *l, const struct sockaddr_storage *ss)
{
    uint64_t key = ip_key(ss);
    uintptr_t count = (uintptr_t)sh__idmap_get(&net->per_ip, key);
    int rc;

    if (net->draining || net->closing)
        return sh_err_set(SH_ERR_UNAVAILABLE, "refused: shutting down");
    if (net->n_accepted >= net->cfg.max_links)
        return sh_err_set(SH_ERR_BUSY, "refused: %u links are open, the limit", net->n_accepted);
    if (count >= net->cfg.max_links_per_ip)
        return sh_err_set(SH_ERR_BUSY, "refused: %u links are open from this address, the limit",
                          (unsigned)count);
    rc = sh__idmap_put(&net->per_ip, key, (void *)(count + 1));
    if (rc != SH_OK)
        return rc;
    l->ip_key = key;
    l->counted_ip = true;
    net->n_accepted++;
    return SH_OK;
}

void sh__net_link_freed(sh_link *l)
{
    sh_net *net = l->net;
    uintptr_t count;

    if (!l->counted_ip)
        return;
    count = (uintptr_t)sh__idmap_get(&net->per_ip, l->ip_key);
    if (count <= 1 || sh__idmap_put(&net->per_ip, l->ip_key, (void *)(count - 1)) != SH_OK)
        (void)sh__idmap_remove(&net->per_ip, l->ip_key); /* (replacing a value cannot fail) */
    net->n_accepted--;
}

void sh__net_link_event(sh_link *l, int status, const char *reason)
{
    sh_net_link_event ev;

    if (l->net->cfg.link_cb == NULL)
        return;
    ev.name = l->name;
    ev.initiator = l->initiator;
    ev.remote_key = l->has_remote_key ? l->remote_key : NULL;
    ev.status = status;
    ev.reason = reason;
    l->net->cfg.link_cb(&ev, l->net->cfg.link_ctx);
}

/* Methods and requests ------------------------------------------------------------------------ */

static sh_method *find_method(sh_net *net, const char *name)
{
    for (size_t i = 0; i < net->n_methods; i++) {
        if (strcmp(net->methods[i].name, name) == 0)
            return &net->methods[i];
    }
    return NULL;
}

int sh_net_register(sh_net *net, const char *method, sh_rpc_kind kind, sh_net_handler_cb cb,
                    void *ctx, const sh_net_method_limits *limits)
{
    sh_method *m;

    if (!sh__rpc_method_valid(method))
        return sh_err_set(SH_ERR_INVALID, "method names are 1 to %u characters of a-z, 0-9, "
                                          "'_', '.' and '-'", SH_RPC_MAX_METHOD_BYTES);
    if ((kind != SH_RPC_CLIENT && kind != SH_RPC_NODE) || cb == NULL)
        return sh_err_set(SH_ERR_INVALID, "method '%s' needs a kind and a handler", method);
    if (find_method(net, method) != NULL)
        return sh_err_set(SH_ERR_EXISTS, "method '%s' is registered already", method);
    if (net->n_methods == net->cap_methods) {
        size_t cap = net->cap_methods == 0 ? 16 : net->cap_methods * 2;
        sh_method *p = realloc(net->methods, cap * sizeof *p);

        if (p == NULL)
            return sh_err_set(SH_ERR_NOMEM, "out of memory registering '%s'", method);
        net->methods = p;
        net->cap_methods = cap;
    }
    m = &net->methods[net->n_methods++];
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", method);
    m->kind = kind;
    m->cb = cb;
    m->ctx = ctx;
    if (limits != NULL && limits->rate_per_s > 0) {
        m->limited = true;
        sh__bucket_init(&m->bucket, limits->rate_per_s,
                        limits->burst > 0 ? limits->burst : limits->rate_per_s,
                        uv_now(net->loop));
    }
    return SH_OK;
}

void sh_net_set_authorize(sh_net *net, sh_net_authorize_cb cb, void *ctx)
{
    net->authorize = cb;
    net->authorize_ctx = ctx;
}

/* Decides whether a request reaches its handler; an error code and message for the caller if
 * not. The link's bucket is charged first so that junk costs tokens too. */
static int admit_request(sh_link *l, const sh_rpc_request *rq, sh_method **out)
{
    sh_net *net = l->net;
    uint64_t now = uv_now(net->loop);
    sh_method *m;
    int rc;

    if (net->draining)
        return sh_err_set(SH_ERR_UNAVAILABLE, "the server is shutting down; call another node "
                                              "or try again later");
    if (!sh__bucket_take(&l->bucket, now))
        return sh_err_set(SH_ERR_BUSY, "rate limit: a link may make %u calls per second (bursts "
                                       "of %u); slow down", net->cfg.peer_rate_per_s,
                          net->cfg.peer_burst);
    rc = sh__rpc_request_check(rq);
    if (rc != SH_OK)
        return rc;
    m = find_method(net, rq->method);
    if (m == NULL)
        return sh_err_set(SH_ERR_NOT_FOUND, "this server has no method '%s'", rq->method);
    if (m->kind == SH_RPC_NODE &&
        (net->authorize == NULL || !net->authorize(l->remote_key, m->name, net->authorize_ctx)))
        return sh_err_set(SH_ERR_PERMISSION, "method '%s' is for service nodes of the network "
                                             "map, and this link's key is not one", m->name);
    if (m->limited && !sh__bucket_take(&m->bucket, now))
        return sh_err_set(SH_ERR_BUSY, "method '%s' is rate-limited to %.0f calls per second; "
                                       "try again later", m->name, m->bucket.rate);
    if (l->n_reqs >= net->cfg.max_calls_per_link)
        return sh_err_set(SH_ERR_BUSY, "%u calls are in flight on this link, the limit",
                          l->n_reqs);
    *out = m;
    return SH_OK;
}

int sh__net_on_request(sh_link *l, const uint8_t *data, size_t len)
{
    sh_rpc_request rq;
    sh_net_req *req;
    sh_method *m = NULL;
    int rc;

    rc = sh__rpc_request_decode(data, len, &rq);
    if (rc != SH_OK)
        return rc; /* the peer is broken or hostile: the link closes */
    rc = admit_request(l, &rq, &m);
    if (rc == SH_OK && (req = calloc(1, sizeof *req)) == NULL)
        rc = sh_err_set(SH_ERR_NOMEM, "the server is out of memory");
    if (rc != SH_OK) {
        sh_log_debug(SH_NET_LOG_AREA, "link %s: call %llu refused: %s", l->name,
                     (unsigned long long)rq.id, sh_err_msg());
        rc = sh__link_send_response(l, rq.id, rc, sh_err_msg(), NULL, 0);
        sh__rpc_request_release(&rq);
        return rc;
    }
    req->link = l;
    req->loop = l->net->loop;
    req->rq = rq;
    sh__frame_rx_take(&l->sec->rx, &req->plain); /* the body stays where it was opened */
    memcpy(req->peer_key, l->remote_key, SH_NET_KEY_BYTES);
    req->deadline_ms = uv_now(l->net->loop) + rq.deadline_ms;
    sh__list_push(&l->reqs, &req->node);
    l->n_reqs++;
    m->cb(req, rq.body, rq.body_len, m->ctx);
    return SH_OK;
}

void sh__net_cancel_reqs(sh_link *l)
{
    while (!sh__list_empty(&l->reqs)) {
        sh_net_req *req = SH_CONTAINER_OF(l->reqs.next, sh_net_req, node);

        sh__list_remove(&req->node);
        l->n_reqs--;
        req->link = NULL;
        if (req->cancel_cb != NULL)
            req->cancel_cb(req, req->cancel_ctx);
    }
}

int sh_net_respond(sh_net_req *req, int status, const uint8_t *body, size_t len,
                   const char *error_message, ...)
{
    char msg[SH_RPC_MAX_ERROR_MESSAGE_BYTES + 1] = "";
    sh_link *l = req->link;
    va_list ap;
    int rc = SH_OK;

    if (error_message != NULL) {
        va_start(ap, error_message);
        vsnprintf(msg, sizeof msg, error_message, ap);
        va_end(ap);
    }
    if (len > SH_RPC_MAX_BODY_BYTES) {
        rc = sh_err_set(SH_ERR_INVALID, "an answer of %zu bytes is over the %u-byte limit", len,
                        SH_RPC_MAX_BODY_BYTES);
        snprintf(msg, sizeof msg, "the server's answer (%zu bytes) was over the size limit", len);
        status = SH_ERR_INTERNAL, body = NULL, len = 0;
    }
    if (status > 0)
        status = SH_ERR_INTERNAL;
    if (l == NULL) {
        rc = sh_err_set(SH_ERR_CANCELLED, "the caller's link closed before the answer");
    } else {
        int send_rc = sh__link_send_response(l, req->rq.id, status, msg, body, len);

        if (rc == SH_OK)
            rc = send_rc;
        sh__list_remove(&req->node);
        l->n_reqs--;
        sh__link_maybe_finish(l);
    }
    sh__rpc_request_release(&req->rq);
    sh_buf_free(&req->plain);
    free(req);
    return rc;
}

const char *sh_net_req_method(const sh_net_req *req)
{
    return req->rq.method;
}

const uint8_t *sh_net_req_peer_key(const sh_net_req *req)
{
    return req->peer_key;
}

uint64_t sh_net_req_time_left_ms(const sh_net_req *req)
{
    uint64_t now = uv_now(req->loop);

    return req->deadline_ms > now ? req->deadline_ms - now : 0;
}

bool sh_net_req_alive(const sh_net_req *req)
{
    return req->link != NULL;
}

void sh_net_req_on_cancel(sh_net_req *req, void (*cancel_cb)(sh_net_req *req, void *ctx),
                          void *ctx)
{
    req->cancel_cb = cancel_cb;
    req->cancel_ctx = ctx;
}

/* Closing ------------------------------------------------------------------------------------- */

static void net_handle_closed(uv_handle_t *h)
{
    sh_net *net = h->data;

    net->handles_open--;
    sh__net_maybe_free(net);
}

void sh__net_maybe_free(sh_net *net)
{
    void (*cb)(void *);
    void *ctx;

    if (net->draining && !net->closing && sh__list_empty(&net->links) &&
        sh__list_empty(&net->peers)) {
        sh_net_close(net, net->close_cb, net->close_ctx); /* the graceful part is over */
        return;
    }
    if (!net->closing || net->handles_open > 0 || !sh__list_empty(&net->links) ||
        !sh__list_empty(&net->peers))
        return;
    cb = net->close_cb;
    ctx = net->close_ctx;
    sh_secret_free(net->static_sk);
    sh__idmap_free(&net->per_ip);
    free(net->methods);
    free(net->heap);
    for (unsigned i = 0; i < net->rpool_n; i++)
        free(net->rpool[i]);
    for (unsigned i = 0; i < net->pool_n; i++)
        sh_buf_free(&net->pool[i]);
    free(net);
    if (cb != NULL)
        cb(ctx);
}

void sh_net_close(sh_net *net, void (*close_cb)(void *ctx), void *ctx)
{
    if (net->closing)
        return;
    net->closing = true;
    net->close_cb = close_cb;
    net->close_ctx = ctx;
    if (net->listening) {
        net->listening = false;
        uv_close((uv_handle_t *)&net->listener, net_handle_closed);
    }
    uv_close((uv_handle_t *)&net->deadline_timer, net_handle_closed);
    uv_close((uv_handle_t *)&net->shutdown_timer, net_handle_closed);
    sh__peer_close_all(net, false);
    for (sh_list *n = net->links.next; n != &net->links; n = n->next)
        sh__link_close(SH_CONTAINER_OF(n, sh_link, node), SH_ERR_CANCELLED,
                       "the network layer is closing");
}

static void on_shutdown_timeout(uv_timer_t *t)
{
    sh_net *net = t->data;

    sh_log_info(SH_NET_LOG_AREA, "shutdown: calls still in flight after %u ms; closing",
                net->cfg.shutdown_timeout_ms);
    sh_net_close(net, net->close_cb, net->close_ctx);
}

void sh_net_shutdown(sh_net *net, void (*close_cb)(void *ctx), void *ctx)
{
    if (net->closing || net->draining)
        return;
    net->draining = true;
    net->close_cb = close_cb;
    net->close_ctx = ctx;
    if (net->listening) {
        net->listening = false;
        uv_close((uv_handle_t *)&net->listener, net_handle_closed);
    }
    uv_timer_start(&net->shutdown_timer, on_shutdown_timeout, net->cfg.shutdown_timeout_ms, 0);
    sh__peer_close_all(net, true);
    for (sh_list *n = net->links.next; n != &net->links; n = n->next) {
        sh_link *l = SH_CONTAINER_OF(n, sh_link, node);

        sh__link_drain(l);
    }
    sh__net_maybe_free(net);
}
