/* ML-KEM-768 behaviour through the public API: random round trips, implicit rejection (a changed
 * ciphertext or secret part of dk yields J(z || c), computed here with SHAKE256), the section 7.3
 * hash check (a changed ek or H(ek) inside dk is refused), the section 7.2 modulus check at q - 1
 * and q, and every wrong length of the buffer forms at limit and limit + 1. */
#include "test.h"

#include <sodium.h>

#include "crypto/crypto.h"
#include "crypto/kem.h"
#include "crypto/sha3.h"

static uint8_t ek[SH_MLKEM768_EK_BYTES], dk[SH_MLKEM768_DK_BYTES], ct[SH_MLKEM768_CT_BYTES];

static void j_of(uint8_t out[32], const uint8_t z[32], const uint8_t *c)
{
    sh_keccak st;

    sh_shake256_init(&st);
    sh_keccak_absorb(&st, z, 32);
    sh_keccak_absorb(&st, c, SH_MLKEM768_CT_BYTES);
    sh_keccak_squeeze(&st, out, 32);
}

static void check_round_trips(void)
{
    uint8_t ss1[32], ss2[32];

    for (int i = 0; i < 20; i++) {
        CHECK_OK(sh_mlkem768_keygen(ek, dk));
        CHECK_OK(sh_mlkem768_encaps(ct, ss1, ek));
        CHECK_OK(sh_mlkem768_decaps(ss2, ct, dk));
        CHECK_MEM(ss1, ss2, 32);
    }
}

static void check_implicit_rejection(void)
{
    uint8_t ss[32], real[32], want[32], bad_dk[SH_MLKEM768_DK_BYTES];
    const uint8_t *z = dk + SH_MLKEM768_DK_BYTES - 32;

    CHECK_OK(sh_mlkem768_encaps(ct, real, ek));
    for (size_t pos = 0; pos < SH_MLKEM768_CT_BYTES; pos += 97) {
        ct[pos] ^= 1;
        CHECK_OK(sh_mlkem768_decaps(ss, ct, dk));
        j_of(want, z, ct);
        CHECK_MEM(ss, want, 32);
        CHECK(memcmp(ss, real, 32) != 0);
        ct[pos] ^= 1;
    }
    /* A changed secret vector s: decryption goes wrong, re-encryption differs. */
    memcpy(bad_dk, dk, sizeof bad_dk);
    bad_dk[10] ^= 0x40;
    CHECK_OK(sh_mlkem768_decaps(ss, ct, bad_dk));
    j_of(want, z, ct);
    CHECK_MEM(ss, want, 32);
    /* A changed z changes only the rejection key. */
    memcpy(bad_dk, dk, sizeof bad_dk);
    bad_dk[SH_MLKEM768_DK_BYTES - 1] ^= 1;
    CHECK_OK(sh_mlkem768_decaps(ss, ct, bad_dk));
    CHECK_MEM(ss, real, 32);
}

static void check_dk_hash(void)
{
    uint8_t ss[32], bad_dk[SH_MLKEM768_DK_BYTES];
    static const size_t where[] = {1152, 1152 + 600, 2335, 2336, 2367};

    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        memcpy(bad_dk, dk, sizeof bad_dk);
        bad_dk[where[i]] ^= 0x80;
        CHECK_ERR(sh_mlkem768_decaps(ss, ct, bad_dk), SH_ERR_INVALID);
        CHECK_MSG("hash check");
    }
}

static void set_coefficient(uint8_t *key, int index, uint16_t value)
{
    uint8_t *b = key + 3 * (index / 2);

    if (index % 2 == 0) {
        b[0] = (uint8_t)value;
        b[1] = (uint8_t)((b[1] & 0xf0) | (value >> 8));
    } else {
        b[1] = (uint8_t)((b[1] & 0x0f) | ((value & 0x0f) << 4));
        b[2] = (uint8_t)(value >> 4);
    }
}

static void check_modulus(void)
{
    uint8_t bad[SH_MLKEM768_EK_BYTES], ss[32], m[32] = {1};
    static const int where[] = {0, 1, 255, 256, 511, 767};

    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        memcpy(bad, ek, sizeof bad);
        set_coefficient(bad, where[i], 3328);
        CHECK_OK(sh_mlkem768_ek_check(bad, sizeof bad));
        CHECK_OK(sh_mlkem768_encaps_derand(ct, ss, bad, m));
        set_coefficient(bad, where[i], 3329);
        CHECK_ERR(sh_mlkem768_encaps_derand(ct, ss, bad, m), SH_ERR_INVALID);
        CHECK_MSG("modulus check");
        set_coefficient(bad, where[i], 4095);
        CHECK_ERR(sh_mlkem768_encaps(ct, ss, bad), SH_ERR_INVALID);
    }
}

static void check_lengths(void)
{
    uint8_t ss[32], m[32] = {0}, seed[65] = {0}, big[SH_MLKEM768_DK_BYTES + 1] = {0};

    CHECK_ERR(sh_mlkem768_encaps_buf(ct, ss, ek, SH_MLKEM768_EK_BYTES - 1, m), SH_ERR_INVALID);
    CHECK_MSG("1183 bytes, not 1184");
    memcpy(big, ek, sizeof ek);
    CHECK_ERR(sh_mlkem768_encaps_buf(ct, ss, big, SH_MLKEM768_EK_BYTES + 1, m), SH_ERR_INVALID);
    CHECK_ERR(sh_mlkem768_ek_check(ek, 0), SH_ERR_INVALID);
    CHECK_OK(sh_mlkem768_encaps_buf(ct, ss, ek, SH_MLKEM768_EK_BYTES, m));
    CHECK_ERR(sh_mlkem768_decaps_buf(ss, ct, SH_MLKEM768_CT_BYTES - 1, dk, sizeof dk),
              SH_ERR_INVALID);
    CHECK_MSG("ciphertext is 1087 bytes, not 1088");
    memcpy(big, dk, sizeof dk);
    CHECK_ERR(sh_mlkem768_decaps_buf(ss, ct, SH_MLKEM768_CT_BYTES, big, sizeof big),
              SH_ERR_INVALID);
    CHECK_MSG("decapsulation key is 2401 bytes, not 2400");
    CHECK_OK(sh_mlkem768_decaps_buf(ss, ct, SH_MLKEM768_CT_BYTES, dk, sizeof dk));
    CHECK_ERR(sh_mlkem768_keygen_seed(ek, dk, seed, 63), SH_ERR_INVALID);
    CHECK_MSG("63 bytes, not 64");
    CHECK_ERR(sh_mlkem768_keygen_seed(ek, dk, seed, 65), SH_ERR_INVALID);
    CHECK_OK(sh_mlkem768_keygen_seed(ek, dk, seed, 64));
}

int main(void)
{
    CHECK_OK(sh_crypto_init());
    check_round_trips();
    check_implicit_rejection();
    check_dk_hash();
    check_modulus();
    check_lengths();
    return 0;
}
