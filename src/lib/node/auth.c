/* Who may do what (docs/node.md "Who may do what"; overview.md "Namespaces of an account's
 * swarm", "Devices and keys of an account"). The namespace table says who may store and read;
 * deletes and TTL changes are the owner's, or a device's whose token grants them.
 *
 *   method    rights a token needs       open to anyone (no signature)
 *   store     WRITE                      namespace 0 (with a proof of work)
 *   retrieve  READ                       public-read namespaces 10-12
 *   delete    DELETE                     -
 *   expire    WRITE (DELETE suffices for shorten-only)
 * Namespaces written only by the primary (11, 12) accept no token for store, delete or expire. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "identity/token.h"
#include "node/internal.h"
#include "util/err.h"

static uint32_t rights_needed(const sh_node_request *r)
{
    switch (r->method) {
    case SH_NODE_STORE:
        return SH_TOKEN_RIGHT_WRITE;
    case SH_NODE_RETRIEVE:
        return SH_TOKEN_RIGHT_READ;
    case SH_NODE_DELETE:
        return SH_TOKEN_RIGHT_DELETE;
    case SH_NODE_EXPIRE:
        return r->mode == SH_STORE_EXPIRE_SHORTEN_ONLY ? SH_TOKEN_RIGHT_DELETE
                                                       : SH_TOKEN_RIGHT_WRITE;
    }
    return UINT32_MAX;
}

/* Whether an Ed25519 key converts to the owner's X25519 key (its Session ID). */
static bool is_owner_key(sh__node_keycache *cache, const uint8_t owner[static SH_STORE_OWNER_BYTES],
                         const uint8_t ed25519_pk[static 32])
{
    uint8_t x[32];

    return sh__node_ed_to_x(cache, ed25519_pk, x) && memcmp(x, owner + 1, 32) == 0;
}

static int authorize_token(const sh_node_request *r, const uint8_t *revocations, size_t rev_len,
                           int64_t now_ms, sh__node_keycache *cache)
{
    sh_token tok;
    int rc;

    if ((rc = sh_token_parse(&tok, r->token, r->token_len, now_ms)) != SH_OK)
        return rc;
    if (!is_owner_key(cache, r->owner, tok.account))
        return sh_err_set(SH_ERR_PERMISSION, "the token was issued by another account than the "
                          "owner");
    if (memcmp(tok.device_ed25519_pk, r->signer, 32) != 0)
        return sh_err_set(SH_ERR_PERMISSION, "the request is signed by another key than the "
                          "token's device key");
    return sh_token_check(&tok, revocations, rev_len, r->ns, rights_needed(r));
}

int sh__node_authorize(const sh_node_request *r, const uint8_t *revocations, size_t rev_len,
                       int64_t now_ms, sh__node_keycache *cache)
{
    const sh_ns_info *ns = sh_store_ns_lookup(r->ns);
    const char *what = sh_node_method_name(r->method);

    if (ns == NULL)
        return sh_err_set(SH_ERR_INVALID, "namespace %d is unknown", r->ns);
    if ((r->method == SH_NODE_STORE && ns->writer == SH_NS_WRITE_ANYONE) ||
        (r->method == SH_NODE_RETRIEVE && ns->reader == SH_NS_READ_ANYONE))
        return SH_OK;
    if (!r->is_signed)
        return sh_err_set(SH_ERR_PERMISSION, "a %s in namespace %d must be signed by the owner or "
                          "a device with a token", what, r->ns);
    if (r->token == NULL) {
        if (!is_owner_key(cache, r->owner, r->signer))
            return sh_err_set(SH_ERR_PERMISSION, "the request is signed by a key that is not the "
                              "owner's, and carries no token");
        return SH_OK;
    }
    if (ns->writer == SH_NS_WRITE_PRIMARY && r->method != SH_NODE_RETRIEVE)
        return sh_err_set(SH_ERR_PERMISSION, "only the account key (the primary device) may %s "
                          "in namespace %d", what, r->ns);
    return authorize_token(r, revocations, rev_len, now_ms, cache);
}

int sh__node_check_pow(const sh_node_request *r, unsigned bits)
{
    uint8_t msg_hash[SH_STORE_HASH_BYTES], work[32];
    unsigned got;

    if (r->method != SH_NODE_STORE || r->ns != SH_NS_INBOX || bits == 0)
        return SH_OK;
    sh_store_msg_hash(msg_hash, r->owner, r->ns, r->data, r->data_len);
    sh_node_pow_hash(work, r->owner, msg_hash, r->timestamp_ms, r->pow_nonce);
    got = sh_node_pow_bits(work);
    if (got < bits)
        return sh_err_set(SH_ERR_PERMISSION, "a store in namespace 0 needs a proof of work of %u "
                          "bits; this one has %u (see info)", bits, got);
    return SH_OK;
}

void sh__node_slot(const sh_node_request *r, const uint8_t **slot, size_t *slot_len)
{
    const sh_ns_info *ns = sh_store_ns_lookup(r->ns);

    *slot = NULL;
    *slot_len = 0;
    if (ns != NULL && ns->slots == SH_NS_SLOTS_PER_DEVICE) {
        *slot = r->signer;
        *slot_len = SH_NODE_SIGNER_BYTES;
    }
}

int sh__node_check_content(const sh_node_request *r, sh__node_keycache *cache)
{
    sh_revocations *rl;
    int rc;

    if (r->method != SH_NODE_STORE || r->ns != SH_NS_REVOCATIONS)
        return SH_OK;
    if ((rl = malloc(sizeof *rl)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory checking a revocation list");
    rc = sh_revocations_parse(rl, r->data, r->data_len);
    if (rc == SH_OK && !is_owner_key(cache, r->owner, rl->account))
        rc = sh_err_set(SH_ERR_PERMISSION, "the revocation list is another account's");
    else if (rc != SH_OK)
        rc = sh_err_wrap(SH_ERR_INVALID, "namespace 12 holds the account's token revocation "
                         "list");
    free(rl);
    return rc;
}
