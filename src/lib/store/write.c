/* Writes of the store: put (dedupe, tombstones, single slots, per-namespace limits), and the
 * expiry sweeper. Each *_tx function runs inside a transaction the caller opened on the writer
 * connection (sh__store_write_tx for the synchronous calls, a group-commit batch in commit.c).
 * Every refusal (full, deleted, superseded) is decided before the message or a slot changes, so a
 * job that refuses leaves nothing behind but expired messages it dropped to make room; any SQLite
 * error fails the whole transaction. */
#include <string.h>

#include "store/store_int.h"
#include "util/err.h"

int sh__store_write_tx(sh_store *s, int (*fn)(sh_store *, void *), void *arg)
{
    int rc;

    uv_mutex_lock(&s->write_lock);
    rc = sh__store_run(s->w.db, s->w.st[W_BEGIN], "beginning a write");
    if (rc == SH_OK)
        rc = fn(s, arg);
    if (rc == SH_OK)
        rc = sh__store_commit(&s->w);
    if (rc != SH_OK)
        sh__store_rollback(&s->w);
    uv_mutex_unlock(&s->write_lock);
    return rc;
}

int sh__store_check_msg(const sh_store *s, const sh_store_msg *msg, int64_t now)
{
    const sh_ns_info *ns = sh_store_ns_lookup(msg->ns);
    int64_t latest_expiry;

    if (ns == NULL)
        return sh_err_set(SH_ERR_INVALID, "namespace %d is unknown", msg->ns);
    if (msg->data_len > SH_STORE_MAX_DATA_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "message data is %zu bytes; at most %d are stored",
                          msg->data_len, SH_STORE_MAX_DATA_BYTES);
    if (msg->data == NULL && msg->data_len != 0)
        return sh_err_set(SH_ERR_INVALID, "message data is missing");
    if (ns->slots == SH_NS_SLOTS_PER_DEVICE &&
        (msg->slot == NULL || msg->slot_len == 0 || msg->slot_len > SH_STORE_MAX_SLOT_BYTES))
        return sh_err_set(SH_ERR_INVALID, "namespace %d needs a slot key of 1 to %d bytes", msg->ns,
                          SH_STORE_MAX_SLOT_BYTES);
    if (ns->slots != SH_NS_SLOTS_PER_DEVICE && (msg->slot != NULL || msg->slot_len != 0))
        return sh_err_set(SH_ERR_INVALID, "namespace %d takes no slot key", msg->ns);
    if (msg->timestamp_ms < 0)
        return sh_err_set(SH_ERR_RANGE, "message timestamp %lld is negative",
                          (long long)msg->timestamp_ms);
    if (msg->timestamp_ms > now + s->opts.max_future_ms)
        return sh_err_set(SH_ERR_STALE, "message timestamp is %lld ms ahead of this node's clock; "
                          "at most %lld are allowed", (long long)(msg->timestamp_ms - now),
                          (long long)s->opts.max_future_ms);
    if (msg->expiry_ms <= now)
        return sh_err_set(SH_ERR_STALE, "message expired %lld ms ago",
                          (long long)(now - msg->expiry_ms));
    if (msg->expiry_ms <= msg->timestamp_ms)
        return sh_err_set(SH_ERR_RANGE, "message expiry is not after its timestamp");
    latest_expiry = now + ns->max_ttl_ms + s->opts.max_future_ms;
    if (msg->expiry_ms > latest_expiry)
        return sh_err_set(SH_ERR_RANGE,
                          "message expiry is %lld ms beyond namespace %d's max TTL of %lld ms",
                          (long long)(msg->expiry_ms - latest_expiry), msg->ns,
                          (long long)ns->max_ttl_ms);
    return SH_OK;
}

/* *out = the owner's row id, or 0 when the owner is not in the table (and !create). */
int sh__store_owner_id(sh_store *s, const uint8_t owner[static SH_STORE_OWNER_BYTES], bool create,
                    int64_t *out)
{
    sqlite3_stmt *st = s->w.st[W_OWNER_FIND];
    bool found;
    int rc;

    sqlite3_bind_blob(st, 1, owner, SH_STORE_OWNER_BYTES, SQLITE_STATIC);
    if ((rc = sh__store_row(s->w.db, st, &found, "finding an owner")) != SH_OK)
        return rc;
    *out = found ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (found || !create)
        return SH_OK;
    st = s->w.st[W_OWNER_INSERT];
    sqlite3_bind_blob(st, 1, owner, SH_STORE_OWNER_BYTES, SQLITE_STATIC);
    if ((rc = sh__store_run(s->w.db, st, "adding an owner")) != SH_OK)
        return rc;
    *out = sqlite3_last_insert_rowid(s->w.db);
    return SH_OK;
}

int64_t sh__store_apply_expire_mode(sh_store_expire_mode mode, int64_t current, int64_t wanted)
{
    if (mode == SH_STORE_EXPIRE_SHORTEN_ONLY)
        return wanted < current ? wanted : current;
    if (mode == SH_STORE_EXPIRE_EXTEND_ONLY)
        return wanted > current ? wanted : current;
    return wanted;
}

/* Tombstones of an existing owner: a delete (per hash or by range) refuses the message; a TTL
 * change rewrites its expiry. */
static int check_tombstones(sh_store *s, sh_store_msg *msg, int64_t oid, int64_t now, bool *deleted)
{
    sqlite3_stmt *st = s->w.st[W_TOMB_GET];
    bool found;
    int rc;

    *deleted = false;
    sqlite3_bind_blob(st, 1, msg->hash, SH_STORE_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, oid);
    sqlite3_bind_int(st, 3, msg->ns);
    sqlite3_bind_int64(st, 4, now);
    if ((rc = sh__store_row(s->w.db, st, &found, "reading a tombstone")) != SH_OK)
        return rc;
    if (found) {
        if (sqlite3_column_int(st, 0) == SH_STORE_TOMB_DELETE)
            *deleted = true;
        else
            msg->expiry_ms = sh__store_apply_expire_mode(
                (sh_store_expire_mode)sqlite3_column_int(st, 1), msg->expiry_ms,
                sqlite3_column_int64(st, 2));
        sqlite3_reset(st);
        if (*deleted)
            return SH_OK;
    }
    st = s->w.st[W_RANGE_COVERS];
    sqlite3_bind_int64(st, 1, oid);
    sqlite3_bind_int(st, 2, msg->ns);
    sqlite3_bind_int64(st, 3, msg->timestamp_ms);
    sqlite3_bind_int64(st, 4, now);
    if ((rc = sh__store_row(s->w.db, st, &found, "reading range tombstones")) != SH_OK)
        return rc;
    if (found) {
        *deleted = true;
        sqlite3_reset(st);
    }
    return SH_OK;
}

/* A single-slot namespace keeps the newest message by (timestamp, hash) in each slot. Finds the
 * slot's message: *old_id = 0 when the slot is empty; *superseded when it is newer than msg. */
static int find_slot(sh_store *s, const sh_store_msg *msg, int64_t oid, int64_t *old_id,
                     int64_t *old_len, bool *superseded)
{
    static const uint8_t empty_slot[1];
    sqlite3_stmt *st = s->w.st[W_SLOT_GET];
    bool found;
    int rc;

    *old_id = 0;
    *old_len = 0;
    *superseded = false;
    sqlite3_bind_int64(st, 1, oid);
    sqlite3_bind_int(st, 2, msg->ns);
    sqlite3_bind_blob(st, 3, msg->slot != NULL ? msg->slot : empty_slot, (int)msg->slot_len,
                      SQLITE_STATIC);
    if ((rc = sh__store_row(s->w.db, st, &found, "reading a slot")) != SH_OK || !found)
        return rc;
    *old_id = sqlite3_column_int64(st, 0);
    *old_len = sqlite3_column_int64(st, 3);
    *superseded = sqlite3_column_bytes(st, 2) != SH_STORE_HASH_BYTES ||
                  sh__store_cursor_cmp(sqlite3_column_int64(st, 1), sqlite3_column_blob(st, 2),
                                       msg->timestamp_ms, msg->hash) >= 0;
    sqlite3_reset(st);
    return SH_OK;
}

static int read_usage(sh_store *s, int64_t oid, int16_t ns, int64_t *count, int64_t *bytes)
{
    sqlite3_stmt *st = s->w.st[W_USAGE_GET];
    bool found;
    int rc;

    sqlite3_bind_int64(st, 1, oid);
    sqlite3_bind_int(st, 2, ns);
    if ((rc = sh__store_row(s->w.db, st, &found, "reading usage")) != SH_OK)
        return rc;
    *count = found ? sqlite3_column_int64(st, 0) : 0;
    *bytes = found ? sqlite3_column_int64(st, 1) : 0;
    if (found)
        sqlite3_reset(st);
    return SH_OK;
}

/* SH_ERR_FULL when one more message of data_len bytes would pass a limit, after dropping the
 * namespace's expired (never its live) messages. The message it replaces (row old_id, freed_len
 * bytes; old_id 0: none) does not count, and is left for the caller to delete. */
static int check_room(sh_store *s, int64_t oid, int16_t ns, size_t data_len, int64_t old_id,
                      int64_t freed_len, int64_t now)
{
    int64_t count, bytes;
    int rc;

    for (int pass = 0; pass < 2; pass++) {
        if ((rc = read_usage(s, oid, ns, &count, &bytes)) != SH_OK)
            return rc;
        if (old_id != 0) {
            count--;
            bytes -= freed_len;
        }
        if ((uint64_t)count + 1 <= s->opts.max_msgs_per_ns &&
            (uint64_t)bytes + data_len <= s->opts.max_bytes_per_ns)
            return SH_OK;
        if (pass == 0) {
            sqlite3_stmt *st = s->w.st[W_PURGE_EXPIRED_NS];

            sqlite3_bind_int64(st, 1, oid);
            sqlite3_bind_int(st, 2, ns);
            sqlite3_bind_int64(st, 3, now);
            sqlite3_bind_int64(st, 4, old_id);
            if ((rc = sh__store_run(s->w.db, st, "dropping expired messages")) != SH_OK)
                return rc;
        }
    }
    if ((uint64_t)count + 1 > s->opts.max_msgs_per_ns)
        return sh_err_set(SH_ERR_FULL, "namespace %d of this owner holds %lld messages, the most "
                          "it may; nothing is evicted", ns, (long long)count);
    return sh_err_set(SH_ERR_FULL,
                      "namespace %d of this owner holds %lld bytes; %zu more would pass its limit "
                      "of %llu", ns, (long long)bytes, data_len,
                      (unsigned long long)s->opts.max_bytes_per_ns);
}

static int delete_by_id(sh_store *s, int64_t id)
{
    sqlite3_stmt *st = s->w.st[W_MSG_DELETE_ID];

    sqlite3_bind_int64(st, 1, id);
    return sh__store_run(s->w.db, st, "replacing a slot's message");
}

static int insert_msg(sh_store *s, const sh_store_msg *msg, int64_t oid)
{
    static const uint8_t empty[1];
    const sh_ns_info *ns = sh_store_ns_lookup(msg->ns);
    sqlite3_stmt *st = s->w.st[W_MSG_INSERT];

    sqlite3_bind_blob(st, 1, msg->hash, SH_STORE_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, oid);
    sqlite3_bind_int(st, 3, msg->ns);
    sqlite3_bind_int64(st, 4, msg->timestamp_ms);
    sqlite3_bind_int64(st, 5, msg->expiry_ms);
    sqlite3_bind_blob(st, 6, msg->data != NULL ? msg->data : empty, (int)msg->data_len,
                      SQLITE_STATIC);
    if (ns->slots == SH_NS_SLOTS_NONE)
        sqlite3_bind_null(st, 7);
    else
        sqlite3_bind_blob(st, 7, msg->slot != NULL ? msg->slot : empty, (int)msg->slot_len,
                          SQLITE_STATIC);
    return sh__store_run(s->w.db, st, "inserting a message");
}

int sh__store_put_tx(sh_store *s, sh_store_msg *msg, int64_t now, sh_store_outcome *outcome)
{
    sqlite3_stmt *st = s->w.st[W_MSG_EXISTS];
    int64_t oid, old_id = 0, old_len = 0;
    bool found, refused;
    int rc;

    sqlite3_bind_blob(st, 1, msg->hash, SH_STORE_HASH_BYTES, SQLITE_STATIC);
    if ((rc = sh__store_row(s->w.db, st, &found, "looking up a message")) != SH_OK)
        return rc;
    if (found) {
        sqlite3_reset(st);
        *outcome = SH_STORE_DUPLICATE;
        return SH_OK;
    }
    if ((rc = sh__store_owner_id(s, msg->owner, false, &oid)) != SH_OK)
        return rc;
    if (oid != 0) {
        if ((rc = check_tombstones(s, msg, oid, now, &refused)) != SH_OK)
            return rc;
        if (refused) {
            *outcome = SH_STORE_DELETED;
            return SH_OK;
        }
    } else if ((rc = sh__store_owner_id(s, msg->owner, true, &oid)) != SH_OK) {
        return rc;
    }
    if (sh_store_ns_lookup(msg->ns)->slots != SH_NS_SLOTS_NONE) {
        if ((rc = find_slot(s, msg, oid, &old_id, &old_len, &refused)) != SH_OK)
            return rc;
        if (refused) {
            *outcome = SH_STORE_SUPERSEDED;
            return SH_OK;
        }
    }
    /* Room is checked before the slot's old message goes, so a refusal loses nothing. */
    if ((rc = check_room(s, oid, msg->ns, msg->data_len, old_id, old_len, now)) != SH_OK)
        return rc;
    if (old_id != 0 && (rc = delete_by_id(s, old_id)) != SH_OK)
        return rc;
    if ((rc = insert_msg(s, msg, oid)) != SH_OK)
        return rc;
    *outcome = SH_STORE_STORED;
    return SH_OK;
}

typedef struct put_args {
    sh_store_msg *msg;
    int64_t now;
    sh_store_outcome outcome;
} put_args;

static int put_fn(sh_store *s, void *arg)
{
    put_args *a = arg;

    return sh__store_put_tx(s, a->msg, a->now, &a->outcome);
}

int sh_store_put(sh_store *s, sh_store_msg *msg, sh_store_outcome *outcome)
{
    put_args a = {.msg = msg, .now = sh__store_now(s)};
    sh_store_msg copy;
    int rc = sh__store_check_msg(s, msg, a.now);

    if (rc != SH_OK)
        return rc;
    sh_store_msg_hash(msg->hash, msg->owner, msg->ns, msg->data, msg->data_len);
    copy = *msg; /* a tombstone may rewrite the expiry; the caller's message stays as given */
    a.msg = &copy;
    rc = sh__store_write_tx(s, put_fn, &a);
    if (rc == SH_OK)
        *outcome = a.outcome;
    return rc;
}

/* Deletes up to (max_rows - *removed) expired rows with one statement. */
static int sweep_one(sh_store *s, int stmt, uint32_t max_rows, int64_t now, uint64_t *removed,
                     const char *what)
{
    sqlite3_stmt *st = s->w.st[stmt];
    int rc;

    if (*removed >= max_rows)
        return SH_OK;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, (int64_t)(max_rows - *removed));
    if ((rc = sh__store_run(s->w.db, st, what)) != SH_OK)
        return rc;
    *removed += (uint64_t)sqlite3_changes(s->w.db);
    return SH_OK;
}

/* Expired messages first, then expired tombstones, then the requests they carried: at most
 * max_rows rows in all, so a sweep never holds the write lock for long. */
int sh__store_sweep_tx(sh_store *s, uint32_t max_rows, int64_t now, uint64_t *removed)
{
    static const int order[] = {W_SWEEP_MSGS, W_SWEEP_TOMBS, W_SWEEP_RANGES, W_SWEEP_REQS};
    int rc;

    *removed = 0;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if ((rc = sweep_one(s, order[i], max_rows, now, removed, "sweeping expired rows")) != SH_OK)
            return rc;
    return SH_OK;
}

typedef struct sweep_args {
    uint32_t max_rows;
    uint64_t removed;
} sweep_args;

static int sweep_fn(sh_store *s, void *arg)
{
    sweep_args *a = arg;

    return sh__store_sweep_tx(s, a->max_rows, sh__store_now(s), &a->removed);
}

int sh_store_sweep(sh_store *s, uint32_t max_rows, uint64_t *removed)
{
    sweep_args a = {.max_rows = max_rows};
    int rc;

    if (max_rows == 0 || max_rows > SH_STORE_SWEEP_MAX_ROWS)
        return sh_err_set(SH_ERR_LIMIT, "a sweep removes 1 to %u rows, not %u",
                          SH_STORE_SWEEP_MAX_ROWS, max_rows);
    rc = sh__store_write_tx(s, sweep_fn, &a);
    if (rc == SH_OK)
        *removed = a.removed;
    return rc;
}
