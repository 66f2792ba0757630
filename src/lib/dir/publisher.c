/* A node's descriptor publisher (docs/directory.md "Joining as a node"): signs the node's
 * descriptor with its identity and sends it to every authority (dir.publish), each on its own
 * schedule: at once when the onion keys change, again every interval_ms after an authority
 * accepted it, and after retry_ms when one refused it or could not be reached. Each sending is
 * signed afresh (published-at = now), so an authority never holds a newer descriptor than the
 * one arriving. An authority answers after its reachability test, so a success means the node
 * is admitted and reachable. */
#include "dir/rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/err.h"
#include "util/log.h"
#include "util/time.h"

#define LOG_AREA "dir"

typedef struct target {
    sh_dir_publisher *p;
    const sh_dir_authority *authority;
    sh_net_peer *peer;
    bool in_flight;
    bool accepted;          /* the latest keys were accepted */
    uint64_t sent_keys;     /* the key generation of the sending in flight */
    int64_t due_ms;         /* next sending, monotonic; 0 = now */
} target;

struct sh_dir_publisher {
    uv_loop_t *loop;
    sh_net *net;
    const sh_dir_network *network;
    sh_dir_publisher_config cfg;
    uint8_t *identity_sk;   /* secret memory */
    bool have_keys;
    uint64_t keys;          /* generation: bumped by every sh_dir_publisher_set_onion_keys */
    target *targets;
    size_t n;
    uv_timer_t *timer;
    bool closing;
};

static void arm(sh_dir_publisher *p);

size_t sh_dir_publisher_accepted(const sh_dir_publisher *p)
{
    size_t n = 0;

    for (size_t i = 0; i < p->n; i++)
        n += p->targets[i].accepted;
    return n;
}

static void report(target *t, int status, const char *msg)
{
    if (t->p->cfg.result_cb != NULL)
        t->p->cfg.result_cb(t->authority, status, msg, t->p->cfg.ctx);
}

static void on_publish_reply(int status, const char *error_message, const uint8_t *body, size_t len,
                             void *ctx)
{
    target *t = ctx;
    sh_dir_publisher *p = t->p;
    sh__dir_publish_reply r = {0};
    int64_t now = sh_time_mono_ms();

    t->in_flight = false;
    if (p->closing)
        return;
    if (status == SH_OK && sh__dir_publish_reply_decode(body, len, &r) != SH_OK) {
        status = SH_ERR_PROTOCOL;
        error_message = "the authority's answer did not decode";
    }
    if (status == SH_OK) {
        t->accepted = t->sent_keys == p->keys;
        t->due_ms = t->accepted ? now + p->cfg.interval_ms : 0;
        sh_log_info(LOG_AREA, "authority %s admitted this node (its map: version %llu)",
                    t->authority->address, (unsigned long long)r.map_version);
        report(t, SH_OK, "");
    } else {
        t->due_ms = now + p->cfg.retry_ms;
        sh_log_warn(LOG_AREA, "authority %s refused this node's descriptor (%s): %s",
                    t->authority->address, sh_err_name(status), error_message);
        report(t, status, error_message);
    }
    arm(p);
}

static int send_to(sh_dir_publisher *p, target *t)
{
    sh_dir_node node = p->cfg.node;
    sh_buf desc, body;
    int rc;

    sh_buf_init(&desc);
    sh_buf_init(&body);
    node.published_ms = sh_time_now_ms();
    rc = sh_dir_descriptor_sign(&node, p->identity_sk, &desc);
    if (rc == SH_OK)
        rc = sh__dir_publish_encode(desc.data, desc.len, &body);
    if (rc == SH_OK)
        rc = sh_net_call(t->peer, SH_DIR_METHOD_PUBLISH, body.data, body.len, p->cfg.deadline_ms,
                         on_publish_reply, t);
    if (rc == SH_OK) {
        t->in_flight = true;
        t->sent_keys = p->keys;
    }
    sh_buf_free(&desc);
    sh_buf_free(&body);
    return rc;
}

static void on_timer(uv_timer_t *timer)
{
    sh_dir_publisher *p = timer->data;
    int64_t now = sh_time_mono_ms();

    for (size_t i = 0; i < p->n && p->have_keys; i++) {
        target *t = &p->targets[i];

        if (t->in_flight || t->due_ms > now)
            continue;
        if (send_to(p, t) != SH_OK) {
            sh_log_warn(LOG_AREA, "cannot publish to authority %s: %s", t->authority->address,
                        sh_err_msg());
            t->due_ms = now + p->cfg.retry_ms;
        }
    }
    arm(p);
}

/* The timer fires at the earliest due sending that is not in flight. */
static void arm(sh_dir_publisher *p)
{
    int64_t now = sh_time_mono_ms(), next = INT64_MAX;

    if (p->closing || !p->have_keys)
        return;
    for (size_t i = 0; i < p->n; i++)
        if (!p->targets[i].in_flight && p->targets[i].due_ms < next)
            next = p->targets[i].due_ms;
    if (next == INT64_MAX)
        uv_timer_stop(p->timer);
    else
        uv_timer_start(p->timer, on_timer, next > now ? (uint64_t)(next - now) : 0, 0);
}

int sh_dir_publisher_set_onion_keys(sh_dir_publisher *p, const sh_dir_onion_key *current,
                                    const sh_dir_onion_key *next)
{
    sh_dir_node node = p->cfg.node;
    sh_buf check;
    int rc;

    node.onion_current = *current;
    node.onion_next = *next;
    if ((rc = sh_dir_onion_key_sign(&node.onion_current, p->identity_sk)) != SH_OK ||
        (rc = sh_dir_onion_key_sign(&node.onion_next, p->identity_sk)) != SH_OK)
        return rc;
    node.published_ms = sh_time_now_ms();
    sh_buf_init(&check);
    rc = sh_dir_descriptor_sign(&node, p->identity_sk, &check); /* refuses what authorities would */
    sh_buf_free(&check);
    if (rc != SH_OK)
        return rc;
    p->cfg.node = node;
    p->have_keys = true;
    p->keys++;
    for (size_t i = 0; i < p->n; i++) {
        p->targets[i].accepted = false;
        p->targets[i].due_ms = 0;
    }
    arm(p);
    return SH_OK;
}

void sh_dir_publisher_publish_now(sh_dir_publisher *p)
{
    for (size_t i = 0; i < p->n; i++)
        p->targets[i].due_ms = 0;
    arm(p);
}

static int make_targets(sh_dir_publisher *p)
{
    p->n = sh_dir_network_authority_count(p->network);
    p->targets = calloc(p->n, sizeof *p->targets);
    if (p->targets == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the publisher");
    for (size_t i = 0; i < p->n; i++) {
        target *t = &p->targets[i];
        char host[48];
        uint16_t port;
        int rc;

        t->p = p;
        t->authority = sh_dir_network_authority(p->network, i);
        if ((rc = sh_dir_address_split(t->authority->address, host, &port)) != SH_OK ||
            (rc = sh_net_peer_new(p->net, host, port, t->authority->link_key, NULL, &t->peer)) != SH_OK)
            return rc;
    }
    return SH_OK;
}

int sh_dir_publisher_new(uv_loop_t *loop, sh_net *net, const sh_dir_network *network,
                         const sh_dir_publisher_config *cfg, sh_dir_publisher **out)
{
    sh_dir_publisher *p = calloc(1, sizeof *p);
    int rc;

    if (p == NULL || (p->timer = calloc(1, sizeof *p->timer)) == NULL ||
        (p->identity_sk = sh_secret_alloc(SH_DIR_SECRET_KEY_BYTES)) == NULL) {
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory for the publisher");
        goto fail;
    }
    p->loop = loop;
    p->net = net;
    p->network = network;
    p->cfg = *cfg;
    memcpy(p->identity_sk, cfg->identity_sk, SH_DIR_SECRET_KEY_BYTES);
    p->cfg.identity_sk = NULL;
    if (p->cfg.interval_ms <= 0)
        p->cfg.interval_ms = SH_DIR_PUBLISHER_DEFAULT_INTERVAL_MS;
    if (p->cfg.retry_ms <= 0)
        p->cfg.retry_ms = SH_DIR_PUBLISHER_DEFAULT_RETRY_MS;
    if (p->cfg.deadline_ms == 0)
        p->cfg.deadline_ms = SH_DIR_PUBLISHER_DEFAULT_DEADLINE_MS;
    uv_timer_init(loop, p->timer);
    p->timer->data = p;
    rc = make_targets(p);
    if (rc == SH_OK) {
        *out = p;
        return SH_OK;
    }
    sh_dir_publisher_close(p);
    return rc;
fail:
    if (p != NULL) {
        free(p->timer);
        free(p);
    }
    return rc;
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void sh_dir_publisher_close(sh_dir_publisher *p)
{
    if (p == NULL)
        return;
    p->closing = true;
    for (size_t i = 0; i < p->n; i++)
        if (p->targets[i].peer != NULL)
            sh_net_peer_close(p->targets[i].peer);
    uv_close((uv_handle_t *)p->timer, timer_closed);
    sh_secret_free(p->identity_sk);
    free(p->targets);
    free(p);
}
