/* Shared benchmark helpers. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool bench_quick(void)
{
    const char *q = getenv("BENCH_QUICK");

    return q != NULL && strcmp(q, "0") != 0 && *q != '\0';
}

uint64_t bench_iters(uint64_t full)
{
    uint64_t n = bench_quick() ? full / 20 : full;

    return n == 0 ? 1 : n;
}

double bench_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_report(const char *name, double value, const char *unit)
{
    if (value >= 100)
        printf("bench: %s %.0f %s\n", name, value, unit);
    else
        printf("bench: %s %.3f %s\n", name, value, unit);
    fflush(stdout);
}
