/* Crash safety: a child process streams group-committed puts from 16 concurrent submitters and
 * writes each acknowledged hash to a pipe; the parent kill -9s it mid-stream, reopens the store
 * and checks that every acknowledged message is there and that PRAGMA integrity_check says ok.
 * Several rounds on the same database, each killed at a different point. */
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

enum { CLIENTS = 16, ROUNDS = 4, MAX_ACKS = 4000, CHILD_CAP = 200000 };

static sh_store *child_store;
static int ack_fd;
static uint32_t next_seed;
static uint8_t owners[4][33];

static void child_submit(intptr_t client);

static void child_cb(void *ctx, int status, sh_store_outcome outcome, const uint8_t hash[32])
{
    if (status != SH_OK || outcome != SH_STORE_STORED)
        _exit(3);
    if (write(ack_fd, hash, 32) != 32)
        _exit(4);
    child_submit((intptr_t)ctx);
}

static void child_submit(intptr_t client)
{
    static uint8_t data[CLIENTS][1024];
    sh_store_msg m;

    if (next_seed % CHILD_CAP == CHILD_CAP - 1)
        _exit(0);
    m = test_msg(owners[client % 4], 0, T0_MS, SH_MS_PER_DAY, data[client], 1024, next_seed++);
    if (sh_store_submit_put(child_store, &m, child_cb, (void *)client) != SH_OK)
        _exit(5);
}

static _Noreturn void child_main(const char *path, int fd, uint32_t round)
{
    sh_store_options o;
    uv_loop_t loop;

    ack_fd = fd;
    next_seed = round * CHILD_CAP;
    if (uv_loop_init(&loop) != 0)
        _exit(1);
    test_store_options(&o);
    o.loop = &loop;
    o.max_bytes_per_ns = 1u << 30;
    o.max_msgs_per_ns = 1u << 30;
    if (sh_store_open(path, &o, &child_store) != SH_OK)
        _exit(2);
    for (intptr_t c = 0; c < CLIENTS; c++)
        child_submit(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(6);
}

static bool read_full(int fd, uint8_t *p, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);

        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

static void integrity_ok(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *st;

    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Runs one round; returns the number of acknowledged puts, all of them checked. */
static size_t crash_round(const char *path, uint32_t round, size_t kill_after)
{
    static uint8_t acks[MAX_ACKS * 2][32];
    size_t n = 0;
    int fds[2], status;
    pid_t pid;

    CHECK(pipe(fds) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_main(path, fds[1], round);
    }
    close(fds[1]);
    while (n < kill_after && read_full(fds[0], acks[n], 32))
        n++;
    CHECK_EQ(n, kill_after); /* the child was still streaming */
    CHECK(kill(pid, SIGKILL) == 0);
    while (n < MAX_ACKS * 2 && read_full(fds[0], acks[n], 32)) /* acks written before it died */
        n++;
    close(fds[0]);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    integrity_ok(path);
    sh_store_options o;
    sh_store *s;
    sh_buf buf;
    sh_store_msg got;
    test_store_options(&o);
    CHECK_OK(sh_store_open(path, &o, &s));
    sh_buf_init(&buf);
    for (size_t i = 0; i < n; i++)
        CHECK_OK(sh_store_get(s, acks[i], &got, &buf));
    sh_buf_free(&buf);
    sh_store_close(s);
    integrity_ok(path);
    return n;
}

int main(void)
{
    char path[512];
    static const size_t kill_points[ROUNDS] = {150, 1200, 37, 2500};

    for (int i = 0; i < 4; i++)
        test_owner(owners[i], (uint8_t)(i + 1));
    snprintf(path, sizeof path, "%s", test_db_path(test_tmpdir(), "crash.db"));
    for (uint32_t r = 0; r < ROUNDS; r++) {
        size_t n = crash_round(path, r, kill_points[r]);

        CHECK(n >= kill_points[r]);
        fprintf(stderr, "round %u: %zu acknowledged puts survived kill -9\n", r, n);
    }
    return 0;
}
