/* X-Wing against the draft's vectors (../shared/vectors/xwing, draft-connolly-cfrg-xwing-kem at
 * commit 9b6ce9e6): seed -> pk, (pk, eseed) -> ct, ss, and Decapsulate(ct, sk) = ss. Then the
 * behaviour around bad input: wrong lengths, an ML-KEM part failing the modulus check, an X25519
 * part of small order (refused by Encaps), a small-order ct_X (Decaps computes ss_X = 0, as the
 * draft does), and random round trips. */
#include "test.h"

#include <sodium.h>

#include "crypto/crypto.h"
#include "crypto/kem.h"
#include "crypto/sha3.h"

enum { XWING_VECTORS = 3 };

static size_t check_vectors(void)
{
    json_t *root = test_load_json("xwing/draft-connolly-test-vectors.json"), *v;
    uint8_t ek[SH_XWING_EK_BYTES], dk[SH_XWING_DK_BYTES], ct[SH_XWING_CT_BYTES], ss[32];
    sh_buf seed, sk, eseed, want;
    size_t i, n = 0;

    sh_buf_init(&seed);
    sh_buf_init(&sk);
    sh_buf_init(&eseed);
    sh_buf_init(&want);
    json_array_foreach(root, i, v) {
        test_json_hex(v, "seed", &seed);
        test_json_hex(v, "sk", &sk);
        test_json_hex(v, "eseed", &eseed);
        CHECK_EQ(seed.len, 32);
        CHECK_EQ(eseed.len, 64);
        CHECK_OK(sh_xwing_keygen_derand(ek, dk, seed.data));
        CHECK_MEM(dk, sk.data, sizeof dk);
        test_json_hex(v, "pk", &want);
        CHECK_EQ(want.len, sizeof ek);
        CHECK_MEM(ek, want.data, sizeof ek);
        CHECK_OK(sh_xwing_encaps_derand(ct, ss, ek, eseed.data));
        test_json_hex(v, "ct", &want);
        CHECK_EQ(want.len, sizeof ct);
        CHECK_MEM(ct, want.data, sizeof ct);
        test_json_hex(v, "ss", &want);
        CHECK_EQ(want.len, 32);
        CHECK_MEM(ss, want.data, 32);
        memset(ss, 0, sizeof ss);
        CHECK_OK(sh_xwing_decaps(ss, ct, dk));
        CHECK_MEM(ss, want.data, 32);
        n++;
    }
    sh_buf_free(&seed);
    sh_buf_free(&sk);
    sh_buf_free(&eseed);
    sh_buf_free(&want);
    json_decref(root);
    return n;
}

static void check_bad_input(void)
{
    uint8_t ek[SH_XWING_EK_BYTES], bad[SH_XWING_EK_BYTES], dk[32], seed[32], eseed[64];
    uint8_t ct[SH_XWING_CT_BYTES], ss[32];

    test_random(seed, sizeof seed);
    test_random(eseed, sizeof eseed);
    CHECK_OK(sh_xwing_keygen_derand(ek, dk, seed));
    CHECK_ERR(sh_xwing_encaps_buf(ct, ss, ek, sizeof ek - 1), SH_ERR_INVALID);
    CHECK_MSG("1215 bytes, not 1216");
    CHECK_ERR(sh_xwing_decaps_buf(ss, ct, sizeof ct + 1, dk), SH_ERR_INVALID);
    CHECK_MSG("1121 bytes, not 1120");

    memcpy(bad, ek, sizeof bad);
    bad[0] = 0xff; /* first coefficient 0x?ff with the next nibble set: 4095 >= q */
    bad[1] |= 0x0f;
    CHECK_ERR(sh_xwing_encaps_derand(ct, ss, bad, eseed), SH_ERR_INVALID);
    CHECK_MSG("X-Wing encapsulation key");
    CHECK_MSG("modulus check");

    memcpy(bad, ek, sizeof bad);
    memset(bad + SH_MLKEM768_EK_BYTES, 0, 32); /* X25519 point 0 has small order */
    CHECK_ERR(sh_xwing_encaps_derand(ct, ss, bad, eseed), SH_ERR_INVALID);
    CHECK_MSG("small order");
}

/* A ciphertext whose ct_X is the point 0: ss_X = X25519(sk_X, 0) = 0 and the combiner runs. */
static void check_small_order_ct(void)
{
    uint8_t ek[SH_XWING_EK_BYTES], dk[32], seed[32], eseed[64], ct[SH_XWING_CT_BYTES], ss[32];
    uint8_t expanded[96], ek_m[SH_MLKEM768_EK_BYTES], dk_m[SH_MLKEM768_DK_BYTES], ss_m[32];
    uint8_t input[32 * 4 + 6], want[32];
    static const uint8_t label[6] = {0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c};

    test_random(seed, sizeof seed);
    test_random(eseed, sizeof eseed);
    CHECK_OK(sh_xwing_keygen_derand(ek, dk, seed));
    CHECK_OK(sh_xwing_encaps_derand(ct, ss, ek, eseed));
    memset(ct + SH_MLKEM768_CT_BYTES, 0, 32);
    CHECK_OK(sh_xwing_decaps(ss, ct, dk));
    sh_shake256(expanded, sizeof expanded, seed, sizeof seed);
    CHECK_OK(sh_mlkem768_keygen_derand(ek_m, dk_m, expanded, expanded + 32));
    CHECK_OK(sh_mlkem768_decaps(ss_m, ct, dk_m));
    memcpy(input, ss_m, 32);
    memset(input + 32, 0, 64);
    memcpy(input + 96, ek + SH_MLKEM768_EK_BYTES, 32);
    memcpy(input + 128, label, sizeof label);
    sh_sha3_256(want, input, sizeof input);
    CHECK_MEM(ss, want, 32);
}

static void check_round_trips(void)
{
    uint8_t ek[SH_XWING_EK_BYTES], dk[32], ct[SH_XWING_CT_BYTES], ss1[32], ss2[32];

    for (int i = 0; i < 20; i++) {
        CHECK_OK(sh_xwing_keygen(ek, dk));
        CHECK_OK(sh_xwing_encaps(ct, ss1, ek));
        CHECK_OK(sh_xwing_decaps(ss2, ct, dk));
        CHECK_MEM(ss1, ss2, 32);
        ct[i * 53 % SH_XWING_CT_BYTES] ^= 0x20; /* tampering with either part changes the key */
        CHECK_OK(sh_xwing_decaps(ss2, ct, dk));
        CHECK(memcmp(ss1, ss2, 32) != 0);
    }
}

int main(void)
{
    size_t n;

    CHECK_OK(sh_crypto_init());
    n = check_vectors();
    CHECK_EQ(n, XWING_VECTORS);
    check_bad_input();
    check_small_order_ct();
    check_round_trips();
    printf("xwing: %zu vectors passed\n", n);
    return 0;
}
