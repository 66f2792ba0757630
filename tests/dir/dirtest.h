/* Helpers for the dir tests: deterministic keys, complete signed nodes, networks of n
 * authorities, and a signed map from given votes. Everything derives from small integers so
 * that each test run sees the same keys. */
#ifndef SH_TESTS_DIRTEST_H
#define SH_TESTS_DIRTEST_H

#include "dir/dir.h"

/* A fixed "now" for tests: 2025-01-01T00:00:00Z. */
#define DT_NOW 1735689600000LL
#define DT_HOUR (60LL * 60 * 1000)

typedef struct dt_key {
    uint8_t pk[32];
    uint8_t sk[64];
} dt_key;

/* The Ed25519 key pair number `n` of the family `family` (nodes, authorities, operators). */
void dt_key_make(dt_key *k, uint32_t family, uint32_t n);

/* Node number n: identity from (1, n), link key and onion keys derived from n, onion epochs
 * 100+e / 101+e valid around `now`, address 10.<n/256>.<n%256>.1:7000 unless `address` given. */
void dt_node_make(sh_dir_node *node, dt_key *identity, uint32_t n, int64_t now, const char *address);

/* A network of n authorities (keys (2, i)), k signatures, given swarm parameters (NULL: the
 * defaults); auth[] gets their keys (room for n). */
sh_dir_network *dt_network_make(size_t n, unsigned k, const sh_dir_swarm_params *params, dt_key *auth);

/* A vote by authority `a` listing nodes, valid [after, after + 1 h). Aborts on error. */
sh_dir_vote *dt_vote(const sh_dir_network *net, const sh_dir_map *prev, const dt_key *a,
                     int64_t after, const sh_dir_node *nodes, size_t n);

/* The consensus of the votes, signed by the first `n_signers` authorities of auth[]. */
sh_dir_map *dt_consensus(const sh_dir_network *net, const sh_dir_map *prev,
                         sh_dir_vote *const *votes, size_t n_votes, const dt_key *auth,
                         size_t n_signers);

#endif
