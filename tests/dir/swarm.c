/* Swarm assignment: properties over many random histories of joins and leaves (bounds, the min
 * rule, determinism, incremental stability, merges only after the grace period), the split and
 * merge cases one by one, and owner -> swarm with Session's published vectors. */
#include "test.h"

#include <sodium.h>

#include "crypto/crypto.h"
#include "dir/internal.h"
#include "dir/swarm.h"
#include "dirtest.h"
#include "util/encode.h"

#define MAX_MEMBERS 256

/* One simulated network: the current members and the previous round's swarms. */
typedef struct sim {
    sh_dir_swarm_params p;
    sh_dir_swarm_member m[MAX_MEMBERS];
    size_t n;
    sh_dir_swarm *sw;
    size_t n_sw;
    int64_t now;
    uint32_t next_id;
    uint8_t seed[32];
} sim;

static void sim_init(sim *s, uint32_t target, uint32_t min, int64_t grace)
{
    memset(s, 0, sizeof *s);
    s->p = (sh_dir_swarm_params){target, min, grace, 0};
    s->now = DT_NOW;
}

static void sim_join(sim *s)
{
    CHECK(s->n < MAX_MEMBERS);
    memset(&s->m[s->n], 0, sizeof s->m[0]);
    crypto_generichash(s->m[s->n].id, 32, (const uint8_t *)&s->next_id, sizeof s->next_id, NULL, 0);
    s->next_id++;
    s->n++;
}

static void sim_leave(sim *s, size_t i)
{
    s->m[i] = s->m[--s->n];
}

static size_t size_of(const sh_dir_swarm_member *m, size_t n, uint64_t id)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += m[i].assigned && m[i].swarm_id == id;
    return k;
}

static bool has_swarm(const sh_dir_swarm *sw, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (sw[i].id == id)
            return true;
    return false;
}

/* Runs one round and checks every invariant against the state before it. */
static void sim_round(sim *s)
{
    sh_dir_swarm_member before[MAX_MEMBERS], again[MAX_MEMBERS];
    sh_dir_swarm *out = NULL, *out2 = NULL;
    size_t n_out = 0, n_out2 = 0, survivors = 0;
    uint32_t max = 2 * s->p.target + 1;

    memcpy(before, s->m, s->n * sizeof s->m[0]);
    for (size_t i = 0; i < s->n; i++)
        if (before[i].assigned && has_swarm(s->sw, s->n_sw, before[i].swarm_id))
            survivors++;
    test_random(s->seed, sizeof s->seed);
    CHECK_OK(sh_dir_swarm_assign(&s->p, s->seed, s->now, s->sw, s->n_sw, s->m, s->n, &out, &n_out));
    /* Determinism: the same inputs give the same result. */
    memcpy(again, before, s->n * sizeof s->m[0]);
    CHECK_OK(sh_dir_swarm_assign(&s->p, s->seed, s->now, s->sw, s->n_sw, again, s->n, &out2, &n_out2));
    CHECK_EQ(n_out2, n_out);
    CHECK(n_out == 0 || memcmp(out, out2, n_out * sizeof *out) == 0);
    CHECK(memcmp(again, s->m, s->n * sizeof s->m[0]) == 0);
    free(out2);
    /* The min rule: no swarms only when there are fewer than min (or bootstrap) nodes and no
     * swarm survived. */
    uint32_t birth = s->p.bootstrap > s->p.min ? s->p.bootstrap : s->p.min;
    CHECK_EQ(n_out == 0, s->n == 0 || (survivors == 0 && s->n < birth));
    for (size_t i = 0; i < n_out; i++) {
        size_t k = size_of(s->m, s->n, out[i].id);
        CHECK(i == 0 || out[i].id > out[i - 1].id);
        CHECK(k >= 1 && k <= max);
        /* Undersized exactly when below min-1; never past the grace period unless alone. */
        CHECK_EQ(out[i].undersized_since_ms != 0, k + 1 < s->p.min);
        if (out[i].undersized_since_ms != 0) {
            CHECK(out[i].undersized_since_ms <= s->now);
            CHECK(n_out == 1 || s->now - out[i].undersized_since_ms < s->p.merge_grace_ms);
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        CHECK_EQ(s->m[i].assigned, n_out > 0);
        CHECK(!s->m[i].assigned || has_swarm(out, n_out, s->m[i].swarm_id));
        /* Incremental: a node that had a swarm moves only when its swarm merged away or it went
         * to a swarm split off in this round. */
        if (before[i].assigned && has_swarm(s->sw, s->n_sw, before[i].swarm_id) &&
            s->m[i].swarm_id != before[i].swarm_id)
            CHECK(!has_swarm(out, n_out, before[i].swarm_id) || !has_swarm(s->sw, s->n_sw, s->m[i].swarm_id));
    }
    free(s->sw);
    s->sw = out;
    s->n_sw = n_out;
}

static void test_random_histories(void)
{
    static const sh_dir_swarm_params params[] = {
        {5, 3, DT_HOUR, 0}, {4, 3, 10 * 60000, 0}, {2, 1, 0, 0}, {3, 5, DT_HOUR, 0}, {1, 2, 1000, 0}};
    uint8_t r[4];

    for (int history = 0; history < 150; history++) {
        const sh_dir_swarm_params *p = &params[history % 5];
        sim s;
        sim_init(&s, p->target, p->min, p->merge_grace_ms);
        for (int round = 0; round < 40; round++) {
            test_random(r, sizeof r);
            /* Grow early, shrink late, churn always. */
            int joins = r[0] % (round < 25 ? 7 : 3), leaves = r[1] % (round < 25 ? 3 : 6);
            for (int i = 0; i < leaves && s.n > 0; i++) {
                test_random(r + 2, 2);
                sim_leave(&s, (size_t)(r[2] | r[3] << 8) % s.n);
            }
            for (int i = 0; i < joins && s.n < MAX_MEMBERS; i++)
                sim_join(&s);
            s.now += (int64_t)(r[2] % 4) * (p->merge_grace_ms / 2 + 1);
            sim_round(&s);
        }
        /* With no more changes, once the grace period has passed every swarm is within bounds. */
        s.now += p->merge_grace_ms;
        sim_round(&s);
        for (size_t i = 0; i < s.n_sw && s.n_sw > 1; i++)
            CHECK(size_of(s.m, s.n, s.sw[i].id) + 1 >= p->min);
        free(s.sw);
    }
}

/* Joins with no other change move only the joining nodes, until a split. */
static void test_join_moves_only_joiner(void)
{
    sim s;

    sim_init(&s, 5, 3, DT_HOUR);
    for (int i = 0; i < 24; i++)
        sim_join(&s);
    sim_round(&s);
    CHECK(s.n_sw >= 2);
    for (int round = 0; round < 30; round++) {
        sh_dir_swarm_member before[MAX_MEMBERS];
        size_t n_before = s.n, sw_before = s.n_sw;
        memcpy(before, s.m, s.n * sizeof s.m[0]);
        sim_join(&s);
        sim_round(&s);
        if (s.n_sw == sw_before)
            for (size_t i = 0; i < n_before; i++)
                CHECK(s.m[i].swarm_id == before[i].swarm_id);
        /* The joiner went to a smallest swarm. */
        size_t mine = size_of(s.m, s.n, s.m[s.n - 1].swarm_id);
        if (s.n_sw == sw_before)
            for (size_t i = 0; i < s.n_sw; i++)
                CHECK(mine <= size_of(s.m, s.n, s.sw[i].id) + 1);
    }
    free(s.sw);
}

static void test_bootstrap_and_split(void)
{
    sim s;

    sim_init(&s, 5, 3, DT_HOUR);
    sim_join(&s);
    sim_join(&s);
    sim_round(&s);
    CHECK_EQ(s.n_sw, 0);
    CHECK(!s.m[0].assigned);
    sim_join(&s);
    sim_round(&s);
    CHECK_EQ(s.n_sw, 1);
    uint64_t first = s.sw[0].id;
    for (int i = 3; i < 11; i++)
        sim_join(&s);
    sim_round(&s);
    CHECK_EQ(s.n_sw, 1);
    CHECK_EQ(size_of(s.m, s.n, first), 11);
    /* The 12th node passes 2*5+1: two swarms of 6, the new one across the ring. */
    sim_join(&s);
    sim_round(&s);
    CHECK_EQ(s.n_sw, 2);
    CHECK(has_swarm(s.sw, 2, first));
    CHECK(has_swarm(s.sw, 2, first + (UINT64_C(1) << 63)));
    CHECK_EQ(size_of(s.m, s.n, s.sw[0].id), 6);
    CHECK_EQ(size_of(s.m, s.n, s.sw[1].id), 6);
    free(s.sw);

    /* Target 4, grown from 3 nodes: one swarm up to 9, and it splits at 10 into two of 5. */
    sim_init(&s, 4, 3, DT_HOUR);
    for (int i = 0; i < 3; i++)
        sim_join(&s);
    sim_round(&s);
    CHECK_EQ(s.n_sw, 1);
    for (int i = 0; i < 6; i++)
        sim_join(&s);
    sim_round(&s);
    CHECK_EQ(s.n_sw, 1);
    CHECK_EQ(size_of(s.m, s.n, s.sw[0].id), 9);
    sim_join(&s);
    sim_round(&s);
    CHECK_EQ(s.n_sw, 2);
    CHECK_EQ(size_of(s.m, s.n, s.sw[0].id), 5);
    free(s.sw);

    /* A network born with 12 nodes and target 4 (the devnet): 3 swarms of 4 at once, evenly
     * spaced on the ring. */
    sim_init(&s, 4, 3, DT_HOUR);
    for (int i = 0; i < 12; i++)
        sim_join(&s);
    sim_round(&s);
    CHECK_EQ(s.n_sw, 3);
    for (size_t i = 0; i < 3; i++)
        CHECK_EQ(size_of(s.m, s.n, s.sw[i].id), 4);
    CHECK(s.sw[1].id - s.sw[0].id == s.sw[2].id - s.sw[1].id ||
          s.sw[2].id - s.sw[1].id == s.sw[0].id - s.sw[2].id ||
          s.sw[0].id - s.sw[2].id == s.sw[1].id - s.sw[0].id);
    free(s.sw);

    /* The devnet again, with its first 4 nodes in the map early (they registered first):
     * without a bootstrap count one swarm is born and splits later into two of 6; with
     * swarm-bootstrap 12 no swarm is born until all 12 are there, then 3 of 4. */
    for (uint32_t bootstrap = 0; bootstrap <= 12; bootstrap += 12) {
        sim_init(&s, 4, 3, DT_HOUR);
        s.p.bootstrap = bootstrap;
        for (int i = 0; i < 4; i++)
            sim_join(&s);
        sim_round(&s);
        CHECK_EQ(s.n_sw, bootstrap == 0 ? 1 : 0);
        for (int i = 4; i < 12; i++)
            sim_join(&s);
        sim_round(&s);
        CHECK_EQ(s.n_sw, bootstrap == 0 ? 2 : 3);
        for (size_t i = 0; i < s.n_sw; i++)
            CHECK_EQ(size_of(s.m, s.n, s.sw[i].id), bootstrap == 0 ? 6 : 4);
        free(s.sw);
    }

    /* Born with 200 nodes and target 5: 40 swarms of 5; 7 more nodes fill the smallest. */
    sim_init(&s, 5, 3, DT_HOUR);
    for (int i = 0; i < 200; i++)
        sim_join(&s);
    sim_round(&s);
    CHECK_EQ(s.n_sw, 40);
    for (size_t i = 0; i < s.n_sw; i++)
        CHECK_EQ(size_of(s.m, s.n, s.sw[i].id), 5);
    for (int i = 0; i < 7; i++)
        sim_join(&s);
    sim_round(&s);
    CHECK_EQ(s.n_sw, 40);
    for (size_t i = 0; i < s.n_sw; i++) {
        size_t k = size_of(s.m, s.n, s.sw[i].id);
        CHECK(k == 5 || k == 6);
    }
    free(s.sw);
}

/* A split goes halfway into the larger ring gap beside the swarm. */
static void test_split_position(void)
{
    sh_dir_swarm prev[3] = {{1000, 0}, {1u << 20, 0}, {UINT64_C(1) << 62, 0}};
    sh_dir_swarm_params p = {5, 3, DT_HOUR, 0};
    sh_dir_swarm_member m[34];
    sh_dir_swarm *out = NULL;
    uint8_t seed[32] = {1};
    uint64_t added = 0, split = 0, expect;
    size_t n_out;

    /* Three full swarms of 11; the 34th node makes one of them split. */
    memset(m, 0, sizeof m);
    for (size_t i = 0; i < 34; i++) {
        crypto_generichash(m[i].id, 32, (const uint8_t *)&i, sizeof i, NULL, 0);
        m[i].assigned = i < 33;
        m[i].swarm_id = prev[i / 11 % 3].id;
    }
    CHECK_OK(sh_dir_swarm_assign(&p, seed, DT_NOW, prev, 3, m, 34, &out, &n_out));
    CHECK_EQ(n_out, 4);
    for (size_t i = 0; i < 4; i++)
        if (!has_swarm(prev, 3, out[i].id))
            added = out[i].id;
    for (size_t i = 0; i < 3; i++)
        if (size_of(m, 34, prev[i].id) == 6)
            split = prev[i].id;
    CHECK_EQ(size_of(m, 34, added), 6);
    if (split == 1000) /* the gap back to 1<<62, wrapping, is the larger */
        expect = 1000 - (1000 - (UINT64_C(1) << 62)) / 2;
    else if (split == 1u << 20) /* the gap up to 1<<62 is the larger */
        expect = (1u << 20) + ((UINT64_C(1) << 62) - (1u << 20)) / 2;
    else /* 1<<62: the gap up to 1000, wrapping, is the larger */
        expect = (UINT64_C(1) << 62) + (1000 - (UINT64_C(1) << 62)) / 2;
    CHECK(split != 0);
    CHECK(added == expect);
    free(out);
}

static void test_merge_after_grace(void)
{
    sim s;
    uint64_t small_id, big_id;

    sim_init(&s, 5, 3, DT_HOUR);
    for (int i = 0; i < 12; i++)
        sim_join(&s);
    sim_round(&s);
    CHECK_EQ(s.n_sw, 2);
    small_id = s.sw[0].id;
    big_id = s.sw[1].id;
    /* Five of one swarm's six leave: 1 member < min-1 = 2. */
    for (int left = 0; left < 5;) {
        for (size_t i = 0; i < s.n; i++)
            if (s.m[i].swarm_id == small_id) {
                sim_leave(&s, i);
                left++;
                break;
            }
    }
    int64_t t0 = s.now;
    sim_round(&s);
    CHECK_EQ(s.n_sw, 2);
    CHECK_EQ(s.sw[0].undersized_since_ms, t0);
    CHECK_EQ(s.sw[1].undersized_since_ms, 0);
    /* Still there one millisecond before the grace period ends. */
    s.now = t0 + DT_HOUR - 1;
    sim_round(&s);
    CHECK_EQ(s.n_sw, 2);
    CHECK_EQ(s.sw[0].undersized_since_ms, t0);
    /* Merged when it ends: the lone member joins the other swarm; nobody else moves. */
    sh_dir_swarm_member before[MAX_MEMBERS];
    memcpy(before, s.m, s.n * sizeof s.m[0]);
    s.now = t0 + DT_HOUR;
    sim_round(&s);
    CHECK_EQ(s.n_sw, 1);
    CHECK(s.sw[0].id == big_id);
    for (size_t i = 0; i < s.n; i++) {
        CHECK(s.m[i].swarm_id == big_id);
        if (before[i].swarm_id == big_id)
            CHECK(s.m[i].swarm_id == before[i].swarm_id);
    }
    free(s.sw);
}

/* A swarm that recovers before the grace period ends is no longer undersized; the only swarm
 * is never merged away; the last node leaving ends the swarms. */
static void test_recover_and_last_swarm(void)
{
    sim s;
    uint64_t small_id;

    sim_init(&s, 5, 3, DT_HOUR);
    for (int i = 0; i < 12; i++)
        sim_join(&s);
    sim_round(&s);
    small_id = s.sw[0].id;
    for (int left = 0; left < 5;)
        for (size_t i = 0; i < s.n; i++)
            if (s.m[i].swarm_id == small_id) {
                sim_leave(&s, i);
                left++;
                break;
            }
    sim_round(&s);
    CHECK(s.sw[0].undersized_since_ms != 0);
    sim_join(&s);
    s.now += DT_HOUR / 2;
    sim_round(&s);
    CHECK_EQ(s.n_sw, 2);
    CHECK_EQ(s.sw[0].undersized_since_ms, 0);
    CHECK_EQ(size_of(s.m, s.n, small_id), 2);
    /* The only swarm is never merged away, however small. */
    while (s.n > 1)
        sim_leave(&s, 0);
    s.now += 10 * DT_HOUR;
    sim_round(&s);
    s.now += 10 * DT_HOUR;
    sim_round(&s);
    CHECK_EQ(s.n_sw, 1);
    /* And when the last node leaves, there is none. */
    sim_leave(&s, 0);
    sim_round(&s);
    CHECK_EQ(s.n_sw, 0);
    free(s.sw);
}

/* Between two equal swarms, which one a node joins depends on the seed (nobody can pick). */
static void test_tie_break_depends_on_seed(void)
{
    sh_dir_swarm prev[2] = {{100, 0}, {UINT64_C(1) << 63, 0}};
    sh_dir_swarm_params p = {5, 3, DT_HOUR, 0};
    unsigned chose_first = 0;

    for (int trial = 0; trial < 64; trial++) {
        sh_dir_swarm_member m[9] = {0};
        sh_dir_swarm *out = NULL;
        size_t n_out;
        uint8_t seed[32] = {0};
        seed[0] = (uint8_t)trial;
        for (size_t i = 0; i < 9; i++) {
            crypto_generichash(m[i].id, 32, (const uint8_t *)&i, sizeof i, NULL, 0);
            m[i].assigned = i < 8;
            m[i].swarm_id = prev[i % 2].id;
        }
        CHECK_OK(sh_dir_swarm_assign(&p, seed, DT_NOW, prev, 2, m, 9, &out, &n_out));
        chose_first += m[8].swarm_id == 100;
        free(out);
    }
    CHECK(chose_first > 8 && chose_first < 56);
    /* Bad parameters are refused. */
    sh_dir_swarm_member one = {0};
    sh_dir_swarm *out = NULL;
    size_t n_out;
    uint8_t seed[32] = {0};
    CHECK_ERR(sh_dir_swarm_assign(&(sh_dir_swarm_params){5, 8, 0, 0}, seed, DT_NOW, NULL, 0, &one, 1,
                                  &out, &n_out), SH_ERR_INVALID);
    CHECK_ERR(sh_dir_swarm_assign(&p, seed, 0, NULL, 0, &one, 1, &out, &n_out), SH_ERR_INVALID);
}

/* owner -> swarm on a map whose swarms are those of Session's nearest_swarm vectors. */
static void test_owner_swarm_vectors(void)
{
    json_t *v = test_load_json("session/vectors.json"), *cases;
    size_t i, j;
    json_t *group, *c;

    json_array_foreach(json_object_get(v, "nearest_swarm"), i, group) {
        json_t *ids = json_object_get(group, "swarm_ids"), *id;
        sh_dir_map *m = NULL;
        sh_dir_node tmpl;
        dt_key k;
        size_t n = json_array_size(ids);

        dt_node_make(&tmpl, &k, 1, DT_NOW, NULL);
        CHECK_OK(sh__dir_map_alloc(&m));
        m->version = 1;
        m->valid_after_ms = DT_NOW;
        m->valid_until_ms = DT_NOW + DT_HOUR;
        m->params = (sh_dir_swarm_params){5, 3, DT_HOUR, 0};
        m->swarms = calloc(n, sizeof *m->swarms);
        m->nodes = calloc(n, sizeof *m->nodes);
        CHECK(m->swarms != NULL && m->nodes != NULL);
        json_array_foreach(ids, j, id) {
            m->swarms[j].id = strtoull(json_string_value(id), NULL, 10);
            m->nodes[j] = tmpl;
            m->nodes[j].identity[0] = (uint8_t)j;
            m->nodes[j].swarm_id = m->swarms[j].id;
        }
        m->n_swarms = m->n_nodes = n;
        CHECK_OK(sh__dir_map_seal(m));
        cases = json_object_get(group, "cases");
        json_array_foreach(cases, j, c) {
            uint8_t pk[33];
            uint64_t got;
            CHECK_OK(sh_hex_decode(pk, 33, test_json_str(c, "session_id")));
            CHECK_OK(sh_dir_map_owner_swarm(m, pk + 1, &got));
            CHECK_EQ(got, strtoull(test_json_str(c, "swarm"), NULL, 10));
        }
        const sh_dir_node *members[8];
        size_t count;
        CHECK_OK(sh_dir_map_swarm_members(m, m->swarms[0].id, members, 8, &count));
        CHECK_EQ(count, 1);
        CHECK(members[0] == &m->nodes[0]);
        CHECK_ERR(sh_dir_map_swarm_members(m, 12345, members, 8, &count), SH_ERR_NOT_FOUND);
        sh_dir_map_free(m);
    }
    json_decref(v);
}

int main(void)
{
    CHECK_OK(sh_crypto_init());
    test_random_histories();
    test_join_moves_only_joiner();
    test_bootstrap_and_split();
    test_split_position();
    test_merge_after_grace();
    test_recover_and_last_swarm();
    test_tie_break_depends_on_seed();
    test_owner_swarm_vectors();
    return 0;
}
