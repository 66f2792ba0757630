/* libFuzzer target: reading a seed file from arbitrary bytes. Files that ask for more than a
 * cheap Argon2id are opened without a passphrase only, so each run stays fast. */
#include <string.h>

#include <shoal/identity.h>

#define COST_OFFSET 44 /* after "SHOALSEED", version, kind and the Session ID */
#define PASSPHRASE "fuzz"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sh_identity_init() == SH_OK ? 0 : 1;
}

static bool cheap(const uint8_t *data, size_t size)
{
    uint64_t ops = 0, mem = 0;

    if (size < COST_OFFSET + 12)
        return false;
    for (int i = 3; i >= 0; i--)
        ops = ops << 8 | data[COST_OFFSET + i];
    for (int i = 7; i >= 0; i--)
        mem = mem << 8 | data[COST_OFFSET + 4 + i];
    return ops <= 2 && mem <= 65536;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t seed[SH_SEED_BYTES], id[SH_SESSION_ID_BYTES];
    bool locked = false;

    if (sh_seedfile_has_passphrase(data, size, &locked) != SH_OK)
        return 0;
    (void)!sh_seedfile_session_id(data, size, id);
    (void)!sh_seedfile_open(seed, data, size, NULL, 0);
    if (locked && cheap(data, size))
        (void)!sh_seedfile_open(seed, data, size, PASSPHRASE, strlen(PASSPHRASE));
    return 0;
}
