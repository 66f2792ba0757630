/* The storage API's bytes against vectors.json, which gen_vectors.py writes from the document
 * with Python's hashlib and `cryptography` and a hand-written protobuf encoder (no Shoal code):
 * signed and unsigned requests of four methods parse to the values they were made from and
 * verify at their timestamp; the owner is the Session ID of the signer's account; the proof of
 * work hash, its bit count and the first solving nonce match. Our encoder, given the same values
 * and nonce, writes the same body bytes up to the signature (Ed25519 is deterministic, so the
 * whole body matches). */
#include "node/internal.h"
#include "test.h"

static json_t *vec;

static json_t *load(void)
{
    char path[4096];
    const char *src = getenv("SHOAL_SOURCE_DIR");
    json_error_t err;
    json_t *root;

    snprintf(path, sizeof path, "%s/tests/node/vectors.json", src ? src : ".");
    root = json_load_file(path, 0, &err);
    if (root == NULL)
        test_fail(__FILE__, __LINE__, "%s: %s", path, err.text);
    return root;
}

static void hex_of(json_t *o, const char *k, sh_buf *b)
{
    sh_buf_reset(b);
    test_json_hex(o, k, b);
}

static int64_t num(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static sh_node_parsed *parse(const char *which, sh_node_method m, sh_buf *body)
{
    sh_node_parsed *p;

    hex_of(json_object_get(vec, which), "body", body);
    CHECK_OK(sh_node_request_parse(body->data, body->len, m, &p));
    CHECK_OK(sh_node_request_verify(p, num(vec, "timestamp_ms")));
    return p;
}

static void store(sh_account *a)
{
    json_t *v = json_object_get(vec, "store");
    sh_buf body, b, again;
    sh_node_parsed *p;
    const sh_node_request *r;
    sh_node_request mine;
    sh_node_signer s = {.account = a};

    sh_buf_init(&body);
    sh_buf_init(&b);
    sh_buf_init(&again);
    p = parse("store", SH_NODE_STORE, &body);
    r = sh_node_parsed_request(p);
    hex_of(vec, "owner", &b);
    CHECK_MEM(r->owner, b.data, 33);
    hex_of(vec, "signer", &b);
    CHECK(r->is_signed);
    CHECK_MEM(r->signer, b.data, 32);
    CHECK_EQ(r->ns, 2);
    CHECK_EQ(r->timestamp_ms, num(vec, "timestamp_ms"));
    hex_of(v, "data", &b);
    CHECK_EQ(r->data_len, b.len);
    CHECK_MEM(r->data, b.data, b.len);
    CHECK_EQ(r->ttl_ms, num(v, "ttl_ms"));
    CHECK(r->token == NULL);
    /* Our encoder, same values and nonce: exactly the same bytes. */
    mine = *r;
    CHECK_OK(sh__node_request_encode_nonce(&mine, &s, r->nonce, &again));
    CHECK_EQ(again.len, body.len);
    CHECK_MEM(again.data, body.data, body.len);
    /* A changed byte of the body breaks the signature. */
    body.data[40] ^= 1;
    {
        sh_node_parsed *q;
        if (sh_node_request_parse(body.data, body.len, SH_NODE_STORE, &q) == SH_OK) {
            CHECK_ERR(sh_node_request_verify(q, num(vec, "timestamp_ms")), SH_ERR_CRYPTO);
            sh_node_parsed_free(q);
        }
    }
    sh_node_parsed_free(p);
    sh_buf_free(&body);
    sh_buf_free(&b);
    sh_buf_free(&again);
}

static void delete_and_retrieve(void)
{
    json_t *d = json_object_get(vec, "delete"), *rv = json_object_get(vec, "retrieve");
    sh_buf body, b;
    sh_node_parsed *p;
    const sh_node_request *r;

    sh_buf_init(&b);
    sh_buf_init(&body);
    p = parse("delete", SH_NODE_DELETE, &body);
    r = sh_node_parsed_request(p);
    CHECK_EQ(r->ns, num(d, "ns"));
    CHECK_EQ(r->n_hashes, 2);
    for (size_t i = 0; i < 2; i++) {
        sh_buf_reset(&b);
        test_hex(json_string_value(json_array_get(json_object_get(d, "hashes"), i)), &b);
        CHECK_MEM(r->hashes[i], b.data, 32);
    }
    CHECK_EQ(r->before_ms, 0);
    sh_node_parsed_free(p);
    p = parse("retrieve", SH_NODE_RETRIEVE, &body);
    r = sh_node_parsed_request(p);
    CHECK(!r->is_signed);
    CHECK_EQ(r->ns, 10);
    CHECK_EQ(r->after.timestamp_ms, num(rv, "after_ts"));
    hex_of(rv, "after_hash", &b);
    CHECK_MEM(r->after.hash, b.data, 32);
    CHECK(r->lookback);
    CHECK_EQ(r->max_count, num(rv, "max_count"));
    CHECK_EQ(r->max_bytes, num(rv, "max_bytes"));
    CHECK_EQ(r->wait_ms, num(rv, "wait_ms"));
    /* The same body is not a store. */
    {
        sh_node_parsed *q;
        CHECK_ERR(sh_node_request_parse(body.data, body.len, SH_NODE_STORE, &q), SH_ERR_FORMAT);
        CHECK_MSG("not store");
    }
    sh_node_parsed_free(p);
    sh_buf_free(&b);
    sh_buf_free(&body);
}

static void proof_of_work(void)
{
    json_t *w = json_object_get(vec, "pow");
    sh_buf owner, data, b, body;
    uint8_t mh[32], h[32];
    int64_t ts = num(vec, "timestamp_ms");
    sh_node_parsed *p;

    sh_buf_init(&owner);
    sh_buf_init(&data);
    sh_buf_init(&b);
    sh_buf_init(&body);
    hex_of(vec, "owner", &owner);
    hex_of(w, "data", &data);
    sh_store_msg_hash(mh, owner.data, 0, data.data, data.len);
    hex_of(w, "msg_hash", &b);
    CHECK_MEM(mh, b.data, 32);
    sh_node_pow_hash(h, owner.data, mh, ts, 0);
    hex_of(w, "hash_nonce_0", &b);
    CHECK_MEM(h, b.data, 32);
    CHECK_EQ(sh_node_pow_bits(h), num(w, "bits_nonce_0"));
    CHECK_EQ(sh_node_pow_solve(owner.data, mh, ts, 10), num(w, "nonce"));
    sh_node_pow_hash(h, owner.data, mh, ts, (uint64_t)num(w, "nonce"));
    hex_of(w, "hash", &b);
    CHECK_MEM(h, b.data, 32);
    CHECK(sh_node_pow_bits(h) >= 10);
    /* The anonymous store carrying it. */
    p = parse("pow", SH_NODE_STORE, &body);
    CHECK(!sh_node_parsed_request(p)->is_signed);
    CHECK_EQ(sh_node_parsed_request(p)->pow_nonce, num(w, "nonce"));
    sh_node_parsed_free(p);
    /* Bit counting at byte edges. */
    memset(h, 0, 32);
    CHECK_EQ(sh_node_pow_bits(h), 256);
    h[1] = 0x80;
    CHECK_EQ(sh_node_pow_bits(h), 8);
    h[0] = 0x01;
    CHECK_EQ(sh_node_pow_bits(h), 7);
    sh_buf_free(&owner);
    sh_buf_free(&data);
    sh_buf_free(&b);
    sh_buf_free(&body);
}

int main(void)
{
    sh_buf seed, owner;
    sh_account *a;
    uint8_t sid[33];

    CHECK_OK(sh_identity_init());
    vec = load();
    sh_buf_init(&seed);
    sh_buf_init(&owner);
    hex_of(vec, "account_seed", &seed);
    hex_of(vec, "owner", &owner);
    CHECK_OK(sh_account_from_seed(&a, seed.data));
    sh_account_session_id(a, sid);
    CHECK_MEM(sid, owner.data, 33); /* the Python birational map agrees with libsodium's */
    store(a);
    delete_and_retrieve();
    proof_of_work();
    sh_account_free(a);
    sh_buf_free(&seed);
    sh_buf_free(&owner);
    json_decref(vec);
    return 0;
}
