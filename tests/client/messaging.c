/* Multi-process tests of the client: shoald processes (argv[1] is its path) and two accounts in
 * this process, each with its own client database and direct transport over loopback links.
 * They exchange messages both ways and check that every message arrives exactly once and in
 * order per sender, that acknowledgements turn "stored" into "delivered", that an offline
 * recipient gets its mail later, that a node killed and restarted loses nothing acknowledged,
 * that a message written while the network is down waits in the outbox (across a restart of
 * the client) and goes out later, and that the same works through 3-hop onion paths (six shoald
 * relays and a map signed here with the dir library). Each case is its own process (argv[2]
 * names it). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/internal.h"
#include "dir/dir.h"
#include "node/node.h"
#include "node/swarm.h"
#include "node/nodetest.h"
#include "test.h"
#include "util/fs.h"
#include "util/time.h"

#define MAX_SEEN 512

typedef struct account {
    const char *name;
    uint8_t seed[SH_SEED_BYTES];
    uint8_t sid[33];
    char db[512], key[512];
    sh_client_state *state;
    sh_client_transport tp;
    sh_client *client;
    /* what the event callback saw */
    int n_msgs, n_delivered, n_stored, n_expired;
    int64_t ttl_ms, retry_ms; /* options (0: the tests' defaults) */
    int last_seq[2]; /* per sender (0 alice, 1 bob): the last sequence number received */
    char texts[MAX_SEEN][48];
} account;

static sh_client_network network;
static bool use_onion; /* accounts call through onion paths over the map in map_file */
static char map_file[300], network_file[300]; /* the map clients fetch (map_fetch) */
static int map_fetches;                         /* how often they did */
static int64_t map_refresh_ms;                  /* their refresh interval */

/* The map source of the tests' onion transports: the map file, verified. */
static int map_fetch(void *ctx, sh_dir_map **out)
{
    sh_dir_network *net;
    sh_buf b;
    int rc;

    (void)ctx;
    map_fetches++;
    sh_buf_init(&b);
    CHECK_OK(sh_dir_network_load(network_file, &net));
    rc = sh_fs_read_file(map_file, SH_DIR_MAP_MAX_BYTES, &b);
    if (rc == SH_OK)
        rc = sh_dir_map_load(b.data, b.len, net, 0, sh_time_now_ms(), out);
    sh_dir_network_free(net);
    sh_buf_free(&b);
    return rc;
}

static void event_cb(const sh_client_event *ev, void *ctx)
{
    account *a = ctx;
    const sh_client_message *m = ev->msg;
    char text[48];
    int who, seq;

    if (ev->kind == SH_CLIENT_EV_STATE) {
        a->n_delivered += m->state == SH_CLIENT_DELIVERED;
        a->n_stored += m->state == SH_CLIENT_STORED;
        a->n_expired += m->state == SH_CLIENT_EXPIRED;
        return;
    }
    CHECK(m->text_len < sizeof text);
    snprintf(text, sizeof text, "%.*s", (int)m->text_len, (const char *)m->text);
    CHECK(sscanf(text, "from %d #%d", &who, &seq) == 2);
    CHECK(who == 0 || who == 1);
    if (seq != a->last_seq[who] + 1)
        test_fail(__FILE__, __LINE__, "%s got '%s' after #%d: out of order or twice", a->name,
                  text, a->last_seq[who]);
    a->last_seq[who] = seq;
    CHECK(a->n_msgs < MAX_SEEN);
    snprintf(a->texts[a->n_msgs++], sizeof a->texts[0], "%s", text);
}

static void account_init(account *a, const char *name, uint8_t seed_byte)
{
    sh_account *acct;

    memset(a, 0, sizeof *a);
    a->name = name;
    memset(a->seed, seed_byte, sizeof a->seed);
    CHECK_OK(sh_account_from_seed(&acct, a->seed));
    sh_account_session_id(acct, a->sid);
    sh_account_free(acct);
    snprintf(a->db, sizeof a->db, "%s/%s.db", test_tmpdir(), name);
    snprintf(a->key, sizeof a->key, "%s/%s.key", test_tmpdir(), name);
}

static void account_open(account *a)
{
    sh_client_keysrc k = {.key_file = a->key};

    CHECK_OK(sh_client_state_open(a->db, &k, &a->state));
    if (use_onion) {
        sh_onion_caller_config cfg;
        sh_onion_caller_config_default(&cfg);
        cfg.policy.n_guards = 3;
        cfg.policy.allow_same_subnet = true; /* loopback */
        cfg.backoff_min_ms = 10;
        cfg.backoff_max_ms = 20;
        cfg.hop_timeout_ms = 6000;
        sh_client_maps maps = {.fetch = map_fetch, .refresh_ms = map_refresh_ms};
        CHECK_OK(sh_client_onion_open(&maps, &cfg, &a->tp));
    } else {
        CHECK_OK(sh_client_direct_new(&network, 1000, &a->tp));
    }
    CHECK_OK(sh_client_new(a->seed, a->state, &a->tp, event_cb, a, &a->client));
    sh_client_options o;
    sh_client_options_default(&o);
    o.retry_min_ms = o.retry_max_ms = 0; /* every flush retries (backoff: case "expiry") */
    if (a->ttl_ms > 0)
        o.message_ttl_ms = a->ttl_ms;
    if (a->retry_ms > 0)
        o.retry_min_ms = o.retry_max_ms = a->retry_ms;
    sh_client_set_options(a->client, &o);
}

/* Alice (seed 1) and Bob (seed 2) opened, each with keys published. */
static void pair_open(account *alice, account *bob)
{
    account_init(alice, "alice", 1);
    account_init(bob, "bob", 2);
    account_open(alice);
    account_open(bob);
    CHECK_OK(sh_client_publish(alice->client, false));
    CHECK_OK(sh_client_publish(bob->client, false));
}

static void account_close(account *a)
{
    sh_client_free(a->client);
    a->tp.close(a->tp.ctx);
    sh_client_state_close(a->state);
    a->client = NULL;
}

static void network_of(nt_node *nodes, size_t n)
{
    memset(&network, 0, sizeof network);
    for (size_t i = 0; i < n; i++) {
        sh_client_node_addr *a = &network.nodes[network.n_nodes++];
        memcpy(a->identity_key, nodes[i].identity_key, 32);
        memcpy(a->link_key, nodes[i].link_key, 32);
        snprintf(a->ip, sizeof a->ip, "127.0.0.1");
        a->port = nodes[i].port;
    }
}

static void start_nodes(nt_node *nodes, size_t n, const char *exe)
{
    for (size_t i = 0; i < n; i++) {
        nt_node_init(&nodes[i], exe);
        snprintf(nodes[i].dir, sizeof nodes[i].dir, "%s/node%zu", test_tmpdir(), i);
        nodes[i].settings[0] = "pow_bits=6";
        nt_node_start(&nodes[i]);
    }
    network_of(nodes, n);
}

static void send_seq(account *from, int who, const account *to, int seq)
{
    char text[48];
    int64_t row;

    snprintf(text, sizeof text, "from %d #%d", who, seq);
    CHECK_OK(sh_client_send_text(from->client, to->sid, (const uint8_t *)text, strlen(text), &row));
}

/* Polls (without waiting) until nothing new arrives. */
static void drain(account *a)
{
    size_t got;

    do
        CHECK_OK(sh_client_poll(a->client, 0, &got));
    while (got > 0);
}

typedef struct tally {
    int out[4], in;
} tally;

static void tally_cb(const sh_client_message *m, void *ctx)
{
    tally *t = ctx;

    if (m->outgoing)
        t->out[m->state]++;
    else
        t->in++;
}

static tally conversation(account *a, const account *peer)
{
    tally t = {{0}, 0};

    CHECK_OK(sh_client_message_list(a->state, peer->sid, 0, tally_cb, &t));
    return t;
}

/* n messages each way, interleaved; every one arrives once, in order; all end "delivered". */
static void exchange_rounds(account *alice, account *bob, int first, int n)
{
    for (int i = first; i < first + n; i++) {
        send_seq(alice, 0, bob, i);
        send_seq(bob, 1, alice, i);
        if (i % 7 == 0)
            drain(bob);
    }
    drain(bob);
    drain(alice);
    drain(bob); /* the acknowledgements of alice's last page */
    CHECK_EQ(bob->last_seq[0], first + n - 1);
    CHECK_EQ(alice->last_seq[1], first + n - 1);
}

static void exchange(const char *exe)
{
    nt_node nodes[1];
    account alice, bob;
    tally t;
    size_t got, queued;

    start_nodes(nodes, 1, exe);
    pair_open(&alice, &bob);
    exchange_rounds(&alice, &bob, 1, 40);
    CHECK_EQ(alice.n_msgs, 40);
    CHECK_EQ(bob.n_msgs, 40);
    CHECK_EQ(alice.n_stored, 40);
    CHECK_EQ(alice.n_delivered, 40);
    CHECK_EQ(bob.n_delivered, 40);
    t = conversation(&alice, &bob);
    CHECK_EQ(t.out[SH_CLIENT_DELIVERED], 40);
    CHECK_EQ(t.in, 40);
    /* polling again finds nothing new: the inbox is deduplicated by hash */
    CHECK_OK(sh_client_poll(bob.client, 0, &got));
    CHECK_EQ(got, 0);
    CHECK_OK(sh_client_outbox_count(alice.state, &queued));
    CHECK_EQ(queued, 0);
    /* both clients restart: ratchets and cursors were saved */
    account_close(&alice);
    account_close(&bob);
    account_open(&alice);
    account_open(&bob);
    CHECK_OK(sh_client_poll(bob.client, 0, &got));
    CHECK_EQ(got, 0);
    exchange_rounds(&alice, &bob, 41, 10);
    CHECK_EQ(bob.n_msgs, 50);
    account_close(&alice);
    account_close(&bob);
    CHECK_EQ(nt_node_stop(&nodes[0], SIGTERM), 0);
}

/* Bob is offline (his client closed) while alice writes; he gets everything when he is back,
 * including a first message from someone he never heard of. */
static void offline(const char *exe)
{
    nt_node nodes[1];
    account alice, bob;

    start_nodes(nodes, 1, exe);
    account_init(&alice, "alice", 1);
    account_init(&bob, "bob", 2);
    account_open(&bob);
    CHECK_OK(sh_client_publish(bob.client, false));
    account_close(&bob);
    account_open(&alice);
    CHECK_OK(sh_client_publish(alice.client, false));
    for (int i = 1; i <= 5; i++)
        send_seq(&alice, 0, &bob, i);
    account_close(&alice);
    account_open(&bob);
    drain(&bob);
    CHECK_EQ(bob.n_msgs, 5);
    CHECK_EQ(bob.last_seq[0], 5);
    account_close(&bob);
    account_open(&alice);
    drain(&alice);
    CHECK_EQ(alice.n_delivered, 5);
    account_close(&alice);
    CHECK_EQ(nt_node_stop(&nodes[0], SIGTERM), 0);
}

typedef struct states {
    int n, expired, stored, delivered, queued;
} states;

static void states_cb(const sh_client_message *m, void *ctx)
{
    states *st = ctx;

    st->n++;
    st->expired += m->state == SH_CLIENT_EXPIRED;
    st->stored += m->state == SH_CLIENT_STORED;
    st->delivered += m->state == SH_CLIENT_DELIVERED;
    st->queued += m->state == SH_CLIENT_QUEUED;
}

static states states_of(account *a, const account *peer)
{
    states st = {0};

    CHECK_OK(sh_client_message_list(a->state, peer->sid, 0, states_cb, &st));
    return st;
}

static uint32_t outbox_attempts(account *a)
{
    sh_client_outbox_row r;
    uint32_t n;

    CHECK_OK(sh_client_outbox_next(a->state, 0, &r));
    n = r.attempts;
    sh_client_outbox_row_free(&r);
    return n;
}

/* Messages expire after their TTL (1 s here): one stored while bob is away is gone when he
 * comes back, and alice's row says "expired"; one that could not leave the outbox (node down)
 * expires there unsent, with an event, and nothing else is lost. A failing row waits out its
 * backoff instead of being tried on every flush. */
static void expiry(const char *exe)
{
    nt_node nodes[1];
    account alice, bob;
    size_t sent;
    states st;

    start_nodes(nodes, 1, exe);
    account_init(&alice, "alice", 1);
    account_init(&bob, "bob", 2);
    alice.ttl_ms = 1000;
    account_open(&bob);
    CHECK_OK(sh_client_publish(bob.client, false));
    account_close(&bob);
    account_open(&alice);
    CHECK_OK(sh_client_publish(alice.client, false));
    send_seq(&alice, 0, &bob, 1); /* stored; bob is away */
    CHECK_EQ(states_of(&alice, &bob).stored, 1);
    uv_sleep(1200); /* past the TTL */
    CHECK_OK(sh_client_flush(alice.client, &sent));
    st = states_of(&alice, &bob);
    CHECK_EQ(st.expired, 1);
    CHECK_EQ(alice.n_expired, 1);
    account_open(&bob);
    drain(&bob);
    CHECK_EQ(bob.n_msgs, 0); /* the node dropped it at its expiry */
    account_close(&bob);

    /* the node is down: the row fails, then waits out its backoff (1-2 s here, persisted) */
    CHECK_EQ(nt_node_stop(&nodes[0], SIGTERM), 0);
    account_close(&alice);
    alice.retry_ms = 2000;
    alice.ttl_ms = 4000;
    account_open(&alice);
    int64_t row;
    CHECK_ERR(sh_client_send_text(alice.client, bob.sid, (const uint8_t *)"from 0 #2", 9, &row),
              SH_ERR_UNAVAILABLE);
    CHECK_EQ(outbox_attempts(&alice), 1);
    CHECK_OK(sh_client_flush(alice.client, &sent));
    CHECK_EQ(sent, 0);
    CHECK_EQ(outbox_attempts(&alice), 1); /* not tried again yet, also after a restart */
    account_close(&alice);
    account_open(&alice);
    CHECK_OK(sh_client_flush(alice.client, &sent));
    CHECK_EQ(outbox_attempts(&alice), 1);
    uv_sleep(2100);
    CHECK_ERR(sh_client_flush(alice.client, &sent), SH_ERR_UNAVAILABLE);
    CHECK_EQ(outbox_attempts(&alice), 2);
    alice.retry_ms = 0;
    alice.ttl_ms = 1000;

    /* past the TTL in the outbox: expired unsent, an event, the row gone */
    nt_node_start(&nodes[0]);
    network_of(nodes, 1);
    account_close(&alice);
    account_open(&alice);
    CHECK_OK(sh_client_flush(alice.client, &sent));
    CHECK_EQ(sent, 0);
    CHECK_EQ(alice.n_expired, 2); /* one event each */
    st = states_of(&alice, &bob);
    CHECK_EQ(st.expired, 2);
    CHECK_EQ(st.n, 2);
    size_t left;
    CHECK_OK(sh_client_outbox_count(alice.state, &left));
    CHECK_EQ(left, 0);
    /* a message within its TTL still goes out */
    send_seq(&alice, 0, &bob, 3);
    account_close(&alice);
    account_open(&bob);
    bob.last_seq[0] = 2;
    drain(&bob);
    CHECK_EQ(bob.n_msgs, 1);
    CHECK_EQ(bob.last_seq[0], 3);
    account_close(&bob);
    CHECK_EQ(nt_node_stop(&nodes[0], SIGTERM), 0);
}

/* Two nodes; each account is served by one of them (the same for both clients). The node of
 * bob's inbox is killed mid-way: sends fail with SH_ERR_UNAVAILABLE and wait in the outbox,
 * across a restart of alice's client; after the node comes back everything arrives once, in
 * order. */
static void node_restart(const char *exe)
{
    nt_node nodes[2];
    account alice, bob;
    size_t queued = 0, sent;
    int64_t row;
    int dead;

    start_nodes(nodes, 2, exe);
    pair_open(&alice, &bob);
    exchange_rounds(&alice, &bob, 1, 10);
    dead = (int)(sh_swarm_space_position(bob.sid + 1) % 2);
    CHECK_EQ(nt_node_stop(&nodes[dead], SIGKILL), 128 + SIGKILL);
    CHECK_ERR(sh_client_send_text(alice.client, bob.sid, (const uint8_t *)"from 0 #11", 10, &row),
              SH_ERR_UNAVAILABLE);
    CHECK_MSG("cannot be reached");
    CHECK_ERR(sh_client_send_text(alice.client, bob.sid, (const uint8_t *)"from 0 #12", 10, &row),
              SH_ERR_UNAVAILABLE);
    CHECK_OK(sh_client_outbox_count(alice.state, &queued));
    CHECK_EQ(queued, 2);
    CHECK_EQ(conversation(&alice, &bob).out[SH_CLIENT_QUEUED], 2);
    account_close(&alice);
    nt_node_start(&nodes[dead]); /* same port, same data */
    account_open(&alice);
    CHECK_OK(sh_client_flush(alice.client, &sent));
    CHECK_EQ(sent, 2);
    alice.last_seq[1] = 12; /* bob skips the numbers alice used while the node was down */
    exchange_rounds(&alice, &bob, 13, 5);
    CHECK_EQ(bob.n_msgs, 17);
    CHECK_EQ(bob.last_seq[0], 17);
    CHECK_EQ(alice.n_msgs, 15);
    account_close(&alice);
    account_close(&bob);
    for (int i = 0; i < 2; i++)
        CHECK_EQ(nt_node_stop(&nodes[i], SIGTERM), 0);
}

/* A recipient that never published keys: the message waits in the outbox; rows to other
 * accounts still go out. */
static void unknown_recipient(const char *exe)
{
    nt_node nodes[1];
    account alice, bob, ghost;
    int64_t row = 0;
    size_t queued;

    start_nodes(nodes, 1, exe);
    account_init(&alice, "alice", 1);
    account_init(&bob, "bob", 2);
    account_init(&ghost, "ghost", 3);
    account_open(&alice);
    account_open(&bob);
    CHECK_OK(sh_client_publish(bob.client, false));
    CHECK_ERR(sh_client_send_text(alice.client, ghost.sid, (const uint8_t *)"hello?", 6, &row),
              SH_ERR_NOT_FOUND);
    CHECK_MSG("has published no device list");
    CHECK(row != 0);
    send_seq(&alice, 0, &bob, 1); /* flushes: the ghost's row stays, bob's goes */
    CHECK_OK(sh_client_outbox_count(alice.state, &queued));
    CHECK_EQ(queued, 1);
    drain(&bob);
    CHECK_EQ(bob.n_msgs, 1);
    CHECK_ERR(sh_client_send_text(alice.client, alice.sid, (const uint8_t *)"\x1b[2J", 4, &row),
              SH_ERR_INVALID);
    account_close(&alice);
    account_close(&bob);
    CHECK_EQ(nt_node_stop(&nodes[0], SIGTERM), 0);
}

/* ---- onion paths: a signed map of the nodes (nt_onion_map) ------------------------------- */

#define ONION_NODES 6
#define MAP_TTL (3600LL * 1000)

/* More than two windows of a flush. */
#define QUEUED (2 * SH_CLIENT_FLUSH_WINDOW + 3)

/* Several stores in flight together, each with its own result: one the node refuses (a
 * namespace only the owner may write, stored anonymously) fails alone. */
static void store_many_results(account *alice, const account *bob)
{
    uint8_t blob[3][100];
    sh_client_store st[3];

    for (int i = 0; i < 3; i++) {
        randombytes_buf(blob[i], sizeof blob[i]);
        st[i] = (sh_client_store){.owner = bob->sid, .ns = i == 1 ? 11 : 0, .data = blob[i],
                                  .len = sizeof blob[i], .ttl_ms = 60000};
    }
    CHECK(alice->tp.store_many != NULL);
    CHECK_OK(alice->tp.store_many(alice->tp.ctx, st, 3));
    CHECK_OK(st[0].rc);
    CHECK_OK(st[2].rc);
    CHECK_EQ(st[1].rc, SH_ERR_PERMISSION);
    CHECK(st[1].error[0] != '\0');
    CHECK(st[0].receipt.expiry_ms > 0 && st[2].receipt.expiry_ms > 0);
    CHECK(memcmp(st[0].receipt.hash, st[2].receipt.hash, 32) != 0);
    printf("store_many: 2 stored, 1 refused alone (%s)\n", st[1].error);
}

/* Alice queues QUEUED messages (sh_client_queue_text: nothing leaves yet), then one flush
 * sends them a window at a time; bob gets each once, in order. */
static void onion_queued(account *alice, account *bob, int first)
{
    int stored = alice->n_stored;
    size_t sent = 0, queued;

    store_many_results(alice, bob);
    for (int i = first; i < first + QUEUED; i++) {
        char text[48];
        int64_t row;
        snprintf(text, sizeof text, "from 0 #%d", i);
        CHECK_OK(sh_client_queue_text(alice->client, bob->sid, (const uint8_t *)text,
                                      strlen(text), &row, NULL));
    }
    CHECK_OK(sh_client_outbox_count(alice->state, &queued));
    CHECK_EQ(queued, QUEUED);
    CHECK_EQ(alice->n_stored, stored);
    CHECK_OK(sh_client_flush(alice->client, &sent));
    CHECK_EQ(sent, QUEUED);
    CHECK_EQ(alice->n_stored, stored + QUEUED);
    CHECK_OK(sh_client_outbox_count(alice->state, &queued));
    CHECK_EQ(queued, 0);
    drain(bob);
    CHECK_EQ(bob->last_seq[0], first + QUEUED - 1);
    drain(alice); /* bob's acknowledgements */
    CHECK_EQ(states_of(alice, bob).delivered, first - 1 + QUEUED);
    printf("%d queued messages went out in one flush (windows of %d)\n", QUEUED,
           SH_CLIENT_FLUSH_WINDOW);
}

/* Two accounts talk through 3-hop onion paths over 6 shoald relays. */
static void onion(const char *exe)
{
    static char settings[2][400];
    char *map_path = map_file, *network_path = network_file;
    sh_onion_node *onodes;
    size_t n_onodes;
    nt_node nodes[ONION_NODES];
    account alice, bob;
    char line[160];

    snprintf(map_file, sizeof map_file, "%s/map", test_tmpdir());
    snprintf(network_file, sizeof network_file, "%s/network", test_tmpdir());
    start_nodes(nodes, ONION_NODES, exe); /* first start: keys and onion keys */
    for (int i = 0; i < ONION_NODES; i++)
        CHECK_EQ(nt_node_stop(&nodes[i], SIGTERM), 0);
    nt_onion_map(nodes, ONION_NODES, "client-test", MAP_TTL, map_path, network_path, &onodes,
                 &n_onodes);
    free(onodes);
    use_onion = true;
    snprintf(settings[0], sizeof settings[0], "map_file=%s", map_path);
    snprintf(settings[1], sizeof settings[1], "network_file=%s", network_path);
    for (int i = 0; i < ONION_NODES; i++) {
        nodes[i].settings[1] = settings[0];
        nodes[i].settings[2] = settings[1];
        nt_node_start(&nodes[i]);
    }
    account_init(&alice, "alice", 1);
    account_init(&bob, "bob", 2);
    account_open(&alice);
    account_open(&bob);
    CHECK_OK(sh_client_describe(alice.client, line, sizeof line));
    CHECK(strstr(line, "onion paths") != NULL);
    CHECK_OK(sh_client_publish(alice.client, false));
    CHECK_OK(sh_client_publish(bob.client, false));
    exchange_rounds(&alice, &bob, 1, 5);
    CHECK_EQ(bob.n_msgs, 5);
    CHECK_EQ(alice.n_msgs, 5);
    CHECK_EQ(alice.n_delivered, 5);
    CHECK_EQ(map_fetches, 2); /* once each at open: the default refresh is 10 minutes */
    onion_queued(&alice, &bob, 6);
    alice.last_seq[1] += QUEUED; /* bob's next numbers match alice's: he skips those */
    account_close(&alice);
    account_close(&bob);
    /* a short refresh interval: the map is fetched again during the conversation */
    map_refresh_ms = 1;
    account_open(&alice);
    account_open(&bob);
    map_fetches = 0;
    exchange_rounds(&alice, &bob, 6 + QUEUED, 2);
    CHECK_EQ(bob.last_seq[0], 7 + QUEUED);
    CHECK(map_fetches >= 4);
    printf("map fetched %d times during 2 rounds with a 1 ms refresh interval\n", map_fetches);
    map_refresh_ms = 0;
    account_close(&alice);
    account_close(&bob);
    use_onion = false;
    for (int i = 0; i < ONION_NODES; i++)
        CHECK_EQ(nt_node_stop(&nodes[i], SIGTERM), 0);
}

/* ---- swarms that replicate: receipts k of n, redirects -------------------------------------- */

/* A one-authority network whose maps are signed here, one version after the other. */
typedef struct testnet {
    uint8_t auth_sk[64];
    sh_dir_network *net;
    sh_dir_map *last; /* the previous map (the next one is built on it) */
} testnet;

static void testnet_new(testnet *t, uint32_t target)
{
    sh_dir_authority a = {0};
    sh_dir_swarm_params sp = {.target = target, .min = 1, .merge_grace_ms = MAP_TTL};
    sh_buf b;

    memset(t, 0, sizeof *t);
    crypto_sign_keypair(a.identity, t->auth_sk);
    randombytes_buf(a.link_key, 32);
    strcpy(a.address, "127.0.0.1:1");
    CHECK_OK(sh_dir_network_new("client-swarms", 1, &a, 1, &sp, &t->net));
    sh_buf_init(&b);
    CHECK_OK(sh_dir_network_format(t->net, &b));
    snprintf(network_file, sizeof network_file, "%s/network", test_tmpdir());
    CHECK_OK(sh_fs_write_file(network_file, b.data, b.len, 0600));
    sh_buf_free(&b);
}

/* The next map, of these nodes, written to path. */
static void testnet_map(testnet *t, const nt_node *nodes, size_t n, const char *path)
{
    sh_dir_node d[16];
    sh_dir_vote *vote;
    sh_dir_map *map;
    sh_buf b;
    int64_t now = sh_time_now_ms();

    CHECK(n <= 16);
    for (size_t i = 0; i < n; i++)
        nt_describe_node(&nodes[i], &d[i]);
    sh_buf_init(&b);
    CHECK_OK(sh_dir_vote_create(t->net, t->last, t->auth_sk, now - 60000, now + MAP_TTL, d, n, &b));
    CHECK_OK(sh_dir_vote_load(b.data, b.len, t->net, t->last, &vote));
    CHECK_OK(sh_dir_consensus(t->net, t->last, (const sh_dir_vote *const *)&vote, 1, &map));
    CHECK_OK(sh_dir_map_sign(map, t->net, t->auth_sk));
    CHECK_OK(sh_dir_map_encode(map, &b));
    CHECK_OK(sh_fs_write_file(path, b.data, b.len, 0600));
    sh_dir_map_free(t->last);
    t->last = map;
    sh_dir_vote_free(vote);
    sh_buf_free(&b);
}

static void testnet_free(testnet *t)
{
    sh_dir_map_free(t->last);
    sh_dir_network_free(t->net);
}

/* Which of the nodes are members of the owner's swarm in the map; returns how many. */
static size_t swarm_nodes(const sh_dir_map *map, const uint8_t owner[static 33],
                          const nt_node *nodes, size_t n, bool member[])
{
    const sh_dir_node *m[16];
    uint64_t swarm;
    size_t count = 0, found = 0;

    CHECK_OK(sh_dir_map_owner_swarm(map, owner + 1, &swarm));
    CHECK_OK(sh_dir_map_swarm_members(map, swarm, m, 16, &count));
    for (size_t i = 0; i < n; i++) {
        member[i] = false;
        for (size_t j = 0; j < count; j++)
            if (memcmp(m[j]->identity, nodes[i].identity_key, 32) == 0)
                member[i] = true, found++;
    }
    CHECK_EQ(found, count);
    return count;
}

static sh_node_receipt receipt_by(const nt_node *n, const uint8_t owner[static 33],
                                  const uint8_t hash[static 32], uint64_t version)
{
    sh_node_receipt r = {.ns = 0, .expiry_ms = sh_time_now_ms() + 60000, .map_version = version};
    char path[512];
    sh_node_keys *keys;
    bool created;

    snprintf(path, sizeof path, "%s/%s", n->dir, SH_NODE_KEY_FILE);
    CHECK_OK(sh_node_keys_load(path, false, &keys, &created));
    memcpy(r.hash, hash, 32);
    memcpy(r.owner, owner, 33);
    memcpy(r.node_id, keys->ed25519_pk, 32);
    sh_node_receipt_sign(&r, keys->ed25519_sk);
    sh_node_keys_free(keys);
    return r;
}

/* Receipts that must not count: forged, of a node outside the swarm, of a key outside the map,
 * for another message, the same member twice. */
static void receipt_refusals(const sh_dir_map *map, const uint8_t owner[static 33],
                             const nt_node *nodes, size_t n, const bool member[])
{
    uint8_t hash[32], other[32];
    sh_node_receipt rs[8];
    size_t n_rs = 0, in = SIZE_MAX, out = SIZE_MAX;
    uint32_t k, total;
    uint64_t v = sh_dir_map_version(map);

    randombytes_buf(hash, 32);
    randombytes_buf(other, 32);
    for (size_t i = 0; i < n; i++)
        if (member[i] && in == SIZE_MAX)
            in = i;
        else if (!member[i] && out == SIZE_MAX)
            out = i;
    CHECK(in != SIZE_MAX && out != SIZE_MAX);
    rs[n_rs++] = receipt_by(&nodes[in], owner, hash, v);
    (void)sh__client_receipts_count(map, NULL, owner, 0, hash, rs, n_rs, &k, &total);
    CHECK_EQ(k, 1);
    rs[n_rs++] = rs[0];                                    /* the same member again */
    rs[n_rs] = receipt_by(&nodes[in], owner, hash, v);     /* forged: a changed signature */
    rs[n_rs++].signature[5] ^= 1;
    rs[n_rs++] = receipt_by(&nodes[out], owner, hash, v);  /* a node of another swarm */
    rs[n_rs++] = receipt_by(&nodes[in], owner, other, v);  /* another message */
    rs[n_rs] = receipt_by(&nodes[in], owner, hash, v);     /* a key the map does not have */
    {
        uint8_t pk[32], sk[64];
        crypto_sign_keypair(pk, sk);
        memcpy(rs[n_rs].node_id, pk, 32);
        sh_node_receipt_sign(&rs[n_rs++], sk);
    }
    rs[n_rs] = receipt_by(&nodes[in], owner, hash, v);     /* signed, then its namespace changed */
    rs[n_rs++].ns = 1;
    (void)sh__client_receipts_count(map, NULL, owner, 0, hash, rs, n_rs, &k, &total);
    CHECK_EQ(k, 1);
    printf("receipts: forged, non-member, outside the map, other message, duplicate: none "
           "counted (k %u of %u)\n", k, total);
}

/* Receipts counted against a map of two swarms of three (signed here; the nodes only lend
 * their keys): only distinct members of the owner's swarm with a valid receipt for the message
 * count. Stores through swarms that replicate are in tests/shoal/client.sh devnet. */
static void receipts(const char *exe)
{
    nt_node nodes[ONION_NODES];
    bool member[ONION_NODES];
    uint8_t owner[33];
    sh_account *acct;
    testnet tn;

    snprintf(map_file, sizeof map_file, "%s/map", test_tmpdir());
    start_nodes(nodes, ONION_NODES, exe); /* keys and onion keys */
    for (int i = 0; i < ONION_NODES; i++)
        CHECK_EQ(nt_node_stop(&nodes[i], SIGTERM), 0);
    testnet_new(&tn, 3);
    testnet_map(&tn, nodes, ONION_NODES, map_file);
    acct = nt_account(2, owner);
    sh_account_free(acct);
    CHECK_EQ(swarm_nodes(tn.last, owner, nodes, ONION_NODES, member), 3);
    receipt_refusals(tn.last, owner, nodes, ONION_NODES, member);
    testnet_free(&tn);
}

static double retrieves(const nt_node *n)
{
    char *text = nt_stats(n);
    double v = nt_metric(text, "shoal_node_calls_total{method=\"retrieve\"}");

    free(text);
    return v;
}

/* A recipient's keys are fetched once, then again only when they are older than the refresh
 * interval (shortened here instead of waiting 10 minutes). */
static void list_refresh(const char *exe)
{
    nt_node nodes[1];
    account alice, bob;
    double before;

    start_nodes(nodes, 1, exe);
    pair_open(&alice, &bob);
    before = retrieves(&nodes[0]);
    send_seq(&alice, 0, &bob, 1);
    CHECK_EQ(retrieves(&nodes[0]) - before, 2); /* bob's device list and bundles */
    send_seq(&alice, 0, &bob, 2);
    CHECK_EQ(retrieves(&nodes[0]) - before, 2);
    sh_client_set_list_refresh_ms(alice.client, 0);
    send_seq(&alice, 0, &bob, 3);
    CHECK_EQ(retrieves(&nodes[0]) - before, 4);
    drain(&bob);
    CHECK_EQ(bob.last_seq[0], 3);
    account_close(&alice);
    account_close(&bob);
    CHECK_EQ(nt_node_stop(&nodes[0], SIGTERM), 0);
}

int main(int argc, char **argv)
{
    const char *which = argc > 2 ? argv[2] : "";

    CHECK(argc > 1);
    CHECK_OK(sh_identity_init());
    if (strcmp(which, "exchange") == 0)
        exchange(argv[1]);
    else if (strcmp(which, "offline") == 0)
        offline(argv[1]);
    else if (strcmp(which, "node_restart") == 0)
        node_restart(argv[1]);
    else if (strcmp(which, "unknown_recipient") == 0)
        unknown_recipient(argv[1]);
    else if (strcmp(which, "list_refresh") == 0)
        list_refresh(argv[1]);
    else if (strcmp(which, "onion") == 0)
        onion(argv[1]);
    else if (strcmp(which, "expiry") == 0)
        expiry(argv[1]);
    else if (strcmp(which, "receipts") == 0)
        receipts(argv[1]);
    else
        test_fail(__FILE__, __LINE__, "unknown case '%s'", which);
    return 0;
}
