/* The authority's registry: submitting descriptors (new, again, newer, older, refused by
 * verification or policy), reachability and the Guard clock, the grace of a failing node (at
 * the limit and one past it), expiry, and the nodes it votes for feeding a real vote and
 * consensus (a failing node keeps its swarm across maps). */
#include "test.h"

#include "crypto/crypto.h"
#include "dir/dir.h"
#include "dirtest.h"

static void submit(sh_dir_registry *r, const sh_dir_node *n, const dt_key *k, int64_t now, int code)
{
    sh_buf b;

    sh_buf_init(&b);
    CHECK_OK(sh_dir_descriptor_sign(n, k->sk, &b));
    CHECK_ERR(sh_dir_registry_submit(r, b.data, b.len, now, NULL), code);
    sh_buf_free(&b);
}

static size_t voted(const sh_dir_registry *r, int64_t now, uint32_t *flags_of_first)
{
    sh_dir_node *nodes = NULL;
    size_t n;

    CHECK_OK(sh_dir_registry_vote_nodes(r, now, &nodes, &n));
    if (n > 0 && flags_of_first != NULL)
        *flags_of_first = nodes[0].flags;
    free(nodes);
    return n;
}

static void test_lifecycle(void)
{
    sh_dir_policy p = {.open = true, .guard_stable_ms = 4 * DT_HOUR};
    sh_dir_registry *r = NULL;
    sh_dir_node n, newer, out;
    dt_key k;
    uint32_t flags = 99;
    sh_buf b;

    sh_buf_init(&b);
    CHECK_OK(sh_dir_registry_new(&p, &r));
    dt_node_make(&n, &k, 1, DT_NOW, NULL);
    CHECK_OK(sh_dir_descriptor_sign(&n, k.sk, &b));
    CHECK_OK(sh_dir_registry_submit(r, b.data, b.len, DT_NOW, &out));
    CHECK_STR(out.address, n.address);
    CHECK_EQ(sh_dir_registry_count(r), 1);
    /* Not voted for until a reachability test succeeds. */
    CHECK_EQ(voted(r, DT_NOW, NULL), 0);
    CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, true, DT_NOW));
    CHECK_EQ(voted(r, DT_NOW, &flags), 1);
    CHECK_EQ(flags, 0);
    /* Guard after 4 hours of reachability; a failed test restarts the clock. */
    CHECK_EQ(voted(r, DT_NOW + 4 * DT_HOUR, &flags), 1);
    CHECK_EQ(flags, SH_DIR_FLAG_GUARD);
    CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, false, DT_NOW + 5 * DT_HOUR));
    CHECK_EQ(voted(r, DT_NOW + 5 * DT_HOUR, NULL), 0);
    CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, true, DT_NOW + 6 * DT_HOUR));
    CHECK_EQ(voted(r, DT_NOW + 9 * DT_HOUR, &flags), 1);
    CHECK_EQ(flags, 0);
    CHECK_EQ(voted(r, DT_NOW + 10 * DT_HOUR, &flags), 1);
    CHECK_EQ(flags, SH_DIR_FLAG_GUARD);
    /* The same descriptor again is fine; an older one is refused; a newer one replaces it and
     * keeps the node reachable while its address stays. */
    CHECK_OK(sh_dir_registry_submit(r, b.data, b.len, DT_NOW + DT_HOUR, NULL));
    newer = n;
    newer.published_ms = DT_NOW - 1;
    submit(r, &newer, &k, DT_NOW, SH_ERR_STALE);
    CHECK_MSG("a newer descriptor of this node is held");
    newer.published_ms = DT_NOW + DT_HOUR;
    strcpy(newer.version, "shoald 0.2.0");
    submit(r, &newer, &k, DT_NOW + DT_HOUR, SH_OK);
    size_t count;
    CHECK_STR(sh_dir_registry_nodes(r, &count)[0].version, "shoald 0.2.0");
    CHECK_EQ(voted(r, DT_NOW + 10 * DT_HOUR, &flags), 1);
    CHECK_EQ(flags, SH_DIR_FLAG_GUARD);
    /* A new address needs a new test. */
    newer.published_ms = DT_NOW + 2 * DT_HOUR;
    strcpy(newer.address, "10.200.0.1:7000");
    submit(r, &newer, &k, DT_NOW + 2 * DT_HOUR, SH_OK);
    CHECK_EQ(voted(r, DT_NOW + 10 * DT_HOUR, NULL), 0);
    /* Expiry of the current onion key. */
    CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, true, DT_NOW + 3 * DT_HOUR));
    CHECK_EQ(voted(r, n.onion_current.valid_until_ms, NULL), 1);
    CHECK_EQ(voted(r, n.onion_current.valid_until_ms + 1, NULL), 0);
    CHECK_EQ(sh_dir_registry_expire(r, n.onion_current.valid_until_ms), 0);
    CHECK_EQ(sh_dir_registry_expire(r, n.onion_current.valid_until_ms + 1), 1);
    CHECK_EQ(sh_dir_registry_count(r), 0);
    CHECK_ERR(sh_dir_registry_set_reachable(r, n.identity, true, DT_NOW), SH_ERR_NOT_FOUND);
    CHECK_ERR(sh_dir_registry_remove(r, n.identity), SH_ERR_NOT_FOUND);
    sh_dir_registry_free(r);
    sh_buf_free(&b);
}

static sh_dir_registry_entry entry(const sh_dir_registry *r, const uint8_t id[static 32])
{
    sh_dir_registry_entry e;
    size_t i;

    CHECK_OK(sh_dir_registry_find(r, id, &i));
    CHECK_OK(sh_dir_registry_entry_at(r, i, &e));
    return e;
}

#define GRACE (30 * 1000LL)

/* Listed -> failing -> dropped, with the boundary: failed tests spanning grace - 1 ms keep the
 * node, exactly the grace drops it, and so does one past it. */
static void test_grace(void)
{
    sh_dir_policy p = {.open = true, .guard_stable_ms = 0, .drop_grace_ms = GRACE};
    const int64_t spans[3] = {GRACE - 1, GRACE, GRACE + 1};
    sh_dir_registry *r = NULL;
    sh_dir_registry_entry e;
    sh_dir_node n;
    dt_key k;
    uint32_t flags = 99;
    const int64_t t0 = DT_NOW + 1000;

    dt_node_make(&n, &k, 1, DT_NOW, NULL);
    for (int s = 0; s < 3; s++) {
        CHECK_OK(sh_dir_registry_new(&p, &r));
        submit(r, &n, &k, DT_NOW, SH_OK);
        /* A node never reachable is not listed, and failing changes nothing. */
        CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, false, DT_NOW));
        e = entry(r, n.identity);
        CHECK(!e.listed && e.failing_since_ms == 0);
        CHECK_EQ(voted(r, DT_NOW, NULL), 0);
        CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, true, DT_NOW));
        CHECK_EQ(voted(r, t0, &flags), 1);
        CHECK_EQ(flags, SH_DIR_FLAG_GUARD);
        /* Failing: voted for as before, flags and Guard clock kept; more failures inside the
         * grace change nothing but the last test time. */
        CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, false, t0));
        e = entry(r, n.identity);
        CHECK(!e.reachable && e.listed && e.failing_since_ms == t0 && e.stable_since_ms == DT_NOW);
        CHECK_EQ(voted(r, t0, &flags), 1);
        CHECK_EQ(flags, SH_DIR_FLAG_GUARD);
        CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, false, t0 + GRACE / 2));
        e = entry(r, n.identity);
        CHECK(e.listed && e.failing_since_ms == t0 && e.tested_ms == t0 + GRACE / 2);
        CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, false, t0 + spans[s]));
        e = entry(r, n.identity);
        if (spans[s] < GRACE) {
            CHECK(e.listed && e.failing_since_ms == t0);
            CHECK_EQ(voted(r, t0 + spans[s], NULL), 1);
            /* Back within the grace: listed and reachable, its stable time unchanged. */
            CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, true, t0 + spans[s] + 5));
            e = entry(r, n.identity);
            CHECK(e.reachable && e.listed && e.failing_since_ms == 0 &&
                  e.stable_since_ms == DT_NOW);
            /* A later failure starts a new grace period from its own time. */
            CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, false, t0 + 2 * GRACE));
            CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, false, t0 + 3 * GRACE - 1));
            CHECK(entry(r, n.identity).listed);
            CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, false, t0 + 3 * GRACE));
            CHECK(!entry(r, n.identity).listed);
        } else {
            CHECK(!e.reachable && !e.listed && e.failing_since_ms == 0);
            CHECK_EQ(voted(r, t0 + spans[s], NULL), 0);
            /* Further failures keep it out; a success lists it again (a new node for the
             * swarms: it joins as any other). */
            CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, false, t0 + 2 * GRACE));
            CHECK(!entry(r, n.identity).listed);
            CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, true, t0 + 3 * GRACE));
            CHECK(entry(r, n.identity).listed);
        }
        printf("failed tests spanning %lld ms with a grace of %lld ms: %s\n",
               (long long)spans[s], (long long)GRACE, spans[s] < GRACE ? "kept" : "dropped");
        sh_dir_registry_free(r);
    }
    /* A grace of 0: the first failure drops the node (the behaviour without a grace). */
    p.drop_grace_ms = 0;
    CHECK_OK(sh_dir_registry_new(&p, &r));
    submit(r, &n, &k, DT_NOW, SH_OK);
    CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, true, DT_NOW));
    CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, false, t0));
    CHECK(!entry(r, n.identity).listed);
    CHECK_EQ(voted(r, t0, NULL), 0);
    /* A new address makes a failing node untested again: not listed. */
    p.drop_grace_ms = GRACE;
    sh_dir_registry_free(r);
    CHECK_OK(sh_dir_registry_new(&p, &r));
    submit(r, &n, &k, DT_NOW, SH_OK);
    CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, true, DT_NOW));
    CHECK_OK(sh_dir_registry_set_reachable(r, n.identity, false, t0));
    sh_dir_node moved = n;
    moved.published_ms = DT_NOW + 1;
    strcpy(moved.address, "10.200.0.1:7000");
    submit(r, &moved, &k, DT_NOW + 1, SH_OK);
    CHECK(!entry(r, n.identity).listed);
    sh_dir_registry_free(r);
}

static void test_refusals(void)
{
    uint8_t allowed[1][32];
    sh_dir_policy p = {.open = false, .allowed = (const uint8_t (*)[32])allowed, .n_allowed = 1,
                       .max_per_16 = 1};
    sh_dir_registry *r = NULL;
    sh_dir_node a, b;
    dt_key ka, kb;
    sh_buf bytes;

    sh_buf_init(&bytes);
    dt_node_make(&a, &ka, 1, DT_NOW, "198.51.100.1:7000");
    dt_node_make(&b, &kb, 2, DT_NOW, "198.51.7.1:7000");
    memcpy(allowed[0], a.identity, 32);
    CHECK_OK(sh_dir_registry_new(&p, &r));
    memset(allowed, 0, sizeof allowed); /* the registry keeps its own copy */
    submit(r, &a, &ka, DT_NOW, SH_OK);
    submit(r, &b, &kb, DT_NOW, SH_ERR_PERMISSION);
    sh_dir_registry_free(r);
    /* The /16 limit counts what the registry holds. */
    p.open = true;
    CHECK_OK(sh_dir_registry_new(&p, &r));
    submit(r, &a, &ka, DT_NOW, SH_OK);
    submit(r, &b, &kb, DT_NOW, SH_ERR_LIMIT);
    CHECK_OK(sh_dir_registry_remove(r, a.identity));
    submit(r, &b, &kb, DT_NOW, SH_OK);
    /* Descriptors that do not verify never get in. */
    CHECK_OK(sh_dir_descriptor_sign(&a, ka.sk, &bytes));
    bytes.data[bytes.len - 1] ^= 1;
    CHECK_ERR(sh_dir_registry_submit(r, bytes.data, bytes.len, DT_NOW, NULL), SH_ERR_CRYPTO);
    CHECK_EQ(sh_dir_registry_count(r), 1);
    sh_dir_registry_free(r);
    sh_buf_free(&bytes);
}

/* Registry -> vote -> consensus: the Guard flag reaches the map. */
static void test_into_consensus(void)
{
    sh_dir_policy p = {.open = true, .guard_stable_ms = DT_HOUR};
    dt_key auth[1], k[4];
    sh_dir_network *net = dt_network_make(1, 1, NULL, auth);
    sh_dir_registry *r = NULL;
    sh_dir_node n[4], *vote_nodes = NULL;
    size_t count;

    CHECK_OK(sh_dir_registry_new(&p, &r));
    for (uint32_t i = 0; i < 4; i++) {
        dt_node_make(&n[i], &k[i], i, DT_NOW, NULL);
        submit(r, &n[i], &k[i], DT_NOW, SH_OK);
        CHECK_OK(sh_dir_registry_set_reachable(r, n[i].identity, true, DT_NOW + i * DT_HOUR));
    }
    CHECK_OK(sh_dir_registry_vote_nodes(r, DT_NOW + 2 * DT_HOUR, &vote_nodes, &count));
    CHECK_EQ(count, 4);
    sh_dir_vote *v = dt_vote(net, NULL, &auth[0], DT_NOW + 2 * DT_HOUR, vote_nodes, count);
    sh_dir_map *m = dt_consensus(net, NULL, &v, 1, auth, 1);
    CHECK_OK(sh_dir_map_verify(m, net, 0, DT_NOW + 2 * DT_HOUR));
    size_t guards = 0;
    const sh_dir_node *mn = sh_dir_map_nodes(m, &count);
    for (size_t i = 0; i < count; i++)
        guards += (mn[i].flags & SH_DIR_FLAG_GUARD) != 0;
    CHECK_EQ(guards, 2); /* reachable for 2 h and 1 h; the others for 0 h and -1 h */
    free(vote_nodes);
    sh_dir_map_free(m);
    sh_dir_vote_free(v);
    sh_dir_registry_free(r);
    sh_dir_network_free(net);
}

/* The next map from the registry's vote at `now` (one authority). */
static sh_dir_map *next_map(const sh_dir_registry *r, const sh_dir_network *net, const dt_key *auth,
                            const sh_dir_map *prev, int64_t now)
{
    sh_dir_node *nodes = NULL;
    size_t count;

    CHECK_OK(sh_dir_registry_vote_nodes(r, now, &nodes, &count));
    sh_dir_vote *v = dt_vote(net, prev, auth, now, nodes, count);
    sh_dir_map *m = dt_consensus(net, prev, &v, 1, auth, 1);
    free(nodes);
    sh_dir_vote_free(v);
    return m;
}

/* Registry -> vote -> consensus over map versions: a failing node keeps its entry and its swarm
 * through the maps made within the grace, and is gone from the first one after its failed tests
 * spanned the grace. */
static void test_grace_across_maps(void)
{
    sh_dir_policy p = {.open = true, .drop_grace_ms = GRACE};
    sh_dir_swarm_params params = {.target = 4, .min = 3, .merge_grace_ms = DT_HOUR};
    dt_key auth[1], k[9];
    sh_dir_network *net = dt_network_make(1, 1, &params, auth);
    sh_dir_registry *r = NULL;
    sh_dir_node n[9];
    sh_dir_map *m[5] = {0};
    uint64_t swarm;

    CHECK_OK(sh_dir_registry_new(&p, &r));
    for (uint32_t i = 0; i < 9; i++) {
        dt_node_make(&n[i], &k[i], i, DT_NOW, NULL);
        submit(r, &n[i], &k[i], DT_NOW, SH_OK);
        CHECK_OK(sh_dir_registry_set_reachable(r, n[i].identity, true, DT_NOW));
    }
    m[0] = next_map(r, net, auth, NULL, DT_NOW);
    size_t swarms;
    CHECK(sh_dir_map_swarms(m[0], &swarms) != NULL && swarms == 2);
    CHECK(sh_dir_map_find_node(m[0], n[3].identity) != NULL);
    swarm = sh_dir_map_find_node(m[0], n[3].identity)->swarm_id;
    uint32_t flags = sh_dir_map_find_node(m[0], n[3].identity)->flags;
    /* Node 3 fails at +1 min and again just inside the grace: two maps still list it, in the
     * same swarm, with the same flags. */
    CHECK_OK(sh_dir_registry_set_reachable(r, n[3].identity, false, DT_NOW + 60000));
    m[1] = next_map(r, net, auth, m[0], DT_NOW + 60000);
    CHECK_OK(sh_dir_registry_set_reachable(r, n[3].identity, false, DT_NOW + 60000 + GRACE - 1));
    m[2] = next_map(r, net, auth, m[1], DT_NOW + 60000 + GRACE - 1);
    for (int i = 1; i <= 2; i++) {
        const sh_dir_node *e = sh_dir_map_find_node(m[i], n[3].identity);
        CHECK(e != NULL && e->swarm_id == swarm && e->flags == flags);
        CHECK_EQ(sh_dir_map_version(m[i]), (uint64_t)i + 1);
    }
    /* At the grace: dropped from the next map. */
    CHECK_OK(sh_dir_registry_set_reachable(r, n[3].identity, false, DT_NOW + 60000 + GRACE));
    m[3] = next_map(r, net, auth, m[2], DT_NOW + 60000 + GRACE);
    CHECK(sh_dir_map_find_node(m[3], n[3].identity) == NULL);
    size_t count;
    CHECK(sh_dir_map_nodes(m[3], &count) != NULL && count == 8);
    /* Back: listed again, placed like any joining node. */
    CHECK_OK(sh_dir_registry_set_reachable(r, n[3].identity, true, DT_NOW + 2 * GRACE));
    m[4] = next_map(r, net, auth, m[3], DT_NOW + 2 * GRACE);
    CHECK(sh_dir_map_find_node(m[4], n[3].identity) != NULL);
    printf("a failing node kept its swarm through maps 2 and 3, was gone from map 4, back in 5\n");
    for (int i = 0; i < 5; i++)
        sh_dir_map_free(m[i]);
    sh_dir_registry_free(r);
    sh_dir_network_free(net);
}

int main(void)
{
    CHECK_OK(sh_crypto_init());
    test_lifecycle();
    test_grace();
    test_refusals();
    test_into_consensus();
    test_grace_across_maps();
    return 0;
}
