/* Recovery phrases round-trip: 10 000 random seeds, and random lengths with and without a
 * checksum word; re-spelling each word (case, truncation, typos past the prefix) changes nothing. */
#include "test.h"

#include <ctype.h>

#include <shoal/identity.h>

#define SEEDS 10000

/* Rewrites a phrase the way a person might type it: upper case, 3-letter stubs, extra letters,
 * tabs and newlines between words. */
static void respell(char *out, size_t out_size, const char *phrase, unsigned salt)
{
    size_t o = 0;
    unsigned k = salt;

    for (const char *p = phrase; *p != '\0';) {
        size_t len = strcspn(p, " "), keep = (k % 3 == 0) ? 3 : len;

        CHECK(o + len + 3 < out_size);
        for (size_t i = 0; i < keep; i++)
            out[o++] = (k % 2) ? (char)toupper((unsigned char)p[i]) : p[i];
        if (k % 5 == 0)
            out[o++] = 'x';
        out[o++] = (k % 7 == 0) ? '\t' : (k % 11 == 0) ? '\n' : ' ';
        p += len;
        while (*p == ' ')
            p++;
        k = k * 1103515245u + 12345u;
    }
    out[o] = '\0';
}

static void check_seeds(void)
{
    uint8_t seed[SH_SEED_BYTES], back[SH_SEED_BYTES];
    char phrase[SH_PHRASE_MAX_BYTES], typed[2 * SH_PHRASE_MAX_BYTES];

    for (unsigned i = 0; i < SEEDS; i++) {
        test_random(seed, sizeof seed);
        CHECK_OK(sh_phrase_encode(phrase, sizeof phrase, seed));
        CHECK_OK(sh_phrase_decode(back, phrase));
        CHECK_MEM(back, seed, sizeof seed);
        respell(typed, sizeof typed, phrase, i);
        CHECK_OK(sh_phrase_decode(back, typed));
        CHECK_MEM(back, seed, sizeof seed);
    }
}

static void check_lengths(void)
{
    uint8_t bytes[64], back[64];
    char phrase[SH_PHRASE_TEXT_BYTES(49)];
    size_t len;

    for (unsigned i = 0; i < 1000; i++) {
        size_t n = 4 * (1 + i % 16);
        bool checksum = (i / 16) % 2 == 0;

        test_random(bytes, n);
        CHECK_OK(sh_phrase_encode_bytes(phrase, sizeof phrase, bytes, n, checksum));
        CHECK_OK(sh_phrase_decode_bytes(back, sizeof back, &len, phrase));
        CHECK_EQ(len, n);
        CHECK_MEM(back, bytes, n);
    }
}

int main(void)
{
    CHECK_OK(sh_identity_init());
    check_seeds();
    check_lengths();
    return 0;
}
