/* Onion routing across 10 shoald processes on loopback (issue 8, docs/onion.md "The relay"):
 * the nodes start once to make their keys, a one-authority network file and a signed map are
 * made here with the dir library, and the nodes restart with that map. A client stores and
 * retrieves through 3-hop paths; the nodes' debug logs show that no hop sees both the client's
 * link and the request; a middle node killed mid-request gives an error naming it and a retry on
 * a new path succeeds; a packet replayed after its guard restarted is refused. Every hop sees the
 * same RPC deadline whatever its position. A named service (tests/node/fakeservice.c, its own
 * process) is reached through a node that forwards to it; an unknown service is refused. */
#include <signal.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "nodetest.h"
#include "dir/dir.h"
#include "node/node.h"
#include "onion/onion.h"
#include "util/encode.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/time.h"

#define N_NODES 10
#define TTL (3600LL * 1000)

static nt_node nodes[N_NODES];
static char logs[N_NODES][300], map_path[300], network_path[300], settings[4][400];
static pid_t service_pid;
#define HOP_TIMEOUT_MS 6000u
static sh_onion_node *onodes;
static size_t n_onodes;

/* ---- Making the network ----------------------------------------------------------------------- */

/* Starts the fake service and reads "<port> <link key>" from its stdout. */
static void start_service(const char *exe, uint16_t *port, char key_hex[65])
{
    int fds[2];
    char line[128];
    unsigned p;
    FILE *f;

    CHECK(pipe(fds) == 0);
    if ((service_pid = fork()) == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives a failed test */
        dup2(fds[1], 1);
        close(fds[0]);
        execl(exe, exe, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    CHECK((f = fdopen(fds[0], "r")) != NULL);
    CHECK(fgets(line, sizeof line, f) != NULL);
    CHECK(sscanf(line, "%u %64s", &p, key_hex) == 2);
    fclose(f);
    *port = (uint16_t)p;
}

static void start_network(const char *exe, const char *service_exe)
{
    const char *tmp = test_tmpdir();
    char key_hex[65];
    uint16_t service_port;

    snprintf(map_path, sizeof map_path, "%s/map", tmp);
    snprintf(network_path, sizeof network_path, "%s/network", tmp);
    for (int i = 0; i < N_NODES; i++) {
        nt_node_init(&nodes[i], exe);
        nt_node_start(&nodes[i]); /* makes node.key and onion.keys; port 0 picks one */
    }
    for (int i = 0; i < N_NODES; i++)
        CHECK_EQ(nt_node_stop(&nodes[i], SIGTERM), 0);
    nt_onion_map(nodes, N_NODES, "onion-test", TTL, map_path, network_path, &onodes, &n_onodes);
    snprintf(settings[0], sizeof settings[0], "map_file=%s", map_path);
    snprintf(settings[1], sizeof settings[1], "network_file=%s", network_path);
    snprintf(settings[2], sizeof settings[2], "log_level=debug");
    start_service(service_exe, &service_port, key_hex);
    snprintf(settings[3], sizeof settings[3], "onion_service=files 127.0.0.1:%u %s", service_port,
             key_hex);
    for (int i = 0; i < N_NODES; i++) {
        snprintf(logs[i], sizeof logs[i], "%s/node.log", nodes[i].dir);
        nodes[i].log_file = logs[i];
        for (int k = 0; k < 4; k++)
            nodes[i].settings[k] = settings[k];
        nt_node_start(&nodes[i]); /* same port as before */
    }
}

/* ---- The client ------------------------------------------------------------------------------- */

typedef struct client {
    uv_loop_t loop;
    sh_net *net;
    sh_onion_caller *caller;
    sh_onion_attempt log[16]; /* attempts that ended, path pointers not kept */
    uint8_t middles[16][32];
    size_t n_log;
    int kill_at_start; /* node index to kill when attempt 1 starts, -1 none */
    uv_timer_t kill_timer;
    int killed;
} client;

typedef struct answer {
    bool done;
    int status;
    char message[512];
    sh_buf body;
} answer;

static int node_by_id(const uint8_t id[static 32])
{
    for (int i = 0; i < N_NODES; i++)
        if (memcmp(nodes[i].identity_key, id, 32) == 0)
            return i;
    return -1;
}

static void on_kill(uv_timer_t *t)
{
    client *c = t->data;

    CHECK_EQ(nt_node_stop(&nodes[c->killed], SIGKILL), 128 + SIGKILL);
}

static void attempt_cb(const sh_onion_attempt *a, void *ctx)
{
    client *c = ctx;

    if (a->started) {
        if (a->attempt == 1 && c->kill_at_start >= 0) {
            c->killed = node_by_id(a->path[1]->cand.id);
            c->kill_at_start = -1;
            uv_timer_start(&c->kill_timer, on_kill, 200, 0);
        }
        return;
    }
    CHECK(c->n_log < 16);
    c->log[c->n_log] = *a;
    c->log[c->n_log].message = NULL;
    memcpy(c->middles[c->n_log++], a->path[1]->cand.id, 32);
    if (a->status != SH_OK)
        printf("attempt %u failed: %s\n", a->attempt, a->message);
}

static void client_open(client *c)
{
    sh_onion_caller_config cfg;

    memset(c, 0, sizeof *c);
    c->kill_at_start = -1;
    CHECK(uv_loop_init(&c->loop) == 0);
    uv_timer_init(&c->loop, &c->kill_timer);
    c->kill_timer.data = c;
    CHECK_OK(sh_net_new(&c->loop, NULL, &c->net));
    sh_onion_caller_config_default(&cfg);
    cfg.policy.n_guards = 3;
    cfg.policy.allow_same_subnet = true; /* loopback devnet */
    cfg.backoff_min_ms = 10;
    cfg.backoff_max_ms = 20;
    cfg.attempt_timeout_ms = 8000;
    cfg.hop_timeout_ms = HOP_TIMEOUT_MS;
    cfg.attempt_cb = attempt_cb;
    cfg.attempt_ctx = c;
    CHECK_OK(sh_onion_caller_new(&c->loop, c->net, &cfg, onodes, n_onodes, NULL, &c->caller));
}

static void client_close(client *c)
{
    sh_onion_caller_free(c->caller);
    sh_net_close(c->net, NULL, NULL);
    uv_close((uv_handle_t *)&c->kill_timer, NULL);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&c->loop) == 0);
}

static void answer_cb(int status, const char *message, const uint8_t *body, size_t len, void *ctx)
{
    answer *a = ctx;

    a->done = true;
    a->status = status;
    snprintf(a->message, sizeof a->message, "%s", message ? message : "");
    sh_buf_init(&a->body);
    CHECK_OK(sh_buf_append(&a->body, body, len));
}

/* One storage call through onion paths; the answer's status comes back (its message in sh_err). */
static int onion_call(client *c, int dest, const char *method, const sh_node_request *r_in,
                      const sh_node_signer *s, answer *a)
{
    sh_node_request r = *r_in;
    sh_buf body;

    r.timestamp_ms = sh_time_now_ms();
    memset(a, 0, sizeof *a);
    sh_buf_init(&body);
    CHECK_OK(sh_node_request_encode(&r, s, &body));
    CHECK_OK(sh_onion_caller_request(c->caller, nodes[dest].identity_key, method, body.data,
                                     body.len, answer_cb, a));
    while (!a->done)
        uv_run(&c->loop, UV_RUN_ONCE);
    sh_buf_free(&body);
    if (a->status != SH_OK)
        sh_err_set(a->status, "%s", a->message);
    return a->status;
}

/* ---- Scenarios -------------------------------------------------------------------------------- */

static uint8_t owner[33];
static sh_account *account;

static void store_and_retrieve(client *c, int dest)
{
    sh_node_signer s = {.account = account};
    static char text[] = "through three hops 0";
    sh_node_request r;
    sh_node_stored stored;
    sh_node_page page;
    answer a;

    text[sizeof text - 2]++;
    r = nt_req_store(owner, 4, text, sizeof text - 1, TTL);
    CHECK_OK(onion_call(c, dest, "store", &r, &s, &a));
    CHECK_OK(sh_node_stored_parse(a.body.data, a.body.len, &stored));
    CHECK_EQ(stored.outcome, SH_STORE_STORED);
    sh_buf_free(&a.body);
    r = nt_req_retrieve(owner, 4);
    CHECK_OK(onion_call(c, dest, "retrieve", &r, &s, &a));
    CHECK_OK(sh_node_page_parse(a.body.data, a.body.len, owner, 4, &page));
    CHECK(page.count >= 1);
    bool found = false;
    for (size_t i = 0; i < page.count; i++)
        found |= page.msgs[i].data_len == sizeof text - 1 &&
                 memcmp(page.msgs[i].data, text, sizeof text - 1) == 0;
    CHECK(found);
    sh_node_page_free(&page);
    sh_buf_free(&a.body);
    /* A method the onion path does not offer is refused by the destination, end to end. */
    r = nt_req_retrieve(owner, 4);
    CHECK_ERR(onion_call(c, dest, "stats", &r, NULL, &a), SH_ERR_NOT_FOUND);
    CHECK_MSG("no such method");
    sh_buf_free(&a.body);
    CHECK(c->n_log >= 3);
}

static bool is_node_link(const char *short_hex)
{
    char h[9];

    for (int i = 0; i < N_NODES; i++) {
        sh_hex_encode(h, sizeof h, nodes[i].link_key, 4);
        if (strcmp(h, short_hex) == 0)
            return true;
    }
    return false;
}

/* Every packet a node received from a link that is not a node's (the client) was relayed to a
 * node other than the destination and never delivered there; every delivery came from a node. */
static void check_capture(int dest)
{
    char dest_id[9], from[9], to[9];
    int client_lines = 0, deliveries = 0, arrivals = 0;
    unsigned long deadline;

    sh_hex_encode(dest_id, sizeof dest_id, nodes[dest].identity_key, 4);
    for (int i = 0; i < N_NODES; i++) {
        sh_buf text;
        char *line, *save = NULL;

        sh_buf_init(&text);
        CHECK_OK(sh_fs_read_file(logs[i], 1 << 24, &text));
        CHECK_OK(sh_buf_append_u8(&text, 0));
        for (line = strtok_r((char *)text.data, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save)) {
            const char *p;
            /* Guard, middle and destination all see the client's hop timeout as their deadline
             * (it was the time left, which shrank hop by hop and told each its place). */
            if ((p = strstr(line, "onion in: from ")) != NULL) {
                CHECK(sscanf(p, "onion in: from %*s circuit %*s bucket %*s epoch %*s deadline %lu",
                             &deadline) == 1);
                CHECK_EQ(deadline, HOP_TIMEOUT_MS);
                arrivals++;
            }
            if ((p = strstr(line, "onion relay: from ")) != NULL) {
                CHECK(sscanf(p, "onion relay: from %8s circuit %*s -> to %8s", from, to) == 2);
                if (!is_node_link(from)) {
                    client_lines++;
                    CHECK(strcmp(to, dest_id) != 0);
                    CHECK(i != dest);
                }
            } else if ((p = strstr(line, "onion deliver: from ")) != NULL) {
                CHECK(sscanf(p, "onion deliver: from %8s", from) == 1);
                CHECK(is_node_link(from));
                CHECK_EQ(i, dest);
                deliveries++;
            }
        }
        sh_buf_free(&text);
    }
    printf("capture: %d packets from the client at guards, %d deliveries\n", client_lines,
           deliveries);
    CHECK(client_lines >= 3);
    CHECK(deliveries >= 3);
    CHECK_EQ(arrivals, 3 * deliveries);
}

/* A middle node dies while the request waits at the destination (a long-poll). */
static void kill_middle(client *c, int dest)
{
    sh_node_signer s = {.account = account};
    uint8_t other[33];
    sh_account *acct = nt_account(8, other);
    /* Public and empty: the retrieve waits, and, unsigned, it may be sent again (a signed one
     * would be refused as a replay by the destination, which ran the first attempt's copy). */
    sh_node_request r = nt_req_retrieve(other, 10);
    size_t first = c->n_log;
    char msg[512];
    answer a;

    r.wait_ms = 1000;
    c->kill_at_start = 0;
    CHECK_OK(onion_call(c, dest, "retrieve", &r, NULL, &a));
    sh_buf_free(&a.body);
    sh_account_free(acct);
    (void)s;
    CHECK_EQ(c->n_log, first + 2);
    CHECK_EQ(c->log[first].failed_hop, 2);
    CHECK(c->log[first].status != SH_OK);
    CHECK(memcmp(c->middles[first], nodes[c->killed].identity_key, 32) == 0);
    CHECK_EQ(c->log[first + 1].status, SH_OK);
    CHECK(memcmp(c->middles[first + 1], nodes[c->killed].identity_key, 32) != 0);
    (void)msg;
}

/* A named service behind the destination node: the request reaches it over the node's link
 * (the service sees the node's link key, never the client's) and the answer comes back sealed. */
static void named_service(client *c, int dest)
{
    char expect[64], dest_link[9];
    answer a = {0};

    sh_hex_encode(dest_link, sizeof dest_link, nodes[dest].link_key, 4);
    snprintf(expect, sizeof expect, "echo from %s: hello files", dest_link);
    CHECK_OK(sh_onion_caller_request_service(c->caller, nodes[dest].identity_key, "files", "echo",
                                             (const uint8_t *)"hello files", 11, answer_cb, &a));
    while (!a.done)
        uv_run(&c->loop, UV_RUN_ONCE);
    CHECK_EQ(a.status, SH_OK);
    CHECK_EQ(a.body.len, strlen(expect));
    CHECK(memcmp(a.body.data, expect, a.body.len) == 0);
    sh_buf_free(&a.body);
    memset(&a, 0, sizeof a);
    CHECK_OK(sh_onion_caller_request_service(c->caller, nodes[dest].identity_key, "nope", "echo",
                                             NULL, 0, answer_cb, &a));
    while (!a.done)
        uv_run(&c->loop, UV_RUN_ONCE);
    CHECK_EQ(a.status, SH_ERR_NOT_FOUND);
    CHECK(strstr(a.message, "no service named \"nope\"") != NULL);
    sh_buf_free(&a.body);
    /* A method the service does not have: the service's own error, end to end. */
    memset(&a, 0, sizeof a);
    CHECK_OK(sh_onion_caller_request_service(c->caller, nodes[dest].identity_key, "files", "list",
                                             NULL, 0, answer_cb, &a));
    while (!a.done)
        uv_run(&c->loop, UV_RUN_ONCE);
    CHECK(a.status != SH_OK);
    sh_buf_free(&a.body);
}

/* ---- Replay across a restart -------------------------------------------------------------------- */

typedef struct raw_answer {
    bool done;
    int status;
    char message[300];
} raw_answer;

static void raw_cb(int status, const char *message, const uint8_t *body, size_t len, void *ctx)
{
    raw_answer *a = ctx;

    (void)body, (void)len;
    a->done = true;
    a->status = status;
    snprintf(a->message, sizeof a->message, "%s", message ? message : "");
}

static int raw_send(client *c, int guard, const sh_buf *body)
{
    sh_net_peer *p;
    raw_answer a = {0};

    CHECK_OK(sh_net_peer_new(c->net, "127.0.0.1", nodes[guard].port, nodes[guard].link_key, NULL, &p));
    CHECK_OK(sh_net_call(p, "onion", body->data, body->len, 5000, raw_cb, &a));
    while (!a.done)
        uv_run(&c->loop, UV_RUN_ONCE);
    sh_net_peer_close(p);
    if (a.status != SH_OK)
        sh_err_set(a.status, "%s", a.message);
    return a.status;
}

static const sh_onion_node *onode_of(int i)
{
    for (size_t k = 0; k < n_onodes; k++)
        if (memcmp(onodes[k].cand.id, nodes[i].identity_key, 32) == 0)
            return &onodes[k];
    test_fail(__FILE__, __LINE__, "node %d is not in the map", i);
}

static void replay_after_restart(client *c, int guard, int middle, int dest)
{
    int ids[3] = {guard, middle, dest};
    sh_onion_hop hops[3];
    sh_onion_client *state;
    sh_buf msg, packet, body;

    for (int i = 0; i < 3; i++) {
        CHECK_OK(sh_onion_node_hop(onode_of(ids[i]), sh_time_now_ms(), &hops[i]));
        hops[i].reply_timeout_ms = 5000;
    }
    sh_buf_init(&msg);
    sh_buf_init(&packet);
    sh_buf_init(&body);
    CHECK_OK(sh_onion_request_encode("", "info", NULL, 0, &msg));
    CHECK_OK(sh_onion_build(hops, 3, msg.data, msg.len, &packet, &state));
    CHECK_OK(sh_buf_append_u64be(&body, 42));
    CHECK_OK(sh_buf_append(&body, packet.data, packet.len));
    CHECK_OK(raw_send(c, guard, &body));
    CHECK_ERR(raw_send(c, guard, &body), SH_ERR_REPLAY);
    CHECK_EQ(nt_node_stop(&nodes[guard], SIGTERM), 0);
    nt_node_start(&nodes[guard]);
    CHECK_ERR(raw_send(c, guard, &body), SH_ERR_REPLAY);
    CHECK_MSG("refused the packet");
    /* A frame that is not circuit id ‖ header ‖ bucket is refused before any crypto. */
    body.len -= 1;
    CHECK_ERR(raw_send(c, guard, &body), SH_ERR_PROTOCOL);
    sh_onion_client_free(state);
    sh_buf_free(&msg);
    sh_buf_free(&packet);
    sh_buf_free(&body);
}

int main(int argc, char **argv)
{
    client c;
    int dest = 0, others[3], k = 0;

    CHECK(argc == 3);
    CHECK(sodium_init() >= 0);
    start_network(argv[1], argv[2]);
    account = nt_account(7, owner);
    client_open(&c);
    store_and_retrieve(&c, dest);
    store_and_retrieve(&c, dest);
    check_capture(dest);
    named_service(&c, dest);
    kill_middle(&c, dest);
    for (int i = 1; i < N_NODES && k < 3; i++)
        if (i != c.killed)
            others[k++] = i;
    replay_after_restart(&c, others[0], others[1], dest);
    client_close(&c);
    for (int i = 0; i < N_NODES; i++)
        if (nodes[i].pid > 0)
            CHECK_EQ(nt_node_stop(&nodes[i], SIGTERM), 0);
    kill(service_pid, SIGKILL);
    waitpid(service_pid, NULL, 0);
    free(onodes);
    sh_account_free(account);
    return 0;
}
