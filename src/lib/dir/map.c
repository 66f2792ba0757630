/* The network map (docs/directory.md "The map", "Verification"): its body is what the
 * authorities sign; the published form adds their signatures, sorted by authority key. Decoding
 * checks structure; sh_dir_map_verify checks k-of-n signatures, the version and the validity
 * window. The body is always produced by one encoder from the map's fields (sh__dir_map_seal),
 * and a decoded body must be exactly what that encoder writes for the values read. */
#include "dir/internal.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shoal/identity.h>

#include "crypto/labels.h"
#include "util/err.h"

/* Room for the signatures and framing around the body in a published map. */
#define MAP_BODY_MAX_BYTES (SH_DIR_MAP_MAX_BYTES - 4096)
_Static_assert(SH_DIR_MAX_AUTHORITIES * (SH_DIR_KEY_BYTES + SH_DIR_SIGNATURE_BYTES + 8) + 16 <= 4096,
               "every authority's signature fits beside the largest body");

int sh__dir_map_alloc(sh_dir_map **out)
{
    sh_dir_map *m = calloc(1, sizeof *m);

    if (m == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a map");
    sh_buf_init(&m->body);
    *out = m;
    return SH_OK;
}

void sh_dir_map_free(sh_dir_map *map)
{
    if (map == NULL)
        return;
    sh_buf_free(&map->body);
    free(map->swarms);
    free(map->swarm_ids);
    free(map->nodes);
    free(map->sigs);
    free(map);
}

void sh__dir_body_to_pb(const sh_dir_map *map, Shoal__Dir__MapBody *body, Shoal__Dir__Swarm *swarms_pb,
                        Shoal__Dir__Swarm **swarm_ptrs, sh__dir_node_pb *nodes_pb,
                        Shoal__Dir__Node **node_ptrs)
{
    shoal__dir__map_body__init(body);
    body->label = (char *)SH_LABEL_DIR_MAP;
    body->network_id = sh__dir_bin(map->network_id, SH_DIR_HASH_BYTES);
    body->version = map->version;
    body->valid_after_ms = (uint64_t)map->valid_after_ms;
    body->valid_until_ms = (uint64_t)map->valid_until_ms;
    body->swarm_target = map->params.target;
    body->swarm_min = map->params.min;
    body->swarm_merge_grace_ms = (uint64_t)map->params.merge_grace_ms;
    body->swarm_seed = sh__dir_bin(map->swarm_seed, SH_DIR_HASH_BYTES);
    for (size_t i = 0; i < map->n_swarms; i++) {
        shoal__dir__swarm__init(&swarms_pb[i]);
        swarms_pb[i].id = map->swarms[i].id;
        swarms_pb[i].undersized_since_ms = (uint64_t)map->swarms[i].undersized_since_ms;
        swarm_ptrs[i] = &swarms_pb[i];
    }
    body->n_swarms = map->n_swarms;
    body->swarms = swarm_ptrs;
    if (nodes_pb == NULL)
        return;
    for (size_t i = 0; i < map->n_nodes; i++) {
        sh__dir_node_to_pb(&map->nodes[i], &nodes_pb[i]);
        node_ptrs[i] = &nodes_pb[i].node;
    }
    body->n_nodes = map->n_nodes;
    body->nodes = node_ptrs;
}

/* The rules a map's contents obey beyond each node's own. */
static int check_contents(const sh_dir_map *m)
{
    int rc;

    if (m->version == 0)
        return sh_err_set(SH_ERR_FORMAT, "map version 0 (versions start at 1)");
    if (m->valid_after_ms < 0 || m->valid_until_ms <= m->valid_after_ms)
        return sh_err_set(SH_ERR_RANGE, "map validity ends before it starts");
    if ((rc = sh__dir_check_swarm_params(&m->params)) != SH_OK)
        return rc;
    if (m->n_nodes > SH_DIR_MAX_NODES)
        return sh_err_set(SH_ERR_LIMIT, "map has %zu nodes, more than the limit of %d", m->n_nodes,
                          SH_DIR_MAX_NODES);
    if (m->n_swarms > m->n_nodes)
        return sh_err_set(SH_ERR_FORMAT, "map has more swarms (%zu) than nodes (%zu)", m->n_swarms,
                          m->n_nodes);
    for (size_t i = 0; i < m->n_swarms; i++)
        if ((i > 0 && m->swarms[i].id <= m->swarms[i - 1].id) || m->swarms[i].undersized_since_ms < 0)
            return sh_err_set(SH_ERR_FORMAT, "map swarms are not sorted by id, each once");
    for (size_t i = 0; i < m->n_nodes; i++) {
        if (i > 0 && sh__dir_node_cmp_identity(&m->nodes[i - 1], &m->nodes[i]) >= 0)
            return sh_err_set(SH_ERR_FORMAT, "map nodes are not sorted by identity, each once");
        if ((rc = sh__dir_node_check(&m->nodes[i])) != SH_OK)
            return sh_err_wrap(rc, "map node %zu", i);
    }
    return SH_OK;
}

/* With swarms, every node is in one of them and none is empty; without, no node names one. */
static int check_swarm_membership(sh_dir_map *m)
{
    size_t *count = calloc(m->n_swarms + 1, sizeof *count);
    int rc = SH_OK;

    if (count == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory checking a map");
    for (size_t i = 0; i < m->n_swarms; i++)
        m->swarm_ids[i] = m->swarms[i].id;
    for (size_t i = 0; i < m->n_nodes && rc == SH_OK; i++) {
        uint64_t s = m->nodes[i].swarm_id;
        size_t lo = 0, hi = m->n_swarms;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (m->swarm_ids[mid] < s)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (m->n_swarms == 0 ? s != 0 : (lo == m->n_swarms || m->swarm_ids[lo] != s))
            rc = sh_err_set(SH_ERR_FORMAT, "map node %zu is in swarm %016" PRIx64 ", which the map "
                            "does not have", i, s);
        else if (m->n_swarms > 0)
            count[lo]++;
    }
    for (size_t i = 0; i < m->n_swarms && rc == SH_OK; i++)
        if (count[i] == 0)
            rc = sh_err_set(SH_ERR_FORMAT, "map swarm %016" PRIx64 " has no member", m->swarm_ids[i]);
    free(count);
    return rc;
}

int sh__dir_map_seal(sh_dir_map *map)
{
    Shoal__Dir__MapBody body;
    Shoal__Dir__Swarm *swarms_pb = NULL, **swarm_ptrs = NULL;
    sh__dir_node_pb *nodes_pb = NULL;
    Shoal__Dir__Node **node_ptrs = NULL;
    int rc;

    if ((rc = check_contents(map)) != SH_OK)
        return rc;
    free(map->swarm_ids);
    map->swarm_ids = malloc((map->n_swarms + 1) * sizeof *map->swarm_ids);
    swarms_pb = malloc((map->n_swarms + 1) * sizeof *swarms_pb);
    swarm_ptrs = malloc((map->n_swarms + 1) * sizeof *swarm_ptrs);
    nodes_pb = malloc((map->n_nodes + 1) * sizeof *nodes_pb);
    node_ptrs = malloc((map->n_nodes + 1) * sizeof *node_ptrs);
    if (map->swarm_ids == NULL || swarms_pb == NULL || swarm_ptrs == NULL || nodes_pb == NULL ||
        node_ptrs == NULL) {
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory encoding a map");
        goto done;
    }
    if ((rc = check_swarm_membership(map)) != SH_OK)
        goto done;
    sh__dir_body_to_pb(map, &body, swarms_pb, swarm_ptrs, nodes_pb, node_ptrs);
    if ((rc = sh__dir_pb_pack(&body.base, MAP_BODY_MAX_BYTES, &map->body)) != SH_OK)
        goto done;
    sh__dir_hash(map->body_hash, map->body.data, map->body.len);
done:
    free(swarms_pb);
    free(swarm_ptrs);
    free(nodes_pb);
    free(node_ptrs);
    return rc;
}

int sh__dir_body_head_from_pb(const Shoal__Dir__MapBody *pb, sh_dir_map *map)
{
    int rc;

    if ((rc = sh__dir_check_label(pb->label, SH_LABEL_DIR_MAP, "map body")) != SH_OK ||
        (rc = sh__dir_check_len(&pb->network_id, SH_DIR_HASH_BYTES, "map network id")) != SH_OK ||
        (rc = sh__dir_check_len(&pb->swarm_seed, SH_DIR_HASH_BYTES, "map swarm seed")) != SH_OK ||
        (rc = sh__dir_check_time(pb->valid_after_ms, "map valid-after")) != SH_OK ||
        (rc = sh__dir_check_time(pb->valid_until_ms, "map valid-until")) != SH_OK ||
        (rc = sh__dir_check_time(pb->swarm_merge_grace_ms, "map merge grace")) != SH_OK)
        return rc;
    if (pb->n_swarms > SH_DIR_MAX_NODES)
        return sh_err_set(SH_ERR_LIMIT, "map has %zu swarms, more than %d", pb->n_swarms, SH_DIR_MAX_NODES);
    memcpy(map->network_id, pb->network_id.data, SH_DIR_HASH_BYTES);
    memcpy(map->swarm_seed, pb->swarm_seed.data, SH_DIR_HASH_BYTES);
    map->version = pb->version;
    map->valid_after_ms = (int64_t)pb->valid_after_ms;
    map->valid_until_ms = (int64_t)pb->valid_until_ms;
    map->params = (sh_dir_swarm_params){.target = pb->swarm_target, .min = pb->swarm_min,
                                        .merge_grace_ms = (int64_t)pb->swarm_merge_grace_ms};
    free(map->swarms);
    map->swarms = malloc((pb->n_swarms + 1) * sizeof *map->swarms);
    if (map->swarms == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for map swarms");
    map->n_swarms = pb->n_swarms;
    for (size_t i = 0; i < pb->n_swarms; i++) {
        if ((rc = sh__dir_check_time(pb->swarms[i]->undersized_since_ms, "swarm time")) != SH_OK)
            return rc;
        map->swarms[i] = (sh_dir_swarm){.id = pb->swarms[i]->id,
                                        .undersized_since_ms = (int64_t)pb->swarms[i]->undersized_since_ms};
    }
    return SH_OK;
}

int sh__dir_sigs_from_pb(Shoal__Dir__Signature *const *pb, size_t n, sh_dir_map *map)
{
    int rc;

    if (n > SH_DIR_MAX_AUTHORITIES)
        return sh_err_set(SH_ERR_LIMIT, "map has %zu signatures, more than %d", n, SH_DIR_MAX_AUTHORITIES);
    free(map->sigs);
    map->sigs = malloc((n + 1) * sizeof *map->sigs);
    map->n_sigs = 0;
    if (map->sigs == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for map signatures");
    for (size_t i = 0; i < n; i++) {
        if ((rc = sh__dir_check_len(&pb[i]->authority, SH_DIR_KEY_BYTES, "signing authority")) != SH_OK ||
            (rc = sh__dir_check_len(&pb[i]->signature, SH_DIR_SIGNATURE_BYTES, "map signature")) != SH_OK)
            return rc;
        if (i > 0 && memcmp(pb[i - 1]->authority.data, pb[i]->authority.data, SH_DIR_KEY_BYTES) >= 0)
            return sh_err_set(SH_ERR_FORMAT, "map signatures must be sorted by authority key, each "
                              "authority once");
        memcpy(map->sigs[i].authority, pb[i]->authority.data, SH_DIR_KEY_BYTES);
        memcpy(map->sigs[i].sig, pb[i]->signature.data, SH_DIR_SIGNATURE_BYTES);
        map->n_sigs++;
    }
    return SH_OK;
}

/* Fills map from a decoded body (header, swarms and nodes) and checks that sealing it gives
 * back exactly `bytes`. */
static int map_from_body(const uint8_t *bytes, size_t len, sh_dir_map *map)
{
    ProtobufCMessage *bm = NULL;
    const Shoal__Dir__MapBody *b;
    int rc;

    rc = sh__dir_pb_unpack(&shoal__dir__map_body__descriptor, bytes, len, MAP_BODY_MAX_BYTES,
                           "map body", &bm);
    if (rc != SH_OK)
        return rc;
    b = (const Shoal__Dir__MapBody *)bm;
    if ((rc = sh__dir_body_head_from_pb(b, map)) != SH_OK)
        goto done;
    if (b->n_nodes > SH_DIR_MAX_NODES) {
        rc = sh_err_set(SH_ERR_LIMIT, "map has %zu nodes, more than the limit of %d", b->n_nodes,
                        SH_DIR_MAX_NODES);
        goto done;
    }
    map->nodes = malloc((b->n_nodes + 1) * sizeof *map->nodes);
    if (map->nodes == NULL) {
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory for map nodes");
        goto done;
    }
    for (map->n_nodes = 0; map->n_nodes < b->n_nodes; map->n_nodes++)
        if ((rc = sh__dir_node_from_pb(b->nodes[map->n_nodes], &map->nodes[map->n_nodes])) != SH_OK) {
            rc = sh_err_wrap(rc, "map node %zu", map->n_nodes);
            goto done;
        }
    if ((rc = sh__dir_map_seal(map)) != SH_OK)
        goto done;
    if (map->body.len != len || memcmp(map->body.data, bytes, len) != 0)
        rc = sh_err_set(SH_ERR_FORMAT, "map body does not re-encode to the same bytes");
done:
    protobuf_c_message_free_unpacked(bm, NULL);
    return rc;
}

int sh_dir_map_decode(const uint8_t *bytes, size_t len, sh_dir_map **out)
{
    ProtobufCMessage *mm = NULL;
    const Shoal__Dir__Map *pm;
    sh_dir_map *map = NULL;
    int rc;

    if ((rc = sh__dir_pb_unpack(&shoal__dir__map__descriptor, bytes, len, SH_DIR_MAP_MAX_BYTES,
                                "map", &mm)) != SH_OK ||
        (rc = sh__dir_map_alloc(&map)) != SH_OK)
        goto done;
    pm = (const Shoal__Dir__Map *)mm;
    if ((rc = map_from_body(pm->body.data, pm->body.len, map)) != SH_OK ||
        (rc = sh__dir_sigs_from_pb(pm->signatures, pm->n_signatures, map)) != SH_OK)
        goto done;
    *out = map;
    map = NULL;
done:
    sh_dir_map_free(map);
    if (mm != NULL)
        protobuf_c_message_free_unpacked(mm, NULL);
    return rc;
}

int sh_dir_map_encode(const sh_dir_map *map, sh_buf *out)
{
    Shoal__Dir__Map m = SHOAL__DIR__MAP__INIT;
    Shoal__Dir__Signature sigs[SH_DIR_MAX_AUTHORITIES], *ptrs[SH_DIR_MAX_AUTHORITIES];

    m.body = sh__dir_bin(map->body.data, map->body.len);
    for (size_t i = 0; i < map->n_sigs; i++) {
        shoal__dir__signature__init(&sigs[i]);
        sigs[i].authority = sh__dir_bin(map->sigs[i].authority, SH_DIR_KEY_BYTES);
        sigs[i].signature = sh__dir_bin(map->sigs[i].sig, SH_DIR_SIGNATURE_BYTES);
        ptrs[i] = &sigs[i];
    }
    m.n_signatures = map->n_sigs;
    m.signatures = ptrs;
    return sh__dir_pb_pack(&m.base, SH_DIR_MAP_MAX_BYTES, out);
}

/* ---- Verification and signatures ---- */

static int check_signature(const sh_dir_map *map, const sh_dir_network *net,
                           const uint8_t authority[static 32], const uint8_t sig[static 64])
{
    char who[9];
    size_t index;

    sh__dir_short_id(who, authority);
    if (sh_dir_network_find(net, authority, &index) != SH_OK)
        return sh_err_set(SH_ERR_PERMISSION, "map is signed by %s, which is not an authority of "
                          "this network", who);
    if (crypto_sign_verify_detached(sig, map->body.data, map->body.len, authority) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "map signature by authority %s does not verify (forged "
                          "or for another map)", who);
    return SH_OK;
}

int sh_dir_map_verify(const sh_dir_map *map, const sh_dir_network *net, uint64_t cached_version,
                      int64_t now_ms)
{
    char what[48];
    int rc;

    if (memcmp(map->network_id, sh_dir_network_id(net), SH_DIR_HASH_BYTES) != 0)
        return sh_err_set(SH_ERR_PROTOCOL, "map is for another network (its network id differs "
                          "from the network file's)");
    for (size_t i = 0; i < map->n_sigs; i++)
        if ((rc = check_signature(map, net, map->sigs[i].authority, map->sigs[i].sig)) != SH_OK)
            return rc;
    /* Signatures are sorted and unique by authority, so each valid one is a distinct authority. */
    if (map->n_sigs < sh_dir_network_k(net))
        return sh_err_set(SH_ERR_CRYPTO, "map version %" PRIu64 " has %zu valid authority "
                          "signature%s; this network needs %u", map->version, map->n_sigs,
                          map->n_sigs == 1 ? "" : "s", sh_dir_network_k(net));
    if (map->version < cached_version)
        return sh_err_set(SH_ERR_STALE, "map version %" PRIu64 " is older than version %" PRIu64
                          " already held", map->version, cached_version);
    snprintf(what, sizeof what, "map version %" PRIu64, map->version);
    return sh__dir_check_window(map->valid_after_ms, map->valid_until_ms, now_ms, what);
}

int sh_dir_map_load(const uint8_t *bytes, size_t len, const sh_dir_network *net,
                    uint64_t cached_version, int64_t now_ms, sh_dir_map **out)
{
    sh_dir_map *map = NULL;
    int rc = sh_dir_map_decode(bytes, len, &map);

    if (rc == SH_OK)
        rc = sh_dir_map_verify(map, net, cached_version, now_ms);
    if (rc == SH_OK)
        *out = map;
    else
        sh_dir_map_free(map);
    return rc;
}

int sh_dir_map_add_signature(sh_dir_map *map, const sh_dir_network *net,
                             const uint8_t authority[static SH_DIR_KEY_BYTES],
                             const uint8_t sig[static SH_DIR_SIGNATURE_BYTES])
{
    size_t i = 0;
    int rc;

    if ((rc = check_signature(map, net, authority, sig)) != SH_OK)
        return rc;
    while (i < map->n_sigs && memcmp(map->sigs[i].authority, authority, SH_DIR_KEY_BYTES) < 0)
        i++;
    if (i < map->n_sigs && memcmp(map->sigs[i].authority, authority, SH_DIR_KEY_BYTES) == 0) {
        memcpy(map->sigs[i].sig, sig, SH_DIR_SIGNATURE_BYTES);
        return SH_OK;
    }
    if (map->n_sigs >= SH_DIR_MAX_AUTHORITIES)
        return sh_err_set(SH_ERR_LIMIT, "map already has %d signatures", SH_DIR_MAX_AUTHORITIES);
    sh__dir_sig *grown = realloc(map->sigs, (map->n_sigs + 1) * sizeof *grown);
    if (grown == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a map signature");
    map->sigs = grown;
    memmove(&map->sigs[i + 1], &map->sigs[i], (map->n_sigs - i) * sizeof *map->sigs);
    memcpy(map->sigs[i].authority, authority, SH_DIR_KEY_BYTES);
    memcpy(map->sigs[i].sig, sig, SH_DIR_SIGNATURE_BYTES);
    map->n_sigs++;
    return SH_OK;
}

int sh_dir_map_sign(sh_dir_map *map, const sh_dir_network *net,
                    const uint8_t authority_sk[static SH_DIR_SECRET_KEY_BYTES])
{
    uint8_t sig[SH_DIR_SIGNATURE_BYTES];

    crypto_sign_detached(sig, NULL, map->body.data, map->body.len, authority_sk);
    return sh_dir_map_add_signature(map, net, authority_sk + 32, sig);
}

int sh_dir_map_signature(const sh_dir_map *map, const uint8_t authority[static SH_DIR_KEY_BYTES],
                         uint8_t sig[static SH_DIR_SIGNATURE_BYTES])
{
    for (size_t i = 0; i < map->n_sigs; i++)
        if (memcmp(map->sigs[i].authority, authority, SH_DIR_KEY_BYTES) == 0) {
            memcpy(sig, map->sigs[i].sig, SH_DIR_SIGNATURE_BYTES);
            return SH_OK;
        }
    return sh_err_set(SH_ERR_NOT_FOUND, "the map has no signature by that authority");
}

size_t sh_dir_map_signature_count(const sh_dir_map *map) { return map->n_sigs; }

/* ---- Reading a map ---- */

uint64_t sh_dir_map_version(const sh_dir_map *map) { return map->version; }
int64_t sh_dir_map_valid_after(const sh_dir_map *map) { return map->valid_after_ms; }
int64_t sh_dir_map_valid_until(const sh_dir_map *map) { return map->valid_until_ms; }
const uint8_t *sh_dir_map_network_id(const sh_dir_map *map) { return map->network_id; }
const uint8_t *sh_dir_map_body_hash(const sh_dir_map *map) { return map->body_hash; }
const sh_dir_swarm_params *sh_dir_map_swarm_params(const sh_dir_map *map) { return &map->params; }

const uint8_t *sh_dir_map_body(const sh_dir_map *map, size_t *len)
{
    *len = map->body.len;
    return map->body.data;
}

const sh_dir_node *sh_dir_map_nodes(const sh_dir_map *map, size_t *count)
{
    *count = map->n_nodes;
    return map->nodes;
}

const sh_dir_node *sh_dir_map_find_node(const sh_dir_map *map, const uint8_t identity[static SH_DIR_KEY_BYTES])
{
    sh_dir_node key;

    memcpy(key.identity, identity, SH_DIR_KEY_BYTES);
    return bsearch(&key, map->nodes, map->n_nodes, sizeof *map->nodes, sh__dir_node_cmp_identity);
}

const sh_dir_node *sh_dir_map_find_link_key(const sh_dir_map *map, const uint8_t link_key[static SH_DIR_KEY_BYTES])
{
    for (size_t i = 0; i < map->n_nodes; i++)
        if (memcmp(map->nodes[i].link_key, link_key, SH_DIR_KEY_BYTES) == 0)
            return &map->nodes[i];
    return NULL;
}

const sh_dir_swarm *sh_dir_map_swarms(const sh_dir_map *map, size_t *count)
{
    *count = map->n_swarms;
    return map->swarms;
}

const uint64_t *sh_dir_map_swarm_ids(const sh_dir_map *map, size_t *count)
{
    *count = map->n_swarms;
    return map->swarm_ids;
}

int sh_dir_map_swarm_members(const sh_dir_map *map, uint64_t swarm_id, const sh_dir_node **members,
                             size_t cap, size_t *count)
{
    size_t n = 0;
    bool found = false;

    for (size_t i = 0; i < map->n_swarms && !found; i++)
        found = map->swarm_ids[i] == swarm_id;
    if (!found)
        return sh_err_set(SH_ERR_NOT_FOUND, "map version %" PRIu64 " has no swarm %016" PRIx64,
                          map->version, swarm_id);
    for (size_t i = 0; i < map->n_nodes; i++)
        if (map->nodes[i].swarm_id == swarm_id) {
            if (n < cap)
                members[n] = &map->nodes[i];
            n++;
        }
    *count = n;
    return SH_OK;
}

int sh_dir_map_owner_swarm(const sh_dir_map *map, const uint8_t owner_x25519[static SH_DIR_KEY_BYTES],
                           uint64_t *swarm_id)
{
    if (map->n_swarms == 0)
        return sh_err_set(SH_ERR_UNAVAILABLE, "map version %" PRIu64 " has no swarms yet (fewer "
                          "than %u nodes)", map->version, map->params.min);
    return sh_swarm_nearest(sh_swarm_space_position(owner_x25519), map->swarm_ids, map->n_swarms,
                            swarm_id);
}
