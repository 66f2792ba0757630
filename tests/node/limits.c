/* Every limit of the storage API at the limit and one past it, over a real link to a separate
 * shoald configured with small per-namespace limits (5 messages, 200 000 bytes): data size, TTL
 * per namespace, messages and bytes per owner and namespace (SH_ERR_FULL, and nothing evicted),
 * page count and byte caps, hashes per request, the long-poll wait, and the body size. */
#include <signal.h>

#include "nodetest.h"
#include "util/time.h"

#define MAX_MSGS 5
#define MAX_BYTES 200000

static nt_node node;
static nt_client cl;
static uint8_t owner_a[33], owner_b[33], owner_c[33];
static sh_account *acct_a, *acct_b, *acct_c;
static sh_node_signer sign_a, sign_b, sign_c;
static uint8_t big[SH_STORE_MAX_DATA_BYTES + 1];

static void data_size(void)
{
    sh_node_request r = nt_req_store(owner_a, 2, big, SH_STORE_MAX_DATA_BYTES, SH_MS_PER_DAY);
    sh_node_stored st;

    CHECK_OK(nt_store(&cl, &r, &sign_a, &st));
    CHECK_EQ(st.outcome, SH_STORE_STORED);
    r.data_len = SH_STORE_MAX_DATA_BYTES + 1;
    CHECK_ERR(nt_store(&cl, &r, &sign_a, &st), SH_ERR_LIMIT);
    CHECK_MSG("at most 61440");
    r.data_len = 0;
    CHECK_ERR(nt_store(&cl, &r, &sign_a, &st), SH_ERR_INVALID);
}

static void ttl(void)
{
    static const struct {
        int16_t ns;
        int64_t max;
    } cases[] = {{0, 14 * SH_MS_PER_DAY}, {2, 30 * SH_MS_PER_DAY}, {10, 30 * SH_MS_PER_DAY}};
    sh_node_stored st;

    for (size_t i = 0; i < 3; i++) {
        uint8_t d[2] = {'t', (uint8_t)i};
        sh_node_request r = nt_req_store(owner_b, cases[i].ns, d, 2, cases[i].max);
        CHECK_OK(nt_store(&cl, &r, &sign_b, &st));
        CHECK(llabs(st.expiry_ms - (sh_time_now_ms() + cases[i].max)) < 5000);
        d[0] = 'u';
        r.ttl_ms = cases[i].max + 1;
        CHECK_ERR(nt_store(&cl, &r, &sign_b, &st), SH_ERR_RANGE);
        CHECK_MSG("TTL");
    }
    {
        sh_node_request r = nt_req_store(owner_b, 2, "z", 1, 0);
        CHECK_ERR(nt_store(&cl, &r, &sign_b, &st), SH_ERR_INVALID);
    }
}

/* MAX_MSGS messages fit; one more is refused and evicts nothing; after a delete one fits again. */
static void count_full(void)
{
    sh_node_request r;
    sh_node_stored st[MAX_MSGS + 1];
    sh_node_changed ch;
    nt_page p;
    uint8_t d[MAX_MSGS + 1][4];

    for (int i = 0; i <= MAX_MSGS; i++) {
        memcpy(d[i], "msg", 3);
        d[i][3] = (uint8_t)('0' + i);
        r = nt_req_store(owner_c, 0, d[i], 4, SH_MS_PER_DAY);
        if (i < MAX_MSGS) {
            CHECK_OK(nt_store(&cl, &r, NULL, &st[i]));
            CHECK_EQ(st[i].outcome, SH_STORE_STORED);
        } else {
            CHECK_ERR(nt_store(&cl, &r, NULL, &st[i]), SH_ERR_FULL);
            CHECK_MSG("holds 5 messages");
        }
    }
    r = nt_req_retrieve(owner_c, 0);
    CHECK_OK(nt_retrieve(&cl, &r, &sign_c, &p));
    CHECK_EQ(p.count, MAX_MSGS);
    for (size_t i = 0; i < p.count; i++)
        CHECK(p.msgs[i].data[3] < '0' + MAX_MSGS); /* the undelivered five are all there */
    nt_page_free(&p);
    r = (sh_node_request){.method = SH_NODE_DELETE, .ns = 0,
                          .hashes = (const uint8_t(*)[32])st[0].hash, .n_hashes = 1};
    memcpy(r.owner, owner_c, 33);
    CHECK_OK(nt_change(&cl, &r, &sign_c, &ch));
    CHECK_EQ(ch.count, 1);
    sh_node_changed_free(&ch);
    r = nt_req_store(owner_c, 0, d[MAX_MSGS], 4, SH_MS_PER_DAY);
    CHECK_OK(nt_store(&cl, &r, NULL, &st[MAX_MSGS]));
    CHECK_EQ(st[MAX_MSGS].outcome, SH_STORE_STORED);
}

/* Bytes per owner and namespace: exactly MAX_BYTES fit, one byte more does not. */
static void bytes_full(void)
{
    sh_node_request r;
    sh_node_stored st;
    size_t used = 0;

    for (int i = 0; i < 3; i++) {
        big[0] = (uint8_t)i;
        r = nt_req_store(owner_a, 3, big, SH_STORE_MAX_DATA_BYTES, SH_MS_PER_DAY);
        CHECK_OK(nt_store(&cl, &r, &sign_a, &st));
        used += SH_STORE_MAX_DATA_BYTES;
    }
    big[0] = 9;
    r = nt_req_store(owner_a, 3, big, MAX_BYTES - used + 1, SH_MS_PER_DAY);
    CHECK_ERR(nt_store(&cl, &r, &sign_a, &st), SH_ERR_FULL);
    r.data_len = MAX_BYTES - used;
    CHECK_OK(nt_store(&cl, &r, &sign_a, &st));
    CHECK_EQ(st.outcome, SH_STORE_STORED);
    big[0] = 10;
    r.data_len = 1;
    CHECK_ERR(nt_store(&cl, &r, &sign_a, &st), SH_ERR_FULL);
    CHECK_MSG("bytes");
}

static void page_caps(void)
{
    sh_node_request r = nt_req_retrieve(owner_c, 0);
    nt_page p;

    r.max_count = SH_STORE_PAGE_MAX_COUNT;
    r.max_bytes = SH_STORE_PAGE_MAX_BYTES;
    CHECK_OK(nt_retrieve(&cl, &r, &sign_c, &p));
    CHECK_EQ(p.count, MAX_MSGS);
    nt_page_free(&p);
    r.max_count = SH_STORE_PAGE_MAX_COUNT + 1;
    CHECK_ERR(nt_retrieve(&cl, &r, &sign_c, &p), SH_ERR_LIMIT);
    r.max_count = SH_STORE_PAGE_MAX_COUNT;
    r.max_bytes = SH_STORE_PAGE_MAX_BYTES + 1;
    CHECK_ERR(nt_retrieve(&cl, &r, &sign_c, &p), SH_ERR_LIMIT);
    r.max_bytes = 0;
    CHECK_ERR(nt_retrieve(&cl, &r, &sign_c, &p), SH_ERR_INVALID);
    /* The longest wait is accepted (messages are there, so it answers at once); longer is not. */
    r.max_bytes = SH_STORE_PAGE_MAX_BYTES;
    r.wait_ms = SH_NODE_MAX_WAIT_MS;
    CHECK_OK(nt_retrieve(&cl, &r, &sign_c, &p));
    CHECK_EQ(p.count, MAX_MSGS);
    nt_page_free(&p);
    r.wait_ms = SH_NODE_MAX_WAIT_MS + 1;
    CHECK_ERR(nt_retrieve(&cl, &r, &sign_c, &p), SH_ERR_LIMIT);
    CHECK_MSG("waits at most");
}

static void hashes_per_request(void)
{
    static uint8_t hashes[SH_STORE_MAX_HASHES_PER_REQUEST + 1][32];
    sh_node_request r = {.method = SH_NODE_DELETE, .ns = 2,
                         .hashes = (const uint8_t(*)[32])hashes,
                         .n_hashes = SH_STORE_MAX_HASHES_PER_REQUEST};
    sh_node_changed ch;

    for (size_t i = 0; i <= SH_STORE_MAX_HASHES_PER_REQUEST; i++)
        sh_store_u32be(hashes[i], (uint32_t)i + 1);
    memcpy(r.owner, owner_b, 33);
    CHECK_OK(nt_change(&cl, &r, &sign_b, &ch));
    CHECK_EQ(ch.n, SH_STORE_MAX_HASHES_PER_REQUEST);
    CHECK_EQ(ch.count, 0);
    sh_node_changed_free(&ch);
    r.n_hashes++;
    CHECK_ERR(nt_change(&cl, &r, &sign_b, &ch), SH_ERR_LIMIT);
    CHECK_MSG("at most 1000");
    r.method = SH_NODE_EXPIRE;
    r.expiry_ms = sh_time_now_ms() + SH_MS_PER_HOUR;
    CHECK_ERR(nt_change(&cl, &r, &sign_b, &ch), SH_ERR_LIMIT);
    r.n_hashes--;
    CHECK_OK(nt_change(&cl, &r, &sign_b, &ch));
    CHECK_EQ(ch.n, SH_STORE_MAX_HASHES_PER_REQUEST);
    sh_node_changed_free(&ch);
    /* A new expiry past the namespace's max TTL from now. */
    r.n_hashes = 1;
    r.expiry_ms = sh_time_now_ms() + 31 * SH_MS_PER_DAY;
    CHECK_ERR(nt_change(&cl, &r, &sign_b, &ch), SH_ERR_RANGE);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    CHECK_OK(sh_identity_init());
    acct_a = nt_account(1, owner_a);
    acct_b = nt_account(2, owner_b);
    acct_c = nt_account(3, owner_c);
    sign_a = (sh_node_signer){.account = acct_a};
    sign_b = (sh_node_signer){.account = acct_b};
    sign_c = (sh_node_signer){.account = acct_c};
    test_random(big, sizeof big);
    nt_node_init(&node, argv[1]);
    node.settings[0] = "pow_bits=0";
    node.settings[1] = "max_msgs_per_ns=5";
    node.settings[2] = "max_bytes_per_ns=200000";
    nt_node_start(&node);
    nt_client_open(&cl, &node);
    data_size();
    ttl();
    count_full();
    bytes_full();
    page_caps();
    hashes_per_request();
    nt_client_close(&cl);
    CHECK_EQ(nt_node_stop(&node, SIGTERM), 0);
    sh_account_free(acct_a);
    sh_account_free(acct_b);
    sh_account_free(acct_c);
    return 0;
}
