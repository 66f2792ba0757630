/* Benchmark helpers: timing, quick mode, and the `bench: <name> <value> <unit>` result lines that
 * scripts collect. Every target figure is reported beside the limit it is measured against. */
#ifndef SH_BENCH_H
#define SH_BENCH_H

#include <stdbool.h>
#include <stdint.h>

/* True when BENCH_QUICK=1: benchmarks shrink their sizes for a smoke run. */
bool bench_quick(void);
/* Scales an iteration count down in quick mode (to 1/20, at least 1). */
uint64_t bench_iters(uint64_t full);
double bench_now_s(void);
/* Prints one machine-readable result line. */
void bench_report(const char *name, double value, const char *unit);

#endif
