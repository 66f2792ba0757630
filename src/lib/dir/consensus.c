/* The consensus map from the authorities' votes (docs/directory.md "Consensus"): a
 * deterministic function of (network, previous map, set of votes), so that every authority that
 * holds the same votes computes the same body bytes and can sign them.
 *   - More than half of the network's authorities must have voted.
 *   - A node is in when more than half of all authorities list it.
 *   - Each field group (link key; the onion key pair; address; version; contact; operator key)
 *     takes the value the most listing votes give; a tie goes to the smallest value as a byte
 *     string (numbers 8-byte big-endian). Each flag needs more than half of the listing votes.
 *   - valid-after and valid-until are the lower medians of the votes' proposals; the version is
 *     the previous map's plus one (1 for the first map).
 *   - The swarm seed is H(network id, previous body hash, each voter's signature of the previous
 *     body in authority order); swarms are assigned incrementally from the previous map. */
#include "dir/internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/labels.h"
#include "dir/swarm.h"
#include "util/err.h"

#define FIELD_KEY_MAX 264
_Static_assert(FIELD_KEY_MAX >= SH_DIR_CONTACT_MAX + 1 && FIELD_KEY_MAX >= 2 * (24 + 32 + 64),
               "a field's comparison key must fit");

typedef size_t (*field_key_fn)(const sh_dir_node *n, uint8_t *out);

static size_t key_link(const sh_dir_node *n, uint8_t *out)
{
    memcpy(out, n->link_key, 32);
    return 32;
}

static size_t onion_key_bytes(const sh_dir_onion_key *k, uint8_t *out)
{
    sh_store_u64be(out, k->epoch);
    memcpy(out + 8, k->public_key, 32);
    sh_store_u64be(out + 40, (uint64_t)k->valid_after_ms);
    sh_store_u64be(out + 48, (uint64_t)k->valid_until_ms);
    memcpy(out + 56, k->signature, 64);
    return 120;
}

static size_t key_onion(const sh_dir_node *n, uint8_t *out)
{
    size_t len = onion_key_bytes(&n->onion_current, out);
    return len + onion_key_bytes(&n->onion_next, out + len);
}

static size_t key_text(const char *s, uint8_t *out)
{
    size_t len = strlen(s);
    memcpy(out, s, len);
    return len;
}

static size_t key_address(const sh_dir_node *n, uint8_t *out) { return key_text(n->address, out); }
static size_t key_version(const sh_dir_node *n, uint8_t *out) { return key_text(n->version, out); }
static size_t key_contact(const sh_dir_node *n, uint8_t *out) { return key_text(n->contact, out); }

static size_t key_operator(const sh_dir_node *n, uint8_t *out)
{
    if (!n->has_operator)
        return 0;
    memcpy(out, n->operator_key, 32);
    return 32;
}

/* Byte-string order: lexicographic, a prefix before what extends it. */
static int cmp_key(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* The entry whose value of this field most entries share; ties to the smallest value. */
static const sh_dir_node *majority(const sh_dir_node *const *e, size_t m, field_key_fn key)
{
    uint8_t keys[SH_DIR_MAX_AUTHORITIES][FIELD_KEY_MAX];
    size_t len[SH_DIR_MAX_AUTHORITIES], best = 0, best_count = 0;

    for (size_t i = 0; i < m; i++)
        len[i] = key(e[i], keys[i]);
    for (size_t i = 0; i < m; i++) {
        size_t count = 0;
        for (size_t j = 0; j < m; j++)
            count += cmp_key(keys[i], len[i], keys[j], len[j]) == 0;
        if (count > best_count ||
            (count == best_count && cmp_key(keys[i], len[i], keys[best], len[best]) < 0)) {
            best = i;
            best_count = count;
        }
    }
    return e[best];
}

/* One node of the map from the m votes that list it. */
static void merge_node(const sh_dir_node *const *e, size_t m, sh_dir_node *out)
{
    const sh_dir_node *w;

    memset(out, 0, sizeof *out);
    memcpy(out->identity, e[0]->identity, SH_DIR_KEY_BYTES);
    memcpy(out->link_key, majority(e, m, key_link)->link_key, SH_DIR_KEY_BYTES);
    w = majority(e, m, key_onion);
    out->onion_current = w->onion_current;
    out->onion_next = w->onion_next;
    strcpy(out->address, majority(e, m, key_address)->address);
    strcpy(out->version, majority(e, m, key_version)->version);
    strcpy(out->contact, majority(e, m, key_contact)->contact);
    w = majority(e, m, key_operator);
    out->has_operator = w->has_operator;
    memcpy(out->operator_key, w->operator_key, SH_DIR_KEY_BYTES);
    for (uint32_t bit = 1; bit != 0 && bit <= SH_DIR_FLAGS_KNOWN; bit <<= 1) {
        size_t set = 0;
        for (size_t i = 0; i < m; i++)
            set += (e[i]->flags & bit) != 0;
        if (2 * set > m)
            out->flags |= bit;
    }
}

/* Walks the votes' sorted node lists together; keeps the nodes more than half of the
 * n_auth authorities list. */
static int collect_nodes(const sh_dir_vote *const *v, size_t nv, size_t n_auth, sh_dir_map *map)
{
    size_t cursor[SH_DIR_MAX_AUTHORITIES] = {0}, total = 0;
    const sh_dir_node *e[SH_DIR_MAX_AUTHORITIES];

    for (size_t i = 0; i < nv; i++)
        total += v[i]->n_nodes;
    /* A node needs more than n_auth/2 listings, so at most this many get in. */
    map->nodes = malloc((total / (n_auth / 2 + 1) + 1) * sizeof *map->nodes);
    if (map->nodes == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory computing the consensus");
    for (;;) {
        const sh_dir_node *low = NULL;
        size_t m = 0;
        for (size_t i = 0; i < nv; i++)
            if (cursor[i] < v[i]->n_nodes &&
                (low == NULL || sh__dir_node_cmp_identity(&v[i]->nodes[cursor[i]], low) < 0))
                low = &v[i]->nodes[cursor[i]];
        if (low == NULL)
            break;
        for (size_t i = 0; i < nv; i++)
            if (cursor[i] < v[i]->n_nodes && sh__dir_node_cmp_identity(&v[i]->nodes[cursor[i]], low) == 0)
                e[m++] = &v[i]->nodes[cursor[i]++];
        if (2 * m > n_auth)
            merge_node(e, m, &map->nodes[map->n_nodes++]);
    }
    if (map->n_nodes > SH_DIR_MAX_NODES)
        return sh_err_set(SH_ERR_LIMIT, "the consensus would have %zu nodes, more than %d",
                          map->n_nodes, SH_DIR_MAX_NODES);
    return SH_OK;
}

static void compute_seed(const sh_dir_network *net, const sh_dir_map *prev,
                         const sh_dir_vote *const *v, size_t nv, uint8_t seed[static 32])
{
    static const uint8_t zero[SH_DIR_SIGNATURE_BYTES];
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, SH_DIR_HASH_BYTES);
    crypto_generichash_update(&st, (const uint8_t *)SH_LABEL_DIR_SWARM_SEED, sizeof SH_LABEL_DIR_SWARM_SEED);
    crypto_generichash_update(&st, sh_dir_network_id(net), SH_DIR_HASH_BYTES);
    crypto_generichash_update(&st, prev != NULL ? prev->body_hash : zero, SH_DIR_HASH_BYTES);
    for (size_t i = 0; i < nv; i++) {
        crypto_generichash_update(&st, v[i]->authority, SH_DIR_KEY_BYTES);
        crypto_generichash_update(&st, prev != NULL ? v[i]->prev_signature : zero, SH_DIR_SIGNATURE_BYTES);
    }
    crypto_generichash_final(&st, seed, SH_DIR_HASH_BYTES);
}

static int cmp_vote_authority(const void *a, const void *b)
{
    return memcmp((*(const sh_dir_vote *const *)a)->authority,
                  (*(const sh_dir_vote *const *)b)->authority, SH_DIR_KEY_BYTES);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Lower medians of the proposed validity times. */
static int validity(const sh_dir_vote *const *v, size_t nv, sh_dir_map *map)
{
    int64_t after[SH_DIR_MAX_AUTHORITIES], until[SH_DIR_MAX_AUTHORITIES];

    for (size_t i = 0; i < nv; i++) {
        after[i] = v[i]->valid_after_ms;
        until[i] = v[i]->valid_until_ms;
    }
    qsort(after, nv, sizeof after[0], cmp_i64);
    qsort(until, nv, sizeof until[0], cmp_i64);
    map->valid_after_ms = after[(nv - 1) / 2];
    map->valid_until_ms = until[(nv - 1) / 2];
    if (map->valid_after_ms <= 0 || map->valid_until_ms <= map->valid_after_ms)
        return sh_err_set(SH_ERR_RANGE, "the votes' median validity is empty or starts at 0");
    return SH_OK;
}

/* More than half of the authorities voted, once each, all on `prev`. */
static int check_votes(const sh_dir_network *net, const sh_dir_map *prev,
                       const sh_dir_vote *const *v, size_t nv)
{
    size_t n_auth = sh_dir_network_authority_count(net), index;

    if (2 * nv <= n_auth)
        return sh_err_set(SH_ERR_UNAVAILABLE, "only %zu of %zu authorities voted; a consensus needs "
                          "more than half", nv, n_auth);
    for (size_t i = 0; i < nv; i++) {
        if (sh_dir_network_find(net, v[i]->authority, &index) != SH_OK)
            return sh_err_set(SH_ERR_PERMISSION, "a vote is by a key that is not an authority");
        if (i > 0 && memcmp(v[i - 1]->authority, v[i]->authority, SH_DIR_KEY_BYTES) == 0)
            return sh_err_set(SH_ERR_INVALID, "two votes by the same authority");
        if (v[i]->prev_version != (prev != NULL ? prev->version : 0) ||
            (prev != NULL && memcmp(v[i]->prev_body_hash, prev->body_hash, SH_DIR_HASH_BYTES) != 0))
            return sh_err_set(SH_ERR_STALE, "a vote builds on another previous map");
    }
    return SH_OK;
}

static int assign_swarms(const sh_dir_map *prev, sh_dir_map *map)
{
    sh_dir_swarm_member *mem = malloc((map->n_nodes + 1) * sizeof *mem);
    int rc;

    if (mem == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory assigning swarms");
    for (size_t i = 0; i < map->n_nodes; i++) {
        const sh_dir_node *old = prev != NULL ? sh_dir_map_find_node(prev, map->nodes[i].identity) : NULL;
        memcpy(mem[i].id, map->nodes[i].identity, SH_DIR_KEY_BYTES);
        mem[i].assigned = old != NULL && prev->n_swarms > 0;
        mem[i].swarm_id = old != NULL ? old->swarm_id : 0;
    }
    rc = sh_dir_swarm_assign(&map->params, map->swarm_seed, map->valid_after_ms,
                             prev != NULL ? prev->swarms : NULL, prev != NULL ? prev->n_swarms : 0,
                             mem, map->n_nodes, &map->swarms, &map->n_swarms);
    for (size_t i = 0; rc == SH_OK && i < map->n_nodes; i++)
        map->nodes[i].swarm_id = mem[i].swarm_id;
    free(mem);
    return rc;
}

int sh_dir_consensus(const sh_dir_network *net, const sh_dir_map *prev,
                     const sh_dir_vote *const *votes, size_t n_votes, sh_dir_map **out)
{
    const sh_dir_vote *v[SH_DIR_MAX_AUTHORITIES];
    sh_dir_map *map = NULL;
    int rc;

    if (n_votes > SH_DIR_MAX_AUTHORITIES)
        return sh_err_set(SH_ERR_LIMIT, "more votes (%zu) than authorities can cast", n_votes);
    if (n_votes > 0)
        memcpy(v, votes, n_votes * sizeof *v);
    qsort(v, n_votes, sizeof *v, cmp_vote_authority);
    if ((rc = check_votes(net, prev, v, n_votes)) != SH_OK || (rc = sh__dir_map_alloc(&map)) != SH_OK)
        goto done;
    memcpy(map->network_id, sh_dir_network_id(net), SH_DIR_HASH_BYTES);
    if (prev != NULL && prev->version == UINT64_MAX) {
        rc = sh_err_set(SH_ERR_RANGE, "map versions are exhausted");
        goto done;
    }
    map->version = prev != NULL ? prev->version + 1 : 1;
    map->params = *sh_dir_network_swarm_params(net);
    compute_seed(net, prev, v, n_votes, map->swarm_seed);
    if ((rc = validity(v, n_votes, map)) != SH_OK ||
        (rc = collect_nodes(v, n_votes, sh_dir_network_authority_count(net), map)) != SH_OK ||
        (rc = assign_swarms(prev, map)) != SH_OK || (rc = sh__dir_map_seal(map)) != SH_OK)
        goto done;
    *out = map;
    map = NULL;
done:
    sh_dir_map_free(map);
    return rc;
}
