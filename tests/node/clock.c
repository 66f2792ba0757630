/* Clock skew (overview.md "Bootstrap and time"): a client whose clock is five minutes off stores
 * and reads after one round trip (the first answer, SH_ERR_STALE, carries the node time; the
 * client corrects its offset and sends the call once more), and so does a client talking to a
 * node whose clock is five minutes off. The proof of work follows the corrected timestamp. */
#include <signal.h>
#include <stdlib.h>

#include "nodetest.h"
#include "util/time.h"

#define SKEW (5 * SH_MS_PER_MINUTE)

static void skewed(nt_node *node, int64_t expected_offset, uint8_t seed)
{
    uint8_t owner[33];
    sh_account *a = nt_account(seed, owner);
    sh_node_signer s = {.account = a};
    sh_node_request r = nt_req_store(owner, 2, "in time", 7, SH_MS_PER_DAY);
    sh_node_stored st;
    nt_client c;
    nt_page p;

    nt_client_open(&c, node);
    /* No info first: the store is refused as stale, corrected, and sent again. */
    CHECK_OK(nt_store(&c, &r, &s, &st));
    CHECK_EQ(st.outcome, SH_STORE_STORED);
    CHECK(llabs(sh_node_conn_clock(c.conn)->offset_ms - expected_offset) < 5000);
    /* From now on the first attempt is fresh; an anonymous inbox store works its PoW against
     * the corrected timestamp (the node asked for 4 bits in the stale answer). */
    r = nt_req_store(owner, 0, "anonymous", 9, SH_MS_PER_DAY);
    CHECK_OK(nt_store(&c, &r, NULL, &st));
    CHECK_EQ(sh_node_conn_pow_bits(c.conn), 4);
    r = nt_req_retrieve(owner, 0);
    CHECK_OK(nt_retrieve(&c, &r, &s, &p));
    CHECK_EQ(p.count, 1);
    CHECK(llabs(p.msgs[0].timestamp_ms - (sh_time_now_ms() + expected_offset)) < 10000);
    nt_page_free(&p);
    nt_client_close(&c);
    sh_account_free(a);
}

int main(int argc, char **argv)
{
    nt_node node;
    char *text;

    CHECK(argc == 2);
    CHECK_OK(sh_identity_init());
    nt_node_init(&node, argv[1]);
    node.settings[0] = "pow_bits=4";
    nt_node_start(&node);
    sh_time_set_offset_ms(-SKEW); /* this process's clock runs 5 minutes late */
    skewed(&node, SKEW, 1);
    sh_time_set_offset_ms(SKEW); /* ... and now 5 minutes early */
    skewed(&node, -SKEW, 2);
    sh_time_set_offset_ms(0);
    text = nt_stats(&node);
    CHECK_EQ(nt_metric(text, "shoal_node_rejects_total{method=\"store\",reason=\"SH_ERR_STALE\"}"), 2);
    free(text);
    CHECK_EQ(nt_node_stop(&node, SIGTERM), 0);
    /* A node whose clock is 5 minutes ahead (its process's offset). */
    nt_node_init(&node, argv[1]);
    node.settings[0] = "pow_bits=4";
    CHECK(setenv("SHOAL_CLOCK_OFFSET_MS", "300000", 1) == 0);
    nt_node_start(&node);
    CHECK(unsetenv("SHOAL_CLOCK_OFFSET_MS") == 0);
    skewed(&node, SKEW, 3);
    CHECK_EQ(nt_node_stop(&node, SIGTERM), 0);
    return 0;
}
