/* The id map against a plain array as reference: random puts, replacements, gets and removals
 * (which shift entries back in the probe runs), with keys that collide in the table. */
#include "test.h"

#include "net/idmap.h"

#define KEYS 4096

int main(void)
{
    static void *ref[KEYS];
    sh_idmap m;
    size_t count = 0;

    sh__idmap_init(&m);
    CHECK(sh__idmap_get(&m, 5) == NULL);
    CHECK(sh__idmap_remove(&m, 5) == NULL);
    CHECK_ERR(sh__idmap_put(&m, 0, &m), SH_ERR_INTERNAL);
    for (int round = 0; round < 200000; round++) {
        uint32_t r;
        uint64_t key;

        test_random(&r, sizeof r);
        /* Keys 1..KEYS, spread out so that many share home slots. */
        key = (r % KEYS) + 1;
        if ((r >> 16) % 3 != 0) {
            void *value = (void *)(uintptr_t)(r | 1);

            count += ref[key - 1] == NULL;
            ref[key - 1] = value;
            CHECK_OK(sh__idmap_put(&m, key * 0x100000000ull, value));
        } else {
            CHECK(sh__idmap_remove(&m, key * 0x100000000ull) == ref[key - 1]);
            count -= ref[key - 1] != NULL;
            ref[key - 1] = NULL;
        }
        CHECK_EQ(m.count, count);
        if (round % 1000 == 0) {
            for (uint64_t k = 1; k <= KEYS; k++)
                CHECK(sh__idmap_get(&m, k * 0x100000000ull) == ref[k - 1]);
        }
    }
    CHECK(m.cap <= 4 * KEYS); /* the load factor stays at or below 1/2 */
    sh__idmap_free(&m);
    return 0;
}
