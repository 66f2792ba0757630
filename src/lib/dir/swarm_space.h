/* Owner -> swarm mapping, Session-compatible (overview.md "Identity and compatibility"; vectors in
 * ../shared/vectors/session). The functions belong to the identity module's public header
 * include/shoal/identity.h; they are declared here too, with exactly its prototypes, so that this
 * module builds before that header has them (swarm_space_fallback.c has weak stand-ins). */
#ifndef SH_DIR_SWARM_SPACE_H
#define SH_DIR_SWARM_SPACE_H

#include <stddef.h>
#include <stdint.h>

#if __has_include(<shoal/identity.h>)
#include <shoal/identity.h>
#endif

uint64_t sh_swarm_space_position(const uint8_t x25519_pk[static 32]);
int sh_swarm_nearest(uint64_t position, const uint64_t *sorted_swarm_ids, size_t n,
                     uint64_t *out_swarm_id);

#endif
