/* Restart safety (overview.md "Replication": a store is acknowledged only after its transaction
 * committed). Rounds of: a stream of stores from 32 calls in flight into a separate shoald, which
 * is killed with SIGKILL at a random point of the stream; then the database must pass
 * `PRAGMA integrity_check`, and after a restart every acknowledged store must be there. The last
 * round stops the node with SIGTERM instead: it exits 0 and, again, loses nothing it acknowledged. */
#include <signal.h>
#include <sqlite3.h>

#include "nodetest.h"
#include "util/time.h"

#define OWNERS 8
#define IN_FLIGHT 32
#define ROUNDS 3
#define MAX_ACKED 8192

static nt_node node;
static uint8_t owners[OWNERS][33];
static sh_account *accts[OWNERS];

typedef struct stream {
    nt_client c;
    uint64_t next;       /* counter making each message unique */
    size_t acked, failed, in_flight;
    uint8_t acked_hash[MAX_ACKED][32];
    uint8_t data[IN_FLIGHT][16];
    bool stop;
} stream;

static stream st;

static void send_one(intptr_t slot);

static void stored_cb(int status, const char *message, const sh_node_stored *r, void *ctx)
{
    (void)message;
    st.in_flight--;
    if (status == SH_OK) {
        CHECK(st.acked < MAX_ACKED);
        memcpy(st.acked_hash[st.acked++], r->hash, 32);
    } else {
        st.failed++;
    }
    if (!st.stop && status == SH_OK)
        send_one((intptr_t)ctx);
}

static void send_one(intptr_t slot)
{
    uint64_t i = st.next++;
    sh_node_request r;

    memcpy(st.data[slot], "restart", 7);
    sh_store_u64be(st.data[slot] + 8, i);
    r = nt_req_store(owners[i % OWNERS], 0, st.data[slot], 16, SH_MS_PER_DAY);
    CHECK_OK(sh_node_conn_store(st.c.conn, &r, NULL, stored_cb, (void *)slot));
    st.in_flight++;
}

/* Streams until `acks` more stores were acknowledged, then signals the node and drains. */
static int stream_and_stop(size_t acks, int sig)
{
    size_t goal = st.acked + acks;
    int status;

    nt_client_open(&st.c, &node);
    st.stop = false;
    for (intptr_t s = 0; s < IN_FLIGHT; s++)
        send_one(s);
    while (st.acked < goal)
        uv_run(&st.c.loop, UV_RUN_ONCE);
    if (sig == SIGTERM) {
        /* Graceful: the node answers what it has in flight (stored or refused). */
        kill(node.pid, SIGTERM);
        st.stop = true;
        while (st.in_flight > 0)
            uv_run(&st.c.loop, UV_RUN_ONCE);
        status = nt_node_stop(&node, 0);
    } else {
        status = nt_node_stop(&node, SIGKILL);
        st.stop = true;
    }
    nt_client_close(&st.c); /* whatever is still in flight fails here */
    CHECK_EQ(st.in_flight, 0);
    return status;
}

static void integrity(void)
{
    sqlite3 *db;
    sqlite3_stmt *q;

    CHECK(sqlite3_open(nt_node_db(&node), &db) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(q) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(q, 0), "ok");
    CHECK(sqlite3_step(q) == SQLITE_DONE);
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static int cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* Restarts the node and reads every owner's inbox: each acknowledged hash must be there. */
static void all_there(void)
{
    static uint8_t found[MAX_ACKED + IN_FLIGHT * ROUNDS * 2][32];
    size_t n = 0;
    nt_client c;

    nt_node_start(&node);
    nt_client_open(&c, &node);
    for (int o = 0; o < OWNERS; o++) {
        sh_node_signer s = {.account = accts[o]};
        sh_node_request r = nt_req_retrieve(owners[o], 0);
        nt_page p;

        r.max_count = SH_STORE_PAGE_MAX_COUNT;
        do {
            CHECK_OK(nt_retrieve(&c, &r, &s, &p));
            for (size_t i = 0; i < p.count; i++) {
                CHECK(n < sizeof found / sizeof found[0]);
                memcpy(found[n++], p.msgs[i].hash, 32);
            }
            r.after = p.next;
            nt_page_free(&p);
        } while (p.more);
    }
    nt_client_close(&c);
    qsort(found, n, 32, cmp_hash);
    for (size_t i = 0; i < st.acked; i++)
        if (bsearch(st.acked_hash[i], found, n, 32, cmp_hash) == NULL)
            test_fail(__FILE__, __LINE__, "acknowledged store %zu of %zu is missing after the "
                      "restart", i, st.acked);
    CHECK(n >= st.acked); /* unacknowledged ones may be there too */
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    CHECK_OK(sh_identity_init());
    for (int o = 0; o < OWNERS; o++)
        accts[o] = nt_account((uint8_t)(40 + o), owners[o]);
    nt_node_init(&node, argv[1]);
    node.settings[0] = "pow_bits=0";
    node.settings[1] = "pow_max_bits=0";
    nt_node_start(&node);
    for (int round = 0; round < ROUNDS; round++) {
        uint8_t rnd;
        test_random(&rnd, 1);
        CHECK_EQ(stream_and_stop(100 + 2 * (size_t)rnd, SIGKILL), 128 + SIGKILL);
        integrity();
        all_there();
        printf("round %d: %zu stores acknowledged so far, %zu cut off\n", round, st.acked,
               st.failed);
    }
    CHECK_EQ(stream_and_stop(300, SIGTERM), 0);
    integrity();
    all_there();
    CHECK(st.failed > 0); /* the kills did cut calls in flight */
    CHECK_EQ(nt_node_stop(&node, SIGTERM), 0);
    for (int o = 0; o < OWNERS; o++)
        sh_account_free(accts[o]);
    return 0;
}
