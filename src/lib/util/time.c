/* Wall and monotonic clocks with a test offset on the wall clock. */
#include "util/time.h"

#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

static int64_t clock_offset_ms;
static bool clock_offset_loaded;

static int64_t offset_ms(void)
{
    if (!clock_offset_loaded) {
        const char *env = getenv("SHOAL_CLOCK_OFFSET_MS");

        if (env != NULL)
            clock_offset_ms = strtoll(env, NULL, 10);
        clock_offset_loaded = true;
    }
    return clock_offset_ms;
}

void sh_time_set_offset_ms(int64_t ms)
{
    clock_offset_ms = ms;
    clock_offset_loaded = true;
}

int64_t sh_time_backoff_ms(int64_t min_ms, int64_t max_ms, unsigned attempt)
{
    int64_t d = min_ms;

    for (unsigned i = 1; i < attempt && d > 0 && d < max_ms; i++)
        d *= 2;
    return d > max_ms ? max_ms : d;
}

int64_t sh_time_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + offset_ms();
}

int64_t sh_time_mono_ms(void)
{
    return (int64_t)(sh_time_mono_ns() / 1000000u);
}

uint64_t sh_time_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
