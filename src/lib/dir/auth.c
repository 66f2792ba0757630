/* The running authority's life cycle (docs/directory.md "Authorities", "Persistence"): checks
 * its keys against the network file, restores its registry and latest map from its data folder,
 * registers its methods, authorizes the other authorities' link keys for node methods, and
 * drives everything from one tick timer. Files in the data folder, each written atomically:
 *   registry   AuthorityState (proto/dirnet.proto): descriptors and test results
 *   map        the latest map published or caught up with (the published bytes) */
#include "dir/auth_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/time.h"

#define LOG_AREA SH__DIR_AUTH_LOG
/* The registry is saved at most once per 20 ticks (and at most a minute late), and at shutdown:
 * every publication and every retest changes it, and a file of 4 096 nodes is about 6 MB. */
#define SAVE_TICKS 20
#define SAVE_MAX_MS (60LL * 1000)

void sh_dir_schedule_default(sh_dir_schedule *s)
{
    *s = (sh_dir_schedule){.period_ms = SH_MS_PER_HOUR, .vote_ms = 5 * SH_MS_PER_MINUTE,
                           .sig_ms = 5 * SH_MS_PER_MINUTE, .lifetime_ms = 3 * SH_MS_PER_HOUR,
                           .tick_ms = SH_MS_PER_SECOND, .early = false};
}

void sh_dir_schedule_devnet(sh_dir_schedule *s)
{
    *s = (sh_dir_schedule){.period_ms = 10 * SH_MS_PER_SECOND, .vote_ms = 2 * SH_MS_PER_SECOND,
                           .sig_ms = 2 * SH_MS_PER_SECOND, .lifetime_ms = 5 * SH_MS_PER_MINUTE,
                           .tick_ms = 100, .early = true};
}

int sh_dir_schedule_check(const sh_dir_schedule *s)
{
    if (s->tick_ms <= 0 || s->vote_ms <= s->tick_ms || s->sig_ms <= s->tick_ms)
        return sh_err_set(SH_ERR_RANGE, "the tick (%lld ms) must be shorter than the vote and "
                          "signature phases (%lld and %lld ms)", (long long)s->tick_ms,
                          (long long)s->vote_ms, (long long)s->sig_ms);
    if (s->vote_ms + s->sig_ms >= s->period_ms)
        return sh_err_set(SH_ERR_RANGE, "votes and signatures (%lld ms) must end within the "
                          "period (%lld ms)", (long long)(s->vote_ms + s->sig_ms),
                          (long long)s->period_ms);
    if (s->lifetime_ms < s->period_ms)
        return sh_err_set(SH_ERR_RANGE, "a map's lifetime (%lld ms) must be at least one period "
                          "(%lld ms)", (long long)s->lifetime_ms, (long long)s->period_ms);
    return SH_OK;
}

const sh_dir_map *sh_dir_auth_map(const sh_dir_auth *a)
{
    return a->latest;
}

size_t sh_dir_auth_node_count(const sh_dir_auth *a)
{
    return sh_dir_registry_count(a->registry);
}

void sh__auth_latest(const sh_dir_auth *a, sh__dir_latest *out)
{
    memset(out, 0, sizeof *out);
    if (a->latest == NULL)
        return;
    out->version = sh_dir_map_version(a->latest);
    memcpy(out->body_hash, sh_dir_map_body_hash(a->latest), SH_DIR_HASH_BYTES);
}

/* ---- Persistence -------------------------------------------------------------------------- */

static void save_map(sh_dir_auth *a)
{
    sh_buf b;

    sh_buf_init(&b);
    if (sh_dir_map_encode(a->latest, &b) != SH_OK ||
        sh_fs_write_file(a->map_path, b.data, b.len, 0644) != SH_OK)
        sh_log_error(LOG_AREA, "cannot save map version %llu to %s: %s",
                     (unsigned long long)sh_dir_map_version(a->latest), a->map_path, sh_err_msg());
    sh_buf_free(&b);
}

void sh__auth_set_latest(sh_dir_auth *a, sh_dir_map *m, bool report)
{
    sh_dir_map_free(a->latest);
    a->latest = m;
    save_map(a);
    if (sh_dir_server_set_map(a->server, m) != SH_OK)
        sh_log_error(LOG_AREA, "cannot serve map version %llu: %s",
                     (unsigned long long)sh_dir_map_version(m), sh_err_msg());
    if (report && a->cfg.published_cb != NULL)
        a->cfg.published_cb(m, a->cfg.ctx);
}

static int save_registry(sh_dir_auth *a)
{
    size_t n = sh_dir_registry_count(a->registry);
    sh__dir_state_entry *e = calloc(n + 1, sizeof *e);
    sh_buf b;
    int rc = SH_OK;

    if (e == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory saving the registry");
    for (size_t i = 0; i < n && rc == SH_OK; i++) {
        sh_dir_registry_entry r;
        rc = sh_dir_registry_entry_at(a->registry, i, &r);
        e[i] = (sh__dir_state_entry){r.descriptor, r.descriptor_len, r.reachable,
                                     r.stable_since_ms, r.tested_ms, r.failing_since_ms};
    }
    sh_buf_init(&b);
    if (rc == SH_OK)
        rc = sh__dir_state_encode(sh_dir_network_id(a->network), e, n, &b);
    if (rc == SH_OK)
        rc = sh_fs_write_file(a->registry_path, b.data, b.len, 0600);
    if (rc == SH_OK)
        a->dirty = false;
    else
        sh_log_error(LOG_AREA, "cannot save the registry to %s: %s", a->registry_path, sh_err_msg());
    sh_buf_free(&b);
    free(e);
    return rc;
}

/* Descriptors are verified again as they are restored; expired or no longer admitted ones go. */
static int load_registry(sh_dir_auth *a)
{
    Shoal__Dirnet__AuthorityState *pb = NULL;
    sh__dir_state_entry *e = NULL;
    size_t n = 0, kept = 0;
    int64_t now = sh_time_now_ms();
    sh_buf b;
    int rc;

    sh_buf_init(&b);
    rc = sh_fs_read_file(a->registry_path, SH__DIR_STATE_MAX_BYTES, &b);
    if (rc == SH_ERR_NOT_FOUND) {
        sh_buf_free(&b);
        return SH_OK;
    }
    if (rc == SH_OK)
        rc = sh__dir_state_decode(b.data, b.len, sh_dir_network_id(a->network), &pb, &e, &n);
    for (size_t i = 0; rc == SH_OK && i < n; i++) {
        if (sh_dir_registry_restore(a->registry, e[i].descriptor, e[i].len, now, e[i].reachable,
                                    e[i].stable_since_ms, e[i].failing_since_ms,
                                    e[i].tested_ms) == SH_OK)
            kept++;
        else
            sh_log_info(LOG_AREA, "dropping saved node %zu: %s", i, sh_err_msg());
    }
    if (rc == SH_OK)
        sh_log_info(LOG_AREA, "restored %zu of %zu nodes from %s", kept, n, a->registry_path);
    else
        rc = sh_err_wrap(rc, "reading %s", a->registry_path);
    if (pb != NULL)
        protobuf_c_message_free_unpacked(&pb->base, NULL);
    free(e);
    sh_buf_free(&b);
    return rc;
}

/* The latest map: its signatures must verify, but it may have expired meanwhile (it is still
 * what the next vote builds on). */
static int load_map(sh_dir_auth *a)
{
    sh_dir_map *m = NULL;
    sh_buf b;
    int rc;

    sh_buf_init(&b);
    rc = sh_fs_read_file(a->map_path, SH_DIR_MAP_MAX_BYTES, &b);
    if (rc == SH_ERR_NOT_FOUND) {
        sh_buf_free(&b);
        return SH_OK;
    }
    if (rc == SH_OK)
        rc = sh_dir_map_decode(b.data, b.len, &m);
    if (rc == SH_OK)
        rc = sh_dir_map_verify(m, a->network, 0, sh_dir_map_valid_after(m));
    sh_buf_free(&b);
    if (rc != SH_OK) {
        sh_dir_map_free(m);
        return sh_err_wrap(rc, "reading %s", a->map_path);
    }
    sh_log_info(LOG_AREA, "restored map version %llu from %s",
                (unsigned long long)sh_dir_map_version(m), a->map_path);
    a->latest = m;
    return sh_dir_server_set_map(a->server, m);
}

/* ---- Keys, authorization, the tick --------------------------------------------------------- */

static int check_keys(sh_dir_auth *a)
{
    uint8_t link_pk[SH_DIR_KEY_BYTES];
    const sh_dir_authority *me;
    char who[65];

    memcpy(a->identity, a->identity_sk + 32, SH_DIR_KEY_BYTES);
    if (sh_dir_network_find(a->network, a->identity, &a->self) != SH_OK) {
        sodium_bin2hex(who, sizeof who, a->identity, SH_DIR_KEY_BYTES);
        return sh_err_set(SH_ERR_PERMISSION, "identity %s is not an authority of the network file",
                          who);
    }
    me = sh_dir_network_authority(a->network, a->self);
    crypto_scalarmult_base(link_pk, a->link_sk);
    if (memcmp(link_pk, me->link_key, SH_DIR_KEY_BYTES) != 0)
        return sh_err_set(SH_ERR_PERMISSION, "this authority's link key is not the one the network "
                          "file lists for it (%s)", me->address);
    return SH_OK;
}

/* Node methods of an authority: the other authorities only. */
static bool authorize_cb(const uint8_t key[static SH_NET_KEY_BYTES], const char *method, void *ctx)
{
    sh_dir_auth *a = ctx;

    (void)method;
    for (size_t i = 0; i < a->n_auth; i++)
        if (i != a->self &&
            sodium_memcmp(sh_dir_network_authority(a->network, i)->link_key, key, SH_NET_KEY_BYTES) == 0)
            return true;
    sh_log_warn(LOG_AREA, "refused %s to a caller that is not an authority", method);
    return false;
}

static void on_tick(uv_timer_t *t)
{
    sh_dir_auth *a = t->data;
    int64_t now = sh_time_mono_ms(), every = SAVE_TICKS * a->cfg.schedule.tick_ms;

    sh__auth_round_tick(a);
    sh__auth_retest(a);
    if (a->dirty && now - a->saved_ms >= (every < SAVE_MAX_MS ? every : SAVE_MAX_MS)) {
        (void)save_registry(a);
        a->saved_ms = now;
    }
}

static int make_peers(sh_dir_auth *a)
{
    sh_net_peer_opts opts = {.local_static_sk = a->link_sk};

    a->peers = calloc(a->n_auth, sizeof *a->peers);
    if (a->peers == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the authority's peers");
    for (size_t i = 0; i < a->n_auth; i++) {
        sh__auth_peer *p = &a->peers[i];
        char host[48];
        uint16_t port;
        int rc;

        p->a = a;
        p->index = i;
        p->info = sh_dir_network_authority(a->network, i);
        sh__dir_assembly_init(&p->blob, SH_DIR_VOTE_MAX_BYTES);
        if (i == a->self)
            continue;
        if ((rc = sh_dir_address_split(p->info->address, host, &port)) != SH_OK ||
            (rc = sh_net_peer_new(a->net, host, port, p->info->link_key, &opts, &p->peer)) != SH_OK)
            return rc;
    }
    return SH_OK;
}

static void config_defaults(sh_dir_auth_config *c)
{
    if (c->reach_timeout_ms <= 0)
        c->reach_timeout_ms = SH_DIR_AUTH_DEFAULT_REACH_TIMEOUT_MS;
    if (c->retest_ms <= 0)
        c->retest_ms = SH_DIR_AUTH_DEFAULT_RETEST_MS;
    if (c->failing_retest_ms <= 0)
        c->failing_retest_ms = SH_DIR_AUTH_DEFAULT_FAILING_RETEST_MS;
    if (c->failing_retest_ms > c->retest_ms) /* a failing node is tested at least as often */
        c->failing_retest_ms = c->retest_ms;
    if (c->max_tests == 0)
        c->max_tests = SH_DIR_AUTH_DEFAULT_MAX_TESTS;
    if (c->publish_interval_ms <= 0)
        c->publish_interval_ms = SH_DIR_AUTH_DEFAULT_PUBLISH_INTERVAL_MS;
    if (c->peer_deadline_ms == 0)
        c->peer_deadline_ms = SH_DIR_AUTH_DEFAULT_PEER_DEADLINE_MS;
}

static int setup(sh_dir_auth *a, const sh_dir_auth_config *cfg)
{
    int rc;

    memcpy(a->identity_sk, cfg->identity_sk, SH_DIR_SECRET_KEY_BYTES);
    memcpy(a->link_sk, cfg->link_sk, SH_NET_KEY_BYTES);
    a->cfg.identity_sk = a->cfg.link_sk = NULL;
    a->cfg.data_dir = NULL;
    config_defaults(&a->cfg);
    if ((rc = sh_dir_schedule_check(&a->cfg.schedule)) != SH_OK || (rc = check_keys(a)) != SH_OK)
        return rc;
    if ((rc = sh_fs_mkdir_p(cfg->data_dir, 0700)) != SH_OK ||
        (rc = sh_fs_join(a->registry_path, sizeof a->registry_path, cfg->data_dir, "registry")) != SH_OK ||
        (rc = sh_fs_join(a->map_path, sizeof a->map_path, cfg->data_dir, "map")) != SH_OK)
        return rc;
    if ((rc = sh_dir_registry_new(&cfg->policy, &a->registry)) != SH_OK ||
        (rc = sh_dir_server_new(a->net, a->network, &cfg->server, &a->server)) != SH_OK ||
        (rc = load_map(a)) != SH_OK || (rc = load_registry(a)) != SH_OK ||
        (rc = make_peers(a)) != SH_OK || (rc = sh__auth_admit_register(a)) != SH_OK ||
        (rc = sh__auth_round_register(a)) != SH_OK)
        return rc;
    sh_net_set_authorize(a->net, authorize_cb, a);
    return SH_OK;
}

int sh_dir_auth_new(uv_loop_t *loop, sh_net *net, const sh_dir_network *network,
                    const sh_dir_auth_config *cfg, sh_dir_auth **out)
{
    sh_dir_auth *a = calloc(1, sizeof *a);
    int rc;

    if (a == NULL || (a->tick = calloc(1, sizeof *a->tick)) == NULL) {
        free(a);
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the authority");
    }
    a->loop = loop;
    a->net = net;
    a->network = network;
    a->cfg = *cfg;
    a->n_auth = sh_dir_network_authority_count(network);
    sh_buf_init(&a->my_vote);
    sh__dir_assembly_init(&a->sync_blob, SH__DIR_BLOB_MAX_BYTES);
    uv_timer_init(loop, a->tick);
    a->tick->data = a;
    a->identity_sk = sh_secret_alloc(SH_DIR_SECRET_KEY_BYTES);
    a->link_sk = sh_secret_alloc(SH_NET_KEY_BYTES);
    rc = a->identity_sk == NULL || a->link_sk == NULL
             ? sh_err_set(SH_ERR_NOMEM, "out of memory for the authority's keys")
             : setup(a, cfg);
    if (rc != SH_OK) {
        sh_dir_auth_close(a);
        return rc;
    }
    sh_log_info(LOG_AREA, "authority %zu of %zu (k = %u), %zu nodes, map version %llu", a->self + 1,
                a->n_auth, sh_dir_network_k(network), sh_dir_registry_count(a->registry),
                a->latest != NULL ? (unsigned long long)sh_dir_map_version(a->latest) : 0ull);
    uv_timer_start(a->tick, on_tick, 0, (uint64_t)a->cfg.schedule.tick_ms);
    *out = a;
    return SH_OK;
}

static void tick_closed(uv_handle_t *h)
{
    free(h);
}

void sh_dir_auth_close(sh_dir_auth *a)
{
    if (a == NULL)
        return;
    a->closing = true;
    sh__auth_round_close(a);
    sh__auth_admit_close(a);
    if (a->registry != NULL && a->dirty)
        (void)save_registry(a);
    for (size_t i = 0; a->peers != NULL && i < a->n_auth; i++) {
        if (a->peers[i].peer != NULL)
            sh_net_peer_close(a->peers[i].peer);
        sh__dir_assembly_free(&a->peers[i].blob);
    }
    uv_close((uv_handle_t *)a->tick, tick_closed);
    sh__dir_assembly_free(&a->sync_blob);
    sh_buf_free(&a->my_vote);
    sh_dir_registry_free(a->registry);
    sh_dir_server_free(a->server);
    sh_dir_map_free(a->latest);
    sh_secret_free(a->identity_sk);
    sh_secret_free(a->link_sk);
    free(a->peers);
    free(a->publish_times);
    free(a);
}
