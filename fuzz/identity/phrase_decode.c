/* libFuzzer target: the recovery-phrase decoder on arbitrary text. Whatever decodes must encode
 * back to a phrase that decodes to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include <shoal/identity.h>

#define MAX_INPUT 4096
#define MAX_BYTES (MAX_INPUT / 2 / 3 * 4 + 4) /* every word is at least 1 byte plus a space */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sh_identity_init() == SH_OK ? 0 : 1;
}

static void check_round_trip(const uint8_t *bytes, size_t len, bool checksum)
{
    static char text[SH_PHRASE_TEXT_BYTES(MAX_BYTES / 4 * 3 + 1)];
    static uint8_t again[MAX_BYTES];
    size_t again_len = 0;

    if (sh_phrase_encode_bytes(text, sizeof text, bytes, len, checksum) != SH_OK ||
        sh_phrase_decode_bytes(again, sizeof again, &again_len, text) != SH_OK ||
        again_len != len || memcmp(again, bytes, len) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[MAX_INPUT + 1];
    static uint8_t bytes[MAX_BYTES];
    uint8_t seed[SH_SEED_BYTES];
    size_t len = 0, words = 0;

    if (size > MAX_INPUT)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (sh_phrase_decode(seed, text) == SH_OK && sh_phrase_decode_bytes(bytes, sizeof bytes, &len, text) != SH_OK)
        abort();
    if (sh_phrase_decode_bytes(bytes, sizeof bytes, &len, text) != SH_OK)
        return 0;
    for (const char *p = strtok(text, " \t\n\r\v\f"); p != NULL; p = strtok(NULL, " \t\n\r\v\f"))
        words++;
    check_round_trip(bytes, len, words % 3 == 1);
    return 0;
}
