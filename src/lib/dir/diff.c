/* Map diffs (docs/directory.md "Diffs"): what changed from one map body to the next, so that a
 * client or node holding version N fetches only the changes. A diff carries the new body's
 * header and swarms whole, the identities of removed nodes, the new or changed node entries, and
 * the new map's signatures. Applying it re-encodes the new body with the one map encoder, checks
 * its hash against the diff's, and leaves the signatures to sh_dir_map_verify. */
#include "dir/internal.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/labels.h"
#include "util/err.h"

static bool onion_equal(const sh_dir_onion_key *a, const sh_dir_onion_key *b)
{
    return a->epoch == b->epoch && a->valid_after_ms == b->valid_after_ms &&
           a->valid_until_ms == b->valid_until_ms && memcmp(a->public_key, b->public_key, 32) == 0 &&
           memcmp(a->signature, b->signature, 64) == 0;
}

/* Equal as map entries (the fields a map carries). */
static bool node_equal(const sh_dir_node *a, const sh_dir_node *b)
{
    return memcmp(a->identity, b->identity, 32) == 0 && memcmp(a->link_key, b->link_key, 32) == 0 &&
           onion_equal(&a->onion_current, &b->onion_current) &&
           onion_equal(&a->onion_next, &b->onion_next) && strcmp(a->address, b->address) == 0 &&
           strcmp(a->version, b->version) == 0 && strcmp(a->contact, b->contact) == 0 &&
           a->has_operator == b->has_operator &&
           (!a->has_operator || memcmp(a->operator_key, b->operator_key, 32) == 0) &&
           a->flags == b->flags && a->swarm_id == b->swarm_id;
}

/* Storage for the repeated fields of a diff being encoded. */
typedef struct diff_parts {
    ProtobufCBinaryData *removed;
    size_t n_removed;
    sh__dir_node_pb *changed_pb;
    Shoal__Dir__Node **changed;
    size_t n_changed;
} diff_parts;

/* Walks both sorted node lists: removed identities and new or changed entries. */
static void compare_nodes(const sh_dir_map *from, const sh_dir_map *to, diff_parts *p)
{
    size_t i = 0, j = 0;

    while (i < from->n_nodes || j < to->n_nodes) {
        int c = i == from->n_nodes ? 1 : j == to->n_nodes ? -1
                                                          : sh__dir_node_cmp_identity(&from->nodes[i], &to->nodes[j]);
        if (c < 0) {
            p->removed[p->n_removed++] = sh__dir_bin(from->nodes[i++].identity, SH_DIR_KEY_BYTES);
            continue;
        }
        if (c > 0 || !node_equal(&from->nodes[i], &to->nodes[j])) {
            sh__dir_node_to_pb(&to->nodes[j], &p->changed_pb[p->n_changed]);
            p->changed[p->n_changed] = &p->changed_pb[p->n_changed].node;
            p->n_changed++;
        }
        if (c == 0)
            i++;
        j++;
    }
}

int sh_dir_map_diff(const sh_dir_map *from, const sh_dir_map *to, sh_buf *out)
{
    Shoal__Dir__MapDiff d = SHOAL__DIR__MAP_DIFF__INIT;
    Shoal__Dir__MapBody head;
    Shoal__Dir__Swarm *swarms_pb = malloc((to->n_swarms + 1) * sizeof *swarms_pb);
    Shoal__Dir__Swarm **swarm_ptrs = malloc((to->n_swarms + 1) * sizeof *swarm_ptrs);
    Shoal__Dir__Signature sigs[SH_DIR_MAX_AUTHORITIES], *sig_ptrs[SH_DIR_MAX_AUTHORITIES];
    diff_parts p = {.removed = malloc((from->n_nodes + 1) * sizeof *p.removed),
                    .changed_pb = malloc((to->n_nodes + 1) * sizeof *p.changed_pb),
                    .changed = malloc((to->n_nodes + 1) * sizeof *p.changed)};
    int rc;

    if (swarms_pb == NULL || swarm_ptrs == NULL || p.removed == NULL || p.changed_pb == NULL ||
        p.changed == NULL) {
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory making a map diff");
        goto done;
    }
    compare_nodes(from, to, &p);
    sh__dir_body_to_pb(to, &head, swarms_pb, swarm_ptrs, NULL, NULL);
    for (size_t i = 0; i < to->n_sigs; i++) {
        shoal__dir__signature__init(&sigs[i]);
        sigs[i].authority = sh__dir_bin(to->sigs[i].authority, SH_DIR_KEY_BYTES);
        sigs[i].signature = sh__dir_bin(to->sigs[i].sig, SH_DIR_SIGNATURE_BYTES);
        sig_ptrs[i] = &sigs[i];
    }
    d.label = (char *)SH_LABEL_DIR_MAP_DIFF;
    d.from_body_hash = sh__dir_bin(from->body_hash, SH_DIR_HASH_BYTES);
    d.to_body_hash = sh__dir_bin(to->body_hash, SH_DIR_HASH_BYTES);
    d.head = &head;
    d.n_removed = p.n_removed;
    d.removed = p.removed;
    d.n_changed = p.n_changed;
    d.changed = p.changed;
    d.n_signatures = to->n_sigs;
    d.signatures = sig_ptrs;
    rc = sh__dir_pb_pack(&d.base, SH_DIR_DIFF_MAX_BYTES, out);
done:
    free(swarms_pb);
    free(swarm_ptrs);
    free(p.removed);
    free(p.changed_pb);
    free(p.changed);
    return rc;
}

/* The checks a diff passes before it is applied. */
static int check_diff(const Shoal__Dir__MapDiff *d, const sh_dir_map *from)
{
    int rc;

    if ((rc = sh__dir_check_label(d->label, SH_LABEL_DIR_MAP_DIFF, "map diff")) != SH_OK ||
        (rc = sh__dir_check_len(&d->from_body_hash, SH_DIR_HASH_BYTES, "diff's from-hash")) != SH_OK ||
        (rc = sh__dir_check_len(&d->to_body_hash, SH_DIR_HASH_BYTES, "diff's to-hash")) != SH_OK)
        return rc;
    if (memcmp(d->from_body_hash.data, from->body_hash, SH_DIR_HASH_BYTES) != 0)
        return sh_err_set(SH_ERR_STALE, "the diff does not start from the map held (version %llu)",
                          (unsigned long long)from->version);
    if (d->head == NULL || d->head->n_nodes != 0)
        return sh_err_set(SH_ERR_FORMAT, "the diff's head must be a map body without nodes");
    if (d->n_removed > from->n_nodes || d->n_changed > SH_DIR_MAX_NODES)
        return sh_err_set(SH_ERR_LIMIT, "the diff removes or changes more nodes than a map holds");
    for (size_t i = 0; i < d->n_removed; i++) {
        if ((rc = sh__dir_check_len(&d->removed[i], SH_DIR_KEY_BYTES, "removed node")) != SH_OK)
            return rc;
        if (i > 0 && memcmp(d->removed[i - 1].data, d->removed[i].data, SH_DIR_KEY_BYTES) >= 0)
            return sh_err_set(SH_ERR_FORMAT, "the diff's removed nodes are not sorted, each once");
    }
    return SH_OK;
}

/* Decodes the diff's changed entries, which must be sorted by identity, each once. */
static int decode_changed(const Shoal__Dir__MapDiff *d, sh_dir_node **out)
{
    sh_dir_node *changed = malloc((d->n_changed + 1) * sizeof *changed);
    int rc = SH_OK;

    if (changed == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory applying a map diff");
    for (size_t c = 0; c < d->n_changed && rc == SH_OK; c++) {
        if ((rc = sh__dir_node_from_pb(d->changed[c], &changed[c])) != SH_OK)
            rc = sh_err_wrap(rc, "diff node %zu", c);
        else if (c > 0 && sh__dir_node_cmp_identity(&changed[c - 1], &changed[c]) >= 0)
            rc = sh_err_set(SH_ERR_FORMAT, "the diff's nodes are not sorted by identity, each once");
    }
    if (rc != SH_OK) {
        free(changed);
        return rc;
    }
    *out = changed;
    return SH_OK;
}

/* from's nodes, minus the removed ones, with the changed ones put in or replaced. */
static int merge_nodes(const Shoal__Dir__MapDiff *d, const sh_dir_node *changed,
                       const sh_dir_map *from, sh_dir_map *map)
{
    size_t i = 0, r = 0, c = 0, nf = from->n_nodes, nc = d->n_changed;

    map->nodes = malloc((nf + nc + 1) * sizeof *map->nodes);
    if (map->nodes == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory applying a map diff");
    while (i < nf || c < nc) {
        int cmp;
        if (i < nf && r < d->n_removed &&
            memcmp(from->nodes[i].identity, d->removed[r].data, SH_DIR_KEY_BYTES) == 0) {
            if (c < nc && sh__dir_node_cmp_identity(&changed[c], &from->nodes[i]) == 0)
                return sh_err_set(SH_ERR_FORMAT, "the diff both removes and changes a node");
            i++, r++;
            continue;
        }
        cmp = i == nf ? 1 : c == nc ? -1 : sh__dir_node_cmp_identity(&from->nodes[i], &changed[c]);
        if (cmp < 0) {
            map->nodes[map->n_nodes++] = from->nodes[i++];
        } else {
            map->nodes[map->n_nodes++] = changed[c++];
            i += cmp == 0;
        }
    }
    if (r != d->n_removed)
        return sh_err_set(SH_ERR_FORMAT, "the diff removes a node the map does not have");
    return SH_OK;
}

int sh_dir_map_apply_diff(const sh_dir_map *from, const uint8_t *diff, size_t len, sh_dir_map **out)
{
    ProtobufCMessage *dm = NULL;
    const Shoal__Dir__MapDiff *d;
    sh_dir_map *map = NULL;
    sh_dir_node *changed = NULL;
    int rc;

    if ((rc = sh__dir_pb_unpack(&shoal__dir__map_diff__descriptor, diff, len, SH_DIR_DIFF_MAX_BYTES,
                                "map diff", &dm)) != SH_OK)
        goto done;
    d = (const Shoal__Dir__MapDiff *)dm;
    if ((rc = check_diff(d, from)) != SH_OK || (rc = sh__dir_map_alloc(&map)) != SH_OK ||
        (rc = sh__dir_body_head_from_pb(d->head, map)) != SH_OK ||
        (rc = decode_changed(d, &changed)) != SH_OK || (rc = merge_nodes(d, changed, from, map)) != SH_OK ||
        (rc = sh__dir_sigs_from_pb(d->signatures, d->n_signatures, map)) != SH_OK)
        goto done;
    if ((rc = sh__dir_map_seal(map)) != SH_OK) {
        rc = sh_err_wrap(rc, "the map a diff makes");
        goto done;
    }
    if (memcmp(map->body_hash, d->to_body_hash.data, SH_DIR_HASH_BYTES) != 0) {
        rc = sh_err_set(SH_ERR_CHECKSUM, "the diff does not rebuild the map it names (body hash differs)");
        goto done;
    }
    *out = map;
    map = NULL;
done:
    free(changed);
    sh_dir_map_free(map);
    if (dm != NULL)
        protobuf_c_message_free_unpacked(dm, NULL);
    return rc;
}
