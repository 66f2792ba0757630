/* Handover (docs/swarm.md "Handover"; overview.md "Swarms"): when a new map moves owners out of
 * our swarm, a scan (scan.c, on the thread pool) lists their entries and each is pushed
 * (push.c) to every member of the owner's new swarm, which accepts them as its own. A member
 * that does not confirm every entry (a receipt for each message, no refusal for a request),
 * because it is down, unreachable or does not know the new map yet, gets its entries again
 * with backoff (1 s doubling to 30 s, at most HO_MAX_ATTEMPTS times) until it confirms. A newer
 * change of the swarms starts over. */
#include <stdlib.h>
#include <string.h>

#include "node/join.h"
#include "util/err.h"
#include "util/time.h"
#include "wire/pb.h"

#define HO_CALL_MS 5000u
#define HO_FIRST_RETRY_MS 1000
#define HO_MAX_RETRY_MS 30000
#define HO_MAX_ATTEMPTS 40
#define HO_MAX_TARGETS SH__NODE_MAX_PEERS

typedef struct ho_target {
    uint8_t identity[32], link_key[32];
    char address[SH_DIR_ADDRESS_MAX + 1];
    uint64_t swarm_id;
    unsigned attempt, outstanding;
    bool failed, waiting, scanning;
    int64_t due_ms; /* of the next attempt (waiting) */
} ho_target;

struct sh__node_ho {
    sh_node *n;
    uv_timer_t timer;
    uint64_t gen;
    ho_target t[HO_MAX_TARGETS];
    size_t n_t;
    bool closed;
};

/* ---- The scan (pool thread) ------------------------------------------------------------------ */

typedef struct ho_item {
    uint64_t swarm_id;
    Shoal__Swarm__Item it; /* points into mem */
    uint8_t mem[];
} ho_item;

typedef struct ho_scan {
    sh__node_ho *ho;
    uint64_t gen;
    int only;             /* a target index, or -1 for all */
    uint64_t only_swarm;
    ho_item **v;
    size_t n, cap;
} ho_scan;

static ho_item *item_of(const sh_store_entry *e, const char *method, uint64_t swarm_id)
{
    size_t mlen = strlen(method);
    ho_item *h = malloc(sizeof *h + SH_STORE_OWNER_BYTES + e->data_len + e->slot_len + mlen + 1);
    uint8_t *p;

    if (h == NULL)
        return NULL;
    p = h->mem;
    h->swarm_id = swarm_id;
    shoal__swarm__item__init(&h->it);
    memcpy(p, e->owner, SH_STORE_OWNER_BYTES);
    h->it.owner = sh_wire_bin(p, SH_STORE_OWNER_BYTES);
    p += SH_STORE_OWNER_BYTES;
    h->it.namespace_ = e->ns;
    h->it.timestamp_ms = (uint64_t)e->timestamp_ms;
    if (e->data_len)
        memcpy(p, e->data, e->data_len);
    if (e->is_request) {
        h->it.request = sh_wire_bin(p, e->data_len);
    } else {
        h->it.expiry_ms = (uint64_t)e->expiry_ms;
        h->it.data = sh_wire_bin(p, e->data_len);
        if (e->slot_len) {
            memcpy(p + e->data_len, e->slot, e->slot_len);
            h->it.slot = sh_wire_bin(p + e->data_len, e->slot_len);
        }
    }
    p += e->data_len + e->slot_len;
    memcpy(p, method, mlen + 1);
    h->it.method = (char *)p;
    return h;
}

typedef struct ho_walk {
    ho_scan *sc;
    const sh__node_view *view;
} ho_walk;

static int collect_cb(void *ctx, const sh_store_entry *e)
{
    ho_walk *w = ctx;
    ho_scan *sc = w->sc;
    const char *method = e->is_request ? sh__node_request_method(e->data, e->data_len) : "";
    uint64_t id;

    if (method == NULL || sh__node_view_owns(w->view, e->owner) ||
        !sh__node_view_owner_swarm(w->view, e->owner, &id) ||
        (sc->only >= 0 && id != sc->only_swarm))
        return SH_OK;
    if (sc->n == sc->cap) {
        size_t cap = sc->cap ? 2 * sc->cap : 64;
        ho_item **v = realloc(sc->v, cap * sizeof *v);
        if (v == NULL)
            return sh_err_set(SH_ERR_NOMEM, "out of memory listing entries to hand over");
        sc->v = v;
        sc->cap = cap;
    }
    if ((sc->v[sc->n] = item_of(e, method, id)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory listing entries to hand over");
    sc->n++;
    return SH_OK;
}

static int ho_work(sh_store *store, const sh__node_view *view, void *ctx)
{
    ho_walk w = {.sc = ctx, .view = view};

    if (!view->in_swarm)
        return SH_OK; /* we do not know which owners are ours */
    return sh_store_scan(store, true, collect_cb, &w);
}

static void scan_free(ho_scan *sc)
{
    for (size_t i = 0; i < sc->n; i++)
        free(sc->v[i]);
    free(sc->v);
    free(sc);
}

/* ---- Pushing and confirming (loop) ------------------------------------------------------------ */

static void schedule(sh__node_ho *ho);

typedef struct ho_push {
    sh__node_ho *ho;
    uint64_t gen;
    size_t idx;
} ho_push;

static void settle(sh__node_ho *ho, ho_target *t)
{
    int64_t wait;

    if (t->outstanding != 0 || t->scanning)
        return;
    if (!t->failed) {
        if (t->attempt > 0 || t->waiting)
            sh_log_info(SH_NODE_LOG_AREA, "handover to %s confirmed after %u retries",
                        t->address, t->attempt);
        ho->n->m.handover_confirmed++;
        t->waiting = false;
        return;
    }
    t->failed = false;
    if (++t->attempt > HO_MAX_ATTEMPTS) {
        sh_log_warn(SH_NODE_LOG_AREA, "handover to %s given up after %u attempts (anti-entropy "
                    "inside its swarm remains)", t->address, HO_MAX_ATTEMPTS);
        t->waiting = false;
        return;
    }
    wait = t->attempt >= 6 ? HO_MAX_RETRY_MS : HO_FIRST_RETRY_MS << (t->attempt - 1);
    wait = wait > HO_MAX_RETRY_MS ? HO_MAX_RETRY_MS : wait;
    t->waiting = true;
    t->due_ms = sh_time_mono_ms() + wait;
    sh_log_debug(SH_NODE_LOG_AREA, "handover to %s not confirmed: again in %lld ms", t->address,
                 (long long)wait);
    schedule(ho);
}

static void on_pushed(void *ctx, int status, const sh_node_receipt *receipt)
{
    ho_push *p = ctx;
    sh__node_ho *ho = p->ho;

    (void)receipt;
    if (!ho->closed && p->gen == ho->gen && p->idx < ho->n_t) {
        ho_target *t = &ho->t[p->idx];
        t->outstanding--;
        if (status != SH_OK)
            t->failed = true;
        settle(ho, t);
    }
    free(p);
}

static ho_target *target_for(sh__node_ho *ho, const sh_dir_node *m, uint64_t swarm_id)
{
    ho_target *t;

    for (size_t i = 0; i < ho->n_t; i++)
        if (memcmp(ho->t[i].identity, m->identity, 32) == 0)
            return &ho->t[i];
    if (ho->n_t == HO_MAX_TARGETS)
        return NULL;
    t = &ho->t[ho->n_t++];
    *t = (ho_target){.swarm_id = swarm_id};
    memcpy(t->identity, m->identity, 32);
    memcpy(t->link_key, m->link_key, 32);
    memcpy(t->address, m->address, sizeof t->address);
    return t;
}

static void push_to(sh__node_ho *ho, ho_target *t, const Shoal__Swarm__Item *it)
{
    sh_dir_node m;
    sh_net_peer *peer;
    ho_push *p;

    memset(&m, 0, sizeof m);
    memcpy(m.identity, t->identity, 32);
    memcpy(m.link_key, t->link_key, 32);
    memcpy(m.address, t->address, sizeof m.address);
    if ((peer = sh__node_other_peer(ho->n, &m)) == NULL || (p = malloc(sizeof *p)) == NULL) {
        t->failed = true;
        return;
    }
    *p = (ho_push){ho, ho->gen, (size_t)(t - ho->t)};
    if (sh__node_push(ho->n, peer, it, HO_CALL_MS, on_pushed, p) != SH_OK) {
        free(p);
        t->failed = true;
        return;
    }
    t->outstanding++;
    ho->n->m.handed_over++;
}

/* All scanned entries to every member of their new swarm (or to the one target retried). */
static void push_all(sh__node_ho *ho, ho_scan *sc)
{
    const sh_dir_map *map = sh__node_map(ho->n);

    for (size_t i = 0; i < sc->n && map != NULL; i++) {
        const sh_dir_node *members[SH__NODE_MAX_PEERS];
        size_t count = 0;
        if (sh_dir_map_swarm_members(map, sc->v[i]->swarm_id, members, SH__NODE_MAX_PEERS,
                                     &count) != SH_OK)
            continue;
        for (size_t k = 0; k < count && k < SH__NODE_MAX_PEERS; k++) {
            ho_target *t;
            if (memcmp(members[k]->identity, ho->n->identity_pk, 32) == 0 ||
                (t = target_for(ho, members[k], sc->v[i]->swarm_id)) == NULL)
                continue;
            if (sc->only < 0 || t == &ho->t[sc->only])
                push_to(ho, t, &sc->v[i]->it);
        }
    }
}

static void scanned(void *ctx, int status, const char *error)
{
    ho_scan *sc = ctx;
    sh__node_ho *ho = sc->ho;

    if (status == SH_ERR_CANCELLED || ho->closed || sc->gen != ho->gen) {
        scan_free(sc); /* stopping (ho may be gone), or a newer handover started */
        return;
    }
    if (sc->only >= 0)
        ho->t[sc->only].scanning = false;
    if (status != SH_OK) {
        sh_log_warn(SH_NODE_LOG_AREA, "handover scan failed: %s", error);
        for (size_t i = 0; i < ho->n_t; i++)
            if (sc->only < 0 || (size_t)sc->only == i)
                ho->t[i].failed = true;
    } else {
        push_all(ho, sc);
        if (sc->n != 0)
            sh_log_info(SH_NODE_LOG_AREA, "handover: %zu entries of owners that moved, pushed to "
                        "their new swarms%s", sc->n, sc->only >= 0 ? " (again)" : "");
    }
    for (size_t i = 0; i < ho->n_t; i++)
        if (sc->only < 0 || (size_t)sc->only == i)
            settle(ho, &ho->t[i]);
    scan_free(sc);
}

static int start_scan(sh__node_ho *ho, int only)
{
    ho_scan *sc = calloc(1, sizeof *sc);
    int rc;

    if (sc == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory starting a handover");
    *sc = (ho_scan){.ho = ho, .gen = ho->gen, .only = only,
                    .only_swarm = only >= 0 ? ho->t[only].swarm_id : 0};
    if ((rc = sh__node_scan_submit(ho->n, ho_work, scanned, sc)) != SH_OK)
        free(sc);
    else if (only >= 0)
        ho->t[only].scanning = true;
    return rc;
}

/* ---- Retries ------------------------------------------------------------------------------------ */

static void on_timer(uv_timer_t *timer)
{
    sh__node_ho *ho = timer->data;
    int64_t now = sh_time_mono_ms();

    for (size_t i = 0; i < ho->n_t && !ho->closed; i++) {
        ho_target *t = &ho->t[i];
        if (!t->waiting || t->scanning || t->outstanding != 0 || t->due_ms > now)
            continue;
        ho->n->m.handover_retries++;
        if (start_scan(ho, (int)i) != SH_OK) {
            t->failed = true;
            settle(ho, t);
        }
    }
    schedule(ho);
}

static void schedule(sh__node_ho *ho)
{
    int64_t next = INT64_MAX, now = sh_time_mono_ms();

    for (size_t i = 0; i < ho->n_t; i++)
        if (ho->t[i].waiting && !ho->t[i].scanning && ho->t[i].outstanding == 0 &&
            ho->t[i].due_ms < next)
            next = ho->t[i].due_ms;
    if (ho->closed || next == INT64_MAX)
        return;
    uv_timer_start(&ho->timer, on_timer, (uint64_t)(next > now ? next - now : 0), 0);
}

void sh__node_handover(sh_node *n)
{
    sh__node_ho *ho = n->swarm != NULL ? n->swarm->ho : NULL;

    if (ho == NULL || ho->closed || n->stopping || !n->swarm->in_swarm)
        return;
    ho->gen++;
    ho->n_t = 0;
    uv_timer_stop(&ho->timer);
    if (start_scan(ho, -1) != SH_OK)
        sh_log_warn(SH_NODE_LOG_AREA, "handover not started: %s", sh_err_msg());
}

int sh__node_handover_start(sh_node *n)
{
    sh__node_ho *ho = calloc(1, sizeof *ho);

    if (ho == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory starting handover");
    ho->n = n;
    uv_timer_init(n->loop, &ho->timer);
    ho->timer.data = ho;
    n->swarm->ho = ho;
    return SH_OK;
}

void sh__node_handover_stop(sh_node *n)
{
    sh__node_ho *ho = n->swarm != NULL ? n->swarm->ho : NULL;

    if (ho == NULL)
        return;
    ho->closed = true;
    uv_timer_stop(&ho->timer);
}

static void ho_closed(uv_handle_t *h)
{
    free(h->data);
}

void sh__node_handover_free(sh_node *n)
{
    sh__node_ho *ho = n->swarm != NULL ? n->swarm->ho : NULL;

    if (ho == NULL)
        return;
    sh__node_handover_stop(n);
    n->swarm->ho = NULL;
    uv_close((uv_handle_t *)&ho->timer, ho_closed);
}
