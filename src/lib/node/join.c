/* The node joins its network (docs/swarm.md "Joining"; docs/directory.md "Joining as
 * a node"; overview.md "Network"): it serves the map to anyone (dir.map.get), fetches, verifies
 * and refreshes it into DATA/map, publishes its signed descriptor to the authorities with the
 * current and next onion keys of the relay's keyring (node/relay.c, turned by epoch), lets only the
 * nodes of the map call node methods, and follows its swarm and its peers from map to map. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "node/join.h"
#include "util/encode.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/time.h"

#define KEY_TIMER_MS 1000 /* how often the relay's keyring is looked at */

const sh_dir_map *sh__node_map(const sh_node *n)
{
    return n->swarm != NULL ? sh_dir_client_last_map(n->swarm->client) : NULL;
}

bool sh__node_join_authorize(sh_node *n, const uint8_t key[static 32], const char *method)
{
    sh__node_swarm *s = n->swarm;

    if (s == NULL || s->closing)
        return false;
    if (strcmp(method, "stats") == 0)
        return false; /* the operator's own key only, checked by the caller */
    return sh_dir_client_is_node(s->client, key);
}

sh__node_peer *sh__node_peer_by_link(sh_node *n, const uint8_t key[static 32])
{
    sh__node_swarm *s = n->swarm;

    for (size_t i = 0; s != NULL && i < s->n_peers; i++)
        if (sh_ct_equal(s->peers[i].link_key, key, 32))
            return &s->peers[i];
    return NULL;
}

/* ---- Onion keys --------------------------------------------------------------------------------- */

/* Publishes the relay's current and next onion keys when they differ from the last published
 * (the relay turns its keyring by epoch; this only follows it). */
static int publish_keys(sh__node_swarm *s, bool force)
{
    sh_onion_epochs epochs;
    const sh_onion_keyring *kr = sh__node_relay_keyring(s->n, &epochs);
    sh_dir_onion_key k[2];
    int rc;

    if (kr == NULL)
        return sh_err_set(SH_ERR_INTERNAL, "the node has no onion keyring");
    memset(k, 0, sizeof k);
    for (int i = 0; i < 2; i++) {
        if ((rc = sh_onion_keyring_public(kr, i == 0 ? SH_ONION_SLOT_CURRENT : SH_ONION_SLOT_NEXT,
                                          &k[i].epoch, k[i].public_key)) != SH_OK)
            return rc;
        sh_onion_epoch_window(&epochs, k[i].epoch, &k[i].valid_after_ms, &k[i].valid_until_ms);
    }
    if (!force && k[0].epoch == s->published_epoch &&
        memcmp(k[0].public_key, s->published_key, 32) == 0)
        return SH_OK;
    s->published_epoch = k[0].epoch;
    memcpy(s->published_key, k[0].public_key, 32);
    sh_log_info(SH_NODE_LOG_AREA, "onion keys of epochs %llu and %llu published",
                (unsigned long long)k[0].epoch, (unsigned long long)k[1].epoch);
    return sh_dir_publisher_set_onion_keys(s->pub, &k[0], &k[1]);
}

static void on_key_timer(uv_timer_t *t)
{
    sh__node_swarm *s = t->data;

    if (publish_keys(s, false) != SH_OK)
        sh_log_warn(SH_NODE_LOG_AREA, "cannot publish the onion keys: %s", sh_err_msg());
}

/* ---- The swarm from the map ------------------------------------------------------------------- */

static int open_peer(sh__node_swarm *s, const sh_dir_node *m, sh__node_peer *p)
{
    sh_net_peer_opts opts = {.local_static_sk = s->link_sk};
    char host[48];
    uint16_t port;
    int rc;

    memset(p, 0, sizeof *p);
    memcpy(p->identity, m->identity, 32);
    memcpy(p->link_key, m->link_key, 32);
    snprintf(p->address, sizeof p->address, "%s", m->address);
    if ((rc = sh_dir_address_split(m->address, host, &port)) != SH_OK)
        return rc;
    return sh_net_peer_new(s->n->net, host, port, m->link_key, &opts, &p->peer);
}

sh_net_peer *sh__node_other_peer(sh_node *n, const sh_dir_node *m)
{
    sh__node_swarm *s = n->swarm;
    sh__node_peer *p;

    for (size_t i = 0; i < s->n_others; i++)
        if (memcmp(s->others[i].link_key, m->link_key, 32) == 0 &&
            strcmp(s->others[i].address, m->address) == 0)
            return s->others[i].peer;
    if (s->n_others < SH__NODE_MAX_PEERS) {
        p = &s->others[s->n_others++];
    } else {
        p = &s->others[s->next_other++ % SH__NODE_MAX_PEERS];
        if (p->peer != NULL) {
            sh__node_pushq_forget(n, p->peer);
            sh_net_peer_close(p->peer);
        }
    }
    if (open_peer(s, m, p) != SH_OK) {
        memset(p, 0, sizeof *p); /* matches no key */
        return NULL;
    }
    return p->peer;
}

/* The peer we already hold for this member (same keys and address), taken out of `old`. */
static bool reuse_peer(sh__node_peer *old, size_t n_old, const sh_dir_node *m, sh__node_peer *out)
{
    for (size_t i = 0; i < n_old; i++) {
        sh__node_peer *p = &old[i];
        if (p->peer != NULL && memcmp(p->identity, m->identity, 32) == 0 &&
            memcmp(p->link_key, m->link_key, 32) == 0 && strcmp(p->address, m->address) == 0) {
            *out = *p;
            p->peer = NULL;
            return true;
        }
    }
    return false;
}

static void set_peers(sh__node_swarm *s, const sh_dir_node **members, size_t count)
{
    static sh__node_peer old[SH__NODE_MAX_PEERS];
    size_t n_old = s->n_peers;

    memcpy(old, s->peers, n_old * sizeof *old);
    s->n_peers = 0;
    for (size_t i = 0; i < count && s->n_peers < SH__NODE_MAX_PEERS; i++) {
        sh__node_peer *p = &s->peers[s->n_peers];
        if (memcmp(members[i]->identity, s->n->identity_pk, 32) == 0)
            continue;
        if (reuse_peer(old, n_old, members[i], p) || open_peer(s, members[i], p) == SH_OK)
            s->n_peers++;
        else
            sh_log_warn(SH_NODE_LOG_AREA, "cannot reach swarm peer at %s: %s",
                        members[i]->address, sh_err_msg());
    }
    for (size_t i = 0; i < n_old; i++)
        if (old[i].peer != NULL) {
            sh__node_pushq_forget(s->n, old[i].peer);
            sh_net_peer_close(old[i].peer);
        }
}

/* Whether the map's swarms differ from the last map's (then owners moved). */
static bool swarms_changed(sh__node_swarm *s, const sh_dir_map *map)
{
    uint8_t h[32];
    size_t n = 0;
    const uint64_t *ids = sh_dir_map_swarm_ids(map, &n);
    bool changed;

    crypto_generichash(h, sizeof h, (const uint8_t *)ids, n * sizeof *ids, NULL, 0);
    changed = memcmp(h, s->swarms_hash, sizeof h) != 0;
    memcpy(s->swarms_hash, h, sizeof h);
    return changed;
}

static void follow_map(sh__node_swarm *s, const sh_dir_map *map)
{
    const sh_dir_node *self = sh_dir_map_find_node(map, s->n->identity_pk);
    const sh_dir_node *members[SH__NODE_MAX_PEERS + 1];
    bool was_in = s->in_swarm;
    uint64_t was = s->swarm_id;
    size_t count = 0;

    s->prev_map_version = s->map_version;
    s->map_version = sh_dir_map_version(map);
    s->in_swarm = self != NULL && sh_dir_map_swarm_members(map, self->swarm_id, members,
                                                           SH__NODE_MAX_PEERS + 1, &count) == SH_OK;
    if (s->in_swarm) {
        s->swarm_id = self->swarm_id;
        set_peers(s, members, count < SH__NODE_MAX_PEERS + 1 ? count : SH__NODE_MAX_PEERS + 1);
    } else {
        set_peers(s, NULL, 0);
    }
    if (s->in_swarm && (!was_in || was != s->swarm_id))
        sh_log_info(SH_NODE_LOG_AREA, "map version %llu: in swarm %016llx with %zu peers",
                    (unsigned long long)s->map_version, (unsigned long long)s->swarm_id,
                    s->n_peers);
    else if (!s->in_swarm)
        sh_log_info(SH_NODE_LOG_AREA, "map version %llu: in no swarm yet",
                    (unsigned long long)s->map_version);
    if (swarms_changed(s, map) && was_in)
        sh__node_handover(s->n);
}

/* The relay finds next hops in the same map (it takes over a copy). */
static void give_relay(sh__node_swarm *s, const sh_dir_map *map)
{
    sh_dir_map *copy = NULL;
    sh_buf b;

    sh_buf_init(&b);
    if (sh_dir_map_encode(map, &b) == SH_OK && sh_dir_map_decode(b.data, b.len, &copy) == SH_OK)
        sh__node_relay_set_map(s->n, copy);
    else
        sh_log_warn(SH_NODE_LOG_AREA, "cannot hand the map to the relay: %s", sh_err_msg());
    sh_buf_free(&b);
}

static void on_map(sh_dir_client *c, const sh_dir_map *map, void *ctx)
{
    sh__node_swarm *s = ctx;

    (void)c;
    if (s->closing)
        return;
    follow_map(s, map);
    give_relay(s, map);
}

static void on_map_status(sh_dir_client *c, int status, const char *message, void *ctx)
{
    (void)c;
    (void)ctx;
    if (status != SH_OK)
        sh_log_warn(SH_NODE_LOG_AREA, "map refresh failed (%s): %s", sh_err_name(status),
                    message != NULL ? message : "");
}

static void on_published(const sh_dir_authority *a, int status, const char *message, void *ctx)
{
    (void)ctx;
    if (status == SH_OK)
        sh_log_info(SH_NODE_LOG_AREA, "authority %s admitted this node", a->address);
    else
        sh_log_warn(SH_NODE_LOG_AREA, "authority %s refused this node's descriptor (%s): %s",
                    a->address, sh_err_name(status), message != NULL ? message : "");
}

/* ---- Start and stop ----------------------------------------------------------------------------- */

static int advertised(const sh_node *n, char out[static SH_DIR_ADDRESS_MAX + 1])
{
    int w;

    if (n->cfg.advertise[0] != '\0')
        w = snprintf(out, SH_DIR_ADDRESS_MAX + 1, "%s", n->cfg.advertise);
    else if (strchr(n->cfg.listen, ':') != NULL)
        w = snprintf(out, SH_DIR_ADDRESS_MAX + 1, "[%s]:%u", n->cfg.listen, n->port);
    else
        w = snprintf(out, SH_DIR_ADDRESS_MAX + 1, "%s:%u", n->cfg.listen, n->port);
    if (w < 0 || w > SH_DIR_ADDRESS_MAX)
        return sh_err_set(SH_ERR_RANGE, "the advertised address is too long");
    return SH_OK;
}

static int start_publisher(sh__node_swarm *s, const sh_node_keys *keys)
{
    sh_dir_publisher_config pc = {.identity_sk = keys->ed25519_sk,
                                  .interval_ms = (int64_t)s->n->cfg.publish_interval_ms,
                                  .retry_ms = (int64_t)(s->n->cfg.map_refresh_ms < 30000
                                                            ? s->n->cfg.map_refresh_ms : 30000),
                                  .deadline_ms = s->n->cfg.map_refresh_ms < 5000 ? 5000 : 0,
                                  .result_cb = on_published, .ctx = s};
    int rc;

    memcpy(pc.node.identity, keys->ed25519_pk, 32);
    memcpy(pc.node.link_key, keys->link_pk, 32);
    if ((rc = advertised(s->n, pc.node.address)) != SH_OK)
        return rc;
    snprintf(pc.node.version, sizeof pc.node.version, "shoald %s", SH_NODE_VERSION);
    snprintf(pc.node.contact, sizeof pc.node.contact, "%s", s->n->cfg.contact);
    if ((rc = sh_dir_publisher_new(s->n->loop, s->n->net, s->network, &pc, &s->pub)) != SH_OK)
        return rc;
    return publish_keys(s, true);
}

static int start_map(sh__node_swarm *s)
{
    char cache[SH_NODE_PATH_BYTES];
    int64_t refresh = (int64_t)s->n->cfg.map_refresh_ms;
    sh_dir_client_config cc = {.cache_path = cache, .refresh_ms = refresh,
                               .retry_ms = refresh < 5000 ? refresh : 5000,
                               /* a source that is down must not hold up a short refresh */
                               .deadline_ms = refresh < 5000 ? 2000 : 0,
                               .self_link_key = s->n->link_pk, .map_cb = on_map,
                               .status_cb = on_map_status, .ctx = s};
    int rc;

    if ((rc = sh_fs_join(cache, sizeof cache, s->n->cfg.data_dir, SH_NODE_MAP_FILE)) != SH_OK ||
        (rc = sh_dir_server_new(s->n->net, s->network, NULL, &s->server)) != SH_OK)
        return rc;
    cc.server = s->server;
    return sh_dir_client_new(s->n->loop, s->n->net, s->network, &cc, &s->client);
}

int sh__node_join_start(sh_node *n, const sh_node_keys *keys)
{
    sh__node_swarm *s = calloc(1, sizeof *s);
    int rc;

    if (s == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory joining the network");
    n->swarm = s;
    s->n = n;
    uv_timer_init(n->loop, &s->key_timer);
    s->key_timer.data = s;
    if ((s->identity_sk = sh_secret_alloc(64)) == NULL || (s->link_sk = sh_secret_alloc(32)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the node's keys");
    memcpy(s->identity_sk, keys->ed25519_sk, 64);
    memcpy(s->link_sk, keys->link_sk, 32);
    if ((rc = sh_dir_network_load(n->cfg.network, &s->network)) != SH_OK)
        return sh_err_wrap(rc, "the network file %s", n->cfg.network);
    if ((rc = start_map(s)) != SH_OK ||
        (rc = start_publisher(s, keys)) != SH_OK || (rc = sh__node_pushq_start(n)) != SH_OK ||
        (rc = sh__node_scan_start(n)) != SH_OK || (rc = sh__node_handover_start(n)) != SH_OK ||
        (rc = sh__node_replicate_register(n)) != SH_OK ||
        (rc = sh__node_receipts_register(n)) != SH_OK || (rc = sh__node_ae_start(n)) != SH_OK)
        return rc;
    uv_timer_start(&s->key_timer, on_key_timer, KEY_TIMER_MS, KEY_TIMER_MS);
    sh_log_info(SH_NODE_LOG_AREA, "joining network \"%s\" (%zu authorities, k = %u)",
                sh_dir_network_name(s->network), sh_dir_network_authority_count(s->network),
                sh_dir_network_k(s->network));
    return SH_OK;
}

void sh__node_join_stop(sh_node *n)
{
    sh__node_swarm *s = n->swarm;

    if (s == NULL || s->closing)
        return;
    s->closing = true;
    sh__node_ae_stop(n);
    sh__node_handover_stop(n);
    sh__node_pushq_stop(n);
    sh__node_scan_close(n);
    uv_timer_stop(&s->key_timer);
    if (s->pub != NULL)
        sh_dir_publisher_close(s->pub);
    if (s->client != NULL)
        sh_dir_client_close(s->client);
    s->pub = NULL;
    s->client = NULL;
}

static void key_timer_closed(uv_handle_t *h)
{
    sh__node_swarm *s = h->data;

    sh_secret_free(s->identity_sk);
    sh_secret_free(s->link_sk);
    free(s);
}

void sh__node_join_free(sh_node *n)
{
    sh__node_swarm *s = n->swarm;

    if (s == NULL)
        return;
    sh__node_join_stop(n);
    sh__node_ae_free(n);
    sh__node_pushq_free(n);
    sh__node_handover_free(n);
    if (s->server != NULL)
        sh_dir_server_free(s->server);
    sh_dir_network_free(s->network);
    n->swarm = NULL;
    uv_close((uv_handle_t *)&s->key_timer, key_timer_closed);
}
