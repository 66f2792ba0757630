/* Helpers of the multi-process network tests of the node module: shoal-dir authorities and
 * shoald nodes joined to them on loopback, and waiting for the nodes to agree on a map (read
 * from their metrics: shoal_node_map_version, shoal_node_swarm_peers). */
#ifndef SH_TEST_NETTEST_H
#define SH_TEST_NETTEST_H

#include "nodetest.h"

#define NET_MAX_AUTH 3
/* How long an authority keeps listing a node whose reachability tests fail (shoal-dir
 * --drop-grace-ms): a node killed and restarted within it keeps its place and swarm. Set
 * net.drop_grace_ms after net_init to change it. Failing nodes are tested every 250 ms. */
#define NET_DROP_GRACE_MS 10000

typedef struct net_auth {
    pid_t pid;
    uint16_t port;
    char key[300], data[300], log[300];
} net_auth;

typedef struct net {
    const char *dir_exe, *node_exe;
    char tmp[256], network[300];
    int n_auth;
    net_auth auth[NET_MAX_AUTH];
    long drop_grace_ms;      /* for authorities started after it is set (NET_DROP_GRACE_MS) */
    long period_ms;          /* their consensus period (2000; votes and signatures at 1/4) */
    long retest_ms;          /* how often they test a listed node's reachability (5000) */
} net;

/* Makes authority keys and the network file (k of n_auth, swarm target and min). */
void net_init(net *w, const char *dir_exe, const char *node_exe, int n_auth, int k, int target,
              int min);
void net_auth_start(net *w, int i);
void net_auth_stop(net *w, int i);
/* A node of the network (short timers for tests); extra settings may be added before start. */
void net_node_init(net *w, nt_node *n);
/* Waits until every node works from the same map version >= min with its swarm peers set
 * (shoal_node_swarm_peers >= 0); returns the version. */
uint64_t net_wait_map(nt_node *const *nodes, size_t n, uint64_t min, const char *what);
/* A map fetched from the network and verified by the test itself, as a client would. */
struct sh_dir_map *net_fetch_map(net *w, nt_client *c, uint64_t min_version);
double net_metric(const nt_node *n, const char *name);
void net_sleep_ms(long ms);
/* Every authority still running is stopped (atexit too). */
void net_stop_all(net *w);

#endif
