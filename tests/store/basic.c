/* Store round trips: put and get, dedupe ("already had it"), unknown namespaces and bad messages
 * rejected, expired messages hidden, single slots (namespaces 10-12), stats, and every message
 * still there after close and reopen. */
#include "helpers.h"

static void check_same(const sh_store_msg *got, const sh_store_msg *want)
{
    CHECK_MEM(got->owner, want->owner, SH_STORE_OWNER_BYTES);
    CHECK_EQ(got->ns, want->ns);
    CHECK_EQ(got->timestamp_ms, want->timestamp_ms);
    CHECK_EQ(got->expiry_ms, want->expiry_ms);
    CHECK_EQ(got->data_len, want->data_len);
    CHECK_MEM(got->data, want->data, want->data_len);
    CHECK_MEM(got->hash, want->hash, SH_STORE_HASH_BYTES);
}

static void round_trip(sh_store *s, const uint8_t owner[33])
{
    uint8_t data[3][500], other[33];
    sh_store_msg m[3], got;
    sh_store_outcome out;
    sh_buf buf;

    sh_buf_init(&buf);
    for (int i = 0; i < 3; i++) {
        m[i] = test_msg(owner, (int16_t)(i == 2 ? 3 : 0), T0_MS - 1000 + i, SH_MS_PER_DAY, data[i],
                        sizeof data[i], (uint32_t)i);
        CHECK_OK(sh_store_put(s, &m[i], &out));
        CHECK_EQ(out, SH_STORE_STORED);
        uint8_t h[32];
        sh_store_msg_hash(h, owner, m[i].ns, data[i], sizeof data[i]);
        CHECK_MEM(m[i].hash, h, 32);
    }
    for (int i = 0; i < 3; i++) {
        CHECK_OK(sh_store_get(s, m[i].hash, &got, &buf));
        check_same(&got, &m[i]);
        CHECK(got.slot == NULL);
    }
    /* Dedupe: the same data again, even with another timestamp and expiry, is the same message. */
    sh_store_msg again = m[0];
    again.timestamp_ms += 5;
    again.expiry_ms += 5000;
    CHECK_OK(sh_store_put(s, &again, &out));
    CHECK_EQ(out, SH_STORE_DUPLICATE);
    CHECK_OK(sh_store_get(s, m[0].hash, &got, &buf));
    check_same(&got, &m[0]);
    /* The same data for another owner is another message. */
    test_owner(other, 99);
    sh_store_msg theirs = m[0];
    memcpy(theirs.owner, other, 33);
    CHECK_OK(sh_store_put(s, &theirs, &out));
    CHECK_EQ(out, SH_STORE_STORED);
    CHECK(memcmp(theirs.hash, m[0].hash, 32) != 0);
    uint8_t missing[32] = {1};
    CHECK_ERR(sh_store_get(s, missing, &got, &buf), SH_ERR_NOT_FOUND);
    sh_buf_free(&buf);
}

static void rejects(sh_store *s, const uint8_t owner[33])
{
    uint8_t data[10], slot[33] = {7};
    sh_store_msg m = test_msg(owner, 0, T0_MS, SH_MS_PER_DAY, data, sizeof data, 1);
    sh_store_outcome out;

    for (int ns = -3; ns <= 14; ns++) {
        m.ns = (int16_t)ns;
        m.slot = ns == 10 ? slot : NULL;
        m.slot_len = ns == 10 ? 1 : 0;
        if (sh_store_ns_lookup(ns) != NULL)
            continue;
        CHECK_ERR(sh_store_put(s, &m, &out), SH_ERR_INVALID);
        CHECK_MSG("unknown");
    }
    m.ns = 0;
    m.slot = slot;
    m.slot_len = 1;
    CHECK_ERR(sh_store_put(s, &m, &out), SH_ERR_INVALID); /* a slot outside namespace 10 */
    m.ns = 11;
    CHECK_ERR(sh_store_put(s, &m, &out), SH_ERR_INVALID);
    m.ns = 10;
    m.slot = NULL;
    m.slot_len = 0;
    CHECK_ERR(sh_store_put(s, &m, &out), SH_ERR_INVALID); /* namespace 10 needs one */
    m.slot = slot;
    m.slot_len = SH_STORE_MAX_SLOT_BYTES + 1;
    CHECK_ERR(sh_store_put(s, &m, &out), SH_ERR_INVALID);
    m = test_msg(owner, 0, T0_MS, SH_MS_PER_DAY, data, sizeof data, 1);
    m.expiry_ms = T0_MS; /* already expired */
    CHECK_ERR(sh_store_put(s, &m, &out), SH_ERR_STALE);
    m.timestamp_ms = T0_MS - 10;
    m.expiry_ms = T0_MS - 5;
    CHECK_ERR(sh_store_put(s, &m, &out), SH_ERR_STALE);
    m = test_msg(owner, 0, T0_MS, SH_MS_PER_DAY, data, sizeof data, 1);
    m.expiry_ms = m.timestamp_ms;
    atomic_store(&test_now_ms, T0_MS - 100);
    CHECK_ERR(sh_store_put(s, &m, &out), SH_ERR_RANGE); /* expiry not after the timestamp */
    atomic_store(&test_now_ms, T0_MS);
    m.timestamp_ms = -1;
    CHECK_ERR(sh_store_put(s, &m, &out), SH_ERR_RANGE);
    m = test_msg(owner, 0, T0_MS, SH_MS_PER_DAY, NULL, 0, 1);
    m.data_len = 3;
    CHECK_ERR(sh_store_put(s, &m, &out), SH_ERR_INVALID);
}

static void expired_hidden(sh_store *s, const uint8_t owner[33])
{
    uint8_t data[20];
    sh_store_msg m = test_msg(owner, 2, T0_MS, 1000, data, sizeof data, 42), got;
    sh_store_outcome out;
    sh_buf buf;

    sh_buf_init(&buf);
    CHECK_OK(sh_store_put(s, &m, &out));
    atomic_store(&test_now_ms, T0_MS + 999);
    CHECK_OK(sh_store_get(s, m.hash, &got, &buf));
    atomic_store(&test_now_ms, T0_MS + 1000);
    CHECK_ERR(sh_store_get(s, m.hash, &got, &buf), SH_ERR_NOT_FOUND);
    atomic_store(&test_now_ms, T0_MS);
    sh_buf_free(&buf);
}

static void slots(sh_store *s, const uint8_t owner[33])
{
    uint8_t d1[40], d2[40], d3[40], dev_a[32], dev_b[32];
    sh_store_msg a1, a2, b1, got;
    sh_store_outcome out;
    sh_buf buf;

    sh_buf_init(&buf);
    memset(dev_a, 0xa1, sizeof dev_a);
    memset(dev_b, 0xb2, sizeof dev_b);
    a1 = test_msg(owner, 10, T0_MS - 500, SH_MS_PER_DAY, d1, sizeof d1, 1);
    a1.slot = dev_a;
    a1.slot_len = 32;
    a2 = test_msg(owner, 10, T0_MS - 100, SH_MS_PER_DAY, d2, sizeof d2, 2);
    a2.slot = dev_a;
    a2.slot_len = 32;
    b1 = test_msg(owner, 10, T0_MS - 300, SH_MS_PER_DAY, d3, sizeof d3, 3);
    b1.slot = dev_b;
    b1.slot_len = 32;
    CHECK_OK(sh_store_put(s, &a2, &out));
    CHECK_EQ(out, SH_STORE_STORED);
    CHECK_OK(sh_store_put(s, &a1, &out)); /* older, same device slot */
    CHECK_EQ(out, SH_STORE_SUPERSEDED);
    CHECK_OK(sh_store_put(s, &b1, &out)); /* another device: its own slot */
    CHECK_EQ(out, SH_STORE_STORED);
    CHECK_ERR(sh_store_get(s, a1.hash, &got, &buf), SH_ERR_NOT_FOUND);
    CHECK_OK(sh_store_get(s, a2.hash, &got, &buf));
    CHECK_EQ(got.slot_len, 32);
    CHECK_MEM(got.slot, dev_a, 32);
    CHECK_MEM(got.data, d2, sizeof d2);

    /* Namespace 11: one slot; a newer list replaces the older one. */
    sh_store_msg l1 = test_msg(owner, 11, T0_MS - 50, SH_MS_PER_DAY, d1, sizeof d1, 11);
    sh_store_msg l2 = test_msg(owner, 11, T0_MS - 40, SH_MS_PER_DAY, d2, sizeof d2, 12);
    CHECK_OK(sh_store_put(s, &l1, &out));
    CHECK_EQ(out, SH_STORE_STORED);
    CHECK_OK(sh_store_put(s, &l2, &out));
    CHECK_EQ(out, SH_STORE_STORED);
    CHECK_ERR(sh_store_get(s, l1.hash, &got, &buf), SH_ERR_NOT_FOUND);
    CHECK_OK(sh_store_get(s, l2.hash, &got, &buf));
    CHECK_EQ(got.slot_len, 0);
    CHECK_OK(sh_store_put(s, &l1, &out));
    CHECK_EQ(out, SH_STORE_SUPERSEDED);
    /* The same timestamp: the larger hash wins, on every node alike. */
    sh_store_msg l3 = test_msg(owner, 11, T0_MS - 40, SH_MS_PER_DAY, d3, sizeof d3, 13);
    CHECK_OK(sh_store_put(s, &l3, &out));
    bool l3_wins = memcmp(l3.hash, l2.hash, 32) > 0;
    CHECK_EQ(out, l3_wins ? SH_STORE_STORED : SH_STORE_SUPERSEDED);
    CHECK_OK(sh_store_get(s, l3_wins ? l3.hash : l2.hash, &got, &buf));
    /* Namespace 12 is its own single slot. */
    sh_store_msg r1 = test_msg(owner, 12, T0_MS - 50, SH_MS_PER_DAY, d1, sizeof d1, 21);
    CHECK_OK(sh_store_put(s, &r1, &out));
    CHECK_EQ(out, SH_STORE_STORED);
    sh_buf_free(&buf);
}

int main(void)
{
    const char *dir = test_tmpdir();
    char path[512];
    sh_store_options opts;
    sh_store_stats st;
    sh_store *s;
    uint8_t owner[33];

    snprintf(path, sizeof path, "%s", test_db_path(dir, "store.db"));
    test_store_options(&opts);
    test_owner(owner, 1);
    CHECK_OK(sh_store_open(path, &opts, &s));
    CHECK_OK(sh_store_stats_get(s, &st));
    CHECK_EQ(st.messages, 0);
    round_trip(s, owner);
    rejects(s, owner);
    expired_hidden(s, owner);
    slots(s, owner);
    CHECK_OK(sh_store_stats_get(s, &st));
    CHECK_EQ(st.messages, 9); /* 3 + theirs + 1 expired + a2, b1 + one list + r1 */
    CHECK_EQ(st.owners, 2);
    CHECK(st.db_bytes > 0);
    sh_store_close(s);

    /* Reopen: everything is still there, and nothing is migrated twice. */
    CHECK_OK(sh_store_open(path, &opts, &s));
    sh_store_stats st2;
    CHECK_OK(sh_store_stats_get(s, &st2));
    CHECK_EQ(st2.messages, st.messages);
    CHECK_EQ(st2.data_bytes, st.data_bytes);
    uint8_t data[500];
    sh_store_msg m = test_msg(owner, 0, T0_MS - 1000, SH_MS_PER_DAY, data, sizeof data, 0), got;
    sh_buf buf;
    sh_buf_init(&buf);
    sh_store_msg_hash(m.hash, owner, 0, data, sizeof data);
    CHECK_OK(sh_store_get(s, m.hash, &got, &buf));
    CHECK_MEM(got.data, data, sizeof data);
    sh_buf_free(&buf);
    sh_store_close(s);
    sh_store_close(NULL);
    return 0;
}
