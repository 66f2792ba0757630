/* Shared by the client benchmarks: one account at work (its state database, transport and
 * client) and the recipient's polling thread. A benchmark defines die() (report and exit). */
#ifndef SH_BENCH_CLIENT_PARTY_H
#define SH_BENCH_CLIENT_PARTY_H

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "client/client.h"
#include <shoal/identity.h>

typedef struct party {
    uint8_t seed[SH_SEED_BYTES];
    uint8_t sid[33];
    char db[512], key[512];
    sh_client_state *state;
    sh_client_transport tp;
    sh_client *client;
} party;

/* Polls (long-polls of wait_ms) until *stop is set. */
typedef struct party_poller {
    party *p;
    uint32_t wait_ms;
    atomic_int *stop;
} party_poller;

static void die(const char *what);

/* When the last message event came (µs, bench_now_s) and how many came. */
static atomic_llong received_at_us;
static atomic_int received_count;

static inline void party_event_cb(const sh_client_event *ev, void *ctx)
{
    (void)ctx;
    if (ev->kind == SH_CLIENT_EV_MESSAGE) {
        atomic_store(&received_at_us, (long long)(bench_now_s() * 1e6));
        atomic_fetch_add(&received_count, 1);
    }
}

/* The account of seed `seed_byte` repeated, and its state database DIR/NAME.db (key file
 * DIR/NAME.key); the transport and client are the benchmark's to make. */
static inline void party_state_open(party *p, const char *dir, const char *name, uint8_t seed_byte)
{
    sh_client_keysrc k = {.key_file = p->key};
    sh_account *a;

    memset(p->seed, seed_byte, sizeof p->seed);
    snprintf(p->db, sizeof p->db, "%s/%s.db", dir, name);
    snprintf(p->key, sizeof p->key, "%s/%s.key", dir, name);
    if (sh_account_from_seed(&a, p->seed) != SH_OK)
        die("account");
    sh_account_session_id(a, p->sid);
    sh_account_free(a);
    if (sh_client_state_open(p->db, &k, &p->state) != SH_OK)
        die("opening the client state");
}

static inline void party_close(party *p)
{
    sh_client_free(p->client);
    p->tp.close(p->tp.ctx);
    sh_client_state_close(p->state);
}

static inline void *party_poll_loop(void *arg)
{
    party_poller *q = arg;
    size_t got;

    while (!atomic_load(q->stop))
        if (sh_client_poll(q->p->client, q->wait_ms, &got) != SH_OK)
            die("the recipient's poll");
    return NULL;
}

#endif
