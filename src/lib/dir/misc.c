/* Small helpers of the dir module: hashing, human-readable durations for STALE messages,
 * short key ids for messages, and validity-window checks. */
#include "dir/internal.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <time.h>

#include "util/err.h"

void sh__dir_hash(uint8_t out[static SH_DIR_HASH_BYTES], const uint8_t *in, size_t len)
{
    crypto_generichash(out, SH_DIR_HASH_BYTES, in, len, NULL, 0);
}

void sh__dir_format_duration(char *out, size_t size, int64_t ms)
{
    int64_t s = ms / 1000;

    if (ms < 1000)
        snprintf(out, size, "%" PRId64 " ms", ms);
    else if (s < 60)
        snprintf(out, size, "%" PRId64 " s", s);
    else if (s < 3600)
        snprintf(out, size, "%" PRId64 " min %" PRId64 " s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, size, "%" PRId64 " h %" PRId64 " min", s / 3600, s / 60 % 60);
    else
        snprintf(out, size, "%" PRId64 " d %" PRId64 " h", s / 86400, s / 3600 % 24);
}

void sh__dir_short_id(char out[static 9], const uint8_t key[static 4])
{
    snprintf(out, 9, "%02x%02x%02x%02x", key[0], key[1], key[2], key[3]);
}

/* "2025-01-01T02:00:00Z" for a time in ms since the epoch. */
static void format_utc(char out[static 32], int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%" PRId64 " ms", ms);
}

int sh__dir_check_window(int64_t valid_after_ms, int64_t valid_until_ms, int64_t now_ms,
                         const char *what)
{
    char age[48], at[32], now[32];

    if (valid_after_ms < 0 || valid_until_ms < valid_after_ms)
        return sh_err_set(SH_ERR_RANGE, "%s has an empty or negative validity window", what);
    if (now_ms > valid_until_ms) {
        sh__dir_format_duration(age, sizeof age, now_ms - valid_until_ms);
        format_utc(at, valid_until_ms);
        format_utc(now, now_ms);
        return sh_err_set(SH_ERR_STALE, "%s expired %s ago (valid until %s, now %s)", what, age,
                          at, now);
    }
    if (valid_after_ms - SH_DIR_CLOCK_SKEW_MS > now_ms) {
        sh__dir_format_duration(age, sizeof age, valid_after_ms - now_ms);
        format_utc(at, valid_after_ms);
        format_utc(now, now_ms);
        return sh_err_set(SH_ERR_STALE, "%s is not valid for another %s (valid from %s, now %s; "
                          "is this clock right?)", what, age, at, now);
    }
    return SH_OK;
}
