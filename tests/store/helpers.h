/* Helpers of the store tests: a settable clock (no test sleeps), owners, messages with
 * deterministic data, and database paths in a fresh temporary folder. */
#ifndef SH_TEST_STORE_HELPERS_H
#define SH_TEST_STORE_HELPERS_H

#include <stdatomic.h>
#include <stdio.h>

#include "store/store.h"
#include "test.h"

#define T0_MS 1700000000000LL /* the tests' "now" unless they move the clock */

static _Atomic int64_t test_now_ms = T0_MS;

static inline int64_t test_clock(void *ctx)
{
    (void)ctx;
    return atomic_load(&test_now_ms);
}

static inline void test_store_options(sh_store_options *o)
{
    sh_store_options_default(o);
    o->now_ms = test_clock;
}

static inline void test_owner(uint8_t owner[SH_STORE_OWNER_BYTES], uint8_t n)
{
    owner[0] = 0x05;
    memset(owner + 1, n, SH_STORE_OWNER_BYTES - 1);
}

/* A message of `len` bytes whose contents are derived from `seed` (data must hold len bytes),
 * with its hash. */
static inline sh_store_msg test_msg(const uint8_t owner[SH_STORE_OWNER_BYTES], int16_t ns,
                                    int64_t ts, int64_t ttl, uint8_t *data, size_t len,
                                    uint32_t seed)
{
    sh_store_msg m;

    memset(&m, 0, sizeof m);
    memcpy(m.owner, owner, SH_STORE_OWNER_BYTES);
    m.ns = ns;
    m.timestamp_ms = ts;
    m.expiry_ms = ts + ttl;
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(seed * 2654435761u >> 24 ^ (uint32_t)i * 31u ^ seed);
    if (len >= 4)
        memcpy(data, &seed, 4);
    m.data = data;
    m.data_len = len;
    if (data != NULL || len == 0)
        sh_store_msg_hash(m.hash, owner, ns, data, len);
    return m;
}

static inline const char *test_db_path(const char *dir, const char *name)
{
    static char path[512];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static inline sh_store_request test_request(const uint8_t owner[SH_STORE_OWNER_BYTES], int16_t ns,
                                            int64_t ts, const char *body)
{
    sh_store_request r;

    memset(&r, 0, sizeof r);
    memcpy(r.owner, owner, SH_STORE_OWNER_BYTES);
    r.ns = ns;
    r.timestamp_ms = ts;
    r.bytes = (const uint8_t *)body;
    r.len = strlen(body);
    return r;
}

#endif
