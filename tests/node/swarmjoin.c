/* shoald in a network, across processes on loopback: three shoal-dir authorities (k = 2) and
 * eight shoald nodes (swarm target 3: two swarms of four).
 *   1. Every node gets the same verified map, knows its swarm and its three peers.
 *   2. A store for an owner to a node of another swarm is refused with SH_ERR_WRONG_SWARM and
 *      the answer lists exactly the owner's swarm; to a member it is acknowledged with two
 *      receipts (this node's and a peer's) that verify against the map.
 *   3. The message is on every member of the swarm within a second, on no other node;
 *      get_receipts from any member returns the four members' receipts.
 *   4. A client calling a node-only method (swarm.push) is refused (SH_ERR_PERMISSION).
 * Usage: test-node-swarmjoin PATH-TO-shoald PATH-TO-shoal-dir. */
#include "nettest.h"

#include <sodium.h>

#include "dir/client.h"
#include "node/node.h"
#include "node/swarm.h"
#include "util/err.h"
#include "util/time.h"

#define N_NODES 8
#define TTL (3600 * 1000LL)

static nt_node nodes[N_NODES];
static nt_node *all[N_NODES];
static uint8_t owner[33];
static sh_account *account;
static sh_node_signer signer;

static int raw_store(nt_client *c, const char *text, sh_buf *answer)
{
    sh_node_request r = nt_req_store(owner, 0, text, strlen(text), TTL);
    sh_buf body;
    int rc;

    r.timestamp_ms = sh_time_now_ms();
    sh_buf_init(&body);
    CHECK_OK(sh_node_request_encode(&r, &signer, &body));
    rc = nt_raw(c, "store", body.data, body.len, answer);
    sh_buf_free(&body);
    return rc;
}

static bool in_swarm(const uint8_t id[32], const sh_node_swarm_member *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(m[i].identity, id, 32) == 0)
            return true;
    return false;
}

static size_t count_on(nt_node *n, const uint8_t hash[32])
{
    sh_node_request r = nt_req_retrieve(owner, 0);
    nt_client c;
    nt_page p;
    size_t found = 0;

    nt_client_open(&c, n);
    if (nt_retrieve(&c, &r, &signer, &p) == SH_OK) {
        for (size_t i = 0; i < p.count; i++)
            found += memcmp(p.msgs[i].hash, hash, 32) == 0;
        nt_page_free(&p);
    }
    nt_client_close(&c);
    return found;
}

int main(int argc, char **argv)
{
    net w;
    nt_client c;
    sh_buf ans;
    sh_node_swarm_member members[SH_NODE_MAX_REDIRECT];
    sh_node_receipt rc[SH_NODE_MAX_RECEIPTS];
    size_t n_members = 0, n_rc;
    uint64_t map_version;
    int member = -1, outsider = -1;

    CHECK(argc == 3);
    net_init(&w, argv[2], argv[1], 3, 2, 3, 3);
    for (int i = 0; i < 3; i++)
        net_auth_start(&w, i);
    for (int i = 0; i < N_NODES; i++) {
        net_node_init(&w, &nodes[i]);
        nt_node_start(&nodes[i]);
        all[i] = &nodes[i];
    }
    /* 1. One map, two swarms of four. */
    uint64_t v = net_wait_map(all, N_NODES, 1, "joined");
    for (int t = 0; t < 100; t++) {
        bool four = true;
        for (int i = 0; i < N_NODES; i++)
            four = four && net_metric(&nodes[i], "shoal_node_swarm_peers") == 3;
        if (four)
            break;
        net_sleep_ms(200);
        v = net_wait_map(all, N_NODES, v, "waiting for two swarms");
    }
    for (int i = 0; i < N_NODES; i++)
        CHECK_EQ(net_metric(&nodes[i], "shoal_node_swarm_peers"), 3);
    printf("every node is in a swarm of four\n");

    account = nt_account(7, owner);
    signer = (sh_node_signer){.account = account};
    /* 2. The right swarm from a node of the wrong one. */
    sh_buf_init(&ans);
    for (int i = 0; i < N_NODES && (member < 0 || outsider < 0); i++) {
        nt_client_open(&c, &nodes[i]);
        sh_buf_reset(&ans);
        int rcode = raw_store(&c, "probe", &ans);
        if (rcode == SH_ERR_WRONG_SWARM) {
            CHECK_MSG("this node does not serve that account");
            CHECK_OK(sh_node_redirect_parse(ans.data, ans.len, &map_version, members,
                                            SH_NODE_MAX_REDIRECT, &n_members));
            CHECK_EQ(n_members, 4);
            CHECK(!in_swarm(nodes[i].identity_key, members, n_members));
            outsider = i;
        } else {
            CHECK_OK(rcode);
            member = i;
        }
        nt_client_close(&c);
    }
    CHECK(member >= 0 && outsider >= 0);
    for (int i = 0; i < N_NODES; i++) {
        nt_client_open(&c, &nodes[i]);
        sh_buf_reset(&ans);
        int rcode = raw_store(&c, "probe", &ans);
        CHECK_EQ(rcode, in_swarm(nodes[i].identity_key, members, n_members) ? SH_OK
                                                                            : SH_ERR_WRONG_SWARM);
        nt_client_close(&c);
    }
    printf("stores: members accept, the other swarm points to the right one (map %llu)\n",
           (unsigned long long)map_version);

    /* Receipts of the store answer verify against the map. */
    nt_client_open(&c, &nodes[member]);
    sh_buf_reset(&ans);
    CHECK_OK(raw_store(&c, "hello swarm", &ans));
    CHECK_OK(sh_node_receipts_parse(ans.data, ans.len, true, rc, SH_NODE_MAX_RECEIPTS, &n_rc));
    CHECK_EQ(n_rc, 2);
    sh_dir_map *map = net_fetch_map(&w, &c, 1);
    for (size_t i = 0; i < n_rc; i++) {
        CHECK_OK(sh_node_receipt_verify(&rc[i], map, NULL));
        CHECK(in_swarm(rc[i].node_id, members, n_members));
    }
    CHECK(memcmp(rc[0].node_id, rc[1].node_id, 32) != 0);
    sh_node_receipt forged = rc[0];
    forged.expiry_ms++;
    CHECK_ERR(sh_node_receipt_verify(&forged, map, NULL), SH_ERR_CRYPTO);
    /* Receipts outlive map versions; one from a map the client has not seen is stale. */
    sh_node_receipt aged = rc[0], ahead = rc[0], stranger = rc[0];
    uint8_t stranger_sk[64];
    char key_path[600];
    sh_node_keys *keys;
    bool created;
    snprintf(key_path, sizeof key_path, "%s/%s", nodes[member].dir, SH_NODE_KEY_FILE);
    CHECK_OK(sh_node_keys_load(key_path, false, &keys, &created));
    CHECK_MEM(keys->ed25519_pk, aged.node_id, 32);
    aged.map_version = 0;
    ahead.map_version = sh_dir_map_version(map) + 2;
    crypto_sign_keypair(stranger.node_id, stranger_sk);
    sh_node_receipt_sign(&aged, keys->ed25519_sk);
    sh_node_receipt_sign(&ahead, keys->ed25519_sk);
    sh_node_keys_free(keys);
    sh_node_receipt_sign(&stranger, stranger_sk);
    CHECK_OK(sh_node_receipt_verify(&aged, map, NULL));
    CHECK_ERR(sh_node_receipt_verify(&ahead, map, NULL), SH_ERR_STALE);
    CHECK_ERR(sh_node_receipt_verify(&stranger, map, NULL), SH_ERR_NOT_FOUND);
    printf("an older receipt verifies against the current map; one ahead of it is stale\n");
    printf("the store was acknowledged with 2 receipts that verify; a changed one does not\n");

    /* 3. On every member within a second, on no other node. */
    uint8_t hash[32];
    memcpy(hash, rc[0].hash, 32);
    int64_t start = sh_time_mono_ms();
    for (int i = 0; i < N_NODES; i++) {
        if (!in_swarm(nodes[i].identity_key, members, n_members))
            continue;
        while (count_on(&nodes[i], hash) != 1 && sh_time_mono_ms() - start < 1000)
            net_sleep_ms(20);
        CHECK_EQ(count_on(&nodes[i], hash), 1);
    }
    printf("on all 4 members after %lld ms\n", (long long)(sh_time_mono_ms() - start));
    {
        CHECK_OK(nt_get_receipts(&c, hash, rc, &n_rc));
        CHECK_EQ(n_rc, 4);
        for (size_t i = 0; i < n_rc; i++)
            CHECK_OK(sh_node_receipt_verify(&rc[i], map, NULL));
        printf("get_receipts: 4 of 4 members' receipts verify\n");
    }

    /* 4. Node-only methods are not for clients. */
    sh_buf_reset(&ans);
    CHECK_ERR(nt_raw(&c, "swarm.push", (const uint8_t *)"", 0, &ans), SH_ERR_PERMISSION);
    CHECK_ERR(nt_raw(&c, "swarm.receipt", (const uint8_t *)"", 0, &ans), SH_ERR_PERMISSION);
    printf("a client calling swarm.push or swarm.receipt: SH_ERR_PERMISSION\n");
    nt_client_close(&c);
    sh_dir_map_free(map);
    sh_buf_free(&ans);

    for (int i = 0; i < N_NODES; i++)
        CHECK_EQ(nt_node_stop(&nodes[i], SIGTERM), 0);
    net_stop_all(&w);
    sh_account_free(account);
    printf("every process ended cleanly\n");
    return 0;
}
