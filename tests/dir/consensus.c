/* Votes and the consensus: three authorities computing from the same votes in any order get
 * byte-identical maps; majority rules for membership, fields (with the tie-break), flags and
 * validity; the chain of versions; and every refused vote. */
#include "test.h"

#include <sodium.h>

#include "crypto/crypto.h"
#include "dir/internal.h"
#include "dirtest.h"

#define N_NODES 12

static dt_key auth[3], node_key[N_NODES];
static sh_dir_node nodes[N_NODES];
static sh_dir_network *net;

static void setup(void)
{
    net = dt_network_make(3, 2, NULL, auth);
    for (uint32_t i = 0; i < N_NODES; i++)
        dt_node_make(&nodes[i], &node_key[i], i, DT_NOW, NULL);
}

static const sh_dir_node *find(const sh_dir_map *m, size_t i)
{
    return sh_dir_map_find_node(m, nodes[i].identity);
}

static void test_identical_maps(void)
{
    sh_dir_vote *v[3];
    sh_dir_map *m[3];
    sh_buf enc[3];
    uint8_t sig[64];

    /* A and B list nodes 0-9, C lists 0-8 and 10: node 9 has 2 of 3 votes, node 10 only 1. */
    sh_dir_node c_nodes[10];
    memcpy(c_nodes, nodes, 9 * sizeof nodes[0]);
    c_nodes[9] = nodes[10];
    v[0] = dt_vote(net, NULL, &auth[0], DT_NOW, nodes, 10);
    v[1] = dt_vote(net, NULL, &auth[1], DT_NOW, nodes, 10);
    v[2] = dt_vote(net, NULL, &auth[2], DT_NOW, c_nodes, 10);
    /* Each authority computes with the votes in the order it happened to receive them. */
    sh_dir_vote *order[3][3] = {{v[0], v[1], v[2]}, {v[2], v[0], v[1]}, {v[1], v[2], v[0]}};
    for (size_t i = 0; i < 3; i++) {
        CHECK_OK(sh_dir_consensus(net, NULL, (const sh_dir_vote *const *)order[i], 3, &m[i]));
        CHECK_OK(sh_dir_map_sign(m[i], net, auth[i].sk));
    }
    size_t len0, len;
    const uint8_t *body0 = sh_dir_map_body(m[0], &len0);
    for (size_t i = 1; i < 3; i++) {
        const uint8_t *body = sh_dir_map_body(m[i], &len);
        CHECK_EQ(len, len0);
        CHECK_MEM(body, body0, len0);
    }
    /* They exchange signatures; every copy ends up with all three and the same bytes. */
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++) {
            CHECK_OK(sh_dir_map_signature(m[j], auth[j].pk, sig));
            CHECK_OK(sh_dir_map_add_signature(m[i], net, auth[j].pk, sig));
        }
    for (size_t i = 0; i < 3; i++) {
        sh_buf_init(&enc[i]);
        CHECK_OK(sh_dir_map_encode(m[i], &enc[i]));
        CHECK_EQ(sh_dir_map_signature_count(m[i]), 3);
        CHECK_OK(sh_dir_map_verify(m[i], net, 0, DT_NOW));
    }
    CHECK_EQ(enc[1].len, enc[0].len);
    CHECK_MEM(enc[1].data, enc[0].data, enc[0].len);
    CHECK_MEM(enc[2].data, enc[0].data, enc[0].len);
    /* Membership: more than half of the 3 authorities. */
    size_t count;
    sh_dir_map_nodes(m[0], &count);
    CHECK_EQ(count, 10);
    CHECK(find(m[0], 9) != NULL);
    CHECK(find(m[0], 10) == NULL);
    CHECK_EQ(sh_dir_map_version(m[0]), 1);
    /* A first map with 10 nodes and target 5: two swarms of 5, everyone in one of them. */
    size_t n_swarms, in_first = 0;
    const sh_dir_swarm *sw = sh_dir_map_swarms(m[0], &n_swarms);
    CHECK_EQ(n_swarms, 2);
    for (size_t i = 0; i < 10; i++) {
        CHECK(find(m[0], i)->swarm_id == sw[0].id || find(m[0], i)->swarm_id == sw[1].id);
        in_first += find(m[0], i)->swarm_id == sw[0].id;
    }
    CHECK_EQ(in_first, 5);
    /* Loading the published bytes gives the same map. */
    sh_dir_map *loaded = NULL;
    CHECK_OK(sh_dir_map_load(enc[0].data, enc[0].len, net, 0, DT_NOW, &loaded));
    const uint8_t *lbody = sh_dir_map_body(loaded, &len);
    CHECK_EQ(len, len0);
    CHECK_MEM(lbody, body0, len0);
    CHECK_MEM(sh_dir_map_body_hash(loaded), sh_dir_map_body_hash(m[0]), 32);
    sh_dir_map_free(loaded);
    for (size_t i = 0; i < 3; i++) {
        sh_dir_map_free(m[i]);
        sh_dir_vote_free(v[i]);
        sh_buf_free(&enc[i]);
    }
}

static void test_field_majority(void)
{
    sh_dir_node a[1], b[1], c[1];
    sh_dir_vote *v[3];
    sh_dir_map *m;
    dt_key k;

    /* Address: 2 votes against 1. Guard: only A. Onion keys: C saw a newer descriptor. */
    a[0] = b[0] = c[0] = nodes[0];
    strcpy(c[0].address, "10.99.0.1:7000");
    a[0].flags = SH_DIR_FLAG_GUARD;
    dt_node_make(&c[0], &k, 0, DT_NOW + 20 * DT_HOUR, "10.99.0.1:7000");
    c[0].onion_current.epoch = 101;
    c[0].onion_next.epoch = 102;
    CHECK_OK(sh_dir_onion_key_sign(&c[0].onion_current, k.sk));
    CHECK_OK(sh_dir_onion_key_sign(&c[0].onion_next, k.sk));
    v[0] = dt_vote(net, NULL, &auth[0], DT_NOW, a, 1);
    v[1] = dt_vote(net, NULL, &auth[1], DT_NOW + 10 * 60000, b, 1);
    v[2] = dt_vote(net, NULL, &auth[2], DT_NOW + 20 * 60000, c, 1);
    CHECK_OK(sh_dir_consensus(net, NULL, (const sh_dir_vote *const *)v, 3, &m));
    const sh_dir_node *n = find(m, 0);
    CHECK(n != NULL);
    CHECK_STR(n->address, nodes[0].address);
    CHECK_EQ(n->onion_current.epoch, 100);
    CHECK_MEM(&n->onion_next, &nodes[0].onion_next, sizeof n->onion_next);
    CHECK_EQ(n->flags, 0);
    /* Validity: the lower median of the three proposals. */
    CHECK_EQ(sh_dir_map_valid_after(m), DT_NOW + 10 * 60000);
    CHECK_EQ(sh_dir_map_valid_until(m), DT_NOW + 10 * 60000 + DT_HOUR);
    sh_dir_map_free(m);
    sh_dir_vote_free(v[2]);
    /* Guard from 2 of 3 listing votes. */
    b[0].flags = SH_DIR_FLAG_GUARD;
    sh_dir_vote_free(v[1]);
    v[1] = dt_vote(net, NULL, &auth[1], DT_NOW, b, 1);
    v[2] = dt_vote(net, NULL, &auth[2], DT_NOW, c, 1);
    CHECK_OK(sh_dir_consensus(net, NULL, (const sh_dir_vote *const *)v, 3, &m));
    CHECK_EQ(find(m, 0)->flags, SH_DIR_FLAG_GUARD);
    sh_dir_map_free(m);
    /* Only A and B vote, and disagree: each field goes to the smaller value, the flag is off. */
    strcpy(a[0].address, "10.0.20.9:7000");
    strcpy(b[0].address, "10.0.20.10:7000");
    strcpy(a[0].contact, "b@example.org");
    strcpy(b[0].contact, "a@example.org");
    b[0].flags = 0;
    sh_dir_vote_free(v[0]);
    sh_dir_vote_free(v[1]);
    v[0] = dt_vote(net, NULL, &auth[0], DT_NOW, a, 1);
    v[1] = dt_vote(net, NULL, &auth[1], DT_NOW + 60000, b, 1);
    CHECK_OK(sh_dir_consensus(net, NULL, (const sh_dir_vote *const *)v, 2, &m));
    n = find(m, 0);
    CHECK(n != NULL);
    CHECK_STR(n->address, "10.0.20.10:7000");
    CHECK_STR(n->contact, "a@example.org");
    CHECK_EQ(n->flags, 0);
    CHECK_EQ(sh_dir_map_valid_after(m), DT_NOW);
    sh_dir_map_free(m);
    for (size_t i = 0; i < 3; i++)
        sh_dir_vote_free(v[i]);
}

/* A Map message with the body of m and the signatures given, for crafting bad maps. */
static void craft(const sh_dir_map *m, const dt_key *signers, size_t n, sh_buf *out)
{
    Shoal__Dir__Map pm = SHOAL__DIR__MAP__INIT;
    Shoal__Dir__Signature s[4], *ptrs[4];
    uint8_t sig[4][64];
    size_t len;
    const uint8_t *body = sh_dir_map_body(m, &len);

    for (size_t i = 0; i < n; i++) {
        crypto_sign_detached(sig[i], NULL, body, len, signers[i].sk);
        shoal__dir__signature__init(&s[i]);
        s[i].authority = (ProtobufCBinaryData){32, (uint8_t *)signers[i].pk};
        s[i].signature = (ProtobufCBinaryData){64, sig[i]};
        ptrs[i] = &s[i];
    }
    pm.body = (ProtobufCBinaryData){len, (uint8_t *)body};
    pm.n_signatures = n;
    pm.signatures = ptrs;
    CHECK_OK(sh__dir_pb_pack(&pm.base, SH_DIR_MAP_MAX_BYTES, out));
}

static int cmp_key(const void *a, const void *b)
{
    return memcmp(((const dt_key *)a)->pk, ((const dt_key *)b)->pk, 32);
}

static void test_k_of_n(void)
{
    sh_dir_vote *v[2];
    sh_dir_map *m, *loaded = NULL;
    dt_key outsider, signers[3];
    uint8_t sig[64];
    sh_buf b;

    sh_buf_init(&b);
    dt_key_make(&outsider, 2, 50);
    v[0] = dt_vote(net, NULL, &auth[0], DT_NOW, nodes, 4);
    v[1] = dt_vote(net, NULL, &auth[1], DT_NOW, nodes, 4);
    m = dt_consensus(net, NULL, v, 2, auth, 1);
    /* One signature of the two needed. */
    CHECK_ERR(sh_dir_map_verify(m, net, 0, DT_NOW), SH_ERR_CRYPTO);
    CHECK_MSG("has 1 valid authority signature; this network needs 2");
    CHECK_OK(sh_dir_map_sign(m, net, auth[2].sk));
    CHECK_OK(sh_dir_map_verify(m, net, 0, DT_NOW));
    /* Forged: a flipped bit in one of two signatures. */
    CHECK_OK(sh_dir_map_encode(m, &b));
    b.data[b.len - 1] ^= 1;
    CHECK_OK(sh_dir_map_decode(b.data, b.len, &loaded));
    CHECK_ERR(sh_dir_map_verify(loaded, net, 0, DT_NOW), SH_ERR_CRYPTO);
    CHECK_MSG("does not verify");
    sh_dir_map_free(loaded);
    CHECK_OK(sh_dir_map_signature(m, auth[0].pk, sig));
    sig[10] ^= 4;
    CHECK_ERR(sh_dir_map_add_signature(m, net, auth[1].pk, sig), SH_ERR_CRYPTO);
    /* Signed by someone who is not an authority (a valid signature otherwise). */
    signers[0] = auth[0];
    signers[1] = outsider;
    qsort(signers, 2, sizeof signers[0], cmp_key);
    craft(m, signers, 2, &b);
    CHECK_ERR(sh_dir_map_load(b.data, b.len, net, 0, DT_NOW, &loaded), SH_ERR_PERMISSION);
    CHECK_MSG("not an authority of this network");
    crypto_sign_detached(sig, NULL, b.data, 0, outsider.sk);
    CHECK_ERR(sh_dir_map_add_signature(m, net, outsider.pk, sig), SH_ERR_PERMISSION);
    /* The same authority twice. */
    signers[0] = signers[1] = auth[1];
    craft(m, signers, 2, &b);
    CHECK_ERR(sh_dir_map_load(b.data, b.len, net, 0, DT_NOW, &loaded), SH_ERR_FORMAT);
    CHECK_MSG("each authority once");
    /* Two good signatures in the wrong order. */
    signers[0] = auth[0];
    signers[1] = auth[1];
    qsort(signers, 2, sizeof signers[0], cmp_key);
    dt_key t = signers[0];
    signers[0] = signers[1];
    signers[1] = t;
    craft(m, signers, 2, &b);
    CHECK_ERR(sh_dir_map_load(b.data, b.len, net, 0, DT_NOW, &loaded), SH_ERR_FORMAT);
    /* The right two in order verify; all three as well. */
    signers[1] = signers[0];
    signers[0] = t;
    craft(m, signers, 2, &b);
    CHECK_OK(sh_dir_map_load(b.data, b.len, net, 0, DT_NOW, &loaded));
    sh_dir_map_free(loaded);
    /* A signature of another map's body. */
    sh_dir_map *other;
    sh_dir_vote_free(v[1]);
    v[1] = dt_vote(net, NULL, &auth[1], DT_NOW, nodes, 5);
    sh_dir_vote_free(v[0]);
    v[0] = dt_vote(net, NULL, &auth[0], DT_NOW, nodes, 5);
    other = dt_consensus(net, NULL, v, 2, auth, 1);
    CHECK_OK(sh_dir_map_signature(other, auth[0].pk, sig));
    CHECK_ERR(sh_dir_map_add_signature(m, net, auth[0].pk, sig), SH_ERR_CRYPTO);
    CHECK_MSG("forged or for another map");
    sh_dir_map_free(other);
    sh_dir_map_free(m);
    sh_dir_vote_free(v[0]);
    sh_dir_vote_free(v[1]);
    sh_buf_free(&b);
}

static void test_freshness(void)
{
    sh_dir_vote *v[2];
    sh_dir_map *m, *loaded = NULL;
    dt_key other_auth[3];
    sh_buf b;

    sh_buf_init(&b);
    v[0] = dt_vote(net, NULL, &auth[0], DT_NOW, nodes, 3);
    v[1] = dt_vote(net, NULL, &auth[1], DT_NOW, nodes, 3);
    m = dt_consensus(net, NULL, v, 2, auth, 2);
    CHECK_OK(sh_dir_map_encode(m, &b));
    /* Expired 2 hours ago; the message says so. */
    CHECK_ERR(sh_dir_map_load(b.data, b.len, net, 0, DT_NOW + 3 * DT_HOUR, &loaded), SH_ERR_STALE);
    CHECK_MSG("map version 1 expired 2 h 0 min ago");
    CHECK_ERR(sh_dir_map_verify(m, net, 0, DT_NOW + DT_HOUR + 1), SH_ERR_STALE);
    CHECK_MSG("expired 1 ms ago");
    CHECK_OK(sh_dir_map_verify(m, net, 0, DT_NOW + DT_HOUR));
    CHECK_ERR(sh_dir_map_verify(m, net, 0, DT_NOW + 5 * 86400000LL), SH_ERR_STALE);
    CHECK_MSG("expired 4 d 23 h ago");
    /* Not valid yet, beyond the allowed skew. */
    CHECK_OK(sh_dir_map_verify(m, net, 0, DT_NOW - SH_DIR_CLOCK_SKEW_MS));
    CHECK_ERR(sh_dir_map_verify(m, net, 0, DT_NOW - SH_DIR_CLOCK_SKEW_MS - 1), SH_ERR_STALE);
    CHECK_ERR(sh_dir_map_verify(m, net, 0, DT_NOW - 2 * SH_DIR_CLOCK_SKEW_MS), SH_ERR_STALE);
    CHECK_MSG("not valid for another 2 min 0 s");
    /* Older than the cached version. */
    CHECK_OK(sh_dir_map_verify(m, net, 1, DT_NOW));
    CHECK_ERR(sh_dir_map_verify(m, net, 2, DT_NOW), SH_ERR_STALE);
    CHECK_MSG("map version 1 is older than version 2 already held");
    /* Another network (same authorities, other k) refuses it. */
    sh_dir_network *net2 = dt_network_make(3, 3, NULL, other_auth);
    CHECK_ERR(sh_dir_map_verify(m, net2, 0, DT_NOW), SH_ERR_PROTOCOL);
    CHECK_MSG("another network");
    sh_dir_network_free(net2);
    sh_dir_map_free(m);
    sh_dir_vote_free(v[0]);
    sh_dir_vote_free(v[1]);
    sh_buf_free(&b);
}

static void test_chain_and_bad_votes(void)
{
    sh_dir_vote *v[3], *bad = NULL;
    sh_dir_map *m1, *m2;
    dt_key outsider, other_auth[3];
    sh_buf b;

    sh_buf_init(&b);
    dt_key_make(&outsider, 2, 77);
    for (size_t i = 0; i < 3; i++)
        v[i] = dt_vote(net, NULL, &auth[i], DT_NOW, nodes, 6);
    m1 = dt_consensus(net, NULL, v, 3, auth, 2);
    /* Fewer than half of the authorities, or one twice. */
    CHECK_ERR(sh_dir_consensus(net, NULL, (const sh_dir_vote *const *)v, 1, &m2), SH_ERR_UNAVAILABLE);
    CHECK_MSG("only 1 of 3 authorities voted");
    sh_dir_vote *twice[2] = {v[0], v[0]};
    CHECK_ERR(sh_dir_consensus(net, NULL, (const sh_dir_vote *const *)twice, 2, &m2), SH_ERR_INVALID);
    /* A vote made before map 1 cannot build on it. */
    CHECK_OK(sh_dir_vote_create(net, NULL, auth[0].sk, DT_NOW, DT_NOW + DT_HOUR, nodes, 6, &b));
    CHECK_ERR(sh_dir_vote_load(b.data, b.len, net, m1, &bad), SH_ERR_STALE);
    CHECK_ERR(sh_dir_consensus(net, m1, (const sh_dir_vote *const *)v, 3, &m2), SH_ERR_STALE);
    /* Votes on map 1 (node 0 gone, node 6 new): version 2, unchanged nodes keep their swarm. */
    for (size_t i = 0; i < 3; i++) {
        sh_dir_vote_free(v[i]);
        v[i] = dt_vote(net, m1, &auth[i], DT_NOW + DT_HOUR, nodes + 1, 6);
    }
    m2 = dt_consensus(net, m1, v, 3, auth, 3);
    CHECK_EQ(sh_dir_map_version(m2), 2);
    CHECK_OK(sh_dir_map_verify(m2, net, 1, DT_NOW + DT_HOUR));
    CHECK(find(m2, 0) == NULL && find(m2, 6) != NULL);
    for (size_t i = 1; i < 6; i++)
        CHECK(find(m2, i)->swarm_id == find(m1, i)->swarm_id);
    /* A map-2 vote does not load against map 1's predecessor state (no map). */
    CHECK_OK(sh_dir_vote_create(net, m1, auth[0].sk, DT_NOW, DT_NOW + DT_HOUR, nodes, 2, &b));
    CHECK_ERR(sh_dir_vote_load(b.data, b.len, net, NULL, &bad), SH_ERR_STALE);
    CHECK_OK(sh_dir_vote_load(b.data, b.len, net, m1, &bad));
    sh_dir_vote_free(bad);
    bad = NULL;
    /* Forged vote signature. */
    b.data[b.len - 2] ^= 1;
    CHECK_ERR(sh_dir_vote_load(b.data, b.len, net, m1, &bad), SH_ERR_CRYPTO);
    /* A key that is not an authority cannot make or pass a vote. */
    CHECK_ERR(sh_dir_vote_create(net, NULL, outsider.sk, DT_NOW, DT_NOW + DT_HOUR, nodes, 2, &b),
              SH_ERR_PERMISSION);
    sh_dir_network *net2 = dt_network_make(3, 3, NULL, other_auth);
    CHECK_OK(sh_dir_vote_create(net2, NULL, auth[0].sk, DT_NOW, DT_NOW + DT_HOUR, nodes, 2, &b));
    CHECK_ERR(sh_dir_vote_load(b.data, b.len, net, NULL, &bad), SH_ERR_PROTOCOL);
    CHECK_MSG("another network");
    sh_dir_network_free(net2);
    /* Duplicate nodes and bad validity. */
    sh_dir_node dup[2] = {nodes[0], nodes[0]};
    CHECK_ERR(sh_dir_vote_create(net, NULL, auth[0].sk, DT_NOW, DT_NOW + DT_HOUR, dup, 2, &b),
              SH_ERR_INVALID);
    CHECK_ERR(sh_dir_vote_create(net, NULL, auth[0].sk, DT_NOW, DT_NOW, nodes, 2, &b), SH_ERR_RANGE);
    /* The decoded vote lists what was voted, sorted. */
    size_t count;
    const sh_dir_node *listed = sh_dir_vote_nodes(v[0], &count);
    CHECK_EQ(count, 6);
    for (size_t i = 1; i < count; i++)
        CHECK(memcmp(listed[i - 1].identity, listed[i].identity, 32) < 0);
    CHECK_MEM(sh_dir_vote_authority(v[0]), auth[0].pk, 32);
    sh_dir_map_free(m1);
    sh_dir_map_free(m2);
    for (size_t i = 0; i < 3; i++)
        sh_dir_vote_free(v[i]);
    sh_buf_free(&b);
}

/* A vote at SH_DIR_MAX_NODES nodes and one over, and a map body listing too many nodes. */
static void test_limits(void)
{
    sh_dir_node *many = malloc((SH_DIR_MAX_NODES + 1) * sizeof *many);
    sh_dir_vote *v = NULL;
    sh_dir_map *m = NULL;
    sh_buf b;

    CHECK(many != NULL);
    sh_buf_init(&b);
    for (uint32_t i = 0; i <= SH_DIR_MAX_NODES; i++) {
        many[i] = nodes[0];
        sh_store_u32be(many[i].identity, i);
    }
    CHECK_ERR(sh_dir_vote_create(net, NULL, auth[0].sk, DT_NOW, DT_NOW + DT_HOUR, many,
                                 SH_DIR_MAX_NODES + 1, &b), SH_ERR_LIMIT);
    CHECK_OK(sh_dir_vote_create(net, NULL, auth[0].sk, DT_NOW, DT_NOW + DT_HOUR, many,
                                SH_DIR_MAX_NODES, &b));
    CHECK(b.len <= SH_DIR_VOTE_MAX_BYTES);
    CHECK_OK(sh_dir_vote_load(b.data, b.len, net, NULL, &v));
    sh_dir_vote_free(v);
    /* A body with SH_DIR_MAX_NODES + 1 (empty) node entries is refused before they are read. */
    Shoal__Dir__MapBody body = SHOAL__DIR__MAP_BODY__INIT;
    Shoal__Dir__Node empty = SHOAL__DIR__NODE__INIT;
    Shoal__Dir__Node **ptrs = malloc((SH_DIR_MAX_NODES + 1) * sizeof *ptrs);
    Shoal__Dir__Map pm = SHOAL__DIR__MAP__INIT;
    sh_buf body_bytes;
    CHECK(ptrs != NULL);
    for (size_t i = 0; i <= SH_DIR_MAX_NODES; i++)
        ptrs[i] = &empty;
    body.label = (char *)"shoal/dir/map/v1";
    body.n_nodes = SH_DIR_MAX_NODES + 1;
    body.nodes = ptrs;
    sh_buf_init(&body_bytes);
    CHECK_OK(sh__dir_pb_pack(&body.base, SH_DIR_MAP_MAX_BYTES, &body_bytes));
    pm.body = (ProtobufCBinaryData){body_bytes.len, body_bytes.data};
    CHECK_OK(sh__dir_pb_pack(&pm.base, SH_DIR_MAP_MAX_BYTES, &b));
    CHECK_ERR(sh_dir_map_decode(b.data, b.len, &m), SH_ERR_FORMAT);
    body.swarm_seed = body.network_id = (ProtobufCBinaryData){32, many[0].identity};
    CHECK_OK(sh__dir_pb_pack(&body.base, SH_DIR_MAP_MAX_BYTES, &body_bytes));
    pm.body = (ProtobufCBinaryData){body_bytes.len, body_bytes.data};
    CHECK_OK(sh__dir_pb_pack(&pm.base, SH_DIR_MAP_MAX_BYTES, &b));
    CHECK_ERR(sh_dir_map_decode(b.data, b.len, &m), SH_ERR_LIMIT);
    CHECK_MSG("4097 nodes");
    free(ptrs);
    free(many);
    sh_buf_free(&body_bytes);
    sh_buf_free(&b);
}

int main(void)
{
    CHECK_OK(sh_crypto_init());
    setup();
    test_identical_maps();
    test_field_majority();
    test_k_of_n();
    test_freshness();
    test_chain_and_bad_votes();
    test_limits();
    sh_dir_network_free(net);
    return 0;
}
