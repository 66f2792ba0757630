/* Account keys and Session IDs: Session's identity vector, accounts from 32-byte seeds, and every
 * malformed Session ID rejected with its code and a message that says what is wrong. */
#include "test.h"

#include <sodium.h>

#include <shoal/identity.h>

static void check_identity_vector(json_t *v)
{
    sh_account *acct;
    sh_buf seed, ed_pk, x_pk;
    char id[SH_SESSION_ID_HEX_BYTES], phrase[SH_PHRASE_MAX_BYTES];
    uint8_t bin_id[SH_SESSION_ID_BYTES], sig[SH_SIGNATURE_BYTES];

    sh_buf_init(&seed);
    sh_buf_init(&ed_pk);
    sh_buf_init(&x_pk);
    test_json_hex(v, "seed16", &seed);
    test_json_hex(v, "ed25519_pk", &ed_pk);
    test_json_hex(v, "x25519_pk", &x_pk);
    CHECK_OK(sh_account_from_seed(&acct, seed.data));
    CHECK_MEM(sh_account_ed25519_pk(acct), ed_pk.data, 32);
    CHECK_MEM(sh_account_x25519_pk(acct), x_pk.data, 32);
    sh_account_session_id_hex(acct, id);
    CHECK_STR(id, test_json_str(v, "session_id"));
    sh_account_session_id(acct, bin_id);
    CHECK_EQ(bin_id[0], 0x05);
    CHECK_MEM(bin_id + 1, x_pk.data, 32);
    CHECK_OK(sh_account_phrase(acct, phrase, sizeof phrase));
    CHECK_OK(sh_account_sign(acct, sig, (const uint8_t *)"hi", 2));
    CHECK(crypto_sign_verify_detached(sig, (const uint8_t *)"hi", 2, ed_pk.data) == 0);
    sh_account_free(acct);
    sh_buf_free(&seed);
    sh_buf_free(&ed_pk);
    sh_buf_free(&x_pk);
}

/* A 32-byte seed with zero tail is the same account as its 16-byte head; any other has no phrase. */
static void check_full_seeds(void)
{
    uint8_t full[32] = {0}, x25519[32];
    sh_account *a, *b;
    char phrase[SH_PHRASE_MAX_BYTES];

    test_random(full, 16);
    CHECK_OK(sh_account_from_seed(&a, full));
    CHECK_OK(sh_account_from_ed25519_seed(&b, full));
    CHECK_MEM(sh_account_x25519_pk(a), sh_account_x25519_pk(b), 32);
    CHECK_OK(sh_account_phrase(b, phrase, sizeof phrase));
    /* The X25519 secret key matches the X25519 public key. */
    CHECK(crypto_scalarmult_base(x25519, sh_account_x25519_sk(a)) == 0);
    CHECK_MEM(x25519, sh_account_x25519_pk(a), 32);
    sh_account_free(b);
    full[31] = 1;
    CHECK_OK(sh_account_from_ed25519_seed(&b, full));
    CHECK_ERR(sh_account_phrase(b, phrase, sizeof phrase), SH_ERR_UNSUPPORTED);
    CHECK_MSG("no recovery phrase");
    sh_account_free(a);
    sh_account_free(b);
}

static void check_session_id_errors(void)
{
    uint8_t pk[32];
    const char *good = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
    char text[80];

    CHECK_OK(sh_session_id_parse(pk, "05D2AD010EEB72D72E561D9DE7BD7B6989AF77DCABFFA03A5111A6C859AE5C3A72"));
    CHECK_EQ(pk[0], 0xd2);
    CHECK_ERR(sh_session_id_parse(pk, "05d2ad"), SH_ERR_FORMAT);
    CHECK_MSG("a Session ID has 66 hex digits; this one has 6");
    snprintf(text, sizeof text, "%s0", good);
    CHECK_ERR(sh_session_id_parse(pk, text), SH_ERR_FORMAT);
    CHECK_MSG("this one has 67");
    CHECK_ERR(sh_session_id_parse(pk, ""), SH_ERR_FORMAT);
    snprintf(text, sizeof text, "%s", good);
    text[10] = 'g';
    CHECK_ERR(sh_session_id_parse(pk, text), SH_ERR_FORMAT);
    CHECK_MSG("character 11 of the Session ID, 'g', is not a hex digit");
    text[10] = ' ';
    CHECK_ERR(sh_session_id_parse(pk, text), SH_ERR_FORMAT);
    CHECK_MSG("character 11 of the Session ID (byte 0x20) is not a hex digit");
    snprintf(text, sizeof text, "15%s", good + 2);
    CHECK_ERR(sh_session_id_parse(pk, text), SH_ERR_UNSUPPORTED);
    CHECK_MSG("blinded community ID");
    snprintf(text, sizeof text, "25%s", good + 2);
    CHECK_ERR(sh_session_id_parse(pk, text), SH_ERR_UNSUPPORTED);
    snprintf(text, sizeof text, "03%s", good + 2);
    CHECK_ERR(sh_session_id_parse(pk, text), SH_ERR_UNSUPPORTED);
    CHECK_MSG("a Session ID starts with 05, not 03");
}

int main(void)
{
    json_t *root = test_load_json("session/vectors.json"), *v;
    size_t i, n = 0;

    CHECK_OK(sh_identity_init());
    json_array_foreach(json_object_get(root, "identity"), i, v) {
        check_identity_vector(v);
        n++;
    }
    CHECK_EQ(n, 1);
    check_full_seeds();
    check_session_id_errors();
    json_decref(root);
    return 0;
}
