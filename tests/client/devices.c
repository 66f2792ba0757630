/* Multi-process tests of linked devices (docs/client.md "Linked devices"): shoald processes
 * (argv[1] is its path) and devices of two accounts in this process, each device with its own
 * client database and transport. A device is linked through the network's rendezvous (link code,
 * request, SAS, response), signs its storage requests with its device key and token, receives
 * what is sent to its account and copies of what its sibling sends; the link's failures (typo,
 * second use, refusal, nothing yet) are each their own error; a revoked device's token is refused
 * by the node, its prekey bundle is deleted from namespace 10 and it gets no slot in new
 * envelopes. argv[2] names the case. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/client.h"
#include "crypto/labels.h"
#include "e2e.pb-c.h"
#include "e2e/e2e.h"
#include "node/node.h"
#include "node/nettest.h"
#include "store/namespaces.h"
#include "test.h"
#include "util/time.h"
#include "wire/pb.h"

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
    int last_seq[SENDERS];   /* strict order: the last sequence number received */
    int n_holding;           /* fleet: polls after which texts were held back */
} device;

static sh_client_network network;
static sh_onion_node *onodes; /* fleet: the nodes of the network's map (onion paths) */
static const char *fleet_network; /* fleet: the network file (the transport fetches its maps) */
static size_t n_onodes;

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
    if (onodes != NULL) {
        sh_onion_caller_config cfg;
        sh_onion_caller_config_default(&cfg);
        cfg.policy.n_guards = 3;
        cfg.policy.allow_same_subnet = true; /* loopback */
        cfg.backoff_min_ms = 10;
        cfg.backoff_max_ms = 50;
        cfg.hop_timeout_ms = 4000;
        sh_client_maps maps = {.network_path = fleet_network};
        CHECK_OK(sh_client_onion_open(&maps, &cfg, &d->tp));
    } else {
        CHECK_OK(sh_client_direct_new(&network, 2000, &d->tp));
    }
}

/* Every flush retries at once (the outbox's backoff is messaging.c's "expiry" case). */
static void no_backoff(device *d)
{
    sh_client_options o;

    sh_client_options_default(&o);
    o.retry_min_ms = o.retry_max_ms = 0;
    sh_client_set_options(d->client, &o);
}

static void device_open(device *d)
{
    open_state(d);
    if (d->sender % 2 == 0)
        CHECK_OK(sh_client_new(d->seed, d->state, &d->tp, event_cb, d, &d->client));
    else
        CHECK_OK(sh_client_new_linked(d->state, &d->tp, event_cb, d, &d->client));
    no_backoff(d);
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
    no_backoff(d);
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

/* How many prekey bundles of the device are in its account's namespace 10. */
static size_t bundles_of(device *d, uint32_t device_id)
{
    sh_node_page page = {0};
    size_t n = 0;

    CHECK_OK(d->tp.retrieve(d->tp.ctx, d->sid, SH_NS_PREKEYS, NULL, false, 0, NULL, &page));
    for (size_t i = 0; i < page.count; i++) {
        Shoal__Signed *outer = NULL;
        Shoal__E2e__PrekeyBundle *b = NULL;
        CHECK_OK(sh_wire_open_signed(&shoal__e2e__prekey_bundle__descriptor, SH_LABEL_E2E_BUNDLE,
                                     page.msgs[i].data, page.msgs[i].data_len, "bundle", &outer,
                                     (ProtobufCMessage **)&b));
        n += b->device_id == device_id;
        sh_wire_free(outer);
        sh_wire_free(b);
    }
    sh_node_page_free(&page);
    return n;
}

/* Revoking one of two linked devices: its prekey bundle is deleted, the node refuses its token,
 * it learns it was revoked, new envelopes to the account carry no slot it can open, and the
 * other linked device gets the new envelope key and reads on. */
static void revoke_case(const char *exe)
{
    nt_node nodes[1];
    device alice, alice2, alice3, bob;
    sh_client_device_info devs[4];
    sh_e2e_device *old;
    sh_e2e_received rx;
    sh_node_page page = {0};
    size_t n, got;

    start_nodes(nodes, 1, exe);
    primary_new(&alice, "alice", 0, 1);
    primary_new(&bob, "bob", 1, 2);
    link_device(&alice, &alice2, "alice2");
    CHECK_EQ(link_device(&alice, &alice3, "alice3"), 3);
    send_seq(&bob, &alice, 1);
    drain(&alice2);
    CHECK_EQ(alice2.last_seq[2], 1);
    old = saved_device(&alice2);
    CHECK_OK(token_retrieve(&alice2, old));
    CHECK(bundles_of(&alice, 2) >= 1);
    CHECK_OK(sh_client_revoke_device(alice.client, 2));
    /* its prekey bundle left namespace 10 (deleted by the primary); the others' stay */
    CHECK_EQ(bundles_of(&alice, 2), 0);
    CHECK(bundles_of(&alice, 1) >= 1);
    CHECK(bundles_of(&alice, 3) >= 1);
    CHECK_OK(sh_client_devices(alice.client, devs, 4, &n));
    CHECK_EQ(n, 3);
    CHECK(devs[2].revoked && devs[2].id == 2);
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
    /* the device still linked got the new envelope key's grant through the inbox */
    drain(&alice3);
    CHECK_EQ(alice3.last_seq[2], 2);
    CHECK_EQ(alice3.n_msgs, 2);
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
    device_close(&alice3);
    device_close(&bob);
    CHECK_EQ(nt_node_stop(&nodes[0], SIGTERM), 0);
}

/* ---- the fleet: two accounts of two devices each over a swarm network --------------------- */

#define FLEET_NODES 6
#define FLEET_KILLED 2

/* In a swarm with others, and not all in one (so a guard outside the destination's exists). */
static bool peers_ok(double peers)
{
    return peers >= 1 && peers <= FLEET_NODES - 3;
}

/* Nodes to kill: a random member of each of FLEET_KILLED swarms of two or more (which may serve
 * either account: a client calls another member, reads go past it, and it catches up). */
static void fleet_victims(const nt_node *nodes, int victims[static FLEET_KILLED])
{
    uint64_t used[FLEET_KILLED];
    int k = 0;

    size_t first = randombytes_uniform((uint32_t)n_onodes);

    for (size_t step = 0; step < n_onodes && k < FLEET_KILLED; step++) {
        const sh_onion_node *o = &onodes[(first + step) % n_onodes];
        size_t members = 0;
        bool taken = false;
        for (size_t j = 0; j < n_onodes; j++)
            members += onodes[j].cand.in_swarm && onodes[j].cand.swarm_id == o->cand.swarm_id;
        for (int v = 0; v < k; v++)
            taken = taken || used[v] == o->cand.swarm_id;
        if (taken || members < 2)
            continue;
        for (int n = 0; n < FLEET_NODES; n++)
            if (memcmp(nodes[n].identity_key, o->cand.id, 32) == 0) {
                used[k] = o->cand.swarm_id;
                victims[k++] = n;
                printf("fleet: node %02x%02x%02x%02x will be killed\n", o->cand.id[0],
                       o->cand.id[1], o->cand.id[2], o->cand.id[3]);
            }
    }
    CHECK_EQ(k, FLEET_KILLED);
    for (size_t i = 0; i < n_onodes; i++)
        printf("fleet: node %02x%02x%02x%02x in swarm %016llx\n", onodes[i].cand.id[0],
               onodes[i].cand.id[1], onodes[i].cand.id[2], onodes[i].cand.id[3],
               (unsigned long long)onodes[i].cand.swarm_id);
}

static bool network_error(int rc)
{
    return rc == SH_ERR_UNAVAILABLE || rc == SH_ERR_TIMEOUT || rc == SH_ERR_BUSY ||
           rc == SH_ERR_WRONG_SWARM;
}

/* A send whose store may fail while nodes are down: the message is in the outbox either way. */
static void fleet_send(device *from, const device *to, int seq)
{
    char text[48];
    int64_t row;
    int rc;

    snprintf(text, sizeof text, "from %d #%d", from->sender, seq);
    rc = sh_client_send_text(from->client, to->sid, (const uint8_t *)text, strlen(text), &row);
    if (rc != SH_OK && !network_error(rc))
        test_fail(__FILE__, __LINE__, "%s: send #%d: %s", from->name, seq, sh_err_msg());
}

static void fleet_poll(device *d)
{
    size_t got, held = 0;
    int rc;

    do
        rc = sh_client_poll(d->client, 0, &got);
    while (rc == SH_OK && got > 0);
    if (rc != SH_OK && !network_error(rc))
        test_fail(__FILE__, __LINE__, "%s: poll: %s", d->name, sh_err_msg());
    CHECK_OK(sh_client_order_held(d->state, &held));
    d->n_holding += held > 0;
}

static bool fleet_done(device *const *devs, int per_device)
{
    for (int i = 0; i < 4; i++)
        for (int s = 0; s < SENDERS; s++)
            if (s != devs[i]->sender && devs[i]->last_seq[s] < per_device)
                return false;
    return true;
}

static size_t outbox_rows(device *d)
{
    size_t n = 0;

    CHECK_OK(sh_client_outbox_count(d->state, &n));
    return n;
}

/* Every device sends per_device messages to the other account (so each account sends 2 x
 * per_device) while FLEET_KILLED nodes are killed with SIGKILL and restarted; every device gets
 * every message of the three other devices (its sibling's as copies) exactly once (event_cb
 * fails on a second copy), all of them, in order per sender on every device (event_cb fails on
 * any other number than the next), and every outbox empties. Under faults a store that one
 * swarm member committed but whose replication timed out can be read after later messages of
 * its sender; the receiver holds those later ones back until it arrives (order.c; the default
 * wait of 2 minutes is far longer than the look-back that finds it). $SHOAL_FLEET_MESSAGES
 * changes per_device (50). */
static void fleet(const char *node_exe, const char *dir_exe)
{
    static net w;
    nt_node nodes[FLEET_NODES], *up[FLEET_NODES];
    device alice, alice2, bob, bob2, *devs[4] = {&alice, &alice2, &bob, &bob2};
    const char *env = getenv("SHOAL_FLEET_MESSAGES");
    int per_device = env != NULL ? atoi(env) : 50, killed[FLEET_KILLED];
    int64_t start = sh_time_mono_ms(), deadline;
    size_t held = 0;

    CHECK(per_device > 0 && per_device <= 1024);
    setvbuf(stdout, NULL, _IOLBF, 0);
    net_init(&w, dir_exe, node_exe, 1, 1, 2, 1); /* six nodes split into swarms */
    net_auth_start(&w, 0);
    for (int i = 0; i < FLEET_NODES; i++) {
        net_node_init(&w, &nodes[i]);
        nodes[i].log_file = "/dev/null";
        nt_node_start(&nodes[i]);
        up[i] = &nodes[i];
    }
    for (int t = 0; t < 600; t++) {
        bool all = true;
        for (int i = 0; i < FLEET_NODES && all; i++)
            all = peers_ok(net_metric(&nodes[i], "shoal_node_swarm_peers"));
        if (all)
            break;
        net_sleep_ms(100);
    }
    for (int i = 0; i < FLEET_NODES; i++)
        CHECK(peers_ok(net_metric(&nodes[i], "shoal_node_swarm_peers")));
    /* every relay on a map that names all six (the client fetches the newest) */
    uint64_t v = net_wait_map((nt_node *const *)up, FLEET_NODES, 1, "fleet");
    net_wait_map((nt_node *const *)up, FLEET_NODES, v + 2, "fleet");
    fleet_network = w.network;
    CHECK_OK(sh_client_fetch_nodes(w.network, NULL, &onodes, &n_onodes));
    CHECK_EQ(n_onodes, FLEET_NODES);
    printf("fleet: %d nodes in two swarms after %lld ms\n", FLEET_NODES,
           (long long)(sh_time_mono_ms() - start));
    primary_new(&alice, "alice", 0, 1);
    primary_new(&bob, "bob", 1, 2);
    link_device(&alice, &alice2, "alice2");
    link_device(&bob, &bob2, "bob2");
    fleet_victims(nodes, killed);
    printf("fleet: two accounts of two devices after %lld ms\n",
           (long long)(sh_time_mono_ms() - start));
    for (int seq = 1; seq <= per_device; seq++) {
        if (seq == per_device / 3)
            for (int k = 0; k < FLEET_KILLED; k++)
                CHECK_EQ(nt_node_stop(&nodes[killed[k]], SIGKILL), 128 + SIGKILL);
        if (seq == per_device / 3 + 3)
            for (int k = 0; k < FLEET_KILLED; k++)
                nt_node_start(&nodes[killed[k]]);
        fleet_send(&alice, &bob, seq);
        fleet_send(&bob, &alice, seq);
        fleet_send(&alice2, &bob, seq);
        fleet_send(&bob2, &alice, seq);
        if (seq % 5 == 0)
            for (int i = 0; i < 4; i++)
                fleet_poll(devs[i]);
    }
    printf("fleet: %d messages written after %lld ms\n", 4 * per_device,
           (long long)(sh_time_mono_ms() - start));
    deadline = sh_time_mono_ms() + 120000;
    while (!(fleet_done(devs, per_device) && outbox_rows(&alice) + outbox_rows(&alice2) +
                                                 outbox_rows(&bob) + outbox_rows(&bob2) ==
                                             0)) {
        if (sh_time_mono_ms() > deadline)
            break;
        for (int i = 0; i < 4; i++)
            fleet_poll(devs[i]);
    }
    for (int i = 0; i < 4; i++) {
        printf("fleet: %s got %d messages, %zu outbox rows left, texts held back after %d"
               " polls\n", devs[i]->name, devs[i]->n_msgs, outbox_rows(devs[i]),
               devs[i]->n_holding);
        for (int s = 0; s < SENDERS; s++)
            if (s != devs[i]->sender)
                CHECK_EQ(devs[i]->last_seq[s], per_device); /* 1..per_device, in order, once */
        CHECK_EQ(devs[i]->n_msgs, 3 * per_device);
        CHECK_EQ(outbox_rows(devs[i]), 0);
        CHECK_OK(sh_client_order_held(devs[i]->state, &held));
        CHECK_EQ(held, 0);
    }
    printf("fleet: done after %lld ms\n", (long long)(sh_time_mono_ms() - start));
    for (int i = 0; i < 4; i++)
        device_close(devs[i]);
    free(onodes);
    onodes = NULL;
    for (int i = 0; i < FLEET_NODES; i++)
        CHECK_EQ(nt_node_stop(&nodes[i], SIGTERM), 0);
    net_stop_all(&w);
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
    else if (strcmp(which, "fleet") == 0 && argc > 3)
        fleet(argv[1], argv[3]);
    else
        test_fail(__FILE__, __LINE__, "unknown case '%s'", which);
    return 0;
}
