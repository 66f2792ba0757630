/* Wycheproof vectors for the libsodium primitives Shoal builds on: X25519, Ed25519 verification,
 * IETF ChaCha20-Poly1305, XChaCha20-Poly1305 and HMAC-SHA256. These pin the behaviour we rely on
 * (e.g. libsodium refusing an all-zero X25519 output, or strict Ed25519 verification). */
#include "test.h"

#include <sodium.h>

#include "crypto/crypto.h"

typedef void (*case_fn)(json_t *group, json_t *tc, bool valid, bool acceptable);

static size_t for_each_case(const char *file, case_fn fn)
{
    json_t *root = test_load_json(file);
    json_t *group, *tc;
    size_t gi, ti, n = 0;

    json_array_foreach(json_object_get(root, "testGroups"), gi, group) {
        json_array_foreach(json_object_get(group, "tests"), ti, tc) {
            const char *result = test_json_str(tc, "result");

            fn(group, tc, strcmp(result, "valid") == 0, strcmp(result, "acceptable") == 0);
            n++;
        }
    }
    CHECK_EQ(n, json_integer_value(json_object_get(root, "numberOfTests")));
    json_decref(root);
    return n;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;

    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static void x25519_case(json_t *group, json_t *tc, bool valid, bool acceptable)
{
    sh_buf pub, priv, shared;
    uint8_t out[crypto_scalarmult_BYTES];
    int rc;

    (void)group;
    sh_buf_init(&pub);
    sh_buf_init(&priv);
    sh_buf_init(&shared);
    test_json_hex(tc, "public", &pub);
    test_json_hex(tc, "private", &priv);
    test_json_hex(tc, "shared", &shared);
    CHECK_EQ(pub.len, 32);
    rc = crypto_scalarmult(out, priv.data, pub.data);
    if (all_zero(shared.data, shared.len))
        CHECK(rc != 0); /* libsodium refuses low-order results: we depend on it */
    else if (valid || rc == 0)
        CHECK(rc == 0 && memcmp(out, shared.data, 32) == 0);
    else
        CHECK(acceptable);
    sh_buf_free(&pub);
    sh_buf_free(&priv);
    sh_buf_free(&shared);
}

static void ed25519_case(json_t *group, json_t *tc, bool valid, bool acceptable)
{
    json_t *key = json_object_get(group, "publicKey");
    sh_buf pk, msg, sig;
    bool ok;

    (void)acceptable;
    sh_buf_init(&pk);
    sh_buf_init(&msg);
    sh_buf_init(&sig);
    test_json_hex(key, "pk", &pk);
    test_json_hex(tc, "msg", &msg);
    test_json_hex(tc, "sig", &sig);
    ok = pk.len == crypto_sign_PUBLICKEYBYTES && sig.len == crypto_sign_BYTES &&
         crypto_sign_verify_detached(sig.data, msg.data, msg.len, pk.data) == 0;
    if (ok != valid)
        test_fail(__FILE__, __LINE__, "ed25519 tcId %lld: verify %s, expected %s",
                  json_integer_value(json_object_get(tc, "tcId")), ok ? "accepted" : "rejected",
                  valid ? "valid" : "invalid");
    sh_buf_free(&pk);
    sh_buf_free(&msg);
    sh_buf_free(&sig);
}

typedef int (*aead_open_fn)(unsigned char *m, unsigned long long *mlen, unsigned char *nsec,
                            const unsigned char *c, unsigned long long clen,
                            const unsigned char *ad, unsigned long long adlen,
                            const unsigned char *npub, const unsigned char *k);
typedef int (*aead_seal_fn)(unsigned char *c, unsigned long long *clen, const unsigned char *m,
                            unsigned long long mlen, const unsigned char *ad,
                            unsigned long long adlen, const unsigned char *nsec,
                            const unsigned char *npub, const unsigned char *k);

static void aead_case(json_t *tc, bool valid, size_t nonce_bytes, aead_seal_fn seal,
                      aead_open_fn open)
{
    sh_buf key, iv, aad, msg, ct, tag, sealed, opened;
    unsigned long long n = 0;

    sh_buf_init(&key);
    sh_buf_init(&iv);
    sh_buf_init(&aad);
    sh_buf_init(&msg);
    sh_buf_init(&ct);
    sh_buf_init(&tag);
    sh_buf_init(&sealed);
    sh_buf_init(&opened);
    test_json_hex(tc, "key", &key);
    test_json_hex(tc, "iv", &iv);
    test_json_hex(tc, "aad", &aad);
    test_json_hex(tc, "msg", &msg);
    test_json_hex(tc, "ct", &ct);
    test_json_hex(tc, "tag", &tag);
    if (iv.len != nonce_bytes || key.len != 32) {
        CHECK(!valid); /* sizes libsodium cannot take are all invalid cases */
        goto done;
    }
    CHECK_OK(sh_buf_append(&sealed, ct.data, ct.len));
    CHECK_OK(sh_buf_append(&sealed, tag.data, tag.len));
    CHECK_OK(sh_buf_reserve(&opened, sealed.len + 1));
    bool ok = tag.len == 16 && open(opened.data, &n, NULL, sealed.data, sealed.len, aad.data,
                                    aad.len, iv.data, key.data) == 0;
    CHECK(ok == valid);
    if (valid) {
        CHECK(n == msg.len && (n == 0 || memcmp(opened.data, msg.data, msg.len) == 0));
        sh_buf_reset(&opened);
        CHECK_OK(sh_buf_reserve(&opened, msg.len + 16));
        CHECK(seal(opened.data, &n, msg.data, msg.len, aad.data, aad.len, NULL, iv.data,
                   key.data) == 0);
        CHECK(n == sealed.len && memcmp(opened.data, sealed.data, sealed.len) == 0);
    }
done:
    sh_buf_free(&key);
    sh_buf_free(&iv);
    sh_buf_free(&aad);
    sh_buf_free(&msg);
    sh_buf_free(&ct);
    sh_buf_free(&tag);
    sh_buf_free(&sealed);
    sh_buf_free(&opened);
}

static void chacha_case(json_t *group, json_t *tc, bool valid, bool acceptable)
{
    (void)group;
    (void)acceptable;
    aead_case(tc, valid, crypto_aead_chacha20poly1305_ietf_NPUBBYTES,
              crypto_aead_chacha20poly1305_ietf_encrypt, crypto_aead_chacha20poly1305_ietf_decrypt);
}

static void xchacha_case(json_t *group, json_t *tc, bool valid, bool acceptable)
{
    (void)group;
    (void)acceptable;
    aead_case(tc, valid, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
              crypto_aead_xchacha20poly1305_ietf_encrypt,
              crypto_aead_xchacha20poly1305_ietf_decrypt);
}

static void hmac_case(json_t *group, json_t *tc, bool valid, bool acceptable)
{
    size_t tag_bytes = (size_t)json_integer_value(json_object_get(group, "tagSize")) / 8;
    uint8_t out[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    sh_buf key, msg, tag;

    (void)acceptable;
    sh_buf_init(&key);
    sh_buf_init(&msg);
    sh_buf_init(&tag);
    test_json_hex(tc, "key", &key);
    test_json_hex(tc, "msg", &msg);
    test_json_hex(tc, "tag", &tag);
    crypto_auth_hmacsha256_init(&st, key.data, key.len);
    crypto_auth_hmacsha256_update(&st, msg.data, msg.len);
    crypto_auth_hmacsha256_final(&st, out);
    bool match = tag.len == tag_bytes && tag_bytes <= sizeof out &&
                 sodium_memcmp(out, tag.data, tag_bytes) == 0;
    CHECK(match == valid);
    sh_buf_free(&key);
    sh_buf_free(&msg);
    sh_buf_free(&tag);
}

int main(void)
{
    CHECK_OK(sh_crypto_init());
    printf("x25519: %zu cases\n", for_each_case("wycheproof/x25519_test.json", x25519_case));
    printf("ed25519: %zu cases\n", for_each_case("wycheproof/ed25519_test.json", ed25519_case));
    printf("chacha20-poly1305: %zu cases\n",
           for_each_case("wycheproof/chacha20_poly1305_test.json", chacha_case));
    printf("xchacha20-poly1305: %zu cases\n",
           for_each_case("wycheproof/xchacha20_poly1305_test.json", xchacha_case));
    printf("hmac-sha256: %zu cases\n", for_each_case("wycheproof/hmac_sha256_test.json", hmac_case));
    return 0;
}
