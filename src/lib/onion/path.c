/* Client path selection (overview.md "Onion routing"; docs/onion.md "Paths"): 2-3 guards kept
 * for weeks and rotated when they fail, a random middle, and the destination. Pure logic over a
 * list of candidates from the map; randomness and time are injected so tests can drive it.
 * Rules for a path guard -> middle -> destination: the three are distinct; guard and middle are
 * not in the destination's swarm and not on the avoid list; outside a devnet no two share an IPv4
 * /16 (IPv6 /32). */
#include "onion/onion.h"

#include <sodium.h>
#include <string.h>

#include "util/err.h"

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool same_subnet(const uint8_t a[static 16], const uint8_t b[static 16])
{
    bool a4 = memcmp(a, v4_prefix, 12) == 0, b4 = memcmp(b, v4_prefix, 12) == 0;

    if (a4 != b4)
        return false;
    return a4 ? memcmp(a + 12, b + 12, 2) == 0 : memcmp(a, b, 4) == 0;
}

static uint32_t uniform_default_cb(void *ctx, uint32_t upper)
{
    (void)ctx;
    return randombytes_uniform(upper);
}

static bool same_id(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, SH_ONION_ID_BYTES) == 0;
}

static int check_policy(const sh_onion_path_policy *p)
{
    if (p->n_guards < 1 || p->n_guards > SH_ONION_GUARDS_MAX || p->guard_lifetime_ms <= 0 ||
        p->guard_max_failures == 0)
        return sh_err_set(SH_ERR_INVALID, "path policy needs 1..%d guards, a positive guard "
                                          "lifetime and failure limit", SH_ONION_GUARDS_MAX);
    return SH_OK;
}

static const sh_onion_candidate *find_candidate(const sh_onion_candidate *cands, size_t n,
                                                const uint8_t *id, size_t *index)
{
    for (size_t i = 0; i < n; i++) {
        if (same_id(cands[i].id, id)) {
            if (index != NULL)
                *index = i;
            return &cands[i];
        }
    }
    return NULL;
}

/* Uniform choice among the candidates `ok` accepts; false when there is none. */
typedef bool (*accept_fn)(const sh_onion_candidate *c, const void *arg);

static bool choose(const sh_onion_candidate *cands, size_t n, accept_fn ok, const void *arg,
                   sh_onion_uniform_cb uniform, void *ctx, size_t *out)
{
    size_t count = 0, k;

    for (size_t i = 0; i < n; i++)
        count += ok(&cands[i], arg);
    if (count == 0 || count > UINT32_MAX)
        return false;
    k = uniform(ctx, (uint32_t)count);
    for (size_t i = 0; i < n; i++) {
        if (ok(&cands[i], arg) && k-- == 0) {
            *out = i;
            return true;
        }
    }
    return false;
}

typedef struct guard_arg {
    const sh_onion_guards *g;
    const sh_onion_candidate *cands;
    size_t n;
    bool allow_same_subnet;
} guard_arg;

static bool new_guard_ok(const sh_onion_candidate *c, const void *p)
{
    const guard_arg *a = p;

    if (!c->guard_flag)
        return false;
    for (size_t i = 0; i < a->g->n; i++) {
        const sh_onion_candidate *kept = find_candidate(a->cands, a->n, a->g->g[i].id, NULL);

        if (same_id(c->id, a->g->g[i].id) ||
            (!a->allow_same_subnet && kept != NULL && same_subnet(kept->addr, c->addr)))
            return false;
    }
    return true;
}

int sh_onion_guards_update(sh_onion_guards *g, const sh_onion_candidate *cands, size_t n,
                           const sh_onion_path_policy *policy, int64_t now_ms,
                           sh_onion_uniform_cb uniform, void *ctx)
{
    guard_arg arg = {.g = g, .cands = cands, .n = n, .allow_same_subnet = policy->allow_same_subnet};
    size_t kept = 0, pick;
    int rc = check_policy(policy);

    if (rc != SH_OK)
        return rc;
    for (size_t i = 0; i < g->n && i < SH_ONION_GUARDS_MAX; i++) {
        const sh_onion_candidate *c = find_candidate(cands, n, g->g[i].id, NULL);

        if (c != NULL && c->guard_flag && now_ms - g->g[i].chosen_ms < policy->guard_lifetime_ms &&
            g->g[i].failures < policy->guard_max_failures)
            g->g[kept++] = g->g[i];
    }
    g->n = kept > policy->n_guards ? policy->n_guards : kept;
    while (g->n < policy->n_guards &&
           choose(cands, n, new_guard_ok, &arg, uniform ? uniform : uniform_default_cb, ctx, &pick)) {
        memcpy(g->g[g->n].id, cands[pick].id, SH_ONION_ID_BYTES);
        g->g[g->n].chosen_ms = now_ms;
        g->g[g->n].failures = 0;
        g->n++;
    }
    if (g->n == 0)
        return sh_err_set(SH_ERR_UNAVAILABLE, "no node in the map can be a guard (%zu nodes, "
                                              "none with the Guard flag)", n);
    return SH_OK;
}

void sh_onion_guards_failed(sh_onion_guards *g, const uint8_t id[static SH_ONION_ID_BYTES],
                            const sh_onion_path_policy *policy)
{
    for (size_t i = 0; i < g->n; i++) {
        if (!same_id(g->g[i].id, id) || ++g->g[i].failures < policy->guard_max_failures)
            continue;
        memmove(&g->g[i], &g->g[i + 1], (g->n - i - 1) * sizeof g->g[0]);
        g->n--;
        return;
    }
}

void sh_onion_guards_succeeded(sh_onion_guards *g, const uint8_t id[static SH_ONION_ID_BYTES])
{
    for (size_t i = 0; i < g->n; i++)
        if (same_id(g->g[i].id, id))
            g->g[i].failures = 0;
}

void sh_onion_avoid_add(sh_onion_avoid *a, const uint8_t id[static SH_ONION_ID_BYTES],
                        int64_t until_ms)
{
    size_t at = a->n, oldest = 0;

    for (size_t i = 0; i < a->n; i++) {
        if (same_id(a->e[i].id, id))
            at = i;
        if (a->e[i].until_ms < a->e[oldest].until_ms)
            oldest = i;
    }
    if (at == a->n) {
        if (a->n == SH_ONION_AVOID_MAX)
            at = oldest;
        else
            a->n++;
    }
    memcpy(a->e[at].id, id, SH_ONION_ID_BYTES);
    a->e[at].until_ms = until_ms;
}

bool sh_onion_avoid_has(const sh_onion_avoid *a, const uint8_t id[static SH_ONION_ID_BYTES],
                        int64_t now_ms)
{
    for (size_t i = 0; i < a->n; i++)
        if (same_id(a->e[i].id, id) && a->e[i].until_ms > now_ms)
            return true;
    return false;
}

typedef struct hop_arg {
    const sh_onion_candidate *dest, *guard;  /* guard NULL while picking the guard */
    const sh_onion_guards *g;
    const sh_onion_avoid *avoid;
    const sh_onion_path_policy *policy;
    int64_t now_ms;
} hop_arg;

/* Rules shared by guard and middle: not the destination, not in its swarm, not avoided, not in
 * the destination's (or the guard's) subnet, not the guard. */
static bool hop_ok(const sh_onion_candidate *c, const void *p)
{
    const hop_arg *a = p;
    bool subnet_ok = a->policy->allow_same_subnet;

    if (same_id(c->id, a->dest->id) || (a->avoid != NULL && sh_onion_avoid_has(a->avoid, c->id, a->now_ms)))
        return false;
    if (a->dest->in_swarm && c->in_swarm && c->swarm_id == a->dest->swarm_id)
        return false;
    if (!subnet_ok && same_subnet(c->addr, a->dest->addr))
        return false;
    if (a->guard != NULL)
        return !same_id(c->id, a->guard->id) && (subnet_ok || !same_subnet(c->addr, a->guard->addr));
    for (size_t i = 0; i < a->g->n; i++)
        if (same_id(c->id, a->g->g[i].id))
            return true;
    return false;
}

int sh_onion_path_pick(const sh_onion_candidate *cands, size_t n, const sh_onion_guards *g,
                       const sh_onion_avoid *avoid, const sh_onion_candidate *dest,
                       const sh_onion_path_policy *policy, int64_t now_ms,
                       sh_onion_uniform_cb uniform, void *ctx, sh_onion_path *out)
{
    hop_arg arg = {.dest = dest, .g = g, .avoid = avoid, .policy = policy, .now_ms = now_ms};
    int rc = check_policy(policy);

    if (rc != SH_OK)
        return rc;
    if (uniform == NULL)
        uniform = uniform_default_cb;
    if (!choose(cands, n, hop_ok, &arg, uniform, ctx, &out->guard))
        return sh_err_set(SH_ERR_UNAVAILABLE, "no usable guard for this destination: %zu kept, "
                          "all avoided, in its swarm or in its /16; update the guards", g->n);
    arg.guard = &cands[out->guard];
    if (!choose(cands, n, hop_ok, &arg, uniform, ctx, &out->middle))
        return sh_err_set(SH_ERR_UNAVAILABLE, "no usable middle node among %zu: each is the guard "
                          "or destination, avoided, in the destination's swarm or shares a /16", n);
    return SH_OK;
}
