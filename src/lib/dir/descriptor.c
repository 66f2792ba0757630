/* Node descriptors and operator grants (docs/directory.md "Descriptors"): a node signs what it
 * says about itself with its Ed25519 identity; each onion key carries its own identity
 * signature so that it can travel in votes and maps apart from the descriptor; an operator key
 * may vouch for the node so that authorities can keep allow-lists of operators. */
#include "dir/internal.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "crypto/labels.h"
#include "util/err.h"

static int encode_operator_cert(const uint8_t operator_key[static 32],
                                const uint8_t node_identity[static 32], sh_buf *out)
{
    Shoal__Dir__OperatorCert cert = SHOAL__DIR__OPERATOR_CERT__INIT;

    cert.label = (char *)SH_LABEL_DIR_OPERATOR_CERT;
    cert.operator_key = sh__dir_bin(operator_key, SH_DIR_KEY_BYTES);
    cert.node_identity = sh__dir_bin(node_identity, SH_DIR_KEY_BYTES);
    return sh__dir_pb_pack(&cert.base, SH_DIR_DESCRIPTOR_MAX_BYTES, out);
}

int sh_dir_operator_sign(const uint8_t operator_sk[static SH_DIR_SECRET_KEY_BYTES],
                         const uint8_t node_identity[static SH_DIR_KEY_BYTES],
                         uint8_t sig[static SH_DIR_SIGNATURE_BYTES])
{
    sh_buf cert;
    int rc;

    sh_buf_init(&cert);
    rc = encode_operator_cert(operator_sk + 32, node_identity, &cert);
    if (rc == SH_OK)
        crypto_sign_detached(sig, NULL, cert.data, cert.len, operator_sk);
    sh_buf_free(&cert);
    return rc;
}

static int verify_operator(const sh_dir_node *n)
{
    sh_buf cert;
    int rc;

    sh_buf_init(&cert);
    rc = encode_operator_cert(n->operator_key, n->identity, &cert);
    if (rc == SH_OK &&
        crypto_sign_verify_detached(n->operator_sig, cert.data, cert.len, n->operator_key) != 0)
        rc = sh_err_set(SH_ERR_CRYPTO, "the operator's grant for this node does not verify");
    sh_buf_free(&cert);
    return rc;
}

/* Builds the Descriptor message of n; pb and its parts point into n. */
static void descriptor_to_pb(const sh_dir_node *n, Shoal__Dir__Descriptor *d,
                             Shoal__Dir__OnionKey onion[2], Shoal__Dir__OperatorCert *cert)
{
    shoal__dir__descriptor__init(d);
    d->label = (char *)SH_LABEL_DIR_DESCRIPTOR;
    d->identity = sh__dir_bin(n->identity, SH_DIR_KEY_BYTES);
    d->link_key = sh__dir_bin(n->link_key, SH_DIR_KEY_BYTES);
    sh__dir_onion_to_pb(&n->onion_current, n->identity, &onion[0]);
    sh__dir_onion_to_pb(&n->onion_next, n->identity, &onion[1]);
    d->onion_current = &onion[0];
    d->onion_current_sig = sh__dir_bin(n->onion_current.signature, SH_DIR_SIGNATURE_BYTES);
    d->onion_next = &onion[1];
    d->onion_next_sig = sh__dir_bin(n->onion_next.signature, SH_DIR_SIGNATURE_BYTES);
    d->address = (char *)n->address;
    d->version = (char *)n->version;
    d->contact = (char *)n->contact;
    d->published_ms = (uint64_t)n->published_ms;
    if (n->has_operator) {
        shoal__dir__operator_cert__init(cert);
        cert->label = (char *)SH_LABEL_DIR_OPERATOR_CERT;
        cert->operator_key = sh__dir_bin(n->operator_key, SH_DIR_KEY_BYTES);
        cert->node_identity = sh__dir_bin(n->identity, SH_DIR_KEY_BYTES);
        d->operator_cert = cert;
        d->operator_sig = sh__dir_bin(n->operator_sig, SH_DIR_SIGNATURE_BYTES);
    }
}

int sh_dir_descriptor_sign(const sh_dir_node *node, const uint8_t identity_sk[static SH_DIR_SECRET_KEY_BYTES],
                           sh_buf *out)
{
    Shoal__Dir__Descriptor d;
    Shoal__Dir__OnionKey onion[2];
    Shoal__Dir__OperatorCert cert;
    Shoal__Dir__Signed s = SHOAL__DIR__SIGNED__INIT;
    uint8_t sig[SH_DIR_SIGNATURE_BYTES];
    sh_dir_node n = *node;
    sh_buf body;
    int rc;

    sh_buf_init(&body);
    n.flags = 0;
    n.swarm_id = 0;
    if (memcmp(n.identity, identity_sk + 32, SH_DIR_KEY_BYTES) != 0) {
        rc = sh_err_set(SH_ERR_INVALID, "the descriptor's identity is not the signing key's");
        goto done;
    }
    if (n.published_ms < 0) {
        rc = sh_err_set(SH_ERR_RANGE, "publication time is negative");
        goto done;
    }
    if ((rc = sh__dir_node_check(&n)) != SH_OK ||
        (n.has_operator && (rc = verify_operator(&n)) != SH_OK))
        goto done;
    descriptor_to_pb(&n, &d, onion, &cert);
    rc = sh__dir_pb_pack(&d.base, SH_DIR_DESCRIPTOR_MAX_BYTES - 2 * SH_DIR_SIGNATURE_BYTES, &body);
    if (rc != SH_OK)
        goto done;
    crypto_sign_detached(sig, NULL, body.data, body.len, identity_sk);
    s.body = sh__dir_bin(body.data, body.len);
    s.signature = sh__dir_bin(sig, sizeof sig);
    rc = sh__dir_pb_pack(&s.base, SH_DIR_DESCRIPTOR_MAX_BYTES, out);
done:
    sh_buf_free(&body);
    return rc;
}

/* Copies a decoded Descriptor's fields into n and checks their structure. */
static int descriptor_from_pb(const Shoal__Dir__Descriptor *d, sh_dir_node *n)
{
    int rc;

    memset(n, 0, sizeof *n);
    if ((rc = sh__dir_check_label(d->label, SH_LABEL_DIR_DESCRIPTOR, "descriptor")) != SH_OK ||
        (rc = sh__dir_check_len(&d->identity, SH_DIR_KEY_BYTES, "node identity")) != SH_OK ||
        (rc = sh__dir_check_len(&d->link_key, SH_DIR_KEY_BYTES, "link key")) != SH_OK ||
        (rc = sh__dir_check_time(d->published_ms, "publication time")) != SH_OK)
        return rc;
    memcpy(n->identity, d->identity.data, SH_DIR_KEY_BYTES);
    memcpy(n->link_key, d->link_key.data, SH_DIR_KEY_BYTES);
    n->published_ms = (int64_t)d->published_ms;
    if ((rc = sh__dir_onion_from_pb(d->onion_current, &d->onion_current_sig, n->identity,
                                    "current", &n->onion_current)) != SH_OK ||
        (rc = sh__dir_onion_from_pb(d->onion_next, &d->onion_next_sig, n->identity, "next",
                                    &n->onion_next)) != SH_OK ||
        (rc = sh__dir_copy_text(n->address, sizeof n->address, d->address, "address")) != SH_OK ||
        (rc = sh__dir_copy_text(n->version, sizeof n->version, d->version, "version")) != SH_OK ||
        (rc = sh__dir_copy_text(n->contact, sizeof n->contact, d->contact, "operator contact")) != SH_OK)
        return rc;
    if (d->operator_cert != NULL) {
        const Shoal__Dir__OperatorCert *c = d->operator_cert;
        if ((rc = sh__dir_check_label(c->label, SH_LABEL_DIR_OPERATOR_CERT, "operator grant")) != SH_OK ||
            (rc = sh__dir_check_len(&c->operator_key, SH_DIR_KEY_BYTES, "operator key")) != SH_OK ||
            (rc = sh__dir_check_len(&c->node_identity, SH_DIR_KEY_BYTES, "operator grant's node")) != SH_OK ||
            (rc = sh__dir_check_len(&d->operator_sig, SH_DIR_SIGNATURE_BYTES, "operator signature")) != SH_OK)
            return rc;
        if (memcmp(c->node_identity.data, n->identity, SH_DIR_KEY_BYTES) != 0)
            return sh_err_set(SH_ERR_FORMAT, "the operator's grant names another node");
        n->has_operator = true;
        memcpy(n->operator_key, c->operator_key.data, SH_DIR_KEY_BYTES);
        memcpy(n->operator_sig, d->operator_sig.data, SH_DIR_SIGNATURE_BYTES);
    } else if (d->operator_sig.len != 0) {
        return sh_err_set(SH_ERR_FORMAT, "operator signature without an operator grant");
    }
    return sh__dir_node_check(n);
}

/* Signatures of the onion keys and the operator grant, and freshness at now_ms. */
static int check_descriptor(const sh_dir_node *n, int64_t now_ms)
{
    char what[64];
    int rc;

    if ((rc = sh__dir_onion_verify_sig(&n->onion_current, n->identity)) != SH_OK ||
        (rc = sh__dir_onion_verify_sig(&n->onion_next, n->identity)) != SH_OK ||
        (n->has_operator && (rc = verify_operator(n)) != SH_OK))
        return rc;
    snprintf(what, sizeof what, "current onion key (epoch %llu)",
             (unsigned long long)n->onion_current.epoch);
    if ((rc = sh__dir_check_window(n->onion_current.valid_after_ms, n->onion_current.valid_until_ms,
                                   now_ms, what)) != SH_OK)
        return rc;
    snprintf(what, sizeof what, "next onion key (epoch %llu)", (unsigned long long)n->onion_next.epoch);
    if ((rc = sh__dir_check_window(0, n->onion_next.valid_until_ms, now_ms, what)) != SH_OK)
        return rc;
    if (n->published_ms - SH_DIR_CLOCK_SKEW_MS > now_ms)
        return sh_err_set(SH_ERR_STALE, "descriptor is published %" PRId64 " ms in the future "
                          "(is this clock right?)", n->published_ms - now_ms);
    return SH_OK;
}

int sh_dir_descriptor_verify(const uint8_t *bytes, size_t len, int64_t now_ms, sh_dir_node *out)
{
    ProtobufCMessage *sm = NULL, *dm = NULL;
    const Shoal__Dir__Signed *s;
    sh_dir_node n;
    int rc;

    rc = sh__dir_pb_unpack(&shoal__dir__signed__descriptor, bytes, len, SH_DIR_DESCRIPTOR_MAX_BYTES,
                           "signed descriptor", &sm);
    if (rc != SH_OK)
        goto done;
    s = (const Shoal__Dir__Signed *)sm;
    if ((rc = sh__dir_check_len(&s->signature, SH_DIR_SIGNATURE_BYTES, "descriptor signature")) != SH_OK ||
        (rc = sh__dir_pb_unpack(&shoal__dir__descriptor__descriptor, s->body.data, s->body.len,
                                SH_DIR_DESCRIPTOR_MAX_BYTES, "descriptor", &dm)) != SH_OK ||
        (rc = descriptor_from_pb((const Shoal__Dir__Descriptor *)dm, &n)) != SH_OK)
        goto done;
    if (crypto_sign_verify_detached(s->signature.data, s->body.data, s->body.len, n.identity) != 0) {
        rc = sh_err_set(SH_ERR_CRYPTO, "the descriptor's signature does not verify with its identity");
        goto done;
    }
    if ((rc = check_descriptor(&n, now_ms)) != SH_OK)
        goto done;
    *out = n;
done:
    if (dm != NULL)
        protobuf_c_message_free_unpacked(dm, NULL);
    if (sm != NULL)
        protobuf_c_message_free_unpacked(sm, NULL);
    return rc;
}
