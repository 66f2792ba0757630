/* SHA-3 and SHAKE (FIPS 202): SHA3-256, SHA3-512, SHAKE128 and SHAKE256, one-shot and incremental.
 * Incremental use: init, absorb any number of times, then either final (SHA3) or squeeze any
 * number of times (SHAKE); absorbing after the first squeeze is a bug and is ignored. Wipe a state
 * that saw secrets with sh_keccak_wipe. These never fail. */
#ifndef SH_CRYPTO_SHA3_H
#define SH_CRYPTO_SHA3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SH_SHA3_256_BYTES 32
#define SH_SHA3_512_BYTES 64
#define SH_SHAKE128_RATE 168 /* bytes per Keccak-f call: (1600 - 2 * 128) / 8 */
#define SH_SHAKE256_RATE 136
#define SH_SHA3_256_RATE 136
#define SH_SHA3_512_RATE 72

typedef struct sh_keccak {
    uint64_t lanes[25];
    unsigned rate;      /* bytes absorbed or squeezed per permutation */
    unsigned pos;       /* bytes of the current block already absorbed or squeezed */
    uint8_t suffix;     /* domain bits and the first padding bit: 0x06 SHA-3, 0x1f SHAKE */
    bool squeezing;
} sh_keccak;

void sh_sha3_256_init(sh_keccak *st);
void sh_sha3_512_init(sh_keccak *st);
void sh_shake128_init(sh_keccak *st);
void sh_shake256_init(sh_keccak *st);
void sh_keccak_absorb(sh_keccak *st, const uint8_t *in, size_t len);
/* SHAKE output; the first call pads and ends absorbing. */
void sh_keccak_squeeze(sh_keccak *st, uint8_t *out, size_t len);
void sh_sha3_256_final(sh_keccak *st, uint8_t out[static SH_SHA3_256_BYTES]);
void sh_sha3_512_final(sh_keccak *st, uint8_t out[static SH_SHA3_512_BYTES]);
void sh_keccak_wipe(sh_keccak *st);

void sh_sha3_256(uint8_t out[static SH_SHA3_256_BYTES], const uint8_t *in, size_t len);
void sh_sha3_512(uint8_t out[static SH_SHA3_512_BYTES], const uint8_t *in, size_t len);
void sh_shake128(uint8_t *out, size_t out_len, const uint8_t *in, size_t len);
void sh_shake256(uint8_t *out, size_t out_len, const uint8_t *in, size_t len);

/* Keccak-f[1600] on 25 lanes (keccak.c). */
void sh__keccak_f1600(uint64_t lanes[static 25]);
/* Squeezes whole blocks straight from the state: `blocks` * rate bytes. Only at a block boundary
 * (right after init + absorb + one squeeze of whole blocks, as ML-KEM's SampleNTT does). */
void sh__keccak_squeeze_blocks(sh_keccak *st, uint8_t *out, size_t blocks);

#endif
