/* Clocks. Wall-clock time is what goes into signed timestamps; monotonic time drives timers.
 * A process-wide offset (set by tests, or from $SHOAL_CLOCK_OFFSET_MS) skews the wall clock so
 * that clock-skew handling can be tested without touching the machine's clock. */
#ifndef SH_UTIL_TIME_H
#define SH_UTIL_TIME_H

#include <stdint.h>

#define SH_MS_PER_SECOND 1000LL
#define SH_MS_PER_MINUTE (60LL * SH_MS_PER_SECOND)
#define SH_MS_PER_HOUR (60LL * SH_MS_PER_MINUTE)
#define SH_MS_PER_DAY (24LL * SH_MS_PER_HOUR)

/* Milliseconds since the Unix epoch, including the test offset. */
int64_t sh_time_now_ms(void);
/* Milliseconds on a monotonic clock (arbitrary origin). */
int64_t sh_time_mono_ms(void);
/* Nanoseconds on a monotonic clock, for benchmarks. */
uint64_t sh_time_mono_ns(void);
void sh_time_set_offset_ms(int64_t offset_ms);
/* A retry's wait before jitter: min_ms for the first attempt, doubled for each one after it, at
 * most max_ms (when max_ms < min_ms, max_ms). */
int64_t sh_time_backoff_ms(int64_t min_ms, int64_t max_ms, unsigned attempt);

#endif
