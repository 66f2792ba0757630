/* The recovery phrase against Session's vectors: encoding with and without the checksum word,
 * the accepted spellings, and every rejected phrase with its error class. */
#include "test.h"

#include <shoal/identity.h>

static void check_encodes(json_t *v, bool checksum)
{
    char text[SH_PHRASE_TEXT_BYTES(64)];
    uint8_t back[64];
    size_t len = 0;
    sh_buf bytes;

    sh_buf_init(&bytes);
    test_json_hex(v, "bytes", &bytes);
    CHECK_OK(sh_phrase_encode_bytes(text, sizeof text, bytes.data, bytes.len, checksum));
    CHECK_STR(text, test_json_str(v, "words"));
    CHECK_OK(sh_phrase_decode_bytes(back, sizeof back, &len, text));
    CHECK_EQ(len, bytes.len);
    CHECK_MEM(back, bytes.data, len);
    if (bytes.len == SH_SEED_BYTES) {
        CHECK_OK(sh_phrase_encode(text, sizeof text, bytes.data));
        CHECK_STR(text, test_json_str(v, "words"));
        CHECK_OK(sh_phrase_decode(back, text));
        CHECK_MEM(back, bytes.data, SH_SEED_BYTES);
    }
    sh_buf_free(&bytes);
}

static void check_accepted(json_t *v)
{
    uint8_t seed[SH_SEED_BYTES];
    sh_buf bytes;

    sh_buf_init(&bytes);
    test_json_hex(v, "bytes", &bytes);
    CHECK_EQ(bytes.len, SH_SEED_BYTES);
    CHECK_OK(sh_phrase_decode(seed, test_json_str(v, "words")));
    CHECK_MEM(seed, bytes.data, SH_SEED_BYTES);
    sh_buf_free(&bytes);
}

/* The vector's error text names its class; each class has its own code. */
static int expected_code(const char *error)
{
    if (strncmp(error, "checksum", 8) == 0)
        return SH_ERR_CHECKSUM;
    if (strcmp(error, "unknown word") == 0)
        return SH_ERR_FORMAT;
    if (strncmp(error, "triplet overflows", 17) == 0)
        return SH_ERR_RANGE;
    if (strcmp(error, "word count") == 0)
        return SH_ERR_INVALID;
    test_fail(__FILE__, __LINE__, "unknown error class '%s' in the vectors", error);
}

static void check_rejected(json_t *v)
{
    uint8_t out[64] = {0}, zero[64] = {0};
    size_t len = 99;

    CHECK_ERR(sh_phrase_decode_bytes(out, sizeof out, &len, test_json_str(v, "words")),
              expected_code(test_json_str(v, "error")));
    CHECK_EQ(len, 99);
    CHECK_MEM(out, zero, sizeof out);
}

int main(void)
{
    json_t *root = test_load_json("session/vectors.json"), *v;
    size_t i, n = 0;

    CHECK_OK(sh_identity_init());
    json_array_foreach(json_object_get(root, "mnemonic_no_checksum"), i, v) {
        check_encodes(v, false);
        n++;
    }
    json_array_foreach(json_object_get(root, "mnemonic_with_checksum"), i, v) {
        check_encodes(v, true);
        n++;
    }
    json_array_foreach(json_object_get(root, "mnemonic_accepted_variants"), i, v) {
        check_accepted(v);
        n++;
    }
    json_array_foreach(json_object_get(root, "mnemonic_rejected"), i, v) {
        check_rejected(v);
        n++;
    }
    CHECK_EQ(n, 13);
    json_decref(root);
    return 0;
}
