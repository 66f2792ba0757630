/* Group commit (overview.md "Storage"; performance.md: batch writes, hand work between threads in
 * batches). A write submitted on the loop thread travels:
 *
 *   submit_*  --(loop thread: `submitted`)-->  handoff (uv_prepare, once per loop iteration)
 *     --(queue_lock: `queue`)-->  writer thread: BEGIN IMMEDIATE; up to batch_max_jobs jobs; COMMIT
 *     --(queue_lock: `done`)-->  uv_async  -->  callbacks on the loop thread
 *
 * Each hop moves a whole list under one lock and costs at most one wake-up, never one per write.
 * The writer commits as soon as it is free and takes everything queued, so a batch grows with the
 * load while its commit runs; commit_linger_us can hold a small batch open a little longer.
 * A callback runs only after COMMIT returned. A job refuses alone (SH_ERR_FULL, before it wrote
 * anything); any SQLite failure rolls the whole batch back and every job of it reports the error,
 * so nothing that was not committed is ever acknowledged. */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "util/err.h"
#include "util/log.h"

static void list_push(sh__store_list *l, sh__store_job *j)
{
    j->next = NULL;
    if (l->tail != NULL)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    l->len++;
}

/* Moves every job of src to the end of dst. */
static void list_move_all(sh__store_list *dst, sh__store_list *src)
{
    if (src->head == NULL)
        return;
    if (dst->tail != NULL)
        dst->tail->next = src->head;
    else
        dst->head = src->head;
    dst->tail = src->tail;
    dst->len += src->len;
    memset(src, 0, sizeof *src);
}

/* Moves the first `max` jobs of src into dst (empty before). */
static void list_take(sh__store_list *dst, sh__store_list *src, size_t max)
{
    if (src->len <= max) {
        list_move_all(dst, src);
        return;
    }
    dst->head = src->head;
    dst->len = max;
    dst->tail = src->head;
    for (size_t i = 1; i < max; i++)
        dst->tail = dst->tail->next;
    src->head = dst->tail->next;
    src->len -= max;
    dst->tail->next = NULL;
}

static void job_fail(sh__store_job *j, int status)
{
    const char *msg = sh_err_msg();

    j->status = status;
    free(j->errmsg);
    j->errmsg = strdup(msg[0] != '\0' ? msg : "the store write failed");
}

/* SH_OK unless the transaction must be rolled back; a job's own refusal is kept in the job. */
static int run_job(sh_store *s, sh__store_job *j, int64_t now)
{
    int rc;

    if (j->kind == SH__JOB_SWEEP)
        return sh__store_sweep_tx(s, j->max_rows, now, &j->count);
    if (j->kind == SH__JOB_TOMB)
        return sh__store_tomb_tx(s, &j->tomb, now);
    rc = sh__store_put_tx(s, &j->msg, now, &j->outcome);
    if (rc == SH_ERR_FULL) {
        job_fail(j, rc);
        return SH_OK;
    }
    return rc;
}

static void run_batch(sh_store *s, sh__store_list *batch)
{
    int64_t now = sh__store_now(s);
    int rc;

    uv_mutex_lock(&s->write_lock);
    rc = sh__store_run(s->w.db, s->w.st[W_BEGIN], "beginning a batch");
    for (sh__store_job *j = batch->head; j != NULL && rc == SH_OK; j = j->next)
        rc = run_job(s, j, now);
    if (rc == SH_OK)
        rc = sh__store_commit(&s->w);
    if (rc != SH_OK) {
        sh__store_rollback(&s->w);
        sh_log_warn("store", "a batch of %zu writes failed: %s", batch->len, sh_err_msg());
        for (sh__store_job *j = batch->head; j != NULL; j = j->next)
            job_fail(j, rc);
        atomic_fetch_add(&s->batches_failed, 1);
    } else {
        atomic_fetch_add(&s->batches_committed, 1);
        atomic_fetch_add(&s->jobs_committed, batch->len);
    }
    uv_mutex_unlock(&s->write_lock);
}

static void writer_main(void *arg)
{
    sh_store *s = arg;

    uv_mutex_lock(&s->queue_lock);
    for (;;) {
        sh__store_list batch = {0};

        while (s->queue.len == 0 && !s->stopping)
            uv_cond_wait(&s->queue_cond, &s->queue_lock);
        if (s->queue.len == 0)
            break; /* stopping, and everything is committed */
        if (s->opts.commit_linger_us > 0 && s->queue.len < s->opts.batch_max_jobs && !s->stopping)
            (void)uv_cond_timedwait(&s->queue_cond, &s->queue_lock,
                                    (uint64_t)s->opts.commit_linger_us * 1000u);
        list_take(&batch, &s->queue, s->opts.batch_max_jobs);
        uv_mutex_unlock(&s->queue_lock);
        run_batch(s, &batch);
        uv_mutex_lock(&s->queue_lock);
        list_move_all(&s->done, &batch);
        uv_async_send(&s->handles->done_async);
    }
    uv_mutex_unlock(&s->queue_lock);
}

static void complete(sh_store *s, sh__store_job *j)
{
    s->pending--;
    if (j->status != SH_OK)
        sh_err_set(j->status, "%s", j->errmsg != NULL ? j->errmsg : "the store write failed");
    if (j->kind == SH__JOB_PUT) {
        j->cb.put(j->ctx, j->status, j->status == SH_OK ? j->outcome : 0, j->msg.hash);
    } else if (j->kind == SH__JOB_TOMB) {
        sh_store_result r = {.count = j->tomb.count, .n = j->tomb.n, .deleted = j->tomb.deleted,
                             .expiries = j->tomb.expiries};

        j->cb.request(j->ctx, j->status, &r);
    } else {
        j->cb.count(j->ctx, j->status, j->count);
    }
    free(j->errmsg);
    free(j);
}

static void deliver_done(sh_store *s)
{
    sh__store_list done;

    uv_mutex_lock(&s->queue_lock);
    done = s->done;
    memset(&s->done, 0, sizeof s->done);
    uv_mutex_unlock(&s->queue_lock);
    for (sh__store_job *j = done.head, *next; j != NULL; j = next) {
        next = j->next;
        complete(s, j);
    }
}

static void done_cb(uv_async_t *h)
{
    sh__store_handles *hs = h->data;

    if (hs->store != NULL)
        deliver_done(hs->store);
}

static void handoff_cb(uv_prepare_t *h)
{
    sh__store_handles *hs = h->data;
    sh_store *s = hs->store;

    uv_prepare_stop(h);
    if (s == NULL || s->submitted.len == 0)
        return;
    uv_mutex_lock(&s->queue_lock);
    list_move_all(&s->queue, &s->submitted);
    uv_cond_signal(&s->queue_cond);
    uv_mutex_unlock(&s->queue_lock);
}

static void handle_closed_cb(uv_handle_t *h)
{
    sh__store_handles *hs = h->data;

    if (--hs->open_handles == 0)
        free(hs);
}

static int submit(sh_store *s, sh__store_job *j)
{
    list_push(&s->submitted, j);
    s->pending++;
    if (s->submitted.len == 1)
        uv_prepare_start(&s->handles->handoff, handoff_cb);
    return SH_OK;
}

static int check_can_submit(const sh_store *s)
{
    if (!s->threaded)
        return sh_err_set(SH_ERR_INVALID, "the store was opened without a loop; use the "
                          "synchronous calls");
    if (s->stopping)
        return sh_err_set(SH_ERR_CANCELLED, "the store is closing");
    if (s->pending >= s->opts.queue_max_jobs)
        return sh_err_set(SH_ERR_BUSY, "%zu store writes are already waiting; try again later",
                          s->pending);
    return SH_OK;
}

int sh_store_submit_put(sh_store *s, const sh_store_msg *msg, sh_store_put_cb cb, void *ctx)
{
    sh__store_job *j;
    uint8_t *tail;
    int rc;

    if ((rc = check_can_submit(s)) != SH_OK ||
        (rc = sh__store_check_msg(s, msg, sh__store_now(s))) != SH_OK)
        return rc;
    j = calloc(1, sizeof *j + msg->data_len + msg->slot_len);
    if (j == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory queueing a store write");
    j->kind = SH__JOB_PUT;
    j->msg = *msg;
    tail = (uint8_t *)(j + 1);
    if (msg->data_len > 0)
        memcpy(tail, msg->data, msg->data_len);
    j->msg.data = tail;
    if (msg->slot_len > 0) {
        memcpy(tail + msg->data_len, msg->slot, msg->slot_len);
        j->msg.slot = tail + msg->data_len;
    }
    sh_store_msg_hash(j->msg.hash, msg->owner, msg->ns, j->msg.data, msg->data_len);
    j->cb.put = cb;
    j->ctx = ctx;
    return submit(s, j);
}

int sh_store_submit_sweep(sh_store *s, uint32_t max_rows, sh_store_count_cb cb, void *ctx)
{
    sh__store_job *j;
    int rc;

    if ((rc = check_can_submit(s)) != SH_OK)
        return rc;
    if (max_rows == 0 || max_rows > SH_STORE_SWEEP_MAX_ROWS)
        return sh_err_set(SH_ERR_LIMIT, "a sweep removes 1 to %u rows, not %u",
                          SH_STORE_SWEEP_MAX_ROWS, max_rows);
    j = calloc(1, sizeof *j);
    if (j == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory queueing a sweep");
    j->kind = SH__JOB_SWEEP;
    j->max_rows = max_rows;
    j->cb.count = cb;
    j->ctx = ctx;
    return submit(s, j);
}

/* Queues an owner request: the job carries copies of the request bytes and hashes and room for
 * the per-hash outputs (int64 expiries first, for alignment). */
static int submit_tomb(sh_store *s, const sh__store_tomb *t, sh_store_request_cb cb, void *ctx)
{
    size_t out_len = t->op == SH__TOMB_EXPIRE ? t->n * sizeof(int64_t)
                     : t->op == SH__TOMB_DELETE ? t->n * sizeof(bool) : 0;
    size_t hashes_len = t->n * SH_STORE_HASH_BYTES;
    sh__store_job *j;
    uint8_t *tail;
    int rc;

    if ((rc = check_can_submit(s)) != SH_OK)
        return rc;
    j = calloc(1, sizeof *j + out_len + hashes_len + t->req->len);
    if (j == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory queueing a request");
    j->kind = SH__JOB_TOMB;
    j->tomb = *t;
    j->req = *t->req;
    tail = (uint8_t *)(j + 1);
    if (t->op == SH__TOMB_EXPIRE)
        j->tomb.expiries = (int64_t *)(void *)tail;
    else if (t->op == SH__TOMB_DELETE)
        j->tomb.deleted = (bool *)tail;
    if (hashes_len > 0)
        memcpy(tail + out_len, t->hashes, hashes_len);
    j->tomb.hashes = (const uint8_t(*)[SH_STORE_HASH_BYTES])(tail + out_len);
    memcpy(tail + out_len + hashes_len, t->req->bytes, t->req->len);
    j->req.bytes = tail + out_len + hashes_len;
    j->tomb.req = &j->req;
    j->cb.request = cb;
    j->ctx = ctx;
    return submit(s, j);
}

int sh_store_submit_delete(sh_store *s, const sh_store_request *req,
                           const uint8_t (*hashes)[SH_STORE_HASH_BYTES], size_t n,
                           sh_store_request_cb cb, void *ctx)
{
    sh__store_tomb t = {.op = SH__TOMB_DELETE, .req = req, .hashes = hashes, .n = n};
    int rc = sh__store_tomb_check(s, &t);

    return rc != SH_OK ? rc : submit_tomb(s, &t, cb, ctx);
}

int sh_store_submit_delete_before(sh_store *s, const sh_store_request *req, int64_t before_ms,
                                  sh_store_request_cb cb, void *ctx)
{
    sh__store_tomb t = {.op = SH__TOMB_DELETE_BEFORE, .req = req, .before_ms = before_ms};
    int rc = sh__store_tomb_check(s, &t);

    return rc != SH_OK ? rc : submit_tomb(s, &t, cb, ctx);
}

int sh_store_submit_expire(sh_store *s, const sh_store_request *req,
                           const uint8_t (*hashes)[SH_STORE_HASH_BYTES], size_t n,
                           int64_t new_expiry_ms, sh_store_expire_mode mode,
                           sh_store_request_cb cb, void *ctx)
{
    sh__store_tomb t = {.op = SH__TOMB_EXPIRE, .req = req, .hashes = hashes, .n = n,
                        .new_expiry_ms = new_expiry_ms, .mode = mode};
    int rc = sh__store_tomb_check(s, &t);

    return rc != SH_OK ? rc : submit_tomb(s, &t, cb, ctx);
}

int sh__store_commit_start(sh_store *s)
{
    sh__store_handles *hs = calloc(1, sizeof *hs);

    if (hs == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory starting the store writer");
    if (uv_mutex_init(&s->queue_lock) != 0) {
        free(hs);
        return sh_err_set(SH_ERR_INTERNAL, "cannot create the store queue lock");
    }
    if (uv_cond_init(&s->queue_cond) != 0) {
        uv_mutex_destroy(&s->queue_lock);
        free(hs);
        return sh_err_set(SH_ERR_INTERNAL, "cannot create the store queue condition");
    }
    hs->store = s;
    uv_async_init(s->opts.loop, &hs->done_async, done_cb);
    uv_prepare_init(s->opts.loop, &hs->handoff);
    hs->done_async.data = hs->handoff.data = hs;
    hs->open_handles = 2;
    s->handles = hs;
    s->threaded = true;
    if (uv_thread_create(&s->writer, writer_main, s) != 0) {
        s->stopping = true; /* sh__store_commit_stop then skips the join */
        return sh_err_set(SH_ERR_INTERNAL, "cannot start the store writer thread");
    }
    return SH_OK;
}

void sh__store_commit_stop(sh_store *s)
{
    bool started;

    uv_mutex_lock(&s->queue_lock);
    started = !s->stopping;
    list_move_all(&s->queue, &s->submitted);
    s->stopping = true;
    uv_cond_signal(&s->queue_cond);
    uv_mutex_unlock(&s->queue_lock);
    if (started)
        uv_thread_join(&s->writer);
    deliver_done(s); /* callbacks may not submit again: s->stopping refuses them */
    s->handles->store = NULL;
    uv_prepare_stop(&s->handles->handoff);
    uv_close((uv_handle_t *)&s->handles->handoff, handle_closed_cb);
    uv_close((uv_handle_t *)&s->handles->done_async, handle_closed_cb);
    s->handles = NULL;
    uv_cond_destroy(&s->queue_cond);
    uv_mutex_destroy(&s->queue_lock);
    s->threaded = false;
}
