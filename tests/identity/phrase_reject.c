/* Every class of bad recovery phrase is rejected with its own code and a message that names the
 * word and its position. Run with the class as argument; meson runs one test per class. */
#include "test.h"

#include <shoal/identity.h>

#define GOOD "amaze buffet cake entrance symptoms tiger lamb maze nestle python dusted faxed faxed"

static void unknown_word(void)
{
    uint8_t seed[SH_SEED_BYTES];

    CHECK_ERR(sh_phrase_decode(seed, "amaze buffet cake entrance symptoms tiger lamb maze nestle "
                                     "python dusted faxed zzzzz"),
              SH_ERR_FORMAT);
    CHECK_MSG("word 13, 'zzzzz', is not in the word list");
    CHECK_ERR(sh_phrase_decode(seed, "amaze buffet ca entrance symptoms tiger lamb maze nestle "
                                     "python dusted faxed faxed"),
              SH_ERR_FORMAT);
    CHECK_MSG("word 3, 'ca', is not in the word list");
    /* Unprintable bytes are not echoed; long words are cut short. */
    CHECK_ERR(sh_phrase_decode(seed, "amaze \x1b[2Jx buffet cake entrance symptoms tiger lamb maze "
                                     "nestle python dusted faxed"),
              SH_ERR_FORMAT);
    CHECK_MSG("word 2, '?[2Jx', is not");
    CHECK_ERR(sh_phrase_decode(seed, "amaze buffet cake entrance symptoms tiger lamb maze nestle "
                                     "python dusted faxed qqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"),
              SH_ERR_FORMAT);
    CHECK_MSG("word 13, 'qqqqqqqqqqqqqqqqqqqq...', is not");
    /* An unknown word is reported before a group that does not decode. */
    CHECK_ERR(sh_phrase_decode(seed, "abbey abbey zoom abbey abbey abbey abbey abbey abbey abbey "
                                     "abbey abbey xylo"),
              SH_ERR_FORMAT);
    CHECK_MSG("word 13, 'xylo'");
}

static void word_count(void)
{
    uint8_t seed[SH_SEED_BYTES], out[16];
    size_t len;

    CHECK_ERR(sh_phrase_decode(seed, "amaze buffet cake entrance symptoms tiger lamb maze nestle "
                                     "python dusted faxed"),
              SH_ERR_INVALID);
    CHECK_MSG("a recovery phrase has 13 words; this one has 12");
    CHECK_ERR(sh_phrase_decode(seed, GOOD " faxed"), SH_ERR_INVALID);
    CHECK_MSG("this one has 14");
    CHECK_ERR(sh_phrase_decode(seed, ""), SH_ERR_INVALID);
    CHECK_MSG("this one has 0");
    CHECK_ERR(sh_phrase_decode_bytes(out, sizeof out, &len, " \t\n "), SH_ERR_INVALID);
    CHECK_MSG("the phrase is empty");
    CHECK_ERR(sh_phrase_decode_bytes(out, sizeof out, &len, "abbey abducts"), SH_ERR_INVALID);
    CHECK_MSG("2 words cannot be one");
    CHECK_ERR(sh_phrase_decode_bytes(out, sizeof out, &len, "abbey"), SH_ERR_INVALID);
    CHECK_MSG("1 words cannot be one");
    CHECK_ERR(sh_phrase_decode_bytes(out, 12, &len, GOOD), SH_ERR_LIMIT);
    CHECK_MSG("needs 16 bytes, not 12");
}

static void triplet_overflow(void)
{
    uint8_t seed[SH_SEED_BYTES], out[16];
    size_t len;

    CHECK_ERR(sh_phrase_decode_bytes(out, sizeof out, &len, "abbey abbey zoom"), SH_ERR_RANGE);
    CHECK_MSG("words 1 to 3, 'abbey abbey zoom', do not encode a valid group of 4 bytes");
    CHECK_ERR(sh_phrase_decode(seed, "abbey abbey abbey ABBEY Abbey ZOOMING abbey abbey abbey "
                                     "abbey abbey abbey abbey"),
              SH_ERR_RANGE);
    CHECK_MSG("words 4 to 6, 'ABBEY Abbey ZOOMING'");
}

static void checksum(void)
{
    uint8_t seed[SH_SEED_BYTES], zero[SH_SEED_BYTES] = {0};

    memset(seed, 0, sizeof seed);
    CHECK_ERR(sh_phrase_decode(seed, "amaze buffet cake entrance symptoms tiger lamb maze nestle "
                                     "python dusted faxed Amazing"),
              SH_ERR_CHECKSUM);
    CHECK_MSG("the checksum word (word 13, 'Amazing') does not match");
    CHECK_MEM(seed, zero, sizeof seed);
    CHECK_ERR(sh_phrase_decode(seed, "amaze buffet cake entrance symptoms tiger lamb maze nestle "
                                     "python faxed dusted faxed"),
              SH_ERR_CHECKSUM);
    CHECK_MSG("word 13");
}

static void encode_errors(void)
{
    uint8_t bytes[16] = {0};
    char text[SH_PHRASE_MAX_BYTES];

    CHECK_ERR(sh_phrase_encode_bytes(text, sizeof text, bytes, 15, true), SH_ERR_INVALID);
    CHECK_MSG("multiple of 4 bytes, not 15");
    CHECK_ERR(sh_phrase_encode_bytes(text, sizeof text, bytes, 0, false), SH_ERR_INVALID);
    CHECK_ERR(sh_phrase_encode(text, SH_PHRASE_MAX_BYTES - 1, bytes), SH_ERR_LIMIT);
    CHECK_MSG("too small");
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*run)(void);
    } classes[] = {
        {"unknown_word", unknown_word}, {"word_count", word_count},
        {"triplet_overflow", triplet_overflow}, {"checksum", checksum},
        {"encode_errors", encode_errors},
    };

    CHECK_OK(sh_identity_init());
    CHECK(argc == 2);
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        if (strcmp(argv[1], classes[i].name) == 0) {
            classes[i].run();
            return 0;
        }
    }
    test_fail(__FILE__, __LINE__, "no class '%s'", argv[1]);
}
