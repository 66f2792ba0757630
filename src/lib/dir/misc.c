/* Small helpers of the dir module: hashing, human-readable durations for STALE messages,
 * short key ids for messages, and validity-window checks. */
#include "dir/internal.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>

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

int sh__dir_check_window(int64_t valid_after_ms, int64_t valid_until_ms, int64_t now_ms,
                         const char *what)
{
    char age[48];

    if (valid_after_ms < 0 || valid_until_ms < valid_after_ms)
        return sh_err_set(SH_ERR_RANGE, "%s has an empty or negative validity window", what);
    if (now_ms > valid_until_ms) {
        sh__dir_format_duration(age, sizeof age, now_ms - valid_until_ms);
        return sh_err_set(SH_ERR_STALE, "%s expired %s ago (%" PRId64 " ms; valid until %" PRId64
                          ", now %" PRId64 ")", what, age, now_ms - valid_until_ms,
                          valid_until_ms, now_ms);
    }
    if (valid_after_ms - SH_DIR_CLOCK_SKEW_MS > now_ms) {
        sh__dir_format_duration(age, sizeof age, valid_after_ms - now_ms);
        return sh_err_set(SH_ERR_STALE, "%s is not valid for another %s (valid after %" PRId64
                          ", now %" PRId64 "; is this clock right?)", what, age, valid_after_ms,
                          now_ms);
    }
    return SH_OK;
}
