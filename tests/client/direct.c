/* The direct transport's store report against a shoald process (argv[1]): the one node the
 * network file names for an account is its whole storage, so a store is "stored on 1 of 1"
 * when the node committed it (stored, or already held) and "0 of 1" when it did not (here: the
 * owner deleted the message, and its tombstone refuses it). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "node/nodetest.h"
#include "store/namespaces.h"
#include "test.h"

static void store_report(const char *exe)
{
    static const uint8_t text[] = "a message for the direct transport";
    sh_client_network network = {.n_nodes = 1};
    sh_client_transport tp;
    sh_client_receipt r;
    uint8_t owner[33], hashes[1][SH_STORE_HASH_BYTES];
    sh_account *acct = nt_account(7, owner);
    sh_node_signer signer = {.account = acct};
    nt_node node;

    nt_node_init(&node, exe);
    node.settings[0] = "pow_bits=0";
    nt_node_start(&node);
    memcpy(network.nodes[0].identity_key, node.identity_key, 32);
    memcpy(network.nodes[0].link_key, node.link_key, 32);
    snprintf(network.nodes[0].ip, sizeof network.nodes[0].ip, "127.0.0.1");
    network.nodes[0].port = node.port;
    CHECK_OK(sh_client_direct_new(&network, 2000, &tp));
    CHECK(tp.receipts == NULL); /* k never changes later */
    CHECK_OK(tp.store(tp.ctx, owner, SH_NS_INBOX, text, sizeof text, 60000, NULL, &r));
    CHECK_EQ(r.outcome, SH_STORE_STORED);
    CHECK_EQ(r.stored_k, 1);
    CHECK_EQ(r.stored_n, 1);
    CHECK_OK(tp.store(tp.ctx, owner, SH_NS_INBOX, text, sizeof text, 60000, NULL, &r));
    CHECK_EQ(r.outcome, SH_STORE_DUPLICATE);
    CHECK_EQ(r.stored_k, 1);
    memcpy(hashes[0], r.hash, sizeof hashes[0]);
    CHECK_OK(tp.remove(tp.ctx, owner, SH_NS_INBOX, (const uint8_t (*)[SH_STORE_HASH_BYTES])hashes,
                       1, &signer));
    CHECK_OK(tp.store(tp.ctx, owner, SH_NS_INBOX, text, sizeof text, 60000, NULL, &r));
    CHECK_EQ(r.outcome, SH_STORE_DELETED);
    CHECK_EQ(r.stored_k, 0);
    CHECK_EQ(r.stored_n, 1);
    printf("direct transport: stored 1 of 1, already held 1 of 1, refused by a tombstone 0 of 1\n");
    tp.close(tp.ctx);
    sh_account_free(acct);
    CHECK_EQ(nt_node_stop(&node, SIGTERM), 0);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    CHECK_OK(sh_identity_init());
    store_report(argv[1]);
    return 0;
}
