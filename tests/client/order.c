/* Order per sender (src/lib/client/order.c; docs/client.md "Order per sender") on a client
 * state database, without a network: texts of one sending device filed in their numbers' order,
 * a text that skips ahead held until the gap fills or its wait (passed as a time, never slept)
 * is over, late arrivals of given-up numbers filed once, duplicates dropped, held texts kept
 * across a restart, the start of a sender first seen by a new device and by an old one, and
 * the sender's numbering. Each case is its own process (argv[1] names it). */
#include <stdio.h>
#include <string.h>

#include "client/client.h"
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

/* The text "#seq" from bob's device `device` (a copy of ours when outgoing), at time now. */
static sh_client_message text(int seq, uint32_t device, bool outgoing, int64_t now, char *buf)
{
    sh_client_message m = {.outgoing = outgoing, .device = device, .sent_ms = now - 5,
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

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*run)(void);
    } cases[] = {{"gap_filled", gap_filled}, {"gap_timeout", gap_timeout},
                 {"duplicates", duplicates}, {"restart", restart}, {"baseline", baseline},
                 {"numbering", numbering}};
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
