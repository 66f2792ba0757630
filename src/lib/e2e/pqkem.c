/* The only file of the e2e module that calls the post-quantum KEMs (include/shoal/kem.h):
 * ML-KEM-768 key pairs are kept as their 64-byte seed d || z and expanded when needed; X-Wing
 * keys are their 32-byte seed. Randomness for encapsulation comes from libsodium. */
#include "e2e/internal.h"

#include <sodium.h>
#include <string.h>

#include "util/err.h"

int sh__e2e_mlkem_keypair(const uint8_t seed[static 64], uint8_t ek[static SH_MLKEM768_EK_BYTES],
                          uint8_t *dk_or_null)
{
    uint8_t *dk = dk_or_null != NULL ? dk_or_null : sodium_malloc(SH_MLKEM768_DK_BYTES);
    int rc;

    if (dk == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for an ML-KEM key");
    rc = sh_mlkem768_keygen_derand(ek, dk, seed, seed + 32);
    if (dk_or_null == NULL)
        sodium_free(dk);
    return rc;
}

int sh__e2e_mlkem_encaps(uint8_t ct[static SH_MLKEM768_CT_BYTES], uint8_t ss[static 32],
                         const uint8_t ek[static SH_MLKEM768_EK_BYTES])
{
    uint8_t m[32];
    int rc;

    randombytes_buf(m, sizeof m);
    rc = sh_mlkem768_encaps_derand(ct, ss, ek, m);
    sodium_memzero(m, sizeof m);
    if (rc != SH_OK)
        return sh_err_wrap(rc, "encapsulating to an ML-KEM-768 key");
    return SH_OK;
}

int sh__e2e_mlkem_decaps(uint8_t ss[static 32], const uint8_t ct[static SH_MLKEM768_CT_BYTES],
                         const uint8_t seed[static 64])
{
    uint8_t ek[SH_MLKEM768_EK_BYTES];
    uint8_t *dk = sodium_malloc(SH_MLKEM768_DK_BYTES);
    int rc;

    if (dk == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for an ML-KEM key");
    rc = sh_mlkem768_keygen_derand(ek, dk, seed, seed + 32);
    if (rc == SH_OK)
        rc = sh_mlkem768_decaps(ss, ct, dk);
    sodium_free(dk);
    return rc;
}

int sh__e2e_xwing_public(uint8_t ek[static SH_XWING_EK_BYTES], const uint8_t seed[static 32])
{
    uint8_t dk[SH_XWING_DK_BYTES];
    int rc = sh_xwing_keygen_derand(ek, dk, seed);

    sodium_memzero(dk, sizeof dk);
    return rc;
}

int sh__e2e_xwing_encaps(uint8_t ct[static SH_XWING_CT_BYTES], uint8_t ss[static 32],
                         const uint8_t ek[static SH_XWING_EK_BYTES])
{
    uint8_t eseed[SH_XWING_ESEED_BYTES];
    int rc;

    randombytes_buf(eseed, sizeof eseed);
    rc = sh_xwing_encaps_derand(ct, ss, ek, eseed);
    sodium_memzero(eseed, sizeof eseed);
    if (rc != SH_OK)
        return sh_err_wrap(rc, "sealing to an X-Wing envelope key");
    return SH_OK;
}

int sh__e2e_xwing_decaps(uint8_t ss[static 32], const uint8_t ct[static SH_XWING_CT_BYTES],
                         const uint8_t seed[static 32])
{
    return sh_xwing_decaps(ss, ct, seed);
}
