/* Group commit on a libuv loop: writes submitted in one loop iteration commit in one transaction;
 * callbacks run in submission order and only once the write is visible to the read connection
 * (committed); a full inbox refuses its own jobs without failing the batch; duplicates inside one
 * batch; batch size and queue bounds at the limit and one past; errors found at submit time get
 * no callback; close completes everything still queued; 16 concurrent submitters. */
#include <sys/stat.h>

#include "helpers.h"

typedef struct result {
    int calls, status;
    sh_store_outcome outcome;
    int order;
} result;

static sh_store *store;
static int completions;
static uint8_t owner[33], other[33];

static void put_cb(void *ctx, int status, sh_store_outcome outcome, const uint8_t hash[32])
{
    result *r = ctx;
    sh_store_msg got;
    sh_buf buf;

    r->calls++;
    r->status = status;
    r->outcome = outcome;
    r->order = completions++;
    if (status == SH_OK && outcome == SH_STORE_STORED && store != NULL) {
        sh_buf_init(&buf); /* acknowledged only once committed: the reader sees it */
        CHECK_OK(sh_store_get(store, hash, &got, &buf));
        sh_buf_free(&buf);
    }
    if (status != SH_OK)
        CHECK(sh_err_msg()[0] != '\0');
}

static sh_store *open_store(uv_loop_t *loop, const char *name, uint32_t max_msgs, uint32_t batch,
                            uint32_t queue)
{
    sh_store_options o;
    sh_store *s;

    test_store_options(&o);
    o.loop = loop;
    o.max_msgs_per_ns = max_msgs;
    o.batch_max_jobs = batch;
    o.queue_max_jobs = queue;
    CHECK_OK(sh_store_open(test_db_path(test_tmpdir(), name), &o, &s));
    return s;
}

static void run_until(uv_loop_t *loop, const int *counter, int target)
{
    while (*counter < target)
        uv_run(loop, UV_RUN_ONCE);
}

static void one_batch(uv_loop_t *loop)
{
    enum { N = 100 };
    static uint8_t d[N][300];
    result r[N + 1];
    sh_store_stats st;

    memset(r, 0, sizeof r);
    completions = 0;
    store = open_store(loop, "one.db", 10000, 512, 1000);
    for (int i = 0; i < N; i++) {
        sh_store_msg m = test_msg(owner, 0, T0_MS, SH_MS_PER_HOUR, d[i], 300, (uint32_t)i);

        CHECK_OK(sh_store_submit_put(store, &m, put_cb, &r[i]));
    }
    sh_store_msg dup = test_msg(owner, 0, T0_MS, SH_MS_PER_HOUR, d[0], 300, 0);
    CHECK_OK(sh_store_submit_put(store, &dup, put_cb, &r[N]));
    run_until(loop, &completions, N + 1);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(r[i].calls, 1);
        CHECK_OK(r[i].status);
        CHECK_EQ(r[i].outcome, SH_STORE_STORED);
        CHECK_EQ(r[i].order, i);
    }
    CHECK_EQ(r[N].outcome, SH_STORE_DUPLICATE);
    CHECK_OK(sh_store_stats_get(store, &st));
    CHECK_EQ(st.batches_committed, 1);
    CHECK_EQ(st.jobs_committed, N + 1);
    CHECK_EQ(st.messages, N);
    sh_store_close(store);
    store = NULL;
}

static void full_inside_a_batch(uv_loop_t *loop)
{
    uint8_t d[7][40];
    result r[7];
    sh_store_stats st;

    memset(r, 0, sizeof r);
    completions = 0;
    store = open_store(loop, "full.db", 3, 512, 1000);
    for (int i = 0; i < 7; i++) {
        sh_store_msg m = test_msg(i < 5 ? owner : other, 0, T0_MS, SH_MS_PER_HOUR, d[i], 40,
                                  (uint32_t)i);

        CHECK_OK(sh_store_submit_put(store, &m, put_cb, &r[i]));
    }
    run_until(loop, &completions, 7);
    for (int i = 0; i < 7; i++) {
        CHECK_EQ(r[i].calls, 1);
        CHECK_EQ(r[i].status, i == 3 || i == 4 ? SH_ERR_FULL : SH_OK);
    }
    CHECK_OK(sh_store_stats_get(store, &st));
    CHECK_EQ(st.batches_committed, 1);
    CHECK_EQ(st.batches_failed, 0);
    CHECK_EQ(st.messages, 5);
    sh_store_close(store);
    store = NULL;
}

/* In a batch a full refusal is the job's own (no rollback): replacing a single slot's message
 * with one too large for the namespace must leave the old message in place. */
static void slot_full_in_batch(uv_loop_t *loop)
{
    uint8_t a[80], c[101];
    sh_store_options o;
    sh_store_msg v1, v3, got;
    result r[2];
    sh_buf buf;

    memset(r, 0, sizeof r);
    sh_buf_init(&buf);
    completions = 0;
    test_store_options(&o);
    o.loop = loop;
    o.max_bytes_per_ns = 100;
    CHECK_OK(sh_store_open(test_db_path(test_tmpdir(), "slot.db"), &o, &store));
    v1 = test_msg(owner, 12, T0_MS - 30, SH_MS_PER_HOUR, a, sizeof a, 1);
    v3 = test_msg(owner, 12, T0_MS - 10, SH_MS_PER_HOUR, c, sizeof c, 3);
    CHECK_OK(sh_store_submit_put(store, &v1, put_cb, &r[0]));
    CHECK_OK(sh_store_submit_put(store, &v3, put_cb, &r[1]));
    run_until(loop, &completions, 2);
    CHECK_OK(r[0].status);
    CHECK_EQ(r[1].status, SH_ERR_FULL);
    CHECK_OK(sh_store_get(store, v1.hash, &got, &buf));
    sh_store_close(store);
    store = NULL;
    sh_buf_free(&buf);
}

static void bounds(uv_loop_t *loop)
{
    uint8_t d[12][10];
    result r[12];
    sh_store_stats st;
    sh_store_msg m;

    memset(r, 0, sizeof r);
    completions = 0;
    store = open_store(loop, "bounds.db", 10000, 4, 10);
    for (int i = 0; i < 10; i++) {
        m = test_msg(owner, 0, T0_MS, SH_MS_PER_HOUR, d[i], 10, (uint32_t)i);
        CHECK_OK(sh_store_submit_put(store, &m, put_cb, &r[i]));
    }
    m = test_msg(owner, 0, T0_MS, SH_MS_PER_HOUR, d[10], 10, 10);
    CHECK_ERR(sh_store_submit_put(store, &m, put_cb, &r[10]), SH_ERR_BUSY); /* queue: 10 of 10 */
    CHECK_ERR(sh_store_submit_sweep(store, 10, NULL, NULL), SH_ERR_BUSY);
    m.ns = 1;
    run_until(loop, &completions, 10);
    CHECK_OK(sh_store_stats_get(store, &st));
    CHECK_EQ(st.jobs_committed, 10);
    CHECK(st.batches_committed >= 3); /* at most 4 per transaction */
    m.ns = 0;
    CHECK_OK(sh_store_submit_put(store, &m, put_cb, &r[10]));
    /* Errors found at once are returned, with no callback. */
    m.ns = 1;
    CHECK_ERR(sh_store_submit_put(store, &m, put_cb, &r[11]), SH_ERR_INVALID);
    m.ns = 0;
    m.timestamp_ms = T0_MS + SH_STORE_MAX_FUTURE_MS + 1;
    m.expiry_ms = m.timestamp_ms + 1000;
    CHECK_ERR(sh_store_submit_put(store, &m, put_cb, &r[11]), SH_ERR_STALE);
    run_until(loop, &completions, 11);
    CHECK_EQ(r[10].calls, 1);
    CHECK_EQ(r[11].calls, 0);
    sh_store_close(store);
    store = NULL;

    /* Without a loop there is no writer thread. */
    sh_store *plain;
    sh_store_options o;
    test_store_options(&o);
    CHECK_OK(sh_store_open(test_db_path(test_tmpdir(), "plain.db"), &o, &plain));
    CHECK_ERR(sh_store_submit_put(plain, &m, put_cb, &r[11]), SH_ERR_INVALID);
    sh_store_close(plain);
}

static sh_store *closing_store;
static int resubmit_status = 1;

static void resubmit_cb(void *ctx, int status, sh_store_outcome outcome, const uint8_t hash[32])
{
    uint8_t d[5];
    sh_store_msg m = test_msg(owner, 0, T0_MS, SH_MS_PER_HOUR, d, 5, 999);

    put_cb(ctx, status, outcome, hash);
    resubmit_status = sh_store_submit_put(closing_store, &m, put_cb, ctx);
}

static void close_drains(uv_loop_t *loop)
{
    enum { N = 20 };
    uint8_t d[N][50];
    result r[N];
    char saved[512];
    sh_store_options o;

    memset(r, 0, sizeof r);
    completions = 0;
    test_store_options(&o);
    o.loop = loop;
    snprintf(saved, sizeof saved, "%s", test_db_path(test_tmpdir(), "drain.db"));
    CHECK_OK(sh_store_open(saved, &o, &closing_store));
    for (int i = 0; i < N; i++) {
        sh_store_msg m = test_msg(owner, 0, T0_MS, SH_MS_PER_HOUR, d[i], 50, (uint32_t)i);

        CHECK_OK(sh_store_submit_put(closing_store, &m, i == 0 ? resubmit_cb : put_cb, &r[i]));
    }
    sh_store_close(closing_store); /* the loop never ran: close commits and completes them */
    CHECK_EQ(completions, N);
    CHECK_EQ(resubmit_status, SH_ERR_CANCELLED);
    for (int i = 0; i < N; i++)
        CHECK_OK(r[i].status);
    uv_run(loop, UV_RUN_DEFAULT); /* releases the handles */

    sh_store *s;
    sh_store_stats st;
    o.loop = NULL;
    CHECK_OK(sh_store_open(saved, &o, &s));
    CHECK_OK(sh_store_stats_get(s, &st));
    CHECK_EQ(st.messages, N);
    sh_store_close(s);
}

/* 16 submitters, each with one write in flight, submitting the next from its callback. */
enum { CLIENTS = 16, PER_CLIENT = 40 };
static int sent[CLIENTS], acked;
static uint8_t client_data[CLIENTS][256];

static void client_next(int c);

static void client_cb(void *ctx, int status, sh_store_outcome outcome, const uint8_t hash[32])
{
    int c = (int)(intptr_t)ctx;

    (void)hash;
    CHECK_OK(status);
    CHECK_EQ(outcome, SH_STORE_STORED);
    acked++;
    client_next(c);
}

static void client_next(int c)
{
    if (sent[c] == PER_CLIENT)
        return;
    sh_store_msg m = test_msg(owner, 0, T0_MS, SH_MS_PER_HOUR, client_data[c], 256,
                              (uint32_t)(c * 1000 + sent[c]));
    sent[c]++;
    CHECK_OK(sh_store_submit_put(store, &m, client_cb, (void *)(intptr_t)c));
}

static void concurrent(uv_loop_t *loop, uint32_t linger_us)
{
    sh_store_stats st;
    sh_store_options o;

    test_store_options(&o);
    o.loop = loop;
    o.commit_linger_us = linger_us;
    CHECK_OK(sh_store_open(test_db_path(test_tmpdir(), "clients.db"), &o, &store));
    memset(sent, 0, sizeof sent);
    acked = 0;
    for (int c = 0; c < CLIENTS; c++)
        client_next(c);
    run_until(loop, &acked, CLIENTS * PER_CLIENT);
    CHECK_OK(sh_store_stats_get(store, &st));
    CHECK_EQ(st.messages, CLIENTS * PER_CLIENT);
    CHECK_EQ(st.jobs_committed, CLIENTS * PER_CLIENT);
    /* Each round of callbacks resubmits all 16 in one loop iteration: batches, not single
     * writes. */
    CHECK(st.batches_committed <= CLIENTS * PER_CLIENT / 4);
    sh_store_close(store);
    store = NULL;
}

typedef struct req_result {
    int calls, status;
    uint64_t count;
    size_t n;
    bool deleted[4];
    int64_t expiries[4];
} req_result;

static void request_cb(void *ctx, int status, const sh_store_result *r)
{
    req_result *out = ctx;

    out->calls++;
    out->status = status;
    out->count = r->count;
    out->n = r->n;
    for (size_t i = 0; i < r->n && i < 4; i++) {
        if (r->deleted != NULL)
            out->deleted[i] = r->deleted[i];
        if (r->expiries != NULL)
            out->expiries[i] = r->expiries[i];
    }
    completions++;
}

/* Deletes, delete-before and TTL changes through the writer thread, in one batch with puts. */
static void requests(uv_loop_t *loop)
{
    uint8_t d[4][30], hashes[3][32], junk[32] = {9};
    result pr[4];
    req_result del, before, exp;
    sh_store_msg m[4], got;
    sh_buf buf;

    sh_buf_init(&buf);
    memset(pr, 0, sizeof pr);
    memset(&del, 0, sizeof del);
    memset(&before, 0, sizeof before);
    memset(&exp, 0, sizeof exp);
    completions = 0;
    sh_store *rs = open_store(loop, "requests.db", 10000, 512, 1000); /* put_cb: no reads */
    for (int i = 0; i < 4; i++) {
        m[i] = test_msg(owner, 2, T0_MS - 1000 + i * 100, SH_MS_PER_HOUR, d[i], 30, (uint32_t)i);
        CHECK_OK(sh_store_submit_put(rs, &m[i], put_cb, &pr[i]));
    }
    memcpy(hashes[0], m[0].hash, 32);
    memcpy(hashes[1], junk, 32);
    memcpy(hashes[2], m[3].hash, 32);
    char body[] = "signed request bytes";
    sh_store_request req = test_request(owner, 2, T0_MS, body);
    CHECK_OK(sh_store_submit_delete(rs, &req, (const uint8_t(*)[32])hashes, 2, request_cb, &del));
    CHECK_OK(sh_store_submit_expire(rs, &req, (const uint8_t(*)[32])hashes + 1, 2, T0_MS + 5000,
                                    SH_STORE_EXPIRE_SET, request_cb, &exp));
    memset(body, 'x', sizeof body - 1); /* the store kept its own copies */
    memset(hashes, 0, sizeof hashes);
    CHECK_OK(sh_store_submit_delete_before(rs, &req, T0_MS - 850, request_cb, &before));
    /* Bad arguments are refused at once, with no callback. */
    CHECK_ERR(sh_store_submit_delete(rs, &req, (const uint8_t(*)[32])hashes, 0, request_cb, &del),
              SH_ERR_LIMIT);
    CHECK_ERR(sh_store_submit_expire(rs, &req, (const uint8_t(*)[32])hashes, 1, T0_MS - 1,
                                     SH_STORE_EXPIRE_SET, request_cb, &exp), SH_ERR_RANGE);
    req.ns = 1;
    CHECK_ERR(sh_store_submit_delete_before(rs, &req, 0, request_cb, &before), SH_ERR_INVALID);
    run_until(loop, &completions, 7);
    CHECK_EQ(del.calls, 1);
    CHECK_OK(del.status);
    CHECK_EQ(del.count, 1);
    CHECK_EQ(del.n, 2);
    CHECK(del.deleted[0] && !del.deleted[1]);
    CHECK_EQ(exp.calls, 1);
    CHECK_EQ(exp.count, 1);
    CHECK_EQ(exp.expiries[0], 0);
    CHECK_EQ(exp.expiries[1], T0_MS + 5000);
    CHECK_EQ(before.calls, 1);
    CHECK_EQ(before.count, 1); /* m[1] (m[0] was already deleted) */
    CHECK_ERR(sh_store_get(rs, m[0].hash, &got, &buf), SH_ERR_NOT_FOUND);
    CHECK_ERR(sh_store_get(rs, m[1].hash, &got, &buf), SH_ERR_NOT_FOUND);
    CHECK_OK(sh_store_get(rs, m[2].hash, &got, &buf));
    CHECK_OK(sh_store_get(rs, m[3].hash, &got, &buf));
    CHECK_EQ(got.expiry_ms, T0_MS + 5000);
    sh_store_tombstone t;
    sh_buf tb;
    sh_buf_init(&tb);
    CHECK_OK(sh_store_tombstone_get(rs, owner, 2, m[0].hash, &t, &tb));
    CHECK_EQ(tb.len, strlen("signed request bytes"));
    CHECK_MEM(tb.data, "signed request bytes", tb.len);
    sh_buf_free(&tb);
    sh_store_close(rs);
    sh_buf_free(&buf);
}

/* With the background checkpointer off, the writer checkpoints in line once the WAL reaches
 * wal_max_pages, so the WAL file stays near that size instead of growing with every write. */
static void wal_bounded(uv_loop_t *loop)
{
    enum { N = 300, MAX_PAGES = 64 };
    static uint8_t d[N][1024];
    char path[512];
    struct stat sb;
    sh_store_options o;
    sh_store_stats st;
    result r;

    memset(&r, 0, sizeof r);
    completions = 0;
    test_store_options(&o);
    o.loop = loop;
    o.batch_max_jobs = 8;
    o.checkpoint_pages = 0;
    o.wal_max_pages = MAX_PAGES;
    snprintf(path, sizeof path, "%s", test_db_path(test_tmpdir(), "wal.db"));
    CHECK_OK(sh_store_open(path, &o, &store));
    for (int i = 0; i < N; i++) {
        sh_store_msg m = test_msg(owner, 0, T0_MS, SH_MS_PER_HOUR, d[i], 1024, (uint32_t)i);

        CHECK_OK(sh_store_submit_put(store, &m, put_cb, &r));
    }
    run_until(loop, &completions, N);
    CHECK_OK(sh_store_stats_get(store, &st));
    CHECK(st.checkpoints >= 4);
    strcat(path, "-wal");
    CHECK(stat(path, &sb) == 0);
    /* 64 pages plus one batch of 8 messages (a few dozen pages), 4 KiB + 24 bytes per frame */
    CHECK(sb.st_size <= (MAX_PAGES + 48) * (4096 + 24) + 32);
    CHECK(st.messages == N);
    sh_store_close(store);
    store = NULL;
}

int main(void)
{
    uv_loop_t loop;

    test_owner(owner, 1);
    test_owner(other, 2);
    CHECK(uv_loop_init(&loop) == 0);
    one_batch(&loop);
    full_inside_a_batch(&loop);
    slot_full_in_batch(&loop);
    bounds(&loop);
    close_drains(&loop);
    requests(&loop);
    wal_bounded(&loop);
    concurrent(&loop, 0);
    concurrent(&loop, 200);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
    return 0;
}
