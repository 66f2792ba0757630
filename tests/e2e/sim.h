/* A simulated world for the e2e tests: accounts with devices (sh_e2e_device), a directory that
 * carries every published device list and bundle to every device at once, and a lossy network
 * that delivers each envelope to each device of its account on its own: dropped, duplicated,
 * delayed and reordered at the rates of `sim_net`. Time is simulated (ms); nothing sleeps. */
#ifndef SH_TEST_E2E_SIM_H
#define SH_TEST_E2E_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "e2e/e2e.h"
#include "util/buf.h"

#define SIM_MAX_DEVICES 16
#define SIM_MAX_ACCOUNTS 4

typedef struct sim_net {
    unsigned drop_pct;     /* each copy lost */
    unsigned dup_pct;      /* each copy delivered twice */
    int64_t max_delay_ms;  /* each copy delayed uniformly up to this */
} sim_net;

typedef struct sim_copy {
    uint8_t *env;
    size_t len;
    uint64_t id;           /* message id (payload) */
    int64_t at;            /* delivery time */
    bool duplicate;
} sim_copy;

typedef struct sim_dev {
    sh_e2e_device *d;
    int account;
    bool live;             /* linked and not revoked */
    sim_copy *inbox;
    size_t n_inbox, cap_inbox;
    uint8_t *got;          /* per message id: times decrypted */
} sim_dev;

typedef struct sim_world {
    int64_t now;
    sim_net net;
    int n_accounts;
    int primary[SIM_MAX_ACCOUNTS];
    int n_devs;
    sim_dev devs[SIM_MAX_DEVICES];
    uint64_t next_id;
    uint8_t *sender;       /* per message id: the sending device */
    uint64_t max_ids;
    uint64_t sent, posted, delivered, dropped, duplicates_rejected, rejected_revoked;
    uint32_t max_epoch;    /* highest post-quantum epoch a message was keyed with */
} sim_world;

void sim_init(sim_world *w, int n_accounts, uint64_t max_ids, sim_net net);
void sim_free(sim_world *w);
/* Random helpers (deterministic per run). */
uint32_t sim_rand(uint32_t n);
/* Publishes every device list, bundle and revocation list to every device. */
void sim_publish(sim_world *w);
/* Links a new device to an account (code, request, SAS on both screens, confirm). Returns its
 * index. */
int sim_link(sim_world *w, int account);
/* Revokes a device and hands the new envelope key to the remaining ones. */
void sim_revoke(sim_world *w, int dev);
/* Device `from` sends message id to account `to`; copies go to the network. */
uint64_t sim_send(sim_world *w, int from, int to_account);
/* Delivers every copy due by now at device i, in random order; checks the exactly-once rule.
 * Returns how many were delivered. */
size_t sim_deliver(sim_world *w, int i);
/* Delivers everything still in flight, with no more loss. */
void sim_drain(sim_world *w);
/* Saves and reloads a device (a persistence round trip). */
void sim_reload(sim_world *w, int i);

#endif
