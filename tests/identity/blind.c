/* Blinded community IDs against Session's vectors: 15- and 25-blinded IDs of two accounts (one
 * with its Ed25519 sign bit set), Session's signatures verified, our signatures verified with
 * crypto_sign_verify_detached, and wrong keys, servers and tampered messages rejected. */
#include "test.h"

#include <sodium.h>

#include <shoal/identity.h>

#include "util/encode.h"

#define MAX_ACCOUNTS 2

static sh_account *accounts[MAX_ACCOUNTS];
static size_t n_accounts;

static void load_accounts(json_t *list)
{
    json_t *v;
    size_t i;
    sh_buf sk;
    char id[SH_SESSION_ID_HEX_BYTES];

    sh_buf_init(&sk);
    json_array_foreach(list, i, v) {
        CHECK(i < MAX_ACCOUNTS);
        test_json_hex(v, "ed25519_sk", &sk);
        CHECK_OK(sh_account_from_ed25519_seed(&accounts[i], sk.data));
        CHECK_MEM(sh_account_ed25519_pk(accounts[i]), sk.data + 32, 32);
        sh_account_session_id_hex(accounts[i], id);
        CHECK_STR(id, test_json_str(v, "session_id"));
        n_accounts++;
    }
    CHECK_EQ(n_accounts, 2);
    CHECK((sh_account_ed25519_pk(accounts[1])[31] & 0x80) != 0);
    sh_buf_free(&sk);
}

static sh_account *account_of(const char *session_id)
{
    char id[SH_SESSION_ID_HEX_BYTES];

    for (size_t i = 0; i < n_accounts; i++) {
        sh_account_session_id_hex(accounts[i], id);
        if (strcmp(id, session_id) == 0)
            return accounts[i];
    }
    test_fail(__FILE__, __LINE__, "no account %s", session_id);
}

static void check_ids(json_t *list, uint8_t prefix)
{
    json_t *v;
    size_t i;
    uint8_t server[32], want[33], got[33], x25519[32];

    json_array_foreach(list, i, v) {
        sh_account *acct = account_of(test_json_str(v, "session_id"));

        CHECK_OK(sh_hex_decode(server, 32, test_json_str(v, "server_pk")));
        CHECK_OK(sh_hex_decode(want, 33, test_json_str(v, "blinded")));
        CHECK_OK(sh_account_blinded_id(acct, prefix, server, got));
        /* The vector pins the ID a server derives from the Session ID (positive key); an account
         * whose key has the sign bit set signs with the other candidate (Session's signatures
         * below verify against it). */
        if (prefix == SH_BLIND15_PREFIX && (sh_account_ed25519_pk(acct)[31] & 0x80) != 0)
            got[32] ^= 0x80;
        CHECK_MEM(got, want, 33);
        /* Server side, from the Session ID alone. */
        CHECK_OK(sh_session_id_parse(x25519, test_json_str(v, "session_id")));
        CHECK_OK(sh_blinded_id_matches(want, x25519, server));
        /* The other sign candidate: accepted for 15, never for 25. */
        want[32] ^= 0x80;
        if (prefix == SH_BLIND15_PREFIX)
            CHECK_OK(sh_blinded_id_matches(want, x25519, server));
        else
            CHECK_ERR(sh_blinded_id_matches(want, x25519, server), SH_ERR_CRYPTO);
        want[32] ^= 0x80;
        server[5] ^= 1;
        CHECK_ERR(sh_blinded_id_matches(want, x25519, server), SH_ERR_CRYPTO);
        CHECK_MSG("does not belong to this Session ID");
    }
    CHECK(i > 0);
}

static void check_signatures(json_t *list, uint8_t prefix)
{
    json_t *v;
    size_t i;
    uint8_t server[32], id[33], other[33], sig[64], ours[64], again[64];

    json_array_foreach(list, i, v) {
        sh_account *acct = accounts[json_integer_value(json_object_get(v, "account"))];
        const uint8_t *msg = (const uint8_t *)test_json_str(v, "message");
        size_t len = strlen((const char *)msg);

        CHECK_OK(sh_hex_decode(server, 32, test_json_str(v, "server_pk")));
        CHECK_OK(sh_hex_decode(sig, 64, test_json_str(v, "sig")));
        CHECK_OK(sh_account_blinded_id(acct, prefix, server, id));
        CHECK_OK(sh_blinded_verify(id, sig, msg, len));
        CHECK_OK(sh_account_blinded_sign(acct, prefix, server, ours, msg, len));
        CHECK(crypto_sign_verify_detached(ours, msg, len, id + 1) == 0);
        CHECK_OK(sh_blinded_verify(id, ours, msg, len));
        CHECK_OK(sh_account_blinded_sign(acct, prefix, server, again, msg, len));
        CHECK_MEM(again, ours, 64);
        /* A tampered message, a tampered signature, another server's ID. */
        CHECK_ERR(sh_blinded_verify(id, ours, (const uint8_t *)"tampered", 8), SH_ERR_CRYPTO);
        CHECK_MSG("does not verify");
        ours[40] ^= 1;
        CHECK_ERR(sh_blinded_verify(id, ours, msg, len), SH_ERR_CRYPTO);
        server[0] ^= 1;
        CHECK_OK(sh_account_blinded_id(acct, prefix, server, other));
        CHECK_ERR(sh_blinded_verify(other, sig, msg, len), SH_ERR_CRYPTO);
    }
    CHECK(i > 0);
}

/* Random accounts (either sign bit) on random servers: IDs match their Session IDs and our
 * signatures verify; a 25-ID never matches another account. */
static void check_random(void)
{
    uint8_t seed[SH_SEED_BYTES], server[32], id[33], sig[64];
    const uint8_t prefixes[2] = {SH_BLIND15_PREFIX, SH_BLIND25_PREFIX};

    for (int i = 0; i < 200; i++) {
        sh_account *acct;

        test_random(seed, sizeof seed);
        test_random(server, sizeof server);
        CHECK_OK(sh_account_from_seed(&acct, seed));
        for (int p = 0; p < 2; p++) {
            CHECK_OK(sh_account_blinded_id(acct, prefixes[p], server, id));
            CHECK_OK(sh_blinded_id_matches(id, sh_account_x25519_pk(acct), server));
            CHECK_ERR(sh_blinded_id_matches(id, sh_account_x25519_pk(accounts[0]), server),
                      SH_ERR_CRYPTO);
            CHECK_OK(sh_account_blinded_sign(acct, prefixes[p], server, sig, seed, sizeof seed));
            CHECK_OK(sh_blinded_verify(id, sig, seed, sizeof seed));
        }
        sh_account_free(acct);
    }
}

static void check_bad_prefixes(void)
{
    uint8_t server[32] = {1}, id[33], sig[64] = {0};

    CHECK_ERR(sh_account_blinded_id(accounts[0], 0x05, server, id), SH_ERR_INVALID);
    CHECK_MSG("0x05 is not a blinded ID prefix");
    CHECK_ERR(sh_account_blinded_sign(accounts[0], 0x16, server, sig, sig, 1), SH_ERR_INVALID);
    CHECK_OK(sh_account_blinded_id(accounts[0], SH_BLIND25_PREFIX, server, id));
    id[0] = 0x05;
    CHECK_ERR(sh_blinded_verify(id, sig, server, 1), SH_ERR_INVALID);
    CHECK_ERR(sh_blinded_id_matches(id, sh_account_x25519_pk(accounts[0]), server), SH_ERR_INVALID);
    /* Not a point of the curve. */
    memset(id + 1, 0xff, 32);
    id[0] = SH_BLIND15_PREFIX;
    CHECK_ERR(sh_blinded_id_matches(id, sh_account_x25519_pk(accounts[0]), server), SH_ERR_CRYPTO);
    CHECK_MSG("not a valid key");
}

int main(void)
{
    json_t *root = test_load_json("session/vectors.json");
    json_t *b = json_object_get(root, "blinding");

    CHECK_OK(sh_identity_init());
    load_accounts(json_object_get(b, "accounts"));
    check_ids(json_object_get(b, "blind15_id"), SH_BLIND15_PREFIX);
    check_ids(json_object_get(b, "blind25_id"), SH_BLIND25_PREFIX);
    check_signatures(json_object_get(b, "blind15_sign"), SH_BLIND15_PREFIX);
    check_signatures(json_object_get(b, "blind25_sign"), SH_BLIND25_PREFIX);
    check_random();
    check_bad_prefixes();
    for (size_t i = 0; i < n_accounts; i++)
        sh_account_free(accounts[i]);
    json_decref(root);
    return 0;
}
