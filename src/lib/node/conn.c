/* A direct client of one node's storage API over a net peer (node/request.h "A direct client"):
 * fills in timestamps from the corrected clock and proofs of work at the difficulty the node
 * asked for, learns both from every answer, and sends a call once more when an answer says our
 * clock was off (SH_ERR_STALE) or our proof of work too small. */
#include <stdlib.h>
#include <string.h>

#include "node/request.h"
#include "util/err.h"
#include "util/time.h"

#define CONN_DEFAULT_DEADLINE_MS 10000u
#define CONN_POLL_SLACK_MS 5000u /* a long-poll's call waits this much longer than the poll */

typedef struct conn_call conn_call;

struct sh_node_conn {
    sh_net_peer *peer;
    sh_node_clock clock;
    uint32_t pow_bits;
    uint32_t deadline_ms;
    conn_call *calls; /* in flight, so that freeing the conn can detach them */
};

typedef enum call_kind { K_STORED, K_PAGE, K_CHANGED, K_INFO, K_TEXT, K_RAW } call_kind;

struct conn_call {
    sh_node_conn *conn; /* NULL once the conn is freed */
    conn_call *prev, *next;
    call_kind kind;
    const char *method;
    sh_node_request req;
    sh_node_signer signer;
    bool has_signer, retried;
    unsigned pow_used;
    int64_t sent_ms;
    sh_buf raw; /* K_RAW: the body as given */
    union {
        sh_node_stored_cb stored;
        sh_node_page_cb page;
        sh_node_changed_cb changed;
        sh_node_info_cb info;
        sh_node_text_cb text;
        sh_node_raw_cb raw;
    } cb;
    void *ctx;
};

int sh_node_conn_new(sh_net *net, const char *address, uint16_t port,
                     const uint8_t remote_link_key[static 32], const sh_net_peer_opts *opts,
                     sh_node_conn **out)
{
    sh_node_conn *c = calloc(1, sizeof *c);
    int rc;

    if (c == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a node connection");
    rc = sh_net_peer_new(net, address, port, remote_link_key, opts, &c->peer);
    if (rc != SH_OK) {
        free(c);
        return rc;
    }
    sh_node_clock_init(&c->clock);
    c->deadline_ms = CONN_DEFAULT_DEADLINE_MS;
    *out = c;
    return SH_OK;
}

void sh_node_conn_free(sh_node_conn *c)
{
    if (c == NULL)
        return;
    for (conn_call *k = c->calls; k != NULL; k = k->next)
        k->conn = NULL;
    sh_net_peer_close(c->peer); /* the calls' callbacks run later, with SH_ERR_CANCELLED */
    free(c);
}

sh_node_clock *sh_node_conn_clock(sh_node_conn *c)
{
    return &c->clock;
}

uint32_t sh_node_conn_pow_bits(const sh_node_conn *c)
{
    return c->pow_bits;
}

void sh_node_conn_set_deadline(sh_node_conn *c, uint32_t deadline_ms)
{
    c->deadline_ms = deadline_ms;
}

static void unlink_call(conn_call *k)
{
    if (k->conn != NULL) {
        if (k->prev != NULL)
            k->prev->next = k->next;
        else
            k->conn->calls = k->next;
        if (k->next != NULL)
            k->next->prev = k->prev;
    }
    sh_buf_free(&k->raw);
    free(k);
}

static void on_answer(int status, const char *message, const uint8_t *body, size_t len, void *ctx);

/* Timestamps the request and, for a store in namespace 0, works its proof; encodes and sends. */
static int send_call(conn_call *k)
{
    sh_node_conn *c = k->conn;
    uint32_t deadline = c->deadline_ms;
    sh_buf body;
    int rc;

    sh_buf_init(&body);
    if (k->kind == K_RAW || k->kind == K_INFO || k->kind == K_TEXT) {
        rc = sh_buf_append(&body, k->raw.data, k->raw.len);
    } else {
        k->req.timestamp_ms = sh_node_clock_now(&c->clock);
        if (k->req.method == SH_NODE_STORE && k->req.ns == SH_NS_INBOX) {
            uint8_t h[SH_STORE_HASH_BYTES];
            sh_store_msg_hash(h, k->req.owner, k->req.ns, k->req.data, k->req.data_len);
            k->pow_used = c->pow_bits;
            k->req.pow_nonce = sh_node_pow_solve(k->req.owner, h, k->req.timestamp_ms, k->pow_used);
        }
        if (k->req.method == SH_NODE_RETRIEVE && k->req.wait_ms + CONN_POLL_SLACK_MS > deadline)
            deadline = k->req.wait_ms + CONN_POLL_SLACK_MS;
        rc = sh_node_request_encode(&k->req, k->has_signer ? &k->signer : NULL, &body);
    }
    if (rc == SH_OK) {
        k->sent_ms = sh_time_now_ms();
        rc = sh_net_call(c->peer, k->method, body.data, body.len, deadline, on_answer, k);
    }
    sh_buf_free(&body);
    return rc;
}

/* Learns the node time and the PoW it wants; says whether the call should go once more. */
static bool learn(conn_call *k, int status, const uint8_t *body, size_t len)
{
    sh_node_conn *c = k->conn;
    int64_t node_time;
    uint32_t bits;

    if (c == NULL || body == NULL || sh_node_answer_time(body, len, &node_time, &bits) != SH_OK)
        return false;
    sh_node_clock_sample(&c->clock, node_time, k->sent_ms, sh_time_now_ms());
    if (status == SH_OK || k->retried || k->kind == K_RAW)
        return false;
    if (bits != 0)
        c->pow_bits = bits;
    if (status == SH_ERR_STALE && node_time > 0)
        return true;
    return status == SH_ERR_PERMISSION && k->req.method == SH_NODE_STORE &&
           k->req.ns == SH_NS_INBOX && bits > k->pow_used;
}

static void deliver(conn_call *k, int status, const char *message, const uint8_t *body,
                    size_t len)
{
    sh_node_stored stored;
    sh_node_page page;
    sh_node_changed changed;
    sh_node_info info;
    sh_buf text;

    if (status == SH_OK) {
        switch (k->kind) {
        case K_STORED:
            status = sh_node_stored_parse(body, len, &stored);
            break;
        case K_PAGE:
            status = sh_node_page_parse(body, len, k->req.owner, k->req.ns, &page);
            break;
        case K_CHANGED:
            status = sh_node_changed_parse(body, len, k->req.method, &changed);
            break;
        case K_INFO:
            status = sh_node_info_parse(body, len, &info);
            break;
        case K_TEXT:
            sh_buf_init(&text);
            status = sh_node_stats_parse(body, len, &text);
            break;
        case K_RAW:
            break;
        }
        if (status != SH_OK)
            message = sh_err_msg();
    }
    switch (k->kind) {
    case K_STORED:
        k->cb.stored(status, message, status == SH_OK ? &stored : NULL, k->ctx);
        break;
    case K_PAGE:
        k->cb.page(status, message, status == SH_OK ? &page : NULL, k->ctx);
        if (status == SH_OK)
            sh_node_page_free(&page);
        break;
    case K_CHANGED:
        k->cb.changed(status, message, status == SH_OK ? &changed : NULL, k->ctx);
        if (status == SH_OK)
            sh_node_changed_free(&changed);
        break;
    case K_INFO:
        if (status == SH_OK && k->conn != NULL)
            k->conn->pow_bits = info.pow_bits;
        k->cb.info(status, message, status == SH_OK ? &info : NULL, k->ctx);
        break;
    case K_TEXT:
        k->cb.text(status, message, status == SH_OK ? (const char *)text.data : NULL, k->ctx);
        if (status == SH_OK)
            sh_buf_free(&text);
        break;
    case K_RAW:
        k->cb.raw(status, message, body, len, k->ctx);
        break;
    }
}

static void on_answer(int status, const char *message, const uint8_t *body, size_t len, void *ctx)
{
    conn_call *k = ctx;

    if (learn(k, status, body, len)) {
        k->retried = true;
        if ((status = send_call(k)) == SH_OK)
            return;
        message = sh_err_msg();
        body = NULL;
        len = 0;
    }
    deliver(k, status, message, body, len);
    unlink_call(k);
}

static int start(sh_node_conn *c, conn_call *k)
{
    int rc;

    k->conn = c;
    k->next = c->calls;
    if (c->calls != NULL)
        c->calls->prev = k;
    c->calls = k;
    rc = send_call(k);
    if (rc != SH_OK)
        unlink_call(k);
    return rc;
}

static conn_call *new_call(call_kind kind, const char *method, const sh_node_request *r,
                           const sh_node_signer *signer, void *ctx)
{
    conn_call *k = calloc(1, sizeof *k);

    if (k == NULL)
        return NULL;
    k->kind = kind;
    k->method = method;
    if (r != NULL)
        k->req = *r;
    if (signer != NULL) {
        k->signer = *signer;
        k->has_signer = true;
    }
    sh_buf_init(&k->raw);
    k->ctx = ctx;
    return k;
}

#define NEW_CALL(k, kind, method, r, signer, ctx)                                          \
    do {                                                                                   \
        if (((k) = new_call(kind, method, r, signer, ctx)) == NULL)                        \
            return sh_err_set(SH_ERR_NOMEM, "out of memory for a call");                   \
    } while (0)

int sh_node_conn_store(sh_node_conn *c, const sh_node_request *r, const sh_node_signer *signer,
                       sh_node_stored_cb cb, void *ctx)
{
    conn_call *k;

    if (r->method != SH_NODE_STORE)
        return sh_err_set(SH_ERR_INVALID, "sh_node_conn_store needs a store request");
    NEW_CALL(k, K_STORED, "store", r, signer, ctx);
    k->cb.stored = cb;
    return start(c, k);
}

int sh_node_conn_retrieve(sh_node_conn *c, const sh_node_request *r, const sh_node_signer *signer,
                          sh_node_page_cb cb, void *ctx)
{
    conn_call *k;

    if (r->method != SH_NODE_RETRIEVE)
        return sh_err_set(SH_ERR_INVALID, "sh_node_conn_retrieve needs a retrieve request");
    NEW_CALL(k, K_PAGE, "retrieve", r, signer, ctx);
    k->cb.page = cb;
    return start(c, k);
}

int sh_node_conn_change(sh_node_conn *c, const sh_node_request *r, const sh_node_signer *signer,
                        sh_node_changed_cb cb, void *ctx)
{
    conn_call *k;

    if (r->method != SH_NODE_DELETE && r->method != SH_NODE_EXPIRE)
        return sh_err_set(SH_ERR_INVALID, "sh_node_conn_change needs a delete or expire request");
    NEW_CALL(k, K_CHANGED, sh_node_method_name(r->method), r, signer, ctx);
    k->cb.changed = cb;
    return start(c, k);
}

int sh_node_conn_info(sh_node_conn *c, sh_node_info_cb cb, void *ctx)
{
    conn_call *k;

    NEW_CALL(k, K_INFO, "info", NULL, NULL, ctx);
    k->cb.info = cb;
    return start(c, k);
}

int sh_node_conn_stats(sh_node_conn *c, sh_node_text_cb cb, void *ctx)
{
    conn_call *k;

    NEW_CALL(k, K_TEXT, "stats", NULL, NULL, ctx);
    k->cb.text = cb;
    return start(c, k);
}

int sh_node_conn_call_raw(sh_node_conn *c, const char *method, const uint8_t *body, size_t len,
                          sh_node_raw_cb cb, void *ctx)
{
    conn_call *k;
    int rc;

    NEW_CALL(k, K_RAW, method, NULL, NULL, ctx);
    k->cb.raw = cb;
    if ((rc = sh_buf_append(&k->raw, body, len)) != SH_OK) {
        free(k);
        return rc;
    }
    return start(c, k);
}
