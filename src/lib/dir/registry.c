/* An authority's table of admitted nodes (docs/directory.md "The authority's registry"):
 * descriptors that verified and passed the admission policy, the newest per node; whether the
 * authority's last reachability test succeeded and since when the node has been continuously
 * reachable (the Guard flag's clock); and the list of nodes to vote for.
 *
 * Node states, per identity (LISTED and FAILING nodes are voted for):
 *
 *   submit            success             failure (failing_since = now)
 *   ------> UNLISTED ---------> LISTED -------------------------------> FAILING (same vote)
 *             ^   ^                    <-------------------------------    |
 *             |   |                     success: back within the grace     |
 *             |   +--------------------------------------------------------+
 *             |     a failure at least drop_grace_ms after failing_since
 *             +---- a new address or link key (from any state)
 *
 *   Any state -> gone: sh_dir_registry_remove, or sh_dir_registry_expire once the current
 *   onion key has expired. With a grace of 0 a LISTED node's first failure drops it. Only
 *   nodes with a valid current onion key are voted for. A FAILING node is voted for exactly as
 *   when it was LISTED (its flags and its Guard clock stay), so a node whose tests flap inside
 *   the grace changes no vote and starts no early round; clients route around a node that
 *   does not answer them. */
#include "dir/internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

typedef struct reg_state {
    bool reachable;             /* the last test succeeded */
    int64_t failing_since_ms;   /* FAILING: the first failed test of this run; 0 otherwise */
    int64_t stable_since_ms;
    int64_t tested_ms;          /* last reachability test, 0 = never */
    uint8_t *descriptor;        /* the signed bytes, owned (what the authority saves) */
    size_t descriptor_len;
} reg_state;

struct sh_dir_registry {
    sh_dir_policy policy;
    uint8_t (*allowed)[SH_DIR_KEY_BYTES];   /* the policy's allow-list, owned */
    sh_dir_node *nodes;                      /* sorted by identity, contiguous for the policy */
    reg_state *state;                        /* parallel to nodes */
    size_t n, cap;
};

int sh_dir_registry_new(const sh_dir_policy *policy, sh_dir_registry **out)
{
    sh_dir_registry *r = calloc(1, sizeof *r);

    if (r == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the registry");
    r->policy = *policy;
    if (policy->n_allowed > 0) {
        r->allowed = malloc(policy->n_allowed * sizeof *r->allowed);
        if (r->allowed == NULL) {
            free(r);
            return sh_err_set(SH_ERR_NOMEM, "out of memory for the allow-list");
        }
        memcpy(r->allowed, policy->allowed, policy->n_allowed * sizeof *r->allowed);
    }
    r->policy.allowed = (const uint8_t (*)[SH_DIR_KEY_BYTES])r->allowed;
    *out = r;
    return SH_OK;
}

void sh_dir_registry_free(sh_dir_registry *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->state[i].descriptor);
    free(r->allowed);
    free(r->nodes);
    free(r->state);
    free(r);
}

/* Index of identity, or where it would go (*found false). */
static size_t locate(const sh_dir_registry *r, const uint8_t identity[static 32], bool *found)
{
    size_t lo = 0, hi = r->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(r->nodes[mid].identity, identity, SH_DIR_KEY_BYTES);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static int insert_at(sh_dir_registry *r, size_t i, const sh_dir_node *n)
{
    if (r->n == SH_DIR_MAX_NODES)
        return sh_err_set(SH_ERR_LIMIT, "the registry already holds %d nodes", SH_DIR_MAX_NODES);
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        sh_dir_node *nodes = realloc(r->nodes, cap * sizeof *nodes);
        if (nodes == NULL)
            return sh_err_set(SH_ERR_NOMEM, "out of memory for the registry");
        r->nodes = nodes;
        reg_state *state = realloc(r->state, cap * sizeof *state);
        if (state == NULL)
            return sh_err_set(SH_ERR_NOMEM, "out of memory for the registry");
        r->state = state;
        r->cap = cap;
    }
    memmove(&r->nodes[i + 1], &r->nodes[i], (r->n - i) * sizeof *r->nodes);
    memmove(&r->state[i + 1], &r->state[i], (r->n - i) * sizeof *r->state);
    r->nodes[i] = *n;
    r->state[i] = (reg_state){0};
    r->n++;
    return SH_OK;
}

static void remove_at(sh_dir_registry *r, size_t i)
{
    free(r->state[i].descriptor);
    memmove(&r->nodes[i], &r->nodes[i + 1], (r->n - i - 1) * sizeof *r->nodes);
    memmove(&r->state[i], &r->state[i + 1], (r->n - i - 1) * sizeof *r->state);
    r->n--;
}

/* Replaces the entry at i with a newer descriptor of the same node. */
static int replace_at(sh_dir_registry *r, size_t i, const sh_dir_node *n)
{
    sh_dir_node *old = &r->nodes[i];

    if (n->published_ms < old->published_ms)
        return sh_err_set(SH_ERR_STALE, "a newer descriptor of this node is held (published %lld "
                          "ms later)", (long long)(old->published_ms - n->published_ms));
    if (strcmp(n->address, old->address) != 0 || memcmp(n->link_key, old->link_key, 32) != 0) {
        uint8_t *bytes = r->state[i].descriptor;
        r->state[i] = (reg_state){.descriptor = bytes, .descriptor_len = r->state[i].descriptor_len};
    }
    *old = *n;
    return SH_OK;
}

int sh_dir_registry_submit(sh_dir_registry *r, const uint8_t *bytes, size_t len, int64_t now_ms,
                           sh_dir_node *out)
{
    sh_dir_node n;
    uint8_t *copy;
    bool found;
    size_t i;
    int rc;

    if ((rc = sh_dir_descriptor_verify(bytes, len, now_ms, &n)) != SH_OK ||
        (rc = sh_dir_policy_admit(&r->policy, &n, r->nodes, r->n)) != SH_OK)
        return rc;
    copy = malloc(len);
    if (copy == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a descriptor");
    memcpy(copy, bytes, len);
    i = locate(r, n.identity, &found);
    rc = found ? replace_at(r, i, &n) : insert_at(r, i, &n);
    if (rc != SH_OK) {
        free(copy); /* the older descriptor and its bytes stay */
        return rc;
    }
    free(r->state[i].descriptor);
    r->state[i].descriptor = copy;
    r->state[i].descriptor_len = len;
    if (out != NULL)
        *out = n;
    return SH_OK;
}

int sh_dir_registry_set_reachable(sh_dir_registry *r, const uint8_t identity[static SH_DIR_KEY_BYTES],
                                  bool reachable, int64_t now_ms)
{
    bool found;
    size_t i = locate(r, identity, &found);
    reg_state *s;

    if (!found)
        return sh_err_set(SH_ERR_NOT_FOUND, "no such node in the registry");
    s = &r->state[i];
    if (reachable) {
        if (!s->reachable && s->failing_since_ms == 0) /* listed anew; back from FAILING keeps it */
            s->stable_since_ms = now_ms;
        s->failing_since_ms = 0;
    } else {
        if (s->reachable)
            s->failing_since_ms = now_ms;
        if (s->failing_since_ms != 0 && now_ms - s->failing_since_ms >= r->policy.drop_grace_ms)
            s->failing_since_ms = 0;
        if (s->failing_since_ms == 0) /* dropped (or never listed): the Guard clock starts over */
            s->stable_since_ms = 0;
    }
    s->reachable = reachable;
    s->tested_ms = now_ms;
    return SH_OK;
}

int sh_dir_registry_find(const sh_dir_registry *r, const uint8_t identity[static SH_DIR_KEY_BYTES],
                         size_t *index)
{
    bool found;
    size_t i = locate(r, identity, &found);

    if (!found)
        return sh_err_set(SH_ERR_NOT_FOUND, "no such node in the registry");
    *index = i;
    return SH_OK;
}

int sh_dir_registry_entry_at(const sh_dir_registry *r, size_t i, sh_dir_registry_entry *out)
{
    if (i >= r->n)
        return sh_err_set(SH_ERR_RANGE, "registry entry %zu of %zu", i, r->n);
    out->node = &r->nodes[i];
    out->descriptor = r->state[i].descriptor;
    out->descriptor_len = r->state[i].descriptor_len;
    out->reachable = r->state[i].reachable;
    out->listed = r->state[i].reachable || r->state[i].failing_since_ms != 0;
    out->failing_since_ms = r->state[i].failing_since_ms;
    out->stable_since_ms = r->state[i].stable_since_ms;
    out->tested_ms = r->state[i].tested_ms;
    return SH_OK;
}

int sh_dir_registry_restore(sh_dir_registry *r, const uint8_t *bytes, size_t len, int64_t now_ms,
                            bool reachable, int64_t stable_since_ms, int64_t failing_since_ms,
                            int64_t tested_ms)
{
    sh_dir_node n;
    size_t i;
    int rc = sh_dir_registry_submit(r, bytes, len, now_ms, &n);

    if (rc != SH_OK)
        return rc;
    rc = sh_dir_registry_find(r, n.identity, &i);
    if (rc != SH_OK)
        return rc;
    r->state[i].reachable = reachable;
    r->state[i].stable_since_ms = reachable ? stable_since_ms : 0;
    r->state[i].failing_since_ms = reachable ? 0 : failing_since_ms;
    r->state[i].tested_ms = tested_ms;
    return SH_OK;
}

int sh_dir_registry_remove(sh_dir_registry *r, const uint8_t identity[static SH_DIR_KEY_BYTES])
{
    bool found;
    size_t i = locate(r, identity, &found);

    if (!found)
        return sh_err_set(SH_ERR_NOT_FOUND, "no such node in the registry");
    remove_at(r, i);
    return SH_OK;
}

size_t sh_dir_registry_expire(sh_dir_registry *r, int64_t now_ms)
{
    size_t removed = 0;

    for (size_t i = r->n; i-- > 0;)
        if (now_ms > r->nodes[i].onion_current.valid_until_ms) {
            remove_at(r, i);
            removed++;
        }
    return removed;
}

size_t sh_dir_registry_count(const sh_dir_registry *r) { return r->n; }

const sh_dir_node *sh_dir_registry_nodes(const sh_dir_registry *r, size_t *count)
{
    *count = r->n;
    return r->nodes;
}

int sh_dir_registry_vote_nodes(const sh_dir_registry *r, int64_t now_ms, sh_dir_node **out,
                               size_t *count)
{
    sh_dir_node *v = malloc((r->n + 1) * sizeof *v);
    size_t k = 0;

    if (v == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the vote's nodes");
    for (size_t i = 0; i < r->n; i++) {
        const sh_dir_onion_key *cur = &r->nodes[i].onion_current;
        const reg_state *s = &r->state[i];
        if ((!s->reachable && s->failing_since_ms == 0) || now_ms > cur->valid_until_ms ||
            cur->valid_after_ms - SH_DIR_CLOCK_SKEW_MS > now_ms)
            continue;
        v[k] = r->nodes[i];
        v[k].flags = sh_dir_policy_flags(&r->policy, s->stable_since_ms, now_ms);
        v[k].swarm_id = 0;
        k++;
    }
    *out = v;
    *count = k;
    return SH_OK;
}
