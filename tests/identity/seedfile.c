/* The seed file: clear and passphrase round trips, the Argon2id cost read back from the file, and
 * every damaged, foreign or wrongly unlocked file rejected with its code. Tests use the "min" cost. */
#include "test.h"

#include <shoal/identity.h>

#include "identity/crc32.h"
#include "util/buf.h"

#define HEADER 44 /* "SHOALSEED", version, kind, Session ID */
#define PASS "correct horse battery staple"

static uint8_t seed[SH_SEED_BYTES];
static uint8_t session_id[SH_SESSION_ID_BYTES];

static void check_clear(void)
{
    uint8_t file[SH_SEEDFILE_MAX_BYTES], back[SH_SEED_BYTES], id[SH_SESSION_ID_BYTES];
    size_t len;
    bool locked = true;

    CHECK_OK(sh_seedfile_seal(file, &len, seed, NULL, 0, SH_KDF_COST_MIN));
    CHECK_EQ(len, HEADER + 16 + 4);
    CHECK_MEM(file, "SHOALSEED\x01\x00", 11);
    CHECK_OK(sh_seedfile_has_passphrase(file, len, &locked));
    CHECK(!locked);
    CHECK_OK(sh_seedfile_session_id(file, len, id));
    CHECK_MEM(id, session_id, sizeof id);
    CHECK_OK(sh_seedfile_open(back, file, len, NULL, 0));
    CHECK_MEM(back, seed, sizeof seed);
    CHECK_ERR(sh_seedfile_open(back, file, len, PASS, strlen(PASS)), SH_ERR_INVALID);
    CHECK_MSG("this account has none");
    file[HEADER + 3] ^= 1;
    CHECK_ERR(sh_seedfile_open(back, file, len, NULL, 0), SH_ERR_CHECKSUM);
    CHECK_MSG("damaged");
    file[HEADER + 3] ^= 1;
    /* A Session ID that does not belong to the seed, even with a correct CRC. */
    file[20] ^= 1;
    sh_store_u32le(file + HEADER + 16, sh__identity_crc32(0, file, HEADER + 16));
    CHECK_ERR(sh_seedfile_open(back, file, len, NULL, 0), SH_ERR_CHECKSUM);
    CHECK_MSG("Session ID does not match its seed");
}

static void check_passphrase(void)
{
    uint8_t file[SH_SEEDFILE_MAX_BYTES], back[SH_SEED_BYTES], id[SH_SESSION_ID_BYTES];
    size_t len;
    bool locked = false;

    CHECK_OK(sh_seedfile_seal(file, &len, seed, PASS, strlen(PASS), SH_KDF_COST_MIN));
    CHECK_EQ(len, SH_SEEDFILE_MAX_BYTES);
    CHECK_OK(sh_seedfile_has_passphrase(file, len, &locked));
    CHECK(locked);
    CHECK_OK(sh_seedfile_session_id(file, len, id));
    CHECK_MEM(id, session_id, sizeof id);
    /* The cost is recorded: 1 pass of 8 KiB (libsodium's minimum). */
    CHECK_EQ(sh_load_u32le(file + HEADER), 1);
    CHECK_EQ(sh_load_u64le(file + HEADER + 4), 8192);
    CHECK(memmem(file, len, seed, sizeof seed) == NULL);
    CHECK_OK(sh_seedfile_open(back, file, len, PASS, strlen(PASS)));
    CHECK_MEM(back, seed, sizeof seed);
    CHECK_ERR(sh_seedfile_open(back, file, len, "wrong", 5), SH_ERR_CRYPTO);
    CHECK_MSG("wrong passphrase");
    CHECK_ERR(sh_seedfile_open(back, file, len, NULL, 0), SH_ERR_PERMISSION);
    CHECK_MSG("protected by a passphrase");
    /* Every byte is authenticated: the ID, the salt, the nonce, the ciphertext, and the cost
     * (a cost changed within the allowed range derives another key). */
    for (size_t i = 11; i < len; i += 5) {
        if (i >= HEADER && i < HEADER + 12)
            continue;
        file[i] ^= 0x01;
        CHECK_ERR(sh_seedfile_open(back, file, len, PASS, strlen(PASS)), SH_ERR_CRYPTO);
        file[i] ^= 0x01;
    }
    sh_store_u32le(file + HEADER, 2);
    CHECK_ERR(sh_seedfile_open(back, file, len, PASS, strlen(PASS)), SH_ERR_CRYPTO);
    sh_store_u32le(file + HEADER, 1);
    sh_store_u64le(file + HEADER + 4, 16384);
    CHECK_ERR(sh_seedfile_open(back, file, len, PASS, strlen(PASS)), SH_ERR_CRYPTO);
    sh_store_u32le(file + HEADER, 0);
    CHECK_ERR(sh_seedfile_open(back, file, len, PASS, strlen(PASS)), SH_ERR_UNSUPPORTED);
    CHECK_MSG("outside the allowed range");
    sh_store_u32le(file + HEADER, 1);
    sh_store_u64le(file + HEADER + 4, UINT64_C(1) << 40);
    CHECK_ERR(sh_seedfile_open(back, file, len, PASS, strlen(PASS)), SH_ERR_UNSUPPORTED);
    CHECK_ERR(sh_seedfile_seal(file, &len, seed, "", 0, SH_KDF_COST_MIN), SH_ERR_INVALID);
    CHECK_MSG("the passphrase is empty");
}

static void check_foreign_files(void)
{
    uint8_t file[SH_SEEDFILE_MAX_BYTES], back[SH_SEED_BYTES];
    size_t len;
    bool locked;

    CHECK_OK(sh_seedfile_seal(file, &len, seed, NULL, 0, SH_KDF_COST_MIN));
    CHECK_ERR(sh_seedfile_open(back, file, len - 1, NULL, 0), SH_ERR_FORMAT);
    CHECK_MSG("has 63 bytes instead of 64");
    CHECK_ERR(sh_seedfile_open(back, file, len + 1, NULL, 0), SH_ERR_FORMAT);
    CHECK_ERR(sh_seedfile_open(back, file, 5, NULL, 0), SH_ERR_FORMAT);
    CHECK_MSG("not a Shoal seed file");
    CHECK_ERR(sh_seedfile_has_passphrase((const uint8_t *)"{\"seed\": 1}", 11, &locked), SH_ERR_FORMAT);
    file[0] = 's';
    CHECK_ERR(sh_seedfile_open(back, file, len, NULL, 0), SH_ERR_FORMAT);
    file[0] = 'S';
    file[9] = 2;
    CHECK_ERR(sh_seedfile_open(back, file, len, NULL, 0), SH_ERR_UNSUPPORTED);
    CHECK_MSG("seed file version 2; this build reads version 1");
    file[9] = 1;
    file[10] = 7;
    CHECK_ERR(sh_seedfile_open(back, file, len, NULL, 0), SH_ERR_UNSUPPORTED);
    CHECK_MSG("unknown kind 7");
}

static void check_costs(void)
{
    sh_kdf_cost c;

    CHECK_OK(sh_kdf_cost_parse("min", &c));
    CHECK_EQ(c, SH_KDF_COST_MIN);
    CHECK_OK(sh_kdf_cost_parse("interactive", &c));
    CHECK_EQ(c, SH_KDF_COST_INTERACTIVE);
    CHECK_OK(sh_kdf_cost_parse("moderate", &c));
    CHECK_EQ(c, SH_KDF_COST_MODERATE);
    CHECK_OK(sh_kdf_cost_parse("sensitive", &c));
    CHECK_EQ(c, SH_KDF_COST_SENSITIVE);
    CHECK_ERR(sh_kdf_cost_parse("cheap", &c), SH_ERR_INVALID);
    CHECK_MSG("unknown key-derivation cost 'cheap'");
}

int main(void)
{
    sh_account *acct;

    CHECK_OK(sh_identity_init());
    test_random(seed, sizeof seed);
    CHECK_OK(sh_account_from_seed(&acct, seed));
    sh_account_session_id(acct, session_id);
    sh_account_free(acct);
    check_clear();
    check_passphrase();
    check_foreign_files();
    check_costs();
    return 0;
}
