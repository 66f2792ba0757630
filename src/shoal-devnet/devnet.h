/* shoal-devnet's shared pieces (docs/devnet.md): the devnet's state file (which processes run,
 * on which ports) and starting, watching and stopping its processes. */
#ifndef SH_DEVNET_H
#define SH_DEVNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { DEVNET_EXIT_OK = 0, DEVNET_EXIT_ERROR = 1, DEVNET_EXIT_USAGE = 2 };

#define DEVNET_MAX_NODES 64
#define DEVNET_PATH_BYTES 1024
#define DEVNET_VERSION "0.1.0"
#define DEVNET_STATE_FILE "devnet.state"
#define DEVNET_NETWORK_FILE "network"

/* One process of the devnet: the authority (index 0) or node n1..nN (index 1..N). */
typedef struct devnet_proc {
    bool is_authority;
    unsigned index;
    pid_t pid;           /* 0 when stopped */
    uint16_t port;       /* 0 until the process first listened */
    char identity[65];   /* nodes: their Ed25519 identity in hex, once known */
} devnet_proc;

typedef struct devnet_state {
    char dir[DEVNET_PATH_BYTES];
    char shoald[DEVNET_PATH_BYTES];    /* the programs it runs */
    char shoal_dir[DEVNET_PATH_BYTES];
    unsigned swarm_target;
    unsigned n_procs;                  /* authority + nodes */
    devnet_proc procs[DEVNET_MAX_NODES + 1];
    bool detach;                       /* processes outlive the command that started them */
    char node_settings[2048];          /* extra `--set K=V` for every node, space-separated */
} devnet_state;

int devnet_state_save(const devnet_state *s);
int devnet_state_load(const char *dir, devnet_state *s);

/* "auth" or "n3". */
void devnet_proc_name(const devnet_proc *p, char out[static 16]);
/* Finds a process by its name ("n3", "3" or "auth"); NULL when there is none. */
devnet_proc *devnet_find(devnet_state *s, const char *name);
/* The folder and log file of a process. */
int devnet_proc_dir(const devnet_state *s, const devnet_proc *p, char out[static DEVNET_PATH_BYTES]);
int devnet_proc_log(const devnet_state *s, const devnet_proc *p, char out[static DEVNET_PATH_BYTES]);

/* Whether the process runs (and is ours: its command line names the devnet's folder). */
bool devnet_alive(const devnet_state *s, const devnet_proc *p);
/* Starts a process and waits until it prints its ready line (or gives up after timeout_ms),
 * filling p->pid, p->port and, for nodes, p->identity. */
int devnet_start(devnet_state *s, devnet_proc *p, int timeout_ms);
/* SIGKILL, or SIGTERM with SIGKILL after grace_ms; waits until it is gone. */
int devnet_stop(devnet_state *s, devnet_proc *p, bool hard, int grace_ms);
/* Prints the last lines of a process's log to stderr (after a failure). */
void devnet_print_log_tail(const devnet_state *s, const devnet_proc *p, int lines);

/* A free TCP port on 127.0.0.1 below the ephemeral range (bound, then released). */
int devnet_free_port(uint16_t *port);
/* Forks and runs argv (argv[0] a path) with stdin from /dev/null and stdout and stderr appended
 * to `log`: in a session of its own when `detach`, else ended with SIGTERM when shoal-devnet
 * ends. The child's pid, or -1 with errno when fork fails. */
pid_t devnet_spawn(bool detach, char *const argv[], const char *log);
void devnet_sleep_ms(int ms);

#endif
