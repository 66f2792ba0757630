/* SHA3-256, SHA3-512, SHAKE128 and SHAKE256 against every vector of sha3/sha3_shake.json (made
 * with OpenSSL through Python's hashlib), one-shot and incremental with awkward chunk sizes, plus
 * the FIPS 202 example of the empty message and properties of the incremental API. */
#include "test.h"

#include "crypto/sha3.h"

enum { VECTORS_IN_FILE = 210 + 210 + 72 + 72 };

typedef enum { SHA3_256, SHA3_512, SHAKE128, SHAKE256 } kind;

static void message(uint8_t *m, size_t len)
{
    for (size_t k = 0; k < len; k++)
        m[k] = (uint8_t)((k * 7 + 3) % 256);
}

static void init(sh_keccak *st, kind k)
{
    switch (k) {
    case SHA3_256: sh_sha3_256_init(st); break;
    case SHA3_512: sh_sha3_512_init(st); break;
    case SHAKE128: sh_shake128_init(st); break;
    case SHAKE256: sh_shake256_init(st); break;
    }
}

static void one_shot(kind k, uint8_t *out, size_t out_len, const uint8_t *m, size_t len)
{
    switch (k) {
    case SHA3_256: CHECK_EQ(out_len, 32); sh_sha3_256(out, m, len); break;
    case SHA3_512: CHECK_EQ(out_len, 64); sh_sha3_512(out, m, len); break;
    case SHAKE128: sh_shake128(out, out_len, m, len); break;
    case SHAKE256: sh_shake256(out, out_len, m, len); break;
    }
}

/* Absorbs in chunks of `step` bytes (growing), squeezes in chunks of `sstep`. */
static void chunked(kind k, uint8_t *out, size_t out_len, const uint8_t *m, size_t len,
                    size_t step, size_t sstep)
{
    sh_keccak st;
    size_t done = 0;

    init(&st, k);
    while (done < len) {
        size_t take = len - done < step ? len - done : step;

        sh_keccak_absorb(&st, m + done, take);
        done += take;
        step += 3;
    }
    if (k == SHA3_256)
        sh_sha3_256_final(&st, out);
    else if (k == SHA3_512)
        sh_sha3_512_final(&st, out);
    else
        for (done = 0; done < out_len; done += sstep)
            sh_keccak_squeeze(&st, out + done, out_len - done < sstep ? out_len - done : sstep);
    sh_keccak_wipe(&st);
}

static size_t check_group(json_t *root, const char *name, kind k)
{
    json_t *list = json_object_get(root, name), *v;
    size_t i, checked = 0;
    sh_buf want;
    static const size_t steps[] = {1, 5, 8, 71, 135, 136, 137, 167, 168, 500};

    sh_buf_init(&want);
    CHECK(json_is_array(list));
    json_array_foreach(list, i, v) {
        size_t len = (size_t)json_integer_value(json_object_get(v, "len"));
        bool xof = k == SHAKE128 || k == SHAKE256;
        uint8_t *m = malloc(len + 1), *out;

        CHECK(m != NULL);
        message(m, len);
        test_json_hex(v, xof ? "out" : "md", &want);
        if (xof)
            CHECK_EQ(want.len, json_integer_value(json_object_get(v, "outlen")));
        out = malloc(want.len);
        CHECK(out != NULL);
        one_shot(k, out, want.len, m, len);
        CHECK_MEM(out, want.data, want.len);
        for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
            memset(out, 0, want.len);
            chunked(k, out, want.len, m, len, steps[s], steps[(s + 3) % 10]);
            CHECK_MEM(out, want.data, want.len);
        }
        free(out);
        free(m);
        checked++;
    }
    sh_buf_free(&want);
    return checked;
}

/* FIPS 202 examples of the empty message, and the SHAKE prefix property. */
static void check_known(void)
{
    uint8_t out[64], longer[300];
    sh_buf want;

    sh_buf_init(&want);
    sh_sha3_256(out, (const uint8_t *)"", 0);
    test_hex("a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a", &want);
    CHECK_MEM(out, want.data, 32);
    sh_shake256(out, 32, (const uint8_t *)"", 0);
    test_hex("46b9dd2b0ba88d13233b3feb743eeb243fcd52ea62b81b82b50c27646ed5762f", &want);
    CHECK_MEM(out, want.data, 32);
    sh_shake128(longer, sizeof longer, (const uint8_t *)"abc", 3);
    sh_shake128(out, 17, (const uint8_t *)"abc", 3);
    CHECK_MEM(out, longer, 17);
    sh_buf_free(&want);
}

/* Absorbing after the first squeeze is ignored: the output stream continues unchanged. */
static void check_absorb_after_squeeze(void)
{
    uint8_t a[64], b[64];
    sh_keccak st;

    sh_shake128(a, sizeof a, (const uint8_t *)"x", 1);
    sh_shake128_init(&st);
    sh_keccak_absorb(&st, (const uint8_t *)"x", 1);
    sh_keccak_squeeze(&st, b, 10);
    sh_keccak_absorb(&st, (const uint8_t *)"y", 1);
    sh_keccak_squeeze(&st, b + 10, 54);
    CHECK_MEM(a, b, sizeof a);
}

int main(void)
{
    json_t *root = test_load_json("sha3/sha3_shake.json");
    size_t n = 0;

    n += check_group(root, "sha3_256", SHA3_256);
    n += check_group(root, "sha3_512", SHA3_512);
    n += check_group(root, "shake128", SHAKE128);
    n += check_group(root, "shake256", SHAKE256);
    CHECK_EQ(n, VECTORS_IN_FILE);
    check_known();
    check_absorb_after_squeeze();
    printf("sha3: %zu vectors passed\n", n);
    json_decref(root);
    return 0;
}
