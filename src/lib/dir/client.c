/* The map client of nodes and clients (docs/directory.md "Map client"): keeps the newest map that
 * verified against the network file, on disk and in memory, and refreshes it from any source.
 *
 * A refresh, one at a time:
 *   IDLE --timer or sh_dir_client_refresh--> pick sources (every authority of the network file
 *   and up to max_sources nodes of the map held, shuffled) --> for each source in turn:
 *       dir.map.get {have: our body hash} -> unchanged | diff | full, in slices
 *       -> rebuild and verify (k signatures, version >= ours, valid now)
 *       -> success: adopt (cache file, server, map_cb), IDLE until the next refresh
 *       -> failure (network, refusal, forged, old or expired): remember why, next source
 *   --> no source left: IDLE, retry after retry_ms (doubling up to refresh_ms); the status says
 *       why, preferring "the newest map available expired ..." over network errors.
 * A refresh is due every refresh_ms, and sooner once three quarters of the map's validity has
 * passed. */
#include "dir/rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/err.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/time.h"

#define LOG_AREA "dir"
#define MSG_BYTES 320

typedef struct source {
    char host[48];
    uint16_t port;
    uint8_t link_key[SH_DIR_KEY_BYTES];
    char name[SH_DIR_ADDRESS_MAX + 16];
} source;

struct sh_dir_client {
    sh_net *net;
    const sh_dir_network *network;
    sh_dir_client_config cfg;
    char *cache_path;
    uv_timer_t *timer;
    sh_dir_map *map;                 /* newest verified map, maybe expired */
    int status;
    char message[MSG_BYTES];
    int64_t retry_ms;                /* current backoff */
    bool closing;
    /* The refresh in progress. */
    bool fetching;
    source *sources;
    size_t n_sources, next_source;
    sh_net_peer *peer;
    sh__dir_assembly blob;
    uint32_t kind;
    int best_rc;                     /* the most telling failure of this refresh */
    uint64_t best_version;           /* the version of the map it was about (0: none) */
    char best_msg[MSG_BYTES];
};

static void try_next_source(sh_dir_client *c);
static void schedule(sh_dir_client *c, int64_t delay_ms);

static bool map_valid_now(const sh_dir_map *m, int64_t now)
{
    return m != NULL && now <= sh_dir_map_valid_until(m) &&
           now >= sh_dir_map_valid_after(m) - SH_DIR_CLOCK_SKEW_MS;
}

const sh_dir_map *sh_dir_client_map(const sh_dir_client *c)
{
    return map_valid_now(c->map, sh_time_now_ms()) ? c->map : NULL;
}

const sh_dir_map *sh_dir_client_last_map(const sh_dir_client *c)
{
    return c->map;
}

int sh_dir_client_status(const sh_dir_client *c, const char **message)
{
    int rc = c->status;

    if (rc == SH_OK && !map_valid_now(c->map, sh_time_now_ms())) {
        rc = SH_ERR_STALE; /* it expired since the last refresh */
        if (message != NULL)
            *message = "the map held has expired and no newer one was found yet";
        return rc;
    }
    if (message != NULL)
        *message = c->message;
    return rc;
}

bool sh_dir_client_is_node(const sh_dir_client *c, const uint8_t link_key[static SH_DIR_KEY_BYTES])
{
    return c->map != NULL && sh_dir_map_find_link_key(c->map, link_key) != NULL;
}

/* ---- Adopting a map ---------------------------------------------------------------------- */

/* a then b into dst, cut to fit (messages: a cut sentence beats none). */
static void join_text(char *dst, size_t size, const char *a, const char *b)
{
    size_t n = strnlen(a, size - 1), m = strnlen(b, size - 1 - n);

    memmove(dst, a, n);
    memmove(dst + n, b, m);
    dst[n + m] = '\0';
}

static void set_status(sh_dir_client *c, int rc, const char *msg)
{
    c->status = rc;
    join_text(c->message, sizeof c->message, msg, "");
}

static void save_cache(sh_dir_client *c)
{
    sh_buf b;

    if (c->cache_path == NULL)
        return;
    sh_buf_init(&b);
    if (sh_dir_map_encode(c->map, &b) != SH_OK ||
        sh_fs_write_file(c->cache_path, b.data, b.len, 0644) != SH_OK)
        sh_log_warn(LOG_AREA, "cannot save the map to %s: %s", c->cache_path, sh_err_msg());
    sh_buf_free(&b);
}

/* Takes a verified map that is newer than ours (or ours with more signatures). */
static void adopt(sh_dir_client *c, sh_dir_map *m, const char *from)
{
    bool newer = c->map == NULL || sh_dir_map_version(m) > sh_dir_map_version(c->map);

    sh_dir_map_free(c->map);
    c->map = m;
    save_cache(c);
    if (c->cfg.server != NULL && sh_dir_server_set_map(c->cfg.server, m) != SH_OK)
        sh_log_warn(LOG_AREA, "cannot serve map version %llu: %s",
                    (unsigned long long)sh_dir_map_version(m), sh_err_msg());
    sh_log_info(LOG_AREA, "map version %llu (%zu signatures) from %s%s",
                (unsigned long long)sh_dir_map_version(m), sh_dir_map_signature_count(m), from,
                newer ? "" : ", more signatures");
    if (c->cfg.map_cb != NULL)
        c->cfg.map_cb(c, m, c->cfg.ctx);
}

/* The map held was refused with `rc`: is the fetched one worth keeping? */
static int accept_fetched(sh_dir_client *c, sh_dir_map *m, const char *from)
{
    int64_t now = sh_time_now_ms();
    uint64_t have = c->map != NULL ? sh_dir_map_version(c->map) : 0;
    int rc = sh_dir_map_verify(m, c->network, have, now);

    if (rc != SH_OK) {
        sh_dir_map_free(m);
        return rc;
    }
    if (c->map != NULL && sh_dir_map_version(m) == have &&
        sh_dir_map_signature_count(m) <= sh_dir_map_signature_count(c->map)) {
        sh_dir_map_free(m); /* the same map again: ours is as good */
        return SH_OK;
    }
    adopt(c, m, from);
    return SH_OK;
}

/* ---- One source ---------------------------------------------------------------------------- */

static void end_source(sh_dir_client *c)
{
    sh_net_peer *p = c->peer;

    c->peer = NULL;
    sh__dir_assembly_free(&c->blob);
    if (p != NULL)
        sh_net_peer_close(p);
}

/* How much a failure says: a stale map the most (the network may be down), then refusals of
 * what a source sent, then network errors. */
static int failure_rank(int rc)
{
    if (rc == SH_OK)
        return 0;
    if (rc == SH_ERR_STALE)
        return 3;
    if (rc == SH_ERR_CRYPTO || rc == SH_ERR_PERMISSION || rc == SH_ERR_PROTOCOL ||
        rc == SH_ERR_FORMAT || rc == SH_ERR_CHECKSUM)
        return 2;
    return 1;
}

/* Remembers why a source failed and goes on with the next one. Among equally telling failures,
 * the one about the newest map wins ("version 7 expired 2 h ago" over "version 6 is older"). */
static void source_failed(sh_dir_client *c, int rc, const char *msg, uint64_t version)
{
    const source *s = &c->sources[c->next_source - 1];
    int rank = failure_rank(rc);

    if (rank >= 2)
        sh_log_warn(LOG_AREA, "map from %s refused (%s): %s", s->name, sh_err_name(rc), msg);
    else
        sh_log_info(LOG_AREA, "no map from %s (%s): %s", s->name, sh_err_name(rc), msg);
    if (rank > failure_rank(c->best_rc) ||
        (rank == failure_rank(c->best_rc) && version > c->best_version)) {
        c->best_rc = rc;
        c->best_version = version;
        char name[sizeof s->name + 2];
        join_text(name, sizeof name, s->name, ": ");
        join_text(c->best_msg, sizeof c->best_msg, name, msg);
    }
    end_source(c);
    try_next_source(c);
}

static int send_map_get(sh_dir_client *c);

static void report(sh_dir_client *c)
{
    if (c->cfg.status_cb != NULL)
        c->cfg.status_cb(c, c->status, c->message, c->cfg.ctx);
}

static void refresh_succeeded(sh_dir_client *c)
{
    end_source(c);
    c->fetching = false;
    set_status(c, SH_OK, "");
    c->retry_ms = c->cfg.retry_ms;
    schedule(c, -1);
    report(c);
}

static void finish_blob(sh_dir_client *c, uint64_t version)
{
    const source *s = &c->sources[c->next_source - 1];
    sh_dir_map *m = NULL;
    int rc;

    if (c->kind == SH__DIR_MAP_DIFF) {
        rc = c->map == NULL ? sh_err_set(SH_ERR_PROTOCOL, "a diff arrived, but no map is held")
                            : sh_dir_map_apply_diff(c->map, c->blob.data.data, c->blob.data.len, &m);
    } else {
        rc = sh_dir_map_decode(c->blob.data.data, c->blob.data.len, &m);
    }
    if (rc == SH_OK && sh_dir_map_version(m) != version)
        rc = sh_err_set(SH_ERR_PROTOCOL, "announced version %llu, sent version %llu",
                        (unsigned long long)version, (unsigned long long)sh_dir_map_version(m));
    if (rc == SH_OK)
        rc = accept_fetched(c, m, s->name);
    else
        sh_dir_map_free(m);
    if (rc != SH_OK) {
        source_failed(c, rc, sh_err_msg(), version);
        return;
    }
    refresh_succeeded(c);
}

/* The source has the map we hold: fine if ours is still valid. */
static void source_unchanged(sh_dir_client *c)
{
    int rc = c->map == NULL ? sh_err_set(SH_ERR_PROTOCOL, "said unchanged, but no map is held")
                            : sh_dir_map_verify(c->map, c->network, 0, sh_time_now_ms());

    if (rc != SH_OK) {
        source_failed(c, rc, sh_err_msg(), c->map != NULL ? sh_dir_map_version(c->map) : 0);
        return;
    }
    refresh_succeeded(c);
}

static void on_map_reply(int status, const char *error_message, const uint8_t *body, size_t len,
                         void *ctx)
{
    sh_dir_client *c = ctx;
    sh__dir_map_reply r;
    int rc;

    if (c->closing || c->peer == NULL)
        return;
    if (status != SH_OK) {
        source_failed(c, status, error_message, 0);
        return;
    }
    rc = sh__dir_map_reply_decode(body, len, &r);
    if (rc == SH_OK && r.kind == SH__DIR_MAP_UNCHANGED) {
        sh__dir_map_reply_release(&r);
        source_unchanged(c);
        return;
    }
    if (rc == SH_OK && c->blob.started && r.kind != c->kind)
        rc = sh_err_set(SH_ERR_PROTOCOL, "the kind of blob changed between slices");
    c->kind = rc == SH_OK ? r.kind : c->kind;
    if (rc == SH_OK)
        rc = sh__dir_assembly_add(&c->blob, &r.chunk);
    sh__dir_map_reply_release(&r);
    if (rc == SH_OK && sh__dir_assembly_complete(&c->blob))
        finish_blob(c, r.version);
    else if (rc == SH_OK && (rc = send_map_get(c)) == SH_OK)
        return;
    if (rc != SH_OK)
        source_failed(c, rc, sh_err_msg(), 0);
}

static int send_map_get(sh_dir_client *c)
{
    sh__dir_map_get g = {0};
    sh_buf b;
    int rc;

    if (c->map != NULL) {
        g.has_have = true;
        memcpy(g.have_body_hash, sh_dir_map_body_hash(c->map), SH_DIR_HASH_BYTES);
    }
    sh__dir_assembly_next(&c->blob, &g.blob);
    sh_buf_init(&b);
    rc = sh__dir_map_get_encode(&g, &b);
    if (rc == SH_OK)
        rc = sh_net_call(c->peer, SH_DIR_METHOD_MAP_GET, b.data, b.len, c->cfg.deadline_ms,
                         on_map_reply, c);
    sh_buf_free(&b);
    return rc;
}

static void refresh_failed(sh_dir_client *c)
{
    char msg[MSG_BYTES + 64];

    c->fetching = false;
    if (c->best_rc == SH_OK) {
        c->best_rc = SH_ERR_UNAVAILABLE;
        join_text(c->best_msg, sizeof c->best_msg, "no source could be asked", "");
    }
    snprintf(msg, sizeof msg, "no usable map from %zu sources; %s", c->n_sources, c->best_msg);
    if (map_valid_now(c->map, sh_time_now_ms())) {
        sh_log_info(LOG_AREA, "map refresh failed (keeping version %llu): %s",
                    (unsigned long long)sh_dir_map_version(c->map), msg);
    } else {
        set_status(c, c->best_rc, msg);
        sh_log_warn(LOG_AREA, "no valid map: %s", msg);
    }
    schedule(c, c->retry_ms);
    c->retry_ms = c->retry_ms * 2 > c->cfg.refresh_ms ? c->cfg.refresh_ms : c->retry_ms * 2;
    if (c->cfg.status_cb != NULL)
        c->cfg.status_cb(c, c->best_rc, msg, c->cfg.ctx);
}

static void try_next_source(sh_dir_client *c)
{
    while (c->next_source < c->n_sources) {
        const source *s = &c->sources[c->next_source++];
        sh_net_peer_opts opts = {.fail_fast = true}; /* a dead source: on to the next */
        int rc = sh_net_peer_new(c->net, s->host, s->port, s->link_key, &opts, &c->peer);

        if (rc == SH_OK) {
            sh__dir_assembly_init(&c->blob, SH__DIR_BLOB_MAX_BYTES);
            rc = send_map_get(c);
            if (rc == SH_OK)
                return;
            end_source(c);
        }
        c->peer = NULL;
        sh_log_info(LOG_AREA, "cannot ask %s for the map: %s", s->name, sh_err_msg());
    }
    refresh_failed(c);
}

/* ---- Sources and the refresh timer ---------------------------------------------------------- */

static int add_source(sh_dir_client *c, const char *address, const uint8_t link_key[static 32],
                      const char *what)
{
    source *s = &c->sources[c->n_sources];

    if (c->cfg.self_link_key != NULL && memcmp(link_key, c->cfg.self_link_key, 32) == 0)
        return SH_OK;
    if (sh_dir_address_split(address, s->host, &s->port) != SH_OK)
        return SH_OK; /* the map and the network file hold canonical addresses */
    memcpy(s->link_key, link_key, 32);
    join_text(s->name, sizeof s->name, what, " ");
    join_text(s->name + strlen(s->name), sizeof s->name - strlen(s->name), address, "");
    c->n_sources++;
    return SH_OK;
}

/* Every authority and a random sample of the map's nodes, in random order. */
static int pick_sources(sh_dir_client *c)
{
    size_t n_auth = sh_dir_network_authority_count(c->network), n_nodes = 0;
    const sh_dir_node *nodes = c->map != NULL ? sh_dir_map_nodes(c->map, &n_nodes) : NULL;
    size_t want = n_nodes < c->cfg.max_sources ? n_nodes : c->cfg.max_sources;

    free(c->sources);
    c->sources = calloc(n_auth + want + 1, sizeof *c->sources);
    c->n_sources = c->next_source = 0;
    if (c->sources == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for map sources");
    for (size_t i = 0; i < n_auth; i++) {
        const sh_dir_authority *a = sh_dir_network_authority(c->network, i);
        add_source(c, a->address, a->link_key, "authority");
    }
    for (size_t i = 0; i < want; i++) {
        /* Floyd's sampling would be exact; a few repeats among thousands do no harm. */
        const sh_dir_node *n = &nodes[randombytes_uniform((uint32_t)n_nodes)];
        add_source(c, n->address, n->link_key, "node");
    }
    for (size_t i = c->n_sources; i > 1; i--) {
        size_t j = randombytes_uniform((uint32_t)i);
        source t = c->sources[i - 1];
        c->sources[i - 1] = c->sources[j];
        c->sources[j] = t;
    }
    return SH_OK;
}

void sh_dir_client_refresh(sh_dir_client *c)
{
    if (c->closing || c->fetching)
        return;
    c->fetching = true;
    c->best_rc = SH_OK;
    c->best_version = 0;
    c->best_msg[0] = '\0';
    if (pick_sources(c) != SH_OK) {
        refresh_failed(c);
        return;
    }
    try_next_source(c);
}

static void on_timer(uv_timer_t *t)
{
    sh_dir_client_refresh(t->data);
}

/* delay_ms < 0: the regular refresh of a valid map. */
static void schedule(sh_dir_client *c, int64_t delay_ms)
{
    if (c->closing)
        return;
    if (delay_ms < 0) {
        int64_t now = sh_time_now_ms(), delay = c->cfg.refresh_ms;
        int64_t after = sh_dir_map_valid_after(c->map), until = sh_dir_map_valid_until(c->map);
        int64_t late = until - (until - after) / 4 - now;

        if (late < delay)
            delay = late > c->cfg.retry_ms ? late : c->cfg.retry_ms;
        delay_ms = delay;
    }
    uv_timer_start(c->timer, on_timer, (uint64_t)delay_ms, 0);
}

/* ---- Life cycle --------------------------------------------------------------------------- */

static void load_cache(sh_dir_client *c)
{
    sh_dir_map *m = NULL;
    sh_buf b;
    int rc;

    sh_buf_init(&b);
    rc = sh_fs_read_file(c->cache_path, SH_DIR_MAP_MAX_BYTES, &b);
    if (rc == SH_OK)
        rc = sh_dir_map_decode(b.data, b.len, &m);
    /* Signatures and network only: an expired map still serves as the base of a diff. */
    if (rc == SH_OK)
        rc = sh_dir_map_verify(m, c->network, 0, sh_dir_map_valid_after(m));
    if (rc == SH_OK) {
        c->map = m;
        m = NULL;
        sh_log_info(LOG_AREA, "cached map version %llu from %s",
                    (unsigned long long)sh_dir_map_version(c->map), c->cache_path);
        if (c->cfg.server != NULL && sh_dir_server_set_map(c->cfg.server, c->map) != SH_OK)
            sh_log_warn(LOG_AREA, "cannot serve the cached map: %s", sh_err_msg());
    } else if (rc != SH_ERR_NOT_FOUND) {
        sh_log_warn(LOG_AREA, "ignoring the cached map %s: %s", c->cache_path, sh_err_msg());
    }
    sh_dir_map_free(m);
    sh_buf_free(&b);
}

static void config_defaults(sh_dir_client_config *cfg)
{
    if (cfg->refresh_ms <= 0)
        cfg->refresh_ms = SH_DIR_CLIENT_DEFAULT_REFRESH_MS;
    if (cfg->retry_ms <= 0)
        cfg->retry_ms = SH_DIR_CLIENT_DEFAULT_RETRY_MS;
    if (cfg->retry_ms > cfg->refresh_ms)
        cfg->retry_ms = cfg->refresh_ms;
    if (cfg->deadline_ms == 0)
        cfg->deadline_ms = SH_DIR_CLIENT_DEFAULT_DEADLINE_MS;
    if (cfg->max_sources == 0)
        cfg->max_sources = SH_DIR_CLIENT_DEFAULT_SOURCES;
}

int sh_dir_client_new(uv_loop_t *loop, sh_net *net, const sh_dir_network *network, const sh_dir_client_config *cfg,
                      sh_dir_client **out)
{
    sh_dir_client *c = calloc(1, sizeof *c);

    if (c == NULL || (c->timer = calloc(1, sizeof *c->timer)) == NULL) {
        free(c);
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the map client");
    }
    c->net = net;
    c->network = network;
    if (cfg != NULL)
        c->cfg = *cfg;
    config_defaults(&c->cfg);
    c->cfg.cache_path = NULL;
    if (cfg != NULL && cfg->cache_path != NULL && (c->cache_path = strdup(cfg->cache_path)) == NULL) {
        free(c->timer);
        free(c);
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the map client");
    }
    c->retry_ms = c->cfg.retry_ms;
    set_status(c, SH_ERR_UNAVAILABLE, "no map fetched yet");
    sh__dir_assembly_init(&c->blob, SH__DIR_BLOB_MAX_BYTES);
    uv_timer_init(loop, c->timer);
    c->timer->data = c;
    if (c->cache_path != NULL)
        load_cache(c);
    if (map_valid_now(c->map, sh_time_now_ms()))
        set_status(c, SH_OK, "");
    uv_timer_start(c->timer, on_timer, 0, 0);
    *out = c;
    return SH_OK;
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void sh_dir_client_close(sh_dir_client *c)
{
    if (c == NULL)
        return;
    c->closing = true;
    end_source(c);
    c->timer->data = NULL;
    uv_close((uv_handle_t *)c->timer, timer_closed);
    sh_dir_map_free(c->map);
    free(c->sources);
    free(c->cache_path);
    free(c);
}
