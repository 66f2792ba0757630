/* Admission policy of an authority (docs/directory.md "Admission"; overview.md "Directory"):
 * open or an allow-list of operator keys (or node identities), at most N nodes per IPv4 /16
 * (IPv6 /32) except on loopback, at most N per operator, and the Guard flag once a node has been
 * stable for the configured time. The authority verifies the descriptor first (which checks the
 * operator's grant), then asks this module. */
#include "dir/internal.h"

#include <string.h>

#include "util/err.h"

static bool is_allowed(const sh_dir_policy *p, const sh_dir_node *n)
{
    for (size_t i = 0; i < p->n_allowed; i++)
        if (memcmp(p->allowed[i], n->identity, SH_DIR_KEY_BYTES) == 0 ||
            (n->has_operator && memcmp(p->allowed[i], n->operator_key, SH_DIR_KEY_BYTES) == 0))
            return true;
    return false;
}

/* The network prefix the per-/16 limit counts: family and 2 (IPv4) or 4 (IPv6) bytes. */
static bool prefix_of(const char *address, uint8_t out[5])
{
    uint8_t ip[16];
    size_t ip_len;
    uint16_t port;

    if (sh_dir_address_parse(address, ip, &ip_len, &port) != SH_OK)
        return false;
    memset(out, 0, 5);
    out[0] = (uint8_t)ip_len;
    memcpy(out + 1, ip, ip_len == 4 ? 2 : 4);
    return true;
}

static int check_limits(const sh_dir_policy *p, const sh_dir_node *c, const sh_dir_node *admitted,
                        size_t n)
{
    uint8_t mine[5], theirs[5];
    bool limit_net = p->max_per_16 > 0 && !sh_dir_address_is_loopback(c->address);
    unsigned same_net = 0, same_op = 0;

    if (limit_net && !prefix_of(c->address, mine))
        return sh_err_set(SH_ERR_FORMAT, "the node's address %s is malformed", c->address);
    for (size_t i = 0; i < n; i++) {
        const sh_dir_node *a = &admitted[i];
        if (memcmp(a->identity, c->identity, SH_DIR_KEY_BYTES) == 0)
            continue;
        if (memcmp(a->link_key, c->link_key, SH_DIR_KEY_BYTES) == 0)
            return sh_err_set(SH_ERR_EXISTS, "another admitted node already uses this link key");
        if (limit_net && prefix_of(a->address, theirs) && memcmp(mine, theirs, 5) == 0)
            same_net++;
        if (c->has_operator && a->has_operator &&
            memcmp(a->operator_key, c->operator_key, SH_DIR_KEY_BYTES) == 0)
            same_op++;
    }
    if (limit_net && same_net >= p->max_per_16)
        return sh_err_set(SH_ERR_LIMIT, "%u nodes are already admitted from the network of %s "
                          "(the limit per /16 is %u)", same_net, c->address, p->max_per_16);
    if (c->has_operator && p->max_per_operator > 0 && same_op >= p->max_per_operator)
        return sh_err_set(SH_ERR_LIMIT, "this operator already runs %u admitted nodes (the limit "
                          "is %u)", same_op, p->max_per_operator);
    return SH_OK;
}

int sh_dir_policy_admit(const sh_dir_policy *policy, const sh_dir_node *candidate,
                        const sh_dir_node *admitted, size_t n_admitted)
{
    char who[9];

    if (!policy->open && !is_allowed(policy, candidate)) {
        sh__dir_short_id(who, candidate->identity);
        return sh_err_set(SH_ERR_PERMISSION, "node %s is not on the allow-list (neither its "
                          "identity nor its operator key)", who);
    }
    return check_limits(policy, candidate, admitted, n_admitted);
}

uint32_t sh_dir_policy_flags(const sh_dir_policy *policy, int64_t stable_since_ms, int64_t now_ms)
{
    uint32_t flags = 0;

    if (policy->guard_stable_ms >= 0 && now_ms >= stable_since_ms &&
        now_ms - stable_since_ms >= policy->guard_stable_ms)
        flags |= SH_DIR_FLAG_GUARD;
    return flags;
}
