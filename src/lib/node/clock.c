/* The client's view of the nodes' clock (overview.md "Bootstrap and time"): every answer carries
 * the node time; the offset is the median of the last few samples, each taken against the
 * midpoint of the call, so one node with a wrong clock cannot move it far. */
#include <string.h>

#include "node/request.h"
#include "util/time.h"

void sh_node_clock_init(sh_node_clock *c)
{
    memset(c, 0, sizeof *c);
}

int64_t sh_node_clock_now(const sh_node_clock *c)
{
    return sh_time_now_ms() + c->offset_ms;
}

void sh_node_clock_sample(sh_node_clock *c, int64_t node_time_ms, int64_t sent_ms,
                          int64_t received_ms)
{
    int64_t sorted[SH_NODE_CLOCK_SAMPLES];

    if (node_time_ms <= 0)
        return;
    c->samples[c->next] = node_time_ms - (sent_ms + (received_ms - sent_ms) / 2);
    c->next = (c->next + 1) % SH_NODE_CLOCK_SAMPLES;
    if (c->n < SH_NODE_CLOCK_SAMPLES)
        c->n++;
    memcpy(sorted, c->samples, sizeof sorted);
    for (unsigned i = 1; i < c->n; i++) /* insertion sort of at most 7 */
        for (unsigned j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            int64_t t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    c->offset_ms = sorted[c->n / 2];
}
