/* The directory module: node descriptors, authority votes, the consensus network map with its
 * k-of-n signatures, map diffs, swarm assignment and admission policy, and the network file
 * (docs/directory.md, docs/network-file.md; overview.md "Network", "Bootstrap and time").
 * Pure library code: no sockets and no clock of its own (every check takes `now_ms`), so that
 * shoal-dir, shoald and clients share the same rules and tests can drive every timer.
 *
 * Trust flow: a node signs its descriptor -> an authority verifies and admits it (policy) and
 * lists it in its signed vote -> every authority computes the same map from the same votes
 * (sh_dir_consensus) and signs it -> anyone verifies k signatures, the version and the validity
 * window (sh_dir_map_verify) before using the map. */
#ifndef SH_DIR_DIR_H
#define SH_DIR_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shoal/err.h>

#include "util/buf.h"

#define SH_DIR_KEY_BYTES 32         /* Ed25519, X25519 and ristretto255 public keys */
#define SH_DIR_SIGNATURE_BYTES 64   /* Ed25519 signatures */
#define SH_DIR_SECRET_KEY_BYTES 64  /* libsodium Ed25519 secret key (seed || public key) */
#define SH_DIR_HASH_BYTES 32        /* BLAKE2b-256: map body hashes, network ids, seeds */

#define SH_DIR_ADDRESS_MAX 64       /* "ip:port" or "[ipv6]:port", canonical text */
#define SH_DIR_VERSION_MAX 64       /* software version string of a node */
#define SH_DIR_CONTACT_MAX 256      /* operator contact, printable ASCII */
#define SH_DIR_MAX_NODES 4096       /* nodes in a vote or a map */
#define SH_DIR_MAX_AUTHORITIES 16   /* authorities in a network file */
#define SH_DIR_NODE_MAX_BYTES 1024  /* encoded Node entry, every field at its maximum */
#define SH_DIR_DESCRIPTOR_MAX_BYTES 4096
#define SH_DIR_MAP_MAX_BYTES (5u * 1024 * 1024)
#define SH_DIR_VOTE_MAX_BYTES SH_DIR_MAP_MAX_BYTES
#define SH_DIR_DIFF_MAX_BYTES (6u * 1024 * 1024)
#define SH_DIR_NETWORK_FILE_MAX_BYTES (64u * 1024)
/* How far in the future a map, descriptor or key may start and still be accepted (clock skew). */
#define SH_DIR_CLOCK_SKEW_MS (60LL * 1000)

_Static_assert((uint64_t)SH_DIR_MAX_NODES * SH_DIR_NODE_MAX_BYTES + 256 * 1024 <=
                   SH_DIR_MAP_MAX_BYTES,
               "a map of SH_DIR_MAX_NODES full nodes, its swarms and signatures must fit");
_Static_assert(SH_DIR_DIFF_MAX_BYTES >= SH_DIR_MAP_MAX_BYTES + SH_DIR_MAX_NODES * 40,
               "a diff that replaces every node must fit");

/* Node flags in votes and maps. */
#define SH_DIR_FLAG_GUARD 0x1u      /* stable long enough to be a client's entry guard */
#define SH_DIR_FLAGS_KNOWN SH_DIR_FLAG_GUARD

/* Swarm parameters (network file; docs/directory.md "Swarm assignment"). */
#define SH_DIR_SWARM_TARGET_DEFAULT 5
#define SH_DIR_SWARM_MIN_DEFAULT 3
#define SH_DIR_SWARM_MERGE_GRACE_MS_DEFAULT (60LL * 60 * 1000)
#define SH_DIR_SWARM_TARGET_MAX 1000

typedef struct sh_dir_swarm_params {
    uint32_t target;          /* swarms split above 2*target+1 members */
    uint32_t min;             /* no swarms below min nodes; merge below min-1 after the grace */
    int64_t merge_grace_ms;   /* how long a swarm may stay under min-1 before it merges */
    uint32_t bootstrap;       /* the first swarms wait for this many nodes (0: min), so that a
                               * network whose nodes all start at once is born with all of them */
} sh_dir_swarm_params;

/* One epoch's onion key of a node, signed by the node's identity. */
typedef struct sh_dir_onion_key {
    uint64_t epoch;
    uint8_t public_key[SH_DIR_KEY_BYTES];      /* ristretto255 */
    int64_t valid_after_ms;
    int64_t valid_until_ms;
    uint8_t signature[SH_DIR_SIGNATURE_BYTES]; /* by the node identity, over the OnionKey bytes */
} sh_dir_onion_key;

/* A node: what its descriptor says (published_ms, operator_sig), what a vote or the map says
 * about it (flags, swarm_id). Strings are NUL-terminated printable ASCII; the address is
 * canonical ("192.0.2.1:7000", "[2001:db8::1]:7000"). */
typedef struct sh_dir_node {
    uint8_t identity[SH_DIR_KEY_BYTES];        /* Ed25519: signs descriptors and receipts */
    uint8_t link_key[SH_DIR_KEY_BYTES];        /* X25519: the Noise static key */
    sh_dir_onion_key onion_current;
    sh_dir_onion_key onion_next;               /* epoch = current epoch + 1 */
    char address[SH_DIR_ADDRESS_MAX + 1];
    char version[SH_DIR_VERSION_MAX + 1];
    char contact[SH_DIR_CONTACT_MAX + 1];
    bool has_operator;
    uint8_t operator_key[SH_DIR_KEY_BYTES];    /* Ed25519 key of the operator (allow-lists) */
    uint8_t operator_sig[SH_DIR_SIGNATURE_BYTES]; /* descriptor only: the operator's grant */
    int64_t published_ms;                      /* descriptor only */
    uint32_t flags;                            /* votes and maps: SH_DIR_FLAG_* */
    uint64_t swarm_id;                         /* maps: meaningful when the map has swarms */
} sh_dir_node;

/* ---- Onion keys, operator grants and descriptors ------------------------------------------ */

/* Signs k (epoch, public key, validity) with the node identity; fills k->signature. */
int sh_dir_onion_key_sign(sh_dir_onion_key *k, const uint8_t identity_sk[static SH_DIR_SECRET_KEY_BYTES]);
/* Checks the signature of one onion key of `identity`, that the key is a valid ristretto255
 * point, and that it is usable at now_ms (SH_ERR_STALE with its age when expired or not yet
 * valid). Map users call this before building onion layers with a node's key. */
int sh_dir_onion_key_verify(const sh_dir_onion_key *k, const uint8_t identity[static SH_DIR_KEY_BYTES],
                            int64_t now_ms) __attribute__((warn_unused_result));

/* The operator's grant of `node_identity`, to put in the node's descriptor (operator_key,
 * operator_sig, has_operator). */
int sh_dir_operator_sign(const uint8_t operator_sk[static SH_DIR_SECRET_KEY_BYTES],
                         const uint8_t node_identity[static SH_DIR_KEY_BYTES],
                         uint8_t sig[static SH_DIR_SIGNATURE_BYTES]);

/* Encodes and signs a descriptor from `node` (flags and swarm_id ignored); node->identity must
 * be the public half of identity_sk. Writes the signed bytes (a Signed message) into out. */
int sh_dir_descriptor_sign(const sh_dir_node *node, const uint8_t identity_sk[static SH_DIR_SECRET_KEY_BYTES],
                           sh_buf *out);
/* Decodes and checks a signed descriptor: canonical bytes, labels, the identity's signatures
 * of the descriptor and of both onion keys, the operator's grant, the address, and freshness at
 * now_ms (current onion key valid, next not expired, published not in the future). Fills *out
 * (flags = 0, swarm_id = 0). */
int sh_dir_descriptor_verify(const uint8_t *bytes, size_t len, int64_t now_ms, sh_dir_node *out)
    __attribute__((warn_unused_result));

/* ---- Addresses ---------------------------------------------------------------------------- */

/* Parses a canonical "a.b.c.d:port" or "[v6]:port" (inet_ntop spelling, port 1..65535 without
 * leading zeros; unspecified and multicast addresses refused). ip gets 4 or 16 bytes. */
int sh_dir_address_parse(const char *text, uint8_t ip[16], size_t *ip_len, uint16_t *port);
bool sh_dir_address_is_loopback(const char *text);

/* ---- The network file --------------------------------------------------------------------- */

typedef struct sh_dir_network sh_dir_network;

typedef struct sh_dir_authority {
    uint8_t identity[SH_DIR_KEY_BYTES];   /* Ed25519: signs votes and maps */
    uint8_t link_key[SH_DIR_KEY_BYTES];   /* X25519: its Noise static key */
    char address[SH_DIR_ADDRESS_MAX + 1];
} sh_dir_authority;

/* Parses a network file's text (docs/network-file.md). Errors name the line. */
int sh_dir_network_parse(const char *text, size_t len, sh_dir_network **out);
int sh_dir_network_load(const char *path, sh_dir_network **out);
/* A network from its parts (devnets write it out with sh_dir_network_format). */
int sh_dir_network_new(const char *name, unsigned k, const sh_dir_authority *authorities, size_t n,
                       const sh_dir_swarm_params *params, sh_dir_network **out);
void sh_dir_network_free(sh_dir_network *net);
/* The canonical text of the network (what its id hashes); parses back to the same network. */
int sh_dir_network_format(const sh_dir_network *net, sh_buf *out);
const char *sh_dir_network_name(const sh_dir_network *net);
unsigned sh_dir_network_k(const sh_dir_network *net);
/* Authorities sorted by identity key. */
size_t sh_dir_network_authority_count(const sh_dir_network *net);
const sh_dir_authority *sh_dir_network_authority(const sh_dir_network *net, size_t i);
/* Index of the authority with this identity; SH_ERR_NOT_FOUND when it is not one. */
int sh_dir_network_find(const sh_dir_network *net, const uint8_t identity[static SH_DIR_KEY_BYTES],
                        size_t *index);
const uint8_t *sh_dir_network_id(const sh_dir_network *net);
const sh_dir_swarm_params *sh_dir_network_swarm_params(const sh_dir_network *net);

/* ---- The map ------------------------------------------------------------------------------ */

typedef struct sh_dir_map sh_dir_map;

typedef struct sh_dir_swarm {
    uint64_t id;                 /* its position on the 64-bit ring */
    int64_t undersized_since_ms; /* 0 unless it has fewer than min-1 members */
} sh_dir_swarm;

/* Decodes a published map (canonical bytes, consistent contents). Checks no signature: call
 * sh_dir_map_verify before trusting it, or use sh_dir_map_load. */
int sh_dir_map_decode(const uint8_t *bytes, size_t len, sh_dir_map **out);
/* A map is valid when it is for this network, carries valid signatures of at least k distinct
 * authorities of the network file and none by anyone else or forged, its version is at least
 * cached_version (0 when nothing is cached), and now_ms is inside its validity window (a map
 * may start up to SH_DIR_CLOCK_SKEW_MS early). SH_ERR_STALE says how old or how early it is. */
int sh_dir_map_verify(const sh_dir_map *map, const sh_dir_network *net, uint64_t cached_version,
                      int64_t now_ms) __attribute__((warn_unused_result));
/* sh_dir_map_decode + sh_dir_map_verify. */
int sh_dir_map_load(const uint8_t *bytes, size_t len, const sh_dir_network *net,
                    uint64_t cached_version, int64_t now_ms, sh_dir_map **out)
    __attribute__((warn_unused_result));
void sh_dir_map_free(sh_dir_map *map);
/* The published bytes: the body and its signatures. */
int sh_dir_map_encode(const sh_dir_map *map, sh_buf *out);

uint64_t sh_dir_map_version(const sh_dir_map *map);
int64_t sh_dir_map_valid_after(const sh_dir_map *map);
int64_t sh_dir_map_valid_until(const sh_dir_map *map);
const uint8_t *sh_dir_map_network_id(const sh_dir_map *map);
/* The signed bytes and their BLAKE2b-256 hash (what votes and diffs name). */
const uint8_t *sh_dir_map_body(const sh_dir_map *map, size_t *len);
const uint8_t *sh_dir_map_body_hash(const sh_dir_map *map);
const sh_dir_swarm_params *sh_dir_map_swarm_params(const sh_dir_map *map);

/* Nodes sorted by identity. */
const sh_dir_node *sh_dir_map_nodes(const sh_dir_map *map, size_t *count);
const sh_dir_node *sh_dir_map_find_node(const sh_dir_map *map, const uint8_t identity[static SH_DIR_KEY_BYTES]);
/* The node whose link (Noise static) key this is, or NULL: the node-method authorization. */
const sh_dir_node *sh_dir_map_find_link_key(const sh_dir_map *map, const uint8_t link_key[static SH_DIR_KEY_BYTES]);
/* Swarms sorted by id (none until the network has min nodes), and their ids alone. */
const sh_dir_swarm *sh_dir_map_swarms(const sh_dir_map *map, size_t *count);
const uint64_t *sh_dir_map_swarm_ids(const sh_dir_map *map, size_t *count);
/* Up to `cap` members of a swarm, sorted by identity; *count is the full number.
 * SH_ERR_NOT_FOUND when there is no such swarm. */
int sh_dir_map_swarm_members(const sh_dir_map *map, uint64_t swarm_id, const sh_dir_node **members,
                             size_t cap, size_t *count);
/* The swarm that stores an account (Session-compatible: swarm-space position of its X25519 key,
 * nearest swarm id on the ring). SH_ERR_UNAVAILABLE when the map has no swarms yet. */
int sh_dir_map_owner_swarm(const sh_dir_map *map, const uint8_t owner_x25519[static SH_DIR_KEY_BYTES],
                           uint64_t *swarm_id);

/* Signatures: an authority adds its own (sh_dir_map_sign), hands it to the others
 * (sh_dir_map_signature) and adds theirs after checking them (sh_dir_map_add_signature). */
int sh_dir_map_sign(sh_dir_map *map, const sh_dir_network *net,
                    const uint8_t authority_sk[static SH_DIR_SECRET_KEY_BYTES]);
int sh_dir_map_signature(const sh_dir_map *map, const uint8_t authority[static SH_DIR_KEY_BYTES],
                         uint8_t sig[static SH_DIR_SIGNATURE_BYTES]);
int sh_dir_map_add_signature(sh_dir_map *map, const sh_dir_network *net,
                             const uint8_t authority[static SH_DIR_KEY_BYTES],
                             const uint8_t sig[static SH_DIR_SIGNATURE_BYTES])
    __attribute__((warn_unused_result));
size_t sh_dir_map_signature_count(const sh_dir_map *map);

/* ---- Diffs -------------------------------------------------------------------------------- */

/* The diff that turns `from` into `to` (with to's signatures). */
int sh_dir_map_diff(const sh_dir_map *from, const sh_dir_map *to, sh_buf *out);
/* Applies a diff to `from`; the result is byte-identical to the map the diff was made from
 * (SH_ERR_CHECKSUM otherwise) and still has to pass sh_dir_map_verify. */
int sh_dir_map_apply_diff(const sh_dir_map *from, const uint8_t *diff, size_t len, sh_dir_map **out)
    __attribute__((warn_unused_result));

/* ---- Votes and the consensus ---------------------------------------------------------------- */

typedef struct sh_dir_vote sh_dir_vote;

/* An authority's signed vote listing `nodes` (any order, identities distinct; flags kept,
 * swarm_id ignored) for the map after `prev` (NULL for the first map). */
int sh_dir_vote_create(const sh_dir_network *net, const sh_dir_map *prev,
                       const uint8_t authority_sk[static SH_DIR_SECRET_KEY_BYTES],
                       int64_t valid_after_ms, int64_t valid_until_ms, const sh_dir_node *nodes,
                       size_t n_nodes, sh_buf *out);
/* Decodes and checks a vote: canonical, signed by an authority of `net`, for this network, and
 * built on `prev` (SH_ERR_STALE when it names another map). */
int sh_dir_vote_load(const uint8_t *bytes, size_t len, const sh_dir_network *net,
                     const sh_dir_map *prev, sh_dir_vote **out) __attribute__((warn_unused_result));
void sh_dir_vote_free(sh_dir_vote *vote);
const uint8_t *sh_dir_vote_authority(const sh_dir_vote *vote);
const sh_dir_node *sh_dir_vote_nodes(const sh_dir_vote *vote, size_t *count);

/* The consensus map after `prev` from the loaded votes of more than half of the authorities
 * (distinct): a node is in when more than half of all authorities list it; each field takes
 * the value most votes give it (ties: the smallest encoding); each flag needs more than half of
 * the votes that list the node; validity times are the lower medians of the votes'; swarms are
 * assigned incrementally from prev. Unsigned: every authority gets the same bytes and signs. */
int sh_dir_consensus(const sh_dir_network *net, const sh_dir_map *prev,
                     const sh_dir_vote *const *votes, size_t n_votes, sh_dir_map **out);

/* ---- Admission policy (authorities) ------------------------------------------------------- */

typedef struct sh_dir_policy {
    bool open;                              /* true: anyone; false: allow-list only */
    const uint8_t (*allowed)[SH_DIR_KEY_BYTES]; /* operator keys or node identities */
    size_t n_allowed;
    unsigned max_per_16;                    /* nodes per IPv4 /16 or IPv6 /32; 0 = no limit;
                                               loopback addresses are never limited */
    unsigned max_per_operator;              /* 0 = no limit */
    int64_t guard_stable_ms;                /* stable this long -> Guard flag */
    int64_t drop_grace_ms;                  /* a listed node stays listed until its failed
                                               tests span this long; 0 = the first failure
                                               drops it */
} sh_dir_policy;

/* May `candidate` (a verified descriptor) join, given the nodes already admitted (an entry
 * with the candidate's identity is its older descriptor and does not count)? SH_ERR_PERMISSION
 * when not allowed, SH_ERR_LIMIT when its /16 or operator is full. */
int sh_dir_policy_admit(const sh_dir_policy *policy, const sh_dir_node *candidate,
                        const sh_dir_node *admitted, size_t n_admitted)
    __attribute__((warn_unused_result));
/* Flags for a node stable (continuously reachable) since stable_since_ms. */
uint32_t sh_dir_policy_flags(const sh_dir_policy *policy, int64_t stable_since_ms, int64_t now_ms);

/* ---- An authority's registry of admitted nodes ------------------------------------------- */

typedef struct sh_dir_registry sh_dir_registry;

/* A registry applying `policy` (copied, allow-list included). */
int sh_dir_registry_new(const sh_dir_policy *policy, sh_dir_registry **out);
void sh_dir_registry_free(sh_dir_registry *r);
/* A node submits its signed descriptor: verified at now_ms, admitted by the policy, then added
 * or (same identity, published no earlier) put in place of the older one. A new address or link
 * key makes the node unreachable until tested again. *out (may be NULL) gets the node, so the
 * caller can test reachability at its address with its link key. SH_ERR_STALE when an older
 * descriptor than the one held is submitted; the verify and policy errors otherwise. */
int sh_dir_registry_submit(sh_dir_registry *r, const uint8_t *bytes, size_t len, int64_t now_ms,
                           sh_dir_node *out) __attribute__((warn_unused_result));
/* The result of a reachability test (a Noise handshake to the node's address and link key).
 * Becoming reachable starts the node's stable time (the Guard flag's clock); failing resets it.
 * A listed node that fails is FAILING: still voted for (without flags) until a failed test comes
 * at least policy.drop_grace_ms after its first failed one, which drops it; a success before
 * that keeps its place (docs/directory.md "Downtime and the grace period"). */
int sh_dir_registry_set_reachable(sh_dir_registry *r, const uint8_t identity[static SH_DIR_KEY_BYTES],
                                  bool reachable, int64_t now_ms);
int sh_dir_registry_remove(sh_dir_registry *r, const uint8_t identity[static SH_DIR_KEY_BYTES]);
/* Drops the nodes whose current onion key has expired; returns how many. */
size_t sh_dir_registry_expire(sh_dir_registry *r, int64_t now_ms);
size_t sh_dir_registry_count(const sh_dir_registry *r);
/* Every admitted node, sorted by identity (valid until the next change to the registry). */
const sh_dir_node *sh_dir_registry_nodes(const sh_dir_registry *r, size_t *count);
/* The nodes to vote for at now_ms: listed (reachable, or failing within the grace), with a
 * current onion key valid now, flags from the policy (Guard after guard_stable_ms of
 * reachability; none while failing). *out is malloc'd (free()). */
int sh_dir_registry_vote_nodes(const sh_dir_registry *r, int64_t now_ms, sh_dir_node **out,
                               size_t *count);

/* One admitted node as the registry holds it (pointers valid until the next change). */
typedef struct sh_dir_registry_entry {
    const sh_dir_node *node;
    const uint8_t *descriptor;   /* the signed bytes that were submitted */
    size_t descriptor_len;
    bool reachable;              /* the last reachability test succeeded */
    bool listed;                 /* voted for: reachable, or failing within the grace */
    int64_t failing_since_ms;    /* failing (listed): its first failed test; 0 otherwise */
    int64_t stable_since_ms;     /* reachable without a failed test since (0 when not) */
    int64_t tested_ms;           /* when it was last tested (0: never) */
} sh_dir_registry_entry;

/* Index (in sh_dir_registry_nodes order) of a node; SH_ERR_NOT_FOUND when not held. */
int sh_dir_registry_find(const sh_dir_registry *r, const uint8_t identity[static SH_DIR_KEY_BYTES],
                         size_t *index);
int sh_dir_registry_entry_at(const sh_dir_registry *r, size_t index, sh_dir_registry_entry *out);
/* Puts back a node saved by an authority before a restart: the descriptor is submitted again
 * (verified at now_ms and admitted by the current policy, or refused with their errors), then
 * its test results are restored (failing_since_ms != 0 with reachable false: still FAILING). */
int sh_dir_registry_restore(sh_dir_registry *r, const uint8_t *bytes, size_t len, int64_t now_ms,
                            bool reachable, int64_t stable_since_ms, int64_t failing_since_ms,
                            int64_t tested_ms)
    __attribute__((warn_unused_result));

#endif
