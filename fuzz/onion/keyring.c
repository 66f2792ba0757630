/* Fuzz target onion-keyring: a node's onion keyring file (local, but read at start-up from disk)
 * through sh_onion_keyring_parse. Seeds: a saved keyring with three keys and one with none. */
#include <stdint.h>

#include "common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const sh_onion_epochs epochs = {.epoch_ms = 60000, .overlap_ms = 1000};

static void write_seeds(const char *dir)
{
    sh_onion_keyring *kr;
    char path[4096];

    if (sh_onion_keyring_new(&epochs, &kr) != SH_OK)
        abort();
    snprintf(path, sizeof path, "%s/empty", dir);
    if (sh_onion_keyring_save(kr, path) != SH_OK)
        abort();
    /* Inside the overlap, so all three slots are filled. */
    if (sh_onion_keyring_advance(kr, 60000 * 5, NULL) != SH_OK ||
        sh_onion_keyring_advance(kr, 60000 * 6 + 10, NULL) != SH_OK)
        abort();
    snprintf(path, sizeof path, "%s/three-keys", dir);
    if (sh_onion_keyring_save(kr, path) != SH_OK)
        abort();
    sh_onion_keyring_free(kr);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("SHOAL_FUZZ_WRITE_SEEDS");

    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    if (dir != NULL) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sh_onion_keyring *kr;
    uint64_t epoch;
    uint8_t pk[SH_ONION_PUBLIC_KEY_BYTES];

    if (sh_onion_keyring_parse(&epochs, data, size, &kr) != SH_OK)
        return 0;
    (void)sh_onion_keyring_public(kr, SH_ONION_SLOT_CURRENT, &epoch, pk);
    if (sh_onion_keyring_advance(kr, 60000 * 6 + 10, NULL) != SH_OK)
        abort();
    sh_onion_keyring_free(kr);
    return 0;
}
