/* Internals shared by the files of the dir module: canonical protobuf decoding, conversions
 * between sh_dir_node and its wire form, the map object's layout, and message helpers. */
#ifndef SH_DIR_INTERNAL_H
#define SH_DIR_INTERNAL_H

#include <protobuf-c/protobuf-c.h>

#include "dir.pb-c.h"
#include "dir/dir.h"

/* ---- pb.c: canonical protobuf ---- */

/* Packs m into out (replacing its contents); SH_ERR_LIMIT above max bytes. */
int sh__dir_pb_pack(const ProtobufCMessage *m, size_t max, sh_buf *out);
/* Unpacks `what` canonically: at most max bytes, no unknown fields at any depth, and packing
 * the result gives back exactly the input. Free with protobuf_c_message_free_unpacked. */
int sh__dir_pb_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *in, size_t len,
                      size_t max, const char *what, ProtobufCMessage **out);
/* Checks that a decoded message's label (field 1) is `want`. */
int sh__dir_check_label(const char *got, const char *want, const char *what);
/* Exactly n bytes, or SH_ERR_FORMAT naming the field. */
int sh__dir_check_len(const ProtobufCBinaryData *b, size_t n, const char *what);
/* Printable ASCII of at most max characters (empty allowed when allow_empty). */
int sh__dir_check_text(const char *s, size_t max, bool allow_empty, const char *what);
/* Copies a decoded string into a fixed array of cap bytes (SH_ERR_LIMIT when it does not fit). */
int sh__dir_copy_text(char *dst, size_t cap, const char *src, const char *what);
/* A protobuf uint64 time must fit an int64_t. */
int sh__dir_check_time(uint64_t t, const char *what);
static inline ProtobufCBinaryData sh__dir_bin(const uint8_t *p, size_t n)
{
    return (ProtobufCBinaryData){.len = n, .data = (uint8_t *)p};
}

/* ---- node.c: nodes and onion keys on the wire ---- */

/* Storage to pack one node: the Node message and its two onion keys. */
typedef struct sh__dir_node_pb {
    Shoal__Dir__Node node;
    Shoal__Dir__OnionKey cur, next;
} sh__dir_node_pb;

/* Fills pb to encode n (pointers into n; n must outlive pb). */
void sh__dir_node_to_pb(const sh_dir_node *n, sh__dir_node_pb *pb);
void sh__dir_onion_to_pb(const sh_dir_onion_key *k, const uint8_t identity[static 32],
                         Shoal__Dir__OnionKey *pb);
/* Checks and copies a decoded Node (structure only: lengths, text, address, epochs, flags). */
int sh__dir_node_from_pb(const Shoal__Dir__Node *pb, sh_dir_node *out);
int sh__dir_onion_from_pb(const Shoal__Dir__OnionKey *pb, const ProtobufCBinaryData *sig,
                          const uint8_t identity[static 32], const char *which, sh_dir_onion_key *out);
/* The identity's signature of an onion key and that the key is a ristretto255 point. */
int sh__dir_onion_verify_sig(const sh_dir_onion_key *k, const uint8_t identity[static 32])
    __attribute__((warn_unused_result));
/* Checks the fields every node must have right (before encoding or after decoding). */
int sh__dir_node_check(const sh_dir_node *n);
/* Orders nodes by identity (qsort, bsearch). */
int sh__dir_node_cmp_identity(const void *a, const void *b);

/* ---- network.c ---- */

/* target 1..SH_DIR_SWARM_TARGET_MAX, min 1..target+2, grace >= 0. */
int sh__dir_check_swarm_params(const sh_dir_swarm_params *p);

/* ---- map.c: the map object ---- */

typedef struct sh__dir_sig {
    uint8_t authority[SH_DIR_KEY_BYTES];
    uint8_t sig[SH_DIR_SIGNATURE_BYTES];
} sh__dir_sig;

struct sh_dir_map {
    sh_buf body;                          /* encoded MapBody: the signed bytes */
    uint8_t body_hash[SH_DIR_HASH_BYTES];
    uint8_t network_id[SH_DIR_HASH_BYTES];
    uint64_t version;
    int64_t valid_after_ms;
    int64_t valid_until_ms;
    sh_dir_swarm_params params;
    uint8_t swarm_seed[SH_DIR_HASH_BYTES];
    sh_dir_swarm *swarms;                 /* sorted by id */
    uint64_t *swarm_ids;                  /* the same ids alone, for sh_swarm_nearest */
    size_t n_swarms;
    sh_dir_node *nodes;                   /* sorted by identity */
    size_t n_nodes;
    sh__dir_sig *sigs;                    /* sorted by authority */
    size_t n_sigs;
};

/* A new empty map (zeroed, body buffer initialised). */
int sh__dir_map_alloc(sh_dir_map **out);
/* Checks the contents (order, swarm references, limits), encodes the body and hashes it.
 * Takes the map's header fields, swarms and nodes as they are. */
int sh__dir_map_seal(sh_dir_map *map);
/* Fills a MapBody message from the map's fields (nodes_pb: n_nodes slots, or NULL to leave
 * the nodes out, as a diff's head does). Pointers into map. */
void sh__dir_body_to_pb(const sh_dir_map *map, Shoal__Dir__MapBody *body, Shoal__Dir__Swarm *swarms_pb,
                        Shoal__Dir__Swarm **swarm_ptrs, sh__dir_node_pb *nodes_pb,
                        Shoal__Dir__Node **node_ptrs);
/* Reads a MapBody's header fields and swarms (not its nodes) into map. */
int sh__dir_body_head_from_pb(const Shoal__Dir__MapBody *pb, sh_dir_map *map);
/* Reads a list of Signature messages into map->sigs (strictly sorted by authority). */
int sh__dir_sigs_from_pb(Shoal__Dir__Signature *const *pb, size_t n, sh_dir_map *map);

/* ---- vote.c ---- */

struct sh_dir_vote {
    uint8_t authority[SH_DIR_KEY_BYTES];
    int64_t valid_after_ms;
    int64_t valid_until_ms;
    uint64_t prev_version;                    /* 0: the first map */
    uint8_t prev_body_hash[SH_DIR_HASH_BYTES];
    uint8_t prev_signature[SH_DIR_SIGNATURE_BYTES];
    sh_dir_node *nodes;                       /* sorted by identity */
    size_t n_nodes;
};

/* ---- misc.c ---- */

/* BLAKE2b-256 of one buffer. */
void sh__dir_hash(uint8_t out[static SH_DIR_HASH_BYTES], const uint8_t *in, size_t len);
/* "3 h 25 min" style text for a duration in ms (non-negative). */
void sh__dir_format_duration(char *out, size_t size, int64_t ms);
/* Short hex form of a key for messages ("ab12cd34"). */
void sh__dir_short_id(char out[static 9], const uint8_t key[static 4]);
/* Checks `now_ms` against a validity window; `what` names the object in the message. */
int sh__dir_check_window(int64_t valid_after_ms, int64_t valid_until_ms, int64_t now_ms,
                         const char *what);

#endif
