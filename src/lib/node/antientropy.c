/* Anti-entropy between swarm peers (docs/node.md "Anti-entropy"): not yet written; the timer
 * and the handover are stubs. */
#include "node/join.h"

int sh__node_ae_start(sh_node *n)
{
    (void)n;
    return SH_OK;
}

void sh__node_ae_stop(sh_node *n)
{
    (void)n;
}

void sh__node_ae_free(sh_node *n)
{
    (void)n;
}

void sh__node_handover(sh_node *n)
{
    (void)n;
}
