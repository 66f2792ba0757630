/* Multi-process loopback test of the net module: a net-peer server in its own process (port 0,
 * reported on its stdout), well-behaved net-peer callers in theirs (1 000 calls in flight on one
 * link answered out of order, deadlines, node authorization, a steady caller), and hostile peers
 * at the same time (garbage, a truncated handshake, a wrong static key, a replayed frame, a
 * message over the limit, an oversized handshake message, a peer that stops reading). Each
 * hostile peer must be cut off with its reason in the server's log while the others go on; the
 * server then shuts down gracefully. Usage: test-net-loopback PATH-TO-net-peer. */
#include "test.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "util/encode.h"

typedef struct proc {
    pid_t pid;
    int in;  /* its stdin (we write) */
    int out; /* its stdout (we read) */
    const char *name;
} proc;

static const char *peer_path;
static char port_arg[16], key_arg[65], log_path[512];

static proc spawn(const char *const *args, const char *stderr_path)
{
    int in[2], out[2];
    const char *argv[32];
    proc p = {.name = args[0]};
    size_t n = 0;

    argv[n++] = peer_path;
    for (; args[n - 1] != NULL; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    CHECK(pipe(in) == 0 && pipe(out) == 0);
    p.pid = fork();
    CHECK(p.pid >= 0);
    if (p.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test leaves no process behind */
        dup2(in[0], 0);
        dup2(out[1], 1);
        if (stderr_path != NULL) {
            int fd = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            dup2(fd, 2);
        }
        close(in[1]);
        close(out[0]);
        execv(peer_path, (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    p.in = in[1];
    p.out = out[0];
    return p;
}

/* A client of the server: MODE --port P --key K [extra...]. */
static proc spawn_client(const char *mode, const char *const *extra)
{
    const char *args[24] = {mode, "--port", port_arg, "--key", key_arg};
    size_t n = 5;

    for (; extra != NULL && *extra != NULL; extra++)
        args[n++] = *extra;
    args[n] = NULL;
    return spawn(args, NULL);
}

static void read_line(proc *p, char *line, size_t size)
{
    size_t n = 0;

    while (n + 1 < size) {
        char c;
        ssize_t r = read(p->out, &c, 1);

        if (r <= 0 || c == '\n')
            break;
        line[n++] = c;
    }
    line[n] = '\0';
}

/* Waits for exit; its whole stdout must start with "ok". */
static void expect_ok(proc *p)
{
    char out[4096];
    ssize_t n, total = 0;
    int status;

    while ((n = read(p->out, out + total, sizeof out - 1 - (size_t)total)) > 0)
        total += n;
    out[total] = '\0';
    CHECK(waitpid(p->pid, &status, 0) == p->pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || strncmp(out, "ok", 2) != 0)
        test_fail(__FILE__, __LINE__, "net-peer %s failed (status %d): %s", p->name, status,
                  out);
    printf("  %s: %s", p->name, out);
    close(p->in);
    close(p->out);
}

static char *read_log(void)
{
    FILE *f = fopen(log_path, "r");
    static char buf[1 << 20];
    size_t n;

    if (f == NULL)
        return strcpy(buf, "");
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Polls the server log (every 10 ms, up to 10 s) for a line. */
static void wait_for_log(const char *needle)
{
    for (int i = 0; i < 1000; i++) {
        if (strstr(read_log(), needle) != NULL)
            return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    test_fail(__FILE__, __LINE__, "the server log never said \"%s\":\n%s", needle, read_log());
}

int main(int argc, char **argv)
{
    static const char *const reasons[] = {
        "cut off (SH_ERR_PROTOCOL): a handshake message of 18245 bytes (limit 1024)", /* garbage */
        "cut off (SH_ERR_TIMEOUT): the handshake did not complete within 1500 ms",    /* truncated */
        "cut off (SH_ERR_CRYPTO): handshake message 1 (48 bytes) was rejected",      /* wrongkey */
        "cut off (SH_ERR_CRYPTO): frame 2 failed authentication",                    /* replay */
        "cut off (SH_ERR_LIMIT): a message over the 525312-byte limit",              /* oversized */
        "cut off (SH_ERR_PROTOCOL): a handshake message of 2000 bytes (limit 1024)", /* hugehs */
        "cut off (SH_ERR_LIMIT): the peer is not reading",                           /* noread */
    };
    static const char *const hostile[] = {"garbage", "truncated", "wrongkey", "replay",
                                          "oversized", "hugehs"};
    uint8_t node_sk[32], node_pk[32];
    char node_sk_hex[65], node_pk_hex[65], line[256];
    proc server, steady, bad[6], noread, ooo, deadline, node_yes, node_no;

    CHECK(argc == 2);
    peer_path = argv[1];
    CHECK_OK(sh_crypto_init());
    randombytes_buf(node_sk, 32);
    crypto_scalarmult_base(node_pk, node_sk);
    CHECK_OK(sh_hex_encode(node_sk_hex, sizeof node_sk_hex, node_sk, 32));
    CHECK_OK(sh_hex_encode(node_pk_hex, sizeof node_pk_hex, node_pk, 32));
    snprintf(log_path, sizeof log_path, "%s/server.log", test_tmpdir());

    const char *server_args[] = {"server", "--handshake-timeout", "1500", "--write-queue",
                                 "262144", "--node-key", node_pk_hex, NULL};
    server = spawn(server_args, log_path);
    read_line(&server, line, sizeof line);
    CHECK(sscanf(line, "port %15s", port_arg) == 1);
    read_line(&server, line, sizeof line);
    CHECK(sscanf(line, "key %64s", key_arg) == 1);
    printf("server on 127.0.0.1:%s\n", port_arg);

    /* A caller that keeps going while the others misbehave. */
    const char *steady_args[] = {"--calls", "150", "--interval", "15", NULL};
    steady = spawn_client("steady", steady_args);
    for (int i = 0; i < 6; i++)
        bad[i] = spawn_client(hostile[i], NULL);
    noread = spawn_client("noread", NULL);
    const char *ooo_args[] = {"--calls", "1000", NULL};
    ooo = spawn_client("ooo", ooo_args);
    deadline = spawn_client("deadline", NULL);
    const char *node_args[] = {"--node-sk", node_sk_hex, NULL};
    node_yes = spawn_client("node", node_args);
    node_no = spawn_client("node", NULL);

    for (int i = 0; i < 6; i++)
        expect_ok(&bad[i]);
    wait_for_log("the peer is not reading");
    close(noread.in);
    expect_ok(&noread);
    expect_ok(&ooo);
    expect_ok(&deadline);
    expect_ok(&node_yes);
    expect_ok(&node_no);
    expect_ok(&steady);

    close(server.in); /* graceful shutdown */
    expect_ok(&server);
    const char *log = read_log();
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        if (strstr(log, reasons[i]) == NULL)
            test_fail(__FILE__, __LINE__, "the server log lacks \"%s\":\n%s", reasons[i], log);
        printf("  logged: %s\n", reasons[i]);
    }
    return 0;
}
