/* Fuzz target: X-Wing decapsulation with arbitrary ciphertext bytes and key seed, and X-Wing
 * encapsulation to an arbitrary key. Input: 32 bytes of seed, then the ciphertext (any length).
 * Decapsulation must succeed exactly for 1120-byte ciphertexts; the same bytes read as an
 * encapsulation key must be refused unless they are 1216 bytes. A broken expectation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <shoal/err.h>

#include "crypto/crypto.h"
#include "crypto/kem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t ss[32], ct[SH_XWING_CT_BYTES];
    size_t rest;
    int rc;

    if (size < 32 || sh_crypto_init() != SH_OK)
        return 0;
    rest = size - 32;
    rc = sh_xwing_decaps_buf(ss, data + 32, rest, data);
    if ((rc == SH_OK) != (rest == SH_XWING_CT_BYTES) || (rc != SH_OK && rc != SH_ERR_INVALID))
        abort();
    rc = sh_xwing_encaps_buf(ct, ss, data + 32, rest);
    if ((rest != SH_XWING_EK_BYTES && rc != SH_ERR_INVALID) || (rc != SH_OK && rc != SH_ERR_INVALID))
        abort();
    return 0;
}
