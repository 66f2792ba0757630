/* The RPC methods of the storage API (docs/node.md "Methods"). Every signed call goes through
 * the same checks, in this order, each refusing with its own code:
 *   decode and form (FORMAT, LIMIT, INVALID, RANGE, UNSUPPORTED) -> freshness (STALE) ->
 *   signature (CRYPTO) -> replay (REPLAY) -> who may do it (PERMISSION) -> proof of work
 *   (PERMISSION) -> the store's own limits (FULL, RANGE, LIMIT, STALE).
 * Writes go to the store's group commit and are answered from its callback, after COMMIT. */
#include <stdlib.h>
#include <string.h>

#include "node/join.h"
#include "storage.pb-c.h"
#include "util/err.h"
#include "util/time.h"
#include "wire/pb.h"

/* The revocation list the owner keeps in namespace 12, when a request carries a token. */
static int lookup_revocations(sh_node *n, const sh_node_request *r, sh_store_page *page)
{
    sh_store_query q = {.ns = SH_NS_REVOCATIONS, .max_count = 1,
                        .max_bytes = SH_STORE_PAGE_MAX_BYTES};

    memcpy(q.owner, r->owner, SH_STORE_OWNER_BYTES);
    return sh_store_retrieve(n->store, &q, page);
}

static int check_rights(sh_node *n, const sh_node_request *r)
{
    sh_store_page page = {0};
    int rc = SH_OK;

    if (r->token != NULL)
        rc = lookup_revocations(n, r, &page);
    if (rc == SH_OK)
        rc = sh__node_authorize(r, page.count ? page.msgs[0].data : NULL,
                                page.count ? page.msgs[0].data_len : 0, sh_time_now_ms(),
                                &n->keys);
    sh_store_page_free(&page);
    return rc;
}

/* Decodes and checks a call up to its authorization; answers it and returns NULL on a refusal. */
static sh_node_parsed *admit(sh_node *n, sh_net_req *req, const uint8_t *body, size_t len,
                             sh_node_method method)
{
    sh_node_parsed *p = NULL;
    const sh_node_request *r;
    int rc;

    n->m.calls[method]++;
    if ((rc = sh_node_request_parse(body, len, method, &p)) != SH_OK)
        goto fail;
    r = sh_node_parsed_request(p);
    if (sh__node_swarm_check_owner(n, req, method, r->owner) != SH_OK) {
        sh_node_parsed_free(p); /* answered: WRONG_SWARM names the right swarm */
        return NULL;
    }
    if ((rc = sh_node_request_verify(p, sh_time_now_ms())) != SH_OK)
        goto fail;
    if (r->is_signed &&
        (rc = sh__node_replay_check(&n->replay, r->signer, r->nonce, sh_time_mono_ms())) != SH_OK)
        goto fail;
    if ((rc = check_rights(n, r)) != SH_OK)
        goto fail;
    return p;
fail:
    sh__node_fail(n, req, method, rc, sh_err_msg());
    sh_node_parsed_free(p);
    return NULL;
}

size_t sh__node_respond_pb(sh_net_req *req, const ProtobufCMessage *m)
{
    size_t sent = 0;
    sh_buf out;

    sh_buf_init(&out);
    if (sh_wire_pack(m, &out) == SH_OK) {
        (void)sh_net_respond(req, SH_OK, out.data, out.len, NULL);
        sent = out.len;
    } else {
        (void)sh_net_respond(req, SH_ERR_NOMEM, NULL, 0, "the node ran out of memory answering");
    }
    sh_buf_free(&out);
    return sent;
}

/* ---- store ------------------------------------------------------------------------------------ */

typedef struct put_ctx {
    sh_node *n;
    sh_net_req *req;
    uint8_t owner[SH_STORE_OWNER_BYTES];
    int16_t ns;
    int64_t expiry_ms;
} put_ctx;

static void on_put(void *ctx, int status, sh_store_outcome outcome,
                   const uint8_t hash[SH_STORE_HASH_BYTES])
{
    put_ctx *pc = ctx;
    sh_node *n = pc->n;
    Shoal__Storage__StoreResponse m = SHOAL__STORAGE__STORE_RESPONSE__INIT;

    n->writes_in_flight--;
    if (status != SH_OK) {
        sh__node_fail(n, pc->req, SH_NODE_STORE, status, sh_err_msg());
    } else {
        n->m.stored[outcome]++;
        m.node_time_ms = (uint64_t)sh_time_now_ms();
        m.hash = sh_wire_bin(hash, SH_STORE_HASH_BYTES);
        m.outcome = (uint32_t)outcome;
        m.expiry_ms = (uint64_t)pc->expiry_ms;
        (void)sh__node_respond_pb(pc->req, &m.base);
        if (outcome == SH_STORE_STORED)
            sh__node_wake(n, pc->owner, pc->ns);
    }
    free(pc);
}

static int submit_put(sh_node *n, sh_net_req *req, const sh_node_request *r)
{
    sh_store_msg msg = {.ns = r->ns, .timestamp_ms = r->timestamp_ms,
                        .expiry_ms = r->timestamp_ms + r->ttl_ms, .data = r->data,
                        .data_len = r->data_len};
    put_ctx *pc;
    int rc;

    memcpy(msg.owner, r->owner, SH_STORE_OWNER_BYTES);
    sh__node_slot(r, &msg.slot, &msg.slot_len);
    if ((pc = malloc(sizeof *pc)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory queueing a store");
    *pc = (put_ctx){.n = n, .req = req, .ns = r->ns, .expiry_ms = msg.expiry_ms};
    memcpy(pc->owner, r->owner, SH_STORE_OWNER_BYTES);
    if ((rc = sh_store_submit_put(n->store, &msg, on_put, pc)) != SH_OK) {
        free(pc);
        return rc;
    }
    n->writes_in_flight++;
    return SH_OK;
}

static void on_store(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    sh_node *n = ctx;
    sh_node_parsed *p = admit(n, req, body, len, SH_NODE_STORE);
    const sh_node_request *r;
    int rc;

    if (p == NULL)
        return;
    r = sh_node_parsed_request(p);
    if (r->ns == SH_NS_INBOX)
        sh__node_load_event(&n->load, sh_time_mono_ms());
    if ((rc = sh__node_check_pow(r, sh__node_pow_now(n))) != SH_OK ||
        (rc = sh__node_check_content(r, &n->keys)) != SH_OK ||
        (rc = n->swarm != NULL ? sh__node_replicate_store(n, req, r) : submit_put(n, req, r)) != SH_OK)
        sh__node_fail(n, req, SH_NODE_STORE, rc, sh_err_msg());
    sh_node_parsed_free(p);
}

/* ---- retrieve --------------------------------------------------------------------------------- */

static void encode_page(const sh_store_page *page, Shoal__Storage__RetrieveResponse *m,
                        Shoal__Storage__Message *msgs, Shoal__Storage__Message **ptrs,
                        Shoal__Storage__Cursor *next)
{
    for (size_t i = 0; i < page->count; i++) {
        const sh_store_msg *s = &page->msgs[i];
        shoal__storage__message__init(&msgs[i]);
        msgs[i].hash = sh_wire_bin(s->hash, SH_STORE_HASH_BYTES);
        msgs[i].timestamp_ms = (uint64_t)s->timestamp_ms;
        msgs[i].expiry_ms = (uint64_t)s->expiry_ms;
        msgs[i].data = sh_wire_bin(s->data, s->data_len);
        ptrs[i] = &msgs[i];
    }
    m->n_messages = page->count;
    m->messages = ptrs;
    shoal__storage__cursor__init(next);
    next->timestamp_ms = (uint64_t)page->next.timestamp_ms;
    next->hash = sh_wire_bin(page->next.hash, SH_STORE_HASH_BYTES);
    m->next = next;
    m->more = page->more;
}

bool sh__node_answer_page(sh_node *n, sh_net_req *req, const sh_store_query *q, bool final)
{
    Shoal__Storage__RetrieveResponse m = SHOAL__STORAGE__RETRIEVE_RESPONSE__INIT;
    Shoal__Storage__Message *msgs = NULL, **ptrs = NULL;
    Shoal__Storage__Cursor next;
    sh_store_page page = {0};
    int rc = sh_store_retrieve(n->store, q, &page);

    if (rc == SH_OK && page.count == 0 && !final) {
        sh_store_page_free(&page);
        return false;
    }
    if (rc == SH_OK && page.count != 0 &&
        ((msgs = calloc(page.count, sizeof *msgs)) == NULL ||
         (ptrs = calloc(page.count, sizeof *ptrs)) == NULL))
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory answering a retrieve");
    if (rc != SH_OK) {
        sh__node_fail(n, req, SH_NODE_RETRIEVE, rc, sh_err_msg());
    } else {
        encode_page(&page, &m, msgs, ptrs, &next);
        m.node_time_ms = (uint64_t)sh_time_now_ms();
        n->m.retrieved_msgs += page.count;
        for (size_t i = 0; i < page.count; i++)
            n->m.retrieved_bytes += page.msgs[i].data_len;
        (void)sh__node_respond_pb(req, &m.base);
    }
    free(msgs);
    free(ptrs);
    sh_store_page_free(&page);
    return true;
}

/* How long a retrieve may wait: what it asked, capped by the node and by its call's deadline
 * (with a margin for the answer to travel back). */
static uint32_t wait_budget(sh_node *n, sh_net_req *req, uint32_t asked)
{
    uint64_t left = sh_net_req_time_left_ms(req), margin = left / 10 < 1000 ? left / 10 : 1000;
    uint64_t w = asked < n->cfg.max_wait_ms ? asked : n->cfg.max_wait_ms;

    if (w > left - margin)
        w = left - margin;
    return (uint32_t)w;
}

static void on_retrieve(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    sh_node *n = ctx;
    sh_node_parsed *p = admit(n, req, body, len, SH_NODE_RETRIEVE);
    const sh_node_request *r;
    sh_store_query q;
    uint32_t wait;
    int rc;

    if (p == NULL)
        return;
    r = sh_node_parsed_request(p);
    memset(&q, 0, sizeof q);
    memcpy(q.owner, r->owner, SH_STORE_OWNER_BYTES);
    q.ns = r->ns;
    q.after = r->after;
    q.lookback = r->lookback;
    q.max_count = r->max_count;
    q.max_bytes = r->max_bytes;
    wait = n->stopping ? 0 : wait_budget(n, req, r->wait_ms);
    if (!sh__node_answer_page(n, req, &q, wait == 0) &&
        (rc = sh__node_wait(n, req, &q, wait)) != SH_OK)
        (void)sh__node_answer_page(n, req, &q, true); /* no room to wait: answer at once */
    sh_node_parsed_free(p);
}

/* ---- delete and expire ------------------------------------------------------------------------ */

typedef struct change_ctx {
    sh_node *n;
    sh_net_req *req;
    sh_node_method method;
} change_ctx;

static void on_changed(void *ctx, int status, const sh_store_result *res)
{
    change_ctx *cc = ctx;
    Shoal__Storage__DeleteResponse d = SHOAL__STORAGE__DELETE_RESPONSE__INIT;
    Shoal__Storage__ExpireResponse e = SHOAL__STORAGE__EXPIRE_RESPONSE__INIT;
    protobuf_c_boolean *flags = NULL;
    uint64_t *expiries = NULL;

    cc->n->writes_in_flight--;
    if (status != SH_OK) {
        sh__node_fail(cc->n, cc->req, cc->method, status, sh_err_msg());
    } else if (cc->method == SH_NODE_DELETE) {
        cc->n->m.deleted += res->count;
        d.node_time_ms = (uint64_t)sh_time_now_ms();
        d.count = res->count;
        if (res->n != 0 && (flags = calloc(res->n, sizeof *flags)) != NULL) {
            for (size_t i = 0; i < res->n; i++)
                flags[i] = res->deleted[i];
            d.n_deleted = res->n;
            d.deleted = flags;
        }
        (void)sh__node_respond_pb(cc->req, &d.base);
    } else {
        cc->n->m.expire_changed += res->count;
        e.node_time_ms = (uint64_t)sh_time_now_ms();
        e.count = res->count;
        if (res->n != 0 && (expiries = calloc(res->n, sizeof *expiries)) != NULL) {
            for (size_t i = 0; i < res->n; i++)
                expiries[i] = res->expiries[i] > 0 ? (uint64_t)res->expiries[i] : 0;
            e.n_expiries = res->n;
            e.expiries = expiries;
        }
        (void)sh__node_respond_pb(cc->req, &e.base);
    }
    free(flags);
    free(expiries);
    free(cc);
}

static int submit_change(sh_node *n, sh_net_req *req, const sh_node_request *r,
                         const uint8_t *body, size_t len)
{
    sh_store_request sr = {.ns = r->ns, .timestamp_ms = r->timestamp_ms, .bytes = body,
                           .len = len};
    change_ctx *cc = malloc(sizeof *cc);
    int rc;

    if (cc == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory queueing a request");
    *cc = (change_ctx){.n = n, .req = req, .method = r->method};
    memcpy(sr.owner, r->owner, SH_STORE_OWNER_BYTES);
    if (r->method == SH_NODE_EXPIRE)
        rc = sh_store_submit_expire(n->store, &sr, r->hashes, r->n_hashes, r->expiry_ms, r->mode,
                                    on_changed, cc);
    else if (r->n_hashes != 0)
        rc = sh_store_submit_delete(n->store, &sr, r->hashes, r->n_hashes, on_changed, cc);
    else
        rc = sh_store_submit_delete_before(n->store, &sr, r->before_ms, on_changed, cc);
    if (rc != SH_OK) {
        free(cc);
        return rc;
    }
    n->writes_in_flight++;
    return SH_OK;
}

static void on_change(sh_net_req *req, const uint8_t *body, size_t len, sh_node *n,
                      sh_node_method method)
{
    sh_node_parsed *p = admit(n, req, body, len, method);
    int rc;

    if (p == NULL)
        return;
    /* The tombstones keep the whole signed call, so that replication can forward it. */
    if ((rc = submit_change(n, req, sh_node_parsed_request(p), body, len)) != SH_OK)
        sh__node_fail(n, req, method, rc, sh_err_msg());
    else
        sh__node_replicate_change(n, sh_node_parsed_request(p), body, len);
    sh_node_parsed_free(p);
}

static void on_delete(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    on_change(req, body, len, ctx, SH_NODE_DELETE);
}

static void on_expire(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    on_change(req, body, len, ctx, SH_NODE_EXPIRE);
}

/* ---- info and stats --------------------------------------------------------------------------- */

static void on_info(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    static const int16_t namespaces[] = {0, 2, 3, 4, 5, 10, 11, 12};
    Shoal__Storage__InfoResponse m = SHOAL__STORAGE__INFO_RESPONSE__INIT;
    Shoal__Storage__NamespaceInfo ns[8], *nsp[8];
    sh_node *n = ctx;

    (void)body;
    (void)len;
    n->m.calls[0]++;
    for (size_t i = 0; i < 8; i++) {
        const sh_ns_info *info = sh_store_ns_lookup(namespaces[i]);
        shoal__storage__namespace_info__init(&ns[i]);
        ns[i].namespace_ = info->ns;
        ns[i].max_ttl_ms = (uint64_t)info->max_ttl_ms;
        ns[i].public_read = info->reader == SH_NS_READ_ANYONE;
        ns[i].anyone_writes = info->writer == SH_NS_WRITE_ANYONE;
        nsp[i] = &ns[i];
    }
    m.node_time_ms = (uint64_t)sh_time_now_ms();
    m.version = (char *)SH_NODE_VERSION;
    m.identity_key = sh_wire_bin(n->identity_pk, 32);
    m.link_key = sh_wire_bin(n->link_pk, 32);
    m.pow_bits = sh__node_pow_now(n);
    m.max_data_bytes = SH_STORE_MAX_DATA_BYTES;
    m.max_msgs_per_ns = n->cfg.max_msgs_per_ns;
    m.max_bytes_per_ns = n->cfg.max_bytes_per_ns;
    m.max_clock_skew_ms = SH_NODE_MAX_CLOCK_SKEW_MS;
    m.max_future_ms = SH_STORE_MAX_FUTURE_MS;
    m.max_wait_ms = n->cfg.max_wait_ms;
    m.page_max_count = SH_STORE_PAGE_MAX_COUNT;
    m.page_max_bytes = SH_STORE_PAGE_MAX_BYTES;
    m.max_hashes = SH_STORE_MAX_HASHES_PER_REQUEST;
    m.n_namespaces = 8;
    m.namespaces = nsp;
    (void)sh__node_respond_pb(req, &m.base);
}

static void on_stats(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    Shoal__Storage__StatsResponse m = SHOAL__STORAGE__STATS_RESPONSE__INIT;
    sh_node *n = ctx;
    sh_buf text;

    (void)body;
    (void)len;
    n->m.calls[0]++;
    sh_buf_init(&text);
    if (sh_node_metrics(n, &text) != SH_OK) {
        (void)sh_net_respond(req, SH_ERR_INTERNAL, NULL, 0, "%s", sh_err_msg());
    } else {
        m.node_time_ms = (uint64_t)sh_time_now_ms();
        m.text = (char *)text.data;
        (void)sh__node_respond_pb(req, &m.base);
    }
    sh_buf_free(&text);
}

int sh__node_register(sh_node *n)
{
    int rc;

    if ((rc = sh_net_register(n->net, "store", SH_RPC_CLIENT, on_store, n, NULL)) != SH_OK ||
        (rc = sh_net_register(n->net, "retrieve", SH_RPC_CLIENT, on_retrieve, n, NULL)) != SH_OK ||
        (rc = sh_net_register(n->net, "delete", SH_RPC_CLIENT, on_delete, n, NULL)) != SH_OK ||
        (rc = sh_net_register(n->net, "expire", SH_RPC_CLIENT, on_expire, n, NULL)) != SH_OK ||
        (rc = sh_net_register(n->net, "info", SH_RPC_CLIENT, on_info, n, NULL)) != SH_OK ||
        (rc = sh_net_register(n->net, "stats", SH_RPC_NODE, on_stats, n, NULL)) != SH_OK)
        return rc;
    return SH_OK;
}
