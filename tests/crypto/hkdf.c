/* HKDF-SHA256 against every Wycheproof vector (invalid ones ask for more than 255*32 bytes). */
#include "test.h"

#include "crypto/crypto.h"
#include "crypto/hkdf.h"

int main(void)
{
    json_t *root = test_load_json("wycheproof/hkdf_sha256_test.json");
    json_t *groups = json_object_get(root, "testGroups"), *group, *tc;
    size_t gi, ti, checked = 0;
    sh_buf ikm, salt, info, okm, out;

    CHECK_OK(sh_crypto_init());
    sh_buf_init(&ikm);
    sh_buf_init(&salt);
    sh_buf_init(&info);
    sh_buf_init(&okm);
    sh_buf_init(&out);
    json_array_foreach(groups, gi, group) {
        json_array_foreach(json_object_get(group, "tests"), ti, tc) {
            size_t size = (size_t)json_integer_value(json_object_get(tc, "size"));
            bool valid = strcmp(test_json_str(tc, "result"), "valid") == 0;

            test_json_hex(tc, "ikm", &ikm);
            test_json_hex(tc, "salt", &salt);
            test_json_hex(tc, "info", &info);
            sh_buf_reset(&out);
            CHECK_OK(sh_buf_reserve(&out, size));
            int rc = sh_hkdf_sha256(out.data, size, salt.data, salt.len, ikm.data, ikm.len,
                                    info.data, info.len);
            if (valid) {
                CHECK_OK(rc);
                test_json_hex(tc, "okm", &okm);
                CHECK_EQ(okm.len, size);
                CHECK_MEM(out.data, okm.data, size);
            } else {
                CHECK_ERR(rc, SH_ERR_LIMIT);
            }
            checked++;
        }
    }
    CHECK_EQ(checked, json_integer_value(json_object_get(root, "numberOfTests")));
    sh_buf_free(&ikm);
    sh_buf_free(&salt);
    sh_buf_free(&info);
    sh_buf_free(&okm);
    sh_buf_free(&out);
    json_decref(root);
    return 0;
}
