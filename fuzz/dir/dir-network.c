/* Fuzz target: the network file parser (sh_dir_network_parse). A file that parses formats to
 * canonical text that parses again to the same network id. */
#include <stdint.h>

#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sh_dir_network *net = NULL, *again = NULL;
    sh_buf text;

    if (sh_dir_network_parse((const char *)data, size, &net) != SH_OK)
        return 0;
    sh_buf_init(&text);
    if (sh_dir_network_format(net, &text) != SH_OK ||
        sh_dir_network_parse((const char *)text.data, text.len, &again) != SH_OK ||
        memcmp(sh_dir_network_id(net), sh_dir_network_id(again), SH_DIR_HASH_BYTES) != 0)
        abort();
    sh_buf_free(&text);
    sh_dir_network_free(again);
    sh_dir_network_free(net);
    return 0;
}
