/* Fuzz target: map diffs applied to map 1 of the fixed world (sh_dir_map_apply_diff). A diff
 * that applies gives a map that encodes, decodes back to the same bytes, and can be verified. */
#include <stdint.h>

#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fz_world w;
    static int ready;
    sh_dir_map *m = NULL, *back = NULL;
    sh_buf bytes, again;

    if (!ready) {
        fz_world_init(&w);
        ready = 1;
    }
    if (sh_dir_map_apply_diff(w.map1, data, size, &m) != SH_OK)
        return 0;
    sh_buf_init(&bytes);
    sh_buf_init(&again);
    if (sh_dir_map_encode(m, &bytes) != SH_OK || sh_dir_map_decode(bytes.data, bytes.len, &back) != SH_OK ||
        sh_dir_map_encode(back, &again) != SH_OK || again.len != bytes.len ||
        memcmp(again.data, bytes.data, bytes.len) != 0)
        abort();
    (void)!sh_dir_map_verify(m, w.net, 1, FZ_NOW + FZ_HOUR / 2);
    sh_buf_free(&bytes);
    sh_buf_free(&again);
    sh_dir_map_free(back);
    sh_dir_map_free(m);
    return 0;
}
