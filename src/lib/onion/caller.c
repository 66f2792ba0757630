/* The client side of onion routing (overview.md "Onion routing", docs/onion.md "The caller"):
 * one request = attempts on fresh 3-hop paths until the destination answers. Each attempt picks
 * a guard and a middle (sh_onion_path_pick), builds a packet with reply state, sends
 * circuit id ‖ packet as RPC "onion" to the guard and opens what comes back: the destination's
 * sealed answer, or a relay's error block naming why its next hop failed. A failed hop is
 * avoided for cfg.avoid_ms (a guard also counts a failure) and the next attempt waits a
 * doubling, jittered backoff. Requests are kept in a list; one timer starts due attempts. */
#include "onion/onion.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"
#include "util/time.h"

#define ERR_TEXT 400
#define HOPS 3
static const char *const hop_names[HOPS] = {"guard", "middle", "destination"};

typedef struct call_req call_req;

typedef struct guard_link {
    uint8_t id[SH_ONION_ID_BYTES];
    sh_net_peer *peer;
} guard_link;

struct sh_onion_caller {
    uv_loop_t *loop;
    sh_net *net;
    sh_onion_caller_config cfg;
    sh_onion_node *nodes;
    sh_onion_candidate *cands;
    size_t n_nodes;
    guard_link *links;
    size_t n_links;
    sh_onion_guards guards;
    sh_onion_avoid avoid;
    uv_timer_t timer;
    call_req *reqs;
    bool freeing;
};

struct call_req {
    call_req *next;
    sh_onion_caller *c;
    uint8_t dest[SH_ONION_ID_BYTES];
    sh_buf msg;
    unsigned attempt;
    uint64_t due_ms; /* loop time of the next attempt; 0 while one is in flight */
    sh_onion_node path[HOPS];
    sh_onion_client *state;
    int last_status;
    char last_msg[ERR_TEXT + 128];
    sh_onion_answer_cb cb;
    void *ctx;
};

void sh_onion_caller_config_default(sh_onion_caller_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->policy.n_guards = 3;
    cfg->policy.guard_lifetime_ms = SH_ONION_GUARD_LIFETIME_MS;
    cfg->policy.guard_max_failures = SH_ONION_GUARD_MAX_FAILURES;
    cfg->max_attempts = SH_ONION_CALLER_ATTEMPTS_DEFAULT;
    cfg->attempt_timeout_ms = SH_ONION_CALLER_TIMEOUT_DEFAULT_MS;
    cfg->hop_timeout_ms = SH_ONION_CALLER_HOP_TIMEOUT_DEFAULT_MS;
    cfg->backoff_min_ms = SH_ONION_CALLER_BACKOFF_MIN_DEFAULT_MS;
    cfg->backoff_max_ms = SH_ONION_CALLER_BACKOFF_MAX_DEFAULT_MS;
    cfg->avoid_ms = SH_ONION_CALLER_AVOID_DEFAULT_MS;
}

static int64_t now_ms(const sh_onion_caller *c)
{
    return c->cfg.clock ? c->cfg.clock(c->cfg.clock_ctx) : sh_time_now_ms();
}

static uint32_t uniform(const sh_onion_caller *c, uint32_t upper)
{
    return c->cfg.uniform ? c->cfg.uniform(c->cfg.uniform_ctx, upper) : randombytes_uniform(upper);
}

int sh_onion_caller_set_nodes(sh_onion_caller *c, const sh_onion_node *nodes, size_t n_nodes)
{
    sh_onion_node *nn = calloc(n_nodes ? n_nodes : 1, sizeof *nn);
    sh_onion_candidate *cc = calloc(n_nodes ? n_nodes : 1, sizeof *cc);

    if (nn == NULL || cc == NULL) {
        free(nn);
        free(cc);
        return sh_err_set(SH_ERR_NOMEM, "out of memory keeping %zu nodes", n_nodes);
    }
    for (size_t i = 0; i < n_nodes; i++)
        nn[i] = nodes[i], cc[i] = nodes[i].cand;
    free(c->nodes);
    free(c->cands);
    c->nodes = nn;
    c->cands = cc;
    c->n_nodes = n_nodes;
    return SH_OK;
}

static void on_timer(uv_timer_t *t);

int sh_onion_caller_new(uv_loop_t *loop, sh_net *net, const sh_onion_caller_config *cfg,
                        const sh_onion_node *nodes, size_t n_nodes, const sh_onion_guards *guards,
                        sh_onion_caller **out)
{
    sh_onion_caller *c;
    int rc;

    *out = NULL;
    if (cfg->max_attempts == 0 || cfg->attempt_timeout_ms == 0 || cfg->hop_timeout_ms == 0 ||
        cfg->backoff_min_ms == 0 || cfg->backoff_max_ms < cfg->backoff_min_ms)
        return sh_err_set(SH_ERR_INVALID, "onion caller: attempts, timeouts and backoff must be "
                          "non-zero, and the backoff's maximum at least its minimum");
    if ((c = calloc(1, sizeof *c)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory making an onion caller");
    c->loop = loop;
    c->net = net;
    c->cfg = *cfg;
    if (guards != NULL)
        c->guards = *guards;
    if ((rc = sh_onion_caller_set_nodes(c, nodes, n_nodes)) != SH_OK) {
        free(c);
        return rc;
    }
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    *out = c;
    return SH_OK;
}

void sh_onion_caller_guards(const sh_onion_caller *c, sh_onion_guards *out)
{
    *out = c->guards;
}

/* ---- Requests ---------------------------------------------------------------------------- */

static void finish(call_req *r, int status, const char *message, const uint8_t *body, size_t len)
{
    sh_onion_caller *c = r->c;

    for (call_req **p = &c->reqs; *p != NULL; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    r->cb(status, message, body, len, r->ctx);
    sh_onion_client_free(r->state);
    sh_buf_free(&r->msg);
    free(r);
}

static void arm_timer(sh_onion_caller *c)
{
    uint64_t first = 0, now = uv_now(c->loop);

    for (call_req *r = c->reqs; r != NULL; r = r->next)
        if (r->due_ms != 0 && (first == 0 || r->due_ms < first))
            first = r->due_ms;
    if (first != 0 && !c->freeing)
        uv_timer_start(&c->timer, on_timer, first > now ? first - now : 0, 0);
}

static uint32_t backoff_ms(const sh_onion_caller *c, unsigned attempt)
{
    uint64_t d =
        (uint64_t)sh_time_backoff_ms(c->cfg.backoff_min_ms, c->cfg.backoff_max_ms, attempt);

    return (uint32_t)(d / 2 + uniform(c, (uint32_t)(d / 2) + 1));
}

/* An attempt failed at hop `hop` (1-based, 0 unknown): tell, avoid the node, retry or give up. */
static void attempt_failed(call_req *r, unsigned hop, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void attempt_failed(call_req *r, unsigned hop, int status, const char *fmt, ...)
{
    sh_onion_caller *c = r->c;
    char why[ERR_TEXT];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (hop >= 1 && hop <= HOPS) {
        const uint8_t *id = r->path[hop - 1].cand.id;
        snprintf(r->last_msg, sizeof r->last_msg,
                 "onion attempt %u: hop %u of %d (%s %02x%02x%02x%02x) failed: %s", r->attempt, hop,
                 HOPS, hop_names[hop - 1], id[0], id[1], id[2], id[3], why);
        if (hop < HOPS)
            sh_onion_avoid_add(&c->avoid, id, now_ms(c) + c->cfg.avoid_ms);
        if (hop == 1)
            sh_onion_guards_failed(&c->guards, id, &c->cfg.policy);
    } else {
        snprintf(r->last_msg, sizeof r->last_msg, "onion attempt %u: %s", r->attempt, why);
    }
    r->last_status = status;
    sh_log_debug("onion", "%s", r->last_msg);
    if (c->cfg.attempt_cb != NULL) {
        sh_onion_attempt a = {.attempt = r->attempt, .status = status, .failed_hop = hop,
                              .message = r->last_msg};
        for (int i = 0; i < HOPS; i++)
            a.path[i] = &r->path[i];
        c->cfg.attempt_cb(&a, c->cfg.attempt_ctx);
    }
    sh_onion_client_free(r->state);
    r->state = NULL;
    if (c->freeing || status == SH_ERR_CANCELLED || r->attempt >= c->cfg.max_attempts) {
        finish(r, status, r->last_msg, NULL, 0);
        return;
    }
    r->due_ms = uv_now(c->loop) + backoff_ms(c, r->attempt);
    arm_timer(c);
}

static void answered(call_req *r, uint8_t *reply, size_t len)
{
    sh_onion_caller *c = r->c;
    sh_onion_response resp;
    const uint8_t *msg;
    size_t msg_len;

    if (sh_onion_open_reply(r->state, reply, len, &msg, &msg_len) != SH_OK)
        return attempt_failed(r, 0, SH_ERR_CRYPTO, "the reply did not authenticate (%s)",
                              sh_err_msg());
    if (sh_onion_response_parse(msg, msg_len, &resp) != SH_OK)
        return attempt_failed(r, HOPS, SH_ERR_PROTOCOL, "its answer is malformed: %s", sh_err_msg());
    sh_onion_guards_succeeded(&c->guards, r->path[0].cand.id);
    if (c->cfg.attempt_cb != NULL) {
        sh_onion_attempt a = {.attempt = r->attempt, .status = SH_OK, .message = ""};
        for (int i = 0; i < HOPS; i++)
            a.path[i] = &r->path[i];
        c->cfg.attempt_cb(&a, c->cfg.attempt_ctx);
    }
    finish(r, resp.status, resp.message, resp.body, resp.len);
}

static void on_answer(int status, const char *message, const uint8_t *body, size_t len, void *ctx)
{
    call_req *r = ctx;
    char relay_msg[SH_ONION_ERROR_MESSAGE_MAX_BYTES + 1];
    int relay_status;
    uint8_t *copy;
    size_t hop;

    if (status != SH_OK)
        return attempt_failed(r, 1, status, "%s (%s)", message ? message : "", sh_err_name(status));
    if (sh_onion_open_relay_error(r->state, body, len, &hop, &relay_status, relay_msg) == SH_OK)
        return attempt_failed(r, (unsigned)hop + 2, relay_status, "%s (%s, reported by hop %zu)",
                              relay_msg, sh_err_name(relay_status), hop + 1);
    if (!sh_onion_is_bucket(len))
        return attempt_failed(r, 1, SH_ERR_PROTOCOL, "a %zu-byte reply is not a bucket", len);
    if ((copy = malloc(len)) == NULL)
        return attempt_failed(r, 0, SH_ERR_NOMEM, "out of memory opening a reply");
    memcpy(copy, body, len);
    answered(r, copy, len);
    free(copy);
}

static sh_net_peer *guard_peer(sh_onion_caller *c, const sh_onion_node *g)
{
    guard_link *grown;
    sh_net_peer *p;
    sh_net_peer_opts opts = {.fail_fast = true}; /* a dead guard: a new path at once */

    for (size_t i = 0; i < c->n_links; i++)
        if (memcmp(c->links[i].id, g->cand.id, SH_ONION_ID_BYTES) == 0)
            return c->links[i].peer;
    if (sh_net_peer_new(c->net, g->host, g->port, g->link_key, &opts, &p) != SH_OK)
        return NULL;
    if ((grown = realloc(c->links, (c->n_links + 1) * sizeof *grown)) == NULL) {
        sh_net_peer_close(p);
        return NULL;
    }
    c->links = grown;
    memcpy(c->links[c->n_links].id, g->cand.id, SH_ONION_ID_BYTES);
    c->links[c->n_links++].peer = p;
    return p;
}

static int pick_path(call_req *r)
{
    sh_onion_caller *c = r->c;
    int64_t now = now_ms(c);
    size_t dest = c->n_nodes;
    sh_onion_path path;
    int rc;

    for (size_t i = 0; i < c->n_nodes; i++)
        if (memcmp(c->nodes[i].cand.id, r->dest, SH_ONION_ID_BYTES) == 0)
            dest = i;
    if (dest == c->n_nodes)
        return sh_err_set(SH_ERR_NOT_FOUND, "the destination is no longer in the map");
    if ((rc = sh_onion_guards_update(&c->guards, c->cands, c->n_nodes, &c->cfg.policy, now,
                                     c->cfg.uniform, c->cfg.uniform_ctx)) != SH_OK ||
        (rc = sh_onion_path_pick(c->cands, c->n_nodes, &c->guards, &c->avoid, &c->cands[dest],
                                 &c->cfg.policy, now, c->cfg.uniform, c->cfg.uniform_ctx,
                                 &path)) != SH_OK)
        return rc;
    r->path[0] = c->nodes[path.guard];
    r->path[1] = c->nodes[path.middle];
    r->path[2] = c->nodes[dest];
    return SH_OK;
}

static void attempt_start(call_req *r)
{
    sh_onion_caller *c = r->c;
    sh_onion_hop hops[HOPS];
    uint64_t circuit = 0;
    sh_net_peer *peer;
    sh_buf packet;
    int rc;

    r->attempt++;
    r->due_ms = 0;
    memset(r->path, 0, sizeof r->path);
    sh_buf_init(&packet);
    if ((rc = pick_path(r)) != SH_OK)
        goto done;
    for (int i = 0; i < HOPS && rc == SH_OK; i++) {
        rc = sh_onion_node_hop(&r->path[i], now_ms(c), &hops[i]);
        hops[i].reply_timeout_ms = i < HOPS - 1 ? c->cfg.hop_timeout_ms : 0;
    }
    if (rc != SH_OK)
        goto done;
    while (circuit == 0)
        randombytes_buf(&circuit, sizeof circuit);
    if ((rc = sh_buf_append_u64be(&packet, circuit)) != SH_OK)
        goto done;
    {
        sh_buf built;
        sh_buf_init(&built);
        if ((rc = sh_onion_build(hops, HOPS, r->msg.data, r->msg.len, &built, &r->state)) == SH_OK)
            rc = sh_buf_append(&packet, built.data, built.len);
        sh_buf_free(&built);
    }
    if (rc != SH_OK)
        goto done;
    if ((peer = guard_peer(c, &r->path[0])) == NULL) {
        rc = SH_ERR_UNAVAILABLE;
        goto done;
    }
    /* The guard gets the deadline every relay gives its next hop, so no hop learns its place. */
    rc = sh_net_call(peer, "onion", packet.data, packet.len, c->cfg.hop_timeout_ms, on_answer, r);
    if (rc == SH_OK && c->cfg.attempt_cb != NULL) {
        sh_onion_attempt a = {.attempt = r->attempt, .started = true, .message = ""};
        for (int i = 0; i < HOPS; i++)
            a.path[i] = &r->path[i];
        c->cfg.attempt_cb(&a, c->cfg.attempt_ctx);
    }
done:
    sh_buf_free(&packet);
    if (rc != SH_OK)
        attempt_failed(r, 0, rc, "no path: %s", sh_err_msg());
}

static void on_timer(uv_timer_t *t)
{
    sh_onion_caller *c = t->data;
    uint64_t now = uv_now(c->loop);
    bool again = true;

    /* attempt_start may finish (and unlink) requests: rescan after each start. */
    while (again) {
        again = false;
        for (call_req *r = c->reqs; r != NULL; r = r->next)
            if (r->due_ms != 0 && r->due_ms <= now) {
                attempt_start(r);
                again = true;
                break;
            }
    }
    arm_timer(c);
}

int sh_onion_caller_request(sh_onion_caller *c, const uint8_t dest_id[static SH_ONION_ID_BYTES],
                            const char *method, const uint8_t *body, size_t len,
                            sh_onion_answer_cb cb, void *ctx)
{
    return sh_onion_caller_request_service(c, dest_id, "", method, body, len, cb, ctx);
}

int sh_onion_caller_request_service(sh_onion_caller *c,
                                    const uint8_t dest_id[static SH_ONION_ID_BYTES],
                                    const char *service, const char *method, const uint8_t *body,
                                    size_t len, sh_onion_answer_cb cb, void *ctx)
{
    call_req *r;
    bool known = false;
    int rc;

    for (size_t i = 0; i < c->n_nodes; i++)
        known |= memcmp(c->nodes[i].cand.id, dest_id, SH_ONION_ID_BYTES) == 0;
    if (!known)
        return sh_err_set(SH_ERR_NOT_FOUND, "node %02x%02x%02x%02x is not in the map", dest_id[0],
                          dest_id[1], dest_id[2], dest_id[3]);
    if ((r = calloc(1, sizeof *r)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory starting an onion request");
    sh_buf_init(&r->msg);
    if ((rc = sh_onion_request_encode(service, method, body, len, &r->msg)) != SH_OK) {
        sh_buf_free(&r->msg);
        free(r);
        return rc;
    }
    r->c = c;
    memcpy(r->dest, dest_id, SH_ONION_ID_BYTES);
    r->cb = cb;
    r->ctx = ctx;
    r->due_ms = uv_now(c->loop) ? uv_now(c->loop) : 1; /* at once, from the loop */
    r->next = c->reqs;
    c->reqs = r;
    arm_timer(c);
    return SH_OK;
}

static void timer_closed(uv_handle_t *h)
{
    sh_onion_caller *c = h->data;

    free(c->links);
    free(c->nodes);
    free(c->cands);
    free(c);
}

void sh_onion_caller_free(sh_onion_caller *c)
{
    if (c == NULL)
        return;
    c->freeing = true;
    uv_timer_stop(&c->timer);
    for (size_t i = 0; i < c->n_links; i++)
        sh_net_peer_close(c->links[i].peer); /* calls in flight fail here, as cancelled */
    c->n_links = 0;
    while (c->reqs != NULL)
        finish(c->reqs, SH_ERR_CANCELLED, "the onion caller was closed", NULL, 0);
    uv_close((uv_handle_t *)&c->timer, timer_closed);
}
