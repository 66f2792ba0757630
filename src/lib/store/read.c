/* Reads of the store on its read connection (the loop thread): get by hash, retrieve a page after a
 * cursor, and stats. WAL lets them run while the writer thread commits; every statement is reset
 * as soon as its rows are read, so no read transaction outlives the call (a lingering one would
 * stop checkpoints from resetting the WAL). Expired messages are never returned, swept or not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store_int.h"
#include "util/err.h"

static int append_col(sh_buf *b, sqlite3_stmt *st, int col)
{
    const void *p = sqlite3_column_blob(st, col);
    size_t len = (size_t)sqlite3_column_bytes(st, col);

    return len == 0 ? SH_OK : sh_buf_append(b, p, len);
}

int sh_store_get(sh_store *s, const uint8_t hash[static SH_STORE_HASH_BYTES], sh_store_msg *out,
                 sh_buf *buf)
{
    sqlite3_stmt *st = s->r.st[R_GET];
    bool found;
    int rc;

    sqlite3_bind_blob(st, 1, hash, SH_STORE_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, sh__store_now(s));
    if ((rc = sh__store_row(s->r.db, st, &found, "reading a message")) != SH_OK)
        return rc;
    if (!found)
        return sh_err_set(SH_ERR_NOT_FOUND, "no live message with that hash");
    memset(out, 0, sizeof *out);
    sh_buf_reset(buf);
    if (sqlite3_column_bytes(st, 0) != SH_STORE_OWNER_BYTES) {
        rc = sh_err_set(SH_ERR_INTERNAL, "an owner id in the store is not %d bytes",
                        SH_STORE_OWNER_BYTES);
        goto done;
    }
    memcpy(out->owner, sqlite3_column_blob(st, 0), SH_STORE_OWNER_BYTES);
    out->ns = (int16_t)sqlite3_column_int(st, 1);
    out->timestamp_ms = sqlite3_column_int64(st, 2);
    out->expiry_ms = sqlite3_column_int64(st, 3);
    out->data_len = (size_t)sqlite3_column_bytes(st, 4);
    out->slot_len = (size_t)sqlite3_column_bytes(st, 5);
    memcpy(out->hash, hash, SH_STORE_HASH_BYTES);
    if ((rc = append_col(buf, st, 4)) != SH_OK || (rc = append_col(buf, st, 5)) != SH_OK)
        goto done;
    out->data = buf->data;
    out->slot = out->slot_len > 0 ? buf->data + out->data_len : NULL;
done:
    sqlite3_reset(st);
    return rc;
}

void sh_store_page_free(sh_store_page *page)
{
    free(page->msgs);
    sh_buf_free(&page->arena);
    memset(page, 0, sizeof *page);
}

static int check_query(const sh_store_query *q)
{
    if (sh_store_ns_lookup(q->ns) == NULL)
        return sh_err_set(SH_ERR_INVALID, "namespace %d is unknown", q->ns);
    if (q->after.timestamp_ms < 0)
        return sh_err_set(SH_ERR_RANGE, "a cursor timestamp is never negative");
    if (q->max_count == 0 || q->max_count > SH_STORE_PAGE_MAX_COUNT)
        return sh_err_set(SH_ERR_LIMIT, "a page holds 1 to %u messages, not %u",
                          SH_STORE_PAGE_MAX_COUNT, q->max_count);
    if (q->max_bytes == 0 || q->max_bytes > SH_STORE_PAGE_MAX_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "a page holds 1 to %u bytes, not %u",
                          SH_STORE_PAGE_MAX_BYTES, q->max_bytes);
    return SH_OK;
}

/* Adds the current row to the page (data and slot into the arena; pointers are set at the end). */
static int add_row(sh_store_page *p, const sh_store_query *q, sqlite3_stmt *st, size_t *cap)
{
    sh_store_msg *m;
    int rc;

    if (p->count == *cap) {
        size_t next = *cap == 0 ? 16 : *cap * 2;
        sh_store_msg *grown = realloc(p->msgs, next * sizeof *grown);

        if (grown == NULL)
            return sh_err_set(SH_ERR_NOMEM, "out of memory reading a page");
        p->msgs = grown;
        *cap = next;
    }
    m = &p->msgs[p->count];
    memset(m, 0, sizeof *m);
    if (sqlite3_column_bytes(st, 0) != SH_STORE_HASH_BYTES)
        return sh_err_set(SH_ERR_INTERNAL, "a hash in the store is not %d bytes",
                          SH_STORE_HASH_BYTES);
    memcpy(m->hash, sqlite3_column_blob(st, 0), SH_STORE_HASH_BYTES);
    memcpy(m->owner, q->owner, SH_STORE_OWNER_BYTES);
    m->ns = q->ns;
    m->timestamp_ms = sqlite3_column_int64(st, 1);
    m->expiry_ms = sqlite3_column_int64(st, 2);
    m->data_len = (size_t)sqlite3_column_bytes(st, 3);
    m->slot_len = (size_t)sqlite3_column_bytes(st, 4);
    if ((rc = append_col(&p->arena, st, 3)) != SH_OK ||
        (rc = append_col(&p->arena, st, 4)) != SH_OK)
        return rc;
    p->count++;
    return SH_OK;
}

static void fix_pointers(sh_store_page *p)
{
    const uint8_t *at = p->arena.data;

    for (size_t i = 0; i < p->count; i++) {
        p->msgs[i].data = at;
        at += p->msgs[i].data_len;
        p->msgs[i].slot = p->msgs[i].slot_len > 0 ? at : NULL;
        at += p->msgs[i].slot_len;
    }
}

static int read_rows(sh_store *s, const sh_store_query *q, sqlite3_stmt *st, sh_store_page *p)
{
    size_t cap = 0, bytes = 0;
    int rc;

    /* Room for a typical page at once (grown like any buffer beyond that). */
    if ((rc = sh_buf_reserve(&p->arena, q->max_bytes < 65536 ? q->max_bytes : 65536)) != SH_OK)
        return rc;

    for (;;) {
        size_t len;

        rc = sh__store_step(st);
        if (rc == SQLITE_DONE)
            return SH_OK;
        if (rc != SQLITE_ROW)
            return sh__store_sql_fail(s->r.db, rc, "reading a page");
        len = (size_t)sqlite3_column_bytes(st, 3);
        if (p->count == q->max_count || (p->count > 0 && bytes + len > q->max_bytes)) {
            p->more = true;
            return SH_OK;
        }
        if ((rc = add_row(p, q, st, &cap)) != SH_OK)
            return rc;
        bytes += len;
    }
}

int sh_store_retrieve(sh_store *s, const sh_store_query *q, sh_store_page *out)
{
    static const uint8_t all_ff[SH_STORE_HASH_BYTES] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    sqlite3_stmt *st = s->r.st[R_PAGE];
    const sh_store_msg *last;
    int rc;

    memset(out, 0, sizeof *out);
    sh_buf_init(&out->arena);
    out->next = q->after;
    if ((rc = check_query(q)) != SH_OK)
        return rc;
    sqlite3_bind_blob(st, 1, q->owner, SH_STORE_OWNER_BYTES, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, q->ns);
    if (q->lookback) /* every message with ts >= after.ts - lookback */
        sqlite3_bind_int64(st, 3, q->after.timestamp_ms - s->opts.lookback_ms - 1);
    else
        sqlite3_bind_int64(st, 3, q->after.timestamp_ms);
    sqlite3_bind_blob(st, 4, q->lookback ? all_ff : q->after.hash, SH_STORE_HASH_BYTES,
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, sh__store_now(s));
    rc = read_rows(s, q, st, out);
    sqlite3_reset(st);
    if (rc != SH_OK)
        return rc;
    fix_pointers(out);
    if (out->count == 0)
        return SH_OK;
    last = &out->msgs[out->count - 1];
    /* Continue exactly after the last message while the page was cut short; otherwise never move
     * the cursor back (a look-back page may end before `after`). */
    if (out->more || sh__store_cursor_cmp(last->timestamp_ms, last->hash, q->after.timestamp_ms,
                                          q->after.hash) > 0) {
        out->next.timestamp_ms = last->timestamp_ms;
        memcpy(out->next.hash, last->hash, SH_STORE_HASH_BYTES);
    }
    return SH_OK;
}

static int stat_int(sh_store *s, int stmt, int col, int64_t *out)
{
    sqlite3_stmt *st = s->r.st[stmt];
    bool found;
    int rc;

    if ((rc = sh__store_row(s->r.db, st, &found, "reading stats")) != SH_OK)
        return rc;
    *out = found ? sqlite3_column_int64(st, col) : 0;
    if (found)
        sqlite3_reset(st);
    return SH_OK;
}

int sh_store_stats_get(sh_store *s, sh_store_stats *out)
{
    char wal[sizeof s->path + 8];
    int64_t msgs, bytes, owners, tombs, min_expiry, pages, now = sh__store_now(s);
    struct stat sb;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = stat_int(s, R_STATS_USAGE, 0, &msgs)) != SH_OK ||
        (rc = stat_int(s, R_STATS_USAGE, 1, &bytes)) != SH_OK ||
        (rc = stat_int(s, R_STATS_OWNERS, 0, &owners)) != SH_OK ||
        (rc = stat_int(s, R_STATS_TOMBS, 0, &tombs)) != SH_OK ||
        (rc = stat_int(s, R_STATS_MIN_EXPIRY, 0, &min_expiry)) != SH_OK ||
        (rc = stat_int(s, R_STATS_PAGES, 0, &pages)) != SH_OK)
        return rc;
    out->messages = (uint64_t)msgs;
    out->data_bytes = (uint64_t)bytes;
    out->owners = (uint64_t)owners;
    out->tombstones = (uint64_t)tombs;
    out->db_bytes = (uint64_t)pages;
    out->expiry_lag_ms = msgs > 0 && min_expiry < now ? now - min_expiry : 0;
    snprintf(wal, sizeof wal, "%s-wal", s->path);
    out->wal_bytes = stat(wal, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    out->batches_committed = atomic_load(&s->batches_committed);
    out->jobs_committed = atomic_load(&s->jobs_committed);
    out->batches_failed = atomic_load(&s->batches_failed);
    out->checkpoints = atomic_load(&s->checkpoints);
    return SH_OK;
}
