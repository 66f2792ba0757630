/* The directory protocol's formats without a network: RPC bodies against hand-written protobuf
 * and round trips, every refusal of their decoders; blobs in slices (order, digest, limits);
 * the authority's saved registry; authority key files; the schedule's checks; the registry's
 * saved state coming back. */
#include "test.h"

#include <ctype.h>
#include <sodium.h>

#include "crypto/crypto.h"
#include "dir/auth_internal.h"
#include "dirtest.h"

static void hex(const char *h, sh_buf *out)
{
    test_hex(h, out);
}

/* ---- RPC bodies ----------------------------------------------------------------------------- */

static void test_map_get(void)
{
    sh__dir_map_get g = {.has_have = true}, back;
    sh_buf b, want;

    sh_buf_init(&b);
    sh_buf_init(&want);
    memset(g.have_body_hash, 0x11, 32);
    CHECK_OK(sh__dir_map_get_encode(&g, &b));
    /* field 1 (bytes, 32) = 0x11 x 32; nothing else */
    hex("0a201111111111111111111111111111111111111111111111111111111111111111", &want);
    CHECK(b.len == want.len);
    CHECK_MEM(b.data, want.data, b.len);
    CHECK_OK(sh__dir_map_get_decode(b.data, b.len, &back));
    CHECK(back.has_have && !back.blob.has_digest && back.blob.offset == 0);
    /* Continuing: digest 0x22 x 32 (field 2), offset 300 (field 3, varint ac 02). */
    hex("1220222222222222222222222222222222222222222222222222222222222222222218ac02", &want);
    CHECK_OK(sh__dir_map_get_decode(want.data, want.len, &back));
    CHECK(!back.has_have && back.blob.has_digest && back.blob.offset == 300 && back.blob.digest[0] == 0x22);
    /* An offset without a digest; a 31-byte hash; an offset past any blob; junk. */
    hex("18ac02", &want);
    CHECK_ERR(sh__dir_map_get_decode(want.data, want.len, &back), SH_ERR_FORMAT);
    hex("0a1f11111111111111111111111111111111111111111111111111111111111111", &want);
    CHECK_ERR(sh__dir_map_get_decode(want.data, want.len, &back), SH_ERR_FORMAT);
    CHECK_MSG("have_body_hash is 31 bytes");
    hex("122022222222222222222222222222222222222222222222222222222222222222221880808003", &want);
    CHECK_ERR(sh__dir_map_get_decode(want.data, want.len, &back), SH_ERR_RANGE);
    hex("ffff", &want);
    CHECK_ERR(sh__dir_map_get_decode(want.data, want.len, &back), SH_ERR_FORMAT);
    sh_buf_free(&b);
    sh_buf_free(&want);
}

static void test_map_reply(void)
{
    static const uint8_t data[5] = "hello";
    sh__dir_chunk c = {.present = true, .total = 9, .offset = 4, .data = data, .len = 5};
    sh__dir_map_reply r;
    sh_buf b, want;

    sh_buf_init(&b);
    sh_buf_init(&want);
    memset(c.digest, 0x33, 32);
    CHECK_OK(sh__dir_map_reply_encode(SH__DIR_MAP_DIFF, 7, &c, &b));
    /* kind 2, version 7, chunk {total 9, offset 4, digest, data "hello"} */
    hex("080210071a2d08091004"
        "1a203333333333333333333333333333333333333333333333333333333333333333"
        "220568656c6c6f", &want);
    CHECK(b.len == want.len);
    CHECK_MEM(b.data, want.data, b.len);
    CHECK_OK(sh__dir_map_reply_decode(b.data, b.len, &r));
    CHECK(r.kind == 2 && r.version == 7 && r.chunk.present && r.chunk.total == 9 &&
          r.chunk.offset == 4 && r.chunk.len == 5 && memcmp(r.chunk.data, "hello", 5) == 0);
    sh__dir_map_reply_release(&r);
    CHECK_OK(sh__dir_map_reply_encode(SH__DIR_MAP_UNCHANGED, 7, NULL, &b));
    CHECK_OK(sh__dir_map_reply_decode(b.data, b.len, &r));
    CHECK(r.kind == 3 && !r.chunk.present);
    sh__dir_map_reply_release(&r);
    /* Unknown kinds, version 0, a chunk where none belongs and none where one does. */
    CHECK_OK(sh__dir_map_reply_encode(4, 7, &c, &b));
    CHECK_ERR(sh__dir_map_reply_decode(b.data, b.len, &r), SH_ERR_FORMAT);
    CHECK_OK(sh__dir_map_reply_encode(0, 7, &c, &b));
    CHECK_ERR(sh__dir_map_reply_decode(b.data, b.len, &r), SH_ERR_FORMAT);
    CHECK_OK(sh__dir_map_reply_encode(SH__DIR_MAP_FULL, 0, &c, &b));
    CHECK_ERR(sh__dir_map_reply_decode(b.data, b.len, &r), SH_ERR_FORMAT);
    CHECK_OK(sh__dir_map_reply_encode(SH__DIR_MAP_UNCHANGED, 7, &c, &b));
    CHECK_ERR(sh__dir_map_reply_decode(b.data, b.len, &r), SH_ERR_FORMAT);
    CHECK_OK(sh__dir_map_reply_encode(SH__DIR_MAP_FULL, 7, NULL, &b));
    CHECK_ERR(sh__dir_map_reply_decode(b.data, b.len, &r), SH_ERR_FORMAT);
    CHECK_MSG("lacks a chunk");
    sh_buf_free(&b);
    sh_buf_free(&want);
}

/* Chunks that cannot be slices of a blob, and the size limit of one slice. */
static void test_chunk_fields(void)
{
    static const uint8_t data[5] = "hello";
    sh__dir_chunk c = {.present = true, .total = 9, .offset = 4, .data = data, .len = 5};
    sh__dir_map_reply r;
    sh_buf b, want;

    sh_buf_init(&b);
    sh_buf_init(&want);
    sh__dir_chunk bad = c;
    bad.total = 0;
    CHECK_OK(sh__dir_map_reply_encode(SH__DIR_MAP_FULL, 7, &bad, &b));
    CHECK_ERR(sh__dir_map_reply_decode(b.data, b.len, &r), SH_ERR_LIMIT);
    bad.total = SH_DIR_DIFF_MAX_BYTES + 1ull;
    CHECK_OK(sh__dir_map_reply_encode(SH__DIR_MAP_FULL, 7, &bad, &b));
    CHECK_ERR(sh__dir_map_reply_decode(b.data, b.len, &r), SH_ERR_LIMIT);
    bad = c;
    bad.total = 8; /* 4 + 5 > 8 */
    CHECK_OK(sh__dir_map_reply_encode(SH__DIR_MAP_FULL, 7, &bad, &b));
    CHECK_ERR(sh__dir_map_reply_decode(b.data, b.len, &r), SH_ERR_FORMAT);
    bad = c;
    bad.len = 0;
    CHECK_OK(sh__dir_map_reply_encode(SH__DIR_MAP_FULL, 7, &bad, &b));
    CHECK_ERR(sh__dir_map_reply_decode(b.data, b.len, &r), SH_ERR_FORMAT);
    hex("080110071a06080910041a00", &want); /* a 0-byte digest */
    CHECK_ERR(sh__dir_map_reply_decode(want.data, want.len, &r), SH_ERR_FORMAT);
    CHECK_MSG("digest is 0 bytes");
    /* A chunk of exactly SH_DIR_CHUNK_BYTES fits one RPC body; one byte more is refused. */
    uint8_t *big = calloc(SH_DIR_CHUNK_BYTES + 1, 1);
    bad = (sh__dir_chunk){.present = true, .total = SH_DIR_CHUNK_BYTES + 1, .data = big,
                          .len = SH_DIR_CHUNK_BYTES};
    CHECK_OK(sh__dir_map_reply_encode(SH__DIR_MAP_FULL, 7, &bad, &b));
    CHECK(b.len <= SH_RPC_MAX_BODY_BYTES);
    CHECK_OK(sh__dir_map_reply_decode(b.data, b.len, &r));
    sh__dir_map_reply_release(&r);
    bad.len = SH_DIR_CHUNK_BYTES + 1;
    CHECK_OK(sh__dir_map_reply_encode(SH__DIR_MAP_FULL, 7, &bad, &b));
    CHECK_ERR(sh__dir_map_reply_decode(b.data, b.len, &r), SH_ERR_FORMAT);
    free(big);
    sh_buf_free(&b);
    sh_buf_free(&want);
}

static void test_small_bodies(void)
{
    sh__dir_pong p = {.map_version = 5, .now_ms = DT_NOW}, pb;
    sh__dir_publish_reply pr = {.reachable = true, .map_version = 9}, prb;
    Shoal__Dirnet__Publish *pub;
    uint64_t round;
    sh_buf b, want;

    sh_buf_init(&b);
    sh_buf_init(&want);
    memset(p.network_id, 0x44, 32);
    CHECK_OK(sh__dir_pong_encode(&p, &b));
    CHECK_OK(sh__dir_pong_decode(b.data, b.len, &pb));
    CHECK(pb.map_version == 5 && pb.now_ms == DT_NOW && pb.network_id[31] == 0x44);
    hex("1005", &want); /* no network id */
    CHECK_ERR(sh__dir_pong_decode(want.data, want.len, &pb), SH_ERR_FORMAT);
    CHECK_OK(sh__dir_publish_reply_encode(&pr, &b));
    hex("08011009", &want);
    CHECK(b.len == want.len);
    CHECK_MEM(b.data, want.data, b.len);
    CHECK_OK(sh__dir_publish_reply_decode(b.data, b.len, &prb));
    CHECK(prb.reachable && prb.map_version == 9);
    /* Publish: 1 to 4096 bytes of descriptor. */
    uint8_t *d = calloc(SH_DIR_DESCRIPTOR_MAX_BYTES + 1, 1);
    CHECK_OK(sh__dir_publish_encode(d, SH_DIR_DESCRIPTOR_MAX_BYTES, &b));
    CHECK_OK(sh__dir_publish_decode(b.data, b.len, &pub));
    CHECK_EQ(pub->descriptor.len, SH_DIR_DESCRIPTOR_MAX_BYTES);
    protobuf_c_message_free_unpacked(&pub->base, NULL);
    CHECK_OK(sh__dir_publish_encode(d, SH_DIR_DESCRIPTOR_MAX_BYTES + 1, &b));
    CHECK_ERR(sh__dir_publish_decode(b.data, b.len, &pub), SH_ERR_LIMIT);
    CHECK_OK(sh__dir_publish_encode(d, 0, &b));
    CHECK_ERR(sh__dir_publish_decode(b.data, b.len, &pub), SH_ERR_LIMIT);
    free(d);
    /* SigGet: round 1 .. 2^63-1. */
    CHECK_OK(sh__dir_sig_get_encode(77, &b));
    CHECK_OK(sh__dir_sig_get_decode(b.data, b.len, &round));
    CHECK_EQ(round, 77);
    CHECK_OK(sh__dir_sig_get_encode(0, &b));
    CHECK_ERR(sh__dir_sig_get_decode(b.data, b.len, &round), SH_ERR_RANGE);
    CHECK_OK(sh__dir_sig_get_encode(1ull << 63, &b));
    CHECK_ERR(sh__dir_sig_get_decode(b.data, b.len, &round), SH_ERR_RANGE);
    sh_buf_free(&b);
    sh_buf_free(&want);
}

static void test_votes_and_sigs(void)
{
    sh__dir_latest latest = {.version = 3};
    sh__dir_vote_get g = {.round = DT_NOW, .blob = {.has_digest = true, .offset = 10}}, gb;
    sh__dir_vote_reply vr;
    sh__dir_sig_reply sr = {.round = DT_NOW, .has_body = true, .version = 4, .n_sigs = 2}, srb;
    sh__dir_chunk c = {.present = true, .total = 3, .data = (const uint8_t *)"abc", .len = 3};
    sh_buf b, want;

    sh_buf_init(&b);
    sh_buf_init(&want);
    memset(latest.body_hash, 0x55, 32);
    CHECK_OK(sh__dir_vote_get_encode(&g, &b));
    CHECK_OK(sh__dir_vote_get_decode(b.data, b.len, &gb));
    CHECK(gb.round == DT_NOW && gb.blob.has_digest && gb.blob.offset == 10);
    g.round = 0;
    CHECK_OK(sh__dir_vote_get_encode(&g, &b));
    CHECK_ERR(sh__dir_vote_get_decode(b.data, b.len, &gb), SH_ERR_RANGE);
    CHECK_OK(sh__dir_vote_reply_encode(DT_NOW, &latest, &c, &b));
    CHECK_OK(sh__dir_vote_reply_decode(b.data, b.len, &vr));
    CHECK(vr.latest.version == 3 && vr.latest.body_hash[0] == 0x55 && vr.chunk.len == 3);
    sh__dir_vote_reply_release(&vr);
    CHECK_OK(sh__dir_vote_reply_encode(DT_NOW, &(sh__dir_latest){0}, NULL, &b));
    CHECK_OK(sh__dir_vote_reply_decode(b.data, b.len, &vr));
    CHECK(vr.latest.version == 0 && !vr.chunk.present);
    sh__dir_vote_reply_release(&vr);
    /* A latest version without its hash. */
    hex("08011003", &want);
    CHECK_ERR(sh__dir_vote_reply_decode(want.data, want.len, &vr), SH_ERR_FORMAT);
    /* Signatures: round trip, then too many, bad lengths, signatures without a body. */
    memset(sr.body_hash, 0x66, 32);
    memset(sr.sigs, 0x77, sizeof sr.sigs);
    CHECK_OK(sh__dir_sig_reply_encode(&sr, &b));
    CHECK_OK(sh__dir_sig_reply_decode(b.data, b.len, &srb));
    CHECK(srb.has_body && srb.version == 4 && srb.n_sigs == 2 && srb.sigs[1].sig[63] == 0x77);
    Shoal__Dirnet__SigReply pb = SHOAL__DIRNET__SIG_REPLY__INIT;
    Shoal__Dir__Signature sig = SHOAL__DIR__SIGNATURE__INIT, *ptrs[SH_DIR_MAX_AUTHORITIES + 1];
    uint8_t key[64] = {0};
    sig.authority = (ProtobufCBinaryData){32, key};
    sig.signature = (ProtobufCBinaryData){64, key};
    for (int i = 0; i <= SH_DIR_MAX_AUTHORITIES; i++)
        ptrs[i] = &sig;
    pb.round = 1;
    pb.body_hash = (ProtobufCBinaryData){32, key};
    pb.version = 1;
    pb.signatures = ptrs;
    pb.n_signatures = SH_DIR_MAX_AUTHORITIES + 1;
    CHECK_OK(sh__dir_pb_pack(&pb.base, 1 << 16, &b));
    CHECK_ERR(sh__dir_sig_reply_decode(b.data, b.len, &srb), SH_ERR_LIMIT);
    pb.n_signatures = 1;
    sig.signature.len = 63;
    CHECK_OK(sh__dir_pb_pack(&pb.base, 1 << 16, &b));
    CHECK_ERR(sh__dir_sig_reply_decode(b.data, b.len, &srb), SH_ERR_FORMAT);
    sig.signature.len = 64;
    pb.body_hash.len = 0;
    CHECK_OK(sh__dir_pb_pack(&pb.base, 1 << 16, &b));
    CHECK_ERR(sh__dir_sig_reply_decode(b.data, b.len, &srb), SH_ERR_FORMAT);
    CHECK_MSG("signatures without a consensus body");
    sh_buf_free(&b);
    sh_buf_free(&want);
}

/* ---- Blobs in slices ------------------------------------------------------------------------ */

static void test_chunks(void)
{
    uint8_t blob[1000], digest[32];
    sh__dir_blob_req req = {0};
    sh__dir_assembly a;
    sh__dir_chunk c;

    test_random(blob, sizeof blob);
    crypto_generichash(digest, 32, blob, sizeof blob, NULL, 0);
    sh__dir_assembly_init(&a, 1000);
    while (!sh__dir_assembly_complete(&a)) {
        sh__dir_assembly_next(&a, &req);
        CHECK_OK(sh__dir_chunk_slice(blob, sizeof blob, digest, &req, 300, &c));
        CHECK(c.len == (c.offset == 900 ? 100u : 300u));
        CHECK_OK(sh__dir_assembly_add(&a, &c));
    }
    CHECK_MEM(a.data.data, blob, sizeof blob);
    sh__dir_assembly_free(&a);
    /* The server side: another digest, an offset at the end. */
    req = (sh__dir_blob_req){.has_digest = true, .offset = 0};
    CHECK_ERR(sh__dir_chunk_slice(blob, sizeof blob, digest, &req, 300, &c), SH_ERR_NOT_FOUND);
    memcpy(req.digest, digest, 32);
    req.offset = 1000;
    CHECK_ERR(sh__dir_chunk_slice(blob, sizeof blob, digest, &req, 300, &c), SH_ERR_RANGE);
    /* The caller side: out of order, another blob, over the limit, a wrong digest. */
    req = (sh__dir_blob_req){0};
    CHECK_OK(sh__dir_chunk_slice(blob, sizeof blob, digest, &req, 300, &c));
    sh__dir_assembly_init(&a, 1000);
    CHECK_OK(sh__dir_assembly_add(&a, &c));
    CHECK_ERR(sh__dir_assembly_add(&a, &c), SH_ERR_PROTOCOL); /* the same slice again */
    c.offset = 300;
    c.digest[0] ^= 1;
    CHECK_ERR(sh__dir_assembly_add(&a, &c), SH_ERR_PROTOCOL);
    c.digest[0] ^= 1;
    c.present = false;
    CHECK_ERR(sh__dir_assembly_add(&a, &c), SH_ERR_PROTOCOL);
    sh__dir_assembly_free(&a);
    sh__dir_assembly_init(&a, 999);
    req = (sh__dir_blob_req){0};
    CHECK_OK(sh__dir_chunk_slice(blob, sizeof blob, digest, &req, 300, &c));
    CHECK_ERR(sh__dir_assembly_add(&a, &c), SH_ERR_LIMIT);
    sh__dir_assembly_free(&a);
    sh__dir_assembly_init(&a, 1000);
    digest[5] ^= 1; /* slices of a blob whose announced digest is wrong */
    while (!a.started || !sh__dir_assembly_complete(&a)) {
        sh__dir_assembly_next(&a, &req);
        CHECK_OK(sh__dir_chunk_slice(blob, sizeof blob, digest, &req, 600, &c));
        int rc = sh__dir_assembly_add(&a, &c);
        if (c.offset + c.len == 1000) {
            CHECK_EQ(rc, SH_ERR_CHECKSUM);
            break;
        }
        CHECK_OK(rc);
    }
    sh__dir_assembly_free(&a);
}

/* ---- The saved registry --------------------------------------------------------------------- */

static void test_state(void)
{
    uint8_t net_id[32], other[32];
    sh__dir_state_entry e[2] = {{(const uint8_t *)"desc-one", 8, true, 1000, 2000, 0},
                                {(const uint8_t *)"d2", 2, false, 0, 3000, 2500}};
    Shoal__Dirnet__AuthorityState *pb;
    sh__dir_state_entry *back;
    size_t n;
    sh_buf b;

    sh_buf_init(&b);
    memset(net_id, 1, 32);
    memset(other, 2, 32);
    CHECK_OK(sh__dir_state_encode(net_id, e, 2, &b));
    CHECK_OK(sh__dir_state_decode(b.data, b.len, net_id, &pb, &back, &n));
    CHECK(n == 2 && back[0].len == 8 && memcmp(back[0].descriptor, "desc-one", 8) == 0 &&
          back[0].reachable && back[0].stable_since_ms == 1000 && back[1].tested_ms == 3000 &&
          back[0].failing_since_ms == 0 && back[1].failing_since_ms == 2500);
    protobuf_c_message_free_unpacked(&pb->base, NULL);
    free(back);
    /* A time past 2^63 - 1 (failing_since_ms) is refused. */
    e[1].failing_since_ms = -1;
    CHECK_OK(sh__dir_state_encode(net_id, e, 2, &b));
    CHECK_ERR(sh__dir_state_decode(b.data, b.len, net_id, &pb, &back, &n), SH_ERR_RANGE);
    CHECK_MSG("registry entry 1: a time out of range");
    e[1].failing_since_ms = 2500;
    CHECK_ERR(sh__dir_state_decode(b.data, b.len, other, &pb, &back, &n), SH_ERR_PROTOCOL);
    e[1].len = 0;
    CHECK_OK(sh__dir_state_encode(net_id, e, 2, &b));
    CHECK_ERR(sh__dir_state_decode(b.data, b.len, net_id, &pb, &back, &n), SH_ERR_FORMAT);
    /* Another format number (field 1 = 2). */
    CHECK_OK(sh__dir_state_encode(net_id, e, 0, &b));
    b.data[1] = 2;
    CHECK_ERR(sh__dir_state_decode(b.data, b.len, net_id, &pb, &back, &n), SH_ERR_UNSUPPORTED);
    CHECK_ERR(sh__dir_state_decode((const uint8_t *)"\xff\xff", 2, net_id, &pb, &back, &n), SH_ERR_FORMAT);
    /* More entries than a registry holds. */
    sh__dir_state_entry *many = calloc(SH_DIR_MAX_NODES + 1, sizeof *many);
    for (size_t i = 0; i <= SH_DIR_MAX_NODES; i++)
        many[i] = (sh__dir_state_entry){(const uint8_t *)"x", 1, false, 0, 0, 0};
    CHECK_OK(sh__dir_state_encode(net_id, many, SH_DIR_MAX_NODES, &b));
    CHECK_OK(sh__dir_state_decode(b.data, b.len, net_id, &pb, &back, &n));
    protobuf_c_message_free_unpacked(&pb->base, NULL);
    free(back);
    CHECK_OK(sh__dir_state_encode(net_id, many, SH_DIR_MAX_NODES + 1, &b));
    CHECK_ERR(sh__dir_state_decode(b.data, b.len, net_id, &pb, &back, &n), SH_ERR_LIMIT);
    free(many);
    sh_buf_free(&b);
}

static void test_registry_restore(void)
{
    sh_dir_policy policy = {.open = true};
    sh_dir_registry *r;
    sh_dir_registry_entry e;
    sh_dir_node node;
    dt_key k;
    size_t i;
    sh_buf desc;

    sh_buf_init(&desc);
    dt_node_make(&node, &k, 3, DT_NOW, NULL);
    CHECK_OK(sh_dir_descriptor_sign(&node, k.sk, &desc));
    CHECK_OK(sh_dir_registry_new(&policy, &r));
    CHECK_OK(sh_dir_registry_restore(r, desc.data, desc.len, DT_NOW, true, DT_NOW - 5000, 0,
                                     DT_NOW - 100));
    CHECK_OK(sh_dir_registry_find(r, node.identity, &i));
    CHECK_OK(sh_dir_registry_entry_at(r, i, &e));
    CHECK(e.reachable && e.listed && e.stable_since_ms == DT_NOW - 5000 &&
          e.tested_ms == DT_NOW - 100 && e.failing_since_ms == 0);
    /* Saved while failing within the grace: still listed after the restart. */
    CHECK_OK(sh_dir_registry_restore(r, desc.data, desc.len, DT_NOW, false, 0, DT_NOW - 700,
                                     DT_NOW - 100));
    CHECK_OK(sh_dir_registry_entry_at(r, i, &e));
    CHECK(!e.reachable && e.listed && e.failing_since_ms == DT_NOW - 700 && e.stable_since_ms == 0);
    /* Saved after it was dropped: not listed. */
    CHECK_OK(sh_dir_registry_restore(r, desc.data, desc.len, DT_NOW, false, 0, 0, DT_NOW - 100));
    CHECK_OK(sh_dir_registry_entry_at(r, i, &e));
    CHECK(!e.reachable && !e.listed);
    CHECK(e.descriptor_len == desc.len && memcmp(e.descriptor, desc.data, desc.len) == 0);
    CHECK_ERR(sh_dir_registry_entry_at(r, 1, &e), SH_ERR_RANGE);
    /* A saved descriptor that has expired meanwhile does not come back. */
    CHECK_ERR(sh_dir_registry_restore(r, desc.data, desc.len, DT_NOW + 48 * DT_HOUR, true, 0, 0, 0),
              SH_ERR_STALE);
    sh_dir_registry_free(r);
    sh_buf_free(&desc);
}

/* ---- Key files and the schedule ------------------------------------------------------------- */

static void test_keyfile(void)
{
    sh_dir_auth_keys k, back;
    sh_buf text, bad;

    sh_buf_init_secret(&text);
    sh_buf_init(&bad);
    CHECK_OK(sh_dir_auth_keys_generate(&k));
    CHECK_OK(sh_dir_auth_keys_format(&k, &text));
    CHECK(text.len == 22 + 79 + 77 + 74 + 74);
    CHECK_OK(sh_dir_auth_keys_parse((const char *)text.data, text.len, &back));
    CHECK_MEM(back.identity_sk, k.identity_sk, 64);
    CHECK_MEM(back.link_sk, k.link_sk, 32);
    CHECK_MEM(back.link_key, k.link_key, 32);
    /* Each way of getting it wrong. */
    CHECK_ERR(sh_dir_auth_keys_parse((const char *)text.data, text.len - 1, &back), SH_ERR_FORMAT);
    CHECK_MSG("line 5");
    CHECK_OK(sh_buf_append(&bad, text.data, text.len));
    CHECK_OK(sh_buf_append_str(&bad, "more\n"));
    CHECK_ERR(sh_dir_auth_keys_parse((const char *)bad.data, bad.len, &back), SH_ERR_FORMAT);
    CHECK_MSG("after line 5");
    sh_buf_reset(&bad);
    CHECK_OK(sh_buf_append(&bad, text.data, text.len));
    bad.data[20] = '2'; /* "shoal-authority-key 2" */
    CHECK_ERR(sh_dir_auth_keys_parse((const char *)bad.data, bad.len, &back), SH_ERR_FORMAT);
    bad.data[20] = '1';
    bad.data[22 + 14 + 3] = 'g'; /* a hex digit of the identity seed */
    CHECK_ERR(sh_dir_auth_keys_parse((const char *)bad.data, bad.len, &back), SH_ERR_FORMAT);
    CHECK_MSG("identity-seed is not 64 lower-case hex digits");
    bad.data[22 + 14 + 3] = 'A'; /* upper case: not what keygen writes */
    CHECK_ERR(sh_dir_auth_keys_parse((const char *)bad.data, bad.len, &back), SH_ERR_FORMAT);
    bad.data[22 + 14 + 3] = text.data[22 + 14 + 3];
    bad.data[22 + 79 + 77 + 9 + 5] ^= 1; /* the public identity: still hex, another key */
    if (!isxdigit(bad.data[22 + 79 + 77 + 9 + 5]))
        bad.data[22 + 79 + 77 + 9 + 5] = '0';
    CHECK_ERR(sh_dir_auth_keys_parse((const char *)bad.data, bad.len, &back), SH_ERR_CRYPTO);
    CHECK_MSG("the identity does not belong to the identity seed");
    char big[SH_DIR_AUTH_KEYS_FILE_MAX_BYTES + 1];
    memset(big, 'a', sizeof big);
    CHECK_ERR(sh_dir_auth_keys_parse(big, sizeof big, &back), SH_ERR_LIMIT);
    sodium_memzero(&k, sizeof k);
    sodium_memzero(&back, sizeof back);
    sh_buf_free(&text);
    sh_buf_free(&bad);
}

static void test_schedule(void)
{
    sh_dir_schedule s;

    sh_dir_schedule_default(&s);
    CHECK_OK(sh_dir_schedule_check(&s));
    sh_dir_schedule_devnet(&s);
    CHECK_OK(sh_dir_schedule_check(&s));
    CHECK(s.early);
    s.vote_ms = s.tick_ms;
    CHECK_ERR(sh_dir_schedule_check(&s), SH_ERR_RANGE);
    sh_dir_schedule_devnet(&s);
    s.sig_ms = s.period_ms - s.vote_ms;
    CHECK_ERR(sh_dir_schedule_check(&s), SH_ERR_RANGE);
    sh_dir_schedule_devnet(&s);
    s.lifetime_ms = s.period_ms - 1;
    CHECK_ERR(sh_dir_schedule_check(&s), SH_ERR_RANGE);
}

int main(void)
{
    CHECK_OK(sh_crypto_init());
    test_map_get();
    test_map_reply();
    test_chunk_fields();
    test_small_bodies();
    test_votes_and_sigs();
    test_chunks();
    test_state();
    test_registry_restore();
    test_keyfile();
    test_schedule();
    printf("dir rpc bodies, slices, saved registry, key files, schedule: ok\n");
    return 0;
}
