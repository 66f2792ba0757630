/* The onion transport (client.h "Transport"; docs/onion.md "The caller"; docs/swarm.md): every
 * storage call travels a 3-hop onion path (guard, middle, a member of the owner's swarm) built by
 * the onion module's caller from the nodes of a verified map. The destination is a random member
 * of the owner's swarm (nodes replicate), another one after a member failed; a member that says
 * SH_ERR_WRONG_SWARM (our map is older than its) makes us fetch the map again and retry at a
 * member of the swarm it names (a member whose map is older than ours is the one behind: we
 * retry at another member of ours). Store answers carry signed receipts, checked against the map:
 * "stored on k of n" counts the distinct members of the owner's swarm whose receipt verifies.
 * Requests are built and signed here, afresh for each attempt (a destination refuses a signed
 * request it already ran), with the time corrected from the node times in answers and the proof
 * of work the node asked for. The map is fetched again every refresh_ms, after WRONG_SWARM, and
 * when every attempt of a call failed for the network's sake. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <uv.h>

#include "client/internal.h"
#include "dir/client.h"
#include "dir/dir.h"
#include "node/node.h"
#include "node/swarm.h"
#include "util/err.h"
#include "util/log.h"
#include "util/time.h"

#define ONION_ATTEMPTS 3
#define ONION_POLL_MARGIN_MS 3000u /* a long-poll ends this long before the hops' deadline */
/* A page's data bytes, so that the whole answer (per message at most ~96 bytes of hash, times
 * and framing) fits in the largest onion reply; a full page of the store's own cap does not. */
#define ONION_PAGE_MAX_BYTES (128u * 1024)
_Static_assert(ONION_PAGE_MAX_BYTES + SH_STORE_PAGE_MAX_COUNT * 96u + 1024u <=
                   SH_ONION_MESSAGE_MAX_BYTES, "an onion retrieve page fits in one reply");
#define ONION_MAX_MEMBERS 64
#define ONION_MAP_RETRY_MS 30000 /* after failed paths, a map at most this often */
/* A map fetch asks at most this many sources, each for this long: a client with the network
 * down gives up within seconds (and keeps a valid cached map). */
#define SH_CLIENT_MAP_DEADLINE_MS 2000u
#define SH_CLIENT_MAP_SOURCES 3u

typedef struct onion_tp {
    uv_loop_t loop;
    sh_net *net;
    sh_onion_caller *caller;
    sh_onion_caller_config cfg;
    sh_onion_node *nodes;
    size_t n_nodes;
    sh_dir_map *map, *prev; /* the map the nodes come from, and the one before (receipts) */
    sh_client_maps src;
    char network_path[1024], cache_path[1024];
    int64_t map_mono_ms; /* when the map was last fetched */
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
    int64_t last_store_ms;         /* stores get strictly increasing timestamps: order per sender */
    unsigned caller_gen;           /* + 1 each time the caller is replaced */
    struct store_op *batch;        /* the stores in flight in onion_store_many, batch_n of them */
    size_t batch_n;
} onion_tp;

typedef struct answer {
    bool done;
    int status;
    char message[512];
    sh_buf body;
} answer;

static int fetch_map(onion_tp *t, sh_dir_map **out)
{
    if (t->src.fetch != NULL)
        return t->src.fetch(t->src.ctx, out);
    return sh_client_fetch_map(t->network_path, t->cache_path[0] ? t->cache_path : NULL, out);
}

/* Takes map (owned from now on): its nodes replace ours unless it is not newer. */
static int use_map(onion_tp *t, sh_dir_map *map)
{
    sh_onion_node *nodes = NULL;
    size_t n = 0;
    int rc;

    t->map_mono_ms = sh_time_mono_ms();
    if (t->map != NULL && sh_dir_map_version(map) <= sh_dir_map_version(t->map)) {
        sh_dir_map_free(map);
        return SH_OK;
    }
    if ((rc = sh_onion_nodes_from_map(map, &nodes, &n)) != SH_OK ||
        (t->caller != NULL && (rc = sh_onion_caller_set_nodes(t->caller, nodes, n)) != SH_OK)) {
        free(nodes);
        sh_dir_map_free(map);
        return rc;
    }
    free(t->nodes);
    t->nodes = nodes;
    t->n_nodes = n;
    sh_dir_map_free(t->prev);
    t->prev = t->map;
    t->map = map;
    return SH_OK;
}

static int refresh_map(onion_tp *t, const char *why)
{
    sh_dir_map *map = NULL;
    uint64_t had = t->map != NULL ? sh_dir_map_version(t->map) : 0;
    int rc = fetch_map(t, &map);

    if (rc == SH_OK)
        rc = use_map(t, map);
    if (rc != SH_OK)
        sh_log_warn("client", "could not fetch the network map (%s): %s", why, sh_err_msg());
    else if (sh_dir_map_version(t->map) != had)
        sh_log_info("client", "network map version %llu (%s)",
                    (unsigned long long)sh_dir_map_version(t->map), why);
    return rc;
}

static void maybe_refresh(onion_tp *t)
{
    if (t->src.refresh_ms > 0 && sh_time_mono_ms() - t->map_mono_ms >= t->src.refresh_ms)
        (void)refresh_map(t, "periodic");
}

static const sh_onion_node *find_node(const onion_tp *t, const uint8_t id[static 32])
{
    for (size_t i = 0; i < t->n_nodes; i++)
        if (memcmp(t->nodes[i].cand.id, id, 32) == 0)
            return &t->nodes[i];
    return NULL;
}

/* The members of the owner's swarm in our map (identities), *n of them. */
static int swarm_of(const sh_dir_map *map, const uint8_t owner[static 33],
                    const sh_dir_node **members, size_t *n)
{
    uint64_t swarm;
    int rc = sh_dir_map_owner_swarm(map, owner + 1, &swarm);

    if (rc == SH_OK)
        rc = sh_dir_map_swarm_members(map, swarm, members, ONION_MAX_MEMBERS, n);
    if (rc == SH_OK && *n > ONION_MAX_MEMBERS)
        *n = ONION_MAX_MEMBERS;
    if (rc == SH_OK && *n == 0)
        rc = sh_err_set(SH_ERR_UNAVAILABLE, "the account's swarm is empty");
    return rc;
}

/* A random member of `ids` (n of them) we can build a path to, other than `avoid` (may be
 * NULL) when there is another. */
static const uint8_t *pick_among(const onion_tp *t, const uint8_t (*ids)[32], size_t n,
                                 const uint8_t *avoid)
{
    const uint8_t *ok[ONION_MAX_MEMBERS];
    size_t k = 0;

    for (size_t i = 0; i < n && k < ONION_MAX_MEMBERS; i++)
        if (find_node(t, ids[i]) != NULL && (avoid == NULL || memcmp(ids[i], avoid, 32) != 0))
            ok[k++] = find_node(t, ids[i])->cand.id;
    if (k == 0 && avoid != NULL)
        return pick_among(t, ids, n, NULL);
    return k == 0 ? NULL : ok[randombytes_uniform((uint32_t)k)];
}

/* A member of the owner's swarm to call, other than `avoid` (may be NULL) when there is
 * another; its identity copied into dest (a map may be replaced while a call goes on). */
static int pick_dest(const onion_tp *t, const uint8_t owner[static 33], const uint8_t *avoid,
                     uint8_t dest[static 32])
{
    const sh_dir_node *members[ONION_MAX_MEMBERS];
    uint8_t ids[ONION_MAX_MEMBERS][32];
    const uint8_t *picked;
    size_t n;
    int rc = swarm_of(t->map, owner, members, &n);

    if (rc != SH_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        memcpy(ids[i], members[i]->identity, 32);
    if ((picked = pick_among(t, (const uint8_t (*)[32])ids, n, avoid)) == NULL)
        return sh_err_set(SH_ERR_UNAVAILABLE, "no member of the account's swarm has usable "
                                              "onion keys in the map");
    memcpy(dest, picked, 32);
    return SH_OK;
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

/* An attempt's time (a store's strictly after the last store's: order per sender). */
static void stamp(onion_tp *t, sh_node_request *r)
{
    r->timestamp_ms = sh_node_clock_now(&t->clock);
    t->calling_owner = r->owner;
    if (r->method == SH_NODE_STORE) {
        if (r->timestamp_ms <= t->last_store_ms) /* the clock offset may step back */
            r->timestamp_ms = t->last_store_ms + 1;
        t->last_store_ms = r->timestamp_ms;
    }
}

static bool needs_pow(const sh_node_request *r)
{
    return r->method == SH_NODE_STORE && r->ns == 0;
}

/* Signs the stamped request and sends it through an onion path (answer_cb fills a). */
static int attempt_request(onion_tp *t, const uint8_t *dest, const char *method,
                           sh_node_request *r, const sh_node_signer *signer, answer *a,
                           int64_t *sent)
{
    sh_buf body;
    int rc;

    sh_buf_init(&body);
    sh_buf_reset(&a->body);
    a->done = false;
    rc = sh_node_request_encode(r, signer, &body);
    *sent = sh_time_now_ms();
    if (rc == SH_OK)
        rc = sh_onion_caller_request(t->caller, dest, method, body.data, body.len, answer_cb, a);
    sh_buf_free(&body);
    return rc;
}

/* Starts one attempt: time, proof of work, signature, the onion call. */
static int attempt_send(onion_tp *t, const uint8_t *dest, const char *method, sh_node_request *r,
                        const sh_node_signer *signer, answer *a, int64_t *sent)
{
    stamp(t, r);
    if (needs_pow(r)) {
        uint8_t h[SH_STORE_HASH_BYTES];
        sh_store_msg_hash(h, r->owner, r->ns, r->data, r->data_len);
        r->pow_nonce = sh_node_pow_solve(r->owner, h, r->timestamp_ms, t->pow_bits);
    }
    return attempt_request(t, dest, method, r, signer, a, sent);
}

/* An attempt answered: learns clock and PoW bits from the answer; its status as an error. */
static int attempt_end(onion_tp *t, const answer *a, int64_t sent)
{
    int64_t node_time = 0;
    uint32_t bits = 0;

    if (a->body.len > 0 &&
        sh_node_answer_time(a->body.data, a->body.len, &node_time, &bits) == SH_OK) {
        if (node_time > 0)
            sh_node_clock_sample(&t->clock, node_time, sent, sh_time_now_ms());
        if (bits > 0 && a->status != SH_OK)
            t->pow_bits = bits;
    }
    return a->status == SH_OK ? SH_OK : sh_err_set(a->status, "%s", a->message);
}

/* One attempt, waited for. */
static int attempt(onion_tp *t, const uint8_t *dest, const char *method, sh_node_request *r,
                   const sh_node_signer *signer, answer *a)
{
    int64_t sent;
    int rc = attempt_send(t, dest, method, r, signer, a, &sent);

    if (rc != SH_OK)
        return rc;
    while (!a->done)
        uv_run(&t->loop, UV_RUN_ONCE);
    return attempt_end(t, a, sent);
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
    t->caller_gen++; /* requests in flight on the old caller end as cancelled: sent again */
    sh_onion_caller_free(t->caller);
    t->caller = fresh;
    return SH_OK;
}

/* After SH_ERR_WRONG_SWARM at dest: the map again (ours is older than the node's), then a
 * member of the swarm the answer names that we can reach (SH_OK with dest set), if any. When
 * the node's map is older than ours, it is the one behind: another member of the owner's swarm
 * in our map instead (the swarm it names is of an older map). */
static int follow_redirect(onion_tp *t, const answer *a, const uint8_t owner[static 33],
                           uint8_t dest[static 32])
{
    sh_node_swarm_member m[SH_NODE_MAX_REDIRECT];
    uint8_t ids[SH_NODE_MAX_REDIRECT][32];
    const uint8_t *picked;
    uint64_t version;
    size_t n = 0;
    int rc = sh_node_redirect_parse(a->body.data, a->body.len, &version, m, SH_NODE_MAX_REDIRECT,
                                    &n);

    if (rc != SH_OK)
        return sh_err_wrap(SH_ERR_WRONG_SWARM, "a wrong-swarm answer without its swarm");
    if (t->map != NULL && version < sh_dir_map_version(t->map)) {
        uint8_t behind[32];
        memcpy(behind, dest, 32);
        return pick_dest(t, owner, behind, dest);
    }
    if (t->map == NULL || version > sh_dir_map_version(t->map))
        (void)refresh_map(t, "a node named a newer swarm");
    for (size_t i = 0; i < n && i < ONION_MAX_MEMBERS; i++)
        memcpy(ids[i], m[i].identity, 32);
    picked = pick_among(t, (const uint8_t (*)[32])ids,
                        n < ONION_MAX_MEMBERS ? n : ONION_MAX_MEMBERS, NULL);
    if (picked == NULL)
        return sh_err_set(SH_ERR_WRONG_SWARM, "the account's swarm moved (map version %llu) and "
                          "the map fetched does not have it yet", (unsigned long long)version);
    memcpy(dest, picked, 32);
    return SH_OK;
}

static bool worth_retry(int rc, const sh_node_request *r)
{
    if (rc == SH_ERR_PERMISSION)
        return r->ns == 0; /* only proof of work is worth a retry */
    return rc == SH_ERR_STALE || rc == SH_ERR_REPLAY || rc == SH_ERR_UNAVAILABLE ||
           rc == SH_ERR_TIMEOUT || rc == SH_ERR_WRONG_SWARM;
}

/* Whether an attempt's SH_ERR_NOT_FOUND says a node left the map: a relay's map, or ours (a
 * new map came while the attempt waited to start, e.g. fetched for another store in flight). */
static bool left_map(const char *msg)
{
    return strstr(msg, "not in this relay's map") != NULL ||
           strstr(msg, "no longer in the map") != NULL || strstr(msg, "is not in the map") != NULL;
}

/* Attempt `i` (0-based) of a call failed with *rc: whether to make another, at *dest (the
 * member that failed is avoided, a WRONG_SWARM answer followed). When not, *rc is the call's
 * error. */
static bool retry_next(onion_tp *t, const uint8_t owner[static 33], const sh_node_request *r,
                       const answer *a, int i, int *rc, uint8_t dest[static 32])
{
    uint8_t failed[32];

    if (*rc == SH_ERR_NOT_FOUND && left_map(sh_err_msg())) /* another path */
        *rc = sh_err_wrap(SH_ERR_UNAVAILABLE, "a node left the network's map");
    if (*rc == SH_ERR_UNAVAILABLE && strstr(sh_err_msg(), "no usable guard") != NULL &&
        renew_guards(t) != SH_OK)
        return false;
    if (!worth_retry(*rc, r) || i + 1 == ONION_ATTEMPTS)
        return false;
    if (*rc == SH_ERR_WRONG_SWARM)
        return (*rc = follow_redirect(t, a, owner, dest)) == SH_OK;
    if (*rc == SH_ERR_UNAVAILABLE || *rc == SH_ERR_TIMEOUT) {
        memcpy(failed, dest, 32);
        return (*rc = pick_dest(t, owner, failed, dest)) == SH_OK;
    }
    *rc = SH_OK;
    return true;
}

/* The error of a call whose attempts all failed, as the client sees it: a network failure is
 * SH_ERR_UNAVAILABLE, after which the map is fetched again (at most every ONION_MAP_RETRY_MS). */
static int call_failed(onion_tp *t, int rc)
{
    if (rc == SH_ERR_UNAVAILABLE || rc == SH_ERR_TIMEOUT || rc == SH_ERR_CANCELLED) {
        char msg[SH_ERR_MSG_BYTES];
        snprintf(msg, sizeof msg, "%s", sh_err_msg());
        if (sh_time_mono_ms() - t->map_mono_ms >= ONION_MAP_RETRY_MS)
            (void)refresh_map(t, "every path failed"); /* the next call uses it */
        rc = sh_err_set(SH_ERR_UNAVAILABLE, "%s (through onion paths)", msg);
    }
    return rc;
}

/* Attempts until one succeeds, or fails with an error a new attempt cannot fix. */
static int call(onion_tp *t, const uint8_t owner[static 33], const char *method,
                sh_node_request *r, const sh_node_signer *signer, answer *a)
{
    uint8_t dest[32];
    int rc;

    maybe_refresh(t);
    rc = pick_dest(t, owner, NULL, dest);
    for (int i = 0; rc == SH_OK; i++)
        if ((rc = attempt(t, dest, method, r, signer, a)) == SH_OK ||
            !retry_next(t, owner, r, a, i, &rc, dest))
            break;
    return rc == SH_OK ? SH_OK : call_failed(t, rc);
}

/* How many distinct members of the owner's swarm signed a valid receipt for (owner, ns, hash):
 * a forged receipt, one of a node outside the swarm or for another message never counts. */
int sh__client_receipts_count(const sh_dir_map *map, const sh_dir_map *prev,
                              const uint8_t owner[static 33], int16_t ns,
                              const uint8_t hash[static 32], const sh_node_receipt *rs,
                              size_t n_rs, uint32_t *k, uint32_t *n)
{
    int stale = SH_OK;
    const sh_dir_node *members[ONION_MAX_MEMBERS];
    bool counted[ONION_MAX_MEMBERS] = {false};
    size_t n_members = 0;

    *k = *n = 0;
    if (swarm_of(map, owner, members, &n_members) != SH_OK)
        return SH_OK;
    *n = (uint32_t)n_members;
    for (size_t i = 0; i < n_rs; i++) {
        const sh_node_receipt *r = &rs[i];
        int vrc;
        if (memcmp(r->hash, hash, 32) != 0 || memcmp(r->owner, owner, 33) != 0 || r->ns != ns)
            continue;
        if ((vrc = sh_node_receipt_verify(r, map, prev)) != SH_OK) {
            if (vrc == SH_ERR_STALE)
                stale = SH_ERR_STALE;
            continue;
        }
        for (size_t j = 0; j < n_members; j++)
            if (!counted[j] && memcmp(members[j]->identity, r->node_id, 32) == 0) {
                counted[j] = true;
                ++*k;
            }
    }
    return stale;
}

/* A store's answer: its hash, outcome and expiry, and on how many members it is by the receipts
 * that verify (the map is fetched again when one names a newer map). */
static int store_result(onion_tp *t, const uint8_t owner[static 33], int16_t ns, const answer *a,
                        sh_client_receipt *out)
{
    sh_node_receipt rs[SH_NODE_MAX_RECEIPTS];
    size_t n_rs = 0;
    sh_node_stored st;
    int rc = sh_node_stored_parse(a->body.data, a->body.len, &st);

    if (rc != SH_OK)
        return rc;
    memcpy(out->hash, st.hash, sizeof out->hash);
    out->outcome = st.outcome;
    out->expiry_ms = st.expiry_ms;
    if (sh_node_receipts_parse(a->body.data, a->body.len, true, rs, SH_NODE_MAX_RECEIPTS,
                               &n_rs) != SH_OK)
        n_rs = 0;
    if (sh__client_receipts_count(t->map, t->prev, owner, ns, st.hash, rs, n_rs, &out->stored_k,
                                  &out->stored_n) == SH_ERR_STALE &&
        refresh_map(t, "a receipt names a newer map") == SH_OK)
        (void)sh__client_receipts_count(t->map, t->prev, owner, ns, st.hash, rs, n_rs,
                                        &out->stored_k, &out->stored_n);
    sh_log_debug("client", "store ns %d: %zu receipts, %u of %u verify", ns, n_rs, out->stored_k,
                 out->stored_n);
    return SH_OK;
}

static int onion_store(void *ctx, const uint8_t owner[static 33], int16_t ns, const uint8_t *data,
                       size_t len, int64_t ttl_ms, const sh_node_signer *signer,
                       sh_client_receipt *out)
{
    onion_tp *t = ctx;
    sh_node_request r = {.method = SH_NODE_STORE, .ns = ns, .data = data, .data_len = len,
                         .ttl_ms = ttl_ms};
    answer a = {0};
    int rc;

    memcpy(r.owner, owner, 33);
    sh_buf_init(&a.body);
    rc = call(t, owner, "store", &r, signer, &a);
    if (rc == SH_OK)
        rc = store_result(t, owner, ns, &a, out);
    sh_buf_free(&a.body);
    return rc;
}

/* ---- several stores in flight (store_many) ------------------------------------------------ */

/* One store of a batch: the same attempts, retries and redirects as call(), as steps driven by
 * the shared loop instead of a loop of its own. */
typedef struct store_op {
    sh_client_store *s;
    sh_node_request r;
    answer a;
    uint8_t dest[32];
    int tries;       /* attempts made */
    int64_t sent;    /* when the attempt in flight was sent */
    unsigned gen;    /* the caller it went through (renew_guards makes a new one) */
    uv_work_t work;  /* its proof of work, solved on libuv's thread pool */
    uint8_t pow_hash[SH_STORE_HASH_BYTES];
    uint32_t pow_bits;
    bool solving, solved, in_flight, done;
} store_op;

static void op_end(onion_tp *t, store_op *op, int rc)
{
    op->in_flight = false;
    op->done = true;
    if (rc == SH_OK)
        rc = store_result(t, op->s->owner, op->s->ns, &op->a, &op->s->receipt);
    else
        rc = call_failed(t, rc);
    op->s->rc = rc;
    snprintf(op->s->error, sizeof op->s->error, "%s", rc == SH_OK ? "" : sh_err_msg());
}

static void op_send(onion_tp *t, store_op *op);

static void pow_work_cb(uv_work_t *w)
{
    store_op *op = w->data;

    op->r.pow_nonce = sh_node_pow_solve(op->r.owner, op->pow_hash, op->r.timestamp_ms,
                                        op->pow_bits);
}

static void pow_after_cb(uv_work_t *w, int status)
{
    store_op *op = w->data;

    op->solving = false;
    op->solved = true;
    if (status != 0) /* cancelled: solved here instead */
        pow_work_cb(w);
}

/* Sends the op's attempt once its proof of work is solved; one that fails at once is retried
 * (or ends the op) here. */
static void op_request(onion_tp *t, store_op *op)
{
    int rc;

    op->solved = false;
    op->gen = t->caller_gen;
    op->tries++;
    if ((rc = attempt_request(t, op->dest, "store", &op->r, op->s->signer, &op->a, &op->sent)) ==
        SH_OK) {
        op->in_flight = true;
        return;
    }
    if (!retry_next(t, op->s->owner, &op->r, &op->a, op->tries - 1, &rc, op->dest))
        return op_end(t, op, rc);
    op_send(t, op);
}

/* Starts the op's next attempt: stamped now, its proof of work handed to the thread pool (so
 * that the loop builds and opens the other ops' packets meanwhile, on another core). */
static void op_send(onion_tp *t, store_op *op)
{
    stamp(t, &op->r);
    if (!needs_pow(&op->r) || t->pow_bits == 0) {
        op->r.pow_nonce = 0;
        return op_request(t, op);
    }
    sh_store_msg_hash(op->pow_hash, op->r.owner, op->r.ns, op->r.data, op->r.data_len);
    op->pow_bits = t->pow_bits;
    op->work.data = op;
    op->solving = true;
    /* a store alone has nothing to overlap: no hand-off to another thread (a wake-up across
     * cores) */
    if (t->batch_n == 1 || uv_queue_work(&t->loop, &op->work, pow_work_cb, pow_after_cb) != 0) {
        op->solving = false;
        pow_work_cb(&op->work);
        op_request(t, op);
    }
}

/* The op's attempt in flight came back. A request cancelled because the guards were renewed
 * under it (by another op) is sent again without counting as an attempt. */
static void op_answered(onion_tp *t, store_op *op)
{
    int rc;

    op->in_flight = false;
    if (op->a.status == SH_ERR_CANCELLED && op->gen != t->caller_gen) {
        op->tries--;
        return op_send(t, op);
    }
    if ((rc = attempt_end(t, &op->a, op->sent)) == SH_OK ||
        !retry_next(t, op->s->owner, &op->r, &op->a, op->tries - 1, &rc, op->dest))
        return op_end(t, op, rc);
    op_send(t, op);
}

static int onion_store_many(void *ctx, sh_client_store *stores, size_t n)
{
    onion_tp *t = ctx;
    store_op *ops = calloc(n > 0 ? n : 1, sizeof *ops);
    size_t left = n;
    int rc;

    if (ops == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for %zu stores", n);
    maybe_refresh(t);
    t->batch = ops;
    t->batch_n = n;
    for (size_t i = 0; i < n; i++) {
        store_op *op = &ops[i];
        op->s = &stores[i];
        op->r = (sh_node_request){.method = SH_NODE_STORE, .ns = op->s->ns, .data = op->s->data,
                                  .data_len = op->s->len, .ttl_ms = op->s->ttl_ms};
        memcpy(op->r.owner, op->s->owner, 33);
        sh_buf_init(&op->a.body);
        if ((rc = pick_dest(t, op->s->owner, NULL, op->dest)) == SH_OK)
            op_send(t, op);
        else
            op_end(t, op, rc);
        uv_run(&t->loop, UV_RUN_NOWAIT); /* it leaves now, while the next one is prepared */
    }
    while (left > 0) {
        left = 0;
        for (size_t i = 0; i < n; i++) {
            if (ops[i].solved)
                op_request(t, &ops[i]);
            else if (ops[i].in_flight && ops[i].a.done)
                op_answered(t, &ops[i]);
            left += !ops[i].done;
        }
        if (left > 0)
            uv_run(&t->loop, UV_RUN_ONCE);
    }
    t->batch = NULL;
    t->calling_owner = NULL; /* it pointed into ops */
    for (size_t i = 0; i < n; i++)
        sh_buf_free(&ops[i].a.body);
    free(ops);
    return SH_OK;
}

/* get_receipts at a member of the owner's swarm: the receipts of every member holding it. */
static int onion_receipts(void *ctx, const uint8_t owner[static 33], int16_t ns,
                          const uint8_t hash[static 32], uint32_t *k, uint32_t *n)
{
    onion_tp *t = ctx;
    sh_node_receipt rs[SH_NODE_MAX_RECEIPTS];
    uint8_t body[2 + 32] = {0x0a, 32}; /* ReceiptRequest{hash} */
    uint8_t dest[32], failed[32];
    size_t n_rs = 0;
    answer a = {0};
    int rc;

    memcpy(body + 2, hash, 32);
    sh_buf_init(&a.body);
    maybe_refresh(t);
    for (int i = 0; i < 2; i++) {
        if ((rc = pick_dest(t, owner, i > 0 ? failed : NULL, dest)) != SH_OK)
            break;
        a.done = false;
        sh_buf_reset(&a.body);
        t->calling_owner = owner;
        rc = sh_onion_caller_request(t->caller, dest, "get_receipts", body, sizeof body,
                                     answer_cb, &a);
        while (rc == SH_OK && !a.done)
            uv_run(&t->loop, UV_RUN_ONCE);
        if (rc == SH_OK && a.status != SH_OK)
            rc = sh_err_set(a.status, "%s", a.message);
        if (rc != SH_ERR_UNAVAILABLE && rc != SH_ERR_TIMEOUT)
            break;
        memcpy(failed, dest, 32);
    }
    if (rc == SH_OK)
        rc = sh_node_receipts_parse(a.body.data, a.body.len, false, rs, SH_NODE_MAX_RECEIPTS,
                                    &n_rs);
    if (rc == SH_OK &&
        sh__client_receipts_count(t->map, t->prev, owner, ns, hash, rs, n_rs, k, n) ==
            SH_ERR_STALE &&
        refresh_map(t, "a receipt names a newer map") == SH_OK)
        (void)sh__client_receipts_count(t->map, t->prev, owner, ns, hash, rs, n_rs, k, n);
    sh_buf_free(&a.body);
    return rc;
}

static bool page_has(const sh_node_page *p, const uint8_t hash[static 32])
{
    for (size_t i = 0; i < p->count; i++)
        if (memcmp(p->msgs[i].hash, hash, 32) == 0)
            return true;
    return false;
}

/* into ∪ other (by hash), data copied into one new arena. */
static int page_merge(sh_node_page *into, const sh_node_page *other)
{
    size_t total = into->count + other->count, n = 0;
    sh_store_msg *msgs = calloc(total + 1, sizeof *msgs);
    size_t *off = calloc(2 * total + 1, sizeof *off);
    sh_buf arena;
    int rc = msgs != NULL && off != NULL ? SH_OK : sh_err_set(SH_ERR_NOMEM, "out of memory");

    sh_buf_init(&arena);
    for (size_t i = 0; rc == SH_OK && i < total; i++) {
        const sh_store_msg *m = i < into->count ? &into->msgs[i] : &other->msgs[i - into->count];
        if (i >= into->count && page_has(into, m->hash))
            continue;
        msgs[n] = *m;
        off[2 * n] = arena.len;
        rc = sh_buf_append(&arena, m->data, m->data_len);
        off[2 * n + 1] = arena.len;
        if (rc == SH_OK && m->slot != NULL)
            rc = sh_buf_append(&arena, m->slot, m->slot_len);
        n++;
    }
    if (rc == SH_OK) {
        for (size_t i = 0; i < n; i++) {
            msgs[i].data = arena.data + off[2 * i];
            if (msgs[i].slot != NULL)
                msgs[i].slot = arena.data + off[2 * i + 1];
        }
        free(into->msgs);
        sh_buf_free(&into->arena);
        into->msgs = msgs;
        into->count = n;
        into->arena = arena;
        into->more = into->more || other->more;
        msgs = NULL;
    } else {
        sh_buf_free(&arena);
    }
    free(msgs);
    free(off);
    return rc;
}

static int retrieve_at(onion_tp *t, const uint8_t *dest, const uint8_t owner[static 33],
                       sh_node_request *r, sh_node_page *out)
{
    answer a = {0};
    int rc;

    sh_buf_init(&a.body);
    rc = dest != NULL ? attempt(t, dest, "retrieve", r, NULL, &a)
                      : call(t, owner, "retrieve", r, NULL, &a);
    if (rc == SH_OK)
        rc = sh_node_page_parse(a.body.data, a.body.len, owner, r->ns, out);
    sh_buf_free(&a.body);
    return rc;
}

/* A public namespace (device lists, bundles) is read from two members and the answers joined,
 * so that one member cannot withhold or roll back what the owner published (the client keeps
 * the device list with the highest counter). Members are tried in a random order, past those
 * that fail, until two answered (a member down must not leave a stale one the only answer),
 * with new guards when no kept guard can reach one; at most ONION_ATTEMPTS + 1 tries. When none
 * answers, or one says the swarm moved, the read is retried with redirects followed (one answer
 * then). */
static int retrieve_public(onion_tp *t, const uint8_t owner[static 33], sh_node_request *r,
                           sh_node_page *out)
{
    const sh_dir_node *members[ONION_MAX_MEMBERS];
    uint8_t ids[ONION_MAX_MEMBERS][32];
    sh_node_page more = {0};
    size_t n, answered = 0, tried = 0;
    int rc;

    maybe_refresh(t);
    if ((rc = swarm_of(t->map, owner, members, &n)) != SH_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        size_t j = randombytes_uniform((uint32_t)i + 1); /* a random order (inside-out shuffle) */
        if (j != i)
            memcpy(ids[i], ids[j], 32);
        memcpy(ids[j], members[i]->identity, 32);
    }
    for (size_t i = 0; i < n && answered < 2 && tried <= ONION_ATTEMPTS; i++) {
        if (find_node(t, ids[i]) == NULL)
            continue;
        tried++;
        rc = retrieve_at(t, ids[i], owner, r, answered == 0 ? out : &more);
        if (rc != SH_OK && strstr(sh_err_msg(), "no usable guard") != NULL &&
            renew_guards(t) == SH_OK && tried <= ONION_ATTEMPTS) {
            tried++; /* the same member again, through new guards */
            rc = retrieve_at(t, ids[i], owner, r, answered == 0 ? out : &more);
        }
        if (rc == SH_ERR_WRONG_SWARM)
            break;
        if (rc != SH_OK) {
            sh_log_info("client", "a member did not answer a public read: %s", sh_err_msg());
            continue;
        }
        if (answered++ > 0) {
            rc = page_merge(out, &more);
            sh_node_page_free(&more);
            if (rc != SH_OK)
                return rc;
        }
    }
    if (answered == 0)
        return retrieve_at(t, NULL, owner, r, out); /* retried, with redirects */
    return SH_OK;
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
    if (signer == NULL && ns > 0 && after == NULL)
        return retrieve_public(t, owner, &r, out);
    sh_buf_init(&a.body);
    rc = call(t, owner, "retrieve", &r, signer, &a);
    if (rc == SH_OK)
        rc = sh_node_page_parse(a.body.data, a.body.len, owner, ns, out);
    sh_log_debug("client", "retrieve ns %d: %s, %zu messages", ns, sh_err_name(rc),
                 rc == SH_OK ? out->count : 0);
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
    const uint8_t *owner = t->calling_owner;

    if (t->user_attempt_cb != NULL)
        t->user_attempt_cb(a, t->user_attempt_ctx);
    if (a->started || a->status != SH_OK)
        return;
    if (t->batch != NULL)
        owner = NULL;
    for (size_t i = 0; t->batch != NULL && i < t->batch_n; i++) /* the op sent to that node */
        if (t->batch[i].in_flight && memcmp(t->batch[i].dest, a->path[2]->cand.id, 32) == 0)
            owner = t->batch[i].s->owner;
    if (owner == NULL)
        return;
    for (unsigned i = 0; i < 4; i++)
        if (memcmp(t->paths[i].owner, owner, 33) == 0)
            slot = i;
    if (slot == t->next_path)
        t->next_path = (t->next_path + 1) % 4;
    memcpy(t->paths[slot].owner, owner, 33);
    snprintf(t->paths[slot].text, sizeof t->paths[slot].text,
             "guard %s:%u -> middle %s:%u -> swarm node %s:%u", a->path[0]->host,
             a->path[0]->port, a->path[1]->host, a->path[1]->port, a->path[2]->host,
             a->path[2]->port);
}

static int onion_describe(void *ctx, const uint8_t owner[static 33], char *out, size_t out_size)
{
    onion_tp *t = ctx;
    const sh_dir_node *members[ONION_MAX_MEMBERS];
    size_t n;
    int rc = swarm_of(t->map, owner, members, &n);

    if (rc != SH_OK)
        return rc;
    snprintf(out, out_size, "onion paths (3 hops) to node %02x%02x%02x%02x of %zu nodes",
             members[0]->identity[0], members[0]->identity[1], members[0]->identity[2],
             members[0]->identity[3], t->n_nodes);
    for (unsigned i = 0; i < 4; i++)
        if (t->paths[i].text[0] != '\0' && memcmp(t->paths[i].owner, owner, 33) == 0 &&
            strlen(out) + 1 < out_size)
            snprintf(out + strlen(out), out_size - strlen(out), "; last: %s", t->paths[i].text);
    if (strlen(out) + 1 < out_size)
        snprintf(out + strlen(out), out_size - strlen(out),
                 " (or another member of its swarm of %zu; map version %llu)", n,
                 (unsigned long long)sh_dir_map_version(t->map));
    return SH_OK;
}

static void onion_close(void *ctx)
{
    onion_tp *t = ctx;

    if (t->caller != NULL)
        sh_onion_caller_free(t->caller);
    if (t->net != NULL)
        sh_net_close(t->net, NULL, NULL);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&t->loop);
    sh_dir_map_free(t->map);
    sh_dir_map_free(t->prev);
    free(t->nodes);
    free(t);
}

static bool all_loopback(const onion_tp *t)
{
    for (size_t i = 0; i < t->n_nodes; i++)
        if (strncmp(t->nodes[i].host, "127.", 4) != 0 && strcmp(t->nodes[i].host, "::1") != 0)
            return false;
    return true;
}

int sh_client_onion_open(const sh_client_maps *maps, const sh_onion_caller_config *cfg,
                         sh_client_transport *out)
{
    onion_tp *t = calloc(1, sizeof *t);
    sh_dir_map *map = NULL;
    int rc;

    if (t == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the onion transport");
    t->src = *maps;
    snprintf(t->network_path, sizeof t->network_path, "%s",
             maps->network_path != NULL ? maps->network_path : "");
    snprintf(t->cache_path, sizeof t->cache_path, "%s",
             maps->cache_path != NULL ? maps->cache_path : "");
    t->pow_bits = SH_NODE_DEFAULT_POW_BITS;
    sh_node_clock_init(&t->clock);
    if (cfg != NULL)
        t->cfg = *cfg;
    else
        sh_onion_caller_config_default(&t->cfg);
    t->cfg.max_attempts = 1; /* attempts are made here: each needs a new signature */
    t->user_attempt_cb = t->cfg.attempt_cb;
    t->user_attempt_ctx = t->cfg.attempt_ctx;
    t->cfg.attempt_cb = note_path_cb;
    t->cfg.attempt_ctx = t;
    t->hop_timeout_ms = t->cfg.hop_timeout_ms;
    if (uv_loop_init(&t->loop) != 0) {
        free(t);
        return sh_err_set(SH_ERR_NOMEM, "cannot start an event loop");
    }
    if ((rc = fetch_map(t, &map)) == SH_OK && (rc = use_map(t, map)) == SH_OK &&
        all_loopback(t))
        t->cfg.policy.allow_same_subnet = true; /* a devnet: every node on 127.0.0.1 */
    if (rc == SH_OK && (rc = sh_net_new(&t->loop, NULL, &t->net)) == SH_OK)
        rc = sh_onion_caller_new(&t->loop, t->net, &t->cfg, t->nodes, t->n_nodes, NULL, &t->caller);
    if (rc != SH_OK) {
        onion_close(t);
        return rc;
    }
    *out = (sh_client_transport){.ctx = t, .store = onion_store, .retrieve = onion_retrieve,
                                 .remove = onion_remove, .describe = onion_describe,
                                 .receipts = onion_receipts, .close = onion_close,
                                 .store_many = onion_store_many};
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

/* A copy of a verified map (its published bytes decoded again). */
static int map_copy(const sh_dir_map *map, sh_dir_map **out)
{
    sh_buf b;
    int rc;

    sh_buf_init(&b);
    rc = sh_dir_map_encode(map, &b);
    if (rc == SH_OK)
        rc = sh_dir_map_decode(b.data, b.len, out);
    sh_buf_free(&b);
    return rc;
}

int sh_client_fetch_map(const char *network_path, const char *cache_path, sh_dir_map **out)
{
    sh_dir_client_config cfg = {.cache_path = cache_path, .status_cb = map_status_cb,
                                .deadline_ms = SH_CLIENT_MAP_DEADLINE_MS,
                                .max_sources = SH_CLIENT_MAP_SOURCES};
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
            rc = map_copy(sh_dir_client_map(dc), out);
        sh_dir_client_close(dc);
    }
    if (net != NULL)
        sh_net_close(net, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&loop);
    sh_dir_network_free(network);
    return rc;
}

int sh_client_fetch_nodes(const char *network_path, const char *cache_path, sh_onion_node **nodes,
                          size_t *n)
{
    sh_dir_map *map = NULL;
    int rc = sh_client_fetch_map(network_path, cache_path, &map);

    if (rc == SH_OK)
        rc = sh_onion_nodes_from_map(map, nodes, n);
    sh_dir_map_free(map);
    return rc;
}
