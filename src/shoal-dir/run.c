/* shoal-dir run: one authority on a libuv loop until SIGTERM or SIGINT. Prints
 * "listening <ip>:<port>" on stdout once bound (port 0 picks a free port), then logs to stderr. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "shoal-dir.h"
#include "util/encode.h"
#include "util/err.h"
#include "util/log.h"

#define MAX_ALLOWED 4096
#define SHUTDOWN_TIMEOUT_MS 3000u

#define HELP                                                                                     \
    "usage: shoal-dir run --network FILE --key FILE --data DIR --listen IP:PORT [options]\n\n"  \
    "Runs a directory authority: admits nodes, votes with the other authorities of the\n"      \
    "network file, publishes the signed map and serves it. Stops cleanly on SIGTERM/SIGINT.\n" \
    "--listen takes port 0 for any free port; the bound one is printed as\n"                    \
    "\"listening IP:PORT\". State (registry, latest map) lives in --data.\n\n"                  \
    "Schedule (ms):  --devnet (10 s rounds of 2 s + 2 s votes/signatures, maps valid 5 min,\n" \
    "  early rounds, open policy, Guard at once), --period-ms, --vote-ms, --sig-ms,\n"         \
    "  --lifetime-ms, --tick-ms, --early, --no-early (default: 1 h, 5 min, 5 min, 3 h, 1 s)\n"  \
    "Admission: --policy open|allow-list (default open), --allow HEX (an operator key or\n"    \
    "  node identity; repeat), --max-per-16 N (nodes per IPv4 /16, never counted on\n"          \
    "  loopback; 0 = no limit), --max-per-operator N, --guard-stable-ms MS (default 7 days)\n"  \
    "Nodes: --reach-timeout-ms (10 s), --retest-ms (10 min; 10 s with --devnet),\n"           \
    "  --publish-interval-ms (10 s), --publish-rate N (dir.publish calls per second for\n"     \
    "  everyone; default 20),\n"                                                                \
    "  --drop-grace-ms MS (a listed node failing its tests stays listed this long;\n"          \
    "  15 min, 30 s with --devnet; 0 drops at the first failure), --failing-retest-ms MS\n"    \
    "  (tests of a failing node; 30 s, 2 s with --devnet)\n"                                   \
    "Other: --log-level error|warn|info|debug|trace (default info; also $SHOAL_LOG)\n"

typedef struct run_args {
    const char *network, *key, *data, *listen;
    sh_dir_auth_config cfg;
    uint8_t (*allowed)[SH_DIR_KEY_BYTES];
    size_t n_allowed;
    bool devnet, early_set, early, guard_set, grace_set;
} run_args;

typedef struct run_state {
    uv_loop_t loop;
    sh_net *net;
    sh_dir_auth *auth;
    uv_signal_t sigterm, sigint;
    bool stopping;
} run_state;

enum {
    O_NETWORK = 256, O_KEY, O_DATA, O_LISTEN, O_DEVNET, O_PERIOD, O_VOTE, O_SIG, O_LIFETIME,
    O_TICK, O_EARLY, O_NO_EARLY, O_POLICY, O_ALLOW, O_PER16, O_PEROP, O_GUARD, O_REACH, O_RETEST,
    O_PUBINT, O_PUBRATE, O_GRACE, O_FAILRETEST, O_LOG, O_HELP
};

static const struct option run_options[] = {
    {"network", required_argument, NULL, O_NETWORK}, {"key", required_argument, NULL, O_KEY},
    {"data", required_argument, NULL, O_DATA}, {"listen", required_argument, NULL, O_LISTEN},
    {"devnet", no_argument, NULL, O_DEVNET}, {"period-ms", required_argument, NULL, O_PERIOD},
    {"vote-ms", required_argument, NULL, O_VOTE}, {"sig-ms", required_argument, NULL, O_SIG},
    {"lifetime-ms", required_argument, NULL, O_LIFETIME}, {"tick-ms", required_argument, NULL, O_TICK},
    {"early", no_argument, NULL, O_EARLY}, {"no-early", no_argument, NULL, O_NO_EARLY},
    {"policy", required_argument, NULL, O_POLICY}, {"allow", required_argument, NULL, O_ALLOW},
    {"max-per-16", required_argument, NULL, O_PER16},
    {"max-per-operator", required_argument, NULL, O_PEROP},
    {"guard-stable-ms", required_argument, NULL, O_GUARD},
    {"reach-timeout-ms", required_argument, NULL, O_REACH},
    {"retest-ms", required_argument, NULL, O_RETEST},
    {"publish-interval-ms", required_argument, NULL, O_PUBINT},
    {"publish-rate", required_argument, NULL, O_PUBRATE},
    {"drop-grace-ms", required_argument, NULL, O_GRACE},
    {"failing-retest-ms", required_argument, NULL, O_FAILRETEST},
    {"log-level", required_argument, NULL, O_LOG}, {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0}};

static bool take_ms(int c, const char *arg, run_args *a)
{
    sh_dir_schedule *s = &a->cfg.schedule;
    int64_t *dest[] = {[O_PERIOD - O_PERIOD] = &s->period_ms, [O_VOTE - O_PERIOD] = &s->vote_ms,
                       [O_SIG - O_PERIOD] = &s->sig_ms, [O_LIFETIME - O_PERIOD] = &s->lifetime_ms,
                       [O_TICK - O_PERIOD] = &s->tick_ms};
    uint64_t v;

    if (!dir_parse_u64(arg, INT64_MAX, &v))
        return false;
    switch (c) {
    case O_GUARD: a->cfg.policy.guard_stable_ms = (int64_t)v; a->guard_set = true; return true;
    case O_REACH: a->cfg.reach_timeout_ms = (int64_t)v; return v > 0 && v <= 600000;
    case O_RETEST: a->cfg.retest_ms = (int64_t)v; return v > 0;
    case O_PUBINT: a->cfg.publish_interval_ms = (int64_t)v; return v > 0;
    case O_GRACE: a->cfg.policy.drop_grace_ms = (int64_t)v; a->grace_set = true; return true;
    case O_FAILRETEST: a->cfg.failing_retest_ms = (int64_t)v; return v > 0;
    default: *dest[c - O_PERIOD] = (int64_t)v; return true;
    }
}

static bool take_allow(const char *hex, run_args *a)
{
    if (a->allowed == NULL && (a->allowed = calloc(MAX_ALLOWED, SH_DIR_KEY_BYTES)) == NULL)
        return false;
    if (a->n_allowed == MAX_ALLOWED || sh_hex_decode(a->allowed[a->n_allowed], 32, hex) != SH_OK)
        return false;
    a->n_allowed++;
    return true;
}

/* One option; false for a bad value. */
static bool take_option(int c, const char *arg, run_args *a)
{
    uint64_t v;
    sh_log_level level;

    switch (c) {
    case O_NETWORK: a->network = arg; return true;
    case O_KEY: a->key = arg; return true;
    case O_DATA: a->data = arg; return true;
    case O_LISTEN: a->listen = arg; return true;
    case O_DEVNET: a->devnet = true; return true;
    case O_EARLY: case O_NO_EARLY: a->early_set = true; a->early = c == O_EARLY; return true;
    case O_POLICY:
        a->cfg.policy.open = strcmp(arg, "open") == 0;
        return a->cfg.policy.open || strcmp(arg, "allow-list") == 0;
    case O_ALLOW: return take_allow(arg, a);
    case O_PER16: case O_PEROP:
        if (!dir_parse_u64(arg, SH_DIR_MAX_NODES, &v))
            return false;
        *(c == O_PER16 ? &a->cfg.policy.max_per_16 : &a->cfg.policy.max_per_operator) = (unsigned)v;
        return true;
    case O_PUBRATE:
        if (!dir_parse_u64(arg, 100000, &v) || v == 0)
            return false;
        a->cfg.publish_limits = (sh_net_method_limits){(uint32_t)v, 5 * (uint32_t)v};
        return true;
    case O_LOG:
        if (sh_log_parse_level(arg, &level) != SH_OK)
            return false;
        sh_log_set_level(level);
        return true;
    default: return take_ms(c, arg, a);
    }
}

static void override(int64_t *value, int64_t given)
{
    if (given > 0)
        *value = given;
}

static int parse_run_args(int argc, char **argv, run_args *a)
{
    sh_dir_schedule given = {0};
    int c;

    a->cfg.policy.open = true;
    a->cfg.policy.guard_stable_ms = 7 * 24 * 3600 * 1000LL;
    a->cfg.policy.drop_grace_ms = SH_DIR_AUTH_DEFAULT_DROP_GRACE_MS;
    a->cfg.schedule = given;
    while ((c = getopt_long(argc, argv, "", run_options, NULL)) != -1) {
        if (c == O_HELP) {
            fputs(HELP, stdout);
            return DIR_EXIT_OK;
        }
        if (c == '?')
            return dir_usage_error("run", "unknown option", argv[optind - 1]);
        if (!take_option(c, optarg, a))
            return dir_usage_error("run", "bad value", optarg);
    }
    if (a->network == NULL || a->key == NULL || a->data == NULL || a->listen == NULL || optind != argc)
        return dir_usage_error("run", "needs --network, --key, --data and --listen; not",
                               optind < argc ? argv[optind] : "");
    given = a->cfg.schedule;
    if (a->devnet)
        sh_dir_schedule_devnet(&a->cfg.schedule);
    else
        sh_dir_schedule_default(&a->cfg.schedule);
    if (a->devnet && !a->guard_set)
        a->cfg.policy.guard_stable_ms = 0;
    if (a->devnet && !a->grace_set)
        a->cfg.policy.drop_grace_ms = SH_DIR_AUTH_DEVNET_DROP_GRACE_MS;
    if (a->devnet && a->cfg.failing_retest_ms == 0)
        a->cfg.failing_retest_ms = SH_DIR_AUTH_DEVNET_FAILING_RETEST_MS;
    if (a->devnet && a->cfg.retest_ms == 0)
        a->cfg.retest_ms = SH_DIR_AUTH_DEVNET_RETEST_MS;
    override(&a->cfg.schedule.period_ms, given.period_ms); /* explicit values win */
    override(&a->cfg.schedule.vote_ms, given.vote_ms);
    override(&a->cfg.schedule.sig_ms, given.sig_ms);
    override(&a->cfg.schedule.lifetime_ms, given.lifetime_ms);
    override(&a->cfg.schedule.tick_ms, given.tick_ms);
    if (a->early_set)
        a->cfg.schedule.early = a->early;
    a->cfg.policy.allowed = (const uint8_t (*)[SH_DIR_KEY_BYTES])a->allowed;
    a->cfg.policy.n_allowed = a->n_allowed;
    return -1;
}

/* "ip:port" or "[ipv6]:port"; port 0 allowed. */
static bool split_listen(const char *text, char host[static 48], uint16_t *port)
{
    const char *colon = strrchr(text, ':');
    uint64_t v;
    size_t n;

    if (colon == NULL || !dir_parse_u64(colon + 1, 65535, &v))
        return false;
    n = (size_t)(colon - text);
    if (text[0] == '[' && n >= 2 && text[n - 1] == ']')
        text++, n -= 2;
    if (n == 0 || n >= 48)
        return false;
    memcpy(host, text, n);
    host[n] = '\0';
    *port = (uint16_t)v;
    return true;
}

static void on_net_closed(void *ctx)
{
    run_state *st = ctx;

    st->net = NULL;
}

static void on_signal(uv_signal_t *s, int signum)
{
    run_state *st = s->data;

    if (st->stopping)
        return;
    st->stopping = true;
    sh_log_info("shoal-dir", "signal %d: shutting down", signum);
    sh_dir_auth_close(st->auth);
    st->auth = NULL;
    sh_net_shutdown(st->net, on_net_closed, st);
    uv_close((uv_handle_t *)&st->sigterm, NULL);
    uv_close((uv_handle_t *)&st->sigint, NULL);
}

static int start(run_state *st, run_args *a, const sh_dir_network *network)
{
    sh_dir_auth_keys *keys = NULL;
    sh_net_config nc;
    char host[48];
    uint16_t port, bound;
    int rc;

    if (!split_listen(a->listen, host, &port))
        return sh_err_set(SH_ERR_INVALID, "--listen '%s' is not IP:PORT", a->listen);
    if ((rc = dir_keys_load(a->key, &keys)) != SH_OK)
        return rc;
    sh_net_config_default(&nc);
    nc.shutdown_timeout_ms = SHUTDOWN_TIMEOUT_MS;
    rc = sh_net_new(&st->loop, &nc, &st->net);
    if (rc == SH_OK)
        rc = sh_net_listen(st->net, host, port, keys->link_sk, &bound);
    if (rc == SH_OK) {
        a->cfg.identity_sk = keys->identity_sk;
        a->cfg.link_sk = keys->link_sk;
        a->cfg.data_dir = a->data;
        rc = sh_dir_auth_new(&st->loop, st->net, network, &a->cfg, &st->auth);
    }
    sh_secret_free(keys);
    if (rc != SH_OK)
        return rc;
    printf(strchr(host, ':') != NULL ? "listening [%s]:%u\n" : "listening %s:%u\n", host, bound);
    fflush(stdout);
    return SH_OK;
}

static int serve(run_args *a, const sh_dir_network *network)
{
    run_state st = {0};
    int rc;

    uv_loop_init(&st.loop);
    rc = start(&st, a, network);
    if (rc == SH_OK) {
        uv_signal_init(&st.loop, &st.sigterm);
        uv_signal_init(&st.loop, &st.sigint);
        st.sigterm.data = st.sigint.data = &st;
        uv_signal_start(&st.sigterm, on_signal, SIGTERM);
        uv_signal_start(&st.sigint, on_signal, SIGINT);
    } else {
        (void)dir_fail("run");
        if (st.auth != NULL)
            sh_dir_auth_close(st.auth);
        if (st.net != NULL)
            sh_net_close(st.net, NULL, NULL);
    }
    uv_run(&st.loop, UV_RUN_DEFAULT);
    uv_loop_close(&st.loop);
    return rc == SH_OK ? DIR_EXIT_OK : DIR_EXIT_ERROR;
}

int dir_cmd_run(int argc, char **argv)
{
    run_args a = {0};
    sh_dir_network *network = NULL;
    int rc;

    if (getenv("SHOAL_LOG") == NULL)
        sh_log_set_level(SH_LOG_INFO);
    rc = parse_run_args(argc, argv, &a);
    if (rc < 0) {
        signal(SIGPIPE, SIG_IGN);
        sh_log_set_ident("shoal-dir");
        rc = sh_dir_network_load(a.network, &network) == SH_OK ? serve(&a, network)
                                                                : dir_fail("run");
    }
    sh_dir_network_free(network);
    free(a.allowed);
    return rc;
}
