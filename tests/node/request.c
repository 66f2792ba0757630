/* The node's request rules without a network: every form check of the decoder with its code,
 * freshness at exactly ±60 s and one millisecond past, who may do what (owner, wrong key,
 * unsigned, tokens and their rights, primary-only namespaces, shorten-only expire with DELETE),
 * the replay cache's window and cap, the load-driven PoW difficulty, and the client's clock. */
#include <math.h>
#include <sodium.h>

#include "crypto/labels.h"
#include "identity/token.h"
#include "node/internal.h"
#include "storage.pb-c.h"
#include "test.h"
#include "wire/pb.h"

#define NOW 1700000000000LL

static sh_account *account;
static uint8_t owner[33];
static sh__node_keycache cache;

/* A Request message with valid defaults for a signed store in namespace 2. */
typedef struct req_pb {
    Shoal__Storage__Request m;
    Shoal__Storage__StoreParams store;
    Shoal__Storage__RetrieveParams retrieve;
    Shoal__Storage__DeleteParams del;
    Shoal__Storage__ExpireParams expire;
    Shoal__Storage__Cursor cursor;
    uint8_t nonce[16];
    ProtobufCBinaryData hashes[2];
    uint8_t hash_bytes[2][33];
} req_pb;

static void req_init(req_pb *q)
{
    memset(q, 0, sizeof *q);
    shoal__storage__request__init(&q->m);
    shoal__storage__store_params__init(&q->store);
    shoal__storage__retrieve_params__init(&q->retrieve);
    shoal__storage__delete_params__init(&q->del);
    shoal__storage__expire_params__init(&q->expire);
    shoal__storage__cursor__init(&q->cursor);
    q->m.label = (char *)SH_LABEL_STORAGE_REQUEST;
    q->m.method = (char *)"store";
    q->m.owner = sh_wire_bin(owner, 33);
    q->m.namespace_ = 2;
    q->m.timestamp_ms = NOW;
    q->m.nonce = sh_wire_bin(q->nonce, 16);
    q->m.signer = sh_wire_bin(sh_account_ed25519_pk(account), 32);
    q->store.data = sh_wire_bin("data", 4);
    q->store.ttl_ms = 1000;
    q->m.store = &q->store;
    q->retrieve.max_count = 10;
    q->retrieve.max_bytes = 1000;
    for (int i = 0; i < 2; i++) {
        memset(q->hash_bytes[i], i + 1, 33);
        q->hashes[i] = sh_wire_bin(q->hash_bytes[i], 32);
    }
    q->del.hashes = q->expire.hashes = q->hashes;
    q->del.n_hashes = q->expire.n_hashes = 2;
    q->expire.expiry_ms = NOW + 1000;
}

/* Packs and signs (or not) the request into a call body. */
static void body_of(const req_pb *q, bool sign, sh_buf *out)
{
    Shoal__Signed s = SHOAL__SIGNED__INIT;
    uint8_t sig[64];
    sh_buf b;

    sh_buf_init(&b);
    sh_buf_reset(out);
    CHECK_OK(sh_wire_pack(&q->m.base, &b));
    s.body = sh_wire_bin(b.data, b.len);
    if (sign) {
        CHECK_OK(sh_account_sign(account, sig, b.data, b.len));
        s.signature = sh_wire_bin(sig, 64);
    }
    CHECK_OK(sh_wire_pack(&s.base, out));
    sh_buf_free(&b);
}

static int parse_as(const req_pb *q, bool sign, sh_node_method m)
{
    sh_node_parsed *p;
    sh_buf b;
    int rc;

    sh_buf_init(&b);
    body_of(q, sign, &b);
    rc = sh_node_request_parse(b.data, b.len, m, &p);
    if (rc == SH_OK)
        sh_node_parsed_free(p);
    sh_buf_free(&b);
    return rc;
}

static void form(void)
{
    req_pb q;
    char long_method[8] = "store";

    req_init(&q);
    CHECK_OK(parse_as(&q, true, SH_NODE_STORE));
    /* Head. */
    q.m.label = (char *)SH_LABEL_TOKEN;
    CHECK_ERR(parse_as(&q, true, SH_NODE_STORE), SH_ERR_FORMAT);
    CHECK_MSG("carries label");
    req_init(&q);
    q.m.method = long_method;
    long_method[0] = 'S';
    CHECK_ERR(parse_as(&q, true, SH_NODE_STORE), SH_ERR_FORMAT);
    req_init(&q);
    q.m.owner.len = 32;
    CHECK_ERR(parse_as(&q, true, SH_NODE_STORE), SH_ERR_FORMAT);
    CHECK_MSG("not 33");
    req_init(&q);
    q.m.namespace_ = 40000;
    CHECK_ERR(parse_as(&q, true, SH_NODE_STORE), SH_ERR_INVALID);
    q.m.namespace_ = -1;
    CHECK_ERR(parse_as(&q, true, SH_NODE_STORE), SH_ERR_INVALID);
    q.m.namespace_ = 1;
    CHECK_ERR(parse_as(&q, true, SH_NODE_STORE), SH_ERR_INVALID);
    CHECK_MSG("namespace 1 is unknown");
    req_init(&q);
    q.m.timestamp_ms = (uint64_t)INT64_MAX + 1;
    CHECK_ERR(parse_as(&q, true, SH_NODE_STORE), SH_ERR_RANGE);
    /* Signing fields come together. */
    req_init(&q);
    CHECK_ERR(parse_as(&q, false, SH_NODE_STORE), SH_ERR_FORMAT); /* signer without signature */
    q.m.nonce.len = 15;
    CHECK_ERR(parse_as(&q, true, SH_NODE_STORE), SH_ERR_FORMAT);
    CHECK_MSG("16-byte nonce");
    req_init(&q);
    q.m.signer.len = 0;
    q.m.nonce.len = 0;
    CHECK_ERR(parse_as(&q, true, SH_NODE_STORE), SH_ERR_FORMAT); /* signature without signer */
    CHECK_OK(parse_as(&q, false, SH_NODE_STORE));                  /* unsigned: fine */
    {
        static uint8_t tok[SH_TOKEN_MAX_BYTES + 1];
        req_init(&q);
        q.m.token = sh_wire_bin(tok, SH_TOKEN_MAX_BYTES + 1);
        CHECK_ERR(parse_as(&q, true, SH_NODE_STORE), SH_ERR_LIMIT);
        q.m.token.len = SH_TOKEN_MAX_BYTES;
        CHECK_OK(parse_as(&q, true, SH_NODE_STORE)); /* a bad token fails at authorization */
        q.m.signer.len = q.m.nonce.len = 0;
        CHECK_ERR(parse_as(&q, false, SH_NODE_STORE), SH_ERR_FORMAT); /* token, unsigned */
    }
    /* Parameters: exactly the method's. */
    req_init(&q);
    q.m.retrieve = &q.retrieve;
    CHECK_ERR(parse_as(&q, true, SH_NODE_STORE), SH_ERR_FORMAT);
    CHECK_MSG("and no others");
    q.m.store = NULL;
    CHECK_ERR(parse_as(&q, true, SH_NODE_STORE), SH_ERR_FORMAT);
}

static void params(void)
{
    static uint8_t big[SH_STORE_MAX_DATA_BYTES + 1];
    req_pb q;

    /* store */
    req_init(&q);
    q.store.data = sh_wire_bin(big, SH_STORE_MAX_DATA_BYTES);
    CHECK_OK(parse_as(&q, true, SH_NODE_STORE));
    q.store.data.len++;
    CHECK_ERR(parse_as(&q, true, SH_NODE_STORE), SH_ERR_LIMIT);
    q.store.data.len = 0;
    CHECK_ERR(parse_as(&q, true, SH_NODE_STORE), SH_ERR_INVALID);
    req_init(&q);
    q.store.ttl_ms = 30 * SH_MS_PER_DAY;
    CHECK_OK(parse_as(&q, true, SH_NODE_STORE));
    q.store.ttl_ms++;
    CHECK_ERR(parse_as(&q, true, SH_NODE_STORE), SH_ERR_RANGE);
    q.m.namespace_ = 0;
    q.store.ttl_ms = 14 * SH_MS_PER_DAY;
    CHECK_OK(parse_as(&q, true, SH_NODE_STORE));
    q.store.ttl_ms++;
    CHECK_ERR(parse_as(&q, true, SH_NODE_STORE), SH_ERR_RANGE);
    q.store.ttl_ms = 0;
    CHECK_ERR(parse_as(&q, true, SH_NODE_STORE), SH_ERR_INVALID);
    /* retrieve */
    req_init(&q);
    q.m.method = (char *)"retrieve";
    q.m.store = NULL;
    q.m.retrieve = &q.retrieve;
    CHECK_OK(parse_as(&q, true, SH_NODE_RETRIEVE));
    q.retrieve.after = &q.cursor; /* an empty cursor: from the start */
    CHECK_OK(parse_as(&q, true, SH_NODE_RETRIEVE));
    q.cursor.hash = sh_wire_bin(q.hash_bytes[0], 31);
    CHECK_ERR(parse_as(&q, true, SH_NODE_RETRIEVE), SH_ERR_FORMAT);
    q.retrieve.after = NULL;
    q.retrieve.max_count = SH_STORE_PAGE_MAX_COUNT + 1;
    CHECK_ERR(parse_as(&q, true, SH_NODE_RETRIEVE), SH_ERR_LIMIT);
    q.retrieve.max_count = 0;
    CHECK_ERR(parse_as(&q, true, SH_NODE_RETRIEVE), SH_ERR_INVALID);
    q.retrieve.max_count = 1;
    q.retrieve.max_bytes = SH_STORE_PAGE_MAX_BYTES + 1;
    CHECK_ERR(parse_as(&q, true, SH_NODE_RETRIEVE), SH_ERR_LIMIT);
    q.retrieve.max_bytes = SH_STORE_PAGE_MAX_BYTES;
    q.retrieve.wait_ms = SH_NODE_MAX_WAIT_MS;
    CHECK_OK(parse_as(&q, true, SH_NODE_RETRIEVE));
    q.retrieve.wait_ms++;
    CHECK_ERR(parse_as(&q, true, SH_NODE_RETRIEVE), SH_ERR_LIMIT);
    /* delete */
    req_init(&q);
    q.m.method = (char *)"delete";
    q.m.store = NULL;
    q.m.delete_ = &q.del;
    CHECK_OK(parse_as(&q, true, SH_NODE_DELETE));
    q.del.before_ms = NOW;
    CHECK_ERR(parse_as(&q, true, SH_NODE_DELETE), SH_ERR_INVALID); /* both */
    q.del.n_hashes = 0;
    CHECK_OK(parse_as(&q, true, SH_NODE_DELETE));
    q.del.before_ms = 0;
    CHECK_ERR(parse_as(&q, true, SH_NODE_DELETE), SH_ERR_INVALID); /* neither */
    q.del.n_hashes = 2;
    q.hashes[1].len = 33;
    CHECK_ERR(parse_as(&q, true, SH_NODE_DELETE), SH_ERR_FORMAT);
    /* expire */
    req_init(&q);
    q.m.method = (char *)"expire";
    q.m.store = NULL;
    q.m.expire = &q.expire;
    CHECK_OK(parse_as(&q, true, SH_NODE_EXPIRE));
    q.expire.mode = 3;
    CHECK_ERR(parse_as(&q, true, SH_NODE_EXPIRE), SH_ERR_INVALID);
    q.expire.mode = 2;
    q.expire.expiry_ms = 0;
    CHECK_ERR(parse_as(&q, true, SH_NODE_EXPIRE), SH_ERR_RANGE);
    q.expire.expiry_ms = NOW;
    q.expire.n_hashes = 0;
    CHECK_ERR(parse_as(&q, true, SH_NODE_EXPIRE), SH_ERR_INVALID);
}

/* Freshness: exactly 60 s either way is accepted, one millisecond more is not. */
static void freshness(void)
{
    req_pb q;
    sh_node_parsed *p;
    sh_buf b;

    sh_buf_init(&b);
    req_init(&q);
    body_of(&q, true, &b);
    CHECK_OK(sh_node_request_parse(b.data, b.len, SH_NODE_STORE, &p));
    CHECK_OK(sh_node_request_verify(p, NOW + SH_NODE_MAX_CLOCK_SKEW_MS));
    CHECK_OK(sh_node_request_verify(p, NOW - SH_NODE_MAX_CLOCK_SKEW_MS));
    CHECK_ERR(sh_node_request_verify(p, NOW + SH_NODE_MAX_CLOCK_SKEW_MS + 1), SH_ERR_STALE);
    CHECK_MSG("60.0 s behind the node's clock (node time 1700000060001 ms)");
    CHECK_ERR(sh_node_request_verify(p, NOW - SH_NODE_MAX_CLOCK_SKEW_MS - 1), SH_ERR_STALE);
    CHECK_MSG("ahead of");
    sh_node_parsed_free(p);
    b.data[b.len - 3] ^= 0x10;
    CHECK_OK(sh_node_request_parse(b.data, b.len, SH_NODE_STORE, &p));
    CHECK_ERR(sh_node_request_verify(p, NOW), SH_ERR_CRYPTO);
    sh_node_parsed_free(p);
    sh_buf_free(&b);
}

/* Authorization over parsed requests of the encoder (no store: revocations passed in). */
static int auth(sh_node_request *r, const sh_node_signer *s, const uint8_t *rev, size_t rev_len)
{
    sh_node_parsed *p;
    sh_buf b;
    int rc;

    sh_buf_init(&b);
    r->timestamp_ms = NOW;
    memcpy(r->owner, owner, 33);
    CHECK_OK(sh_node_request_encode(r, s, &b));
    CHECK_OK(sh_node_request_parse(b.data, b.len, r->method, &p));
    CHECK_OK(sh_node_request_verify(p, NOW));
    rc = sh__node_authorize(sh_node_parsed_request(p), rev, rev_len, NOW, NULL);
    /* The same answer with the key cache, cold or warm. */
    CHECK_EQ(sh__node_authorize(sh_node_parsed_request(p), rev, rev_len, NOW, &cache), rc);
    sh_node_parsed_free(p);
    sh_buf_free(&b);
    return rc;
}

static void who(void)
{
    uint8_t seed[16], dev_pk[32], dev_sk[64], h[1][32] = {{1}};
    sh_account *other;
    sh_token tok = {0};
    sh_buf token, rev;
    sh_revocations *rl = calloc(1, sizeof *rl);
    sh_node_signer me = {.account = account}, them, dev;
    sh_node_request st = {.method = SH_NODE_STORE, .data = (const uint8_t *)"x", .data_len = 1,
                          .ttl_ms = 1000};
    sh_node_request rd = {.method = SH_NODE_RETRIEVE, .max_count = 1, .max_bytes = 1};
    sh_node_request ex = {.method = SH_NODE_EXPIRE, .hashes = (const uint8_t(*)[32])h,
                          .n_hashes = 1, .expiry_ms = NOW + 1};
    sh_node_request de = {.method = SH_NODE_DELETE, .hashes = (const uint8_t(*)[32])h,
                          .n_hashes = 1};

    CHECK(rl != NULL);
    test_random(seed, sizeof seed);
    CHECK_OK(sh_account_from_seed(&other, seed));
    them = (sh_node_signer){.account = other};
    sh_buf_init(&token);
    sh_buf_init(&rev);
    crypto_sign_keypair(dev_pk, dev_sk);
    memcpy(tok.account, sh_account_ed25519_pk(account), 32);
    memcpy(tok.device_ed25519_pk, dev_pk, 32);
    test_random(tok.token_id, 16);
    tok.grants[0] = (sh_token_grant){0, SH_TOKEN_RIGHT_READ | SH_TOKEN_RIGHT_DELETE};
    tok.grants[1] = (sh_token_grant){10, SH_TOKEN_RIGHT_READ | SH_TOKEN_RIGHT_WRITE};
    tok.n_grants = 2;
    tok.expires_ms = NOW + 1;
    CHECK_OK(sh_token_sign(&tok, account, &token));
    dev = (sh_node_signer){.device_sk = dev_sk, .token = token.data, .token_len = token.len};

    st.ns = 0;
    CHECK_OK(auth(&st, NULL, NULL, 0)); /* anyone stores in the inbox (PoW aside) */
    CHECK_OK(auth(&st, &them, NULL, 0));
    st.ns = 2;
    CHECK_OK(auth(&st, &me, NULL, 0));
    CHECK_ERR(auth(&st, &them, NULL, 0), SH_ERR_PERMISSION);
    CHECK_ERR(auth(&st, NULL, NULL, 0), SH_ERR_PERMISSION);
    CHECK_ERR(auth(&st, &dev, NULL, 0), SH_ERR_PERMISSION); /* no grant for 2 */
    st.ns = 10;
    CHECK_OK(auth(&st, &dev, NULL, 0));
    st.ns = 11;
    CHECK_OK(auth(&st, &me, NULL, 0));
    CHECK_ERR(auth(&st, &dev, NULL, 0), SH_ERR_PERMISSION);
    rd.ns = 0;
    CHECK_OK(auth(&rd, &me, NULL, 0));
    CHECK_OK(auth(&rd, &dev, NULL, 0));
    CHECK_ERR(auth(&rd, NULL, NULL, 0), SH_ERR_PERMISSION);
    CHECK_ERR(auth(&rd, &them, NULL, 0), SH_ERR_PERMISSION);
    rd.ns = 11;
    CHECK_OK(auth(&rd, NULL, NULL, 0));
    CHECK_OK(auth(&rd, &them, NULL, 0));
    CHECK_OK(auth(&rd, &dev, NULL, 0)); /* reading the public list needs no grant */
    /* Expire: WRITE, or DELETE when it only shortens. */
    ex.ns = 0;
    ex.mode = SH_STORE_EXPIRE_SET;
    CHECK_ERR(auth(&ex, &dev, NULL, 0), SH_ERR_PERMISSION);
    ex.mode = SH_STORE_EXPIRE_SHORTEN_ONLY;
    CHECK_OK(auth(&ex, &dev, NULL, 0));
    ex.ns = 10;
    ex.mode = SH_STORE_EXPIRE_EXTEND_ONLY;
    CHECK_OK(auth(&ex, &dev, NULL, 0));
    ex.ns = 12;
    CHECK_ERR(auth(&ex, &dev, NULL, 0), SH_ERR_PERMISSION);
    CHECK_OK(auth(&ex, &me, NULL, 0));
    de.ns = 0;
    CHECK_OK(auth(&de, &dev, NULL, 0));
    de.ns = 10;
    CHECK_ERR(auth(&de, &dev, NULL, 0), SH_ERR_PERMISSION);
    /* Revoked; expired. */
    memcpy(rl->account, sh_account_ed25519_pk(account), 32);
    memcpy(rl->ids[0], tok.token_id, 16);
    rl->n = 1;
    CHECK_OK(sh_revocations_sign(rl, account, &rev));
    de.ns = 0;
    CHECK_ERR(auth(&de, &dev, rev.data, rev.len), SH_ERR_PERMISSION);
    CHECK_MSG("revoked");
    CHECK_OK(auth(&de, &me, rev.data, rev.len)); /* the owner is never revoked */
    {
        sh_node_parsed *p;
        sh_buf b;
        sh_buf_init(&b);
        de.timestamp_ms = NOW;
        memcpy(de.owner, owner, 33);
        CHECK_OK(sh_node_request_encode(&de, &dev, &b));
        CHECK_OK(sh_node_request_parse(b.data, b.len, SH_NODE_DELETE, &p));
        CHECK_ERR(sh__node_authorize(sh_node_parsed_request(p), NULL, 0, NOW + 1, &cache), SH_ERR_STALE);
        sh_node_parsed_free(p);
        sh_buf_free(&b);
    }
    free(rl);
    sh_buf_free(&token);
    sh_buf_free(&rev);
    sh_account_free(other);
}

static void replay(void)
{
    sh__node_replay r;
    uint8_t signer[32] = {1}, nonce[16] = {2};
    const int64_t w = 1000;

    CHECK_OK(sh__node_replay_init(&r, w, 3000));
    CHECK_OK(sh__node_replay_check(&r, signer, nonce, 0));
    CHECK_ERR(sh__node_replay_check(&r, signer, nonce, 0), SH_ERR_REPLAY);
    CHECK_ERR(sh__node_replay_check(&r, signer, nonce, w), SH_ERR_REPLAY);         /* rotated once */
    CHECK_ERR(sh__node_replay_check(&r, signer, nonce, 2 * w - 1), SH_ERR_REPLAY); /* still */
    nonce[0] = 3;
    CHECK_OK(sh__node_replay_check(&r, signer, nonce, 2 * w - 1)); /* in the second generation */
    CHECK_ERR(sh__node_replay_check(&r, signer, nonce, 3 * w - 2), SH_ERR_REPLAY); /* w - 1 later */
    nonce[0] = 2;
    CHECK_OK(sh__node_replay_check(&r, signer, nonce, 3 * w)); /* two windows on: forgotten */
    /* The other signer's same nonce is another request. */
    signer[0] = 9;
    CHECK_OK(sh__node_replay_check(&r, signer, nonce, 3 * w));
    /* Growth, then the cap. */
    for (uint32_t i = 1; sh__node_replay_count(&r) < 3000; i++) {
        sh_store_u32be(nonce + 4, i);
        CHECK_OK(sh__node_replay_check(&r, signer, nonce, 3 * w));
    }
    sh_store_u32be(nonce + 4, 99999);
    CHECK_ERR(sh__node_replay_check(&r, signer, nonce, 3 * w), SH_ERR_BUSY);
    /* Every one of them is still remembered. */
    for (uint32_t i = 0; i < 2000; i++) {
        sh_store_u32be(nonce + 4, i);
        CHECK_ERR(sh__node_replay_check(&r, signer, nonce, 3 * w), SH_ERR_REPLAY);
    }
    sh__node_replay_free(&r);
}

static void load(void)
{
    sh_node_config cfg;
    sh__node_load l = {0};
    int64_t t = 0;

    sh_node_config_default(&cfg);
    cfg.pow_bits = 10;
    cfg.pow_max_bits = 14;
    cfg.pow_load_per_s = 100;
    CHECK_EQ(sh__node_pow_required(&l, t, 0, 1000, &cfg), 10);
    /* 333 stores per second for six seconds: 3.3 times the load, two more bits. */
    for (int i = 0; i < 2000; i++, t += 3, sh__node_load_event(&l, t))
        ;
    CHECK(fabs(l.rate_per_s - 333) < 20);
    CHECK_EQ(sh__node_pow_required(&l, t, 0, 1000, &cfg), 12);
    /* Idle for ten seconds: back to the base. */
    CHECK_EQ(sh__node_pow_required(&l, t + 10000, 0, 1000, &cfg), 10);
    /* A full quarter of the store's queue counts as load 1, a full queue as 4: two bits. */
    CHECK_EQ(sh__node_pow_required(&l, t + 10000, 250, 1000, &cfg), 10);
    CHECK_EQ(sh__node_pow_required(&l, t + 10000, 1000, 1000, &cfg), 12);
    /* Never above the ceiling. */
    CHECK_EQ(sh__node_pow_required(&l, t, 1000000, 1000, &cfg), 14);
}

static void clock_median(void)
{
    sh_node_clock c;

    sh_node_clock_init(&c);
    CHECK_EQ(c.offset_ms, 0);
    sh_node_clock_sample(&c, 1000 + 300000, 990, 1010); /* +5 min, midpoint 1000 */
    CHECK_EQ(c.offset_ms, 300000);
    sh_node_clock_sample(&c, 5000 - 100, 5000, 5000); /* one node 100 ms behind */
    sh_node_clock_sample(&c, 6000 + 300010, 6000, 6000);
    CHECK_EQ(c.offset_ms, 300000); /* the median of 300000, -100, 300010 */
    for (int i = 0; i < SH_NODE_CLOCK_SAMPLES; i++)
        sh_node_clock_sample(&c, 7000 + 20, 7000, 7000);
    CHECK_EQ(c.offset_ms, 20); /* old samples age out */
    sh_node_clock_sample(&c, 0, 7000, 7000); /* an answer without a time teaches nothing */
    CHECK_EQ(c.offset_ms, 20);
}

int main(void)
{
    uint8_t seed[16] = {5};

    CHECK_OK(sh_identity_init());
    sh__node_keycache_init(&cache);
    CHECK_OK(sh_account_from_seed(&account, seed));
    sh_account_session_id(account, owner);
    form();
    params();
    freshness();
    who();
    replay();
    load();
    clock_median();
    sh_account_free(account);
    return 0;
}
