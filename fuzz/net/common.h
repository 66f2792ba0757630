/* Shared by the net fuzz targets: fixed keys (so runs are reproducible) and a helper that writes
 * seed files when FUZZ_WRITE_SEEDS names a folder (used once to make fuzz/corpus/net-*). */
#ifndef SH_FUZZ_NET_COMMON_H
#define SH_FUZZ_NET_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void fuzz_fixed_key(uint8_t out[32], uint8_t tag)
{
    for (int i = 0; i < 32; i++)
        out[i] = (uint8_t)(tag * 31 + i * 7 + 1);
}

static inline void fuzz_write_seed(const char *name, const uint8_t *data, size_t len)
{
    const char *dir = getenv("FUZZ_WRITE_SEEDS");
    char path[512];
    FILE *f;

    if (dir == NULL)
        return;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL)
        return;
    fwrite(data, 1, len, f);
    fclose(f);
}

#endif
