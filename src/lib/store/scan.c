/* Every live entry of the store, for anti-entropy and handover between swarm members (node
 * module, docs/swarm.md "Anti-entropy"): the live messages, and the live owner requests (the
 * signed delete and expire calls that tombstones keep), each named by a 32-byte id (a
 * message's hash; BLAKE2b-256 of a request's bytes), so that two members holding the same
 * entries compute the same digests. Runs on the read connection (loop thread); every
 * statement is prepared, stepped to its end and finalized within the call. */
#include <sodium.h>
#include <string.h>

#include "store/store_int.h"
#include "util/err.h"

static const char *const msg_sql[2] = {
    "SELECT o.pubkey, m.ns, m.ts, m.expiry, m.hash, length(m.data) FROM messages m"
    " JOIN owners o ON o.id = m.owner WHERE m.expiry > ?1",
    "SELECT o.pubkey, m.ns, m.ts, m.expiry, m.hash, length(m.data), m.data, m.slot"
    " FROM messages m JOIN owners o ON o.id = m.owner WHERE m.expiry > ?1",
};

static const char *const req_sql =
    "SELECT o.pubkey, t.ns, t.request_ts, r.until, r.body FROM requests r"
    " JOIN (SELECT request, owner, ns, request_ts FROM tombstones"
    "       UNION SELECT request, owner, ns, request_ts FROM range_tombstones) t"
    " ON t.request = r.id JOIN owners o ON o.id = t.owner"
    " WHERE r.until > ?1 GROUP BY r.id";

static int fill_common(sqlite3_stmt *st, sh_store_entry *e)
{
    if (sqlite3_column_bytes(st, 0) != SH_STORE_OWNER_BYTES)
        return sh_err_set(SH_ERR_INTERNAL, "an owner id in the store is not %d bytes",
                          SH_STORE_OWNER_BYTES);
    memcpy(e->owner, sqlite3_column_blob(st, 0), SH_STORE_OWNER_BYTES);
    e->ns = (int16_t)sqlite3_column_int(st, 1);
    e->timestamp_ms = sqlite3_column_int64(st, 2);
    e->expiry_ms = sqlite3_column_int64(st, 3);
    return SH_OK;
}

static int scan_rows(sh_store *s, const char *sql, bool is_request, bool with_data,
                     sh_store_entry_cb cb, void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->r.db, sql, -1, &st, NULL), step;

    if (rc != SQLITE_OK)
        return sh__store_sql_fail(s->r.db, rc, "preparing a scan");
    sqlite3_bind_int64(st, 1, sh__store_now(s));
    rc = SH_OK;
    while (rc == SH_OK && (step = sh__store_step(st)) == SQLITE_ROW) {
        sh_store_entry e = {.is_request = is_request};
        if ((rc = fill_common(st, &e)) != SH_OK)
            break;
        if (is_request) {
            e.data = sqlite3_column_blob(st, 4);
            e.data_len = (size_t)sqlite3_column_bytes(st, 4);
            e.size = e.data_len;
            crypto_generichash(e.id, sizeof e.id, e.data, e.data_len, NULL, 0);
        } else {
            if (sqlite3_column_bytes(st, 4) != SH_STORE_HASH_BYTES)
                break;
            memcpy(e.id, sqlite3_column_blob(st, 4), SH_STORE_HASH_BYTES);
            e.size = (size_t)sqlite3_column_int64(st, 5);
            if (with_data) {
                e.data = sqlite3_column_blob(st, 6);
                e.data_len = (size_t)sqlite3_column_bytes(st, 6);
                e.slot = sqlite3_column_blob(st, 7);
                e.slot_len = (size_t)sqlite3_column_bytes(st, 7);
            }
        }
        rc = cb(ctx, &e);
    }
    if (rc == SH_OK && step != SQLITE_DONE)
        rc = sh__store_sql_fail(s->r.db, step, "scanning the store");
    sqlite3_finalize(st);
    return rc;
}

int sh_store_scan(sh_store *s, bool with_data, sh_store_entry_cb cb, void *ctx)
{
    int rc = scan_rows(s, msg_sql[with_data], false, with_data, cb, ctx);

    return rc != SH_OK ? rc : scan_rows(s, req_sql, true, with_data, cb, ctx);
}
