/* Log level parsing and clock offsets. */
#include "test.h"

#include "util/log.h"
#include "util/time.h"

int main(void)
{
    sh_log_level level;

    CHECK_OK(sh_log_parse_level("DEBUG", &level));
    CHECK_EQ(level, SH_LOG_DEBUG);
    CHECK_ERR(sh_log_parse_level("loud", &level), SH_ERR_INVALID);
    CHECK_MSG("'loud'");
    sh_log_set_level(SH_LOG_ERROR);
    CHECK_EQ(sh_log_get_level(), SH_LOG_ERROR);
    sh_log_info("test", "not printed");

    int64_t before = sh_time_now_ms();
    sh_time_set_offset_ms(-5 * SH_MS_PER_MINUTE);
    int64_t skewed = sh_time_now_ms();
    CHECK(skewed <= before - 5 * SH_MS_PER_MINUTE + 1000);
    CHECK(skewed >= before - 5 * SH_MS_PER_MINUTE - 1000);
    sh_time_set_offset_ms(0);
    int64_t m1 = sh_time_mono_ms(), m2 = sh_time_mono_ms();
    CHECK(m2 >= m1);

    CHECK_EQ(sh_time_backoff_ms(100, 1000, 0), 100);
    CHECK_EQ(sh_time_backoff_ms(100, 1000, 1), 100);
    CHECK_EQ(sh_time_backoff_ms(100, 1000, 2), 200);
    CHECK_EQ(sh_time_backoff_ms(100, 1000, 4), 800);
    CHECK_EQ(sh_time_backoff_ms(100, 1000, 5), 1000); /* capped */
    CHECK_EQ(sh_time_backoff_ms(100, 1000, 4000000000u), 1000); /* no overflow */
    CHECK_EQ(sh_time_backoff_ms(0, 1000, 4000000000u), 0);
    CHECK_EQ(sh_time_backoff_ms(500, 300, 1), 300);
    return 0;
}
