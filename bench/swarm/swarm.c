/* Swarm benchmark (issue 7): one shoal-dir authority and three shoald nodes (one swarm) as
 * separate processes on loopback. In one run:
 *   - replication lag under load: clients store 1 KiB messages of 100 owners through node A at
 *     a fixed rate (BENCH_RATE, default 1000 stores/s, 8 links); every 20 ms a probe message of
 *     one more owner goes to A too, and long-polls on B and C note when each probe arrives.
 *     The lag is arrival minus sending, over both peers: replication_lag_p50_ms and _p99_ms,
 *     beside the limit, the round trip of a bare `info` call to B on the same links;
 *   - anti-entropy bytes of the idle swarm once in sync: every node's
 *     shoal_node_antientropy_bytes_total over an idle window with rounds every second, scaled to
 *     the default interval (30 s) and an hour, as a share of the data the node stores:
 *     antientropy_idle_pct_per_hour (target < 1 %).
 * Proof of work is off so that the figures are the nodes'. */
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "proc.h"
#include "rawdb.h"
#include "node/node.h"
#include "util/encode.h"
#include "util/time.h"

enum { NODES = 3, OWNERS = 100, LINKS = 8, MSG_BYTES = 1024, MAX_PROBES = 4096 };

static char tmp[256], network[320];
static pid_t auth_pid;

/* ---- processes ------------------------------------------------------------------------------ */

static uint16_t free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        bench_die("no free port");
    close(fd);
    return ntohs(a.sin_port);
}

static void run(const char *const *argv)
{
    char log[300];
    int status;
    pid_t pid;

    snprintf(log, sizeof log, "%s/setup.log", tmp);
    pid = bench_spawn(argv, log, -1);
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        bench_die("shoal-dir setup failed");
}

static void start_authority(void)
{
    char key[300], data[300], spec[400], listen[64], log[300];
    uint16_t port = free_port();

    snprintf(key, sizeof key, "%s/auth.key", tmp);
    snprintf(data, sizeof data, "%s/auth", tmp);
    snprintf(spec, sizeof spec, "%s=127.0.0.1:%u", key, port);
    snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
    snprintf(network, sizeof network, "%s/network", tmp);
    snprintf(log, sizeof log, "%s/auth.log", tmp);
    const char *kg[] = {SHOAL_DIR_PATH, "keygen", "--out", key, NULL};
    const char *init[] = {SHOAL_DIR_PATH, "init-network", "--out", network, "--k", "1", "--name",
                          "bench", "--swarm-target", "4", "--swarm-min", "3", "--authority",
                          spec, NULL};
    const char *argv[] = {SHOAL_DIR_PATH, "run", "--network", network, "--key", key, "--data",
                          data, "--listen", listen, "--period-ms", "2000", "--vote-ms", "500",
                          "--sig-ms", "500", "--lifetime-ms", "600000", "--tick-ms", "50",
                          "--early", "--reach-timeout-ms", "2000", "--retest-ms", "60000",
                          "--publish-interval-ms", "1000", "--guard-stable-ms", "0",
                          "--log-level", "warn", NULL};
    run(kg);
    run(init);
    auth_pid = bench_spawn(argv, log, -1);
}

typedef struct node_proc {
    bench_shoald proc;
    char dir[300];
    sh_node_keys *keys;
} node_proc;

static void node_start(node_proc *n, int i)
{
    char net_set[400], log[300], keyfile[400];
    bool created;

    snprintf(n->dir, sizeof n->dir, "%s/node%d", tmp, i);
    snprintf(log, sizeof log, "%s/node%d.log", tmp, i);
    snprintf(net_set, sizeof net_set, "network=%s", network);
    const char *argv[] = {SHOALD_PATH, "--data-dir", n->dir, "--port", "0", "--set", net_set,
                          "--set", "pow_bits=0", "--set", "pow_max_bits=0", "--set",
                          "peer_rate_per_s=1000000", "--set", "peer_burst=1000000", "--set",
                          "map_refresh_ms=500", "--set", "antientropy_ms=1000", "--set",
                          "log_level=warn", NULL};
    bench_shoald_start(argv, log, &n->proc);
    snprintf(keyfile, sizeof keyfile, "%s/%s", n->dir, SH_NODE_KEY_FILE);
    if (sh_node_keys_load(keyfile, false, &n->keys, &created) != SH_OK)
        bench_die("cannot read the node's keys");
}

/* ---- the driver ------------------------------------------------------------------------------- */

typedef struct driver {
    uv_loop_t loop;
    sh_net *net;
    node_proc nodes[NODES];
    sh_node_conn *load[LINKS];     /* to node A */
    sh_node_conn *probe_in;        /* to node A */
    sh_node_conn *watch[NODES];    /* long-polls on B and C; stats to each (own key) */
    sh_node_conn *stats[NODES];
    uint8_t owners[OWNERS + 1][SH_STORE_OWNER_BYTES];
    sh_account *accounts[OWNERS + 1];
    uint8_t payload[MSG_BYTES];
    uint64_t sent, acked, failed;
    int64_t probe_sent_us[MAX_PROBES];
    double lags_ms[2 * MAX_PROBES];
    size_t n_lags;
    unsigned n_probes;
    bool loading;
    sh_store_cursor cursor[NODES];
    char text[65536];
    bool text_done;
} driver;

static driver d;

static int64_t now_us(void)
{
    return (int64_t)(bench_now_s() * 1e6);
}

static void stats_cb(int status, const char *message, const char *text, void *ctx)
{
    (void)message, (void)ctx;
    snprintf(d.text, sizeof d.text, "%s", status == SH_OK ? text : "");
    d.text_done = true;
}

static double metric(int i, const char *name)
{
    size_t n = strlen(name);

    d.text_done = false;
    if (sh_node_conn_stats(d.stats[i], stats_cb, NULL) != SH_OK)
        bench_die("stats");
    while (!d.text_done)
        uv_run(&d.loop, UV_RUN_ONCE);
    for (const char *l = d.text; l != NULL && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, name, n) == 0 && l[n] == ' ')
            return strtod(l + n + 1, NULL);
    return -1;
}

static void pause_ms(int64_t ms)
{
    int64_t end = sh_time_mono_ms() + ms;

    while (sh_time_mono_ms() < end) {
        uv_run(&d.loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

static void watch_cb(int status, const char *message, sh_node_page *page, void *ctx);

static void watch(int i)
{
    sh_node_request r = {.method = SH_NODE_RETRIEVE, .ns = 0, .max_count = 100,
                         .max_bytes = SH_STORE_PAGE_MAX_BYTES, .wait_ms = 20000,
                         .after = d.cursor[i]};
    sh_node_signer s = {.account = d.accounts[OWNERS]};

    memcpy(r.owner, d.owners[OWNERS], SH_STORE_OWNER_BYTES);
    if (sh_node_conn_retrieve(d.watch[i], &r, &s, watch_cb, (void *)(intptr_t)i) != SH_OK)
        bench_die("long-poll");
}

static void watch_cb(int status, const char *message, sh_node_page *page, void *ctx)
{
    int i = (int)(intptr_t)ctx;
    int64_t t = now_us();

    if (status != SH_OK)
        fprintf(stderr, "long-poll on node %d: %s (%s)\n", i, message ? message : "",
                sh_err_name(status));
    if (status == SH_OK) {
        for (size_t k = 0; k < page->count; k++) {
            uint32_t idx;
            memcpy(&idx, page->msgs[k].data, sizeof idx);
            if (idx < d.n_probes && d.n_lags < 2 * MAX_PROBES)
                d.lags_ms[d.n_lags++] = (double)(t - d.probe_sent_us[idx]) / 1000.0;
        }
        d.cursor[i] = page->next;
    }
    if (d.loading)
        watch(i);
}

static void stored_cb(int status, const char *message, const sh_node_stored *r, void *ctx)
{
    (void)message, (void)r, (void)ctx;
    if (status == SH_OK)
        d.acked++;
    else
        d.failed++;
}

static void store(sh_node_conn *c, int owner, uint64_t i)
{
    uint8_t data[MSG_BYTES];
    sh_node_request r = {.method = SH_NODE_STORE, .ns = 0, .data = data, .data_len = MSG_BYTES,
                         .ttl_ms = 24 * 3600 * 1000LL};

    memcpy(data, d.payload, MSG_BYTES);
    memcpy(data, &i, sizeof i);
    memcpy(r.owner, d.owners[owner], SH_STORE_OWNER_BYTES);
    if (sh_node_conn_store(c, &r, NULL, stored_cb, NULL) != SH_OK)
        d.failed++;
    d.sent++;
}

static void probe(void)
{
    uint64_t idx = d.n_probes;

    d.probe_sent_us[d.n_probes++] = now_us();
    store(d.probe_in, OWNERS, idx);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static sh_node_conn *conn_to(int i, const uint8_t *own_sk)
{
    sh_net_peer_opts o = {.local_static_sk = own_sk};
    sh_node_conn *c;

    if (sh_node_conn_new(d.net, "127.0.0.1", d.nodes[i].proc.port, d.nodes[i].proc.link_key,
                         own_sk ? &o : NULL, &c) != SH_OK)
        bench_die("connect");
    sh_node_conn_set_deadline(c, 30000);
    return c;
}

static void setup(void)
{
    randombytes_buf(d.payload, sizeof d.payload);
    for (int o = 0; o <= OWNERS; o++) {
        uint8_t seed[SH_SEED_BYTES];
        randombytes_buf(seed, sizeof seed);
        if (sh_account_from_seed(&d.accounts[o], seed) != SH_OK)
            bench_die("account");
        sh_account_session_id(d.accounts[o], d.owners[o]);
    }
    start_authority();
    for (int i = 0; i < NODES; i++)
        node_start(&d.nodes[i], i);
    uv_loop_init(&d.loop);
    if (sh_net_new(&d.loop, NULL, &d.net) != SH_OK)
        bench_die("net");
    for (int i = 0; i < NODES; i++) {
        d.stats[i] = conn_to(i, d.nodes[i].keys->link_sk);
        d.watch[i] = conn_to(i, NULL);
    }
    for (int l = 0; l < LINKS; l++)
        d.load[l] = conn_to(0, NULL);
    d.probe_in = conn_to(0, NULL);
    for (int t = 0; t < 600; t++) {
        bool ready = true;
        for (int i = 0; i < NODES && ready; i++)
            ready = metric(i, "shoal_node_swarm_peers") == NODES - 1;
        if (ready)
            return;
        pause_ms(100);
    }
    bench_die("the nodes never formed a swarm");
}

/* The limit: a bare call's round trip to node B on these links. */
static double info_rtt_ms(void)
{
    static double rtt[200];
    size_t n = 0;

    for (; n < 200; n++) {
        int64_t t0 = now_us();
        d.text_done = false;
        if (sh_node_conn_stats(d.stats[1], stats_cb, NULL) != SH_OK)
            bench_die("stats");
        while (!d.text_done)
            uv_run(&d.loop, UV_RUN_ONCE);
        rtt[n] = (double)(now_us() - t0) / 1000.0;
    }
    qsort(rtt, n, sizeof *rtt, cmp_double);
    return rtt[n / 2];
}

static void load_phase(double seconds, unsigned rate)
{
    int64_t start = now_us(), last_probe = 0;
    uint64_t i = 0;

    d.loading = true;
    watch(1);
    watch(2);
    pause_ms(200);
    while ((double)(now_us() - start) / 1e6 < seconds && d.n_probes < MAX_PROBES) {
        int64_t t = now_us();
        uint64_t due = (uint64_t)((double)(t - start) / 1e6 * rate);
        while (i < due && d.sent - d.acked - d.failed < 2000) {
            store(d.load[i % LINKS], (int)(i % OWNERS), i + MAX_PROBES);
            i++;
        }
        if (t - last_probe >= 20000) {
            probe();
            last_probe = t;
        }
        uv_run(&d.loop, UV_RUN_NOWAIT);
        usleep(200);
    }
    pause_ms(1500);
    d.loading = false;
}

int main(void)
{
    const char *r = getenv("BENCH_RATE");
    unsigned rate = r != NULL ? (unsigned)atoi(r) : 500;
    double load_s = bench_quick() ? 3 : 15, idle_s = bench_quick() ? 5 : 20;
    double rtt, ae0[NODES], data[NODES], pct = 0;

    if (sodium_init() < 0)
        bench_die("sodium");
    snprintf(tmp, sizeof tmp, "%s/bench-swarm-XXXXXX", getenv("BENCH_TMP") ? getenv("BENCH_TMP") : "/tmp");
    if (mkdtemp(tmp) == NULL)
        bench_die("mkdtemp");
    signal(SIGPIPE, SIG_IGN);
    setup();
    rtt = info_rtt_ms();
    load_phase(load_s, rate);
    qsort(d.lags_ms, d.n_lags, sizeof *d.lags_ms, cmp_double);
    printf("swarm of %d: %llu stores sent at %u/s for %.0f s (%llu acknowledged, %llu failed); "
           "%u probes, %zu arrivals on the two peers\n", NODES, (unsigned long long)d.sent, rate,
           load_s, (unsigned long long)d.acked, (unsigned long long)d.failed, d.n_probes, d.n_lags);
    if (d.n_lags == 0)
        bench_die("no probe arrived");
    double p50 = d.lags_ms[d.n_lags / 2], p99 = d.lags_ms[d.n_lags * 99 / 100];
    printf("replication lag: p50 %.2f ms, p99 %.2f ms; limit (a bare call's round trip) %.2f ms: "
           "p50 is %.1fx it\n", p50, p99, rtt, p50 / rtt);
    bench_report("replication_lag_p50_ms", p50, "ms");
    bench_report("replication_lag_p99_ms", p99, "ms");
    bench_report("replication_lag_p50_vs_rtt", p50 / rtt, "x");

    /* Anti-entropy settles what the load left (failed stores leave copies on some nodes). */
    for (int t = 0; t < 120; t++) {
        double a = metric(0, "shoal_store_messages");
        bool same = true;
        for (int i = 1; i < NODES; i++)
            same = same && metric(i, "shoal_store_messages") == a;
        if (same)
            break;
        pause_ms(500);
    }
    pause_ms(2000);
    for (int i = 0; i < NODES; i++) {
        ae0[i] = metric(i, "shoal_node_antientropy_bytes_total");
        data[i] = metric(i, "shoal_store_data_bytes");
    }
    pause_ms((int64_t)(idle_s * 1000));
    for (int i = 0; i < NODES; i++) {
        double bytes = metric(i, "shoal_node_antientropy_bytes_total") - ae0[i];
        /* Rounds every 1 s here; the default is every 30 s. */
        double per_hour = bytes / idle_s * 3600.0 / 30.0;
        double p = data[i] > 0 ? per_hour / data[i] * 100.0 : 0;
        printf("node %d idle: %.0f anti-entropy bytes in %.0f s (rounds every 1 s) -> %.0f bytes "
               "per hour at the default 30 s, %.4f %% of its %.0f stored bytes\n", i, bytes,
               idle_s, per_hour, p, data[i]);
        pct = p > pct ? p : pct;
    }
    printf("anti-entropy of an idle swarm in sync: at most %.4f %% of the stored bytes per hour "
           "(target < 1 %%)\n", pct);
    bench_report("antientropy_idle_pct_per_hour", pct, "%");

    for (int i = 0; i < NODES; i++)
        bench_stop(d.nodes[i].proc.pid, false);
    bench_stop(auth_pid, false);
    return 0;
}
