/* Which owners this node serves (docs/swarm.md; overview.md "Swarms"): the owners whose
 * swarm in the current map is the node's own. Any other owner is refused with
 * SH_ERR_WRONG_SWARM, and the error body names the members of the right swarm, so that a client
 * goes there at once without fetching a newer map. The client-side parser of that body is here
 * too (sh_node_redirect_parse). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/join.h"
#include "storage.pb-c.h"
#include "util/err.h"
#include "util/time.h"
#include "wire/pb.h"

uint64_t sh__node_swarm_position(const uint8_t owner[static SH_STORE_OWNER_BYTES])
{
    return sh_swarm_space_position(owner + 1);
}

bool sh__node_swarm_owns(sh_node *n, const uint8_t owner[static SH_STORE_OWNER_BYTES])
{
    const sh_dir_map *map = sh__node_map(n);
    uint64_t id;

    if (n->swarm == NULL)
        return true;
    return map != NULL && n->swarm->in_swarm &&
           sh_dir_map_owner_swarm(map, owner + 1, &id) == SH_OK && id == n->swarm->swarm_id;
}

static void answer_redirect(sh_node *n, sh_net_req *req, sh_node_method method,
                            const sh_dir_map *map, uint64_t swarm_id)
{
    Shoal__Storage__ErrorResponse m = SHOAL__STORAGE__ERROR_RESPONSE__INIT;
    Shoal__Swarm__SwarmNode nodes[SH_NODE_MAX_REDIRECT], *ptrs[SH_NODE_MAX_REDIRECT];
    const sh_dir_node *members[SH_NODE_MAX_REDIRECT];
    size_t count = 0;
    sh_buf out;

    (void)sh_dir_map_swarm_members(map, swarm_id, members, SH_NODE_MAX_REDIRECT, &count);
    if (count > SH_NODE_MAX_REDIRECT)
        count = SH_NODE_MAX_REDIRECT;
    for (size_t i = 0; i < count; i++) {
        shoal__swarm__swarm_node__init(&nodes[i]);
        nodes[i].identity = sh_wire_bin(members[i]->identity, 32);
        nodes[i].link_key = sh_wire_bin(members[i]->link_key, 32);
        nodes[i].address = (char *)members[i]->address;
        ptrs[i] = &nodes[i];
    }
    m.node_time_ms = (uint64_t)sh_time_now_ms();
    m.pow_bits = sh__node_pow_now(n);
    m.map_version = sh_dir_map_version(map);
    m.n_swarm = count;
    m.swarm = ptrs;
    sh__node_count_reject(&n->m, method, SH_ERR_WRONG_SWARM);
    sh_buf_init(&out);
    if (sh_wire_pack(&m.base, &out) == SH_OK)
        (void)sh_net_respond(req, SH_ERR_WRONG_SWARM, out.data, out.len,
                             "this node does not serve that account: its swarm %016llx in map "
                             "version %llu has %zu members (listed in the answer)",
                             (unsigned long long)swarm_id,
                             (unsigned long long)sh_dir_map_version(map), count);
    else
        (void)sh_net_respond(req, SH_ERR_NOMEM, NULL, 0, "the node ran out of memory answering");
    sh_buf_free(&out);
}

int sh__node_swarm_check_owner(sh_node *n, sh_net_req *req, sh_node_method method,
                               const uint8_t owner[static SH_STORE_OWNER_BYTES])
{
    const sh_dir_map *map = sh__node_map(n);
    uint64_t id;

    if (n->swarm == NULL)
        return SH_OK;
    if (map == NULL || !n->swarm->in_swarm ||
        sh_dir_map_owner_swarm(map, owner + 1, &id) != SH_OK) {
        sh__node_fail(n, req, method, SH_ERR_UNAVAILABLE,
                      map == NULL ? "this node has no network map yet; try another node"
                                  : "this node is in no swarm of the current map; try another node");
        return SH_ERR_UNAVAILABLE;
    }
    if (id == n->swarm->swarm_id)
        return SH_OK;
    answer_redirect(n, req, method, map, id);
    return SH_ERR_WRONG_SWARM;
}

int sh_node_redirect_parse(const uint8_t *body, size_t len, uint64_t *map_version,
                           sh_node_swarm_member *out, size_t cap, size_t *n)
{
    Shoal__Storage__ErrorResponse *m = shoal__storage__error_response__unpack(NULL, len, body);
    int rc = SH_OK;

    *n = 0;
    if (m == NULL)
        return sh_err_set(SH_ERR_FORMAT, "the error answer is not an ErrorResponse");
    *map_version = m->map_version;
    for (size_t i = 0; i < m->n_swarm && *n < cap; i++) {
        const Shoal__Swarm__SwarmNode *s = m->swarm[i];
        size_t alen = strlen(s->address);
        if (s->identity.len != 32 || s->link_key.len != 32 || alen == 0 ||
            alen > SH_DIR_ADDRESS_MAX) {
            rc = sh_err_set(SH_ERR_FORMAT, "swarm member %zu of the answer is malformed", i);
            break;
        }
        memcpy(out[*n].identity, s->identity.data, 32);
        memcpy(out[*n].link_key, s->link_key.data, 32);
        memcpy(out[*n].address, s->address, alen + 1);
        (*n)++;
    }
    shoal__storage__error_response__free_unpacked(m, NULL);
    return rc;
}
