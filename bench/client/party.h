/* Shared by the client benchmarks: one account at work (its state database, transport and
 * client) and the recipient's polling thread. A benchmark defines die() (report and exit). */
#ifndef SH_BENCH_CLIENT_PARTY_H
#define SH_BENCH_CLIENT_PARTY_H

#include <stdatomic.h>

#include "client/client.h"

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
