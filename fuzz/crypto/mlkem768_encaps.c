/* Fuzz target: ML-KEM-768 encapsulation with arbitrary key bytes. Input: 32 bytes of m, then the
 * encapsulation key (any length). The key must be accepted exactly when it is 1184 bytes and every
 * 12-bit coefficient is below q (FIPS 203 section 7.2, checked plainly here), and encapsulation
 * must be deterministic in (ek, m). A broken expectation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <shoal/err.h>

#include "crypto/crypto.h"
#include "crypto/kem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int plain_modulus_ok(const uint8_t *ek)
{
    for (int i = 0; i < 3 * 256; i += 2) {
        const uint8_t *b = ek + 3 * (i / 2);

        if ((b[0] | ((b[1] & 0x0f) << 8)) >= 3329 || ((b[1] >> 4) | (b[2] << 4)) >= 3329)
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t ct1[SH_MLKEM768_CT_BYTES], ct2[SH_MLKEM768_CT_BYTES], ss1[32], ss2[32];
    const uint8_t *ek = data + 32;
    size_t ek_len;
    int rc, want_ok;

    if (size < 32 || sh_crypto_init() != SH_OK)
        return 0;
    ek_len = size - 32;
    want_ok = ek_len == SH_MLKEM768_EK_BYTES && plain_modulus_ok(ek);
    rc = sh_mlkem768_encaps_buf(ct1, ss1, ek, ek_len, data);
    if (want_ok != (rc == SH_OK) || (rc != SH_OK && rc != SH_ERR_INVALID))
        abort();
    if ((sh_mlkem768_ek_check(ek, ek_len) == SH_OK) != want_ok)
        abort();
    if (want_ok) {
        if (sh_mlkem768_encaps_derand(ct2, ss2, ek, data) != SH_OK ||
            memcmp(ct1, ct2, sizeof ct1) != 0 || memcmp(ss1, ss2, 32) != 0)
            abort();
    }
    return 0;
}
