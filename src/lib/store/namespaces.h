/* The namespaces of an account's swarm, their rights and limits: the table of overview.md
 * "Namespaces of an account's swarm", as named constants in one place. The store enforces what it
 * can see (known namespace, max TTL, single slots); the node enforces who may store and read.
 *
 *   ns    holds                          store             read            max TTL  slots
 *   0     sealed envelopes (1:1 inbox)   anyone (PoW)      owner or token  14 d     -
 *   2-5   config records                 owner or token    owner or token  30 d     -
 *   10    envelope key / prekey bundles  owner or token    anyone          30 d     one per device
 *   11    account-signed device list     primary           anyone          30 d     one
 *   12    token revocation list          primary           anyone          30 d     one
 *
 * Every other namespace is unknown and rejected. Group namespaces are not defined yet. */
#ifndef SH_STORE_NAMESPACES_H
#define SH_STORE_NAMESPACES_H

#include <stdbool.h>
#include <stdint.h>

#include "util/time.h"

#define SH_NS_INBOX 0
#define SH_NS_CONFIG_FIRST 2
#define SH_NS_CONFIG_LAST 5
#define SH_NS_PREKEYS 10
#define SH_NS_DEVICE_LIST 11
#define SH_NS_REVOCATIONS 12

#define SH_NS_INBOX_MAX_TTL_MS (14 * SH_MS_PER_DAY)
#define SH_NS_CONFIG_MAX_TTL_MS (30 * SH_MS_PER_DAY)
#define SH_NS_PUBLIC_MAX_TTL_MS (30 * SH_MS_PER_DAY)
/* The longest max TTL of any namespace (bounds tombstone lifetimes). */
#define SH_NS_LONGEST_MAX_TTL_MS SH_NS_CONFIG_MAX_TTL_MS

typedef enum sh_ns_writer {
    SH_NS_WRITE_ANYONE = 1,         /* anyone, with a proof of work and the inbox limits */
    SH_NS_WRITE_OWNER_OR_TOKEN = 2, /* the owner's key or a device with a token for it */
    SH_NS_WRITE_PRIMARY = 3,        /* only the account key itself (the primary device) */
} sh_ns_writer;

typedef enum sh_ns_reader {
    SH_NS_READ_OWNER_OR_TOKEN = 1,
    SH_NS_READ_ANYONE = 2,
} sh_ns_reader;

typedef enum sh_ns_slots {
    SH_NS_SLOTS_NONE = 0,       /* any number of messages, up to the per-namespace limits */
    SH_NS_SLOTS_PER_DEVICE = 1, /* one message per device key (the caller names the slot) */
    SH_NS_SLOTS_SINGLE = 2,     /* one message per account */
} sh_ns_slots;

typedef struct sh_ns_info {
    int16_t ns;
    const char *name;
    sh_ns_writer writer;
    sh_ns_reader reader;
    sh_ns_slots slots;
    int64_t max_ttl_ms;
} sh_ns_info;

/* The row of the table for `ns`, or NULL when the namespace is unknown. */
const sh_ns_info *sh_store_ns_lookup(int ns);

#endif
