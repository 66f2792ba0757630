/* A map from non-zero 64-bit keys to pointers (open addressing, linear probing, deletion by
 * backward shift). The net module keys calls by id and connection counts by IP with it. */
#ifndef SH_NET_IDMAP_H
#define SH_NET_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct sh_idmap_slot {
    uint64_t key; /* 0 = empty */
    void *value;
} sh_idmap_slot;

typedef struct sh_idmap {
    sh_idmap_slot *slots;
    size_t cap; /* a power of two, or 0 */
    size_t count;
} sh_idmap;

void sh__idmap_init(sh_idmap *m);
void sh__idmap_free(sh_idmap *m);
/* Inserts or replaces. key must not be 0. SH_ERR_NOMEM. */
int sh__idmap_put(sh_idmap *m, uint64_t key, void *value) __attribute__((warn_unused_result));
void *sh__idmap_get(const sh_idmap *m, uint64_t key);
/* Removes and returns the value (NULL when absent). */
void *sh__idmap_remove(sh_idmap *m, uint64_t key);

#endif
