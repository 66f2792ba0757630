/* WAL checkpoints off the commit path. SQLite's automatic checkpoint runs inside the COMMIT that
 * crosses its threshold and fsyncs twice, so every few hundred writes one batch would wait for it;
 * with small group commits that is most of the cost of a write (see docs/store.md). Instead the
 * writer connection's WAL hook, called after each commit with the WAL's size, wakes a checkpointer
 * thread with its own connection once the WAL holds checkpoint_pages pages; it runs a PASSIVE
 * checkpoint, which never blocks the writer or the readers. Should the WAL still reach
 * wal_max_pages (a checkpointer that cannot keep up, or readers that keep it from finishing),
 * the writer checkpoints in line in RESTART mode, waiting for those readers, so the WAL stays
 * bounded. Without a loop (no writer thread) SQLite's own autocheckpoint is kept. */
#include "store/store_int.h"
#include "util/err.h"
#include "util/log.h"

static int wal_hook_cb(void *arg, sqlite3 *db, const char *name, int pages)
{
    sh_store *s = arg;
    int log_frames, done;

    if (pages >= (int)s->opts.wal_max_pages) {
        /* RESTART, not PASSIVE: a passive checkpoint leaves the frames a reader's snapshot still
         * needs, the next commit appends after them, and under steady reads the WAL would grow
         * without end. RESTART waits (busy timeout) for those readers, so the next commit
         * starts the WAL over. */
        if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_RESTART, &log_frames, &done) ==
            SQLITE_OK)
            atomic_fetch_add(&s->checkpoints, 1);
        return SQLITE_OK;
    }
    if (s->ckpt_running && pages >= (int)s->opts.checkpoint_pages) {
        uv_mutex_lock(&s->ckpt_lock);
        if (!s->ckpt_wanted) {
            s->ckpt_wanted = true;
            uv_cond_signal(&s->ckpt_cond);
        }
        uv_mutex_unlock(&s->ckpt_lock);
    }
    return SQLITE_OK;
}

static void checkpointer_main(void *arg)
{
    sh_store *s = arg;

    uv_mutex_lock(&s->ckpt_lock);
    for (;;) {
        int log_frames, done, rc;

        while (!s->ckpt_wanted && !s->ckpt_stop)
            uv_cond_wait(&s->ckpt_cond, &s->ckpt_lock);
        if (s->ckpt_stop)
            break;
        s->ckpt_wanted = false;
        uv_mutex_unlock(&s->ckpt_lock);
        rc = sqlite3_wal_checkpoint_v2(s->ck.db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                       &done);
        if (rc == SQLITE_OK)
            atomic_fetch_add(&s->checkpoints, 1);
        else if (rc != SQLITE_BUSY)
            sh_log_warn("store", "WAL checkpoint failed: %s", sqlite3_errmsg(s->ck.db));
        uv_mutex_lock(&s->ckpt_lock);
    }
    uv_mutex_unlock(&s->ckpt_lock);
}

int sh__store_checkpointer_start(sh_store *s)
{
    int rc;

    sqlite3_wal_autocheckpoint(s->w.db, 0);
    sqlite3_wal_hook(s->w.db, wal_hook_cb, s);
    if (s->opts.checkpoint_pages == 0)
        return SH_OK;
    if ((rc = sh__store_conn_open(s->path, false, &s->ck)) != SH_OK)
        return rc;
    if (uv_mutex_init(&s->ckpt_lock) != 0)
        return sh_err_set(SH_ERR_INTERNAL, "cannot create the checkpoint lock");
    if (uv_cond_init(&s->ckpt_cond) != 0) {
        uv_mutex_destroy(&s->ckpt_lock);
        return sh_err_set(SH_ERR_INTERNAL, "cannot create the checkpoint condition");
    }
    if (uv_thread_create(&s->ckpt_thread, checkpointer_main, s) != 0) {
        uv_cond_destroy(&s->ckpt_cond);
        uv_mutex_destroy(&s->ckpt_lock);
        return sh_err_set(SH_ERR_INTERNAL, "cannot start the checkpoint thread");
    }
    s->ckpt_running = true;
    return SH_OK;
}

void sh__store_checkpointer_stop(sh_store *s)
{
    if (s->ckpt_running) {
        uv_mutex_lock(&s->ckpt_lock);
        s->ckpt_stop = true;
        uv_cond_signal(&s->ckpt_cond);
        uv_mutex_unlock(&s->ckpt_lock);
        uv_thread_join(&s->ckpt_thread);
        uv_cond_destroy(&s->ckpt_cond);
        uv_mutex_destroy(&s->ckpt_lock);
        s->ckpt_running = false;
    }
    sh__store_conn_close(&s->ck);
}
