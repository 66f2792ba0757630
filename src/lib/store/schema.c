/* Schema of the node message store, its numbered migrations, and the SQL of every prepared
 * statement.
 *
 * Tables: owners (33-byte ids by integer id); messages (a rowid table: large rows never go in a
 * WITHOUT ROWID table keyed by a random hash, see performance.md), with a UNIQUE index on the hash,
 * a cursor index (owner, ns, ts, hash) and an expiry index; usage (count and data bytes per owner
 * and namespace, kept by triggers so every delete path updates it); since v2 the single-slot
 * column, tombstones per hash, delete-before (range) tombstones and the signed requests they carry.
 * A tombstone is keyed by (hash, owner, ns): the hash covers owner and namespace, so a tombstone
 * one owner writes for another owner's hash never matches that owner's message.
 *
 * Migration state machine. The state of a file is read from PRAGMA user_version (u) and
 * PRAGMA application_id (a):
 *
 *     EMPTY  (u = 0, no tables) --apply 1--> 1 --apply 2--> ... --apply LATEST--> CURRENT
 *     OLD    (0 < u < LATEST, a = SHOAL) --apply u+1 .. LATEST--> CURRENT
 *     CURRENT (u = LATEST, a = SHOAL)     ready; nothing to do
 *     NEWER  (u > LATEST)                 refused: SH_ERR_UNSUPPORTED (a newer shoald wrote it)
 *     FOREIGN (tables but u = 0, or a != SHOAL)  refused: SH_ERR_FORMAT
 *
 * Invariants: (1) step k runs as one transaction: BEGIN IMMEDIATE; migrations[k]; PRAGMA
 * user_version = k; COMMIT. (2) A failure or a crash inside step k leaves the file at k - 1
 * (SQLite's rollback), so every file is always in one of the states above and opening it again
 * resumes from there. (3) Migrations are never edited once released; a change is a new step.
 * sh__store_migrate() performs every transition; it runs on the writer connection before any
 * other statement is prepared. */
#include <stdio.h>

#include "store/store_int.h"
#include "util/err.h"
#include "util/log.h"

#define SHOAL_APPLICATION_ID 0x53484f4c /* "SHOL" */

static const char *const migrations[] = {
    NULL, /* version 0: the empty file */
    /* 1: owners, messages, usage counters. */
    "PRAGMA application_id = 1397247820;"
    "CREATE TABLE owners (id INTEGER PRIMARY KEY, pubkey BLOB NOT NULL UNIQUE);"
    "CREATE TABLE messages (id INTEGER PRIMARY KEY, hash BLOB NOT NULL,"
    "  owner INTEGER NOT NULL, ns INTEGER NOT NULL, ts INTEGER NOT NULL,"
    "  expiry INTEGER NOT NULL, data BLOB NOT NULL);"
    "CREATE UNIQUE INDEX messages_hash ON messages(hash);"
    "CREATE INDEX messages_cursor ON messages(owner, ns, ts, hash);"
    "CREATE INDEX messages_expiry ON messages(expiry);"
    "CREATE TABLE usage (owner INTEGER NOT NULL, ns INTEGER NOT NULL, count INTEGER NOT NULL,"
    "  bytes INTEGER NOT NULL, PRIMARY KEY (owner, ns)) WITHOUT ROWID;"
    "CREATE TRIGGER messages_usage_add AFTER INSERT ON messages BEGIN"
    "  INSERT INTO usage (owner, ns, count, bytes) VALUES (new.owner, new.ns, 1, length(new.data))"
    "  ON CONFLICT (owner, ns) DO UPDATE SET count = count + 1, bytes = bytes + excluded.bytes;"
    "END;"
    "CREATE TRIGGER messages_usage_sub AFTER DELETE ON messages BEGIN"
    "  UPDATE usage SET count = count - 1, bytes = bytes - length(old.data)"
    "  WHERE owner = old.owner AND ns = old.ns;"
    "END;",
    /* 2: single slots (namespaces 10-12), tombstones and the requests they carry. */
    "ALTER TABLE messages ADD COLUMN slot BLOB;"
    "CREATE UNIQUE INDEX messages_slot ON messages(owner, ns, slot) WHERE slot IS NOT NULL;"
    "CREATE TABLE requests (id INTEGER PRIMARY KEY, body BLOB NOT NULL, until INTEGER NOT NULL);"
    "CREATE INDEX requests_until ON requests(until);"
    "CREATE TABLE tombstones (hash BLOB NOT NULL, owner INTEGER NOT NULL, ns INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL, mode INTEGER NOT NULL, new_expiry INTEGER NOT NULL,"
    "  request_ts INTEGER NOT NULL, until INTEGER NOT NULL, request INTEGER NOT NULL,"
    "  PRIMARY KEY (hash, owner, ns)) WITHOUT ROWID;"
    "CREATE INDEX tombstones_until ON tombstones(until);"
    "CREATE TABLE range_tombstones (id INTEGER PRIMARY KEY, owner INTEGER NOT NULL,"
    "  ns INTEGER NOT NULL, before INTEGER NOT NULL, request_ts INTEGER NOT NULL,"
    "  until INTEGER NOT NULL, request INTEGER NOT NULL);"
    "CREATE INDEX range_tombstones_owner ON range_tombstones(owner, ns, before);"
    "CREATE INDEX range_tombstones_until ON range_tombstones(until);",
};

#define LATEST_VERSION ((int)(sizeof migrations / sizeof migrations[0]) - 1)

_Static_assert(SHOAL_APPLICATION_ID == 1397247820, "migration 1 spells the application id");

const char *const sh__store_writer_sql[W_COUNT] = {
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_OWNER_FIND] = "SELECT id FROM owners WHERE pubkey = ?1",
    [W_OWNER_INSERT] = "INSERT INTO owners (pubkey) VALUES (?1)",
    [W_MSG_EXISTS] = "SELECT 1 FROM messages WHERE hash = ?1",
    [W_MSG_FIND_OWNED] = "SELECT id, expiry FROM messages"
                         " WHERE hash = ?1 AND owner = ?2 AND ns = ?3",
    [W_MSG_INSERT] = "INSERT INTO messages (hash, owner, ns, ts, expiry, data, slot)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [W_MSG_DELETE_ID] = "DELETE FROM messages WHERE id = ?1",
    [W_MSG_SET_EXPIRY] = "UPDATE messages SET expiry = ?2 WHERE id = ?1",
    [W_SLOT_GET] = "SELECT id, ts, hash, length(data) FROM messages"
                   " WHERE owner = ?1 AND ns = ?2 AND slot = ?3",
    [W_USAGE_GET] = "SELECT count, bytes FROM usage WHERE owner = ?1 AND ns = ?2",
    [W_PURGE_EXPIRED_NS] = "DELETE FROM messages WHERE owner = ?1 AND ns = ?2 AND expiry <= ?3"
                           " AND id != ?4",
    [W_TOMB_GET] = "SELECT kind, mode, new_expiry, request_ts, until FROM tombstones"
                   " WHERE hash = ?1 AND owner = ?2 AND ns = ?3 AND until > ?4",
    [W_TOMB_PUT] = "INSERT OR REPLACE INTO tombstones"
                   " (hash, owner, ns, kind, mode, new_expiry, request_ts, until, request)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [W_RANGE_COVERS] = "SELECT 1 FROM range_tombstones WHERE owner = ?1 AND ns = ?2 AND before > ?3"
                       " AND until > ?4 LIMIT 1",
    [W_RANGE_INSERT] = "INSERT INTO range_tombstones"
                       " (owner, ns, before, request_ts, until, request)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [W_REQ_INSERT] = "INSERT INTO requests (body, until) VALUES (?1, ?2)",
    [W_REQ_SET_UNTIL] = "UPDATE requests SET until = ?2 WHERE id = ?1",
    [W_DELETE_BEFORE] = "DELETE FROM messages WHERE owner = ?1 AND ns = ?2 AND ts < ?3",
    [W_SWEEP_MSGS] = "DELETE FROM messages WHERE id IN"
                     " (SELECT id FROM messages WHERE expiry <= ?1 ORDER BY expiry LIMIT ?2)",
    [W_SWEEP_TOMBS] = "DELETE FROM tombstones WHERE (hash, owner, ns) IN (SELECT hash, owner, ns"
                      " FROM tombstones WHERE until <= ?1 ORDER BY until LIMIT ?2)",
    [W_SWEEP_RANGES] = "DELETE FROM range_tombstones WHERE id IN"
                       " (SELECT id FROM range_tombstones WHERE until <= ?1"
                       " ORDER BY until LIMIT ?2)",
    [W_SWEEP_REQS] = "DELETE FROM requests WHERE id IN"
                     " (SELECT id FROM requests WHERE until <= ?1 ORDER BY until LIMIT ?2)",
};

const char *const sh__store_reader_sql[R_COUNT] = {
    [R_OWNER_FIND] = "SELECT id FROM owners WHERE pubkey = ?1",
    [R_GET] = "SELECT o.pubkey, m.ns, m.ts, m.expiry, m.data, m.slot FROM messages m"
              " JOIN owners o ON o.id = m.owner WHERE m.hash = ?1 AND m.expiry > ?2",
    [R_PAGE] = "SELECT hash, ts, expiry, data, slot FROM messages"
               " WHERE owner = (SELECT id FROM owners WHERE pubkey = ?1) AND ns = ?2"
               " AND (ts, hash) > (?3, ?4) AND expiry > ?5 ORDER BY ts, hash",
    [R_TOMB_GET] = "SELECT t.kind, t.mode, t.new_expiry, t.request_ts, t.until, r.body"
                   " FROM tombstones t LEFT JOIN requests r ON r.id = t.request"
                   " WHERE t.hash = ?1 AND t.owner = ?2 AND t.ns = ?3 AND t.until > ?4",
    [R_STATS_USAGE] = "SELECT coalesce(sum(count), 0), coalesce(sum(bytes), 0) FROM usage",
    [R_STATS_OWNERS] = "SELECT count(*) FROM owners",
    [R_STATS_TOMBS] = "SELECT (SELECT count(*) FROM tombstones)"
                      " + (SELECT count(*) FROM range_tombstones)",
    [R_STATS_MIN_EXPIRY] = "SELECT min(expiry) FROM messages",
    [R_STATS_PAGES] = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
};

static int pragma_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK)
        rc = sh__store_step(st);
    if (rc != SQLITE_ROW) {
        rc = sh__store_sql_fail(db, rc, "reading the schema version");
        sqlite3_finalize(st);
        return rc;
    }
    *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return SH_OK;
}

static int apply_step(sqlite3 *db, int version)
{
    char set_version[64];
    int rc = sh__store_exec(db, "BEGIN IMMEDIATE");

    if (rc != SH_OK)
        return rc;
    snprintf(set_version, sizeof set_version, "PRAGMA user_version = %d", version);
    rc = sh__store_exec(db, migrations[version]);
    if (rc == SH_OK)
        rc = sh__store_exec(db, set_version);
    if (rc == SH_OK)
        rc = sh__store_exec(db, "COMMIT");
    if (rc != SH_OK) {
        if (!sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return sh_err_wrap(rc, "migrating the store to schema version %d", version);
    }
    sh_log_info("store", "store schema migrated to version %d", version);
    return SH_OK;
}

int sh__store_migrate(sqlite3 *db, const char *path)
{
    int64_t version = 0, app_id = 0, tables = 0;
    int rc;

    if ((rc = pragma_int(db, "PRAGMA user_version", &version)) != SH_OK ||
        (rc = pragma_int(db, "PRAGMA application_id", &app_id)) != SH_OK ||
        (rc = pragma_int(db, "SELECT count(*) FROM sqlite_schema", &tables)) != SH_OK)
        return rc;
    if (version > LATEST_VERSION)
        return sh_err_set(SH_ERR_UNSUPPORTED,
                          "%s has store schema version %lld but this build knows only up to %d; "
                          "run a newer shoald",
                          path, (long long)version, LATEST_VERSION);
    if ((version == 0 && tables != 0) || (version != 0 && app_id != SHOAL_APPLICATION_ID))
        return sh_err_set(SH_ERR_FORMAT, "%s is an SQLite database but not a Shoal message store",
                          path);
    for (int v = (int)version + 1; v <= LATEST_VERSION; v++)
        if ((rc = apply_step(db, v)) != SH_OK)
            return rc;
    return SH_OK;
}
