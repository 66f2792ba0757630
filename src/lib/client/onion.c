/* The onion transport (client.h "Transport"; docs/onion.md "The caller"): every storage call
 * travels a 3-hop onion path (guard, middle, a node of the owner's swarm) built by the onion
 * module's caller from the nodes of a verified map. The destination is a node of the owner's
 * swarm (sh_swarm_nearest over the map's swarm ids); until nodes replicate, the member with the
 * smallest identity, so every client picks the same one. Requests are built and signed here,
 * afresh for each attempt (a destination refuses a signed request it already ran), with the
 * time corrected from the node times in answers and the proof of work the node asked for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "client/client.h"
#include "dir/client.h"
#include "dir/dir.h"
#include "node/node.h"
#include "util/err.h"
#include "util/time.h"

#define ONION_ATTEMPTS 3
#define ONION_POLL_MARGIN_MS 3000u /* a long-poll ends this long before the hops' deadline */
/* A page's data bytes, so that the whole answer (per message at most ~96 bytes of hash, times
 * and framing) fits in the largest onion reply; a full page of the store's own cap does not. */
#define ONION_PAGE_MAX_BYTES (128u * 1024)
_Static_assert(ONION_PAGE_MAX_BYTES + SH_STORE_PAGE_MAX_COUNT * 96u + 1024u <=
                   SH_ONION_MESSAGE_MAX_BYTES, "an onion retrieve page fits in one reply");

typedef struct onion_tp {
    uv_loop_t loop;
    sh_net *net;
    sh_onion_caller *caller;
    sh_onion_caller_config cfg;
    sh_onion_node *nodes;
    size_t n_nodes;
    uint32_t hop_timeout_ms;
    sh_node_clock clock;
    uint32_t pow_bits;
    const uint8_t *calling_owner;  /* the owner of the request in flight */
    struct {
        uint8_t owner[33];
        char text[200];
    } paths[4];                    /* the last path that answered, for recent owners */
    unsigned next_path;
    sh_onion_attempt_cb user_attempt_cb;
    void *user_attempt_ctx;
} onion_tp;

typedef struct answer {
    bool done;
    int status;
    char message[512];
    sh_buf body;
} answer;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int dest_of(const onion_tp *t, const uint8_t owner[static 33], const uint8_t **id)
{
    uint64_t *ids = calloc(t->n_nodes + 1, sizeof *ids), swarm;
    size_t n = 0;
    int rc;

    if (ids == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < t->n_nodes; i++)
        if (t->nodes[i].cand.in_swarm)
            ids[n++] = t->nodes[i].cand.swarm_id;
    qsort(ids, n, sizeof *ids, cmp_u64);
    rc = n == 0 ? sh_err_set(SH_ERR_UNAVAILABLE, "the map has no swarms yet")
                : sh_swarm_nearest(sh_swarm_space_position(owner + 1), ids, n, &swarm);
    free(ids);
    *id = NULL;
    for (size_t i = 0; rc == SH_OK && i < t->n_nodes; i++)
        if (t->nodes[i].cand.in_swarm && t->nodes[i].cand.swarm_id == swarm &&
            (*id == NULL || memcmp(t->nodes[i].cand.id, *id, SH_ONION_ID_BYTES) < 0))
            *id = t->nodes[i].cand.id;
    return rc == SH_OK && *id == NULL ? sh_err_set(SH_ERR_UNAVAILABLE, "the swarm is empty") : rc;
}

static void answer_cb(int status, const char *message, const uint8_t *body, size_t len, void *ctx)
{
    answer *a = ctx;

    a->done = true;
    a->status = status;
    snprintf(a->message, sizeof a->message, "%s", message != NULL ? message : "");
    if (len > 0 && sh_buf_append(&a->body, body, len) != SH_OK)
        a->status = SH_ERR_NOMEM;
}

/* One attempt: time, proof of work, signature, the onion call; learns clock and PoW bits. */
static int attempt(onion_tp *t, const uint8_t *dest, const char *method, sh_node_request *r,
                   const sh_node_signer *signer, answer *a)
{
    int64_t sent, node_time = 0;
    uint32_t bits = 0;
    sh_buf body;
    int rc;

    r->timestamp_ms = sh_node_clock_now(&t->clock);
    t->calling_owner = r->owner;
    if (r->method == SH_NODE_STORE && r->ns == 0) {
        uint8_t h[SH_STORE_HASH_BYTES];
        sh_store_msg_hash(h, r->owner, r->ns, r->data, r->data_len);
        r->pow_nonce = sh_node_pow_solve(r->owner, h, r->timestamp_ms, t->pow_bits);
    }
    sh_buf_init(&body);
    sh_buf_reset(&a->body);
    a->done = false;
    rc = sh_node_request_encode(r, signer, &body);
    sent = sh_time_now_ms();
    if (rc == SH_OK)
        rc = sh_onion_caller_request(t->caller, dest, method, body.data, body.len, answer_cb, a);
    sh_buf_free(&body);
    if (rc != SH_OK)
        return rc;
    while (!a->done)
        uv_run(&t->loop, UV_RUN_ONCE);
    if (a->body.len > 0 &&
        sh_node_answer_time(a->body.data, a->body.len, &node_time, &bits) == SH_OK) {
        if (node_time > 0)
            sh_node_clock_sample(&t->clock, node_time, sent, sh_time_now_ms());
        if (bits > 0 && a->status != SH_OK)
            t->pow_bits = bits;
    }
    return a->status == SH_OK ? SH_OK : sh_err_set(a->status, "%s", a->message);
}

/* When every kept guard is unusable for a destination (in its swarm, or avoided), the caller
 * says so and keeps them; until it replaces such guards itself, a fresh caller (new guards)
 * is made here. */
static int renew_guards(onion_tp *t)
{
    sh_onion_caller *fresh;
    int rc = sh_onion_caller_new(&t->loop, t->net, &t->cfg, t->nodes, t->n_nodes, NULL, &fresh);

    if (rc != SH_OK)
        return rc;
    sh_onion_caller_free(t->caller);
    t->caller = fresh;
    return SH_OK;
}

/* Attempts until one succeeds, or fails with an error a new attempt cannot fix. */
static int call(onion_tp *t, const uint8_t owner[static 33], const char *method,
                sh_node_request *r, const sh_node_signer *signer, answer *a)
{
    const uint8_t *dest;
    int rc = dest_of(t, owner, &dest);

    for (int i = 0; rc == SH_OK && i < ONION_ATTEMPTS; i++) {
        if ((rc = attempt(t, dest, method, r, signer, a)) == SH_OK)
            break;
        if (rc == SH_ERR_UNAVAILABLE && strstr(sh_err_msg(), "no usable guard") != NULL &&
            renew_guards(t) != SH_OK)
            break;
        if (rc != SH_ERR_STALE && rc != SH_ERR_PERMISSION && rc != SH_ERR_REPLAY &&
            rc != SH_ERR_UNAVAILABLE && rc != SH_ERR_TIMEOUT)
            break;
        if (rc == SH_ERR_PERMISSION && r->ns != 0) /* only proof of work is worth a retry */
            break;
        if (i + 1 < ONION_ATTEMPTS)
            rc = SH_OK;
    }
    if (rc == SH_ERR_TIMEOUT || rc == SH_ERR_CANCELLED)
        rc = sh_err_wrap(SH_ERR_UNAVAILABLE, "through onion paths");
    return rc;
}

static int onion_store(void *ctx, const uint8_t owner[static 33], int16_t ns, const uint8_t *data,
                       size_t len, int64_t ttl_ms, const sh_node_signer *signer,
                       sh_client_receipt *out)
{
    onion_tp *t = ctx;
    sh_node_request r = {.method = SH_NODE_STORE, .ns = ns, .data = data, .data_len = len,
                         .ttl_ms = ttl_ms};
    sh_node_stored st;
    answer a = {0};
    int rc;

    memcpy(r.owner, owner, 33);
    sh_buf_init(&a.body);
    rc = call(t, owner, "store", &r, signer, &a);
    if (rc == SH_OK)
        rc = sh_node_stored_parse(a.body.data, a.body.len, &st);
    if (rc == SH_OK) {
        memcpy(out->hash, st.hash, sizeof out->hash);
        out->outcome = st.outcome;
        out->expiry_ms = st.expiry_ms;
        out->stored_k = out->stored_n = 1;
    }
    sh_buf_free(&a.body);
    return rc;
}

static int onion_retrieve(void *ctx, const uint8_t owner[static 33], int16_t ns,
                          const sh_store_cursor *after, bool lookback, uint32_t wait_ms,
                          const sh_node_signer *signer, sh_node_page *out)
{
    onion_tp *t = ctx;
    uint32_t max_wait = t->hop_timeout_ms > ONION_POLL_MARGIN_MS
                            ? t->hop_timeout_ms - ONION_POLL_MARGIN_MS : 0;
    sh_node_request r = {.method = SH_NODE_RETRIEVE, .ns = ns, .lookback = after && lookback,
                         .max_count = SH_STORE_PAGE_MAX_COUNT,
                         .max_bytes = ONION_PAGE_MAX_BYTES,
                         .wait_ms = wait_ms < max_wait ? wait_ms : max_wait};
    answer a = {0};
    int rc;

    memcpy(r.owner, owner, 33);
    if (after != NULL)
        r.after = *after;
    sh_buf_init(&a.body);
    rc = call(t, owner, "retrieve", &r, signer, &a);
    if (rc == SH_OK)
        rc = sh_node_page_parse(a.body.data, a.body.len, owner, ns, out);
    sh_buf_free(&a.body);
    return rc;
}

static int onion_remove(void *ctx, const uint8_t owner[static 33], int16_t ns,
                        const uint8_t (*hashes)[SH_STORE_HASH_BYTES], size_t n,
                        const sh_node_signer *signer)
{
    onion_tp *t = ctx;
    sh_node_request r = {.method = SH_NODE_DELETE, .ns = ns, .hashes = hashes, .n_hashes = n};
    answer a = {0};
    int rc;

    memcpy(r.owner, owner, 33);
    sh_buf_init(&a.body);
    rc = call(t, owner, "delete", &r, signer, &a);
    sh_buf_free(&a.body);
    return rc;
}

/* Notes the path of each answered attempt under its owner (shown by `shoal send`/`listen`). */
static void note_path_cb(const sh_onion_attempt *a, void *ctx)
{
    onion_tp *t = ctx;
    unsigned slot = t->next_path;

    if (t->user_attempt_cb != NULL)
        t->user_attempt_cb(a, t->user_attempt_ctx);
    if (a->started || a->status != SH_OK || t->calling_owner == NULL)
        return;
    for (unsigned i = 0; i < 4; i++)
        if (memcmp(t->paths[i].owner, t->calling_owner, 33) == 0)
            slot = i;
    if (slot == t->next_path)
        t->next_path = (t->next_path + 1) % 4;
    memcpy(t->paths[slot].owner, t->calling_owner, 33);
    snprintf(t->paths[slot].text, sizeof t->paths[slot].text,
             "guard %s:%u -> middle %s:%u -> swarm node %s:%u", a->path[0]->host,
             a->path[0]->port, a->path[1]->host, a->path[1]->port, a->path[2]->host,
             a->path[2]->port);
}

static int onion_describe(void *ctx, const uint8_t owner[static 33], char *out, size_t out_size)
{
    onion_tp *t = ctx;
    const uint8_t *dest;
    int rc = dest_of(t, owner, &dest);

    if (rc != SH_OK)
        return rc;
    snprintf(out, out_size, "onion paths (3 hops) to node %02x%02x%02x%02x of %zu nodes",
             dest[0], dest[1], dest[2], dest[3], t->n_nodes);
    for (unsigned i = 0; i < 4; i++)
        if (t->paths[i].text[0] != '\0' && memcmp(t->paths[i].owner, owner, 33) == 0 &&
            strlen(out) + 1 < out_size)
            snprintf(out + strlen(out), out_size - strlen(out), "; last: %s", t->paths[i].text);
    return SH_OK;
}

static void onion_close(void *ctx)
{
    onion_tp *t = ctx;

    sh_onion_caller_free(t->caller);
    sh_net_close(t->net, NULL, NULL);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&t->loop);
    free(t->nodes);
    free(t);
}

int sh_client_onion_new(const sh_onion_node *nodes, size_t n, const sh_onion_caller_config *cfg,
                        sh_client_transport *out)
{
    onion_tp *t = calloc(1, sizeof *t);
    sh_onion_caller_config c;
    int rc = SH_OK;

    if (t == NULL || (t->nodes = calloc(n + 1, sizeof *t->nodes)) == NULL) {
        free(t);
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the onion transport");
    }
    memcpy(t->nodes, nodes, n * sizeof *nodes);
    t->n_nodes = n;
    t->pow_bits = SH_NODE_DEFAULT_POW_BITS;
    sh_node_clock_init(&t->clock);
    if (cfg != NULL)
        c = *cfg;
    else
        sh_onion_caller_config_default(&c);
    c.max_attempts = 1; /* attempts are made here: each needs a new signature */
    t->user_attempt_cb = c.attempt_cb;
    t->user_attempt_ctx = c.attempt_ctx;
    c.attempt_cb = note_path_cb;
    c.attempt_ctx = t;
    t->hop_timeout_ms = c.hop_timeout_ms;
    t->cfg = c;
    if (uv_loop_init(&t->loop) != 0) {
        free(t->nodes);
        free(t);
        return sh_err_set(SH_ERR_NOMEM, "cannot start an event loop");
    }
    if ((rc = sh_net_new(&t->loop, NULL, &t->net)) == SH_OK &&
        (rc = sh_onion_caller_new(&t->loop, t->net, &c, nodes, n, NULL, &t->caller)) != SH_OK)
        sh_net_close(t->net, NULL, NULL);
    if (rc != SH_OK) {
        uv_run(&t->loop, UV_RUN_DEFAULT);
        (void)uv_loop_close(&t->loop);
        free(t->nodes);
        free(t);
        return rc;
    }
    *out = (sh_client_transport){.ctx = t, .store = onion_store, .retrieve = onion_retrieve,
                                 .remove = onion_remove, .describe = onion_describe,
                                 .close = onion_close};
    return SH_OK;
}

typedef struct map_wait {
    bool done;
    int status;
    char message[256];
} map_wait;

static void map_status_cb(sh_dir_client *c, int status, const char *message, void *ctx)
{
    map_wait *w = ctx;

    (void)c;
    w->done = true;
    w->status = status;
    snprintf(w->message, sizeof w->message, "%s", message != NULL ? message : "");
}

int sh_client_fetch_nodes(const char *network_path, const char *cache_path, sh_onion_node **nodes,
                          size_t *n)
{
    sh_dir_client_config cfg = {.cache_path = cache_path, .status_cb = map_status_cb};
    sh_dir_network *network = NULL;
    sh_dir_client *dc = NULL;
    sh_net *net = NULL;
    map_wait w = {0};
    uv_loop_t loop;
    int rc = sh_dir_network_load(network_path, &network);

    if (rc != SH_OK)
        return rc;
    if (uv_loop_init(&loop) != 0) {
        sh_dir_network_free(network);
        return sh_err_set(SH_ERR_NOMEM, "cannot start an event loop");
    }
    cfg.ctx = &w;
    if ((rc = sh_net_new(&loop, NULL, &net)) == SH_OK &&
        (rc = sh_dir_client_new(&loop, net, network, &cfg, &dc)) == SH_OK) {
        while (!w.done)
            uv_run(&loop, UV_RUN_ONCE);
        if (sh_dir_client_map(dc) == NULL)
            rc = sh_err_set(w.status != SH_OK ? w.status : SH_ERR_UNAVAILABLE,
                            "no valid network map: %s", w.message);
        else
            rc = sh_onion_nodes_from_map(sh_dir_client_map(dc), nodes, n);
        sh_dir_client_close(dc);
    }
    if (net != NULL)
        sh_net_close(net, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&loop);
    sh_dir_network_free(network);
    return rc;
}
