/* Client path selection over a made-up map: every picked path obeys the rules (kept guard,
 * distinct hops, none in the destination's swarm, none avoided, distinct /16s), middles are
 * spread, guards are kept until their lifetime or failures, the devnet switch, and a clear
 * error when a hop cannot be filled. Randomness is a seeded generator. */
#include "test.h"

#include <sodium.h>

#include "onion/onion.h"

#define NODES 40

static uint32_t seeded_cb(void *ctx, uint32_t upper)
{
    uint32_t v;

    (void)ctx;
    test_random(&v, sizeof v);
    return v % upper;
}

static void make_map(sh_onion_candidate *c, size_t n, bool loopback)
{
    memset(c, 0, n * sizeof *c);
    for (size_t i = 0; i < n; i++) {
        memset(c[i].id, (int)i + 1, SH_ONION_ID_BYTES);
        c[i].addr[10] = c[i].addr[11] = 0xff;
        c[i].addr[12] = loopback ? 127 : (uint8_t)(10 + i / 2); /* pairs share a /16 */
        c[i].addr[13] = loopback ? 0 : 1;
        c[i].addr[15] = (uint8_t)i;
        c[i].in_swarm = true;
        c[i].swarm_id = i % 8;
        c[i].guard_flag = i % 3 == 0;
    }
}

static bool same16(const sh_onion_candidate *a, const sh_onion_candidate *b)
{
    return memcmp(a->addr, b->addr, 14) == 0;
}

static const sh_onion_path_policy policy = {
    .n_guards = 3, .guard_lifetime_ms = SH_ONION_GUARD_LIFETIME_MS,
    .guard_max_failures = SH_ONION_GUARD_MAX_FAILURES, .allow_same_subnet = false,
};

static bool is_kept(const sh_onion_guards *g, const uint8_t *id)
{
    for (size_t i = 0; i < g->n; i++)
        if (memcmp(g->g[i].id, id, SH_ONION_ID_BYTES) == 0)
            return true;
    return false;
}

static void test_rules(void)
{
    sh_onion_candidate map[NODES];
    sh_onion_guards g = {0};
    sh_onion_avoid avoid = {0};
    sh_onion_path p;
    size_t middle_seen[NODES] = {0}, distinct = 0;

    make_map(map, NODES, false);
    CHECK_OK(sh_onion_guards_update(&g, map, NODES, &policy, 1000, seeded_cb, NULL));
    CHECK_EQ(g.n, 3);
    for (size_t i = 0; i < g.n; i++) {
        const sh_onion_candidate *c = NULL;
        for (size_t j = 0; j < NODES; j++)
            if (memcmp(map[j].id, g.g[i].id, 32) == 0)
                c = &map[j];
        CHECK(c != NULL && c->guard_flag);
        for (size_t k = 0; k < i; k++)
            CHECK(memcmp(g.g[k].id, g.g[i].id, 32) != 0);
    }
    sh_onion_avoid_add(&avoid, map[5].id, 5000);
    sh_onion_avoid_add(&avoid, map[7].id, 500); /* already over at t = 1000 */
    for (int round = 0; round < 600; round++) {
        const sh_onion_candidate *dest = &map[round % NODES], *gd, *md;

        if (sh_onion_path_pick(map, NODES, &g, &avoid, dest, &policy, 1000, seeded_cb, NULL, &p) != SH_OK) {
            /* Only when every kept guard is ruled out for this destination. */
            CHECK_EQ(sh_err_msg()[0] != 0, 1);
            CHECK_MSG("guard");
            continue;
        }
        gd = &map[p.guard];
        md = &map[p.middle];
        CHECK(is_kept(&g, gd->id));
        CHECK(p.guard != p.middle && gd != dest && md != dest);
        CHECK(gd->swarm_id != dest->swarm_id && md->swarm_id != dest->swarm_id);
        CHECK(!same16(gd, md) && !same16(gd, dest) && !same16(md, dest));
        CHECK(p.middle != 5);
        middle_seen[p.middle]++;
    }
    for (size_t i = 0; i < NODES; i++)
        distinct += middle_seen[i] > 0;
    CHECK(distinct > NODES / 2);  /* the middle is random, not fixed */
    CHECK(middle_seen[7] > 0);   /* an expired avoidance no longer applies */
}

static void test_guard_lifetime_and_failures(void)
{
    sh_onion_candidate map[NODES];
    sh_onion_guards g = {0}, before;

    make_map(map, NODES, false);
    CHECK_OK(sh_onion_guards_update(&g, map, NODES, &policy, 0, seeded_cb, NULL));
    before = g;
    /* Weeks later, still within the lifetime: the same guards. */
    CHECK_OK(sh_onion_guards_update(&g, map, NODES, &policy, SH_ONION_GUARD_LIFETIME_MS - 1,
                                    seeded_cb, NULL));
    CHECK_MEM(&g, &before, sizeof g);
    /* A guard fails twice, succeeds, fails three times: it is rotated out. */
    sh_onion_guards_failed(&g, before.g[1].id, &policy);
    sh_onion_guards_failed(&g, before.g[1].id, &policy);
    sh_onion_guards_succeeded(&g, before.g[1].id);
    for (uint32_t i = 0; i < SH_ONION_GUARD_MAX_FAILURES - 1; i++)
        sh_onion_guards_failed(&g, before.g[1].id, &policy);
    CHECK_EQ(g.n, 3);
    sh_onion_guards_failed(&g, before.g[1].id, &policy);
    CHECK_EQ(g.n, 2);
    CHECK(!is_kept(&g, before.g[1].id));
    CHECK_OK(sh_onion_guards_update(&g, map, NODES, &policy, 10, seeded_cb, NULL));
    CHECK_EQ(g.n, 3);
    CHECK(is_kept(&g, before.g[0].id) && is_kept(&g, before.g[2].id));
    /* A guard that loses its flag or leaves the map is replaced. */
    for (size_t j = 0; j < NODES; j++)
        if (memcmp(map[j].id, before.g[0].id, 32) == 0)
            map[j].guard_flag = false;
    CHECK_OK(sh_onion_guards_update(&g, map, NODES - 1, &policy, 20, seeded_cb, NULL));
    CHECK(!is_kept(&g, before.g[0].id));
    /* After the lifetime every guard is new. */
    before = g;
    CHECK_OK(sh_onion_guards_update(&g, map, NODES, &policy, 20 + SH_ONION_GUARD_LIFETIME_MS,
                                    seeded_cb, NULL));
    for (size_t i = 0; i < g.n; i++)
        CHECK_EQ(g.g[i].chosen_ms, 20 + SH_ONION_GUARD_LIFETIME_MS);
    /* No Guard flag anywhere. */
    for (size_t j = 0; j < NODES; j++)
        map[j].guard_flag = false;
    memset(&g, 0, sizeof g);
    CHECK_ERR(sh_onion_guards_update(&g, map, NODES, &policy, 0, seeded_cb, NULL), SH_ERR_UNAVAILABLE);
    CHECK_MSG("Guard flag");
    sh_onion_path_policy bad = policy;
    bad.n_guards = 4;
    CHECK_ERR(sh_onion_guards_update(&g, map, NODES, &bad, 0, seeded_cb, NULL), SH_ERR_INVALID);
}

static void test_devnet_and_errors(void)
{
    sh_onion_candidate map[6];
    sh_onion_guards g = {0};
    sh_onion_path p;
    sh_onion_path_policy devnet = policy;
    sh_onion_avoid avoid = {0};

    make_map(map, 6, true); /* everyone on 127.0.0.x */
    for (size_t i = 0; i < 6; i++) {
        map[i].guard_flag = true;
        map[i].swarm_id = i; /* every node its own swarm */
    }
    /* One guard only: on loopback every node shares a /16. */
    CHECK_OK(sh_onion_guards_update(&g, map, 6, &policy, 0, seeded_cb, NULL));
    CHECK_EQ(g.n, 1);
    CHECK_ERR(sh_onion_path_pick(map, 6, &g, NULL, &map[5], &policy, 0, seeded_cb, NULL, &p),
              SH_ERR_UNAVAILABLE);
    CHECK_MSG("guard");
    devnet.allow_same_subnet = true;
    CHECK_OK(sh_onion_guards_update(&g, map, 6, &devnet, 0, seeded_cb, NULL));
    CHECK_EQ(g.n, 3);
    CHECK_OK(sh_onion_path_pick(map, 6, &g, NULL, &map[5], &devnet, 0, seeded_cb, NULL, &p));
    /* Every node avoided until t = 100: no guard left; afterwards paths work again. */
    for (size_t i = 0; i < 6; i++)
        sh_onion_avoid_add(&avoid, map[i].id, 100);
    CHECK_ERR(sh_onion_path_pick(map, 6, &g, &avoid, &map[5], &devnet, 0, seeded_cb, NULL, &p),
              SH_ERR_UNAVAILABLE);
    CHECK_OK(sh_onion_path_pick(map, 6, &g, &avoid, &map[5], &devnet, 100, seeded_cb, NULL, &p));
    /* A destination that is a service (no swarm) rules out no swarm. */
    sh_onion_candidate service = map[0];
    memset(service.id, 0xee, 32);
    service.in_swarm = false;
    CHECK_OK(sh_onion_path_pick(map, 6, &g, NULL, &service, &devnet, 0, seeded_cb, NULL, &p));
    /* The avoid list keeps its size, replacing the entry that ends first. */
    memset(&avoid, 0, sizeof avoid);
    for (uint32_t i = 0; i < SH_ONION_AVOID_MAX + 5; i++) {
        uint8_t id[32] = {0};
        sh_store_u32be(id, i);
        sh_onion_avoid_add(&avoid, id, 1000 + i);
    }
    CHECK_EQ(avoid.n, SH_ONION_AVOID_MAX);
    uint8_t last[32] = {0}, first[32] = {0};
    sh_store_u32be(last, SH_ONION_AVOID_MAX + 4);
    CHECK(sh_onion_avoid_has(&avoid, last, 0));
    CHECK(!sh_onion_avoid_has(&avoid, first, 0));
}

int main(void)
{
    CHECK(sodium_init() >= 0);
    test_rules();
    test_guard_lifetime_and_failures();
    test_devnet_and_errors();
    return 0;
}
