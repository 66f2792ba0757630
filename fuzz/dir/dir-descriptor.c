/* Fuzz target: signed node descriptors (sh_dir_descriptor_verify). A descriptor that verifies
 * must also pass the structural checks its fields promise. */
#include <stdint.h>
#include <stdlib.h>

#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    sh_dir_node n;

    if (!ready)
        ready = sh_crypto_init() == SH_OK;
    if (sh_dir_descriptor_verify(data, size, FZ_NOW, &n) == SH_OK) {
        if (sh_dir_onion_key_verify(&n.onion_current, n.identity, FZ_NOW) != SH_OK)
            abort();
        if (memchr(n.address, '\0', sizeof n.address) == NULL)
            abort();
    }
    return 0;
}
