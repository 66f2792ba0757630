/* Benchmark of the client over the direct transport and one shoald (a separate process):
 *   - latency from sh_client_send_text to the recipient's event while the recipient long-polls
 *     (recipient in a second thread), p50 and p99, against twice the round trip of a raw store
 *     of an envelope-sized blob over the same kind of link (the limit);
 *   - messages per second one client gets stored (seal + store), against raw stores of
 *     envelope-sized blobs per second on one link.
 * The figures ask for a 12-node devnet and onion paths, which do not exist yet: these
 * figures carry a `_direct` suffix so that they are never mistaken for those. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "proc.h"
#include "client/client.h"
#include "e2e/e2e.h"
#include "util/encode.h"
#include "util/time.h"

#include "party.h"

#define ENVELOPE_BYTES (4096 - SH_E2E_BUCKET_SLACK_BYTES) /* a short text's bucket */

static sh_client_network network;
static pid_t node_pid;
static atomic_int stop_bob;

static void die(const char *what)
{
    fprintf(stderr, "bench-client: %s: %s\n", what, sh_err_msg());
    if (node_pid > 0)
        kill(node_pid, SIGKILL);
    exit(1);
}

static void node_start(const char *dir)
{
    const char *const argv[] = {SHOALD_PATH, "--data-dir", dir, "--port", "0",
                                "--set", "pow_bits=0", "--set", "pow_max_bits=0",
                                "--set", "log_level=warn", NULL};
    bench_shoald node;

    bench_shoald_start(argv, NULL, &node);
    node_pid = node.pid;
    network.n_nodes = 1;
    network.nodes[0].port = node.port;
    snprintf(network.nodes[0].ip, sizeof network.nodes[0].ip, "127.0.0.1");
    memcpy(network.nodes[0].link_key, node.link_key, 32);
    memcpy(network.nodes[0].identity_key, node.identity_key, 32);
}

static void party_open(party *p, const char *dir, const char *name, uint8_t seed_byte)
{
    party_state_open(p, dir, name, seed_byte);
    if (sh_client_direct_new(&network, 10000, &p->tp) != SH_OK ||
        sh_client_new(p->seed, p->state, &p->tp, party_event_cb, p, &p->client) != SH_OK ||
        sh_client_publish(p->client, false) != SH_OK)
        die("opening a client");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The limit: raw stores of envelope-sized blobs into an inbox over the transport. */
static double raw_store_s(party *p, int n, double *per_s)
{
    uint8_t blob[ENVELOPE_BYTES];
    sh_client_receipt r;
    double t0 = bench_now_s(), rtt;

    for (int i = 0; i < n; i++) {
        memset(blob, i & 0xff, sizeof blob);
        blob[0] = (uint8_t)(i >> 8);
        blob[1] = (uint8_t)(i >> 16);
        if (p->tp.store(p->tp.ctx, p->sid, 0, blob, sizeof blob, 60000, NULL, &r) != SH_OK)
            die("raw store");
    }
    rtt = (bench_now_s() - t0) / n;
    *per_s = 1.0 / rtt;
    return rtt;
}

static void latency(party *alice, party *bob, int n, double *p50, double *p99)
{
    double *ms = calloc((size_t)n, sizeof *ms);
    int64_t row;

    for (int i = 0; i < n; i++) {
        int before = atomic_load(&received_count);
        double t0 = bench_now_s();
        if (sh_client_send_text(alice->client, bob->sid, (const uint8_t *)"ping", 4, &row) != SH_OK)
            die("send");
        while (atomic_load(&received_count) == before)
            usleep(50);
        ms[i] = (double)atomic_load(&received_at_us) / 1e3 - t0 * 1e3;
    }
    qsort(ms, (size_t)n, sizeof *ms, cmp_double);
    *p50 = ms[n / 2];
    *p99 = ms[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
    free(ms);
}

int main(void)
{
    char dir[] = "/tmp/bench-client-XXXXXX";
    party alice, bob;
    pthread_t t;
    int n_lat = (int)bench_iters(400), n_send = (int)bench_iters(1000);
    double p50, p99, raw_rtt, raw_per_s, t0, send_per_s;
    int64_t row;

    if (sh_identity_init() != SH_OK || mkdtemp(dir) == NULL)
        die("setup");
    node_start(dir);
    party_open(&alice, dir, "alice", 1);
    party_open(&bob, dir, "bob", 2);
    raw_rtt = raw_store_s(&alice, n_send, &raw_per_s);
    party_poller poller = {.p = &bob, .wait_ms = 300, .stop = &stop_bob};
    if (pthread_create(&t, NULL, party_poll_loop, &poller) != 0)
        die("thread");
    latency(&alice, &bob, n_lat, &p50, &p99);
    t0 = bench_now_s();
    for (int i = 0; i < n_send; i++)
        if (sh_client_send_text(alice.client, bob.sid, (const uint8_t *)"hello", 5, &row) != SH_OK)
            die("send");
    send_per_s = n_send / (bench_now_s() - t0);
    atomic_store(&stop_bob, 1);
    pthread_join(t, NULL);
    printf("raw store of a %d-byte blob: %.3f ms round trip, %.0f/s on one link\n", ENVELOPE_BYTES,
           raw_rtt * 1e3, raw_per_s);
    printf("send -> event (recipient long-polling): p50 %.2f ms, p99 %.2f ms over %d messages\n",
           p50, p99, n_lat);
    printf("sealed and stored: %.0f messages/s (one client)\n", send_per_s);
    bench_report("e2e_latency_p50_ms_direct", p50, "ms");
    bench_report("e2e_latency_p99_ms_direct", p99, "ms");
    bench_report("e2e_vs_direct_rtt_ratio", p50 / (2 * raw_rtt * 1e3), "ratio");
    bench_report("e2e_p99_vs_p50_ratio_direct", p99 / p50, "ratio");
    bench_report("client_send_per_s_direct", send_per_s, "msg/s");
    bench_report("client_send_vs_raw_store_ratio", send_per_s / raw_per_s, "ratio");
    party_close(&alice);
    party_close(&bob);
    bench_stop(node_pid, false);
    return 0;
}
