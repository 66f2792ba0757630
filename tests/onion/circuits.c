/* The relay's circuit table with an injected clock: take on reply, expiry in deadline order with
 * the callback, dropped links, the size limit at limit and limit + 1, ids unique per link, and a
 * long random run checked against a plain list that does the same. */
#include "test.h"

#include <sodium.h>

#include "onion/onion.h"

static int64_t fake_now;

static int64_t fake_clock_cb(void *ctx)
{
    (void)ctx;
    return fake_now;
}

typedef struct seen {
    size_t n;
    uint64_t in_circuit[64];
} seen;

static void record_cb(void *ctx, const sh_onion_circuit *c)
{
    seen *s = ctx;

    if (s->n < 64)
        s->in_circuit[s->n++] = c->in_circuit;
}

static void test_basics(void)
{
    sh_onion_circuits *t;
    sh_onion_circuit c;
    uint8_t key[SH_ONION_KEY_BYTES] = {1};
    uint64_t ids[5];
    int64_t next;
    seen s = {0};

    fake_now = 1000;
    CHECK_OK(sh_onion_circuits_new(4, fake_clock_cb, NULL, &t));
    CHECK(!sh_onion_circuits_next_deadline(t, &next));
    for (uint64_t i = 0; i < 4; i++) {
        key[1] = (uint8_t)i;
        CHECK_OK(sh_onion_circuits_add(t, 10 + i, 100 + i, 7, (uint32_t)(500 - 100 * i), key, &ids[i]));
        CHECK(ids[i] != 0);
    }
    CHECK_ERR(sh_onion_circuits_add(t, 1, 1, 7, 10, key, &ids[4]), SH_ERR_BUSY);
    CHECK_MSG("limit of 4");
    CHECK_EQ(sh_onion_circuits_count(t), 4);
    CHECK(sh_onion_circuits_next_deadline(t, &next));
    CHECK_EQ(next, 1000 + 200);

    /* The reply for circuit 1 comes back. */
    CHECK_OK(sh_onion_circuits_take(t, 7, ids[1], &c));
    CHECK_EQ(c.in_link, 11);
    CHECK_EQ(c.in_circuit, 101);
    CHECK_EQ(c.deadline_ms, 1400);
    CHECK_EQ(c.reply_key[1], 1);
    CHECK_ERR(sh_onion_circuits_take(t, 7, ids[1], &c), SH_ERR_NOT_FOUND);
    CHECK_ERR(sh_onion_circuits_take(t, 8, ids[0], &c), SH_ERR_NOT_FOUND); /* another link */

    /* Time passes: deadlines 1200 (i=3) and 1300 (i=2) expire, earliest first. */
    fake_now = 1299;
    CHECK_EQ(sh_onion_circuits_expire(t, record_cb, &s), 1);
    fake_now = 1300;
    CHECK_EQ(sh_onion_circuits_expire(t, record_cb, &s), 1);
    CHECK_EQ(s.n, 2);
    CHECK_EQ(s.in_circuit[0], 103);
    CHECK_EQ(s.in_circuit[1], 102);
    CHECK_ERR(sh_onion_circuits_take(t, 7, ids[3], &c), SH_ERR_NOT_FOUND);
    CHECK(sh_onion_circuits_next_deadline(t, &next));
    CHECK_EQ(next, 1500);

    /* A link closes: its circuits go, reported. */
    CHECK_OK(sh_onion_circuits_add(t, 50, 500, 9, 1000, key, &ids[4]));
    CHECK_EQ(sh_onion_circuits_drop_link(t, 10, record_cb, &s), 1);
    CHECK_EQ(s.in_circuit[2], 100);
    CHECK_EQ(sh_onion_circuits_drop_link(t, 9, NULL, NULL), 1);
    CHECK_EQ(sh_onion_circuits_count(t), 0);
    sh_onion_circuits_free(t);
}

/* A random mix of add, take, expire and drop, checked against a list. */
typedef struct model {
    bool live;
    uint64_t in_link, out_link, out_circuit;
    int64_t deadline;
} model;

#define MODEL_MAX 300

static void check_model(sh_onion_circuits *t, model *m)
{
    size_t live = 0;

    for (size_t i = 0; i < MODEL_MAX; i++)
        live += m[i].live;
    CHECK_EQ(sh_onion_circuits_count(t), live);
}

static void expire_model_cb(void *ctx, const sh_onion_circuit *c)
{
    model *m = ctx;

    CHECK(c->in_link < MODEL_MAX && m[c->in_link].live);
    CHECK(c->deadline_ms <= fake_now);
    CHECK_EQ(m[c->in_link].out_circuit, c->out_circuit);
    m[c->in_link].live = false;
}

static void test_random_run(void)
{
    static model m[MODEL_MAX];
    sh_onion_circuits *t;
    sh_onion_circuit c;
    uint8_t key[SH_ONION_KEY_BYTES] = {0}, r[4];

    fake_now = 0;
    CHECK_OK(sh_onion_circuits_new(MODEL_MAX, fake_clock_cb, NULL, &t));
    for (int step = 0; step < 20000; step++) {
        test_random(r, sizeof r);
        size_t k = ((size_t)r[1] << 8 | r[2]) % MODEL_MAX;

        if (r[0] < 120 && !m[k].live) {
            m[k] = (model){.live = true, .in_link = k, .out_link = r[3] % 4,
                           .deadline = fake_now + r[3] * 10};
            CHECK_OK(sh_onion_circuits_add(t, k, 0, m[k].out_link, r[3] * 10u, key,
                                           &m[k].out_circuit));
        } else if (r[0] < 200 && m[k].live) {
            CHECK_OK(sh_onion_circuits_take(t, m[k].out_link, m[k].out_circuit, &c));
            CHECK_EQ(c.in_link, k);
            m[k].live = false;
        } else if (r[0] < 250) {
            fake_now += r[3] % 16;
            sh_onion_circuits_expire(t, expire_model_cb, m);
            for (size_t i = 0; i < MODEL_MAX; i++)
                CHECK(!m[i].live || m[i].deadline > fake_now);
        } else if (r[3] == 0) {
            size_t before = sh_onion_circuits_count(t), dropped = 0;

            for (size_t i = 0; i < MODEL_MAX; i++)
                if (m[i].live && m[i].out_link == 2) {
                    m[i].live = false;
                    dropped++;
                }
            CHECK_EQ(sh_onion_circuits_drop_link(t, 2, NULL, NULL), dropped);
            CHECK_EQ(sh_onion_circuits_count(t), before - dropped);
        }
        check_model(t, m);
    }
    /* Every live entry is still found. */
    for (size_t i = 0; i < MODEL_MAX; i++) {
        if (!m[i].live)
            continue;
        CHECK_OK(sh_onion_circuits_take(t, m[i].out_link, m[i].out_circuit, &c));
        CHECK_EQ(c.in_link, i);
        CHECK_EQ(c.deadline_ms, m[i].deadline);
    }
    CHECK_EQ(sh_onion_circuits_count(t), 0);
    sh_onion_circuits_free(t);
}

int main(void)
{
    CHECK(sodium_init() >= 0);
    test_basics();
    test_random_run();
    return 0;
}
