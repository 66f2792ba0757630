/* The canonical signed storage request (node/request.h, docs/node.md "Signed requests"):
 * encoding and signing on the client, and on the node decoding with every form and limit check,
 * then freshness and the signature. Who may do what is decided in auth.c. */
#include "node/request.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/labels.h"
#include "identity/token.h"
#include "node/internal.h"
#include "storage.pb-c.h"
#include "util/err.h"
#include "wire/pb.h"

struct sh_node_parsed {
    sh_node_request r;
    Shoal__Signed *outer;
    Shoal__Storage__Request *m;
    uint8_t (*hashes)[SH_STORE_HASH_BYTES];
};

static const char *const method_names[] = {NULL, "store", "retrieve", "delete", "expire"};

const char *sh_node_method_name(sh_node_method m)
{
    return (unsigned)m < sizeof method_names / sizeof method_names[0] ? method_names[m] : NULL;
}

/* ---- Encoding -------------------------------------------------------------------------------- */

struct enc {
    Shoal__Storage__Request m;
    Shoal__Storage__StoreParams store;
    Shoal__Storage__RetrieveParams retrieve;
    Shoal__Storage__Cursor after;
    Shoal__Storage__DeleteParams del;
    Shoal__Storage__ExpireParams expire;
    ProtobufCBinaryData *hashes;
};

static int fill_params(struct enc *e, const sh_node_request *r)
{
    switch (r->method) {
    case SH_NODE_STORE:
        e->store.data = sh_wire_bin(r->data, r->data_len);
        e->store.ttl_ms = (uint64_t)r->ttl_ms;
        e->store.pow_nonce = r->pow_nonce;
        e->m.store = &e->store;
        return SH_OK;
    case SH_NODE_RETRIEVE:
        if (r->after.timestamp_ms != 0 || !sodium_is_zero(r->after.hash, SH_STORE_HASH_BYTES)) {
            e->after.timestamp_ms = (uint64_t)r->after.timestamp_ms;
            e->after.hash = sh_wire_bin(r->after.hash, SH_STORE_HASH_BYTES);
            e->retrieve.after = &e->after;
        }
        e->retrieve.lookback = r->lookback;
        e->retrieve.max_count = r->max_count;
        e->retrieve.max_bytes = r->max_bytes;
        e->retrieve.wait_ms = r->wait_ms;
        e->m.retrieve = &e->retrieve;
        return SH_OK;
    case SH_NODE_DELETE:
    case SH_NODE_EXPIRE:
        e->hashes = calloc(r->n_hashes + 1, sizeof *e->hashes);
        if (e->hashes == NULL)
            return sh_err_set(SH_ERR_NOMEM, "out of memory encoding a request");
        for (size_t i = 0; i < r->n_hashes; i++)
            e->hashes[i] = sh_wire_bin(r->hashes[i], SH_STORE_HASH_BYTES);
        if (r->method == SH_NODE_DELETE) {
            e->del.n_hashes = r->n_hashes;
            e->del.hashes = e->hashes;
            e->del.before_ms = (uint64_t)r->before_ms;
            e->m.delete_ = &e->del;
        } else {
            e->expire.n_hashes = r->n_hashes;
            e->expire.hashes = e->hashes;
            e->expire.expiry_ms = (uint64_t)r->expiry_ms;
            e->expire.mode = (uint32_t)r->mode;
            e->m.expire = &e->expire;
        }
        return SH_OK;
    }
    return sh_err_set(SH_ERR_INVALID, "unknown storage method %d", (int)r->method);
}

static void set_signer(sh_node_request *r, const sh_node_signer *s,
                       const uint8_t nonce[static SH_NODE_NONCE_BYTES])
{
    if (s->account != NULL) {
        memcpy(r->signer, sh_account_ed25519_pk(s->account), SH_NODE_SIGNER_BYTES);
        r->token = NULL;
        r->token_len = 0;
    } else {
        memcpy(r->signer, s->device_sk + 32, SH_NODE_SIGNER_BYTES); /* libsodium: seed ‖ pk */
        r->token = s->token;
        r->token_len = s->token_len;
    }
    memcpy(r->nonce, nonce, SH_NODE_NONCE_BYTES);
    r->is_signed = true;
}

static int sign_body(const sh_node_signer *s, const sh_buf *body, uint8_t sig[static 64])
{
    if (s->account != NULL)
        return sh_account_sign(s->account, sig, body->data, body->len);
    crypto_sign_detached(sig, NULL, body->data, body->len, s->device_sk);
    return SH_OK;
}

int sh_node_request_encode(sh_node_request *r, const sh_node_signer *signer, sh_buf *out)
{
    uint8_t nonce[SH_NODE_NONCE_BYTES];

    randombytes_buf(nonce, sizeof nonce);
    return sh__node_request_encode_nonce(r, signer, nonce, out);
}

int sh__node_request_encode_nonce(sh_node_request *r, const sh_node_signer *signer,
                                  const uint8_t nonce[static SH_NODE_NONCE_BYTES], sh_buf *out)
{
    struct enc e = {.m = SHOAL__STORAGE__REQUEST__INIT};
    Shoal__Signed s = SHOAL__SIGNED__INIT;
    uint8_t sig[SH_WIRE_SIG_BYTES];
    sh_buf body;
    int rc;

    sh_buf_init(&body);
    shoal__storage__store_params__init(&e.store);
    shoal__storage__retrieve_params__init(&e.retrieve);
    shoal__storage__cursor__init(&e.after);
    shoal__storage__delete_params__init(&e.del);
    shoal__storage__expire_params__init(&e.expire);
    if (signer != NULL && (signer->account == NULL) == (signer->device_sk == NULL))
        return sh_err_set(SH_ERR_INVALID, "a signer is an account or a device key, not both");
    if (signer != NULL)
        set_signer(r, signer, nonce);
    else
        r->is_signed = false;
    e.m.label = (char *)SH_LABEL_STORAGE_REQUEST;
    e.m.method = (char *)sh_node_method_name(r->method);
    e.m.owner = sh_wire_bin(r->owner, SH_STORE_OWNER_BYTES);
    e.m.namespace_ = r->ns;
    e.m.timestamp_ms = (uint64_t)r->timestamp_ms;
    if (r->is_signed) {
        e.m.nonce = sh_wire_bin(r->nonce, SH_NODE_NONCE_BYTES);
        e.m.signer = sh_wire_bin(r->signer, SH_NODE_SIGNER_BYTES);
        e.m.token = sh_wire_bin(r->token, r->token_len);
    }
    if ((rc = fill_params(&e, r)) != SH_OK || (rc = sh_wire_pack(&e.m.base, &body)) != SH_OK)
        goto done;
    s.body = sh_wire_bin(body.data, body.len);
    if (r->is_signed) {
        if ((rc = sign_body(signer, &body, sig)) != SH_OK)
            goto done;
        s.signature = sh_wire_bin(sig, sizeof sig);
    }
    if (protobuf_c_message_get_packed_size(&s.base) > SH_NODE_MAX_BODY_BYTES) {
        rc = sh_err_set(SH_ERR_LIMIT, "the request would be %zu bytes, over the %u-byte limit",
                        protobuf_c_message_get_packed_size(&s.base), SH_NODE_MAX_BODY_BYTES);
        goto done;
    }
    rc = sh_wire_pack(&s.base, out);
done:
    free(e.hashes);
    sh_buf_free(&body);
    return rc;
}

/* ---- Decoding -------------------------------------------------------------------------------- */

static int parse_store(sh_node_request *r, const Shoal__Storage__StoreParams *p)
{
    const sh_ns_info *ns = sh_store_ns_lookup(r->ns);

    if (p->data.len == 0)
        return sh_err_set(SH_ERR_INVALID, "a store needs message data");
    if (p->data.len > SH_STORE_MAX_DATA_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "message data is %zu bytes; at most %d are stored",
                          p->data.len, SH_STORE_MAX_DATA_BYTES);
    if (p->ttl_ms == 0)
        return sh_err_set(SH_ERR_INVALID, "a store needs a TTL");
    if (p->ttl_ms > (uint64_t)ns->max_ttl_ms)
        return sh_err_set(SH_ERR_RANGE, "a TTL of %" PRIu64 " ms is over the %lld ms allowed in "
                          "namespace %d", p->ttl_ms, (long long)ns->max_ttl_ms, r->ns);
    r->data = p->data.data;
    r->data_len = p->data.len;
    r->ttl_ms = (int64_t)p->ttl_ms;
    r->pow_nonce = p->pow_nonce;
    return SH_OK;
}

static int parse_retrieve(sh_node_request *r, const Shoal__Storage__RetrieveParams *p)
{
    if (p->after != NULL) {
        if (p->after->timestamp_ms > INT64_MAX ||
            (p->after->hash.len != SH_STORE_HASH_BYTES && p->after->hash.len != 0))
            return sh_err_set(SH_ERR_FORMAT, "the retrieve cursor is malformed");
        r->after.timestamp_ms = (int64_t)p->after->timestamp_ms;
        if (p->after->hash.len != 0)
            memcpy(r->after.hash, p->after->hash.data, SH_STORE_HASH_BYTES);
    }
    if (p->max_count == 0 || p->max_bytes == 0)
        return sh_err_set(SH_ERR_INVALID, "a retrieve needs a count and a byte cap of at least 1");
    if (p->max_count > SH_STORE_PAGE_MAX_COUNT || p->max_bytes > SH_STORE_PAGE_MAX_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "a page holds at most %u messages and %u bytes",
                          SH_STORE_PAGE_MAX_COUNT, SH_STORE_PAGE_MAX_BYTES);
    if (p->wait_ms > SH_NODE_MAX_WAIT_MS)
        return sh_err_set(SH_ERR_LIMIT, "a retrieve waits at most %u ms, not %u",
                          SH_NODE_MAX_WAIT_MS, p->wait_ms);
    r->lookback = p->lookback;
    r->max_count = p->max_count;
    r->max_bytes = p->max_bytes;
    r->wait_ms = p->wait_ms;
    return SH_OK;
}

static int parse_hashes(sh_node_parsed *pr, ProtobufCBinaryData *h, size_t n)
{
    if (n > SH_STORE_MAX_HASHES_PER_REQUEST)
        return sh_err_set(SH_ERR_LIMIT, "a request names %zu hashes; at most %u are allowed", n,
                          SH_STORE_MAX_HASHES_PER_REQUEST);
    if (n == 0)
        return SH_OK;
    pr->hashes = malloc(n * sizeof *pr->hashes);
    if (pr->hashes == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory reading hashes");
    for (size_t i = 0; i < n; i++) {
        if (h[i].len != SH_STORE_HASH_BYTES)
            return sh_err_set(SH_ERR_FORMAT, "hash %zu has %zu bytes, not 32", i, h[i].len);
        memcpy(pr->hashes[i], h[i].data, SH_STORE_HASH_BYTES);
    }
    pr->r.hashes = (const uint8_t(*)[SH_STORE_HASH_BYTES])pr->hashes;
    pr->r.n_hashes = n;
    return SH_OK;
}

static int parse_delete(sh_node_parsed *pr, const Shoal__Storage__DeleteParams *p)
{
    int rc = parse_hashes(pr, p->hashes, p->n_hashes);

    if (rc != SH_OK)
        return rc;
    if ((p->n_hashes == 0) == (p->before_ms == 0))
        return sh_err_set(SH_ERR_INVALID, "a delete names hashes or a `before` bound (one of them)");
    if (p->before_ms > INT64_MAX)
        return sh_err_set(SH_ERR_RANGE, "the delete bound is out of range");
    pr->r.before_ms = (int64_t)p->before_ms;
    return SH_OK;
}

static int parse_expire(sh_node_parsed *pr, const Shoal__Storage__ExpireParams *p)
{
    int rc = parse_hashes(pr, p->hashes, p->n_hashes);

    if (rc != SH_OK)
        return rc;
    if (p->n_hashes == 0)
        return sh_err_set(SH_ERR_INVALID, "an expire names at least one hash");
    if (p->expiry_ms == 0 || p->expiry_ms > INT64_MAX)
        return sh_err_set(SH_ERR_RANGE, "the new expiry is out of range");
    if (p->mode > SH_STORE_EXPIRE_EXTEND_ONLY)
        return sh_err_set(SH_ERR_INVALID, "expire mode %u is unknown", p->mode);
    pr->r.expiry_ms = (int64_t)p->expiry_ms;
    pr->r.mode = (sh_store_expire_mode)p->mode;
    return SH_OK;
}

static int parse_params(sh_node_parsed *pr, const Shoal__Storage__Request *m)
{
    const void *given[] = {NULL, m->store, m->retrieve, m->delete_, m->expire};

    for (int i = SH_NODE_STORE; i <= SH_NODE_EXPIRE; i++)
        if ((given[i] != NULL) != ((int)pr->r.method == i))
            return sh_err_set(SH_ERR_FORMAT, "a %s request must carry the parameters of %s "
                              "and no others", sh_node_method_name(pr->r.method),
                              sh_node_method_name(pr->r.method));
    switch (pr->r.method) {
    case SH_NODE_STORE:
        return parse_store(&pr->r, m->store);
    case SH_NODE_RETRIEVE:
        return parse_retrieve(&pr->r, m->retrieve);
    case SH_NODE_DELETE:
        return parse_delete(pr, m->delete_);
    case SH_NODE_EXPIRE:
        return parse_expire(pr, m->expire);
    }
    return sh_err_set(SH_ERR_INTERNAL, "unknown storage method");
}

/* Signature, signer and nonce come together, or not at all; a token only with them. */
static int parse_signing(sh_node_request *r, const Shoal__Signed *s,
                         const Shoal__Storage__Request *m)
{
    bool any = s->signature.len || m->signer.len || m->nonce.len || m->token.len;

    if (!any)
        return SH_OK;
    if (s->signature.len != SH_WIRE_SIG_BYTES || m->signer.len != SH_NODE_SIGNER_BYTES ||
        m->nonce.len != SH_NODE_NONCE_BYTES)
        return sh_err_set(SH_ERR_FORMAT, "a signed request needs a 64-byte signature, a 32-byte "
                          "signer and a 16-byte nonce");
    if (m->token.len > SH_TOKEN_MAX_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "a token of %zu bytes is over the %d-byte limit",
                          m->token.len, SH_TOKEN_MAX_BYTES);
    memcpy(r->signer, m->signer.data, SH_NODE_SIGNER_BYTES);
    memcpy(r->nonce, m->nonce.data, SH_NODE_NONCE_BYTES);
    r->token = m->token.len ? m->token.data : NULL;
    r->token_len = m->token.len;
    r->is_signed = true;
    return SH_OK;
}

static int parse_head(sh_node_request *r, const Shoal__Storage__Request *m, sh_node_method method)
{
    const char *name = sh_node_method_name(method);

    if (name == NULL || strcmp(m->method, name) != 0)
        return sh_err_set(SH_ERR_FORMAT, "the request is for method \"%.20s\", not %s", m->method,
                          name ? name : "?");
    r->method = method;
    if (m->owner.len != SH_STORE_OWNER_BYTES)
        return sh_err_set(SH_ERR_FORMAT, "the owner has %zu bytes, not 33", m->owner.len);
    if (m->owner.data[0] != SH_SESSION_ID_PREFIX)
        return sh_err_set(SH_ERR_UNSUPPORTED, "owners with prefix %02x are not served (only "
                          "Session IDs, 05)", m->owner.data[0]);
    memcpy(r->owner, m->owner.data, SH_STORE_OWNER_BYTES);
    if (m->namespace_ < INT16_MIN || m->namespace_ > INT16_MAX ||
        sh_store_ns_lookup(m->namespace_) == NULL)
        return sh_err_set(SH_ERR_INVALID, "namespace %d is unknown", (int)m->namespace_);
    r->ns = (int16_t)m->namespace_;
    if (m->timestamp_ms > INT64_MAX)
        return sh_err_set(SH_ERR_RANGE, "the request timestamp is out of range");
    r->timestamp_ms = (int64_t)m->timestamp_ms;
    return SH_OK;
}

int sh_node_request_parse(const uint8_t *body, size_t len, sh_node_method method,
                          sh_node_parsed **out)
{
    sh_node_parsed *p;
    int rc;

    if (len > SH_NODE_MAX_BODY_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "a request of %zu bytes is over the %u-byte limit", len,
                          SH_NODE_MAX_BODY_BYTES);
    if ((p = calloc(1, sizeof *p)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory reading a request");
    if ((rc = sh_wire_unpack(&shoal__signed__descriptor, body, len, "request",
                             (ProtobufCMessage **)&p->outer)) != SH_OK ||
        (rc = sh_wire_unpack(&shoal__storage__request__descriptor, p->outer->body.data,
                             p->outer->body.len, "request", (ProtobufCMessage **)&p->m)) != SH_OK ||
        (rc = sh_wire_check_label(&p->m->base, SH_LABEL_STORAGE_REQUEST, "request")) != SH_OK ||
        (rc = parse_head(&p->r, p->m, method)) != SH_OK ||
        (rc = parse_signing(&p->r, p->outer, p->m)) != SH_OK ||
        (rc = parse_params(p, p->m)) != SH_OK) {
        sh_node_parsed_free(p);
        return rc;
    }
    *out = p;
    return SH_OK;
}

const sh_node_request *sh_node_parsed_request(const sh_node_parsed *p)
{
    return &p->r;
}

void sh_node_parsed_free(sh_node_parsed *p)
{
    if (p == NULL)
        return;
    sh_wire_free(p->outer);
    sh_wire_free(p->m);
    free(p->hashes);
    free(p);
}

int sh_node_request_verify(const sh_node_parsed *p, int64_t now_ms)
{
    int64_t skew = p->r.timestamp_ms - now_ms;

    if (skew > SH_NODE_MAX_CLOCK_SKEW_MS || skew < -SH_NODE_MAX_CLOCK_SKEW_MS)
        return sh_err_set(SH_ERR_STALE, "the request's timestamp is %.1f s %s the node's clock "
                          "(node time %lld ms); at most %lld s either way are accepted",
                          (double)(skew < 0 ? -skew : skew) / 1000.0,
                          skew < 0 ? "behind" : "ahead of", (long long)now_ms,
                          (long long)(SH_NODE_MAX_CLOCK_SKEW_MS / 1000));
    if (p->r.is_signed &&
        crypto_sign_verify_detached(p->outer->signature.data, p->outer->body.data,
                                    p->outer->body.len, p->r.signer) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "the request's signature does not verify under its "
                          "signer key");
    return SH_OK;
}
