/* Node test helpers (nodetest.h): shoald as a child process, synchronous calls over a link. */
#include "nodetest.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "dir/dir.h"
#include "node/node.h"
#include "onion/onion.h"
#include "util/fs.h"
#include "util/time.h"
#include "util/encode.h"
#include "util/err.h"

#define READY_TIMEOUT_MS 30000

/* A free port below the kernel's ephemeral range (32768 and up by default), so that a node
 * restarted on it never finds it taken by some other test's outgoing connection, as a port
 * that the kernel picked for a listener (port 0) can be while the node is down. */
static uint16_t pick_port(void)
{
    for (int tries = 0; tries < 1000; tries++) {
        uint16_t port = (uint16_t)(20000 + randombytes_uniform(12000));
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        bool free_now = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;

        if (fd >= 0)
            close(fd);
        if (free_now)
            return port;
    }
    return 0; /* the kernel's choice, then */
}

void nt_node_init(nt_node *n, const char *exe)
{
    memset(n, 0, sizeof *n);
    n->exe = exe;
    n->port = pick_port();
    snprintf(n->dir, sizeof n->dir, "%s", test_tmpdir());
}

static void add_arg(char **argv, int *argc, const char *s)
{
    argv[(*argc)++] = (char *)s;
}

static void child_exec(nt_node *n, int out_fd)
{
    char port[16], *argv[80];
    int argc = 0;

    snprintf(port, sizeof port, "%u", n->port);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test never leaves a node running */
    dup2(out_fd, STDOUT_FILENO);
    if (n->log_file != NULL) {
        int fd = open(n->log_file, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0)
            dup2(fd, STDERR_FILENO);
    }
    add_arg(argv, &argc, n->exe);
    add_arg(argv, &argc, "--data-dir");
    add_arg(argv, &argc, n->dir);
    add_arg(argv, &argc, "--port");
    add_arg(argv, &argc, port);
    add_arg(argv, &argc, "--log-level");
    add_arg(argv, &argc, getenv("SHOAL_NODE_LOG") ? getenv("SHOAL_NODE_LOG") : "warn");
    for (int i = 0; n->settings[i] != NULL; i++) {
        add_arg(argv, &argc, "--set");
        add_arg(argv, &argc, n->settings[i]);
    }
    argv[argc] = NULL;
    execv(n->exe, argv);
    fprintf(stderr, "cannot run %s: %s\n", n->exe, strerror(errno));
    _exit(127);
}

/* Reads the child's standard output until its ready line. */
static void read_ready(nt_node *n, int fd)
{
    char buf[1024], link[65], id[65];
    size_t len = 0;
    unsigned port;

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t got;
        char *nl;

        if (poll(&p, 1, READY_TIMEOUT_MS) <= 0)
            test_fail(__FILE__, __LINE__, "shoald printed no ready line in time");
        got = read(fd, buf + len, sizeof buf - 1 - len);
        if (got <= 0)
            test_fail(__FILE__, __LINE__, "shoald exited before it was ready");
        len += (size_t)got;
        buf[len] = '\0';
        if ((nl = strchr(buf, '\n')) == NULL)
            continue;
        *nl = '\0';
        if (sscanf(buf, "shoald ready port=%u link_key=%64s identity_key=%64s", &port, link, id) != 3)
            test_fail(__FILE__, __LINE__, "unexpected line from shoald: %s", buf);
        n->port = (uint16_t)port;
        CHECK_OK(sh_hex_decode(n->link_key, 32, link));
        CHECK_OK(sh_hex_decode(n->identity_key, 32, id));
        return;
    }
}

/* Nodes still running when a test fails (test_fail exits) are killed on the way out. */
static nt_node *running[32];

static void kill_running(void)
{
    for (size_t i = 0; i < sizeof running / sizeof running[0]; i++)
        if (running[i] != NULL && running[i]->pid > 0)
            kill(running[i]->pid, SIGKILL);
}

static void track(nt_node *n, bool on)
{
    static bool registered;

    if (!registered) {
        atexit(kill_running);
        registered = true;
    }
    for (size_t i = 0; i < sizeof running / sizeof running[0]; i++)
        if (on ? running[i] == NULL : running[i] == n) {
            running[i] = on ? n : NULL;
            return;
        }
}

void nt_node_start(nt_node *n)
{
    int fds[2];

    CHECK(pipe(fds) == 0);
    fflush(stdout);
    fflush(stderr);
    n->pid = fork();
    CHECK(n->pid >= 0);
    if (n->pid == 0) {
        close(fds[0]);
        child_exec(n, fds[1]);
    }
    close(fds[1]);
    track(n, true);
    read_ready(n, fds[0]);
    close(fds[0]); /* shoald prints nothing more to stdout */
}

int nt_node_stop(nt_node *n, int sig)
{
    int status = 0;

    if (n->pid <= 0)
        return -1;
    kill(n->pid, sig);
    while (waitpid(n->pid, &status, 0) < 0 && errno == EINTR)
        ;
    n->pid = 0;
    track(n, false);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

const char *nt_node_db(const nt_node *n)
{
    static char path[512];

    snprintf(path, sizeof path, "%s/%s", n->dir, SH_NODE_DB_FILE);
    return path;
}

void nt_client_open(nt_client *c, const nt_node *n)
{
    CHECK(uv_loop_init(&c->loop) == 0);
    CHECK_OK(sh_net_new(&c->loop, NULL, &c->net));
    CHECK_OK(sh_node_conn_new(c->net, "127.0.0.1", n->port, n->link_key, NULL, &c->conn));
}

void nt_client_close(nt_client *c)
{
    sh_node_conn_free(c->conn);
    sh_net_close(c->net, NULL, NULL);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&c->loop) == 0);
}

void nt_run_once(nt_client *c)
{
    uv_run(&c->loop, UV_RUN_NOWAIT);
}

void nt_wait_polls(nt_client *c, const nt_node *n, double waiting)
{
    for (int i = 0; i < 1000; i++) {
        char *t;
        double v;

        nt_run_once(c);
        t = nt_stats(n);
        v = nt_metric(t, "shoal_node_long_polls_waiting");
        free(t);
        if (v == waiting)
            return;
    }
    test_fail(__FILE__, __LINE__, "the node never had %.0f long-polls waiting", waiting);
}

/* ---- synchronous calls ------------------------------------------------------------------------- */

typedef struct waiter {
    bool done;
    int status;
    char message[SH_RPC_MAX_ERROR_MESSAGE_BYTES + 1];
    void *out;
} waiter;

static void note(waiter *w, int status, const char *message)
{
    w->done = true;
    w->status = status;
    snprintf(w->message, sizeof w->message, "%s", message ? message : "");
}

static int finish(nt_client *c, waiter *w, int rc)
{
    if (rc != SH_OK)
        return rc;
    while (!w->done)
        uv_run(&c->loop, UV_RUN_ONCE);
    if (w->status != SH_OK)
        return sh_err_set(w->status, "%s", w->message);
    sh_err_clear();
    return SH_OK;
}

static void stored_cb(int status, const char *message, const sh_node_stored *r, void *ctx)
{
    waiter *w = ctx;

    note(w, status, message);
    if (r != NULL && w->out != NULL)
        *(sh_node_stored *)w->out = *r;
}

int nt_store(nt_client *c, const sh_node_request *r, const sh_node_signer *s, sh_node_stored *out)
{
    waiter w = {.out = out};

    return finish(c, &w, sh_node_conn_store(c->conn, r, s, stored_cb, &w));
}

static void copy_page(nt_page *dst, const sh_node_page *src)
{
    size_t off = 0;

    memset(dst, 0, sizeof *dst);
    sh_buf_init(&dst->arena);
    CHECK(src->count <= SH_STORE_PAGE_MAX_COUNT);
    for (size_t i = 0; i < src->count; i++)
        CHECK_OK(sh_buf_append(&dst->arena, src->msgs[i].data, src->msgs[i].data_len));
    for (size_t i = 0; i < src->count; i++) {
        dst->msgs[i] = src->msgs[i];
        dst->msgs[i].data = dst->arena.data + off;
        off += src->msgs[i].data_len;
    }
    dst->count = src->count;
    dst->next = src->next;
    dst->more = src->more;
}

void nt_page_free(nt_page *p)
{
    sh_buf_free(&p->arena);
    p->count = 0;
}

static void page_cb(int status, const char *message, sh_node_page *page, void *ctx)
{
    waiter *w = ctx;

    note(w, status, message);
    if (page != NULL && w->out != NULL)
        copy_page(w->out, page);
}

int nt_retrieve(nt_client *c, const sh_node_request *r, const sh_node_signer *s, nt_page *out)
{
    waiter w = {.out = out};

    if (out != NULL)
        memset(out, 0, sizeof *out);
    return finish(c, &w, sh_node_conn_retrieve(c->conn, r, s, page_cb, &w));
}

static void poll_cb(int status, const char *message, sh_node_page *page, void *ctx)
{
    nt_poll *p = ctx;

    p->done = true;
    p->status = status;
    if (status != SH_OK)
        sh_err_set(status, "%s", message ? message : "");
    if (page != NULL)
        copy_page(&p->page, page);
}

void nt_poll_start(nt_client *c, const sh_node_request *r, const sh_node_signer *s, nt_poll *p)
{
    memset(p, 0, sizeof *p);
    CHECK_OK(sh_node_conn_retrieve(c->conn, r, s, poll_cb, p));
}

void nt_poll_wait(nt_client *c, nt_poll *p)
{
    while (!p->done)
        uv_run(&c->loop, UV_RUN_ONCE);
}

static void changed_cb(int status, const char *message, const sh_node_changed *r, void *ctx)
{
    waiter *w = ctx;
    sh_node_changed *out = w->out;

    note(w, status, message);
    if (r == NULL || out == NULL)
        return;
    *out = *r;
    out->deleted = NULL;
    out->expiries = NULL;
    if (r->deleted != NULL) {
        out->deleted = malloc(r->n * sizeof *out->deleted);
        memcpy(out->deleted, r->deleted, r->n * sizeof *out->deleted);
    }
    if (r->expiries != NULL) {
        out->expiries = malloc(r->n * sizeof *out->expiries);
        memcpy(out->expiries, r->expiries, r->n * sizeof *out->expiries);
    }
}

int nt_change(nt_client *c, const sh_node_request *r, const sh_node_signer *s, sh_node_changed *out)
{
    waiter w = {.out = out};

    return finish(c, &w, sh_node_conn_change(c->conn, r, s, changed_cb, &w));
}

static void info_cb(int status, const char *message, const sh_node_info *info, void *ctx)
{
    waiter *w = ctx;

    note(w, status, message);
    if (info != NULL && w->out != NULL)
        *(sh_node_info *)w->out = *info;
}

int nt_info(nt_client *c, sh_node_info *out)
{
    waiter w = {.out = out};

    return finish(c, &w, sh_node_conn_info(c->conn, info_cb, &w));
}

static void raw_cb(int status, const char *message, const uint8_t *body, size_t len, void *ctx)
{
    waiter *w = ctx;

    note(w, status, message);
    if (w->out != NULL && body != NULL)
        CHECK_OK(sh_buf_append(w->out, body, len));
}

int nt_raw(nt_client *c, const char *method, const uint8_t *body, size_t len, sh_buf *answer)
{
    waiter w = {.out = answer};

    return finish(c, &w, sh_node_conn_call_raw(c->conn, method, body, len, raw_cb, &w));
}

int nt_get_receipts(nt_client *c, const uint8_t hash[static 32],
                    sh_node_receipt rs[static SH_NODE_MAX_RECEIPTS], size_t *count)
{
    uint8_t body[34] = {0x0a, 32}; /* GetReceiptsRequest: field 1, 32 bytes */
    sh_buf ans;
    int rc;

    *count = 0;
    memcpy(body + 2, hash, 32);
    sh_buf_init(&ans);
    if ((rc = nt_raw(c, "get_receipts", body, sizeof body, &ans)) == SH_OK)
        CHECK_OK(sh_node_receipts_parse(ans.data, ans.len, false, rs, SH_NODE_MAX_RECEIPTS, count));
    sh_buf_free(&ans);
    return rc;
}

/* ---- templates ---------------------------------------------------------------------------------- */

sh_node_request nt_req_store(const uint8_t owner[static 33], int16_t ns, const void *data,
                             size_t len, int64_t ttl_ms)
{
    sh_node_request r = {.method = SH_NODE_STORE, .ns = ns, .data = data, .data_len = len,
                         .ttl_ms = ttl_ms};

    memcpy(r.owner, owner, 33);
    return r;
}

sh_node_request nt_req_retrieve(const uint8_t owner[static 33], int16_t ns)
{
    sh_node_request r = {.method = SH_NODE_RETRIEVE, .ns = ns, .max_count = 100,
                         .max_bytes = SH_STORE_PAGE_MAX_BYTES};

    memcpy(r.owner, owner, 33);
    return r;
}

sh_account *nt_account(uint8_t seed_byte, uint8_t owner[static 33])
{
    uint8_t seed[SH_SEED_BYTES];
    sh_account *a;

    memset(seed, seed_byte, sizeof seed);
    CHECK_OK(sh_account_from_seed(&a, seed));
    sh_account_session_id(a, owner);
    return a;
}

/* ---- metrics ------------------------------------------------------------------------------------ */

double nt_metric(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);

    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, prefix, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    return -1;
}

typedef struct stats_wait {
    bool done;
    char *text;
} stats_wait;

static void stats_cb(int status, const char *message, const char *text, void *ctx)
{
    stats_wait *w = ctx;

    if (status != SH_OK)
        test_fail(__FILE__, __LINE__, "stats failed: %s: %s", sh_err_name(status), message);
    w->text = strdup(text);
    w->done = true;
}

char *nt_stats(const nt_node *n)
{
    char path[512];
    sh_node_keys *k;
    sh_net_peer_opts opts = {0};
    stats_wait w = {0};
    nt_client c;
    bool created;

    snprintf(path, sizeof path, "%s/%s", n->dir, SH_NODE_KEY_FILE);
    CHECK_OK(sh_node_keys_load(path, false, &k, &created));
    opts.local_static_sk = k->link_sk;
    CHECK(uv_loop_init(&c.loop) == 0);
    CHECK_OK(sh_net_new(&c.loop, NULL, &c.net));
    CHECK_OK(sh_node_conn_new(c.net, "127.0.0.1", n->port, n->link_key, &opts, &c.conn));
    CHECK_OK(sh_node_conn_stats(c.conn, stats_cb, &w));
    while (!w.done)
        uv_run(&c.loop, UV_RUN_ONCE);
    nt_client_close(&c);
    sh_node_keys_free(k);
    return w.text;
}

/* ---- a static onion network ------------------------------------------------------------- */

static void onion_key(sh_dir_onion_key *k, const sh_onion_keyring *kr, sh_onion_slot slot,
                      const sh_onion_epochs *ep, const uint8_t *identity_sk)
{
    CHECK_OK(sh_onion_keyring_public(kr, slot, &k->epoch, k->public_key));
    sh_onion_epoch_window(ep, k->epoch, &k->valid_after_ms, &k->valid_until_ms);
    CHECK_OK(sh_dir_onion_key_sign(k, identity_sk));
}

void nt_describe_node(const nt_node *n, sh_dir_node *d)
{
    sh_onion_epochs ep = {SH_NODE_DEFAULT_ONION_EPOCH_MS, SH_NODE_DEFAULT_ONION_OVERLAP_MS};
    char path[512];
    sh_onion_keyring *kr;
    sh_node_keys *keys;
    bool created;

    snprintf(path, sizeof path, "%s/%s", n->dir, SH_NODE_KEY_FILE);
    CHECK_OK(sh_node_keys_load(path, false, &keys, &created));
    snprintf(path, sizeof path, "%s/%s", n->dir, SH_NODE_ONION_KEYS_FILE);
    CHECK_OK(sh_onion_keyring_load(&ep, path, &kr));
    memset(d, 0, sizeof *d);
    memcpy(d->identity, keys->ed25519_pk, 32);
    memcpy(d->link_key, keys->link_pk, 32);
    onion_key(&d->onion_current, kr, SH_ONION_SLOT_CURRENT, &ep, keys->ed25519_sk);
    onion_key(&d->onion_next, kr, SH_ONION_SLOT_NEXT, &ep, keys->ed25519_sk);
    snprintf(d->address, sizeof d->address, "127.0.0.1:%u", n->port);
    strcpy(d->version, SH_NODE_VERSION);
    d->flags = SH_DIR_FLAG_GUARD;
    sh_onion_keyring_free(kr);
    sh_node_keys_free(keys);
}

void nt_onion_map(const nt_node *nodes, size_t n, const char *name, int64_t ttl_ms,
                  const char *map_path, const char *network_path, sh_onion_node **onodes,
                  size_t *n_onodes)
{
    uint8_t auth_pk[32], auth_sk[64];
    sh_dir_authority a = {0};
    sh_dir_swarm_params sp = {.target = 1, .min = 1, .merge_grace_ms = ttl_ms};
    sh_dir_node *d = calloc(n, sizeof *d);
    sh_dir_network *net;
    sh_dir_vote *vote;
    sh_dir_map *map;
    sh_buf b;
    int64_t now = sh_time_now_ms();

    crypto_sign_keypair(auth_pk, auth_sk);
    memcpy(a.identity, auth_pk, 32);
    randombytes_buf(a.link_key, 32);
    strcpy(a.address, "127.0.0.1:1");
    CHECK(d != NULL);
    CHECK_OK(sh_dir_network_new(name, 1, &a, 1, &sp, &net));
    for (size_t i = 0; i < n; i++)
        nt_describe_node(&nodes[i], &d[i]);
    sh_buf_init(&b);
    CHECK_OK(sh_dir_vote_create(net, NULL, auth_sk, now - 60000, now + ttl_ms, d, n, &b));
    CHECK_OK(sh_dir_vote_load(b.data, b.len, net, NULL, &vote));
    CHECK_OK(sh_dir_consensus(net, NULL, (const sh_dir_vote *const *)&vote, 1, &map));
    CHECK_OK(sh_dir_map_sign(map, net, auth_sk));
    CHECK_OK(sh_dir_map_encode(map, &b));
    CHECK_OK(sh_fs_write_file(map_path, b.data, b.len, 0600));
    CHECK_OK(sh_dir_network_format(net, &b));
    CHECK_OK(sh_fs_write_file(network_path, b.data, b.len, 0600));
    sh_dir_map_free(map);
    CHECK_OK(sh_fs_read_file(map_path, SH_DIR_MAP_MAX_BYTES, &b)); /* the client's view */
    CHECK_OK(sh_dir_map_load(b.data, b.len, net, 0, now, &map));
    CHECK_OK(sh_onion_nodes_from_map(map, onodes, n_onodes));
    CHECK_EQ(*n_onodes, n);
    sh_dir_map_free(map);
    sh_dir_vote_free(vote);
    sh_dir_network_free(net);
    sh_buf_free(&b);
    free(d);
}
