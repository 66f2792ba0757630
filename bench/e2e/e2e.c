/* Protocol V2 benchmarks on one core, beside Session V1's cost model measured in the same run:
 *   v2_handshake_per_s        full hybrid handshakes (initiator and responder side, with the
 *                             Double Ratchet set-up) per second
 *   v2_msg_roundtrip_per_s    1 KiB messages encrypted into a sealed envelope and opened again
 *                             per second (one device each side, directions alternating, so DH
 *                             ratchet steps and post-quantum epochs happen as in a conversation)
 *   v2_overhead_bytes_per_msg envelope bytes beyond the 1 KiB payload (bucket padding included)
 *   v2_overhead_bytes_per_handshake  the handshake entry a first message carries
 *   v1_model_msg_per_s        Session V1's per-message cost: crypto_box_seal + Ed25519 sign, then
 *                             crypto_box_seal_open + Ed25519 verify, over the same 1 KiB
 * and the ratio of the two message rates. Figures and limit alternate in rounds. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "crypto/crypto.h"
#include "e2e/internal.h"

#define PAYLOAD 1024
#define NOW 1700000000000LL
#define ROUNDS 3

static sh_e2e_device *a, *b;
static sh_e2e_bundle bundle;
static volatile uint8_t sink;

static void need(int rc)
{
    if (rc != SH_OK) {
        fprintf(stderr, "bench-e2e: %s\n", sh_err_msg());
        exit(1);
    }
}

static void setup(void)
{
    uint8_t s1[16], s2[16];
    sh_buf l, bb;

    memset(s1, 1, 16);
    memset(s2, 2, 16);
    need(sh_e2e_device_new_primary(&a, s1, NOW));
    need(sh_e2e_device_new_primary(&b, s2, NOW));
    sh_buf_init(&l);
    sh_buf_init(&bb);
    need(sh_e2e_device_list(a, &l));
    need(sh_e2e_device_learn_list(b, l.data, l.len, NOW));
    sh_buf_reset(&l);
    need(sh_e2e_device_list(b, &l));
    need(sh_e2e_device_learn_list(a, l.data, l.len, NOW));
    need(sh_e2e_device_bundle(b, NOW, &bb));
    need(sh_e2e_device_learn_bundle(a, bb.data, bb.len, NOW));
    need(sh__e2e_bundle_parse(&bundle, bb.data, bb.len));
    sh_buf_reset(&bb);
    need(sh_e2e_device_bundle(a, NOW, &bb));
    need(sh_e2e_device_learn_bundle(b, bb.data, bb.len, NOW));
    sh_buf_free(&l);
    sh_buf_free(&bb);
}

static void party(const sh_e2e_device *d, sh_e2e_party *p)
{
    p->account = d->account_pk;
    p->device_id = d->device_id;
    p->device_ed = d->ed_pk;
    p->identity_x = d->x_pk;
}

static double handshakes(uint64_t n)
{
    static const uint8_t zeros[32];
    sh_e2e_party pa, pb;
    sh_e2e_prekey *pk = b->prekeys[0];
    double t0 = bench_now_s();

    party(a, &pa);
    party(b, &pb);
    for (uint64_t i = 0; i < n; i++) {
        sh_e2e_session *si, *sr;
        sh_e2e_hs_init init;
        sh_e2e_hs_keys keys;
        uint8_t th[32];
        need(sh__e2e_session_new_initiator(&si, &pa, a->x_sk, &pb, &bundle, zeros, NOW));
        need(sh__e2e_hs_init_decode(&init, si->init));
        need(sh__e2e_hs_respond(&pb, b->x_sk, &pa, pk->spk_sk, pk->spk_pk, pk->pq_seed, pk->pq_ek,
                                &init, &keys, th));
        need(sh__e2e_session_new_responder(&sr, &pa, &keys, th, &init, pk->spk_sk, pk->spk_pk, NOW));
        sink ^= sr->th[0] ^ si->th[0];
        sh__e2e_session_free(si);
        sh__e2e_session_free(sr);
    }
    return (double)n / (bench_now_s() - t0);
}

static size_t last_envelope;

static double v2_messages(uint64_t n)
{
    static uint8_t payload[PAYLOAD];
    sh_buf r, s;
    double t0 = bench_now_s();

    sh_buf_init(&r);
    sh_buf_init(&s);
    for (uint64_t i = 0; i < n; i++) {
        sh_e2e_device *from = (i / 3) % 2 ? b : a, *to = from == a ? b : a;
        sh_e2e_received got;
        sh_buf_reset(&r);
        need(sh_e2e_send(from, sh_e2e_device_account(to), payload, sizeof payload, NOW, &r, &s));
        need(sh_e2e_receive(to, r.data, r.len, NOW, &got));
        sink ^= got.payload.data[0];
        last_envelope = r.len;
        sh_buf_free(&got.payload);
    }
    sh_buf_free(&r);
    sh_buf_free(&s);
    return (double)n / (bench_now_s() - t0);
}

static double v1_model(uint64_t n)
{
    static uint8_t payload[PAYLOAD];
    uint8_t pk[32], sk[32], spk[32], ssk[64], sig[64];
    uint8_t sealed[PAYLOAD + 64 + crypto_box_SEALBYTES], opened[PAYLOAD + 64];
    double t0;

    crypto_box_keypair(pk, sk);
    crypto_sign_keypair(spk, ssk);
    t0 = bench_now_s();
    for (uint64_t i = 0; i < n; i++) {
        /* Session V1: sign the plaintext, box-seal plaintext and signature to the recipient. */
        crypto_sign_detached(sig, NULL, payload, sizeof payload, ssk);
        memcpy(opened, payload, sizeof payload);
        memcpy(opened + sizeof payload, sig, 64);
        crypto_box_seal(sealed, opened, sizeof opened, pk);
        if (crypto_box_seal_open(opened, sealed, sizeof sealed, pk, sk) != 0 ||
            crypto_sign_verify_detached(opened + PAYLOAD, opened, PAYLOAD, spk) != 0)
            abort();
        sink ^= opened[0];
    }
    return (double)n / (bench_now_s() - t0);
}

int main(void)
{
    double hs = 0, v2 = 0, v1 = 0;
    uint64_t n_hs = bench_iters(400), n_msg = bench_iters(2000), n_v1 = bench_iters(4000);

    need(sh_crypto_init());
    setup();
    v2_messages(10); /* sessions up and acknowledged */
    for (int r = 0; r < ROUNDS; r++) {
        double x;
        if ((x = v1_model(n_v1)) > v1)
            v1 = x;
        if ((x = v2_messages(n_msg)) > v2)
            v2 = x;
        if ((x = handshakes(n_hs)) > hs)
            hs = x;
    }
    printf("Protocol V2, one core, best of %d rounds; Session V1's model beside it\n", ROUNDS);
    printf("  handshakes (both sides, hybrid X25519 + ML-KEM-768): %.0f /s\n", hs);
    printf("  1 KiB messages sealed + opened (X-Wing envelope, ratchets): %.0f /s\n", v2);
    printf("  Session V1 model (box_seal + sign, open + verify): %.0f /s; V2/V1 = %.2f\n", v1, v2 / v1);
    printf("  envelope of a 1 KiB message: %zu bytes (bucket); overhead %zu bytes; a handshake "
           "adds %d bytes; V1 adds %d\n", last_envelope, last_envelope - PAYLOAD,
           SH_E2E_INIT_ENTRY_BYTES, 64 + crypto_box_SEALBYTES);
    bench_report("v2_handshake_per_s", hs, "handshakes/s");
    bench_report("v2_msg_roundtrip_per_s", v2, "msg/s");
    bench_report("v2_overhead_bytes_per_msg", (double)(last_envelope - PAYLOAD), "bytes");
    bench_report("v2_overhead_bytes_per_handshake", SH_E2E_INIT_ENTRY_BYTES, "bytes");
    bench_report("v1_model_msg_per_s", v1, "msg/s");
    bench_report("v2_vs_v1_msg_ratio", v2 / v1, "ratio");
    sh_e2e_device_free(a);
    sh_e2e_device_free(b);
    return 0;
}
