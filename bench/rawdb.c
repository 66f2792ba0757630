/* The raw-SQLite limit of the storage benchmarks (rawdb.h). */
#include "rawdb.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

_Noreturn void bench_die(const char *what)
{
    fprintf(stderr, "bench: %s\n", what);
    exit(1);
}

void bench_sql(sqlite3 *db, const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, err);
        exit(1);
    }
}

void bench_rawdb_open(bench_rawdb *r, const char *path)
{
    if (sqlite3_open(path, &r->db) != SQLITE_OK)
        bench_die("cannot open the raw database");
    bench_sql(r->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;"
                     "CREATE TABLE msgs (id INTEGER PRIMARY KEY, hash BLOB NOT NULL,"
                     " owner BLOB NOT NULL,"
                     " ns INTEGER NOT NULL, ts INTEGER NOT NULL, expiry INTEGER NOT NULL,"
                     " data BLOB NOT NULL);"
                     "CREATE UNIQUE INDEX msgs_hash ON msgs(hash);"
                     "CREATE INDEX msgs_owner ON msgs(owner);"
                     "CREATE INDEX msgs_expiry ON msgs(expiry);");
    if (sqlite3_prepare_v2(r->db, "INSERT INTO msgs (hash, owner, ns, ts, expiry, data)"
                           " VALUES (?, ?, ?, ?, ?, ?)", -1, &r->insert, NULL) != SQLITE_OK)
        bench_die("cannot prepare the raw insert");
}

void bench_rawdb_close(bench_rawdb *r)
{
    sqlite3_finalize(r->insert);
    bench_sql(r->db, "PRAGMA wal_checkpoint(TRUNCATE)");
    sqlite3_close(r->db);
    r->db = NULL;
}

double bench_rawdb_insert(bench_rawdb *r, bench_row_fn row, uint64_t first, uint64_t n,
                          size_t data_bytes)
{
    uint8_t *data = malloc(data_bytes), hash[SH_STORE_HASH_BYTES];
    sqlite3_stmt *st = r->insert;
    sh_store_msg m;
    double t0 = bench_now_s();

    if (data == NULL)
        bench_die("out of memory");
    for (uint64_t i = 0; i < n; i++) {
        if (i % BENCH_RAW_BATCH == 0)
            bench_sql(r->db, "BEGIN");
        row(first + i, &m, data);
        sh_store_msg_hash(hash, m.owner, m.ns, m.data, m.data_len);
        sqlite3_bind_blob(st, 1, hash, SH_STORE_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, m.owner, SH_STORE_OWNER_BYTES, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, m.ns);
        sqlite3_bind_int64(st, 4, m.timestamp_ms);
        sqlite3_bind_int64(st, 5, m.expiry_ms);
        sqlite3_bind_blob(st, 6, m.data, (int)m.data_len, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            bench_die("raw insert failed");
        sqlite3_reset(st);
        if (i % BENCH_RAW_BATCH == BENCH_RAW_BATCH - 1 || i == n - 1)
            bench_sql(r->db, "COMMIT");
    }
    free(data);
    return bench_now_s() - t0;
}

double bench_rawdb_lookups(bench_rawdb *r, const uint8_t (*owners)[SH_STORE_OWNER_BYTES],
                           size_t n_owners, uint64_t queries, int page, int64_t now_ms)
{
    sqlite3_stmt *st;
    uint64_t rows = 0, bytes = 0;
    double t0, t1;

    if (sqlite3_prepare_v2(r->db, "SELECT hash, ts, expiry, data FROM msgs WHERE owner = ?"
                           " AND expiry > ? LIMIT ?", -1, &st, NULL) != SQLITE_OK)
        bench_die("cannot prepare the raw lookup");
    t0 = bench_now_s();
    for (uint64_t q = 0; q < queries; q++) {
        sqlite3_bind_blob(st, 1, owners[(q * 7919) % n_owners], SH_STORE_OWNER_BYTES,
                          SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now_ms);
        sqlite3_bind_int(st, 3, page);
        while (sqlite3_step(st) == SQLITE_ROW) {
            bytes += (uint64_t)sqlite3_column_bytes(st, 3); /* read the data, as a retrieve does */
            rows++;
        }
        sqlite3_reset(st);
    }
    t1 = bench_now_s();
    sqlite3_finalize(st);
    if (rows < queries || bytes == 0)
        bench_die("the raw lookups found nothing");
    return t1 - t0;
}

uint64_t bench_file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

void bench_checkpoint(const char *path)
{
    sqlite3 *db;

    if (sqlite3_open(path, &db) != SQLITE_OK)
        bench_die("cannot open a database to checkpoint it");
    bench_sql(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    sqlite3_close(db);
}

void bench_remove_db(const char *path)
{
    char side[600];

    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}
