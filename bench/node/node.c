/* Node benchmark (issue 6): shoald as a separate process, called over real Noise links from 16
 * clients in this process (each its own link, 8 calls in flight). In one run:
 *   - raw SQLite inserts of the same 1 KiB rows (batched, same pragmas; bench/rawdb.h) against
 *     shoald's acknowledged stores (anonymous namespace-0 stores, each acknowledged after its
 *     group commit), in alternating chunks so both see the same machine noise;
 *   - signed retrieves per second (pages of up to 12 messages of one owner);
 *   - bytes on disk per message, shoald's database against the raw table (both checkpointed);
 *   - peak RSS of a fresh shoald holding 1 M stored 1 KiB messages (50 000 with BENCH_QUICK).
 * Proof of work is off (pow_bits=0) so that the figures are the node's, not the clients' CPU. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "proc.h"
#include "node/node.h"
#include "rawdb.h"
#include "util/encode.h"
#include "util/time.h"

enum { OWNERS = 1000, CLIENTS = 16, DEPTH = 8, SLOTS = CLIENTS * DEPTH, MSG_BYTES = 1024,
       PAGE = 12, CHUNKS = 4 };

static uint8_t payload[MSG_BYTES];
static uint8_t owners[OWNERS][SH_STORE_OWNER_BYTES];
static sh_account *accounts[OWNERS];
static int64_t now_ms;

/* Message i: one of the owners, a fixed random payload made unique by its index. */
static void make_data(uint64_t i, uint8_t data[static MSG_BYTES])
{
    memcpy(data, payload, MSG_BYTES);
    memcpy(data, &i, sizeof i);
}

static void raw_row(uint64_t i, sh_store_msg *m, uint8_t *data)
{
    make_data(i, data);
    memset(m, 0, sizeof *m);
    memcpy(m->owner, owners[i % OWNERS], SH_STORE_OWNER_BYTES);
    m->timestamp_ms = now_ms + (int64_t)(i % 60000);
    m->expiry_ms = m->timestamp_ms + 7 * SH_MS_PER_DAY;
    m->data = data;
    m->data_len = MSG_BYTES;
}

/* ---- shoald ------------------------------------------------------------------------------------ */

typedef struct node_proc {
    bench_shoald proc;
    char dir[256];
} node_proc;

static void node_start(node_proc *n, const char *dir)
{
    snprintf(n->dir, sizeof n->dir, "%s", dir);
    const char *const argv[] = {SHOALD_PATH, "--data-dir", n->dir, "--port", "0",
                                "--set", "pow_bits=0", "--set", "pow_max_bits=0",
                                "--set", "peer_rate_per_s=1000000", "--set", "peer_burst=1000000",
                                "--set", "log_level=warn", NULL};
    bench_shoald_start(argv, NULL, &n->proc);
}

static double node_rss_mib(const node_proc *n)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", (int)n->proc.pid);
    if ((f = fopen(path, "r")) == NULL)
        bench_die("cannot read shoald's status");
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return (double)kib / 1024.0;
}

static void node_stop(node_proc *n)
{
    bench_stop(n->proc.pid, true);
}

/* ---- clients ------------------------------------------------------------------------------------ */

typedef struct driver {
    uv_loop_t loop;
    sh_net *net;
    sh_node_conn *conns[CLIENTS];
    bool retrieving;
    uint64_t next, end, done, rows;
    uint8_t data[SLOTS][MSG_BYTES];
} driver;

static driver drv;

static void issue(intptr_t slot);

static void stored_cb(int status, const char *message, const sh_node_stored *r, void *ctx)
{
    if (status != SH_OK || r->outcome != SH_STORE_STORED) {
        fprintf(stderr, "bench-node: store failed: %s: %s\n", sh_err_name(status), message);
        exit(1);
    }
    drv.done++;
    issue((intptr_t)ctx);
}

static void page_cb(int status, const char *message, sh_node_page *page, void *ctx)
{
    if (status != SH_OK) {
        fprintf(stderr, "bench-node: retrieve failed: %s: %s\n", sh_err_name(status), message);
        exit(1);
    }
    drv.rows += page->count;
    drv.done++;
    issue((intptr_t)ctx);
}

static void issue(intptr_t slot)
{
    uint64_t i;
    sh_node_conn *c = drv.conns[slot / DEPTH];
    sh_node_request r = {.ns = 0};
    int rc;

    if (drv.next >= drv.end)
        return;
    i = drv.next++;
    memcpy(r.owner, owners[i % OWNERS], SH_STORE_OWNER_BYTES);
    if (drv.retrieving) {
        sh_node_signer s = {.account = accounts[(i * 7919) % OWNERS]};
        sh_account_session_id(s.account, r.owner);
        r.method = SH_NODE_RETRIEVE;
        r.max_count = PAGE;
        r.max_bytes = SH_STORE_PAGE_MAX_BYTES;
        rc = sh_node_conn_retrieve(c, &r, &s, page_cb, (void *)slot);
    } else {
        make_data(i, drv.data[slot]);
        r.method = SH_NODE_STORE;
        r.data = drv.data[slot];
        r.data_len = MSG_BYTES;
        r.ttl_ms = 7 * SH_MS_PER_DAY;
        rc = sh_node_conn_store(c, &r, NULL, stored_cb, (void *)slot);
    }
    if (rc != SH_OK)
        bench_die(sh_err_msg());
}

static void clients_open(const node_proc *n)
{
    if (uv_loop_init(&drv.loop) != 0 || sh_net_new(&drv.loop, NULL, &drv.net) != SH_OK)
        bench_die("cannot start the clients");
    for (int c = 0; c < CLIENTS; c++)
        if (sh_node_conn_new(drv.net, "127.0.0.1", n->proc.port, n->proc.link_key, NULL, &drv.conns[c]) !=
            SH_OK)
            bench_die(sh_err_msg());
}

static void clients_close(void)
{
    for (int c = 0; c < CLIENTS; c++)
        sh_node_conn_free(drv.conns[c]);
    sh_net_close(drv.net, NULL, NULL);
    uv_run(&drv.loop, UV_RUN_DEFAULT);
    uv_loop_close(&drv.loop);
}

/* Calls first..first+n-1 from every slot at once; returns the seconds until the last answer. */
static double run_calls(bool retrieving, uint64_t first, uint64_t n)
{
    double t0;

    drv.retrieving = retrieving;
    drv.next = first;
    drv.end = first + n;
    drv.done = 0;
    t0 = bench_now_s();
    for (intptr_t s = 0; s < SLOTS; s++)
        issue(s);
    while (drv.done < n)
        uv_run(&drv.loop, UV_RUN_ONCE);
    return bench_now_s() - t0;
}

static void remove_dir(const char *d)
{
    char path[400];

    snprintf(path, sizeof path, "%s/%s", d, SH_NODE_KEY_FILE);
    unlink(path);
    rmdir(d);
}

/* ---- the run ------------------------------------------------------------------------------------ */

static void setup(void)
{
    if (sh_identity_init() != SH_OK)
        bench_die("libsodium");
    randombytes_buf_deterministic(payload, sizeof payload, (const uint8_t[32]){1});
    for (int i = 0; i < OWNERS; i++) {
        uint8_t seed[SH_SEED_BYTES] = {2, (uint8_t)i, (uint8_t)(i >> 8)};
        if (sh_account_from_seed(&accounts[i], seed) != SH_OK)
            bench_die("account");
        sh_account_session_id(accounts[i], owners[i]);
    }
    now_ms = sh_time_now_ms();
}

static double rss_run(const char *dir, uint64_t n)
{
    node_proc node;
    double rss, t;

    node_start(&node, dir);
    clients_open(&node);
    t = run_calls(false, 0, n);
    printf("rss run: %llu stores at %.0f/s\n", (unsigned long long)n, (double)n / t);
    run_calls(true, 0, bench_iters(20000));
    rss = node_rss_mib(&node);
    clients_close();
    node_stop(&node);
    return rss;
}

int main(void)
{
    char dir[] = "/tmp/shoal-bench-node-XXXXXX", raw_path[300], node_dir[300], rss_dir[300];
    char node_db[400];
    uint64_t n = bench_iters(200000), queries = bench_iters(100000), chunk = n / CHUNKS;
    uint64_t rss_n = bench_quick() ? 50000 : 1000000;
    double t_raw = 0, t_node = 0, t_get, t_raw_get, disk, raw_disk, rss;
    bench_rawdb raw;
    node_proc node;

    setup();
    if (mkdtemp(dir) == NULL)
        bench_die("mkdtemp failed");
    snprintf(raw_path, sizeof raw_path, "%s/raw.db", dir);
    snprintf(node_dir, sizeof node_dir, "%s/node", dir);
    snprintf(rss_dir, sizeof rss_dir, "%s/rss", dir);
    snprintf(node_db, sizeof node_db, "%s/%s", node_dir, SH_NODE_DB_FILE);
    printf("%llu messages of %d bytes for %d owners; raw batches of %d rows; shoald from %d "
           "clients, %d calls in flight each\n", (unsigned long long)(chunk * CHUNKS), MSG_BYTES,
           OWNERS, BENCH_RAW_BATCH, CLIENTS, DEPTH);
    bench_rawdb_open(&raw, raw_path);
    node_start(&node, node_dir);
    clients_open(&node);
    for (int c = 0; c < CHUNKS; c++) {
        t_raw += bench_rawdb_insert(&raw, raw_row, c * chunk, chunk, MSG_BYTES);
        t_node += run_calls(false, c * chunk, chunk);
    }
    n = chunk * CHUNKS;
    t_get = run_calls(true, 0, queries);
    t_raw_get = bench_rawdb_lookups(&raw, (const uint8_t(*)[SH_STORE_OWNER_BYTES])owners, OWNERS,
                                    queries, PAGE, now_ms);
    printf("retrieves returned %.1f messages each; raw lookups of up to %d rows by owner: "
           "%.0f queries/s\n", (double)drv.rows / (double)queries, PAGE,
           (double)queries / t_raw_get);
    clients_close();
    node_stop(&node);
    bench_rawdb_close(&raw);
    bench_checkpoint(node_db);
    disk = (double)bench_file_size(node_db) / (double)n;
    raw_disk = (double)bench_file_size(raw_path) / (double)n;

    bench_report("sqlite_raw_insert_per_s", (double)n / t_raw, "1/s");
    bench_report("node_store_per_s", (double)n / t_node, "1/s");
    bench_report("node_store_ratio", t_raw / t_node, "ratio");
    bench_report("node_retrieve_per_s", (double)queries / t_get, "1/s");
    bench_report("disk_bytes_per_msg", disk, "B");
    bench_report("sqlite_raw_disk_bytes_per_msg", raw_disk, "B");
    bench_report("disk_vs_raw_ratio", disk / raw_disk, "ratio");
    bench_remove_db(raw_path);
    bench_remove_db(node_db);

    rss = rss_run(rss_dir, rss_n);
    printf("peak RSS of shoald holding %llu messages of 1 KiB: %.1f MiB (limit 128)\n",
           (unsigned long long)rss_n, rss);
    bench_report(bench_quick() ? "node_rss_mib_50k" : "node_rss_mib_1m", rss, "MiB");
    snprintf(node_db, sizeof node_db, "%s/%s", rss_dir, SH_NODE_DB_FILE);
    bench_remove_db(node_db);
    remove_dir(node_dir);
    remove_dir(rss_dir);
    rmdir(dir);
    return 0;
}
