/* The namespace table of overview.md (see namespaces.h). */
#include "store/namespaces.h"

#include <stddef.h>

static const sh_ns_info ns_table[] = {
    {SH_NS_INBOX, "inbox", SH_NS_WRITE_ANYONE, SH_NS_READ_OWNER_OR_TOKEN, SH_NS_SLOTS_NONE,
     SH_NS_INBOX_MAX_TTL_MS},
    {2, "config-2", SH_NS_WRITE_OWNER_OR_TOKEN, SH_NS_READ_OWNER_OR_TOKEN, SH_NS_SLOTS_NONE,
     SH_NS_CONFIG_MAX_TTL_MS},
    {3, "config-3", SH_NS_WRITE_OWNER_OR_TOKEN, SH_NS_READ_OWNER_OR_TOKEN, SH_NS_SLOTS_NONE,
     SH_NS_CONFIG_MAX_TTL_MS},
    {4, "config-4", SH_NS_WRITE_OWNER_OR_TOKEN, SH_NS_READ_OWNER_OR_TOKEN, SH_NS_SLOTS_NONE,
     SH_NS_CONFIG_MAX_TTL_MS},
    {5, "config-5", SH_NS_WRITE_OWNER_OR_TOKEN, SH_NS_READ_OWNER_OR_TOKEN, SH_NS_SLOTS_NONE,
     SH_NS_CONFIG_MAX_TTL_MS},
    {SH_NS_PREKEYS, "prekeys", SH_NS_WRITE_OWNER_OR_TOKEN, SH_NS_READ_ANYONE,
     SH_NS_SLOTS_PER_DEVICE, SH_NS_PUBLIC_MAX_TTL_MS},
    {SH_NS_DEVICE_LIST, "device-list", SH_NS_WRITE_PRIMARY, SH_NS_READ_ANYONE, SH_NS_SLOTS_SINGLE,
     SH_NS_PUBLIC_MAX_TTL_MS},
    {SH_NS_REVOCATIONS, "revocations", SH_NS_WRITE_PRIMARY, SH_NS_READ_ANYONE, SH_NS_SLOTS_SINGLE,
     SH_NS_PUBLIC_MAX_TTL_MS},
};

_Static_assert(SH_NS_CONFIG_LAST - SH_NS_CONFIG_FIRST == 3, "the table lists namespaces 2 to 5");
_Static_assert(SH_NS_LONGEST_MAX_TTL_MS >= SH_NS_INBOX_MAX_TTL_MS &&
                   SH_NS_LONGEST_MAX_TTL_MS >= SH_NS_PUBLIC_MAX_TTL_MS,
               "SH_NS_LONGEST_MAX_TTL_MS must be the longest max TTL");

const sh_ns_info *sh_store_ns_lookup(int ns)
{
    for (size_t i = 0; i < sizeof ns_table / sizeof ns_table[0]; i++)
        if (ns_table[i].ns == ns)
            return &ns_table[i];
    return NULL;
}
