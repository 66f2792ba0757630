/* Signed store receipts (docs/swarm.md "Receipts"; issue: "messages that silently fail to
 * arrive"): a node signs {label, hash, owner, namespace, expiry, node id, map version} only for
 * a message it has committed: after its own commit (store, swarm.push), or when it finds the
 * message in its store (swarm.receipt, get_receipts). get_receipts(hash), a client method any
 * member answers (rate-limited), returns this node's receipt and those of its peers that hold
 * the message, asked at once with a deadline. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "node/join.h"
#include "storage.pb-c.h"
#include "swarm.pb-c.h"
#include "util/err.h"
#include "util/time.h"
#include "wire/pb.h"

#define RECEIPT_CALL_MS 1000u           /* a peer's receipt is awaited this long */
#define GET_RECEIPTS_RATE {20, 100}     /* per link: per second, burst */

static void put_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

void sh_node_receipt_message(const sh_node_receipt *r, uint8_t out[SH_NODE_RECEIPT_SIGNED_BYTES])
{
    size_t off = sizeof SH_LABEL_NODE_RECEIPT - 1;

    memcpy(out, SH_LABEL_NODE_RECEIPT, off);
    memcpy(out + off, r->hash, 32), off += 32;
    memcpy(out + off, r->owner, 33), off += 33;
    put_be(out + off, (uint16_t)r->ns, 2), off += 2;
    put_be(out + off, (uint64_t)r->expiry_ms, 8), off += 8;
    memcpy(out + off, r->node_id, 32), off += 32;
    put_be(out + off, r->map_version, 8);
}

void sh_node_receipt_sign(sh_node_receipt *r, const uint8_t node_sk[static 64])
{
    uint8_t msg[SH_NODE_RECEIPT_SIGNED_BYTES];

    sh_node_receipt_message(r, msg);
    crypto_sign_detached(r->signature, NULL, msg, sizeof msg, node_sk);
}

int sh_node_receipt_verify(const sh_node_receipt *r, const sh_dir_map *map, const sh_dir_map *prev)
{
    uint8_t msg[SH_NODE_RECEIPT_SIGNED_BYTES];
    const sh_dir_map *against;
    uint64_t v = sh_dir_map_version(map);

    /* Maps follow each other every period, so a receipt outlives its map version: an older
     * one is checked against the map at hand (its node must still be in the network, or in
     * the previous map if it left since); one more than a version ahead names a map this
     * client has not seen yet. */
    if (r->map_version > v + 1)
        return sh_err_set(SH_ERR_STALE, "the receipt names map version %llu, more than one "
                          "ahead of version %llu at hand: fetch the newer map",
                          (unsigned long long)r->map_version, (unsigned long long)v);
    against = map;
    if (prev != NULL && r->map_version <= sh_dir_map_version(prev) &&
        sh_dir_map_find_node(map, r->node_id) == NULL)
        against = prev;
    sh_node_receipt_message(r, msg);
    if (crypto_sign_verify_detached(r->signature, msg, sizeof msg, r->node_id) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "the receipt's signature does not verify under its "
                          "node's key");
    if (sh_dir_map_find_node(against, r->node_id) == NULL)
        return sh_err_set(SH_ERR_NOT_FOUND, "the receipt's node is not in map version %llu",
                          (unsigned long long)sh_dir_map_version(against));
    return SH_OK;
}

int sh__node_receipt_sign(sh_node *n, const uint8_t hash[static SH_STORE_HASH_BYTES],
                          const uint8_t owner[static SH_STORE_OWNER_BYTES], int16_t ns,
                          int64_t expiry_ms, sh_node_receipt *out)
{
    if (n->swarm == NULL)
        return sh_err_set(SH_ERR_UNAVAILABLE, "a node outside a network signs no receipts");
    memset(out, 0, sizeof *out);
    memcpy(out->hash, hash, 32);
    memcpy(out->owner, owner, 33);
    out->ns = ns;
    out->expiry_ms = expiry_ms;
    memcpy(out->node_id, n->identity_pk, 32);
    out->map_version = n->swarm->map_version;
    sh_node_receipt_sign(out, n->swarm->identity_sk);
    return SH_OK;
}

/* ---- Wire form ------------------------------------------------------------------------------ */

void sh__node_receipt_to_pb(const sh_node_receipt *r, Shoal__Swarm__Receipt *m)
{
    shoal__swarm__receipt__init(m);
    m->hash = sh_wire_bin(r->hash, 32);
    m->owner = sh_wire_bin(r->owner, 33);
    m->namespace_ = r->ns;
    m->expiry_ms = (uint64_t)r->expiry_ms;
    m->node_id = sh_wire_bin(r->node_id, 32);
    m->map_version = r->map_version;
    m->signature = sh_wire_bin(r->signature, 64);
}

int sh__node_receipt_from_pb(const Shoal__Swarm__Receipt *m, sh_node_receipt *r)
{
    if (m->hash.len != 32 || m->owner.len != 33 || m->node_id.len != 32 ||
        m->signature.len != 64 || m->namespace_ < INT16_MIN || m->namespace_ > INT16_MAX ||
        m->expiry_ms > INT64_MAX)
        return sh_err_set(SH_ERR_FORMAT, "a receipt has a field of the wrong size");
    memcpy(r->hash, m->hash.data, 32);
    memcpy(r->owner, m->owner.data, 33);
    r->ns = (int16_t)m->namespace_;
    r->expiry_ms = (int64_t)m->expiry_ms;
    memcpy(r->node_id, m->node_id.data, 32);
    r->map_version = m->map_version;
    memcpy(r->signature, m->signature.data, 64);
    return SH_OK;
}

static int copy_receipts(Shoal__Swarm__Receipt **in, size_t n_in, sh_node_receipt *out,
                         size_t cap, size_t *n)
{
    int rc;

    *n = 0;
    for (size_t i = 0; i < n_in && *n < cap; i++) {
        if ((rc = sh__node_receipt_from_pb(in[i], &out[*n])) != SH_OK)
            return rc;
        (*n)++;
    }
    return SH_OK;
}

int sh_node_receipts_parse(const uint8_t *body, size_t len, bool store_answer,
                           sh_node_receipt *out, size_t cap, size_t *n)
{
    ProtobufCMessage *m = NULL;
    int rc;

    *n = 0;
    if (store_answer) {
        if ((rc = sh_wire_unpack(&shoal__storage__store_response__descriptor, body, len,
                                 "store answer", &m)) != SH_OK)
            return rc;
        Shoal__Storage__StoreResponse *s = (Shoal__Storage__StoreResponse *)m;
        rc = copy_receipts(s->receipts, s->n_receipts, out, cap, n);
    } else {
        if ((rc = sh_wire_unpack(&shoal__swarm__receipt_response__descriptor, body, len,
                                 "receipts answer", &m)) != SH_OK)
            return rc;
        Shoal__Swarm__ReceiptResponse *s = (Shoal__Swarm__ReceiptResponse *)m;
        rc = copy_receipts(s->receipts, s->n_receipts, out, cap, n);
    }
    sh_wire_free(m);
    return rc;
}

int sh__node_receipts_parse_push(const uint8_t *body, size_t len, sh_node_receipt *out, size_t *n)
{
    Shoal__Swarm__PushResponse *m = NULL;
    int rc;

    *n = 0;
    if ((rc = sh_wire_unpack(&shoal__swarm__push_response__descriptor, body, len, "push answer",
                             (ProtobufCMessage **)&m)) != SH_OK)
        return rc;
    rc = copy_receipts(m->receipts, m->n_receipts, out, 1, n);
    sh_wire_free(m);
    return rc;
}

/* ---- Our receipt for a hash we hold ----------------------------------------------------------- */

static int own_receipt(sh_node *n, const uint8_t hash[static 32], sh_node_receipt *out)
{
    sh_store_msg msg;
    sh_buf buf;
    int rc;

    sh_buf_init(&buf);
    if ((rc = sh_store_get(n->store, hash, &msg, &buf)) == SH_OK)
        rc = sh__node_receipt_sign(n, hash, msg.owner, msg.ns, msg.expiry_ms, out);
    sh_buf_free(&buf);
    return rc;
}

static int parse_hash(const uint8_t *body, size_t len, uint8_t hash[static 32])
{
    Shoal__Swarm__ReceiptRequest *m = NULL;
    int rc;

    if ((rc = sh_wire_unpack(&shoal__swarm__receipt_request__descriptor, body, len,
                             "receipt request", (ProtobufCMessage **)&m)) != SH_OK)
        return rc;
    if (m->hash.len != 32)
        rc = sh_err_set(SH_ERR_FORMAT, "a receipt request needs a 32-byte hash");
    else
        memcpy(hash, m->hash.data, 32);
    sh_wire_free(m);
    return rc;
}

static void answer_receipts(sh_net_req *req, const sh_node_receipt *r, size_t n)
{
    Shoal__Swarm__ReceiptResponse m = SHOAL__SWARM__RECEIPT_RESPONSE__INIT;
    Shoal__Swarm__Receipt pb[SH_NODE_MAX_RECEIPTS], *ptrs[SH_NODE_MAX_RECEIPTS];

    for (size_t i = 0; i < n; i++) {
        sh__node_receipt_to_pb(&r[i], &pb[i]);
        ptrs[i] = &pb[i];
    }
    m.node_time_ms = (uint64_t)sh_time_now_ms();
    m.n_receipts = n;
    m.receipts = ptrs;
    (void)sh__node_respond_pb(req, &m.base);
}

/* swarm.receipt (node kind): this node's receipt, if it holds the message. */
static void on_peer_receipt(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    sh_node *n = ctx;
    sh_node_receipt r;
    uint8_t hash[32];
    int rc;

    if ((rc = parse_hash(body, len, hash)) != SH_OK || (rc = own_receipt(n, hash, &r)) != SH_OK) {
        (void)sh_net_respond(req, rc, NULL, 0, "%s", sh_err_msg());
        return;
    }
    answer_receipts(req, &r, 1);
}

/* get_receipts: ours and every peer's that answers in time. */
typedef struct gather {
    sh_net_req *req;
    unsigned waiting;
    size_t n;
    sh_node_receipt r[SH_NODE_MAX_RECEIPTS];
} gather;

static void gather_done(gather *g)
{
    if (--g->waiting != 0)
        return;
    if (g->n == 0)
        (void)sh_net_respond(g->req, SH_ERR_NOT_FOUND, NULL, 0,
                             "no member of this swarm holds that message");
    else
        answer_receipts(g->req, g->r, g->n);
    free(g);
}

static void on_peer_answer(int status, const char *message, const uint8_t *body, size_t len,
                           void *ctx)
{
    gather *g = ctx;
    size_t got = 0;

    (void)message;
    if (status == SH_OK && g->n < SH_NODE_MAX_RECEIPTS &&
        sh_node_receipts_parse(body, len, false, &g->r[g->n], 1, &got) == SH_OK)
        g->n += got;
    gather_done(g);
}

static void on_get_receipts(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    sh_node *n = ctx;
    gather *g = calloc(1, sizeof *g);
    uint8_t hash[32];
    int rc;

    if (g == NULL || (rc = parse_hash(body, len, hash)) != SH_OK) {
        (void)sh_net_respond(req, g == NULL ? SH_ERR_NOMEM : rc, NULL, 0, "%s",
                             g == NULL ? "out of memory" : sh_err_msg());
        free(g);
        return;
    }
    g->req = req;
    g->waiting = 1;
    if (own_receipt(n, hash, &g->r[0]) == SH_OK)
        g->n = 1;
    for (size_t i = 0; i < n->swarm->n_peers && !n->stopping; i++) {
        g->waiting++;
        if (sh_net_call(n->swarm->peers[i].peer, "swarm.receipt", body, len, RECEIPT_CALL_MS,
                        on_peer_answer, g) != SH_OK)
            g->waiting--;
    }
    gather_done(g);
}

int sh__node_receipts_register(sh_node *n)
{
    sh_net_method_limits lim = GET_RECEIPTS_RATE;
    int rc;

    if ((rc = sh_net_register(n->net, "swarm.receipt", SH_RPC_NODE, on_peer_receipt, n,
                              NULL)) != SH_OK ||
        (rc = sh_net_register(n->net, "get_receipts", SH_RPC_CLIENT, on_get_receipts, n,
                              &lim)) != SH_OK)
        return rc;
    return SH_OK;
}
