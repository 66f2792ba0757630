/* The replay cache of signed requests (overview.md "Signed requests"): every (signer, nonce)
 * pair accepted in the last window, so a captured request is refused while its timestamp is
 * still fresh. Pairs are kept as 16-byte BLAKE2b digests keyed with a random per-process key (an
 * attacker cannot aim collisions at buckets), in two generations of open-addressing sets with
 * linear probing; a generation is dropped whole, so there is never a deletion inside a set. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "node/internal.h"
#include "util/err.h"

#define INITIAL_SLOTS 1024u

static void gen_free(sh__node_replay_gen *g)
{
    free(g->slots);
    memset(g, 0, sizeof *g);
}

int sh__node_replay_init(sh__node_replay *r, int64_t window_ms, size_t max_entries)
{
    memset(r, 0, sizeof *r);
    randombytes_buf(r->key, sizeof r->key);
    r->window_ms = window_ms;
    r->max_entries = max_entries;
    r->cur_started_ms = INT64_MIN;
    return SH_OK;
}

void sh__node_replay_free(sh__node_replay *r)
{
    gen_free(&r->cur);
    gen_free(&r->prev);
}

size_t sh__node_replay_count(const sh__node_replay *r)
{
    return r->cur.n + r->prev.n;
}

static bool gen_has(const sh__node_replay_gen *g, const uint8_t d[static 16])
{
    if (g->cap == 0)
        return false;
    for (size_t i = sh_load_u64le(d) & (g->cap - 1);; i = (i + 1) & (g->cap - 1)) {
        if (sodium_is_zero(g->slots[i], 16))
            return false;
        if (memcmp(g->slots[i], d, 16) == 0)
            return true;
    }
}

static void gen_put(sh__node_replay_gen *g, const uint8_t d[static 16])
{
    size_t i = sh_load_u64le(d) & (g->cap - 1);

    while (!sodium_is_zero(g->slots[i], 16))
        i = (i + 1) & (g->cap - 1);
    memcpy(g->slots[i], d, 16);
    g->n++;
}

/* Keeps the load of the current set at most one half. */
static int gen_grow(sh__node_replay_gen *g)
{
    sh__node_replay_gen bigger = {0};

    if (g->cap != 0 && 2 * (g->n + 1) <= g->cap)
        return SH_OK;
    bigger.cap = g->cap ? 2 * g->cap : INITIAL_SLOTS;
    bigger.slots = calloc(bigger.cap, 16);
    if (bigger.slots == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the replay cache");
    for (size_t i = 0; i < g->cap; i++)
        if (!sodium_is_zero(g->slots[i], 16))
            gen_put(&bigger, g->slots[i]);
    gen_free(g);
    *g = bigger;
    return SH_OK;
}

static void rotate(sh__node_replay *r, int64_t now_ms)
{
    if (r->cur_started_ms != INT64_MIN && now_ms - r->cur_started_ms < r->window_ms)
        return;
    gen_free(&r->prev);
    if (r->cur_started_ms != INT64_MIN && now_ms - r->cur_started_ms < 2 * r->window_ms)
        r->prev = r->cur;
    else
        gen_free(&r->cur);
    memset(&r->cur, 0, sizeof r->cur);
    r->cur_started_ms = now_ms;
}

int sh__node_replay_check(sh__node_replay *r, const uint8_t signer[static 32],
                          const uint8_t nonce[static SH_NODE_NONCE_BYTES], int64_t now_ms)
{
    crypto_generichash_blake2b_state st;
    uint8_t d[16];
    int rc;

    crypto_generichash_blake2b_init(&st, r->key, sizeof r->key, sizeof d);
    crypto_generichash_blake2b_update(&st, signer, 32);
    crypto_generichash_blake2b_update(&st, nonce, SH_NODE_NONCE_BYTES);
    crypto_generichash_blake2b_final(&st, d, sizeof d);
    if (sodium_is_zero(d, sizeof d))
        d[0] = 1; /* all zero marks an empty slot */
    rotate(r, now_ms);
    if (gen_has(&r->cur, d) || gen_has(&r->prev, d))
        return sh_err_set(SH_ERR_REPLAY, "this request (its signer and nonce) was seen before");
    if (sh__node_replay_count(r) >= r->max_entries)
        return sh_err_set(SH_ERR_BUSY, "the node remembers %zu recent requests, its most; try "
                          "again later", r->max_entries);
    if ((rc = gen_grow(&r->cur)) != SH_OK)
        return rc;
    gen_put(&r->cur, d);
    return SH_OK;
}
