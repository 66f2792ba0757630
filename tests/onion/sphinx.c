/* Sphinx packets end to end: build and peel for 1..5 hops in every bucket, the same length at
 * every hop, flipped bits rejected at the next hop (header) or destroying the payload (payload),
 * replays dropped, replies through every relay, and every bad input refused with its code. */
#include "test.h"

#include <sodium.h>

#include "fixture.h"

static fixture_node nodes[SH_ONION_MAX_HOPS];

static void fill_message(uint8_t *msg, size_t len)
{
    for (size_t i = 0; i < len; i++)
        msg[i] = (uint8_t)(i * 7 + 3);
}

/* Peels hops [from, to) of an n-hop packet in place, checking what each learns. */
static void peel_hops(const sh_onion_hop *hops, size_t n, size_t from, size_t to, uint8_t *pkt,
                      size_t len, sh_onion_peeled *peeled)
{
    for (size_t i = from; i < to; i++) {
        CHECK_OK(sh_onion_peel(nodes[i].kr, nodes[i].rc, pkt, len, &peeled[i]));
        CHECK_EQ(peeled[i].key_epoch, FIXTURE_EPOCH);
        if (i + 1 < n) {
            CHECK_EQ(peeled[i].command, SH_ONION_RELAY_NODE);
            CHECK_MEM(peeled[i].next_id, hops[i + 1].id, SH_ONION_ID_BYTES);
            CHECK_EQ(peeled[i].reply_timeout_ms, hops[i].reply_timeout_ms);
            CHECK_EQ(sh_load_u64be(pkt + SH__ONION_OFF_EPOCH), hops[i + 1].epoch);
        } else {
            CHECK_EQ(peeled[i].command, SH_ONION_DELIVER);
        }
        CHECK_EQ(peeled[i].flags, SH_ONION_FLAG_REPLY);
    }
}

static void peel_path(const sh_onion_hop *hops, size_t n, size_t from, uint8_t *pkt, size_t len,
                      sh_onion_peeled *peeled)
{
    peel_hops(hops, n, from, n, pkt, len, peeled);
}

static void test_round_trips(void)
{
    static uint8_t msg[SH_ONION_BUCKET_MAX], reply_msg[3000];
    sh_onion_hop hops[SH_ONION_MAX_HOPS];
    sh_onion_peeled peeled[SH_ONION_MAX_HOPS];
    sh_onion_client *st;
    sh_buf pkt, reply;
    const uint8_t *out;
    size_t out_len;

    sh_buf_init(&pkt);
    sh_buf_init(&reply);
    fill_message(msg, sizeof msg);
    fill_message(reply_msg, sizeof reply_msg);
    for (size_t n = 1; n <= SH_ONION_MAX_HOPS; n++) {
        for (size_t b = 0; b < SH_ONION_BUCKET_COUNT; b++) {
            size_t bucket = sh_onion_buckets[b], len = bucket - SH_ONION_E2E_OVERHEAD_BYTES - n;
            uint8_t first_alpha[SH_ONION_PUBLIC_KEY_BYTES];

            fixture_path(nodes, n, hops);
            CHECK_OK(sh_onion_build(hops, n, msg, len, &pkt, &st));
            CHECK_EQ(pkt.len, SH_ONION_HEADER_BYTES + bucket);
            memcpy(first_alpha, pkt.data + SH__ONION_OFF_ALPHA, sizeof first_alpha);
            peel_path(hops, n, 0, pkt.data, pkt.len, peeled);
            /* Every hop saw a fresh group element. */
            CHECK(n == 1 || memcmp(first_alpha, pkt.data + SH__ONION_OFF_ALPHA, 32) != 0);
            CHECK_OK(sh_onion_open_request(&peeled[n - 1], pkt.data + SH_ONION_HEADER_BYTES,
                                           bucket, &out, &out_len));
            CHECK_EQ(out_len, len);
            CHECK_MEM(out, msg, len);

            CHECK_OK(sh_onion_seal_reply(&peeled[n - 1], reply_msg, 100 * n + b, 0, &reply));
            CHECK_EQ(reply.len, SH_ONION_BUCKET_1K);
            for (size_t i = n - 1; i-- > 0;)
                CHECK_OK(sh_onion_wrap_reply(peeled[i].reply_key, reply.data, reply.len));
            CHECK_OK(sh_onion_open_reply(st, reply.data, reply.len, &out, &out_len));
            CHECK_EQ(out_len, 100 * n + b);
            CHECK_MEM(out, reply_msg, out_len);
            sh_onion_client_free(st);
            for (size_t i = 0; i < n; i++)
                sh_onion_peeled_wipe(&peeled[i]);
        }
    }
    sh_buf_free(&pkt);
    sh_buf_free(&reply);
}

/* Flips one bit of the header entering hop `at` of a 3-hop path, for every header byte. */
static void test_header_flips(size_t at)
{
    const size_t n = 3;
    sh_onion_hop hops[3];
    sh_onion_peeled peeled[3];
    sh_onion_client *st;
    sh_buf pkt, copy;
    uint8_t msg[10] = "flip test";

    sh_buf_init(&pkt);
    sh_buf_init(&copy);
    fixture_path(nodes, n, hops);
    for (size_t pos = 0; pos < SH_ONION_HEADER_BYTES; pos++) {
        int rc;

        CHECK_OK(sh_onion_build(hops, n, msg, sizeof msg, &pkt, &st));
        sh_onion_client_free(st);
        peel_hops(hops, n, 0, at, pkt.data, pkt.len, peeled);
        pkt.data[pos] ^= (uint8_t)(1u << (pos % 8));
        rc = sh_onion_peel(nodes[at].kr, nodes[at].rc, pkt.data, pkt.len, &peeled[at]);
        if (pos == SH__ONION_OFF_VERSION)
            CHECK_EQ(rc, SH_ERR_UNSUPPORTED);
        else if (pos < SH__ONION_OFF_ALPHA)
            CHECK_EQ(rc, SH_ERR_STALE); /* another epoch: no key for it */
        else
            CHECK_EQ(rc, SH_ERR_CRYPTO); /* alpha, gamma, beta: the MAC or the element */
    }
    sh_buf_free(&pkt);
    sh_buf_free(&copy);
}

/* Seeded packets repeat, so the tests that rebuild one start from empty caches. */
static void reset_caches(void)
{
    for (size_t i = 0; i < SH_ONION_MAX_HOPS; i++) {
        CHECK_OK(sh_onion_replay_close(nodes[i].rc));
        CHECK_OK(sh_onion_replay_open(NULL, 0, &nodes[i].rc));
    }
}

/* Flips one payload bit entering hop `at`: every hop still forwards (it cannot check), and the
 * destination's payload is destroyed as a whole, not tagged. */
static void test_payload_flips(size_t at)
{
    const size_t n = 3;
    const size_t positions[] = {0, 1, 31, 32, 33, 500, SH_ONION_BUCKET_1K - 17, SH_ONION_BUCKET_1K - 1};
    sh_onion_hop hops[3];
    sh_onion_peeled peeled[3];
    sh_onion_client *st;
    sh_buf pkt;
    uint8_t msg[100], clean[SH_ONION_BUCKET_1K], seed[32] = {9};
    const uint8_t *out;
    size_t out_len;

    sh_buf_init(&pkt);
    fill_message(msg, sizeof msg);
    fixture_path(nodes, n, hops);
    reset_caches();
    CHECK_OK(sh__onion_build_seeded(hops, n, msg, sizeof msg, SH_ONION_BUCKET_1K, seed, &pkt, &st));
    sh_onion_client_free(st);
    peel_path(hops, n, 0, pkt.data, pkt.len, peeled);
    memcpy(clean, pkt.data + SH_ONION_HEADER_BYTES, sizeof clean);
    for (size_t k = 0; k < sizeof positions / sizeof positions[0]; k++) {
        size_t differ = 0;

        reset_caches();
        CHECK_OK(sh__onion_build_seeded(hops, n, msg, sizeof msg, SH_ONION_BUCKET_1K, seed, &pkt,
                                        &st));
        sh_onion_client_free(st);
        peel_hops(hops, n, 0, at, pkt.data, pkt.len, peeled);
        pkt.data[SH_ONION_HEADER_BYTES + positions[k]] ^= 0x10;
        peel_path(hops, n, at, pkt.data, pkt.len, peeled);
        for (size_t j = 0; j < sizeof clean; j++)
            differ += clean[j] != pkt.data[SH_ONION_HEADER_BYTES + j];
        CHECK(differ > sizeof clean * 95 / 100); /* random-looking: ~255/256 of bytes change */
        CHECK_ERR(sh_onion_open_request(&peeled[n - 1], pkt.data + SH_ONION_HEADER_BYTES,
                                        SH_ONION_BUCKET_1K, &out, &out_len), SH_ERR_CRYPTO);
        CHECK_MSG("end-to-end");
    }
    sh_buf_free(&pkt);
}

static void test_replay(void)
{
    sh_onion_hop hops[2];
    sh_onion_peeled p;
    sh_onion_replay_stats stats;
    sh_onion_client *st;
    sh_buf pkt, copy;
    uint8_t msg[4] = "abc";

    sh_buf_init(&pkt);
    sh_buf_init(&copy);
    fixture_path(nodes, 2, hops);
    CHECK_OK(sh_onion_build(hops, 2, msg, sizeof msg, &pkt, &st));
    sh_onion_client_free(st);
    CHECK_OK(sh_buf_append(&copy, pkt.data, pkt.len));
    sh_onion_replay_stats_get(nodes[0].rc, &stats);
    CHECK_EQ(stats.replays, 0);
    CHECK_OK(sh_onion_peel(nodes[0].kr, nodes[0].rc, pkt.data, pkt.len, &p));
    CHECK_ERR(sh_onion_peel(nodes[0].kr, nodes[0].rc, copy.data, copy.len, &p), SH_ERR_REPLAY);
    CHECK_MSG("replayed");
    sh_onion_replay_stats_get(nodes[0].rc, &stats);
    CHECK_EQ(stats.replays, 1);
    /* The peeled packet is new to the next hop, but not twice. */
    CHECK_OK(sh_buf_append(&copy, pkt.data, pkt.len));
    CHECK_OK(sh_onion_peel(nodes[1].kr, nodes[1].rc, pkt.data, pkt.len, &p));
    CHECK_ERR(sh_onion_peel(nodes[1].kr, nodes[1].rc, copy.data + pkt.len, pkt.len, &p),
              SH_ERR_REPLAY);
    sh_buf_free(&pkt);
    sh_buf_free(&copy);
}

static void test_replies_rejected(void)
{
    const size_t n = 4;
    sh_onion_hop hops[4];
    sh_onion_peeled peeled[4];
    sh_onion_client *st;
    sh_buf pkt, reply;
    uint8_t msg[8] = "request", wrong[SH_ONION_KEY_BYTES];
    const uint8_t *out;
    size_t out_len;

    sh_buf_init(&pkt);
    sh_buf_init(&reply);
    fixture_path(nodes, n, hops);
    for (int variant = 0; variant < 5; variant++) {
        CHECK_OK(sh_onion_build(hops, n, msg, sizeof msg, &pkt, &st));
        peel_path(hops, n, 0, pkt.data, pkt.len, peeled);
        CHECK_OK(sh_onion_seal_reply(&peeled[n - 1], (const uint8_t *)"reply", 5, 0, &reply));
        for (size_t i = n - 1; i-- > 0;) {
            memcpy(wrong, peeled[i].reply_key, sizeof wrong);
            if (variant == 0 && i == 1)
                wrong[0] ^= 1;                         /* a wrong key for one layer */
            if (variant == 1 && i == 1)
                continue;                              /* a layer missing */
            CHECK_OK(sh_onion_wrap_reply(wrong, reply.data, reply.len));
            if (variant == 2 && i == 2)                /* a layer twice */
                CHECK_OK(sh_onion_wrap_reply(wrong, reply.data, reply.len));
        }
        if (variant == 3)
            reply.data[reply.len - 1] ^= 0x80;         /* a bit flipped on the last link */
        if (variant == 4) {                            /* layers in the wrong order */
            CHECK_OK(sh_onion_seal_reply(&peeled[n - 1], (const uint8_t *)"reply", 5, 0, &reply));
            for (size_t i = 0; i + 1 < n; i++)
                CHECK_OK(sh_onion_wrap_reply(peeled[i].reply_key, reply.data, reply.len));
        }
        CHECK_ERR(sh_onion_open_reply(st, reply.data, reply.len, &out, &out_len), SH_ERR_CRYPTO);
        sh_onion_client_free(st);
    }
    /* A reply whose size is not a bucket never reaches the keys. */
    CHECK_OK(sh_onion_build(hops, n, msg, sizeof msg, &pkt, &st));
    CHECK_ERR(sh_onion_open_reply(st, reply.data, reply.len - 1, &out, &out_len), SH_ERR_PROTOCOL);
    CHECK_ERR(sh_onion_wrap_reply(wrong, reply.data, 1000), SH_ERR_PROTOCOL);
    sh_onion_client_free(st);
    sh_buf_free(&pkt);
    sh_buf_free(&reply);
}

static void test_bad_inputs(void)
{
    static uint8_t big[SH_ONION_MESSAGE_MAX_BYTES + 1];
    sh_onion_hop hops[SH_ONION_MAX_HOPS + 1];
    sh_onion_peeled p, dest;
    sh_buf pkt, reply;
    const uint8_t *out;
    size_t out_len;

    sh_buf_init(&pkt);
    sh_buf_init(&reply);
    fixture_path(nodes, SH_ONION_MAX_HOPS, hops);
    hops[SH_ONION_MAX_HOPS] = hops[0];
    CHECK_ERR(sh_onion_build(hops, 0, big, 1, &pkt, NULL), SH_ERR_INVALID);
    CHECK_ERR(sh_onion_build(hops, SH_ONION_MAX_HOPS + 1, big, 1, &pkt, NULL), SH_ERR_INVALID);
    CHECK_MSG("1 to 5 hops");
    /* The largest message fits; one more byte does not. */
    CHECK_OK(sh_onion_build(hops, 1, big, SH_ONION_MESSAGE_MAX_BYTES, &pkt, NULL));
    CHECK_EQ(pkt.len, SH_ONION_PACKET_MAX_BYTES);
    CHECK_ERR(sh_onion_build(hops, 1, big, SH_ONION_MESSAGE_MAX_BYTES + 1, &pkt, NULL), SH_ERR_LIMIT);
    CHECK_ERR(sh_onion_build_bucket(hops, 1, big, 2000, SH_ONION_BUCKET_1K, &pkt, NULL),
              SH_ERR_INVALID);
    CHECK_ERR(sh_onion_build_bucket(hops, 1, big, 20, 2000, &pkt, NULL), SH_ERR_INVALID);
    CHECK_EQ(sh_onion_bucket_for(SH_ONION_BUCKET_1K - SH_ONION_E2E_OVERHEAD_BYTES), SH_ONION_BUCKET_1K);
    CHECK_EQ(sh_onion_bucket_for(SH_ONION_BUCKET_1K - SH_ONION_E2E_OVERHEAD_BYTES + 1),
             SH_ONION_BUCKET_4K);
    CHECK_EQ(sh_onion_bucket_for(SH_ONION_MESSAGE_MAX_BYTES + 1), 0);
    /* A hop key that is not a group element. */
    memset(hops[1].onion_key, 0xff, SH_ONION_PUBLIC_KEY_BYTES);
    CHECK_ERR(sh_onion_build(hops, 2, big, 1, &pkt, NULL), SH_ERR_INVALID);
    CHECK_MSG("hop 2");
    fixture_path(nodes, SH_ONION_MAX_HOPS, hops);

    /* Sizes that are not a header plus a bucket. */
    CHECK_OK(sh_onion_build(hops, 1, big, 10, &pkt, NULL));
    CHECK_ERR(sh_onion_peel(nodes[0].kr, nodes[0].rc, pkt.data, pkt.len - 1, &p), SH_ERR_PROTOCOL);
    CHECK_ERR(sh_onion_peel(nodes[0].kr, nodes[0].rc, pkt.data, 10, &p), SH_ERR_PROTOCOL);
    CHECK_ERR(sh_onion_peel(nodes[0].kr, nodes[0].rc, pkt.data, SH_ONION_HEADER_BYTES, &p),
              SH_ERR_PROTOCOL);
    /* A packet for another node fails its MAC there. */
    CHECK_ERR(sh_onion_peel(nodes[1].kr, nodes[1].rc, pkt.data, pkt.len, &p), SH_ERR_CRYPTO);
    /* An epoch the node does not hold. */
    hops[0].epoch = FIXTURE_EPOCH + 1;
    CHECK_OK(sh_onion_build(hops, 1, big, 10, &pkt, NULL));
    CHECK_ERR(sh_onion_peel(nodes[0].kr, nodes[0].rc, pkt.data, pkt.len, &p), SH_ERR_STALE);
    CHECK_MSG("epoch 8");
    /* The identity element as alpha. */
    hops[0].epoch = FIXTURE_EPOCH;
    CHECK_OK(sh_onion_build(hops, 1, big, 10, &pkt, NULL));
    memset(pkt.data + SH__ONION_OFF_ALPHA, 0, SH_ONION_PUBLIC_KEY_BYTES);
    CHECK_ERR(sh_onion_peel(nodes[0].kr, nodes[0].rc, pkt.data, pkt.len, &p), SH_ERR_CRYPTO);
    CHECK_MSG("group element");

    /* Relays neither open requests nor seal replies; a destination's reply has its limit. */
    CHECK_OK(sh_onion_build(hops, 2, big, 10, &pkt, NULL));
    CHECK_OK(sh_onion_peel(nodes[0].kr, nodes[0].rc, pkt.data, pkt.len, &p));
    CHECK_ERR(sh_onion_open_request(&p, pkt.data + SH_ONION_HEADER_BYTES, SH_ONION_BUCKET_1K, &out,
                                    &out_len), SH_ERR_INVALID);
    CHECK_ERR(sh_onion_seal_reply(&p, big, 1, 0, &reply), SH_ERR_INVALID);
    CHECK_OK(sh_onion_peel(nodes[1].kr, nodes[1].rc, pkt.data, pkt.len, &dest));
    CHECK_OK(sh_onion_seal_reply(&dest, big, SH_ONION_MESSAGE_MAX_BYTES, 0, &reply));
    CHECK_EQ(reply.len, SH_ONION_BUCKET_MAX);
    CHECK_ERR(sh_onion_seal_reply(&dest, big, SH_ONION_MESSAGE_MAX_BYTES + 1, 0, &reply),
              SH_ERR_LIMIT);
    CHECK_OK(sh_onion_seal_reply(&dest, big, 5, SH_ONION_BUCKET_16K, &reply));
    CHECK_EQ(reply.len, SH_ONION_BUCKET_16K);
    CHECK_ERR(sh_onion_seal_reply(&dest, big, 5, 5000, &reply), SH_ERR_LIMIT);
    CHECK_ERR(sh_onion_open_request(&dest, pkt.data + SH_ONION_HEADER_BYTES, 1000, &out, &out_len),
              SH_ERR_PROTOCOL);
    sh_buf_free(&pkt);
    sh_buf_free(&reply);
}

/* One-way packets (no reply state) carry no reply flag, and a relay asked for an absurd
 * deadline gets the maximum. */
static void test_flags_and_timeouts(void)
{
    sh_onion_hop hops[2];
    sh_onion_peeled p;
    sh_buf pkt;

    sh_buf_init(&pkt);
    fixture_path(nodes, 2, hops);
    hops[1].is_service = true;
    CHECK_OK(sh_onion_build(hops, 2, (const uint8_t *)"x", 1, &pkt, NULL));
    CHECK_OK(sh_onion_peel(nodes[0].kr, nodes[0].rc, pkt.data, pkt.len, &p));
    CHECK_EQ(p.flags, 0);
    CHECK_EQ(p.reply_timeout_ms, 0);
    CHECK_EQ(p.command, SH_ONION_RELAY_SERVICE);
    hops[0].reply_timeout_ms = UINT32_MAX;
    sh_onion_client *st;
    CHECK_OK(sh_onion_build(hops, 2, (const uint8_t *)"x", 1, &pkt, &st));
    CHECK_OK(sh_onion_peel(nodes[0].kr, nodes[0].rc, pkt.data, pkt.len, &p));
    CHECK_EQ(p.flags, SH_ONION_FLAG_REPLY);
    CHECK_EQ(p.reply_timeout_ms, SH_ONION_REPLY_TIMEOUT_MAX_MS);
    sh_onion_client_free(st);
    sh_buf_free(&pkt);
}

int main(void)
{
    fixture_nodes(nodes, SH_ONION_MAX_HOPS);
    test_round_trips();
    for (size_t at = 0; at < 3; at++) {
        test_header_flips(at);
        test_payload_flips(at);
    }
    test_replay();
    test_replies_rejected();
    test_bad_inputs();
    test_flags_and_timeouts();
    fixture_free(nodes, SH_ONION_MAX_HOPS);
    return 0;
}
