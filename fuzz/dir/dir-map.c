/* Fuzz target: published maps (sh_dir_map_decode, then verification and every lookup). A map
 * that decodes must re-encode to exactly its input. */
#include <stdint.h>

#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fz_world w;
    static int ready;
    sh_dir_map *m = NULL;
    sh_buf again;
    size_t count;
    uint64_t swarm;

    if (!ready) {
        fz_world_init(&w);
        ready = 1;
    }
    if (sh_dir_map_decode(data, size, &m) != SH_OK)
        return 0;
    sh_buf_init(&again);
    if (sh_dir_map_encode(m, &again) != SH_OK || again.len != size || memcmp(again.data, data, size) != 0)
        abort();
    (void)!sh_dir_map_verify(m, w.net, 0, FZ_NOW);
    const sh_dir_node *nodes = sh_dir_map_nodes(m, &count);
    for (size_t i = 0; i < count; i++) {
        if (sh_dir_map_find_node(m, nodes[i].identity) != &nodes[i])
            abort();
        if (sh_dir_map_owner_swarm(m, nodes[i].link_key, &swarm) == SH_OK) {
            const sh_dir_node *members[4];
            size_t n;
            if (sh_dir_map_swarm_members(m, swarm, members, 4, &n) != SH_OK || n == 0)
                abort();
        }
        (void)sh_dir_map_find_link_key(m, nodes[i].link_key);
    }
    sh_buf_free(&again);
    sh_dir_map_free(m);
    return 0;
}
