/* The expiry sweeper: batches of at most max_rows rows, messages first, then dead tombstones and
 * requests; live messages untouched; the expiry lag in the stats; the sweep through the writer
 * thread (submit_sweep) on a loop. */
#include "helpers.h"

static void count_cb(void *ctx, int status, uint64_t count)
{
    int64_t *out = ctx;

    CHECK_OK(status);
    *out = (int64_t)count;
}

static uint8_t owner[33];

static void sweep_batches(void)
{
    enum { DYING = 25, LIVING = 5 };
    uint8_t d[DYING + LIVING][16];
    sh_store_msg m[DYING + LIVING], got;
    sh_store_options o;
    sh_store_outcome out;
    sh_store_stats st;
    sh_store *s;
    uint64_t n;
    sh_buf buf;

    sh_buf_init(&buf);
    test_store_options(&o);
    CHECK_OK(sh_store_open(test_db_path(test_tmpdir(), "sweep.db"), &o, &s));
    for (int i = 0; i < DYING + LIVING; i++) {
        m[i] = test_msg(owner, 0, T0_MS, i < DYING ? 1000 + i : SH_MS_PER_DAY, d[i], 16,
                        (uint32_t)i);
        CHECK_OK(sh_store_put(s, &m[i], &out));
    }
    sh_store_request req = test_request(owner, 0, T0_MS, "delete one");
    CHECK_OK(sh_store_delete(s, &req, (const uint8_t(*)[32])m[0].hash, 1, NULL, &n));
    CHECK_OK(sh_store_sweep(s, 10, &n));
    CHECK_EQ(n, 0); /* nothing has expired yet */
    CHECK_OK(sh_store_stats_get(s, &st));
    CHECK_EQ(st.expiry_lag_ms, 0);
    CHECK_EQ(st.tombstones, 1);

    atomic_store(&test_now_ms, T0_MS + 1000 + DYING + 500);
    CHECK_OK(sh_store_stats_get(s, &st));
    CHECK_EQ(st.messages, DYING + LIVING - 1);
    CHECK_EQ(st.expiry_lag_ms, 500 + DYING - 1); /* the oldest unswept expiry is m[1]'s */
    CHECK_OK(sh_store_sweep(s, 10, &n));
    CHECK_EQ(n, 10);
    CHECK_OK(sh_store_sweep(s, 10, &n));
    CHECK_EQ(n, 10);
    CHECK_OK(sh_store_sweep(s, 10, &n)); /* 4 messages + the tombstone + its request */
    CHECK_EQ(n, 6);
    CHECK_OK(sh_store_sweep(s, 10, &n));
    CHECK_EQ(n, 0);
    CHECK_OK(sh_store_stats_get(s, &st));
    CHECK_EQ(st.messages, LIVING);
    CHECK_EQ(st.tombstones, 0);
    CHECK_EQ(st.expiry_lag_ms, 0);
    for (int i = DYING; i < DYING + LIVING; i++)
        CHECK_OK(sh_store_get(s, m[i].hash, &got, &buf));
    sh_store_close(s);
    sh_buf_free(&buf);
}

/* The same through the writer thread. */
static void sweep_on_loop(void)
{
    uint8_t d[3][16];
    sh_store_msg m[3];
    sh_store_options o;
    sh_store_outcome out;
    sh_store *s;
    uv_loop_t loop;
    int64_t swept = -1;

    test_store_options(&o);
    CHECK(uv_loop_init(&loop) == 0);
    atomic_store(&test_now_ms, T0_MS);
    o.loop = &loop;
    CHECK_OK(sh_store_open(test_db_path(test_tmpdir(), "sweep2.db"), &o, &s));
    for (int i = 0; i < 3; i++) {
        m[i] = test_msg(owner, 0, T0_MS, 1000, d[i], 16, (uint32_t)i);
        CHECK_OK(sh_store_put(s, &m[i], &out));
    }
    atomic_store(&test_now_ms, T0_MS + 1000 + 100000);
    CHECK_ERR(sh_store_submit_sweep(s, 0, count_cb, &swept), SH_ERR_LIMIT);
    CHECK_OK(sh_store_submit_sweep(s, 2, count_cb, &swept));
    while (swept < 0)
        uv_run(&loop, UV_RUN_ONCE);
    CHECK_EQ(swept, 2);
    swept = -1;
    CHECK_OK(sh_store_submit_sweep(s, 2, count_cb, &swept));
    while (swept < 0)
        uv_run(&loop, UV_RUN_ONCE);
    CHECK_EQ(swept, 1);
    sh_store_close(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}

int main(void)
{
    test_owner(owner, 1);
    sweep_batches();
    sweep_on_loop();
    return 0;
}
