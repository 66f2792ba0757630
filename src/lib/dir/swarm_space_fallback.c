/* Weak stand-ins for the identity module's Session-compatible swarm functions, so that this
 * module links before those land; once the identity module defines them, its (strong)
 * definitions win and this file should be deleted. Same rules as
 * ../shared/vectors/session/README.md "Swarms": the position is the XOR of the key's four
 * big-endian 64-bit words; the swarm is the nearer of the ids around it, ties to the left. */
#include "dir/swarm_space.h"

#include "util/buf.h"
#include "util/err.h"

__attribute__((weak)) uint64_t sh_swarm_space_position(const uint8_t x25519_pk[static 32])
{
    return sh_load_u64be(x25519_pk) ^ sh_load_u64be(x25519_pk + 8) ^
           sh_load_u64be(x25519_pk + 16) ^ sh_load_u64be(x25519_pk + 24);
}

__attribute__((weak)) int sh_swarm_nearest(uint64_t position, const uint64_t *sorted_swarm_ids,
                                           size_t n, uint64_t *out_swarm_id)
{
    size_t lo = 0, hi = n, right, left;

    if (n == 0)
        return sh_err_set(SH_ERR_NOT_FOUND, "there are no swarms");
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sorted_swarm_ids[mid] < position)
            lo = mid + 1;
        else
            hi = mid;
    }
    right = lo == n ? 0 : lo;
    left = right == 0 ? n - 1 : right - 1;
    if (position - sorted_swarm_ids[left] <= sorted_swarm_ids[right] - position)
        *out_swarm_id = sorted_swarm_ids[left];
    else
        *out_swarm_id = sorted_swarm_ids[right];
    return SH_OK;
}
