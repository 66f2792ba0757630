/* shoal-devnet: a whole Shoal network on loopback for development, tests and the demo
 * (docs/devnet.md). `up` makes a directory authority key and network file, starts one shoal-dir
 * and N shoald, and waits until the map that lists every node in swarms is published and every
 * node holds it; `down`, `status`, and `kill`/`start` of one process for fault drills. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devnet.h"
#include "dir/dir.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/time.h"

#define DEFAULT_DIR "devnet"
#define DEFAULT_NODES 12
#define DEFAULT_SWARM_TARGET 4
#define DEFAULT_TIMEOUT_S 90
#define START_TIMEOUT_MS 20000
#define STOP_GRACE_MS 5000
#define MAP_POLL_MS 100
#define MAP_MAX_BYTES (4u << 20)
/* Node settings that make a devnet converge in seconds rather than minutes (docs/node.md). */
#define DEVNET_NODE_SETTINGS "map_refresh_ms=500 publish_interval_ms=2000"

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(FILE *out)
{
    fputs("usage: shoal-devnet up [--dir DIR] [--nodes N] [--swarm-target N] [--foreground]\n"
          "                       [--timeout SECONDS] [--set KEY=VALUE]... [--force]\n"
          "       shoal-devnet down [--dir DIR]\n"
          "       shoal-devnet status [--dir DIR]\n"
          "       shoal-devnet kill NODE [--dir DIR]     stop a process at once (SIGKILL)\n"
          "       shoal-devnet start NODE [--dir DIR]    start it again on its old port\n\n"
          "A local Shoal network on 127.0.0.1: one directory authority (auth) and N service nodes\n"
          "(n1..nN; default 12, swarm target 4). DIR (default ./devnet) holds the network file\n"
          "(DIR/network, for 'shoal --network'), each process's data and log (DIR/n3/log).\n"
          "`up` returns once the map lists every node in a swarm and every node has it; the\n"
          "processes run until `down` (with --foreground, until Ctrl-C). --set passes a setting\n"
          "to every node; --force replaces a stopped devnet in DIR. Exit codes: 0 ok, 1 error,\n"
          "2 usage. docs/devnet.md says more.\n",
          out);
}

static int fail(const char *cmd)
{
    fprintf(stderr, "shoal-devnet %s: %s\n", cmd, sh_err_msg());
    return DEVNET_EXIT_ERROR;
}

/* ---- finding the programs ----------------------------------------------------------------- */

static bool executable_at(char out[static DEVNET_PATH_BYTES], const char *dir, const char *rel)
{
    if (snprintf(out, DEVNET_PATH_BYTES, "%s/%s", dir, rel) >= DEVNET_PATH_BYTES)
        return false;
    return access(out, X_OK) == 0;
}

/* Next to shoal-devnet (installed), or in the build tree's sibling folders, or on PATH. */
static int find_program(const char *name, char out[static DEVNET_PATH_BYTES])
{
    char self[DEVNET_PATH_BYTES], rel[256], *slash, *path, *save = NULL;
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

    if (n > 0) {
        self[n] = '\0';
        slash = strrchr(self, '/');
        if (slash != NULL)
            *slash = '\0';
        snprintf(rel, sizeof rel, "../%s/%s", name, name);
        if (executable_at(out, self, name) || executable_at(out, self, rel))
            return SH_OK;
    }
    path = getenv("PATH") != NULL ? strdup(getenv("PATH")) : NULL;
    for (char *d = path != NULL ? strtok_r(path, ":", &save) : NULL; d != NULL; d = strtok_r(NULL, ":", &save))
        if (executable_at(out, d, name)) {
            free(path);
            return SH_OK;
        }
    free(path);
    return sh_err_set(SH_ERR_NOT_FOUND, "cannot find the program %s (build it with 'make', or put "
                      "it on PATH)", name);
}

/* ---- running a short command -------------------------------------------------------------- */

static int run_sync(char *const argv[], const char *log)
{
    int status;
    pid_t pid = devnet_spawn(false, argv, log);

    if (pid < 0)
        return sh_err_set(SH_ERR_IO, "fork: %s", strerror(errno));
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return sh_err_set(SH_ERR_IO, "waitpid: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return sh_err_set(SH_ERR_IO, "'%s %s' failed (see %s)", argv[0], argv[1], log);
    return SH_OK;
}

static int make_network(devnet_state *s)
{
    char adir[DEVNET_PATH_BYTES], key[DEVNET_PATH_BYTES], log[DEVNET_PATH_BYTES];
    char network[DEVNET_PATH_BYTES], authority[DEVNET_PATH_BYTES + 32], target[16], bootstrap[16];
    devnet_proc *auth = &s->procs[0];
    int rc;

    if ((rc = devnet_proc_dir(s, auth, adir)) != SH_OK || (rc = sh_fs_mkdir_p(adir, 0700)) != SH_OK ||
        (rc = sh_fs_join(key, sizeof key, adir, "auth.key")) != SH_OK ||
        (rc = devnet_proc_log(s, auth, log)) != SH_OK ||
        (rc = sh_fs_join(network, sizeof network, s->dir, DEVNET_NETWORK_FILE)) != SH_OK ||
        (rc = devnet_free_port(&auth->port)) != SH_OK)
        return rc;
    snprintf(authority, sizeof authority, "%s=127.0.0.1:%u", key, auth->port);
    snprintf(target, sizeof target, "%u", s->swarm_target);
    /* The first swarms wait for every node, so that 12 nodes with target 4 are born as 3 swarms
     * of 4 however the nodes' registrations fall into the authority's rounds. */
    snprintf(bootstrap, sizeof bootstrap, "%u", s->n_procs - 1 >= 3 ? s->n_procs - 1 : 3);
    char *keygen[] = {s->shoal_dir, "keygen", "--out", key, NULL};
    char *init[] = {s->shoal_dir, "init-network", "--out", network, "--k", "1", "--name", "devnet",
                    "--swarm-target", target, "--swarm-bootstrap", bootstrap, "--authority",
                    authority, NULL};
    if ((rc = run_sync(keygen, log)) != SH_OK || (rc = run_sync(init, log)) != SH_OK)
        return rc;
    return SH_OK;
}

/* ---- the map ------------------------------------------------------------------------------ */

static int load_map_file(const char *path, const sh_dir_network *net, sh_dir_map **out)
{
    sh_buf b;
    int rc;

    *out = NULL;
    sh_buf_init(&b);
    rc = sh_fs_read_file(path, MAP_MAX_BYTES, &b);
    if (rc == SH_OK)
        rc = sh_dir_map_load(b.data, b.len, net, 0, sh_time_now_ms(), out);
    sh_buf_free(&b);
    return rc;
}

static int load_authority_map(const devnet_state *s, const sh_dir_network *net, sh_dir_map **out)
{
    char adir[DEVNET_PATH_BYTES], path[DEVNET_PATH_BYTES];
    int rc = devnet_proc_dir(s, &s->procs[0], adir);

    if (rc == SH_OK)
        rc = sh_fs_join(path, sizeof path, adir, "data/map");
    return rc != SH_OK ? rc : load_map_file(path, net, out);
}

static const devnet_proc *proc_of_identity(const devnet_state *s, const uint8_t identity[32])
{
    char hex[65];

    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", identity[i]);
    for (unsigned i = 1; i < s->n_procs; i++)
        if (strcmp(s->procs[i].identity, hex) == 0)
            return &s->procs[i];
    return NULL;
}

/* How many of the devnet's nodes the map lists, and how many of those are in a swarm. */
static void count_listed(const devnet_state *s, const sh_dir_map *m, size_t *listed, size_t *in_swarm)
{
    size_t n, n_swarms;
    const sh_dir_node *nodes = sh_dir_map_nodes(m, &n);

    sh_dir_map_swarms(m, &n_swarms);
    *listed = *in_swarm = 0;
    for (size_t i = 0; i < n; i++)
        if (proc_of_identity(s, nodes[i].identity) != NULL) {
            (*listed)++;
            if (n_swarms > 0)
                (*in_swarm)++;
        }
}

static void print_swarms(const devnet_state *s, const sh_dir_map *m, FILE *out)
{
    size_t n_swarms, n;
    const sh_dir_swarm *sw = sh_dir_map_swarms(m, &n_swarms);
    const sh_dir_node *nodes = sh_dir_map_nodes(m, &n);
    char name[16];

    for (size_t i = 0; i < n_swarms; i++) {
        fprintf(out, "  swarm %016llx:", (unsigned long long)sw[i].id);
        for (size_t j = 0; j < n; j++) {
            const devnet_proc *p = proc_of_identity(s, nodes[j].identity);
            if (nodes[j].swarm_id != sw[i].id)
                continue;
            if (p != NULL)
                devnet_proc_name(p, name);
            fprintf(out, " %s", p != NULL ? name : "(other)");
        }
        fputc('\n', out);
    }
}

/* Every running node's saved map (DATA/map) is at least `version`. */
static bool nodes_have_map(const devnet_state *s, const sh_dir_network *net, uint64_t version)
{
    for (unsigned i = 1; i < s->n_procs; i++) {
        char pdir[DEVNET_PATH_BYTES], path[DEVNET_PATH_BYTES];
        sh_dir_map *m = NULL;
        bool ok;

        if (devnet_proc_dir(s, &s->procs[i], pdir) != SH_OK ||
            sh_fs_join(path, sizeof path, pdir, "map") != SH_OK)
            return false;
        ok = load_map_file(path, net, &m) == SH_OK && sh_dir_map_version(m) >= version;
        sh_dir_map_free(m);
        if (!ok)
            return false;
    }
    return true;
}

/* Waits for a map listing every node in swarms, then for every node to hold it. */
static int wait_for_map(devnet_state *s, const sh_dir_network *net, int64_t deadline, uint64_t *version)
{
    uint64_t shown = 0;
    size_t want = s->n_procs - 1, listed = 0, in_swarm = 0;
    bool published = false;

    while (!interrupted) {
        sh_dir_map *m = NULL;
        if (!published && load_authority_map(s, net, &m) == SH_OK) {
            count_listed(s, m, &listed, &in_swarm);
            if (sh_dir_map_version(m) != shown) {
                size_t n_swarms;
                shown = sh_dir_map_version(m);
                sh_dir_map_swarms(m, &n_swarms);
                printf("devnet: map version %llu: %zu of %zu nodes, %zu swarm%s\n",
                       (unsigned long long)shown, listed, want, n_swarms, n_swarms == 1 ? "" : "s");
                fflush(stdout);
            }
            if (listed == want && in_swarm == want) {
                published = true;
                *version = shown;
            }
        }
        sh_dir_map_free(m);
        if (published && nodes_have_map(s, net, *version))
            return SH_OK;
        if (sh_time_mono_ms() > deadline)
            return published ? sh_err_set(SH_ERR_TIMEOUT, "map version %llu was published, but not "
                                          "every node fetched it in time (see DIR/nN/log)",
                                          (unsigned long long)*version)
                             : sh_err_set(SH_ERR_TIMEOUT, "no map listing all %zu nodes in swarms "
                                          "was published in time (last: %zu listed; see %s/auth/log)",
                                          want, listed, s->dir);
        devnet_sleep_ms(MAP_POLL_MS);
    }
    return sh_err_set(SH_ERR_CANCELLED, "interrupted");
}

/* ---- up ----------------------------------------------------------------------------------- */

typedef struct up_opts {
    const char *dir;
    unsigned nodes, swarm_target, timeout_s;
    bool foreground, force;
    char settings[2048];
} up_opts;

static int stop_all(devnet_state *s)
{
    int rc = SH_OK;

    for (unsigned i = s->n_procs; i-- > 0;) {
        int r = devnet_stop(s, &s->procs[i], false, STOP_GRACE_MS);
        if (r != SH_OK && rc == SH_OK)
            rc = r;
    }
    return rc;
}

static bool any_alive(const devnet_state *s)
{
    for (unsigned i = 0; i < s->n_procs; i++)
        if (devnet_alive(s, &s->procs[i]))
            return true;
    return false;
}

/* An absolute DIR, made fresh (or refused when a devnet lives there). */
static int prepare_dir(const up_opts *o, devnet_state *s)
{
    devnet_state old;
    char abs[PATH_MAX];
    int rc;

    if (devnet_state_load(o->dir, &old) == SH_OK) {
        if (any_alive(&old))
            return sh_err_set(SH_ERR_EXISTS, "a devnet already runs in %s ('shoal-devnet down "
                              "--dir %s' first)", o->dir, o->dir);
        if (!o->force)
            return sh_err_set(SH_ERR_EXISTS, "%s holds a stopped devnet; give --force to replace "
                              "it", o->dir);
    }
    if (sh_fs_exists(o->dir) && o->force) {
        char *rm[] = {"/bin/rm", "-rf", "--", (char *)o->dir, NULL};
        if ((rc = run_sync(rm, "/dev/null")) != SH_OK)
            return rc;
    }
    if (sh_fs_exists(o->dir) && !o->force) {
        char state[DEVNET_PATH_BYTES];
        if ((rc = sh_fs_join(state, sizeof state, o->dir, "n1")) != SH_OK)
            return rc;
        if (sh_fs_exists(state))
            return sh_err_set(SH_ERR_EXISTS, "%s is in use; give --force to replace it", o->dir);
    }
    if ((rc = sh_fs_mkdir_p(o->dir, 0700)) != SH_OK)
        return rc;
    if (realpath(o->dir, abs) == NULL || strlen(abs) >= sizeof s->dir)
        return sh_err_set(SH_ERR_IO, "cannot resolve %s: %s", o->dir, strerror(errno));
    strcpy(s->dir, abs);
    return SH_OK;
}

static int start_processes(devnet_state *s)
{
    char name[16];
    int rc;

    for (unsigned i = 0; i < s->n_procs && !interrupted; i++) {
        devnet_proc *p = &s->procs[i];
        rc = devnet_start(s, p, START_TIMEOUT_MS);
        (void)devnet_state_save(s);
        if (rc != SH_OK) {
            devnet_print_log_tail(s, p, 15);
            return rc;
        }
        devnet_proc_name(p, name);
        printf("devnet: %-4s listening on 127.0.0.1:%u (pid %ld)\n", name, p->port, (long)p->pid);
        fflush(stdout);
    }
    return interrupted ? sh_err_set(SH_ERR_CANCELLED, "interrupted") : SH_OK;
}

static void reap_children(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

static int up_run(const up_opts *o, devnet_state *s)
{
    int64_t t0 = sh_time_mono_ms(), deadline = t0 + (int64_t)o->timeout_s * 1000;
    char network[DEVNET_PATH_BYTES];
    sh_dir_network *net = NULL;
    sh_dir_map *m = NULL;
    uint64_t version = 0;
    int rc;

    if ((rc = make_network(s)) != SH_OK || (rc = devnet_state_save(s)) != SH_OK)
        goto done;
    printf("devnet: network file %s/%s (authority on 127.0.0.1:%u)\n", s->dir, DEVNET_NETWORK_FILE,
           s->procs[0].port);
    if ((rc = start_processes(s)) != SH_OK ||
        (rc = sh_fs_join(network, sizeof network, s->dir, DEVNET_NETWORK_FILE)) != SH_OK ||
        (rc = sh_dir_network_load(network, &net)) != SH_OK ||
        (rc = wait_for_map(s, net, deadline, &version)) != SH_OK ||
        (rc = load_authority_map(s, net, &m)) != SH_OK)
        goto done;
    printf("devnet: every node holds map version %llu\n", (unsigned long long)version);
    print_swarms(s, m, stdout);
    printf("devnet: up in %.1f s; network file: %s/%s\n", (double)(sh_time_mono_ms() - t0) / 1000.0,
           s->dir, DEVNET_NETWORK_FILE);
    fflush(stdout);
done:
    sh_dir_map_free(m);
    sh_dir_network_free(net);
    return rc;
}

static int parse_up(int argc, char **argv, up_opts *o)
{
    static const struct option longs[] = {
        {"dir", required_argument, NULL, 'd'},          {"nodes", required_argument, NULL, 'n'},
        {"swarm-target", required_argument, NULL, 't'}, {"timeout", required_argument, NULL, 'T'},
        {"foreground", no_argument, NULL, 'f'},         {"force", no_argument, NULL, 'F'},
        {"set", required_argument, NULL, 's'},          {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    char *end;
    unsigned long v;

    *o = (up_opts){.dir = DEFAULT_DIR, .nodes = DEFAULT_NODES, .swarm_target = DEFAULT_SWARM_TARGET,
                   .timeout_s = DEFAULT_TIMEOUT_S};
    snprintf(o->settings, sizeof o->settings, "%s", DEVNET_NODE_SETTINGS);
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'd': o->dir = optarg; break;
        case 'f': o->foreground = true; break;
        case 'F': o->force = true; break;
        case 'h': usage(stdout); exit(DEVNET_EXIT_OK);
        case 's':
            if (strchr(optarg, '=') == NULL || strchr(optarg, ' ') != NULL ||
                strlen(o->settings) + strlen(optarg) + 2 > sizeof o->settings) {
                fprintf(stderr, "shoal-devnet up: --set takes KEY=VALUE without spaces\n");
                return DEVNET_EXIT_USAGE;
            }
            strcat(o->settings, " "), strcat(o->settings, optarg);
            break;
        case 'n': case 't': case 'T':
            errno = 0;
            v = strtoul(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || v == 0 || (c == 'n' && v > DEVNET_MAX_NODES) ||
                (c == 't' && v > 100) || (c == 'T' && v > 3600)) {
                fprintf(stderr, "shoal-devnet up: bad number '%s' (--nodes 1..%d, --swarm-target "
                        "1..100, --timeout 1..3600)\n", optarg, DEVNET_MAX_NODES);
                return DEVNET_EXIT_USAGE;
            }
            *(c == 'n' ? &o->nodes : c == 't' ? &o->swarm_target : &o->timeout_s) = (unsigned)v;
            break;
        default: usage(stderr); return DEVNET_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "shoal-devnet up: unexpected argument '%s'\n", argv[optind]);
        return DEVNET_EXIT_USAGE;
    }
    return DEVNET_EXIT_OK;
}

static int cmd_up(int argc, char **argv)
{
    devnet_state *s = calloc(1, sizeof *s);
    struct sigaction sa = {.sa_handler = on_interrupt};
    up_opts o;
    int rc, exit_code;

    if (s == NULL)
        return DEVNET_EXIT_ERROR;
    if ((exit_code = parse_up(argc, argv, &o)) != DEVNET_EXIT_OK)
        goto done;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    s->swarm_target = o.swarm_target;
    s->detach = !o.foreground;
    snprintf(s->node_settings, sizeof s->node_settings, "%s", o.settings);
    s->n_procs = o.nodes + 1;
    for (unsigned i = 0; i < s->n_procs; i++)
        s->procs[i] = (devnet_proc){.is_authority = i == 0, .index = i};
    if ((rc = prepare_dir(&o, s)) != SH_OK || (rc = find_program("shoald", s->shoald)) != SH_OK ||
        (rc = find_program("shoal-dir", s->shoal_dir)) != SH_OK) {
        exit_code = fail("up");
        goto done;
    }
    rc = up_run(&o, s);
    if (rc == SH_OK && o.foreground) {
        printf("devnet: running; Ctrl-C stops it\n");
        fflush(stdout);
        while (!interrupted) {
            reap_children();
            devnet_sleep_ms(200);
        }
    }
    if (rc != SH_OK || o.foreground) {
        if (rc != SH_OK)
            exit_code = fail("up");
        char dir[DEVNET_PATH_BYTES];
        memcpy(dir, s->dir, sizeof dir);
        if (devnet_state_load(dir, s) == SH_OK) /* `start` from elsewhere may have added pids */
            (void)stop_all(s);
        (void)devnet_state_save(s);
        printf("devnet: stopped\n");
        if (rc == SH_OK)
            exit_code = DEVNET_EXIT_OK;
        goto done;
    }
    exit_code = DEVNET_EXIT_OK;
done:
    free(s);
    return exit_code;
}

/* ---- down, status, kill, start ------------------------------------------------------------ */

static int parse_dir_cmd(const char *cmd, int argc, char **argv, const char **dir, const char **target)
{
    static const struct option longs[] = {{"dir", required_argument, NULL, 'd'},
                                          {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool wants_target = strcmp(cmd, "kill") == 0 || strcmp(cmd, "start") == 0;
    int c;

    *dir = DEFAULT_DIR;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == 'd') {
            *dir = optarg;
        } else if (c == 'h') {
            usage(stdout);
            exit(DEVNET_EXIT_OK);
        } else {
            usage(stderr);
            return DEVNET_EXIT_USAGE;
        }
    }
    if (wants_target && optind + 1 == argc) {
        *target = argv[optind];
        return DEVNET_EXIT_OK;
    }
    if (!wants_target && optind == argc)
        return DEVNET_EXIT_OK;
    fprintf(stderr, "shoal-devnet %s: %s\nSee 'shoal-devnet --help'.\n", cmd,
            wants_target ? "name one process (auth or n1..nN)" : "unexpected argument");
    return DEVNET_EXIT_USAGE;
}

static void print_status(const devnet_state *s)
{
    char network[DEVNET_PATH_BYTES], name[16];
    sh_dir_network *net = NULL;
    sh_dir_map *m = NULL;

    printf("devnet in %s\n", s->dir);
    for (unsigned i = 0; i < s->n_procs; i++) {
        const devnet_proc *p = &s->procs[i];
        bool alive = devnet_alive(s, p);
        devnet_proc_name(p, name);
        printf("  %-4s 127.0.0.1:%-5u %s", name, p->port, alive ? "running" : "stopped");
        if (alive)
            printf(" (pid %ld)", (long)p->pid);
        if (p->identity[0] != '\0')
            printf(" identity %.16s…", p->identity);
        putchar('\n');
    }
    if (sh_fs_join(network, sizeof network, s->dir, DEVNET_NETWORK_FILE) == SH_OK &&
        sh_dir_network_load(network, &net) == SH_OK && load_authority_map(s, net, &m) == SH_OK) {
        size_t n, n_swarms;
        sh_dir_map_nodes(m, &n);
        sh_dir_map_swarms(m, &n_swarms);
        printf("map version %llu: %zu nodes, %zu swarms\n", (unsigned long long)sh_dir_map_version(m),
               n, n_swarms);
        print_swarms(s, m, stdout);
    } else {
        printf("no valid map published yet\n");
    }
    sh_dir_map_free(m);
    sh_dir_network_free(net);
}

static int cmd_other(const char *cmd, int argc, char **argv)
{
    devnet_state *s = calloc(1, sizeof *s);
    const char *dir = NULL, *target = NULL;
    devnet_proc *p = NULL;
    char name[16];
    int rc = SH_OK, exit_code;

    if (s == NULL)
        return DEVNET_EXIT_ERROR;
    if ((exit_code = parse_dir_cmd(cmd, argc, argv, &dir, &target)) != DEVNET_EXIT_OK)
        goto done;
    if ((rc = devnet_state_load(dir, s)) != SH_OK)
        goto done;
    if (target != NULL && (p = devnet_find(s, target)) == NULL) {
        rc = sh_err_set(SH_ERR_NOT_FOUND, "no process '%s' in this devnet (auth, n1..n%u)", target,
                        s->n_procs - 1);
        goto done;
    }
    if (strcmp(cmd, "status") == 0) {
        print_status(s);
    } else if (strcmp(cmd, "down") == 0) {
        rc = stop_all(s);
        if (devnet_state_save(s) == SH_OK && rc == SH_OK)
            printf("devnet in %s stopped\n", s->dir);
    } else if (strcmp(cmd, "kill") == 0) {
        devnet_proc_name(p, name);
        if (!devnet_alive(s, p)) {
            rc = sh_err_set(SH_ERR_INVALID, "%s is not running", name);
            goto done;
        }
        if ((rc = devnet_stop(s, p, true, 0)) == SH_OK && (rc = devnet_state_save(s)) == SH_OK)
            printf("devnet: %s killed\n", name);
    } else {
        devnet_proc_name(p, name);
        if (devnet_alive(s, p)) {
            rc = sh_err_set(SH_ERR_EXISTS, "%s is already running (pid %ld)", name, (long)p->pid);
            goto done;
        }
        s->detach = true; /* it must outlive this command */
        rc = devnet_start(s, p, START_TIMEOUT_MS);
        if (rc != SH_OK)
            devnet_print_log_tail(s, p, 15);
        if (devnet_state_save(s) == SH_OK && rc == SH_OK)
            printf("devnet: %s listening on 127.0.0.1:%u (pid %ld)\n", name, p->port, (long)p->pid);
    }
done:
    if (exit_code == DEVNET_EXIT_OK && rc != SH_OK)
        exit_code = fail(cmd);
    free(s);
    return exit_code;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return DEVNET_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return DEVNET_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("shoal-devnet %s\n", DEVNET_VERSION);
        return DEVNET_EXIT_OK;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(argv[1], "up") == 0)
        return cmd_up(argc - 1, argv + 1);
    if (strcmp(argv[1], "down") == 0 || strcmp(argv[1], "status") == 0 ||
        strcmp(argv[1], "kill") == 0 || strcmp(argv[1], "start") == 0)
        return cmd_other(argv[1], argc - 1, argv + 1);
    fprintf(stderr, "shoal-devnet: '%s' is not a command. See 'shoal-devnet --help'.\n", argv[1]);
    return DEVNET_EXIT_USAGE;
}
