/* Benchmark of the recovery phrase: encodes and decodes per second, measured beside the limit
 * that matters when restoring an account, one Ed25519 key derivation (libsodium), so that
 * decoding a phrase costs a small fraction of making the keys it stands for. */
#include <sodium.h>
#include <stdio.h>

#include <shoal/identity.h>

#include "bench.h"

static volatile uint8_t sink;

static double encode_per_s(uint64_t n)
{
    uint8_t seed[SH_SEED_BYTES] = {1};
    char phrase[SH_PHRASE_MAX_BYTES];
    double t0 = bench_now_s();

    for (uint64_t i = 0; i < n; i++) {
        seed[i % SH_SEED_BYTES] ^= (uint8_t)i;
        if (sh_phrase_encode(phrase, sizeof phrase, seed) != SH_OK)
            return 0;
        sink ^= (uint8_t)phrase[0];
    }
    return (double)n / (bench_now_s() - t0);
}

static double decode_per_s(uint64_t n)
{
    enum { PHRASES = 64 };
    static char phrases[PHRASES][SH_PHRASE_MAX_BYTES];
    uint8_t seed[SH_SEED_BYTES];
    double t0;

    for (int i = 0; i < PHRASES; i++) {
        randombytes_buf(seed, sizeof seed);
        if (sh_phrase_encode(phrases[i], sizeof phrases[i], seed) != SH_OK)
            return 0;
    }
    t0 = bench_now_s();
    for (uint64_t i = 0; i < n; i++) {
        if (sh_phrase_decode(seed, phrases[i % PHRASES]) != SH_OK)
            return 0;
        sink ^= seed[0];
    }
    return (double)n / (bench_now_s() - t0);
}

static double keypair_per_s(uint64_t n)
{
    uint8_t seed[crypto_sign_SEEDBYTES] = {2}, pk[crypto_sign_PUBLICKEYBYTES],
            sk[crypto_sign_SECRETKEYBYTES];
    double t0 = bench_now_s();

    for (uint64_t i = 0; i < n; i++) {
        seed[i % 16] ^= (uint8_t)i;
        crypto_sign_seed_keypair(pk, sk, seed);
        sink ^= pk[0];
    }
    sodium_memzero(sk, sizeof sk);
    return (double)n / (bench_now_s() - t0);
}

int main(void)
{
    double enc, dec, keys;

    if (sh_identity_init() != SH_OK)
        return 1;
    enc = encode_per_s(bench_iters(400000));
    dec = decode_per_s(bench_iters(400000));
    keys = keypair_per_s(bench_iters(40000));
    if (enc == 0 || dec == 0)
        return 1;
    printf("recovery phrase, 13 words: %.0f encodes/s, %.0f decodes/s\n", enc, dec);
    printf("limit: one Ed25519 key pair from its seed (libsodium): %.0f/s\n", keys);
    printf("decoding a phrase costs %.3f of the key derivation it leads to\n", keys / dec);
    bench_report("phrase_encode_per_s", enc, "ops/s");
    bench_report("phrase_decode_per_s", dec, "ops/s");
    bench_report("ed25519_keypair_per_s", keys, "ops/s");
    bench_report("phrase_decode_vs_keypair", dec / keys, "x");
    return 0;
}
