/* Fault injection (style.md item 11): the Nth SQLite step, for every N across a batch, and the
 * COMMIT fail as an I/O error would. A failed batch reports the error to every callback of that
 * batch, nothing of it is in the database, everything acknowledged is, the store keeps working
 * afterwards, and the file passes PRAGMA integrity_check. The synchronous calls roll back whole. */
#include <sqlite3.h>

#include "helpers.h"
#include "store/fault.h"

enum { BATCH = 8 };

typedef struct result {
    int calls, status;
    uint8_t hash[32];
} result;

static int completions;
static uint8_t owner[33];

static void put_cb(void *ctx, int status, sh_store_outcome outcome, const uint8_t hash[32])
{
    result *r = ctx;

    r->calls++;
    r->status = status;
    if (status == SH_OK)
        CHECK_EQ(outcome, SH_STORE_STORED);
    memcpy(r->hash, hash, 32);
    completions++;
}

static bool present(sh_store *s, const uint8_t hash[32])
{
    sh_store_msg got;
    sh_buf buf;
    int rc;

    sh_buf_init(&buf);
    rc = sh_store_get(s, hash, &got, &buf);
    sh_buf_free(&buf);
    CHECK(rc == SH_OK || rc == SH_ERR_NOT_FOUND);
    return rc == SH_OK;
}

/* Submits one batch with the fault armed; returns whether the batch failed. */
static bool faulty_batch(sh_store *s, uv_loop_t *loop, sh__store_fault_point point, uint64_t nth,
                         uint32_t round)
{
    static uint8_t d[BATCH][100];
    result r[BATCH];
    int failed = 0;

    memset(r, 0, sizeof r);
    completions = 0;
    CHECK_OK(sh__store_fault_arm(point, nth));
    for (int i = 0; i < BATCH; i++) {
        sh_store_msg m = test_msg(owner, 0, T0_MS, SH_MS_PER_HOUR, d[i], 100,
                                  round * 100 + (uint32_t)i);

        CHECK_OK(sh_store_submit_put(s, &m, put_cb, &r[i]));
    }
    while (completions < BATCH)
        uv_run(loop, UV_RUN_ONCE);
    CHECK_OK(sh__store_fault_arm(point, 0));
    for (int i = 0; i < BATCH; i++) {
        CHECK_EQ(r[i].calls, 1);
        if (r[i].status != SH_OK) {
            CHECK_EQ(r[i].status, SH_ERR_IO);
            failed++;
        }
        /* Acknowledged means committed; failed means absent. */
        CHECK_EQ(present(s, r[i].hash), r[i].status == SH_OK);
    }
    CHECK(failed == 0 || failed == BATCH); /* the whole batch shares one fate */
    return failed == BATCH;
}

static void integrity_ok(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *st;

    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void sync_calls(sh_store *s)
{
    uint8_t d[3][30];
    sh_store_msg m[3];
    sh_store_outcome out;
    sh_store_page p;
    uint64_t n;
    int rc, k;

    for (int i = 0; i < 3; i++) {
        m[i] = test_msg(owner, 2, T0_MS, SH_MS_PER_HOUR, d[i], 30, 7000 + (uint32_t)i);
        CHECK_OK(sh_store_put(s, &m[i], &out));
    }
    uint8_t hashes[3][32];
    for (int i = 0; i < 3; i++)
        memcpy(hashes[i], m[i].hash, 32);
    sh_store_request req = test_request(owner, 2, T0_MS, "delete three");
    /* A delete that fails at any step deletes nothing. */
    for (k = 1; k < 100; k++) {
        CHECK_OK(sh__store_fault_arm(SH__STORE_FAULT_STEP, (uint64_t)k));
        rc = sh_store_delete(s, &req, (const uint8_t(*)[32])hashes, 3, NULL, &n);
        CHECK_OK(sh__store_fault_arm(SH__STORE_FAULT_STEP, 0));
        if (rc == SH_OK)
            break;
        CHECK_EQ(rc, SH_ERR_IO);
        for (int i = 0; i < 3; i++)
            CHECK(present(s, m[i].hash));
    }
    CHECK(k > 8);
    CHECK_EQ(n, 3);
    for (int i = 0; i < 3; i++)
        CHECK(!present(s, m[i].hash));
    CHECK_OK(sh__store_fault_arm(SH__STORE_FAULT_COMMIT, 1));
    sh_store_msg extra = test_msg(owner, 2, T0_MS, SH_MS_PER_HOUR, d[0], 30, 8000);
    CHECK_ERR(sh_store_put(s, &extra, &out), SH_ERR_IO);
    CHECK_MSG("injected");
    CHECK(!present(s, extra.hash));
    /* Reads report the failure too. */
    sh_store_query q = {.ns = 0, .max_count = 10, .max_bytes = 10000};
    memcpy(q.owner, owner, 33);
    CHECK_OK(sh__store_fault_arm(SH__STORE_FAULT_STEP, 2));
    CHECK_ERR(sh_store_retrieve(s, &q, &p), SH_ERR_IO);
    sh_store_page_free(&p);
    CHECK_OK(sh__store_fault_arm(SH__STORE_FAULT_STEP, 0));
}

static void request_cb(void *ctx, int status, const sh_store_result *r)
{
    int *out = ctx;

    (void)r;
    *out = status;
    completions++;
}

/* A delete in a batch whose COMMIT fails reports the error and deletes nothing. */
static void failed_request(sh_store *s, uv_loop_t *loop)
{
    uint8_t d[30];
    sh_store_msg m = test_msg(owner, 3, T0_MS, SH_MS_PER_HOUR, d, 30, 9000);
    sh_store_outcome out;
    sh_store_request req = test_request(owner, 3, T0_MS, "delete it");
    int status = 1;

    CHECK_OK(sh_store_put(s, &m, &out));
    completions = 0;
    CHECK_OK(sh__store_fault_arm(SH__STORE_FAULT_COMMIT, 1));
    CHECK_OK(sh_store_submit_delete(s, &req, (const uint8_t(*)[32])m.hash, 1, request_cb, &status));
    while (completions < 1)
        uv_run(loop, UV_RUN_ONCE);
    CHECK_EQ(status, SH_ERR_IO);
    CHECK(present(s, m.hash));
    sh_store_tombstone t;
    CHECK_ERR(sh_store_tombstone_get(s, owner, 3, m.hash, &t, NULL), SH_ERR_NOT_FOUND);
    uint64_t n;
    CHECK_OK(sh_store_delete(s, &req, (const uint8_t(*)[32])m.hash, 1, NULL, &n));
    CHECK_EQ(n, 1);
}

int main(void)
{
    char path[512];
    sh_store_options o;
    sh_store_stats st;
    uv_loop_t loop;
    sh_store *s;
    uint32_t round = 0;
    int failures = 0, n;

    if (sh__store_fault_arm(SH__STORE_FAULT_STEP, 0) == SH_ERR_UNSUPPORTED)
        return 77; /* a release build has no fault hook: skipped */
    test_owner(owner, 1);
    CHECK(uv_loop_init(&loop) == 0);
    test_store_options(&o);
    o.loop = &loop;
    snprintf(path, sizeof path, "%s", test_db_path(test_tmpdir(), "fault.db"));
    CHECK_OK(sh_store_open(path, &o, &s));

    /* Every step of a batch (BEGIN, each lookup and insert, COMMIT) fails once. */
    for (n = 1; n < 500; n++) {
        if (!faulty_batch(s, &loop, SH__STORE_FAULT_STEP, (uint64_t)n, ++round))
            break;
        failures++;
    }
    CHECK(failures > BATCH * 4); /* several steps per put were hit */
    CHECK_OK(sh_store_stats_get(s, &st));
    CHECK_EQ(st.batches_failed, (uint64_t)failures);
    CHECK(faulty_batch(s, &loop, SH__STORE_FAULT_COMMIT, 1, ++round));
    CHECK(!faulty_batch(s, &loop, SH__STORE_FAULT_COMMIT, 0, ++round)); /* it works again */
    sync_calls(s);
    failed_request(s, &loop);
    CHECK_OK(sh_store_stats_get(s, &st));
    CHECK_EQ(st.messages, BATCH * 2);
    sh_store_close(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
    integrity_ok(path);
    return 0;
}
