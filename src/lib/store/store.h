/* The service node's message store (overview.md "Storage", "Signed requests", "Inbox abuse"):
 * messages of many accounts in one SQLite database (WAL, synchronous=NORMAL), with per-namespace
 * limits, a retrieval cursor that is the same on every swarm member, deletes and TTL changes that
 * leave tombstones, an expiry sweeper, and group-committed puts on a libuv loop.
 *
 * Message hash (the dedupe key and a message's name everywhere), exactly:
 *   hash = BLAKE2b-256(personal = SH_LABEL_MSG_HASH "shoal/msghash/v1" (16 bytes), no key, no salt,
 *                      input  = owner (33 bytes: prefix byte ‖ 32-byte key)
 *                             ‖ namespace (2 bytes, int16 two's complement, big-endian)
 *                             ‖ data (0..61440 bytes))
 * The timestamp and expiry are not hashed: the same data stored twice is one message.
 *
 * Threads: open, close, the submit_* calls, and every read (get, retrieve, tombstone, stats) belong
 * to the loop thread (one thread at a time). The synchronous writes (put, delete, expire, sweep)
 * may be called from any one thread; they share the writer connection with the writer thread under
 * a lock, so on a node they should go through submit_* instead. Callbacks of submit_* run on the
 * loop thread, only after the transaction holding their write has committed.
 *
 * Owner, namespace, timestamp and expiry are trusted to be what the node verified; the store checks
 * every limit it can see: namespace known, data size, timestamp at most max_future_ms ahead of its
 * clock, expiry within the namespace max TTL from now, count and bytes per owner and namespace. */
#ifndef SH_STORE_STORE_H
#define SH_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <shoal/err.h>
#include <uv.h>

#include "store/namespaces.h"
#include "util/buf.h"

#define SH_STORE_HASH_BYTES 32
#define SH_STORE_OWNER_BYTES 33 /* prefix byte (05 account, 03 group, ...) + 32-byte key */
#define SH_STORE_MAX_DATA_BYTES 61440
#define SH_STORE_MAX_SLOT_BYTES 32 /* a device key names its slot in namespace 10 */

/* Production defaults of sh_store_options (tests may choose smaller values). */
#define SH_STORE_MAX_MSGS_PER_NS 10000u               /* messages per owner and namespace */
#define SH_STORE_MAX_BYTES_PER_NS (100u * 1024 * 1024) /* data bytes per owner and namespace */
#define SH_STORE_MAX_FUTURE_MS (10 * SH_MS_PER_SECOND)   /* timestamps ahead of the node's clock */
#define SH_STORE_LOOKBACK_MS (2 * SH_MS_PER_MINUTE)      /* the longest replication lag we allow */
#define SH_STORE_BATCH_MAX_JOBS 512u                      /* writes per group-commit transaction */
#define SH_STORE_QUEUE_MAX_JOBS 65536u                    /* submitted, not yet completed writes */
#define SH_STORE_CHECKPOINT_PAGES 1000u /* WAL pages that wake the background checkpointer */
#define SH_STORE_WAL_MAX_PAGES 16384u   /* WAL pages (64 MiB): the writer checkpoints itself */

/* Hard ceilings of one call. */
#define SH_STORE_PAGE_MAX_COUNT 1000u         /* messages per retrieve page */
#define SH_STORE_PAGE_MAX_BYTES (256u * 1024) /* data bytes per page (the largest onion bucket) */
#define SH_STORE_MAX_HASHES_PER_REQUEST 1000u /* hashes per delete or expire */
#define SH_STORE_MAX_REQUEST_BYTES 65536u     /* signed request kept in a tombstone */
#define SH_STORE_SWEEP_MAX_ROWS 10000u        /* rows one sweep call may delete */

typedef struct sh_store sh_store;

typedef struct sh_store_options {
    uv_loop_t *loop;           /* for submit_*; NULL: no writer thread, synchronous calls only */
    uint32_t max_msgs_per_ns;  /* SH_STORE_MAX_MSGS_PER_NS */
    uint64_t max_bytes_per_ns; /* SH_STORE_MAX_BYTES_PER_NS */
    int64_t max_future_ms;     /* SH_STORE_MAX_FUTURE_MS */
    int64_t lookback_ms;       /* SH_STORE_LOOKBACK_MS */
    uint32_t batch_max_jobs;   /* SH_STORE_BATCH_MAX_JOBS */
    uint32_t queue_max_jobs;   /* SH_STORE_QUEUE_MAX_JOBS */
    uint32_t commit_linger_us; /* wait this long for more writes before a small batch; 0: none */
    uint32_t checkpoint_pages; /* SH_STORE_CHECKPOINT_PAGES; 0: no background checkpointer */
    uint32_t wal_max_pages;    /* SH_STORE_WAL_MAX_PAGES */
    /* The wall clock in Unix ms (called on the loop and writer threads); NULL: sh_time_now_ms. */
    int64_t (*now_ms)(void *clock_ctx);
    void *clock_ctx;
} sh_store_options;

typedef struct sh_store_msg {
    uint8_t owner[SH_STORE_OWNER_BYTES];
    int16_t ns;
    int64_t timestamp_ms; /* set by the sender, bounded by the node */
    int64_t expiry_ms;    /* absolute, Unix ms */
    const uint8_t *data;
    size_t data_len;
    const uint8_t *slot; /* namespace 10 only: the device key naming its slot; else NULL */
    size_t slot_len;
    uint8_t hash[SH_STORE_HASH_BYTES]; /* written by the store (put, get, retrieve) */
} sh_store_msg;

typedef enum sh_store_outcome {
    SH_STORE_STORED = 1,     /* newly stored */
    SH_STORE_DUPLICATE = 2,  /* already had it (same hash); nothing changed */
    SH_STORE_DELETED = 3,    /* a tombstone says the owner deleted it; not stored */
    SH_STORE_SUPERSEDED = 4, /* its single slot holds a newer message; not stored */
} sh_store_outcome;

/* A retrieval position, the same on every swarm member: messages are ordered by
 * (timestamp, hash) and a page returns those after the cursor. All zero: from the start. */
typedef struct sh_store_cursor {
    int64_t timestamp_ms;
    uint8_t hash[SH_STORE_HASH_BYTES];
} sh_store_cursor;

typedef struct sh_store_query {
    uint8_t owner[SH_STORE_OWNER_BYTES];
    int16_t ns;
    sh_store_cursor after;
    /* First page of a poll: also return messages up to lookback_ms before `after` (ones that
     * reached this node late; the client dedupes by hash). Pages that continue with `next`
     * while `more` is set must pass false, so paging always moves forward. */
    bool lookback;
    uint32_t max_count; /* 1..SH_STORE_PAGE_MAX_COUNT */
    uint32_t max_bytes; /* 1..SH_STORE_PAGE_MAX_BYTES; one larger message is still returned */
} sh_store_query;

typedef struct sh_store_page {
    sh_store_msg *msgs; /* data and slot point into `arena` */
    size_t count;
    sh_store_cursor next; /* pass as `after` for the next call */
    bool more;            /* the caps cut the page short; more messages follow `next` */
    sh_buf arena;
} sh_store_page;

/* A signed owner request (delete, delete-before, expire) as the node verified it. The bytes are
 * opaque to the store and kept in the tombstones it leaves, so replication can forward them. */
typedef struct sh_store_request {
    uint8_t owner[SH_STORE_OWNER_BYTES];
    int16_t ns;
    int64_t timestamp_ms; /* the request's signed timestamp: the later request wins */
    const uint8_t *bytes;
    size_t len; /* 1..SH_STORE_MAX_REQUEST_BYTES */
} sh_store_request;

typedef enum sh_store_expire_mode {
    SH_STORE_EXPIRE_SET = 0,          /* set the expiry to the new value */
    SH_STORE_EXPIRE_SHORTEN_ONLY = 1, /* only when it is earlier than the current one */
    SH_STORE_EXPIRE_EXTEND_ONLY = 2,  /* only when it is later than the current one */
} sh_store_expire_mode;

typedef enum sh_store_tombstone_kind {
    SH_STORE_TOMB_DELETE = 1,
    SH_STORE_TOMB_EXPIRE = 2,
} sh_store_tombstone_kind;

typedef struct sh_store_tombstone {
    sh_store_tombstone_kind kind;
    sh_store_expire_mode mode; /* expire only */
    int64_t new_expiry_ms;     /* expire only */
    int64_t request_ts_ms;
    int64_t until_ms; /* kept until then: the message's own (latest) expiry */
} sh_store_tombstone;

typedef struct sh_store_stats {
    uint64_t messages;   /* stored, including expired ones not yet swept */
    uint64_t data_bytes; /* their data */
    uint64_t owners;
    uint64_t tombstones; /* per-hash and delete-before tombstones */
    uint64_t db_bytes;   /* main database file (pages in use and free) */
    uint64_t wal_bytes;
    int64_t expiry_lag_ms; /* now minus the oldest unswept expiry (0 when none is overdue) */
    uint64_t batches_committed, jobs_committed, batches_failed, checkpoints;
} sh_store_stats;

/* What an owner request did (valid during the callback only). */
typedef struct sh_store_result {
    uint64_t count;          /* messages deleted (delete, delete-before) or re-timed (expire) */
    size_t n;                /* hashes named by the request */
    const bool *deleted;     /* delete: whether hash i was here */
    const int64_t *expiries; /* expire: the resulting expiry of hash i, 0 when not here */
} sh_store_result;

typedef void (*sh_store_put_cb)(void *ctx, int status, sh_store_outcome outcome,
                                const uint8_t hash[SH_STORE_HASH_BYTES]);
typedef void (*sh_store_count_cb)(void *ctx, int status, uint64_t count);
typedef void (*sh_store_request_cb)(void *ctx, int status, const sh_store_result *result);

void sh_store_options_default(sh_store_options *opts);

/* Opens (creating or migrating) the database at `path`. With opts->loop set, starts the writer
 * thread, the checkpointer thread and two loop handles. SH_ERR_UNSUPPORTED for a database of a
 * newer schema, SH_ERR_FORMAT for a file that is not a Shoal store. */
int sh_store_open(const char *path, const sh_store_options *opts, sh_store **out)
    __attribute__((warn_unused_result));
/* Commits and completes every submitted write (their callbacks run here), stops the writer,
 * closes the database. The loop must run once more afterwards to release the handles.
 * NULL is accepted. */
void sh_store_close(sh_store *s);

/* BLAKE2b-256 message hash, layout in the header comment. */
void sh_store_msg_hash(uint8_t out[static SH_STORE_HASH_BYTES],
                       const uint8_t owner[static SH_STORE_OWNER_BYTES], int16_t ns,
                       const uint8_t *data, size_t data_len);

/* Synchronous put in its own transaction; fills msg->hash and *outcome. SH_ERR_FULL when the
 * owner's namespace is at its count or byte limit (nothing is evicted). */
int sh_store_put(sh_store *s, sh_store_msg *msg, sh_store_outcome *outcome);
/* Group-committed put (loop thread). Checks the message at once (an error here means no
 * callback); the callback gets SH_OK and the outcome only after COMMIT returned, or an error
 * (SH_ERR_FULL, SH_ERR_IO, ...). The message is copied. SH_ERR_BUSY when the queue is full. */
int sh_store_submit_put(sh_store *s, const sh_store_msg *msg, sh_store_put_cb cb, void *ctx);

/* The message with this hash, unless expired; SH_ERR_NOT_FOUND otherwise. out->data and
 * out->slot point into `buf`. */
int sh_store_get(sh_store *s, const uint8_t hash[static SH_STORE_HASH_BYTES], sh_store_msg *out,
                 sh_buf *buf);
/* One page of the owner's live messages in a namespace, after q->after. Free with
 * sh_store_page_free (also on error). */
int sh_store_retrieve(sh_store *s, const sh_store_query *q, sh_store_page *out);
void sh_store_page_free(sh_store_page *page);

/* Deletes the request owner's messages with these hashes in its namespace, leaving a tombstone per
 * hash (also for hashes not here yet, so a late copy is refused). deleted[i] (may be NULL) says
 * whether hash i was here; *count counts them. */
int sh_store_delete(sh_store *s, const sh_store_request *req,
                    const uint8_t (*hashes)[SH_STORE_HASH_BYTES], size_t n, bool *deleted,
                    uint64_t *count);
/* Deletes every message of the owner's namespace with timestamp < before_ms and leaves one
 * range tombstone, so older copies arriving later are refused too. */
int sh_store_delete_before(sh_store *s, const sh_store_request *req, int64_t before_ms,
                           uint64_t *count);
/* Changes the expiry of the owner's messages with these hashes to new_expiry_ms under `mode`.
 * new_expiry_ms must lie in [now, now + max TTL of the namespace + max_future_ms]
 * (SH_ERR_RANGE otherwise). expiries[i] (may be NULL) gets the resulting expiry or 0 when the
 * hash is not here; a tombstone records the change either way. */
int sh_store_expire(sh_store *s, const sh_store_request *req,
                    const uint8_t (*hashes)[SH_STORE_HASH_BYTES], size_t n, int64_t new_expiry_ms,
                    sh_store_expire_mode mode, int64_t *expiries);
/* The same three through the writer thread (loop thread; request and hashes are copied; errors
 * in the arguments are returned at once, without a callback). */
int sh_store_submit_delete(sh_store *s, const sh_store_request *req,
                           const uint8_t (*hashes)[SH_STORE_HASH_BYTES], size_t n,
                           sh_store_request_cb cb, void *ctx);
int sh_store_submit_delete_before(sh_store *s, const sh_store_request *req, int64_t before_ms,
                                  sh_store_request_cb cb, void *ctx);
int sh_store_submit_expire(sh_store *s, const sh_store_request *req,
                           const uint8_t (*hashes)[SH_STORE_HASH_BYTES], size_t n,
                           int64_t new_expiry_ms, sh_store_expire_mode mode,
                           sh_store_request_cb cb, void *ctx);

/* The live per-hash tombstone of the owner's message (and the signed request that made it, into
 * `request` if not NULL); SH_ERR_NOT_FOUND when there is none. */
int sh_store_tombstone_get(sh_store *s, const uint8_t owner[static SH_STORE_OWNER_BYTES],
                           int16_t ns, const uint8_t hash[static SH_STORE_HASH_BYTES],
                           sh_store_tombstone *out, sh_buf *request);

/* Deletes at most max_rows (1..SH_STORE_SWEEP_MAX_ROWS) expired rows in one short transaction:
 * messages first, then tombstones and the requests they carried; *removed counts them. Call it
 * on a timer, again at once while it removes max_rows. */
int sh_store_sweep(sh_store *s, uint32_t max_rows, uint64_t *removed);
/* The same through the writer thread, so the loop never waits for the write lock. */
int sh_store_submit_sweep(sh_store *s, uint32_t max_rows, sh_store_count_cb cb, void *ctx);

int sh_store_stats_get(sh_store *s, sh_store_stats *out);

/* One live entry (scan.c): a message, or an owner request (the signed delete or expire call
 * that tombstones keep). Pointers are valid during the callback only. */
typedef struct sh_store_entry {
    bool is_request;
    uint8_t owner[SH_STORE_OWNER_BYTES];
    int16_t ns;
    int64_t timestamp_ms; /* the message's, or the request's signed timestamp */
    int64_t expiry_ms;    /* the message's, or how long the request is kept */
    uint8_t id[SH_STORE_HASH_BYTES]; /* the message hash, or BLAKE2b-256 of the request bytes */
    size_t size;          /* data or request bytes */
    const uint8_t *data;  /* with_data: the message data; requests: always their bytes */
    size_t data_len;
    const uint8_t *slot;
    size_t slot_len;
} sh_store_entry;

/* A callback's error stops the scan and is returned. */
typedef int (*sh_store_entry_cb)(void *ctx, const sh_store_entry *e);
/* Calls cb for every live message, then every live owner request (anti-entropy and handover
 * between swarm members). Loop thread; it reads the whole store, so call it on a timer. */
int sh_store_scan(sh_store *s, bool with_data, sh_store_entry_cb cb, void *ctx);

#endif
