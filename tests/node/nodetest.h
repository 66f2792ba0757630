/* Helpers of the node tests: run shoald as a separate process (its path is the test's first
 * argument, passed by meson), and call it over a real loopback link from this process with
 * synchronous wrappers around the direct client of node/request.h. A failed call leaves its
 * status and the node's message in sh_err, so CHECK_ERR and CHECK_MSG apply to it. */
#ifndef SH_TEST_NODETEST_H
#define SH_TEST_NODETEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "node/request.h"
#include "node/swarm.h"
#include "onion/onion.h"
#include "test.h"

typedef struct nt_node {
    const char *exe;
    pid_t pid;
    uint16_t port;
    uint8_t link_key[32], identity_key[32];
    char dir[256];
    const char *settings[24]; /* "key=value" passed as --set, NULL-terminated */
    const char *log_file;     /* NULL: the node's log goes to the test's stderr */
} nt_node;

/* Sets up a node description with a fresh data folder (settings may be added before start). */
void nt_node_init(nt_node *n, const char *exe);
/* Starts shoald and waits for its ready line (the port of a restart stays the same). */
void nt_node_start(nt_node *n);
/* Sends a signal and waits for the process; returns its exit status (128 + signal if killed). */
int nt_node_stop(nt_node *n, int sig);
/* The store file of the node's data folder. */
const char *nt_node_db(const nt_node *n);

typedef struct nt_client {
    uv_loop_t loop;
    sh_net *net;
    sh_node_conn *conn;
} nt_client;

void nt_client_open(nt_client *c, const nt_node *n);
void nt_client_close(nt_client *c);

/* A page copied out of the answer. */
typedef struct nt_page {
    size_t count;
    sh_store_msg msgs[SH_STORE_PAGE_MAX_COUNT]; /* data points into arena */
    sh_buf arena;
    sh_store_cursor next;
    bool more;
} nt_page;
void nt_page_free(nt_page *p);

int nt_store(nt_client *c, const sh_node_request *r, const sh_node_signer *s, sh_node_stored *out);
int nt_retrieve(nt_client *c, const sh_node_request *r, const sh_node_signer *s, nt_page *out);
/* delete and expire; out may be NULL (its arrays are the callee's: free with
 * sh_node_changed_free). */
int nt_change(nt_client *c, const sh_node_request *r, const sh_node_signer *s,
              sh_node_changed *out);
int nt_info(nt_client *c, sh_node_info *out);
/* A raw call; the answer body (also of an error) is copied to answer when not NULL. */
int nt_raw(nt_client *c, const char *method, const uint8_t *body, size_t len, sh_buf *answer);
/* get_receipts for a message hash: the call's status; when SH_OK the answer must parse (the test
 * fails otherwise) into rs, *count of them (not yet verified against a map). */
int nt_get_receipts(nt_client *c, const uint8_t hash[static 32],
                    sh_node_receipt rs[static SH_NODE_MAX_RECEIPTS], size_t *count);
/* Starts a retrieve and returns at once; nt_poll_wait runs the loop until it answers. */
typedef struct nt_poll {
    bool done;
    int status;
    nt_page page;
} nt_poll;
void nt_poll_start(nt_client *c, const sh_node_request *r, const sh_node_signer *s, nt_poll *p);
void nt_poll_wait(nt_client *c, nt_poll *p);
/* Runs the loop without blocking (for interleaving several clients). */
void nt_run_once(nt_client *c);
/* Runs c's loop while asking the node (over another link) until it has `waiting` long-polls. */
void nt_wait_polls(nt_client *c, const nt_node *n, double waiting);

/* Request templates. */
sh_node_request nt_req_store(const uint8_t owner[static 33], int16_t ns, const void *data,
                             size_t len, int64_t ttl_ms);
sh_node_request nt_req_retrieve(const uint8_t owner[static 33], int16_t ns);

/* A test account from a seed byte, and its owner id (Session ID bytes). */
sh_account *nt_account(uint8_t seed_byte, uint8_t owner[static 33]);

/* Metrics: the value of the first line starting with `prefix` in a stats text; -1 if none. */
double nt_metric(const char *text, const char *prefix);
/* The node's metrics text through its own link key (freed by the caller). */
char *nt_stats(const nt_node *n);

/* A node's map entry from its folder (keys, onion keys), as a vote names it; address 127.0.0.1. */
struct sh_dir_node;
void nt_describe_node(const nt_node *n, struct sh_dir_node *d);

/* A static network for onion tests: one authority (key made here) signs a map of the n running
 * nodes (their key files and onion keyrings read from their folders; small swarms, target 1, so
 * that paths outside the destination's swarm exist), valid for ttl_ms. Writes the map and the
 * network file, then loads the map back as a client would and returns its onion nodes. */
void nt_onion_map(const nt_node *nodes, size_t n, const char *name, int64_t ttl_ms,
                  const char *map_path, const char *network_path, sh_onion_node **onodes,
                  size_t *n_onodes);

#endif
