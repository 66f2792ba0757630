/* Every way shoald refuses a call, over a real link to a separate shoald, each with its code and
 * a message that says why, and each answer carrying the node's time: bad signature, wrong key,
 * stale and future timestamps, a replayed nonce, missing and insufficient proof of work,
 * unknown namespace, malformed bodies (garbage, truncated, non-canonical, wrong label, wrong
 * method, oversize, bad owner), unsigned requests where a signature is needed, subaccount tokens
 * (accepted for their grants; refused for other namespaces, primary-only namespaces, another
 * device key, another account, expiry, and once revoked in namespace 12), bad namespace-12
 * content, and `stats` from a caller that is not the operator. */
#include <signal.h>
#include <sodium.h>

#include "identity/token.h"
#include "nodetest.h"
#include "util/time.h"

#define TTL (24 * SH_MS_PER_HOUR)
#define POW_BITS 8

static nt_node node;
static nt_client cl;
static uint8_t owner_a[33], owner_b[33];
static sh_account *acct_a, *acct_b;
static sh_node_signer sign_a, sign_b;

/* Encodes r as a call body, timestamped now (+ skew). */
static void body_of(sh_node_request *r, const sh_node_signer *s, int64_t skew_ms, sh_buf *out)
{
    sh_buf_reset(out);
    r->timestamp_ms = sh_time_now_ms() + skew_ms;
    CHECK_OK(sh_node_request_encode(r, s, out));
}

/* A raw call that must fail with `code`; its answer must carry the node's time. */
static void refused(const char *method, const sh_buf *body, int code, const char *why)
{
    sh_buf answer;
    int64_t t;
    uint32_t bits;

    sh_buf_init(&answer);
    CHECK_ERR(nt_raw(&cl, method, body->data, body->len, &answer), code);
    CHECK_MSG(why);
    CHECK_OK(sh_node_answer_time(answer.data, answer.len, &t, &bits));
    CHECK(t > 0 && llabs(t - sh_time_now_ms()) < 60000);
    CHECK_EQ(bits, POW_BITS);
    sh_buf_free(&answer);
}

static void accepted(const char *method, const sh_buf *body)
{
    CHECK_OK(nt_raw(&cl, method, body->data, body->len, NULL));
}

static void signatures_and_time(void)
{
    sh_node_request r = nt_req_store(owner_a, 2, "x", 1, TTL);
    sh_buf b;

    sh_buf_init(&b);
    body_of(&r, &sign_a, 0, &b);
    b.data[b.len - 1] ^= 1; /* the signature is last */
    refused("store", &b, SH_ERR_CRYPTO, "signature does not verify");
    body_of(&r, &sign_b, 0, &b); /* B signs a store to A's namespace */
    refused("store", &b, SH_ERR_PERMISSION, "not the owner's");
    body_of(&r, &sign_a, -61000, &b);
    refused("store", &b, SH_ERR_STALE, "behind the node's clock (node time");
    body_of(&r, &sign_a, 61000, &b);
    refused("store", &b, SH_ERR_STALE, "ahead of the node's clock");
    /* A retrieve 59 s ahead is fresh (a store would pass the store's 10 s bound). */
    r = nt_req_retrieve(owner_a, 2);
    body_of(&r, &sign_a, 59000, &b);
    accepted("retrieve", &b);
    r = nt_req_store(owner_a, 2, "y", 1, TTL);
    body_of(&r, &sign_a, 30000, &b);
    refused("store", &b, SH_ERR_STALE, "ahead of this node's clock");
    /* The same signed request twice. */
    r = nt_req_retrieve(owner_a, 2);
    body_of(&r, &sign_a, 0, &b);
    accepted("retrieve", &b);
    refused("retrieve", &b, SH_ERR_REPLAY, "seen before");
    sh_buf_free(&b);
}

/* Data whose work with pow_nonce `nonce` has fewer than POW_BITS bits. */
static void pow_case(sh_node_request *r, uint8_t data[static 8], unsigned min_bits,
                     unsigned max_bits)
{
    uint8_t h[32], w[32];

    for (uint64_t i = 0;; i++) {
        sh_store_u64be(data, i);
        r->timestamp_ms = sh_time_now_ms();
        sh_store_msg_hash(h, r->owner, 0, data, 8);
        for (uint64_t n = 0; n < 4096; n++) {
            sh_node_pow_hash(w, r->owner, h, r->timestamp_ms, n);
            unsigned bits = sh_node_pow_bits(w);
            if (bits >= min_bits && bits <= max_bits) {
                r->pow_nonce = n;
                return;
            }
        }
    }
}

static void proof_of_work(void)
{
    uint8_t data[8] = {0};
    sh_node_request r = nt_req_store(owner_a, 0, data, sizeof data, TTL);
    sh_buf b;

    sh_buf_init(&b);
    pow_case(&r, data, 0, 0); /* no work at all */
    CHECK_OK(sh_node_request_encode(&r, NULL, &b));
    refused("store", &b, SH_ERR_PERMISSION, "proof of work of 8 bits; this one has 0");
    pow_case(&r, data, POW_BITS - 1, POW_BITS - 1); /* one bit short */
    sh_buf_reset(&b);
    CHECK_OK(sh_node_request_encode(&r, NULL, &b));
    refused("store", &b, SH_ERR_PERMISSION, "this one has 7");
    pow_case(&r, data, POW_BITS, POW_BITS); /* exactly enough */
    sh_buf_reset(&b);
    CHECK_OK(sh_node_request_encode(&r, NULL, &b));
    accepted("store", &b);
    sh_buf_free(&b);
}

static void malformed(void)
{
    sh_node_request r = nt_req_store(owner_a, 2, "x", 1, TTL);
    sh_buf b, good;

    sh_buf_init(&b);
    sh_buf_init(&good);
    body_of(&r, &sign_a, 0, &good);
    CHECK_OK(sh_buf_append(&b, "\xff\xff\xff garbage", 11));
    refused("store", &b, SH_ERR_FORMAT, "not a valid protobuf");
    sh_buf_reset(&b);
    CHECK_OK(sh_buf_append(&b, good.data, good.len - 10));
    refused("store", &b, SH_ERR_FORMAT, "request");
    sh_buf_reset(&b);
    CHECK_OK(sh_buf_append(&b, good.data, good.len));
    CHECK_OK(sh_buf_append(&b, "\x18\x00", 2)); /* field 3 with a default value: not canonical */
    refused("store", &b, SH_ERR_FORMAT, "");
    refused("retrieve", &good, SH_ERR_FORMAT, "not retrieve");
    sh_buf_reset(&b);
    CHECK_OK(sh_buf_reserve(&b, SH_NODE_MAX_BODY_BYTES + 1));
    memset(b.data, 0, SH_NODE_MAX_BODY_BYTES + 1);
    b.len = SH_NODE_MAX_BODY_BYTES + 1;
    refused("store", &b, SH_ERR_LIMIT, "over the 65536-byte limit");
    r.ns = 7;
    body_of(&r, &sign_a, 0, &b);
    refused("store", &b, SH_ERR_INVALID, "namespace 7 is unknown");
    r.ns = 2;
    r.owner[0] = 0x03;
    body_of(&r, &sign_a, 0, &b);
    refused("store", &b, SH_ERR_UNSUPPORTED, "prefix 03");
    r.owner[0] = 0x05;
    body_of(&r, NULL, 0, &b); /* unsigned store outside the inbox */
    refused("store", &b, SH_ERR_PERMISSION, "must be signed");
    r = nt_req_retrieve(owner_a, 0);
    body_of(&r, NULL, 0, &b); /* unsigned read of an inbox */
    refused("retrieve", &b, SH_ERR_PERMISSION, "must be signed");
    r = nt_req_store(owner_a, 12, "not a list", 10, TTL);
    body_of(&r, &sign_a, 0, &b);
    refused("store", &b, SH_ERR_INVALID, "revocation list");
    sh_buf_free(&b);
    sh_buf_free(&good);
}

/* A linked device D of account A with a token for namespace 2 (all rights) and 0 (read). */
static void tokens(void)
{
    uint8_t dev_pk[32], dev_sk[64], other_pk[32], other_sk[64];
    sh_token tok = {0};
    sh_revocations *rl = calloc(1, sizeof *rl);
    sh_buf token, list, b;
    sh_node_signer dev, wrong_dev;
    sh_node_request r;
    sh_node_stored st;

    CHECK(rl != NULL);
    sh_buf_init(&token);
    sh_buf_init(&list);
    sh_buf_init(&b);
    crypto_sign_keypair(dev_pk, dev_sk);
    crypto_sign_keypair(other_pk, other_sk);
    memcpy(tok.account, sh_account_ed25519_pk(acct_a), 32);
    memcpy(tok.device_ed25519_pk, dev_pk, 32);
    tok.device_id = 2;
    randombytes_buf(tok.token_id, sizeof tok.token_id);
    tok.grants[0] = (sh_token_grant){2, SH_TOKEN_RIGHT_READ | SH_TOKEN_RIGHT_WRITE |
                                            SH_TOKEN_RIGHT_DELETE};
    tok.grants[1] = (sh_token_grant){0, SH_TOKEN_RIGHT_READ};
    tok.n_grants = 2;
    tok.expires_ms = sh_time_now_ms() + SH_MS_PER_DAY;
    CHECK_OK(sh_token_sign(&tok, acct_a, &token));
    dev = (sh_node_signer){.device_sk = dev_sk, .token = token.data, .token_len = token.len};
    wrong_dev = (sh_node_signer){.device_sk = other_sk, .token = token.data,
                                 .token_len = token.len};
    /* Granted: store and read namespace 2, read the inbox. */
    r = nt_req_store(owner_a, 2, "from device", 11, TTL);
    CHECK_OK(nt_store(&cl, &r, &dev, &st));
    r = nt_req_retrieve(owner_a, 0);
    body_of(&r, &dev, 0, &b);
    accepted("retrieve", &b);
    /* Not granted. */
    r = nt_req_store(owner_a, 3, "x", 1, TTL);
    body_of(&r, &dev, 0, &b);
    refused("store", &b, SH_ERR_PERMISSION, "no such right in namespace 3");
    r = nt_req_store(owner_a, 11, "x", 1, TTL);
    body_of(&r, &dev, 0, &b);
    refused("store", &b, SH_ERR_PERMISSION, "only the account key");
    r = nt_req_store(owner_a, 2, "x", 1, TTL);
    body_of(&r, &wrong_dev, 0, &b);
    refused("store", &b, SH_ERR_PERMISSION, "token's device key");
    r = nt_req_store(owner_b, 2, "x", 1, TTL); /* A's token for B's account */
    body_of(&r, &dev, 0, &b);
    refused("store", &b, SH_ERR_PERMISSION, "another account");
    /* Expired. */
    {
        sh_buf old;
        sh_node_signer expired = dev;
        sh_token t2 = tok;
        sh_buf_init(&old);
        t2.expires_ms = sh_time_now_ms() - 1000;
        CHECK_OK(sh_token_sign(&t2, acct_a, &old));
        expired.token = old.data;
        expired.token_len = old.len;
        r = nt_req_store(owner_a, 2, "x", 1, TTL);
        body_of(&r, &expired, 0, &b);
        refused("store", &b, SH_ERR_STALE, "expired");
        sh_buf_free(&old);
    }
    /* Revoked: A publishes a revocation list with the token in namespace 12. */
    memcpy(rl->account, sh_account_ed25519_pk(acct_a), 32);
    rl->counter = 1;
    rl->timestamp_ms = sh_time_now_ms();
    memcpy(rl->ids[0], tok.token_id, SH_TOKEN_ID_BYTES);
    rl->n = 1;
    CHECK_OK(sh_revocations_sign(rl, acct_a, &list));
    r = nt_req_store(owner_a, 12, list.data, list.len, TTL);
    body_of(&r, &dev, 0, &b); /* the device itself may not write the list */
    refused("store", &b, SH_ERR_PERMISSION, "only the account key");
    CHECK_OK(nt_store(&cl, &r, &sign_a, &st));
    r = nt_req_store(owner_a, 2, "after revocation", 16, TTL);
    body_of(&r, &dev, 0, &b);
    refused("store", &b, SH_ERR_PERMISSION, "was revoked");
    r = nt_req_retrieve(owner_a, 0);
    body_of(&r, &dev, 0, &b);
    refused("retrieve", &b, SH_ERR_PERMISSION, "was revoked");
    /* B's revocation list cannot go into A's namespace 12. */
    memcpy(rl->account, sh_account_ed25519_pk(acct_b), 32);
    sh_buf_reset(&list);
    CHECK_OK(sh_revocations_sign(rl, acct_b, &list));
    r = nt_req_store(owner_a, 12, list.data, list.len, TTL);
    body_of(&r, &sign_a, 0, &b);
    refused("store", &b, SH_ERR_PERMISSION, "another account's");
    free(rl);
    sh_buf_free(&token);
    sh_buf_free(&list);
    sh_buf_free(&b);
}

/* stats is the operator's: a caller with another link key is refused by the net layer. */
static void stats_not_for_others(void)
{
    CHECK_ERR(nt_raw(&cl, "stats", NULL, 0, NULL), SH_ERR_PERMISSION);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    CHECK_OK(sh_identity_init());
    acct_a = nt_account(1, owner_a);
    acct_b = nt_account(2, owner_b);
    sign_a = (sh_node_signer){.account = acct_a};
    sign_b = (sh_node_signer){.account = acct_b};
    nt_node_init(&node, argv[1]);
    node.settings[0] = "pow_bits=8";
    node.settings[1] = "pow_load_per_s=1000000"; /* keep the difficulty where it is */
    nt_node_start(&node);
    nt_client_open(&cl, &node);
    signatures_and_time();
    proof_of_work();
    malformed();
    tokens();
    stats_not_for_others();
    nt_client_close(&cl);
    CHECK_EQ(nt_node_stop(&node, SIGTERM), 0);
    sh_account_free(acct_a);
    sh_account_free(acct_b);
    return 0;
}
