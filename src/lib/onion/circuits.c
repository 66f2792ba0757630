/* The relay's circuit table (overview.md "Onion routing": "nodes keep circuit state only until
 * the reply or the deadline"; docs/onion.md "State and data flow").
 *
 * A circuit is born when a relay forwards a packet that asks for a reply (add), and dies exactly
 * once, by one of: the reply comes back on its outgoing (link, circuit id) (take); its deadline
 * passes (expire, which reports it so the relay can send an error back); one of its links closes
 * (drop_link). Invariants: (1) every live entry is in the index under (out_link, out_circuit) and
 * in the deadline heap at heap_pos; (2) out_circuit is unique per out_link and never 0; (3) reply
 * keys live only in guarded memory and are wiped when their entry dies.
 *
 * Layout: a fixed slab of entries in guarded memory with a free list, an open-addressing index
 * (linear probing, SipHash under a random key, backward-shift deletion) and a binary min-heap
 * of entry numbers ordered by deadline. Time comes from an injected clock. */
#include "onion/onion.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/err.h"
#include "util/time.h"

#define NONE UINT32_MAX

typedef struct entry {
    sh_onion_circuit c;
    uint32_t heap_pos;
    bool used;
} entry;

struct sh_onion_circuits {
    size_t max, count;
    entry *slab;          /* guarded memory: holds reply keys */
    uint32_t *free_list;
    size_t n_free;
    uint32_t *index;      /* entry number, or NONE */
    size_t index_cap;
    uint32_t *heap;
    uint8_t hash_key[crypto_shorthash_KEYBYTES];
    sh_onion_clock_cb clock;
    void *clock_ctx;
};

static int64_t mono_clock_cb(void *ctx)
{
    (void)ctx;
    return sh_time_mono_ms();
}

static int64_t now_ms(const sh_onion_circuits *t)
{
    return t->clock(t->clock_ctx);
}

int sh_onion_circuits_new(size_t max, sh_onion_clock_cb clock, void *clock_ctx,
                          sh_onion_circuits **out)
{
    sh_onion_circuits *t = calloc(1, sizeof *t);

    if (max == 0)
        max = SH_ONION_CIRCUITS_MAX_DEFAULT;
    if (t == NULL || max >= NONE / 4)
        goto fail;
    t->max = max;
    for (t->index_cap = 16; t->index_cap < 2 * max; t->index_cap *= 2)
        ;
    t->slab = sh_secret_alloc(max * sizeof *t->slab);
    t->free_list = malloc(max * sizeof *t->free_list);
    t->index = malloc(t->index_cap * sizeof *t->index);
    t->heap = malloc(max * sizeof *t->heap);
    if (t->slab == NULL || t->free_list == NULL || t->index == NULL || t->heap == NULL)
        goto fail;
    memset(t->slab, 0, max * sizeof *t->slab);
    memset(t->index, 0xff, t->index_cap * sizeof *t->index);
    for (size_t i = 0; i < max; i++)
        t->free_list[t->n_free++] = (uint32_t)(max - 1 - i);
    crypto_shorthash_keygen(t->hash_key);
    t->clock = clock != NULL ? clock : mono_clock_cb;
    t->clock_ctx = clock_ctx;
    *out = t;
    return SH_OK;
fail:
    sh_onion_circuits_free(t);
    return sh_err_set(SH_ERR_NOMEM, "out of memory for a circuit table of %zu circuits", max);
}

void sh_onion_circuits_free(sh_onion_circuits *t)
{
    if (t == NULL)
        return;
    sh_secret_free(t->slab);
    free(t->free_list);
    free(t->index);
    free(t->heap);
    free(t);
}

static size_t home(const sh_onion_circuits *t, uint64_t link, uint64_t circuit)
{
    uint8_t key[16], h[crypto_shorthash_BYTES];
    uint64_t v;

    memcpy(key, &link, 8);
    memcpy(key + 8, &circuit, 8);
    crypto_shorthash(h, key, sizeof key, t->hash_key);
    memcpy(&v, h, 8);
    return (size_t)v & (t->index_cap - 1);
}

/* The index slot of (link, circuit), or of the empty slot where it would go; true if found. */
static bool find(const sh_onion_circuits *t, uint64_t link, uint64_t circuit, size_t *at)
{
    size_t i = home(t, link, circuit);

    for (; t->index[i] != NONE; i = (i + 1) & (t->index_cap - 1)) {
        const sh_onion_circuit *c = &t->slab[t->index[i]].c;

        if (c->out_link == link && c->out_circuit == circuit) {
            *at = i;
            return true;
        }
    }
    *at = i;
    return false;
}

/* Backward-shift deletion keeps every probe chain unbroken. */
static void index_remove(sh_onion_circuits *t, size_t hole)
{
    size_t mask = t->index_cap - 1;

    t->index[hole] = NONE;
    for (size_t i = (hole + 1) & mask; t->index[i] != NONE; i = (i + 1) & mask) {
        const sh_onion_circuit *c = &t->slab[t->index[i]].c;
        size_t h = home(t, c->out_link, c->out_circuit);

        /* Move i into the hole unless its home lies cyclically in (hole, i]. */
        if (((i - h) & mask) >= ((i - hole) & mask)) {
            t->index[hole] = t->index[i];
            t->index[i] = NONE;
            hole = i;
        }
    }
}

static bool earlier(const sh_onion_circuits *t, uint32_t a, uint32_t b)
{
    return t->slab[t->heap[a]].c.deadline_ms < t->slab[t->heap[b]].c.deadline_ms;
}

static void heap_swap(sh_onion_circuits *t, uint32_t a, uint32_t b)
{
    uint32_t e = t->heap[a];

    t->heap[a] = t->heap[b];
    t->heap[b] = e;
    t->slab[t->heap[a]].heap_pos = a;
    t->slab[t->heap[b]].heap_pos = b;
}

static void sift(sh_onion_circuits *t, uint32_t pos)
{
    while (pos > 0 && earlier(t, pos, (pos - 1) / 2)) {
        heap_swap(t, pos, (pos - 1) / 2);
        pos = (pos - 1) / 2;
    }
    for (;;) {
        uint32_t l = 2 * pos + 1, r = l + 1, m = pos;

        if (l < t->count && earlier(t, l, m))
            m = l;
        if (r < t->count && earlier(t, r, m))
            m = r;
        if (m == pos)
            return;
        heap_swap(t, pos, m);
        pos = m;
    }
}

/* Removes entry e everywhere, wiping it; its index slot must be `at`. */
static void remove_entry(sh_onion_circuits *t, uint32_t e, size_t at)
{
    uint32_t pos = t->slab[e].heap_pos, last = (uint32_t)t->count - 1;

    index_remove(t, at);
    if (pos != last) {
        heap_swap(t, pos, last);
        t->count--;
        sift(t, pos);
    } else {
        t->count--;
    }
    sodium_memzero(&t->slab[e], sizeof t->slab[e]);
    t->free_list[t->n_free++] = e;
}

int sh_onion_circuits_add(sh_onion_circuits *t, uint64_t in_link, uint64_t in_circuit,
                          uint64_t out_link, uint32_t timeout_ms,
                          const uint8_t reply_key[static SH_ONION_KEY_BYTES],
                          uint64_t *out_circuit)
{
    uint64_t id;
    size_t at;
    uint32_t e;

    if (t->n_free == 0)
        return sh_err_set(SH_ERR_BUSY, "the relay holds its limit of %zu open circuits", t->max);
    do
        randombytes_buf(&id, sizeof id);
    while (id == 0 || find(t, out_link, id, &at));
    e = t->free_list[--t->n_free];
    t->slab[e] = (entry){
        .c = {.in_link = in_link, .in_circuit = in_circuit, .out_link = out_link,
              .out_circuit = id, .deadline_ms = now_ms(t) + (int64_t)timeout_ms},
        .heap_pos = (uint32_t)t->count,
        .used = true,
    };
    memcpy(t->slab[e].c.reply_key, reply_key, SH_ONION_KEY_BYTES);
    t->index[at] = e;
    t->heap[t->count++] = e;
    sift(t, (uint32_t)t->count - 1);
    *out_circuit = id;
    return SH_OK;
}

int sh_onion_circuits_take(sh_onion_circuits *t, uint64_t out_link, uint64_t out_circuit,
                           sh_onion_circuit *out)
{
    size_t at;
    uint32_t e;

    if (!find(t, out_link, out_circuit, &at))
        return sh_err_set(SH_ERR_NOT_FOUND, "no open circuit %016llx on link %llu (unknown, "
                          "answered or expired)", (unsigned long long)out_circuit,
                          (unsigned long long)out_link);
    e = t->index[at];
    *out = t->slab[e].c;
    remove_entry(t, e, at);
    return SH_OK;
}

/* Reports entry e to cb, then removes it. */
static void kill_entry(sh_onion_circuits *t, uint32_t e, sh_onion_expired_cb cb, void *ctx)
{
    sh_onion_circuit c = t->slab[e].c;
    size_t at;

    if (cb != NULL)
        cb(ctx, &c);
    find(t, c.out_link, c.out_circuit, &at);
    remove_entry(t, e, at);
    sodium_memzero(&c, sizeof c);
}

size_t sh_onion_circuits_expire(sh_onion_circuits *t, sh_onion_expired_cb cb, void *ctx)
{
    int64_t now = now_ms(t);
    size_t n = 0;

    while (t->count > 0 && t->slab[t->heap[0]].c.deadline_ms <= now) {
        kill_entry(t, t->heap[0], cb, ctx);
        n++;
    }
    return n;
}

size_t sh_onion_circuits_drop_link(sh_onion_circuits *t, uint64_t link, sh_onion_expired_cb cb,
                                   void *ctx)
{
    size_t n = 0;

    for (uint32_t e = 0; e < t->max; e++) {
        if (t->slab[e].used && (t->slab[e].c.in_link == link || t->slab[e].c.out_link == link)) {
            kill_entry(t, e, cb, ctx);
            n++;
        }
    }
    return n;
}

bool sh_onion_circuits_next_deadline(const sh_onion_circuits *t, int64_t *deadline_ms)
{
    if (t->count == 0)
        return false;
    *deadline_ms = t->slab[t->heap[0]].c.deadline_ms;
    return true;
}

size_t sh_onion_circuits_count(const sh_onion_circuits *t)
{
    return t->count;
}
