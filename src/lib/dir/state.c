/* The saved registry of an authority (file "registry" in its data folder; proto
 * AuthorityState): each admitted node's signed descriptor, whether its last reachability test
 * succeeded, since when it has been reachable (or failing but still listed) and when it was last
 * tested. Written atomically by the authority; read back at start, when every descriptor is
 * verified again like a new submission, so a damaged or edited file can add nothing the
 * authority would not accept. */
#include "dir/rpc.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define STATE_FORMAT 1

int sh__dir_state_encode(const uint8_t network_id[static SH_DIR_HASH_BYTES],
                         const sh__dir_state_entry *entries, size_t n, sh_buf *out)
{
    Shoal__Dirnet__AuthorityState pb = SHOAL__DIRNET__AUTHORITY_STATE__INIT;
    Shoal__Dirnet__RegistryEntry *e = calloc(n + 1, sizeof *e);
    Shoal__Dirnet__RegistryEntry **ptrs = calloc(n + 1, sizeof *ptrs);
    int rc;

    if (e == NULL || ptrs == NULL) {
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory saving the registry");
        goto done;
    }
    pb.format = STATE_FORMAT;
    pb.network_id = sh__dir_bin(network_id, SH_DIR_HASH_BYTES);
    for (size_t i = 0; i < n; i++) {
        shoal__dirnet__registry_entry__init(&e[i]);
        e[i].descriptor = sh__dir_bin(entries[i].descriptor, entries[i].len);
        e[i].reachable = entries[i].reachable;
        e[i].stable_since_ms = (uint64_t)entries[i].stable_since_ms;
        e[i].tested_ms = (uint64_t)entries[i].tested_ms;
        e[i].failing_since_ms = (uint64_t)entries[i].failing_since_ms;
        ptrs[i] = &e[i];
    }
    pb.n_entries = n;
    pb.entries = ptrs;
    rc = sh__dir_pb_pack(&pb.base, SH__DIR_STATE_MAX_BYTES, out);
done:
    free(e);
    free(ptrs);
    return rc;
}

static int check_entry(const Shoal__Dirnet__RegistryEntry *e, size_t i)
{
    if (e->descriptor.len == 0 || e->descriptor.len > SH_DIR_DESCRIPTOR_MAX_BYTES)
        return sh_err_set(SH_ERR_FORMAT, "registry entry %zu: a descriptor of %zu bytes", i,
                          e->descriptor.len);
    if (e->stable_since_ms > (uint64_t)INT64_MAX || e->tested_ms > (uint64_t)INT64_MAX ||
        e->failing_since_ms > (uint64_t)INT64_MAX)
        return sh_err_set(SH_ERR_RANGE, "registry entry %zu: a time out of range", i);
    return SH_OK;
}

static int check_state(const Shoal__Dirnet__AuthorityState *pb,
                       const uint8_t network_id[static SH_DIR_HASH_BYTES])
{
    if (pb->format != STATE_FORMAT)
        return sh_err_set(SH_ERR_UNSUPPORTED, "registry file format %u (this build reads %d)",
                          pb->format, STATE_FORMAT);
    if (pb->network_id.len != SH_DIR_HASH_BYTES ||
        memcmp(pb->network_id.data, network_id, SH_DIR_HASH_BYTES) != 0)
        return sh_err_set(SH_ERR_PROTOCOL, "the registry file belongs to another network");
    if (pb->n_entries > SH_DIR_MAX_NODES)
        return sh_err_set(SH_ERR_LIMIT, "the registry file lists %zu nodes, more than %d",
                          pb->n_entries, SH_DIR_MAX_NODES);
    for (size_t i = 0; i < pb->n_entries; i++) {
        int rc = check_entry(pb->entries[i], i);
        if (rc != SH_OK)
            return rc;
    }
    return SH_OK;
}

int sh__dir_state_decode(const uint8_t *in, size_t len, const uint8_t network_id[static SH_DIR_HASH_BYTES],
                         Shoal__Dirnet__AuthorityState **pb_out, sh__dir_state_entry **entries,
                         size_t *n)
{
    Shoal__Dirnet__AuthorityState *pb;
    sh__dir_state_entry *e;
    int rc;

    if (len > SH__DIR_STATE_MAX_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "the registry file is %zu bytes, over the limit", len);
    pb = shoal__dirnet__authority_state__unpack(NULL, len, in);
    if (pb == NULL)
        return sh_err_set(SH_ERR_FORMAT, "the registry file is not a valid AuthorityState");
    rc = check_state(pb, network_id);
    e = rc == SH_OK ? calloc(pb->n_entries + 1, sizeof *e) : NULL;
    if (rc == SH_OK && e == NULL)
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory reading the registry");
    if (rc != SH_OK) {
        shoal__dirnet__authority_state__free_unpacked(pb, NULL);
        return rc;
    }
    for (size_t i = 0; i < pb->n_entries; i++) {
        e[i].descriptor = pb->entries[i]->descriptor.data;
        e[i].len = pb->entries[i]->descriptor.len;
        e[i].reachable = pb->entries[i]->reachable;
        e[i].stable_since_ms = (int64_t)pb->entries[i]->stable_since_ms;
        e[i].tested_ms = (int64_t)pb->entries[i]->tested_ms;
        e[i].failing_since_ms = (int64_t)pb->entries[i]->failing_since_ms;
    }
    *pb_out = pb;
    *entries = e;
    *n = pb->n_entries;
    return SH_OK;
}
