/* Order per sender (src/lib/client/order.c; docs/client.md "Order per sender") on a client
 * state database, without a network: texts of one sending device filed in their numbers' order,
 * a text that skips ahead held until the gap fills or its wait (passed as a time, never slept)
 * is over, late arrivals of given-up numbers filed once, duplicates dropped, held texts kept
 * across a restart, the start of a sender first seen by a new device and by an old one, and
 * the sender's numbering. `clients`: two accounts over an in-memory transport that withholds
 * chosen inbox messages, so that the receiver reads a sender's texts out of order; its events
 * and history keep the sender's order, across a restart and after a wait of 0 ms. On the same
 * in-memory swarm, `window`: a flush whose window has a refused store in the middle keeps that
 * row queued while the rows after it are stored, and the receiver still files the three in
 * order; `republish`: a client that keeps polling publishes its prekey bundle again
 * when a day has passed (the prekeys rotate), not at every poll. Each case is its own process
 * (argv[1] names it). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/client.h"
#include "store/namespaces.h"
#include "test.h"

#define HOLD 1000
#define T0 (1000LL * 1000 * 1000 * 1000) /* a time in ms, far after the device was made */

static char db_path[512], key_path[512];
static const uint8_t bob[SH_SESSION_ID_BYTES] = {5, 0xb0};
static const uint8_t carol[SH_SESSION_ID_BYTES] = {5, 0xca};

static sh_client_state *open_db(void)
{
    sh_client_keysrc k = {.key_file = key_path};
    sh_client_state *s;

    CHECK_OK(sh_client_state_open(db_path, &k, &s));
    return s;
}

/* The text "#seq" from bob's device `device` (a copy of ours when outgoing), arriving at time
 * now; written in number order a little before T0. */
static sh_client_message text(int seq, uint32_t device, bool outgoing, int64_t now, char *buf)
{
    sh_client_message m = {.outgoing = outgoing, .device = device, .sent_ms = T0 - 1000 + seq,
                           .received_ms = now,
                           .state = outgoing ? SH_CLIENT_STORED : SH_CLIENT_RECEIVED};

    snprintf(buf, 16, "#%d", seq);
    memcpy(m.peer, bob, sizeof m.peer);
    m.msg_id[0] = (uint8_t)seq, m.msg_id[1] = (uint8_t)device, m.msg_id[2] = outgoing;
    m.text = (const uint8_t *)buf;
    m.text_len = strlen(buf);
    return m;
}

/* Files text seq of bob's device dev; the rows it filed are new and in order. */
static int file_dev(sh_client_state *s, int seq, uint32_t dev, bool out, int64_t now,
                    int64_t since)
{
    sh_client_rows rows = {0};
    char buf[16];
    sh_client_message m = text(seq, dev, out, now, buf);
    int rc = sh_client_order_file(s, &m, seq, since, &rows);

    for (size_t i = 0; i < rows.n; i++)
        CHECK(rows.v[i] > 0 && (i == 0 || rows.v[i] > rows.v[i - 1]));
    sh_client_rows_free(&rows);
    return rc;
}

static void list_cb(const sh_client_message *m, void *ctx)
{
    char *out = ctx;

    strncat(out, (const char *)m->text, m->text_len);
    strcat(out, " ");
}

/* The conversation with bob as filed (history order). */
static void check_history(sh_client_state *s, const char *want)
{
    char got[1024] = "";

    CHECK_OK(sh_client_message_list(s, bob, 0, list_cb, got));
    CHECK_STR(got, want);
}

static void delivered_cb(const sh_client_message *m, void *ctx)
{
    if (m->state == SH_CLIENT_DELIVERED)
        list_cb(m, ctx);
}

static void check_held(sh_client_state *s, size_t want)
{
    size_t n = 99;

    CHECK_OK(sh_client_order_held(s, &n));
    CHECK_EQ(n, want);
}

static size_t release(sh_client_state *s, int64_t now)
{
    sh_client_rows rows = {0};
    size_t n;

    CHECK_OK(sh_client_order_release(s, now, HOLD, &rows));
    n = rows.n;
    sh_client_rows_free(&rows);
    return n;
}

/* 1, then 3 and 4 held, then 2 fills the gap: 2, 3, 4 filed after 1. */
static void gap_filled(void)
{
    sh_client_state *s = open_db();

    CHECK_OK(file_dev(s, 1, 1, false, T0, 0));
    CHECK_OK(file_dev(s, 3, 1, false, T0 + 1, 0));
    CHECK_OK(file_dev(s, 4, 1, false, T0 + 2, 0));
    check_history(s, "#1 ");
    check_held(s, 2);
    CHECK_EQ(release(s, T0 + 2), 0); /* not waited long enough */
    CHECK_OK(file_dev(s, 2, 1, false, T0 + 3, 0));
    check_history(s, "#1 #2 #3 #4 ");
    check_held(s, 0);
    CHECK_OK(file_dev(s, 5, 1, false, T0 + 4, 0));
    check_history(s, "#1 #2 #3 #4 #5 ");
    sh_client_state_close(s);
}

/* 1; 3 and 5 held; 2 and 4 never come in time: after the wait 3 is filed (2 given up), later 5
 * (4 given up); 2 and 4 arriving after that are filed once each where they arrive. */
static void gap_timeout(void)
{
    sh_client_state *s = open_db();

    CHECK_OK(file_dev(s, 1, 1, false, T0, 0));
    CHECK_OK(file_dev(s, 3, 1, false, T0 + 10, 0));
    CHECK_OK(file_dev(s, 5, 1, false, T0 + 500, 0));
    CHECK_EQ(release(s, T0 + 10 + HOLD - 1), 0);
    check_history(s, "#1 ");
    CHECK_EQ(release(s, T0 + 10 + HOLD), 1);
    check_history(s, "#1 #3 ");
    check_held(s, 1);
    CHECK_EQ(release(s, T0 + 500 + HOLD), 1);
    check_history(s, "#1 #3 #5 ");
    check_held(s, 0);
    CHECK_OK(file_dev(s, 4, 1, false, T0 + 2000, 0));
    CHECK_OK(file_dev(s, 2, 1, false, T0 + 2001, 0));
    CHECK_ERR(file_dev(s, 2, 1, false, T0 + 2002, 0), SH_ERR_EXISTS);
    CHECK_OK(file_dev(s, 6, 1, false, T0 + 2003, 0)); /* the order goes on from 5 */
    check_history(s, "#1 #3 #5 #4 #2 #6 ");
    CHECK_OK(file_dev(s, 8, 1, false, T0 + 2004, 0));
    check_held(s, 1); /* still held: 7 is awaited */
    sh_client_state_close(s);
}

/* Every copy after the first is dropped: filed, held, and held then filed. */
static void duplicates(void)
{
    sh_client_state *s = open_db();

    CHECK_OK(file_dev(s, 1, 1, false, T0, 0));
    CHECK_ERR(file_dev(s, 1, 1, false, T0, 0), SH_ERR_EXISTS);
    CHECK_MSG("already stored");
    CHECK_OK(file_dev(s, 3, 1, false, T0, 0));
    CHECK_ERR(file_dev(s, 3, 1, false, T0, 0), SH_ERR_EXISTS);
    check_held(s, 1);
    CHECK_OK(file_dev(s, 2, 1, false, T0, 0));
    CHECK_ERR(file_dev(s, 3, 1, false, T0, 0), SH_ERR_EXISTS);
    CHECK_ERR(file_dev(s, 2, 1, false, T0, 0), SH_ERR_EXISTS);
    check_history(s, "#1 #2 #3 ");
    check_held(s, 0);
    sh_client_state_close(s);
}

/* Held texts survive a restart; the gap fills after it, and the wait ends after it too. */
static void restart(void)
{
    sh_client_state *s = open_db();

    CHECK_OK(file_dev(s, 1, 1, false, T0, 0));
    CHECK_OK(file_dev(s, 3, 1, false, T0, 0));
    CHECK_OK(file_dev(s, 1, 2, false, T0, 0));
    CHECK_OK(file_dev(s, 4, 2, false, T0, 0)); /* device 2 waits for its 2 */
    sh_client_state_close(s);
    s = open_db();
    check_held(s, 2);
    check_history(s, "#1 #1 ");
    CHECK_OK(file_dev(s, 2, 1, false, T0 + 1, 0));
    check_history(s, "#1 #1 #2 #3 ");
    sh_client_state_close(s);
    s = open_db();
    CHECK_EQ(release(s, T0 + HOLD), 1); /* device 2's 4, its 2 and 3 given up */
    check_history(s, "#1 #1 #2 #3 #4 ");
    check_held(s, 0);
    sh_client_state_close(s);
}

/* The start of a sender: number 1 is filed at once; a device made shortly before (since_ms) takes
 * the first number it sees as the start; an older device waits for the numbers before it. Each
 * (conversation, direction, device) is its own sender; unnumbered texts are filed at once. */
static void baseline(void)
{
    sh_client_state *s = open_db();
    int64_t young = T0 - SH_CLIENT_ORDER_NEW_DEVICE_MS + 10;

    CHECK_OK(file_dev(s, 7, 1, false, T0, young)); /* new device: 7 is where it starts */
    CHECK_OK(file_dev(s, 8, 1, false, T0, young));
    CHECK_OK(file_dev(s, 6, 1, false, T0, young)); /* sent before we were known: late */
    check_history(s, "#7 #8 #6 ");
    CHECK_OK(file_dev(s, 5, 2, false, T0, 0)); /* old device: 1 to 4 are awaited */
    check_held(s, 1);
    CHECK_OK(file_dev(s, 1, 3, true, T0, 0)); /* a copy of ours from our device 3 */
    CHECK_OK(file_dev(s, 3, 3, true, T0, 0));
    check_held(s, 2);
    check_history(s, "#7 #8 #6 #1 ");
    CHECK_EQ(release(s, T0 + HOLD), 2);
    check_history(s, "#7 #8 #6 #1 #5 #3 ");
    char buf[16];
    sh_client_rows rows = {0};
    sh_client_message m = text(9, 4, false, T0, buf);
    CHECK_OK(sh_client_order_file(s, &m, 0, 0, &rows)); /* payload v1: no number */
    CHECK_EQ(rows.n, 1);
    sh_client_rows_free(&rows);
    check_held(s, 0);
    sh_client_state_close(s);
}

/* Our numbering: 1, 2, ... per peer, kept across a restart; a rolled-back transaction gives the
 * number again. */
static void numbering(void)
{
    sh_client_state *s = open_db();
    int64_t n = 0;

    CHECK_OK(sh_client_order_next_seq(s, bob, &n));
    CHECK_EQ(n, 1);
    CHECK_OK(sh_client_order_next_seq(s, bob, &n));
    CHECK_EQ(n, 2);
    CHECK_OK(sh_client_order_next_seq(s, carol, &n));
    CHECK_EQ(n, 1);
    CHECK_OK(sh_client_state_begin(s));
    CHECK_OK(sh_client_order_next_seq(s, bob, &n));
    CHECK_EQ(n, 3);
    sh_client_state_rollback(s);
    sh_client_state_close(s);
    s = open_db();
    CHECK_OK(sh_client_order_next_seq(s, bob, &n));
    CHECK_EQ(n, 3);
    sh_client_state_close(s);
}

static void sql(const char *text)
{
    sqlite3 *db;

    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, text, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
}

/* A damaged held row is an error when it is released (by its wait or by the gap), not a crash
 * nor a text filed with garbage; the row stays for the person to see. */
static void damaged(void)
{
    sh_client_state *s = open_db();
    sh_client_rows rows = {0};

    CHECK_OK(file_dev(s, 1, 1, false, T0, 0));
    CHECK_OK(file_dev(s, 3, 1, false, T0, 0));
    sql("UPDATE held SET body = x'00112233'");
    CHECK_ERR(sh_client_order_release(s, T0 + HOLD, HOLD, &rows), SH_ERR_FORMAT);
    CHECK_MSG("too short");
    sql("UPDATE held SET body = zeroblob(60)");
    CHECK_ERR(sh_client_order_release(s, T0 + HOLD, HOLD, &rows), SH_ERR_FORMAT);
    CHECK_MSG("does not open");
    CHECK_ERR(file_dev(s, 2, 1, false, T0, 0), SH_ERR_FORMAT);
    sql("UPDATE held SET msg_id = x'01'");
    CHECK_ERR(sh_client_order_release(s, T0 + HOLD, HOLD, &rows), SH_ERR_FORMAT);
    CHECK_MSG("damaged id");
    sql("UPDATE held SET peer = x'05'");
    CHECK_ERR(sh_client_order_release(s, T0 + HOLD, HOLD, &rows), SH_ERR_FORMAT);
    CHECK_MSG("damaged peer");
    CHECK_EQ(rows.n, 0);
    check_held(s, 1);
    sh_client_rows_free(&rows);
    sh_client_state_close(s);
}

/* Bob's device numbers from 1 again (a restored device with a new database): a text numbered
 * below the expected one but written after every text seen of it starts the numbers again; its
 * held texts are filed first. A late arrival (written before) does not. */
static void renumbered(void)
{
    sh_client_state *s = open_db();
    sh_client_rows rows = {0};
    char buf[16];

    for (int i = 1; i <= 3; i++)
        CHECK_OK(file_dev(s, i, 1, false, T0, 0));
    CHECK_OK(file_dev(s, 5, 1, false, T0, 0));
    check_held(s, 1);
    sh_client_message m = text(2, 1, false, T0, buf); /* a copy of #2 under another id */
    m.msg_id[5] = 1;
    CHECK_OK(sh_client_order_file(s, &m, 2, 0, &rows));
    check_history(s, "#1 #2 #3 #2 "); /* late, not a new start: 5 still waits for 4 */
    check_held(s, 1);
    for (int i = 1; i <= 2; i++) {
        m = text(i, 1, false, T0, buf);
        m.msg_id[5] = 2;
        m.sent_ms = T0 + 60000 + i; /* written after everything else */
        CHECK_OK(sh_client_order_file(s, &m, i, 0, &rows));
    }
    check_history(s, "#1 #2 #3 #2 #5 #1 #2 ");
    check_held(s, 0);
    m = text(4, 1, false, T0, buf);
    m.msg_id[5] = 2;
    m.sent_ms = T0 + 60004;
    CHECK_OK(sh_client_order_file(s, &m, 4, 0, &rows)); /* the new numbering waits for its 3 */
    check_held(s, 1);
    CHECK_EQ(rows.n, 4); /* #2 late; #5 and the new #1; the new #2 */
    sh_client_rows_free(&rows);
    sh_client_state_close(s);
}

/* ---- two clients over an in-memory swarm ---------------------------------------------------- */

#define MEM_MAX 256

typedef struct mem_msg {
    uint8_t owner[33];
    int16_t ns;
    uint8_t *data;
    size_t len;
    uint8_t hash[32];
    int64_t ts; /* 0 while withheld */
} mem_msg;

static mem_msg mem[MEM_MAX];
static size_t n_mem;
static int64_t mem_clock;
static size_t n_bundle_stores;      /* stores to namespace 10, of any owner */
static int refuse_at;               /* the refuse_at-th next store to withhold_owner's inbox fails */
static int withhold_next;           /* stores to withhold_owner's inbox to withhold from now on */
static uint8_t withhold_owner[33];

static int mem_store(void *ctx, const uint8_t owner[static 33], int16_t ns, const uint8_t *data,
                     size_t len, int64_t ttl_ms, const sh_node_signer *signer,
                     sh_client_receipt *out)
{
    mem_msg *m = NULL;

    (void)ctx, (void)signer;
    memset(out, 0, sizeof *out);
    n_bundle_stores += ns == SH_NS_PREKEYS;
    if (ns == SH_NS_INBOX && refuse_at > 0 && memcmp(owner, withhold_owner, 33) == 0 &&
        --refuse_at == 0)
        return sh_err_set(SH_ERR_BUSY, "the node is busy (refused by the test)");
    for (size_t i = 0; i < n_mem && ns != SH_NS_INBOX; i++) /* other namespaces: one slot */
        if (mem[i].ns == ns && memcmp(mem[i].owner, owner, 33) == 0)
            m = &mem[i], free(m->data);
    if (m == NULL) {
        CHECK(n_mem < MEM_MAX);
        m = &mem[n_mem++];
    }
    memcpy(m->owner, owner, 33);
    m->ns = ns;
    CHECK((m->data = malloc(len)) != NULL);
    memcpy(m->data, data, len);
    m->len = len;
    crypto_generichash(m->hash, 32, data, len, owner, 32);
    m->ts = ns == SH_NS_INBOX && withhold_next > 0 && memcmp(owner, withhold_owner, 33) == 0
                ? 0 : ++mem_clock;
    withhold_next -= m->ts == 0;
    memcpy(out->hash, m->hash, 32);
    out->outcome = SH_STORE_STORED;
    out->expiry_ms = sh_time_now_ms() + ttl_ms;
    out->stored_k = out->stored_n = 1;
    return SH_OK;
}

static int mem_retrieve(void *ctx, const uint8_t owner[static 33], int16_t ns,
                        const sh_store_cursor *after, bool lookback, uint32_t wait_ms,
                        const sh_node_signer *signer, sh_node_page *out)
{
    (void)ctx, (void)lookback, (void)wait_ms, (void)signer;
    memset(out, 0, sizeof *out);
    sh_buf_init(&out->arena);
    CHECK((out->msgs = calloc(MEM_MAX, sizeof *out->msgs)) != NULL);
    for (size_t i = 0; i < n_mem; i++) {
        const mem_msg *m = &mem[i];
        if (m->ns != ns || memcmp(m->owner, owner, 33) != 0 || m->ts == 0 ||
            (after != NULL && m->ts <= after->timestamp_ms))
            continue;
        sh_store_msg *o = &out->msgs[out->count++];
        memcpy(o->owner, owner, 33);
        o->ns = ns;
        o->timestamp_ms = m->ts;
        o->expiry_ms = sh_time_now_ms() + 3600 * 1000;
        o->data = m->data;
        o->data_len = m->len;
        memcpy(o->hash, m->hash, 32);
        if (m->ts > out->next.timestamp_ms) {
            out->next.timestamp_ms = m->ts;
            memcpy(out->next.hash, m->hash, 32);
        }
    }
    return SH_OK;
}

/* The withheld inbox messages reach the swarm now, after everything stored before. */
static void release_withheld(void)
{
    for (size_t i = 0; i < n_mem; i++)
        if (mem[i].ts == 0)
            mem[i].ts = ++mem_clock;
}

static int mem_describe(void *ctx, const uint8_t owner[static 33], char *out, size_t size)
{
    (void)ctx, (void)owner;
    snprintf(out, size, "memory");
    return SH_OK;
}

static void mem_close(void *ctx)
{
    (void)ctx;
}

typedef struct peer {
    const char *name;
    uint8_t seed[SH_SEED_BYTES], sid[33];
    char db[512], key[512], got[1024];
    sh_client_state *state;
    sh_client_transport tp;
    sh_client *client;
    int64_t hold_ms;
} peer;

static void peer_event(const sh_client_event *ev, void *ctx)
{
    peer *p = ctx;

    if (ev->kind != SH_CLIENT_EV_MESSAGE)
        return;
    strncat(p->got, (const char *)ev->msg->text, ev->msg->text_len);
    strcat(p->got, " ");
}

static void peer_open(peer *p)
{
    sh_client_keysrc k = {.key_file = p->key};
    sh_client_options o;

    CHECK_OK(sh_client_state_open(p->db, &k, &p->state));
    p->tp = (sh_client_transport){.store = mem_store, .retrieve = mem_retrieve,
                                  .describe = mem_describe, .close = mem_close};
    CHECK_OK(sh_client_new(p->seed, p->state, &p->tp, peer_event, p, &p->client));
    sh_client_options_default(&o);
    o.retry_min_ms = o.retry_max_ms = 0;
    if (p->hold_ms >= 0)
        o.hold_ms = p->hold_ms;
    sh_client_set_options(p->client, &o);
    sh_client_session_id(p->client, p->sid);
}

static void peer_close(peer *p)
{
    sh_client_free(p->client);
    sh_client_state_close(p->state);
}

static void peer_init(peer *p, const char *name)
{
    memset(p, 0, sizeof *p);
    p->name = name;
    p->hold_ms = -1;
    randombytes_buf(p->seed, sizeof p->seed);
    snprintf(p->db, sizeof p->db, "%s/%s.db", test_tmpdir(), name);
    snprintf(p->key, sizeof p->key, "%s/%s.key", test_tmpdir(), name);
    peer_open(p);
}

static void send_to(peer *from, peer *to, const char *text)
{
    int64_t row;

    CHECK_OK(sh_client_send_text(from->client, to->sid, (const uint8_t *)text, strlen(text), &row));
}

static void poll_once(peer *p)
{
    size_t got;

    CHECK_OK(sh_client_poll(p->client, 0, &got));
}

static void check_held_of(peer *p, size_t want)
{
    check_held(p->state, want);
}

/* alice's #2 is withheld: bob files #1, holds #3 and #4 (across his restart), and files #2,
 * #3, #4 when #2 comes. With a wait of 0 ms, #6 is filed at the end of the poll that held it
 * (#5 given up) and #5 when it comes; every text once; alice's texts all "delivered". */
static void clients(void)
{
    static peer alice, bob;
    char hist[1024] = "";

    peer_init(&alice, "alice");
    peer_init(&bob, "bob");
    CHECK_OK(sh_client_publish(bob.client, false));
    memcpy(withhold_owner, bob.sid, 33);
    send_to(&alice, &bob, "#1");
    withhold_next = 1;
    send_to(&alice, &bob, "#2");
    send_to(&alice, &bob, "#3");
    send_to(&alice, &bob, "#4");
    poll_once(&bob);
    CHECK_STR(bob.got, "#1 ");
    check_held_of(&bob, 2);
    peer_close(&bob);
    peer_open(&bob);
    poll_once(&bob);
    CHECK_STR(bob.got, "#1 ");
    check_held_of(&bob, 2);
    release_withheld();
    poll_once(&bob);
    CHECK_STR(bob.got, "#1 #2 #3 #4 ");
    check_held_of(&bob, 0);
    peer_close(&bob);
    bob.hold_ms = 0;
    peer_open(&bob);
    withhold_next = 1;
    send_to(&alice, &bob, "#5");
    send_to(&alice, &bob, "#6");
    poll_once(&bob);
    CHECK_STR(bob.got, "#1 #2 #3 #4 #6 ");
    release_withheld();
    poll_once(&bob);
    poll_once(&bob);
    CHECK_STR(bob.got, "#1 #2 #3 #4 #6 #5 ");
    CHECK_OK(sh_client_message_list(bob.state, alice.sid, 0, list_cb, hist));
    CHECK_STR(hist, "#1 #2 #3 #4 #6 #5 ");
    poll_once(&alice); /* the acknowledgements, held texts' too */
    poll_once(&alice);
    hist[0] = '\0';
    CHECK_OK(sh_client_message_list(alice.state, bob.sid, 0, delivered_cb, hist));
    CHECK_STR(hist, "#1 #2 #3 #4 #5 #6 ");
    peer_close(&alice);
    peer_close(&bob);
    for (size_t i = 0; i < n_mem; i++)
        free(mem[i].data);
}

static void window(void)
{
    static peer alice, bob;
    int64_t row;
    size_t sent = 0, left = 0;

    peer_init(&alice, "alice");
    peer_init(&bob, "bob");
    CHECK_OK(sh_client_publish(bob.client, false));
    memcpy(withhold_owner, bob.sid, 33);
    for (int i = 1; i <= 3; i++) {
        char text[8];
        snprintf(text, sizeof text, "#%d", i);
        CHECK_OK(sh_client_queue_text(alice.client, bob.sid, (const uint8_t *)text, strlen(text),
                                      &row, NULL));
    }
    refuse_at = 2;
    CHECK_ERR(sh_client_flush(alice.client, &sent), SH_ERR_BUSY); /* one window of three */
    CHECK_EQ(sent, 2);
    CHECK_OK(sh_client_outbox_count(alice.state, &left));
    CHECK_EQ(left, 1);
    poll_once(&bob);
    CHECK_STR(bob.got, "#1 ");
    check_held_of(&bob, 1); /* #3 waits for #2 */
    CHECK_OK(sh_client_flush(alice.client, &sent)); /* #2, retried */
    CHECK_EQ(sent, 1);
    poll_once(&bob);
    CHECK_STR(bob.got, "#1 #2 #3 ");
    check_held_of(&bob, 0);
    peer_close(&alice);
    peer_close(&bob);
    for (size_t i = 0; i < n_mem; i++)
        free(mem[i].data);
}

static void republish(void)
{
    static peer bob;
    sh_client_options o;
    size_t at_start;

    peer_init(&bob, "bob");
    sh_client_options_default(&o);
    o.publish_check_ms = 0; /* every poll checks */
    sh_client_set_options(bob.client, &o);
    CHECK_OK(sh_client_publish(bob.client, false));
    at_start = n_bundle_stores;
    CHECK(at_start >= 1);
    poll_once(&bob);
    poll_once(&bob);
    CHECK_EQ(n_bundle_stores, at_start); /* unchanged and fresh: nothing stored */
    sh_time_set_offset_ms(25 * 3600 * 1000LL);
    poll_once(&bob);
    CHECK_EQ(n_bundle_stores, at_start + 1); /* rotated prekeys, published by the poll */
    poll_once(&bob);
    CHECK_EQ(n_bundle_stores, at_start + 1);
    sh_client_options_default(&o); /* the default checks every 10 minutes */
    sh_client_set_options(bob.client, &o);
    sh_time_set_offset_ms(50 * 3600 * 1000LL);
    poll_once(&bob);
    CHECK_EQ(n_bundle_stores, at_start + 1);
    sh_time_set_offset_ms(0);
    peer_close(&bob);
    for (size_t i = 0; i < n_mem; i++)
        free(mem[i].data);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*run)(void);
    } cases[] = {{"gap_filled", gap_filled}, {"gap_timeout", gap_timeout},
                 {"duplicates", duplicates}, {"restart", restart}, {"baseline", baseline},
                 {"numbering", numbering}, {"damaged", damaged}, {"renumbered", renumbered},
                 {"clients", clients}, {"window", window}, {"republish", republish}};
    const char *which = argc > 1 ? argv[1] : "";

    CHECK_OK(sh_identity_init());
    snprintf(db_path, sizeof db_path, "%s/client.db", test_tmpdir());
    snprintf(key_path, sizeof key_path, "%s/client.key", test_tmpdir());
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strcmp(cases[i].name, which) == 0) {
            cases[i].run();
            return 0;
        }
    test_fail(__FILE__, __LINE__, "unknown case '%s'", which);
}
