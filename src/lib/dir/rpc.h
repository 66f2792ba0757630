/* Internals of the directory protocol (docs/directory.md "Protocol"): decoded forms of the RPC
 * bodies of proto/dirnet.proto, their encoders and checked decoders, and blobs that travel in
 * chunks (maps, diffs and votes are larger than one RPC body). Every decoder here reads input
 * from the network or a file and has a fuzz target (fuzz/dir/dir-rpc.c, dir-state.c). */
#ifndef SH_DIR_RPC_H
#define SH_DIR_RPC_H

#include "dir/client.h"
#include "dir/internal.h"
#include "dirnet.pb-c.h"

/* Largest RPC body any dir method accepts or sends: a chunk and its fields. */
#define SH__DIR_RPC_MAX_BYTES (SH_DIR_CHUNK_BYTES + 1024)
_Static_assert(SH__DIR_RPC_MAX_BYTES <= SH_RPC_MAX_BODY_BYTES, "a dir chunk must fit one RPC body");
/* The largest blob of any kind (a diff). */
#define SH__DIR_BLOB_MAX_BYTES SH_DIR_DIFF_MAX_BYTES
/* The saved registry: every node's descriptor and its state. */
#define SH__DIR_STATE_MAX_BYTES (SH_DIR_MAX_NODES * (SH_DIR_DESCRIPTOR_MAX_BYTES + 64) + 1024)

enum {
    SH__DIR_MAP_FULL = 1,
    SH__DIR_MAP_DIFF = 2,
    SH__DIR_MAP_UNCHANGED = 3,
};

/* One slice of a blob; data points into the decoded message that holds it. */
typedef struct sh__dir_chunk {
    bool present;
    uint64_t total;
    uint64_t offset;
    uint8_t digest[SH_DIR_HASH_BYTES];
    const uint8_t *data;
    size_t len;
} sh__dir_chunk;

/* A request for a blob: first slice (no digest) or the next slice of `digest`. */
typedef struct sh__dir_blob_req {
    bool has_digest;
    uint8_t digest[SH_DIR_HASH_BYTES];
    uint64_t offset;
} sh__dir_blob_req;

typedef struct sh__dir_map_get {
    bool has_have;
    uint8_t have_body_hash[SH_DIR_HASH_BYTES];
    sh__dir_blob_req blob;
} sh__dir_map_get;

typedef struct sh__dir_latest {
    uint64_t version;                       /* 0: no map */
    uint8_t body_hash[SH_DIR_HASH_BYTES];
} sh__dir_latest;

typedef struct sh__dir_map_reply {
    uint32_t kind;
    uint64_t version;
    sh__dir_chunk chunk;
    Shoal__Dirnet__MapReply *pb;            /* owns chunk.data */
} sh__dir_map_reply;

typedef struct sh__dir_pong {
    uint8_t network_id[SH_DIR_HASH_BYTES];
    uint64_t map_version;
    int64_t now_ms;
} sh__dir_pong;

typedef struct sh__dir_vote_get {
    uint64_t round;
    sh__dir_blob_req blob;
} sh__dir_vote_get;

typedef struct sh__dir_vote_reply {
    uint64_t round;
    sh__dir_latest latest;
    sh__dir_chunk chunk;
    Shoal__Dirnet__VoteReply *pb;           /* owns chunk.data */
} sh__dir_vote_reply;

typedef struct sh__dir_sig_reply {
    uint64_t round;
    sh__dir_latest latest;
    bool has_body;
    uint8_t body_hash[SH_DIR_HASH_BYTES];
    uint64_t version;
    size_t n_sigs;
    sh__dir_sig sigs[SH_DIR_MAX_AUTHORITIES];
} sh__dir_sig_reply;

typedef struct sh__dir_publish_reply {
    bool reachable;
    uint64_t map_version;
} sh__dir_publish_reply;

/* ---- rpc.c: encoders (into out, replacing it) and checked decoders ---- */
int sh__dir_map_get_encode(const sh__dir_map_get *m, sh_buf *out);
int sh__dir_map_get_decode(const uint8_t *in, size_t len, sh__dir_map_get *out)
    __attribute__((warn_unused_result));
/* chunk may be NULL (unchanged). */
int sh__dir_map_reply_encode(uint32_t kind, uint64_t version, const sh__dir_chunk *chunk, sh_buf *out);
int sh__dir_map_reply_decode(const uint8_t *in, size_t len, sh__dir_map_reply *out)
    __attribute__((warn_unused_result));
void sh__dir_map_reply_release(sh__dir_map_reply *r);

int sh__dir_pong_encode(const sh__dir_pong *p, sh_buf *out);
int sh__dir_pong_decode(const uint8_t *in, size_t len, sh__dir_pong *out)
    __attribute__((warn_unused_result));

int sh__dir_publish_encode(const uint8_t *descriptor, size_t len, sh_buf *out);
/* *descriptor points into *pb (free with protobuf_c_message_free_unpacked). */
int sh__dir_publish_decode(const uint8_t *in, size_t len, Shoal__Dirnet__Publish **pb)
    __attribute__((warn_unused_result));
int sh__dir_publish_reply_encode(const sh__dir_publish_reply *r, sh_buf *out);
int sh__dir_publish_reply_decode(const uint8_t *in, size_t len, sh__dir_publish_reply *out)
    __attribute__((warn_unused_result));

int sh__dir_vote_get_encode(const sh__dir_vote_get *g, sh_buf *out);
int sh__dir_vote_get_decode(const uint8_t *in, size_t len, sh__dir_vote_get *out)
    __attribute__((warn_unused_result));
int sh__dir_vote_reply_encode(uint64_t round, const sh__dir_latest *latest, const sh__dir_chunk *chunk,
                              sh_buf *out);
int sh__dir_vote_reply_decode(const uint8_t *in, size_t len, sh__dir_vote_reply *out)
    __attribute__((warn_unused_result));
void sh__dir_vote_reply_release(sh__dir_vote_reply *r);

int sh__dir_sig_get_encode(uint64_t round, sh_buf *out);
int sh__dir_sig_get_decode(const uint8_t *in, size_t len, uint64_t *round)
    __attribute__((warn_unused_result));
int sh__dir_sig_reply_encode(const sh__dir_sig_reply *r, sh_buf *out);
int sh__dir_sig_reply_decode(const uint8_t *in, size_t len, sh__dir_sig_reply *out)
    __attribute__((warn_unused_result));

/* ---- chunk.c: blobs in chunks ---- */

/* The slice of `blob` a request asks for: SH_ERR_NOT_FOUND when it names another digest,
 * SH_ERR_RANGE for an offset past the end. chunk->data points into blob. */
int sh__dir_chunk_slice(const uint8_t *blob, size_t len, const uint8_t digest[static SH_DIR_HASH_BYTES],
                        const sh__dir_blob_req *req, size_t chunk_bytes, sh__dir_chunk *chunk);

/* Reassembles a blob from its slices, in order. */
typedef struct sh__dir_assembly {
    sh_buf data;
    uint8_t digest[SH_DIR_HASH_BYTES];
    uint64_t total;
    size_t max;
    bool started;
} sh__dir_assembly;

void sh__dir_assembly_init(sh__dir_assembly *a, size_t max);
void sh__dir_assembly_free(sh__dir_assembly *a);
/* Adds the next slice: it must continue the same blob at exactly the bytes held, within max
 * (SH_ERR_PROTOCOL, SH_ERR_LIMIT); the last one completes it and checks the digest
 * (SH_ERR_CHECKSUM). */
int sh__dir_assembly_add(sh__dir_assembly *a, const sh__dir_chunk *c) __attribute__((warn_unused_result));
bool sh__dir_assembly_complete(const sh__dir_assembly *a);
/* The request for the next slice (the first one when nothing arrived yet). */
void sh__dir_assembly_next(const sh__dir_assembly *a, sh__dir_blob_req *req);

/* ---- state.c: the authority's saved registry ---- */

typedef struct sh__dir_state_entry {
    const uint8_t *descriptor;
    size_t len;
    bool reachable;
    int64_t stable_since_ms;
    int64_t tested_ms;
    int64_t failing_since_ms;
} sh__dir_state_entry;

/* Decodes a saved registry for network `network_id`; entries point into *pb (free with
 * protobuf_c_message_free_unpacked) and *entries (free()). */
int sh__dir_state_decode(const uint8_t *in, size_t len, const uint8_t network_id[static SH_DIR_HASH_BYTES],
                         Shoal__Dirnet__AuthorityState **pb, sh__dir_state_entry **entries,
                         size_t *n) __attribute__((warn_unused_result));
int sh__dir_state_encode(const uint8_t network_id[static SH_DIR_HASH_BYTES],
                         const sh__dir_state_entry *entries, size_t n, sh_buf *out);

#endif
