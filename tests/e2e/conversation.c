/* 10 000 messages of random conversation between two accounts with three devices each, over a
 * lossy network (drops, duplicates, delays, reordering), with a device linked and one revoked
 * mid-conversation, devices saved and reloaded at random points, and prekeys rotating as days
 * pass. Every copy that arrives decrypts exactly once; every second copy is a replay. */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include <shoal/identity.h>

#include "sim.h"

#define MESSAGES 10000

static int random_live(sim_world *w, int account)
{
    int live[SIM_MAX_DEVICES], n = 0;

    for (int i = 0; i < w->n_devs; i++)
        if (w->devs[i].live && (account < 0 || w->devs[i].account == account))
            live[n++] = i;
    CHECK(n > 0);
    return live[sim_rand((uint32_t)n)];
}

int main(int argc, char **argv)
{
    sim_net net = {.drop_pct = 5, .dup_pct = 5, .max_delay_ms = 10 * 60 * 1000};
    sim_world *w = calloc(1, sizeof *w);
    int messages = argc > 1 ? atoi(argv[1]) : MESSAGES;
    int extra = -1;

    CHECK(w != NULL);
    CHECK_OK(sh_identity_init());
    sim_init(w, 2, (uint64_t)messages + 16, net);
    for (int a = 0; a < 2; a++)
        for (int k = 0; k < 2; k++)
            sim_link(w, a);
    for (int m = 0; m < messages; m++) {
        int from = random_live(w, -1);
        w->now += 1 + sim_rand(60 * 1000);
        sim_send(w, from, sim_rand(4) == 0 ? w->devs[from].account : 1 - w->devs[from].account);
        for (int k = 0; k < 2; k++)
            sim_deliver(w, random_live(w, -1));
        if (sim_rand(500) == 0)
            sim_reload(w, random_live(w, -1));
        if (m % 1500 == 1499)
            sim_publish(w); /* a day later: new prekeys */
        if (m == messages / 3)
            extra = sim_link(w, 0);
        if (m == 2 * messages / 3 && extra >= 0)
            sim_revoke(w, 2); /* a linked device of account 0 */
    }
    sim_drain(w);
    printf("sent %llu, decrypted %llu copies, dropped %llu, replays rejected %llu, from revoked "
           "devices rejected %llu, highest PQ epoch %u\n", (unsigned long long)w->sent, (unsigned long long)w->delivered,
           (unsigned long long)w->dropped, (unsigned long long)w->duplicates_rejected,
           (unsigned long long)w->rejected_revoked, w->max_epoch);
    CHECK(w->sent == (uint64_t)messages);
    CHECK(w->delivered > w->sent * 3);
    CHECK(w->duplicates_rejected > 0);
    CHECK(messages < 1000 || w->max_epoch >= 4);
    sim_free(w);
    free(w);
    return 0;
}
