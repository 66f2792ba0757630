/* Serving the map to anyone (docs/directory.md "Protocol"): every node and authority answers
 * dir.map.get and dir.ping. The server keeps the current map and a few before it; a caller
 * that names the body hash of one of those gets a diff to the current map, one that holds the
 * current map gets "unchanged", anyone else the full map. Encodings and diffs are made once,
 * when a map arrives, so that answering costs no more than copying a slice. */
#include "dir/rpc.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"
#include "util/time.h"

#define LOG_AREA "dir"
#define DEFAULT_MAP_GET_RATE 50u
#define DEFAULT_MAP_GET_BURST 200u

typedef struct served_map {
    sh_dir_map *map;
    sh_buf full;                       /* the published bytes */
    uint8_t full_digest[SH_DIR_HASH_BYTES];
    sh_buf diff;                       /* from this map to the current one (older maps only) */
    uint8_t diff_digest[SH_DIR_HASH_BYTES];
} served_map;

struct sh_dir_server {
    sh_net *net;
    const sh_dir_network *network;
    size_t chunk_bytes;
    served_map recent[SH_DIR_SERVER_RECENT_MAPS]; /* [0] is current, then older ones */
    size_t n;
};

static void served_clear(served_map *m)
{
    sh_dir_map_free(m->map);
    sh_buf_free(&m->full);
    sh_buf_free(&m->diff);
    memset(m, 0, sizeof *m);
}

/* A private copy of a map and its encoding. */
static int served_make(const sh_dir_map *map, served_map *out)
{
    int rc;

    memset(out, 0, sizeof *out);
    sh_buf_init(&out->full);
    sh_buf_init(&out->diff);
    rc = sh_dir_map_encode(map, &out->full);
    if (rc == SH_OK)
        rc = sh_dir_map_decode(out->full.data, out->full.len, &out->map);
    if (rc != SH_OK) {
        served_clear(out);
        return rc;
    }
    sh__dir_hash(out->full_digest, out->full.data, out->full.len);
    return SH_OK;
}

/* Diffs from every older map to the current one. */
static int remake_diffs(sh_dir_server *s)
{
    for (size_t i = 1; i < s->n; i++) {
        int rc = sh_dir_map_diff(s->recent[i].map, s->recent[0].map, &s->recent[i].diff);
        if (rc != SH_OK)
            return rc;
        sh__dir_hash(s->recent[i].diff_digest, s->recent[i].diff.data, s->recent[i].diff.len);
    }
    return SH_OK;
}

int sh_dir_server_set_map(sh_dir_server *s, const sh_dir_map *map)
{
    const sh_dir_map *cur = s->n > 0 ? s->recent[0].map : NULL;
    served_map fresh;
    int rc;

    if (cur != NULL && sh_dir_map_version(map) < sh_dir_map_version(cur))
        return SH_OK;
    if (cur != NULL && sh_dir_map_version(map) == sh_dir_map_version(cur)) {
        if (memcmp(sh_dir_map_body_hash(map), sh_dir_map_body_hash(cur), SH_DIR_HASH_BYTES) != 0) {
            sh_log_warn(LOG_AREA, "two different maps of version %llu; serving the first",
                        (unsigned long long)sh_dir_map_version(map));
            return SH_OK;
        }
        if (sh_dir_map_signature_count(map) <= sh_dir_map_signature_count(cur))
            return SH_OK;
    }
    rc = served_make(map, &fresh);
    if (rc != SH_OK)
        return rc;
    if (cur != NULL && sh_dir_map_version(map) == sh_dir_map_version(cur)) {
        served_clear(&s->recent[0]); /* the same body with more signatures */
    } else {
        if (s->n == SH_DIR_SERVER_RECENT_MAPS)
            served_clear(&s->recent[--s->n]);
        memmove(&s->recent[1], &s->recent[0], s->n * sizeof s->recent[0]);
        s->n++;
    }
    s->recent[0] = fresh;
    sh_buf_free(&s->recent[0].diff);
    return remake_diffs(s);
}

void sh_dir_server_clear(sh_dir_server *s)
{
    for (size_t i = 0; i < s->n; i++)
        served_clear(&s->recent[i]);
    s->n = 0;
}

const sh_dir_map *sh_dir_server_map(const sh_dir_server *s)
{
    return s->n > 0 ? s->recent[0].map : NULL;
}

/* The blob a continuing request names: a full map or a diff to the current one. */
static bool find_blob(const sh_dir_server *s, const uint8_t digest[static 32], uint32_t *kind,
                      uint64_t *version, const sh_buf **blob)
{
    for (size_t i = 0; i < s->n; i++) {
        const served_map *m = &s->recent[i];

        if (memcmp(m->full_digest, digest, 32) == 0) {
            *kind = SH__DIR_MAP_FULL;
            *version = sh_dir_map_version(m->map);
            *blob = &m->full;
            return true;
        }
        if (i > 0 && memcmp(m->diff_digest, digest, 32) == 0) {
            *kind = SH__DIR_MAP_DIFF;
            *version = sh_dir_map_version(s->recent[0].map);
            *blob = &m->diff;
            return true;
        }
    }
    return false;
}

/* What a first request gets: unchanged, a diff from the caller's map, or the full map. */
static const served_map *choose(const sh_dir_server *s, const sh__dir_map_get *g, uint32_t *kind)
{
    *kind = SH__DIR_MAP_FULL;
    if (!g->has_have)
        return &s->recent[0];
    for (size_t i = 0; i < s->n; i++) {
        if (memcmp(sh_dir_map_body_hash(s->recent[i].map), g->have_body_hash, 32) != 0)
            continue;
        *kind = i == 0 ? SH__DIR_MAP_UNCHANGED : SH__DIR_MAP_DIFF;
        return &s->recent[i];
    }
    return &s->recent[0];
}

static int answer_map_get(sh_dir_server *s, const sh__dir_map_get *g, sh_buf *out)
{
    uint64_t version = sh_dir_map_version(s->recent[0].map);
    const sh_buf *blob;
    const uint8_t *digest;
    sh__dir_chunk chunk;
    uint32_t kind;
    int rc;

    if (g->blob.has_digest) {
        if (!find_blob(s, g->blob.digest, &kind, &version, &blob))
            return sh_err_set(SH_ERR_NOT_FOUND, "the map being fetched is no longer served; "
                              "start again");
        digest = g->blob.digest;
    } else {
        const served_map *m = choose(s, g, &kind);
        if (kind == SH__DIR_MAP_UNCHANGED)
            return sh__dir_map_reply_encode(kind, version, NULL, out);
        blob = kind == SH__DIR_MAP_DIFF ? &m->diff : &m->full;
        digest = kind == SH__DIR_MAP_DIFF ? m->diff_digest : m->full_digest;
    }
    rc = sh__dir_chunk_slice(blob->data, blob->len, digest, &g->blob, s->chunk_bytes, &chunk);
    if (rc != SH_OK)
        return rc;
    return sh__dir_map_reply_encode(kind, version, &chunk, out);
}

static void on_map_get(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    sh_dir_server *s = ctx;
    sh__dir_map_get g;
    sh_buf out;
    int rc;

    sh_buf_init(&out);
    rc = sh__dir_map_get_decode(body, len, &g);
    if (rc == SH_OK && s->n == 0)
        rc = sh_err_set(SH_ERR_UNAVAILABLE, "this server has no map yet; try another node or "
                        "an authority");
    if (rc == SH_OK)
        rc = answer_map_get(s, &g, &out);
    if (rc == SH_OK)
        (void)sh_net_respond(req, SH_OK, out.data, out.len, NULL);
    else
        (void)sh_net_respond(req, rc, NULL, 0, "%s", sh_err_msg());
    sh_buf_free(&out);
}

static void on_ping(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    sh_dir_server *s = ctx;
    sh__dir_pong p = {.now_ms = sh_time_now_ms()};
    sh_buf out;

    (void)body;
    (void)len;
    memcpy(p.network_id, sh_dir_network_id(s->network), SH_DIR_HASH_BYTES);
    p.map_version = s->n > 0 ? sh_dir_map_version(s->recent[0].map) : 0;
    sh_buf_init(&out);
    if (sh__dir_pong_encode(&p, &out) == SH_OK)
        (void)sh_net_respond(req, SH_OK, out.data, out.len, NULL);
    else
        (void)sh_net_respond(req, SH_ERR_INTERNAL, NULL, 0, "%s", sh_err_msg());
    sh_buf_free(&out);
}

int sh_dir_server_new(sh_net *net, const sh_dir_network *network, const sh_dir_server_config *cfg,
                      sh_dir_server **out)
{
    sh_net_method_limits limits = {DEFAULT_MAP_GET_RATE, DEFAULT_MAP_GET_BURST};
    sh_dir_server *s = calloc(1, sizeof *s);
    int rc;

    if (s == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the map server");
    s->net = net;
    s->network = network;
    s->chunk_bytes = SH_DIR_CHUNK_BYTES;
    if (cfg != NULL && cfg->chunk_bytes > 0 && cfg->chunk_bytes < SH_DIR_CHUNK_BYTES)
        s->chunk_bytes = cfg->chunk_bytes;
    if (cfg != NULL && cfg->map_get_limits.rate_per_s > 0)
        limits = cfg->map_get_limits;
    if ((rc = sh_net_register(net, SH_DIR_METHOD_MAP_GET, SH_RPC_CLIENT, on_map_get, s, &limits)) != SH_OK ||
        (rc = sh_net_register(net, SH_DIR_METHOD_PING, SH_RPC_CLIENT, on_ping, s, &limits)) != SH_OK) {
        free(s); /* registration failed before any handler could run */
        return rc;
    }
    *out = s;
    return SH_OK;
}

void sh_dir_server_free(sh_dir_server *s)
{
    if (s == NULL)
        return;
    sh_dir_server_clear(s);
    free(s);
}
