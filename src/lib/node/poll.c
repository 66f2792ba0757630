/* Long-polls (docs/node.md "retrieve"): a retrieve that finds nothing new waits until a store of
 * its (owner, namespace) commits, its time is up, or its link dies. Waiters hang in a fixed table
 * of buckets keyed by SipHash of owner ‖ namespace under a random key; each has a uv timer.
 *
 * A waiter lives from sh__node_wait until exactly one of: a store wakes it and its query finds
 * something (answered with the page), its timer fires (answered with an empty page), its link
 * dies (the cancel callback; the answer is dropped), or the node stops (answered with what it
 * has). Each path unlinks it and closes its timer; the memory goes in the timer's close callback. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "node/internal.h"
#include "util/err.h"

struct sh__node_waiter {
    sh_node *n;
    sh_net_req *req;
    sh_store_query q;
    size_t bucket;
    bool ended; /* unlinked; its memory lasts until the timer closes, so walks may step on */
    sh__node_waiter *prev, *next;
    uv_timer_t timer;
};

void sh__node_waiters_init(sh__node_waiters *w)
{
    memset(w, 0, sizeof *w);
    randombytes_buf(w->key, sizeof w->key);
}

static size_t bucket_of(const sh__node_waiters *w, const uint8_t owner[static SH_STORE_OWNER_BYTES],
                        int16_t ns)
{
    uint8_t in[SH_STORE_OWNER_BYTES + 2], h[crypto_shorthash_BYTES];

    memcpy(in, owner, SH_STORE_OWNER_BYTES);
    in[SH_STORE_OWNER_BYTES] = (uint8_t)((uint16_t)ns >> 8);
    in[SH_STORE_OWNER_BYTES + 1] = (uint8_t)ns;
    crypto_shorthash(h, in, sizeof in, w->key);
    return sh_load_u64le(h) % SH__NODE_WAIT_BUCKETS;
}

static void waiter_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Unlinks the waiter and closes its timer; the caller answers (or has answered) its request. */
static void waiter_end(sh__node_waiter *wt)
{
    sh__node_waiters *w = &wt->n->waiters;

    wt->ended = true;
    if (wt->prev != NULL)
        wt->prev->next = wt->next;
    else
        w->buckets[wt->bucket] = wt->next;
    if (wt->next != NULL)
        wt->next->prev = wt->prev;
    w->count--;
    uv_timer_stop(&wt->timer);
    uv_close((uv_handle_t *)&wt->timer, waiter_closed);
}

static void on_wait_timeout(uv_timer_t *t)
{
    sh__node_waiter *wt = t->data;

    wt->n->m.polls_timed_out++;
    waiter_end(wt);
    (void)sh__node_answer_page(wt->n, wt->req, &wt->q, true);
}

static void on_wait_cancel(sh_net_req *req, void *ctx)
{
    sh__node_waiter *wt = ctx;

    wt->n->m.polls_cancelled++;
    (void)sh_net_respond(req, SH_ERR_CANCELLED, NULL, 0, NULL); /* frees the request */
    waiter_end(wt);
}

int sh__node_wait(sh_node *n, sh_net_req *req, const sh_store_query *q, uint32_t wait_ms)
{
    sh__node_waiters *w = &n->waiters;
    sh__node_waiter *wt;

    if (w->count >= SH_NODE_MAX_WAITERS)
        return sh_err_set(SH_ERR_BUSY, "%u long-polls are waiting already", SH_NODE_MAX_WAITERS);
    if ((wt = calloc(1, sizeof *wt)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a long-poll");
    wt->n = n;
    wt->req = req;
    wt->q = *q;
    wt->bucket = bucket_of(w, q->owner, q->ns);
    wt->next = w->buckets[wt->bucket];
    if (wt->next != NULL)
        wt->next->prev = wt;
    w->buckets[wt->bucket] = wt;
    w->count++;
    uv_timer_init(n->loop, &wt->timer);
    wt->timer.data = wt;
    uv_timer_start(&wt->timer, on_wait_timeout, wait_ms, 0);
    sh_net_req_on_cancel(req, on_wait_cancel, wt);
    n->m.polls_waited++;
    return SH_OK;
}

void sh__node_wake(sh_node *n, const uint8_t owner[static SH_STORE_OWNER_BYTES], int16_t ns)
{
    sh__node_waiters *w = &n->waiters;
    sh__node_waiter *wt, *next;

    if (w->count == 0)
        return;
    for (wt = w->buckets[bucket_of(w, owner, ns)]; wt != NULL; wt = next) {
        next = wt->next;
        if (wt->ended || wt->q.ns != ns ||
            memcmp(wt->q.owner, owner, SH_STORE_OWNER_BYTES) != 0)
            continue;
        /* Answering may close a link and cancel other waiters of this chain: they are marked
         * ended and skipped. */
        if (sh__node_answer_page(n, wt->req, &wt->q, false)) {
            n->m.polls_woken++;
            waiter_end(wt);
        }
    }
}

void sh__node_wake_all(sh_node *n)
{
    sh__node_waiters *w = &n->waiters;

    for (size_t b = 0; b < SH__NODE_WAIT_BUCKETS && w->count != 0; b++)
        while (w->buckets[b] != NULL) {
            sh__node_waiter *wt = w->buckets[b];
            waiter_end(wt);
            (void)sh__node_answer_page(n, wt->req, &wt->q, true);
        }
}
