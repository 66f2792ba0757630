/* Fuzz target: an authority's saved registry (sh__dir_state_decode), for the network of the
 * fixed world; every entry that decodes is restored into a registry as the authority does at
 * start (each descriptor verified again, the admission policy applied). */
#include <stdint.h>

#include "common.h"
#include "dir/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fz_world w;
    static int ready;
    static const sh_dir_policy policy = {.open = true, .max_per_16 = 2};
    Shoal__Dirnet__AuthorityState *pb;
    sh__dir_state_entry *e;
    sh_dir_registry *r;
    size_t n;

    if (!ready) {
        fz_world_init(&w);
        ready = 1;
    }
    if (sh__dir_state_decode(data, size, sh_dir_network_id(w.net), &pb, &e, &n) != SH_OK)
        return 0;
    if (sh_dir_registry_new(&policy, &r) != SH_OK)
        abort();
    for (size_t i = 0; i < n; i++)
        (void)!sh_dir_registry_restore(r, e[i].descriptor, e[i].len, FZ_NOW, e[i].reachable,
                                       e[i].stable_since_ms, e[i].failing_since_ms,
                                       e[i].tested_ms);
    if (sh_dir_registry_count(r) > n)
        abort();
    sh_dir_registry_free(r);
    protobuf_c_message_free_unpacked(&pb->base, NULL);
    free(e);
    return 0;
}
