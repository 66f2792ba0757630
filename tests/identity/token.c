/* Subaccount tokens and revocation lists (identity/token.h): the exact bytes against
 * token_vectors.json (written by gen_token_vectors.py from the document with Python's
 * `cryptography`, no Shoal code), expiry at its limit, and every rejected input class with its
 * code: non-canonical, wrong label, wrong sizes, too many grants or ids, bad signature, another
 * account, revoked, missing right. */
#include <sodium.h>

#include "crypto/labels.h"
#include "identity.pb-c.h"
#include "identity/token.h"
#include "test.h"
#include "wire/pb.h"

static json_t *load_vectors(void)
{
    char path[4096];
    const char *src = getenv("SHOAL_SOURCE_DIR");
    json_error_t err;
    json_t *root;

    snprintf(path, sizeof path, "%s/tests/identity/token_vectors.json", src ? src : ".");
    root = json_load_file(path, 0, &err);
    if (root == NULL)
        test_fail(__FILE__, __LINE__, "%s: %s", path, err.text);
    return root;
}

static sh_account *vector_account(json_t *v)
{
    sh_buf seed;
    sh_account *a;

    sh_buf_init(&seed);
    test_json_hex(v, "account_seed", &seed);
    CHECK_EQ(seed.len, SH_SEED_BYTES);
    CHECK_OK(sh_account_from_seed(&a, seed.data));
    sh_buf_free(&seed);
    return a;
}

static void vector_token(json_t *v, sh_account *a, sh_token *tok, sh_buf *bytes)
{
    json_t *t = json_object_get(v, "token"), *g;
    sh_buf b;
    size_t i;

    sh_buf_init(&b);
    memset(tok, 0, sizeof *tok);
    memcpy(tok->account, sh_account_ed25519_pk(a), 32);
    test_json_hex(t, "device_ed25519_pk", &b);
    memcpy(tok->device_ed25519_pk, b.data, 32);
    sh_buf_reset(&b);
    test_json_hex(t, "token_id", &b);
    memcpy(tok->token_id, b.data, SH_TOKEN_ID_BYTES);
    tok->device_id = (uint32_t)json_integer_value(json_object_get(t, "device_id"));
    json_array_foreach(json_object_get(t, "grants"), i, g) {
        tok->grants[i].ns = (int32_t)json_integer_value(json_array_get(g, 0));
        tok->grants[i].rights = (uint32_t)json_integer_value(json_array_get(g, 1));
        tok->n_grants++;
    }
    tok->issued_ms = json_integer_value(json_object_get(t, "issued_ms"));
    tok->expires_ms = json_integer_value(json_object_get(t, "expires_ms"));
    test_json_hex(t, "signed", bytes);
    sh_buf_free(&b);
}

/* Our encoder writes the reference's bytes; our parser reads them back; expiry at the limit. */
static void token_vector(void)
{
    json_t *v = load_vectors();
    sh_account *a = vector_account(v);
    sh_token tok, got;
    sh_buf want, mine;

    sh_buf_init(&want);
    sh_buf_init(&mine);
    vector_token(v, a, &tok, &want);
    CHECK_OK(sh_token_sign(&tok, a, &mine));
    CHECK_EQ(mine.len, want.len);
    CHECK_MEM(mine.data, want.data, want.len);
    CHECK_OK(sh_token_parse(&got, want.data, want.len, tok.expires_ms - 1));
    CHECK(memcmp(&got, &tok, sizeof tok) == 0);
    CHECK(sh_token_grants(&got, -5, SH_TOKEN_RIGHT_WRITE));
    CHECK(sh_token_grants(&got, 0, SH_TOKEN_RIGHT_READ | SH_TOKEN_RIGHT_DELETE));
    CHECK(!sh_token_grants(&got, 0, SH_TOKEN_RIGHT_WRITE));
    CHECK(!sh_token_grants(&got, 11, SH_TOKEN_RIGHT_READ));
    CHECK_ERR(sh_token_parse(&got, want.data, want.len, tok.expires_ms), SH_ERR_STALE);
    CHECK_MSG("expired");
    CHECK_OK(sh_token_parse(&got, want.data, want.len, INT64_MIN));
    sh_buf_free(&want);
    sh_buf_free(&mine);
    sh_account_free(a);
    json_decref(v);
}

static void revocations_vector(void)
{
    json_t *v = load_vectors(), *r = json_object_get(v, "revocations"), *id;
    sh_account *a = vector_account(v);
    sh_revocations *rl = calloc(1, sizeof *rl), *got = calloc(1, sizeof *got);
    sh_buf want, mine, b;
    size_t i;

    CHECK(rl != NULL && got != NULL);
    sh_buf_init(&want);
    sh_buf_init(&mine);
    sh_buf_init(&b);
    memcpy(rl->account, sh_account_ed25519_pk(a), 32);
    rl->counter = (uint64_t)json_integer_value(json_object_get(r, "counter"));
    rl->timestamp_ms = json_integer_value(json_object_get(r, "timestamp_ms"));
    json_array_foreach(json_object_get(r, "ids"), i, id) {
        sh_buf_reset(&b);
        test_hex(json_string_value(id), &b);
        memcpy(rl->ids[rl->n++], b.data, SH_TOKEN_ID_BYTES);
    }
    test_json_hex(r, "signed", &want);
    CHECK_OK(sh_revocations_sign(rl, a, &mine));
    CHECK_EQ(mine.len, want.len);
    CHECK_MEM(mine.data, want.data, want.len);
    CHECK_OK(sh_revocations_parse(got, want.data, want.len));
    CHECK(memcmp(got, rl, sizeof *rl) == 0);
    CHECK(sh_revocations_has(got, rl->ids[2]));
    /* A token parser refuses a revocation list. */
    CHECK_ERR(sh_token_parse((sh_token *)got, want.data, want.len, 0), SH_ERR_FORMAT);
    free(rl);
    free(got);
    sh_buf_free(&want);
    sh_buf_free(&mine);
    sh_buf_free(&b);
    sh_account_free(a);
    json_decref(v);
}

/* Re-signs a token message with the account key after a change. */
static void sign_raw(const Shoal__Identity__SubaccountToken *m, sh_account *a, sh_buf *out)
{
    sh_buf_reset(out);
    CHECK_OK(sh_account_sign_pack(&m->base, a, out));
}

static void token_rejects(void)
{
    json_t *v = load_vectors();
    sh_account *a = vector_account(v), *other;
    uint8_t seed[SH_SEED_BYTES];
    Shoal__Signed *outer;
    Shoal__Identity__SubaccountToken *m;
    sh_token tok, got;
    sh_buf good, bad;

    sh_buf_init(&good);
    sh_buf_init(&bad);
    vector_token(v, a, &tok, &good);
    CHECK_OK(sh_wire_open_signed(&shoal__identity__subaccount_token__descriptor, SH_LABEL_TOKEN,
                                 good.data, good.len, "token", &outer, (ProtobufCMessage **)&m));
    /* A flipped signature bit; a flipped body bit. */
    CHECK_OK(sh_buf_append(&bad, good.data, good.len));
    bad.data[bad.len - 1] ^= 1;
    CHECK_ERR(sh_token_parse(&got, bad.data, bad.len, 0), SH_ERR_CRYPTO);
    bad.data[bad.len - 1] ^= 1;
    bad.data[40] ^= 1;
    CHECK(sh_token_parse(&got, bad.data, bad.len, 0) != SH_OK);
    /* An unknown field appended to the body, signed properly. */
    {
        sh_buf body;
        uint8_t sig[64];
        sh_buf_init(&body);
        CHECK_OK(sh_buf_append(&body, outer->body.data, outer->body.len));
        CHECK_OK(sh_buf_append(&body, "\x48\x01", 2));
        CHECK_OK(sh_account_sign(a, sig, body.data, body.len));
        sh_buf_reset(&bad);
        CHECK_OK(sh_wire_pack_signed(body.data, body.len, sig, &bad));
        CHECK_ERR(sh_token_parse(&got, bad.data, bad.len, 0), SH_ERR_FORMAT);
        CHECK_MSG("does not know");
        sh_buf_free(&body);
    }
    /* Another object's label, properly signed. */
    {
        char *keep = m->label;
        m->label = (char *)SH_LABEL_TOKEN_REVOCATIONS;
        sign_raw(m, a, &bad);
        CHECK_ERR(sh_token_parse(&got, bad.data, bad.len, 0), SH_ERR_FORMAT);
        CHECK_MSG("carries label");
        m->label = keep;
    }
    /* Wrong sizes. */
    m->token_id.len = 15;
    sign_raw(m, a, &bad);
    CHECK_ERR(sh_token_parse(&got, bad.data, bad.len, 0), SH_ERR_FORMAT);
    m->token_id.len = 16;
    {
        uint8_t long_key[33] = {0};
        ProtobufCBinaryData keep = m->device_ed25519_pk;
        m->device_ed25519_pk = sh_wire_bin(long_key, sizeof long_key);
        sign_raw(m, a, &bad);
        CHECK_ERR(sh_token_parse(&got, bad.data, bad.len, 0), SH_ERR_FORMAT);
        m->device_ed25519_pk = keep;
    }
    /* Grants: 16 at the limit, 17 over it. */
    {
        Shoal__Identity__NamespaceGrant g[17], *gp[17];
        Shoal__Identity__NamespaceGrant **keep = m->grants;
        size_t keep_n = m->n_grants;
        for (int i = 0; i < 17; i++) {
            shoal__identity__namespace_grant__init(&g[i]);
            g[i].namespace_ = i;
            g[i].rights = 1;
            gp[i] = &g[i];
        }
        m->grants = gp;
        m->n_grants = SH_TOKEN_MAX_GRANTS;
        sign_raw(m, a, &bad);
        CHECK_OK(sh_token_parse(&got, bad.data, bad.len, 0));
        CHECK_EQ(got.n_grants, 16);
        m->n_grants = SH_TOKEN_MAX_GRANTS + 1;
        sign_raw(m, a, &bad);
        CHECK_ERR(sh_token_parse(&got, bad.data, bad.len, 0), SH_ERR_LIMIT);
        tok.n_grants = 17;
        CHECK_ERR(sh_token_sign(&tok, a, &bad), SH_ERR_LIMIT);
        tok.n_grants = 4;
        m->grants = keep;
        m->n_grants = keep_n;
    }
    /* Over the size limit. */
    sh_buf_reset(&bad);
    CHECK_OK(sh_buf_reserve(&bad, SH_TOKEN_MAX_BYTES + 1));
    memset(bad.data, 0, SH_TOKEN_MAX_BYTES + 1);
    CHECK_ERR(sh_token_parse(&got, bad.data, SH_TOKEN_MAX_BYTES + 1, 0), SH_ERR_LIMIT);
    /* Signed by another account than the one it names. */
    test_random(seed, sizeof seed);
    CHECK_OK(sh_account_from_seed(&other, seed));
    sign_raw(m, other, &bad);
    CHECK_ERR(sh_token_parse(&got, bad.data, bad.len, 0), SH_ERR_CRYPTO);
    sh_account_free(other);
    sh_wire_free(outer);
    sh_wire_free(m);
    sh_buf_free(&good);
    sh_buf_free(&bad);
    sh_account_free(a);
    json_decref(v);
}

/* sh_token_allows: rights, issuer, revocation, the list's own account. */
static void allows(void)
{
    uint8_t seed[SH_SEED_BYTES];
    sh_account *a, *b;
    sh_token tok, out;
    sh_revocations *rl = calloc(1, sizeof *rl);
    sh_buf t, r, rb;

    CHECK(rl != NULL);
    test_random(seed, sizeof seed);
    CHECK_OK(sh_account_from_seed(&a, seed));
    test_random(seed, sizeof seed);
    CHECK_OK(sh_account_from_seed(&b, seed));
    sh_buf_init(&t);
    sh_buf_init(&r);
    sh_buf_init(&rb);
    memset(&tok, 0, sizeof tok);
    memcpy(tok.account, sh_account_ed25519_pk(a), 32);
    test_random(tok.device_ed25519_pk, 32);
    test_random(tok.token_id, SH_TOKEN_ID_BYTES);
    tok.grants[0] = (sh_token_grant){2, SH_TOKEN_RIGHT_READ | SH_TOKEN_RIGHT_WRITE};
    tok.n_grants = 1;
    tok.expires_ms = 1000000;
    CHECK_OK(sh_token_sign(&tok, a, &t));
    CHECK_OK(sh_token_allows(t.data, t.len, sh_account_ed25519_pk(a), NULL, 0, 2,
                             SH_TOKEN_RIGHT_WRITE, 5, &out));
    CHECK_MEM(out.device_ed25519_pk, tok.device_ed25519_pk, 32);
    CHECK_ERR(sh_token_allows(t.data, t.len, sh_account_ed25519_pk(a), NULL, 0, 2,
                              SH_TOKEN_RIGHT_DELETE, 5, NULL), SH_ERR_PERMISSION);
    CHECK_MSG("no such right");
    CHECK_ERR(sh_token_allows(t.data, t.len, sh_account_ed25519_pk(b), NULL, 0, 2,
                              SH_TOKEN_RIGHT_READ, 5, NULL), SH_ERR_PERMISSION);
    CHECK_MSG("another account");
    /* A list without it, then with it; a list of another account. */
    memcpy(rl->account, sh_account_ed25519_pk(a), 32);
    rl->counter = 1;
    test_random(rl->ids[0], SH_TOKEN_ID_BYTES);
    rl->n = 1;
    CHECK_OK(sh_revocations_sign(rl, a, &r));
    CHECK_OK(sh_token_allows(t.data, t.len, sh_account_ed25519_pk(a), r.data, r.len, 2,
                             SH_TOKEN_RIGHT_READ, 5, NULL));
    memcpy(rl->ids[rl->n++], tok.token_id, SH_TOKEN_ID_BYTES);
    sh_buf_reset(&r);
    CHECK_OK(sh_revocations_sign(rl, a, &r));
    CHECK_ERR(sh_token_allows(t.data, t.len, sh_account_ed25519_pk(a), r.data, r.len, 2,
                              SH_TOKEN_RIGHT_READ, 5, NULL), SH_ERR_PERMISSION);
    CHECK_MSG("was revoked");
    memcpy(rl->account, sh_account_ed25519_pk(b), 32);
    CHECK_OK(sh_revocations_sign(rl, b, &rb));
    CHECK_ERR(sh_token_allows(t.data, t.len, sh_account_ed25519_pk(a), rb.data, rb.len, 2,
                              SH_TOKEN_RIGHT_READ, 5, NULL), SH_ERR_PERMISSION);
    CHECK_MSG("another account");
    /* Limits of the list: 1024 ids at the limit; 1025 refused by the signer. */
    rl->n = SH_TOKEN_MAX_REVOKED;
    sh_buf_reset(&rb);
    CHECK_OK(sh_revocations_sign(rl, b, &rb));
    CHECK(rb.len <= SH_REVOCATIONS_MAX_BYTES);
    CHECK_OK(sh_revocations_parse(rl, rb.data, rb.len));
    CHECK_EQ(rl->n, SH_TOKEN_MAX_REVOKED);
    rl->n = SH_TOKEN_MAX_REVOKED + 1;
    CHECK_ERR(sh_revocations_sign(rl, b, &rb), SH_ERR_LIMIT);
    free(rl);
    sh_buf_free(&t);
    sh_buf_free(&r);
    sh_buf_free(&rb);
    sh_account_free(a);
    sh_account_free(b);
}

int main(void)
{
    CHECK_OK(sh_identity_init());
    token_vector();
    revocations_vector();
    token_rejects();
    allows();
    return 0;
}
