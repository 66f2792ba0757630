/* Unit tests of the client module's pure parts: the state database (round trips, the outbox
 * across a restart, wrong passphrase and key file, a corrupt file, a damaged row), payloads,
 * the network file and bot command lines. Each case is its own process (argv[1] names it). */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "e2e/e2e.h"
#include "node/node.h"
#include "onion/onion.h"
#include "store/namespaces.h"
#include "test.h"
#include "util/encode.h"
#include "util/fs.h"

static char db_path[512], key_path[512];

static void paths(void)
{
    snprintf(db_path, sizeof db_path, "%s/client.db", test_tmpdir());
    snprintf(key_path, sizeof key_path, "%s/client.key", test_tmpdir());
}

static sh_client_state *open_keyfile(void)
{
    sh_client_keysrc k = {.key_file = key_path};
    sh_client_state *s;

    CHECK_OK(sh_client_state_open(db_path, &k, &s));
    return s;
}

static sh_client_state *open_pass(const char *pass)
{
    sh_client_keysrc k = {.passphrase = pass, .passphrase_len = strlen(pass),
                          .cost = SH_KDF_COST_MIN};
    sh_client_state *s;

    CHECK_OK(sh_client_state_open(db_path, &k, &s));
    return s;
}

static void sid(uint8_t out[static 33], uint8_t fill)
{
    out[0] = 0x05;
    memset(out + 1, fill, 32);
}

typedef struct seen_msgs {
    int n;
    char texts[8][32];
    sh_client_delivery states[8];
} seen_msgs;

static void collect_cb(const sh_client_message *m, void *ctx)
{
    seen_msgs *s = ctx;

    CHECK(s->n < 8);
    snprintf(s->texts[s->n], 32, "%.*s", (int)m->text_len, (const char *)m->text);
    s->states[s->n++] = m->state;
}

static void contacts_roundtrip(sh_client_state *s)
{
    uint8_t a[33], b[33], got[33];
    char name[SH_CLIENT_MAX_NAME_BYTES + 1];

    sid(a, 0xaa);
    sid(b, 0xbb);
    CHECK_OK(sh_client_contact_add(s, "alice", a));
    CHECK_ERR(sh_client_contact_add(s, "alice", b), SH_ERR_EXISTS);
    CHECK_ERR(sh_client_contact_add(s, "alice2", a), SH_ERR_EXISTS);
    CHECK_ERR(sh_client_contact_add(s, "has space", b), SH_ERR_INVALID);
    CHECK_ERR(sh_client_contact_add(s, "", b), SH_ERR_INVALID);
    CHECK_OK(sh_client_contact_get(s, "alice", got));
    CHECK_MEM(got, a, 33);
    CHECK_OK(sh_client_contact_name(s, a, name));
    CHECK_STR(name, "alice");
    CHECK_OK(sh_client_contact_name(s, b, name));
    CHECK_STR(name, "");
    CHECK_ERR(sh_client_contact_get(s, "bob", got), SH_ERR_NOT_FOUND);
    CHECK_MSG("no contact named 'bob'");
    CHECK_ERR(sh_client_contact_remove(s, "bob"), SH_ERR_NOT_FOUND);
}

static void messages_roundtrip(sh_client_state *s)
{
    uint8_t a[33];
    sh_client_message m = {.outgoing = true, .sent_ms = 1000, .received_ms = 1000,
                           .text = (const uint8_t *)"hi", .text_len = 2};
    seen_msgs got = {0};
    int64_t row;

    sid(a, 0xaa);
    memcpy(m.peer, a, 33);
    memset(m.msg_id, 1, 16);
    CHECK_OK(sh_client_message_add(s, &m, &row));
    CHECK_ERR(sh_client_message_add(s, &m, &row), SH_ERR_EXISTS);
    m.outgoing = false;
    m.state = SH_CLIENT_RECEIVED;
    m.text = (const uint8_t *)"hello";
    m.text_len = 5;
    CHECK_OK(sh_client_message_add(s, &m, &row)); /* same id, other direction */
    CHECK_OK(sh_client_message_set_state(s, a, m.msg_id, SH_CLIENT_STORED, 1, 1));
    CHECK_OK(sh_client_message_set_state(s, a, m.msg_id, SH_CLIENT_DELIVERED, 0, 0));
    /* never lowered */
    CHECK_ERR(sh_client_message_set_state(s, a, m.msg_id, SH_CLIENT_STORED, 1, 1), SH_ERR_NOT_FOUND);
    CHECK_OK(sh_client_message_list(s, a, 0, collect_cb, &got));
    CHECK_EQ(got.n, 2);
    CHECK_STR(got.texts[0], "hi");
    CHECK_EQ(got.states[0], SH_CLIENT_DELIVERED);
    CHECK_STR(got.texts[1], "hello");
    got.n = 0;
    CHECK_OK(sh_client_message_list(s, a, 1, collect_cb, &got));
    CHECK_EQ(got.n, 1);
    CHECK_STR(got.texts[0], "hello");
}

static void cursors_roundtrip(sh_client_state *s)
{
    sh_store_cursor c = {.timestamp_ms = 12345}, got;
    uint8_t h[32];
    bool found, seen;

    memset(c.hash, 7, 32);
    memset(h, 9, 32);
    CHECK_OK(sh_client_cursor_get(s, 0, &got, &found));
    CHECK(!found);
    CHECK_OK(sh_client_cursor_put(s, 0, &c));
    CHECK_OK(sh_client_cursor_get(s, 0, &got, &found));
    CHECK(found);
    CHECK_EQ(got.timestamp_ms, 12345);
    CHECK_MEM(got.hash, c.hash, 32);
    CHECK_OK(sh_client_seen_check(s, 0, h, &seen));
    CHECK(!seen);
    CHECK_OK(sh_client_seen_add(s, 0, h, 5000));
    CHECK_OK(sh_client_seen_add(s, 0, h, 5000));
    CHECK_OK(sh_client_seen_check(s, 0, h, &seen));
    CHECK(seen);
    CHECK_OK(sh_client_seen_sweep(s, 4999));
    CHECK_OK(sh_client_seen_check(s, 0, h, &seen));
    CHECK(seen);
    CHECK_OK(sh_client_seen_sweep(s, 5001));
    CHECK_OK(sh_client_seen_check(s, 0, h, &seen));
    CHECK(!seen);
}

static void roundtrip(void)
{
    sh_client_state *s = open_keyfile();
    sh_buf dev;

    contacts_roundtrip(s);
    messages_roundtrip(s);
    cursors_roundtrip(s);
    sh_buf_init(&dev);
    CHECK_ERR(sh_client_state_device_get(s, &dev), SH_ERR_NOT_FOUND);
    CHECK_OK(sh_client_state_device_put(s, (const uint8_t *)"secret state", 12));
    CHECK_OK(sh_client_state_device_get(s, &dev));
    CHECK_EQ(dev.len, 12);
    CHECK_MEM(dev.data, "secret state", 12);
    sh_client_state_close(s);
    s = open_keyfile(); /* everything is still there after reopening */
    sh_buf_reset(&dev);
    CHECK_OK(sh_client_state_device_get(s, &dev));
    CHECK_MEM(dev.data, "secret state", 12);
    {
        uint8_t got[33], a[33];
        sid(a, 0xaa);
        CHECK_OK(sh_client_contact_get(s, "alice", got));
        CHECK_MEM(got, a, 33);
        CHECK_OK(sh_client_contact_remove(s, "alice"));
        CHECK_ERR(sh_client_contact_get(s, "alice", got), SH_ERR_NOT_FOUND);
    }
    sh_client_state_close(s);
    sh_buf_free(&dev);
}

/* The device state and message texts never appear in clear in the file. */
static void sealed_at_rest(void)
{
    sh_client_state *s = open_pass("pw");
    sh_client_message m = {.text = (const uint8_t *)"PLAINTEXT-MARKER", .text_len = 16};
    sh_buf file;

    sid(m.peer, 1);
    CHECK_OK(sh_client_message_add(s, &m, NULL));
    CHECK_OK(sh_client_state_device_put(s, (const uint8_t *)"DEVICE-MARKER", 13));
    CHECK_OK(sh_client_outbox_add(s, SH_CLIENT_TEXT, m.peer, m.msg_id,
                                  (const uint8_t *)"OUTBOX-MARKER", 13));
    sh_client_state_close(s);
    sh_buf_init(&file);
    CHECK_OK(sh_fs_read_file(db_path, 1 << 24, &file));
    {
        char wal[600];
        sh_buf w;
        snprintf(wal, sizeof wal, "%s-wal", db_path);
        sh_buf_init(&w);
        if (sh_fs_read_file(wal, 1 << 24, &w) == SH_OK)
            CHECK_OK(sh_buf_append(&file, w.data, w.len));
        sh_buf_free(&w);
    }
    CHECK(memmem(file.data, file.len, "PLAINTEXT-MARKER", 16) == NULL);
    CHECK(memmem(file.data, file.len, "DEVICE-MARKER", 13) == NULL);
    CHECK(memmem(file.data, file.len, "OUTBOX-MARKER", 13) == NULL);
    sh_buf_free(&file);
}

static void outbox_restart(void)
{
    sh_client_state *s = open_keyfile();
    sh_client_outbox_row r;
    uint8_t a[33], id[16];
    sh_buf env, self;
    size_t n;

    sid(a, 0xaa);
    memset(id, 3, 16);
    CHECK_OK(sh_client_outbox_add(s, SH_CLIENT_TEXT, a, id, (const uint8_t *)"one", 3));
    id[0] = 4;
    CHECK_OK(sh_client_outbox_add(s, SH_CLIENT_ACK, a, id, (const uint8_t *)"two", 3));
    CHECK_OK(sh_client_outbox_next(s, 0, &r));
    sh_buf_init(&env);
    sh_buf_init(&self);
    CHECK_OK(sh_buf_append(&env, "ENVELOPE", 8));
    CHECK_OK(sh_client_outbox_sealed(s, r.row, &env, &self));
    CHECK_OK(sh_client_outbox_failed(s, r.row, "network down", 0));
    sh_client_outbox_row_free(&r);
    sh_client_state_close(s); /* the process ends here */
    s = open_keyfile();
    CHECK_OK(sh_client_outbox_count(s, &n));
    CHECK_EQ(n, 2);
    CHECK_OK(sh_client_outbox_next(s, 0, &r));
    CHECK_EQ(r.kind, SH_CLIENT_TEXT);
    CHECK_EQ(r.attempts, 1);
    CHECK_EQ(r.payload.len, 3);
    CHECK_MEM(r.payload.data, "one", 3);
    CHECK_EQ(r.envelope.len, 8); /* sealed before the restart: sent as it was sealed */
    CHECK_EQ(r.self_env.len, 0);
    CHECK_OK(sh_client_outbox_done(s, r.row));
    sh_client_outbox_row_free(&r);
    CHECK_OK(sh_client_outbox_next(s, 0, &r));
    CHECK_EQ(r.kind, SH_CLIENT_ACK);
    CHECK_EQ(r.envelope.len, 0);
    CHECK_OK(sh_client_outbox_done(s, r.row));
    sh_client_outbox_row_free(&r);
    CHECK_ERR(sh_client_outbox_next(s, 0, &r), SH_ERR_NOT_FOUND);
    sh_client_state_close(s);
    sh_buf_free(&env);
    sh_buf_free(&self);
}

static void passphrase(void)
{
    sh_client_keysrc wrong = {.passphrase = "wrong", .passphrase_len = 5, .cost = SH_KDF_COST_MIN};
    sh_client_keysrc none = {.key_file = key_path};
    sh_client_state *s = open_pass("right"), *t = NULL;

    CHECK_OK(sh_client_contact_add(s, "carol", (const uint8_t[33]){5, 1}));
    sh_client_state_close(s);
    CHECK_ERR(sh_client_state_open(db_path, &wrong, &t), SH_ERR_CRYPTO);
    CHECK_MSG("wrong passphrase");
    CHECK(t == NULL);
    CHECK_ERR(sh_client_state_open(db_path, &none, &t), SH_ERR_PERMISSION);
    CHECK_MSG("protected by a passphrase");
    s = open_pass("right");
    CHECK_OK(sh_client_contact_get(s, "carol", (uint8_t[33]){0}));
    sh_client_state_close(s);
}

static void keyfile(void)
{
    sh_client_keysrc pass = {.passphrase = "x", .passphrase_len = 1, .cost = SH_KDF_COST_MIN};
    sh_client_keysrc k = {.key_file = key_path};
    sh_client_state *s = open_keyfile(), *t = NULL;
    uint8_t other[32];

    sh_client_state_close(s);
    CHECK_ERR(sh_client_state_open(db_path, &pass, &t), SH_ERR_INVALID);
    CHECK_MSG("key file, not a passphrase");
    memset(other, 0x42, sizeof other);
    CHECK_OK(sh_fs_write_file(key_path, other, sizeof other, 0600));
    CHECK_ERR(sh_client_state_open(db_path, &k, &t), SH_ERR_CRYPTO);
    CHECK_MSG("does not open");
    CHECK_OK(sh_fs_write_file(key_path, other, 31, 0600));
    CHECK_ERR(sh_client_state_open(db_path, &k, &t), SH_ERR_CRYPTO);
    CHECK_MSG("has 31 bytes");
}

static void corrupt(void)
{
    sh_client_keysrc k = {.key_file = key_path};
    sh_client_state *t = NULL;
    uint8_t junk[8192];

    test_random(junk, sizeof junk);
    CHECK_OK(sh_fs_write_file(db_path, junk, sizeof junk, 0600));
    CHECK_ERR(sh_client_state_open(db_path, &k, &t), SH_ERR_FORMAT);
    CHECK_MSG("not a shoal client database");
    CHECK(t == NULL);
}

/* A sealed column changed behind our back is an error, not a crash or garbage. */
static void damaged_row(void)
{
    sh_client_state *s = open_keyfile();
    sh_client_message m = {.text = (const uint8_t *)"text", .text_len = 4};
    seen_msgs got = {0};
    sqlite3 *db;
    sh_buf dev;

    sid(m.peer, 2);
    CHECK_OK(sh_client_message_add(s, &m, NULL));
    CHECK_OK(sh_client_state_device_put(s, (const uint8_t *)"state", 5));
    sh_client_state_close(s);
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "UPDATE messages SET body = x'00112233';"
                           "UPDATE device SET state = randomblob(60);"
                           "INSERT INTO meta VALUES ('peer:x', x'01')", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    s = open_keyfile();
    CHECK_ERR(sh_client_message_list(s, m.peer, 0, collect_cb, &got), SH_ERR_FORMAT);
    CHECK_MSG("too short");
    sh_buf_init(&dev);
    CHECK_ERR(sh_client_state_device_get(s, &dev), SH_ERR_FORMAT);
    CHECK_MSG("damaged");
    sh_buf_free(&dev);
    sh_client_state_close(s);
}

static void payload(void)
{
    sh_client_payload p = {.kind = SH_CLIENT_TEXT, .sent_ms = 0x0102030405060708LL, .seq = 0x0a0b,
                           .text = (const uint8_t *)"h\xc3\xa9", .text_len = 3}, q;
    sh_buf b;
    /* version 2, kind 1, id 00..0f, time, seq, "hé" — written out by hand from client.h */
    static const uint8_t want[] = {2, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                   1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0x0a, 0x0b,
                                   'h', 0xc3, 0xa9};
    /* version 1 (no seq), still read: its text is unnumbered */
    static const uint8_t v1[] = {1, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                 1, 2, 3, 4, 5, 6, 7, 8, 'h', 0xc3, 0xa9};
    uint8_t bad[sizeof want];

    for (int i = 0; i < 16; i++)
        p.msg_id[i] = (uint8_t)i;
    sh_buf_init(&b);
    CHECK_OK(sh_client_payload_encode(&p, &b));
    CHECK_EQ(b.len, sizeof want);
    CHECK_MEM(b.data, want, sizeof want);
    CHECK_OK(sh_client_payload_parse(b.data, b.len, &q));
    CHECK_EQ(q.version, 2);
    CHECK_EQ(q.kind, SH_CLIENT_TEXT);
    CHECK_EQ(q.sent_ms, p.sent_ms);
    CHECK_EQ(q.seq, 0x0a0b);
    CHECK_EQ(q.text_len, 3);
    CHECK_MEM(q.text, "h\xc3\xa9", 3);
    CHECK_OK(sh_client_payload_parse(v1, sizeof v1, &q));
    CHECK_EQ(q.version, 1);
    CHECK_EQ(q.seq, 0);
    CHECK_EQ(q.text_len, 3);
    CHECK_ERR(sh_client_payload_parse(v1, 25, &q), SH_ERR_FORMAT);
    CHECK_ERR(sh_client_payload_parse(want, 33, &q), SH_ERR_FORMAT); /* v2 needs 34 */
    CHECK_MSG("shorter than its 34-byte header");
    CHECK_ERR(sh_client_payload_parse(want, 0, &q), SH_ERR_FORMAT);
    memcpy(bad, want, sizeof bad);
    bad[0] = 3;
    CHECK_ERR(sh_client_payload_parse(bad, sizeof bad, &q), SH_ERR_UNSUPPORTED);
    bad[0] = 0;
    CHECK_ERR(sh_client_payload_parse(bad, sizeof bad, &q), SH_ERR_UNSUPPORTED);
    bad[0] = 2, bad[1] = 3;
    CHECK_ERR(sh_client_payload_parse(bad, sizeof bad, &q), SH_ERR_UNSUPPORTED);
    bad[1] = 2; /* an acknowledgement with a number (and text) */
    CHECK_ERR(sh_client_payload_parse(bad, sizeof bad, &q), SH_ERR_FORMAT);
    CHECK_MSG("no sequence number");
    bad[32] = bad[33] = 0; /* an acknowledgement with text */
    CHECK_ERR(sh_client_payload_parse(bad, sizeof bad, &q), SH_ERR_FORMAT);
    CHECK_MSG("acknowledgement with 3 bytes");
    CHECK_OK(sh_client_payload_parse(bad, 34, &q)); /* a well-formed acknowledgement */
    CHECK_EQ(q.kind, SH_CLIENT_ACK);
    bad[1] = 1; /* a text numbered 0 */
    CHECK_ERR(sh_client_payload_parse(bad, sizeof bad, &q), SH_ERR_FORMAT);
    CHECK_MSG("start at 1");
    bad[26] = 0x80; /* a number past INT64_MAX */
    CHECK_ERR(sh_client_payload_parse(bad, sizeof bad, &q), SH_ERR_FORMAT);
    CHECK_MSG("sequence number is out of range");
    bad[26] = 0x7f, bad[35] = 0xc0; /* overlong / broken UTF-8 */
    CHECK_ERR(sh_client_payload_parse(bad, sizeof bad, &q), SH_ERR_FORMAT);
    bad[35] = 0xc3, bad[18] = 0x80; /* a time past INT64_MAX */
    CHECK_ERR(sh_client_payload_parse(bad, sizeof bad, &q), SH_ERR_FORMAT);
    CHECK_MSG("time is out of range");
    CHECK(!sh_client_text_ok((const uint8_t *)"\xed\xa0\x80", 3)); /* a surrogate */
    CHECK(!sh_client_text_ok((const uint8_t *)"a\0b", 3));
    CHECK(!sh_client_text_ok((const uint8_t *)"\x1b[2J", 4)); /* terminal escapes */
    CHECK(sh_client_text_ok((const uint8_t *)"tab\tnew\nline \xf0\x9f\x90\x9f", 17));
    p.seq = 0; /* encode refuses what parse refuses */
    CHECK_ERR(sh_client_payload_encode(&p, &b), SH_ERR_INVALID);
    p.kind = SH_CLIENT_ACK, p.text_len = 0, p.seq = 1;
    CHECK_ERR(sh_client_payload_encode(&p, &b), SH_ERR_INVALID);
    p.kind = SH_CLIENT_TEXT, p.text_len = SH_CLIENT_MAX_TEXT_BYTES + 1;
    CHECK_ERR(sh_client_payload_encode(&p, &b), SH_ERR_LIMIT);
    sh_buf_free(&b);
}

static void netfile(void)
{
    sh_client_network n;
    const char *ok = "# devnet\nshoal-network 1\n\nnode "
                     "4d640bd72989bcac8314542e355a697d984795249d854889342e66005d7dc686 "
                     "ca8ed854dc5d6e211aef49da53b3be70874716bc477b42f89e8b64b585752b27 "
                     "127.0.0.1:39537\n";
    char buf[1024];

    CHECK_OK(sh_client_network_parse(ok, strlen(ok), &n));
    CHECK_EQ(n.n_nodes, 1);
    CHECK_EQ(n.nodes[0].port, 39537);
    CHECK_STR(n.nodes[0].ip, "127.0.0.1");
    CHECK_EQ(n.nodes[0].link_key[0], 0xca);
    CHECK_ERR(sh_client_network_parse("shoal-network 1\n", 16, &n), SH_ERR_NOT_FOUND);
    CHECK_ERR(sh_client_network_parse("shoal-network 2\n", 16, &n), SH_ERR_UNSUPPORTED);
    CHECK_ERR(sh_client_network_parse("node x\n", 7, &n), SH_ERR_FORMAT);
    snprintf(buf, sizeof buf, "%s", ok);
    buf[strlen(buf) - 3] = 'x'; /* a port that is not a number */
    CHECK_ERR(sh_client_network_parse(buf, strlen(buf), &n), SH_ERR_FORMAT);
    CHECK_MSG("line 4");
    snprintf(buf, sizeof buf, "%s", ok);
    buf[40] = 'g';
    CHECK_ERR(sh_client_network_parse(buf, strlen(buf), &n), SH_ERR_FORMAT);
    CHECK_MSG("identity key");
    /* authorities are checked by the directory's parser: k missing */
    snprintf(buf, sizeof buf, "%sauthority %.64s %.64s 127.0.0.1:7000\n", ok, ok + 31, ok + 96);
    CHECK_ERR(sh_client_network_parse(buf, strlen(buf), &n), SH_ERR_FORMAT);
}

static void bot(void)
{
    sh_client_bot_cmd c;
    const char *line = " {\"cmd\":\"send\", \"to\":\"bob\",\"text\":\"a\\\"b\\n\\u00e9\\ud83d\\udc1f\","
                       "\"id\":\"7\"} ";

    sh_client_bot_cmd_init(&c);
    CHECK_OK(sh_client_bot_parse(line, strlen(line), &c));
    CHECK_STR(c.cmd, "send");
    CHECK_STR(c.to, "bob");
    CHECK_STR(c.id, "7");
    CHECK_EQ(c.text.len, 10);
    CHECK_MEM(c.text.data, "a\"b\n\xc3\xa9\xf0\x9f\x90\x9f", 10);
    CHECK_OK(sh_client_bot_parse("{\"cmd\":\"status\"}", 16, &c));
    CHECK_EQ(c.text.len, 0);
    CHECK_OK(sh_client_bot_parse("{\"to\":\"\",\"cmd\":\"x\"}", 19, &c)); /* an empty value */
    CHECK_STR(c.to, "");
    CHECK_ERR(sh_client_bot_parse("{\"cmd\":\"\"}", 10, &c), SH_ERR_INVALID);
    CHECK_ERR(sh_client_bot_parse("{}", 2, &c), SH_ERR_INVALID);
    CHECK_MSG("no \"cmd\"");
    CHECK_ERR(sh_client_bot_parse("{\"cmd\":\"a\",\"cmd\":\"b\"}", 21, &c), SH_ERR_INVALID);
    CHECK_ERR(sh_client_bot_parse("{\"cmd\":\"a\",\"x\":\"b\"}", 19, &c), SH_ERR_INVALID);
    CHECK_MSG("unknown key");
    CHECK_ERR(sh_client_bot_parse("{\"cmd\":1}", 9, &c), SH_ERR_FORMAT);
    CHECK_MSG("column 8");
    CHECK_ERR(sh_client_bot_parse("{\"cmd\":\"a\"", 10, &c), SH_ERR_FORMAT);
    CHECK_ERR(sh_client_bot_parse("{\"cmd\":\"a\"} x", 13, &c), SH_ERR_FORMAT);
    CHECK_ERR(sh_client_bot_parse("{\"cmd\":\"\\ud83d\"}", 16, &c), SH_ERR_FORMAT);
    CHECK_ERR(sh_client_bot_parse("{\"cmd\":\"\\x\"}", 12, &c), SH_ERR_FORMAT);
    CHECK_ERR(sh_client_bot_parse("{\"cmd\":\"a\tb\"}", 13, &c), SH_ERR_FORMAT);
    CHECK_ERR(sh_client_bot_parse("{\"cmd\":\"12345678901234567\"}", 27, &c), SH_ERR_LIMIT);
    CHECK_ERR(sh_client_bot_parse("[]", 2, &c), SH_ERR_FORMAT);
    {
        char name_line[160], long_name[SH_CLIENT_MAX_NAME_BYTES + 2];
        memset(long_name, 'n', sizeof long_name - 1);
        long_name[SH_CLIENT_MAX_NAME_BYTES] = '\0'; /* at the limit */
        snprintf(name_line, sizeof name_line, "{\"cmd\":\"contact_rm\",\"name\":\"%s\"}", long_name);
        CHECK_OK(sh_client_bot_parse(name_line, strlen(name_line), &c));
        CHECK_EQ(strlen(c.name), SH_CLIENT_MAX_NAME_BYTES);
        long_name[SH_CLIENT_MAX_NAME_BYTES] = 'n'; /* one past */
        long_name[SH_CLIENT_MAX_NAME_BYTES + 1] = '\0';
        snprintf(name_line, sizeof name_line, "{\"cmd\":\"contact_rm\",\"name\":\"%s\"}", long_name);
        CHECK_ERR(sh_client_bot_parse(name_line, strlen(name_line), &c), SH_ERR_LIMIT);
    }
    CHECK_OK(sh_client_bot_parse("{\"cmd\":\"revoke\",\"device\":\"123456789012345\"}", 43, &c));
    CHECK_STR(c.device, "123456789012345");
    CHECK_STR(c.name, ""); /* every field is reset by the next parse */
    CHECK_ERR(sh_client_bot_parse("{\"cmd\":\"revoke\",\"device\":\"1234567890123456\"}", 44, &c),
              SH_ERR_LIMIT);
    CHECK_ERR(sh_client_bot_parse("{\"cmd\":\"a\",\"name\":\"x\",\"name\":\"y\"}", 33, &c),
              SH_ERR_INVALID);
    sh_client_bot_cmd_free(&c);
}

/* An envelope of each bucket but the largest, stored to an inbox through onion paths (an
 * unsigned store with its proof of work, every field at its widest), fits the onion bucket of
 * the same power of two: 4 KiB for a short text, not 16. */
static void envelope_fits_onion_bucket(void)
{
    static const struct {
        size_t envelope, onion;
    } pairs[] = {{4096 - SH_E2E_BUCKET_SLACK_BYTES, SH_ONION_BUCKET_4K},
                 {16384 - SH_E2E_BUCKET_SLACK_BYTES, SH_ONION_BUCKET_16K}};
    uint8_t owner[33] = {0x05}, *data = calloc(1, 16384);
    sh_buf body, msg;

    CHECK(data != NULL);
    memset(owner + 1, 0xff, 32);
    sh_buf_init(&body);
    sh_buf_init(&msg);
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        sh_node_request r = {.method = SH_NODE_STORE, .ns = SH_NS_INBOX, .data = data,
                             .data_len = pairs[i].envelope, .timestamp_ms = INT64_MAX,
                             .ttl_ms = INT64_MAX, .pow_nonce = UINT64_MAX};
        memcpy(r.owner, owner, 33);
        sh_buf_reset(&body);
        CHECK_OK(sh_node_request_encode(&r, NULL, &body));
        CHECK_OK(sh_onion_request_encode("", "store", body.data, body.len, &msg));
        CHECK(msg.len <= pairs[i].onion - SH_ONION_E2E_OVERHEAD_BYTES);
        printf("a %zu-byte envelope's store: %zu bytes, fits the %zu-byte onion bucket\n",
               pairs[i].envelope, msg.len, pairs[i].onion);
    }
    sh_buf_free(&body);
    sh_buf_free(&msg);
    free(data);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*run)(void);
    } cases[] = {{"roundtrip", roundtrip}, {"sealed_at_rest", sealed_at_rest},
                 {"outbox_restart", outbox_restart}, {"passphrase", passphrase},
                 {"keyfile", keyfile}, {"corrupt", corrupt}, {"damaged_row", damaged_row},
                 {"payload", payload}, {"netfile", netfile}, {"bot", bot},
                 {"envelope_fits_onion_bucket", envelope_fits_onion_bucket}};
    const char *which = argc > 1 ? argv[1] : "";

    CHECK_OK(sh_identity_init());
    paths();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strcmp(cases[i].name, which) == 0) {
            cases[i].run();
            return 0;
        }
    test_fail(__FILE__, __LINE__, "unknown case '%s'", which);
}
