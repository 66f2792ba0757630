/* Fuzz target: ML-KEM-768 decapsulation with arbitrary ciphertext and decapsulation key bytes.
 * The first byte picks how the rest is used:
 *   0: raw: 1088 bytes of ciphertext (or fewer), then a dk of any length. Wrong lengths and dks
 *      failing the hash check must be refused with SH_ERR_INVALID, anything else accepted.
 *   1: the same, but the dk's H(ek) is recomputed first, so arbitrary dk_pke, ek (coefficients
 *      >= q included) and z reach decryption and re-encryption; that must succeed.
 *   2: a 64-byte seed makes a real key pair and the rest is a ciphertext for it; decapsulating an
 *      honest encapsulation must give the encapsulated key.
 * A broken expectation aborts, which libFuzzer reports as a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <shoal/err.h>

#include "crypto/crypto.h"
#include "crypto/kem.h"
#include "crypto/sha3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void raw(const uint8_t *data, size_t size, int fix_hash)
{
    size_t ct_len = size < SH_MLKEM768_CT_BYTES ? size : SH_MLKEM768_CT_BYTES;
    size_t dk_len = size - ct_len;
    uint8_t *dk = malloc(dk_len + 1), ss[32];
    int rc;

    if (dk == NULL)
        abort();
    memcpy(dk, data + ct_len, dk_len);
    if (fix_hash && dk_len == SH_MLKEM768_DK_BYTES)
        sh_sha3_256(dk + 2336, dk + 1152, SH_MLKEM768_EK_BYTES);
    rc = sh_mlkem768_decaps_buf(ss, data, ct_len, dk, dk_len);
    if (ct_len != SH_MLKEM768_CT_BYTES || dk_len != SH_MLKEM768_DK_BYTES) {
        if (rc != SH_ERR_INVALID)
            abort();
    } else if (fix_hash && rc != SH_OK) {
        abort();
    } else if (rc != SH_OK && rc != SH_ERR_INVALID) {
        abort();
    }
    free(dk);
}

static void honest(const uint8_t *data, size_t size)
{
    uint8_t ek[SH_MLKEM768_EK_BYTES], dk[SH_MLKEM768_DK_BYTES], ct[SH_MLKEM768_CT_BYTES];
    uint8_t m[32] = {0}, ss1[32], ss2[32];

    if (size < 64)
        return;
    if (sh_mlkem768_keygen_seed(ek, dk, data, 64) != SH_OK)
        abort();
    memcpy(m, data + 64, size - 64 < 32 ? size - 64 : 32);
    if (sh_mlkem768_encaps_derand(ct, ss1, ek, m) != SH_OK ||
        sh_mlkem768_decaps(ss2, ct, dk) != SH_OK || memcmp(ss1, ss2, 32) != 0)
        abort();
    if (size > 96 && sh_mlkem768_decaps_buf(ss2, data + 96, size - 96, dk, sizeof dk) == SH_OK &&
        size - 96 != SH_MLKEM768_CT_BYTES)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || sh_crypto_init() != SH_OK)
        return 0;
    switch (data[0] % 3) {
    case 0: raw(data + 1, size - 1, 0); break;
    case 1: raw(data + 1, size - 1, 1); break;
    default: honest(data + 1, size - 1); break;
    }
    return 0;
}
