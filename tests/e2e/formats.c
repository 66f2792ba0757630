/* Protocol V2 byte-level rules checked against vectors.json, which gen_vectors.py computes from
 * docs/protocol-v2.md with Python's hashlib/hmac alone (an independent implementation); then the
 * canonical-encoding rules of signed objects, every field-size check, and the erasure code from
 * every kind of chunk subset. Each case is its own process (argv[1]). */
#include "test.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include <shoal/identity.h>

#include "crypto/labels.h"
#include "e2e/internal.h"

static json_t *vectors(void)
{
    static char path[4096];
    const char *src = getenv("SHOAL_SOURCE_DIR");
    json_error_t err;
    json_t *v;

    snprintf(path, sizeof path, "%s/tests/e2e/vectors.json", src ? src : ".");
    v = json_load_file(path, 0, &err);
    if (v == NULL)
        test_fail(__FILE__, __LINE__, "%s: %s", path, err.text);
    return v;
}

static void pattern(uint8_t *out, size_t n, unsigned start)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(start + 7 * i);
}

static void check_hex(json_t *obj, const char *key, const uint8_t *got, size_t len)
{
    sh_buf want;

    sh_buf_init(&want);
    test_json_hex(obj, key, &want);
    CHECK_EQ(want.len, len);
    if (memcmp(want.data, got, len) != 0)
        test_fail(__FILE__, __LINE__, "%s differs from the reference", key);
    sh_buf_free(&want);
}

static void hex_of(json_t *obj, const char *key, uint8_t *out, size_t len)
{
    sh_buf b;

    sh_buf_init(&b);
    test_json_hex(obj, key, &b);
    CHECK_EQ(b.len, len);
    memcpy(out, b.data, len);
    sh_buf_free(&b);
}

static void kdf_vectors(json_t *v)
{
    json_t *o = json_object_get(v, "kdf_rk");
    uint8_t rk[32], ck[32], nhk[32], dh[32], mk[32], es[32];

    hex_of(o, "rk", rk, 32);
    hex_of(o, "dh", dh, 32);
    sh__e2e_kdf_rk(rk, ck, nhk, dh);
    check_hex(o, "rk_out", rk, 32);
    check_hex(o, "ck", ck, 32);
    check_hex(o, "nhk", nhk, 32);
    o = json_object_get(v, "kdf_ck");
    hex_of(o, "ck", ck, 32);
    for (size_t i = 0; i < json_array_size(json_object_get(o, "steps")); i++) {
        json_t *s = json_array_get(json_object_get(o, "steps"), i);
        sh__e2e_kdf_ck(ck, mk);
        check_hex(s, "mk", mk, 32);
        check_hex(s, "ck", ck, 32);
    }
    o = json_object_get(v, "message_key");
    hex_of(o, "epoch_secret", es, 32);
    hex_of(o, "mk_dr", dh, 32);
    sh__e2e_message_key(mk, dh, es, (uint32_t)json_integer_value(json_object_get(o, "epoch")));
    check_hex(o, "mk", mk, 32);
    o = json_object_get(v, "epoch_secret");
    {
        uint8_t prev[32], ss[32], out[32];
        uint8_t *ek = malloc(SH_MLKEM768_EK_BYTES), *ct = malloc(SH_MLKEM768_CT_BYTES);
        hex_of(o, "prev", prev, 32);
        hex_of(o, "ss", ss, 32);
        pattern(ek, SH_MLKEM768_EK_BYTES, 9);
        pattern(ct, SH_MLKEM768_CT_BYTES, 10);
        sh__e2e_epoch_kdf(out, prev, ss, 3, ek, ct);
        check_hex(o, "secret", out, 32);
        free(ek);
        free(ct);
    }
    o = json_object_get(v, "envelope_seed");
    {
        uint8_t seed[16], out[32];
        hex_of(o, "seed", seed, 16);
        CHECK_OK(sh__e2e_envelope_seed(out, seed, 2));
        check_hex(o, "out", out, 32);
    }
}

static void handshake_vectors(json_t *v)
{
    json_t *o = json_object_get(v, "handshake");
    uint8_t a_acc[32], a_ed[32], a_id[32], b_acc[32], b_ed[32], b_id[32], spk[32], th[32];
    uint8_t *pqspk = malloc(SH_MLKEM768_EK_BYTES), init_bytes[SH_E2E_INIT_BYTES], h[32];
    uint8_t dh1[32], dh2[32], dh3[32], ss[32];
    sh_e2e_party a = {a_acc, 1, a_ed, a_id}, b = {b_acc, 3, b_ed, b_id};
    sh_e2e_hs_init init, back;
    sh_e2e_hs_keys keys;

    pattern(a_acc, 32, 11);
    pattern(a_ed, 32, 12);
    pattern(a_id, 32, 13);
    pattern(b_acc, 32, 14);
    pattern(b_ed, 32, 15);
    pattern(b_id, 32, 16);
    pattern(spk, 32, 17);
    pattern(pqspk, SH_MLKEM768_EK_BYTES, 18);
    memset(&init, 0, sizeof init);
    init.spk_id = init.pqspk_id = 5;
    pattern(init.ephemeral, 32, 19);
    pattern(init.ct, SH_MLKEM768_CT_BYTES, 20);
    sh__e2e_hs_transcript(th, &a, &b, spk, pqspk, &init);
    check_hex(o, "th", th, 32);
    hex_of(o, "dh1", dh1, 32);
    hex_of(o, "dh2", dh2, 32);
    hex_of(o, "dh3", dh3, 32);
    hex_of(o, "ss", ss, 32);
    CHECK_OK(sh__e2e_hs_derive(&keys, th, dh1, dh2, dh3, ss));
    check_hex(o, "root", keys.root, 32);
    check_hex(o, "hk_initiator", keys.hk_initiator, 32);
    check_hex(o, "nhk_responder", keys.nhk_responder, 32);
    check_hex(o, "epoch0", keys.epoch0, 32);
    sh__e2e_hs_init_encode(&init, init_bytes);
    crypto_hash_sha256(h, init_bytes, sizeof init_bytes);
    check_hex(o, "init_sha256", h, 32);
    memset(&back, 0, sizeof back);
    CHECK_OK(sh__e2e_hs_init_decode(&back, init_bytes));
    CHECK(memcmp(&back, &init, sizeof init) == 0);
    init_bytes[0] = 2;
    CHECK_ERR(sh__e2e_hs_init_decode(&back, init_bytes), SH_ERR_UNSUPPORTED);
    free(pqspk);
}

static void header_vectors(json_t *v)
{
    json_t *o = json_object_get(v, "header");
    uint8_t out[SH_E2E_HEADER_BYTES], in[SH_E2E_HEADER_BYTES];
    sh_e2e_header h, back;

    memset(&h, 0, sizeof h);
    h.chunk_kind = SH_E2E_CHUNK_EK;
    pattern(h.dh, 32, 25);
    h.pn = 4;
    h.n = 9;
    h.epoch = 2;
    h.chunk_epoch = 3;
    h.chunk_index = 200;
    pattern(h.chunk, SH_E2E_CHUNK_BYTES, 26);
    sh__e2e_header_encode(&h, out);
    check_hex(o, "hex", out, sizeof out);
    memset(&back, 0, sizeof back);
    CHECK_OK(sh__e2e_header_decode(&back, out));
    CHECK(memcmp(&back, &h, sizeof h) == 0);
    memcpy(in, out, sizeof in);
    in[0] = 9;
    CHECK_ERR(sh__e2e_header_decode(&back, in), SH_ERR_UNSUPPORTED);
    memcpy(in, out, sizeof in);
    in[1] = 3;
    CHECK_ERR(sh__e2e_header_decode(&back, in), SH_ERR_FORMAT);
    in[1] = SH_E2E_CHUNK_NONE; /* no chunk, but chunk bytes */
    CHECK_ERR(sh__e2e_header_decode(&back, in), SH_ERR_FORMAT);
    CHECK_MSG("chunk bytes but no chunk");
}

static void erasure_vectors(json_t *v)
{
    json_t *o = json_object_get(v, "erasure"), *chunks = json_object_get(o, "chunks");
    uint8_t data[SH_MLKEM768_CT_BYTES], c[SH_E2E_CHUNK_BYTES];
    const char *key;
    json_t *val;

    pattern(data, sizeof data, 27);
    json_object_foreach(chunks, key, val) {
        sh_buf want;
        sh_buf_init(&want);
        test_hex(json_string_value(val), &want);
        sh__e2e_rs_chunk(data, sizeof data, (uint8_t)atoi(key), c);
        CHECK_EQ(want.len, SH_E2E_CHUNK_BYTES);
        CHECK_MEM(c, want.data, SH_E2E_CHUNK_BYTES);
        sh_buf_free(&want);
    }
}

static void link_vectors(json_t *v)
{
    json_t *o = json_object_get(v, "link_code");
    uint8_t acc[32], secret[16], acc2[32], secret2[16], bits[5];
    char code[SH_E2E_LINK_CODE_BYTES], sas[SH_E2E_SAS_BYTES];

    hex_of(o, "account", acc, 32);
    hex_of(o, "secret", secret, 16);
    CHECK_OK(sh__e2e_link_code_encode(code, acc, secret));
    CHECK_STR(code, test_json_str(o, "code"));
    CHECK_OK(sh__e2e_link_code_decode(acc2, secret2, code));
    CHECK_MEM(acc2, acc, 32);
    CHECK_MEM(secret2, secret, 16);
    for (char *p = code + 3; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p); /* lower case is accepted */
    CHECK_OK(sh__e2e_link_code_decode(acc2, secret2, code));
    code[5] = '1';
    CHECK_ERR(sh__e2e_link_code_decode(acc2, secret2, code), SH_ERR_FORMAT);
    o = json_object_get(v, "sas");
    hex_of(o, "bits", bits, 5);
    sh_e2e_sas_format(bits, sas);
    {
        /* The documented indices pick the emoji of the table in order. */
        json_t *idx = json_object_get(o, "indices");
        uint8_t one[5] = {0};
        char first[SH_E2E_SAS_BYTES];
        CHECK_EQ(json_array_size(idx), 6);
        sh_e2e_sas_format(one, first);
        CHECK(strncmp(first, "🐶 dog, 🐶 dog", strlen("🐶 dog, 🐶 dog")) == 0);
        CHECK(strlen(sas) > 6 * 5);
    }
}

static void slot_ad_vector(json_t *v)
{
    json_t *o = json_object_get(v, "slot_ad");
    uint8_t cert[200], conv[32], payload[300], ad[32];

    pattern(cert, sizeof cert, 32);
    pattern(conv, sizeof conv, 33);
    pattern(payload, sizeof payload, 34);
    sh__e2e_slot_ad(ad, cert, sizeof cert, conv, payload, sizeof payload, 6);
    check_hex(o, "ad", ad, 32);
}

static void all_vectors(void)
{
    json_t *v = vectors();

    kdf_vectors(v);
    handshake_vectors(v);
    header_vectors(v);
    erasure_vectors(v);
    link_vectors(v);
    slot_ad_vector(v);
    json_decref(v);
}

/* Any k distinct chunks rebuild the data: systematic only, parity only, mixed, wrapped indices. */
static void erasure_subsets(void)
{
    uint8_t data[SH_MLKEM768_EK_BYTES], out[SH_MLKEM768_EK_BYTES];
    uint8_t idx[SH_E2E_CHUNKS_MAX], chunks[SH_E2E_CHUNKS_MAX][SH_E2E_CHUNK_BYTES];
    size_t k = SH_E2E_CHUNKS_OF(sizeof data);

    test_random(data, sizeof data);
    for (int trial = 0; trial < 200; trial++) {
        bool used[256] = {false};
        for (size_t i = 0; i < k; i++) {
            uint8_t x;
            do
                test_random(&x, 1);
            while (used[x] || (trial < 3 && x >= k && trial == 0));
            used[x] = true;
            idx[i] = x;
            sh__e2e_rs_chunk(data, sizeof data, x, chunks[i]);
        }
        CHECK_OK(sh__e2e_rs_decode(out, sizeof out, idx, (const uint8_t(*)[SH_E2E_CHUNK_BYTES])chunks));
        CHECK_MEM(out, data, sizeof data);
    }
    idx[1] = idx[0];
    CHECK_ERR(sh__e2e_rs_decode(out, sizeof out, idx, (const uint8_t(*)[SH_E2E_CHUNK_BYTES])chunks),
              SH_ERR_INVALID);
}

static sh_revocations *malloc_rl(void)
{
    static sh_revocations *rl;

    if (rl == NULL)
        rl = malloc(sizeof *rl);
    CHECK(rl != NULL);
    return rl;
}

/* Signed objects: a list round-trips; a re-ordered, defaulted, unknown-field, wrong-label, wrong-
 * size or badly signed one is refused with its code. */
static void canonical(void)
{
    uint8_t seed[16];
    sh_e2e_device *d;
    sh_buf list, bad, body;
    sh_e2e_devlist *l = malloc(sizeof *l);
    Shoal__Signed *outer;

    test_random(seed, 16);
    CHECK_OK(sh_e2e_device_new_primary(&d, seed, 1000));
    sh_buf_init(&list);
    sh_buf_init(&bad);
    sh_buf_init(&body);
    CHECK_OK(sh_e2e_device_list(d, &list));
    CHECK_OK(sh__e2e_devlist_parse(l, list.data, list.len));
    CHECK_EQ(l->counter, 1);
    CHECK_EQ(l->n_devices, 1);
    /* The body starts with its label (field 1, a string). */
    outer = shoal__signed__unpack(NULL, list.len, list.data);
    CHECK(outer != NULL);
    CHECK_EQ(outer->body.data[0], 0x0a);
    CHECK_EQ(outer->body.data[1], strlen(SH_LABEL_E2E_DEVICE_LIST));
    CHECK_MEM(outer->body.data + 2, SH_LABEL_E2E_DEVICE_LIST, strlen(SH_LABEL_E2E_DEVICE_LIST));
    /* An unknown field appended to the wrapper. */
    CHECK_OK(sh_buf_append(&bad, list.data, list.len));
    CHECK_OK(sh_buf_append(&bad, "\x18\x01", 2));
    CHECK_ERR(sh__e2e_devlist_parse(l, bad.data, bad.len), SH_ERR_FORMAT);
    CHECK_MSG("fields this version does not know");
    /* Signature field before the body: same fields, not canonical. */
    sh_buf_reset(&bad);
    CHECK_OK(sh_buf_append(&bad, "\x12\x40", 2));
    CHECK_OK(sh_buf_append(&bad, outer->signature.data, 64));
    CHECK_OK(sh_buf_append_u8(&bad, 0x0a));
    {
        uint8_t var[5];
        size_t n = 0, len = outer->body.len;
        while (len >= 0x80) {
            var[n++] = (uint8_t)(len | 0x80);
            len >>= 7;
        }
        var[n++] = (uint8_t)len;
        CHECK_OK(sh_buf_append(&bad, var, n));
    }
    CHECK_OK(sh_buf_append(&bad, outer->body.data, outer->body.len));
    CHECK_ERR(sh__e2e_devlist_parse(l, bad.data, bad.len), SH_ERR_FORMAT);
    CHECK_MSG("canonical");
    /* A flipped signature bit. */
    sh_buf_reset(&bad);
    CHECK_OK(sh_buf_append(&bad, list.data, list.len));
    bad.data[bad.len - 1] ^= 1;
    CHECK_ERR(sh__e2e_devlist_parse(l, bad.data, bad.len), SH_ERR_CRYPTO);
    /* A short signature. */
    {
        Shoal__Signed s = SHOAL__SIGNED__INIT;
        s.body = outer->body;
        s.signature = outer->signature;
        s.signature.len = 63;
        sh_buf_reset(&bad);
        CHECK_OK(sh_wire_pack(&s.base, &bad));
        CHECK_ERR(sh__e2e_devlist_parse(l, bad.data, bad.len), SH_ERR_FORMAT);
        CHECK_MSG("not 64");
    }
    /* An empty body (found by fuzzing: no UB on zero-length input). */
    {
        Shoal__Signed s = SHOAL__SIGNED__INIT;
        s.signature = outer->signature;
        sh_buf_reset(&bad);
        CHECK_OK(sh_wire_pack(&s.base, &bad));
        CHECK_ERR(sh_revocations_parse(malloc_rl(), bad.data, bad.len), SH_ERR_FORMAT);
        CHECK_MSG("carries label");
    }
    /* A correctly signed body under another label is refused by its parser. */
    {
        Shoal__E2e__PrekeyBundle m = SHOAL__E2E__PREKEY_BUNDLE__INIT;
        uint8_t key[SH_MLKEM768_EK_BYTES] = {0};
        sh_e2e_bundle b;
        m.label = (char *)SH_LABEL_E2E_SENDER_CERT;
        m.account_ed25519_pk = sh_wire_bin(d->account_pk, 32);
        m.device_id = 1;
        m.device_ed25519_pk = sh_wire_bin(d->ed_pk, 32);
        m.spk_id = m.pqspk_id = 1;
        m.spk_x25519 = sh_wire_bin(key, 32);
        m.pqspk_mlkem = sh_wire_bin(key, sizeof key);
        sh_buf_reset(&bad);
        CHECK_OK(sh_wire_sign_pack(&m.base, d->ed_sk, &bad));
        CHECK_ERR(sh__e2e_bundle_parse(&b, bad.data, bad.len), SH_ERR_FORMAT);
        CHECK_MSG("expected \"shoal/e2e/prekey-bundle/v1\"");
        m.label = (char *)SH_LABEL_E2E_BUNDLE;
        m.spk_x25519.len = 31;
        sh_buf_reset(&bad);
        CHECK_OK(sh_wire_sign_pack(&m.base, d->ed_sk, &bad));
        CHECK_ERR(sh__e2e_bundle_parse(&b, bad.data, bad.len), SH_ERR_FORMAT);
        CHECK_MSG("signed X25519 prekey has 31 bytes");
        m.spk_x25519.len = 32;
        sh_buf_reset(&bad);
        CHECK_OK(sh_wire_sign_pack(&m.base, d->ed_sk, &bad));
        CHECK_OK(sh__e2e_bundle_parse(&b, bad.data, bad.len));
        CHECK_ERR(sh__e2e_bundle_parse(&b, list.data, list.len), SH_ERR_FORMAT);
    }
    /* Wrong key sizes and limits, signed correctly. */
    {
        sh_e2e_devlist *m = malloc(sizeof *m);
        *m = *l;
        m->n_devices = 0;
        sh_buf_reset(&bad);
        CHECK_OK(sh__e2e_devlist_sign(m, d->account, &bad));
        CHECK_ERR(sh__e2e_devlist_parse(l, bad.data, bad.len), SH_ERR_LIMIT);
        *m = *d->accounts[0]->list;
        m->devices[1] = m->devices[0];
        m->n_devices = 2;
        sh_buf_reset(&bad);
        CHECK_OK(sh__e2e_devlist_sign(m, d->account, &bad));
        CHECK_ERR(sh__e2e_devlist_parse(l, bad.data, bad.len), SH_ERR_FORMAT);
        CHECK_MSG("appears twice");
        *m = *d->accounts[0]->list;
        m->primary_id = 9;
        sh_buf_reset(&bad);
        CHECK_OK(sh__e2e_devlist_sign(m, d->account, &bad));
        CHECK_ERR(sh__e2e_devlist_parse(l, bad.data, bad.len), SH_ERR_FORMAT);
        CHECK_MSG("primary device 9");
        *m = *d->accounts[0]->list;
        m->n_revoked = SH_E2E_MAX_REVOKED + 1;
        sh_buf_reset(&bad);
        CHECK_ERR(sh__e2e_devlist_sign(m, d->account, &bad), SH_ERR_LIMIT);
        free(m);
    }
    /* Another account's key cannot sign our list. */
    {
        uint8_t seed2[16];
        sh_e2e_device *e;
        test_random(seed2, 16);
        CHECK_OK(sh_e2e_device_new_primary(&e, seed2, 1000));
        sh_buf_reset(&bad);
        CHECK_OK(sh__e2e_devlist_sign(d->accounts[0]->list, e->account, &bad));
        CHECK_ERR(sh__e2e_devlist_parse(l, bad.data, bad.len), SH_ERR_CRYPTO);
        sh_e2e_device_free(e);
    }
    sh_wire_free(outer);
    sh_buf_free(&list);
    sh_buf_free(&bad);
    sh_buf_free(&body);
    free(l);
    sh_e2e_device_free(d);
}

/* Envelope content: the parser refuses short, overlong, mis-padded and mis-versioned content. */
static void envelope_layout(void)
{
    uint8_t inner[8192];
    sh_e2e_inner v;
    size_t n = sh__e2e_inner_size(100, 0, 16);

    memset(inner, 0, sizeof inner);
    inner[0] = SH_E2E_INNER_VERSION;
    sh_store_u16be(inner + 1, 100);
    sh_store_u32be(inner + n - 20, 16);
    CHECK_OK(sh__e2e_inner_parse(&v, inner, n));
    CHECK_EQ(v.payload_len, 16);
    CHECK_OK(sh__e2e_inner_parse(&v, inner, n + 100)); /* zero padding */
    inner[n + 50] = 1;
    CHECK_ERR(sh__e2e_inner_parse(&v, inner, n + 100), SH_ERR_FORMAT);
    CHECK_MSG("padding");
    inner[n + 50] = 0;
    CHECK_ERR(sh__e2e_inner_parse(&v, inner, n - 1), SH_ERR_FORMAT);
    sh_store_u32be(inner + n - 20, 17);
    CHECK_ERR(sh__e2e_inner_parse(&v, inner, n), SH_ERR_FORMAT);
    sh_store_u32be(inner + n - 20, 16);
    sh_store_u16be(inner + 1, SH_E2E_CERT_MAX_BYTES + 1);
    CHECK_ERR(sh__e2e_inner_parse(&v, inner, sizeof inner), SH_ERR_FORMAT);
    sh_store_u16be(inner + 1, 100);
    inner[3 + 100 + 32] = SH_E2E_MAX_DEVICES + 1;
    CHECK_ERR(sh__e2e_inner_parse(&v, inner, sizeof inner), SH_ERR_FORMAT);
    inner[3 + 100 + 32] = 0;
    inner[0] = 7;
    CHECK_ERR(sh__e2e_inner_parse(&v, inner, n), SH_ERR_UNSUPPORTED);
    /* Buckets. */
    CHECK_EQ(sh__e2e_bucket_for(1), 3840);
    CHECK_EQ(sh__e2e_bucket_for(3840 - SH_E2E_OUTER_OVERHEAD), 3840);
    CHECK_EQ(sh__e2e_bucket_for(3840 - SH_E2E_OUTER_OVERHEAD + 1), 7936);
    CHECK_EQ(sh__e2e_bucket_for(7936 - SH_E2E_OUTER_OVERHEAD + 1), 16128);
    CHECK_EQ(sh__e2e_bucket_for(16128 - SH_E2E_OUTER_OVERHEAD + 1), 32512);
    CHECK_EQ(sh__e2e_bucket_for(SH_E2E_ENVELOPE_MAX_BYTES - SH_E2E_OUTER_OVERHEAD), SH_E2E_ENVELOPE_MAX_BYTES);
    CHECK_EQ(sh__e2e_bucket_for(SH_E2E_ENVELOPE_MAX_BYTES - SH_E2E_OUTER_OVERHEAD + 1), 0);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "";

    CHECK_OK(sh_identity_init());
    if (strcmp(which, "vectors") == 0)
        all_vectors();
    else if (strcmp(which, "erasure_subsets") == 0)
        erasure_subsets();
    else if (strcmp(which, "canonical") == 0)
        canonical();
    else if (strcmp(which, "envelope_layout") == 0)
        envelope_layout();
    else
        test_fail(__FILE__, __LINE__, "unknown case '%s'", which);
    return 0;
}
