/* Starting and stopping the processes a benchmark measures (proc.h). */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rawdb.h"
#include "util/encode.h"
#include "util/err.h"

pid_t bench_spawn(const char *const *argv, const char *log, int out_fd)
{
    pid_t pid = fork();

    if (pid < 0)
        bench_die("fork");
    if (pid == 0) {
        int fd = log != NULL ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0600) : -1;
        if (out_fd >= 0 || fd >= 0)
            dup2(out_fd >= 0 ? out_fd : fd, STDOUT_FILENO);
        if (fd >= 0)
            dup2(fd, STDERR_FILENO);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

void bench_shoald_start(const char *const *argv, const char *log, bench_shoald *out)
{
    char buf[512] = "", link[65], id[65];
    size_t len = 0;
    unsigned port;
    int fds[2];

    if (pipe(fds) != 0)
        bench_die("pipe");
    out->pid = bench_spawn(argv, log, fds[1]);
    close(fds[1]);
    while (strchr(buf, '\n') == NULL) {
        ssize_t got = read(fds[0], buf + len, sizeof buf - 1 - len);
        if (got <= 0)
            bench_die("shoald did not start");
        len += (size_t)got;
        buf[len] = '\0';
    }
    close(fds[0]);
    if (sscanf(buf, "shoald ready port=%u link_key=%64s identity_key=%64s", &port, link, id) != 3 ||
        port == 0 || port > 65535 || sh_hex_decode(out->link_key, 32, link) != SH_OK ||
        sh_hex_decode(out->identity_key, 32, id) != SH_OK)
        bench_die("unexpected ready line from shoald");
    out->port = (uint16_t)port;
}

void bench_stop(pid_t pid, bool must_exit_clean)
{
    int status = 0;
    pid_t got;

    kill(pid, SIGTERM);
    while ((got = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (must_exit_clean && (got != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0))
        bench_die("a process did not stop cleanly");
}
