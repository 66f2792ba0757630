/* Noise against the published transcripts for 25519_ChaChaPoly_SHA256 (cacophony and snow's
 * vector files, ../shared/vectors/noise/): every handshake message, the handshake hash, and the
 * transport messages after Split(), for XK (Shoal's links) and NN and IK (the same code paths).
 * Then the failures: tampering, truncation, a wrong responder key, out-of-turn use, rekeying. */
#include "test.h"

#include <sodium.h>

#include "crypto/crypto.h"
#include "net/noise.h"

static const char *const vector_files[] = {
    "noise/cacophony_NN_XK_IK_25519_ChaChaPoly_SHA256.json",
    "noise/snow_NN_XK_IK_25519_ChaChaPoly_SHA256.json",
};

static bool pattern_of(const char *name, sh_noise_pattern *p)
{
    if (strcmp(name, "Noise_NN_25519_ChaChaPoly_SHA256") == 0)
        *p = SH_NOISE_NN;
    else if (strcmp(name, "Noise_XK_25519_ChaChaPoly_SHA256") == 0)
        *p = SH_NOISE_XK;
    else if (strcmp(name, "Noise_IK_25519_ChaChaPoly_SHA256") == 0)
        *p = SH_NOISE_IK;
    else
        return false;
    return true;
}

/* Optional hex member: NULL when absent. */
static const uint8_t *opt_key(json_t *v, const char *key, sh_buf *buf)
{
    if (json_object_get(v, key) == NULL)
        return NULL;
    test_json_hex(v, key, buf);
    CHECK_EQ(buf->len, 32);
    return buf->data;
}

static void init_side(sh_noise_hs *hs, sh_noise_pattern p, bool initiator, json_t *v)
{
    const char *pre = initiator ? "init_" : "resp_";
    char key[64];
    sh_buf prologue, s, rs, e;

    sh_buf_init(&prologue);
    sh_buf_init(&s);
    sh_buf_init(&rs);
    sh_buf_init(&e);
    snprintf(key, sizeof key, "%sprologue", pre);
    test_json_hex(v, key, &prologue);
    snprintf(key, sizeof key, "%sstatic", pre);
    const uint8_t *s_sk = opt_key(v, key, &s);
    snprintf(key, sizeof key, "%sremote_static", pre);
    const uint8_t *rs_pk = opt_key(v, key, &rs);
    CHECK_OK(sh_noise_hs_init(hs, p, initiator, prologue.data, prologue.len, s_sk, rs_pk));
    snprintf(key, sizeof key, "%sephemeral", pre);
    test_json_hex(v, key, &e);
    sh__noise_hs_fix_ephemeral(hs, e.data);
    sh_buf_free(&prologue);
    sh_buf_free(&s);
    sh_buf_free(&rs);
    sh_buf_free(&e);
}

/* Runs one vector; returns the number of messages checked. */
static size_t run_vector(json_t *v, sh_noise_pattern p)
{
    sh_noise_hs init, resp;
    sh_noise_cipher itx, irx, rtx, rrx;
    json_t *msgs = json_object_get(v, "messages"), *m;
    sh_buf payload, expect, out, got;
    size_t i, n, checked = 0;

    init_side(&init, p, true, v);
    init_side(&resp, p, false, v);
    sh_buf_init(&payload);
    sh_buf_init(&expect);
    sh_buf_init(&out);
    sh_buf_init(&got);
    json_array_foreach(msgs, i, m) {
        bool from_init = i % 2 == 0;
        sh_noise_hs *w = from_init ? &init : &resp, *r = from_init ? &resp : &init;

        test_json_hex(m, "payload", &payload);
        test_json_hex(m, "ciphertext", &expect);
        sh_buf_reset(&out);
        sh_buf_reset(&got);
        CHECK_OK(sh_buf_reserve(&out, payload.len + 200));
        CHECK_OK(sh_buf_reserve(&got, expect.len + 1));
        if (!sh_noise_hs_done(&init)) {
            CHECK_OK(sh_noise_write_message(w, payload.data, payload.len, out.data, out.cap, &n));
            CHECK_EQ(n, expect.len);
            CHECK_MEM(out.data, expect.data, n);
            CHECK_OK(sh_noise_read_message(r, out.data, n, got.data, got.cap, &n));
            CHECK_EQ(n, payload.len);
            CHECK_MEM(got.data, payload.data, n);
            if (sh_noise_hs_done(&init)) {
                CHECK(sh_noise_hs_done(&resp));
                CHECK_MEM(init.h, resp.h, 32);
                if (json_object_get(v, "handshake_hash") != NULL) {
                    sh_buf hh;
                    sh_buf_init(&hh);
                    test_json_hex(v, "handshake_hash", &hh);
                    CHECK_MEM(init.h, hh.data, 32);
                    sh_buf_free(&hh);
                }
                CHECK_OK(sh_noise_split(&init, &itx, &irx));
                CHECK_OK(sh_noise_split(&resp, &rtx, &rrx));
            }
        } else {
            sh_noise_cipher *tx = from_init ? &itx : &rtx, *rx = from_init ? &rrx : &irx;

            CHECK_OK(sh_noise_encrypt(tx, NULL, 0, payload.data, payload.len, out.data));
            CHECK_EQ(payload.len + SH_NOISE_TAG_BYTES, expect.len);
            CHECK_MEM(out.data, expect.data, expect.len);
            CHECK_OK(sh_noise_decrypt(rx, NULL, 0, out.data, expect.len, got.data));
            CHECK_MEM(got.data, payload.data, payload.len);
        }
        checked++;
    }
    sh_buf_free(&payload);
    sh_buf_free(&expect);
    sh_buf_free(&out);
    sh_buf_free(&got);
    return checked;
}

static const uint8_t *rsk_global;

/* An initiator that believes the responder's key is resp_pk_seen, and the responder. */
static void xk_pair(sh_noise_hs *init, sh_noise_hs *resp, const uint8_t resp_pk_seen[32])
{
    uint8_t is[32];

    test_random(is, sizeof is);
    CHECK_OK(sh_noise_hs_init(init, SH_NOISE_XK, true, (const uint8_t *)"p", 1, is,
                              resp_pk_seen));
    CHECK_OK(sh_noise_hs_init(resp, SH_NOISE_XK, false, (const uint8_t *)"p", 1, rsk_global,
                              NULL));
}

static void test_failures(void)
{
    sh_noise_hs init, resp;
    uint8_t msg[256], pl[64], rsk[32], rpk[32], wrong[32];
    size_t n, pn;

    test_random(rsk, sizeof rsk);
    crypto_scalarmult_base(rpk, rsk);
    rsk_global = rsk;
    /* Missing keys and out-of-turn use. */
    CHECK_ERR(sh_noise_hs_init(&init, SH_NOISE_XK, true, NULL, 0, rsk, NULL), SH_ERR_INVALID);
    CHECK_MSG("responder's key");
    CHECK_ERR(sh_noise_hs_init(&init, SH_NOISE_XK, false, NULL, 0, NULL, NULL), SH_ERR_INVALID);
    CHECK_OK(sh_noise_hs_init(&resp, SH_NOISE_XK, false, NULL, 0, rsk, NULL));
    CHECK_ERR(sh_noise_write_message(&resp, NULL, 0, msg, sizeof msg, &n), SH_ERR_INVALID);

    /* Message sizes of Shoal's XK with empty payloads: 48, 48, 64. */
    xk_pair(&init, &resp, rpk);
    CHECK_EQ(sh_noise_next_message_len(&init), 48);
    CHECK_ERR(sh_noise_write_message(&init, NULL, 0, msg, 47, &n), SH_ERR_LIMIT);
    CHECK_OK(sh_noise_write_message(&init, NULL, 0, msg, sizeof msg, &n));
    CHECK_EQ(n, 48);
    /* Truncated msg1: too short for the payload tag. */
    CHECK_ERR(sh_noise_read_message(&resp, msg, 40, pl, sizeof pl, &pn), SH_ERR_PROTOCOL);
    /* Tampered msg1 (a bit of the tag). */
    xk_pair(&init, &resp, rpk);
    CHECK_OK(sh_noise_write_message(&init, NULL, 0, msg, sizeof msg, &n));
    msg[n - 1] ^= 1;
    CHECK_ERR(sh_noise_read_message(&resp, msg, n, pl, sizeof pl, &pn), SH_ERR_CRYPTO);
    CHECK_MSG("did not authenticate");
    /* The initiator believes in another responder key: msg1 does not authenticate. */
    test_random(wrong, sizeof wrong);
    xk_pair(&init, &resp, wrong);
    CHECK_OK(sh_noise_write_message(&init, NULL, 0, msg, sizeof msg, &n));
    CHECK_ERR(sh_noise_read_message(&resp, msg, n, pl, sizeof pl, &pn), SH_ERR_CRYPTO);
    /* A low-order ephemeral key from the peer is refused (all-zero DH output). */
    xk_pair(&init, &resp, rpk);
    memset(msg, 0, 48);
    CHECK_ERR(sh_noise_read_message(&resp, msg, 48, pl, sizeof pl, &pn), SH_ERR_CRYPTO);
    CHECK_MSG("low-order");
    /* A full handshake, then msg3 tampered (the encrypted static key). */
    xk_pair(&init, &resp, rpk);
    CHECK_OK(sh_noise_write_message(&init, NULL, 0, msg, sizeof msg, &n));
    CHECK_OK(sh_noise_read_message(&resp, msg, n, pl, sizeof pl, &pn));
    CHECK_OK(sh_noise_write_message(&resp, NULL, 0, msg, sizeof msg, &n));
    CHECK_OK(sh_noise_read_message(&init, msg, n, pl, sizeof pl, &pn));
    CHECK_OK(sh_noise_write_message(&init, NULL, 0, msg, sizeof msg, &n));
    CHECK_EQ(n, 64);
    msg[5] ^= 0x80;
    CHECK_ERR(sh_noise_read_message(&resp, msg, n, pl, sizeof pl, &pn), SH_ERR_CRYPTO);
    CHECK_MSG("static key");
    /* A payload larger than the reader's buffer. */
    xk_pair(&init, &resp, rpk);
    CHECK_OK(sh_noise_write_message(&init, (const uint8_t *)"0123456789", 10, msg, sizeof msg,
                                    &n));
    CHECK_ERR(sh_noise_read_message(&resp, msg, n, pl, 9, &pn), SH_ERR_LIMIT);
    sh_noise_hs_wipe(&init);
    sh_noise_hs_wipe(&resp);
}

static void test_rekey(void)
{
    sh_noise_cipher a, b;
    uint8_t ct[64], pt[48];
    const uint8_t msg[32] = "thirty-two bytes of a message..";

    memset(&a, 0, sizeof a);
    test_random(a.k, sizeof a.k);
    a.has_key = true;
    b = a;
    CHECK_OK(sh_noise_encrypt(&a, NULL, 0, msg, sizeof msg, ct));
    CHECK_OK(sh_noise_decrypt(&b, NULL, 0, ct, sizeof msg + 16, pt));
    /* Rekey keeps the nonce and changes the key: the old key no longer opens. */
    sh_noise_cipher old = b;
    sh_noise_rekey(&a);
    CHECK(memcmp(a.k, old.k, 32) != 0);
    CHECK_EQ(a.n, 1);
    CHECK_OK(sh_noise_encrypt(&a, NULL, 0, msg, sizeof msg, ct));
    CHECK_ERR(sh_noise_decrypt(&old, NULL, 0, ct, sizeof msg + 16, pt), SH_ERR_CRYPTO);
    CHECK_EQ(old.n, 1); /* a failed decryption does not advance the nonce */
    sh_noise_rekey(&b);
    CHECK_OK(sh_noise_decrypt(&b, NULL, 0, ct, sizeof msg + 16, pt));
    CHECK_MEM(pt, msg, sizeof msg);
    /* Rekey(k) = first 32 bytes of ENCRYPT(k, 2^64-1, "", 32 zero bytes), computed directly. */
    {
        uint8_t nonce[12] = {0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        uint8_t zeros[32] = {0}, out[48];
        sh_noise_cipher c = old;

        crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, zeros, 32, NULL, 0, NULL, nonce,
                                                  old.k);
        sh_noise_rekey(&c);
        CHECK_MEM(c.k, out, 32);
    }
    /* Replaying a transport message: the receiver's nonce has moved on. */
    CHECK_ERR(sh_noise_decrypt(&b, NULL, 0, ct, sizeof msg + 16, pt), SH_ERR_CRYPTO);
    /* A ciphertext shorter than the tag. */
    CHECK_ERR(sh_noise_decrypt(&b, NULL, 0, ct, 15, pt), SH_ERR_PROTOCOL);
    /* Nonce 2^64-1 is reserved. */
    a.n = UINT64_MAX;
    CHECK_ERR(sh_noise_encrypt(&a, NULL, 0, msg, sizeof msg, ct), SH_ERR_LIMIT);
}

int main(void)
{
    size_t per_pattern[3] = {0, 0, 0}, messages = 0;

    CHECK_OK(sh_crypto_init());
    for (size_t f = 0; f < sizeof vector_files / sizeof vector_files[0]; f++) {
        json_t *root = test_load_json(vector_files[f]), *v;
        size_t i;

        json_array_foreach(json_object_get(root, "vectors"), i, v) {
            sh_noise_pattern p;

            if (!pattern_of(test_json_str(v, "protocol_name"), &p))
                continue;
            messages += run_vector(v, p);
            per_pattern[p]++;
        }
        json_decref(root);
    }
    /* Both files hold one vector of each pattern. */
    CHECK_EQ(per_pattern[SH_NOISE_NN], 2);
    CHECK_EQ(per_pattern[SH_NOISE_XK], 2);
    CHECK_EQ(per_pattern[SH_NOISE_IK], 2);
    printf("noise: 6 vectors (NN, XK, IK x cacophony, snow), %zu messages\n", messages);
    test_failures();
    test_rekey();
    return 0;
}
