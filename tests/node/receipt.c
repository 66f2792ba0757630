/* Store receipts (node/swarm.h, docs/node.md "Receipts"): the signed bytes and the signature
 * against a vector from an independent implementation (gen_receipt_vector.py), wire round trips
 * through the answer parsers, and every malformed or forged form refused with its code. */
#include "test.h"

#include <sodium.h>

#include "node/join.h"
#include "receipt_vector.h"
#include "storage.pb-c.h"
#include "util/encode.h"
#include "util/err.h"
#include "wire/pb.h"

static sh_node_receipt vector_receipt(uint8_t sk[64])
{
    sh_node_receipt r = {.ns = RV_NS, .expiry_ms = RV_EXPIRY, .map_version = RV_VERSION};
    uint8_t seed[32];

    CHECK_OK(sh_hex_decode(seed, 32, RV_SEED));
    CHECK_OK(sh_hex_decode(r.hash, 32, RV_HASH));
    CHECK_OK(sh_hex_decode(r.owner, 33, RV_OWNER));
    crypto_sign_seed_keypair(r.node_id, sk, seed);
    return r;
}

static void vector(void)
{
    uint8_t sk[64], want[SH_NODE_RECEIPT_SIGNED_BYTES], got[SH_NODE_RECEIPT_SIGNED_BYTES], sig[64];
    sh_node_receipt r = vector_receipt(sk);

    CHECK_EQ(strlen(RV_SIGNED), 2 * SH_NODE_RECEIPT_SIGNED_BYTES);
    CHECK_OK(sh_hex_decode(want, sizeof want, RV_SIGNED));
    CHECK_OK(sh_hex_decode(sig, 64, RV_SIGNATURE));
    sh_node_receipt_message(&r, got);
    CHECK_MEM(got, want, sizeof want);
    sh_node_receipt_sign(&r, sk);
    CHECK_MEM(r.signature, sig, 64); /* Ed25519 is deterministic */
    printf("receipt bytes and signature match the independent vector\n");
}

static void round_trips(void)
{
    uint8_t sk[64];
    sh_node_receipt r = vector_receipt(sk), out[4];
    Shoal__Swarm__Receipt pb, *pbp = &pb;
    Shoal__Swarm__ReceiptResponse rr = SHOAL__SWARM__RECEIPT_RESPONSE__INIT;
    Shoal__Storage__StoreResponse sr = SHOAL__STORAGE__STORE_RESPONSE__INIT;
    sh_buf b;
    size_t n;

    sh_node_receipt_sign(&r, sk);
    sh__node_receipt_to_pb(&r, &pb);
    rr.n_receipts = 1;
    rr.receipts = &pbp;
    sh_buf_init(&b);
    CHECK_OK(sh_wire_pack(&rr.base, &b));
    CHECK_OK(sh_node_receipts_parse(b.data, b.len, false, out, 4, &n));
    CHECK_EQ(n, 1);
    CHECK_MEM(out[0].hash, r.hash, 32);
    CHECK_MEM(out[0].owner, r.owner, 33);
    CHECK_EQ(out[0].ns, RV_NS);
    CHECK_EQ(out[0].expiry_ms, RV_EXPIRY);
    CHECK_MEM(out[0].node_id, r.node_id, 32);
    CHECK_EQ(out[0].map_version, RV_VERSION);
    CHECK_MEM(out[0].signature, r.signature, 64);
    /* The same bytes are not a store answer's; a store answer's are. */
    sh_buf_reset(&b);
    sr.hash = sh_wire_bin(r.hash, 32);
    sr.n_receipts = 1;
    sr.receipts = &pbp;
    CHECK_OK(sh_wire_pack(&sr.base, &b));
    CHECK_OK(sh_node_receipts_parse(b.data, b.len, true, out, 4, &n));
    CHECK_EQ(n, 1);
    CHECK_MEM(out[0].signature, r.signature, 64);
    /* A receipt field of the wrong size. */
    pb.owner.len = 32;
    sh_buf_reset(&b);
    CHECK_OK(sh_wire_pack(&rr.base, &b));
    CHECK_ERR(sh_node_receipts_parse(b.data, b.len, false, out, 4, &n), SH_ERR_FORMAT);
    CHECK_MSG("wrong size");
    /* Not protobuf at all. */
    CHECK_ERR(sh_node_receipts_parse((const uint8_t *)"\xff\xff", 2, false, out, 4, &n),
              SH_ERR_FORMAT);
    sh_buf_free(&b);
    printf("receipts round-trip through both answers; malformed ones are refused\n");
}

static void redirect(void)
{
    Shoal__Storage__ErrorResponse er = SHOAL__STORAGE__ERROR_RESPONSE__INIT;
    Shoal__Swarm__SwarmNode node = SHOAL__SWARM__SWARM_NODE__INIT, *np = &node;
    uint8_t id[32] = {1}, link[32] = {2};
    sh_node_swarm_member m[2];
    uint64_t v;
    size_t n;
    sh_buf b;

    node.identity = sh_wire_bin(id, 32);
    node.link_key = sh_wire_bin(link, 32);
    node.address = "127.0.0.1:4433";
    er.map_version = 9;
    er.n_swarm = 1;
    er.swarm = &np;
    sh_buf_init(&b);
    CHECK_OK(sh_wire_pack(&er.base, &b));
    CHECK_OK(sh_node_redirect_parse(b.data, b.len, &v, m, 2, &n));
    CHECK_EQ(v, 9);
    CHECK_EQ(n, 1);
    CHECK_MEM(m[0].identity, id, 32);
    CHECK_STR(m[0].address, "127.0.0.1:4433");
    node.address = "";
    sh_buf_reset(&b);
    CHECK_OK(sh_wire_pack(&er.base, &b));
    CHECK_ERR(sh_node_redirect_parse(b.data, b.len, &v, m, 2, &n), SH_ERR_FORMAT);
    CHECK_MSG("malformed");
    sh_buf_free(&b);
    printf("WRONG_SWARM answers: parsed; a member without an address is refused\n");
}

int main(void)
{
    CHECK(sodium_init() >= 0);
    vector();
    round_trips();
    redirect();
    return 0;
}
