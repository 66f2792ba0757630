/* Store benchmark (issue 6): the same 1 KiB messages written by raw SQLite (batched inserts, same
 * pragmas, a plain rowid table with a unique hash index and owner and expiry indexes) and by the
 * store's group-committed puts from 16 concurrent submitters on a libuv loop; retrieves per second
 * (pages of about 12 messages of one owner) against the raw table's owner lookup; bytes on disk
 * per message for both; and, in a child process, peak RSS while holding 1 M stored messages.
 * BENCH_QUICK=1 shrinks every count. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"
#include "rawdb.h"
#include "store/store.h"
#include "util/time.h"

enum { OWNERS = 1000, CLIENTS = 16, MSG_BYTES = 1024, PAGE = 12, CHUNKS = 4 };

static uint8_t payload[MSG_BYTES];
static uint8_t owners[OWNERS][SH_STORE_OWNER_BYTES];
static int64_t now_ms;

/* Message i: one of the owners, a fixed random payload made unique by its index. */
static void make_msg(uint64_t i, sh_store_msg *m, uint8_t data[static MSG_BYTES])
{
    memcpy(data, payload, MSG_BYTES);
    memcpy(data, &i, sizeof i);
    memset(m, 0, sizeof *m);
    memcpy(m->owner, owners[i % OWNERS], SH_STORE_OWNER_BYTES);
    m->ns = 0;
    m->timestamp_ms = now_ms - 60000 + (int64_t)(i % 60000);
    m->expiry_ms = m->timestamp_ms + 7 * 24 * 3600 * 1000LL;
    m->data = data;
    m->data_len = MSG_BYTES;
}

/* Row i for the raw table: the same message the store gets. */
static void raw_row(uint64_t i, sh_store_msg *m, uint8_t *data)
{
    make_msg(i, m, data);
}

/* The store, fed by 16 submitters that each keep one put in flight. */
static struct feeder {
    sh_store *store;
    uint64_t next, total, acked;
    uint8_t data[CLIENTS][MSG_BYTES];
} feeder;

static void feed(intptr_t client);

static void put_cb(void *ctx, int status, sh_store_outcome outcome, const uint8_t hash[32])
{
    (void)hash;
    if (status != SH_OK || outcome != SH_STORE_STORED) {
        fprintf(stderr, "bench-store: put failed: %s (%s)\n", sh_err_name(status), sh_err_msg());
        exit(1);
    }
    feeder.acked++;
    feed((intptr_t)ctx);
}

static void feed(intptr_t client)
{
    sh_store_msg m;

    if (feeder.next >= feeder.total)
        return;
    make_msg(feeder.next++, &m, feeder.data[client]);
    if (sh_store_submit_put(feeder.store, &m, put_cb, (void *)client) != SH_OK) {
        fprintf(stderr, "bench-store: submit failed: %s\n", sh_err_msg());
        exit(1);
    }
}

static sh_store *open_store(const char *path, uv_loop_t *loop)
{
    sh_store_options o;
    sh_store *s;

    sh_store_options_default(&o);
    o.loop = loop;
    if (sh_store_open(path, &o, &s) != SH_OK) {
        fprintf(stderr, "bench-store: %s\n", sh_err_msg());
        exit(1);
    }
    return s;
}

/* Puts messages first..first+n-1 through the group commit; returns the seconds until the last
 * was acknowledged. */
static double store_fill(sh_store *s, uv_loop_t *loop, uint64_t first, uint64_t n)
{
    double t0, t1;

    feeder.store = s;
    feeder.next = first;
    feeder.total = first + n;
    feeder.acked = 0;
    t0 = bench_now_s();
    for (intptr_t c = 0; c < CLIENTS; c++)
        feed(c);
    while (feeder.acked < n)
        uv_run(loop, UV_RUN_ONCE);
    t1 = bench_now_s();
    return t1 - t0;
}

static void print_batches(sh_store *s)
{
    sh_store_stats st;

    if (sh_store_stats_get(s, &st) == SH_OK && st.batches_committed > 0)
        printf("store: %llu puts in %llu transactions (%.1f per commit)\n",
               (unsigned long long)st.jobs_committed, (unsigned long long)st.batches_committed,
               (double)st.jobs_committed / (double)st.batches_committed);
}

/* Store retrieves of one page of up to PAGE messages; returns the seconds taken. */
static double store_retrieve(sh_store *s, uint64_t queries)
{
    sh_store_query q = {.ns = 0, .max_count = PAGE, .max_bytes = SH_STORE_PAGE_MAX_BYTES};
    uint64_t rows = 0;
    double t0, t1;

    t0 = bench_now_s();
    for (uint64_t i = 0; i < queries; i++) {
        sh_store_page p;

        memcpy(q.owner, owners[(i * 7919) % OWNERS], SH_STORE_OWNER_BYTES);
        if (sh_store_retrieve(s, &q, &p) != SH_OK)
            bench_die(sh_err_msg());
        rows += p.count;
        sh_store_page_free(&p);
    }
    t1 = bench_now_s();
    if (rows < queries)
        bench_die("the store retrieves found nothing");
    return t1 - t0;
}

/* Child mode: fill a store with n messages, serve some retrieves, print the peak RSS. */
static int rss_child(const char *path, uint64_t n)
{
    uv_loop_t loop;
    struct rusage ru;
    sh_store *s;
    double rate;

    uv_loop_init(&loop);
    s = open_store(path, &loop);
    rate = (double)n / store_fill(s, &loop, 0, n);
    print_batches(s);
    store_retrieve(s, 10000);
    sh_store_close(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    getrusage(RUSAGE_SELF, &ru);
    printf("rss child: %llu messages at %.0f puts/s\n", (unsigned long long)n, rate);
    printf("rss_kib %ld\n", ru.ru_maxrss);
    return 0;
}

static double run_rss_child(const char *self, const char *path, uint64_t n)
{
    char cmd[2048], line[256];
    long kib = -1;
    FILE *p;

    snprintf(cmd, sizeof cmd, "'%s' --rss-child '%s' %llu", self, path, (unsigned long long)n);
    p = popen(cmd, "r");
    if (p == NULL)
        bench_die("cannot start the RSS child");
    while (fgets(line, sizeof line, p) != NULL) {
        if (sscanf(line, "rss_kib %ld", &kib) == 1)
            continue;
        fputs(line, stdout);
    }
    if (pclose(p) != 0 || kib < 0)
        bench_die("the RSS child failed");
    return (double)kib / 1024.0;
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/shoal-bench-store-XXXXXX", raw_path[256], store_path[256], rss_path[256];
    uint64_t n = bench_iters(200000), queries = bench_iters(100000), chunk;
    uint64_t rss_n = bench_quick() ? 50000 : 1000000;
    double t_raw = 0, t_put = 0, t_get = 0, t_raw_get = 0, rss, disk, raw_disk;
    bench_rawdb raw;
    uv_loop_t loop;
    sh_store *s;

    randombytes_buf_deterministic(payload, sizeof payload, (const uint8_t[32]){1});
    for (int i = 0; i < OWNERS; i++) {
        owners[i][0] = 0x05;
        randombytes_buf_deterministic(owners[i] + 1, 32,
                                      (const uint8_t[32]){2, (uint8_t)i, (uint8_t)(i >> 8)});
    }
    now_ms = sh_time_now_ms();
    if (argc == 4 && strcmp(argv[1], "--rss-child") == 0)
        return rss_child(argv[2], strtoull(argv[3], NULL, 10));
    if (mkdtemp(dir) == NULL)
        bench_die("mkdtemp failed");
    snprintf(raw_path, sizeof raw_path, "%s/raw.db", dir);
    snprintf(store_path, sizeof store_path, "%s/store.db", dir);
    snprintf(rss_path, sizeof rss_path, "%s/rss.db", dir);
    printf("%llu messages of %d bytes for %d owners; raw batches of %d rows; %d submitters\n",
           (unsigned long long)n, MSG_BYTES, OWNERS, BENCH_RAW_BATCH, CLIENTS);

    /* Raw and store run in alternating chunks, so that both see the same machine noise. */
    bench_rawdb_open(&raw, raw_path);
    uv_loop_init(&loop);
    s = open_store(store_path, &loop);
    chunk = n / CHUNKS;
    for (int c = 0; c < CHUNKS; c++) {
        t_raw += bench_rawdb_insert(&raw, raw_row, c * chunk, chunk, MSG_BYTES);
        t_put += store_fill(s, &loop, c * chunk, chunk);
    }
    print_batches(s);
    for (int c = 0; c < CHUNKS; c++) {
        t_raw_get += bench_rawdb_lookups(&raw, (const uint8_t(*)[SH_STORE_OWNER_BYTES])owners,
                                         OWNERS, queries / CHUNKS, PAGE, now_ms);
        t_get += store_retrieve(s, queries / CHUNKS);
    }
    sh_store_close(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    bench_rawdb_close(&raw);
    bench_checkpoint(store_path);
    n = chunk * CHUNKS;
    disk = (double)bench_file_size(store_path) / (double)n;
    raw_disk = (double)bench_file_size(raw_path) / (double)n;
    printf("raw lookup of up to %d rows by owner: %.0f queries/s (the limit for retrieves); "
           "store/raw %.2f\n", PAGE, (double)queries / t_raw_get, t_raw_get / t_get);

    bench_report("sqlite_raw_insert_per_s", (double)n / t_raw, "1/s");
    bench_report("store_put_per_s", (double)n / t_put, "1/s");
    bench_report("store_put_ratio", t_raw / t_put, "ratio");
    bench_report("store_retrieve_per_s", (double)queries / t_get, "1/s");
    bench_report("disk_bytes_per_msg", disk, "B");
    bench_report("sqlite_raw_disk_bytes_per_msg", raw_disk, "B");
    bench_report("disk_vs_raw_ratio", disk / raw_disk, "ratio");
    bench_remove_db(raw_path);
    bench_remove_db(store_path);

    rss = run_rss_child(argv[0], rss_path, rss_n);
    printf("peak RSS with %llu stored messages of 1 KiB: %.1f MiB (limit 128)\n",
           (unsigned long long)rss_n, rss);
    bench_report(bench_quick() ? "store_rss_mib_50k" : "store_rss_mib_1m", rss, "MiB");
    bench_remove_db(rss_path);
    rmdir(dir);
    return 0;
}
