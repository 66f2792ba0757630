/* Opening and closing the message store, its options, clock and message hash (store.h). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/labels.h"
#include "store/store_int.h"
#include "util/err.h"

_Static_assert(sizeof(SH_LABEL_MSG_HASH) - 1 == crypto_generichash_blake2b_PERSONALBYTES,
               "the message hash label is BLAKE2b's 16-byte personalization");
_Static_assert(SH_STORE_HASH_BYTES == crypto_generichash_blake2b_BYTES, "BLAKE2b-256");
_Static_assert(SH_STORE_MAX_DATA_BYTES <= SH_STORE_PAGE_MAX_BYTES,
               "a page can always hold one message");
_Static_assert(SH_STORE_MAX_DATA_BYTES <= SH_STORE_MAX_BYTES_PER_NS,
               "a namespace can always hold one message");

void sh_store_options_default(sh_store_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_msgs_per_ns = SH_STORE_MAX_MSGS_PER_NS;
    o->max_bytes_per_ns = SH_STORE_MAX_BYTES_PER_NS;
    o->max_future_ms = SH_STORE_MAX_FUTURE_MS;
    o->lookback_ms = SH_STORE_LOOKBACK_MS;
    o->batch_max_jobs = SH_STORE_BATCH_MAX_JOBS;
    o->queue_max_jobs = SH_STORE_QUEUE_MAX_JOBS;
    o->checkpoint_pages = SH_STORE_CHECKPOINT_PAGES;
    o->wal_max_pages = SH_STORE_WAL_MAX_PAGES;
}

int64_t sh__store_now(const sh_store *s)
{
    return s->opts.now_ms != NULL ? s->opts.now_ms(s->opts.clock_ctx) : sh_time_now_ms();
}

void sh_store_msg_hash(uint8_t out[static SH_STORE_HASH_BYTES],
                       const uint8_t owner[static SH_STORE_OWNER_BYTES], int16_t ns,
                       const uint8_t *data, size_t data_len)
{
    static const uint8_t personal[crypto_generichash_blake2b_PERSONALBYTES + 1] = SH_LABEL_MSG_HASH;
    crypto_generichash_blake2b_state st;
    uint8_t ns_be[2] = {(uint8_t)((uint16_t)ns >> 8), (uint8_t)ns};

    crypto_generichash_blake2b_init_salt_personal(&st, NULL, 0, SH_STORE_HASH_BYTES, NULL,
                                                  personal);
    crypto_generichash_blake2b_update(&st, owner, SH_STORE_OWNER_BYTES);
    crypto_generichash_blake2b_update(&st, ns_be, sizeof ns_be);
    if (data_len > 0)
        crypto_generichash_blake2b_update(&st, data, data_len);
    crypto_generichash_blake2b_final(&st, out, SH_STORE_HASH_BYTES);
}

static int check_options(const sh_store_options *o)
{
    if (o->max_msgs_per_ns == 0 || o->max_bytes_per_ns == 0)
        return sh_err_set(SH_ERR_INVALID, "store limits must be at least 1");
    if (o->max_future_ms < 0 || o->lookback_ms < 0)
        return sh_err_set(SH_ERR_INVALID, "store time windows must not be negative");
    if (o->batch_max_jobs == 0 || o->queue_max_jobs == 0 || o->wal_max_pages == 0)
        return sh_err_set(SH_ERR_INVALID, "store batch, queue and WAL sizes must be at least 1");
    if (o->wal_max_pages > INT32_MAX || o->checkpoint_pages > o->wal_max_pages)
        return sh_err_set(SH_ERR_INVALID, "checkpoint_pages must not exceed wal_max_pages");
    return SH_OK;
}

static int open_db(sh_store *s, const char *path)
{
    int rc;

    if ((rc = sh__store_conn_open(path, true, &s->w)) != SH_OK)
        return rc;
    if ((rc = sh__store_migrate(s->w.db, path)) != SH_OK)
        return rc;
    if ((rc = sh__store_conn_prepare(&s->w, sh__store_writer_sql, W_COUNT)) != SH_OK)
        return rc;
    if ((rc = sh__store_conn_open(path, false, &s->r)) != SH_OK)
        return rc;
    return sh__store_conn_prepare(&s->r, sh__store_reader_sql, R_COUNT);
}

int sh_store_open(const char *path, const sh_store_options *opts, sh_store **out)
{
    sh_store *s = NULL;
    int rc;

    if ((rc = sh_crypto_init()) != SH_OK)
        return rc;
    if (strlen(path) >= sizeof s->path)
        return sh_err_set(SH_ERR_LIMIT, "store path is too long: %s", path);
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory opening the store");
    if (opts != NULL)
        s->opts = *opts;
    else
        sh_store_options_default(&s->opts);
    strcpy(s->path, path);
    if (uv_mutex_init(&s->write_lock) != 0) {
        free(s);
        return sh_err_set(SH_ERR_INTERNAL, "cannot create the store's write lock");
    }
    if ((rc = check_options(&s->opts)) != SH_OK || (rc = open_db(s, path)) != SH_OK)
        goto done;
    if (s->opts.loop != NULL && (rc = sh__store_checkpointer_start(s)) == SH_OK)
        rc = sh__store_commit_start(s);
done:
    if (rc != SH_OK) {
        sh_store_close(s);
        return rc;
    }
    *out = s;
    return SH_OK;
}

void sh_store_close(sh_store *s)
{
    if (s == NULL)
        return;
    if (s->threaded)
        sh__store_commit_stop(s);
    sh__store_checkpointer_stop(s);
    sh__store_conn_close(&s->r);
    sh__store_conn_close(&s->w);
    uv_mutex_destroy(&s->write_lock);
    free(s);
}
