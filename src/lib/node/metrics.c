/* The node's metrics in the Prometheus text exposition format (docs/node.md "Metrics"): its own
 * counters (calls, stores by outcome, rejects by method and reason, long-polls, sweeps) and the
 * store's (messages, bytes, database size, expiry lag). Read with `shoald stats`. */
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>

#include "node/join.h"
#include "util/err.h"
#include "util/time.h"

void sh__node_count_reject(sh__node_metrics *m, sh_node_method method, int code)
{
    unsigned slot = code < 0 && -code < SH_NODE_ERR_SLOTS ? (unsigned)-code : 0;

    if ((unsigned)method > SH_NODE_EXPIRE)
        method = 0;
    m->rejects[method][slot]++;
}

static int put(sh_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int put(sh_buf *out, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line)
        return sh_err_set(SH_ERR_INTERNAL, "a metrics line is too long");
    return sh_buf_append(out, line, (size_t)n);
}

static int head(sh_buf *out, const char *name, const char *type, const char *help)
{
    int rc = put(out, "# HELP %s %s\n", name, help);

    return rc != SH_OK ? rc : put(out, "# TYPE %s %s\n", name, type);
}

static int one(sh_buf *out, const char *name, const char *type, const char *help, double v)
{
    int rc = head(out, name, type, help);

    if (rc != SH_OK)
        return rc;
    if (v >= 0 && v < 9007199254740992.0 && v == (double)(uint64_t)v)
        return put(out, "%s %llu\n", name, (unsigned long long)v);
    return put(out, "%s %.6g\n", name, v);
}

static const char *method_label(unsigned m)
{
    return m == 0 ? "other" : sh_node_method_name((sh_node_method)m);
}

static int node_counters(sh_node *n, sh_buf *out)
{
    static const char *const outcomes[] = {NULL, "stored", "duplicate", "deleted", "superseded"};
    const sh__node_metrics *m = &n->m;
    int rc = head(out, "shoal_node_calls_total", "counter", "Calls received, by method.");

    for (unsigned i = 0; rc == SH_OK && i <= SH_NODE_EXPIRE; i++)
        rc = put(out, "shoal_node_calls_total{method=\"%s\"} %llu\n", method_label(i),
                 (unsigned long long)m->calls[i]);
    if (rc == SH_OK)
        rc = head(out, "shoal_node_stores_total", "counter", "Stores answered, by outcome.");
    for (unsigned i = 1; rc == SH_OK && i <= SH_STORE_SUPERSEDED; i++)
        rc = put(out, "shoal_node_stores_total{outcome=\"%s\"} %llu\n", outcomes[i],
                 (unsigned long long)m->stored[i]);
    if (rc == SH_OK)
        rc = head(out, "shoal_node_rejects_total", "counter", "Calls refused, by method and reason.");
    for (unsigned i = 0; rc == SH_OK && i <= SH_NODE_EXPIRE; i++)
        for (unsigned e = 0; rc == SH_OK && e < SH_NODE_ERR_SLOTS; e++)
            if (m->rejects[i][e] != 0)
                rc = put(out, "shoal_node_rejects_total{method=\"%s\",reason=\"%s\"} %llu\n",
                         method_label(i), sh_err_name(-(int)e), (unsigned long long)m->rejects[i][e]);
    if (rc == SH_OK)
        rc = head(out, "shoal_node_long_polls_total", "counter", "Retrieves that waited, by end.");
    if (rc == SH_OK)
        rc = put(out, "shoal_node_long_polls_total{end=\"woken\"} %llu\n"
                 "shoal_node_long_polls_total{end=\"timeout\"} %llu\n"
                 "shoal_node_long_polls_total{end=\"cancelled\"} %llu\n",
                 (unsigned long long)m->polls_woken, (unsigned long long)m->polls_timed_out,
                 (unsigned long long)m->polls_cancelled);
    return rc;
}

static int node_gauges(sh_node *n, sh_buf *out)
{
    const sh__node_metrics *m = &n->m;
    struct rusage ru;
    int rc;

    getrusage(RUSAGE_SELF, &ru);
    if ((rc = one(out, "shoal_node_retrieved_messages_total", "counter",
                  "Messages returned by retrieves.", (double)m->retrieved_msgs)) != SH_OK ||
        (rc = one(out, "shoal_node_retrieved_bytes_total", "counter",
                  "Data bytes returned by retrieves.", (double)m->retrieved_bytes)) != SH_OK ||
        (rc = one(out, "shoal_node_deleted_messages_total", "counter",
                  "Messages deleted by their owners.", (double)m->deleted)) != SH_OK ||
        (rc = one(out, "shoal_node_expiry_changes_total", "counter",
                  "Messages whose TTL their owners changed.", (double)m->expire_changed)) != SH_OK ||
        (rc = one(out, "shoal_node_sweeps_total", "counter", "Expiry sweeps run.",
                  (double)m->sweeps)) != SH_OK ||
        (rc = one(out, "shoal_node_swept_rows_total", "counter",
                  "Expired messages and tombstones removed.", (double)m->swept_rows)) != SH_OK ||
        (rc = one(out, "shoal_node_sweep_errors_total", "counter", "Sweeps that failed.",
                  (double)m->sweep_errors)) != SH_OK ||
        (rc = one(out, "shoal_node_long_polls_waiting", "gauge", "Retrieves waiting now.",
                  (double)n->waiters.count)) != SH_OK ||
        (rc = one(out, "shoal_node_writes_in_flight", "gauge",
                  "Writes queued in the store, not yet committed.",
                  (double)n->writes_in_flight)) != SH_OK ||
        (rc = one(out, "shoal_node_pow_bits", "gauge",
                  "Proof of work a store in namespace 0 needs now.",
                  (double)sh__node_pow_now(n))) != SH_OK ||
        (rc = one(out, "shoal_node_replay_entries", "gauge", "Signed requests remembered.",
                  (double)sh__node_replay_count(&n->replay))) != SH_OK ||
        (rc = one(out, "shoal_node_uptime_seconds", "gauge", "Seconds since the node started.",
                  (double)(sh_time_mono_ms() - n->started_mono_ms) / 1000.0)) != SH_OK ||
        (rc = one(out, "shoal_node_replicated_in_total", "counter",
                  "Messages committed from swarm peers' pushes.", (double)m->replicated_in)) != SH_OK ||
        (rc = one(out, "shoal_node_antientropy_rounds_total", "counter",
                  "Anti-entropy rounds run with a peer.", (double)m->ae_rounds)) != SH_OK ||
        (rc = one(out, "shoal_node_antientropy_items_total", "counter",
                  "Messages and tombstones fetched by anti-entropy.", (double)m->ae_items)) != SH_OK ||
        (rc = one(out, "shoal_node_antientropy_bytes_total", "counter",
                  "Bytes of anti-entropy calls and answers, both ways.", (double)m->ae_bytes)) != SH_OK ||
        (rc = one(out, "shoal_node_antientropy_refused_total", "counter",
                  "Anti-entropy calls of peers refused by the rate limit.",
                  (double)m->ae_refused)) != SH_OK ||
        (rc = one(out, "shoal_node_map_version", "gauge",
                  "Version of the network map the node works from (0: none).",
                  (double)(n->swarm != NULL ? n->swarm->map_version : 0))) != SH_OK ||
        (rc = one(out, "shoal_node_swarm_peers", "gauge",
                  "Other members of the node's swarm (-1: in no swarm).",
                  n->swarm != NULL && n->swarm->in_swarm ? (double)n->swarm->n_peers : -1.0)) != SH_OK ||
        (rc = one(out, "shoal_node_handed_over_total", "counter",
                  "Messages pushed to another swarm after the map moved their owner.",
                  (double)m->handed_over)) != SH_OK ||
        (rc = one(out, "shoal_node_handover_retries_total", "counter",
                  "Handovers to a member of another swarm sent again after it failed.",
                  (double)m->handover_retries)) != SH_OK ||
        (rc = one(out, "shoal_node_handover_confirmed_total", "counter",
                  "Members of another swarm that confirmed every entry handed over to them.",
                  (double)m->handover_confirmed)) != SH_OK)
        return rc;
    return one(out, "shoal_node_max_rss_bytes", "gauge", "Peak resident memory of the process.",
               (double)ru.ru_maxrss * 1024.0);
}

static int store_gauges(sh_node *n, sh_buf *out)
{
    sh_store_stats st;
    int rc;

    if (n->store == NULL)
        return SH_OK;
    if ((rc = sh_store_stats_get(n->store, &st)) != SH_OK)
        return rc;
    if ((rc = one(out, "shoal_store_messages", "gauge", "Messages stored (expired ones not yet "
                  "swept included).", (double)st.messages)) != SH_OK ||
        (rc = one(out, "shoal_store_data_bytes", "gauge", "Data bytes of the stored messages.",
                  (double)st.data_bytes)) != SH_OK ||
        (rc = one(out, "shoal_store_owners", "gauge", "Accounts with rows in the store.",
                  (double)st.owners)) != SH_OK ||
        (rc = one(out, "shoal_store_tombstones", "gauge", "Delete and TTL tombstones.",
                  (double)st.tombstones)) != SH_OK ||
        (rc = one(out, "shoal_store_db_bytes", "gauge", "Size of the database file.",
                  (double)st.db_bytes)) != SH_OK ||
        (rc = one(out, "shoal_store_wal_bytes", "gauge", "Size of the write-ahead log.",
                  (double)st.wal_bytes)) != SH_OK ||
        (rc = one(out, "shoal_store_expiry_lag_seconds", "gauge",
                  "Age of the oldest expired message not yet swept.",
                  (double)st.expiry_lag_ms / 1000.0)) != SH_OK ||
        (rc = one(out, "shoal_store_batches_committed_total", "counter",
                  "Group-commit transactions.", (double)st.batches_committed)) != SH_OK ||
        (rc = one(out, "shoal_store_writes_committed_total", "counter",
                  "Writes committed in them.", (double)st.jobs_committed)) != SH_OK ||
        (rc = one(out, "shoal_store_batches_failed_total", "counter",
                  "Transactions rolled back.", (double)st.batches_failed)) != SH_OK)
        return rc;
    return one(out, "shoal_store_checkpoints_total", "counter", "WAL checkpoints.",
               (double)st.checkpoints);
}

int sh_node_metrics(sh_node *n, sh_buf *out)
{
    int rc;

    if ((rc = node_counters(n, out)) != SH_OK || (rc = node_gauges(n, out)) != SH_OK ||
        (rc = store_gauges(n, out)) != SH_OK)
        return rc;
    return sh_buf_append_u8(out, 0);
}
