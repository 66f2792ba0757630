/* Rows of the client state database (client.h "The state database"): meta values, the e2e
 * device state, contacts, messages, the outbox, cursors and seen hashes. Sealed columns
 * (device.state, messages.body, outbox.payload) go through sh__client_seal / sh__client_open;
 * every value read back is checked for its size, since a damaged file must give an error, not
 * a crash. */
#include <string.h>

#include "client/internal.h"
#include "util/err.h"
#include "util/time.h"

/* Runs a prepared statement to completion; SH_OK on SQLITE_DONE. */
int sh__client_step_done(sh_client_state *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);

    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SH_OK : sh__client_sql_fail(s, rc, what);
}

static int blob_copy(sqlite3_stmt *st, int col, uint8_t *out, size_t want, const char *what)
{
    if ((size_t)sqlite3_column_bytes(st, col) != want ||
        sqlite3_column_type(st, col) != SQLITE_BLOB)
        return sh_err_set(SH_ERR_FORMAT, "a stored %s has the wrong size (damaged database?)", what);
    memcpy(out, sqlite3_column_blob(st, col), want);
    return SH_OK;
}

int sh_client_meta_get(sh_client_state *s, const char *key, sh_buf *out)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "SELECT value FROM meta WHERE key = ?", &st);

    if (rc != SH_OK)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        sh_buf_reset(out);
        rc = sh_buf_append(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    } else if (rc == SQLITE_DONE) {
        rc = sh_err_set(SH_ERR_NOT_FOUND, "no '%s' recorded", key);
    } else {
        rc = sh__client_sql_fail(s, rc, "reading a setting");
    }
    sqlite3_finalize(st);
    return rc;
}

int sh_client_meta_put(sh_client_state *s, const char *key, const uint8_t *v, size_t len)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", &st);

    if (rc != SH_OK)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, len ? v : (const void *)"", (int)len, SQLITE_STATIC);
    return sh__client_step_done(s, st, "writing a setting");
}

int sh_client_state_device_get(sh_client_state *s, sh_buf *out)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "SELECT state FROM device WHERE id = 1", &st);

    if (rc != SH_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rc = sh__client_open(s, "device.state", sqlite3_column_blob(st, 0),
                             (size_t)sqlite3_column_bytes(st, 0), out);
    else if (rc == SQLITE_DONE)
        rc = sh_err_set(SH_ERR_NOT_FOUND, "no device state yet");
    else
        rc = sh__client_sql_fail(s, rc, "reading the device state");
    sqlite3_finalize(st);
    return rc;
}

int sh_client_state_device_put(sh_client_state *s, const uint8_t *state, size_t len)
{
    sqlite3_stmt *st;
    sh_buf sealed;
    int rc;

    sh_buf_init(&sealed);
    rc = sh__client_seal(s, "device.state", state, len, &sealed);
    if (rc == SH_OK)
        rc = sh__client_prepare(s, "INSERT OR REPLACE INTO device(id, state) VALUES (1, ?)", &st);
    if (rc == SH_OK) {
        sqlite3_bind_blob(st, 1, sealed.data, (int)sealed.len, SQLITE_STATIC);
        rc = sh__client_step_done(s, st, "saving the device state");
    }
    sh_buf_free(&sealed);
    return rc;
}

/* ---- contacts ------------------------------------------------------------------------------ */

static int check_name(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > SH_CLIENT_MAX_NAME_BYTES)
        return sh_err_set(SH_ERR_INVALID, "a contact name has 1 to %d characters",
                          SH_CLIENT_MAX_NAME_BYTES);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] <= ' ' || (unsigned char)name[i] == 0x7f)
            return sh_err_set(SH_ERR_INVALID, "a contact name has no spaces or control characters");
    if (n == 66 && name[0] == '0' && name[1] == '5')
        return sh_err_set(SH_ERR_INVALID, "a contact name may not look like a Session ID");
    return SH_OK;
}

int sh_client_contact_add(sh_client_state *s, const char *name,
                          const uint8_t id[static SH_SESSION_ID_BYTES])
{
    sqlite3_stmt *st;
    int rc = check_name(name);

    if (rc == SH_OK)
        rc = sh__client_prepare(s, "INSERT INTO contacts(name, session_id) VALUES (?, ?)", &st);
    if (rc != SH_OK)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, id, SH_SESSION_ID_BYTES, SQLITE_STATIC);
    rc = sh__client_step_done(s, st, "adding a contact");
    if (rc == SH_ERR_EXISTS)
        return sh_err_set(SH_ERR_EXISTS, "a contact named '%s' or with that Session ID exists", name);
    return rc;
}

int sh_client_contact_get(sh_client_state *s, const char *name,
                          uint8_t id[static SH_SESSION_ID_BYTES])
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "SELECT session_id FROM contacts WHERE name = ?", &st);

    if (rc != SH_OK)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rc = blob_copy(st, 0, id, SH_SESSION_ID_BYTES, "contact");
    else if (rc == SQLITE_DONE)
        rc = sh_err_set(SH_ERR_NOT_FOUND, "there is no contact named '%s'", name);
    else
        rc = sh__client_sql_fail(s, rc, "finding a contact");
    sqlite3_finalize(st);
    return rc;
}

int sh_client_contact_name(sh_client_state *s, const uint8_t id[static SH_SESSION_ID_BYTES],
                           char name[static SH_CLIENT_MAX_NAME_BYTES + 1])
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "SELECT name FROM contacts WHERE session_id = ?", &st);

    if (rc != SH_OK)
        return rc;
    name[0] = '\0';
    sqlite3_bind_blob(st, 1, id, SH_SESSION_ID_BYTES, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(name, SH_CLIENT_MAX_NAME_BYTES + 1, "%s", (const char *)sqlite3_column_text(st, 0));
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SH_OK : sh__client_sql_fail(s, rc, "naming a contact");
    sqlite3_finalize(st);
    return rc;
}

int sh_client_contact_remove(sh_client_state *s, const char *name)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "DELETE FROM contacts WHERE name = ?", &st);

    if (rc != SH_OK)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sh__client_step_done(s, st, "removing a contact");
    if (rc == SH_OK && sqlite3_changes(s->db) == 0)
        rc = sh_err_set(SH_ERR_NOT_FOUND, "there is no contact named '%s'", name);
    return rc;
}

int sh_client_contact_list(sh_client_state *s, sh_client_contact_cb cb, void *ctx)
{
    sqlite3_stmt *st;
    uint8_t id[SH_SESSION_ID_BYTES];
    int rc = sh__client_prepare(s, "SELECT name, session_id FROM contacts ORDER BY name", &st);

    if (rc != SH_OK)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (blob_copy(st, 1, id, sizeof id, "contact") != SH_OK) {
            sqlite3_finalize(st);
            return SH_ERR_FORMAT;
        }
        cb((const char *)sqlite3_column_text(st, 0), id, ctx);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SH_OK : sh__client_sql_fail(s, rc, "listing contacts");
}

/* ---- messages ------------------------------------------------------------------------------ */

int sh_client_message_add(sh_client_state *s, const sh_client_message *m, int64_t *row)
{
    sqlite3_stmt *st = NULL;
    sh_buf body;
    int rc;

    sh_buf_init(&body);
    rc = sh__client_seal(s, "messages.body", m->text, m->text_len, &body);
    if (rc == SH_OK)
        rc = sh__client_prepare(s, "INSERT INTO messages(peer, outgoing, device, msg_id, sent_ms,"
                                   " received_ms, state, stored_k, stored_n, body)"
                                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &st);
    if (rc == SH_OK) {
        sqlite3_bind_blob(st, 1, m->peer, SH_SESSION_ID_BYTES, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, m->outgoing);
        sqlite3_bind_int64(st, 3, m->device);
        sqlite3_bind_blob(st, 4, m->msg_id, SH_CLIENT_MSG_ID_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, m->sent_ms);
        sqlite3_bind_int64(st, 6, m->received_ms);
        sqlite3_bind_int(st, 7, (int)m->state);
        sqlite3_bind_int64(st, 8, m->stored_k);
        sqlite3_bind_int64(st, 9, m->stored_n);
        sqlite3_bind_blob(st, 10, body.data, (int)body.len, SQLITE_STATIC);
        rc = sh__client_step_done(s, st, "saving a message");
        if (rc == SH_ERR_EXISTS)
            rc = sh_err_set(SH_ERR_EXISTS, "that message is already stored");
    }
    if (rc == SH_OK && row != NULL)
        *row = sqlite3_last_insert_rowid(s->db);
    sh_buf_free(&body);
    return rc;
}

int sh_client_message_set_state(sh_client_state *s, const uint8_t peer[static SH_SESSION_ID_BYTES],
                                const uint8_t msg_id[static SH_CLIENT_MSG_ID_BYTES],
                                sh_client_delivery state, uint32_t k, uint32_t n)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "UPDATE messages SET state = ?, stored_k = max(stored_k, ?),"
                                   " stored_n = max(stored_n, ?) WHERE peer = ? AND outgoing = 1"
                                   " AND msg_id = ? AND state <= ?", &st);

    if (rc != SH_OK)
        return rc;
    sqlite3_bind_int(st, 1, (int)state);
    sqlite3_bind_int64(st, 2, k);
    sqlite3_bind_int64(st, 3, n);
    sqlite3_bind_blob(st, 4, peer, SH_SESSION_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(st, 5, msg_id, SH_CLIENT_MSG_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, (int)state);
    rc = sh__client_step_done(s, st, "updating a message");
    if (rc == SH_OK && sqlite3_changes(s->db) == 0)
        rc = sh_err_set(SH_ERR_NOT_FOUND, "no message of ours with that id (or already further)");
    return rc;
}

static int message_row(sh_client_state *s, sqlite3_stmt *st, sh_client_message *m, sh_buf *text)
{
    int rc;

    memset(m, 0, sizeof *m);
    m->row = sqlite3_column_int64(st, 0);
    if ((rc = blob_copy(st, 1, m->peer, SH_SESSION_ID_BYTES, "message peer")) != SH_OK ||
        (rc = blob_copy(st, 4, m->msg_id, SH_CLIENT_MSG_ID_BYTES, "message id")) != SH_OK)
        return rc;
    m->outgoing = sqlite3_column_int(st, 2) != 0;
    m->device = (uint32_t)sqlite3_column_int64(st, 3);
    m->sent_ms = sqlite3_column_int64(st, 5);
    m->received_ms = sqlite3_column_int64(st, 6);
    m->state = (sh_client_delivery)sqlite3_column_int(st, 7);
    m->stored_k = (uint32_t)sqlite3_column_int64(st, 8);
    m->stored_n = (uint32_t)sqlite3_column_int64(st, 9);
    if (m->state > SH_CLIENT_EXPIRED)
        return sh_err_set(SH_ERR_FORMAT, "a stored message has an unknown state (damaged database?)");
    sh_buf_reset(text);
    rc = sh__client_open(s, "messages.body", sqlite3_column_blob(st, 10),
                         (size_t)sqlite3_column_bytes(st, 10), text);
    m->text = text->data;
    m->text_len = text->len;
    return rc;
}

int sh_client_message_list(sh_client_state *s, const uint8_t peer[static SH_SESSION_ID_BYTES],
                           size_t limit, sh_client_message_cb cb, void *ctx)
{
    sqlite3_stmt *st;
    sh_client_message m;
    sh_buf text;
    int rc = sh__client_prepare(s, "SELECT * FROM (SELECT id, peer, outgoing, device, msg_id,"
                                   " sent_ms, received_ms, state, stored_k, stored_n, body"
                                   " FROM messages WHERE peer = ? ORDER BY id DESC LIMIT ?)"
                                   " ORDER BY id", &st);

    if (rc != SH_OK)
        return rc;
    sh_buf_init_secret(&text);
    sqlite3_bind_blob(st, 1, peer, SH_SESSION_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, limit == 0 ? INT64_MAX : (int64_t)limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = message_row(s, st, &m, &text)) != SH_OK)
            goto done;
        cb(&m, ctx);
    }
    rc = rc == SQLITE_DONE ? SH_OK : sh__client_sql_fail(s, rc, "listing messages");
done:
    sqlite3_finalize(st);
    sh_buf_free(&text);
    return rc;
}

int sh_client_message_get(sh_client_state *s, int64_t row, sh_client_message_cb cb, void *ctx)
{
    sqlite3_stmt *st;
    sh_client_message m;
    sh_buf text;
    int rc = sh__client_prepare(s, "SELECT id, peer, outgoing, device, msg_id, sent_ms, received_ms,"
                                   " state, stored_k, stored_n, body FROM messages WHERE id = ?",
                                &st);

    if (rc != SH_OK)
        return rc;
    sh_buf_init_secret(&text);
    sqlite3_bind_int64(st, 1, row);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if ((rc = message_row(s, st, &m, &text)) == SH_OK)
            cb(&m, ctx);
    } else if (rc == SQLITE_DONE) {
        rc = sh_err_set(SH_ERR_NOT_FOUND, "no message in row %lld", (long long)row);
    } else {
        rc = sh__client_sql_fail(s, rc, "reading a message");
    }
    sqlite3_finalize(st);
    sh_buf_free(&text);
    return rc;
}

/* ---- outbox -------------------------------------------------------------------------------- */

void sh_client_outbox_row_free(sh_client_outbox_row *r)
{
    sh_buf_free(&r->payload);
    sh_buf_free(&r->envelope);
    sh_buf_free(&r->self_env);
}

int sh_client_outbox_add(sh_client_state *s, sh_client_kind kind,
                         const uint8_t peer[static SH_SESSION_ID_BYTES],
                         const uint8_t msg_id[static SH_CLIENT_MSG_ID_BYTES],
                         const uint8_t *payload, size_t len)
{
    sqlite3_stmt *st = NULL;
    sh_buf sealed;
    int rc;

    sh_buf_init(&sealed);
    rc = sh__client_seal(s, "outbox.payload", payload, len, &sealed);
    if (rc == SH_OK)
        rc = sh__client_prepare(s, "INSERT INTO outbox(kind, peer, msg_id, payload, created_ms)"
                                   " VALUES (?, ?, ?, ?, ?)", &st);
    if (rc == SH_OK) {
        sqlite3_bind_int(st, 1, (int)kind);
        sqlite3_bind_blob(st, 2, peer, SH_SESSION_ID_BYTES, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, msg_id, SH_CLIENT_MSG_ID_BYTES, SQLITE_STATIC);
        sqlite3_bind_blob(st, 4, sealed.data, (int)sealed.len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, sh_time_now_ms());
        rc = sh__client_step_done(s, st, "queueing in the outbox");
    }
    sh_buf_free(&sealed);
    return rc;
}

static int outbox_fill(sh_client_state *s, sqlite3_stmt *st, sh_client_outbox_row *r)
{
    int rc;

    r->row = sqlite3_column_int64(st, 0);
    r->kind = (sh_client_kind)sqlite3_column_int(st, 1);
    r->attempts = (uint32_t)sqlite3_column_int64(st, 7);
    r->created_ms = sqlite3_column_int64(st, 8);
    r->next_ms = sqlite3_column_int64(st, 9);
    if (r->kind != SH_CLIENT_TEXT && r->kind != SH_CLIENT_ACK)
        return sh_err_set(SH_ERR_FORMAT, "an outbox row of unknown kind (damaged database?)");
    if ((rc = blob_copy(st, 2, r->peer, SH_SESSION_ID_BYTES, "outbox peer")) != SH_OK ||
        (rc = blob_copy(st, 3, r->msg_id, SH_CLIENT_MSG_ID_BYTES, "outbox id")) != SH_OK ||
        (rc = sh__client_open(s, "outbox.payload", sqlite3_column_blob(st, 4),
                              (size_t)sqlite3_column_bytes(st, 4), &r->payload)) != SH_OK)
        return rc;
    if (sqlite3_column_type(st, 5) == SQLITE_BLOB &&
        (rc = sh_buf_append(&r->envelope, sqlite3_column_blob(st, 5),
                            (size_t)sqlite3_column_bytes(st, 5))) != SH_OK)
        return rc;
    if (sqlite3_column_type(st, 6) == SQLITE_BLOB &&
        (rc = sh_buf_append(&r->self_env, sqlite3_column_blob(st, 6),
                            (size_t)sqlite3_column_bytes(st, 6))) != SH_OK)
        return rc;
    return SH_OK;
}

int sh_client_outbox_next(sh_client_state *s, int64_t after, sh_client_outbox_row *out)
{
    sqlite3_stmt *st;
    int rc;

    memset(out, 0, sizeof *out);
    sh_buf_init_secret(&out->payload);
    sh_buf_init(&out->envelope);
    sh_buf_init(&out->self_env);
    rc = sh__client_prepare(s, "SELECT id, kind, peer, msg_id, payload, envelope, self_env,"
                               " attempts, created_ms, next_ms FROM outbox WHERE id > ?"
                               " ORDER BY id LIMIT 1",
                            &st);
    if (rc != SH_OK)
        return rc;
    sqlite3_bind_int64(st, 1, after);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rc = outbox_fill(s, st, out);
    else if (rc == SQLITE_DONE)
        rc = sh_err_set(SH_ERR_NOT_FOUND, "the outbox is empty");
    else
        rc = sh__client_sql_fail(s, rc, "reading the outbox");
    sqlite3_finalize(st);
    if (rc != SH_OK)
        sh_client_outbox_row_free(out);
    return rc;
}

int sh_client_outbox_count(sh_client_state *s, size_t *n)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "SELECT count(*) FROM outbox", &st);

    if (rc != SH_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = (size_t)sqlite3_column_int64(st, 0);
    rc = rc == SQLITE_ROW ? SH_OK : sh__client_sql_fail(s, rc, "counting the outbox");
    sqlite3_finalize(st);
    return rc;
}

int sh_client_outbox_sealed(sh_client_state *s, int64_t row, const sh_buf *envelope,
                            const sh_buf *self_env)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "UPDATE outbox SET envelope = ?, self_env = ? WHERE id = ?", &st);

    if (rc != SH_OK)
        return rc;
    sqlite3_bind_blob(st, 1, envelope->data, (int)envelope->len, SQLITE_STATIC);
    if (self_env->len > 0)
        sqlite3_bind_blob(st, 2, self_env->data, (int)self_env->len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int64(st, 3, row);
    return sh__client_step_done(s, st, "saving a sealed envelope");
}

int sh_client_outbox_failed(sh_client_state *s, int64_t row, const char *error, int64_t next_ms)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "UPDATE outbox SET attempts = attempts + 1, last_error = ?,"
                                   " next_ms = ? WHERE id = ?", &st);

    if (rc != SH_OK)
        return rc;
    sqlite3_bind_text(st, 1, error, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, next_ms);
    sqlite3_bind_int64(st, 3, row);
    return sh__client_step_done(s, st, "counting a failed attempt");
}

int sh_client_outbox_done(sh_client_state *s, int64_t row)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "DELETE FROM outbox WHERE id = ?", &st);

    if (rc != SH_OK)
        return rc;
    sqlite3_bind_int64(st, 1, row);
    return sh__client_step_done(s, st, "removing a sent row");
}

/* ---- cursors and seen hashes ---------------------------------------------------------------- */

int sh_client_cursor_get(sh_client_state *s, int16_t ns, sh_store_cursor *out, bool *found)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "SELECT timestamp_ms, hash FROM cursors WHERE ns = ?", &st);

    if (rc != SH_OK)
        return rc;
    memset(out, 0, sizeof *out);
    *found = false;
    sqlite3_bind_int(st, 1, ns);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->timestamp_ms = sqlite3_column_int64(st, 0);
        rc = blob_copy(st, 1, out->hash, SH_STORE_HASH_BYTES, "cursor");
        *found = rc == SH_OK;
    } else {
        rc = rc == SQLITE_DONE ? SH_OK : sh__client_sql_fail(s, rc, "reading a cursor");
    }
    sqlite3_finalize(st);
    return rc;
}

int sh_client_cursor_put(sh_client_state *s, int16_t ns, const sh_store_cursor *c)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "INSERT OR REPLACE INTO cursors(ns, timestamp_ms, hash)"
                                   " VALUES (?, ?, ?)", &st);

    if (rc != SH_OK)
        return rc;
    sqlite3_bind_int(st, 1, ns);
    sqlite3_bind_int64(st, 2, c->timestamp_ms);
    sqlite3_bind_blob(st, 3, c->hash, SH_STORE_HASH_BYTES, SQLITE_STATIC);
    return sh__client_step_done(s, st, "saving a cursor");
}

int sh_client_seen_check(sh_client_state *s, int16_t ns, const uint8_t hash[static 32], bool *seen)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "SELECT 1 FROM seen WHERE ns = ? AND hash = ?", &st);

    if (rc != SH_OK)
        return rc;
    sqlite3_bind_int(st, 1, ns);
    sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *seen = rc == SQLITE_ROW;
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SH_OK : sh__client_sql_fail(s, rc, "deduping");
    sqlite3_finalize(st);
    return rc;
}

int sh_client_seen_add(sh_client_state *s, int16_t ns, const uint8_t hash[static 32],
                       int64_t expiry_ms)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "INSERT OR IGNORE INTO seen(ns, hash, expiry_ms) VALUES (?, ?, ?)",
                                &st);

    if (rc != SH_OK)
        return rc;
    sqlite3_bind_int(st, 1, ns);
    sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, expiry_ms);
    return sh__client_step_done(s, st, "remembering a hash");
}

int sh_client_seen_sweep(sh_client_state *s, int64_t now_ms)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "DELETE FROM seen WHERE expiry_ms < ?", &st);

    if (rc != SH_OK)
        return rc;
    sqlite3_bind_int64(st, 1, now_ms);
    return sh__client_step_done(s, st, "forgetting expired hashes");
}

/* ---- receipts: where our stored messages are, to count their members again ------------------ */

int sh_client_receipt_put(sh_client_state *s, const uint8_t peer[static SH_SESSION_ID_BYTES],
                          const uint8_t msg_id[static SH_CLIENT_MSG_ID_BYTES],
                          const uint8_t hash[static 32], int64_t expiry_ms)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "INSERT OR REPLACE INTO receipts(peer, msg_id, hash, expiry_ms)"
                                   " VALUES(?, ?, ?, ?)", &st);

    if (rc != SH_OK)
        return rc;
    sqlite3_bind_blob(st, 1, peer, SH_SESSION_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, msg_id, SH_CLIENT_MSG_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, expiry_ms);
    return sh__client_step_done(s, st, "saving where a message is stored");
}

int sh_client_receipt_pending(sh_client_state *s, int64_t now_ms, sh_client_stored *out,
                              size_t cap, size_t *n)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "DELETE FROM receipts WHERE expiry_ms < ? OR NOT EXISTS"
                                   " (SELECT 1 FROM messages m WHERE m.peer = receipts.peer AND"
                                   " m.outgoing = 1 AND m.msg_id = receipts.msg_id"
                                   " AND m.state = 1)",
                                &st);

    *n = 0;
    if (rc != SH_OK)
        return rc;
    sqlite3_bind_int64(st, 1, now_ms);
    if ((rc = sh__client_step_done(s, st, "forgetting receipts no longer needed")) != SH_OK ||
        (rc = sh__client_prepare(s, "SELECT r.peer, r.msg_id, r.hash, m.stored_k, m.stored_n"
                                    " FROM receipts r JOIN messages m ON m.peer = r.peer AND"
                                    " m.outgoing = 1 AND m.msg_id = r.msg_id"
                                    " WHERE m.stored_k < m.stored_n OR m.stored_n = 0"
                                    " ORDER BY m.id LIMIT ?", &st)) != SH_OK)
        return rc;
    sqlite3_bind_int64(st, 1, (int64_t)cap);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sh_client_stored *o = &out[*n];
        int brc;
        if ((brc = blob_copy(st, 0, o->peer, SH_SESSION_ID_BYTES, "receipt peer")) != SH_OK ||
            (brc = blob_copy(st, 1, o->msg_id, SH_CLIENT_MSG_ID_BYTES, "receipt id")) != SH_OK ||
            (brc = blob_copy(st, 2, o->hash, 32, "receipt hash")) != SH_OK) {
            sqlite3_finalize(st);
            return brc;
        }
        o->stored_k = (uint32_t)sqlite3_column_int64(st, 3);
        o->stored_n = (uint32_t)sqlite3_column_int64(st, 4);
        ++*n;
    }
    rc = rc == SQLITE_DONE ? SH_OK : sh__client_sql_fail(s, rc, "reading receipts");
    sqlite3_finalize(st);
    return rc;
}

int sh_client_stored_expired(sh_client_state *s, int64_t now_ms, sh_client_stored *out, size_t cap,
                             size_t *n)
{
    sqlite3_stmt *st;
    int rc = sh__client_prepare(s, "SELECT r.peer, r.msg_id, r.hash FROM receipts r JOIN messages m"
                                   " ON m.peer = r.peer AND m.outgoing = 1 AND m.msg_id = r.msg_id"
                                   " WHERE m.state = 1 AND r.expiry_ms < ? ORDER BY m.id LIMIT ?",
                                &st);

    *n = 0;
    if (rc != SH_OK)
        return rc;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, (int64_t)cap);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sh_client_stored *o = &out[*n];
        int brc;
        memset(o, 0, sizeof *o);
        if ((brc = blob_copy(st, 0, o->peer, SH_SESSION_ID_BYTES, "receipt peer")) != SH_OK ||
            (brc = blob_copy(st, 1, o->msg_id, SH_CLIENT_MSG_ID_BYTES, "receipt id")) != SH_OK ||
            (brc = blob_copy(st, 2, o->hash, 32, "receipt hash")) != SH_OK) {
            sqlite3_finalize(st);
            return brc;
        }
        ++*n;
    }
    rc = rc == SQLITE_DONE ? SH_OK : sh__client_sql_fail(s, rc, "reading expired messages");
    sqlite3_finalize(st);
    return rc;
}
