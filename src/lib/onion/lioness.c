/* A LIONESS-style wide-block cipher (Anderson & Biham, "Two Practical and Provably Secure Block
 * Ciphers: BEAR and LION", 1996) built from ChaCha20 and keyed BLAKE2b, for onion payloads: a
 * change of any bit of the block changes every bit of its decryption, so a hop cannot tag a
 * payload, only destroy it. The block is split into L (32 bytes, a ChaCha20 key's size) and R:
 *   R ^= ChaCha20(L ^ K1);  L ^= BLAKE2b-256_K2(R);  R ^= ChaCha20(L ^ K3);  L ^= BLAKE2b-256_K4(R)
 * K1..K4 = BLAKE2b-512(key = layer key, LABEL_LIONESS_ROUNDS || i), i = 1, 2, as 4 x 32 bytes.
 * Each ChaCha20 key L ^ Ki is used once per block, so a zero nonce is safe. */
#include "onion/internal.h"

#include <sodium.h>
#include <string.h>

#include "crypto/labels.h"

#define HALF_BYTES 32
_Static_assert(crypto_stream_chacha20_KEYBYTES == HALF_BYTES, "L is one ChaCha20 key");

typedef struct round_keys {
    uint8_t k[4][HALF_BYTES];
} round_keys;

static void derive_rounds(round_keys *rk, const uint8_t key[static SH_ONION_KEY_BYTES])
{
    crypto_generichash_state st;

    for (uint8_t i = 1; i <= 2; i++) {
        crypto_generichash_init(&st, key, SH_ONION_KEY_BYTES, 2 * HALF_BYTES);
        crypto_generichash_update(&st, (const uint8_t *)SH_LABEL_ONION_LIONESS_ROUNDS,
                                  strlen(SH_LABEL_ONION_LIONESS_ROUNDS));
        crypto_generichash_update(&st, &i, 1);
        crypto_generichash_final(&st, rk->k[2 * (i - 1)], 2 * HALF_BYTES);
    }
    sodium_memzero(&st, sizeof st);
}

/* R ^= ChaCha20(L ^ K). */
static void stream_round(uint8_t *block, size_t len, const uint8_t k[static HALF_BYTES])
{
    static const uint8_t zero_nonce[crypto_stream_chacha20_NONCEBYTES];
    uint8_t key[HALF_BYTES];

    for (size_t i = 0; i < HALF_BYTES; i++)
        key[i] = block[i] ^ k[i];
    crypto_stream_chacha20_xor(block + HALF_BYTES, block + HALF_BYTES, len - HALF_BYTES,
                               zero_nonce, key);
    sodium_memzero(key, sizeof key);
}

/* L ^= BLAKE2b-256_K(R). */
static void hash_round(uint8_t *block, size_t len, const uint8_t k[static HALF_BYTES])
{
    uint8_t h[HALF_BYTES];

    crypto_generichash(h, sizeof h, block + HALF_BYTES, len - HALF_BYTES, k, HALF_BYTES);
    for (size_t i = 0; i < HALF_BYTES; i++)
        block[i] ^= h[i];
    sodium_memzero(h, sizeof h);
}

void sh__onion_lioness_encrypt(const uint8_t key[static SH_ONION_KEY_BYTES], uint8_t *block,
                               size_t len)
{
    round_keys rk;

    derive_rounds(&rk, key);
    stream_round(block, len, rk.k[0]);
    hash_round(block, len, rk.k[1]);
    stream_round(block, len, rk.k[2]);
    hash_round(block, len, rk.k[3]);
    sodium_memzero(&rk, sizeof rk);
}

void sh__onion_lioness_decrypt(const uint8_t key[static SH_ONION_KEY_BYTES], uint8_t *block,
                               size_t len)
{
    round_keys rk;

    derive_rounds(&rk, key);
    hash_round(block, len, rk.k[3]);
    stream_round(block, len, rk.k[2]);
    hash_round(block, len, rk.k[1]);
    stream_round(block, len, rk.k[0]);
    sodium_memzero(&rk, sizeof rk);
}
