/* Replication inside a swarm (docs/swarm.md "Replication"; overview.md "Swarms"): a client's
 * store is committed here and pushed to every swarm peer at once (swarm.push); the client gets
 * its acknowledgement when this node and at least one peer have committed it, with both nodes'
 * receipts. Owners' deletes and expiry changes are pushed as the signed calls that made them:
 * each receiver checks the owner's signature and rights again (not the freshness: that was
 * checked when the call arrived) and keeps the call in its tombstone, so that it wins over
 * stale copies everywhere until the message's original expiry. */
#include <stdlib.h>
#include <string.h>

#include "node/join.h"
#include "storage.pb-c.h"
#include "util/err.h"
#include "util/time.h"
#include "wire/pb.h"

#define PUSH_MAX_ITEMS SH__NODE_PUSH_MAX_ITEMS
#define PUSH_RATE {2000, 4000} /* per peer link: pushes per second, burst */

/* ---- Items ---------------------------------------------------------------------------------- */

static void item_of_request(const sh_node_request *r, Shoal__Swarm__Item *it)
{
    shoal__swarm__item__init(it);
    it->owner = sh_wire_bin(r->owner, SH_STORE_OWNER_BYTES);
    it->namespace_ = r->ns;
    it->timestamp_ms = (uint64_t)r->timestamp_ms;
}

/* Queued for every peer (push.c sends them batched); *sent counts the peers. */
static void push_to_peers(sh_node *n, const Shoal__Swarm__Item *it, sh__node_pushed_cb cb,
                          void *ctx, unsigned *sent)
{
    *sent = 0;
    for (size_t i = 0; i < n->swarm->n_peers; i++)
        if (sh__node_push(n, n->swarm->peers[i].peer, it, n->cfg.replicate_timeout_ms, cb, ctx) ==
            SH_OK)
            (*sent)++;
}

/* ---- A client's store ---------------------------------------------------------------------- */

typedef struct repl {
    sh_node *n;
    sh_net_req *req;
    uint8_t owner[SH_STORE_OWNER_BYTES];
    int16_t ns;
    int64_t expiry_ms;
    unsigned pending;      /* the local put and the pushes still to answer */
    bool local_done, answered, peer_ok, has_peers;
    int local_status;
    char local_msg[256];
    sh_store_outcome outcome;
    uint8_t hash[SH_STORE_HASH_BYTES];
    sh_node_receipt peer_receipt;
} repl;

static void answer_stored(repl *rp)
{
    Shoal__Storage__StoreResponse m = SHOAL__STORAGE__STORE_RESPONSE__INIT;
    Shoal__Swarm__Receipt pb[2], *ptrs[2] = {&pb[0], &pb[1]};
    sh_node_receipt own;

    m.node_time_ms = (uint64_t)sh_time_now_ms();
    m.hash = sh_wire_bin(rp->hash, SH_STORE_HASH_BYTES);
    m.outcome = (uint32_t)rp->outcome;
    m.expiry_ms = (uint64_t)rp->expiry_ms;
    if (rp->outcome == SH_STORE_STORED || rp->outcome == SH_STORE_DUPLICATE) {
        /* Committed here (the put's callback ran after COMMIT): our receipt may be signed. */
        if (sh__node_receipt_sign(rp->n, rp->hash, rp->owner, rp->ns, rp->expiry_ms, &own) == SH_OK)
            sh__node_receipt_to_pb(&own, &pb[m.n_receipts++]);
        if (rp->peer_ok)
            sh__node_receipt_to_pb(&rp->peer_receipt, &pb[m.n_receipts++]);
        m.receipts = ptrs;
    }
    (void)sh__node_respond_pb(rp->req, &m.base);
}

static void settle(repl *rp)
{
    bool committed = rp->local_done && rp->local_status == SH_OK;
    bool needs_peer = committed && (rp->outcome == SH_STORE_STORED ||
                                    rp->outcome == SH_STORE_DUPLICATE) &&
                      rp->has_peers;

    if (!rp->answered && rp->local_done) {
        if (rp->local_status != SH_OK) {
            sh__node_fail(rp->n, rp->req, SH_NODE_STORE, rp->local_status, rp->local_msg);
            rp->answered = true;
        } else if (!needs_peer || rp->peer_ok) {
            answer_stored(rp);
            rp->answered = true;
        } else if (rp->pending == 0) {
            sh__node_fail(rp->n, rp->req, SH_NODE_STORE, SH_ERR_UNAVAILABLE,
                          "committed on this node, but no swarm peer confirmed it in time; "
                          "send it again (to any member)");
            rp->answered = true;
        }
    }
    if (rp->pending == 0)
        free(rp);
}

static void on_local_put(void *ctx, int status, sh_store_outcome outcome,
                         const uint8_t hash[SH_STORE_HASH_BYTES])
{
    repl *rp = ctx;
    sh_node *n = rp->n;

    n->writes_in_flight--;
    rp->pending--;
    rp->local_done = true;
    rp->local_status = status;
    if (status != SH_OK) {
        snprintf(rp->local_msg, sizeof rp->local_msg, "%s", sh_err_msg());
    } else {
        rp->outcome = outcome;
        memcpy(rp->hash, hash, SH_STORE_HASH_BYTES);
        n->m.stored[outcome]++;
        if (outcome == SH_STORE_STORED)
            sh__node_wake(n, rp->owner, rp->ns);
    }
    settle(rp);
}

static void on_pushed(void *ctx, int status, const sh_node_receipt *receipt)
{
    repl *rp = ctx;

    rp->pending--;
    if (status == SH_OK && receipt != NULL && !rp->peer_ok) {
        rp->peer_receipt = *receipt;
        rp->peer_ok = true;
    }
    settle(rp);
}

int sh__node_replicate_store(sh_node *n, sh_net_req *req, const sh_node_request *r)
{
    sh_store_msg msg = {.ns = r->ns, .timestamp_ms = r->timestamp_ms,
                        .expiry_ms = r->timestamp_ms + r->ttl_ms, .data = r->data,
                        .data_len = r->data_len};
    Shoal__Swarm__Item it;
    unsigned sent;
    repl *rp;
    int rc;

    memcpy(msg.owner, r->owner, SH_STORE_OWNER_BYTES);
    sh__node_slot(r, &msg.slot, &msg.slot_len);
    if ((rp = calloc(1, sizeof *rp)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory queueing a store");
    *rp = (repl){.n = n, .req = req, .ns = r->ns, .expiry_ms = msg.expiry_ms, .pending = 1};
    memcpy(rp->owner, r->owner, SH_STORE_OWNER_BYTES);
    if ((rc = sh_store_submit_put(n->store, &msg, on_local_put, rp)) != SH_OK) {
        free(rp);
        return rc;
    }
    n->writes_in_flight++;
    item_of_request(r, &it);
    it.expiry_ms = (uint64_t)msg.expiry_ms;
    it.data = sh_wire_bin(r->data, r->data_len);
    it.slot = sh_wire_bin(msg.slot, msg.slot_len);
    push_to_peers(n, &it, on_pushed, rp, &sent);
    rp->pending += sent;
    rp->has_peers = n->swarm->n_peers != 0;
    return SH_OK;
}

void sh__node_replicate_change(sh_node *n, const sh_node_request *r, const uint8_t *body,
                               size_t len)
{
    Shoal__Swarm__Item it;
    unsigned sent;

    if (n->swarm == NULL || n->swarm->n_peers == 0)
        return;
    item_of_request(r, &it);
    it.method = (char *)sh_node_method_name(r->method);
    it.request = sh_wire_bin(body, len);
    push_to_peers(n, &it, NULL, NULL, &sent);
    if (sent < n->swarm->n_peers)
        sh_log_warn(SH_NODE_LOG_AREA, "cannot push an owner's %s to the swarm: %s",
                    it.method, sh_err_msg());
}

/* ---- Applying an item (swarm.push, anti-entropy, handover) ----------------------------------- */

typedef struct apply_ctx {
    sh__node_apply_cb cb;
    void *ctx;
    sh_node *n;
    uint8_t owner[SH_STORE_OWNER_BYTES];
    int16_t ns;
} apply_ctx;

static void on_applied_put(void *ctx, int status, sh_store_outcome outcome,
                           const uint8_t hash[SH_STORE_HASH_BYTES])
{
    apply_ctx *ac = ctx;

    ac->n->writes_in_flight--;
    if (status == SH_OK)
        ac->n->m.replicated_in++;
    if (status == SH_OK && outcome == SH_STORE_STORED)
        sh__node_wake(ac->n, ac->owner, ac->ns); /* long-polls here see replicated messages too */
    ac->cb(ac->ctx, status, outcome, hash);
    free(ac);
}

static void on_applied_change(void *ctx, int status, const sh_store_result *res)
{
    apply_ctx *ac = ctx;

    (void)res;
    ac->n->writes_in_flight--;
    ac->cb(ac->ctx, status, 0, NULL);
    free(ac);
}

int sh__node_item_check_message(const Shoal__Swarm__Item *it)
{
    if (it->owner.len != SH_STORE_OWNER_BYTES || it->namespace_ < INT16_MIN ||
        it->namespace_ > INT16_MAX || it->timestamp_ms > INT64_MAX || it->expiry_ms > INT64_MAX ||
        it->data.len == 0 || it->data.len > SH_STORE_MAX_DATA_BYTES ||
        it->slot.len > SH_STORE_MAX_SLOT_BYTES || it->request.len != 0)
        return sh_err_set(SH_ERR_FORMAT, "a replicated message has a field out of range");
    return SH_OK;
}

static int apply_message(sh_node *n, const Shoal__Swarm__Item *it, apply_ctx *ac)
{
    sh_store_msg msg = {.ns = (int16_t)it->namespace_, .timestamp_ms = (int64_t)it->timestamp_ms,
                        .expiry_ms = (int64_t)it->expiry_ms, .data = it->data.data,
                        .data_len = it->data.len};
    int rc;

    if ((rc = sh__node_item_check_message(it)) != SH_OK)
        return rc;
    memcpy(msg.owner, it->owner.data, SH_STORE_OWNER_BYTES);
    if (it->slot.len != 0) {
        msg.slot = it->slot.data;
        msg.slot_len = it->slot.len;
    }
    if (!sh__node_swarm_owns(n, msg.owner))
        return sh_err_set(SH_ERR_WRONG_SWARM, "a replicated message of an owner outside this swarm");
    memcpy(ac->owner, msg.owner, SH_STORE_OWNER_BYTES);
    ac->ns = msg.ns;
    if ((rc = sh_store_submit_put(n->store, &msg, on_applied_put, ac)) == SH_OK)
        n->writes_in_flight++;
    return rc;
}

/* The owner's rights over a replicated call, as handlers.c checks them on arrival. */
static int check_rights(sh_node *n, const sh_node_request *r)
{
    sh_store_query q = {.ns = SH_NS_REVOCATIONS, .max_count = 1,
                        .max_bytes = SH_STORE_PAGE_MAX_BYTES};
    sh_store_page page = {0};
    int rc = SH_OK;

    memcpy(q.owner, r->owner, SH_STORE_OWNER_BYTES);
    if (r->token != NULL)
        rc = sh_store_retrieve(n->store, &q, &page);
    if (rc == SH_OK)
        rc = sh__node_authorize(r, page.count ? page.msgs[0].data : NULL,
                                page.count ? page.msgs[0].data_len : 0, sh_time_now_ms(),
                                &n->keys);
    sh_store_page_free(&page);
    return rc;
}

static int submit_request(sh_node *n, const sh_node_request *r, const Shoal__Swarm__Item *it,
                          apply_ctx *ac)
{
    sh_store_request sr = {.ns = r->ns, .timestamp_ms = r->timestamp_ms,
                           .bytes = it->request.data, .len = it->request.len};

    memcpy(sr.owner, r->owner, SH_STORE_OWNER_BYTES);
    if (r->method == SH_NODE_EXPIRE)
        return sh_store_submit_expire(n->store, &sr, r->hashes, r->n_hashes, r->expiry_ms, r->mode,
                                      on_applied_change, ac);
    if (r->n_hashes != 0)
        return sh_store_submit_delete(n->store, &sr, r->hashes, r->n_hashes, on_applied_change, ac);
    return sh_store_submit_delete_before(n->store, &sr, r->before_ms, on_applied_change, ac);
}

/* A replicated delete or expire: parsed and its signature checked at the call's own time (its
 * freshness was checked on arrival at the node that took it). *p is freed by the caller. */
static int parse_item_request(const Shoal__Swarm__Item *it, sh_node_parsed **p)
{
    sh_node_method method = strcmp(it->method, "delete") == 0   ? SH_NODE_DELETE
                            : strcmp(it->method, "expire") == 0 ? SH_NODE_EXPIRE : 0;
    const sh_node_request *r;
    int rc;

    *p = NULL;
    if (method == 0)
        return sh_err_set(SH_ERR_FORMAT, "a replicated call names method \"%.20s\"", it->method);
    if ((rc = sh_node_request_parse(it->request.data, it->request.len, method, p)) != SH_OK)
        return rc;
    r = sh_node_parsed_request(*p);
    if (!r->is_signed)
        return sh_err_set(SH_ERR_PERMISSION, "a replicated %s is not signed", it->method);
    return sh_node_request_verify(*p, r->timestamp_ms);
}

static int apply_request(sh_node *n, const Shoal__Swarm__Item *it, apply_ctx *ac)
{
    sh_node_parsed *p;
    const sh_node_request *r;
    int rc = parse_item_request(it, &p);

    if (rc == SH_OK && (rc = check_rights(n, (r = sh_node_parsed_request(p)))) == SH_OK) {
        if (!sh__node_swarm_owns(n, r->owner))
            rc = sh_err_set(SH_ERR_WRONG_SWARM, "a replicated call of an owner outside this swarm");
        else if ((rc = submit_request(n, r, it, ac)) == SH_OK)
            n->writes_in_flight++;
    }
    sh_node_parsed_free(p);
    return rc;
}

int sh__node_apply_item(sh_node *n, const Shoal__Swarm__Item *it, sh__node_apply_cb cb, void *ctx)
{
    apply_ctx *ac = malloc(sizeof *ac);
    int rc;

    if (ac == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory applying a replicated item");
    *ac = (apply_ctx){.cb = cb, .ctx = ctx, .n = n};
    rc = it->method[0] == '\0' ? apply_message(n, it, ac) : apply_request(n, it, ac);
    if (rc != SH_OK)
        free(ac);
    return rc;
}

/* ---- swarm.push ------------------------------------------------------------------------------- */

typedef struct push_in {
    sh_node *n;
    sh_net_req *req;
    Shoal__Swarm__PushRequest *m;
    size_t pending;
    uint32_t refused;
    size_t n_receipts;
    sh_node_receipt receipts[PUSH_MAX_ITEMS];
} push_in;

static void push_answer(push_in *pi)
{
    Shoal__Swarm__PushResponse m = SHOAL__SWARM__PUSH_RESPONSE__INIT;
    Shoal__Swarm__Receipt pb[PUSH_MAX_ITEMS], *ptrs[PUSH_MAX_ITEMS];

    for (size_t i = 0; i < pi->n_receipts; i++) {
        sh__node_receipt_to_pb(&pi->receipts[i], &pb[i]);
        ptrs[i] = &pb[i];
    }
    m.node_time_ms = (uint64_t)sh_time_now_ms();
    m.n_receipts = pi->n_receipts;
    m.receipts = ptrs;
    m.refused = pi->refused;
    (void)sh__node_respond_pb(pi->req, &m.base);
    sh_wire_free(pi->m);
    free(pi);
}

typedef struct push_item {
    push_in *pi;
    size_t index;
} push_item;

static void on_item_applied(void *ctx, int status, sh_store_outcome outcome,
                            const uint8_t hash[SH_STORE_HASH_BYTES])
{
    push_item *it = ctx;
    push_in *pi = it->pi;
    const Shoal__Swarm__Item *item = pi->m->items[it->index];

    if (status != SH_OK)
        pi->refused++;
    /* A receipt only for what is committed here now (the callback runs after COMMIT). */
    else if (pi->m->want_receipts && hash != NULL &&
             (outcome == SH_STORE_STORED || outcome == SH_STORE_DUPLICATE) &&
             sh__node_receipt_sign(pi->n, hash, item->owner.data, (int16_t)item->namespace_,
                                   (int64_t)item->expiry_ms, &pi->receipts[pi->n_receipts]) == SH_OK)
        pi->n_receipts++;
    free(it);
    if (--pi->pending == 0)
        push_answer(pi);
}

int sh__node_push_parse(const uint8_t *body, size_t len, Shoal__Swarm__PushRequest **out)
{
    int rc;

    *out = NULL;
    if ((rc = sh_wire_unpack(&shoal__swarm__push_request__descriptor, body, len, "push",
                             (ProtobufCMessage **)out)) != SH_OK)
        return rc;
    if ((*out)->n_items == 0 || (*out)->n_items > PUSH_MAX_ITEMS) {
        sh_wire_free(*out);
        *out = NULL;
        return sh_err_set(SH_ERR_LIMIT, "a push carries 1 to %d items", PUSH_MAX_ITEMS);
    }
    return SH_OK;
}

int sh__node_item_check_request(const Shoal__Swarm__Item *it)
{
    sh_node_parsed *p;
    int rc = parse_item_request(it, &p);

    sh_node_parsed_free(p);
    return rc;
}

static void on_push(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    sh_node *n = ctx;
    push_in *pi = calloc(1, sizeof *pi);
    int rc;

    if (pi == NULL) {
        (void)sh_net_respond(req, SH_ERR_NOMEM, NULL, 0, "out of memory");
        return;
    }
    *pi = (push_in){.n = n, .req = req, .pending = 1};
    if ((rc = sh__node_push_parse(body, len, &pi->m)) != SH_OK) {
        sh_log_debug(SH_NODE_LOG_AREA, "push refused: %s", sh_err_msg());
        (void)sh_net_respond(req, rc, NULL, 0, "%s", sh_err_msg());
        sh_wire_free(pi->m);
        free(pi);
        return;
    }
    for (size_t i = 0; i < pi->m->n_items; i++) {
        push_item *it = malloc(sizeof *it);
        if (it != NULL) {
            *it = (push_item){pi, i};
            if (sh__node_apply_item(n, pi->m->items[i], on_item_applied, it) == SH_OK) {
                pi->pending++;
                continue;
            }
            free(it);
        }
        pi->refused++;
        sh_log_debug(SH_NODE_LOG_AREA, "pushed item refused: %s", sh_err_msg());
    }
    if (--pi->pending == 0)
        push_answer(pi);
}

int sh__node_replicate_register(sh_node *n)
{
    sh_net_method_limits lim = PUSH_RATE;

    return sh_net_register(n->net, "swarm.push", SH_RPC_NODE, on_push, n, &lim);
}
