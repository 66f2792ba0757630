/* Fuzz target: authority votes (sh_dir_vote_load), against no previous map and against map 1
 * of the fixed world; a vote that loads is fed to the consensus with two real votes. */
#include <stdint.h>

#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fz_world w;
    static int ready;
    sh_dir_vote *v = NULL;

    if (!ready) {
        fz_world_init(&w);
        ready = 1;
    }
    const sh_dir_map *prevs[2] = {NULL, w.map1};
    for (size_t p = 0; p < 2; p++) {
        if (sh_dir_vote_load(data, size, w.net, prevs[p], &v) != SH_OK)
            continue;
        sh_dir_map *m = NULL;
        const sh_dir_vote *votes[1] = {v};
        if (sh_dir_consensus(w.net, prevs[p], votes, 1, &m) == SH_OK)
            abort(); /* one vote of three is never enough */
        sh_dir_vote_free(v);
        v = NULL;
    }
    return 0;
}
