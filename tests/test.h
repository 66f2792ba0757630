/* The test harness: each test is its own executable (its own process, under ASan+UBSan in the
 * debug build) that exits 0 when every CHECK held. A failed CHECK prints where and why, with the
 * last sh_err message, and exits 1. Helpers read vector files from $SHOAL_VECTORS. */
#ifndef SH_TEST_H
#define SH_TEST_H

#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shoal/err.h>

#include "util/buf.h"

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond))                                                                       \
            test_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);                      \
    } while (0)

#define CHECK_EQ(a, b)                                                                     \
    do {                                                                                   \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                    \
        if (check_a_ != check_b_)                                                          \
            test_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, check_a_, \
                      #b, check_b_);                                                       \
    } while (0)

#define CHECK_OK(expr)                                                                     \
    do {                                                                                   \
        int check_rc_ = (expr);                                                            \
        if (check_rc_ != SH_OK)                                                            \
            test_fail(__FILE__, __LINE__, "%s returned %s: %s", #expr,                     \
                      sh_err_name(check_rc_), sh_err_msg());                               \
    } while (0)

/* The expression must fail with exactly `code`. */
#define CHECK_ERR(expr, code)                                                              \
    do {                                                                                   \
        int check_rc_ = (expr);                                                            \
        if (check_rc_ != (code))                                                           \
            test_fail(__FILE__, __LINE__, "%s returned %s (%s), expected %s", #expr,       \
                      sh_err_name(check_rc_), sh_err_msg(), sh_err_name(code));            \
    } while (0)

#define CHECK_MEM(a, b, n)                                                                 \
    do {                                                                                   \
        if (memcmp((a), (b), (n)) != 0)                                                    \
            test_fail(__FILE__, __LINE__, "%s and %s differ in their %zu bytes", #a, #b,   \
                      (size_t)(n));                                                        \
    } while (0)

#define CHECK_STR(a, b)                                                                    \
    do {                                                                                   \
        const char *check_a_ = (a), *check_b_ = (b);                                       \
        if (strcmp(check_a_, check_b_) != 0)                                               \
            test_fail(__FILE__, __LINE__, "%s is \"%s\", expected \"%s\"", #a, check_a_,   \
                      check_b_);                                                           \
    } while (0)

/* The current sh_err message must contain `needle`. */
#define CHECK_MSG(needle)                                                                  \
    do {                                                                                   \
        if (strstr(sh_err_msg(), (needle)) == NULL)                                        \
            test_fail(__FILE__, __LINE__, "error message \"%s\" lacks \"%s\"",             \
                      sh_err_msg(), (needle));                                             \
    } while (0)

_Noreturn void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Path of a file under the vectors folder; aborts the test when it is missing. */
const char *test_vector_path(const char *relative);
/* Loads a JSON vector file (aborts on error); free with json_decref. */
json_t *test_load_json(const char *relative);
/* Decodes a hex string from a JSON object member into buf (aborts when absent or bad). */
void test_json_hex(json_t *obj, const char *key, sh_buf *out);
const char *test_json_str(json_t *obj, const char *key);
/* Decodes a hex string (aborts when bad). */
void test_hex(const char *hex, sh_buf *out);
/* A fresh empty temporary directory for this test (removed by the OS tmp cleaner, or by
 * test_rmdir); returns a static path. */
const char *test_tmpdir(void);
/* Deterministic pseudo-random bytes for tests: the same sequence on every run. */
void test_random(void *out, size_t len);

#endif
