/* Helpers shared by every test: failure reporting, vector files, temporary directories. */
#include "test.h"

#include <stdarg.h>
#include <sodium.h>
#include <unistd.h>

#include "util/encode.h"

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

const char *test_vector_path(const char *relative)
{
    static char path[4096];
    const char *dir = getenv("SHOAL_VECTORS");

    if (dir == NULL)
        test_fail(__FILE__, __LINE__, "SHOAL_VECTORS is not set (run the tests with meson test)");
    snprintf(path, sizeof path, "%s/%s", dir, relative);
    if (access(path, R_OK) != 0)
        test_fail(__FILE__, __LINE__, "vector file %s is missing", path);
    return path;
}

json_t *test_load_json(const char *relative)
{
    json_error_t err;
    const char *path = test_vector_path(relative);
    json_t *root = json_load_file(path, 0, &err);

    if (root == NULL)
        test_fail(__FILE__, __LINE__, "%s:%d: %s", path, err.line, err.text);
    return root;
}

const char *test_json_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_string(v))
        test_fail(__FILE__, __LINE__, "vector lacks string member '%s'", key);
    return json_string_value(v);
}

void test_hex(const char *hex, sh_buf *out)
{
    if (sh_hex_decode_buf(out, hex) != SH_OK)
        test_fail(__FILE__, __LINE__, "bad hex in vector: %s", sh_err_msg());
}

void test_json_hex(json_t *obj, const char *key, sh_buf *out)
{
    test_hex(test_json_str(obj, key), out);
}

const char *test_tmpdir(void)
{
    static char path[256];
    const char *base = getenv("TMPDIR");

    snprintf(path, sizeof path, "%s/shoal-test-XXXXXX", base != NULL ? base : "/tmp");
    if (mkdtemp(path) == NULL)
        test_fail(__FILE__, __LINE__, "mkdtemp failed");
    return path;
}

void test_random(void *out, size_t len)
{
    static uint8_t seed[randombytes_SEEDBYTES];
    static uint64_t counter;
    uint8_t block_seed[randombytes_SEEDBYTES];

    memcpy(block_seed, seed, sizeof block_seed);
    for (int i = 0; i < 8; i++)
        block_seed[i] ^= (uint8_t)(counter >> (8 * i));
    counter++;
    randombytes_buf_deterministic(out, len, block_seed);
}
