/* Retrieval by cursor: pages in (timestamp, hash) order across count and byte caps, ties on the
 * timestamp, expired messages and other owners' or namespaces' messages left out, a message larger
 * than the byte cap returned alone, the same pages on two stores that received the messages in
 * different orders, and the look-back window (late messages found; paging still ends). */
#include "helpers.h"

enum { N = 60 };

static uint8_t owner[33], other[33];
static uint8_t data[N][700];
static sh_store_msg msgs[N];

/* Message i: timestamps with ties (three per millisecond), sizes 100..699, every 7th expired. */
static void make_msgs(void)
{
    for (int i = 0; i < N; i++) {
        int64_t ttl = i % 7 == 3 ? 500 : SH_MS_PER_DAY;

        msgs[i] = test_msg(owner, 0, T0_MS - 10000 + (i / 3) * 10, ttl, data[i],
                           100 + (size_t)(i * 97) % 600, (uint32_t)i);
    }
}

static void put_all(sh_store *s, bool reverse)
{
    static uint8_t noise[2][100];
    sh_store_outcome out;

    atomic_store(&test_now_ms, T0_MS - 10000);
    for (int k = 0; k < N; k++) {
        sh_store_msg m = msgs[reverse ? N - 1 - k : k];

        CHECK_OK(sh_store_put(s, &m, &out));
        CHECK_EQ(out, SH_STORE_STORED);
    }
    /* Noise: another owner, another namespace. */
    sh_store_msg m = test_msg(other, 0, T0_MS - 5000, SH_MS_PER_DAY, noise[0], 100, 1000);
    CHECK_OK(sh_store_put(s, &m, &out));
    m = test_msg(owner, 2, T0_MS - 5000, SH_MS_PER_DAY, noise[1], 100, 1001);
    CHECK_OK(sh_store_put(s, &m, &out));
    atomic_store(&test_now_ms, T0_MS);
}

static int cmp_msg(const void *a, const void *b)
{
    const sh_store_msg *x = a, *y = b;

    if (x->timestamp_ms != y->timestamp_ms)
        return x->timestamp_ms < y->timestamp_ms ? -1 : 1;
    return memcmp(x->hash, y->hash, 32);
}

/* The live messages in cursor order. */
static size_t expected(sh_store_msg *out)
{
    size_t n = 0;

    for (int i = 0; i < N; i++)
        if (msgs[i].expiry_ms > T0_MS)
            out[n++] = msgs[i];
    qsort(out, n, sizeof *out, cmp_msg);
    return n;
}

/* Pages through everything; returns the number of pages and checks order and completeness. */
static int page_all(sh_store *s, uint32_t max_count, uint32_t max_bytes, sh_store_msg *want,
                    size_t n_want, uint8_t (*seen)[32])
{
    sh_store_query q = {.ns = 0, .max_count = max_count, .max_bytes = max_bytes};
    size_t got = 0;
    int pages = 0;

    memcpy(q.owner, owner, 33);
    for (;;) {
        sh_store_page p;
        size_t bytes = 0;

        CHECK_OK(sh_store_retrieve(s, &q, &p));
        pages++;
        CHECK(p.count <= max_count);
        for (size_t i = 0; i < p.count; i++) {
            CHECK(got < n_want);
            CHECK_MEM(p.msgs[i].hash, want[got].hash, 32);
            CHECK_EQ(p.msgs[i].timestamp_ms, want[got].timestamp_ms);
            CHECK_EQ(p.msgs[i].data_len, want[got].data_len);
            CHECK_MEM(p.msgs[i].data, want[got].data, want[got].data_len);
            CHECK_MEM(p.msgs[i].owner, owner, 33);
            if (seen != NULL)
                memcpy(seen[got], p.msgs[i].hash, 32);
            bytes += p.msgs[i].data_len;
            got++;
        }
        CHECK(p.count == 1 || bytes <= max_bytes);
        if (p.more) { /* cut short by a cap: the next message would not have fitted */
            CHECK(p.count == max_count || bytes + want[got].data_len > max_bytes);
            CHECK_EQ(p.next.timestamp_ms, p.msgs[p.count - 1].timestamp_ms);
            CHECK_MEM(p.next.hash, p.msgs[p.count - 1].hash, 32);
        }
        q.after = p.next;
        bool more = p.more;
        sh_store_page_free(&p);
        if (!more)
            break;
    }
    CHECK_EQ(got, n_want);
    return pages;
}

static void paging(sh_store *s)
{
    sh_store_msg want[N];
    size_t n = expected(want);

    CHECK_EQ(page_all(s, 1000, 256 * 1024, want, n, NULL), 1);
    CHECK_EQ(page_all(s, 7, 256 * 1024, want, n, NULL), (int)((n + 6) / 7));
    CHECK(page_all(s, 1000, 2000, want, n, NULL) >= 10);
    CHECK(page_all(s, 4, 1500, want, n, NULL) >= 13);
    page_all(s, 1, 1, want, n, NULL); /* every message is larger than the cap: one per page */

    /* At the end: nothing, and the cursor stays. */
    sh_store_query q = {.ns = 0, .max_count = 10, .max_bytes = 10000};
    sh_store_page p;
    memcpy(q.owner, owner, 33);
    q.after.timestamp_ms = want[n - 1].timestamp_ms;
    memcpy(q.after.hash, want[n - 1].hash, 32);
    CHECK_OK(sh_store_retrieve(s, &q, &p));
    CHECK_EQ(p.count, 0);
    CHECK(!p.more);
    CHECK_EQ(p.next.timestamp_ms, q.after.timestamp_ms);
    CHECK_MEM(p.next.hash, q.after.hash, 32);
    sh_store_page_free(&p);
    /* An owner the store never saw. */
    uint8_t stranger[33];
    test_owner(stranger, 77);
    memcpy(q.owner, stranger, 33);
    CHECK_OK(sh_store_retrieve(s, &q, &p));
    CHECK_EQ(p.count, 0);
    sh_store_page_free(&p);
}

static void same_on_every_member(sh_store *a, sh_store *b)
{
    sh_store_msg want[N];
    size_t n = expected(want);
    uint8_t seen_a[N][32], seen_b[N][32];

    page_all(a, 5, 3000, want, n, seen_a);
    page_all(b, 5, 3000, want, n, seen_b);
    CHECK_MEM(seen_a, seen_b, n * 32);
}

static void lookback(sh_store *s)
{
    sh_store_msg want[N];
    size_t n = expected(want);
    sh_store_query q = {.ns = 0, .max_count = 1000, .max_bytes = 256 * 1024};
    sh_store_outcome out;
    sh_store_page p;
    uint8_t late_data[50], old_data[50];

    memcpy(q.owner, owner, 33);
    q.after.timestamp_ms = want[n - 1].timestamp_ms; /* the client has read everything */
    memcpy(q.after.hash, want[n - 1].hash, 32);
    /* A message reaches this node late, with a timestamp 30 s before the cursor; another one
     * older than the look-back window. */
    sh_store_msg late = test_msg(owner, 0, q.after.timestamp_ms - 30000, SH_MS_PER_DAY, late_data,
                                 50, 5000);
    sh_store_msg old = test_msg(owner, 0, q.after.timestamp_ms - SH_STORE_LOOKBACK_MS - 1,
                                SH_MS_PER_DAY, old_data, 50, 5001);
    CHECK_OK(sh_store_put(s, &late, &out));
    CHECK_OK(sh_store_put(s, &old, &out));
    CHECK_OK(sh_store_retrieve(s, &q, &p));
    CHECK_EQ(p.count, 0); /* without look-back the late message is missed */
    sh_store_page_free(&p);

    q.lookback = true;
    CHECK_OK(sh_store_retrieve(s, &q, &p));
    bool found_late = false, found_old = false;
    for (size_t i = 0; i < p.count; i++) {
        found_late |= memcmp(p.msgs[i].hash, late.hash, 32) == 0;
        found_old |= memcmp(p.msgs[i].hash, old.hash, 32) == 0;
        CHECK(p.msgs[i].timestamp_ms >= q.after.timestamp_ms - SH_STORE_LOOKBACK_MS);
    }
    CHECK(found_late);
    CHECK(!found_old);
    CHECK_EQ(p.count, n + 1); /* the whole window (all test messages are within 2 minutes) */
    CHECK(!p.more);
    CHECK_EQ(p.next.timestamp_ms, q.after.timestamp_ms); /* the cursor never moves back */
    CHECK_MEM(p.next.hash, q.after.hash, 32);
    sh_store_page_free(&p);

    /* A look-back window fuller than a page: the first page looks back, the rest continue. */
    q.max_count = 4;
    size_t total = 0;
    int pages = 0;
    do {
        CHECK_OK(sh_store_retrieve(s, &q, &p));
        total += p.count;
        q.after = p.next;
        q.lookback = false;
        pages++;
        bool more = p.more;
        sh_store_page_free(&p);
        if (!more)
            break;
    } while (pages < 1000);
    CHECK_EQ(total, n + 1);
    CHECK_EQ(pages, (int)((n + 1 + 3) / 4)); /* a full last page does not claim more */
}

int main(void)
{
    const char *dir = test_tmpdir();
    sh_store_options o;
    sh_store *a, *b;
    char pa[512];

    test_owner(owner, 1);
    test_owner(other, 2);
    make_msgs();
    test_store_options(&o);
    snprintf(pa, sizeof pa, "%s", test_db_path(dir, "a.db"));
    CHECK_OK(sh_store_open(pa, &o, &a));
    CHECK_OK(sh_store_open(test_db_path(dir, "b.db"), &o, &b));
    put_all(a, false);
    put_all(b, true);
    paging(a);
    same_on_every_member(a, b);
    lookback(a);
    sh_store_close(a);
    sh_store_close(b);
    return 0;
}
