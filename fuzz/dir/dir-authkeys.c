/* Fuzz target: authority key files (sh_dir_auth_keys_parse). A file that parses must be
 * written back byte for byte by sh_dir_auth_keys_format. */
#include <stdint.h>

#include "common.h"
#include "dir/authority.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    sh_dir_auth_keys k;
    sh_buf b;

    if (!ready) {
        if (sh_crypto_init() != SH_OK)
            abort();
        ready = 1;
    }
    if (sh_dir_auth_keys_parse((const char *)data, size, &k) != SH_OK)
        return 0;
    sh_buf_init_secret(&b);
    if (sh_dir_auth_keys_format(&k, &b) != SH_OK || b.len != size || memcmp(b.data, data, size) != 0)
        abort();
    sh_buf_free(&b);
    sodium_memzero(&k, sizeof k);
    return 0;
}
