/* Swarm mapping against Session's vectors: swarm-space positions, and the nearest swarm on the
 * ring including ties, the wrap-around and distances across the wrap. */
#include "test.h"

#include <shoal/identity.h>

static uint64_t parse_u64(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);

    CHECK(*s != '\0' && *end == '\0');
    return (uint64_t)v;
}

static void check_positions(json_t *cases)
{
    size_t i;
    json_t *c;
    sh_buf pk;

    sh_buf_init(&pk);
    CHECK(json_array_size(cases) > 0);
    json_array_foreach(cases, i, c) {
        test_json_hex(c, "x25519_pk", &pk);
        CHECK_EQ(pk.len, 32);
        CHECK(sh_swarm_space_position(pk.data) == parse_u64(test_json_str(c, "position")));
    }
    sh_buf_free(&pk);
}

static size_t check_ring(json_t *ring)
{
    json_t *ids_json = json_object_get(ring, "swarm_ids"), *c, *id;
    uint64_t ids[64], got;
    uint8_t pk[32];
    size_t n = json_array_size(ids_json), i;

    CHECK(n > 0 && n <= 64);
    json_array_foreach(ids_json, i, id) ids[i] = parse_u64(json_string_value(id));
    json_array_foreach(json_object_get(ring, "cases"), i, c) {
        CHECK_OK(sh_session_id_parse(pk, test_json_str(c, "session_id")));
        CHECK_OK(sh_swarm_nearest(sh_swarm_space_position(pk), ids, n, &got));
        if (got != parse_u64(test_json_str(c, "swarm")))
            test_fail(__FILE__, __LINE__, "%s: got swarm %" PRIu64 ", expected %s",
                      test_json_str(c, "session_id"), got, test_json_str(c, "swarm"));
    }
    return json_array_size(json_object_get(ring, "cases"));
}

static void check_edges(void)
{
    uint64_t one[1] = {500}, two[2] = {0, UINT64_C(1) << 63}, got = 7;

    CHECK_ERR(sh_swarm_nearest(5, one, 0, &got), SH_ERR_INVALID);
    CHECK_MSG("no swarms");
    CHECK_EQ(got, 7);
    CHECK_OK(sh_swarm_nearest(0, one, 1, &got));
    CHECK(got == 500);
    CHECK_OK(sh_swarm_nearest(UINT64_MAX, one, 1, &got));
    CHECK(got == 500);
    /* Exactly half way both ways round: the tie goes to the lower side. */
    CHECK_OK(sh_swarm_nearest(UINT64_C(1) << 62, two, 2, &got));
    CHECK(got == 0);
    CHECK_OK(sh_swarm_nearest((UINT64_C(1) << 62) + 1, two, 2, &got));
    CHECK(got == UINT64_C(1) << 63);
    CHECK_OK(sh_swarm_nearest(UINT64_C(3) << 62, two, 2, &got));
    CHECK(got == UINT64_C(1) << 63);
}

int main(void)
{
    json_t *root = test_load_json("session/vectors.json"), *ring;
    size_t i, cases = 0;

    CHECK_OK(sh_identity_init());
    check_positions(json_object_get(root, "swarm_space"));
    json_array_foreach(json_object_get(root, "nearest_swarm"), i, ring) cases += check_ring(ring);
    CHECK_EQ(cases, 32);
    check_edges();
    json_decref(root);
    return 0;
}
