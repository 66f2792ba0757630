/* Whole-store scans off the loop thread (docs/swarm.md "Anti-entropy"): anti-entropy digests
 * and fetches and handover read every live entry of the store; they run on libuv's thread pool
 * over a second handle of the same database (SQLite WAL lets it read beside the writer), one
 * scan at a time, so the loop keeps answering clients and pushes meanwhile. A scan sees the
 * swarm through a view copied from the map when it was submitted (the swarm ids and ours), not
 * the map itself, which the loop may replace while the scan runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/join.h"
#include "util/err.h"
#include "util/fs.h"

typedef struct scan_job {
    uv_work_t w;
    struct scan_job *next;
    sh__node_scanner *sc;
    sh__node_view view;
    sh__node_scan_work_fn work;
    sh__node_scan_done_fn done;
    void *ctx;
    int status;
    char error[256];
} scan_job;

struct sh__node_scanner {
    sh_store *store; /* the second handle: used by the running job only */
    scan_job *head, **tail;
    bool running, closed;
};

bool sh__node_view_owner_swarm(const sh__node_view *v,
                               const uint8_t owner[static SH_STORE_OWNER_BYTES], uint64_t *id)
{
    return v->n != 0 &&
           sh_swarm_nearest(sh_swarm_space_position(owner + 1), v->ids, v->n, id) == SH_OK;
}

bool sh__node_view_owns(const sh__node_view *v, const uint8_t owner[static SH_STORE_OWNER_BYTES])
{
    uint64_t id;

    return v->in_swarm && sh__node_view_owner_swarm(v, owner, &id) && id == v->swarm_id;
}

static int view_of(sh_node *n, sh__node_view *v)
{
    const sh_dir_map *map = sh__node_map(n);
    const uint64_t *ids = map != NULL ? sh_dir_map_swarm_ids(map, &v->n) : NULL;

    v->n = ids != NULL ? v->n : 0;
    v->in_swarm = n->swarm->in_swarm && v->n != 0;
    v->swarm_id = n->swarm->swarm_id;
    if (v->n == 0)
        return SH_OK;
    if ((v->ids = malloc(v->n * sizeof *v->ids)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a scan");
    memcpy(v->ids, ids, v->n * sizeof *v->ids);
    return SH_OK;
}

static void run_job(uv_work_t *w)
{
    scan_job *j = w->data;

    j->status = j->work(j->sc->store, &j->view, j->ctx);
    if (j->status != SH_OK)
        snprintf(j->error, sizeof j->error, "%s", sh_err_msg());
}

static void start_next(sh__node_scanner *sc, uv_loop_t *loop);

static void job_done(uv_work_t *w, int status)
{
    scan_job *j = w->data;
    sh__node_scanner *sc = j->sc;
    uv_loop_t *loop = w->loop;

    sc->running = false;
    if (sc->closed || status != 0)
        j->done(j->ctx, SH_ERR_CANCELLED, "the node is stopping");
    else
        j->done(j->ctx, j->status, j->error);
    free(j->view.ids);
    free(j);
    start_next(sc, loop);
}

static void start_next(sh__node_scanner *sc, uv_loop_t *loop)
{
    scan_job *j = sc->head;

    if (sc->closed && !sc->running) {
        while ((j = sc->head) != NULL) {
            sc->head = j->next;
            j->done(j->ctx, SH_ERR_CANCELLED, "the node is stopping");
            free(j->view.ids);
            free(j);
        }
        sh_store_close(sc->store);
        free(sc);
        return;
    }
    if (sc->running || j == NULL)
        return;
    sc->head = j->next;
    if (sc->head == NULL)
        sc->tail = &sc->head;
    sc->running = true;
    j->w.data = j;
    if (uv_queue_work(loop, &j->w, run_job, job_done) != 0) {
        sc->running = false;
        j->done(j->ctx, sh_err_set(SH_ERR_INTERNAL, "cannot queue a scan"), sh_err_msg());
        free(j->view.ids);
        free(j);
        start_next(sc, loop);
    }
}

int sh__node_scan_submit(sh_node *n, sh__node_scan_work_fn work, sh__node_scan_done_fn done,
                         void *ctx)
{
    sh__node_scanner *sc = n->swarm != NULL ? n->swarm->scanner : NULL;
    scan_job *j;
    int rc;

    if (sc == NULL || sc->closed)
        return sh_err_set(SH_ERR_CANCELLED, "the node is stopping");
    if ((j = calloc(1, sizeof *j)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a scan");
    if ((rc = view_of(n, &j->view)) != SH_OK) {
        free(j);
        return rc;
    }
    *j = (scan_job){.sc = sc, .view = j->view, .work = work, .done = done, .ctx = ctx};
    *sc->tail = j;
    sc->tail = &j->next;
    start_next(sc, n->loop);
    return SH_OK;
}

int sh__node_scan_start(sh_node *n)
{
    sh__node_scanner *sc = calloc(1, sizeof *sc);
    sh_store_options o;
    char path[SH_NODE_PATH_BYTES];
    int rc;

    if (sc == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory starting anti-entropy");
    sc->tail = &sc->head;
    sh_store_options_default(&o); /* no loop: synchronous calls only, used from one thread */
    if ((rc = sh_fs_join(path, sizeof path, n->cfg.data_dir, SH_NODE_DB_FILE)) != SH_OK ||
        (rc = sh_store_open(path, &o, &sc->store)) != SH_OK) {
        free(sc);
        return rc;
    }
    n->swarm->scanner = sc;
    return SH_OK;
}

/* Queued scans end at once with SH_ERR_CANCELLED; the running one ends so when it returns;
 * the scanner frees itself after it. */
void sh__node_scan_close(sh_node *n)
{
    sh__node_scanner *sc = n->swarm != NULL ? n->swarm->scanner : NULL;

    if (sc == NULL)
        return;
    n->swarm->scanner = NULL;
    sc->closed = true;
    start_next(sc, n->loop);
}
