/* Anti-entropy between swarm peers, and handover (docs/swarm.md "Anti-entropy", "Handover";
 * overview.md "Swarms"). Every antientropy_ms a node asks one peer in turn:
 *   1. swarm.digest over all its owners as one cell: the XOR of the ids of every live message
 *      and owner request (store/scan.c) with their count. Equal: the round ends (an idle swarm
 *      in sync exchanges only this).
 *   2. swarm.digest again with cells of 10 minutes of timestamps, then with cells of a second
 *      inside the first 10-minute cell that differs: the peer answers the cells where it
 *      differs.
 *   3. swarm.fetch of those cells, with the ids we hold there: the peer sends what we lack, up
 *      to antientropy_bytes_per_s times the interval; the rest comes in the next rounds.
 * Each node pulls, so entries spread both ways. Fetched items go through the same checks as
 * pushed ones (replicate.c): messages of our owners only, requests with the owner's signature,
 * so a deleted message stays deleted (its tombstone refuses the stale copy). A peer's digest
 * and fetch calls are limited to antientropy_peer_per_s per second each; more are refused with
 * SH_ERR_BUSY, counted and logged.
 * The scans run on the thread pool (scan.c). Handover is in handover.c. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/join.h"
#include "util/err.h"
#include "util/time.h"
#include "wire/pb.h"

#define SH__AE_BUCKET_MS (10LL * 60 * 1000) /* level 1 cells */
#define SH__AE_FINE_MS 1000LL               /* level 2 cells, inside one level-1 cell */
#define AE_MAX_CELLS 8192u          /* cells in one digest call */
#define AE_MAX_HAVE 8192u           /* ids in one fetch call */
#define AE_MAX_FETCH_BYTES (256u * 1024) /* items in one fetch answer */
#define AE_CALL_MS 5000u

struct sh__node_ae {
    sh_node *n;
    uv_timer_t timer;
    bool running;    /* a round is in flight */
    size_t next_peer;
    uint8_t peer_link[32]; /* the peer of the round in flight */
};

/* ---- Cells ------------------------------------------------------------------------------------ */

typedef struct entry {
    uint64_t bucket;
    uint8_t id[32];
} entry;

typedef struct entries {
    entry *v;
    size_t n, cap;
    const sh__node_view *view; /* set by the scan */
    int64_t bucket_ms;
    uint64_t range_start, range_end;
    int64_t since_ms, until_ms; /* until 0: no bound */
} entries;

/* The id a digest counts: a request's own id; a message's hash bound to its expiry, so that
 * two members holding the same message with different expiries differ (a TTL change that one
 * of them missed). */
static void digest_id(const sh_store_entry *e, uint8_t out[32])
{
    uint8_t in[40];

    if (e->is_request) {
        memcpy(out, e->id, 32);
        return;
    }
    memcpy(in, e->id, 32);
    for (int i = 0; i < 8; i++)
        in[32 + i] = (uint8_t)((uint64_t)e->expiry_ms >> (56 - 8 * i));
    crypto_generichash(out, 32, in, sizeof in, NULL, 0);
}

static int collect_cb(void *ctx, const sh_store_entry *e)
{
    entries *es = ctx;
    uint64_t pos = sh__node_swarm_position(e->owner);

    if (pos < es->range_start || pos > es->range_end || e->timestamp_ms < es->since_ms ||
        (es->until_ms > 0 && e->timestamp_ms >= es->until_ms) ||
        !sh__node_view_owns(es->view, e->owner))
        return SH_OK;
    if (es->n == es->cap) {
        size_t cap = es->cap ? 2 * es->cap : 256;
        entry *v = realloc(es->v, cap * sizeof *v);
        if (v == NULL)
            return sh_err_set(SH_ERR_NOMEM, "out of memory listing the store");
        es->v = v;
        es->cap = cap;
    }
    es->v[es->n].bucket = es->bucket_ms > 0 && e->timestamp_ms > 0
                              ? (uint64_t)(e->timestamp_ms / es->bucket_ms) : 0;
    digest_id(e, es->v[es->n].id);
    es->n++;
    return SH_OK;
}

static int entry_cmp(const void *a, const void *b)
{
    const entry *x = a, *y = b;

    if (x->bucket != y->bucket)
        return x->bucket < y->bucket ? -1 : 1;
    return memcmp(x->id, y->id, 32);
}

static void entries_init(entries *es, uint64_t start, uint64_t end, int64_t bucket_ms,
                         int64_t since_ms, int64_t until_ms)
{
    *es = (entries){.bucket_ms = bucket_ms, .range_start = start, .range_end = end,
                    .since_ms = since_ms, .until_ms = until_ms};
}

/* Scan work (pool thread): the entries of *ctx's range, sorted. */
static int list_work(sh_store *store, const sh__node_view *view, void *ctx)
{
    entries *es = ctx;
    int rc;

    es->view = view;
    if ((rc = sh_store_scan(store, false, collect_cb, es)) != SH_OK) {
        free(es->v);
        es->v = NULL;
        es->n = 0;
        return rc;
    }
    if (es->n > 1)
        qsort(es->v, es->n, sizeof *es->v, entry_cmp);
    return SH_OK;
}

typedef struct cell {
    uint64_t bucket;
    uint32_t count;
    uint8_t digest[32];
} cell;

/* Cells of sorted entries: *out is malloc'd. */
static int make_cells(const entries *es, cell **out, size_t *n_out)
{
    cell *c = calloc(es->n ? es->n : 1, sizeof *c);
    size_t n = 0;

    if (c == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory computing digests");
    for (size_t i = 0; i < es->n; i++) {
        if (n == 0 || c[n - 1].bucket != es->v[i].bucket)
            c[n++].bucket = es->v[i].bucket;
        c[n - 1].count++;
        for (int k = 0; k < 32; k++)
            c[n - 1].digest[k] ^= es->v[i].id[k];
    }
    *out = c;
    *n_out = n;
    return SH_OK;
}

static void cells_to_pb(const cell *c, size_t n, Shoal__Swarm__Cell *pb, Shoal__Swarm__Cell **ptrs)
{
    for (size_t i = 0; i < n; i++) {
        shoal__swarm__cell__init(&pb[i]);
        pb[i].bucket = c[i].bucket;
        pb[i].count = c[i].count;
        pb[i].digest = sh_wire_bin(c[i].digest, 32);
        ptrs[i] = &pb[i];
    }
}

/* ---- Answering a peer ------------------------------------------------------------------------- */

/* At most antientropy_peer_per_s calls per second from one peer. */
static int rate_check(sh_node *n, sh_net_req *req, const char *what)
{
    sh__node_peer *p = sh__node_peer_by_link(n, sh_net_req_peer_key(req));
    int64_t now = sh_time_mono_ms();

    if (p == NULL) /* a node of the map outside our swarm: its calls are not for us */
        return sh_err_set(SH_ERR_WRONG_SWARM, "%s from a node outside this swarm", what);
    if (now - p->window_start_ms >= 1000) {
        p->window_start_ms = now;
        p->calls_in_window = 0;
    }
    if (++p->calls_in_window > n->cfg.antientropy_peer_per_s) {
        n->m.ae_refused++;
        if (p->calls_in_window == n->cfg.antientropy_peer_per_s + 1)
            sh_log_warn(SH_NODE_LOG_AREA, "peer %s floods anti-entropy (%s): refused for the "
                        "rest of this second", p->address, what);
        return sh_err_set(SH_ERR_BUSY, "more than %u anti-entropy calls in a second",
                          n->cfg.antientropy_peer_per_s);
    }
    return SH_OK;
}

static void respond_pb(sh_node *n, sh_net_req *req, const ProtobufCMessage *m, size_t in_len)
{
    size_t sent = sh__node_respond_pb(req, m);

    if (sent > 0)
        n->m.ae_bytes += in_len + sent;
}

int sh__node_digest_check(const Shoal__Swarm__DigestRequest *m)
{
    if (m->range_start > m->range_end || m->n_cells > AE_MAX_CELLS ||
        (m->bucket_ms != 0 && m->bucket_ms < 1000) || m->bucket_ms > INT64_MAX ||
        m->since_ms > INT64_MAX || m->until_ms > INT64_MAX ||
        (m->until_ms != 0 && m->until_ms <= m->since_ms))
        return sh_err_set(SH_ERR_FORMAT, "a digest request with a bad range, bucket or %zu cells",
                          m->n_cells);
    for (size_t i = 0; i < m->n_cells; i++)
        if (m->cells[i]->digest.len != 32)
            return sh_err_set(SH_ERR_FORMAT, "a digest cell is not 32 bytes");
    return SH_OK;
}

/* The cells of ours that differ from the caller's, and an empty cell for each of the caller's
 * that we lack. */
static size_t diff_cells(const cell *mine, size_t n_mine, Shoal__Swarm__Cell **theirs,
                         size_t n_theirs, cell *out)
{
    size_t n = 0;

    for (size_t i = 0; i < n_mine; i++) {
        bool same = false;
        for (size_t j = 0; j < n_theirs && !same; j++)
            same = theirs[j]->bucket == mine[i].bucket && theirs[j]->count == mine[i].count &&
                   memcmp(theirs[j]->digest.data, mine[i].digest, 32) == 0;
        if (!same)
            out[n++] = mine[i];
    }
    for (size_t j = 0; j < n_theirs; j++) {
        bool have = false;
        for (size_t i = 0; i < n_mine && !have; i++)
            have = mine[i].bucket == theirs[j]->bucket;
        if (!have && n < n_mine + n_theirs)
            out[n++] = (cell){.bucket = theirs[j]->bucket};
    }
    return n;
}

typedef struct digest_in {
    entries es; /* first: list_work's ctx */
    sh_node *n;
    sh_net_req *req;
    Shoal__Swarm__DigestRequest *m;
    size_t len;
} digest_in;

static void digest_answer(digest_in *di)
{
    Shoal__Swarm__DigestResponse a = SHOAL__SWARM__DIGEST_RESPONSE__INIT;
    Shoal__Swarm__Cell *pb = NULL, **ptrs = NULL;
    cell *mine = NULL, *diff = NULL;
    size_t n_mine = 0, n_diff = 0, cap;
    int rc;

    if ((rc = make_cells(&di->es, &mine, &n_mine)) == SH_OK) {
        cap = n_mine + di->m->n_cells + 1;
        if ((diff = calloc(cap, sizeof *diff)) == NULL || (pb = calloc(cap, sizeof *pb)) == NULL ||
            (ptrs = calloc(cap, sizeof *ptrs)) == NULL)
            rc = sh_err_set(SH_ERR_NOMEM, "out of memory comparing digests");
    }
    if (rc == SH_OK) {
        n_diff = diff_cells(mine, n_mine, di->m->cells, di->m->n_cells, diff);
        cells_to_pb(diff, n_diff, pb, ptrs);
        a.node_time_ms = (uint64_t)sh_time_now_ms();
        a.n_cells = n_diff;
        a.cells = ptrs;
        respond_pb(di->n, di->req, &a.base, di->len);
    } else {
        (void)sh_net_respond(di->req, rc, NULL, 0, "%s", sh_err_msg());
    }
    free(mine);
    free(diff);
    free(pb);
    free(ptrs);
}

static void digest_scanned(void *ctx, int status, const char *error)
{
    digest_in *di = ctx;

    if (status == SH_OK)
        digest_answer(di);
    else
        (void)sh_net_respond(di->req, status, NULL, 0, "%s", error);
    sh_wire_free(di->m);
    free(di->es.v);
    free(di);
}

static void on_digest(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    sh_node *n = ctx;
    Shoal__Swarm__DigestRequest *m = NULL;
    digest_in *di = NULL;
    int rc;

    if ((rc = rate_check(n, req, "digest")) != SH_OK ||
        (rc = sh_wire_unpack(&shoal__swarm__digest_request__descriptor, body, len, "digest",
                             (ProtobufCMessage **)&m)) != SH_OK ||
        (rc = sh__node_digest_check(m)) != SH_OK)
        goto fail;
    if ((di = calloc(1, sizeof *di)) == NULL) {
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory comparing digests");
        goto fail;
    }
    *di = (digest_in){.n = n, .req = req, .m = m, .len = len};
    entries_init(&di->es, m->range_start, m->range_end, (int64_t)m->bucket_ms,
                 (int64_t)m->since_ms, (int64_t)m->until_ms);
    if ((rc = sh__node_scan_submit(n, list_work, digest_scanned, di)) == SH_OK)
        return;
fail:
    sh_log_debug(SH_NODE_LOG_AREA, "digest refused: %s", sh_err_msg());
    (void)sh_net_respond(req, rc, NULL, 0, "%s", sh_err_msg());
    sh_wire_free(m);
    free(di);
}

/* ---- swarm.fetch ----------------------------------------------------------------------------- */

typedef struct fetch_out {
    const Shoal__Swarm__FetchRequest *m;
    const sh__node_view *view; /* set by the scan */
    Shoal__Swarm__Item *items;
    size_t n_items, cap;
    size_t bytes, max_bytes;
    bool more;
    sh_buf arena; /* copies of data, slots and request bytes */
    size_t *offsets;
} fetch_out;

static bool wanted_bucket(const Shoal__Swarm__FetchRequest *m, uint64_t b)
{
    for (size_t i = 0; i < m->n_buckets; i++)
        if (m->buckets[i] == b)
            return true;
    return false;
}

static int have_cmp(const void *a, const void *b)
{
    return memcmp(((const ProtobufCBinaryData *)a)->data, ((const ProtobufCBinaryData *)b)->data,
                  32);
}

/* m->have is sorted (fetch_work) and every id is 32 bytes (sh__node_fetch_check). */
static bool has_id(const Shoal__Swarm__FetchRequest *m, const uint8_t id[32])
{
    ProtobufCBinaryData key = {32, (uint8_t *)id};

    return m->n_have != 0 && bsearch(&key, m->have, m->n_have, sizeof *m->have, have_cmp) != NULL;
}

const char *sh__node_request_method(const uint8_t *body, size_t len)
{
    static const sh_node_method methods[] = {SH_NODE_DELETE, SH_NODE_EXPIRE};
    sh_node_parsed *p = NULL;

    for (size_t i = 0; i < 2; i++)
        if (sh_node_request_parse(body, len, methods[i], &p) == SH_OK) {
            sh_node_parsed_free(p);
            return sh_node_method_name(methods[i]);
        }
    return NULL;
}

/* Copies what an item points to into the arena; pointers are fixed once the arena is final. */
static int add_item(fetch_out *f, const sh_store_entry *e)
{
    Shoal__Swarm__Item *it;
    const char *method = e->is_request ? sh__node_request_method(e->data, e->data_len) : "";

    if (method == NULL)
        return SH_OK; /* not a request we know how to forward */
    if (f->n_items == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 64;
        void *v = realloc(f->items, cap * sizeof *f->items), *o;
        if (v == NULL)
            return sh_err_set(SH_ERR_NOMEM, "out of memory answering a fetch");
        f->items = v;
        if ((o = realloc(f->offsets, cap * 2 * sizeof *f->offsets)) == NULL)
            return sh_err_set(SH_ERR_NOMEM, "out of memory answering a fetch");
        f->offsets = o;
        f->cap = cap;
    }
    it = &f->items[f->n_items];
    shoal__swarm__item__init(it);
    it->owner.len = SH_STORE_OWNER_BYTES;
    it->namespace_ = e->ns;
    it->timestamp_ms = (uint64_t)e->timestamp_ms;
    it->method = (char *)method;
    f->offsets[2 * f->n_items] = f->arena.len;
    if (sh_buf_append(&f->arena, e->owner, SH_STORE_OWNER_BYTES) != SH_OK ||
        sh_buf_append(&f->arena, e->data, e->data_len) != SH_OK ||
        (e->slot_len && sh_buf_append(&f->arena, e->slot, e->slot_len) != SH_OK))
        return sh_err_set(SH_ERR_NOMEM, "out of memory answering a fetch");
    if (e->is_request) {
        it->request.len = e->data_len;
    } else {
        it->expiry_ms = (uint64_t)e->expiry_ms;
        it->data.len = e->data_len;
        it->slot.len = e->slot_len;
    }
    f->n_items++;
    f->bytes += e->data_len + e->slot_len + 64;
    return SH_OK;
}

static int fetch_cb(void *ctx, const sh_store_entry *e)
{
    fetch_out *f = ctx;
    uint64_t pos = sh__node_swarm_position(e->owner);
    uint64_t bucket = (uint64_t)(e->timestamp_ms > 0 ? e->timestamp_ms : 0) /
                      f->m->bucket_ms;
    uint8_t id[32];

    if (pos < f->m->range_start || pos > f->m->range_end || !wanted_bucket(f->m, bucket) ||
        !sh__node_view_owns(f->view, e->owner))
        return SH_OK;
    digest_id(e, id);
    if (has_id(f->m, id))
        return SH_OK;
    if (f->bytes + e->data_len + e->slot_len + 64 > f->max_bytes && f->n_items > 0) {
        f->more = true;
        return SH_OK;
    }
    return add_item(f, e);
}

static void fix_items(fetch_out *f)
{
    for (size_t i = 0; i < f->n_items; i++) {
        Shoal__Swarm__Item *it = &f->items[i];
        uint8_t *p = f->arena.data + f->offsets[2 * i];
        it->owner.data = p;
        p += SH_STORE_OWNER_BYTES;
        if (it->request.len) {
            it->request.data = p;
        } else {
            it->data.data = p;
            it->slot.data = it->slot.len ? p + it->data.len : NULL;
        }
    }
}

int sh__node_fetch_check(const Shoal__Swarm__FetchRequest *m)
{
    if (m->range_start > m->range_end || m->bucket_ms < 1000 || m->bucket_ms > INT64_MAX ||
        m->n_buckets == 0 || m->n_buckets > AE_MAX_CELLS || m->n_have > AE_MAX_HAVE ||
        m->max_bytes == 0)
        return sh_err_set(SH_ERR_FORMAT, "a fetch request with a bad range, bucket, %zu buckets "
                          "or %zu ids", m->n_buckets, m->n_have);
    for (size_t i = 0; i < m->n_have; i++)
        if (m->have[i].len != 32)
            return sh_err_set(SH_ERR_FORMAT, "a fetch request's id %zu is not 32 bytes", i);
    return SH_OK;
}

typedef struct fetch_in {
    fetch_out f; /* first: fetch_work's ctx */
    sh_node *n;
    sh_net_req *req;
    Shoal__Swarm__FetchRequest *m;
    size_t len;
} fetch_in;

static void fetch_out_free(fetch_out *f)
{
    free(f->items);
    free(f->offsets);
    sh_buf_free(&f->arena);
}

/* Scan work (pool thread): the entries the caller lacks in its cells, with their data. */
static int fetch_work(sh_store *store, const sh__node_view *view, void *ctx)
{
    fetch_in *fi = ctx;

    fi->f.view = view;
    if (fi->m->n_have > 1)
        qsort(fi->m->have, fi->m->n_have, sizeof *fi->m->have, have_cmp);
    return sh_store_scan(store, true, fetch_cb, &fi->f);
}

static void fetch_answer(fetch_in *fi)
{
    Shoal__Swarm__FetchResponse a = SHOAL__SWARM__FETCH_RESPONSE__INIT;
    Shoal__Swarm__Item **ptrs = NULL;
    fetch_out *f = &fi->f;

    fix_items(f);
    if (f->n_items && (ptrs = calloc(f->n_items, sizeof *ptrs)) == NULL) {
        (void)sh_net_respond(fi->req, SH_ERR_NOMEM, NULL, 0, "out of memory answering a fetch");
        return;
    }
    for (size_t i = 0; i < f->n_items; i++)
        ptrs[i] = &f->items[i];
    a.node_time_ms = (uint64_t)sh_time_now_ms();
    a.n_items = f->n_items;
    a.items = ptrs;
    a.more = f->more;
    respond_pb(fi->n, fi->req, &a.base, fi->len);
    free(ptrs);
}

static void fetch_scanned(void *ctx, int status, const char *error)
{
    fetch_in *fi = ctx;

    if (status == SH_OK)
        fetch_answer(fi);
    else
        (void)sh_net_respond(fi->req, status, NULL, 0, "%s", error);
    sh_wire_free(fi->m);
    fetch_out_free(&fi->f);
    free(fi);
}

static void on_fetch(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    sh_node *n = ctx;
    Shoal__Swarm__FetchRequest *m = NULL;
    fetch_in *fi = NULL;
    int rc;

    if ((rc = rate_check(n, req, "fetch")) != SH_OK ||
        (rc = sh_wire_unpack(&shoal__swarm__fetch_request__descriptor, body, len, "fetch",
                             (ProtobufCMessage **)&m)) != SH_OK ||
        (rc = sh__node_fetch_check(m)) != SH_OK)
        goto fail;
    if ((fi = calloc(1, sizeof *fi)) == NULL) {
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory answering a fetch");
        goto fail;
    }
    *fi = (fetch_in){.n = n, .req = req, .m = m, .len = len};
    fi->f.m = m;
    fi->f.max_bytes = m->max_bytes < AE_MAX_FETCH_BYTES ? m->max_bytes : AE_MAX_FETCH_BYTES;
    sh_buf_init(&fi->f.arena);
    if ((rc = sh__node_scan_submit(n, fetch_work, fetch_scanned, fi)) == SH_OK)
        return;
    fetch_out_free(&fi->f);
fail:
    sh_log_debug(SH_NODE_LOG_AREA, "fetch refused: %s", sh_err_msg());
    (void)sh_net_respond(req, rc, NULL, 0, "%s", sh_err_msg());
    sh_wire_free(m);
    free(fi);
}

/* ---- Our rounds ------------------------------------------------------------------------------ */

static sh__node_peer *round_peer(sh__node_ae *ae)
{
    return sh__node_peer_by_link(ae->n, ae->peer_link);
}

static void round_end(sh__node_ae *ae, const char *why)
{
    if (why != NULL)
        sh_log_debug(SH_NODE_LOG_AREA, "anti-entropy round ended: %s", why);
    ae->running = false;
}

static int call_peer(sh__node_ae *ae, const char *method, const ProtobufCMessage *m,
                     sh_net_call_cb cb)
{
    sh__node_peer *p = round_peer(ae);
    sh_buf body;
    int rc;

    if (p == NULL)
        return sh_err_set(SH_ERR_NOT_FOUND, "the peer left the swarm");
    sh_buf_init(&body);
    if ((rc = sh_wire_pack(m, &body)) == SH_OK) {
        ae->n->m.ae_bytes += body.len;
        rc = sh_net_call(p->peer, method, body.data, body.len, AE_CALL_MS, cb, ae);
    }
    sh_buf_free(&body);
    return rc;
}

static void applied_cb(void *ctx, int status, sh_store_outcome outcome,
                       const uint8_t hash[SH_STORE_HASH_BYTES])
{
    sh_node *n = ctx;

    (void)outcome;
    (void)hash;
    if (status == SH_OK)
        n->m.ae_items++;
}

static void on_fetched(int status, const char *message, const uint8_t *body, size_t len,
                       void *ctx)
{
    sh__node_ae *ae = ctx;
    Shoal__Swarm__FetchResponse *m = NULL;
    size_t applied = 0;

    if (status != SH_OK) {
        round_end(ae, message);
        return;
    }
    ae->n->m.ae_bytes += len;
    if (sh_wire_unpack(&shoal__swarm__fetch_response__descriptor, body, len, "fetch answer",
                       (ProtobufCMessage **)&m) != SH_OK) {
        round_end(ae, sh_err_msg());
        return;
    }
    for (size_t i = 0; i < m->n_items && !ae->n->stopping; i++)
        if (sh__node_apply_item(ae->n, m->items[i], applied_cb, ae->n) == SH_OK)
            applied++;
    sh_log_debug(SH_NODE_LOG_AREA, "anti-entropy fetched %zu items (%zu applied)%s", m->n_items,
                 applied, m->more ? ", more to come" : "");
    sh_wire_free(m);
    round_end(ae, NULL);
}

/* Step 3: the differing cells, with the ids we hold in them (listed by a scan). */
typedef struct fetch_req {
    entries es; /* first: list_work's ctx */
    sh__node_ae *ae;
    uint64_t *buckets;
    size_t n_buckets;
} fetch_req;

static void fetch_req_free(fetch_req *fr)
{
    free(fr->es.v);
    free(fr->buckets);
    free(fr);
}

static void fetch_listed(void *ctx, int status, const char *error)
{
    fetch_req *fr = ctx;
    sh__node_ae *ae = fr->ae;
    Shoal__Swarm__FetchRequest m = SHOAL__SWARM__FETCH_REQUEST__INIT;
    ProtobufCBinaryData *have = NULL;
    uint64_t budget;
    int rc = status;

    if (status == SH_ERR_CANCELLED) { /* the node is stopping: ae may be gone */
        fetch_req_free(fr);
        return;
    }
    m.buckets = fr->buckets;
    m.n_buckets = fr->n_buckets;
    if (rc == SH_OK && (have = calloc(fr->es.n + 1, sizeof *have)) == NULL)
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == SH_OK && i < fr->es.n && m.n_have < AE_MAX_HAVE; i++)
        if (wanted_bucket(&m, fr->es.v[i].bucket))
            have[m.n_have++] = sh_wire_bin(fr->es.v[i].id, 32);
    m.range_end = UINT64_MAX;
    m.bucket_ms = SH__AE_FINE_MS;
    m.have = have;
    budget = (uint64_t)ae->n->cfg.antientropy_bytes_per_s * ae->n->cfg.antientropy_ms / 1000;
    m.max_bytes = (uint32_t)(budget < AE_MAX_FETCH_BYTES ? (budget ? budget : 1)
                                                         : AE_MAX_FETCH_BYTES);
    if (rc == SH_OK)
        rc = call_peer(ae, "swarm.fetch", &m.base, on_fetched);
    if (rc != SH_OK)
        round_end(ae, status != SH_OK ? error : sh_err_msg());
    free(have);
    fetch_req_free(fr);
}

static int fetch_cells(sh__node_ae *ae, const Shoal__Swarm__DigestResponse *d)
{
    fetch_req *fr = calloc(1, sizeof *fr);
    uint64_t lo = UINT64_MAX, hi = 0;
    int rc;

    if (fr == NULL || (fr->buckets = calloc(d->n_cells + 1, sizeof *fr->buckets)) == NULL) {
        free(fr);
        return sh_err_set(SH_ERR_NOMEM, "out of memory");
    }
    fr->ae = ae;
    for (size_t i = 0; i < d->n_cells; i++)
        if (d->cells[i]->count > 0 && fr->n_buckets < AE_MAX_CELLS &&
            d->cells[i]->bucket <= (uint64_t)INT64_MAX / SH__AE_FINE_MS - 1) {
            uint64_t b = fr->buckets[fr->n_buckets++] = d->cells[i]->bucket;
            lo = b < lo ? b : lo;
            hi = b > hi ? b : hi;
        }
    if (fr->n_buckets == 0) {
        fetch_req_free(fr);
        round_end(ae, NULL); /* the peer lacks some of ours: it fetches them itself */
        return SH_OK;
    }
    entries_init(&fr->es, 0, UINT64_MAX, SH__AE_FINE_MS, (int64_t)lo * SH__AE_FINE_MS,
                 (int64_t)(hi + 1) * SH__AE_FINE_MS);
    if ((rc = sh__node_scan_submit(ae->n, list_work, fetch_listed, fr)) != SH_OK)
        fetch_req_free(fr);
    return rc;
}

static int send_digest(sh__node_ae *ae, int64_t bucket_ms, int64_t since_ms, int64_t until_ms,
                       sh_net_call_cb cb);
static void on_mid(int status, const char *message, const uint8_t *body, size_t len, void *ctx);
static void on_fine(int status, const char *message, const uint8_t *body, size_t len, void *ctx);

/* level 0: the whole store; 1: cells of 10 minutes; 2: cells of a second inside the first
 * 10-minute cell that differs, then the fetch. */
static void on_digest_answer(int status, const char *message, const uint8_t *body, size_t len,
                             void *ctx, int level)
{
    sh__node_ae *ae = ctx;
    Shoal__Swarm__DigestResponse *d = NULL;
    int rc;

    if (status != SH_OK) {
        round_end(ae, message);
        return;
    }
    ae->n->m.ae_bytes += len;
    if ((rc = sh_wire_unpack(&shoal__swarm__digest_response__descriptor, body, len,
                             "digest answer", (ProtobufCMessage **)&d)) == SH_OK) {
        const Shoal__Swarm__Cell *first = NULL;
        for (size_t i = 0; i < d->n_cells && first == NULL; i++)
            if (d->cells[i]->count > 0)
                first = d->cells[i];
        if (first == NULL || first->bucket > (uint64_t)INT64_MAX / SH__AE_BUCKET_MS)
            round_end(ae, NULL); /* in sync, or the peer lacks ours: it fetches them itself */
        else if (level == 0)
            rc = send_digest(ae, SH__AE_BUCKET_MS, 0, 0, on_mid);
        else if (level == 1)
            rc = send_digest(ae, SH__AE_FINE_MS, (int64_t)first->bucket * SH__AE_BUCKET_MS,
                             (int64_t)(first->bucket + 1) * SH__AE_BUCKET_MS, on_fine);
        else
            rc = fetch_cells(ae, d);
    }
    if (rc != SH_OK)
        round_end(ae, sh_err_msg());
    sh_wire_free(d);
}

static void on_coarse(int status, const char *message, const uint8_t *body, size_t len, void *ctx)
{
    on_digest_answer(status, message, body, len, ctx, 0);
}

static void on_mid(int status, const char *message, const uint8_t *body, size_t len, void *ctx)
{
    on_digest_answer(status, message, body, len, ctx, 1);
}

static void on_fine(int status, const char *message, const uint8_t *body, size_t len, void *ctx)
{
    on_digest_answer(status, message, body, len, ctx, 2);
}

typedef struct digest_out {
    entries es; /* first: list_work's ctx */
    sh__node_ae *ae;
    sh_net_call_cb cb;
} digest_out;

static void digest_listed(void *ctx, int status, const char *error)
{
    digest_out *dout = ctx;
    sh__node_ae *ae = dout->ae;
    Shoal__Swarm__DigestRequest m = SHOAL__SWARM__DIGEST_REQUEST__INIT;
    Shoal__Swarm__Cell *pb = NULL, **ptrs = NULL;
    cell *c = NULL;
    size_t n = 0;
    int rc = status;

    if (status == SH_ERR_CANCELLED) { /* the node is stopping: ae may be gone */
        free(dout->es.v);
        free(dout);
        return;
    }
    if (rc == SH_OK && (rc = make_cells(&dout->es, &c, &n)) == SH_OK &&
        ((pb = calloc(n + 1, sizeof *pb)) == NULL || (ptrs = calloc(n + 1, sizeof *ptrs)) == NULL))
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory");
    if (rc == SH_OK) {
        n = n < AE_MAX_CELLS ? n : AE_MAX_CELLS;
        cells_to_pb(c, n, pb, ptrs);
        m.range_end = UINT64_MAX;
        m.bucket_ms = (uint64_t)dout->es.bucket_ms;
        m.since_ms = (uint64_t)dout->es.since_ms;
        m.until_ms = (uint64_t)dout->es.until_ms;
        m.n_cells = n;
        m.cells = ptrs;
        rc = call_peer(ae, "swarm.digest", &m.base, dout->cb);
    }
    if (rc != SH_OK)
        round_end(ae, status != SH_OK ? error : sh_err_msg());
    free(dout->es.v);
    free(dout);
    free(c);
    free(pb);
    free(ptrs);
}

/* Lists our cells on the thread pool, then sends them. */
static int send_digest(sh__node_ae *ae, int64_t bucket_ms, int64_t since_ms, int64_t until_ms,
                       sh_net_call_cb cb)
{
    digest_out *dout = calloc(1, sizeof *dout);
    int rc;

    if (dout == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory");
    entries_init(&dout->es, 0, UINT64_MAX, bucket_ms, since_ms, until_ms);
    dout->ae = ae;
    dout->cb = cb;
    if ((rc = sh__node_scan_submit(ae->n, list_work, digest_listed, dout)) != SH_OK)
        free(dout);
    return rc;
}

static void on_ae_timer(uv_timer_t *t)
{
    sh__node_ae *ae = t->data;
    sh__node_swarm *s = ae->n->swarm;

    if (ae->running || s->closing || ae->n->stopping || !s->in_swarm || s->n_peers == 0)
        return;
    memcpy(ae->peer_link, s->peers[ae->next_peer++ % s->n_peers].link_key, 32);
    ae->running = true;
    ae->n->m.ae_rounds++;
    if (send_digest(ae, 0, 0, 0, on_coarse) != SH_OK)
        round_end(ae, sh_err_msg());
}

int sh__node_ae_start(sh_node *n)
{
    sh__node_ae *ae = calloc(1, sizeof *ae);
    int rc;

    if (ae == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory starting anti-entropy");
    ae->n = n;
    n->swarm->ae = ae;
    uv_timer_init(n->loop, &ae->timer);
    ae->timer.data = ae;
    if ((rc = sh_net_register(n->net, "swarm.digest", SH_RPC_NODE, on_digest, n, NULL)) != SH_OK ||
        (rc = sh_net_register(n->net, "swarm.fetch", SH_RPC_NODE, on_fetch, n, NULL)) != SH_OK)
        return rc;
    uv_timer_start(&ae->timer, on_ae_timer, n->cfg.antientropy_ms, n->cfg.antientropy_ms);
    return SH_OK;
}

void sh__node_ae_stop(sh_node *n)
{
    if (n->swarm != NULL && n->swarm->ae != NULL)
        uv_timer_stop(&n->swarm->ae->timer);
}

static void ae_closed(uv_handle_t *h)
{
    free(h->data);
}

void sh__node_ae_free(sh_node *n)
{
    sh__node_ae *ae = n->swarm != NULL ? n->swarm->ae : NULL;

    if (ae == NULL)
        return;
    n->swarm->ae = NULL;
    uv_close((uv_handle_t *)&ae->timer, ae_closed);
}
