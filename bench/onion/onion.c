/* Onion benchmarks on one core: the crypto limit of one relay hop (its two ristretto255 scalar
 * multiplications plus the symmetric work of one 1 KiB packet, called raw from libsodium), the
 * packets sh_onion_peel handles per second against that limit, and the 3-hop packets a client
 * builds per second. Limit and figure are measured alternately, in small chunks, in the same run. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "crypto/labels.h"
#include "onion/internal.h"

#define HOPS 3
#define ROUNDS 3

static uint8_t secrets[HOPS][32];
static sh_onion_hop hops[HOPS];
static sh_onion_keyring *keyring;
static volatile uint8_t sink;

static void setup(void)
{
    const sh_onion_epochs ep = {.epoch_ms = 60000, .overlap_ms = 1000};

    if (sodium_init() < 0 || sh_onion_keyring_new(&ep, &keyring) != SH_OK)
        abort();
    for (int i = 0; i < HOPS; i++) {
        crypto_core_ristretto255_scalar_random(secrets[i]);
        memset(&hops[i], 0, sizeof hops[i]);
        memset(hops[i].id, i + 1, sizeof hops[i].id);
        crypto_scalarmult_ristretto255_base(hops[i].onion_key, secrets[i]);
        hops[i].epoch = 1;
        hops[i].reply_timeout_ms = 10000;
    }
    if (sh__onion_keyring_set(keyring, SH_ONION_SLOT_CURRENT, 1, secrets[0]) != SH_OK)
        abort();
}

static void kdf(uint8_t *out, size_t len, const uint8_t key[32], const char *label)
{
    crypto_generichash(out, len, (const uint8_t *)label, strlen(label), key, 32);
}

/* One relay hop's crypto, raw: what sh_onion_peel cannot avoid doing. */
static void raw_hop(const uint8_t *header, uint8_t *payload, size_t bucket)
{
    static const uint8_t nonce[8];
    uint8_t dh[32], hs[32], k[32], wide[64], b[32], alpha[32], mac[16], beta[384], rk[128];
    crypto_generichash_state st;

    if (crypto_scalarmult_ristretto255(dh, secrets[0], header + SH__ONION_OFF_ALPHA) != 0)
        abort();
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, header + SH__ONION_OFF_ALPHA, 32);
    crypto_generichash_update(&st, dh, 32);
    crypto_generichash_final(&st, hs, 32);
    kdf(k, 32, hs, SH_LABEL_ONION_HEADER_MAC);
    crypto_generichash_init(&st, k, 32, 16);
    crypto_generichash_update(&st, header, SH__ONION_OFF_GAMMA);
    crypto_generichash_update(&st, header + SH__ONION_OFF_BETA, SH_ONION_BETA_BYTES);
    crypto_generichash_final(&st, mac, 16);
    kdf(k, 16, hs, SH_LABEL_ONION_REPLAY_TAG);
    kdf(k, 32, hs, SH_LABEL_ONION_HEADER_STREAM);
    memcpy(beta, header + SH__ONION_OFF_BETA, SH_ONION_BETA_BYTES);
    memset(beta + SH_ONION_BETA_BYTES, 0, sizeof beta - SH_ONION_BETA_BYTES);
    crypto_stream_chacha20_xor(beta, beta, sizeof beta, nonce, k);
    kdf(wide, 64, hs, SH_LABEL_ONION_BLIND);
    crypto_core_ristretto255_scalar_reduce(b, wide);
    if (crypto_scalarmult_ristretto255(alpha, b, header + SH__ONION_OFF_ALPHA) != 0)
        abort();
    kdf(k, 32, hs, SH_LABEL_ONION_REPLY_LAYER);
    kdf(k, 32, hs, SH_LABEL_ONION_REQUEST_LAYER);
    /* LIONESS: round keys, then stream, hash, stream, hash over the bucket. */
    crypto_generichash(rk, 64, (const uint8_t *)"r1", 2, k, 32);
    crypto_generichash(rk + 64, 64, (const uint8_t *)"r2", 2, k, 32);
    crypto_generichash(k, 32, payload + 32, bucket - 32, rk + 96, 32);
    crypto_stream_chacha20_xor(payload + 32, payload + 32, bucket - 32, nonce, rk + 64);
    crypto_generichash(k, 32, payload + 32, bucket - 32, rk + 32, 32);
    crypto_stream_chacha20_xor(payload + 32, payload + 32, bucket - 32, nonce, rk);
    sink ^= alpha[0] ^ mac[0] ^ beta[0] ^ k[0];
}

static uint8_t *make_packets(size_t n, size_t bucket)
{
    size_t plen = SH_ONION_HEADER_BYTES + bucket;
    uint8_t *all = malloc(n * plen), msg[512];
    sh_buf pkt;

    if (all == NULL)
        abort();
    memset(msg, 0x5a, sizeof msg);
    sh_buf_init(&pkt);
    for (size_t i = 0; i < n; i++) {
        if (sh_onion_build_bucket(hops, HOPS, msg, sizeof msg, bucket, &pkt, NULL) != SH_OK)
            abort();
        memcpy(all + i * plen, pkt.data, plen);
    }
    sh_buf_free(&pkt);
    return all;
}

/* Seconds for the raw hop over packets [from, to). */
static double limit_time(const uint8_t *packets, size_t from, size_t to, size_t bucket,
                         uint8_t *work)
{
    size_t plen = SH_ONION_HEADER_BYTES + bucket;
    double t0 = bench_now_s();

    for (size_t i = from; i < to; i++) {
        memcpy(work, packets + i * plen, plen);
        raw_hop(work, work + SH_ONION_HEADER_BYTES, bucket);
    }
    return bench_now_s() - t0;
}

/* Seconds for sh_onion_peel over packets [from, to). */
static double peel_time(const uint8_t *packets, size_t from, size_t to, size_t bucket,
                        uint8_t *work, sh_onion_replay *rc)
{
    size_t plen = SH_ONION_HEADER_BYTES + bucket;
    sh_onion_peeled p;
    double t0 = bench_now_s();

    for (size_t i = from; i < to; i++) {
        memcpy(work, packets + i * plen, plen);
        if (sh_onion_peel(keyring, rc, work, plen, &p) != SH_OK || p.command != SH_ONION_RELAY_NODE)
            abort();
    }
    t0 = bench_now_s() - t0;
    sh_onion_peeled_wipe(&p);
    return t0;
}

static double build_rate(size_t n)
{
    uint8_t msg[512];
    sh_onion_client *st;
    sh_buf pkt;
    double t0;

    memset(msg, 0x33, sizeof msg);
    sh_buf_init(&pkt);
    t0 = bench_now_s();
    for (size_t i = 0; i < n; i++) {
        if (sh_onion_build(hops, HOPS, msg, sizeof msg, &pkt, &st) != SH_OK)
            abort();
        sh_onion_client_free(st);
    }
    t0 = bench_now_s() - t0;
    sh_buf_free(&pkt);
    return (double)n / t0;
}

/* The machine is shared and noisy, so limit and peel alternate in chunks of CHUNK packets and
 * each figure is the total over all chunks, best of ROUNDS. */
#define CHUNK 50

static void peel_vs_limit(size_t bucket, size_t n, double *limit, double *peel)
{
    uint8_t *packets = make_packets(n, bucket), *work = malloc(SH_ONION_HEADER_BYTES + bucket);
    sh_onion_replay *rc;

    *limit = *peel = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double tl = 0, tp = 0;

        if (sh_onion_replay_open(NULL, 0, &rc) != SH_OK)
            abort();
        for (size_t i = 0; i < n; i += CHUNK) {
            size_t to = i + CHUNK < n ? i + CHUNK : n;

            tl += limit_time(packets, i, to, bucket, work);
            tp += peel_time(packets, i, to, bucket, work, rc);
        }
        sh_onion_replay_close(rc);
        *limit = (double)n / tl > *limit ? (double)n / tl : *limit;
        *peel = (double)n / tp > *peel ? (double)n / tp : *peel;
    }
    free(work);
    free(packets);
}

int main(void)
{
    size_t n = (size_t)bench_iters(3000);
    double limit, peel, build = 0;

    setup();
    peel_vs_limit(SH_ONION_BUCKET_1K, n, &limit, &peel);
    printf("one relay hop, 1 KiB bucket, one core: raw libsodium limit %.0f/s (%.1f us), "
           "sh_onion_peel %.0f/s (%.1f us)\n", limit, 1e6 / limit, peel, 1e6 / peel);
    bench_report("hop_crypto_limit_per_s", limit, "packets/s");
    bench_report("onion_peel_per_s", peel, "packets/s");
    bench_report("onion_peel_ratio", peel / limit, "ratio");
    for (int r = 0; r < ROUNDS; r++) {
        double b = build_rate((size_t)bench_iters(1000));
        build = b > build ? b : build;
    }
    printf("client builds of a 3-hop, 1 KiB packet with reply state: %.0f/s (%.1f us)\n", build,
           1e6 / build);
    bench_report("onion_build_per_s", build, "packets/s");
    peel_vs_limit(SH_ONION_BUCKET_64K, (size_t)bench_iters(400), &limit, &peel);
    printf("for people: 64 KiB bucket: raw limit %.0f/s, sh_onion_peel %.0f/s (ratio %.2f)\n", limit,
           peel, peel / limit);
    sh_onion_keyring_free(keyring);
    return 0;
}
