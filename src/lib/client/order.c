/* Order per sender (client.h "Order per sender"; docs/client.md "Order per sender"). A sending
 * device numbers its texts to each peer account 1, 2, ... when it queues them (send_seq); the
 * number travels in the payload (payload.c), and the copies to its own other devices carry the
 * same payload. A receiving device keeps, per stream = (conversation, outgoing, sending device),
 * the next number it expects (order_in.next) and the texts that skipped ahead (held):
 *
 *   no state --first text s--> next = s + 1 (s = 1, or this device is new: the texts before
 *       |                       may not have been sealed to it), else next = 1 and go on below
 *   s == next --> filed; next + 1; held texts next, next + 1, ... filed after it
 *   s >  next --> held (decrypted, saved, acknowledged; not filed, no event)
 *   s <  next --> a late arrival of a number given up on: filed now, once (history shows it
 *                 where it arrived, with its own sent time); but when the text was written after
 *                 every text seen of its sender (order_in.last_ms), the sender numbers from the
 *                 start again (a restored device): held texts filed, next = s, then as s == next
 *   oldest held text of a stream waited hold_ms --> numbers next..(lowest held - 1) given up
 *                 (logged), next = lowest held, held texts filed in order as above
 *
 * Filing = a row in messages, whose row order is the history's order; every step runs inside
 * the caller's transaction (with the seen hash and the e2e state), so a restart keeps the held
 * texts and releases them later. */
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "util/err.h"
#include "util/log.h"

typedef struct stream {
    const uint8_t *peer;
    bool outgoing;
    uint32_t device;
} stream;

void sh_client_rows_free(sh_client_rows *r)
{
    free(r->v);
    memset(r, 0, sizeof *r);
}

static int rows_push(sh_client_rows *r, int64_t row)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        int64_t *v = realloc(r->v, cap * sizeof *v);
        if (v == NULL)
            return sh_err_set(SH_ERR_NOMEM, "out of memory listing filed messages");
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n++] = row;
    return SH_OK;
}

static void bind_stream(sqlite3_stmt *st, int first, const stream *k)
{
    sqlite3_bind_blob(st, first, k->peer, SH_SESSION_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_int(st, first + 1, k->outgoing);
    sqlite3_bind_int64(st, first + 2, k->device);
}

/* One integer from a query of one row; *found false when it gave none. */
static int query_int(sh_client_state *s, sqlite3_stmt *st, int64_t *v, bool *found)
{
    int rc = sqlite3_step(st);

    *found = rc == SQLITE_ROW;
    if (*found)
        *v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SH_OK : sh__client_sql_fail(s, rc, "ordering");
}

int sh_client_order_next_seq(sh_client_state *s, const uint8_t peer[static SH_SESSION_ID_BYTES],
                             int64_t *seq)
{
    sqlite3_stmt *st;
    bool found;
    int rc = sh__client_prepare(s, "SELECT next FROM send_seq WHERE peer = ?", &st);

    if (rc != SH_OK)
        return rc;
    sqlite3_bind_blob(st, 1, peer, SH_SESSION_ID_BYTES, SQLITE_STATIC);
    if ((rc = query_int(s, st, seq, &found)) != SH_OK)
        return rc;
    if (!found)
        *seq = 1;
    if (*seq < 1 || *seq == INT64_MAX)
        return sh_err_set(SH_ERR_FORMAT, "a stored sequence number is out of range (damaged?)");
    if ((rc = sh__client_prepare(s, "INSERT OR REPLACE INTO send_seq(peer, next) VALUES (?, ?)",
                                 &st)) != SH_OK)
        return rc;
    sqlite3_bind_blob(st, 1, peer, SH_SESSION_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, *seq + 1);
    return sh__client_step_done(s, st, "numbering a text");
}

/* What a receiver knows of a sender: the next number it expects and the latest sent time of
 * its texts seen (filed or held). */
typedef struct where {
    int64_t next, last_ms;
    bool found;
} where;

static int stream_get(sh_client_state *s, const stream *k, where *w)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "SELECT next, last_ms FROM order_in WHERE peer = ? AND"
                                   " outgoing = ? AND device = ?", &st);

    memset(w, 0, sizeof *w);
    if (rc != SH_OK)
        return rc;
    bind_stream(st, 1, k);
    rc = sqlite3_step(st);
    w->found = rc == SQLITE_ROW;
    if (w->found) {
        w->next = sqlite3_column_int64(st, 0);
        w->last_ms = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SH_OK : sh__client_sql_fail(s, rc, "ordering");
}

static int stream_put(sh_client_state *s, const stream *k, const where *w)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "INSERT OR REPLACE INTO order_in(peer, outgoing, device, next,"
                                   " last_ms) VALUES (?, ?, ?, ?, ?)", &st);

    if (rc != SH_OK)
        return rc;
    bind_stream(st, 1, k);
    sqlite3_bind_int64(st, 4, w->next);
    sqlite3_bind_int64(st, 5, w->last_ms);
    return sh__client_step_done(s, st, "saving where a sender is");
}

/* Whether the message is filed or held already. */
static int known(sh_client_state *s, const sh_client_message *m, bool *yes)
{
    sqlite3_stmt *st;
    int64_t one;
    int rc = sh__client_prepare(s, "SELECT 1 FROM messages WHERE peer = ?1 AND outgoing = ?2 AND"
                                   " msg_id = ?3 UNION ALL SELECT 1 FROM held WHERE peer = ?1"
                                   " AND outgoing = ?2 AND msg_id = ?3", &st);

    if (rc != SH_OK)
        return rc;
    sqlite3_bind_blob(st, 1, m->peer, SH_SESSION_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, m->outgoing);
    sqlite3_bind_blob(st, 3, m->msg_id, SH_CLIENT_MSG_ID_BYTES, SQLITE_STATIC);
    return query_int(s, st, &one, yes);
}

static int hold(sh_client_state *s, const sh_client_message *m, int64_t seq)
{
    sqlite3_stmt *st = NULL;
    sh_buf body;
    int rc;

    sh_buf_init(&body);
    rc = sh__client_seal(s, "held.body", m->text, m->text_len, &body);
    if (rc == SH_OK)
        rc = sh__client_prepare(s, "INSERT INTO held(peer, outgoing, device, seq, msg_id, sent_ms,"
                                   " held_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", &st);
    if (rc == SH_OK) {
        sqlite3_bind_blob(st, 1, m->peer, SH_SESSION_ID_BYTES, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, m->outgoing);
        sqlite3_bind_int64(st, 3, m->device);
        sqlite3_bind_int64(st, 4, seq);
        sqlite3_bind_blob(st, 5, m->msg_id, SH_CLIENT_MSG_ID_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, m->sent_ms);
        sqlite3_bind_int64(st, 7, m->received_ms);
        sqlite3_bind_blob(st, 8, body.data, (int)body.len, SQLITE_STATIC);
        rc = sh__client_step_done(s, st, "holding a message back");
    }
    sh_buf_free(&body);
    return rc;
}

static int file_now(sh_client_state *s, const sh_client_message *m, sh_client_rows *out)
{
    int64_t row;
    int rc = sh_client_message_add(s, m, &row);

    if (rc == SH_ERR_EXISTS)
        return SH_OK; /* filed before (a second copy): exactly once */
    return rc == SH_OK ? rows_push(out, row) : rc;
}

/* The held row `st` (id, seq, msg_id, sent_ms, held_ms, body) of stream k: filed, then gone. */
static int file_held(sh_client_state *s, const stream *k, sqlite3_stmt *st, sh_client_rows *out)
{
    sh_client_message m = {.outgoing = k->outgoing, .device = k->device,
                           .state = k->outgoing ? SH_CLIENT_STORED : SH_CLIENT_RECEIVED};
    sqlite3_stmt *del = NULL;
    sh_buf text;
    int rc;

    sh_buf_init_secret(&text);
    memcpy(m.peer, k->peer, SH_SESSION_ID_BYTES);
    if (sqlite3_column_bytes(st, 2) != SH_CLIENT_MSG_ID_BYTES) {
        rc = sh_err_set(SH_ERR_FORMAT, "a held message has a damaged id");
        goto done;
    }
    memcpy(m.msg_id, sqlite3_column_blob(st, 2), SH_CLIENT_MSG_ID_BYTES);
    m.sent_ms = sqlite3_column_int64(st, 3);
    m.received_ms = sqlite3_column_int64(st, 4);
    rc = sh__client_open(s, "held.body", sqlite3_column_blob(st, 5),
                         (size_t)sqlite3_column_bytes(st, 5), &text);
    m.text = text.data;
    m.text_len = text.len;
    if (rc == SH_OK)
        rc = file_now(s, &m, out);
    if (rc == SH_OK && (rc = sh__client_prepare(s, "DELETE FROM held WHERE id = ?", &del)) == SH_OK) {
        sqlite3_bind_int64(del, 1, sqlite3_column_int64(st, 0));
        rc = sh__client_step_done(s, del, "releasing a held message");
    }
done:
    sh_buf_free(&text);
    return rc;
}

/* Files the held texts of k numbered up to *next, raising *next past each in turn. */
static int release_from(sh_client_state *s, const stream *k, int64_t *next, sh_client_rows *out)
{
    sqlite3_stmt *st;
    int rc, step;

    for (;;) {
        rc = sh__client_prepare(s, "SELECT id, seq, msg_id, sent_ms, held_ms, body FROM held"
                                   " WHERE peer = ? AND outgoing = ? AND device = ?"
                                   " ORDER BY seq, id LIMIT 1", &st);
        if (rc != SH_OK)
            return rc;
        bind_stream(st, 1, k);
        step = sqlite3_step(st);
        if (step != SQLITE_ROW || sqlite3_column_int64(st, 1) > *next) {
            sqlite3_finalize(st);
            return step == SQLITE_ROW || step == SQLITE_DONE ? SH_OK
                                                             : sh__client_sql_fail(s, step, "releasing");
        }
        if (sqlite3_column_int64(st, 1) == *next && *next < INT64_MAX)
            ++*next;
        rc = file_held(s, k, st, out);
        sqlite3_finalize(st);
        if (rc != SH_OK)
            return rc;
    }
}

/* s > next: held; s < next: a late arrival, filed now; s == next: filed, then what it lets go. */
static int file_or_hold(sh_client_state *s, const stream *k, const sh_client_message *m,
                        int64_t seq, where *w, sh_client_rows *out)
{
    int rc;

    if (seq > w->next) {
        sh_log_debug("client", "holding text %lld of a sender until %lld arrives", (long long)seq,
                     (long long)w->next);
        return hold(s, m, seq);
    }
    if (seq < w->next) {
        sh_log_info("client", "text %lld of a sender arrived after its wait was given up; filed"
                    " now", (long long)seq);
        return file_now(s, m, out);
    }
    rc = file_now(s, m, out);
    w->next = seq + 1;
    return rc == SH_OK ? release_from(s, k, &w->next, out) : rc;
}

/* A number below the expected one on a text written after every text seen of its sender: the
 * sender numbers from the start again (a restored device, a lost database). Its held texts are
 * filed, and its numbers start at seq. */
static int restart(sh_client_state *s, const stream *k, int64_t seq, where *w, sh_client_rows *out)
{
    int64_t all = INT64_MAX;

    sh_log_info("client", "a sender numbers its texts from %lld again (a restored device?)",
                (long long)seq);
    w->next = seq;
    return release_from(s, k, &all, out);
}

int sh_client_order_file(sh_client_state *s, const sh_client_message *m, int64_t seq,
                         int64_t since_ms, sh_client_rows *out)
{
    stream k = {.peer = m->peer, .outgoing = m->outgoing, .device = m->device};
    where w;
    bool dup;
    int rc = known(s, m, &dup);

    if (rc != SH_OK)
        return rc;
    if (dup)
        return sh_err_set(SH_ERR_EXISTS, "that message is already stored");
    if (seq <= 0)
        return file_now(s, m, out); /* unnumbered (payload v1) */
    if ((rc = stream_get(s, &k, &w)) != SH_OK)
        return rc;
    if (!w.found) /* the start: see the top of this file */
        w.next = seq == 1 || m->sent_ms - since_ms < SH_CLIENT_ORDER_NEW_DEVICE_MS ? seq : 1;
    else if (seq < w.next && m->sent_ms > w.last_ms)
        rc = restart(s, &k, seq, &w, out);
    if (rc == SH_OK)
        rc = file_or_hold(s, &k, m, seq, &w, out);
    w.last_ms = m->sent_ms > w.last_ms ? m->sent_ms : w.last_ms;
    return rc == SH_OK ? stream_put(s, &k, &w) : rc;
}

/* The stream of the held text that has waited longest, when it has waited hold_ms. */
static int overdue(sh_client_state *s, int64_t before_ms, uint8_t peer[static 33], stream *k,
                   int64_t *lowest, bool *found)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "SELECT h.peer, h.outgoing, h.device, (SELECT min(seq) FROM held"
                                   " g WHERE g.peer = h.peer AND g.outgoing = h.outgoing AND"
                                   " g.device = h.device) FROM held h WHERE h.held_ms <= ?"
                                   " ORDER BY h.held_ms LIMIT 1", &st);

    if (rc != SH_OK)
        return rc;
    sqlite3_bind_int64(st, 1, before_ms);
    rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (*found && sqlite3_column_bytes(st, 0) == SH_SESSION_ID_BYTES) {
        memcpy(peer, sqlite3_column_blob(st, 0), SH_SESSION_ID_BYTES);
        *k = (stream){.peer = peer, .outgoing = sqlite3_column_int(st, 1) != 0,
                      .device = (uint32_t)sqlite3_column_int64(st, 2)};
        *lowest = sqlite3_column_int64(st, 3);
        rc = SH_OK;
    } else if (*found) {
        rc = sh_err_set(SH_ERR_FORMAT, "a held message has a damaged peer");
    } else {
        rc = rc == SQLITE_DONE ? SH_OK : sh__client_sql_fail(s, rc, "finding held messages");
    }
    sqlite3_finalize(st);
    return rc;
}

int sh_client_order_release(sh_client_state *s, int64_t now_ms, int64_t hold_ms,
                            sh_client_rows *out)
{
    uint8_t peer[SH_SESSION_ID_BYTES];
    stream k;
    where w;
    int64_t lowest = 0;
    bool found;
    int rc;

    for (;;) {
        if ((rc = overdue(s, now_ms - hold_ms, peer, &k, &lowest, &found)) != SH_OK || !found)
            return rc;
        if ((rc = stream_get(s, &k, &w)) != SH_OK)
            return rc;
        if (!w.found || w.next < lowest) {
            sh_log_warn("client", "gave up waiting for texts %lld to %lld of a sender after %lld ms;"
                        " filing the later ones", (long long)(w.found ? w.next : 1),
                        (long long)lowest - 1, (long long)hold_ms);
            w.next = lowest;
        }
        if ((rc = release_from(s, &k, &w.next, out)) != SH_OK ||
            (rc = stream_put(s, &k, &w)) != SH_OK)
            return rc;
    }
}

int sh_client_order_held(sh_client_state *s, size_t *n)
{
    sqlite3_stmt *st;
    int64_t v = 0;
    bool found;
    int rc = sh__client_prepare(s, "SELECT count(*) FROM held", &st);

    if (rc == SH_OK)
        rc = query_int(s, st, &v, &found);
    *n = (size_t)v;
    return rc;
}
