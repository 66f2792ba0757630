/* One link: a TCP connection, its Noise_XK handshake and its framed transport (docs/net.md).
 *
 * States (sh_link_state) and the functions that move a link between them:
 *
 *     sh__link_connect                 sh__link_accept
 *           |                                 |
 *     CONNECTING --on_connect--> HANDSHAKE <--+
 *                                    |  handshake_step: the last message read or written
 *                                    v  (link_open)
 *                                  OPEN --sh__link_drain: GOAWAY sent (responder: shutdown,
 *                                    |     idle) or received (caller), caller idle or closed
 *                                    v
 *                                DRAINING --caller, sh__link_maybe_finish: its calls answered
 *                                    |      (link_linger sends FIN)
 *                                    v
 *                                 LINGER --on_read (peer's FIN) or on_timer (linger_ms)
 *                                    |
 *     any state --sh__link_close--> CLOSING --link_handle_closed (both handles)--> freed
 *
 * A draining responder keeps serving (requests may cross its GOAWAY) until the caller's FIN
 * (on_read) or linger_ms after the drain with nothing in flight (link_tick).
 * sh__link_close is the one way out: an error, a timeout (on_timer in CONNECTING and HANDSHAKE,
 * link_tick for keepalive), the peer's EOF, a protocol violation, a full write queue, or
 * sh_net_close. Invariants:
 *  1. A link is on net->links from link_new until link_free, which runs only after uv_close has
 *     completed for both its TCP handle and its timer; so callbacks may close it at any time and
 *     the struct stays valid until the loop gets back to the close callbacks.
 *  2. Requests and calls are carried only in OPEN and DRAINING. A draining caller sends no new
 *     calls (its peer has detached it); a draining responder still serves requests that crossed
 *     its GOAWAY, except while the sh_net shuts down (then SH_ERR_UNAVAILABLE).
 *  3. link->peer is set only while the peer would send new calls on the link, and then
 *     peer->link == link.
 *  4. Every call on link->call_list was sent under this link's keys and fails when the link
 *     closes; every request on link->reqs is cancelled then (sh__net_cancel_reqs).
 *  5. Keys (handshake state, both cipher states) live in link->sec, sh_secret_alloc() memory,
 *     wiped and freed by link_free. Read buffers only ever hold ciphertext: frames are opened
 *     into the rx's secret message buffer (frame.c), which a request takes along.
 *  6. Writes go through link->out: while a read callback is being processed (cork > 0) frames
 *     gather there and leave in one write at its end (link_flush). */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/labels.h"
#include "net/internal.h"
#include "util/encode.h"
#include "util/err.h"
#include "util/log.h"

typedef struct link_write {
    uv_write_t req;
    sh_buf buf;
} link_write;

/* Frames gathered while corked leave early once this many bytes wait, so that the write queue
 * (and its limit) sees them. */
#define CORK_FLUSH_BYTES (256u * 1024u)

static void on_timer(uv_timer_t *t);
static void link_flush(sh_link *l);

/* Closes the link from its timer, on the next loop iteration: used where a close now would run
 * callers' callbacks from inside an API call (sh_net_call, sh_net_respond). */
static void link_fail_later(sh_link *l, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void link_fail_later(sh_link *l, int code, const char *fmt, ...)
{
    va_list ap;

    if (l->state == SH_LINK_CLOSING || l->deferred_code != SH_OK)
        return;
    va_start(ap, fmt);
    vsnprintf(l->deferred_reason, sizeof l->deferred_reason, fmt, ap);
    va_end(ap);
    l->deferred_code = code;
    uv_timer_start(&l->timer, on_timer, 0, 0);
}

/* Life cycle ---------------------------------------------------------------------------------- */

/* Read buffers: taken from the pool when bytes arrive, given back when all are processed. */
static uint8_t *rbuf_take(sh_net *net)
{
    return net->rpool_n > 0 ? net->rpool[--net->rpool_n] : malloc(SH_NET_READ_BUFFER_BYTES);
}

static void rbuf_release(sh_link *l)
{
    sh_net *net = l->net;

    if (l->rbuf == NULL)
        return;
    if (net->rpool_n < SH_NET_READ_POOL)
        net->rpool[net->rpool_n++] = l->rbuf;
    else
        free(l->rbuf);
    l->rbuf = NULL;
    l->roff = l->rlen = 0;
}

static sh_link *link_new(sh_net *net, bool initiator)
{
    sh_link *l = calloc(1, sizeof *l);

    if (l == NULL)
        return NULL;
    l->sec = sh_secret_alloc(sizeof *l->sec);
    if (l->sec == NULL) {
        free(l);
        return NULL;
    }
    memset(l->sec, 0, sizeof *l->sec);
    l->net = net;
    l->initiator = initiator;
    uv_tcp_init(net->loop, &l->tcp);
    uv_timer_init(net->loop, &l->timer);
    l->tcp.data = l->timer.data = l;
    l->handles_open = 2;
    sh__list_init(&l->reqs);
    sh__list_init(&l->call_list);
    sh_buf_init(&l->out);
    sh__idmap_init(&l->calls);
    l->next_id = 1;
    l->last_rx_ms = l->last_call_ms = uv_now(net->loop);
    sh__list_push(&net->links, &l->node);
    return l;
}

static void link_free(sh_link *l)
{
    sh_net *net = l->net;

    sh__list_remove(&l->node);
    sh__net_link_freed(l);
    sh__frame_rx_wipe(&l->sec->rx);
    sh_secret_free(l->sec);
    rbuf_release(l);
    sh_buf_free(&l->out);
    sh__idmap_free(&l->calls);
    free(l);
    sh__net_maybe_free(net);
}

static void link_handle_closed(uv_handle_t *h)
{
    sh_link *l = h->data;

    if (--l->handles_open == 0)
        link_free(l);
}

static bool peer_misbehaved(int code)
{
    return code == SH_ERR_PROTOCOL || code == SH_ERR_CRYPTO || code == SH_ERR_LIMIT ||
           code == SH_ERR_TIMEOUT || code == SH_ERR_FORMAT;
}

void sh__link_close(sh_link *l, int code, const char *fmt, ...)
{
    char reason[256];
    va_list ap;

    if (l->state == SH_LINK_CLOSING)
        return;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    l->state = SH_LINK_CLOSING;
    if (code == SH_OK)
        sh_log_debug(SH_NET_LOG_AREA, "link %s: closed: %s", l->name, reason);
    else if (peer_misbehaved(code))
        sh_log_warn(SH_NET_LOG_AREA, "link %s: cut off (%s): %s", l->name, sh_err_name(code),
                    reason);
    else
        sh_log_info(SH_NET_LOG_AREA, "link %s: closed (%s): %s", l->name, sh_err_name(code),
                    reason);
    uv_read_stop((uv_stream_t *)&l->tcp);
    uv_close((uv_handle_t *)&l->tcp, link_handle_closed);
    uv_close((uv_handle_t *)&l->timer, link_handle_closed);
    /* Detach first so that callbacks below that make new calls start a new link. */
    if (l->peer != NULL) {
        struct sh_net_peer *peer = l->peer;

        l->peer = NULL;
        sh__peer_link_closed(peer, l, code, reason);
    }
    sh__net_cancel_reqs(l);
    sh__peer_fail_link_calls(l, code == SH_ERR_CANCELLED ? SH_ERR_CANCELLED : SH_ERR_UNAVAILABLE,
                             reason);
    sh__net_link_event(l, code, reason);
}

/* Writing ------------------------------------------------------------------------------------- */

bool sh__link_writable(const sh_link *l)
{
    return l->state == SH_LINK_OPEN && l->deferred_code == SH_OK &&
           uv_stream_get_write_queue_size((const uv_stream_t *)&l->tcp) + l->out.len <=
               l->net->cfg.max_write_queue_bytes;
}

/* Makes sure link->out has memory, from the pool when it can. */
static int out_ready(sh_link *l)
{
    sh_net *net = l->net;

    if (l->out.data != NULL)
        return SH_OK;
    if (net->pool_n > 0) {
        l->out = net->pool[--net->pool_n];
        return SH_OK;
    }
    return sh_buf_reserve(&l->out, SH_NET_WRITE_BUFFER_BYTES);
}

static void pool_put(sh_net *net, sh_buf *b)
{
    if (net->pool_n < SH_NET_WRITE_POOL && b->cap <= 4 * SH_NET_WRITE_BUFFER_BYTES) {
        b->len = 0;
        net->pool[net->pool_n++] = *b;
        sh_buf_init(b);
    } else {
        sh_buf_free(b);
    }
}

static void on_write(uv_write_t *req, int status)
{
    link_write *w = SH_CONTAINER_OF(req, link_write, req);
    sh_link *l = req->data;

    pool_put(l->net, &w->buf);
    free(w);
    if (status < 0 && status != UV_ECANCELED)
        sh__link_close(l, SH_ERR_IO, "sending failed: %s", uv_strerror(status));
    else if (l->peer != NULL && !sh__list_empty(&l->peer->pending) && sh__link_writable(l))
        sh__peer_link_open(l->peer);
}

/* Hands link->out to the socket. It is written at once when the socket takes it all (the usual
 * case), and the buffer goes straight back to the pool, still in the cache for the next frames;
 * what the socket does not take waits in a uv_write. */
static void link_flush(sh_link *l)
{
    uv_stream_t *s = (uv_stream_t *)&l->tcp;
    link_write *w;
    uv_buf_t b;
    size_t waiting, done;
    int rc;

    if (l->out.len == 0 || l->state == SH_LINK_CLOSING || l->state == SH_LINK_CONNECTING ||
        l->deferred_code != SH_OK)
        return;
    b = uv_buf_init((char *)l->out.data, (unsigned)l->out.len);
    rc = uv_try_write(s, &b, 1); /* UV_EAGAIN while earlier writes wait */
    if (rc < 0 && rc != UV_EAGAIN) {
        link_fail_later(l, SH_ERR_IO, "sending failed: %s", uv_strerror(rc));
        return;
    }
    done = rc > 0 ? (size_t)rc : 0;
    if (done == l->out.len) {
        pool_put(l->net, &l->out);
        return;
    }
    w = malloc(sizeof *w);
    if (w == NULL) {
        link_fail_later(l, SH_ERR_NOMEM, "out of memory queueing %zu bytes", l->out.len - done);
        return;
    }
    w->buf = l->out;
    w->req.data = l;
    b = uv_buf_init((char *)w->buf.data + done, (unsigned)(w->buf.len - done));
    sh_buf_init(&l->out);
    rc = uv_write(&w->req, s, &b, 1, on_write);
    if (rc != 0) {
        pool_put(l->net, &w->buf);
        free(w);
        link_fail_later(l, SH_ERR_IO, "sending failed: %s", uv_strerror(rc));
        return;
    }
    waiting = uv_stream_get_write_queue_size(s);
    /* A caller holds back its own calls instead (sh__link_writable); a server cannot hold back
     * answers forever. */
    if (!l->initiator && waiting > l->net->cfg.max_write_queue_bytes)
        link_fail_later(l, SH_ERR_LIMIT,
                       "the peer is not reading: %zu bytes wait to be sent (limit %zu)", waiting,
                       l->net->cfg.max_write_queue_bytes);
}

static void link_queued(sh_link *l)
{
    if (l->cork == 0 || l->out.len >= CORK_FLUSH_BYTES)
        link_flush(l);
}

static int link_send_control(sh_link *l, uint8_t type, const uint8_t *data, size_t len)
{
    int rc = out_ready(l);

    if (rc == SH_OK)
        rc = sh__frame_seal(&l->sec->tx, type, data, len, &l->out);
    if (rc == SH_OK)
        link_queued(l);
    return rc;
}

int sh__link_send_request(sh_link *l, sh_call *c, const uint8_t *body, size_t len)
{
    int rc;

    if (l->state != SH_LINK_OPEN)
        return sh_err_set(SH_ERR_INTERNAL, "request on a link that is not open");
    rc = out_ready(l);
    if (rc == SH_OK)
        rc = sh__rpc_seal_request(&l->sec->tx, &l->out, c->id, c->method, c->deadline_ms, body,
                                  len);
    if (rc != SH_OK) {
        /* Part of the message may be sealed already: the stream cannot continue. */
        link_fail_later(l, rc, "sealing a request failed: %s", sh_err_msg());
        return rc;
    }
    l->last_call_ms = uv_now(l->net->loop);
    link_queued(l);
    return SH_OK;
}

int sh__link_send_response(sh_link *l, uint64_t id, int status, const char *message,
                           const uint8_t *body, size_t len)
{
    int rc;

    if ((l->state != SH_LINK_OPEN && l->state != SH_LINK_DRAINING) || l->deferred_code != SH_OK)
        return sh_err_set(SH_ERR_CANCELLED, "the link closed before the answer");
    rc = out_ready(l);
    if (rc == SH_OK)
        rc = sh__rpc_seal_response(&l->sec->tx, &l->out, id, status, message, body, len);
    if (rc != SH_OK) {
        link_fail_later(l, rc, "sealing a response failed: %s", sh_err_msg());
        return rc;
    }
    link_queued(l);
    return SH_OK;
}

/* Handshake ----------------------------------------------------------------------------------- */

static int link_write_handshake(sh_link *l)
{
    uint8_t msg[SH_FRAME_LEN_BYTES + SH_NET_MAX_HANDSHAKE_MSG_BYTES];
    size_t n;
    int rc;

    rc = sh_noise_write_message(&l->sec->hs, NULL, 0, msg + SH_FRAME_LEN_BYTES,
                                SH_NET_MAX_HANDSHAKE_MSG_BYTES, &n);
    if (rc != SH_OK)
        return rc;
    sh_store_u16be(msg, (uint16_t)n);
    rc = out_ready(l);
    if (rc == SH_OK)
        rc = sh_buf_append(&l->out, msg, SH_FRAME_LEN_BYTES + n);
    if (rc == SH_OK)
        link_queued(l);
    return rc;
}

static void link_start_tick(sh_link *l)
{
    const sh_net_config *cfg = &l->net->cfg;
    uint64_t period = (cfg->keepalive_ms < cfg->idle_timeout_ms ? cfg->keepalive_ms
                                                                 : cfg->idle_timeout_ms) / 4;

    if (period < 5)
        period = 5;
    if (period > 1000)
        period = 1000;
    uv_timer_start(&l->timer, on_timer, period, period);
}

static int link_open(sh_link *l)
{
    sh_link_secrets *sec = l->sec;
    sh_noise_cipher tx, rx;
    char key_hex[9];
    size_t n = strlen(l->name);
    int rc;

    rc = sh_noise_split(&sec->hs, &tx, &rx);
    if (rc != SH_OK)
        goto done;
    memcpy(l->remote_key, sec->hs.rs, SH_NET_KEY_BYTES);
    l->has_remote_key = true;
    sh__frame_tx_init(&sec->tx, &tx, l->net->cfg.rekey_after_frames,
                      l->net->cfg.rekey_after_bytes);
    sh__frame_rx_init(&sec->rx, &rx, SH_RPC_MAX_ENVELOPE_BYTES);
    sh_noise_hs_wipe(&sec->hs);
    sodium_memzero(sec->local_sk, sizeof sec->local_sk);
    (void)sh_hex_encode(key_hex, sizeof key_hex, l->remote_key, 4);
    snprintf(l->name + n, sizeof l->name - n, " [%s]", key_hex);
    l->state = SH_LINK_OPEN;
    l->was_open = true;
    l->last_rx_ms = l->last_call_ms = uv_now(l->net->loop);
    link_start_tick(l);
    sh_log_debug(SH_NET_LOG_AREA, "link %s: open", l->name);
    sh__net_link_event(l, SH_OK, "open");
    if (l->state == SH_LINK_OPEN && l->peer != NULL)
        sh__peer_link_open(l->peer);
done:
    sodium_memzero(&tx, sizeof tx);
    sodium_memzero(&rx, sizeof rx);
    return rc;
}

/* One handshake message from the peer, and our answer to it. */
static int handshake_step(sh_link *l, const uint8_t *msg, size_t len)
{
    sh_noise_hs *hs = &l->sec->hs;
    unsigned index = hs->msg_index + 1;
    uint8_t payload[SH_NET_MAX_HANDSHAKE_MSG_BYTES];
    size_t payload_len;
    int rc;

    rc = sh_noise_read_message(hs, msg, len, payload, sizeof payload, &payload_len);
    if (rc != SH_OK) {
        if (index == 1)
            return sh_err_set(rc, "handshake message 1 (%zu bytes) was rejected: the peer "
                                  "used another responder key or protocol version, or is not "
                                  "a Shoal peer", len);
        return sh_err_wrap(rc, "handshake message %u (%zu bytes) was rejected", index, len);
    }
    /* Payloads are empty in this version; later versions may add fields, read and ignored. */
    if (!sh_noise_hs_done(hs)) {
        rc = link_write_handshake(l);
        if (rc != SH_OK)
            return rc;
    }
    if (sh_noise_hs_done(hs))
        return link_open(l);
    return SH_OK;
}

/* Reading ------------------------------------------------------------------------------------- */

static int on_message(void *ctx, uint8_t type, const uint8_t *data, size_t len)
{
    sh_link *l = ctx;
    int rc = SH_OK;

    switch (type) {
    case SH_FRAME_REQUEST:
        if (l->initiator)
            return sh_err_set(SH_ERR_PROTOCOL, "the responder sent a request");
        rc = sh__net_on_request(l, data, len);
        break;
    case SH_FRAME_RESPONSE:
        if (!l->initiator)
            return sh_err_set(SH_ERR_PROTOCOL, "the initiator sent a response");
        rc = sh__peer_on_response(l, data, len);
        break;
    case SH_FRAME_PING:
        if (len != SH_FRAME_PING_BYTES)
            return sh_err_set(SH_ERR_PROTOCOL, "a ping of %zu bytes", len);
        rc = link_send_control(l, SH_FRAME_PONG, data, len);
        break;
    case SH_FRAME_PONG:
        if (len != SH_FRAME_PING_BYTES)
            return sh_err_set(SH_ERR_PROTOCOL, "a pong of %zu bytes", len);
        break;
    default: /* SH_FRAME_GOAWAY */
        if (!l->initiator || len != 0)
            return sh_err_set(SH_ERR_PROTOCOL, "an unexpected GOAWAY");
        sh__peer_on_goaway(l);
        break;
    }
    if (rc == SH_OK && l->state == SH_LINK_CLOSING)
        rc = SH_ERR_CANCELLED; /* a callback closed the link: stop reading */
    return rc;
}

/* Handles the handshake messages and frames in data[0, len); *used = bytes consumed. */
static void link_process(sh_link *l, uint8_t *data, size_t len, size_t *used)
{
    size_t pos = 0, n, wire;
    int rc;

    l->cork++;
    while (l->state == SH_LINK_HANDSHAKE && (wire = sh__frame_wire_len(data + pos, len - pos))) {
        if (wire - SH_FRAME_LEN_BYTES > SH_NET_MAX_HANDSHAKE_MSG_BYTES) {
            sh__link_close(l, SH_ERR_PROTOCOL,
                           "a handshake message of %zu bytes (limit %u): not a Shoal peer",
                           wire - SH_FRAME_LEN_BYTES, SH_NET_MAX_HANDSHAKE_MSG_BYTES);
            break;
        }
        if (wire > len - pos)
            break;
        rc = handshake_step(l, data + pos + SH_FRAME_LEN_BYTES, wire - SH_FRAME_LEN_BYTES);
        pos += wire;
        if (rc != SH_OK)
            sh__link_close(l, rc, "%s", sh_err_msg());
    }
    if ((l->state == SH_LINK_OPEN || l->state == SH_LINK_DRAINING) && pos < len) {
        rc = sh__frame_rx_process(&l->sec->rx, data + pos, len - pos, &n, on_message, l);
        pos += n;
        if (rc != SH_OK)
            sh__link_close(l, rc, "%s", sh_err_msg());
    }
    *used = pos;
    if (--l->cork == 0)
        link_flush(l);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    sh_link *l = h->data;
    size_t space;

    (void)suggested;
    if (l->rbuf == NULL && (l->rbuf = rbuf_take(l->net)) == NULL) {
        *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
        return;
    }
    /* What waits is one unfinished frame (< SH_FRAME_MAX_WIRE_BYTES): move it to the front
     * when the room after it gets short. */
    space = SH_NET_READ_BUFFER_BYTES - l->roff - l->rlen;
    if (l->roff > 0 && space < SH_FRAME_MAX_WIRE_BYTES) {
        memmove(l->rbuf, l->rbuf + l->roff, l->rlen);
        l->roff = 0;
        space = SH_NET_READ_BUFFER_BYTES - l->rlen;
    }
    *buf = uv_buf_init((char *)l->rbuf + l->roff + l->rlen, (unsigned)space);
}

static void on_read_end(sh_link *l, ssize_t nread)
{
    bool in_flight = l->n_reqs > 0 || !sh__list_empty(&l->call_list);

    if (nread != UV_EOF)
        sh__link_close(l, SH_ERR_IO, "receiving failed: %s", uv_strerror((int)nread));
    else if (l->state == SH_LINK_HANDSHAKE && l->initiator)
        sh__link_close(l, SH_ERR_UNAVAILABLE,
                       "the responder closed the connection during the handshake (wrong "
                       "responder key or protocol version?)");
    else if (l->state == SH_LINK_HANDSHAKE)
        sh__link_close(l, SH_ERR_UNAVAILABLE, "the peer closed the connection in the handshake");
    else if (!in_flight)
        sh__link_close(l, SH_OK, "closed by the peer");
    else
        sh__link_close(l, SH_ERR_UNAVAILABLE, "the peer closed the connection with calls in "
                                              "flight");
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    sh_link *l = s->data;
    size_t used;

    (void)buf;
    if (nread < 0) {
        on_read_end(l, nread);
    } else if (nread > 0 && l->state != SH_LINK_LINGER && l->state != SH_LINK_CLOSING) {
        l->last_rx_ms = uv_now(l->net->loop);
        l->ping_outstanding = false;
        l->rlen += (size_t)nread;
        link_process(l, l->rbuf + l->roff, l->rlen, &used);
        l->roff += used;
        l->rlen -= used;
    }
    if (l->rlen == 0 || l->state == SH_LINK_LINGER || l->state == SH_LINK_CLOSING)
        rbuf_release(l);
}

/* Timers -------------------------------------------------------------------------------------- */

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)req;
    (void)status; /* the peer's FIN, the linger timer or an error closes the link */
}

static void link_linger(sh_link *l)
{
    int rc;

    l->state = SH_LINK_LINGER;
    link_flush(l);
    if (l->deferred_code != SH_OK)
        return;
    uv_timer_start(&l->timer, on_timer, l->net->cfg.linger_ms, 0);
    rc = uv_shutdown(&l->shutdown_req, (uv_stream_t *)&l->tcp, on_shutdown);
    if (rc != 0)
        sh__link_close(l, SH_OK, "closed (shutdown: %s)", uv_strerror(rc));
}

/* A draining caller sends its FIN once its calls are answered; a draining responder waits for
 * that FIN (and serves requests that crossed its GOAWAY), see link_tick. */
void sh__link_maybe_finish(sh_link *l)
{
    if (l->state == SH_LINK_DRAINING && l->initiator && sh__list_empty(&l->call_list))
        link_linger(l);
}

void sh__link_drain(sh_link *l)
{
    if (l->state == SH_LINK_CONNECTING || l->state == SH_LINK_HANDSHAKE) {
        sh__link_close(l, SH_ERR_CANCELLED, "shutting down");
        return;
    }
    if (l->state != SH_LINK_OPEN)
        return;
    l->state = SH_LINK_DRAINING;
    l->drain_start_ms = uv_now(l->net->loop);
    if (l->peer != NULL) {
        struct sh_net_peer *peer = l->peer;

        l->peer = NULL;
        sh__peer_link_closed(peer, l, SH_OK, "draining");
    }
    if (!l->initiator && link_send_control(l, SH_FRAME_GOAWAY, NULL, 0) != SH_OK) {
        sh__link_close(l, SH_ERR_INTERNAL, "%s", sh_err_msg());
        return;
    }
    sh__link_maybe_finish(l);
}

static void link_tick(sh_link *l)
{
    const sh_net_config *cfg = &l->net->cfg;
    uint64_t now = uv_now(l->net->loop), silent = now - l->last_rx_ms, quiet;
    bool busy = l->initiator ? !sh__list_empty(&l->call_list) : l->n_reqs > 0;
    bool watch = busy || l->keep_open;
    uint8_t ping[SH_FRAME_PING_BYTES];

    if (l->state == SH_LINK_DRAINING && !l->initiator && l->n_reqs == 0 &&
        now - l->drain_start_ms >= cfg->linger_ms) {
        sh__link_close(l, SH_OK, "closed (the caller did not close within %u ms of GOAWAY)",
                       cfg->linger_ms);
        return;
    }
    if (watch && silent >= (uint64_t)cfg->keepalive_ms + cfg->keepalive_timeout_ms) {
        sh__link_close(l, SH_ERR_TIMEOUT, "no data from the peer for %llu ms despite pings",
                       (unsigned long long)silent);
        return;
    }
    if (watch && silent >= cfg->keepalive_ms && !l->ping_outstanding) {
        sh_store_u64be(ping, ++l->net->pings);
        l->ping_outstanding = true;
        if (link_send_control(l, SH_FRAME_PING, ping, sizeof ping) != SH_OK)
            sh__link_close(l, SH_ERR_INTERNAL, "%s", sh_err_msg());
        return;
    }
    quiet = l->initiator ? now - l->last_call_ms : silent;
    if (l->state == SH_LINK_OPEN && !watch && quiet >= cfg->idle_timeout_ms) {
        sh_log_debug(SH_NET_LOG_AREA, "link %s: idle for %llu ms", l->name,
                     (unsigned long long)quiet);
        sh__link_drain(l);
    }
}

static void on_timer(uv_timer_t *t)
{
    sh_link *l = t->data;
    const sh_net_config *cfg = &l->net->cfg;

    if (l->deferred_code != SH_OK) {
        sh__link_close(l, l->deferred_code, "%s", l->deferred_reason);
        return;
    }
    switch (l->state) {
    case SH_LINK_CONNECTING:
        sh__link_close(l, SH_ERR_TIMEOUT, "TCP connect did not complete within %u ms",
                       cfg->connect_timeout_ms);
        break;
    case SH_LINK_HANDSHAKE:
        sh__link_close(l, SH_ERR_TIMEOUT, "the handshake did not complete within %u ms",
                       cfg->handshake_timeout_ms);
        break;
    case SH_LINK_OPEN:
    case SH_LINK_DRAINING:
        link_tick(l);
        break;
    case SH_LINK_LINGER:
        sh__link_close(l, SH_OK, "closed (no FIN from the peer within %u ms)", cfg->linger_ms);
        break;
    default:
        break;
    }
}

/* Starting links ------------------------------------------------------------------------------ */

static int link_init_handshake(sh_link *l, const uint8_t *rs)
{
    static const char prologue[] = SH_LABEL_LINK_PROLOGUE;

    return sh_noise_hs_init(&l->sec->hs, SH_NOISE_XK, l->initiator, (const uint8_t *)prologue,
                            sizeof prologue - 1, l->sec->local_sk, rs);
}

static void link_start_reading(sh_link *l)
{
    int rc;

    l->state = SH_LINK_HANDSHAKE;
    uv_timer_start(&l->timer, on_timer, l->net->cfg.handshake_timeout_ms, 0);
    uv_tcp_nodelay(&l->tcp, 1);
    rc = uv_read_start((uv_stream_t *)&l->tcp, on_alloc, on_read);
    if (rc != 0)
        sh__link_close(l, SH_ERR_IO, "cannot read: %s", uv_strerror(rc));
}

static void on_connect(uv_connect_t *req, int status)
{
    sh_link *l = req->handle->data;

    if (status == UV_ECANCELED || l->state != SH_LINK_CONNECTING)
        return;
    if (status < 0) {
        sh__link_close(l, SH_ERR_UNAVAILABLE, "cannot connect: %s", uv_strerror(status));
        return;
    }
    link_start_reading(l);
    if (l->state == SH_LINK_HANDSHAKE && link_write_handshake(l) != SH_OK) /* -> e, es */
        sh__link_close(l, SH_ERR_INTERNAL, "%s", sh_err_msg());
}

int sh__link_connect(sh_net *net, struct sh_net_peer *peer)
{
    sh_link *l = link_new(net, true);
    int rc;

    if (l == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory opening a link to %s", peer->name);
    l->peer = peer;
    peer->link = l;
    l->keep_open = peer->keep_open;
    l->state = SH_LINK_CONNECTING;
    snprintf(l->name, sizeof l->name, "%s", peer->name);
    if (peer->local_sk != NULL)
        memcpy(l->sec->local_sk, peer->local_sk, SH_NET_KEY_BYTES);
    else
        randombytes_buf(l->sec->local_sk, SH_NET_KEY_BYTES);
    rc = link_init_handshake(l, peer->remote_key);
    if (rc != SH_OK) {
        sh__link_close(l, rc, "%s", sh_err_msg());
        return SH_OK;
    }
    uv_timer_start(&l->timer, on_timer, net->cfg.connect_timeout_ms, 0);
    rc = uv_tcp_connect(&l->connect_req, &l->tcp, (const struct sockaddr *)&peer->addr,
                        on_connect);
    if (rc != 0)
        sh__link_close(l, SH_ERR_UNAVAILABLE, "cannot connect: %s", uv_strerror(rc));
    return SH_OK;
}

static void link_name_from_socket(sh_link *l, struct sockaddr_storage *ss)
{
    char ip[64] = "?";
    int len = sizeof *ss, port = 0;

    memset(ss, 0, sizeof *ss);
    if (uv_tcp_getpeername(&l->tcp, (struct sockaddr *)ss, &len) == 0) {
        if (ss->ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)ss)->sin_port);
        } else if (ss->ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in6 *)ss)->sin6_port);
        }
    }
    snprintf(l->name, sizeof l->name, ss->ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, port);
}

void sh__link_accept(sh_net *net)
{
    struct sockaddr_storage ss;
    sh_link *l = link_new(net, false);
    int rc;

    if (l == NULL) {
        sh_log_error(SH_NET_LOG_AREA, "out of memory accepting a connection");
        return;
    }
    snprintf(l->name, sizeof l->name, "(incoming)");
    rc = uv_accept((uv_stream_t *)&net->listener, (uv_stream_t *)&l->tcp);
    if (rc != 0) {
        sh__link_close(l, SH_ERR_IO, "accept failed: %s", uv_strerror(rc));
        return;
    }
    link_name_from_socket(l, &ss);
    rc = sh__net_admit(net, l, &ss);
    if (rc != SH_OK) {
        sh__link_close(l, rc, "%s", sh_err_msg());
        return;
    }
    memcpy(l->sec->local_sk, net->static_sk, SH_NET_KEY_BYTES);
    rc = link_init_handshake(l, NULL);
    if (rc != SH_OK) {
        sh__link_close(l, rc, "%s", sh_err_msg());
        return;
    }
    sh__bucket_init(&l->bucket, net->cfg.peer_rate_per_s, net->cfg.peer_burst, uv_now(net->loop));
    link_start_reading(l);
}
