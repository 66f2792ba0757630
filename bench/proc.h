/* Benchmark helpers for programs run as their own processes: start one with its output in a
 * log, start shoald and read its ready line, stop one with SIGTERM. */
#ifndef SH_BENCH_PROC_H
#define SH_BENCH_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct bench_shoald {
    pid_t pid;
    uint16_t port;
    uint8_t link_key[32];
    uint8_t identity_key[32];
} bench_shoald;

/* Runs argv (argv[0] the path) with stderr appended to `log` (NULL: inherited) and stdout to
 * `out_fd` (< 0: the log, or inherited without one). */
pid_t bench_spawn(const char *const *argv, const char *log, int out_fd);
/* Starts shoald (argv[0] its path) and waits for its ready line; dies if it never comes. */
void bench_shoald_start(const char *const *argv, const char *log, bench_shoald *out);
/* SIGTERM, then waits; with `must_exit_clean`, dies unless the process exited with status 0. */
void bench_stop(pid_t pid, bool must_exit_clean);

#endif
