/* Internals of ML-KEM-768 (FIPS 203) shared by mlkem768_poly.c (arithmetic in R_q, NTT,
 * encodings, sampling) and mlkem768.c (K-PKE and the KEM). Polynomials hold int16_t coefficients
 * that are congruent to the true value modulo q; the bound each function expects or returns is
 * stated beside it. Exposed for the tests of the building blocks; not an API. */
#ifndef SH_CRYPTO_MLKEM768_INTERNAL_H
#define SH_CRYPTO_MLKEM768_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define SH_MLKEM_N 256
#define SH_MLKEM_Q 3329
#define SH_MLKEM_K 3
#define SH_MLKEM_ETA 2              /* eta1 = eta2 = 2 for ML-KEM-768 */
#define SH_MLKEM_DU 10
#define SH_MLKEM_DV 4
#define SH_MLKEM_POLY_BYTES 384     /* ByteEncode12 of one polynomial */
#define SH_MLKEM_POLYVEC_BYTES (SH_MLKEM_K * SH_MLKEM_POLY_BYTES)
#define SH_MLKEM_U_BYTES (SH_MLKEM_K * 32 * SH_MLKEM_DU)
#define SH_MLKEM_V_BYTES (32 * SH_MLKEM_DV)
#define SH_MLKEM_CBD_BYTES (64 * SH_MLKEM_ETA)

typedef struct sh_mlkem_poly {
    int16_t c[SH_MLKEM_N];
} sh_mlkem_poly;

typedef struct sh_mlkem_polyvec {
    sh_mlkem_poly p[SH_MLKEM_K];
} sh_mlkem_polyvec;

/* Field arithmetic: Barrett reduction to (-q/2, q/2]; Montgomery a*b/2^16 for |a*b| < q*2^15,
 * result in (-q, q); x mod q into [0, q) for |x| < 2^15. */
int16_t sh__mlkem_barrett(int16_t a);
int16_t sh__mlkem_fqmul(int16_t a, int16_t b);
int16_t sh__mlkem_freeze(int16_t a);

/* Algorithm 9, NTT: input |c| < q, output reduced to (-q/2, q/2]. */
void sh__mlkem_ntt(sh_mlkem_poly *p);
/* Algorithm 10, NTT^-1, also multiplying by 2^16 to undo one Montgomery factor: input |c| < q,
 * output |c| < q. */
void sh__mlkem_invntt(sh_mlkem_poly *p);
/* Algorithms 11 and 12 summed over a vector: r = sum_i a_i * b_i / 2^16 in T_q, for |a| < 2^15
 * and 0 <= b < q; output |c| < q. */
void sh__mlkem_polyvec_basemul_acc(sh_mlkem_poly *r, const sh_mlkem_polyvec *a,
                                   const sh_mlkem_polyvec *b);
void sh__mlkem_poly_add(sh_mlkem_poly *r, const sh_mlkem_poly *a);
void sh__mlkem_poly_sub(sh_mlkem_poly *r, const sh_mlkem_poly *a);
void sh__mlkem_poly_reduce(sh_mlkem_poly *p);
/* Multiplies every coefficient by 2^16 mod q (into the Montgomery domain); output |c| < q. */
void sh__mlkem_poly_tomont(sh_mlkem_poly *p);

/* Algorithm 5, ByteEncode12 (coefficients reduced to [0, q) first), and algorithm 6,
 * ByteDecode12, which returns each 12-bit value modulo q. */
void sh__mlkem_poly_encode12(uint8_t out[static SH_MLKEM_POLY_BYTES], const sh_mlkem_poly *p);
void sh__mlkem_poly_decode12(sh_mlkem_poly *p, const uint8_t in[static SH_MLKEM_POLY_BYTES]);
/* Section 7.2 modulus check of one encoded polynomial: 1 when every 12-bit value is below q. */
int sh__mlkem_poly_is_reduced(const uint8_t in[static SH_MLKEM_POLY_BYTES]);

/* Compress_d and Decompress_d (section 4.2.1) with ByteEncode_d / ByteDecode_d. */
uint16_t sh__mlkem_compress(int16_t x, unsigned d);
int16_t sh__mlkem_decompress(uint16_t y, unsigned d);
void sh__mlkem_poly_compress10(uint8_t out[static 320], const sh_mlkem_poly *p);
void sh__mlkem_poly_decompress10(sh_mlkem_poly *p, const uint8_t in[static 320]);
void sh__mlkem_poly_compress4(uint8_t out[static 128], const sh_mlkem_poly *p);
void sh__mlkem_poly_decompress4(sh_mlkem_poly *p, const uint8_t in[static 128]);
/* Decompress_1(ByteDecode_1(m)) and ByteEncode_1(Compress_1(p)). */
void sh__mlkem_poly_from_msg(sh_mlkem_poly *p, const uint8_t msg[static 32]);
void sh__mlkem_poly_to_msg(uint8_t msg[static 32], const sh_mlkem_poly *p);

/* Algorithm 7, SampleNTT(rho || j || i): a uniform polynomial in T_q from SHAKE128. */
void sh__mlkem_sample_ntt(sh_mlkem_poly *p, const uint8_t rho[static 32], uint8_t j, uint8_t i);
/* Algorithm 8 with eta = 2 over PRF_2(sigma, n) = SHAKE256(sigma || n, 128 bytes). */
void sh__mlkem_sample_cbd(sh_mlkem_poly *p, const uint8_t sigma[static 32], uint8_t n);

/* Decaps without the section 7.3 hash check, for a dk this process has just derived (X-Wing). */
void sh__mlkem768_decaps_unchecked(uint8_t ss[static 32], const uint8_t ct[static 1088],
                                   const uint8_t dk[static 2400]);

#endif
