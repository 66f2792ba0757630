/* Error messages: set, wrap with context, names of codes. */
#include "test.h"

#include "util/err.h"

int main(void)
{
    CHECK_ERR(sh_err_set(SH_ERR_CHECKSUM, "word %d is wrong", 13), SH_ERR_CHECKSUM);
    CHECK_STR(sh_err_msg(), "word 13 is wrong");
    CHECK_ERR(sh_err_wrap(SH_ERR_CHECKSUM, "restoring %s", "alice"), SH_ERR_CHECKSUM);
    CHECK_STR(sh_err_msg(), "restoring alice: word 13 is wrong");
    sh_err_clear();
    CHECK_STR(sh_err_msg(), "");
    CHECK_STR(sh_err_name(SH_OK), "SH_OK");
    CHECK_STR(sh_err_name(SH_ERR_FULL), "SH_ERR_FULL");
    CHECK_STR(sh_err_name(SH_ERR_UNSUPPORTED), "SH_ERR_UNSUPPORTED");
    CHECK_STR(sh_err_name(-9999), "SH_ERR_UNKNOWN");
    for (int code = SH_ERR_UNSUPPORTED; code < 0; code++)
        CHECK(strcmp(sh_err_name(code), "SH_ERR_UNKNOWN") != 0);

    char long_text[2 * SH_ERR_MSG_BYTES];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    sh_err_set(SH_ERR_INVALID, "%s", long_text);
    CHECK_EQ(strlen(sh_err_msg()), SH_ERR_MSG_BYTES - 1);
    return 0;
}
