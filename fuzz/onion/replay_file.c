/* Fuzz target onion-replay-file: a replay cache file found at start-up (possibly torn or
 * damaged) through sh_onion_replay_open, which must load it, cut a torn end, or refuse it with an
 * error, and then still work. Seeds: an epoch file with a few tags, and one with a torn end. */
#include <stdint.h>
#include <unistd.h>

#include "common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256];
static char path[512];

static void write_seeds(const char *out)
{
    uint8_t file[16 + 3 * 16 + 5];

    memcpy(file, "SHOALRP1", 8);
    memset(file + 8, 0, 8);
    file[15] = 5;
    for (size_t i = 16; i < sizeof file; i++)
        file[i] = (uint8_t)(i * 13);
    fuzz_write_seed(out, "three-tags", file, sizeof file - 5);
    fuzz_write_seed(out, "torn", file, sizeof file);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *out = getenv("SHOAL_FUZZ_WRITE_SEEDS");

    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    if (out != NULL) {
        write_seeds(out);
        exit(0);
    }
    snprintf(dir, sizeof dir, "/tmp/shoal-fuzz-replay-XXXXXX");
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(path, sizeof path, "%s/replay-5.tags", dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sh_onion_replay *rc;
    uint8_t tag[SH_ONION_TAG_BYTES] = {0xaa};
    FILE *f = fopen(path, "wb");

    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    if (sh_onion_replay_open(dir, 0, &rc) == SH_OK) {
        int rc1 = sh_onion_replay_check_add(rc, 5, tag);

        if (rc1 != SH_OK && rc1 != SH_ERR_REPLAY)
            abort();
        if (sh_onion_replay_check_add(rc, 5, tag) != SH_ERR_REPLAY)
            abort();
        sh_onion_replay_close(rc);
    }
    unlink(path);
    return 0;
}
