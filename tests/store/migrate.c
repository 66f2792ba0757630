/* Schema migrations: a version 1 database made by hand (the released v1 schema, written out here)
 * opens, migrates to the latest version in place and keeps its messages; a database of a newer
 * schema, a foreign SQLite database and a file that is not SQLite are refused with their codes; a
 * fault at every step of the migration leaves the file at version 1, and the next open finishes. */
#include <sqlite3.h>

#include "helpers.h"
#include "store/fault.h"

#define LATEST 2

static const char v1_schema[] =
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
    "END;"
    "PRAGMA user_version = 1;";

static uint8_t owner[33];
static uint8_t data[3][200];
static sh_store_msg msgs[3];

static void exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        test_fail(__FILE__, __LINE__, "%s: %s", sql, err);
}

static void make_v1(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *st;

    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    exec(db, "PRAGMA journal_mode=WAL");
    exec(db, v1_schema);
    CHECK(sqlite3_prepare_v2(db, "INSERT INTO owners (pubkey) VALUES (?)", -1, &st, NULL) ==
          SQLITE_OK);
    sqlite3_bind_blob(st, 1, owner, 33, SQLITE_STATIC);
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
    CHECK(sqlite3_prepare_v2(db, "INSERT INTO messages (hash, owner, ns, ts, expiry, data)"
                             " VALUES (?, 1, ?, ?, ?, ?)", -1, &st, NULL) == SQLITE_OK);
    for (int i = 0; i < 3; i++) {
        sqlite3_bind_blob(st, 1, msgs[i].hash, 32, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, msgs[i].ns);
        sqlite3_bind_int64(st, 3, msgs[i].timestamp_ms);
        sqlite3_bind_int64(st, 4, msgs[i].expiry_ms);
        sqlite3_bind_blob(st, 5, msgs[i].data, (int)msgs[i].data_len, SQLITE_STATIC);
        CHECK(sqlite3_step(st) == SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    CHECK(sqlite3_close(db) == SQLITE_OK);
}

static int64_t query_int(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t v;

    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    CHECK(sqlite3_close(db) == SQLITE_OK);
    return v;
}

static void check_migrated(const char *path)
{
    sh_store_options o;
    sh_store *s;
    sh_store_msg got;
    sh_store_outcome out;
    sh_store_stats st;
    sh_buf buf;
    uint8_t d[20];

    sh_buf_init(&buf);
    test_store_options(&o);
    CHECK_OK(sh_store_open(path, &o, &s));
    for (int i = 0; i < 3; i++) {
        CHECK_OK(sh_store_get(s, msgs[i].hash, &got, &buf));
        CHECK_MEM(got.data, msgs[i].data, msgs[i].data_len);
    }
    CHECK_OK(sh_store_stats_get(s, &st));
    CHECK_EQ(st.messages, 3);
    CHECK_EQ(st.data_bytes, 600);
    /* What version 2 added works on the migrated file: slots and tombstones. */
    sh_store_msg list = test_msg(owner, 11, T0_MS, SH_MS_PER_DAY, d, sizeof d, 50);
    CHECK_OK(sh_store_put(s, &list, &out));
    CHECK_EQ(out, SH_STORE_STORED);
    sh_store_request req = test_request(owner, 0, T0_MS, "delete");
    uint64_t n;
    CHECK_OK(sh_store_delete(s, &req, (const uint8_t(*)[32])msgs[0].hash, 1, NULL, &n));
    CHECK_EQ(n, 1);
    CHECK_OK(sh_store_put(s, &msgs[0], &out));
    CHECK_EQ(out, SH_STORE_DELETED);
    sh_store_close(s);
    CHECK_EQ(query_int(path, "PRAGMA user_version"), LATEST);
    CHECK_EQ(query_int(path, "SELECT count(*) FROM messages"), 3);
    sh_buf_free(&buf);
}

static void refusals(const char *dir)
{
    char path[512];
    sqlite3 *db;
    sh_store *s;

    snprintf(path, sizeof path, "%s/newer.db", dir);
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    exec(db, "PRAGMA application_id = 1397247820; CREATE TABLE x (y); PRAGMA user_version = 99;");
    sqlite3_close(db);
    CHECK_ERR(sh_store_open(path, NULL, &s), SH_ERR_UNSUPPORTED);
    CHECK_MSG("newer");

    snprintf(path, sizeof path, "%s/foreign.db", dir);
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    exec(db, "CREATE TABLE contacts (name TEXT);");
    sqlite3_close(db);
    CHECK_ERR(sh_store_open(path, NULL, &s), SH_ERR_FORMAT);
    CHECK_MSG("not a Shoal message store");

    snprintf(path, sizeof path, "%s/other-app.db", dir);
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    exec(db, "PRAGMA application_id = 7; CREATE TABLE x (y); PRAGMA user_version = 1;");
    sqlite3_close(db);
    CHECK_ERR(sh_store_open(path, NULL, &s), SH_ERR_FORMAT);

    snprintf(path, sizeof path, "%s/garbage.db", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    for (int i = 0; i < 4096; i++)
        fputc(i * 13, f);
    fclose(f);
    CHECK_ERR(sh_store_open(path, NULL, &s), SH_ERR_FORMAT);
}

/* Fail the k-th SQLite step of the open for every k until the open succeeds. */
static void faults_during_migration(const char *dir)
{
    char path[512];
    sh_store_options o;
    sh_store *s;
    int k, failures = 0;

    snprintf(path, sizeof path, "%s/fault.db", dir);
    make_v1(path);
    test_store_options(&o);
    for (k = 1; k < 200; k++) {
        CHECK_OK(sh__store_fault_arm(SH__STORE_FAULT_STEP, (uint64_t)k));
        int rc = sh_store_open(path, &o, &s);
        CHECK_OK(sh__store_fault_arm(SH__STORE_FAULT_STEP, 0));
        if (rc == SH_OK) {
            sh_store_close(s);
            break;
        }
        CHECK_EQ(rc, SH_ERR_IO);
        CHECK_MSG("injected fault");
        failures++;
        CHECK_EQ(query_int(path, "PRAGMA user_version"), 1); /* the step rolled back */
        CHECK_EQ(query_int(path, "SELECT count(*) FROM messages"), 3);
    }
    CHECK(failures >= 10); /* every statement of migration 2 was hit once */
    CHECK_EQ(query_int(path, "PRAGMA user_version"), LATEST);
    check_migrated(path);
}

int main(void)
{
    const char *dir = test_tmpdir();
    char path[512];

    test_owner(owner, 1);
    for (int i = 0; i < 3; i++)
        msgs[i] = test_msg(owner, (int16_t)(i == 2 ? 2 : 0), T0_MS - 1000 + i, SH_MS_PER_DAY,
                           data[i], sizeof data[i], (uint32_t)i);
    snprintf(path, sizeof path, "%s/v1.db", dir);
    make_v1(path);
    CHECK_EQ(query_int(path, "PRAGMA user_version"), 1);
    check_migrated(path);
    sh_store *s; /* opening a current file again changes nothing */
    CHECK_OK(sh_store_open(path, NULL, &s));
    sh_store_close(s);
    CHECK_EQ(query_int(path, "PRAGMA user_version"), LATEST);
    CHECK_EQ(query_int(path, "SELECT count(*) FROM messages"), 3);
    refusals(dir);
    if (sh__store_fault_arm(SH__STORE_FAULT_STEP, 0) == SH_ERR_UNSUPPORTED)
        return 0; /* a release build has no fault hook */
    faults_during_migration(dir);
    return 0;
}
