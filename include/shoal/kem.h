/* Post-quantum key encapsulation for programs built on libshoal: ML-KEM-768 (FIPS 203) and the
 * X-Wing hybrid of ML-KEM-768 and X25519 (draft-connolly-cfrg-xwing-kem). Every function returns 0
 * or a negative sh_err code (shoal/err.h) with a message in sh_err_msg(). Call sodium_init() (or
 * sh_crypto_init() inside libshoal) before the functions that draw randomness.
 *
 * Decapsulation of a well-formed ciphertext never fails: a ciphertext that was not made for the key
 * yields a pseudo-random key (implicit rejection), so the caller learns nothing from the result.
 * Errors are only for malformed keys: an encapsulation key whose coefficients are not reduced
 * modulo q (FIPS 203 section 7.2), or a decapsulation key whose embedded hash does not match its
 * encapsulation key (section 7.3). */
#ifndef SHOAL_KEM_H
#define SHOAL_KEM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SH_MLKEM768_EK_BYTES 1184   /* encapsulation key */
#define SH_MLKEM768_DK_BYTES 2400   /* decapsulation key */
#define SH_MLKEM768_CT_BYTES 1088
#define SH_MLKEM768_SEED_BYTES 32   /* each of d, z (key generation) and m (encapsulation) */
#define SH_KEM_SS_BYTES      32

#define SH_XWING_EK_BYTES 1216      /* ML-KEM-768 ek || X25519 public key */
#define SH_XWING_DK_BYTES 32        /* the seed the whole key pair is derived from */
#define SH_XWING_CT_BYTES 1120      /* ML-KEM-768 ct || X25519 ephemeral public key */
#define SH_XWING_SEED_BYTES 32
#define SH_XWING_ESEED_BYTES 64

/* ML-KEM.KeyGen_internal(d, z) (FIPS 203 algorithm 16). */
int sh_mlkem768_keygen_derand(uint8_t ek[1184], uint8_t dk[2400], const uint8_t d[32],
                              const uint8_t z[32]);
/* ML-KEM.Encaps_internal(ek, m) (algorithm 17) after the encapsulation key check (section 7.2). */
int sh_mlkem768_encaps_derand(uint8_t ct[1088], uint8_t ss[32], const uint8_t ek[1184],
                              const uint8_t m[32]) __attribute__((warn_unused_result));
/* ML-KEM.Decaps(dk, c) (algorithms 18 and 21) after the decapsulation key check (section 7.3). */
int sh_mlkem768_decaps(uint8_t ss[32], const uint8_t ct[1088], const uint8_t dk[2400])
    __attribute__((warn_unused_result));
/* ML-KEM.KeyGen and ML-KEM.Encaps with randomness from libsodium's randombytes_buf. */
int sh_mlkem768_keygen(uint8_t ek[1184], uint8_t dk[2400]);
int sh_mlkem768_encaps(uint8_t ct[1088], uint8_t ss[32], const uint8_t ek[1184])
    __attribute__((warn_unused_result));

/* X-Wing: ek 1216, dk 32 (seed), ct 1120. */
int sh_xwing_keygen_derand(uint8_t ek[1216], uint8_t dk[32], const uint8_t seed[32]);
int sh_xwing_encaps_derand(uint8_t ct[1120], uint8_t ss[32], const uint8_t ek[1216],
                           const uint8_t eseed[64]) __attribute__((warn_unused_result));
int sh_xwing_decaps(uint8_t ss[32], const uint8_t ct[1120], const uint8_t dk[32])
    __attribute__((warn_unused_result));
int sh_xwing_keygen(uint8_t ek[1216], uint8_t dk[32]);
int sh_xwing_encaps(uint8_t ct[1120], uint8_t ss[32], const uint8_t ek[1216])
    __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif
#endif
