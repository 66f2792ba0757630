/* From the directory's map to what a client's path selection and packet building need
 * (docs/onion.md "Paths"): per node its candidate entry (identity, address, swarm, Guard flag),
 * where to connect, and its two onion keys with their validity. */
#include "onion/onion.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* Address text and the 16-byte form path selection compares (IPv4 mapped into IPv6). */
static int node_address(const sh_dir_node *d, sh_onion_node *o)
{
    uint8_t ip[16];
    size_t ip_len;
    int rc;

    if ((rc = sh_dir_address_parse(d->address, ip, &ip_len, &o->port)) != SH_OK)
        return rc;
    memset(o->cand.addr, 0, sizeof o->cand.addr);
    if (ip_len == 4) {
        o->cand.addr[10] = o->cand.addr[11] = 0xff;
        memcpy(o->cand.addr + 12, ip, 4);
        inet_ntop(AF_INET, ip, o->host, sizeof o->host);
    } else {
        memcpy(o->cand.addr, ip, 16);
        inet_ntop(AF_INET6, ip, o->host, sizeof o->host);
    }
    return SH_OK;
}

static int node_from_dir(const sh_dir_node *d, bool has_swarms, sh_onion_node *o)
{
    const sh_dir_onion_key *keys[2] = {&d->onion_current, &d->onion_next};
    int rc;

    memset(o, 0, sizeof *o);
    memcpy(o->cand.id, d->identity, SH_ONION_ID_BYTES);
    o->cand.in_swarm = has_swarms;
    o->cand.swarm_id = d->swarm_id;
    o->cand.guard_flag = (d->flags & SH_DIR_FLAG_GUARD) != 0;
    memcpy(o->link_key, d->link_key, SH_NET_KEY_BYTES);
    if ((rc = node_address(d, o)) != SH_OK)
        return rc;
    for (size_t i = 0; i < 2; i++) {
        /* The signature only: validity is checked when a packet is built. */
        if ((rc = sh_dir_onion_key_verify(keys[i], d->identity, keys[i]->valid_after_ms)) != SH_OK)
            return rc;
        o->onion[i].epoch = keys[i]->epoch;
        memcpy(o->onion[i].key, keys[i]->public_key, SH_ONION_PUBLIC_KEY_BYTES);
        o->onion[i].valid_after_ms = keys[i]->valid_after_ms;
        o->onion[i].valid_until_ms = keys[i]->valid_until_ms;
    }
    return SH_OK;
}

int sh_onion_nodes_from_map(const sh_dir_map *map, sh_onion_node **out, size_t *n)
{
    size_t count = 0, swarms = 0, kept = 0;
    const sh_dir_node *nodes = sh_dir_map_nodes(map, &count);
    sh_onion_node *o;

    *out = NULL;
    *n = 0;
    (void)sh_dir_map_swarms(map, &swarms);
    if (count == 0)
        return sh_err_set(SH_ERR_UNAVAILABLE, "the map lists no nodes");
    if ((o = calloc(count, sizeof *o)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory reading %zu nodes of the map", count);
    for (size_t i = 0; i < count; i++)
        if (node_from_dir(&nodes[i], swarms > 0, &o[kept]) == SH_OK)
            kept++;
    if (kept == 0) {
        free(o);
        return sh_err_set(SH_ERR_UNAVAILABLE, "no node of the map has valid onion keys and address");
    }
    *out = o;
    *n = kept;
    return SH_OK;
}

int sh_onion_node_hop(const sh_onion_node *node, int64_t now_ms, sh_onion_hop *hop)
{
    memset(hop, 0, sizeof *hop);
    memcpy(hop->id, node->cand.id, SH_ONION_ID_BYTES);
    for (int i = 1; i >= 0; i--) {
        if (now_ms < node->onion[i].valid_after_ms || now_ms >= node->onion[i].valid_until_ms)
            continue;
        memcpy(hop->onion_key, node->onion[i].key, SH_ONION_PUBLIC_KEY_BYTES);
        hop->epoch = node->onion[i].epoch;
        return SH_OK;
    }
    return sh_err_set(SH_ERR_STALE, "no onion key of node %02x%02x%02x%02x is valid now (a newer "
                      "map is needed)", node->cand.id[0], node->cand.id[1], node->cand.id[2],
                      node->cand.id[3]);
}
