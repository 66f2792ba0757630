/* Nodes and their onion keys on the wire (proto/dir.proto Node, OnionKey; docs/directory.md
 * "Node entries"). One checker holds the rules every node entry obeys, whether it is about to be
 * encoded or has just been decoded, in a descriptor, a vote or a map. */
#include "dir/internal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "crypto/labels.h"
#include "util/err.h"

static int check_array_text(const char *s, size_t max, bool allow_empty, const char *what)
{
    if (memchr(s, '\0', max + 1) == NULL)
        return sh_err_set(SH_ERR_LIMIT, "%s is longer than %zu characters", what, max);
    return sh__dir_check_text(s, max, allow_empty, what);
}

static int check_onion(const sh_dir_onion_key *k, const char *which)
{
    if (k->valid_after_ms < 0 || k->valid_until_ms <= k->valid_after_ms)
        return sh_err_set(SH_ERR_RANGE, "%s onion key (epoch %llu) ends before it starts", which,
                          (unsigned long long)k->epoch);
    return SH_OK;
}

int sh__dir_node_check(const sh_dir_node *n)
{
    static const uint8_t zero[SH_DIR_KEY_BYTES];
    uint8_t ip[16];
    size_t ip_len;
    uint16_t port;
    int rc;

    if ((rc = check_array_text(n->address, SH_DIR_ADDRESS_MAX, false, "address")) != SH_OK ||
        (rc = sh_dir_address_parse(n->address, ip, &ip_len, &port)) != SH_OK ||
        (rc = check_array_text(n->version, SH_DIR_VERSION_MAX, false, "version")) != SH_OK ||
        (rc = check_array_text(n->contact, SH_DIR_CONTACT_MAX, true, "operator contact")) != SH_OK)
        return rc;
    if (memcmp(n->link_key, zero, sizeof zero) == 0)
        return sh_err_set(SH_ERR_FORMAT, "link key is all zeros");
    if (n->onion_current.epoch == UINT64_MAX || n->onion_next.epoch != n->onion_current.epoch + 1)
        return sh_err_set(SH_ERR_FORMAT, "next onion key has epoch %llu; it must follow the "
                          "current epoch %llu", (unsigned long long)n->onion_next.epoch,
                          (unsigned long long)n->onion_current.epoch);
    if ((rc = check_onion(&n->onion_current, "current")) != SH_OK ||
        (rc = check_onion(&n->onion_next, "next")) != SH_OK)
        return rc;
    if ((n->flags & ~SH_DIR_FLAGS_KNOWN) != 0)
        return sh_err_set(SH_ERR_FORMAT, "unknown node flags 0x%x", n->flags & ~SH_DIR_FLAGS_KNOWN);
    return SH_OK;
}

int sh__dir_node_cmp_identity(const void *a, const void *b)
{
    return memcmp(((const sh_dir_node *)a)->identity, ((const sh_dir_node *)b)->identity,
                  SH_DIR_KEY_BYTES);
}

void sh__dir_onion_to_pb(const sh_dir_onion_key *k, const uint8_t identity[static 32],
                         Shoal__Dir__OnionKey *pb)
{
    shoal__dir__onion_key__init(pb);
    pb->label = (char *)SH_LABEL_DIR_ONION_KEY;
    pb->node_identity = sh__dir_bin(identity, SH_DIR_KEY_BYTES);
    pb->epoch = k->epoch;
    pb->public_key = sh__dir_bin(k->public_key, SH_DIR_KEY_BYTES);
    pb->valid_after_ms = (uint64_t)k->valid_after_ms;
    pb->valid_until_ms = (uint64_t)k->valid_until_ms;
}

void sh__dir_node_to_pb(const sh_dir_node *n, sh__dir_node_pb *pb)
{
    Shoal__Dir__Node *m = &pb->node;

    shoal__dir__node__init(m);
    sh__dir_onion_to_pb(&n->onion_current, n->identity, &pb->cur);
    sh__dir_onion_to_pb(&n->onion_next, n->identity, &pb->next);
    m->identity = sh__dir_bin(n->identity, SH_DIR_KEY_BYTES);
    m->link_key = sh__dir_bin(n->link_key, SH_DIR_KEY_BYTES);
    m->onion_current = &pb->cur;
    m->onion_current_sig = sh__dir_bin(n->onion_current.signature, SH_DIR_SIGNATURE_BYTES);
    m->onion_next = &pb->next;
    m->onion_next_sig = sh__dir_bin(n->onion_next.signature, SH_DIR_SIGNATURE_BYTES);
    m->address = (char *)n->address;
    m->version = (char *)n->version;
    m->contact = (char *)n->contact;
    if (n->has_operator)
        m->operator_key = sh__dir_bin(n->operator_key, SH_DIR_KEY_BYTES);
    m->flags = n->flags;
    m->swarm_id = n->swarm_id;
}

int sh__dir_onion_from_pb(const Shoal__Dir__OnionKey *pb, const ProtobufCBinaryData *sig,
                          const uint8_t identity[static 32], const char *which, sh_dir_onion_key *out)
{
    int rc;

    if (pb == NULL)
        return sh_err_set(SH_ERR_FORMAT, "the %s onion key is missing", which);
    if ((rc = sh__dir_check_label(pb->label, SH_LABEL_DIR_ONION_KEY, "onion key")) != SH_OK ||
        (rc = sh__dir_check_len(&pb->node_identity, SH_DIR_KEY_BYTES, "onion key's node")) != SH_OK ||
        (rc = sh__dir_check_len(&pb->public_key, SH_DIR_KEY_BYTES, "onion public key")) != SH_OK ||
        (rc = sh__dir_check_len(sig, SH_DIR_SIGNATURE_BYTES, "onion key signature")) != SH_OK ||
        (rc = sh__dir_check_time(pb->valid_after_ms, "onion key start")) != SH_OK ||
        (rc = sh__dir_check_time(pb->valid_until_ms, "onion key end")) != SH_OK)
        return rc;
    if (memcmp(pb->node_identity.data, identity, SH_DIR_KEY_BYTES) != 0)
        return sh_err_set(SH_ERR_FORMAT, "the %s onion key names another node", which);
    out->epoch = pb->epoch;
    memcpy(out->public_key, pb->public_key.data, SH_DIR_KEY_BYTES);
    out->valid_after_ms = (int64_t)pb->valid_after_ms;
    out->valid_until_ms = (int64_t)pb->valid_until_ms;
    memcpy(out->signature, sig->data, SH_DIR_SIGNATURE_BYTES);
    return SH_OK;
}

int sh__dir_copy_text(char *dst, size_t cap, const char *src, const char *what)
{
    size_t n = strlen(src);
    if (n >= cap)
        return sh_err_set(SH_ERR_LIMIT, "%s is %zu characters, more than the limit of %zu", what,
                          n, cap - 1);
    memcpy(dst, src, n + 1);
    return SH_OK;
}

int sh__dir_node_from_pb(const Shoal__Dir__Node *pb, sh_dir_node *out)
{
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = sh__dir_check_len(&pb->identity, SH_DIR_KEY_BYTES, "node identity")) != SH_OK ||
        (rc = sh__dir_check_len(&pb->link_key, SH_DIR_KEY_BYTES, "link key")) != SH_OK)
        return rc;
    memcpy(out->identity, pb->identity.data, SH_DIR_KEY_BYTES);
    memcpy(out->link_key, pb->link_key.data, SH_DIR_KEY_BYTES);
    if ((rc = sh__dir_onion_from_pb(pb->onion_current, &pb->onion_current_sig, out->identity,
                                    "current", &out->onion_current)) != SH_OK ||
        (rc = sh__dir_onion_from_pb(pb->onion_next, &pb->onion_next_sig, out->identity, "next",
                                    &out->onion_next)) != SH_OK ||
        (rc = sh__dir_copy_text(out->address, sizeof out->address, pb->address, "address")) != SH_OK ||
        (rc = sh__dir_copy_text(out->version, sizeof out->version, pb->version, "version")) != SH_OK ||
        (rc = sh__dir_copy_text(out->contact, sizeof out->contact, pb->contact, "operator contact")) != SH_OK)
        return rc;
    if (pb->operator_key.len != 0) {
        if ((rc = sh__dir_check_len(&pb->operator_key, SH_DIR_KEY_BYTES, "operator key")) != SH_OK)
            return rc;
        out->has_operator = true;
        memcpy(out->operator_key, pb->operator_key.data, SH_DIR_KEY_BYTES);
    }
    out->flags = pb->flags;
    out->swarm_id = pb->swarm_id;
    return sh__dir_node_check(out);
}

/* ---- Onion keys ---- */

static int encode_onion(const sh_dir_onion_key *k, const uint8_t identity[static 32], sh_buf *out)
{
    Shoal__Dir__OnionKey pb;

    sh__dir_onion_to_pb(k, identity, &pb);
    return sh__dir_pb_pack(&pb.base, SH_DIR_NODE_MAX_BYTES, out);
}

int sh_dir_onion_key_sign(sh_dir_onion_key *k, const uint8_t identity_sk[static SH_DIR_SECRET_KEY_BYTES])
{
    sh_buf body;
    int rc;

    sh_buf_init(&body);
    if (k->valid_after_ms < 0 || k->valid_until_ms <= k->valid_after_ms) {
        rc = sh_err_set(SH_ERR_RANGE, "onion key (epoch %llu) ends before it starts",
                        (unsigned long long)k->epoch);
        goto done;
    }
    rc = encode_onion(k, identity_sk + 32, &body);
    if (rc != SH_OK)
        goto done;
    crypto_sign_detached(k->signature, NULL, body.data, body.len, identity_sk);
done:
    sh_buf_free(&body);
    return rc;
}

int sh__dir_onion_verify_sig(const sh_dir_onion_key *k, const uint8_t identity[static 32])
{
    sh_buf body;
    int rc;

    sh_buf_init(&body);
    rc = encode_onion(k, identity, &body);
    if (rc != SH_OK)
        goto done;
    if (crypto_sign_verify_detached(k->signature, body.data, body.len, identity) != 0) {
        rc = sh_err_set(SH_ERR_CRYPTO, "the signature of onion key epoch %llu does not verify "
                        "with the node's identity", (unsigned long long)k->epoch);
        goto done;
    }
    if (crypto_core_ristretto255_is_valid_point(k->public_key) != 1)
        rc = sh_err_set(SH_ERR_FORMAT, "onion key epoch %llu is not a ristretto255 point",
                        (unsigned long long)k->epoch);
done:
    sh_buf_free(&body);
    return rc;
}

int sh_dir_onion_key_verify(const sh_dir_onion_key *k, const uint8_t identity[static SH_DIR_KEY_BYTES],
                            int64_t now_ms)
{
    char what[64];
    int rc = sh__dir_onion_verify_sig(k, identity);

    if (rc != SH_OK)
        return rc;
    snprintf(what, sizeof what, "onion key epoch %llu", (unsigned long long)k->epoch);
    return sh__dir_check_window(k->valid_after_ms, k->valid_until_ms, now_ms, what);
}
