/* Bodies of the directory RPC methods (proto/dirnet.proto, docs/directory.md "Protocol"):
 * encoders, and decoders that check every field a peer could get wrong (lengths of hashes and
 * keys, chunk bounds, counts) before anything else reads it. These bodies carry no signature of
 * their own, so they need not be canonical; what they carry is verified where it is used. */
#include "dir/rpc.h"

#include <string.h>

#include "util/err.h"

typedef const ProtobufCMessageDescriptor *pbdesc;

static int unpack(pbdesc desc, const uint8_t *in, size_t len, size_t max, ProtobufCMessage **out)
{
    ProtobufCMessage *m;

    if (len > max)
        return sh_err_set(SH_ERR_LIMIT, "a %s of %zu bytes is over the %zu-byte limit",
                          desc->short_name, len, max);
    m = protobuf_c_message_unpack(desc, NULL, len, in);
    if (m == NULL)
        return sh_err_set(SH_ERR_FORMAT, "not a valid %s message", desc->short_name);
    *out = m;
    return SH_OK;
}

static void release(void *m)
{
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
}

/* An optional 32-byte value: empty means absent. */
static int opt_hash(const ProtobufCBinaryData *b, bool *has, uint8_t out[static 32], const char *what)
{
    *has = b->len != 0;
    if (b->len == 0)
        return SH_OK;
    if (b->len != 32)
        return sh_err_set(SH_ERR_FORMAT, "%s is %zu bytes, expected 32", what, b->len);
    memcpy(out, b->data, 32);
    return SH_OK;
}

static int blob_req_from(const ProtobufCBinaryData *digest, uint64_t offset, sh__dir_blob_req *out)
{
    int rc = opt_hash(digest, &out->has_digest, out->digest, "blob digest");

    if (rc != SH_OK)
        return rc;
    if (!out->has_digest && offset != 0)
        return sh_err_set(SH_ERR_FORMAT, "a request for the first slice of a blob has offset %llu",
                          (unsigned long long)offset);
    if (offset >= SH__DIR_BLOB_MAX_BYTES)
        return sh_err_set(SH_ERR_RANGE, "offset %llu is past any blob", (unsigned long long)offset);
    out->offset = offset;
    return SH_OK;
}

static void chunk_to_pb(const sh__dir_chunk *c, Shoal__Dirnet__Chunk *pb)
{
    shoal__dirnet__chunk__init(pb);
    pb->total = c->total;
    pb->offset = c->offset;
    pb->digest = sh__dir_bin(c->digest, SH_DIR_HASH_BYTES);
    pb->data = sh__dir_bin(c->data, c->len);
}

/* A chunk must describe a possible slice: 1..max total, data inside it, not empty unless the
 * blob is. */
static int chunk_from_pb(const Shoal__Dirnet__Chunk *pb, sh__dir_chunk *out)
{
    memset(out, 0, sizeof *out);
    if (pb == NULL)
        return SH_OK;
    if (pb->digest.len != SH_DIR_HASH_BYTES)
        return sh_err_set(SH_ERR_FORMAT, "a chunk's digest is %zu bytes, expected 32", pb->digest.len);
    if (pb->total == 0 || pb->total > SH__DIR_BLOB_MAX_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "a blob of %llu bytes (allowed: 1 to %u)",
                          (unsigned long long)pb->total, SH__DIR_BLOB_MAX_BYTES);
    if (pb->data.len == 0 || pb->data.len > SH_DIR_CHUNK_BYTES || pb->offset >= pb->total ||
        pb->data.len > pb->total - pb->offset)
        return sh_err_set(SH_ERR_FORMAT, "a chunk of %zu bytes at offset %llu does not fit a "
                          "blob of %llu bytes", pb->data.len, (unsigned long long)pb->offset,
                          (unsigned long long)pb->total);
    out->present = true;
    out->total = pb->total;
    out->offset = pb->offset;
    memcpy(out->digest, pb->digest.data, SH_DIR_HASH_BYTES);
    out->data = pb->data.data;
    out->len = pb->data.len;
    return SH_OK;
}

static int pack(const ProtobufCMessage *m, sh_buf *out)
{
    return sh__dir_pb_pack(m, SH__DIR_RPC_MAX_BYTES, out);
}

/* ---- dir.map.get ---- */

int sh__dir_map_get_encode(const sh__dir_map_get *m, sh_buf *out)
{
    Shoal__Dirnet__MapGet pb = SHOAL__DIRNET__MAP_GET__INIT;

    if (m->has_have)
        pb.have_body_hash = sh__dir_bin(m->have_body_hash, SH_DIR_HASH_BYTES);
    if (m->blob.has_digest)
        pb.digest = sh__dir_bin(m->blob.digest, SH_DIR_HASH_BYTES);
    pb.offset = m->blob.offset;
    return pack(&pb.base, out);
}

int sh__dir_map_get_decode(const uint8_t *in, size_t len, sh__dir_map_get *out)
{
    Shoal__Dirnet__MapGet *pb = NULL;
    int rc = unpack(&shoal__dirnet__map_get__descriptor, in, len, 256, (ProtobufCMessage **)&pb);

    if (rc != SH_OK)
        return rc;
    memset(out, 0, sizeof *out);
    rc = opt_hash(&pb->have_body_hash, &out->has_have, out->have_body_hash, "have_body_hash");
    if (rc == SH_OK)
        rc = blob_req_from(&pb->digest, pb->offset, &out->blob);
    release(pb);
    return rc;
}

int sh__dir_map_reply_encode(uint32_t kind, uint64_t version, const sh__dir_chunk *chunk, sh_buf *out)
{
    Shoal__Dirnet__MapReply pb = SHOAL__DIRNET__MAP_REPLY__INIT;
    Shoal__Dirnet__Chunk c;

    pb.kind = kind;
    pb.version = version;
    if (chunk != NULL) {
        chunk_to_pb(chunk, &c);
        pb.chunk = &c;
    }
    return pack(&pb.base, out);
}

int sh__dir_map_reply_decode(const uint8_t *in, size_t len, sh__dir_map_reply *out)
{
    Shoal__Dirnet__MapReply *pb = NULL;
    int rc = unpack(&shoal__dirnet__map_reply__descriptor, in, len, SH__DIR_RPC_MAX_BYTES,
                    (ProtobufCMessage **)&pb);

    memset(out, 0, sizeof *out);
    if (rc != SH_OK)
        return rc;
    if (pb->kind < SH__DIR_MAP_FULL || pb->kind > SH__DIR_MAP_UNCHANGED) {
        rc = sh_err_set(SH_ERR_FORMAT, "map reply of unknown kind %u", pb->kind);
    } else if (pb->version == 0) {
        rc = sh_err_set(SH_ERR_FORMAT, "map reply for version 0");
    } else if ((pb->kind == SH__DIR_MAP_UNCHANGED) != (pb->chunk == NULL)) {
        rc = sh_err_set(SH_ERR_FORMAT, "a map reply of kind %u %s a chunk", pb->kind,
                        pb->chunk == NULL ? "lacks" : "has");
    } else {
        rc = chunk_from_pb(pb->chunk, &out->chunk);
    }
    if (rc != SH_OK) {
        release(pb);
        return rc;
    }
    out->kind = pb->kind;
    out->version = pb->version;
    out->pb = pb;
    return SH_OK;
}

void sh__dir_map_reply_release(sh__dir_map_reply *r)
{
    release(r->pb);
    r->pb = NULL;
}

/* ---- dir.ping ---- */

int sh__dir_pong_encode(const sh__dir_pong *p, sh_buf *out)
{
    Shoal__Dirnet__Pong pb = SHOAL__DIRNET__PONG__INIT;

    pb.network_id = sh__dir_bin(p->network_id, SH_DIR_HASH_BYTES);
    pb.map_version = p->map_version;
    pb.now_ms = (uint64_t)p->now_ms;
    return pack(&pb.base, out);
}

int sh__dir_pong_decode(const uint8_t *in, size_t len, sh__dir_pong *out)
{
    Shoal__Dirnet__Pong *pb = NULL;
    int rc = unpack(&shoal__dirnet__pong__descriptor, in, len, 256, (ProtobufCMessage **)&pb);

    if (rc != SH_OK)
        return rc;
    if ((rc = sh__dir_check_len(&pb->network_id, SH_DIR_HASH_BYTES, "network id")) == SH_OK &&
        (rc = sh__dir_check_time(pb->now_ms, "pong time")) == SH_OK) {
        memcpy(out->network_id, pb->network_id.data, SH_DIR_HASH_BYTES);
        out->map_version = pb->map_version;
        out->now_ms = (int64_t)pb->now_ms;
    }
    release(pb);
    return rc;
}

/* ---- dir.publish ---- */

int sh__dir_publish_encode(const uint8_t *descriptor, size_t len, sh_buf *out)
{
    Shoal__Dirnet__Publish pb = SHOAL__DIRNET__PUBLISH__INIT;

    pb.descriptor = sh__dir_bin(descriptor, len);
    return pack(&pb.base, out);
}

int sh__dir_publish_decode(const uint8_t *in, size_t len, Shoal__Dirnet__Publish **out)
{
    Shoal__Dirnet__Publish *pb = NULL;
    int rc = unpack(&shoal__dirnet__publish__descriptor, in, len, SH_DIR_DESCRIPTOR_MAX_BYTES + 64,
                    (ProtobufCMessage **)&pb);

    if (rc != SH_OK)
        return rc;
    if (pb->descriptor.len == 0 || pb->descriptor.len > SH_DIR_DESCRIPTOR_MAX_BYTES) {
        rc = sh_err_set(SH_ERR_LIMIT, "a descriptor of %zu bytes (allowed: 1 to %d)",
                        pb->descriptor.len, SH_DIR_DESCRIPTOR_MAX_BYTES);
        release(pb);
        return rc;
    }
    *out = pb;
    return SH_OK;
}

int sh__dir_publish_reply_encode(const sh__dir_publish_reply *r, sh_buf *out)
{
    Shoal__Dirnet__PublishReply pb = SHOAL__DIRNET__PUBLISH_REPLY__INIT;

    pb.reachable = r->reachable;
    pb.map_version = r->map_version;
    return pack(&pb.base, out);
}

int sh__dir_publish_reply_decode(const uint8_t *in, size_t len, sh__dir_publish_reply *out)
{
    Shoal__Dirnet__PublishReply *pb = NULL;
    int rc = unpack(&shoal__dirnet__publish_reply__descriptor, in, len, 64, (ProtobufCMessage **)&pb);

    if (rc != SH_OK)
        return rc;
    out->reachable = pb->reachable;
    out->map_version = pb->map_version;
    release(pb);
    return SH_OK;
}

/* ---- dir.vote.get ---- */

int sh__dir_vote_get_encode(const sh__dir_vote_get *g, sh_buf *out)
{
    Shoal__Dirnet__VoteGet pb = SHOAL__DIRNET__VOTE_GET__INIT;

    pb.round = g->round;
    if (g->blob.has_digest)
        pb.digest = sh__dir_bin(g->blob.digest, SH_DIR_HASH_BYTES);
    pb.offset = g->blob.offset;
    return pack(&pb.base, out);
}

static int check_round(uint64_t round)
{
    if (round == 0 || round > (uint64_t)INT64_MAX)
        return sh_err_set(SH_ERR_RANGE, "round %llu is out of range", (unsigned long long)round);
    return SH_OK;
}

int sh__dir_vote_get_decode(const uint8_t *in, size_t len, sh__dir_vote_get *out)
{
    Shoal__Dirnet__VoteGet *pb = NULL;
    int rc = unpack(&shoal__dirnet__vote_get__descriptor, in, len, 256, (ProtobufCMessage **)&pb);

    if (rc != SH_OK)
        return rc;
    memset(out, 0, sizeof *out);
    if ((rc = check_round(pb->round)) == SH_OK)
        rc = blob_req_from(&pb->digest, pb->offset, &out->blob);
    out->round = pb->round;
    release(pb);
    return rc;
}

static void latest_to_pb(const sh__dir_latest *l, uint64_t *version, ProtobufCBinaryData *hash)
{
    *version = l->version;
    if (l->version != 0)
        *hash = sh__dir_bin(l->body_hash, SH_DIR_HASH_BYTES);
}

static int latest_from_pb(uint64_t version, const ProtobufCBinaryData *hash, sh__dir_latest *out)
{
    bool has;
    int rc = opt_hash(hash, &has, out->body_hash, "latest map body hash");

    if (rc != SH_OK)
        return rc;
    if (has != (version != 0))
        return sh_err_set(SH_ERR_FORMAT, "latest map version %llu %s a body hash",
                          (unsigned long long)version, has ? "with" : "without");
    out->version = version;
    return SH_OK;
}

int sh__dir_vote_reply_encode(uint64_t round, const sh__dir_latest *latest, const sh__dir_chunk *chunk,
                              sh_buf *out)
{
    Shoal__Dirnet__VoteReply pb = SHOAL__DIRNET__VOTE_REPLY__INIT;
    Shoal__Dirnet__Chunk c;

    pb.round = round;
    latest_to_pb(latest, &pb.latest_version, &pb.latest_body_hash);
    if (chunk != NULL) {
        chunk_to_pb(chunk, &c);
        pb.chunk = &c;
    }
    return pack(&pb.base, out);
}

int sh__dir_vote_reply_decode(const uint8_t *in, size_t len, sh__dir_vote_reply *out)
{
    Shoal__Dirnet__VoteReply *pb = NULL;
    int rc = unpack(&shoal__dirnet__vote_reply__descriptor, in, len, SH__DIR_RPC_MAX_BYTES,
                    (ProtobufCMessage **)&pb);

    memset(out, 0, sizeof *out);
    if (rc != SH_OK)
        return rc;
    if ((rc = check_round(pb->round)) == SH_OK &&
        (rc = latest_from_pb(pb->latest_version, &pb->latest_body_hash, &out->latest)) == SH_OK)
        rc = chunk_from_pb(pb->chunk, &out->chunk);
    if (rc != SH_OK) {
        release(pb);
        return rc;
    }
    out->round = pb->round;
    out->pb = pb;
    return SH_OK;
}

void sh__dir_vote_reply_release(sh__dir_vote_reply *r)
{
    release(r->pb);
    r->pb = NULL;
}

/* ---- dir.sig.get ---- */

int sh__dir_sig_get_encode(uint64_t round, sh_buf *out)
{
    Shoal__Dirnet__SigGet pb = SHOAL__DIRNET__SIG_GET__INIT;

    pb.round = round;
    return pack(&pb.base, out);
}

int sh__dir_sig_get_decode(const uint8_t *in, size_t len, uint64_t *round)
{
    Shoal__Dirnet__SigGet *pb = NULL;
    int rc = unpack(&shoal__dirnet__sig_get__descriptor, in, len, 64, (ProtobufCMessage **)&pb);

    if (rc != SH_OK)
        return rc;
    rc = check_round(pb->round);
    *round = pb->round;
    release(pb);
    return rc;
}

int sh__dir_sig_reply_encode(const sh__dir_sig_reply *r, sh_buf *out)
{
    Shoal__Dirnet__SigReply pb = SHOAL__DIRNET__SIG_REPLY__INIT;
    Shoal__Dir__Signature sigs[SH_DIR_MAX_AUTHORITIES], *ptrs[SH_DIR_MAX_AUTHORITIES];

    pb.round = r->round;
    latest_to_pb(&r->latest, &pb.latest_version, &pb.latest_body_hash);
    if (r->has_body) {
        pb.body_hash = sh__dir_bin(r->body_hash, SH_DIR_HASH_BYTES);
        pb.version = r->version;
        for (size_t i = 0; i < r->n_sigs && i < SH_DIR_MAX_AUTHORITIES; i++) {
            shoal__dir__signature__init(&sigs[i]);
            sigs[i].authority = sh__dir_bin(r->sigs[i].authority, SH_DIR_KEY_BYTES);
            sigs[i].signature = sh__dir_bin(r->sigs[i].sig, SH_DIR_SIGNATURE_BYTES);
            ptrs[i] = &sigs[i];
        }
        pb.n_signatures = r->n_sigs < SH_DIR_MAX_AUTHORITIES ? r->n_sigs : SH_DIR_MAX_AUTHORITIES;
        pb.signatures = ptrs;
    }
    return pack(&pb.base, out);
}

static int sig_reply_body(const Shoal__Dirnet__SigReply *pb, sh__dir_sig_reply *out)
{
    int rc = opt_hash(&pb->body_hash, &out->has_body, out->body_hash, "consensus body hash");

    if (rc != SH_OK)
        return rc;
    if (!out->has_body && (pb->n_signatures != 0 || pb->version != 0))
        return sh_err_set(SH_ERR_FORMAT, "signatures without a consensus body");
    if (out->has_body && pb->version == 0)
        return sh_err_set(SH_ERR_FORMAT, "a consensus of version 0");
    if (pb->n_signatures > SH_DIR_MAX_AUTHORITIES)
        return sh_err_set(SH_ERR_LIMIT, "%zu signatures, more than the %d authorities a network "
                          "may have", pb->n_signatures, SH_DIR_MAX_AUTHORITIES);
    for (size_t i = 0; i < pb->n_signatures; i++) {
        if ((rc = sh__dir_check_len(&pb->signatures[i]->authority, SH_DIR_KEY_BYTES,
                                    "signature's authority")) != SH_OK ||
            (rc = sh__dir_check_len(&pb->signatures[i]->signature, SH_DIR_SIGNATURE_BYTES,
                                    "signature")) != SH_OK)
            return rc;
        memcpy(out->sigs[i].authority, pb->signatures[i]->authority.data, SH_DIR_KEY_BYTES);
        memcpy(out->sigs[i].sig, pb->signatures[i]->signature.data, SH_DIR_SIGNATURE_BYTES);
    }
    out->n_sigs = pb->n_signatures;
    out->version = pb->version;
    return SH_OK;
}

int sh__dir_sig_reply_decode(const uint8_t *in, size_t len, sh__dir_sig_reply *out)
{
    Shoal__Dirnet__SigReply *pb = NULL;
    int rc = unpack(&shoal__dirnet__sig_reply__descriptor, in, len, 8192, (ProtobufCMessage **)&pb);

    if (rc != SH_OK)
        return rc;
    memset(out, 0, sizeof *out);
    if ((rc = check_round(pb->round)) == SH_OK &&
        (rc = latest_from_pb(pb->latest_version, &pb->latest_body_hash, &out->latest)) == SH_OK)
        rc = sig_reply_body(pb, out);
    out->round = pb->round;
    release(pb);
    return rc;
}
