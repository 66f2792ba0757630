/* The direct transport (client.h "Transport"): calls the nodes named in the network file over
 * Noise links with the node module's direct client, each call run to completion on a private
 * libuv loop. An owner is served by the node at sh_swarm_space_position(owner key) mod n, so
 * every client of the same file picks the same node for an account. That node is all the
 * storage an account has here: nodes named in a network file run without a directory, so they
 * are in no swarm and replicate nothing. A store is therefore "stored on 1 of 1" when the node
 * committed it (stored, or already held) and "0 of 1" when it did not (a tombstone, a newer
 * message in a single slot). The node's receipt is not checked (the direct client does not hand
 * it over, and the file names no swarm to count it against); there is no `receipts` callback,
 * so k never changes later. Swarms, receipts and k of n are the onion transport's (onion.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "client/client.h"
#include "net/net.h"
#include "util/err.h"
#include "util/time.h"

typedef struct direct {
    uv_loop_t loop;
    sh_net *net;
    sh_client_network network;
    sh_node_conn *conns[SH_CLIENT_MAX_NODES];
    uint32_t deadline_ms;
    int64_t last_store_ms; /* stores get strictly increasing timestamps: order per sender */
} direct;

typedef struct waiter {
    bool done;
    int status;
    char message[SH_RPC_MAX_ERROR_MESSAGE_BYTES + 1];
    sh_node_stored stored;
    sh_node_page page;
} waiter;

static size_t node_of(const direct *d, const uint8_t owner[static 33])
{
    return (size_t)(sh_swarm_space_position(owner + 1) % d->network.n_nodes);
}

static int conn_of(direct *d, const uint8_t owner[static 33], sh_node_conn **out)
{
    size_t i = node_of(d, owner);
    const sh_client_node_addr *a = &d->network.nodes[i];
    int rc;

    if (d->conns[i] == NULL) {
        rc = sh_node_conn_new(d->net, a->ip, a->port, a->link_key, NULL, &d->conns[i]);
        if (rc != SH_OK)
            return rc;
        sh_node_conn_set_deadline(d->conns[i], d->deadline_ms);
    }
    *out = d->conns[i];
    return SH_OK;
}

static void note(waiter *w, int status, const char *message)
{
    w->done = true;
    w->status = status;
    snprintf(w->message, sizeof w->message, "%s", message != NULL ? message : "");
}

static int wait_for(direct *d, waiter *w, int rc, const uint8_t owner[static 33])
{
    const sh_client_node_addr *a = &d->network.nodes[node_of(d, owner)];

    if (rc != SH_OK)
        return rc;
    while (!w->done)
        uv_run(&d->loop, UV_RUN_ONCE);
    if (w->status == SH_ERR_UNAVAILABLE || w->status == SH_ERR_TIMEOUT ||
        w->status == SH_ERR_CANCELLED)
        return sh_err_set(SH_ERR_UNAVAILABLE, "the node at %s:%u cannot be reached (%s)", a->ip,
                          a->port, w->message[0] ? w->message : sh_err_name(w->status));
    if (w->status != SH_OK)
        return sh_err_set(w->status, "the node at %s:%u refused: %s", a->ip, a->port, w->message);
    return SH_OK;
}

/* A call that failed at once on a link that died since the last call (a node restarted) is sent
 * once more on a new link; stores and retrieves are idempotent. One that waited out its
 * deadline is not: the node is down. */
static bool retry_worth(const direct *d, int rc, int64_t start)
{
    return rc == SH_ERR_UNAVAILABLE && sh_time_mono_ms() - start < d->deadline_ms / 2;
}

static void stored_cb(int status, const char *message, const sh_node_stored *r, void *ctx)
{
    waiter *w = ctx;

    note(w, status, message);
    if (r != NULL)
        w->stored = *r;
}

static int direct_store(void *ctx, const uint8_t owner[static 33], int16_t ns, const uint8_t *data,
                        size_t len, int64_t ttl_ms, const sh_node_signer *signer,
                        sh_client_receipt *out)
{
    direct *d = ctx;
    sh_node_request r = {.method = SH_NODE_STORE, .ns = ns, .data = data, .data_len = len,
                         .ttl_ms = ttl_ms};
    sh_node_conn *c;
    waiter w = {0};
    int64_t start;
    int rc = conn_of(d, owner, &c);

    if (rc != SH_OK)
        return rc;
    while (sh_node_clock_now(sh_node_conn_clock(c)) <= d->last_store_ms)
        uv_sleep(1);
    d->last_store_ms = sh_node_clock_now(sh_node_conn_clock(c));
    memcpy(r.owner, owner, 33);
    start = sh_time_mono_ms();
    rc = wait_for(d, &w, sh_node_conn_store(c, &r, signer, stored_cb, &w), owner);
    if (retry_worth(d, rc, start)) {
        memset(&w, 0, sizeof w);
        rc = wait_for(d, &w, sh_node_conn_store(c, &r, signer, stored_cb, &w), owner);
    }
    if (rc != SH_OK)
        return rc;
    memcpy(out->hash, w.stored.hash, sizeof out->hash);
    out->outcome = w.stored.outcome;
    out->expiry_ms = w.stored.expiry_ms;
    out->stored_k = w.stored.outcome == SH_STORE_STORED || w.stored.outcome == SH_STORE_DUPLICATE;
    out->stored_n = 1;
    return SH_OK;
}

static void page_cb(int status, const char *message, sh_node_page *page, void *ctx)
{
    waiter *w = ctx;

    note(w, status, message);
    if (status == SH_OK && page != NULL) {
        w->page = *page; /* taken over: the callee frees an empty page */
        memset(page, 0, sizeof *page);
    }
}

static int direct_retrieve(void *ctx, const uint8_t owner[static 33], int16_t ns,
                           const sh_store_cursor *after, bool lookback, uint32_t wait_ms,
                           const sh_node_signer *signer, sh_node_page *out)
{
    direct *d = ctx;
    sh_node_request r = {.method = SH_NODE_RETRIEVE, .ns = ns, .lookback = after && lookback,
                         .max_count = SH_STORE_PAGE_MAX_COUNT,
                         .max_bytes = SH_STORE_PAGE_MAX_BYTES, .wait_ms = wait_ms};
    sh_node_conn *c;
    waiter w = {0};
    int64_t start;
    int rc = conn_of(d, owner, &c);

    if (rc != SH_OK)
        return rc;
    memcpy(r.owner, owner, 33);
    if (after != NULL)
        r.after = *after;
    start = sh_time_mono_ms();
    rc = wait_for(d, &w, sh_node_conn_retrieve(c, &r, signer, page_cb, &w), owner);
    if (retry_worth(d, rc, start)) {
        sh_node_page_free(&w.page);
        memset(&w, 0, sizeof w);
        rc = wait_for(d, &w, sh_node_conn_retrieve(c, &r, signer, page_cb, &w), owner);
    }
    if (rc != SH_OK) {
        sh_node_page_free(&w.page);
        return rc;
    }
    *out = w.page;
    return SH_OK;
}

static void changed_cb(int status, const char *message, const sh_node_changed *r, void *ctx)
{
    (void)r;
    note(ctx, status, message);
}

static int direct_remove(void *ctx, const uint8_t owner[static 33], int16_t ns,
                         const uint8_t (*hashes)[SH_STORE_HASH_BYTES], size_t n,
                         const sh_node_signer *signer)
{
    direct *d = ctx;
    sh_node_request r = {.method = SH_NODE_DELETE, .ns = ns, .hashes = hashes, .n_hashes = n};
    sh_node_conn *c;
    waiter w = {0};
    int rc = conn_of(d, owner, &c);

    if (rc != SH_OK)
        return rc;
    memcpy(r.owner, owner, 33);
    return wait_for(d, &w, sh_node_conn_change(c, &r, signer, changed_cb, &w), owner);
}

static int direct_describe(void *ctx, const uint8_t owner[static 33], char *out, size_t out_size)
{
    direct *d = ctx;
    size_t i = node_of(d, owner);
    const sh_client_node_addr *a = &d->network.nodes[i];

    snprintf(out, out_size, "direct to node %zu of %zu at %s:%u (no onion path: direct transport)",
             i + 1, d->network.n_nodes, a->ip, a->port);
    return SH_OK;
}

static void direct_close(void *ctx)
{
    direct *d = ctx;

    for (size_t i = 0; i < d->network.n_nodes; i++)
        sh_node_conn_free(d->conns[i]);
    sh_net_close(d->net, NULL, NULL);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&d->loop);
    free(d);
}

int sh_client_direct_new(const sh_client_network *net, uint32_t deadline_ms,
                         sh_client_transport *out)
{
    direct *d = calloc(1, sizeof *d);
    int rc;

    if (d == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the transport");
    if (net->n_nodes == 0) {
        free(d);
        return sh_err_set(SH_ERR_INVALID, "the network names no node");
    }
    d->network = *net;
    d->deadline_ms = deadline_ms;
    if (uv_loop_init(&d->loop) != 0) {
        free(d);
        return sh_err_set(SH_ERR_NOMEM, "cannot start an event loop");
    }
    rc = sh_net_new(&d->loop, NULL, &d->net);
    if (rc != SH_OK) {
        (void)uv_loop_close(&d->loop);
        free(d);
        return rc;
    }
    *out = (sh_client_transport){.ctx = d, .store = direct_store, .retrieve = direct_retrieve,
                                 .remove = direct_remove, .describe = direct_describe,
                                 .close = direct_close};
    return SH_OK;
}
