/* Internals of the store shared by its files: the object, the prepared statements of its two
 * connections, the group-commit job queue, and the SQLite helpers that every statement goes
 * through (so the fault hook of fault.h sees every step). Not for other modules. */
#ifndef SH_STORE_STORE_INT_H
#define SH_STORE_STORE_INT_H

#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>
#include <uv.h>

#include "store/store.h"

/* Statements of the writer connection (used by the writer thread and the synchronous writes,
 * always under sh_store.write_lock). */
enum {
    W_BEGIN,
    W_COMMIT,
    W_ROLLBACK,
    W_OWNER_FIND,
    W_OWNER_INSERT,
    W_MSG_EXISTS,
    W_MSG_FIND_OWNED,
    W_MSG_INSERT,
    W_MSG_DELETE_ID,
    W_MSG_SET_EXPIRY,
    W_SLOT_GET,
    W_USAGE_GET,
    W_PURGE_EXPIRED_NS,
    W_TOMB_GET,
    W_TOMB_PUT,
    W_RANGE_COVERS,
    W_RANGE_INSERT,
    W_REQ_INSERT,
    W_REQ_SET_UNTIL,
    W_DELETE_BEFORE,
    W_SWEEP_MSGS,
    W_SWEEP_TOMBS,
    W_SWEEP_RANGES,
    W_SWEEP_REQS,
    W_COUNT
};

/* Statements of the read connection (loop thread). */
enum {
    R_OWNER_FIND,
    R_GET,
    R_PAGE,
    R_TOMB_GET,
    R_STATS_USAGE,
    R_STATS_OWNERS,
    R_STATS_TOMBS,
    R_STATS_MIN_EXPIRY,
    R_STATS_PAGES,
    R_COUNT
};

typedef struct sh__store_conn {
    sqlite3 *db;
    sqlite3_stmt **st;
    size_t n;
} sh__store_conn;

typedef enum sh__store_job_kind {
    SH__JOB_PUT = 1,
    SH__JOB_SWEEP = 2,
    SH__JOB_TOMB = 3,
} sh__store_job_kind;

typedef enum sh__store_tomb_op {
    SH__TOMB_DELETE = 1,
    SH__TOMB_DELETE_BEFORE = 2,
    SH__TOMB_EXPIRE = 3,
} sh__store_tomb_op;

/* An owner request that leaves tombstones (tomb.c), with its outputs. */
typedef struct sh__store_tomb {
    sh__store_tomb_op op;
    const sh_store_request *req;
    const uint8_t (*hashes)[SH_STORE_HASH_BYTES];
    size_t n;
    bool *deleted;     /* delete: per hash (may be NULL) */
    int64_t *expiries; /* expire: per hash (may be NULL) */
    int64_t before_ms, new_expiry_ms;
    sh_store_expire_mode mode;
    int64_t now, horizon; /* horizon: when every copy that exists now will have expired */
    int64_t oid, req_id, req_until;
    uint64_t count;
} sh__store_tomb;

/* One submitted write. A put carries a copy of its message (data and slot follow the struct); an
 * owner request carries its outputs, hashes and request bytes the same way. */
typedef struct sh__store_job {
    struct sh__store_job *next;
    sh__store_job_kind kind;
    int status;
    char *errmsg; /* set with status < 0 (malloc'd; NULL if that failed) */
    sh_store_outcome outcome;
    uint64_t count;
    uint32_t max_rows;
    sh_store_msg msg;
    sh__store_tomb tomb;
    sh_store_request req;
    union {
        sh_store_put_cb put;
        sh_store_count_cb count;
        sh_store_request_cb request;
    } cb;
    void *ctx;
} sh__store_job;

typedef struct sh__store_list {
    sh__store_job *head, *tail;
    size_t len;
} sh__store_list;

/* The loop handles live in their own allocation, freed by their close callbacks after the store
 * itself is gone. */
typedef struct sh__store_handles {
    uv_async_t done_async;
    uv_prepare_t handoff;
    int open_handles;
    struct sh_store *store; /* NULL once the store is closed */
} sh__store_handles;

struct sh_store {
    sh_store_options opts;
    sh__store_conn w, r;
    uv_mutex_t write_lock; /* held for a whole write transaction */

    /* Group commit. `submitted` and `pending` belong to the loop thread; `queue`, `done` and
     * `stopping` are guarded by queue_lock. */
    bool threaded;
    uv_thread_t writer;
    uv_mutex_t queue_lock;
    uv_cond_t queue_cond;
    sh__store_list submitted, queue, done;
    bool stopping;
    size_t pending;
    sh__store_handles *handles;

    /* Checkpointer (checkpoint.c): its own connection and thread; the flags under ckpt_lock. */
    sh__store_conn ck;
    bool ckpt_running, ckpt_wanted, ckpt_stop;
    uv_thread_t ckpt_thread;
    uv_mutex_t ckpt_lock;
    uv_cond_t ckpt_cond;

    _Atomic uint64_t batches_committed, jobs_committed, batches_failed, checkpoints;
    char path[4096];
};

/* Orders messages for the retrieval cursor: by timestamp, then by hash. */
static inline int sh__store_cursor_cmp(int64_t ts_a, const uint8_t *hash_a, int64_t ts_b,
                                       const uint8_t *hash_b)
{
    if (ts_a != ts_b)
        return ts_a < ts_b ? -1 : 1;
    return memcmp(hash_a, hash_b, SH_STORE_HASH_BYTES);
}

/* Clock of the store. */
int64_t sh__store_now(const sh_store *s);

/* SQLite helpers (db.c). */
int sh__store_conn_open(const char *path, bool writer, sh__store_conn *c);
int sh__store_conn_prepare(sh__store_conn *c, const char *const *sql, size_t n);
void sh__store_conn_close(sh__store_conn *c);
/* sqlite3_step through the fault hook. */
int sh__store_step(sqlite3_stmt *st);
/* Runs every statement of `sql` in turn (through sh__store_step). */
int sh__store_exec(sqlite3 *db, const char *sql);
/* Records an sh_err for a failed SQLite call and returns the code. */
int sh__store_sql_fail(sqlite3 *db, int rc, const char *what);
/* Steps a statement that returns no row, then resets it. */
int sh__store_run(sqlite3 *db, sqlite3_stmt *st, const char *what);
/* Steps once: *found tells whether a row is there to read (the caller resets afterwards);
 * without a row the statement is reset here. */
int sh__store_row(sqlite3 *db, sqlite3_stmt *st, bool *found, const char *what);
/* Statement COMMIT through the commit fault point. */
int sh__store_commit(sh__store_conn *w);
/* ROLLBACK when a transaction is open; never fails (the error is logged). */
void sh__store_rollback(sh__store_conn *w);

/* Schema and migrations (schema.c). */
int sh__store_migrate(sqlite3 *db, const char *path);
extern const char *const sh__store_writer_sql[W_COUNT];
extern const char *const sh__store_reader_sql[R_COUNT];

/* Write transactions' bodies (write.c): run inside BEGIN..COMMIT under write_lock. */
int sh__store_check_msg(const sh_store *s, const sh_store_msg *msg, int64_t now);
int sh__store_put_tx(sh_store *s, sh_store_msg *msg, int64_t now, sh_store_outcome *outcome);
int sh__store_owner_id(sh_store *s, const uint8_t owner[static SH_STORE_OWNER_BYTES], bool create,
                       int64_t *out);
int64_t sh__store_apply_expire_mode(sh_store_expire_mode mode, int64_t current, int64_t wanted);
int sh__store_sweep_tx(sh_store *s, uint32_t max_rows, int64_t now, uint64_t *removed);
/* Owner requests (tomb.c): check before queueing, then run inside a write transaction. */
int sh__store_tomb_check(const sh_store *s, const sh__store_tomb *t);
int sh__store_tomb_tx(sh_store *s, sh__store_tomb *t, int64_t now);
/* Runs fn inside BEGIN IMMEDIATE .. COMMIT under write_lock (rolling back on failure). */
int sh__store_write_tx(sh_store *s, int (*fn)(sh_store *, void *), void *arg);

/* Checkpoints off the commit path (checkpoint.c). */
int sh__store_checkpointer_start(sh_store *s);
void sh__store_checkpointer_stop(sh_store *s);

/* Group commit (commit.c). */
int sh__store_commit_start(sh_store *s);
void sh__store_commit_stop(sh_store *s);

#endif
