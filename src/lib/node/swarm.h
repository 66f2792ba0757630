/* What a client of a networked node needs beyond node/request.h (docs/swarm.md,
 * "Receipts"; overview.md "Swarms"): signed store receipts and their check against the map, and
 * the swarm a node points to when it refuses an owner with SH_ERR_WRONG_SWARM.
 *
 * A receipt is a node's Ed25519 signature, by its identity key, over
 *   SH_LABEL_NODE_RECEIPT ‖ hash (32) ‖ owner (33) ‖ namespace (2, big-endian two's complement)
 *   ‖ expiry_ms (8, big-endian) ‖ node_id (32) ‖ map_version (8, big-endian)
 * A node signs one only for a message it has committed. */
#ifndef SH_NODE_SWARM_H
#define SH_NODE_SWARM_H

#include <stddef.h>
#include <stdint.h>

#include "dir/dir.h"
#include "crypto/labels.h"
#include "node/request.h"

#define SH_NODE_RECEIPT_SIGNED_BYTES (sizeof SH_LABEL_NODE_RECEIPT - 1 + 32 + 33 + 2 + 8 + 32 + 8)
#define SH_NODE_MAX_RECEIPTS 64 /* in one answer */
#define SH_NODE_MAX_REDIRECT 64 /* nodes named by a WRONG_SWARM answer */

typedef struct sh_node_receipt {
    uint8_t hash[SH_STORE_HASH_BYTES];
    uint8_t owner[SH_STORE_OWNER_BYTES];
    int16_t ns;
    int64_t expiry_ms;
    uint8_t node_id[32];
    uint64_t map_version;
    uint8_t signature[64];
} sh_node_receipt;

/* The signed bytes of a receipt (layout above). */
void sh_node_receipt_message(const sh_node_receipt *r, uint8_t out[SH_NODE_RECEIPT_SIGNED_BYTES]);
/* Signs r with the node's Ed25519 secret key (libsodium's 64 bytes); r->node_id must be its
 * public half. */
void sh_node_receipt_sign(sh_node_receipt *r, const uint8_t node_sk[static 64]);
/* Checks r: the signature by r->node_id, and that the node is in `map` (or in `prev`, may be
 * NULL, for a node that left since and a receipt no newer than prev). A receipt more than one
 * version ahead of `map` is SH_ERR_STALE. SH_ERR_CRYPTO for a forged signature, SH_ERR_NOT_FOUND for a node that is
 * not in the map. */
int sh_node_receipt_verify(const sh_node_receipt *r, const sh_dir_map *map, const sh_dir_map *prev)
    SH_NODE_WUR;

/* The receipts of a store answer (StoreResponse) or of a get_receipts answer; *n <= cap. */
int sh_node_receipts_parse(const uint8_t *body, size_t len, bool store_answer,
                           sh_node_receipt *out, size_t cap, size_t *n) SH_NODE_WUR;

/* A member of the swarm an error answer points to. */
typedef struct sh_node_swarm_member {
    uint8_t identity[32];
    uint8_t link_key[32];
    char address[SH_DIR_ADDRESS_MAX + 1];
} sh_node_swarm_member;

/* The swarm members and map version of an SH_ERR_WRONG_SWARM answer (ErrorResponse); *n <= cap. */
int sh_node_redirect_parse(const uint8_t *body, size_t len, uint64_t *map_version,
                           sh_node_swarm_member *out, size_t cap, size_t *n) SH_NODE_WUR;

#endif
