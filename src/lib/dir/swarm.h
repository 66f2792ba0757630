/* Swarm assignment (docs/directory.md "Swarm assignment"): a pure function from the previous
 * map's swarms and memberships, the current node set, a seed and the time, to the new swarms.
 * sh_dir_consensus calls it; it is public so that tests can drive long random histories of joins
 * and leaves without signing anything. */
#ifndef SH_DIR_SWARM_H
#define SH_DIR_SWARM_H

#include "dir/dir.h"

typedef struct sh_dir_swarm_member {
    uint8_t id[SH_DIR_KEY_BYTES];
    /* In: the member was in swarm `swarm_id` of the previous map. Out: its swarm now (false
     * only while the network has no swarms). */
    bool assigned;
    uint64_t swarm_id;
} sh_dir_swarm_member;

/* Assigns every member to a swarm, starting from `prev` (sorted by id, as in the previous map;
 * members whose swarm is not in prev count as new). `seed` orders joins and breaks ties;
 * `now_ms` (> 0; the new map's valid-after) drives the merge grace period. *out (free()) gets
 * the new swarms sorted by id; it is NULL when there are none. Members' identities must be
 * distinct. */
int sh_dir_swarm_assign(const sh_dir_swarm_params *params, const uint8_t seed[static SH_DIR_HASH_BYTES],
                        int64_t now_ms, const sh_dir_swarm *prev, size_t n_prev,
                        sh_dir_swarm_member *members, size_t n_members, sh_dir_swarm **out,
                        size_t *n_out);

#endif
