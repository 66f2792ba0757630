/* Outgoing swarm.push calls, batched (docs/swarm.md "Replication"): items queued for a peer
 * during one turn of the loop leave together in one call, right after the loop's poll phase
 * (a uv_check handle, so nothing waits for a timer), at most SH__NODE_PUSH_MAX_ITEMS items and
 * PUSH_BATCH_BYTES bytes per call. Under load one call carries many stores instead of one call
 * (one Noise frame, one answer, one wake-up of the peer's loop) per store and peer. Each item's
 * callback gets the call's status and, for a message, the receipt the peer signed for it (found
 * by its hash), which is the peer's confirmation that it committed it. */
#include <stdlib.h>
#include <string.h>

#include "node/join.h"
#include "util/err.h"
#include "wire/pb.h"

#define PUSH_BATCH_BYTES (256u * 1024) /* below SH_RPC_MAX_BODY_BYTES with any one item */
#define ITEM_OVERHEAD 96               /* fields and tags beside data and request bytes */

typedef struct pushq_entry {
    struct pushq_entry *next;
    sh_net_peer *peer;
    Shoal__Swarm__Item it; /* points into mem */
    uint8_t hash[SH_STORE_HASH_BYTES];
    bool is_message;
    uint32_t timeout_ms;
    size_t bytes;
    sh__node_pushed_cb cb;
    void *ctx;
    uint8_t mem[];
} pushq_entry;

struct sh__node_pushq {
    sh_node *n;
    uv_check_t check;
    pushq_entry *head, **tail;
    bool closed;
};

typedef struct push_call {
    size_t n;
    pushq_entry *e[SH__NODE_PUSH_MAX_ITEMS];
} push_call;

static void on_check(uv_check_t *h);

static void finish(pushq_entry *e, int status, const sh_node_receipt *receipt)
{
    if (e->cb != NULL)
        e->cb(e->ctx, status, receipt);
    free(e);
}

/* The item with its bytes copied (owner, data, slot, request, method). */
static pushq_entry *entry_new(const Shoal__Swarm__Item *it)
{
    size_t method_len = strlen(it->method);
    size_t extra = it->owner.len + it->data.len + it->slot.len + it->request.len + method_len + 1;
    pushq_entry *e = calloc(1, sizeof *e + extra);
    uint8_t *p;

    if (e == NULL)
        return NULL;
    p = e->mem;
    e->it = *it;
    e->it.base.n_unknown_fields = 0;
    e->it.base.unknown_fields = NULL;
#define COPY(field)                                                                                \
    do {                                                                                           \
        if (it->field.len != 0)                                                                    \
            memcpy(p, it->field.data, it->field.len);                                              \
        e->it.field.data = it->field.len ? p : NULL;                                               \
        p += it->field.len;                                                                        \
    } while (0)
    COPY(owner);
    COPY(data);
    COPY(slot);
    COPY(request);
#undef COPY
    memcpy(p, it->method, method_len + 1);
    e->it.method = (char *)p;
    e->bytes = extra + ITEM_OVERHEAD;
    return e;
}

int sh__node_push(sh_node *n, sh_net_peer *peer, const Shoal__Swarm__Item *it,
                  uint32_t timeout_ms, sh__node_pushed_cb cb, void *ctx)
{
    sh__node_pushq *q = n->swarm != NULL ? n->swarm->pushq : NULL;
    pushq_entry *e;

    if (q == NULL || q->closed)
        return sh_err_set(SH_ERR_CANCELLED, "the node is leaving its network");
    if ((e = entry_new(it)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory queueing a push");
    e->peer = peer;
    e->timeout_ms = timeout_ms;
    e->cb = cb;
    e->ctx = ctx;
    e->is_message = it->method[0] == '\0' && it->owner.len == SH_STORE_OWNER_BYTES &&
                    it->namespace_ >= INT16_MIN && it->namespace_ <= INT16_MAX;
    if (e->is_message)
        sh_store_msg_hash(e->hash, it->owner.data, (int16_t)it->namespace_, it->data.data,
                          it->data.len);
    *q->tail = e;
    q->tail = &e->next;
    if (!uv_is_active((uv_handle_t *)&q->check))
        uv_check_start(&q->check, on_check);
    return SH_OK;
}

static void on_batch(int status, const char *message, const uint8_t *body, size_t len, void *ctx)
{
    push_call *c = ctx;
    Shoal__Swarm__PushResponse *m = NULL;
    sh_node_receipt r;

    (void)message;
    if (status == SH_OK && sh_wire_unpack(&shoal__swarm__push_response__descriptor, body, len,
                                          "push answer", (ProtobufCMessage **)&m) != SH_OK)
        status = SH_ERR_FORMAT;
    for (size_t i = 0; i < c->n; i++) {
        pushq_entry *e = c->e[i];
        bool found = false;
        for (size_t k = 0; m != NULL && e->is_message && k < m->n_receipts && !found; k++)
            found = m->receipts[k]->hash.len == SH_STORE_HASH_BYTES &&
                    memcmp(m->receipts[k]->hash.data, e->hash, SH_STORE_HASH_BYTES) == 0 &&
                    sh__node_receipt_from_pb(m->receipts[k], &r) == SH_OK;
        /* A request item is confirmed by an answer that refused nothing. */
        int st = status != SH_OK ? status
                 : e->is_message ? (found ? SH_OK : SH_ERR_UNAVAILABLE)
                 : (m->refused == 0 ? SH_OK : SH_ERR_UNAVAILABLE);
        finish(e, st, found ? &r : NULL);
    }
    sh_wire_free(m);
    free(c);
}

/* Takes from the queue the first entry and the following ones for the same peer, up to the
 * item and byte bounds. */
static push_call *take_batch(sh__node_pushq *q)
{
    push_call *c = calloc(1, sizeof *c);
    sh_net_peer *peer = q->head->peer;
    size_t bytes = 0;

    if (c == NULL)
        return NULL;
    for (pushq_entry **pp = &q->head; *pp != NULL && c->n < SH__NODE_PUSH_MAX_ITEMS;) {
        pushq_entry *e = *pp;
        if (e->peer != peer || (c->n > 0 && bytes + e->bytes > PUSH_BATCH_BYTES)) {
            pp = &e->next;
            continue;
        }
        *pp = e->next;
        if (q->tail == &e->next)
            q->tail = pp;
        e->next = NULL;
        bytes += e->bytes;
        c->e[c->n++] = e;
    }
    return c;
}

static void send_batch(sh__node_pushq *q, push_call *c)
{
    Shoal__Swarm__PushRequest m = SHOAL__SWARM__PUSH_REQUEST__INIT;
    Shoal__Swarm__Item *items[SH__NODE_PUSH_MAX_ITEMS];
    uint32_t timeout = 0;
    sh_buf body;
    int rc;

    for (size_t i = 0; i < c->n; i++) {
        items[i] = &c->e[i]->it;
        m.want_receipts = m.want_receipts || c->e[i]->is_message;
        timeout = c->e[i]->timeout_ms > timeout ? c->e[i]->timeout_ms : timeout;
    }
    m.n_items = c->n;
    m.items = items;
    sh_buf_init(&body);
    if ((rc = sh_wire_pack(&m.base, &body)) == SH_OK)
        rc = sh_net_call(c->e[0]->peer, "swarm.push", body.data, body.len, timeout, on_batch, c);
    sh_buf_free(&body);
    if (rc != SH_OK) {
        for (size_t i = 0; i < c->n; i++)
            finish(c->e[i], rc, NULL);
        free(c);
    }
    (void)q;
}

static void on_check(uv_check_t *h)
{
    sh__node_pushq *q = h->data;

    uv_check_stop(h);
    while (q->head != NULL) {
        push_call *c = take_batch(q);
        if (c == NULL) {
            pushq_entry *e = q->head;
            q->head = e->next;
            if (q->head == NULL)
                q->tail = &q->head;
            finish(e, sh_err_set(SH_ERR_NOMEM, "out of memory sending a push"), NULL);
            continue;
        }
        send_batch(q, c);
    }
}

int sh__node_pushq_start(sh_node *n)
{
    sh__node_pushq *q = calloc(1, sizeof *q);

    if (q == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory starting replication");
    q->n = n;
    q->tail = &q->head;
    uv_check_init(n->loop, &q->check);
    q->check.data = q;
    n->swarm->pushq = q;
    return SH_OK;
}

/* Entries still queued for this peer fail now (the peer is about to be closed). */
void sh__node_pushq_forget(sh_node *n, const sh_net_peer *peer)
{
    sh__node_pushq *q = n->swarm != NULL ? n->swarm->pushq : NULL;
    pushq_entry **pp;

    if (q == NULL)
        return;
    for (pp = &q->head; *pp != NULL;) {
        pushq_entry *e = *pp;
        if (peer != NULL && e->peer != peer) {
            pp = &e->next;
            continue;
        }
        *pp = e->next;
        finish(e, sh_err_set(SH_ERR_CANCELLED, "the swarm peer went away"), NULL);
    }
    q->tail = pp;
}

void sh__node_pushq_stop(sh_node *n)
{
    sh__node_pushq *q = n->swarm != NULL ? n->swarm->pushq : NULL;

    if (q == NULL || q->closed)
        return;
    q->closed = true;
    uv_check_stop(&q->check);
    sh__node_pushq_forget(n, NULL);
}

static void pushq_closed(uv_handle_t *h)
{
    free(h->data);
}

void sh__node_pushq_free(sh_node *n)
{
    sh__node_pushq *q = n->swarm != NULL ? n->swarm->pushq : NULL;

    if (q == NULL)
        return;
    sh__node_pushq_stop(n);
    n->swarm->pushq = NULL;
    uv_close((uv_handle_t *)&q->check, pushq_closed);
}
