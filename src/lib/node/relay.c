/* The onion relay of a service node (overview.md "Onion routing"; docs/onion.md "The relay").
 * RPC `onion` carries circuit id (8, big-endian, non-zero) ‖ packet. The node peels its layer
 * (keyring and replay cache kept in the data folder), then, once the batch's replay tags are
 * written (fdatasync'ed on a timer), either forwards the packet to the next node over a pooled
 * link (its own link key) with a fresh random circuit id from the circuit table and the same
 * deadline whatever its position, or, as the destination, runs the request inside on its own
 * storage API over a local link, or on a configured named service over a link to it, and seals
 * the answer. Answers come back as the RPC's
 * body: the next hop's reply with this hop's layer added, or this hop's error block when the next
 * hop failed. One debug line per packet names sizes and peers by short ids, never contents. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "node/join.h"
#include "onion/onion.h"
#include "util/encode.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/time.h"

#define AREA "relay"
#define CIRCUIT_BYTES 8
#define RELAY_MIN_BODY (CIRCUIT_BYTES + SH_ONION_HEADER_BYTES + SH_ONION_BUCKET_1K)
#define RELAY_MAX_BODY (CIRCUIT_BYTES + SH_ONION_PACKET_MAX_BYTES)
#define CIRCUIT_SLACK_MS 1000u /* the circuit outlives its call's deadline by this */
_Static_assert(RELAY_MAX_BODY <= SH_RPC_MAX_BODY_BYTES, "the largest packet fits in one call");

typedef struct out_link {
    uint8_t id[SH_ONION_ID_BYTES];
    sh_net_peer *peer;
} out_link;

typedef struct job job;

struct sh__node_relay {
    sh_node *n;
    sh_onion_epochs epochs;
    sh_onion_keyring *kr;
    sh_onion_replay *rc;
    sh_onion_circuits *circuits;
    sh_dir_map *map;
    uint8_t *link_sk;
    out_link *links;
    size_t n_links;
    sh_net_peer *self;
    sh_net_peer *services[SH_NODE_ONION_SERVICES_MAX];
    uv_timer_t tick, flush, sync;
    job *queue, *queue_tail;
    char keys_path[SH_NODE_PATH_BYTES];
    bool stopping;
    int closed;
    uint64_t relayed, delivered, refused;
};

struct job {
    job *next;
    sh__node_relay *rl;
    sh_net_req *req;
    uint64_t in_link, in_circuit, out_link, out_circuit;
    sh_onion_peeled p;
    uint8_t *buf;    /* circuit id ‖ packet */
    uint8_t *packet; /* buf + CIRCUIT_BYTES */
    size_t len;
    char from[9], to[9];
};

static void short_id(char out[static 9], const uint8_t *key)
{
    sh_hex_encode(out, 9, key, 4);
}

static void job_free(job *j)
{
    sh_onion_peeled_wipe(&j->p);
    free(j->buf);
    free(j);
}

/* Answers the previous hop with this hop's error block (it says why the next hop failed). */
static void fail_block(job *j, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail_block(job *j, int status, const char *fmt, ...)
{
    char msg[SH_ONION_ERROR_MESSAGE_MAX_BYTES + 1];
    sh_buf b;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sh_log_debug(AREA, "onion error: to %s circuit %016" PRIx64 ": %s", j->from, j->in_circuit, msg);
    sh_buf_init(&b);
    if (sh_onion_relay_error(j->p.reply_key, status, msg, &b) == SH_OK)
        (void)sh_net_respond(j->req, SH_OK, b.data, b.len, NULL);
    else
        (void)sh_net_respond(j->req, SH_ERR_NOMEM, NULL, 0, "the relay ran out of memory");
    sh_buf_free(&b);
    job_free(j);
}

/* ---- Forwarding ---------------------------------------------------------------------------- */

static sh_net_peer *out_peer(sh__node_relay *rl, const sh_dir_node *d, uint64_t *link_no)
{
    char host[48];
    uint8_t ip[16];
    size_t ip_len;
    uint16_t port;
    out_link *grown;
    sh_net_peer *p;
    /* A dead next hop is reported back at once (the client retries on a new path). */
    sh_net_peer_opts o = {.local_static_sk = rl->link_sk, .fail_fast = true};

    for (size_t i = 0; i < rl->n_links; i++)
        if (memcmp(rl->links[i].id, d->identity, SH_ONION_ID_BYTES) == 0)
            return *link_no = i + 1, rl->links[i].peer;
    if (sh_dir_address_parse(d->address, ip, &ip_len, &port) != SH_OK)
        return NULL;
    inet_ntop(ip_len == 4 ? AF_INET : AF_INET6, ip, host, sizeof host);
    if (sh_net_peer_new(rl->n->net, host, port, d->link_key, &o, &p) != SH_OK)
        return NULL;
    if ((grown = realloc(rl->links, (rl->n_links + 1) * sizeof *grown)) == NULL) {
        sh_net_peer_close(p);
        return NULL;
    }
    rl->links = grown;
    memcpy(rl->links[rl->n_links].id, d->identity, SH_ONION_ID_BYTES);
    rl->links[rl->n_links++].peer = p;
    *link_no = rl->n_links;
    return p;
}

static void on_forwarded(int status, const char *message, const uint8_t *body, size_t len,
                         void *ctx)
{
    job *j = ctx;
    sh_onion_circuit c;
    uint8_t *reply;

    if (sh_onion_circuits_take(j->rl->circuits, j->out_link, j->out_circuit, &c) != SH_OK) {
        (void)sh_net_respond(j->req, SH_ERR_TIMEOUT, NULL, 0, "the circuit expired");
        return job_free(j);
    }
    sodium_memzero(&c, sizeof c);
    if (status != SH_OK)
        return fail_block(j, status, "next hop %s: %s", j->to, message ? message : "");
    if (!sh_onion_is_bucket(len))
        return fail_block(j, SH_ERR_PROTOCOL, "next hop %s sent a %zu-byte reply", j->to, len);
    if ((reply = malloc(len)) == NULL)
        return fail_block(j, SH_ERR_NOMEM, "out of memory relaying a reply");
    memcpy(reply, body, len);
    (void)sh_onion_wrap_reply(j->p.reply_key, reply, len);
    sh_log_debug(AREA, "onion reply: %s <- %s bucket %zu", j->from, j->to, len);
    (void)sh_net_respond(j->req, SH_OK, reply, len, NULL);
    free(reply);
    job_free(j);
}

static void relay_node(job *j)
{
    sh__node_relay *rl = j->rl;
    const sh_dir_node *d = rl->map ? sh_dir_map_find_node(rl->map, j->p.next_id) : NULL;
    uint32_t deadline = j->p.reply_timeout_ms;
    sh_net_peer *peer;
    int rc;

    short_id(j->to, j->p.next_id);
    if (!(j->p.flags & SH_ONION_FLAG_REPLY))
        return fail_block(j, SH_ERR_UNSUPPORTED, "packets without a reply are not relayed");
    if (d == NULL)
        return fail_block(j, SH_ERR_NOT_FOUND, "next hop %s is not in this relay's map", j->to);
    /* Never the time this hop has left: that shrinks hop by hop and would tell each its place. */
    if (deadline > rl->n->cfg.onion_relay_timeout_ms)
        deadline = rl->n->cfg.onion_relay_timeout_ms;
    if (deadline == 0)
        return fail_block(j, SH_ERR_TIMEOUT, "the packet gives next hop %s no time", j->to);
    if ((peer = out_peer(rl, d, &j->out_link)) == NULL)
        return fail_block(j, SH_ERR_UNAVAILABLE, "cannot open a link to next hop %s: %s", j->to,
                          sh_err_msg());
    if ((rc = sh_onion_circuits_add(rl->circuits, j->in_link, j->in_circuit, j->out_link,
                                    deadline + CIRCUIT_SLACK_MS, j->p.reply_key,
                                    &j->out_circuit)) != SH_OK)
        return fail_block(j, rc, "this relay is busy: %s", sh_err_msg());
    sh_store_u64be(j->buf, j->out_circuit);
    sh_log_debug(AREA, "onion relay: from %s circuit %016" PRIx64 " -> to %s circuit %016" PRIx64
                 " bucket %zu", j->from, j->in_circuit, j->to, j->out_circuit,
                 j->len - SH_ONION_HEADER_BYTES);
    rl->relayed++;
    rc = sh_net_call(peer, "onion", j->buf, j->len + CIRCUIT_BYTES, deadline, on_forwarded, j);
    if (rc != SH_OK) {
        sh_onion_circuit c;
        if (sh_onion_circuits_take(rl->circuits, j->out_link, j->out_circuit, &c) == SH_OK)
            sodium_memzero(&c, sizeof c);
        fail_block(j, rc, "cannot call next hop %s: %s", j->to, sh_err_msg());
    }
}

/* ---- Delivering (this node is the destination) --------------------------------------------- */

static bool deliverable(const char *method)
{
    static const char *const ok[] = {"store", "retrieve", "delete", "expire", "info",
                                     "get_receipts"};

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(method, ok[i]) == 0)
            return true;
    return false;
}

static void answer_sealed(job *j, int status, const char *message, const uint8_t *body, size_t len)
{
    sh_buf ans, reply;
    int rc;

    sh_buf_init(&ans);
    sh_buf_init(&reply);
    if ((rc = sh_onion_response_encode(status, message, body, len, &ans)) == SH_OK)
        rc = sh_onion_seal_reply(&j->p, ans.data, ans.len, 0, &reply);
    if (rc == SH_OK)
        (void)sh_net_respond(j->req, SH_OK, reply.data, reply.len, NULL);
    else
        (void)sh_net_respond(j->req, rc, NULL, 0, "the destination could not seal its answer: %s",
                             sh_err_msg());
    sh_buf_free(&ans);
    sh_buf_free(&reply);
    job_free(j);
}

static void on_delivered(int status, const char *message, const uint8_t *body, size_t len,
                         void *ctx)
{
    answer_sealed(ctx, status, message, body, len);
}

/* The link to a configured named service, opened at first use with this node's link key. */
static int service_peer(sh__node_relay *rl, const char *name, sh_net_peer **out)
{
    const sh_node_config *cfg = &rl->n->cfg;
    sh_net_peer_opts o = {.local_static_sk = rl->link_sk};

    for (size_t i = 0; i < cfg->n_onion_services; i++) {
        const sh_node_onion_service *sv = &cfg->onion_services[i];
        if (strcmp(sv->name, name) != 0)
            continue;
        if (rl->services[i] == NULL) {
            int rc = sh_net_peer_new(rl->n->net, sv->host, sv->port, sv->link_key, &o, &rl->services[i]);
            if (rc != SH_OK)
                return sh_err_wrap(rc, "cannot open a link to service %s", name);
        }
        *out = rl->services[i];
        return SH_OK;
    }
    return sh_err_set(SH_ERR_NOT_FOUND, "this node forwards to no service named \"%s\"", name);
}

static void deliver(job *j)
{
    sh__node_relay *rl = j->rl;
    uint64_t left = sh_net_req_time_left_ms(j->req);
    const uint8_t *msg;
    size_t msg_len;
    sh_onion_request r;
    sh_net_peer *peer = rl->self;
    int rc;

    if ((rc = sh_onion_open_request(&j->p, j->packet + SH_ONION_HEADER_BYTES,
                                    j->len - SH_ONION_HEADER_BYTES, &msg, &msg_len)) != SH_OK) {
        (void)sh_net_respond(j->req, rc, NULL, 0, "destination: %s", sh_err_msg());
        return job_free(j);
    }
    if ((rc = sh_onion_request_parse(msg, msg_len, &r)) != SH_OK)
        return answer_sealed(j, rc, sh_err_msg(), NULL, 0);
    sh_log_debug(AREA, "onion deliver: from %s circuit %016" PRIx64 " bucket %zu request %s%s%s "
                 "(%zu bytes)", j->from, j->in_circuit, j->len - SH_ONION_HEADER_BYTES,
                 r.service, r.service[0] ? "/" : "", r.method, r.len);
    rl->delivered++;
    if (r.service[0] != '\0' && (rc = service_peer(rl, r.service, &peer)) != SH_OK)
        return answer_sealed(j, rc, sh_err_msg(), NULL, 0);
    if (r.service[0] == '\0' && !deliverable(r.method))
        return answer_sealed(j, SH_ERR_NOT_FOUND, "no such method through onion paths", NULL, 0);
    if (left == 0)
        return answer_sealed(j, SH_ERR_TIMEOUT, "no time left", NULL, 0);
    if ((rc = sh_net_call(peer, r.method, r.body, r.len, (uint32_t)left, on_delivered, j)) != SH_OK)
        answer_sealed(j, rc, sh_err_msg(), NULL, 0);
}

/* ---- Receiving ------------------------------------------------------------------------------ */

static void dispatch(job *j)
{
    if (j->p.command == SH_ONION_DELIVER)
        return deliver(j);
    if (j->p.command == SH_ONION_RELAY_NODE)
        return relay_node(j);
    fail_block(j, SH_ERR_UNSUPPORTED, "this relay forwards to no named service");
}

/* Runs once per loop turn after packets were peeled: their replay tags are written first (to
 * the page cache: a killed node keeps them; on_sync bounds what a power loss forgets). */
static void on_flush(uv_timer_t *t)
{
    sh__node_relay *rl = t->data;
    job *q = rl->queue;
    int rc = sh_onion_replay_write(rl->rc);

    rl->queue = rl->queue_tail = NULL;
    while (q != NULL) {
        job *j = q;
        q = q->next;
        if (rc != SH_OK) {
            (void)sh_net_respond(j->req, SH_ERR_IO, NULL, 0, "the relay cannot record packets");
            job_free(j);
        } else {
            dispatch(j);
        }
    }
    if (rc != SH_OK)
        sh_log_error(AREA, "writing the onion replay cache: %s", sh_err_msg());
}

/* Checks the frame of an `onion` call (fuzzed): circuit id ‖ a packet of a valid size. */
int sh__node_relay_body(const uint8_t *body, size_t len, uint64_t *circuit)
{
    if (len < RELAY_MIN_BODY || len > RELAY_MAX_BODY ||
        !sh_onion_is_bucket(len - CIRCUIT_BYTES - SH_ONION_HEADER_BYTES))
        return sh_err_set(SH_ERR_PROTOCOL, "an onion call is a circuit id and a packet of a "
                          "header and a bucket, not %zu bytes", len);
    if ((*circuit = sh_load_u64be(body)) == 0)
        return sh_err_set(SH_ERR_PROTOCOL, "circuit id 0 is not allowed");
    return SH_OK;
}

static void on_onion(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    sh__node_relay *rl = ((sh_node *)ctx)->relay;
    uint64_t circuit;
    job *j;
    int rc;

    if (rl->stopping) {
        (void)sh_net_respond(req, SH_ERR_UNAVAILABLE, NULL, 0, "the node is shutting down");
        return;
    }
    if ((rc = sh__node_relay_body(body, len, &circuit)) != SH_OK) {
        (void)sh_net_respond(req, rc, NULL, 0, "%s", sh_err_msg());
        return;
    }
    if ((j = calloc(1, sizeof *j)) == NULL || (j->buf = malloc(len)) == NULL) {
        free(j);
        (void)sh_net_respond(req, SH_ERR_NOMEM, NULL, 0, "the relay is out of memory");
        return;
    }
    memcpy(j->buf, body, len); /* room for the outgoing circuit id in front */
    j->packet = j->buf + CIRCUIT_BYTES;
    j->len = len - CIRCUIT_BYTES;
    j->rl = rl;
    j->req = req;
    j->in_circuit = circuit;
    j->in_link = sh_load_u64be(sh_net_req_peer_key(req));
    short_id(j->from, sh_net_req_peer_key(req));
    if ((rc = sh_onion_peel(rl->kr, rl->rc, j->packet, j->len, &j->p)) != SH_OK) {
        rl->refused++;
        sh_log_debug(AREA, "onion refused: from %s bucket %zu: %s", j->from,
                     j->len - SH_ONION_HEADER_BYTES, sh_err_msg());
        (void)sh_net_respond(req, rc, NULL, 0, "the hop refused the packet: %s", sh_err_msg());
        return job_free(j);
    }
    sh_log_debug(AREA, "onion in: from %s circuit %016" PRIx64 " bucket %zu epoch %" PRIu64
                 " deadline %" PRIu64 " ms", j->from, circuit, j->len - SH_ONION_HEADER_BYTES,
                 j->p.key_epoch, sh_net_req_time_left_ms(req));
    if (rl->queue_tail != NULL)
        rl->queue_tail->next = j;
    else
        rl->queue = j;
    rl->queue_tail = j;
    if (!uv_is_active((uv_handle_t *)&rl->flush))
        uv_timer_start(&rl->flush, on_flush, 0, 0);
}

/* ---- Keys, map, timers ---------------------------------------------------------------------- */

static void on_expired(void *ctx, const sh_onion_circuit *c)
{
    (void)ctx;
    sh_log_debug(AREA, "onion circuit %016" PRIx64 " expired", c->out_circuit);
}

/* Moves the keyring to now (saving it when keys changed) and drops retired replay epochs. */
static int advance_keys(sh__node_relay *rl)
{
    bool changed = false;
    uint64_t oldest;
    int rc;

    if ((rc = sh_onion_keyring_advance(rl->kr, sh_time_now_ms(), &changed)) != SH_OK)
        return rc;
    if (changed && (rc = sh_onion_keyring_save(rl->kr, rl->keys_path)) != SH_OK)
        return rc;
    if (sh_onion_keyring_oldest(rl->kr, &oldest) == SH_OK)
        (void)sh_onion_replay_retire(rl->rc, oldest);
    return SH_OK;
}

static void on_sync(uv_timer_t *t)
{
    sh__node_relay *rl = t->data;

    if (sh_onion_replay_sync(rl->rc) != SH_OK)
        sh_log_error(AREA, "syncing the onion replay cache: %s", sh_err_msg());
}

static void on_tick(uv_timer_t *t)
{
    sh__node_relay *rl = t->data;

    if (advance_keys(rl) != SH_OK)
        sh_log_error(AREA, "onion keys: %s", sh_err_msg());
    (void)sh_onion_circuits_expire(rl->circuits, on_expired, rl);
}

static int load_keys(sh__node_relay *rl, const char *data_dir)
{
    char replay_dir[SH_NODE_PATH_BYTES];
    int rc;

    if ((rc = sh_fs_join(rl->keys_path, sizeof rl->keys_path, data_dir, SH_NODE_ONION_KEYS_FILE)) != SH_OK ||
        (rc = sh_fs_join(replay_dir, sizeof replay_dir, data_dir, SH_NODE_ONION_REPLAY_DIR)) != SH_OK)
        return rc;
    if (sh_fs_exists(rl->keys_path))
        rc = sh_onion_keyring_load(&rl->epochs, rl->keys_path, &rl->kr);
    else
        rc = sh_onion_keyring_new(&rl->epochs, &rl->kr);
    if (rc != SH_OK)
        return sh_err_wrap(rc, "onion keys in %s", rl->keys_path);
    if ((rc = sh_onion_replay_open(replay_dir, 0, &rl->rc)) != SH_OK)
        return rc;
    if ((rc = advance_keys(rl)) != SH_OK)
        return rc;
    /* A fresh keyring is saved even when advance saw no change from a loaded one. */
    return sh_onion_keyring_save(rl->kr, rl->keys_path);
}

static int load_map(sh__node_relay *rl, const sh_node_config *cfg)
{
    sh_dir_network *net = NULL;
    sh_dir_map *map = NULL;
    sh_buf bytes;
    int rc;

    sh_buf_init(&bytes);
    if (cfg->map_file[0] == '\0')
        return SH_OK;
    if (cfg->network[0] == '\0')
        return sh_err_set(SH_ERR_INVALID, "map_file needs the network file (network) to verify "
                          "the map");
    if ((rc = sh_dir_network_load(cfg->network, &net)) != SH_OK) {
        sh_err_wrap(rc, "the network file %s", cfg->network);
        goto done;
    }
    if ((rc = sh_fs_read_file(cfg->map_file, SH_DIR_MAP_MAX_BYTES, &bytes)) != SH_OK)
        goto done;
    if ((rc = sh_dir_map_load(bytes.data, bytes.len, net, 0, sh_time_now_ms(), &map)) != SH_OK) {
        sh_err_wrap(rc, "the map in %s", cfg->map_file);
        goto done;
    }
    sh_log_info(AREA, "relaying with the map in %s", cfg->map_file);
    rl->map = map;
done:
    sh_buf_free(&bytes);
    sh_dir_network_free(net);
    return rc;
}

void sh_node_set_map(sh_node *n, sh_dir_map *map)
{
    sh__node_relay_set_map(n, map);
}

void sh__node_relay_set_map(sh_node *n, sh_dir_map *map)
{
    sh_dir_map_free(n->relay->map);
    n->relay->map = map;
}

static int open_self(sh__node_relay *rl)
{
    const char *host = rl->n->cfg.listen;

    if (strcmp(host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    return sh_net_peer_new(rl->n->net, host, rl->n->port, rl->n->link_pk, NULL, &rl->self);
}

int sh__node_relay_start(sh_node *n, const sh_node_keys *keys)
{
    sh__node_relay *rl = calloc(1, sizeof *rl);
    sh_net_method_limits lim = {0};
    int rc;

    if (rl == NULL || (rl->link_sk = sh_secret_alloc(SH_NET_KEY_BYTES)) == NULL) {
        free(rl);
        return sh_err_set(SH_ERR_NOMEM, "out of memory starting the onion relay");
    }
    n->relay = rl;
    rl->n = n;
    memcpy(rl->link_sk, keys->link_sk, SH_NET_KEY_BYTES);
    rl->epochs.epoch_ms = (int64_t)n->cfg.onion_epoch_ms;
    rl->epochs.overlap_ms = (int64_t)n->cfg.onion_overlap_ms;
    uv_timer_init(n->loop, &rl->tick);
    uv_timer_init(n->loop, &rl->flush);
    uv_timer_init(n->loop, &rl->sync);
    rl->tick.data = rl->flush.data = rl->sync.data = rl;
    if (rl->epochs.overlap_ms >= rl->epochs.epoch_ms)
        return sh_err_set(SH_ERR_RANGE, "onion_overlap_ms must be below onion_epoch_ms");
    if ((rc = load_keys(rl, n->cfg.data_dir)) != SH_OK ||
        (rc = sh_onion_circuits_new(0, NULL, NULL, &rl->circuits)) != SH_OK ||
        (rc = load_map(rl, &n->cfg)) != SH_OK || (rc = open_self(rl)) != SH_OK ||
        (rc = sh_net_register(n->net, "onion", SH_RPC_CLIENT, on_onion, n, &lim)) != SH_OK)
        return rc;
    {
        uint64_t every = n->cfg.onion_epoch_ms / 8;
        every = every < 1000 ? 1000 : every > 60000 ? 60000 : every;
        uv_timer_start(&rl->tick, on_tick, every, every);
    }
    uv_timer_start(&rl->sync, on_sync, n->cfg.onion_replay_sync_ms, n->cfg.onion_replay_sync_ms);
    return SH_OK;
}

const sh_onion_keyring *sh__node_relay_keyring(const sh_node *n, sh_onion_epochs *epochs)
{
    if (n->relay == NULL || n->relay->kr == NULL)
        return NULL;
    if (epochs != NULL)
        *epochs = n->relay->epochs;
    return n->relay->kr;
}

void sh__node_relay_stop(sh_node *n)
{
    sh__node_relay *rl = n->relay;

    if (rl == NULL || rl->stopping)
        return;
    rl->stopping = true;
    uv_timer_stop(&rl->tick);
    uv_timer_stop(&rl->sync);
    if (uv_is_active((uv_handle_t *)&rl->flush)) {
        uv_timer_stop(&rl->flush);
        on_flush(&rl->flush); /* answers what waits: forwarding fails below */
    }
    for (size_t i = 0; i < rl->n_links; i++)
        sh_net_peer_close(rl->links[i].peer);
    rl->n_links = 0;
    if (rl->self != NULL)
        sh_net_peer_close(rl->self);
    rl->self = NULL;
    for (size_t i = 0; i < SH_NODE_ONION_SERVICES_MAX; i++)
        if (rl->services[i] != NULL)
            sh_net_peer_close(rl->services[i]), rl->services[i] = NULL;
}

static void relay_closed(uv_handle_t *h)
{
    sh__node_relay *rl = h->data;

    if (++rl->closed < 3)
        return; /* the last of the three timers frees */
    free(rl->links);
    free(rl);
}

void sh__node_relay_free(sh_node *n)
{
    sh__node_relay *rl = n->relay;

    if (rl == NULL)
        return;
    n->relay = NULL;
    if (rl->kr != NULL && sh_onion_keyring_save(rl->kr, rl->keys_path) != SH_OK)
        sh_log_error(AREA, "saving the onion keys: %s", sh_err_msg());
    sh_onion_keyring_free(rl->kr);
    if (rl->rc != NULL && sh_onion_replay_close(rl->rc) != SH_OK)
        sh_log_error(AREA, "closing the onion replay cache: %s", sh_err_msg());
    sh_onion_circuits_free(rl->circuits);
    sh_dir_map_free(rl->map);
    sh_secret_free(rl->link_sk);
    uv_close((uv_handle_t *)&rl->tick, relay_closed);
    uv_close((uv_handle_t *)&rl->flush, relay_closed);
    uv_close((uv_handle_t *)&rl->sync, relay_closed);
}

/* "name host:port link-key-hex": a name the onion request may give, and where the service
 * listens with which link key. Untrusted (a config file), fuzzed through the config target. */
int sh__node_onion_service_add(sh_node_config *c, const char *value)
{
    char name[SH_NODE_SERVICE_NAME_MAX + 2], addr[80], key[66], extra[2];
    uint8_t ip[16];
    size_t ip_len;
    uint16_t port;
    sh_node_onion_service *sv;

    if (sscanf(value, "%65s %79s %65s %1s", name, addr, key, extra) != 3)
        return sh_err_set(SH_ERR_INVALID, "onion_service needs `name host:port link-key-hex`");
    if (strlen(name) > SH_NODE_SERVICE_NAME_MAX || strspn(name, "abcdefghijklmnopqrstuvwxyz"
                                                                 "0123456789_.-") != strlen(name))
        return sh_err_set(SH_ERR_INVALID, "service name \"%.65s\" is not 1-64 of [a-z0-9_.-]", name);
    if (sh_dir_address_parse(addr, ip, &ip_len, &port) != SH_OK)
        return sh_err_set(SH_ERR_INVALID, "service %s: \"%.79s\" is not ip:port", name, addr);
    for (size_t i = 0; i < c->n_onion_services; i++)
        if (strcmp(c->onion_services[i].name, name) == 0)
            return sh_err_set(SH_ERR_INVALID, "service %s is named twice", name);
    if (c->n_onion_services == SH_NODE_ONION_SERVICES_MAX)
        return sh_err_set(SH_ERR_LIMIT, "at most %d onion services", SH_NODE_ONION_SERVICES_MAX);
    sv = &c->onion_services[c->n_onion_services];
    if (sh_hex_decode(sv->link_key, 32, key) != SH_OK)
        return sh_err_set(SH_ERR_INVALID, "service %s: the link key must be 64 hex digits", name);
    strcpy(sv->name, name);
    inet_ntop(ip_len == 4 ? AF_INET : AF_INET6, ip, sv->host, sizeof sv->host);
    sv->port = port;
    c->n_onion_services++;
    return SH_OK;
}
