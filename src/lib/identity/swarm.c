/* Swarm mapping of an account (Session-compatible; ../shared/vectors/session/README.md, "Swarms"):
 * the swarm-space position of an X25519 public key, and the swarm that owns a position among the
 * sorted swarm ids of the ring. */
#include <shoal/identity.h>

#include "util/buf.h"
#include "util/err.h"

uint64_t sh_swarm_space_position(const uint8_t x25519_pk[static 32])
{
    return sh_load_u64be(x25519_pk) ^ sh_load_u64be(x25519_pk + 8) ^
           sh_load_u64be(x25519_pk + 16) ^ sh_load_u64be(x25519_pk + 24);
}

/* Index of the first id >= position, or n when every id is smaller. */
static size_t first_at_or_above(uint64_t position, const uint64_t *ids, size_t n)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (ids[mid] < position)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int sh_swarm_nearest(uint64_t position, const uint64_t *sorted_swarm_ids, size_t n,
                     uint64_t *out_swarm_id)
{
    size_t right, left;
    uint64_t to_left, to_right;

    if (n == 0 || sorted_swarm_ids == NULL)
        return sh_err_set(SH_ERR_INVALID, "there are no swarms to choose from");
    right = first_at_or_above(position, sorted_swarm_ids, n);
    if (right == n)
        right = 0;
    left = right == 0 ? n - 1 : right - 1;
    /* Distances on the ring wrap modulo 2^64, which unsigned arithmetic does for us. */
    to_left = position - sorted_swarm_ids[left];
    to_right = sorted_swarm_ids[right] - position;
    *out_swarm_id = to_left <= to_right ? sorted_swarm_ids[left] : sorted_swarm_ids[right];
    return SH_OK;
}
