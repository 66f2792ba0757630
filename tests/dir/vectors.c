/* Vectors from an independent encoder (tests/dir/vectors/gen-vectors.py: hand-written protobuf,
 * python3-cryptography, hashlib): the network id and canonical text, a descriptor with an
 * operator grant, a signed map, a vote on it, and a first consensus from three votes. libshoal
 * must accept each and write the same values to exactly the same bytes. */
#include "test.h"

#include <sodium.h>

#include "crypto/crypto.h"
#include "dir/dir.h"
#include "util/encode.h"

static json_t *vectors;
static int64_t now;

static void load(void)
{
    char path[1024];
    json_error_t err;
    const char *src = getenv("SHOAL_SOURCE_DIR");

    CHECK(src != NULL);
    snprintf(path, sizeof path, "%s/tests/dir/vectors/dir.json", src);
    vectors = json_load_file(path, 0, &err);
    if (vectors == NULL)
        test_fail(__FILE__, __LINE__, "cannot load %s: %s", path, err.text);
    now = json_integer_value(json_object_get(vectors, "now_ms"));
}

static json_t *part(const char *name) { return json_object_get(vectors, name); }

static void keypair_from_seed(const char *seed_hex, uint8_t pk[32], uint8_t sk[64])
{
    uint8_t seed[32];
    CHECK_OK(sh_hex_decode(seed, 32, seed_hex));
    crypto_sign_seed_keypair(pk, sk, seed);
}

static sh_dir_network *test_network(void)
{
    const char *text = test_json_str(part("network"), "text");
    sh_dir_network *net = NULL;
    uint8_t id[32];
    sh_buf canon;

    sh_buf_init(&canon);
    CHECK_OK(sh_dir_network_parse(text, strlen(text), &net));
    CHECK_OK(sh_hex_decode(id, 32, test_json_str(part("network"), "id")));
    CHECK_MEM(sh_dir_network_id(net), id, 32);
    CHECK_OK(sh_dir_network_format(net, &canon));
    CHECK_EQ(canon.len, strlen(text));
    CHECK_MEM(canon.data, text, canon.len);
    sh_buf_free(&canon);
    return net;
}

static void test_descriptor(void)
{
    json_t *d = part("descriptor");
    uint8_t pk[32], sk[64], op_pk[32], op_sk[64];
    sh_buf want, got;
    sh_dir_node n;

    sh_buf_init(&want);
    sh_buf_init(&got);
    test_json_hex(d, "signed", &want);
    CHECK_OK(sh_dir_descriptor_verify(want.data, want.len, now, &n));
    keypair_from_seed(test_json_str(d, "identity_seed"), pk, sk);
    keypair_from_seed(test_json_str(d, "operator_seed"), op_pk, op_sk);
    CHECK_MEM(n.identity, pk, 32);
    CHECK(n.has_operator);
    CHECK_MEM(n.operator_key, op_pk, 32);
    CHECK_EQ(n.published_ms, json_integer_value(json_object_get(d, "published_ms")));
    CHECK_STR(n.address, "198.51.100.7:7000");
    CHECK_EQ(n.onion_current.epoch, 100);
    CHECK_OK(sh_dir_onion_key_verify(&n.onion_current, n.identity, now));
    /* Our encoder and signer produce the very same bytes from the same values. */
    uint8_t sig[64];
    CHECK_OK(sh_dir_operator_sign(op_sk, n.identity, sig));
    CHECK_MEM(sig, n.operator_sig, 64);
    CHECK_OK(sh_dir_descriptor_sign(&n, sk, &got));
    CHECK_EQ(got.len, want.len);
    CHECK_MEM(got.data, want.data, want.len);
    sodium_memzero(sk, sizeof sk);
    sh_buf_free(&want);
    sh_buf_free(&got);
}

static sh_dir_map *test_map(const sh_dir_network *net)
{
    json_t *m = part("map");
    sh_dir_map *map = NULL;
    uint8_t hash[32];
    size_t count;
    sh_buf want, got;

    sh_buf_init(&want);
    sh_buf_init(&got);
    test_json_hex(m, "published", &want);
    CHECK_OK(sh_dir_map_load(want.data, want.len, net, 7, now, &map));
    CHECK_EQ(sh_dir_map_version(map), 7);
    CHECK_EQ(sh_dir_map_signature_count(map), 2);
    CHECK_OK(sh_hex_decode(hash, 32, test_json_str(m, "body_hash")));
    CHECK_MEM(sh_dir_map_body_hash(map), hash, 32);
    const sh_dir_node *nodes = sh_dir_map_nodes(map, &count);
    CHECK_EQ(count, 3);
    const uint64_t *ids = sh_dir_map_swarm_ids(map, &count);
    CHECK_EQ(count, 2);
    CHECK(ids[0] == strtoull(json_string_value(json_array_get(json_object_get(m, "swarms"), 0)), NULL, 10));
    CHECK(ids[1] == strtoull(json_string_value(json_array_get(json_object_get(m, "swarms"), 1)), NULL, 10));
    size_t guards = 0, operators = 0;
    for (size_t i = 0; i < 3; i++) {
        guards += nodes[i].flags == SH_DIR_FLAG_GUARD;
        operators += nodes[i].has_operator;
    }
    CHECK_EQ(guards, 1);
    CHECK_EQ(operators, 1);
    CHECK(sh_dir_map_find_link_key(map, nodes[2].link_key) == &nodes[2]);
    CHECK_OK(sh_dir_map_encode(map, &got));
    CHECK_EQ(got.len, want.len);
    CHECK_MEM(got.data, want.data, want.len);
    sh_buf_free(&want);
    sh_buf_free(&got);
    return map;
}

static void test_vote(const sh_dir_network *net, const sh_dir_map *map)
{
    json_t *v = part("vote");
    sh_dir_vote *vote = NULL;
    uint8_t pk[32], sk[64];
    size_t count;
    sh_buf want, got;

    sh_buf_init(&want);
    sh_buf_init(&got);
    test_json_hex(v, "signed", &want);
    CHECK_OK(sh_dir_vote_load(want.data, want.len, net, map, &vote));
    keypair_from_seed(test_json_str(v, "authority_seed"), pk, sk);
    CHECK_MEM(sh_dir_vote_authority(vote), pk, 32);
    const sh_dir_node *nodes = sh_dir_vote_nodes(vote, &count);
    CHECK_EQ(count, 3);
    CHECK_OK(sh_dir_vote_create(net, map, sk, json_integer_value(json_object_get(v, "valid_after_ms")),
                                json_integer_value(json_object_get(v, "valid_until_ms")), nodes, count, &got));
    CHECK_EQ(got.len, want.len);
    CHECK_MEM(got.data, want.data, want.len);
    sh_dir_vote_free(vote);
    sh_buf_free(&want);
    sh_buf_free(&got);
}

static void test_consensus(const sh_dir_network *net)
{
    json_t *c = part("consensus"), *hex;
    sh_dir_vote *votes[3];
    sh_dir_map *map = NULL;
    sh_buf bytes, want;
    size_t i, len, count;

    sh_buf_init(&bytes);
    sh_buf_init(&want);
    json_array_foreach(json_object_get(c, "votes"), i, hex) {
        test_hex(json_string_value(hex), &bytes);
        CHECK_OK(sh_dir_vote_load(bytes.data, bytes.len, net, NULL, &votes[i]));
    }
    CHECK_OK(sh_dir_consensus(net, NULL, (const sh_dir_vote *const *)votes, 3, &map));
    test_json_hex(c, "body", &want);
    const uint8_t *body = sh_dir_map_body(map, &len);
    CHECK_EQ(len, want.len);
    CHECK_MEM(body, want.data, want.len);
    const uint64_t *ids = sh_dir_map_swarm_ids(map, &count);
    CHECK_EQ(count, 1);
    CHECK(ids[0] == strtoull(test_json_str(c, "first_swarm"), NULL, 10));
    sh_dir_map_free(map);
    for (i = 0; i < 3; i++)
        sh_dir_vote_free(votes[i]);
    sh_buf_free(&bytes);
    sh_buf_free(&want);
}

int main(void)
{
    CHECK_OK(sh_crypto_init());
    load();
    sh_dir_network *net = test_network();
    test_descriptor();
    sh_dir_map *map = test_map(net);
    test_vote(net, map);
    test_consensus(net);
    sh_dir_map_free(map);
    sh_dir_network_free(net);
    json_decref(vectors);
    return 0;
}
