/* The crypto module's key encapsulation: ML-KEM-768 and X-Wing (the fixed-size API is in
 * include/shoal/kem.h), plus forms that take the length of a received buffer, for code that parses
 * keys and ciphertexts from the network: a buffer of the wrong length is SH_ERR_INVALID with a
 * message naming the expected size. */
#ifndef SH_CRYPTO_KEM_H
#define SH_CRYPTO_KEM_H

#include <stddef.h>
#include <stdint.h>

#include <shoal/kem.h>

#define SH_MLKEM768_KEYGEN_SEED_BYTES 64 /* d || z */

_Static_assert(SH_XWING_EK_BYTES == SH_MLKEM768_EK_BYTES + 32, "X-Wing ek = ML-KEM ek || X25519");
_Static_assert(SH_XWING_CT_BYTES == SH_MLKEM768_CT_BYTES + 32, "X-Wing ct = ML-KEM ct || X25519");

/* KeyGen_internal(seed[0:32], seed[32:64]) for a 64-byte seed d || z. */
int sh_mlkem768_keygen_seed(uint8_t ek[static SH_MLKEM768_EK_BYTES],
                            uint8_t dk[static SH_MLKEM768_DK_BYTES], const uint8_t *seed,
                            size_t seed_len);
/* Section 7.2 check alone: the length, then every coefficient below q. */
int sh_mlkem768_ek_check(const uint8_t *ek, size_t ek_len) __attribute__((warn_unused_result));
int sh_mlkem768_encaps_buf(uint8_t ct[static SH_MLKEM768_CT_BYTES],
                           uint8_t ss[static SH_KEM_SS_BYTES], const uint8_t *ek, size_t ek_len,
                           const uint8_t m[static SH_MLKEM768_SEED_BYTES])
    __attribute__((warn_unused_result));
int sh_mlkem768_decaps_buf(uint8_t ss[static SH_KEM_SS_BYTES], const uint8_t *ct, size_t ct_len,
                           const uint8_t *dk, size_t dk_len) __attribute__((warn_unused_result));
int sh_xwing_decaps_buf(uint8_t ss[static SH_KEM_SS_BYTES], const uint8_t *ct, size_t ct_len,
                        const uint8_t dk[static SH_XWING_DK_BYTES])
    __attribute__((warn_unused_result));
int sh_xwing_encaps_buf(uint8_t ct[static SH_XWING_CT_BYTES], uint8_t ss[static SH_KEM_SS_BYTES],
                        const uint8_t *ek, size_t ek_len) __attribute__((warn_unused_result));

#endif
