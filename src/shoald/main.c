/* shoald: the service node program (docs/node.md "Operating shoald"). Reads the configuration
 * (file, then flags), loads or creates the node's keys, starts the node on a libuv loop, prints
 * one machine-readable ready line, and stops gracefully on SIGTERM or SIGINT. Commands: run (the
 * default), `keygen`, `stats`. Everything else is in libshoal's node module. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "node/node.h"
#include "util/encode.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/log.h"

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2 };

#define STATS_DEADLINE_MS 3000 /* `shoald stats` gives up on a node that does not answer */

static void usage(FILE *out)
{
    fputs("usage: shoald [options]            run the service node\n"
          "       shoald keygen [options]     make the key file (if missing) and print its public keys\n"
          "       shoald stats [options]      print the running node's metrics (Prometheus text)\n"
          "       shoald --version | --help\n\n"
          "Options (each is also a `key = value` setting of the configuration file):\n"
          "  -c, --config FILE     read settings from FILE first\n"
          "  --listen ADDR         numeric IPv4 or IPv6 address to listen on (default 127.0.0.1)\n"
          "  --port N              TCP port (default 4433; 0 picks a free one)\n"
          "  --data-dir DIR        message store and keys (default $XDG_DATA_HOME/shoald or\n"
          "                        ~/.local/share/shoald)\n"
          "  --key-file FILE       node keys (default DIR/node.key; made 0600 on first run)\n"
          "  --log-level LEVEL     error, warn, info (default), debug or trace\n"
          "  --network FILE        join the network of this network file (docs/network-file.md)\n"
          "  --advertise ADDR:PORT the address other nodes and clients reach it at (default:\n"
          "                        the listen address and port)\n"
          "  --set KEY=VALUE       any other setting (docs/node.md lists them)\n"
          "  --force               keygen: replace an existing key file\n\n"
          "When the node listens it prints one line to standard output:\n"
          "  shoald ready port=N link_key=HEX identity_key=HEX version=V\n",
          out);
}

typedef struct args {
    const char *command; /* "run", "keygen", "stats" */
    bool force;
    sh_node_config cfg;
} args;

static int default_data_dir(sh_node_config *cfg)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");

    if (cfg->data_dir[0] != '\0')
        return SH_OK;
    if (xdg != NULL && xdg[0] == '/')
        return sh_fs_join(cfg->data_dir, sizeof cfg->data_dir, xdg, "shoald");
    if (home != NULL && home[0] != '\0')
        return sh_fs_join(cfg->data_dir, sizeof cfg->data_dir, home, ".local/share/shoald");
    return sh_err_set(SH_ERR_INVALID, "no data folder: give --data-dir, or set XDG_DATA_HOME or HOME");
}

/* A flag's value: "--flag VALUE" or "--flag=VALUE". */
static const char *flag_value(int argc, char **argv, int *i, const char *flag)
{
    size_t n = strlen(flag);

    if (strncmp(argv[*i], flag, n) == 0 && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (strcmp(argv[*i], flag) != 0)
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "shoald: %s needs a value. See 'shoald --help'.\n", flag);
        exit(EXIT_USAGE);
    }
    return argv[++*i];
}

static int set_or_die(sh_node_config *cfg, const char *key, const char *value)
{
    if (sh_node_config_set(cfg, key, value) != SH_OK) {
        fprintf(stderr, "shoald: %s\n", sh_err_msg());
        exit(EXIT_USAGE);
    }
    return SH_OK;
}

/* The configuration file goes first, so flags override it wherever they stand. */
static void read_config_file(int argc, char **argv, sh_node_config *cfg)
{
    for (int i = 1; i < argc; i++) {
        const char *v = flag_value(argc, argv, &i, "--config");
        if (v == NULL && strcmp(argv[i], "-c") == 0)
            v = flag_value(argc, argv, &i, "-c");
        if (v != NULL && sh_node_config_load(cfg, v) != SH_OK) {
            fprintf(stderr, "shoald: %s\n", sh_err_msg());
            exit(EXIT_USAGE);
        }
    }
}

static int parse_args(int argc, char **argv, args *a)
{
    static const char *const direct[] = {"--listen", "--port", "--data-dir", "--key-file",
                                         "--log-level", "--network", "--advertise"};

    memset(a, 0, sizeof *a);
    a->command = "run";
    sh_node_config_default(&a->cfg);
    read_config_file(argc, argv, &a->cfg);
    for (int i = 1; i < argc; i++) {
        const char *v;
        bool done = false;

        if (strcmp(argv[i], "--version") == 0) {
            printf("shoald %s\n", SH_NODE_VERSION);
            exit(EXIT_OK);
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(EXIT_OK);
        }
        if (strcmp(argv[i], "--force") == 0)
            a->force = done = true;
        if (!done && (flag_value(argc, argv, &i, "--config") != NULL ||
                      (strcmp(argv[i], "-c") == 0 && flag_value(argc, argv, &i, "-c") != NULL)))
            done = true;
        for (size_t k = 0; !done && k < sizeof direct / sizeof direct[0]; k++)
            if ((v = flag_value(argc, argv, &i, direct[k])) != NULL)
                done = set_or_die(&a->cfg, direct[k] + 2, v) == SH_OK;
        if (!done && (v = flag_value(argc, argv, &i, "--set")) != NULL) {
            char key[64];
            const char *eq = strchr(v, '=');
            if (eq == NULL || (size_t)(eq - v) >= sizeof key) {
                fprintf(stderr, "shoald: --set needs KEY=VALUE, not '%s'\n", v);
                return EXIT_USAGE;
            }
            memcpy(key, v, (size_t)(eq - v));
            key[eq - v] = '\0';
            done = set_or_die(&a->cfg, key, eq + 1) == SH_OK;
        }
        if (!done && i == 1 && (strcmp(argv[i], "keygen") == 0 || strcmp(argv[i], "stats") == 0 ||
                                strcmp(argv[i], "run") == 0))
            a->command = argv[i], done = true;
        if (!done) {
            fprintf(stderr, "shoald: unknown argument '%s'. See 'shoald --help'.\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (a->cfg.pow_max_bits < a->cfg.pow_bits) {
        fprintf(stderr, "shoald: pow_max_bits is below pow_bits\n");
        return EXIT_USAGE;
    }
    return -1;
}

static int fail(const char *what)
{
    fprintf(stderr, "shoald: %s: %s\n", what, sh_err_msg());
    return EXIT_ERROR;
}

static void print_keys(const char *prefix, uint16_t port, bool with_port, const sh_node_keys *k)
{
    char link[65], id[65];

    sh_hex_encode(link, sizeof link, k->link_pk, 32);
    sh_hex_encode(id, sizeof id, k->ed25519_pk, 32);
    if (with_port)
        printf("%s port=%u link_key=%s identity_key=%s version=%s\n", prefix, port, link, id,
               SH_NODE_VERSION);
    else
        printf("%s link_key=%s identity_key=%s\n", prefix, link, id);
    fflush(stdout);
}

static int cmd_keygen(args *a)
{
    char path[SH_NODE_PATH_BYTES];
    sh_node_keys *k;
    bool created;
    sh_buf text;
    int rc;

    if (sh_node_config_key_path(&a->cfg, path) != SH_OK)
        return fail("keygen");
    if (a->force && sh_fs_exists(path)) {
        sh_buf_init_secret(&text);
        if ((rc = sh_node_keys_generate(&k)) == SH_OK &&
            (rc = sh_node_keys_encode(k, &text)) == SH_OK)
            rc = sh_fs_write_file(path, text.data, text.len, 0600);
        sh_buf_free(&text);
        created = true;
    } else {
        char dir[SH_NODE_PATH_BYTES];
        snprintf(dir, sizeof dir, "%s", path);
        if (strrchr(dir, '/') != NULL)
            *strrchr(dir, '/') = '\0', (void)sh_fs_mkdir_p(dir, 0700);
        rc = sh_node_keys_load(path, true, &k, &created);
    }
    if (rc != SH_OK)
        return fail("keygen");
    fprintf(stderr, "shoald: %s %s\n", created ? "wrote new keys to" : "keys already in", path);
    print_keys("shoald keys", 0, false, k);
    sh_node_keys_free(k);
    return EXIT_OK;
}

/* ---- run ------------------------------------------------------------------------------------ */

typedef struct runner {
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    sh_node *node;
    bool stopping;
} runner;

static void node_stopped(void *ctx)
{
    runner *r = ctx;

    uv_close((uv_handle_t *)&r->sigterm, NULL);
    uv_close((uv_handle_t *)&r->sigint, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    runner *r = s->data;

    if (r->stopping) {
        sh_log_warn("shoald", "signal %d: already stopping", signum);
        return;
    }
    r->stopping = true;
    sh_log_info("shoald", "signal %d: stopping", signum);
    sh_node_shutdown(r->node, node_stopped, r);
}

static int cmd_run(args *a)
{
    char path[SH_NODE_PATH_BYTES];
    sh_node_keys *k;
    runner r = {0};
    bool created;
    int rc;

    if (sh_fs_mkdir_p(a->cfg.data_dir, 0700) != SH_OK || sh_node_config_key_path(&a->cfg, path) != SH_OK)
        return fail("data folder");
    if (sh_node_keys_load(path, true, &k, &created) != SH_OK)
        return fail("keys");
    if (created)
        sh_log_info("shoald", "made new node keys in %s", path);
    uv_loop_init(&r.loop);
    signal(SIGPIPE, SIG_IGN);
    rc = sh_node_start(&r.loop, &a->cfg, k, &r.node);
    if (rc != SH_OK) {
        sh_node_keys_free(k);
        rc = fail("starting");
        uv_run(&r.loop, UV_RUN_DEFAULT);
        uv_loop_close(&r.loop);
        return rc;
    }
    uv_signal_init(&r.loop, &r.sigterm);
    uv_signal_init(&r.loop, &r.sigint);
    r.sigterm.data = r.sigint.data = &r;
    uv_signal_start(&r.sigterm, on_signal, SIGTERM);
    uv_signal_start(&r.sigint, on_signal, SIGINT);
    sh_log_info("shoald", "listening on %s port %u, data in %s", a->cfg.listen,
                sh_node_port(r.node), a->cfg.data_dir);
    print_keys("shoald ready", sh_node_port(r.node), true, k);
    sh_node_keys_free(k);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&r.loop);
    if (rc != 0)
        sh_log_warn("shoald", "the loop closed with handles open: %s", uv_strerror(rc));
    return EXIT_OK;
}

/* ---- stats ---------------------------------------------------------------------------------- */

typedef struct stats_call {
    int status;
    bool done;
} stats_call;

static void stats_cb(int status, const char *message, const char *text, void *ctx)
{
    stats_call *c = ctx;

    c->status = status;
    c->done = true;
    if (status == SH_OK)
        fputs(text, stdout);
    else
        fprintf(stderr, "shoald: stats: %s (%s)\n", message ? message : "", sh_err_name(status));
}

/* Connects to the node on its configured address with the node's own link key, which the node
 * accepts for its `stats` method. */
static int cmd_stats(args *a)
{
    char path[SH_NODE_PATH_BYTES];
    const char *addr = a->cfg.listen;
    sh_net_peer_opts opts = {0};
    stats_call call = {0};
    sh_node_conn *conn = NULL;
    sh_node_keys *k;
    uv_loop_t loop;
    sh_net *net = NULL;
    bool created;

    if (sh_node_config_key_path(&a->cfg, path) != SH_OK || sh_node_keys_load(path, false, &k, &created) != SH_OK)
        return fail("stats");
    if (strcmp(addr, "0.0.0.0") == 0)
        addr = "127.0.0.1";
    else if (strcmp(addr, "::") == 0)
        addr = "::1";
    uv_loop_init(&loop);
    opts.local_static_sk = k->link_sk;
    if (sh_net_new(&loop, NULL, &net) != SH_OK ||
        sh_node_conn_new(net, addr, a->cfg.port, k->link_pk, &opts, &conn) != SH_OK) {
        call.status = fail("stats"), call.done = true;
    } else {
        sh_node_conn_set_deadline(conn, STATS_DEADLINE_MS);
        if (sh_node_conn_stats(conn, stats_cb, &call) != SH_OK)
            call.status = fail("stats"), call.done = true;
    }
    while (!call.done)
        uv_run(&loop, UV_RUN_ONCE);
    sh_node_conn_free(conn);
    if (net != NULL)
        sh_net_close(net, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    sh_node_keys_free(k);
    return call.status == SH_OK ? EXIT_OK : EXIT_ERROR;
}

int main(int argc, char **argv)
{
    args a;
    int rc = parse_args(argc, argv, &a);

    if (rc >= 0)
        return rc;
    sh_log_set_ident("shoald");
    sh_log_set_level(a.cfg.log_level);
    if (default_data_dir(&a.cfg) != SH_OK)
        return fail("configuration");
    if (strcmp(a.command, "keygen") == 0)
        return cmd_keygen(&a);
    if (strcmp(a.command, "stats") == 0)
        return cmd_stats(&a);
    return cmd_run(&a);
}
