/* Owner requests and their tombstones: delete by hashes (also of hashes not here yet), delete all
 * before a bound, TTL changes within and over the namespace limit in every mode; late copies of
 * deleted messages refused and late copies of re-timed ones given the new expiry; a delete beats a
 * TTL change and a later TTL change beats an earlier one; one owner's tombstone never touches
 * another owner's message; tombstones keep the signed request and die at the original expiry. */
#include "helpers.h"

static uint8_t owner[33], mallory[33];

/* Messages m[0..2] stored (TTL 1, 2, 3 h), m[3] not here; hashes to delete: m0, m3, m1. */
static void delete_setup(sh_store *s, uint8_t d[4][64], sh_store_msg m[4], uint8_t hashes[3][32])
{
    sh_store_outcome out;

    for (int i = 0; i < 4; i++) {
        m[i] = test_msg(owner, 0, T0_MS - 100, SH_MS_PER_HOUR * (i + 1), d[i], 64, (uint32_t)i);
        if (i < 3)
            CHECK_OK(sh_store_put(s, &m[i], &out));
    }
    memcpy(hashes[0], m[0].hash, 32);
    memcpy(hashes[1], m[3].hash, 32);
    memcpy(hashes[2], m[1].hash, 32);
}

static void deletes(sh_store *s, sh_store_msg m[4])
{
    static uint8_t d[4][64];
    uint8_t hashes[3][32];
    sh_store_msg got, late;
    sh_store_outcome out;
    bool deleted[3];
    uint64_t n;
    sh_buf buf;

    sh_buf_init(&buf);
    delete_setup(s, d, m, hashes);
    /* Mallory names our hashes in a request for her own account: nothing of ours changes. */
    sh_store_request evil = test_request(mallory, 0, T0_MS, "mallory's delete");
    CHECK_OK(sh_store_delete(s, &evil, (const uint8_t(*)[32])hashes, 3, deleted, &n));
    CHECK_EQ(n, 0);
    CHECK(!deleted[0] && !deleted[1] && !deleted[2]);
    CHECK_OK(sh_store_get(s, m[0].hash, &got, &buf));
    /* A request for the right owner but another namespace does not match either. */
    sh_store_request wrong_ns = test_request(owner, 2, T0_MS, "delete in ns 2");
    CHECK_OK(sh_store_delete(s, &wrong_ns, (const uint8_t(*)[32])hashes, 3, deleted, &n));
    CHECK_EQ(n, 0);

    sh_store_request req = test_request(owner, 0, T0_MS, "the owner's signed delete");
    CHECK_OK(sh_store_delete(s, &req, (const uint8_t(*)[32])hashes, 3, deleted, &n));
    CHECK_EQ(n, 2);
    CHECK(deleted[0] && !deleted[1] && deleted[2]);
    CHECK_ERR(sh_store_get(s, m[0].hash, &got, &buf), SH_ERR_NOT_FOUND);
    CHECK_ERR(sh_store_get(s, m[1].hash, &got, &buf), SH_ERR_NOT_FOUND);
    CHECK_OK(sh_store_get(s, m[2].hash, &got, &buf));

    /* Late copies are refused, including of the message that was not here yet. */
    late = test_msg(owner, 0, T0_MS - 100, SH_MS_PER_HOUR, d[0], 64, 0);
    CHECK_OK(sh_store_put(s, &late, &out));
    CHECK_EQ(out, SH_STORE_DELETED);
    late = test_msg(owner, 0, T0_MS - 100, SH_MS_PER_HOUR, d[3], 64, 3);
    CHECK_OK(sh_store_put(s, &late, &out));
    CHECK_EQ(out, SH_STORE_DELETED);
    sh_buf_free(&buf);
}

/* Tombstones keep the request, live until the original expiry, and stay with their owner. */
static void tombstone_life(sh_store *s, const sh_store_msg m[4])
{
    uint8_t d[2][64];
    sh_store_msg ours, late;
    sh_store_outcome out;
    sh_store_tombstone t;
    uint64_t n;
    sh_buf body;

    sh_buf_init(&body);
    CHECK_OK(sh_store_tombstone_get(s, owner, 0, m[1].hash, &t, &body));
    CHECK_EQ(t.kind, SH_STORE_TOMB_DELETE);
    CHECK_EQ(t.until_ms, m[1].expiry_ms);
    CHECK_EQ(t.request_ts_ms, T0_MS);
    CHECK_EQ(body.len, strlen("the owner's signed delete"));
    CHECK_MEM(body.data, "the owner's signed delete", body.len);
    CHECK_ERR(sh_store_tombstone_get(s, owner, 3, m[1].hash, &t, NULL), SH_ERR_NOT_FOUND);
    /* The request for namespace 2 left its own tombstones there (for hashes not seen yet), kept
     * as long as any copy could live in that namespace. */
    CHECK_OK(sh_store_tombstone_get(s, owner, 2, m[1].hash, &t, &body));
    CHECK_EQ(t.until_ms, T0_MS + 30 * SH_MS_PER_DAY + SH_STORE_MAX_FUTURE_MS);
    CHECK_MEM(body.data, "delete in ns 2", body.len);
    CHECK_OK(sh_store_tombstone_get(s, owner, 0, m[3].hash, &t, NULL));
    CHECK_EQ(t.until_ms, T0_MS + 14 * SH_MS_PER_DAY + SH_STORE_MAX_FUTURE_MS);

    /* Mallory's own tombstone never stops our message from arriving. */
    sh_store_request evil = test_request(mallory, 0, T0_MS, "mallory's delete");
    ours = test_msg(owner, 0, T0_MS - 50, SH_MS_PER_HOUR, d[0], 64, 33);
    CHECK_OK(sh_store_delete(s, &evil, (const uint8_t(*)[32])ours.hash, 1, NULL, &n));
    CHECK_OK(sh_store_put(s, &ours, &out));
    CHECK_EQ(out, SH_STORE_STORED);

    /* After the original expiry the tombstone is gone and a copy may be stored again. */
    atomic_store(&test_now_ms, m[1].expiry_ms);
    CHECK_ERR(sh_store_tombstone_get(s, owner, 0, m[1].hash, &t, NULL), SH_ERR_NOT_FOUND);
    late = test_msg(owner, 0, T0_MS - 100, SH_MS_PER_DAY, d[1], 64, 1);
    CHECK_OK(sh_store_put(s, &late, &out));
    CHECK_EQ(out, SH_STORE_STORED);
    atomic_store(&test_now_ms, T0_MS);
    sh_buf_free(&body);
}

static void delete_before(sh_store *s)
{
    uint8_t d[6][32];
    sh_store_msg m[6], got;
    sh_store_outcome out;
    uint64_t n;
    sh_buf buf;

    sh_buf_init(&buf);
    for (int i = 0; i < 6; i++) {
        m[i] = test_msg(owner, 4, T0_MS - 600 + i * 100, SH_MS_PER_DAY, d[i], 32,
                        (uint32_t)(100 + i));
        if (i < 5)
            CHECK_OK(sh_store_put(s, &m[i], &out));
    }
    sh_store_request req = test_request(owner, 4, T0_MS, "delete all before");
    CHECK_OK(sh_store_delete_before(s, &req, T0_MS - 300, &n)); /* ts < T0-300: m0, m1, m2 */
    CHECK_EQ(n, 3);
    for (int i = 0; i < 3; i++)
        CHECK_ERR(sh_store_get(s, m[i].hash, &got, &buf), SH_ERR_NOT_FOUND);
    for (int i = 3; i < 5; i++)
        CHECK_OK(sh_store_get(s, m[i].hash, &got, &buf));
    /* A late copy from before the bound is refused, a newer message is not. */
    sh_store_msg late = test_msg(owner, 4, T0_MS - 1000, SH_MS_PER_DAY, d[5], 32, 105);
    CHECK_OK(sh_store_put(s, &late, &out));
    CHECK_EQ(out, SH_STORE_DELETED);
    late = test_msg(owner, 4, T0_MS - 300, SH_MS_PER_DAY, d[5], 32, 106);
    CHECK_OK(sh_store_put(s, &late, &out));
    CHECK_EQ(out, SH_STORE_STORED);
    /* Other namespaces keep theirs. */
    sh_store_msg ns5 = test_msg(owner, 5, T0_MS - 1000, SH_MS_PER_DAY, d[0], 32, 107);
    CHECK_OK(sh_store_put(s, &ns5, &out));
    CHECK_EQ(out, SH_STORE_STORED);
    sh_buf_free(&buf);
}

static int64_t expire_one(sh_store *s, const sh_store_request *req, const uint8_t *hash,
                          int64_t when, sh_store_expire_mode mode)
{
    int64_t e = -1;

    CHECK_OK(sh_store_expire(s, req, (const uint8_t(*)[32])hash, 1, when, mode, &e));
    return e;
}

static void expires(sh_store *s)
{
    uint8_t d[3][32];
    sh_store_msg m = test_msg(owner, 2, T0_MS, SH_MS_PER_DAY, d[0], 32, 200), got;
    sh_store_outcome out;
    sh_store_tombstone t;
    int64_t max = T0_MS + 30 * SH_MS_PER_DAY + SH_STORE_MAX_FUTURE_MS;
    sh_buf buf;

    sh_buf_init(&buf);
    CHECK_OK(sh_store_put(s, &m, &out));
    sh_store_request r1 = test_request(owner, 2, T0_MS + 1, "expire 1");
    /* Within limits: up to the namespace max, down to now. */
    CHECK_EQ(expire_one(s, &r1, m.hash, max, SH_STORE_EXPIRE_SET), max);
    CHECK_ERR(sh_store_expire(s, &r1, (const uint8_t(*)[32])m.hash, 1, max + 1,
                              SH_STORE_EXPIRE_SET, NULL), SH_ERR_RANGE);
    CHECK_ERR(sh_store_expire(s, &r1, (const uint8_t(*)[32])m.hash, 1, T0_MS - 1,
                              SH_STORE_EXPIRE_SET, NULL), SH_ERR_RANGE);
    CHECK_ERR(sh_store_expire(s, &r1, (const uint8_t(*)[32])m.hash, 1, T0_MS, 7, NULL),
              SH_ERR_INVALID);
    sh_store_request r0 = test_request(owner, 0, T0_MS + 1, "expire in ns 0");
    CHECK_ERR(sh_store_expire(s, &r0, (const uint8_t(*)[32])m.hash, 1,
                              T0_MS + 14 * SH_MS_PER_DAY + SH_STORE_MAX_FUTURE_MS + 1,
                              SH_STORE_EXPIRE_SET, NULL), SH_ERR_RANGE);
    CHECK_OK(sh_store_get(s, m.hash, &got, &buf));
    CHECK_EQ(got.expiry_ms, max);

    sh_store_request r2 = test_request(owner, 2, T0_MS + 2, "expire 2");
    CHECK_EQ(expire_one(s, &r2, m.hash, T0_MS + 5000, SH_STORE_EXPIRE_EXTEND_ONLY), max);
    sh_store_request r3 = test_request(owner, 2, T0_MS + 3, "expire 3");
    CHECK_EQ(expire_one(s, &r3, m.hash, T0_MS + 5000, SH_STORE_EXPIRE_SHORTEN_ONLY), T0_MS + 5000);
    sh_store_request r4 = test_request(owner, 2, T0_MS + 4, "expire 4");
    CHECK_EQ(expire_one(s, &r4, m.hash, T0_MS + 9000, SH_STORE_EXPIRE_SHORTEN_ONLY), T0_MS + 5000);
    sh_store_request r5 = test_request(owner, 2, T0_MS + 5, "expire 5");
    CHECK_EQ(expire_one(s, &r5, m.hash, T0_MS + 8000, SH_STORE_EXPIRE_EXTEND_ONLY), T0_MS + 8000);
    CHECK_OK(sh_store_tombstone_get(s, owner, 2, m.hash, &t, NULL));
    CHECK_EQ(t.kind, SH_STORE_TOMB_EXPIRE);
    CHECK_EQ(t.mode, SH_STORE_EXPIRE_EXTEND_ONLY);
    CHECK_EQ(t.new_expiry_ms, T0_MS + 8000);
    CHECK_EQ(t.request_ts_ms, T0_MS + 5);
    CHECK_EQ(t.until_ms, max); /* the latest expiry any copy may still carry */
    /* An older request arriving late changes nothing. */
    CHECK_EQ(expire_one(s, &r1, m.hash, T0_MS + 20000, SH_STORE_EXPIRE_SET), T0_MS + 8000);
    CHECK_OK(sh_store_get(s, m.hash, &got, &buf));
    CHECK_EQ(got.expiry_ms, T0_MS + 8000);

    /* A TTL change for a message not here yet applies when it arrives. */
    sh_store_msg ahead = test_msg(owner, 2, T0_MS, SH_MS_PER_DAY, d[1], 32, 201);
    sh_store_request r6 = test_request(owner, 2, T0_MS + 6, "expire 6");
    CHECK_EQ(expire_one(s, &r6, ahead.hash, T0_MS + 7000, SH_STORE_EXPIRE_SET), 0);
    CHECK_OK(sh_store_put(s, &ahead, &out));
    CHECK_EQ(out, SH_STORE_STORED);
    CHECK_OK(sh_store_get(s, ahead.hash, &got, &buf));
    CHECK_EQ(got.expiry_ms, T0_MS + 7000);

    /* A delete beats any TTL change, before or after it. */
    sh_store_request del = test_request(owner, 2, T0_MS + 1, "delete (older than r6)");
    uint64_t n;
    CHECK_OK(sh_store_delete(s, &del, (const uint8_t(*)[32])ahead.hash, 1, NULL, &n));
    CHECK_EQ(n, 1);
    sh_store_request r7 = test_request(owner, 2, T0_MS + 7, "expire 7");
    CHECK_EQ(expire_one(s, &r7, ahead.hash, T0_MS + 9000, SH_STORE_EXPIRE_SET), 0);
    CHECK_OK(sh_store_tombstone_get(s, owner, 2, ahead.hash, &t, NULL));
    CHECK_EQ(t.kind, SH_STORE_TOMB_DELETE);
    CHECK_OK(sh_store_put(s, &ahead, &out));
    CHECK_EQ(out, SH_STORE_DELETED);
    sh_buf_free(&buf);
}

int main(void)
{
    sh_store_options o;
    sh_store *s;
    sh_store_stats st;

    test_owner(owner, 1);
    test_owner(mallory, 0x66);
    test_store_options(&o);
    CHECK_OK(sh_store_open(test_db_path(test_tmpdir(), "t.db"), &o, &s));
    sh_store_msg deleted_msgs[4];

    deletes(s, deleted_msgs);
    tombstone_life(s, deleted_msgs);
    delete_before(s);
    expires(s);
    CHECK_OK(sh_store_stats_get(s, &st));
    CHECK(st.tombstones >= 8);
    sh_store_close(s);
    return 0;
}
