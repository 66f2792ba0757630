/* The proof of work a store in namespace 0 needs now (docs/node.md "Proof of work"): the base
 * difficulty while the node is idle, one more bit for each doubling of the load beyond what the
 * base is for, up to a ceiling. The load is the larger of the rate of anonymous stores (an
 * exponentially decaying average with a time constant of one second, so no timer is needed) over
 * pow_load_per_s, and the writes queued in the store over a quarter of its queue. */
#include <math.h>

#include "node/internal.h"

#define LOAD_TAU_MS 1000.0

static double decayed(const sh__node_load *l, int64_t now_ms)
{
    double dt = (double)(now_ms - l->last_ms);

    return dt <= 0 ? l->rate_per_s : l->rate_per_s * exp(-dt / LOAD_TAU_MS);
}

void sh__node_load_event(sh__node_load *l, int64_t now_ms)
{
    /* Each event adds 1/tau to the rate (per ms), so a steady r/s settles at r. */
    l->rate_per_s = decayed(l, now_ms) + 1000.0 / LOAD_TAU_MS;
    l->last_ms = now_ms;
}

unsigned sh__node_pow_required(const sh__node_load *l, int64_t now_ms, uint64_t queued,
                               uint32_t queue_max, const sh_node_config *cfg)
{
    double load = decayed(l, now_ms) / (cfg->pow_load_per_s ? cfg->pow_load_per_s : 1);
    double queue_load = queue_max ? (double)queued / (queue_max / 4.0) : 0;
    unsigned bits = cfg->pow_bits;

    if (queue_load > load)
        load = queue_load;
    if (load > 1.0)
        bits += (unsigned)ceil(log2(load));
    if (bits > cfg->pow_max_bits)
        bits = cfg->pow_max_bits > cfg->pow_bits ? cfg->pow_max_bits : cfg->pow_bits;
    return bits;
}
