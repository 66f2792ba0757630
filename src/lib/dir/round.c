/* Voting rounds of an authority (docs/directory.md "Voting schedule"). A round is named by its
 * start time in ms; scheduled rounds start at every multiple of period_ms of the wall clock, so
 * authorities agree on them without talking, and in devnet mode ("early") a change starts one at
 * once on a grid of vote_ms/2, which the others join when asked for their vote.
 *
 *          start (boundary, early, or joined on a dir.vote.get)
 *   IDLE ---------------------------------------------------> VOTING
 *    ^      freeze and sign our vote on `latest`; fetch the       |
 *    |      others' votes (dir.vote.get, retried every tick)       | start + vote_ms:
 *    |                                                              | consensus of the votes held
 *    |   fewer than a majority of votes, or no consensus           | (more than half of all
 *    +<-------------------------------------------------------------+  authorities), sign it
 *    |                                                              v
 *    |   start + vote_ms + sig_ms                               SIGNING
 *    +<------------------------------------------------------ fetch the others' signatures of
 *                                                              the same body (dir.sig.get);
 *                                                              publish at k, again at k+1...
 *
 * Catching up: every vote and signature reply says which map the responder holds. A responder
 * with a newer map than ours (we were down, or missed a round's signatures) is asked for it
 * (dir.map.get, full or diff); once it verifies (k signatures; it may have expired) it becomes
 * ours, and a vote frozen on the old map is made again on it. Votes on another map than ours are
 * refused (STALE) and asked for again on the next tick, so authorities converge on one map. */
#include "dir/auth_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"
#include "util/time.h"

#define LOG_AREA SH__DIR_AUTH_LOG
#define PEER_METHOD_RATE 200u
#define PEER_METHOD_BURST 400u

static void send_vote_get(sh__auth_peer *p);
static void send_sync_get(sh__auth_peer *p);

static size_t chunk_bytes(const sh_dir_auth *a)
{
    size_t c = a->cfg.server.chunk_bytes;

    return c > 0 && c < SH_DIR_CHUNK_BYTES ? c : SH_DIR_CHUNK_BYTES;
}

static uint64_t latest_version(const sh_dir_auth *a)
{
    return a->latest != NULL ? sh_dir_map_version(a->latest) : 0;
}

static void peer_name(const sh__auth_peer *p, char out[static 9])
{
    sh__dir_short_id(out, p->info->identity);
}

/* ---- Starting a round: our vote ------------------------------------------------------------ */

static void forget_votes(sh_dir_auth *a)
{
    for (size_t i = 0; i < a->n_auth; i++) {
        sh_dir_vote_free(a->votes[i]);
        a->votes[i] = NULL;
        sh__dir_assembly_free(&a->peers[i].blob);
    }
}

static void reset_round(sh_dir_auth *a)
{
    forget_votes(a);
    sh_dir_map_free(a->consensus);
    a->consensus = NULL;
    a->published_sigs = 0;
    sh_buf_reset(&a->my_vote);
    for (size_t i = 0; i < a->n_auth; i++)
        a->peers[i].differs_logged = false;
}

/* Signs our vote for this round on `latest` (the nodes reachable now). */
static int freeze_vote(sh_dir_auth *a)
{
    const sh_dir_schedule *s = &a->cfg.schedule;
    sh_dir_node *nodes = NULL;
    size_t n = 0;
    int rc;

    forget_votes(a);
    rc = sh_dir_registry_vote_nodes(a->registry, sh_time_now_ms(), &nodes, &n);
    if (rc == SH_OK)
        rc = sh_dir_vote_create(a->network, a->latest, a->identity_sk, a->round,
                                a->round + s->lifetime_ms, nodes, n, &a->my_vote);
    if (rc == SH_OK)
        rc = sh_dir_vote_load(a->my_vote.data, a->my_vote.len, a->network, a->latest,
                              &a->votes[a->self]);
    free(nodes);
    if (rc != SH_OK)
        return rc;
    sh__dir_hash(a->my_vote_digest, a->my_vote.data, a->my_vote.len);
    sh_log_info(LOG_AREA, "round %" PRId64 ": voting for %zu of %zu nodes on map version %llu",
                a->round, n, sh_dir_registry_count(a->registry),
                (unsigned long long)latest_version(a));
    return SH_OK;
}

static void start_round(sh_dir_auth *a, int64_t round, const char *why)
{
    reset_round(a);
    a->round = a->last_round = round;
    a->phase = SH__PHASE_VOTING;
    a->change = false;
    if (sh_dir_registry_expire(a->registry, sh_time_now_ms()) > 0)
        a->dirty = true;
    sh_log_debug(LOG_AREA, "round %" PRId64 " starts (%s)", round, why);
    if (freeze_vote(a) != SH_OK) {
        sh_log_error(LOG_AREA, "round %" PRId64 ": cannot make our vote: %s", round, sh_err_msg());
        a->phase = SH__PHASE_IDLE;
    }
}

/* A round another authority asks about may be joined while idle and not too late. */
static bool joinable(const sh_dir_auth *a, int64_t round, int64_t now)
{
    int64_t slack = a->cfg.schedule.vote_ms / 2;

    return a->phase == SH__PHASE_IDLE && round > a->last_round && now - round < slack &&
           round - now < slack;
}

static void maybe_start(sh_dir_auth *a, int64_t now)
{
    const sh_dir_schedule *s = &a->cfg.schedule;
    int64_t boundary = now - now % s->period_ms, grid = s->vote_ms / 2;
    int64_t early = now - now % grid;

    if (a->phase != SH__PHASE_IDLE)
        return;
    if (boundary > a->last_round && now - boundary < grid) {
        start_round(a, boundary, "scheduled");
        return;
    }
    if (s->early && a->change && early > a->last_round &&
        now - a->last_round >= s->vote_ms + s->sig_ms &&
        boundary + s->period_ms - now > s->vote_ms + s->sig_ms)
        start_round(a, early, "early: the nodes changed");
}

/* ---- Votes of the others --------------------------------------------------------------------- */

static void take_vote(sh_dir_auth *a, sh__auth_peer *p)
{
    sh_dir_vote *v = NULL;
    char who[9];
    int rc = sh_dir_vote_load(p->blob.data.data, p->blob.data.len, a->network, a->latest, &v);

    peer_name(p, who);
    if (rc == SH_OK && memcmp(sh_dir_vote_authority(v), p->info->identity, SH_DIR_KEY_BYTES) != 0)
        rc = sh_err_set(SH_ERR_PROTOCOL, "it sent another authority's vote");
    if (rc == SH_OK && v->valid_after_ms != a->round)
        rc = sh_err_set(SH_ERR_PROTOCOL, "it sent a vote for round %" PRId64, v->valid_after_ms);
    sh__dir_assembly_free(&p->blob);
    if (rc != SH_OK) {
        if (rc == SH_ERR_STALE)
            sh_log_debug(LOG_AREA, "round %" PRId64 ": vote of %s not on our map: %s", a->round,
                         who, sh_err_msg());
        else
            sh_log_warn(LOG_AREA, "round %" PRId64 ": vote of %s refused: %s", a->round, who,
                        sh_err_msg());
        sh_dir_vote_free(v);
        return;
    }
    a->votes[p->index] = v;
    sh_log_debug(LOG_AREA, "round %" PRId64 ": vote of %s (%zu nodes)", a->round, who, v->n_nodes);
}

static void start_sync(sh_dir_auth *a, sh__auth_peer *p)
{
    char who[9];

    if (a->syncing || p->busy)
        return;
    peer_name(p, who);
    sh_log_info(LOG_AREA, "authority %s holds map version %llu, newer than ours (%llu): fetching it",
                who, (unsigned long long)p->latest.version, (unsigned long long)latest_version(a));
    a->syncing = true;
    a->sync_from = p->index;
    a->sync_kind = 0;
    sh__dir_assembly_free(&a->sync_blob);
    send_sync_get(p);
}

static void on_vote_reply(int status, const char *error_message, const uint8_t *body, size_t len,
                          void *ctx)
{
    sh__auth_peer *p = ctx;
    sh_dir_auth *a = p->a;
    sh__dir_vote_reply r;
    int rc;

    p->busy = false;
    if (a->closing)
        return;
    if (status != SH_OK || (rc = sh__dir_vote_reply_decode(body, len, &r)) != SH_OK) {
        sh_log_debug(LOG_AREA, "no vote from %s: %s", p->info->address,
                     status != SH_OK ? error_message : sh_err_msg());
        sh__dir_assembly_free(&p->blob);
        return;
    }
    p->latest = r.latest;
    rc = SH_OK;
    if (r.round != (uint64_t)a->round || a->phase != SH__PHASE_VOTING || a->votes[p->index] != NULL)
        rc = SH_ERR_CANCELLED; /* an answer for a round that is over */
    else if (r.latest.version > latest_version(a)) {
        start_sync(a, p);
        rc = SH_ERR_CANCELLED;
    }
    else if (!r.chunk.present)
        rc = SH_ERR_CANCELLED; /* no vote yet: ask again on the next tick */
    else if ((rc = sh__dir_assembly_add(&p->blob, &r.chunk)) != SH_OK)
        sh_log_warn(LOG_AREA, "vote from %s: %s", p->info->address, sh_err_msg());
    sh__dir_vote_reply_release(&r);
    if (rc != SH_OK)
        sh__dir_assembly_free(&p->blob);
    else if (!sh__dir_assembly_complete(&p->blob))
        send_vote_get(p);
    else
        take_vote(a, p);
}

static void send_vote_get(sh__auth_peer *p)
{
    sh__dir_vote_get g = {.round = (uint64_t)p->a->round};
    sh_buf b;

    sh__dir_assembly_next(&p->blob, &g.blob);
    sh_buf_init(&b);
    if (sh__dir_vote_get_encode(&g, &b) == SH_OK &&
        sh_net_call(p->peer, SH_DIR_METHOD_VOTE_GET, b.data, b.len, p->a->cfg.peer_deadline_ms,
                    on_vote_reply, p) == SH_OK)
        p->busy = true;
    else
        sh__dir_assembly_free(&p->blob);
    sh_buf_free(&b);
}

static void fetch_votes(sh_dir_auth *a)
{
    for (size_t i = 0; i < a->n_auth; i++)
        if (i != a->self && !a->peers[i].busy && a->votes[i] == NULL && !a->syncing)
            send_vote_get(&a->peers[i]);
}

/* ---- Catching up with a newer map ------------------------------------------------------------ */

static void sync_done(sh_dir_auth *a, sh__auth_peer *p, int rc)
{
    char who[9];

    peer_name(p, who);
    a->syncing = false;
    sh__dir_assembly_free(&a->sync_blob);
    if (rc != SH_OK) {
        sh_log_warn(LOG_AREA, "could not catch up with authority %s: %s", who, sh_err_msg());
        return;
    }
    sh_log_info(LOG_AREA, "caught up with map version %llu from authority %s",
                (unsigned long long)latest_version(a), who);
    if (a->phase == SH__PHASE_VOTING && freeze_vote(a) != SH_OK) {
        sh_log_error(LOG_AREA, "round %" PRId64 ": cannot make our vote again: %s", a->round,
                     sh_err_msg());
        a->phase = SH__PHASE_IDLE;
    }
}

static int sync_adopt(sh_dir_auth *a)
{
    sh_dir_map *m = NULL;
    int rc;

    if (a->sync_kind == SH__DIR_MAP_DIFF)
        rc = a->latest == NULL ? sh_err_set(SH_ERR_PROTOCOL, "a diff arrived, but we have no map")
                               : sh_dir_map_apply_diff(a->latest, a->sync_blob.data.data,
                                                       a->sync_blob.data.len, &m);
    else
        rc = sh_dir_map_decode(a->sync_blob.data.data, a->sync_blob.data.len, &m);
    /* Signatures, network and a newer version; it may have expired (we build on it anyway). */
    if (rc == SH_OK)
        rc = sh_dir_map_verify(m, a->network, latest_version(a) + 1, sh_dir_map_valid_after(m));
    if (rc != SH_OK) {
        sh_dir_map_free(m);
        return rc;
    }
    sh__auth_set_latest(a, m, true);
    return SH_OK;
}

static void on_sync_reply(int status, const char *error_message, const uint8_t *body, size_t len,
                          void *ctx)
{
    sh__auth_peer *p = ctx;
    sh_dir_auth *a = p->a;
    sh__dir_map_reply r;
    int rc;

    p->busy = false;
    if (a->closing)
        return;
    if (status != SH_OK) {
        sync_done(a, p, sh_err_set(status, "%s", error_message));
        return;
    }
    rc = sh__dir_map_reply_decode(body, len, &r);
    if (rc == SH_OK && r.kind == SH__DIR_MAP_UNCHANGED)
        rc = sh_err_set(SH_ERR_PROTOCOL, "it says we hold its map already");
    if (rc == SH_OK && a->sync_blob.started && r.kind != a->sync_kind)
        rc = sh_err_set(SH_ERR_PROTOCOL, "the kind of blob changed between slices");
    if (rc == SH_OK) {
        a->sync_kind = r.kind;
        rc = sh__dir_assembly_add(&a->sync_blob, &r.chunk);
    }
    sh__dir_map_reply_release(&r);
    if (rc == SH_OK && !sh__dir_assembly_complete(&a->sync_blob)) {
        send_sync_get(p);
        return;
    }
    if (rc == SH_OK)
        rc = sync_adopt(a);
    sync_done(a, p, rc);
}

static void send_sync_get(sh__auth_peer *p)
{
    sh_dir_auth *a = p->a;
    sh__dir_map_get g = {0};
    sh_buf b;
    int rc;

    if (a->latest != NULL) {
        g.has_have = true;
        memcpy(g.have_body_hash, sh_dir_map_body_hash(a->latest), SH_DIR_HASH_BYTES);
    }
    sh__dir_assembly_next(&a->sync_blob, &g.blob);
    sh_buf_init(&b);
    rc = sh__dir_map_get_encode(&g, &b);
    if (rc == SH_OK)
        rc = sh_net_call(p->peer, SH_DIR_METHOD_MAP_GET, b.data, b.len, a->cfg.peer_deadline_ms,
                         on_sync_reply, p);
    sh_buf_free(&b);
    if (rc == SH_OK)
        p->busy = true;
    else
        sync_done(a, p, rc);
}

/* ---- The consensus and its signatures -------------------------------------------------------- */

static void maybe_publish(sh_dir_auth *a)
{
    size_t n = sh_dir_map_signature_count(a->consensus), n_nodes, n_swarms;
    sh_dir_map *m = NULL;
    sh_buf b;
    int rc;

    if (n < sh_dir_network_k(a->network) || n <= a->published_sigs)
        return;
    sh_buf_init(&b);
    rc = sh_dir_map_encode(a->consensus, &b);
    if (rc == SH_OK)
        rc = sh_dir_map_load(b.data, b.len, a->network, latest_version(a), sh_time_now_ms(), &m);
    sh_buf_free(&b);
    if (rc != SH_OK) {
        sh_log_error(LOG_AREA, "round %" PRId64 ": our consensus does not verify: %s", a->round,
                     sh_err_msg());
        return;
    }
    a->published_sigs = n;
    (void)sh_dir_map_nodes(m, &n_nodes);
    (void)sh_dir_map_swarms(m, &n_swarms);
    sh_log_info(LOG_AREA, "round %" PRId64 ": published map version %llu (%zu of %zu signatures, "
                "%zu nodes, %zu swarms)", a->round, (unsigned long long)sh_dir_map_version(m), n,
                a->n_auth, n_nodes, n_swarms);
    sh__auth_set_latest(a, m, true);
}

static void end_voting(sh_dir_auth *a)
{
    const sh_dir_vote *votes[SH_DIR_MAX_AUTHORITIES];
    size_t n = 0, n_nodes;
    char body[9];

    for (size_t i = 0; i < a->n_auth; i++)
        if (a->votes[i] != NULL)
            votes[n++] = a->votes[i];
    a->phase = SH__PHASE_IDLE;
    if (2 * n <= a->n_auth) {
        sh_log_warn(LOG_AREA, "round %" PRId64 ": votes of %zu of %zu authorities by the deadline; "
                    "no map this round", a->round, n, a->n_auth);
        return;
    }
    if (sh_dir_consensus(a->network, a->latest, votes, n, &a->consensus) != SH_OK ||
        sh_dir_map_sign(a->consensus, a->network, a->identity_sk) != SH_OK) {
        sh_log_error(LOG_AREA, "round %" PRId64 ": no consensus: %s", a->round, sh_err_msg());
        return;
    }
    a->phase = SH__PHASE_SIGNING;
    sh__dir_short_id(body, sh_dir_map_body_hash(a->consensus));
    (void)sh_dir_map_nodes(a->consensus, &n_nodes);
    sh_log_info(LOG_AREA, "round %" PRId64 ": consensus version %llu (body %s, %zu nodes) from %zu "
                "votes", a->round, (unsigned long long)sh_dir_map_version(a->consensus), body,
                n_nodes, n);
    maybe_publish(a);
}

static bool has_signature_of(const sh_dir_map *m, const uint8_t authority[static 32])
{
    uint8_t sig[SH_DIR_SIGNATURE_BYTES];

    return sh_dir_map_signature(m, authority, sig) == SH_OK;
}

static void take_signatures(sh_dir_auth *a, sh__auth_peer *p, const sh__dir_sig_reply *r)
{
    char who[9];

    peer_name(p, who);
    if (memcmp(r->body_hash, sh_dir_map_body_hash(a->consensus), SH_DIR_HASH_BYTES) != 0) {
        if (!p->differs_logged)
            sh_log_warn(LOG_AREA, "round %" PRId64 ": authority %s computed another map (version "
                        "%llu) than ours; did it miss a vote?", a->round, who,
                        (unsigned long long)r->version);
        p->differs_logged = true;
        return;
    }
    for (size_t i = 0; i < r->n_sigs; i++) {
        if (has_signature_of(a->consensus, r->sigs[i].authority))
            continue;
        if (sh_dir_map_add_signature(a->consensus, a->network, r->sigs[i].authority,
                                     r->sigs[i].sig) != SH_OK)
            sh_log_warn(LOG_AREA, "round %" PRId64 ": a signature from %s refused: %s", a->round,
                        who, sh_err_msg());
    }
    maybe_publish(a);
}

static void on_sig_reply(int status, const char *error_message, const uint8_t *body, size_t len,
                         void *ctx)
{
    sh__auth_peer *p = ctx;
    sh_dir_auth *a = p->a;
    sh__dir_sig_reply r;

    p->busy = false;
    if (a->closing)
        return;
    if (status != SH_OK || sh__dir_sig_reply_decode(body, len, &r) != SH_OK) {
        sh_log_debug(LOG_AREA, "no signatures from %s: %s", p->info->address,
                     status != SH_OK ? error_message : sh_err_msg());
        return;
    }
    p->latest = r.latest;
    if (r.round == (uint64_t)a->round && a->phase == SH__PHASE_SIGNING && r.has_body)
        take_signatures(a, p, &r);
}

static void fetch_sigs(sh_dir_auth *a)
{
    for (size_t i = 0; i < a->n_auth; i++) {
        sh__auth_peer *p = &a->peers[i];
        sh_buf b;

        if (i == a->self || p->busy || has_signature_of(a->consensus, p->info->identity))
            continue;
        sh_buf_init(&b);
        if (sh__dir_sig_get_encode((uint64_t)a->round, &b) == SH_OK &&
            sh_net_call(p->peer, SH_DIR_METHOD_SIG_GET, b.data, b.len, a->cfg.peer_deadline_ms,
                        on_sig_reply, p) == SH_OK)
            p->busy = true;
        sh_buf_free(&b);
    }
}

static void end_signing(sh_dir_auth *a)
{
    a->phase = SH__PHASE_IDLE;
    if (a->published_sigs == 0)
        sh_log_warn(LOG_AREA, "round %" PRId64 ": %zu of the %u signatures needed by the deadline; "
                    "no map this round", a->round, sh_dir_map_signature_count(a->consensus),
                    sh_dir_network_k(a->network));
}

void sh__auth_round_tick(sh_dir_auth *a)
{
    const sh_dir_schedule *s = &a->cfg.schedule;
    int64_t now = sh_time_now_ms();

    maybe_start(a, now);
    if (a->phase == SH__PHASE_VOTING) {
        if (now >= a->round + s->vote_ms)
            end_voting(a);
        else
            fetch_votes(a);
    }
    if (a->phase == SH__PHASE_SIGNING) {
        if (now >= a->round + s->vote_ms + s->sig_ms)
            end_signing(a);
        else
            fetch_sigs(a);
    }
}

/* ---- Answering the other authorities --------------------------------------------------------- */

static void respond_body(sh_net_req *req, int rc, const sh_buf *b)
{
    if (rc == SH_OK)
        (void)sh_net_respond(req, SH_OK, b->data, b->len, NULL);
    else
        (void)sh_net_respond(req, rc, NULL, 0, "%s", sh_err_msg());
}

static void on_vote_get(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    sh_dir_auth *a = ctx;
    sh__dir_vote_get g;
    sh__dir_latest latest;
    sh__dir_chunk chunk;
    bool have;
    sh_buf b;
    int rc = sh__dir_vote_get_decode(body, len, &g);

    sh_buf_init(&b);
    if (rc == SH_OK && joinable(a, (int64_t)g.round, sh_time_now_ms()))
        start_round(a, (int64_t)g.round, "joined: another authority asked for our vote");
    have = a->phase != SH__PHASE_IDLE && a->round == (int64_t)g.round && a->my_vote.len > 0;
    if (rc == SH_OK && have)
        rc = sh__dir_chunk_slice(a->my_vote.data, a->my_vote.len, a->my_vote_digest, &g.blob,
                                 chunk_bytes(a), &chunk);
    sh__auth_latest(a, &latest);
    if (rc == SH_OK)
        rc = sh__dir_vote_reply_encode(g.round, &latest, have ? &chunk : NULL, &b);
    respond_body(req, rc, &b);
    sh_buf_free(&b);
}

static void on_sig_get(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    sh_dir_auth *a = ctx;
    sh__dir_sig_reply r = {0};
    uint64_t round;
    sh_buf b;
    int rc = sh__dir_sig_get_decode(body, len, &round);

    sh_buf_init(&b);
    r.round = round;
    sh__auth_latest(a, &r.latest);
    if (rc == SH_OK && a->consensus != NULL && a->round == (int64_t)round) {
        r.has_body = true;
        memcpy(r.body_hash, sh_dir_map_body_hash(a->consensus), SH_DIR_HASH_BYTES);
        r.version = sh_dir_map_version(a->consensus);
        r.n_sigs = a->consensus->n_sigs;
        memcpy(r.sigs, a->consensus->sigs, r.n_sigs * sizeof r.sigs[0]);
    }
    if (rc == SH_OK)
        rc = sh__dir_sig_reply_encode(&r, &b);
    respond_body(req, rc, &b);
    sh_buf_free(&b);
}

int sh__auth_round_register(sh_dir_auth *a)
{
    sh_net_method_limits limits = {PEER_METHOD_RATE, PEER_METHOD_BURST};
    int rc = sh_net_register(a->net, SH_DIR_METHOD_VOTE_GET, SH_RPC_NODE, on_vote_get, a, &limits);

    if (rc == SH_OK)
        rc = sh_net_register(a->net, SH_DIR_METHOD_SIG_GET, SH_RPC_NODE, on_sig_get, a, &limits);
    return rc;
}

void sh__auth_round_close(sh_dir_auth *a)
{
    if (a->peers != NULL)
        reset_round(a);
}
