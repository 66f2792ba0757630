/* Incremental swarm assignment (docs/directory.md "Swarm assignment"; overview.md "Swarms").
 *
 * One round, from the previous map's swarms to the new ones:
 *   1. Members keep their previous swarm; departed nodes simply are not members any more.
 *      Swarms left empty disappear at once.
 *   2. With no swarm left: nothing happens below `min` nodes (or `bootstrap`, when larger: a
 *      network whose nodes start together waits for all of them); from then on, n / target
 *      swarms (at least one) are created, evenly spaced on the ring from a position that comes
 *      from the seed, and every node joins as in 3 (a network born with 12 nodes and target 4
 *      starts with 3 swarms of 4, not one swarm that splits into two of 6).
 *   3. Joins, in the order of H(seed, node id): each new node goes to the smallest swarm, ties
 *      broken by the smallest H(seed, node id, swarm id). A swarm that passes 2*target+1 members
 *      splits at once: a new swarm id halfway into the larger ring gap beside it, and the members
 *      in the second half of the H(seed, node id) order move to it.
 *   4. A swarm with fewer than min-1 members is "undersized since" the first round that saw it
 *      so; once merge_grace_ms has passed (and it is not the only swarm) it merges: it is
 *      removed and its members join the others as in 3, lowest swarm id first.
 * Invariants: with swarms, every member is in exactly one, none is empty or above 2*target+1;
 * a join moves no other node unless its swarm splits; only a merge or a split moves a node. */
#include "dir/swarm.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/labels.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

typedef struct work_swarm {
    uint64_t id;
    int64_t since;
    size_t size;
} work_swarm;

typedef struct assign_ctx {
    const sh_dir_swarm_params *p;
    const uint8_t *seed;
    int64_t now;
    work_swarm *sw;            /* sorted by id; room for n_m + 1 */
    size_t n_sw;
    sh_dir_swarm_member *m;
    size_t n_m;
    size_t *scratch;           /* n_m member indices */
} assign_ctx;

/* H(label || seed || id [|| swarm id]) orders members and breaks ties. */
static void order_hash(uint8_t out[32], const uint8_t *seed, const uint8_t id[32], const uint64_t *swarm)
{
    crypto_generichash_state st;
    uint8_t be[8];

    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)SH_LABEL_DIR_SWARM_ORDER,
                              sizeof SH_LABEL_DIR_SWARM_ORDER);
    crypto_generichash_update(&st, seed, SH_DIR_HASH_BYTES);
    crypto_generichash_update(&st, id, 32);
    if (swarm != NULL) {
        sh_store_u64be(be, *swarm);
        crypto_generichash_update(&st, be, sizeof be);
    }
    crypto_generichash_final(&st, out, 32);
}

static work_swarm *find_swarm(assign_ctx *c, uint64_t id)
{
    size_t lo = 0, hi = c->n_sw;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->sw[mid].id == id)
            return &c->sw[mid];
        if (c->sw[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void insert_swarm(assign_ctx *c, uint64_t id)
{
    size_t i = 0;

    while (i < c->n_sw && c->sw[i].id < id)
        i++;
    memmove(&c->sw[i + 1], &c->sw[i], (c->n_sw - i) * sizeof c->sw[0]);
    c->sw[i] = (work_swarm){.id = id};
    c->n_sw++;
}

static void remove_swarm(assign_ctx *c, size_t i)
{
    memmove(&c->sw[i], &c->sw[i + 1], (c->n_sw - i - 1) * sizeof c->sw[0]);
    c->n_sw--;
}

/* Sorts member indices by H(seed, id). qsort has no context argument, so keys go beside. */
typedef struct keyed {
    uint8_t key[32];
    size_t index;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    return memcmp(((const keyed *)a)->key, ((const keyed *)b)->key, 32);
}

static int sort_by_order(assign_ctx *c, size_t *idx, size_t n)
{
    keyed *k = malloc((n ? n : 1) * sizeof *k);

    if (k == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory assigning swarms");
    for (size_t i = 0; i < n; i++) {
        order_hash(k[i].key, c->seed, c->m[idx[i]].id, NULL);
        k[i].index = idx[i];
    }
    qsort(k, n, sizeof *k, cmp_keyed);
    for (size_t i = 0; i < n; i++)
        idx[i] = k[i].index;
    free(k);
    return SH_OK;
}

/* The new swarm's ring position: halfway into the larger gap beside swarm i (the successor's
 * side on a tie); false when the gap is too small to hold another id. */
static bool split_position(const assign_ctx *c, size_t i, uint64_t *out)
{
    uint64_t id = c->sw[i].id, succ, pred, gap_succ, gap_pred;

    if (c->n_sw == 1) {
        *out = id + (UINT64_C(1) << 63);
        return true;
    }
    succ = c->sw[(i + 1) % c->n_sw].id;
    pred = c->sw[(i + c->n_sw - 1) % c->n_sw].id;
    gap_succ = succ - id;
    gap_pred = id - pred;
    if (gap_succ >= gap_pred) {
        *out = id + gap_succ / 2;
        return gap_succ / 2 != 0;
    }
    *out = id - gap_pred / 2;
    return gap_pred / 2 != 0;
}

static int split(assign_ctx *c, uint64_t id)
{
    size_t i = (size_t)(find_swarm(c, id) - c->sw), n = 0, keep;
    uint64_t new_id;
    int rc;

    if (!split_position(c, i, &new_id)) {
        sh_log_warn("dir", "swarm %016llx cannot split: no ring position left beside it",
                    (unsigned long long)id);
        return SH_OK;
    }
    for (size_t j = 0; j < c->n_m; j++)
        if (c->m[j].assigned && c->m[j].swarm_id == id)
            c->scratch[n++] = j;
    if ((rc = sort_by_order(c, c->scratch, n)) != SH_OK)
        return rc;
    keep = (n + 1) / 2;
    for (size_t j = keep; j < n; j++)
        c->m[c->scratch[j]].swarm_id = new_id;
    find_swarm(c, id)->size = keep;
    insert_swarm(c, new_id);
    find_swarm(c, new_id)->size = n - keep;
    return SH_OK;
}

/* Puts member j into the smallest swarm (ties: smallest H(seed, id, swarm id)). */
static int join(assign_ctx *c, size_t j)
{
    uint8_t best_key[32], key[32];
    work_swarm *best = NULL;
    size_t min = SIZE_MAX;

    for (size_t i = 0; i < c->n_sw; i++)
        if (c->sw[i].size < min)
            min = c->sw[i].size;
    for (size_t i = 0; i < c->n_sw; i++) {
        if (c->sw[i].size != min)
            continue;
        order_hash(key, c->seed, c->m[j].id, &c->sw[i].id);
        if (best == NULL || memcmp(key, best_key, 32) < 0) {
            best = &c->sw[i];
            memcpy(best_key, key, 32);
        }
    }
    c->m[j].assigned = true;
    c->m[j].swarm_id = best->id;
    best->size++;
    if (best->size > 2 * (size_t)c->p->target + 1)
        return split(c, best->id);
    return SH_OK;
}

/* Every unassigned member joins, in H(seed, id) order. */
static int join_unassigned(assign_ctx *c)
{
    size_t n = 0;
    int rc;

    for (size_t j = 0; j < c->n_m; j++)
        if (!c->m[j].assigned)
            c->scratch[n++] = j;
    if ((rc = sort_by_order(c, c->scratch, n)) != SH_OK)
        return rc;
    /* join() may split, which reuses scratch: take the order out first. */
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (order == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory assigning swarms");
    memcpy(order, c->scratch, n * sizeof *order);
    for (size_t i = 0; i < n && rc == SH_OK; i++)
        rc = join(c, order[i]);
    free(order);
    return rc;
}

static void update_undersized(assign_ctx *c)
{
    for (size_t i = 0; i < c->n_sw; i++) {
        if (c->sw[i].size + 1 < c->p->min) {
            if (c->sw[i].since == 0)
                c->sw[i].since = c->now;
        } else {
            c->sw[i].since = 0;
        }
    }
}

/* Merges, lowest id first, every swarm undersized for the whole grace period. */
static int merge_expired(assign_ctx *c)
{
    int rc = SH_OK;

    update_undersized(c);
    while (c->n_sw > 1 && rc == SH_OK) {
        size_t i = 0;
        while (i < c->n_sw && !(c->sw[i].since != 0 && c->now - c->sw[i].since >= c->p->merge_grace_ms))
            i++;
        if (i == c->n_sw)
            break;
        for (size_t j = 0; j < c->n_m; j++)
            if (c->m[j].assigned && c->m[j].swarm_id == c->sw[i].id)
                c->m[j].assigned = false;
        remove_swarm(c, i);
        rc = join_unassigned(c);
        update_undersized(c);
    }
    return rc;
}

/* Step 1 and 2: previous memberships, empty swarms dropped, the first swarm. */
static int start_round(assign_ctx *c, const sh_dir_swarm *prev, size_t n_prev)
{
    uint8_t h[32];

    for (size_t i = 0; i < n_prev; i++) {
        if (i > 0 && prev[i].id <= prev[i - 1].id)
            return sh_err_set(SH_ERR_INVALID, "previous swarms are not sorted by id");
        c->sw[c->n_sw++] = (work_swarm){.id = prev[i].id, .since = prev[i].undersized_since_ms};
    }
    for (size_t j = 0; j < c->n_m; j++) {
        work_swarm *s = c->m[j].assigned ? find_swarm(c, c->m[j].swarm_id) : NULL;
        c->m[j].assigned = s != NULL;
        if (s != NULL)
            s->size++;
    }
    for (size_t i = c->n_sw; i-- > 0;)
        if (c->sw[i].size == 0)
            remove_swarm(c, i);
    uint32_t birth = c->p->bootstrap > c->p->min ? c->p->bootstrap : c->p->min;
    if (c->n_sw == 0 && c->n_m >= birth && c->n_m > 0) {
        size_t k = c->n_m / c->p->target > 1 ? c->n_m / c->p->target : 1;
        uint64_t first, step = k > 1 ? UINT64_MAX / k : 0;
        order_hash(h, c->seed, (const uint8_t[32]){0}, NULL);
        first = sh_load_u64be(h);
        for (size_t i = 0; i < k; i++)
            insert_swarm(c, first + (uint64_t)i * step);
    }
    return SH_OK;
}

static int write_output(assign_ctx *c, sh_dir_swarm **out, size_t *n_out)
{
    sh_dir_swarm *res = NULL;

    if (c->n_sw > 0) {
        res = malloc(c->n_sw * sizeof *res);
        if (res == NULL)
            return sh_err_set(SH_ERR_NOMEM, "out of memory assigning swarms");
        for (size_t i = 0; i < c->n_sw; i++)
            res[i] = (sh_dir_swarm){.id = c->sw[i].id, .undersized_since_ms = c->sw[i].since};
    }
    for (size_t j = 0; j < c->n_m; j++)
        if (!c->m[j].assigned)
            c->m[j].swarm_id = 0;
    *out = res;
    *n_out = c->n_sw;
    return SH_OK;
}

int sh_dir_swarm_assign(const sh_dir_swarm_params *params, const uint8_t seed[static SH_DIR_HASH_BYTES],
                        int64_t now_ms, const sh_dir_swarm *prev, size_t n_prev,
                        sh_dir_swarm_member *members, size_t n_members, sh_dir_swarm **out,
                        size_t *n_out)
{
    assign_ctx c = {.p = params, .seed = seed, .now = now_ms, .m = members, .n_m = n_members};
    int rc;

    if (params->target < 1 || params->min < 1 || params->min > params->target + 2 ||
        params->merge_grace_ms < 0 || now_ms <= 0)
        return sh_err_set(SH_ERR_INVALID, "swarm parameters out of range (target %u, min %u)",
                          params->target, params->min);
    c.sw = malloc((n_prev + n_members + 1) * sizeof *c.sw);
    c.scratch = malloc((n_members + 1) * sizeof *c.scratch);
    if (c.sw == NULL || c.scratch == NULL) {
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory assigning swarms");
        goto done;
    }
    if ((rc = start_round(&c, prev, n_prev)) != SH_OK)
        goto done;
    if (c.n_sw > 0 && ((rc = join_unassigned(&c)) != SH_OK || (rc = merge_expired(&c)) != SH_OK))
        goto done;
    rc = write_output(&c, out, n_out);
done:
    free(c.sw);
    free(c.scratch);
    return rc;
}
