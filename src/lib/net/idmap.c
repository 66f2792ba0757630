/* Open-addressing map from 64-bit keys to pointers; the load factor stays at or below 1/2. */
#include "net/idmap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define IDMAP_MIN_CAP 16

static size_t slot_of(uint64_t key, size_t cap)
{
    /* A multiplicative hash (Fibonacci hashing) spreads sequential ids over the table. */
    return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

void sh__idmap_init(sh_idmap *m)
{
    memset(m, 0, sizeof *m);
}

void sh__idmap_free(sh_idmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static int grow(sh_idmap *m)
{
    size_t new_cap = m->cap == 0 ? IDMAP_MIN_CAP : m->cap * 2;
    sh_idmap_slot *old = m->slots, *slots = calloc(new_cap, sizeof *slots);
    size_t old_cap = m->cap;

    if (slots == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory growing a map to %zu slots", new_cap);
    m->slots = slots;
    m->cap = new_cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key != 0) {
            size_t j = slot_of(old[i].key, new_cap);

            while (slots[j].key != 0)
                j = (j + 1) & (new_cap - 1);
            slots[j] = old[i];
        }
    }
    free(old);
    return SH_OK;
}

int sh__idmap_put(sh_idmap *m, uint64_t key, void *value)
{
    size_t i;

    if (key == 0)
        return sh_err_set(SH_ERR_INTERNAL, "map key 0 is reserved");
    if ((m->count + 1) * 2 > m->cap) {
        int rc = grow(m);
        if (rc != SH_OK)
            return rc;
    }
    for (i = slot_of(key, m->cap); m->slots[i].key != 0; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].key == key) {
            m->slots[i].value = value;
            return SH_OK;
        }
    }
    m->slots[i].key = key;
    m->slots[i].value = value;
    m->count++;
    return SH_OK;
}

static size_t find(const sh_idmap *m, uint64_t key)
{
    if (m->cap == 0 || key == 0)
        return SIZE_MAX;
    for (size_t i = slot_of(key, m->cap); m->slots[i].key != 0; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i].key == key)
            return i;
    }
    return SIZE_MAX;
}

void *sh__idmap_get(const sh_idmap *m, uint64_t key)
{
    size_t i = find(m, key);

    return i == SIZE_MAX ? NULL : m->slots[i].value;
}

static void remove_at(sh_idmap *m, size_t i)
{
    size_t mask = m->cap - 1, j = i;

    /* Backward shift: move later entries of the probe run into the hole when their home slot
     * does not lie cyclically in (hole, their position]. */
    for (;;) {
        j = (j + 1) & mask;
        if (m->slots[j].key == 0)
            break;
        size_t home = slot_of(m->slots[j].key, m->cap);
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].key = 0;
    m->slots[i].value = NULL;
    m->count--;
}

void *sh__idmap_remove(sh_idmap *m, uint64_t key)
{
    size_t i = find(m, key);
    void *value;

    if (i == SIZE_MAX)
        return NULL;
    value = m->slots[i].value;
    remove_at(m, i);
    return value;
}
