/* Multi-process tests of the client against swarms that move and members that fall behind
 * (docs/client.md, docs/swarm.md): one shoal-dir authority (argv[2]) and nine shoald nodes
 * (argv[1]) joining in stages, swarm target 1 (a swarm of four splits in two), and accounts in
 * this process, each with its own client database and onion transport. In order:
 *   1. A redirect: four nodes make two swarms of two; alice's client keeps that map while five
 *      more nodes join (one swarm splits; three swarms of three). Bob is an account whose swarm
 *      in the new map has none of the members of his old one. Alice stores to a member of his
 *      old swarm, which answers SH_ERR_WRONG_SWARM (counted in its metrics); her client fetches
 *      the map again and the store succeeds at a member of bob's new swarm, stored on 2 of 3,
 *      with receipts that verify against the new map and count nothing against the old one.
 *   2. k rising: with one member of bob's swarm stopped, a store is "stored on 2 of 3" and
 *      counting receipts again keeps it there; once the member is back and anti-entropy caught
 *      it up, sh_client_update_receipts raises it to 3 of 3.
 *   3. A stale member: a member is down while bob links a second device (a new device list,
 *      namespace 11, counter + 1) and comes back with anti-entropy off, holding the older list
 *      (checked before and after every read). New senders read bob's list from two members;
 *      new ones are made until the stale member was read first in one and second in another
 *      (seen through the onion attempts); every one of them writes to the new device. Then a
 *      fresh member is stopped too: each new reader still gets answers from two members (the
 *      stale one and the fresh one), past the one down, and writes to the new device.
 * Sends while a member is down may find every path of a call through it; the message then waits
 * in the outbox and is flushed again, as the `shoal` program does.
 * The authority retests reachability only once a minute, so a member stopped for a moment stays
 * in the map and the swarms do not change under the test. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <sodium.h>

#include "client/internal.h"
#include "dir/dir.h"
#include "e2e/e2e.h"
#include "node/node.h"
#include "node/nettest.h"
#include "node/swarm.h"
#include "store/namespaces.h"
#include "test.h"
#include "util/time.h"

#define OLD_NODES 4 /* in the map a client keeps (case 1) */
#define N_NODES 9
#define MAX_SEEN 64
#define MAX_READERS 16
#define DOWN_READERS 6
#define SH_STR_(x) #x
#define SH_STR(x) SH_STR_(x)
#define REPLICATE_MS 2000 /* the nodes' replicate_timeout_ms: a push to a member that is down
                           * waits this long for it, then is dropped */

typedef struct seen {
    uint8_t dest[32];
    int16_t ns;
    bool store;
} seen;

typedef struct account {
    char name[16];
    uint8_t seed[SH_SEED_BYTES]; /* primaries */
    uint8_t sid[33];
    char db[512], key[512];
    sh_client_state *state;
    sh_client_transport onion, tp; /* tp wraps onion to note which call is in flight */
    sh_client *client;
    bool old_map_first; /* its transport starts from the old map (case 1) */
    int map_fetches;
    int16_t ns_in_flight;
    bool store_in_flight;
    seen att[MAX_SEEN]; /* destinations that answered, in order */
    size_t n_att;
    int n_msgs;
    char last_text[48];
} account;

static net w;
static nt_node nodes[N_NODES];
static nt_node *up[N_NODES];
static sh_buf old_map; /* the map of the first four nodes, as published */
static sh_dir_map *map; /* the map with all nine nodes */

/* ---- accounts -------------------------------------------------------------------------------- */

static int map_fetch(void *ctx, sh_dir_map **out)
{
    account *a = ctx;
    sh_dir_network *net;
    int rc;

    if (a->map_fetches++ > 0 || !a->old_map_first)
        return sh_client_fetch_map(w.network, NULL, out);
    CHECK_OK(sh_dir_network_load(w.network, &net));
    rc = sh_dir_map_load(old_map.data, old_map.len, net, 0, sh_time_now_ms(), out);
    sh_dir_network_free(net);
    return rc;
}

static void attempt_cb(const sh_onion_attempt *at, void *ctx)
{
    account *a = ctx;

    if (at->started || at->status != SH_OK || a->n_att == MAX_SEEN)
        return;
    memcpy(a->att[a->n_att].dest, at->path[2]->cand.id, 32);
    a->att[a->n_att].ns = a->ns_in_flight;
    a->att[a->n_att++].store = a->store_in_flight;
}

/* The wrapper: the same calls, with what is in flight noted for attempt_cb. */
static int w_store(void *ctx, const uint8_t owner[static 33], int16_t ns, const uint8_t *data,
                   size_t len, int64_t ttl_ms, const sh_node_signer *signer, sh_client_receipt *out)
{
    account *a = ctx;

    a->ns_in_flight = ns;
    a->store_in_flight = true;
    return a->onion.store(a->onion.ctx, owner, ns, data, len, ttl_ms, signer, out);
}

static int w_retrieve(void *ctx, const uint8_t owner[static 33], int16_t ns,
                      const sh_store_cursor *after, bool lookback, uint32_t wait_ms,
                      const sh_node_signer *signer, sh_node_page *out)
{
    account *a = ctx;

    a->ns_in_flight = ns;
    a->store_in_flight = false;
    return a->onion.retrieve(a->onion.ctx, owner, ns, after, lookback, wait_ms, signer, out);
}

static int w_remove(void *ctx, const uint8_t owner[static 33], int16_t ns,
                    const uint8_t (*hashes)[SH_STORE_HASH_BYTES], size_t n,
                    const sh_node_signer *signer)
{
    account *a = ctx;

    a->ns_in_flight = ns;
    a->store_in_flight = false;
    return a->onion.remove(a->onion.ctx, owner, ns, hashes, n, signer);
}

static int w_describe(void *ctx, const uint8_t owner[static 33], char *out, size_t out_size)
{
    account *a = ctx;

    return a->onion.describe(a->onion.ctx, owner, out, out_size);
}

static int w_receipts(void *ctx, const uint8_t owner[static 33], int16_t ns,
                      const uint8_t hash[static 32], uint32_t *k, uint32_t *n)
{
    account *a = ctx;

    a->ns_in_flight = ns;
    a->store_in_flight = false;
    return a->onion.receipts(a->onion.ctx, owner, ns, hash, k, n);
}

static void w_close(void *ctx)
{
    account *a = ctx;

    a->onion.close(a->onion.ctx);
}

static void event_cb(const sh_client_event *ev, void *ctx)
{
    account *a = ctx;
    const sh_client_message *m = ev->msg;

    if (ev->kind != SH_CLIENT_EV_MESSAGE)
        return;
    CHECK(m->text_len < sizeof a->last_text);
    snprintf(a->last_text, sizeof a->last_text, "%.*s", (int)m->text_len, (const char *)m->text);
    a->n_msgs++;
}

static void account_init(account *a, const char *name, uint8_t seed_byte)
{
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    memset(a->seed, seed_byte, sizeof a->seed);
    snprintf(a->db, sizeof a->db, "%s/%s.db", test_tmpdir(), name);
    snprintf(a->key, sizeof a->key, "%s/%s.key", test_tmpdir(), name);
}

static void open_state(account *a)
{
    sh_client_keysrc k = {.key_file = a->key};
    sh_onion_caller_config cfg;

    CHECK_OK(sh_client_state_open(a->db, &k, &a->state));
    sh_onion_caller_config_default(&cfg);
    cfg.policy.n_guards = 3;
    cfg.policy.allow_same_subnet = true; /* loopback */
    cfg.backoff_min_ms = 10;
    cfg.backoff_max_ms = 50;
    cfg.hop_timeout_ms = 5000;
    cfg.attempt_cb = attempt_cb;
    cfg.attempt_ctx = a;
    sh_client_maps maps = {.fetch = map_fetch, .ctx = a};
    CHECK_OK(sh_client_onion_open(&maps, &cfg, &a->onion));
    a->tp = (sh_client_transport){.ctx = a, .store = w_store, .retrieve = w_retrieve,
                                  .remove = w_remove, .describe = w_describe,
                                  .receipts = w_receipts, .close = w_close};
}

/* Every flush retries at once (the outbox's backoff is tested in messaging.c). */
static void client_ready(account *a)
{
    sh_client_options o;

    sh_client_options_default(&o);
    o.retry_min_ms = o.retry_max_ms = 0;
    sh_client_set_options(a->client, &o);
    sh_client_session_id(a->client, a->sid);
}

static void account_open(account *a)
{
    open_state(a);
    CHECK_OK(sh_client_new(a->seed, a->state, &a->tp, event_cb, a, &a->client));
    client_ready(a);
}

static void account_close(account *a)
{
    sh_client_free(a->client);
    a->tp.close(a->tp.ctx);
    sh_client_state_close(a->state);
    a->client = NULL;
}

static void send_text(account *from, const account *to, const char *text)
{
    int64_t row;

    CHECK_OK(sh_client_send_text(from->client, to->sid, (const uint8_t *)text, strlen(text), &row));
}

/* A send while a node is down: a path through it may fail, and then the message waits in the
 * outbox; flushes until it left (as `shoal` does on its next run). */
static void send_text_retry(account *from, const account *to, const char *text)
{
    int64_t row, deadline = sh_time_mono_ms() + 20000;
    size_t sent, left = 1;
    int rc = sh_client_send_text(from->client, to->sid, (const uint8_t *)text, strlen(text), &row);

    for (;;) {
        if (rc != SH_OK && rc != SH_ERR_UNAVAILABLE && rc != SH_ERR_TIMEOUT)
            test_fail(__FILE__, __LINE__, "%s: sending '%s': %s", from->name, text, sh_err_msg());
        if (rc != SH_OK)
            printf("%s: sending '%s' waits in the outbox: %s\n", from->name, text, sh_err_msg());
        CHECK_OK(sh_client_outbox_count(from->state, &left));
        if (left == 0 || sh_time_mono_ms() > deadline)
            break;
        rc = sh_client_flush(from->client, &sent);
    }
    CHECK_EQ(left, 0);
}

/* Polls until the newest message received is `text` (a read may reach a member before the
 * store's replication does; the next one finds it). */
static void wait_text(account *a, const char *text)
{
    int64_t deadline = sh_time_mono_ms() + 10000;
    size_t got;

    while (strcmp(a->last_text, text) != 0 && sh_time_mono_ms() < deadline)
        CHECK_OK(sh_client_poll(a->client, 100, &got));
    CHECK_STR(a->last_text, text);
}

/* Links d to primary's account through the rendezvous (as in devices.c); `stop` (may be NULL)
 * is stopped just before the primary confirms, so that it misses the new device list and the
 * new device's bundle, and little else happens while it is down. */
static void link_device(account *primary, account *d, const char *name, nt_node *stop)
{
    char code[SH_E2E_LINK_CODE_BYTES], sas_new[SH_E2E_SAS_BYTES], sas_primary[SH_E2E_SAS_BYTES];
    sh_client_link *lp, *ln;
    uint32_t id;
    int rc;

    account_init(d, name, 0);
    CHECK_OK(sh_client_link_begin(primary->client, code, &lp));
    open_state(d);
    CHECK_OK(sh_client_link_request(d->state, &d->tp, code, sas_new, &ln));
    CHECK_OK(sh_client_link_wait_request(lp, 2000, sas_primary));
    CHECK_STR(sas_new, sas_primary);
    if (stop != NULL)
        CHECK_EQ(nt_node_stop(stop, SIGTERM), 0);
    CHECK_OK(sh_client_link_confirm(lp, true, &id));
    /* a read: when its paths all went through the node down, it is asked again */
    for (int i = 0; (rc = sh_client_link_wait_response(ln, 2000)) == SH_ERR_UNAVAILABLE && i < 5;
         i++)
        printf("%s: waiting for the link's answer again: %s\n", name, sh_err_msg());
    CHECK_OK(rc);
    sh_client_link_free(lp);
    sh_client_link_free(ln);
    CHECK_OK(sh_client_new_linked(d->state, &d->tp, event_cb, d, &d->client));
    client_ready(d);
    CHECK(memcmp(d->sid, primary->sid, 33) == 0);
    /* its bundle; again when every path of the call went through the node down */
    for (int i = 0; (rc = sh_client_publish(d->client, false)) == SH_ERR_UNAVAILABLE && i < 5; i++)
        printf("%s: publishing again: %s\n", name, sh_err_msg());
    CHECK_OK(rc);
}

/* Our newest message to peer: its state and k of n. */
typedef struct last_msg {
    sh_client_delivery state;
    uint32_t k, n;
    int count;
} last_msg;

static void last_cb(const sh_client_message *m, void *ctx)
{
    last_msg *l = ctx;

    if (!m->outgoing)
        return;
    l->state = m->state;
    l->k = m->stored_k;
    l->n = m->stored_n;
    l->count++;
}

static last_msg last_sent(account *a, const account *peer)
{
    last_msg l = {0};

    CHECK_OK(sh_client_message_list(a->state, peer->sid, 0, last_cb, &l));
    CHECK(l.count > 0);
    return l;
}

/* The hash of our newest message whose receipts are still counted. */
static void newest_pending(account *a, uint8_t hash[static 32])
{
    sh_client_stored st[16];
    size_t n = 0;

    CHECK_OK(sh_client_receipt_pending(a->state, sh_time_now_ms(), st, 16, &n));
    CHECK(n > 0);
    memcpy(hash, st[n - 1].hash, 32);
}

/* ---- the network ----------------------------------------------------------------------------- */

static void node_start(size_t i)
{
    static char logs[N_NODES][300];

    net_node_init(&w, &nodes[i]);
    for (size_t k = 0; nodes[i].settings[k] != NULL; k++)
        if (strncmp(nodes[i].settings[k], "replicate_timeout_ms=", 21) == 0)
            nodes[i].settings[k] = "replicate_timeout_ms=" SH_STR(REPLICATE_MS);
    snprintf(logs[i], sizeof logs[i], "%s/node%zu.log", w.tmp, i);
    nodes[i].log_file = logs[i];
    nt_node_start(&nodes[i]);
    up[i] = &nodes[i];
}

/* Waits until the n first nodes agree on a map with every node in a swarm of `peers` others. */
static void wait_swarms(size_t n, double peers, const char *what)
{
    int64_t deadline = sh_time_mono_ms() + 60000;
    bool all = false;

    while (!all && sh_time_mono_ms() < deadline) {
        all = true;
        for (size_t i = 0; i < n && all; i++)
            all = net_metric(up[i], "shoal_node_swarm_peers") == peers;
        if (!all)
            net_sleep_ms(100);
    }
    for (size_t i = 0; i < n; i++)
        CHECK_EQ(net_metric(up[i], "shoal_node_swarm_peers"), peers);
    net_wait_map(up, n, 1, what);
}

/* The newest map, with at least `nodes_in` nodes, as a client fetches it. */
static sh_dir_map *fetch_map(size_t nodes_in)
{
    sh_dir_map *m = NULL;

    for (int t = 0; t < 100; t++) {
        CHECK_OK(sh_client_fetch_map(w.network, NULL, &m));
        size_t count = 0;
        (void)sh_dir_map_nodes(m, &count);
        if (count >= nodes_in)
            return m;
        sh_dir_map_free(m);
        net_sleep_ms(100);
    }
    test_fail(__FILE__, __LINE__, "no map with %zu nodes", nodes_in);
}

static nt_node *node_of(const uint8_t id[static 32])
{
    for (size_t i = 0; i < N_NODES; i++)
        if (memcmp(nodes[i].identity_key, id, 32) == 0)
            return &nodes[i];
    return NULL;
}

/* The nodes of the owner's swarm in m; returns how many. */
static size_t members_of(const sh_dir_map *m, const uint8_t owner[static 33], nt_node **out)
{
    const sh_dir_node *ms[16];
    uint64_t id;
    size_t count = 0;

    CHECK_OK(sh_dir_map_owner_swarm(m, owner + 1, &id));
    CHECK_OK(sh_dir_map_swarm_members(m, id, ms, 16, &count));
    CHECK(count <= 16);
    for (size_t i = 0; i < count; i++)
        CHECK((out[i] = node_of(ms[i]->identity)) != NULL);
    return count;
}

static bool in_swarm(nt_node *const *ms, size_t n, const uint8_t id[static 32])
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(ms[i]->identity_key, id, 32) == 0)
            return true;
    return false;
}

/* The receipts a member hands out for hash (get_receipts over a direct link). */
static size_t receipts_at(const nt_node *n, const uint8_t hash[static 32],
                          sh_node_receipt rs[static SH_NODE_MAX_RECEIPTS])
{
    size_t count = 0;
    nt_client c;

    nt_client_open(&c, n);
    CHECK_OK(nt_get_receipts(&c, hash, rs, &count));
    nt_client_close(&c);
    return count;
}

/* ---- 1. a redirect --------------------------------------------------------------------------- */

static sh_dir_map *load_old_map(void)
{
    sh_dir_network *net;
    sh_dir_map *old;

    CHECK_OK(sh_dir_network_load(w.network, &net));
    CHECK_OK(sh_dir_map_load(old_map.data, old_map.len, net, 0, sh_time_now_ms(), &old));
    sh_dir_network_free(net);
    return old;
}

static double wrong_swarm_stores(nt_node *const *ns, size_t n)
{
    double sum = 0;

    for (size_t i = 0; i < n; i++) {
        double v = net_metric(ns[i], "shoal_node_rejects_total{method=\"store\","
                                     "reason=\"SH_ERR_WRONG_SWARM\"}");
        sum += v > 0 ? v : 0;
    }
    return sum;
}

/* Alice, opened on the old map, writes to bob, whose swarm in the new map has none of the
 * members of his swarm in the old one. */
static void redirect(account *alice, account *bob)
{
    nt_node *ms[16], *was[16];
    sh_dir_map *old = load_old_map();
    size_t n = members_of(map, bob->sid, ms), n_was = members_of(old, bob->sid, was);
    sh_node_receipt rs[SH_NODE_MAX_RECEIPTS];
    uint8_t hash[32];
    last_msg l;

    alice->old_map_first = true;
    alice->map_fetches = 0;
    account_open(alice);
    CHECK_EQ(alice->map_fetches, 1);
    alice->n_att = 0;
    double before = wrong_swarm_stores(was, n_was);
    send_text(alice, bob, "redirected");
    /* a member of the old swarm answered the store (SH_ERR_WRONG_SWARM), then one of the new */
    CHECK(alice->n_att >= 2);
    CHECK(alice->att[0].store && in_swarm(was, n_was, alice->att[0].dest));
    CHECK(alice->att[alice->n_att - 1].store);
    CHECK(in_swarm(ms, n, alice->att[alice->n_att - 1].dest));
    CHECK_EQ(wrong_swarm_stores(was, n_was) - before, 1);
    CHECK_EQ(alice->map_fetches, 2); /* the map again, after the redirect */
    l = last_sent(alice, bob);
    CHECK_EQ(l.state, SH_CLIENT_STORED);
    CHECK_EQ(l.n, n);
    CHECK_EQ(l.k, 2); /* the member that took it and a peer that confirmed */
    printf("redirect: a member of bob's old swarm refused the store (wrong swarm); after "
           "fetching the map again it is stored on %u of %u members of his new swarm\n", l.k,
           l.n);
    /* The receipts are of members of the new swarm; the old map does not count them. */
    newest_pending(alice, hash);
    size_t got = receipts_at(ms[0], hash, rs);
    CHECK(got >= 2);
    for (size_t i = 0; i < got; i++) {
        sh_dir_map *now = fetch_map(N_NODES);
        CHECK(in_swarm(ms, n, rs[i].node_id));
        CHECK_OK(sh_node_receipt_verify(&rs[i], now, map));
        sh_dir_map_free(now);
    }
    uint32_t k_old, n_old;
    (void)sh__client_receipts_count(old, NULL, bob->sid, SH_NS_INBOX, hash, rs, got, &k_old,
                                    &n_old);
    CHECK_EQ(k_old, 0);
    sh_dir_map_free(old);
    wait_text(bob, "redirected");
}

/* ---- 2. k rises when a member catches up ----------------------------------------------------- */

static void k_rises(account *alice, account *bob)
{
    nt_node *ms[16];
    size_t n = members_of(map, bob->sid, ms), changed;
    nt_node *down = ms[n - 1];
    int64_t start, deadline;
    last_msg l;

    CHECK_EQ(n, 3);
    CHECK_EQ(nt_node_stop(down, SIGTERM), 0);
    send_text_retry(alice, bob, "while a member is down");
    l = last_sent(alice, bob);
    CHECK_EQ(l.state, SH_CLIENT_STORED);
    CHECK_EQ(l.k, 2);
    CHECK_EQ(l.n, 3);
    CHECK_OK(sh_client_update_receipts(alice->client, &changed));
    l = last_sent(alice, bob);
    CHECK_EQ(l.k, 2); /* no more members have it */
    nt_node_start(down);
    start = sh_time_mono_ms();
    deadline = start + 20000;
    while (l.k < 3 && sh_time_mono_ms() < deadline) {
        net_sleep_ms(100);
        CHECK_OK(sh_client_update_receipts(alice->client, &changed));
        l = last_sent(alice, bob);
    }
    CHECK_EQ(l.k, 3);
    CHECK_EQ(l.n, 3);
    printf("k rises: stored on 2 of 3 with a member down; 3 of 3 %lld ms after its restart\n",
           (long long)(sh_time_mono_ms() - start));
    wait_text(bob, "while a member is down");
}

/* ---- 3. a member with an older device list --------------------------------------------------- */

/* The device list a node holds for owner (a public read over a direct link). */
static void list_at(const nt_node *n, const uint8_t owner[static 33], sh_buf *out)
{
    sh_node_request r = nt_req_retrieve(owner, SH_NS_DEVICE_LIST);
    nt_client c;
    nt_page p;

    nt_client_open(&c, n);
    CHECK_OK(nt_retrieve(&c, &r, NULL, &p));
    CHECK_EQ(p.count, 1);
    sh_buf_reset(out);
    CHECK_OK(sh_buf_append(out, p.msgs[0].data, p.msgs[0].data_len));
    nt_page_free(&p);
    nt_client_close(&c);
}

/* The stale member's list is older: a device that learned the fresh one refuses it. */
static void check_stale(const nt_node *stale, const nt_node *fresh, const uint8_t owner[static 33])
{
    uint8_t seed[SH_SEED_BYTES];
    sh_e2e_device *dev;
    sh_buf a, b;

    sh_buf_init(&a);
    sh_buf_init(&b);
    list_at(stale, owner, &a);
    list_at(fresh, owner, &b);
    randombytes_buf(seed, sizeof seed);
    CHECK_OK(sh_e2e_device_new_primary(&dev, seed, sh_time_now_ms()));
    CHECK_OK(sh_e2e_device_learn_list(dev, b.data, b.len, sh_time_now_ms()));
    CHECK_ERR(sh_e2e_device_learn_list(dev, a.data, a.len, sh_time_now_ms()), SH_ERR_STALE);
    sh_e2e_device_free(dev);
    sh_buf_free(&a);
    sh_buf_free(&b);
}

/* One new sender: its device-list reads (namespace 11) went to two members; which was first. */
static void read_order(const account *r, const nt_node *stale, bool *stale_first,
                       bool *stale_second)
{
    const uint8_t *reads[MAX_SEEN];
    size_t n = 0;

    for (size_t i = 0; i < r->n_att; i++)
        if (!r->att[i].store && r->att[i].ns == SH_NS_DEVICE_LIST)
            reads[n++] = r->att[i].dest;
    /* a new sender publishes its own list (a store) and reads only bob's */
    CHECK(n >= 2);
    CHECK(memcmp(reads[0], reads[1], 32) != 0);
    *stale_first = memcmp(reads[0], stale->identity_key, 32) == 0;
    *stale_second = memcmp(reads[1], stale->identity_key, 32) == 0;
}

static void stale_list(account *bob, account *bob2)
{
    nt_node *ms[16];
    size_t n = members_of(map, bob->sid, ms);
    nt_node *stale = ms[0];
    static account readers[MAX_READERS];
    bool first = false, second = false;
    int i;

    CHECK_EQ(n, 3);
    link_device(bob, bob2, "bob2", stale);
    /* back without anti-entropy, once the pushes of the new list to it were dropped: it keeps
     * the list it had */
    int64_t dropped = sh_time_mono_ms() + REPLICATE_MS + 500;
    while (sh_time_mono_ms() < dropped)
        net_sleep_ms(50);
    for (size_t k = 0; stale->settings[k] != NULL; k++)
        if (strncmp(stale->settings[k], "antientropy_ms=", 15) == 0)
            stale->settings[k] = "antientropy_ms=3600000";
    nt_node_start(stale);
    wait_swarms(N_NODES, 2, "the stale member back");
    check_stale(stale, ms[1], bob->sid);
    check_stale(stale, ms[2], bob->sid);
    for (i = 0; i < MAX_READERS && !(first && second); i++) {
        account *r = &readers[i];
        char name[16], text[32];
        bool f, s;
        snprintf(name, sizeof name, "reader%d", i);
        account_init(r, name, (uint8_t)(100 + i));
        account_open(r);
        snprintf(text, sizeof text, "from reader %d", i);
        send_text(r, bob, text);
        read_order(r, stale, &f, &s);
        check_stale(stale, ms[1], bob->sid); /* still: every read so far met an older list */
        first = first || f;
        second = second || s;
        wait_text(bob2, text); /* sealed for the device of the newer list */
        account_close(r);
    }
    printf("stale member: %d new senders read bob's device list from two members, the stale "
           "one first in some reads and second in others; every one wrote to the new device\n",
           i);
    CHECK(first && second);
}

/* The stale member up and a fresh one down: a reader still gets answers from two members (past
 * the one down), so the fresh list is among them, and every reader writes to the new device. */
static void stale_and_down(account *bob, account *bob2)
{
    nt_node *ms[16];
    size_t n = members_of(map, bob->sid, ms);
    nt_node *stale = ms[0], *down = ms[1], *fresh = ms[2];
    static account readers[DOWN_READERS];

    CHECK_EQ(n, 3);
    CHECK_EQ(nt_node_stop(down, SIGTERM), 0);
    for (int i = 0; i < DOWN_READERS; i++) {
        account *r = &readers[i];
        char name[16], text[40];
        bool f, s;
        snprintf(name, sizeof name, "downreader%d", i);
        account_init(r, name, (uint8_t)(120 + i));
        account_open(r);
        snprintf(text, sizeof text, "from reader %d, a member down", i);
        send_text_retry(r, bob, text);
        read_order(r, stale, &f, &s);
        CHECK(f || s); /* the two that answered: the stale one and the fresh one */
        wait_text(bob2, text);
        account_close(r);
    }
    check_stale(stale, fresh, bob->sid);
    printf("stale member, another down: %d new senders each read the stale and the fresh member "
           "and wrote to the new device\n", DOWN_READERS);
    nt_node_start(down);
}

/* The first node alone makes one swarm; three more join one by one and at four the swarm splits
 * (target 1): two swarms of two, the map a client keeps (old_map). Five more: 3+2, 3+3, then one
 * of them passes three and splits; at nine, three swarms of three (map). The swarm that did not
 * split keeps its members, and some of its owners move to the new swarm, which has none of
 * them. Returns the old map. */
static sh_dir_map *grow_network(void)
{
    sh_dir_map *first;
    size_t count = 0;

    node_start(0);
    wait_swarms(1, 0, "one node");
    for (size_t i = 1; i < OLD_NODES; i++)
        node_start(i);
    wait_swarms(OLD_NODES, 1, "four nodes");
    first = fetch_map(OLD_NODES);
    CHECK(sh_dir_map_swarms(first, &count) != NULL && count == 2);
    sh_buf_init(&old_map);
    CHECK_OK(sh_dir_map_encode(first, &old_map));
    for (size_t i = OLD_NODES; i < N_NODES; i++)
        node_start(i);
    wait_swarms(N_NODES, 2, "nine nodes");
    map = fetch_map(N_NODES);
    CHECK(sh_dir_map_swarms(map, &count) != NULL && count == 3);
    /* every node on this map or a newer one: a node still on a map from before the split
     * claims owners it no longer serves and answers their reads with nothing */
    net_wait_map(up, N_NODES, sh_dir_map_version(map), "nine nodes, the newest map");
    return first;
}

/* Bob: an account that moved to a swarm of three with none of the members of his old swarm. */
static void pick_bob(account *bob, const sh_dir_map *first)
{
    account_init(bob, "bob", 0);
    for (uint8_t s = 2; s < 255 && bob->seed[0] == 0; s++) {
        nt_node *was[16], *is[16];
        uint8_t owner[33];
        sh_account_free(nt_account(s, owner));
        size_t n_was = members_of(first, owner, was), n_is = members_of(map, owner, is);
        bool moved = n_is == 3;
        for (size_t i = 0; i < n_was; i++)
            moved = moved && !in_swarm(is, n_is, was[i]->identity_key);
        if (moved)
            memset(bob->seed, s, sizeof bob->seed);
    }
    CHECK(bob->seed[0] != 0);
}

int main(int argc, char **argv)
{
    account alice, bob, bob2;
    int64_t start = sh_time_mono_ms();
    sh_dir_map *first;

    CHECK(argc == 3);
    CHECK_OK(sh_identity_init());
    setvbuf(stdout, NULL, _IOLBF, 0);
    net_init(&w, argv[2], argv[1], 1, 1, 1, 1);
    /* a fast authority that tests reachability once a minute and keeps a failing member for
     * two: a member stopped for a moment stays in the map (the tests decide when swarms change) */
    w.period_ms = 1000;
    w.retest_ms = 60000;
    w.drop_grace_ms = 120000;
    net_auth_start(&w, 0);
    first = grow_network();
    printf("network: four nodes in two swarms, then nine in three swarms of three after %lld ms\n",
           (long long)(sh_time_mono_ms() - start));
    pick_bob(&bob, first);
    sh_dir_map_free(first);
    account_open(&bob);
    CHECK_OK(sh_client_publish(bob.client, false));
    /* Alice learns bob's keys with the new map, then opens again holding the old one. */
    account_init(&alice, "alice", 1);
    account_open(&alice);
    CHECK_OK(sh_client_publish(alice.client, false));
    send_text(&alice, &bob, "hello");
    wait_text(&bob, "hello");
    account_close(&alice);
    redirect(&alice, &bob);
    printf("redirect: done after %lld ms\n", (long long)(sh_time_mono_ms() - start));
    k_rises(&alice, &bob);
    printf("k rises: done after %lld ms\n", (long long)(sh_time_mono_ms() - start));
    stale_list(&bob, &bob2);
    printf("stale member: done after %lld ms\n", (long long)(sh_time_mono_ms() - start));
    stale_and_down(&bob, &bob2);
    printf("stale member, another down: done after %lld ms\n",
           (long long)(sh_time_mono_ms() - start));
    account_close(&alice);
    account_close(&bob);
    account_close(&bob2);
    for (size_t i = 0; i < N_NODES; i++)
        CHECK_EQ(nt_node_stop(&nodes[i], SIGTERM), 0);
    net_stop_all(&w);
    sh_dir_map_free(map);
    sh_buf_free(&old_map);
    return 0;
}
