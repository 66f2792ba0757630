/* shoal-devnet's processes: the state file naming them, starting one with its output in a log
 * file and waiting for its ready line, telling whether it still runs, and stopping it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "devnet.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/time.h"

#define STATE_MAGIC "shoal-devnet-state 1"
#define READY_POLL_MS 20

void devnet_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void devnet_proc_name(const devnet_proc *p, char out[static 16])
{
    if (p->is_authority)
        snprintf(out, 16, "auth");
    else
        snprintf(out, 16, "n%u", p->index);
}

devnet_proc *devnet_find(devnet_state *s, const char *name)
{
    char *end;
    unsigned long n;

    if (strcmp(name, "auth") == 0 || strcmp(name, "authority") == 0)
        return &s->procs[0];
    if (name[0] == 'n')
        name++;
    if (name[0] < '0' || name[0] > '9')
        return NULL;
    n = strtoul(name, &end, 10);
    if (*end != '\0' || n == 0 || n >= s->n_procs)
        return NULL;
    return &s->procs[n];
}

int devnet_proc_dir(const devnet_state *s, const devnet_proc *p, char out[static DEVNET_PATH_BYTES])
{
    char name[16];

    devnet_proc_name(p, name);
    return sh_fs_join(out, DEVNET_PATH_BYTES, s->dir, name);
}

int devnet_proc_log(const devnet_state *s, const devnet_proc *p, char out[static DEVNET_PATH_BYTES])
{
    char dir[DEVNET_PATH_BYTES];
    int rc = devnet_proc_dir(s, p, dir);

    return rc != SH_OK ? rc : sh_fs_join(out, DEVNET_PATH_BYTES, dir, "log");
}

/* ---- state file --------------------------------------------------------------------------- */

int devnet_state_save(const devnet_state *s)
{
    char path[DEVNET_PATH_BYTES], *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int rc;

    if (f == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory writing the devnet state");
    fprintf(f, "%s\nshoald %s\nshoal-dir %s\nswarm-target %u\ndetach %d\nnode-settings %s\n",
            STATE_MAGIC, s->shoald, s->shoal_dir, s->swarm_target, s->detach ? 1 : 0,
            s->node_settings);
    for (unsigned i = 0; i < s->n_procs; i++) {
        const devnet_proc *p = &s->procs[i];
        fprintf(f, "proc %u %ld %u %s\n", p->index, (long)p->pid, p->port,
                p->identity[0] != '\0' ? p->identity : "-");
    }
    fclose(f);
    rc = sh_fs_join(path, sizeof path, s->dir, DEVNET_STATE_FILE);
    if (rc == SH_OK)
        rc = sh_fs_write_file(path, text, len, 0644);
    free(text);
    return rc;
}

static void chomp(char *line)
{
    size_t n = strlen(line);

    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
}

static int copy_value(char *dst, size_t size, const char *v, const char *key)
{
    if (strlen(v) >= size)
        return sh_err_set(SH_ERR_LIMIT, "devnet state: %s is too long", key);
    strcpy(dst, v);
    return SH_OK;
}

static int parse_proc(devnet_state *s, const char *v)
{
    unsigned index, port;
    long pid;
    char ident[80];
    devnet_proc *p;

    if (sscanf(v, "%u %ld %u %79s", &index, &pid, &port, ident) != 4 || index != s->n_procs ||
        index > DEVNET_MAX_NODES || pid < 0 || port > 65535 || strlen(ident) > 64)
        return sh_err_set(SH_ERR_FORMAT, "devnet state: bad process line '%s'", v);
    p = &s->procs[s->n_procs++];
    memset(p, 0, sizeof *p);
    p->is_authority = index == 0;
    p->index = index;
    p->pid = (pid_t)pid;
    p->port = (uint16_t)port;
    if (strcmp(ident, "-") != 0)
        strcpy(p->identity, ident);
    return SH_OK;
}

static int parse_state_line(devnet_state *s, char *line)
{
    char *v = strchr(line, ' ');

    if (v == NULL)
        return strcmp(line, "node-settings") == 0 ? SH_OK
                                                   : sh_err_set(SH_ERR_FORMAT, "devnet state: bad line '%s'", line);
    *v++ = '\0';
    if (strcmp(line, "shoald") == 0)
        return copy_value(s->shoald, sizeof s->shoald, v, line);
    if (strcmp(line, "shoal-dir") == 0)
        return copy_value(s->shoal_dir, sizeof s->shoal_dir, v, line);
    if (strcmp(line, "node-settings") == 0)
        return copy_value(s->node_settings, sizeof s->node_settings, v, line);
    if (strcmp(line, "swarm-target") == 0)
        return sscanf(v, "%u", &s->swarm_target) == 1 ? SH_OK
                                                        : sh_err_set(SH_ERR_FORMAT, "devnet state: bad swarm-target");
    if (strcmp(line, "detach") == 0) {
        s->detach = strcmp(v, "1") == 0;
        return SH_OK;
    }
    if (strcmp(line, "proc") == 0)
        return parse_proc(s, v);
    return sh_err_set(SH_ERR_FORMAT, "devnet state: unknown line '%s'", line);
}

int devnet_state_load(const char *dir, devnet_state *s)
{
    char path[DEVNET_PATH_BYTES], line[4096];
    FILE *f = NULL;
    int rc;

    memset(s, 0, sizeof *s);
    if ((rc = copy_value(s->dir, sizeof s->dir, dir, "the folder")) != SH_OK ||
        (rc = sh_fs_join(path, sizeof path, dir, DEVNET_STATE_FILE)) != SH_OK)
        return rc;
    f = fopen(path, "r");
    if (f == NULL)
        return errno == ENOENT ? sh_err_set(SH_ERR_NOT_FOUND, "no devnet in %s (start one with "
                                            "'shoal-devnet up --dir %s')", dir, dir)
                               : sh_err_set(SH_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    if (fgets(line, sizeof line, f) == NULL || (chomp(line), strcmp(line, STATE_MAGIC) != 0)) {
        rc = sh_err_set(SH_ERR_FORMAT, "%s is not a devnet state file", path);
        goto done;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        chomp(line);
        if ((rc = parse_state_line(s, line)) != SH_OK)
            goto done;
    }
    rc = s->n_procs >= 1 ? SH_OK : sh_err_set(SH_ERR_FORMAT, "%s names no processes", path);
done:
    fclose(f);
    return rc;
}

/* ---- processes ---------------------------------------------------------------------------- */

static bool cmdline_names_dir(pid_t pid, const char *dir)
{
    char path[64], buf[8192];
    ssize_t n;
    int fd;
    bool found = false;

    snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = '\n';
    buf[n] = '\0';
    found = strstr(buf, dir) != NULL;
    return found;
}

static bool is_zombie(pid_t pid)
{
    char path[64], buf[512], *close_paren;
    ssize_t n;
    int fd;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return true;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return true;
    buf[n] = '\0';
    close_paren = strrchr(buf, ')');
    return close_paren == NULL || close_paren[1] == '\0' || close_paren[2] == 'Z';
}

bool devnet_alive(const devnet_state *s, const devnet_proc *p)
{
    if (p->pid <= 0)
        return false;
    (void)waitpid(p->pid, NULL, WNOHANG); /* reap it if it is our child and has ended */
    if (kill(p->pid, 0) != 0)
        return false;
    return !is_zombie(p->pid) && cmdline_names_dir(p->pid, s->dir);
}

/* Ports are taken below the kernel's ephemeral range (32768 and up by default): a node that
 * `kill` stopped must find its port free again at `start`, and an ephemeral port may meanwhile
 * be the source port of some outgoing connection. */
int devnet_free_port(uint16_t *port)
{
    int last = 0;

    for (int tries = 0; tries < 1000; tries++) {
        uint16_t p = (uint16_t)(20000 + randombytes_uniform(12000));
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(p)};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok;

        if (fd < 0)
            return sh_err_set(SH_ERR_IO, "socket: %s", strerror(errno));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        last = errno;
        close(fd);
        if (ok) {
            *port = p;
            return SH_OK;
        }
    }
    return sh_err_set(SH_ERR_IO, "cannot find a free port on 127.0.0.1 between 20000 and 32000: %s",
                      strerror(last));
}

typedef struct argv_builder {
    char *v[64];
    char store[64][DEVNET_PATH_BYTES + 32];
    int n;
} argv_builder;

static void arg(argv_builder *b, const char *fmt, const char *s)
{
    if (b->n >= 63)
        return;
    snprintf(b->store[b->n], sizeof b->store[b->n], fmt, s);
    b->v[b->n] = b->store[b->n];
    b->v[++b->n] = NULL;
}

static void arg_u(argv_builder *b, unsigned v)
{
    char t[16];

    snprintf(t, sizeof t, "%u", v);
    arg(b, "%s", t);
}

static int build_argv(const devnet_state *s, const devnet_proc *p, const char *pdir, argv_builder *b)
{
    char network[DEVNET_PATH_BYTES], path[DEVNET_PATH_BYTES], addr[32];
    char settings[sizeof s->node_settings], *save = NULL;
    int rc;

    b->n = 0;
    if ((rc = sh_fs_join(network, sizeof network, s->dir, DEVNET_NETWORK_FILE)) != SH_OK)
        return rc;
    if (p->is_authority) {
        arg(b, "%s", s->shoal_dir);
        arg(b, "%s", "run");
        arg(b, "%s", "--network"), arg(b, "%s", network);
        if ((rc = sh_fs_join(path, sizeof path, pdir, "auth.key")) != SH_OK)
            return rc;
        arg(b, "%s", "--key"), arg(b, "%s", path);
        arg(b, "%s", "--data"), arg(b, "%s/data", pdir);
        snprintf(addr, sizeof addr, "127.0.0.1:%u", p->port);
        arg(b, "%s", "--listen"), arg(b, "%s", addr);
        arg(b, "%s", "--devnet");
        return SH_OK;
    }
    arg(b, "%s", s->shoald);
    arg(b, "%s", "--network"), arg(b, "%s", network);
    arg(b, "%s", "--data-dir"), arg(b, "%s", pdir);
    arg(b, "%s", "--listen"), arg(b, "%s", "127.0.0.1");
    arg(b, "%s", "--port"), arg_u(b, p->port);
    memcpy(settings, s->node_settings, sizeof settings);
    for (char *t = strtok_r(settings, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save))
        arg(b, "%s", "--set"), arg(b, "%s", t);
    return SH_OK;
}

pid_t devnet_spawn(bool detach, char *const argv[], const char *log)
{
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    if (detach)
        setsid();
    else
        prctl(PR_SET_PDEATHSIG, SIGTERM);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
        _exit(127);
    execv(argv[0], argv);
    dprintf(2, "shoal-devnet: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* Looks for the ready line in what the process logged since `from`. */
static bool find_ready(const char *log, off_t from, devnet_proc *p)
{
    FILE *f = fopen(log, "r");
    char line[1024];
    bool found = false;

    if (f == NULL)
        return false;
    if (fseeko(f, from, SEEK_SET) != 0) {
        fclose(f);
        return false;
    }
    while (!found && fgets(line, sizeof line, f) != NULL) {
        unsigned port;
        char *id;
        if (p->is_authority && strncmp(line, "listening 127.0.0.1:", 20) == 0) {
            found = true;
        } else if (!p->is_authority && sscanf(line, "shoald ready port=%u", &port) == 1 &&
                   (id = strstr(line, "identity_key=")) != NULL && strlen(id) >= 13 + 64) {
            p->port = (uint16_t)port;
            memcpy(p->identity, id + 13, 64);
            p->identity[64] = '\0';
            found = true;
        }
    }
    fclose(f);
    return found;
}

int devnet_start(devnet_state *s, devnet_proc *p, int timeout_ms)
{
    char pdir[DEVNET_PATH_BYTES], log[DEVNET_PATH_BYTES], name[16];
    argv_builder *b = calloc(1, sizeof *b);
    struct stat st;
    int64_t deadline = sh_time_mono_ms() + timeout_ms;
    int rc;

    devnet_proc_name(p, name);
    if (b == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory starting %s", name);
    if (p->port == 0 && !p->is_authority && (rc = devnet_free_port(&p->port)) != SH_OK)
        goto done;
    if ((rc = devnet_proc_dir(s, p, pdir)) != SH_OK || (rc = devnet_proc_log(s, p, log)) != SH_OK ||
        (rc = sh_fs_mkdir_p(pdir, 0700)) != SH_OK || (rc = build_argv(s, p, pdir, b)) != SH_OK)
        goto done;
    off_t from = stat(log, &st) == 0 ? st.st_size : 0;
    p->pid = devnet_spawn(s->detach, b->v, log);
    if (p->pid < 0) {
        p->pid = 0;
        rc = sh_err_set(SH_ERR_IO, "cannot start %s: %s", name, strerror(errno));
        goto done;
    }
    while (!find_ready(log, from, p)) {
        /* Our own child: waitpid knows when it ended (its command line is shoal-devnet's until
         * exec, so devnet_alive would not do here). */
        if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
            p->pid = 0;
            rc = sh_err_set(SH_ERR_UNAVAILABLE, "%s ended before it was ready (its log: %s)", name, log);
            goto done;
        }
        if (sh_time_mono_ms() > deadline) {
            rc = sh_err_set(SH_ERR_TIMEOUT, "%s was not ready within %d ms (its log: %s)", name,
                            timeout_ms, log);
            goto done;
        }
        devnet_sleep_ms(READY_POLL_MS);
    }
    rc = SH_OK;
done:
    free(b);
    return rc;
}

int devnet_stop(devnet_state *s, devnet_proc *p, bool hard, int grace_ms)
{
    int64_t start = sh_time_mono_ms();
    bool killed = hard;
    char name[16];

    if (!devnet_alive(s, p)) {
        p->pid = 0;
        return SH_OK;
    }
    kill(p->pid, hard ? SIGKILL : SIGTERM);
    while (devnet_alive(s, p)) {
        int64_t waited = sh_time_mono_ms() - start;
        if (!killed && waited > grace_ms) {
            kill(p->pid, SIGKILL);
            killed = true;
        }
        if (waited > grace_ms + 5000) {
            devnet_proc_name(p, name);
            return sh_err_set(SH_ERR_TIMEOUT, "%s (pid %ld) does not end", name, (long)p->pid);
        }
        devnet_sleep_ms(10);
    }
    p->pid = 0;
    return SH_OK;
}

void devnet_print_log_tail(const devnet_state *s, const devnet_proc *p, int lines)
{
    char log[DEVNET_PATH_BYTES], *ring[32] = {0}, line[1024], name[16];
    FILE *f;
    int n = 0;

    if (lines > 32)
        lines = 32;
    if (devnet_proc_log(s, p, log) != SH_OK || (f = fopen(log, "r")) == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        free(ring[n % lines]);
        ring[n % lines] = strdup(line);
        n++;
    }
    fclose(f);
    devnet_proc_name(p, name);
    fprintf(stderr, "--- last lines of %s's log (%s) ---\n", name, log);
    for (int i = n > lines ? n - lines : 0; i < n; i++)
        if (ring[i % lines] != NULL)
            fputs(ring[i % lines], stderr);
    for (int i = 0; i < lines; i++)
        free(ring[i]);
}
