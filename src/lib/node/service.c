/* The node object (node/node.h): start-up (data folder, store, net, methods, sweeper), the
 * sweeper on a uv timer, error answers, and the graceful shutdown.
 *
 * Shutdown, in order (sh_node_shutdown):
 *   1. stopping: long-polls are answered with what they have; the sweeper stops; no new waits.
 *   2. sh_net_shutdown: no new links or calls; calls in flight finish, stores when their
 *      transaction has committed (the store keeps committing meanwhile).
 *   3. when the net has closed: sh_store_close commits whatever is still queued and runs the last
 *      callbacks (their answers go nowhere: the links are gone); then done_cb, and the node is
 *      freed. The caller runs the loop until it returns, so the store's handles close too. */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "node/join.h"
#include "storage.pb-c.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/time.h"
#include "wire/pb.h"

unsigned sh__node_pow_now(sh_node *n)
{
    return sh__node_pow_required(&n->load, sh_time_mono_ms(), n->writes_in_flight,
                                 SH_STORE_QUEUE_MAX_JOBS, &n->cfg);
}

void sh__node_fail(sh_node *n, sh_net_req *req, sh_node_method method, int status,
                   const char *message)
{
    Shoal__Storage__ErrorResponse m = SHOAL__STORAGE__ERROR_RESPONSE__INIT;
    uint8_t body[32];
    size_t len;

    if (status >= 0)
        status = SH_ERR_INTERNAL;
    sh__node_count_reject(&n->m, method, status);
    m.node_time_ms = (uint64_t)sh_time_now_ms();
    m.pow_bits = sh__node_pow_now(n);
    len = protobuf_c_message_pack(&m.base, body);
    sh_log_debug(SH_NODE_LOG_AREA, "%s refused (%s): %s", sh_node_method_name(method)
                 ? sh_node_method_name(method) : "call", sh_err_name(status), message);
    (void)sh_net_respond(req, status, body, len, "%s", message);
}

/* ---- Sweeper ---------------------------------------------------------------------------------- */

static void sweep_cb(void *ctx, int status, uint64_t removed);

static void sweep_now(sh_node *n)
{
    if (n->sweeping || n->stopping)
        return;
    if (sh_store_submit_sweep(n->store, n->cfg.sweep_rows, sweep_cb, n) == SH_OK) {
        n->sweeping = true;
    } else {
        n->m.sweep_errors++;
        sh_log_warn(SH_NODE_LOG_AREA, "cannot start a sweep: %s", sh_err_msg());
    }
}

static void sweep_cb(void *ctx, int status, uint64_t removed)
{
    sh_node *n = ctx;

    n->sweeping = false;
    n->m.sweeps++;
    if (status != SH_OK) {
        n->m.sweep_errors++;
        sh_log_warn(SH_NODE_LOG_AREA, "sweeping expired messages failed: %s", sh_err_msg());
        return;
    }
    n->m.swept_rows += removed;
    if (removed >= n->cfg.sweep_rows)
        sweep_now(n); /* more are due: go on at once, one short transaction at a time */
}

static void on_sweep_timer(uv_timer_t *t)
{
    sweep_now(t->data);
}

/* ---- Start ------------------------------------------------------------------------------------ */

static int open_store(sh_node *n)
{
    char path[SH_NODE_PATH_BYTES];
    sh_store_options o;
    int rc;

    if ((rc = sh_fs_mkdir_p(n->cfg.data_dir, 0700)) != SH_OK ||
        (rc = sh_fs_join(path, sizeof path, n->cfg.data_dir, SH_NODE_DB_FILE)) != SH_OK)
        return rc;
    sh_store_options_default(&o);
    o.loop = n->loop;
    o.max_msgs_per_ns = n->cfg.max_msgs_per_ns;
    o.max_bytes_per_ns = n->cfg.max_bytes_per_ns;
    o.commit_linger_us = n->cfg.commit_linger_us;
    return sh_store_open(path, &o, &n->store);
}

static bool authorize_cb(const uint8_t key[static SH_NET_KEY_BYTES], const char *method, void *ctx)
{
    sh_node *n = ctx;

    /* `stats` only for the operator, who holds the node's link key; the swarm's methods for the
     * nodes of the current map. */
    if (strcmp(method, "stats") == 0)
        return sh_ct_equal(key, n->link_pk, SH_NET_KEY_BYTES);
    if (!sh__node_join_authorize(n, key, method)) {
        sh_log_info(SH_NODE_LOG_AREA, "refused %s to a caller that is not a node of the map",
                    method);
        return false;
    }
    return true;
}

static int open_net(sh_node *n, const sh_node_keys *keys)
{
    sh_net_config nc;
    int rc;

    sh_net_config_default(&nc);
    nc.peer_rate_per_s = n->cfg.peer_rate_per_s;
    nc.peer_burst = n->cfg.peer_burst;
    nc.max_links = n->cfg.max_links;
    nc.shutdown_timeout_ms = n->cfg.shutdown_timeout_ms;
    if ((rc = sh_net_new(n->loop, &nc, &n->net)) != SH_OK)
        return rc;
    sh_net_set_authorize(n->net, authorize_cb, n);
    if ((rc = sh__node_register(n)) != SH_OK ||
        (rc = sh_net_listen(n->net, n->cfg.listen, n->cfg.port, keys->link_sk, &n->port)) != SH_OK)
        return rc;
    if ((rc = sh__node_relay_start(n, keys)) != SH_OK)
        return rc;
    /* A static map (map_file) means the node relays with it and does not join. */
    return n->cfg.network[0] != '\0' && n->cfg.map_file[0] == '\0' ? sh__node_join_start(n, keys)
                                                                     : SH_OK;
}

static void free_node(sh_node *n)
{
    sh__node_relay_free(n);
    sh__node_replay_free(&n->replay);
    free(n);
}

static void sweep_timer_closed(uv_handle_t *h)
{
    free_node(h->data);
}

int sh_node_start(uv_loop_t *loop, const sh_node_config *cfg, const sh_node_keys *keys,
                  sh_node **out)
{
    sh_node *n = calloc(1, sizeof *n);
    int rc;

    if (n == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory starting the node");
    n->loop = loop;
    n->cfg = *cfg;
    memcpy(n->identity_pk, keys->ed25519_pk, 32);
    memcpy(n->link_pk, keys->link_pk, 32);
    n->started_mono_ms = sh_time_mono_ms();
    sh__node_waiters_init(&n->waiters);
    sh__node_keycache_init(&n->keys);
    if ((rc = sh__node_replay_init(&n->replay, SH_NODE_REPLAY_WINDOW_MS,
                                   SH_NODE_REPLAY_MAX_ENTRIES)) != SH_OK)
        goto fail;
    if ((rc = open_store(n)) != SH_OK) {
        sh_err_wrap(rc, "opening the message store in %s", cfg->data_dir);
        goto fail;
    }
    if ((rc = open_net(n, keys)) != SH_OK) {
        sh_err_wrap(rc, "listening on %s port %u", cfg->listen, cfg->port);
        goto fail;
    }
    uv_timer_init(loop, &n->sweep_timer);
    n->sweep_timer.data = n;
    uv_timer_start(&n->sweep_timer, on_sweep_timer, n->cfg.sweep_interval_ms,
                   n->cfg.sweep_interval_ms);
    *out = n;
    return SH_OK;
fail:
    sh__node_join_stop(n);
    if (n->net != NULL)
        sh_net_close(n->net, NULL, NULL);
    sh__node_join_free(n);
    sh_store_close(n->store);
    free_node(n);
    return rc;
}

uint16_t sh_node_port(const sh_node *n)
{
    return n->port;
}

/* ---- Shutdown --------------------------------------------------------------------------------- */

static void net_closed(void *ctx)
{
    sh_node *n = ctx;

    n->net = NULL;
    sh__node_join_free(n);
    sh_store_close(n->store); /* commits what is queued; the last callbacks run here */
    n->store = NULL;
    sh_log_info(SH_NODE_LOG_AREA, "stopped");
    if (n->done_cb != NULL)
        n->done_cb(n->done_ctx);
    uv_close((uv_handle_t *)&n->sweep_timer, sweep_timer_closed);
}

void sh_node_shutdown(sh_node *n, void (*done_cb)(void *ctx), void *ctx)
{
    if (n->stopping)
        return;
    n->stopping = true;
    n->done_cb = done_cb;
    n->done_ctx = ctx;
    sh_log_info(SH_NODE_LOG_AREA, "shutting down: finishing calls in flight");
    uv_timer_stop(&n->sweep_timer);
    sh__node_wake_all(n);
    sh__node_relay_stop(n);
    sh__node_join_stop(n);
    sh_net_shutdown(n->net, net_closed, n);
}
