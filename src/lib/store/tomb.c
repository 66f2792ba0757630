/* Owner requests that change stored messages (overview.md "Signed requests"): delete by hashes,
 * delete everything before a bound, and TTL changes. Each leaves tombstones that carry the signed
 * request (opaque here) and live until the messages they concern would have expired, so a stale
 * copy arriving later (replication, anti-entropy) is refused or gets the new expiry instead of
 * bringing a deleted message back. Between two requests for one hash a delete always wins, and
 * otherwise the request with the later signed timestamp. */
#include <string.h>

#include "store/store_int.h"
#include "util/err.h"

int sh__store_tomb_check(const sh_store *s, const sh__store_tomb *t)
{
    const sh_store_request *req = t->req;
    const sh_ns_info *ns = sh_store_ns_lookup(req->ns);
    bool with_hashes = t->op != SH__TOMB_DELETE_BEFORE;
    int64_t now = sh__store_now(s), horizon;

    if (ns == NULL)
        return sh_err_set(SH_ERR_INVALID, "namespace %d is unknown", req->ns);
    if (req->bytes == NULL || req->len == 0 || req->len > SH_STORE_MAX_REQUEST_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "a signed request of 1 to %u bytes must be kept, not %zu",
                          SH_STORE_MAX_REQUEST_BYTES, req->len);
    if (with_hashes && (t->n == 0 || t->n > SH_STORE_MAX_HASHES_PER_REQUEST))
        return sh_err_set(SH_ERR_LIMIT, "a request names 1 to %u hashes, not %zu",
                          SH_STORE_MAX_HASHES_PER_REQUEST, t->n);
    if (t->op != SH__TOMB_EXPIRE)
        return SH_OK;
    if (t->mode != SH_STORE_EXPIRE_SET && t->mode != SH_STORE_EXPIRE_SHORTEN_ONLY &&
        t->mode != SH_STORE_EXPIRE_EXTEND_ONLY)
        return sh_err_set(SH_ERR_INVALID, "unknown expire mode %d", (int)t->mode);
    horizon = now + ns->max_ttl_ms + s->opts.max_future_ms;
    if (t->new_expiry_ms < now || t->new_expiry_ms > horizon)
        return sh_err_set(SH_ERR_RANGE, "a new expiry must lie between now and %lld ms from now "
                          "(namespace %d's max TTL), not %lld ms from now",
                          (long long)(horizon - now), req->ns, (long long)(t->new_expiry_ms - now));
    return SH_OK;
}

/* Adds the owner (if new) and the request row; its `until` is raised by finish_request. */
static int begin_request(sh_store *s, sh__store_tomb *a)
{
    sqlite3_stmt *st = s->w.st[W_REQ_INSERT];
    int rc;

    if ((rc = sh__store_owner_id(s, a->req->owner, true, &a->oid)) != SH_OK)
        return rc;
    sqlite3_bind_blob(st, 1, a->req->bytes, (int)a->req->len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, a->now);
    if ((rc = sh__store_run(s->w.db, st, "keeping a signed request")) != SH_OK)
        return rc;
    a->req_id = sqlite3_last_insert_rowid(s->w.db);
    a->req_until = a->now;
    return SH_OK;
}

static int finish_request(sh_store *s, sh__store_tomb *a)
{
    sqlite3_stmt *st = s->w.st[W_REQ_SET_UNTIL];

    sqlite3_bind_int64(st, 1, a->req_id);
    sqlite3_bind_int64(st, 2, a->req_until);
    return sh__store_run(s->w.db, st, "keeping a signed request");
}

/* The owner's message with this hash: *id = 0 when it is not here. */
static int find_owned(sh_store *s, const sh__store_tomb *a, const uint8_t *hash, int64_t *id,
                      int64_t *expiry)
{
    sqlite3_stmt *st = s->w.st[W_MSG_FIND_OWNED];
    bool found;
    int rc;

    sqlite3_bind_blob(st, 1, hash, SH_STORE_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, a->oid);
    sqlite3_bind_int(st, 3, a->req->ns);
    if ((rc = sh__store_row(s->w.db, st, &found, "finding a message")) != SH_OK)
        return rc;
    *id = found ? sqlite3_column_int64(st, 0) : 0;
    *expiry = found ? sqlite3_column_int64(st, 1) : 0;
    if (found)
        sqlite3_reset(st);
    return SH_OK;
}

/* The live tombstone for the hash: *kind = 0 when none. */
static int existing_tomb(sh_store *s, const sh__store_tomb *a, const uint8_t *hash, int *kind,
                         int64_t *req_ts, int64_t *until)
{
    sqlite3_stmt *st = s->w.st[W_TOMB_GET];
    bool found;
    int rc;

    sqlite3_bind_blob(st, 1, hash, SH_STORE_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, a->oid);
    sqlite3_bind_int(st, 3, a->req->ns);
    sqlite3_bind_int64(st, 4, a->now);
    if ((rc = sh__store_row(s->w.db, st, &found, "reading a tombstone")) != SH_OK)
        return rc;
    *kind = found ? sqlite3_column_int(st, 0) : 0;
    *req_ts = found ? sqlite3_column_int64(st, 3) : 0;
    *until = found ? sqlite3_column_int64(st, 4) : 0;
    if (found)
        sqlite3_reset(st);
    return SH_OK;
}

static int write_tomb(sh_store *s, sh__store_tomb *a, const uint8_t *hash,
                      sh_store_tombstone_kind kind, int64_t until)
{
    sqlite3_stmt *st = s->w.st[W_TOMB_PUT];

    sqlite3_bind_blob(st, 1, hash, SH_STORE_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, a->oid);
    sqlite3_bind_int(st, 3, a->req->ns);
    sqlite3_bind_int(st, 4, kind);
    sqlite3_bind_int(st, 5, kind == SH_STORE_TOMB_EXPIRE ? a->mode : 0);
    sqlite3_bind_int64(st, 6, kind == SH_STORE_TOMB_EXPIRE ? a->new_expiry_ms : 0);
    sqlite3_bind_int64(st, 7, a->req->timestamp_ms);
    sqlite3_bind_int64(st, 8, until);
    sqlite3_bind_int64(st, 9, a->req_id);
    if (until > a->req_until)
        a->req_until = until;
    return sh__store_run(s->w.db, st, "writing a tombstone");
}

static int delete_id(sh_store *s, int64_t id)
{
    sqlite3_stmt *st = s->w.st[W_MSG_DELETE_ID];

    sqlite3_bind_int64(st, 1, id);
    return sh__store_run(s->w.db, st, "deleting a message");
}

static int delete_one(sh_store *s, sh__store_tomb *a, size_t i)
{
    const uint8_t *hash = a->hashes[i];
    int64_t id, expiry, old_ts, old_until, until = a->horizon;
    int rc, old_kind;

    if ((rc = find_owned(s, a, hash, &id, &expiry)) != SH_OK ||
        (rc = existing_tomb(s, a, hash, &old_kind, &old_ts, &old_until)) != SH_OK)
        return rc;
    if (id != 0) {
        if ((rc = delete_id(s, id)) != SH_OK)
            return rc;
        until = expiry;
        a->count++;
    }
    if (a->deleted != NULL)
        a->deleted[i] = id != 0;
    if (old_kind != 0 && old_until > until)
        until = old_until;
    return write_tomb(s, a, hash, SH_STORE_TOMB_DELETE, until);
}

static int delete_tx(sh_store *s, sh__store_tomb *a)
{
    int rc;

    if ((rc = begin_request(s, a)) != SH_OK)
        return rc;
    for (size_t i = 0; i < a->n; i++)
        if ((rc = delete_one(s, a, i)) != SH_OK)
            return rc;
    return finish_request(s, a);
}

static int delete_before_tx(sh_store *s, sh__store_tomb *a)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = begin_request(s, a)) != SH_OK)
        return rc;
    st = s->w.st[W_DELETE_BEFORE];
    sqlite3_bind_int64(st, 1, a->oid);
    sqlite3_bind_int(st, 2, a->req->ns);
    sqlite3_bind_int64(st, 3, a->before_ms);
    if ((rc = sh__store_run(s->w.db, st, "deleting messages before a bound")) != SH_OK)
        return rc;
    a->count = (uint64_t)sqlite3_changes(s->w.db);
    st = s->w.st[W_RANGE_INSERT];
    sqlite3_bind_int64(st, 1, a->oid);
    sqlite3_bind_int(st, 2, a->req->ns);
    sqlite3_bind_int64(st, 3, a->before_ms);
    sqlite3_bind_int64(st, 4, a->req->timestamp_ms);
    sqlite3_bind_int64(st, 5, a->horizon);
    sqlite3_bind_int64(st, 6, a->req_id);
    if ((rc = sh__store_run(s->w.db, st, "writing a range tombstone")) != SH_OK)
        return rc;
    a->req_until = a->horizon;
    return finish_request(s, a);
}

static int expire_one(sh_store *s, sh__store_tomb *a, size_t i)
{
    const uint8_t *hash = a->hashes[i];
    int64_t id, expiry, next, old_ts, old_until, until = a->horizon;
    int rc, old_kind;

    if ((rc = find_owned(s, a, hash, &id, &expiry)) != SH_OK ||
        (rc = existing_tomb(s, a, hash, &old_kind, &old_ts, &old_until)) != SH_OK)
        return rc;
    if (a->expiries != NULL)
        a->expiries[i] = expiry;
    /* A delete, or a later TTL change, of this hash wins over this request. */
    if (old_kind == SH_STORE_TOMB_DELETE || (old_kind != 0 && old_ts > a->req->timestamp_ms))
        return SH_OK;
    if (id != 0) {
        next = sh__store_apply_expire_mode(a->mode, expiry, a->new_expiry_ms);
        if (next != expiry) {
            sqlite3_stmt *st = s->w.st[W_MSG_SET_EXPIRY];

            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_int64(st, 2, next);
            if ((rc = sh__store_run(s->w.db, st, "changing an expiry")) != SH_OK)
                return rc;
            a->count++;
        }
        if (a->expiries != NULL)
            a->expiries[i] = next;
        until = next > expiry ? next : expiry;
    }
    if (old_kind != 0 && old_until > until)
        until = old_until;
    return write_tomb(s, a, hash, SH_STORE_TOMB_EXPIRE, until);
}

static int expire_tx(sh_store *s, sh__store_tomb *a)
{
    int rc;

    if ((rc = begin_request(s, a)) != SH_OK)
        return rc;
    for (size_t i = 0; i < a->n; i++)
        if ((rc = expire_one(s, a, i)) != SH_OK)
            return rc;
    return finish_request(s, a);
}

int sh__store_tomb_tx(sh_store *s, sh__store_tomb *t, int64_t now)
{
    const sh_ns_info *ns = sh_store_ns_lookup(t->req->ns);

    t->now = now;
    t->horizon = now + ns->max_ttl_ms + s->opts.max_future_ms;
    t->count = 0;
    if (t->op == SH__TOMB_DELETE)
        return delete_tx(s, t);
    if (t->op == SH__TOMB_DELETE_BEFORE)
        return delete_before_tx(s, t);
    return expire_tx(s, t);
}

static int tomb_fn(sh_store *s, void *arg)
{
    return sh__store_tomb_tx(s, arg, sh__store_now(s));
}

static int run_sync(sh_store *s, sh__store_tomb *t)
{
    int rc = sh__store_tomb_check(s, t);

    return rc != SH_OK ? rc : sh__store_write_tx(s, tomb_fn, t);
}

int sh_store_delete(sh_store *s, const sh_store_request *req,
                    const uint8_t (*hashes)[SH_STORE_HASH_BYTES], size_t n, bool *deleted,
                    uint64_t *count)
{
    sh__store_tomb t = {.op = SH__TOMB_DELETE, .req = req, .hashes = hashes, .n = n,
                        .deleted = deleted};
    int rc = run_sync(s, &t);

    if (rc == SH_OK && count != NULL)
        *count = t.count;
    return rc;
}

int sh_store_delete_before(sh_store *s, const sh_store_request *req, int64_t before_ms,
                           uint64_t *count)
{
    sh__store_tomb t = {.op = SH__TOMB_DELETE_BEFORE, .req = req, .before_ms = before_ms};
    int rc = run_sync(s, &t);

    if (rc == SH_OK && count != NULL)
        *count = t.count;
    return rc;
}

int sh_store_expire(sh_store *s, const sh_store_request *req,
                    const uint8_t (*hashes)[SH_STORE_HASH_BYTES], size_t n, int64_t new_expiry_ms,
                    sh_store_expire_mode mode, int64_t *expiries)
{
    sh__store_tomb t = {.op = SH__TOMB_EXPIRE, .req = req, .hashes = hashes, .n = n,
                        .expiries = expiries, .new_expiry_ms = new_expiry_ms, .mode = mode};

    return run_sync(s, &t);
}

int sh_store_tombstone_get(sh_store *s, const uint8_t owner[static SH_STORE_OWNER_BYTES],
                           int16_t ns, const uint8_t hash[static SH_STORE_HASH_BYTES],
                           sh_store_tombstone *out, sh_buf *request)
{
    sqlite3_stmt *st;
    int64_t oid = 0;
    bool found;
    int rc;

    st = s->r.st[R_OWNER_FIND];
    sqlite3_bind_blob(st, 1, owner, SH_STORE_OWNER_BYTES, SQLITE_STATIC);
    if ((rc = sh__store_row(s->r.db, st, &found, "finding an owner")) != SH_OK)
        return rc;
    if (found) {
        oid = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    st = s->r.st[R_TOMB_GET];
    sqlite3_bind_blob(st, 1, hash, SH_STORE_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, oid);
    sqlite3_bind_int(st, 3, ns);
    sqlite3_bind_int64(st, 4, sh__store_now(s));
    if ((rc = sh__store_row(s->r.db, st, &found, "reading a tombstone")) != SH_OK)
        return rc;
    if (!found)
        return sh_err_set(SH_ERR_NOT_FOUND, "no tombstone for that message");
    memset(out, 0, sizeof *out);
    out->kind = (sh_store_tombstone_kind)sqlite3_column_int(st, 0);
    out->mode = (sh_store_expire_mode)sqlite3_column_int(st, 1);
    out->new_expiry_ms = sqlite3_column_int64(st, 2);
    out->request_ts_ms = sqlite3_column_int64(st, 3);
    out->until_ms = sqlite3_column_int64(st, 4);
    if (request != NULL) {
        const void *body = sqlite3_column_blob(st, 5);
        size_t len = (size_t)sqlite3_column_bytes(st, 5);

        sh_buf_reset(request);
        if (body != NULL && len > 0)
            rc = sh_buf_append(request, body, len);
    }
    sqlite3_reset(st);
    return rc;
}
