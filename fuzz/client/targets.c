/* libFuzzer targets of the client module (FUZZ_TARGET picks one):
 *   1 client-bot      a bot command line; what parses has a command, and text that is valid UTF-8
 *   2 client-payload  a decrypted payload; what parses (version 2) encodes back to the same bytes
 *   3 client-netfile  a network file (with node lines)
 *   4 client-rows     stored rows: the input split into a message body, an outbox row, a held
 *                     text and a device state written raw into a client database, then read
 *                     back (the held text by releasing it) */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sh_identity_init() == SH_OK ? 0 : 1;
}

#if FUZZ_TARGET == 1
static void run(const uint8_t *data, size_t size)
{
    sh_client_bot_cmd c;

    sh_client_bot_cmd_init(&c);
    if (sh_client_bot_parse((const char *)data, size, &c) == SH_OK &&
        (c.cmd[0] == '\0' || (c.text.len > 0 && !sh_client_text_ok(c.text.data, c.text.len))))
        abort();
    sh_client_bot_cmd_free(&c);
}
#elif FUZZ_TARGET == 2
static void run(const uint8_t *data, size_t size)
{
    sh_client_payload p;
    sh_buf again;

    if (sh_client_payload_parse(data, size, &p) != SH_OK)
        return;
    if (p.version == 1) { /* read, never written: no number */
        if (p.seq != 0)
            abort();
        return;
    }
    sh_buf_init(&again);
    if (sh_client_payload_encode(&p, &again) != SH_OK || again.len != size ||
        memcmp(again.data, data, size) != 0)
        abort();
    sh_buf_free(&again);
}
#elif FUZZ_TARGET == 3
static void run(const uint8_t *data, size_t size)
{
    static sh_client_network net;

    if (sh_client_network_parse((const char *)data, size, &net) == SH_OK &&
        (net.n_nodes == 0 || net.n_nodes > SH_CLIENT_MAX_NODES))
        abort();
}
#else
#define PEER_HEX "0000000000000000000000000000000000000000000000000000000000000000"
#define ID_HEX "000000000000000000000000000000" /* 15 bytes: one more follows */
static sh_client_state *state;
static char db_path[64];

static void msg_cb(const sh_client_message *m, void *ctx)
{
    (void)ctx;
    if (m->text_len > 0 && m->text == NULL)
        abort();
}

/* Runs every statement of sql; the one with a parameter gets the blob. */
static void put_raw(const char *sql, const uint8_t *blob, size_t len)
{
    sqlite3 *db;
    sqlite3_stmt *st;

    if (sqlite3_open(db_path, &db) != SQLITE_OK)
        abort();
    while (*sql != '\0') {
        if (sqlite3_prepare_v2(db, sql, -1, &st, &sql) != SQLITE_OK)
            abort();
        if (st == NULL)
            break;
        if (sqlite3_bind_parameter_count(st) > 0)
            sqlite3_bind_blob(st, 1, len ? blob : (const void *)"", (int)len, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            abort();
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
}

static void run(const uint8_t *data, size_t size)
{
    sh_client_keysrc k = {.key_file = "/tmp/fuzz-client-rows.key"};
    uint8_t peer[33] = {5};
    size_t third = size / 3, quarter = third / 2;
    sh_client_outbox_row r;
    sh_client_rows rows = {0};
    sh_buf dev;

    if (state == NULL) {
        snprintf(db_path, sizeof db_path, "/tmp/fuzz-client-rows-%d.db", (int)getpid());
        unlink(db_path);
        if (sh_client_state_open(db_path, &k, &state) != SH_OK)
            abort();
    }
    put_raw("DELETE FROM messages; INSERT INTO messages(peer, outgoing, device, msg_id, sent_ms,"
            " received_ms, state, body) VALUES (x'05" PEER_HEX "', 0, 0, x'" ID_HEX "01', 0, 0,"
            " 3, ?)", data, third);
    put_raw("DELETE FROM outbox; INSERT INTO outbox(kind, peer, msg_id, payload) VALUES "
            "(1, x'05', x'00', ?)", data + third, quarter);
    put_raw("DELETE FROM held; INSERT INTO held(peer, outgoing, device, seq, msg_id, sent_ms,"
            " held_ms, body) VALUES (x'05" PEER_HEX "', 0, 1, 2, x'" ID_HEX "00', 0, 0, ?)",
            data + third + quarter, third - quarter);
    put_raw("INSERT OR REPLACE INTO device(id, state) VALUES (1, ?)", data + 2 * third,
            size - 2 * third);
    (void)sh_client_message_list(state, peer, 0, msg_cb, NULL);
    if (sh_client_order_release(state, 1, 0, &rows) == SH_OK && rows.n != 1) /* a held text */
        abort();
    sh_client_rows_free(&rows);
    if (sh_client_outbox_next(state, 0, &r) == SH_OK)
        sh_client_outbox_row_free(&r);
    sh_buf_init(&dev);
    (void)sh_client_state_device_get(state, &dev);
    sh_buf_free(&dev);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size);
    return 0;
}
