/* SQLite plumbing of the store: opening a connection with the store's pragmas, preparing its
 * statements once, stepping them through the fault hook (fault.h), and turning SQLite result codes
 * into sh_err codes with a message that names the operation. */
#include <stdlib.h>
#include <string.h>

#include "store/fault.h"
#include "store/store_int.h"
#include "util/err.h"
#include "util/log.h"

/* An extended result code SQLite never uses, so an injected fault can say so in its message. */
#define RC_INJECTED (SQLITE_IOERR | (200 << 8))

#ifndef NDEBUG
static _Atomic uint64_t fault_step_countdown, fault_commit_countdown, faults_fired;

static bool fault_fires(_Atomic uint64_t *countdown)
{
    uint64_t v = atomic_load(countdown);

    while (v != 0)
        if (atomic_compare_exchange_weak(countdown, &v, v - 1)) {
            if (v != 1)
                return false;
            atomic_fetch_add(&faults_fired, 1);
            return true;
        }
    return false;
}

int sh__store_fault_arm(sh__store_fault_point point, uint64_t nth)
{
    if (point == SH__STORE_FAULT_STEP)
        atomic_store(&fault_step_countdown, nth);
    else if (point == SH__STORE_FAULT_COMMIT)
        atomic_store(&fault_commit_countdown, nth);
    else
        return sh_err_set(SH_ERR_INVALID, "unknown fault point %d", (int)point);
    return SH_OK;
}

uint64_t sh__store_fault_fired(void)
{
    return atomic_load(&faults_fired);
}
#else
int sh__store_fault_arm(sh__store_fault_point point, uint64_t nth)
{
    (void)point;
    (void)nth;
    return sh_err_set(SH_ERR_UNSUPPORTED, "fault injection is built only without NDEBUG");
}

uint64_t sh__store_fault_fired(void)
{
    return 0;
}
#endif

int sh__store_step(sqlite3_stmt *st)
{
#ifndef NDEBUG
    if (fault_fires(&fault_step_countdown))
        return RC_INJECTED;
#endif
    return sqlite3_step(st);
}

int sh__store_sql_fail(sqlite3 *db, int rc, const char *what)
{
    int code;

    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        code = SH_ERR_NOMEM;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = SH_ERR_BUSY;
        break;
    case SQLITE_CONSTRAINT:
        code = SH_ERR_INTERNAL;
        break;
    default:
        code = SH_ERR_IO;
    }
    if (rc == RC_INJECTED)
        return sh_err_set(code, "%s: injected fault (test build)", what);
    return sh_err_set(code, "%s: %s (SQLite %d)", what,
                      db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
}

int sh__store_run(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
    int rc = sh__store_step(st);

    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return sh__store_sql_fail(db, rc, what);
    return SH_OK;
}

int sh__store_row(sqlite3 *db, sqlite3_stmt *st, bool *found, const char *what)
{
    int rc = sh__store_step(st);

    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW)
        return SH_OK;
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sh__store_sql_fail(db, rc, what);
    return SH_OK;
}

int sh__store_exec(sqlite3 *db, const char *sql)
{
    const char *tail = sql;
    int rc = SH_OK;

    while (rc == SH_OK && *tail != '\0') {
        sqlite3_stmt *st = NULL;
        int src = sqlite3_prepare_v2(db, tail, -1, &st, &tail);

        if (src != SQLITE_OK)
            return sh__store_sql_fail(db, src, "preparing schema SQL");
        if (st == NULL) /* only whitespace or a comment was left */
            break;
        while ((src = sh__store_step(st)) == SQLITE_ROW)
            ;
        if (src != SQLITE_DONE)
            rc = sh__store_sql_fail(db, src, "running schema SQL");
        sqlite3_finalize(st);
    }
    return rc;
}

int sh__store_commit(sh__store_conn *w)
{
#ifndef NDEBUG
    if (fault_fires(&fault_commit_countdown))
        return sh__store_sql_fail(w->db, RC_INJECTED, "committing");
#endif
    return sh__store_run(w->db, w->st[W_COMMIT], "committing");
}

void sh__store_rollback(sh__store_conn *w)
{
    int rc;

    if (sqlite3_get_autocommit(w->db))
        return; /* SQLite already rolled back (or nothing was begun) */
    rc = sqlite3_step(w->st[W_ROLLBACK]);
    sqlite3_reset(w->st[W_ROLLBACK]);
    if (rc != SQLITE_DONE)
        sh_log_error("store", "rollback failed: %s", sqlite3_errmsg(w->db));
}

static int apply_pragmas(sqlite3 *db, bool writer)
{
    /* WAL lets the read connection run beside the writer; synchronous=NORMAL keeps every
     * committed transaction across a process crash (not across power loss: the swarm's second
     * copy covers that). */
    static const char writer_pragmas[] = "PRAGMA journal_mode=WAL;"
                                         "PRAGMA synchronous=NORMAL;"
                                         "PRAGMA temp_store=MEMORY;"
                                         "PRAGMA foreign_keys=OFF;";
    static const char reader_pragmas[] = "PRAGMA temp_store=MEMORY;";
    char *msg = NULL;
    int rc;

    sqlite3_busy_timeout(db, 5000);
    rc = sqlite3_exec(db, writer ? writer_pragmas : reader_pragmas, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        rc = sh_err_set(rc == SQLITE_NOTADB ? SH_ERR_FORMAT : SH_ERR_IO,
                        "setting the database pragmas: %s", msg != NULL ? msg : "?");
        sqlite3_free(msg);
        return rc;
    }
    return SH_OK;
}

int sh__store_conn_open(const char *path, bool writer, sh__store_conn *c)
{
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE |
                (writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY);
    int rc;

    memset(c, 0, sizeof *c);
    rc = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        rc = sh_err_set(SH_ERR_IO, "cannot open the store database %s: %s", path,
                        c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        c->db = NULL;
        return rc;
    }
    sqlite3_extended_result_codes(c->db, 1);
    rc = apply_pragmas(c->db, writer);
    if (rc != SH_OK) {
        sqlite3_close(c->db);
        c->db = NULL;
    }
    return rc;
}

int sh__store_conn_prepare(sh__store_conn *c, const char *const *sql, size_t n)
{
    c->st = calloc(n, sizeof *c->st);
    if (c->st == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory preparing statements");
    c->n = n;
    for (size_t i = 0; i < n; i++) {
        int rc = sqlite3_prepare_v3(c->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i], NULL);

        if (rc != SQLITE_OK)
            return sh_err_set(SH_ERR_INTERNAL, "preparing \"%s\": %s", sql[i],
                              sqlite3_errmsg(c->db));
    }
    return SH_OK;
}

void sh__store_conn_close(sh__store_conn *c)
{
    if (c->st != NULL)
        for (size_t i = 0; i < c->n; i++)
            sqlite3_finalize(c->st[i]);
    free(c->st);
    if (c->db != NULL && sqlite3_close(c->db) != SQLITE_OK)
        sh_log_error("store", "closing the database: %s", sqlite3_errmsg(c->db));
    memset(c, 0, sizeof *c);
}
