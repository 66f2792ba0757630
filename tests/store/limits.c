/* Every limit of the store at the limit and one past it: data size, messages and bytes per owner
 * and namespace (SH_ERR_FULL, never evicting), future timestamps, max TTL per namespace, page
 * caps, hashes and request bytes per request, sweep size, slot key size. The per-namespace limits
 * use small values through sh_store_options; the rest use the production constants. */
#include "helpers.h"

static uint8_t owner[33], other[33];

static sh_store *open_store(const char *dir, const char *name, uint32_t max_msgs,
                            uint64_t max_bytes)
{
    sh_store_options o;
    sh_store *s;

    test_store_options(&o);
    o.max_msgs_per_ns = max_msgs;
    o.max_bytes_per_ns = max_bytes;
    CHECK_OK(sh_store_open(test_db_path(dir, name), &o, &s));
    return s;
}

static void data_size(sh_store *s)
{
    static uint8_t data[SH_STORE_MAX_DATA_BYTES + 1];
    sh_store_msg m = test_msg(owner, 0, T0_MS, SH_MS_PER_HOUR, data, SH_STORE_MAX_DATA_BYTES, 1);
    sh_store_outcome out;

    CHECK_EQ(SH_STORE_MAX_DATA_BYTES, 61440);
    CHECK_OK(sh_store_put(s, &m, &out));
    CHECK_EQ(out, SH_STORE_STORED);
    m = test_msg(owner, 0, T0_MS, SH_MS_PER_HOUR, data, SH_STORE_MAX_DATA_BYTES + 1, 2);
    CHECK_ERR(sh_store_put(s, &m, &out), SH_ERR_LIMIT);
    CHECK_MSG("61441");
    m = test_msg(owner, 0, T0_MS, SH_MS_PER_HOUR, data, 0, 3); /* empty data is a message too */
    CHECK_OK(sh_store_put(s, &m, &out));
}

static void message_count(const char *dir)
{
    enum { LIMIT = 5 };
    uint8_t data[LIMIT + 3][16];
    sh_store_msg m[LIMIT + 3], got;
    sh_store_outcome out;
    sh_store *s = open_store(dir, "count.db", LIMIT, 1 << 20);
    sh_buf buf;

    sh_buf_init(&buf);
    for (int i = 0; i < LIMIT; i++) {
        m[i] = test_msg(owner, 0, T0_MS - 100 + i, SH_MS_PER_HOUR, data[i], 16, (uint32_t)i);
        CHECK_OK(sh_store_put(s, &m[i], &out));
        CHECK_EQ(out, SH_STORE_STORED);
    }
    m[LIMIT] = test_msg(owner, 0, T0_MS, SH_MS_PER_HOUR, data[LIMIT], 16, 100);
    CHECK_ERR(sh_store_put(s, &m[LIMIT], &out), SH_ERR_FULL);
    CHECK_MSG("nothing is evicted");
    for (int i = 0; i < LIMIT; i++) /* nothing was evicted */
        CHECK_OK(sh_store_get(s, m[i].hash, &got, &buf));
    CHECK_ERR(sh_store_get(s, m[LIMIT].hash, &got, &buf), SH_ERR_NOT_FOUND);
    CHECK_OK(sh_store_put(s, &m[0], &out)); /* a duplicate is not a new message */
    CHECK_EQ(out, SH_STORE_DUPLICATE);
    /* Other namespaces and other owners have their own limits. */
    sh_store_msg elsewhere = test_msg(owner, 2, T0_MS, SH_MS_PER_HOUR, data[LIMIT + 1], 16, 200);
    CHECK_OK(sh_store_put(s, &elsewhere, &out));
    sh_store_msg theirs = test_msg(other, 0, T0_MS, SH_MS_PER_HOUR, data[LIMIT + 2], 16, 300);
    CHECK_OK(sh_store_put(s, &theirs, &out));
    /* An expired (not yet swept) message does not hold a place: it is dropped to make room. */
    atomic_store(&test_now_ms, T0_MS + SH_MS_PER_HOUR - 100); /* m[0] has just expired */
    m[LIMIT] = test_msg(owner, 0, T0_MS + SH_MS_PER_HOUR - 50, SH_MS_PER_HOUR, data[LIMIT], 16,
                        101);
    CHECK_OK(sh_store_put(s, &m[LIMIT], &out));
    CHECK_EQ(out, SH_STORE_STORED);
    for (int i = 1; i <= LIMIT; i++)
        CHECK_OK(sh_store_get(s, m[i].hash, &got, &buf));
    atomic_store(&test_now_ms, T0_MS);
    sh_buf_free(&buf);
    sh_store_close(s);
}

static void byte_count(const char *dir)
{
    uint8_t a[600], b[400], c[1], d[400];
    sh_store_msg m;
    sh_store_outcome out;
    sh_store *s = open_store(dir, "bytes.db", 100, 1000);

    m = test_msg(owner, 3, T0_MS, SH_MS_PER_HOUR, a, sizeof a, 1);
    CHECK_OK(sh_store_put(s, &m, &out));
    m = test_msg(owner, 3, T0_MS, SH_MS_PER_HOUR, b, sizeof b, 2);
    CHECK_OK(sh_store_put(s, &m, &out)); /* exactly 1000 bytes */
    CHECK_EQ(out, SH_STORE_STORED);
    m = test_msg(owner, 3, T0_MS, SH_MS_PER_HOUR, c, sizeof c, 3);
    CHECK_ERR(sh_store_put(s, &m, &out), SH_ERR_FULL); /* 1001 */
    CHECK_MSG("1000");
    m = test_msg(owner, 3, T0_MS, SH_MS_PER_HOUR, c, 0, 4);
    CHECK_OK(sh_store_put(s, &m, &out)); /* an empty message still fits */
    /* Deleting makes room again. */
    sh_store_msg first = test_msg(owner, 3, T0_MS, SH_MS_PER_HOUR, a, sizeof a, 1);
    sh_store_request req = test_request(owner, 3, T0_MS, "signed delete");
    uint64_t n;
    CHECK_OK(sh_store_delete(s, &req, (const uint8_t(*)[32])first.hash, 1, NULL, &n));
    CHECK_EQ(n, 1);
    m = test_msg(owner, 3, T0_MS, SH_MS_PER_HOUR, d, sizeof d, 5);
    CHECK_OK(sh_store_put(s, &m, &out));
    CHECK_EQ(out, SH_STORE_STORED);
    sh_store_close(s);
}

/* A single slot at its limits: a replacement counts without the message it replaces, and a
 * replacement refused as full keeps the old message. */
static void slot_room(const char *dir)
{
    uint8_t a[80], b[100], c[101];
    sh_store_msg v1, v2, v3, got;
    sh_store_outcome out;
    sh_store *s = open_store(dir, "slot.db", 1, 100);
    sh_buf buf;

    sh_buf_init(&buf);
    v1 = test_msg(owner, 11, T0_MS - 30, SH_MS_PER_HOUR, a, sizeof a, 1);
    v2 = test_msg(owner, 11, T0_MS - 20, SH_MS_PER_HOUR, b, sizeof b, 2);
    v3 = test_msg(owner, 11, T0_MS - 10, SH_MS_PER_HOUR, c, sizeof c, 3);
    CHECK_OK(sh_store_put(s, &v1, &out));
    CHECK_EQ(out, SH_STORE_STORED);
    CHECK_OK(sh_store_put(s, &v2, &out)); /* 1 message, 100 bytes after the swap: at the limit */
    CHECK_EQ(out, SH_STORE_STORED);
    CHECK_ERR(sh_store_put(s, &v3, &out), SH_ERR_FULL); /* 101 bytes */
    CHECK_OK(sh_store_get(s, v2.hash, &got, &buf));
    CHECK_ERR(sh_store_get(s, v1.hash, &got, &buf), SH_ERR_NOT_FOUND);
    sh_buf_free(&buf);
    sh_store_close(s);
}

static void timestamps(sh_store *s)
{
    uint8_t data[8];
    sh_store_msg m = test_msg(owner, 2, T0_MS + SH_STORE_MAX_FUTURE_MS, SH_MS_PER_HOUR, data, 8, 1);
    sh_store_outcome out;

    CHECK_EQ(SH_STORE_MAX_FUTURE_MS, 10000);
    CHECK_OK(sh_store_put(s, &m, &out));
    m = test_msg(owner, 2, T0_MS + SH_STORE_MAX_FUTURE_MS + 1, SH_MS_PER_HOUR, data, 8, 2);
    CHECK_ERR(sh_store_put(s, &m, &out), SH_ERR_STALE);
    CHECK_MSG("ahead");
}

static void ttls(sh_store *s)
{
    static const int16_t spaces[] = {0, 2, 3, 4, 5, 10, 11, 12};
    uint8_t data[8], slot[1] = {9};
    sh_store_outcome out;

    for (size_t i = 0; i < sizeof spaces / sizeof spaces[0]; i++) {
        int64_t max = spaces[i] == 0 ? 14 * SH_MS_PER_DAY : 30 * SH_MS_PER_DAY;
        sh_store_msg m = test_msg(owner, spaces[i], T0_MS, max + SH_STORE_MAX_FUTURE_MS, data, 8,
                                  (uint32_t)(1000 + i));

        if (spaces[i] == 10) {
            m.slot = slot;
            m.slot_len = 1;
        }
        CHECK_EQ(sh_store_ns_lookup(spaces[i])->max_ttl_ms, max);
        m.expiry_ms++;
        CHECK_ERR(sh_store_put(s, &m, &out), SH_ERR_RANGE);
        CHECK_MSG("max TTL");
        m.expiry_ms--;
        CHECK_OK(sh_store_put(s, &m, &out));
        CHECK_EQ(out, SH_STORE_STORED);
    }
}

static void page_caps(sh_store *s)
{
    sh_store_query q = {.ns = 0, .max_count = SH_STORE_PAGE_MAX_COUNT,
                        .max_bytes = SH_STORE_PAGE_MAX_BYTES};
    sh_store_page p;

    memcpy(q.owner, owner, 33);
    CHECK_OK(sh_store_retrieve(s, &q, &p));
    sh_store_page_free(&p);
    q.max_count = SH_STORE_PAGE_MAX_COUNT + 1;
    CHECK_ERR(sh_store_retrieve(s, &q, &p), SH_ERR_LIMIT);
    sh_store_page_free(&p);
    q.max_count = 0;
    CHECK_ERR(sh_store_retrieve(s, &q, &p), SH_ERR_LIMIT);
    q.max_count = 1;
    q.max_bytes = SH_STORE_PAGE_MAX_BYTES + 1;
    CHECK_ERR(sh_store_retrieve(s, &q, &p), SH_ERR_LIMIT);
    q.max_bytes = 0;
    CHECK_ERR(sh_store_retrieve(s, &q, &p), SH_ERR_LIMIT);
    q.max_bytes = 1;
    q.ns = 7;
    CHECK_ERR(sh_store_retrieve(s, &q, &p), SH_ERR_INVALID);
    q.ns = 0;
    q.after.timestamp_ms = -1;
    CHECK_ERR(sh_store_retrieve(s, &q, &p), SH_ERR_RANGE);
    sh_store_page_free(&p);
}

static void request_sizes(sh_store *s)
{
    static uint8_t hashes[SH_STORE_MAX_HASHES_PER_REQUEST + 1][32];
    static uint8_t body[SH_STORE_MAX_REQUEST_BYTES + 1];
    sh_store_request req = test_request(owner, 0, T0_MS, "x");
    int64_t expiries[SH_STORE_MAX_HASHES_PER_REQUEST];
    uint64_t n;

    for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
        test_random(hashes[i], 32);
    CHECK_OK(sh_store_delete(s, &req, (const uint8_t(*)[32])hashes, SH_STORE_MAX_HASHES_PER_REQUEST,
                             NULL, &n));
    CHECK_EQ(n, 0);
    CHECK_ERR(sh_store_delete(s, &req, (const uint8_t(*)[32])hashes,
                              SH_STORE_MAX_HASHES_PER_REQUEST + 1, NULL, &n), SH_ERR_LIMIT);
    CHECK_ERR(sh_store_delete(s, &req, (const uint8_t(*)[32])hashes, 0, NULL, &n), SH_ERR_LIMIT);
    CHECK_OK(sh_store_expire(s, &req, (const uint8_t(*)[32])hashes, SH_STORE_MAX_HASHES_PER_REQUEST,
                             T0_MS + 1000, SH_STORE_EXPIRE_SET, expiries));
    CHECK_ERR(sh_store_expire(s, &req, (const uint8_t(*)[32])hashes,
                              SH_STORE_MAX_HASHES_PER_REQUEST + 1, T0_MS + 1000,
                              SH_STORE_EXPIRE_SET, NULL), SH_ERR_LIMIT);
    req.bytes = body;
    req.len = SH_STORE_MAX_REQUEST_BYTES;
    CHECK_OK(sh_store_delete_before(s, &req, 0, &n));
    req.len = SH_STORE_MAX_REQUEST_BYTES + 1;
    CHECK_ERR(sh_store_delete_before(s, &req, 0, &n), SH_ERR_LIMIT);
    req.len = 0;
    CHECK_ERR(sh_store_delete_before(s, &req, 0, &n), SH_ERR_LIMIT);
    req.len = 1;
    req.ns = 1;
    CHECK_ERR(sh_store_delete_before(s, &req, 0, &n), SH_ERR_INVALID);
}

static void sweep_and_slot_sizes(sh_store *s)
{
    uint8_t data[4], slot[SH_STORE_MAX_SLOT_BYTES] = {1};
    sh_store_msg m = test_msg(owner, 10, T0_MS, SH_MS_PER_HOUR, data, 4, 77);
    sh_store_outcome out;
    uint64_t n;

    CHECK_OK(sh_store_sweep(s, SH_STORE_SWEEP_MAX_ROWS, &n));
    CHECK_ERR(sh_store_sweep(s, SH_STORE_SWEEP_MAX_ROWS + 1, &n), SH_ERR_LIMIT);
    CHECK_ERR(sh_store_sweep(s, 0, &n), SH_ERR_LIMIT);
    m.slot = slot;
    m.slot_len = SH_STORE_MAX_SLOT_BYTES;
    CHECK_OK(sh_store_put(s, &m, &out));
    m.slot_len = SH_STORE_MAX_SLOT_BYTES + 1;
    CHECK_ERR(sh_store_put(s, &m, &out), SH_ERR_INVALID);
}

int main(void)
{
    const char *dir = test_tmpdir();
    sh_store *s;

    test_owner(owner, 1);
    test_owner(other, 2);
    CHECK_EQ(SH_STORE_MAX_MSGS_PER_NS, 10000);
    CHECK_EQ(SH_STORE_MAX_BYTES_PER_NS, 100 * 1024 * 1024);
    s = open_store(dir, "main.db", SH_STORE_MAX_MSGS_PER_NS, SH_STORE_MAX_BYTES_PER_NS);
    data_size(s);
    timestamps(s);
    ttls(s);
    page_caps(s);
    request_sizes(s);
    sweep_and_slot_sizes(s);
    sh_store_close(s);
    message_count(dir);
    byte_count(dir);
    slot_room(dir);
    return 0;
}
