/* Multi-process tests of linked devices (docs/client.md "Linked devices"): shoald processes
 * (argv[1] is its path) and devices of two accounts in this process, each device with its own
 * client database and transport. A device is linked through the network's rendezvous (link code,
 * request, SAS, response), signs its storage requests with its device key and token, receives
 * what is sent to its account and copies of what its sibling sends; the link's failures (typo,
 * second use, refusal, nothing yet) are each their own error; a revoked device's token is refused
 * by the node and it gets no slot in new envelopes. argv[2] names the case. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/client.h"
#include "e2e/e2e.h"
#include "node/node.h"
#include "node/nodetest.h"
#include "store/namespaces.h"
#include "test.h"
#include "util/time.h"

/* Sender index of a device: account * 2 + device slot (0 primary, 1 linked). */
#define SENDERS 4

typedef struct device {
    char name[16];
    int sender;                 /* account * 2 + slot */
    uint8_t seed[SH_SEED_BYTES]; /* primaries only */
    uint8_t sid[33];
    char db[512], key[512];
    sh_client_state *state;
    sh_client_transport tp;
    sh_client *client;
    int n_msgs, n_delivered;
    int last_seq[SENDERS];
} device;

static sh_client_network network;

static void event_cb(const sh_client_event *ev, void *ctx)
{
    device *d = ctx;
    const sh_client_message *m = ev->msg;
    char text[48];
    int who, seq;

    if (ev->kind == SH_CLIENT_EV_STATE) {
        d->n_delivered += m->state == SH_CLIENT_DELIVERED;
        return;
    }
    CHECK(m->text_len < sizeof text);
    snprintf(text, sizeof text, "%.*s", (int)m->text_len, (const char *)m->text);
    CHECK(sscanf(text, "from %d #%d", &who, &seq) == 2);
    CHECK(who >= 0 && who < SENDERS);
    if (who == d->sender)
        test_fail(__FILE__, __LINE__, "%s got its own message '%s' back", d->name, text);
    if (seq != d->last_seq[who] + 1)
        test_fail(__FILE__, __LINE__, "%s got '%s' after #%d: out of order or twice", d->name,
                  text, d->last_seq[who]);
    d->last_seq[who] = seq;
    d->n_msgs++;
}

static void device_init(device *d, const char *name, int sender)
{
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name);
    d->sender = sender;
    snprintf(d->db, sizeof d->db, "%s/%s.db", test_tmpdir(), name);
    snprintf(d->key, sizeof d->key, "%s/%s.key", test_tmpdir(), name);
}

static void open_state(device *d)
{
    sh_client_keysrc k = {.key_file = d->key};

    CHECK_OK(sh_client_state_open(d->db, &k, &d->state));
    CHECK_OK(sh_client_direct_new(&network, 2000, &d->tp));
}

static void device_open(device *d)
{
    open_state(d);
    if (d->sender % 2 == 0)
        CHECK_OK(sh_client_new(d->seed, d->state, &d->tp, event_cb, d, &d->client));
    else
        CHECK_OK(sh_client_new_linked(d->state, &d->tp, event_cb, d, &d->client));
    sh_client_session_id(d->client, d->sid);
}

static void device_close(device *d)
{
    sh_client_free(d->client);
    d->tp.close(d->tp.ctx);
    sh_client_state_close(d->state);
    d->client = NULL;
}

static void primary_new(device *d, const char *name, int account, uint8_t seed_byte)
{
    device_init(d, name, account * 2);
    memset(d->seed, seed_byte, sizeof d->seed);
    device_open(d);
    CHECK_OK(sh_client_publish(d->client, false));
}

/* Links `d` to the account of `primary` through the rendezvous; returns its device id. */
static uint32_t link_device(device *primary, device *d, const char *name)
{
    char code[SH_E2E_LINK_CODE_BYTES], sas_new[SH_E2E_SAS_BYTES], sas_primary[SH_E2E_SAS_BYTES];
    sh_client_link *lp, *ln;
    uint32_t id;

    device_init(d, name, primary->sender + 1);
    CHECK_OK(sh_client_link_begin(primary->client, code, &lp));
    open_state(d);
    CHECK_OK(sh_client_link_request(d->state, &d->tp, code, sas_new, &ln));
    CHECK_OK(sh_client_link_wait_request(lp, 500, sas_primary));
    CHECK_STR(sas_new, sas_primary);
    CHECK_OK(sh_client_link_confirm(lp, true, &id));
    CHECK_OK(sh_client_link_wait_response(ln, 500));
    sh_client_link_free(lp);
    sh_client_link_free(ln);
    CHECK_OK(sh_client_new_linked(d->state, &d->tp, event_cb, d, &d->client));
    sh_client_session_id(d->client, d->sid);
    CHECK(memcmp(d->sid, primary->sid, 33) == 0);
    CHECK_EQ(sh_client_device_id(d->client), id);
    CHECK(!sh_client_is_primary(d->client));
    CHECK_OK(sh_client_publish(d->client, false)); /* its bundle, signed with its token */
    return id;
}

static void start_nodes(nt_node *nodes, size_t n, const char *exe)
{
    memset(&network, 0, sizeof network);
    for (size_t i = 0; i < n; i++) {
        nt_node_init(&nodes[i], exe);
        snprintf(nodes[i].dir, sizeof nodes[i].dir, "%s/node%zu", test_tmpdir(), i);
        nodes[i].settings[0] = "pow_bits=6";
        nt_node_start(&nodes[i]);
        sh_client_node_addr *a = &network.nodes[network.n_nodes++];
        memcpy(a->identity_key, nodes[i].identity_key, 32);
        memcpy(a->link_key, nodes[i].link_key, 32);
        snprintf(a->ip, sizeof a->ip, "127.0.0.1");
        a->port = nodes[i].port;
    }
}

static void send_seq(device *from, const device *to, int seq)
{
    char text[48];
    int64_t row;

    snprintf(text, sizeof text, "from %d #%d", from->sender, seq);
    CHECK_OK(sh_client_send_text(from->client, to->sid, (const uint8_t *)text, strlen(text), &row));
}

static void drain(device *d)
{
    size_t got;

    do
        CHECK_OK(sh_client_poll(d->client, 0, &got));
    while (got > 0);
}

/* The linked device's own signer, read back from its saved state (what its client signs with). */
static sh_e2e_device *saved_device(device *d)
{
    sh_e2e_device *dev;
    sh_buf st;

    sh_buf_init_secret(&st);
    CHECK_OK(sh_client_state_device_get(d->state, &st));
    CHECK_OK(sh_e2e_device_load(&dev, st.data, st.len));
    sh_buf_free(&st);
    return dev;
}

static int token_retrieve(device *d, sh_e2e_device *dev)
{
    sh_node_page page = {0};
    sh_buf token;
    int rc;

    sh_buf_init(&token);
    CHECK_OK(sh_e2e_device_token(dev, &token));
    sh_node_signer s = {.device_sk = sh_e2e_device_signing_key(dev), .token = token.data,
                        .token_len = token.len};
    rc = d->tp.retrieve(d->tp.ctx, d->sid, SH_NS_INBOX, NULL, false, 0, &s, &page);
    sh_node_page_free(&page);
    sh_buf_free(&token);
    return rc;
}

/* Linking through the network, then messages between alice's two devices and bob: every device
 * of alice gets bob's messages, and each gets the copies of what the other sent. */
static void link_case(const char *exe)
{
    nt_node nodes[1];
    device alice, alice2, bob;
    sh_client_device_info devs[4];
    size_t n;
    uint32_t id;

    start_nodes(nodes, 1, exe);
    primary_new(&alice, "alice", 0, 1);
    primary_new(&bob, "bob", 1, 2);
    id = link_device(&alice, &alice2, "alice2");
    CHECK_EQ(id, 2);
    CHECK_OK(sh_client_devices(alice.client, devs, 4, &n));
    CHECK_EQ(n, 2);
    CHECK(devs[0].primary && devs[0].self && devs[0].id == 1);
    CHECK(!devs[1].primary && !devs[1].self && devs[1].id == 2);
    CHECK_OK(sh_client_devices(alice2.client, devs, 4, &n));
    CHECK_EQ(n, 2);
    CHECK(devs[1].self && devs[1].id == 2);
    /* a linked device does not link or revoke */
    {
        char code[SH_E2E_LINK_CODE_BYTES];
        sh_client_link *l = NULL;
        CHECK_ERR(sh_client_link_begin(alice2.client, code, &l), SH_ERR_PERMISSION);
        CHECK_ERR(sh_client_revoke_device(alice2.client, 1), SH_ERR_PERMISSION);
        CHECK_MSG("only the primary");
    }
    CHECK_ERR(sh_client_revoke_device(alice.client, 1), SH_ERR_NOT_FOUND);
    CHECK_ERR(sh_client_revoke_device(alice.client, 7), SH_ERR_NOT_FOUND);
    /* its token lets it read its account's inbox */
    sh_e2e_device *dev = saved_device(&alice2);
    CHECK_OK(token_retrieve(&alice2, dev));
    sh_e2e_device_free(dev);
    for (int i = 1; i <= 5; i++) {
        send_seq(&bob, &alice, i);
        send_seq(&alice, &bob, i);
        send_seq(&alice2, &bob, i);
    }
    drain(&alice);
    drain(&alice2);
    drain(&bob);
    CHECK_EQ(alice.last_seq[2], 5);  /* bob's */
    CHECK_EQ(alice.last_seq[1], 5);  /* copies of alice2's */
    CHECK_EQ(alice2.last_seq[2], 5);
    CHECK_EQ(alice2.last_seq[0], 5); /* copies of alice's */
    CHECK_EQ(bob.last_seq[0], 5);
    CHECK_EQ(bob.last_seq[1], 5);
    CHECK_EQ(alice.n_msgs, 10);
    CHECK_EQ(alice2.n_msgs, 10);
    CHECK_EQ(bob.n_msgs, 10);
    drain(&alice);
    CHECK_EQ(bob.n_delivered, 10); /* each of bob's messages, acknowledged by both devices */
    /* the linked device restarts: its state and token are in its database */
    device_close(&alice2);
    device_open(&alice2);
    send_seq(&bob, &alice, 6);
    drain(&alice2);
    CHECK_EQ(alice2.last_seq[2], 6);
    device_close(&alice);
    device_close(&alice2);
    device_close(&bob);
    CHECK_EQ(nt_node_stop(&nodes[0], SIGTERM), 0);
}

/* The link's failures: a typo, nothing yet, a refusal, a second use of a code. */
static void link_errors(const char *exe)
{
    char code[SH_E2E_LINK_CODE_BYTES], bad[SH_E2E_LINK_CODE_BYTES];
    char sas[SH_E2E_SAS_BYTES], sas2[SH_E2E_SAS_BYTES];
    nt_node nodes[1];
    device alice, d2, d3;
    sh_client_link *lp, *ln, *ln3 = NULL;
    uint32_t id;

    start_nodes(nodes, 1, exe);
    primary_new(&alice, "alice", 0, 1);
    device_init(&d2, "new2", 1);
    device_init(&d3, "new3", 1);
    open_state(&d2);
    open_state(&d3);
    CHECK_OK(sh_client_link_begin(alice.client, code, &lp));
    CHECK_EQ(strlen(code), 83);
    /* a mistyped code */
    snprintf(bad, sizeof bad, "%s", code);
    bad[40] = bad[40] == 'A' ? 'B' : 'A';
    CHECK_ERR(sh_client_link_request(d2.state, &d2.tp, bad, sas, &ln), SH_ERR_CHECKSUM);
    CHECK_MSG("mistyped");
    CHECK_ERR(sh_client_link_request(d2.state, &d2.tp, "SL1ABC", sas, &ln), SH_ERR_FORMAT);
    /* the primary waits: nothing yet */
    CHECK_ERR(sh_client_link_wait_request(lp, 0, sas2), SH_ERR_TIMEOUT);
    /* lower case is the same code */
    for (char *p = code; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    CHECK_OK(sh_client_link_request(d2.state, &d2.tp, code, sas, &ln));
    CHECK_ERR(sh_client_link_wait_response(ln, 0), SH_ERR_TIMEOUT);
    CHECK_MSG("no answer");
    /* a second device with the same code is turned away */
    CHECK_ERR(sh_client_link_request(d3.state, &d3.tp, code, sas2, &ln3), SH_ERR_EXISTS);
    CHECK_MSG("already used");
    CHECK_OK(sh_client_link_wait_request(lp, 500, sas2));
    CHECK_STR(sas, sas2);
    /* the person says the emoji differ */
    CHECK_OK(sh_client_link_confirm(lp, false, &id));
    CHECK_EQ(id, 0);
    CHECK_ERR(sh_client_link_wait_response(ln, 500), SH_ERR_PERMISSION);
    CHECK_MSG("refused");
    sh_client_link_free(ln);
    sh_client_link_free(lp);
    /* nothing was linked, and the refused device's database holds no device */
    sh_client *c = NULL;
    CHECK_ERR(sh_client_new_linked(d2.state, &d2.tp, event_cb, &d2, &c), SH_ERR_NOT_FOUND);
    sh_client_device_info devs[4];
    size_t n;
    CHECK_OK(sh_client_devices(alice.client, devs, 4, &n));
    CHECK_EQ(n, 1);
    /* the primary's own database is no linked device */
    CHECK_ERR(sh_client_new_linked(alice.state, &alice.tp, event_cb, &alice, &c), SH_ERR_INVALID);
    d2.tp.close(d2.tp.ctx);
    sh_client_state_close(d2.state);
    d3.tp.close(d3.tp.ctx);
    sh_client_state_close(d3.state);
    device_close(&alice);
    CHECK_EQ(nt_node_stop(&nodes[0], SIGTERM), 0);
}

/* Revoking: the node refuses the device's token, it learns it was revoked, and new envelopes to
 * the account carry no slot it can open. */
static void revoke_case(const char *exe)
{
    nt_node nodes[1];
    device alice, alice2, bob;
    sh_client_device_info devs[4];
    sh_e2e_device *old;
    sh_e2e_received rx;
    sh_node_page page = {0};
    size_t n, got;

    start_nodes(nodes, 1, exe);
    primary_new(&alice, "alice", 0, 1);
    primary_new(&bob, "bob", 1, 2);
    link_device(&alice, &alice2, "alice2");
    send_seq(&bob, &alice, 1);
    drain(&alice2);
    CHECK_EQ(alice2.last_seq[2], 1);
    old = saved_device(&alice2);
    CHECK_OK(token_retrieve(&alice2, old));
    CHECK_OK(sh_client_revoke_device(alice.client, 2));
    CHECK_OK(sh_client_devices(alice.client, devs, 4, &n));
    CHECK_EQ(n, 2);
    CHECK(devs[1].revoked && devs[1].id == 2);
    /* the node reads the revocation list in namespace 12 and refuses the token */
    CHECK_ERR(token_retrieve(&alice2, old), SH_ERR_PERMISSION);
    CHECK_MSG("revoked");
    /* the device itself learns it from its account's list */
    CHECK_ERR(sh_client_poll(alice2.client, 0, &got), SH_ERR_PERMISSION);
    CHECK_MSG("revoked");
    CHECK_ERR(sh_client_revoke_device(alice.client, 2), SH_ERR_NOT_FOUND);
    /* bob's next message (after his refresh of alice's list) has no slot for it */
    sh_client_set_list_refresh_ms(bob.client, 0);
    send_seq(&bob, &alice, 2);
    drain(&alice);
    CHECK_EQ(alice.last_seq[2], 2);
    {
        /* read the inbox as alice's primary would, and try the newest with the revoked state */
        sh_account *acct;
        CHECK_OK(sh_account_from_seed(&acct, alice.seed));
        sh_node_signer as = {.account = acct};
        CHECK_OK(alice.tp.retrieve(alice.tp.ctx, alice.sid, SH_NS_INBOX, NULL, false, 0, &as,
                                   &page));
        CHECK(page.count >= 2);
        const sh_store_msg *m = &page.msgs[page.count - 1];
        int rc = sh_e2e_receive(old, m->data, m->data_len, sh_time_now_ms(), &rx);
        CHECK(rc == SH_ERR_CRYPTO || rc == SH_ERR_NOT_FOUND);
        sh_buf_free(&rx.payload);
        sh_node_page_free(&page);
        sh_account_free(acct);
    }
    sh_e2e_device_free(old);
    device_close(&alice);
    device_close(&alice2);
    device_close(&bob);
    CHECK_EQ(nt_node_stop(&nodes[0], SIGTERM), 0);
}

int main(int argc, char **argv)
{
    const char *which = argc > 2 ? argv[2] : "";

    CHECK(argc > 1);
    CHECK_OK(sh_identity_init());
    if (strcmp(which, "link") == 0)
        link_case(argv[1]);
    else if (strcmp(which, "link_errors") == 0)
        link_errors(argv[1]);
    else if (strcmp(which, "revoke") == 0)
        revoke_case(argv[1]);
    else
        test_fail(__FILE__, __LINE__, "unknown case '%s'", which);
    return 0;
}
