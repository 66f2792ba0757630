/* The directory across processes on loopback: three shoal-dir authorities (k = 2) and ten
 * fake-node processes (seven plain; three that serve a forged, an under-signed and a frozen old
 * copy of the map), plus one node that advertises an address where nobody listens.
 *   1. All ten get the same verified map (same version and body), with two swarms (target 4);
 *      the unreachable node stays out.
 *   2. Authority 3 stops (SIGTERM, clean exit); a new node joins; the other two publish it.
 *   3. Authority 3 restarts from its data folder (registry and map restored) and catches up.
 *   4. Authority 2 stops: 1 and 3 publish maps that still hold every node, which 3 knows only
 *      from its saved registry (nodes republish every two minutes, not during the test).
 *   5. Bad input while the network runs: a forged descriptor, node-only methods called by a
 *      client, a flood of requests, maps fetched straight from the forged, under-signed and old
 *      sources, and a client whose clock is 2 h ahead (every map is expired). Each is refused or
 *      rate-limited with the right code and logged, and the network goes on publishing.
 * With a third argument `grace`, the downtime test instead (docs/directory.md "Downtime and the
 * grace period"): three authorities with a grace of 4 s (tests every 500 ms, every 250 ms while
 * failing, 500 ms to answer) and ten nodes in two swarms. A node frozen (SIGSTOP) for 2 s
 * fails its tests but stays in every map published meanwhile, in its swarm; frozen for 7 s it
 * is dropped once its failures span the grace, and listed again when it answers.
 * Usage: test-dir-dirnet PATH-TO-shoal-dir PATH-TO-fake-node [grace]. */
#include "test.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_AUTH 3
#define N_PLAIN 7
#define N_GOOD 10
#define MAX_PROCS 24
#define MAX_MAPS 1024
#define LINE_MAX_BYTES 1024

typedef struct seen_map {
    uint64_t version;
    char hash[17];
    unsigned nodes, swarms;
    int in;
    uint64_t swarm;              /* the node's own swarm (0: not in the map) */
} seen_map;

typedef struct proc {
    char name[32];
    pid_t pid;
    int in, out;
    char log[512];
    char buf[8192];
    size_t len;
    char last[LINE_MAX_BYTES];   /* the last line of stdout */
    char all[16384];             /* every line, for one-shot modes */
    uint16_t port;
    char id[65], link[65];
    seen_map *maps;
    size_t n_maps;
    unsigned published;          /* "publish ... SH_OK" lines: an authority admitted it */
    bool running;
} proc;

static const char *dir_bin, *node_bin, *tmp;
static char network_path[512];
static proc auths[N_AUTH], nodes[N_GOOD + 2];
static uint16_t auth_ports[N_AUTH];
static size_t n_nodes;
static const char *auth_extra[9]; /* more shoal-dir run options (later ones win), NULL-ended */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* ---- Processes ------------------------------------------------------------------------------ */

static void spawn(proc *p, const char *name, const char *const *argv, const char *env)
{
    int in[2], out[2];

    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->log, sizeof p->log, "%s/%s.log", tmp, name);
    CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0); /* no other child inherits them */
    p->pid = fork();
    CHECK(p->pid >= 0);
    if (p->pid == 0) {
        int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test leaves no process behind */
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(fd, 2);
        close(in[1]);
        close(out[0]);
        if (env != NULL)
            putenv((char *)env);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    p->in = in[1];
    p->out = out[0];
    fcntl(p->out, F_SETFL, O_NONBLOCK);
    p->running = true;
    p->maps = calloc(MAX_MAPS, sizeof *p->maps);
    CHECK(p->maps != NULL);
}

static void take_line(proc *p, const char *line)
{
    size_t n = strnlen(line, sizeof p->last - 1);
    seen_map m = {0};

    memcpy(p->last, line, n);
    p->last[n] = '\0';
    if (strlen(p->all) + strlen(line) + 2 < sizeof p->all) {
        strcat(p->all, line);
        strcat(p->all, "\n");
    }
    if (sscanf(line, "port %hu", &p->port) == 1 || sscanf(line, "id %64s", p->id) == 1 ||
        sscanf(line, "link %64s", p->link) == 1)
        return;
    if (strncmp(line, "publish ", 8) == 0 && strstr(line, " SH_OK") != NULL)
        p->published++;
    if (strncmp(line, "listening 127.0.0.1:", 20) == 0)
        p->port = (uint16_t)atoi(line + 20);
    if (sscanf(line, "map %" SCNu64 " %16s nodes %u swarms %u in %d swarm %" SCNx64, &m.version,
               m.hash, &m.nodes, &m.swarms, &m.in, &m.swarm) == 6 && p->n_maps < MAX_MAPS)
        p->maps[p->n_maps++] = m;
}

/* Reads what the process wrote and handles every complete line. */
static void pump(proc *p)
{
    ssize_t n;

    while (p->out >= 0 && (n = read(p->out, p->buf + p->len, sizeof p->buf - 1 - p->len)) > 0) {
        char *start = p->buf, *nl;

        p->len += (size_t)n;
        p->buf[p->len] = '\0';
        while ((nl = strchr(start, '\n')) != NULL) {
            *nl = '\0';
            take_line(p, start);
            start = nl + 1;
        }
        p->len -= (size_t)(start - p->buf);
        memmove(p->buf, start, p->len);
    }
}

static void pump_all(void)
{
    for (int i = 0; i < N_AUTH; i++)
        pump(&auths[i]);
    for (size_t i = 0; i < n_nodes; i++)
        pump(&nodes[i]);
}

/* Waits for the process to exit (20 s at most) and returns its exit code. */
static int reap_status(proc *p)
{
    int status = 0;

    for (int i = 0; i < 2000; i++) {
        pump(p);
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            pump(p);
            p->running = false;
            close(p->in);
            close(p->out);
            p->out = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        sleep_ms(10);
    }
    test_fail(__FILE__, __LINE__, "%s did not exit; its log %s", p->name, p->log);
}

/* ... which must be 0. */
static void reap(proc *p)
{
    int code = reap_status(p);

    if (code != 0)
        test_fail(__FILE__, __LINE__, "%s ended with exit code %d; its log %s", p->name, code, p->log);
}

static bool log_has(const proc *p, const char *needle)
{
    static char buf[4 << 20];
    FILE *f = fopen(p->log, "r");
    size_t n;

    if (f == NULL)
        return false;
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strstr(buf, needle) != NULL;
}

static void expect_log(const proc *p, const char *needle)
{
    for (int t = 0; t < 1000 && !log_has(p, needle); t++) {
        pump_all();
        sleep_ms(10);
    }
    if (!log_has(p, needle))
        test_fail(__FILE__, __LINE__, "the log of %s (%s) lacks \"%s\"", p->name, p->log, needle);
    printf("  %s logged: %s\n", p->name, needle);
}

/* Network authority 0 (sorted by key) is one of ours: whichever logged it. */
static void expect_log_any(const char *needle)
{
    for (int t = 0; t < 1000; t++) {
        for (int i = 0; i < N_AUTH; i++)
            if (log_has(&auths[i], needle)) {
                printf("  %s logged: %s\n", auths[i].name, needle);
                return;
            }
        pump_all();
        sleep_ms(10);
    }
    test_fail(__FILE__, __LINE__, "no authority logged \"%s\" (logs in %s)", needle, tmp);
}

/* Runs a one-shot command to its end and returns everything it printed. */
static const char *run_once(proc *p, const char *name, const char *const *argv, const char *env)
{
    spawn(p, name, argv, env);
    reap(p);
    free(p->maps);
    return p->all;
}

/* A shoal-dir command that must end with exit code `code`; its output. */
static const char *run_expect(proc *p, const char *const *argv, int code)
{
    int got;

    spawn(p, "cli", argv, NULL);
    got = reap_status(p);
    free(p->maps);
    if (got != code)
        test_fail(__FILE__, __LINE__, "shoal-dir %s ended with %d, expected %d (log %s)", argv[1],
                  got, code, p->log);
    return p->all;
}

/* The command line: version, usage errors, key files that exist, a bad network, port 0. */
static void test_cli(void)
{
    char key[512], net[512], line[600], data[512];
    proc p;
    const char *version[] = {dir_bin, "--version", NULL};
    const char *bogus[] = {dir_bin, "bogus", NULL};
    const char *keygen_bad[] = {dir_bin, "keygen", NULL};
    const char *keygen[] = {dir_bin, "keygen", "--out", key, NULL};
    const char *pubkey[] = {dir_bin, "pubkey", "--key", key, NULL};
    const char *init_bad[] = {dir_bin, "init-network", "--out", net, "--k", "2", "--authority", line, NULL};
    const char *init[] = {dir_bin, "init-network", "--out", net, "--k", "1", "--authority", line, NULL};
    const char *run_bad[] = {dir_bin, "run", "--bogus", NULL};
    const char *run_nonet[] = {dir_bin, "run", "--network", "/nonexistent", "--key", key, "--data",
                               data, "--listen", "127.0.0.1:0", NULL};
    const char *run[] = {dir_bin, "run", "--network", net, "--key", key, "--data", data, "--listen",
                         "127.0.0.1:0", "--devnet", NULL};

    snprintf(key, sizeof key, "%s/cli.key", tmp);
    snprintf(net, sizeof net, "%s/cli.network", tmp);
    snprintf(data, sizeof data, "%s/cli-data", tmp);
    CHECK(strcmp(run_expect(&p, version, 0), "shoal-dir 0.1.0\n") == 0);
    run_expect(&p, bogus, 2);
    run_expect(&p, keygen_bad, 2);
    char public[200];
    snprintf(public, sizeof public, "%s", run_expect(&p, keygen, 0));
    run_expect(&p, keygen, 1); /* the file exists */
    CHECK(strcmp(run_expect(&p, pubkey, 0), public) == 0);
    snprintf(line, sizeof line, "%s=127.0.0.1:%u", key, free_port());
    run_expect(&p, init_bad, 1); /* k = 2 of one authority */
    run_expect(&p, init, 0);
    run_expect(&p, run_bad, 2);
    run_expect(&p, run_nonet, 1);
    /* Port 0: the bound port is printed; SIGTERM ends it cleanly. */
    spawn(&p, "cli-run", run, NULL);
    for (int t = 0; t < 2000 && p.port == 0; t++) {
        pump(&p);
        sleep_ms(10);
    }
    CHECK(p.port != 0);
    kill(p.pid, SIGTERM);
    reap(&p);
    free(p.maps);
    printf("shoal-dir: version, usage errors (2), refusals (1), port 0 -> %u, clean SIGTERM\n", p.port);
}

/* ---- The network ---------------------------------------------------------------------------- */

static void make_network(void)
{
    char keys[N_AUTH][512], specs[N_AUTH][700];
    proc p;

    for (int i = 0; i < N_AUTH; i++) {
        snprintf(keys[i], sizeof keys[i], "%s/auth%d.key", tmp, i);
        const char *argv[] = {dir_bin, "keygen", "--out", keys[i], NULL};
        CHECK(strncmp(run_once(&p, "keygen", argv, NULL), "authority ", 10) == 0);
        auth_ports[i] = free_port();
        snprintf(specs[i], sizeof specs[i], "%s=127.0.0.1:%u", keys[i], auth_ports[i]);
    }
    snprintf(network_path, sizeof network_path, "%s/network", tmp);
    const char *argv[] = {dir_bin, "init-network", "--out", network_path, "--k", "2", "--name",
                          "dirnet", "--swarm-target", "4", "--swarm-min", "3", "--authority",
                          specs[0], "--authority", specs[1], "--authority", specs[2], NULL};
    printf("%s", run_once(&p, "init-network", argv, NULL));
}

static void auth_start(int i)
{
    char key[512], data[512], listen[64], name[16];
    const char *argv[48] = {dir_bin, "run", "--network", network_path, "--key", key, "--data", data,
                            "--listen", listen, "--period-ms", "2000", "--vote-ms", "500",
                            "--sig-ms", "500", "--lifetime-ms", "30000", "--tick-ms", "50", "--early",
                            "--reach-timeout-ms", "2000", "--retest-ms", "5000",
                            "--publish-interval-ms", "1000", "--guard-stable-ms", "0",
                            "--max-per-16", "2", "--log-level", "info"};
    size_t n = 0;

    while (argv[n] != NULL)
        n++;
    for (size_t i = 0; auth_extra[i] != NULL; i++)
        argv[n++] = auth_extra[i];
    argv[n] = NULL;

    snprintf(key, sizeof key, "%s/auth%d.key", tmp, i);
    snprintf(data, sizeof data, "%s/auth%d", tmp, i);
    snprintf(listen, sizeof listen, "127.0.0.1:%u", auth_ports[i]);
    snprintf(name, sizeof name, "auth%d", i + 1);
    spawn(&auths[i], name, argv, NULL);
    for (int t = 0; t < 2000 && auths[i].port == 0; t++) {
        pump(&auths[i]);
        sleep_ms(10);
    }
    CHECK_EQ(auths[i].port, auth_ports[i]);
}

static void auth_stop(int i)
{
    kill(auths[i].pid, SIGTERM);
    reap(&auths[i]);
    free(auths[i].maps);
}

static proc *node_start(const char *advertise, const char *tamper, const char *epoch_ms)
{
    proc *p = &nodes[n_nodes++];
    char data[512], name[16];
    const char *argv[14] = {node_bin, "node", "--network", network_path, "--data", data};
    size_t n = 6;

    snprintf(name, sizeof name, "node%zu", n_nodes);
    snprintf(data, sizeof data, "%s/%s", tmp, name);
    CHECK(mkdir(data, 0700) == 0);
    if (advertise != NULL) {
        argv[n++] = "--advertise";
        argv[n++] = advertise;
    }
    if (tamper != NULL) {
        argv[n++] = "--tamper";
        argv[n++] = tamper;
    }
    if (epoch_ms != NULL) {
        argv[n++] = "--epoch-ms";
        argv[n++] = epoch_ms;
    }
    argv[n] = NULL;
    spawn(p, name, argv, NULL);
    for (int t = 0; t < 2000 && p->link[0] == '\0'; t++) {
        pump(p);
        sleep_ms(10);
    }
    CHECK(p->link[0] != '\0');
    return p;
}

static const seen_map *seen(const proc *p, uint64_t version)
{
    for (size_t i = 0; i < p->n_maps; i++)
        if (p->maps[i].version == version)
            return &p->maps[i];
    return NULL;
}

/* The newest version >= min that every member saw with the same body, holding n_in nodes in
 * `swarms` swarms, each member in it and `outsider` (may be NULL) not; 0 when there is none. */
static uint64_t agreed(proc *const *members, size_t n, unsigned n_in, unsigned swarms,
                       const proc *outsider, uint64_t min)
{
    const proc *first = members[0];

    for (size_t k = first->n_maps; k-- > 0;) {
        const seen_map *m = &first->maps[k];
        bool ok = m->version >= min && m->nodes == n_in && m->swarms == swarms;

        for (size_t i = 0; ok && i < n; i++) {
            const seen_map *o = seen(members[i], m->version);
            ok = o != NULL && strcmp(o->hash, m->hash) == 0 && o->in == 1;
        }
        if (ok && outsider != NULL) {
            const seen_map *o = seen(outsider, m->version);
            ok = o == NULL || o->in == 0;
        }
        if (ok)
            return m->version;
    }
    return 0;
}

static uint64_t wait_agreed(proc *const *members, size_t n, unsigned n_in, const proc *outsider,
                            uint64_t min, const char *what)
{
    for (int t = 0; t < 6000; t++) {
        uint64_t v;

        pump_all();
        if ((v = agreed(members, n, n_in, 2, outsider, min)) != 0) {
            printf("%s: map version %llu, %u nodes, 2 swarms, same body on all %zu nodes\n", what,
                   (unsigned long long)v, n_in, n);
            return v;
        }
        sleep_ms(10);
    }
    test_fail(__FILE__, __LINE__, "%s: no map version >= %llu agreed by all nodes (logs in %s)",
              what, (unsigned long long)min, tmp);
}

/* ---- Bad input ------------------------------------------------------------------------------- */

static void expect_output(const char *out, const char *needle, const char *what)
{
    if (strstr(out, needle) == NULL)
        test_fail(__FILE__, __LINE__, "%s printed \"%s\", expected \"%s\"", what, out, needle);
    printf("  %s: %s", what, out);
}

/* The full map from one tampered node, verified by the client side. */
static void fetch_from(const proc *n, uint64_t min_version, const char *needle)
{
    char address[32], minv[24], what[64];
    proc p;
    const char *argv[] = {node_bin, "fetch-from", "--network", network_path, "--address", address,
                          "--key", NULL, "--min-version", minv, NULL};
    snprintf(address, sizeof address, "127.0.0.1:%u", n->port);
    snprintf(minv, sizeof minv, "%llu", (unsigned long long)min_version);
    argv[7] = n->link;
    snprintf(what, sizeof what, "map from %s", n->name);
    expect_output(run_once(&p, "fetch-from", argv, NULL), needle, what);
}

static void bad_input(proc *const *tampered, uint64_t v)
{
    char offset[64];
    proc p;
    const char *forged[] = {node_bin, "forged", "--network", network_path, NULL};
    const char *nodemethod[] = {node_bin, "nodemethod", "--network", network_path, NULL};
    const char *flood[] = {node_bin, "flood", "--network", network_path, "--calls", "400", NULL};
    const char *fetch[] = {node_bin, "fetch", "--network", network_path, NULL};

    printf("bad input:\n");
    expect_output(run_once(&p, "forged", forged, NULL), "\nok\n", "forged descriptor");
    for (int i = 0; i < N_AUTH; i++)
        expect_log(&auths[i], "descriptor refused (SH_ERR_CRYPTO): the descriptor's signature does "
                              "not verify");
    expect_output(run_once(&p, "nodemethod", nodemethod, NULL), "\nok\n", "node methods by a client");
    expect_log_any("refused dir.vote.get to a caller that is not an authority");
    expect_output(run_once(&p, "flood", flood, NULL), "ok map requests busy", "flood");
    expect_log_any("publication refused (SH_ERR_BUSY): this node published");
    fetch_from(tampered[0], 0, "status SH_ERR_CRYPTO map signature by authority");
    fetch_from(tampered[1], 0, "has 1 valid authority signature; this network needs 2");
    fetch_from(tampered[2], v, "is older than version");
    expect_output(run_once(&p, "fetch", fetch, NULL), "map ", "a client fetching from anyone");
    /* Two hours later (and then some), every map anywhere has expired. */
    snprintf(offset, sizeof offset, "SHOAL_CLOCK_OFFSET_MS=%lld", 2 * 3600 * 1000LL + 30000);
    expect_output(run_once(&p, "fetch", fetch, offset), "status SH_ERR_STALE", "clock 2 h ahead");
    CHECK(strstr(p.all, "expired 2 h 0 min ago") != NULL);
}

/* Three authorities, ten member nodes (the last three tampered) and an unreachable node. */
static proc *start_all(proc **members, proc **tampered)
{
    char dead[32];

    make_network();
    for (int i = 0; i < N_AUTH; i++)
        auth_start(i);
    /* Nodes 1 and 2 turn onion-key epochs every 4 s and publish again each time. */
    for (int i = 0; i < N_PLAIN; i++)
        members[i] = node_start(NULL, NULL, i < 2 ? "4000" : NULL);
    tampered[0] = members[N_PLAIN] = node_start(NULL, "forge", NULL);
    tampered[1] = members[N_PLAIN + 1] = node_start(NULL, "strip", NULL);
    tampered[2] = members[N_PLAIN + 2] = node_start(NULL, "old", NULL);
    snprintf(dead, sizeof dead, "127.0.0.1:%u", free_port());
    return node_start(dead, NULL, NULL);
}

/* ---- Downtime and the grace period ------------------------------------------------------------ */

#define GRACE_NODES 10
#define GRACE_MS 4000 /* the authorities' --drop-grace-ms below */

static size_t maps_seen(proc *const *ps, size_t n, size_t *counts)
{
    size_t total = 0;

    pump_all();
    for (size_t i = 0; i < n; i++)
        total += counts[i] = ps[i]->n_maps;
    return total;
}

/* Every map the watchers saw after `from` (their counts then) lists `want` nodes; how many. */
static size_t maps_with(proc *const *watchers, size_t n, const size_t *from, unsigned want)
{
    size_t count = 0;

    pump_all();
    for (size_t i = 0; i < n; i++)
        for (size_t k = from[i]; k < watchers[i]->n_maps; k++) {
            const seen_map *m = &watchers[i]->maps[k];
            if (m->nodes != want)
                test_fail(__FILE__, __LINE__, "%s saw map version %llu with %u nodes, not %u (logs "
                          "in %s)", watchers[i]->name, (unsigned long long)m->version, m->nodes,
                          want, tmp);
            count++;
        }
    return count;
}

static void freeze(proc *p, long ms)
{
    CHECK(kill(p->pid, SIGSTOP) == 0);
    for (long t = 0; t < ms; t += 10) {
        pump_all();
        sleep_ms(10);
    }
    CHECK(kill(p->pid, SIGCONT) == 0);
}

/* The newest map the node has seen itself in: version and swarm. */
static const seen_map *own_latest(proc *p)
{
    pump(p);
    for (size_t k = p->n_maps; k-- > 0;)
        if (p->maps[k].in)
            return &p->maps[k];
    return NULL;
}

/* Ends every node (closing its standard input) and every authority; each must exit cleanly. */
static void stop_all(void)
{
    for (size_t i = 0; i < n_nodes; i++) {
        close(nodes[i].in);
        reap(&nodes[i]);
        free(nodes[i].maps);
    }
    for (int i = 0; i < N_AUTH; i++)
        auth_stop(i);
    printf("every process ended cleanly\n");
}

static void grace_test(void)
{
    proc *members[GRACE_NODES], *victim, *watchers[GRACE_NODES - 1];
    size_t before[GRACE_NODES - 1], during[GRACE_NODES - 1];
    char failing[64], back[64];
    uint64_t v, swarm;

    auth_extra[0] = "--drop-grace-ms", auth_extra[1] = "4000";
    auth_extra[2] = "--failing-retest-ms", auth_extra[3] = "250";
    auth_extra[4] = "--retest-ms", auth_extra[5] = "500";
    auth_extra[6] = "--reach-timeout-ms", auth_extra[7] = "500";
    make_network();
    for (int i = 0; i < N_AUTH; i++)
        auth_start(i);
    for (int i = 0; i < GRACE_NODES; i++)
        members[i] = node_start(NULL, NULL, NULL);
    v = wait_agreed(members, GRACE_NODES, GRACE_NODES, NULL, 1, "grace: ten nodes");
    victim = members[3];
    for (int i = 0, k = 0; i < GRACE_NODES; i++)
        if (members[i] != victim)
            watchers[k++] = members[i];
    snprintf(failing, sizeof failing, "node %.8s not reachable at", victim->id);
    snprintf(back, sizeof back, "node %.8s reachable again at", victim->id);
    CHECK(own_latest(victim) != NULL);
    swarm = own_latest(victim)->swarm;

    /* 1. Frozen 2 s, shorter than the grace: tests fail, every map meanwhile lists it, and it
     * stays in its swarm. */
    maps_seen(watchers, GRACE_NODES - 1, before);
    freeze(victim, 2000);
    expect_log_any(failing);
    expect_log_any(back);
    expect_log_any("still listed");
    v = wait_agreed(members, GRACE_NODES, GRACE_NODES, NULL, v + 1, "grace: frozen 2 s, back");
    size_t n_during = maps_with(watchers, GRACE_NODES - 1, before, GRACE_NODES);
    CHECK(n_during > 0);
    CHECK(own_latest(victim)->version >= v && own_latest(victim)->swarm == swarm);
    printf("grace: the node frozen for 2 s stayed in all %zu maps the others saw, in swarm "
           "%016llx\n", n_during, (unsigned long long)swarm);
    for (int i = 0; i < N_AUTH; i++)
        CHECK(!log_has(&auths[i], "the grace is over"));

    /* 2. Frozen longer than the grace: dropped once its failures span 4 s (not before), in a
     * map the others see; listed again when it answers. It stays frozen until that map comes
     * (20 s at most), however slowly a loaded machine runs the rounds. */
    maps_seen(watchers, GRACE_NODES - 1, during);
    CHECK(kill(victim->pid, SIGSTOP) == 0);
    int64_t frozen_at = mono_ms(), gone_after = -1;
    while (gone_after < 0 && mono_ms() - frozen_at < 20000) {
        pump_all();
        for (size_t i = 0; i < GRACE_NODES - 1 && gone_after < 0; i++)
            for (size_t k = during[i]; k < watchers[i]->n_maps && gone_after < 0; k++)
                if (watchers[i]->maps[k].nodes == GRACE_NODES - 1)
                    gone_after = mono_ms() - frozen_at;
        sleep_ms(10);
    }
    CHECK(kill(victim->pid, SIGCONT) == 0);
    CHECK(gone_after >= 0);
    CHECK(gone_after >= GRACE_MS);
    expect_log_any("the grace is over");
    printf("grace: a map without the frozen node came %lld ms after it stopped answering\n",
           (long long)gone_after);
    v = wait_agreed(members, GRACE_NODES, GRACE_NODES, NULL, v + 1, "grace: frozen past the grace, back");
    printf("grace: the node frozen past the grace was dropped and is listed again (swarm %016llx, was "
           "%016llx)\n", (unsigned long long)own_latest(victim)->swarm, (unsigned long long)swarm);

    stop_all();
}

int main(int argc, char **argv)
{
    proc *members[N_GOOD + 1], *unreachable, *tampered[3];
    uint64_t v;

    CHECK(argc == 3 || (argc == 4 && strcmp(argv[3], "grace") == 0));
    dir_bin = argv[1];
    node_bin = argv[2];
    tmp = test_tmpdir();
    setenv("SHOAL_LOG", "info", 1);
    if (argc == 4) {
        grace_test();
        return 0;
    }
    test_cli();
    unreachable = start_all(members, tampered);

    /* 1. Everyone agrees; the unreachable node is tested, refused and left out. */
    v = wait_agreed(members, N_GOOD, N_GOOD, unreachable, 1, "all up");
    for (int i = 0; i < N_AUTH; i++)
        expect_log(&auths[i], "not reachable at 127.0.0.1:");
    expect_log(unreachable, "refused this node's descriptor (SH_ERR_UNAVAILABLE): no Noise handshake");

    /* 2. Authority 3 stops; a new node joins. */
    auth_stop(2);
    members[N_GOOD] = node_start(NULL, NULL, NULL);
    v = wait_agreed(members, N_GOOD + 1, N_GOOD + 1, unreachable, v + 1, "authority 3 down, a node joined");

    /* 3. It restarts with its saved registry and map, and catches up. */
    auth_start(2);
    /* (Nodes 1 and 2 may have turned an epoch meanwhile: their saved keys expired, they come
     * back by publishing again. The other nine come back from the file.) */
    expect_log(&auths[2], "of 11 nodes from");
    expect_log(&auths[2], "restored map version");
    expect_log(&auths[2], "caught up with map version");

    /* 4. Authority 2 stops: authorities 1 and 3 still list every node. */
    auth_stop(1);
    v = wait_agreed(members, N_GOOD + 1, N_GOOD + 1, unreachable, v + 1, "authority 2 down");
    auth_start(1);

    /* 5. Bad input; the network goes on. */
    bad_input(tampered, v);
    pump_all();
    v = members[0]->maps[members[0]->n_maps - 1].version; /* the newest it has seen */
    v = wait_agreed(members, N_GOOD + 1, N_GOOD + 1, unreachable, v + 1, "after the bad input");
    /* Every epoch turn was published and admitted again; the other nodes published once. */
    for (int i = 0; i < 2; i++) {
        printf("%s: admitted %u times (onion keys rotated), %s: %u times\n", members[i]->name,
               members[i]->published, members[2]->name, members[2]->published);
        CHECK(members[i]->published > 2 * N_AUTH);
    }
    CHECK(members[2]->published >= N_AUTH && members[2]->published <= N_AUTH + 2);
    CHECK_EQ(unreachable->published, 0);

    stop_all();
    return 0;
}
