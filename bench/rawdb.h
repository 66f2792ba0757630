/* The raw-SQLite limit of the storage benchmarks (store, node): the same rows in a plain rowid
 * table with a unique hash index and owner and expiry indexes, the store's pragmas (WAL,
 * synchronous=NORMAL), inserted in batched transactions; lookups by owner; file sizes. */
#ifndef SH_BENCH_RAWDB_H
#define SH_BENCH_RAWDB_H

#include <sqlite3.h>
#include <stdint.h>

#include "store/store.h"

#define BENCH_RAW_BATCH 256 /* rows per raw transaction */

typedef struct bench_rawdb {
    sqlite3 *db;
    sqlite3_stmt *insert;
} bench_rawdb;

/* Row i of a benchmark: fills m (data in data_buf, which holds the row's data). */
typedef void (*bench_row_fn)(uint64_t i, sh_store_msg *m, uint8_t *data_buf);

void bench_rawdb_open(bench_rawdb *r, const char *path);
/* Checkpoints the WAL into the file (TRUNCATE) and closes. */
void bench_rawdb_close(bench_rawdb *r);
/* Inserts rows first..first+n-1 in batches; returns the seconds taken. */
double bench_rawdb_insert(bench_rawdb *r, bench_row_fn row, uint64_t first, uint64_t n,
                          size_t data_bytes);
/* Looks up to `page` live rows of an owner, `queries` times over the owners; returns seconds. */
double bench_rawdb_lookups(bench_rawdb *r, const uint8_t (*owners)[SH_STORE_OWNER_BYTES],
                           size_t n_owners, uint64_t queries, int page, int64_t now_ms);

void bench_sql(sqlite3 *db, const char *sql);
uint64_t bench_file_size(const char *path);
/* Checkpoints a database file's WAL into it (TRUNCATE), so its size is the data's. */
void bench_checkpoint(const char *path);
/* Removes a database file and its -wal and -shm. */
void bench_remove_db(const char *path);
_Noreturn void bench_die(const char *what);

#endif
