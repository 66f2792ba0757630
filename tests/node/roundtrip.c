/* shoald round trips over real loopback links, shoald in its own process: info, store and
 * retrieve in each kind of namespace, dedupe, cursor paging by count and bytes, delete by hash
 * and before a bound, expire, long-polls (woken by a store from another link, timed out, and
 * cancelled when the caller's link dies), and the metrics that count all of it. */
#include <signal.h>

#include "nodetest.h"
#include "util/time.h"

#define TTL (24 * SH_MS_PER_HOUR)

static nt_node node;
static uint8_t owner_a[33], owner_b[33];
static sh_account *acct_a, *acct_b;
static sh_node_signer sign_a, sign_b;

static void info(nt_client *c)
{
    sh_node_info i;

    CHECK_OK(nt_info(c, &i));
    CHECK_STR(i.version, "0.1.0");
    CHECK_MEM(i.link_key, node.link_key, 32);
    CHECK_MEM(i.identity_key, node.identity_key, 32);
    CHECK_EQ(i.pow_bits, 6);
    CHECK_EQ(i.max_data_bytes, SH_STORE_MAX_DATA_BYTES);
    CHECK_EQ(i.max_clock_skew_ms, 60000);
    CHECK_EQ(i.page_max_count, SH_STORE_PAGE_MAX_COUNT);
    CHECK_EQ(sh_node_conn_pow_bits(c->conn), 6);
}

/* An anonymous store in the inbox (with its proof of work), then the same again: one message. */
static void inbox_and_dedupe(nt_client *c)
{
    sh_node_request r = nt_req_store(owner_a, 0, "hello", 5, TTL);
    sh_node_stored s1, s2;
    uint8_t want[32];
    nt_page p;

    CHECK_OK(nt_store(c, &r, NULL, &s1));
    CHECK_EQ(s1.outcome, SH_STORE_STORED);
    sh_store_msg_hash(want, owner_a, 0, (const uint8_t *)"hello", 5);
    CHECK_MEM(s1.hash, want, 32);
    CHECK_OK(nt_store(c, &r, NULL, &s2));
    CHECK_EQ(s2.outcome, SH_STORE_DUPLICATE);
    CHECK_MEM(s2.hash, want, 32);
    r = nt_req_retrieve(owner_a, 0);
    CHECK_OK(nt_retrieve(c, &r, &sign_a, &p));
    CHECK_EQ(p.count, 1);
    CHECK_MEM(p.msgs[0].hash, want, 32);
    CHECK_EQ(p.msgs[0].data_len, 5);
    CHECK_MEM(p.msgs[0].data, "hello", 5);
    CHECK(p.msgs[0].expiry_ms - p.msgs[0].timestamp_ms == TTL);
    CHECK(!p.more);
    nt_page_free(&p);
    /* The other account's inbox is empty: owners never see each other's mail. */
    r = nt_req_retrieve(owner_b, 0);
    CHECK_OK(nt_retrieve(c, &r, &sign_b, &p));
    CHECK_EQ(p.count, 0);
    nt_page_free(&p);
}

/* Config (owner only), public prekeys (anyone reads, one slot per device key). */
static void namespaces(nt_client *c)
{
    sh_node_request r = nt_req_store(owner_a, 3, "config", 6, TTL);
    sh_node_stored s;
    nt_page p;

    CHECK_OK(nt_store(c, &r, &sign_a, &s));
    CHECK_EQ(s.outcome, SH_STORE_STORED);
    r = nt_req_retrieve(owner_a, 3);
    CHECK_OK(nt_retrieve(c, &r, &sign_a, &p));
    CHECK_EQ(p.count, 1);
    CHECK_MEM(p.msgs[0].data, "config", 6);
    nt_page_free(&p);
    r = nt_req_store(owner_a, 10, "bundle-1", 8, TTL);
    CHECK_OK(nt_store(c, &r, &sign_a, &s));
    /* The slot keeps the greatest (timestamp, hash): a bundle stored in the same millisecond
     * as the one before loses when its hash is smaller, so store until one is newer. */
    char newer[9] = "bundle-2";
    for (int i = 0;; i++) {
        CHECK(i < 100);
        newer[7] = (char)('2' + i % 8);
        r = nt_req_store(owner_a, 10, newer, 8, TTL);
        CHECK_OK(nt_store(c, &r, &sign_a, &s));
        if (s.outcome == SH_STORE_STORED)
            break;
        CHECK_EQ(s.outcome, SH_STORE_SUPERSEDED);
    }
    r = nt_req_retrieve(owner_a, 10); /* unsigned: namespace 10 is public */
    CHECK_OK(nt_retrieve(c, &r, NULL, &p));
    CHECK_EQ(p.count, 1); /* the device's slot holds the newer bundle */
    CHECK_MEM(p.msgs[0].data, newer, 8);
    nt_page_free(&p);
}

/* 25 messages read back 10, 10, 5 by count, then by a byte cap; every hash exactly once. */
static void paging(nt_client *c)
{
    uint8_t data[25][100], seen[25] = {0};
    sh_node_request r;
    sh_node_stored s;
    nt_page p;
    size_t total = 0, pages = 0;

    for (int i = 0; i < 25; i++) {
        memset(data[i], 'a' + i, sizeof data[i]);
        r = nt_req_store(owner_b, 2, data[i], sizeof data[i], TTL);
        CHECK_OK(nt_store(c, &r, &sign_b, &s));
    }
    r = nt_req_retrieve(owner_b, 2);
    r.max_count = 10;
    do {
        CHECK_OK(nt_retrieve(c, &r, &sign_b, &p));
        CHECK(p.count == (pages < 2 ? 10u : 5u));
        CHECK(p.more == (pages < 2));
        for (size_t i = 0; i < p.count; i++) {
            int k = p.msgs[i].data[0] - 'a';
            CHECK(k >= 0 && k < 25 && !seen[k]);
            seen[k] = 1;
        }
        total += p.count;
        pages++;
        r.after = p.next;
        nt_page_free(&p);
    } while (pages < 3);
    CHECK_EQ(total, 25);
    /* Nothing after the last cursor. */
    CHECK_OK(nt_retrieve(c, &r, &sign_b, &p));
    CHECK_EQ(p.count, 0);
    nt_page_free(&p);
    /* A byte cap of 250: two messages of 100 per page (a third would pass it). */
    r = nt_req_retrieve(owner_b, 2);
    r.max_bytes = 250;
    CHECK_OK(nt_retrieve(c, &r, &sign_b, &p));
    CHECK_EQ(p.count, 2);
    CHECK(p.more);
    nt_page_free(&p);
}

static void delete_and_expire(nt_client *c)
{
    sh_node_request r = nt_req_store(owner_a, 4, "one", 3, TTL), d;
    sh_node_stored s1, s2, s3;
    sh_node_changed ch;
    uint8_t hashes[3][32];
    nt_page p;
    int64_t now = sh_time_now_ms();

    CHECK_OK(nt_store(c, &r, &sign_a, &s1));
    r.data = (const uint8_t *)"two";
    CHECK_OK(nt_store(c, &r, &sign_a, &s2));
    r.data = (const uint8_t *)"six";
    CHECK_OK(nt_store(c, &r, &sign_a, &s3));
    /* Expire: shorten "one"; extend-only to an earlier time changes nothing. */
    memcpy(hashes[0], s1.hash, 32);
    memcpy(hashes[1], s2.hash, 32);
    d = (sh_node_request){.method = SH_NODE_EXPIRE, .ns = 4, .hashes = (const uint8_t(*)[32])hashes,
                          .n_hashes = 1, .expiry_ms = now + SH_MS_PER_HOUR,
                          .mode = SH_STORE_EXPIRE_SHORTEN_ONLY};
    memcpy(d.owner, owner_a, 33);
    CHECK_OK(nt_change(c, &d, &sign_a, &ch));
    CHECK_EQ(ch.count, 1);
    CHECK_EQ(ch.n, 1);
    CHECK_EQ(ch.expiries[0], now + SH_MS_PER_HOUR);
    sh_node_changed_free(&ch);
    d.mode = SH_STORE_EXPIRE_EXTEND_ONLY;
    d.expiry_ms = now + 30 * SH_MS_PER_MINUTE;
    CHECK_OK(nt_change(c, &d, &sign_a, &ch));
    CHECK_EQ(ch.count, 0);
    CHECK_EQ(ch.expiries[0], now + SH_MS_PER_HOUR);
    sh_node_changed_free(&ch);
    /* Delete "one" and "two" and an unknown hash. */
    memset(hashes[2], 7, 32);
    d = (sh_node_request){.method = SH_NODE_DELETE, .ns = 4,
                          .hashes = (const uint8_t(*)[32])hashes, .n_hashes = 3};
    memcpy(d.owner, owner_a, 33);
    CHECK_OK(nt_change(c, &d, &sign_a, &ch));
    CHECK_EQ(ch.count, 2);
    CHECK_EQ(ch.n, 3);
    CHECK(ch.deleted[0] && ch.deleted[1] && !ch.deleted[2]);
    sh_node_changed_free(&ch);
    r = nt_req_retrieve(owner_a, 4);
    CHECK_OK(nt_retrieve(c, &r, &sign_a, &p));
    CHECK_EQ(p.count, 1);
    CHECK_MEM(p.msgs[0].data, "six", 3);
    nt_page_free(&p);
    /* A deleted message stored again stays deleted (its tombstone). */
    r = nt_req_store(owner_a, 4, "one", 3, TTL);
    CHECK_OK(nt_store(c, &r, &sign_a, &s1));
    CHECK_EQ(s1.outcome, SH_STORE_DELETED);
    /* Delete everything before a bound after "six". */
    d = (sh_node_request){.method = SH_NODE_DELETE, .ns = 4, .before_ms = sh_time_now_ms() + 1};
    memcpy(d.owner, owner_a, 33);
    CHECK_OK(nt_change(c, &d, &sign_a, &ch));
    CHECK_EQ(ch.count, 1);
    sh_node_changed_free(&ch);
    r = nt_req_retrieve(owner_a, 4);
    CHECK_OK(nt_retrieve(c, &r, &sign_a, &p));
    CHECK_EQ(p.count, 0);
    nt_page_free(&p);
}

/* A long-poll from one link is answered when another link stores into that inbox. */
static void long_poll(nt_client *c)
{
    nt_client other;
    nt_poll poll;
    sh_node_request r = nt_req_retrieve(owner_b, 0), s;
    sh_node_stored st;
    nt_page p;
    int64_t t0;

    CHECK_OK(nt_retrieve(c, &r, &sign_b, &p)); /* the cursor after what is there */
    r.after = p.next;
    nt_page_free(&p);
    r.wait_ms = 20000;
    nt_client_open(&other, &node);
    t0 = sh_time_mono_ms();
    nt_poll_start(c, &r, &sign_b, &poll);
    nt_wait_polls(c, &node, 1); /* parked on the node */
    CHECK(!poll.done);
    s = nt_req_store(owner_b, 0, "wake up", 7, TTL);
    CHECK_OK(nt_store(&other, &s, NULL, &st));
    nt_poll_wait(c, &poll);
    CHECK_OK(poll.status);
    CHECK_EQ(poll.page.count, 1);
    CHECK_MEM(poll.page.msgs[0].data, "wake up", 7);
    /* Well before the poll's own 20 s: it was the store that answered it. */
    CHECK(sh_time_mono_ms() - t0 < 10000);
    nt_page_free(&poll.page);
    /* A poll with nothing to wake it ends empty after its wait. */
    r.after.timestamp_ms = st.expiry_ms; /* after everything */
    r.wait_ms = 100;
    CHECK_OK(nt_retrieve(c, &r, &sign_b, &p));
    CHECK_EQ(p.count, 0);
    nt_page_free(&p);
    /* A poll whose caller goes away is cancelled on the node. */
    r.wait_ms = 20000;
    nt_poll_start(&other, &r, &sign_b, &poll);
    nt_wait_polls(&other, &node, 1);
    nt_client_close(&other);
    nt_page_free(&poll.page);
}

static void metrics(void)
{
    char *text = nt_stats(&node);

    CHECK(nt_metric(text, "shoal_node_stores_total{outcome=\"stored\"}") >= 30);
    CHECK_EQ(nt_metric(text, "shoal_node_stores_total{outcome=\"duplicate\"}"), 1);
    CHECK_EQ(nt_metric(text, "shoal_node_stores_total{outcome=\"deleted\"}"), 1);
    CHECK_EQ(nt_metric(text, "shoal_node_long_polls_total{end=\"woken\"}"), 1);
    CHECK_EQ(nt_metric(text, "shoal_node_long_polls_total{end=\"timeout\"}"), 1);
    CHECK_EQ(nt_metric(text, "shoal_node_long_polls_total{end=\"cancelled\"}"), 1);
    CHECK_EQ(nt_metric(text, "shoal_node_deleted_messages_total"), 3);
    CHECK_EQ(nt_metric(text, "shoal_node_pow_bits"), 6);
    CHECK(nt_metric(text, "shoal_store_messages") >= 28);
    CHECK(nt_metric(text, "shoal_store_db_bytes") > 0);
    CHECK(nt_metric(text, "shoal_store_expiry_lag_seconds") == 0);
    free(text);
}

int main(int argc, char **argv)
{
    nt_client c;

    CHECK(argc == 2);
    CHECK_OK(sh_identity_init());
    acct_a = nt_account(1, owner_a);
    acct_b = nt_account(2, owner_b);
    sign_a = (sh_node_signer){.account = acct_a};
    sign_b = (sh_node_signer){.account = acct_b};
    nt_node_init(&node, argv[1]);
    node.settings[0] = "pow_bits=6";
    nt_node_start(&node);
    nt_client_open(&c, &node);
    info(&c);
    inbox_and_dedupe(&c);
    namespaces(&c);
    paging(&c);
    delete_and_expire(&c);
    long_poll(&c);
    /* The node counts the cancel once it has read the closed link. */
    nt_wait_polls(&c, &node, 0);
    metrics();
    nt_client_close(&c);
    CHECK_EQ(nt_node_stop(&node, SIGTERM), 0);
    sh_account_free(acct_a);
    sh_account_free(acct_b);
    return 0;
}
