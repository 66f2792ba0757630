/* Admission at an authority (docs/directory.md "Authorities"): dir.publish and reachability.
 *
 * dir.publish {descriptor}: the descriptor is verified (signatures, freshness), one node may
 * publish at most once per publish_interval_ms (SH_ERR_BUSY), then the registry applies the
 * admission policy. A node that was tested reachable at the same address and link key within
 * retest_ms is answered at once; otherwise the authority tests it (a Noise handshake to the
 * descriptor's address with its link key: any answer to dir.ping proves the node holds the key
 * and listens there) and answers with the result: SH_OK, or SH_ERR_UNAVAILABLE with what went
 * wrong. Only reachable nodes are voted for. Every admitted node is tested again once its last
 * test is retest_ms old. A listed node that fails a test stays in the vote, unchanged, while
 * it is failing: it is tested every failing_retest_ms, and dropped by a failed test that comes
 * at least the policy's drop_grace_ms after its first one; a success meanwhile keeps its place
 * (and its swarm) in the map. */
#include "dir/auth_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"
#include "util/time.h"

#define LOG_AREA SH__DIR_AUTH_LOG
#define DEFAULT_PUBLISH_RATE 20u
#define DEFAULT_PUBLISH_BURST 100u

static void short_id(char out[static 9], const uint8_t key[static 4])
{
    sh__dir_short_id(out, key);
}

static void respond_published(sh_dir_auth *a, sh_net_req *req)
{
    sh__dir_publish_reply r = {.reachable = true};
    sh_buf b;

    r.map_version = a->latest != NULL ? sh_dir_map_version(a->latest) : 0;
    sh_buf_init(&b);
    if (sh__dir_publish_reply_encode(&r, &b) == SH_OK)
        (void)sh_net_respond(req, SH_OK, b.data, b.len, NULL);
    else
        (void)sh_net_respond(req, SH_ERR_INTERNAL, NULL, 0, "%s", sh_err_msg());
    sh_buf_free(&b);
}

/* ---- Reachability tests ------------------------------------------------------------------- */

static void test_unlink(sh_dir_auth *a, sh__reach_test *t)
{
    for (sh__reach_test **p = &a->tests; *p != NULL; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            a->n_tests--;
            return;
        }
}

/* Logs a test result as the change of state it made (registry.c has the states). */
static void log_result(const sh__reach_test *t, const sh_dir_registry_entry *was,
                       const sh_dir_registry_entry *now, int64_t now_ms, const char *error)
{
    char who[9];

    short_id(who, t->identity);
    if (now->reachable && was->listed && !was->reachable)
        sh_log_info(LOG_AREA, "node %s reachable again at %s after %lld ms: it keeps its place",
                    who, t->address, (long long)(now_ms - was->failing_since_ms));
    else if (now->reachable)
        sh_log_info(LOG_AREA, "node %s reachable at %s", who, t->address);
    else if (now->listed)
        sh_log_warn(LOG_AREA, "node %s not reachable at %s: %s; failing for %lld ms, still listed",
                    who, t->address, error, (long long)(now_ms - now->failing_since_ms));
    else if (was->listed)
        sh_log_warn(LOG_AREA, "node %s not reachable at %s: %s; dropped (failing for %lld ms, the "
                    "grace is over)", who, t->address, error,
                    (long long)(was->reachable ? 0 : now_ms - was->failing_since_ms));
    else
        sh_log_warn(LOG_AREA, "node %s not reachable at %s: %s", who, t->address, error);
}

/* Records the result if the registry still holds this node at this address and key. A change
 * to what the node's vote entry says (listed, or its flags) asks for an early round. */
static void record_result(sh_dir_auth *a, const sh__reach_test *t, bool ok, const char *error)
{
    sh_dir_registry_entry was, now;
    int64_t now_ms = sh_time_now_ms();
    size_t i;

    if (sh_dir_registry_find(a->registry, t->identity, &i) != SH_OK ||
        sh_dir_registry_entry_at(a->registry, i, &was) != SH_OK ||
        strcmp(was.node->address, t->address) != 0 || memcmp(was.node->link_key, t->link_key, 32) != 0)
        return;
    (void)sh_dir_registry_set_reachable(a->registry, t->identity, ok, now_ms);
    (void)sh_dir_registry_entry_at(a->registry, i, &now);
    a->dirty = true;
    if (was.listed != now.listed || (now.listed && was.reachable != now.reachable))
        a->change = true;
    log_result(t, &was, &now, now_ms, error);
}

static void on_ping_reply(int status, const char *error_message, const uint8_t *body, size_t len,
                          void *ctx)
{
    sh__reach_test *t = ctx;
    sh_dir_auth *a = t->a;
    /* Any answer came over a link whose handshake proved the node's key. */
    bool ok = status != SH_ERR_TIMEOUT && status != SH_ERR_UNAVAILABLE && status != SH_ERR_CANCELLED;

    (void)body;
    (void)len;
    test_unlink(a, t);
    if (a->closing) {
        if (t->req != NULL)
            (void)sh_net_respond(t->req, SH_ERR_UNAVAILABLE, NULL, 0, "the authority is shutting down");
        free(t);
        return;
    }
    record_result(a, t, ok, error_message != NULL ? error_message : "");
    if (t->req != NULL && ok)
        respond_published(a, t->req);
    else if (t->req != NULL)
        (void)sh_net_respond(t->req, SH_ERR_UNAVAILABLE, NULL, 0, "no Noise handshake with your link "
                             "key at %s: %s", t->address, error_message);
    if (t->peer != NULL)
        sh_net_peer_close(t->peer);
    free(t);
}

static bool test_running(const sh_dir_auth *a, const uint8_t identity[static 32])
{
    for (const sh__reach_test *t = a->tests; t != NULL; t = t->next)
        if (memcmp(t->identity, identity, 32) == 0)
            return true;
    return false;
}

/* Starts a test of `node`; req (may be NULL) is answered with its result. */
static int start_test(sh_dir_auth *a, const sh_dir_node *node, sh_net_req *req)
{
    sh__reach_test *t;
    char host[48];
    uint16_t port;
    int rc;

    if (a->n_tests >= a->cfg.max_tests)
        return sh_err_set(SH_ERR_BUSY, "%u reachability tests are running, the limit; publish "
                          "again later", a->n_tests);
    if ((rc = sh_dir_address_split(node->address, host, &port)) != SH_OK)
        return rc;
    t = calloc(1, sizeof *t);
    if (t == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a reachability test");
    t->a = a;
    memcpy(t->identity, node->identity, 32);
    memcpy(t->link_key, node->link_key, 32);
    snprintf(t->address, sizeof t->address, "%s", node->address);
    rc = sh_net_peer_new(a->net, host, port, node->link_key, NULL, &t->peer);
    if (rc == SH_OK)
        rc = sh_net_call(t->peer, SH_DIR_METHOD_PING, NULL, 0, (uint32_t)a->cfg.reach_timeout_ms,
                         on_ping_reply, t);
    if (rc != SH_OK) {
        if (t->peer != NULL)
            sh_net_peer_close(t->peer);
        free(t);
        return rc;
    }
    t->req = req;
    t->next = a->tests;
    a->tests = t;
    a->n_tests++;
    return SH_OK;
}

void sh__auth_retest(sh_dir_auth *a)
{
    int64_t now = sh_time_now_ms();
    size_t n = sh_dir_registry_count(a->registry);

    for (size_t i = 0; i < n && a->n_tests < a->cfg.max_tests; i++) {
        sh_dir_registry_entry e;

        if (sh_dir_registry_entry_at(a->registry, i, &e) != SH_OK ||
            now - e.tested_ms < (e.listed && !e.reachable ? a->cfg.failing_retest_ms
                                                          : a->cfg.retest_ms) ||
            test_running(a, e.node->identity))
            continue;
        if (start_test(a, e.node, NULL) != SH_OK)
            sh_log_warn(LOG_AREA, "cannot test %s: %s", e.node->address, sh_err_msg());
    }
}

/* ---- dir.publish ----------------------------------------------------------------------------- */

/* One node, one publication per publish_interval_ms. Old entries are forgotten as they age. */
static int check_publish_rate(sh_dir_auth *a, const uint8_t identity[static 32])
{
    int64_t now = sh_time_mono_ms();
    size_t keep = 0;
    int rc = SH_OK;

    for (size_t i = 0; i < a->n_publish_times; i++) {
        sh__publish_time *p = &a->publish_times[i];
        if (now - p->at_ms >= a->cfg.publish_interval_ms)
            continue;
        if (memcmp(p->identity, identity, 32) == 0)
            rc = sh_err_set(SH_ERR_BUSY, "this node published %lld ms ago; one publication per "
                            "%lld ms", (long long)(now - p->at_ms),
                            (long long)a->cfg.publish_interval_ms);
        a->publish_times[keep++] = *p;
    }
    a->n_publish_times = keep;
    if (rc != SH_OK)
        return rc;
    if (keep == 2 * SH_DIR_MAX_NODES)
        return sh_err_set(SH_ERR_BUSY, "too many nodes are publishing; try again later");
    if (a->publish_times == NULL &&
        (a->publish_times = malloc(2 * SH_DIR_MAX_NODES * sizeof *a->publish_times)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory");
    memcpy(a->publish_times[keep].identity, identity, 32);
    a->publish_times[keep].at_ms = now;
    a->n_publish_times++;
    return SH_OK;
}

/* Verifies and admits; *node gets the registry's entry. */
static int admit(sh_dir_auth *a, const uint8_t *body, size_t len, sh_dir_node *node)
{
    Shoal__Dirnet__Publish *pb = NULL;
    int64_t now = sh_time_now_ms();
    int rc = sh__dir_publish_decode(body, len, &pb);

    if (rc == SH_OK)
        rc = sh_dir_descriptor_verify(pb->descriptor.data, pb->descriptor.len, now, node);
    if (rc == SH_OK)
        rc = check_publish_rate(a, node->identity);
    if (rc == SH_OK)
        rc = sh_dir_registry_submit(a->registry, pb->descriptor.data, pb->descriptor.len, now, node);
    if (pb != NULL)
        protobuf_c_message_free_unpacked(&pb->base, NULL);
    return rc;
}

static void on_publish(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    sh_dir_auth *a = ctx;
    sh_dir_registry_entry e;
    sh_dir_node node;
    char who[9] = "?";
    size_t i;
    int rc = admit(a, body, len, &node);

    if (rc == SH_OK) {
        a->dirty = true;
        short_id(who, node.identity);
        rc = sh_dir_registry_find(a->registry, node.identity, &i);
    }
    if (rc == SH_OK)
        rc = sh_dir_registry_entry_at(a->registry, i, &e);
    if (rc == SH_OK && e.reachable && sh_time_now_ms() - e.tested_ms < a->cfg.retest_ms) {
        respond_published(a, req);
        return;
    }
    if (rc == SH_OK && (rc = start_test(a, &node, req)) == SH_OK) {
        sh_log_debug(LOG_AREA, "node %s admitted; testing %s", who, node.address);
        return;
    }
    if (rc == SH_ERR_BUSY)
        sh_log_info(LOG_AREA, "publication refused (%s): %s", sh_err_name(rc), sh_err_msg());
    else
        sh_log_warn(LOG_AREA, "descriptor refused (%s): %s", sh_err_name(rc), sh_err_msg());
    (void)sh_net_respond(req, rc, NULL, 0, "%s", sh_err_msg());
}

int sh__auth_admit_register(sh_dir_auth *a)
{
    sh_net_method_limits limits = {DEFAULT_PUBLISH_RATE, DEFAULT_PUBLISH_BURST};

    if (a->cfg.publish_limits.rate_per_s > 0)
        limits = a->cfg.publish_limits;
    return sh_net_register(a->net, SH_DIR_METHOD_PUBLISH, SH_RPC_CLIENT, on_publish, a, &limits);
}

/* Closing a test's peer cancels its call: on_ping_reply answers the publication and frees it. */
void sh__auth_admit_close(sh_dir_auth *a)
{
    while (a->tests != NULL) {
        sh__reach_test *t = a->tests;
        sh_net_peer *p = t->peer;

        t->peer = NULL;
        sh_net_peer_close(p); /* runs on_ping_reply, which unlinks and frees t */
        if (a->tests == t) {  /* (only if the call had somehow ended without it) */
            test_unlink(a, t);
            if (t->req != NULL)
                (void)sh_net_respond(t->req, SH_ERR_UNAVAILABLE, NULL, 0, "shutting down");
            free(t);
        }
    }
}
