/* Authority votes (docs/directory.md "Votes"): the nodes one authority accepts, with their
 * fields and flags, the validity it proposes for the next map, and the map it builds on,
 * together with its own signature of that map's body (the swarm seed comes from these). */
#include "dir/internal.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/labels.h"
#include "util/err.h"

#define VOTE_BODY_MAX_BYTES (SH_DIR_VOTE_MAX_BYTES - 256)

/* Copies, sorts and checks the nodes an authority lists. */
static int sorted_nodes(const sh_dir_node *nodes, size_t n, sh_dir_node **out)
{
    sh_dir_node *copy;
    int rc;

    if (n > SH_DIR_MAX_NODES)
        return sh_err_set(SH_ERR_LIMIT, "a vote may list at most %d nodes, not %zu", SH_DIR_MAX_NODES, n);
    copy = malloc((n + 1) * sizeof *copy);
    if (copy == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a vote");
    memcpy(copy, nodes, n * sizeof *copy);
    qsort(copy, n, sizeof *copy, sh__dir_node_cmp_identity);
    for (size_t i = 0; i < n; i++) {
        copy[i].swarm_id = 0;
        if (i > 0 && sh__dir_node_cmp_identity(&copy[i - 1], &copy[i]) == 0) {
            free(copy);
            return sh_err_set(SH_ERR_INVALID, "a vote lists the same node twice");
        }
        if ((rc = sh__dir_node_check(&copy[i])) != SH_OK) {
            free(copy);
            return sh_err_wrap(rc, "vote node %zu", i);
        }
    }
    *out = copy;
    return SH_OK;
}

static int encode_vote(const sh_dir_network *net, const sh_dir_vote *v, bool has_prev, sh_buf *out)
{
    Shoal__Dir__Vote pb = SHOAL__DIR__VOTE__INIT;
    sh__dir_node_pb *nodes_pb = malloc((v->n_nodes + 1) * sizeof *nodes_pb);
    Shoal__Dir__Node **ptrs = malloc((v->n_nodes + 1) * sizeof *ptrs);
    int rc;

    if (nodes_pb == NULL || ptrs == NULL) {
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory encoding a vote");
        goto done;
    }
    pb.label = (char *)SH_LABEL_DIR_VOTE;
    pb.authority = sh__dir_bin(v->authority, SH_DIR_KEY_BYTES);
    pb.network_id = sh__dir_bin(sh_dir_network_id(net), SH_DIR_HASH_BYTES);
    pb.valid_after_ms = (uint64_t)v->valid_after_ms;
    pb.valid_until_ms = (uint64_t)v->valid_until_ms;
    if (has_prev) {
        pb.prev_version = v->prev_version;
        pb.prev_body_hash = sh__dir_bin(v->prev_body_hash, SH_DIR_HASH_BYTES);
        pb.prev_signature = sh__dir_bin(v->prev_signature, SH_DIR_SIGNATURE_BYTES);
    }
    for (size_t i = 0; i < v->n_nodes; i++) {
        sh__dir_node_to_pb(&v->nodes[i], &nodes_pb[i]);
        ptrs[i] = &nodes_pb[i].node;
    }
    pb.n_nodes = v->n_nodes;
    pb.nodes = ptrs;
    rc = sh__dir_pb_pack(&pb.base, VOTE_BODY_MAX_BYTES, out);
done:
    free(nodes_pb);
    free(ptrs);
    return rc;
}

int sh_dir_vote_create(const sh_dir_network *net, const sh_dir_map *prev,
                       const uint8_t authority_sk[static SH_DIR_SECRET_KEY_BYTES],
                       int64_t valid_after_ms, int64_t valid_until_ms, const sh_dir_node *nodes,
                       size_t n_nodes, sh_buf *out)
{
    Shoal__Dir__Signed s = SHOAL__DIR__SIGNED__INIT;
    uint8_t sig[SH_DIR_SIGNATURE_BYTES];
    sh_dir_vote v = {.valid_after_ms = valid_after_ms, .valid_until_ms = valid_until_ms};
    sh_buf body;
    size_t index;
    int rc;

    sh_buf_init(&body);
    memcpy(v.authority, authority_sk + 32, SH_DIR_KEY_BYTES);
    if (sh_dir_network_find(net, v.authority, &index) != SH_OK)
        return sh_err_set(SH_ERR_PERMISSION, "this key is not an authority of the network");
    if (valid_after_ms < 0 || valid_until_ms <= valid_after_ms)
        return sh_err_set(SH_ERR_RANGE, "the proposed validity ends before it starts");
    if ((rc = sorted_nodes(nodes, n_nodes, &v.nodes)) != SH_OK)
        return rc;
    v.n_nodes = n_nodes;
    if (prev != NULL) {
        v.prev_version = prev->version;
        memcpy(v.prev_body_hash, prev->body_hash, SH_DIR_HASH_BYTES);
        crypto_sign_detached(v.prev_signature, NULL, prev->body.data, prev->body.len, authority_sk);
    }
    if ((rc = encode_vote(net, &v, prev != NULL, &body)) != SH_OK)
        goto done;
    crypto_sign_detached(sig, NULL, body.data, body.len, authority_sk);
    s.body = sh__dir_bin(body.data, body.len);
    s.signature = sh__dir_bin(sig, sizeof sig);
    rc = sh__dir_pb_pack(&s.base, SH_DIR_VOTE_MAX_BYTES, out);
done:
    free(v.nodes);
    sh_buf_free(&body);
    return rc;
}

/* The vote must build on `prev` (or on nothing when prev is NULL). */
static int check_prev(const Shoal__Dir__Vote *pb, const sh_dir_map *prev)
{
    int rc;

    if (prev == NULL) {
        if (pb->prev_version != 0 || pb->prev_body_hash.len != 0 || pb->prev_signature.len != 0)
            return sh_err_set(SH_ERR_STALE, "vote builds on map version %" PRIu64 ", but this "
                              "authority has no map yet", pb->prev_version);
        return SH_OK;
    }
    if (pb->prev_version != prev->version || pb->prev_body_hash.len != SH_DIR_HASH_BYTES ||
        memcmp(pb->prev_body_hash.data, prev->body_hash, SH_DIR_HASH_BYTES) != 0)
        return sh_err_set(SH_ERR_STALE, "vote builds on map version %" PRIu64 ", not on version %"
                          PRIu64 " held here", pb->prev_version, prev->version);
    if ((rc = sh__dir_check_len(&pb->prev_signature, SH_DIR_SIGNATURE_BYTES,
                                "vote's previous map signature")) != SH_OK)
        return rc;
    if (crypto_sign_verify_detached(pb->prev_signature.data, prev->body.data, prev->body.len,
                                    pb->authority.data) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "the vote's signature of the previous map does not verify");
    return SH_OK;
}

/* Checks the decoded vote body (already known to be signed by pb->authority) and fills v. */
static int vote_from_pb(const Shoal__Dir__Vote *pb, const sh_dir_network *net,
                        const sh_dir_map *prev, sh_dir_vote *v)
{
    int rc;

    if (pb->network_id.len != SH_DIR_HASH_BYTES ||
        memcmp(pb->network_id.data, sh_dir_network_id(net), SH_DIR_HASH_BYTES) != 0)
        return sh_err_set(SH_ERR_PROTOCOL, "vote is for another network");
    if ((rc = sh__dir_check_time(pb->valid_after_ms, "vote valid-after")) != SH_OK ||
        (rc = sh__dir_check_time(pb->valid_until_ms, "vote valid-until")) != SH_OK)
        return rc;
    if (pb->valid_until_ms <= pb->valid_after_ms)
        return sh_err_set(SH_ERR_RANGE, "vote's proposed validity ends before it starts");
    if ((rc = check_prev(pb, prev)) != SH_OK)
        return rc;
    if (pb->n_nodes > SH_DIR_MAX_NODES)
        return sh_err_set(SH_ERR_LIMIT, "vote lists %zu nodes, more than %d", pb->n_nodes, SH_DIR_MAX_NODES);
    memcpy(v->authority, pb->authority.data, SH_DIR_KEY_BYTES);
    v->valid_after_ms = (int64_t)pb->valid_after_ms;
    v->valid_until_ms = (int64_t)pb->valid_until_ms;
    v->prev_version = pb->prev_version;
    if (prev != NULL) {
        memcpy(v->prev_body_hash, pb->prev_body_hash.data, SH_DIR_HASH_BYTES);
        memcpy(v->prev_signature, pb->prev_signature.data, SH_DIR_SIGNATURE_BYTES);
    }
    v->nodes = malloc((pb->n_nodes + 1) * sizeof *v->nodes);
    if (v->nodes == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a vote");
    for (v->n_nodes = 0; v->n_nodes < pb->n_nodes; v->n_nodes++) {
        sh_dir_node *n = &v->nodes[v->n_nodes];
        if ((rc = sh__dir_node_from_pb(pb->nodes[v->n_nodes], n)) != SH_OK)
            return sh_err_wrap(rc, "vote node %zu", v->n_nodes);
        if (n->swarm_id != 0)
            return sh_err_set(SH_ERR_FORMAT, "vote node %zu names a swarm; votes do not", v->n_nodes);
        if (v->n_nodes > 0 && sh__dir_node_cmp_identity(n - 1, n) >= 0)
            return sh_err_set(SH_ERR_FORMAT, "vote nodes are not sorted by identity, each once");
    }
    return SH_OK;
}

int sh_dir_vote_load(const uint8_t *bytes, size_t len, const sh_dir_network *net,
                     const sh_dir_map *prev, sh_dir_vote **out)
{
    ProtobufCMessage *sm = NULL, *vm = NULL;
    const Shoal__Dir__Signed *s;
    const Shoal__Dir__Vote *pb;
    sh_dir_vote *v = calloc(1, sizeof *v);
    char who[9];
    size_t index;
    int rc;

    if (v == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a vote");
    if ((rc = sh__dir_pb_unpack(&shoal__dir__signed__descriptor, bytes, len, SH_DIR_VOTE_MAX_BYTES,
                                "signed vote", &sm)) != SH_OK)
        goto done;
    s = (const Shoal__Dir__Signed *)sm;
    if ((rc = sh__dir_check_len(&s->signature, SH_DIR_SIGNATURE_BYTES, "vote signature")) != SH_OK ||
        (rc = sh__dir_pb_unpack(&shoal__dir__vote__descriptor, s->body.data, s->body.len,
                                VOTE_BODY_MAX_BYTES, "vote", &vm)) != SH_OK)
        goto done;
    pb = (const Shoal__Dir__Vote *)vm;
    if ((rc = sh__dir_check_label(pb->label, SH_LABEL_DIR_VOTE, "vote")) != SH_OK ||
        (rc = sh__dir_check_len(&pb->authority, SH_DIR_KEY_BYTES, "vote authority")) != SH_OK)
        goto done;
    sh__dir_short_id(who, pb->authority.data);
    if (sh_dir_network_find(net, pb->authority.data, &index) != SH_OK) {
        rc = sh_err_set(SH_ERR_PERMISSION, "vote by %s, which is not an authority of this network", who);
        goto done;
    }
    if (crypto_sign_verify_detached(s->signature.data, s->body.data, s->body.len, pb->authority.data) != 0) {
        rc = sh_err_set(SH_ERR_CRYPTO, "the signature of the vote by authority %s does not verify", who);
        goto done;
    }
    if ((rc = vote_from_pb(pb, net, prev, v)) != SH_OK) {
        rc = sh_err_wrap(rc, "vote by authority %s", who);
        goto done;
    }
    *out = v;
    v = NULL;
done:
    sh_dir_vote_free(v);
    if (vm != NULL)
        protobuf_c_message_free_unpacked(vm, NULL);
    if (sm != NULL)
        protobuf_c_message_free_unpacked(sm, NULL);
    return rc;
}

void sh_dir_vote_free(sh_dir_vote *vote)
{
    if (vote == NULL)
        return;
    free(vote->nodes);
    free(vote);
}

const uint8_t *sh_dir_vote_authority(const sh_dir_vote *vote) { return vote->authority; }

const sh_dir_node *sh_dir_vote_nodes(const sh_dir_vote *vote, size_t *count)
{
    *count = vote->n_nodes;
    return vote->nodes;
}
