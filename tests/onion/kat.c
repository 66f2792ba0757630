/* Onion packets checked from first principles and pinned by a regression vector.
 *
 * First principles: for a 3-hop path built from a fixed seed, this test recomputes with libsodium
 * alone, following docs/onion.md and not the module's helpers, every hop's group element
 * (x_i * G), shared secret (y_i * alpha_i == x_i * Y_i), hop secret, replay tag, MAC, decrypted
 * routing information, blinding factor and next group element, reply key, one LIONESS layer, and
 * the destination's end-to-end AEAD, and compares them with what the module built and peeled.
 *
 * Regression vector: BLAKE2b-256 of a packet built from fixed inputs. It is this implementation's
 * own output, recorded to pin the format against accidental change; it is not an independent
 * vector (there is none for Shoal's format). Change it only together with SH_ONION_VERSION. */
#include "test.h"

#include <sodium.h>

#include "crypto/labels.h"
#include "fixture.h"

#define N 3

static void blake(uint8_t *out, size_t out_len, const uint8_t *key, const void *msg, size_t len)
{
    CHECK(crypto_generichash(out, out_len, msg, len, key, key ? 32 : 0) == 0);
}

static void kdf(uint8_t *out, size_t out_len, const uint8_t secret[32], const char *label)
{
    blake(out, out_len, secret, label, strlen(label));
}

/* LIONESS decryption written out from docs/onion.md. */
static void lioness_decrypt_by_hand(const uint8_t key[32], uint8_t *b, size_t len)
{
    uint8_t k[4][32], msg[64], h[32], ck[32], nonce[8] = {0};
    size_t label_len = strlen(SH_LABEL_ONION_LIONESS_ROUNDS);

    memcpy(msg, SH_LABEL_ONION_LIONESS_ROUNDS, label_len);
    msg[label_len] = 1;
    blake(k[0], 64, key, msg, label_len + 1);
    msg[label_len] = 2;
    blake(k[2], 64, key, msg, label_len + 1);
    for (int round = 3; round >= 0; round--) {
        if (round % 2 == 1) { /* L ^= H_K(R) */
            blake(h, 32, k[round], b + 32, len - 32);
            for (int i = 0; i < 32; i++)
                b[i] ^= h[i];
        } else { /* R ^= ChaCha20(L ^ K) */
            for (int i = 0; i < 32; i++)
                ck[i] = b[i] ^ k[round][i];
            crypto_stream_chacha20_xor(b + 32, b + 32, len - 32, nonce, ck);
        }
    }
}

static void check_hop_by_hand(const fixture_node *node, const sh_onion_hop *hops, size_t i,
                              const uint8_t x[32], const uint8_t *in, const uint8_t *out,
                              const sh_onion_peeled *peeled, uint8_t x_next[32])
{
    const uint8_t *alpha = in + 9;
    uint8_t a[32], dh[32], dh2[32], secret[32], v[64], mac[16], beta[SH__ONION_STREAM_BYTES];
    uint8_t nonce[8] = {0}, blind[32], next_alpha[32];
    crypto_generichash_state st;

    /* alpha_i = x_i * G, and both sides agree on the DH value. */
    CHECK(crypto_scalarmult_ristretto255_base(a, x) == 0);
    CHECK_MEM(alpha, a, 32);
    CHECK(crypto_scalarmult_ristretto255(dh, node->secret, alpha) == 0);
    CHECK(crypto_scalarmult_ristretto255(dh2, x, node->public_key) == 0);
    CHECK_MEM(dh, dh2, 32);
    /* hop secret = BLAKE2b-256(label || alpha || dh). */
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)SH_LABEL_ONION_HOP_SECRET,
                              strlen(SH_LABEL_ONION_HOP_SECRET));
    crypto_generichash_update(&st, alpha, 32);
    crypto_generichash_update(&st, dh, 32);
    crypto_generichash_final(&st, secret, 32);
    kdf(v, 16, secret, SH_LABEL_ONION_REPLAY_TAG);
    CHECK_MEM(v, peeled->tag, 16);
    /* gamma = BLAKE2b-128(mu, version || epoch || alpha || beta). */
    kdf(v, 32, secret, SH_LABEL_ONION_HEADER_MAC);
    crypto_generichash_init(&st, v, 32, 16);
    crypto_generichash_update(&st, in, 41);
    crypto_generichash_update(&st, in + 57, SH_ONION_BETA_BYTES);
    crypto_generichash_final(&st, mac, 16);
    CHECK_MEM(mac, in + 41, 16);
    CHECK_EQ(sh_load_u64be(in + 1), hops[i].epoch);
    /* Routing information: (beta || 0^64) XOR ChaCha20(rho). */
    kdf(v, 32, secret, SH_LABEL_ONION_HEADER_STREAM);
    memset(beta, 0, sizeof beta);
    memcpy(beta, in + 57, SH_ONION_BETA_BYTES);
    crypto_stream_chacha20_xor(beta, beta, sizeof beta, nonce, v);
    if (i + 1 < N) {
        CHECK_EQ(beta[0], SH_ONION_RELAY_NODE);
        CHECK_EQ(beta[1], SH_ONION_FLAG_REPLY);
        CHECK_EQ(sh_load_u32be(beta + 4), hops[i].reply_timeout_ms);
        CHECK_EQ(sh_load_u64be(beta + 8), hops[i + 1].epoch);
        CHECK_MEM(beta + 16, hops[i + 1].id, 32);
        /* The next header: its epoch, gamma and beta come from the decrypted stream. */
        CHECK_MEM(out + 1, beta + 8, 8);
        CHECK_MEM(out + 41, beta + 48, 16);
        CHECK_MEM(out + 57, beta + 64, SH_ONION_BETA_BYTES);
        kdf(v, 32, secret, SH_LABEL_ONION_REPLY_LAYER);
        CHECK_MEM(v, peeled->reply_key, 32);
    } else {
        CHECK_EQ(beta[0], SH_ONION_DELIVER);
        kdf(v, 32, secret, SH_LABEL_ONION_E2E_REQUEST);
        CHECK_MEM(v, peeled->request_key, 32);
        kdf(v, 32, secret, SH_LABEL_ONION_E2E_REPLY);
        CHECK_MEM(v, peeled->reply_key, 32);
    }
    /* b_i = reduce(BLAKE2b-512(secret, label)); alpha_{i+1} = b_i * alpha_i = x_{i+1} * G. */
    kdf(v, 64, secret, SH_LABEL_ONION_BLIND);
    crypto_core_ristretto255_scalar_reduce(blind, v);
    crypto_core_ristretto255_scalar_mul(x_next, x, blind);
    if (i + 1 < N) {
        CHECK(crypto_scalarmult_ristretto255(next_alpha, blind, alpha) == 0);
        CHECK_MEM(out + 9, next_alpha, 32);
        CHECK(crypto_scalarmult_ristretto255_base(a, x_next) == 0);
        CHECK_MEM(a, next_alpha, 32);
    }
    /* The payload layer: decrypting the incoming payload by hand gives the outgoing one. */
    kdf(v, 32, secret, SH_LABEL_ONION_REQUEST_LAYER);
    uint8_t payload[SH_ONION_BUCKET_1K];
    memcpy(payload, in + SH_ONION_HEADER_BYTES, sizeof payload);
    lioness_decrypt_by_hand(v, payload, sizeof payload);
    CHECK_MEM(payload, out + SH_ONION_HEADER_BYTES, sizeof payload);
}

static void build_fixed(const fixture_node *nodes, sh_onion_hop *hops, const uint8_t *msg,
                        size_t msg_len, sh_buf *pkt, sh_onion_client **st, uint8_t x[32])
{
    uint8_t seed[32], wide[64], m[64];
    size_t label_len = strlen(SH_LABEL_ONION_BUILD_SEED);

    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(0xa0 + i);
    fixture_path(nodes, N, hops);
    CHECK_OK(sh__onion_build_seeded(hops, N, msg, msg_len, SH_ONION_BUCKET_1K, seed, pkt, st));
    /* x = reduce(BLAKE2b-512(key = seed, label || 0x00)). */
    memcpy(m, SH_LABEL_ONION_BUILD_SEED, label_len);
    m[label_len] = 0;
    blake(wide, 64, seed, m, label_len + 1);
    crypto_core_ristretto255_scalar_reduce(x, wide);
}

static void test_first_principles(void)
{
    fixture_node nodes[N];
    sh_onion_hop hops[N];
    sh_onion_peeled peeled[N];
    sh_onion_client *st;
    sh_buf pkt;
    uint8_t x[32], x_next[32], in[SH_ONION_HEADER_BYTES + SH_ONION_BUCKET_1K], nonce[24] = {0};
    const char *msg = "first principles";
    uint8_t *payload;
    unsigned long long len;

    fixture_nodes(nodes, N);
    sh_buf_init(&pkt);
    build_fixed(nodes, hops, (const uint8_t *)msg, strlen(msg), &pkt, &st, x);
    CHECK_EQ(pkt.len, sizeof in);
    for (size_t i = 0; i < N; i++) {
        memcpy(in, pkt.data, sizeof in);
        CHECK_OK(sh_onion_peel(nodes[i].kr, nodes[i].rc, pkt.data, pkt.len, &peeled[i]));
        check_hop_by_hand(&nodes[i], hops, i, x, in, pkt.data, &peeled[i], x_next);
        memcpy(x, x_next, 32);
    }
    /* The destination's block: XChaCha20-Poly1305, zero nonce, no AD; len (u32 BE) || msg || 0s. */
    payload = pkt.data + SH_ONION_HEADER_BYTES;
    CHECK(crypto_aead_xchacha20poly1305_ietf_decrypt(payload, &len, NULL, payload,
                                                     SH_ONION_BUCKET_1K, NULL, 0, nonce,
                                                     peeled[N - 1].request_key) == 0);
    CHECK_EQ(len, SH_ONION_BUCKET_1K - 16);
    CHECK_EQ(sh_load_u32be(payload), strlen(msg));
    CHECK_MEM(payload + 4, msg, strlen(msg));
    for (size_t j = 4 + strlen(msg); j < len; j++)
        CHECK_EQ(payload[j], 0);
    sh_onion_client_free(st);
    sh_buf_free(&pkt);
    fixture_free(nodes, N);
}

static void test_regression_vector(void)
{
    /* REGRESSION VECTOR (our own output, see the file comment): BLAKE2b-256 of the 3-hop, 1 KiB
     * packet built from seed a0 a1 .. bf, the fixture's nodes and the message below. */
    static const char *expected =
        "2de7622df7137b764c892189c0c79102f16e7dd191ffc9fe3397f3f65fc2a9ac";
    fixture_node nodes[N];
    sh_onion_hop hops[N];
    sh_onion_client *st;
    sh_buf pkt, want;
    uint8_t x[32], h[32];
    char hex[65];
    const char *msg = "shoal onion regression vector v1";

    fixture_nodes(nodes, N);
    sh_buf_init(&pkt);
    sh_buf_init(&want);
    build_fixed(nodes, hops, (const uint8_t *)msg, strlen(msg), &pkt, &st, x);
    crypto_generichash(h, sizeof h, pkt.data, pkt.len, NULL, 0);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    test_hex(expected, &want);
    if (memcmp(h, want.data, 32) != 0)
        test_fail(__FILE__, __LINE__, "onion regression vector changed: got %s", hex);
    sh_onion_client_free(st);
    sh_buf_free(&pkt);
    sh_buf_free(&want);
    fixture_free(nodes, N);
}

int main(void)
{
    test_first_principles();
    test_regression_vector();
    return 0;
}
