/* Network test helpers (nettest.h). */
#include "nettest.h"

#include "dir/client.h"
#include "util/time.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void net_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static uint16_t free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Runs a command to its end with stdout and stderr into `log`; its exit code. */
static int run(const char *const *argv, const char *log)
{
    int status = 0;
    pid_t pid = fork();

    CHECK(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static net *all_nets[4];

static void stop_at_exit(void)
{
    for (int i = 0; i < 4; i++)
        if (all_nets[i] != NULL)
            for (int a = 0; a < all_nets[i]->n_auth; a++)
                if (all_nets[i]->auth[a].pid > 0)
                    kill(all_nets[i]->auth[a].pid, SIGKILL);
}

void net_init(net *w, const char *dir_exe, const char *node_exe, int n_auth, int k, int target,
              int min)
{
    char specs[NET_MAX_AUTH][400], log[300], kk[8], tg[8], mn[8];
    const char *argv[32];
    int n = 0;

    memset(w, 0, sizeof *w);
    w->dir_exe = dir_exe;
    w->node_exe = node_exe;
    w->n_auth = n_auth;
    w->drop_grace_ms = NET_DROP_GRACE_MS;
    w->period_ms = 2000;
    w->retest_ms = 5000;
    snprintf(w->tmp, sizeof w->tmp, "%s", test_tmpdir());
    snprintf(log, sizeof log, "%s/setup.log", w->tmp);
    for (int i = 0; i < n_auth; i++) {
        net_auth *a = &w->auth[i];
        snprintf(a->key, sizeof a->key, "%s/auth%d.key", w->tmp, i);
        snprintf(a->data, sizeof a->data, "%s/auth%d", w->tmp, i);
        snprintf(a->log, sizeof a->log, "%s/auth%d.log", w->tmp, i);
        const char *kg[] = {dir_exe, "keygen", "--out", a->key, NULL};
        CHECK_EQ(run(kg, log), 0);
        a->port = free_port();
        snprintf(specs[i], sizeof specs[i], "%s=127.0.0.1:%u", a->key, a->port);
    }
    snprintf(w->network, sizeof w->network, "%s/network", w->tmp);
    snprintf(kk, sizeof kk, "%d", k);
    snprintf(tg, sizeof tg, "%d", target);
    snprintf(mn, sizeof mn, "%d", min);
    const char *head[] = {dir_exe, "init-network", "--out", w->network, "--k", kk, "--name",
                          "nodenet", "--swarm-target", tg, "--swarm-min", mn};
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        argv[n++] = head[i];
    for (int i = 0; i < n_auth; i++) {
        argv[n++] = "--authority";
        argv[n++] = specs[i];
    }
    argv[n] = NULL;
    CHECK_EQ(run(argv, log), 0);
    for (int i = 0; i < 4; i++)
        if (all_nets[i] == NULL) {
            all_nets[i] = w;
            break;
        }
    static bool registered;
    if (!registered)
        atexit(stop_at_exit), registered = true;
}

void net_auth_start(net *w, int i)
{
    net_auth *a = &w->auth[i];
    char listen[64], grace[24], period[24], quarter[24], retest[24];
    const char *argv[] = {w->dir_exe, "run", "--network", w->network, "--key", a->key, "--data",
                          a->data, "--listen", listen, "--period-ms", period, "--vote-ms", quarter,
                          "--sig-ms", quarter, "--lifetime-ms", "30000", "--tick-ms", "50", "--early",
                          "--reach-timeout-ms", "2000", "--retest-ms", retest,
                          "--drop-grace-ms", grace, "--failing-retest-ms", "250",
                          "--publish-interval-ms", "500", "--guard-stable-ms", "0",
                          "--log-level", "info", NULL};

    snprintf(listen, sizeof listen, "127.0.0.1:%u", a->port);
    snprintf(grace, sizeof grace, "%ld", w->drop_grace_ms);
    snprintf(period, sizeof period, "%ld", w->period_ms);
    snprintf(quarter, sizeof quarter, "%ld", w->period_ms / 4);
    snprintf(retest, sizeof retest, "%ld", w->retest_ms);
    a->pid = fork();
    CHECK(a->pid >= 0);
    if (a->pid == 0) {
        int fd = open(a->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
}

void net_auth_stop(net *w, int i)
{
    int status;

    if (w->auth[i].pid <= 0)
        return;
    kill(w->auth[i].pid, SIGTERM);
    CHECK(waitpid(w->auth[i].pid, &status, 0) == w->auth[i].pid);
    w->auth[i].pid = 0;
}

void net_stop_all(net *w)
{
    for (int i = 0; i < w->n_auth; i++)
        net_auth_stop(w, i);
}

void net_node_init(net *w, nt_node *n)
{
    static char network[40][320];
    static int used;
    int k = 0;

    nt_node_init(n, w->node_exe);
    CHECK(used < 40);
    snprintf(network[used], sizeof network[used], "network=%s", w->network);
    n->settings[k++] = network[used++];
    n->settings[k++] = "map_refresh_ms=300";
    n->settings[k++] = "publish_interval_ms=2000";
    n->settings[k++] = "replicate_timeout_ms=2000";
    n->settings[k++] = "antientropy_ms=500";
    n->settings[k++] = "pow_bits=0";
    n->settings[k] = NULL;
}

double net_metric(const nt_node *n, const char *name)
{
    char *t = nt_stats(n);
    double v = nt_metric(t, name);

    free(t);
    return v;
}

uint64_t net_wait_map(nt_node *const *nodes, size_t n, uint64_t min, const char *what)
{
    for (int t = 0; t < 600; t++) {
        double lo = 1e18, hi = 0;
        bool in = true;

        for (size_t i = 0; in && i < n; i++) {
            double v = net_metric(nodes[i], "shoal_node_map_version");
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            in = net_metric(nodes[i], "shoal_node_swarm_peers") >= 0;
        }
        /* Maps follow each other every period: a version or two apart is the same network. */
        if (in && lo >= (double)min && hi - lo <= 2) {
            printf("%s: all %zu nodes in a swarm, map versions %.0f..%.0f\n", what, n, lo, hi);
            return (uint64_t)lo;
        }
        net_sleep_ms(100);
    }
    for (size_t i = 0; i < n; i++)
        printf("  node %zu: map version %.0f, swarm peers %.0f\n", i,
               net_metric(nodes[i], "shoal_node_map_version"),
               net_metric(nodes[i], "shoal_node_swarm_peers"));
    test_fail(__FILE__, __LINE__, "%s: the nodes never agreed on a map version >= %llu", what,
              (unsigned long long)min);
}

sh_dir_map *net_fetch_map(net *w, nt_client *c, uint64_t min_version)
{
    sh_dir_network *network;
    sh_dir_client *cl;
    sh_dir_client_config cfg = {.refresh_ms = 200, .retry_ms = 100};
    sh_dir_map *copy = NULL;
    sh_buf b;

    CHECK_OK(sh_dir_network_load(w->network, &network));
    CHECK_OK(sh_dir_client_new(&c->loop, c->net, network, &cfg, &cl));
    for (int t = 0; t < 20000; t++) {
        const sh_dir_map *m = sh_dir_client_map(cl);
        if (m != NULL && sh_dir_map_version(m) >= min_version) {
            sh_buf_init(&b);
            CHECK_OK(sh_dir_map_encode(m, &b));
            CHECK_OK(sh_dir_map_load(b.data, b.len, network, 0, sh_time_now_ms(), &copy));
            sh_buf_free(&b);
            break;
        }
        uv_run(&c->loop, UV_RUN_NOWAIT);
        net_sleep_ms(1);
    }
    CHECK(copy != NULL);
    sh_dir_client_close(cl);
    uv_run(&c->loop, UV_RUN_NOWAIT);
    sh_dir_network_free(network);
    return copy;
}
