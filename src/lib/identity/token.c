/* Subaccount tokens and token revocation lists (identity/token.h, docs/identity.md "Subaccount
 * tokens"): encoding, signing by the account key, parsing with canonical-form, label, size and
 * signature checks, and the node's question whether a token allows a request. */
#include "identity/token.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/labels.h"
#include "identity.pb-c.h"
#include "identity/account.h"
#include "util/err.h"
#include "wire/pb.h"

_Static_assert(SH_TOKEN_RIGHT_READ == 1 && SH_TOKEN_RIGHT_WRITE == 2 && SH_TOKEN_RIGHT_DELETE == 4,
               "token rights are wire values");

int sh_account_sign_pack(const ProtobufCMessage *body, const sh_account *account, sh_buf *out)
{
    return sh_wire_sign_pack(body, account->ed25519_sk, out);
}

/* ---- Subaccount tokens ------------------------------------------------------------------- */

int sh_token_sign(const sh_token *tok, const sh_account *account, sh_buf *out)
{
    Shoal__Identity__SubaccountToken m = SHOAL__IDENTITY__SUBACCOUNT_TOKEN__INIT;
    Shoal__Identity__NamespaceGrant g[SH_TOKEN_MAX_GRANTS], *gp[SH_TOKEN_MAX_GRANTS];

    if (tok->n_grants > SH_TOKEN_MAX_GRANTS)
        return sh_err_set(SH_ERR_LIMIT, "a token carries at most %d namespace grants",
                          SH_TOKEN_MAX_GRANTS);
    m.label = (char *)SH_LABEL_TOKEN;
    m.account_ed25519_pk = sh_wire_bin(tok->account, SH_ED25519_PK_BYTES);
    m.device_ed25519_pk = sh_wire_bin(tok->device_ed25519_pk, SH_ED25519_PK_BYTES);
    m.device_id = tok->device_id;
    m.token_id = sh_wire_bin(tok->token_id, SH_TOKEN_ID_BYTES);
    for (size_t i = 0; i < tok->n_grants; i++) {
        shoal__identity__namespace_grant__init(&g[i]);
        g[i].namespace_ = tok->grants[i].ns;
        g[i].rights = tok->grants[i].rights;
        gp[i] = &g[i];
    }
    m.n_grants = tok->n_grants;
    m.grants = gp;
    m.issued_ms = (uint64_t)tok->issued_ms;
    m.expires_ms = (uint64_t)tok->expires_ms;
    return sh_account_sign_pack(&m.base, account, out);
}

static int token_from_pb(sh_token *tok, const Shoal__Identity__SubaccountToken *m)
{
    int rc;

    if ((rc = sh_wire_need_len(m->account_ed25519_pk, 32, "the token's account")) != SH_OK ||
        (rc = sh_wire_need_len(m->device_ed25519_pk, 32, "the token's device key")) != SH_OK ||
        (rc = sh_wire_need_len(m->token_id, SH_TOKEN_ID_BYTES, "the token id")) != SH_OK)
        return rc;
    if (m->n_grants > SH_TOKEN_MAX_GRANTS)
        return sh_err_set(SH_ERR_LIMIT, "a token carries at most %d namespace grants",
                          SH_TOKEN_MAX_GRANTS);
    if (m->issued_ms > INT64_MAX || m->expires_ms > INT64_MAX)
        return sh_err_set(SH_ERR_RANGE, "the token's times are out of range");
    memcpy(tok->account, m->account_ed25519_pk.data, 32);
    memcpy(tok->device_ed25519_pk, m->device_ed25519_pk.data, 32);
    memcpy(tok->token_id, m->token_id.data, SH_TOKEN_ID_BYTES);
    tok->device_id = m->device_id;
    tok->n_grants = m->n_grants;
    for (size_t i = 0; i < m->n_grants; i++) {
        tok->grants[i].ns = m->grants[i]->namespace_;
        tok->grants[i].rights = m->grants[i]->rights;
    }
    tok->issued_ms = (int64_t)m->issued_ms;
    tok->expires_ms = (int64_t)m->expires_ms;
    return SH_OK;
}

int sh_token_parse(sh_token *tok, const uint8_t *in, size_t len, int64_t now_ms)
{
    Shoal__Signed *outer = NULL;
    Shoal__Identity__SubaccountToken *m = NULL;
    int rc;

    memset(tok, 0, sizeof *tok);
    if (len > SH_TOKEN_MAX_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "a subaccount token of %zu bytes is over the %d-byte limit",
                          len, SH_TOKEN_MAX_BYTES);
    rc = sh_wire_open_signed(&shoal__identity__subaccount_token__descriptor, SH_LABEL_TOKEN, in,
                             len, "subaccount token", &outer, (ProtobufCMessage **)&m);
    if (rc != SH_OK)
        return rc;
    if ((rc = token_from_pb(tok, m)) != SH_OK ||
        (rc = sh_wire_verify(outer, tok->account, "subaccount token")) != SH_OK)
        goto done;
    if (now_ms >= tok->expires_ms)
        rc = sh_err_set(SH_ERR_STALE, "the subaccount token expired %lld s ago",
                        (long long)((now_ms - tok->expires_ms) / 1000));
done:
    sh_wire_free(outer);
    sh_wire_free(m);
    return rc;
}

bool sh_token_grants(const sh_token *tok, int32_t ns, uint32_t rights)
{
    for (size_t i = 0; i < tok->n_grants; i++)
        if (tok->grants[i].ns == ns && (tok->grants[i].rights & rights) == rights)
            return true;
    return false;
}

/* ---- Token revocation list ----------------------------------------------------------------- */

int sh_revocations_sign(const sh_revocations *rl, const sh_account *account, sh_buf *out)
{
    Shoal__Identity__RevocationList m = SHOAL__IDENTITY__REVOCATION_LIST__INIT;
    ProtobufCBinaryData *ids;
    int rc;

    if (rl->n > SH_TOKEN_MAX_REVOKED)
        return sh_err_set(SH_ERR_LIMIT, "a revocation list holds at most %d tokens",
                          SH_TOKEN_MAX_REVOKED);
    ids = calloc(rl->n + 1, sizeof *ids);
    if (ids == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a revocation list");
    m.label = (char *)SH_LABEL_TOKEN_REVOCATIONS;
    m.account_ed25519_pk = sh_wire_bin(rl->account, SH_ED25519_PK_BYTES);
    m.counter = rl->counter;
    m.timestamp_ms = (uint64_t)rl->timestamp_ms;
    for (size_t i = 0; i < rl->n; i++)
        ids[i] = sh_wire_bin(rl->ids[i], SH_TOKEN_ID_BYTES);
    m.n_token_ids = rl->n;
    m.token_ids = ids;
    rc = sh_account_sign_pack(&m.base, account, out);
    free(ids);
    return rc;
}

static int revocations_from_pb(sh_revocations *rl, const Shoal__Identity__RevocationList *m)
{
    int rc;

    if ((rc = sh_wire_need_len(m->account_ed25519_pk, 32, "the revocation list's account")) != SH_OK)
        return rc;
    if (m->n_token_ids > SH_TOKEN_MAX_REVOKED)
        return sh_err_set(SH_ERR_LIMIT, "a revocation list holds at most %d tokens",
                          SH_TOKEN_MAX_REVOKED);
    if (m->timestamp_ms > INT64_MAX)
        return sh_err_set(SH_ERR_RANGE, "the revocation list's timestamp is out of range");
    memcpy(rl->account, m->account_ed25519_pk.data, 32);
    rl->counter = m->counter;
    rl->timestamp_ms = (int64_t)m->timestamp_ms;
    rl->n = m->n_token_ids;
    for (size_t i = 0; i < rl->n; i++) {
        if ((rc = sh_wire_need_len(m->token_ids[i], SH_TOKEN_ID_BYTES, "a revoked token id")) != SH_OK)
            return rc;
        memcpy(rl->ids[i], m->token_ids[i].data, SH_TOKEN_ID_BYTES);
    }
    return SH_OK;
}

int sh_revocations_parse(sh_revocations *rl, const uint8_t *in, size_t len)
{
    Shoal__Signed *outer = NULL;
    Shoal__Identity__RevocationList *m = NULL;
    int rc;

    memset(rl, 0, sizeof *rl);
    if (len > SH_REVOCATIONS_MAX_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "a revocation list of %zu bytes is over the %d-byte limit",
                          len, SH_REVOCATIONS_MAX_BYTES);
    rc = sh_wire_open_signed(&shoal__identity__revocation_list__descriptor,
                             SH_LABEL_TOKEN_REVOCATIONS, in, len, "token revocation list", &outer,
                             (ProtobufCMessage **)&m);
    if (rc != SH_OK)
        return rc;
    if ((rc = revocations_from_pb(rl, m)) == SH_OK)
        rc = sh_wire_verify(outer, rl->account, "token revocation list");
    sh_wire_free(outer);
    sh_wire_free(m);
    return rc;
}

bool sh_revocations_has(const sh_revocations *rl, const uint8_t token_id[static SH_TOKEN_ID_BYTES])
{
    for (size_t i = 0; i < rl->n; i++)
        if (memcmp(rl->ids[i], token_id, SH_TOKEN_ID_BYTES) == 0)
            return true;
    return false;
}

static int check_revoked(const sh_token *tok, const uint8_t *revocations, size_t rev_len)
{
    sh_revocations *rl = malloc(sizeof *rl);
    int rc;

    if (rl == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a revocation list");
    if ((rc = sh_revocations_parse(rl, revocations, rev_len)) != SH_OK)
        goto done;
    if (memcmp(rl->account, tok->account, SH_ED25519_PK_BYTES) != 0)
        rc = sh_err_set(SH_ERR_PERMISSION, "the revocation list is another account's");
    else if (sh_revocations_has(rl, tok->token_id))
        rc = sh_err_set(SH_ERR_PERMISSION, "the token of device %u was revoked", tok->device_id);
done:
    free(rl);
    return rc;
}

int sh_token_check(const sh_token *tok, const uint8_t *revocations, size_t rev_len, int32_t ns,
                   uint32_t rights)
{
    int rc;

    if (revocations != NULL && (rc = check_revoked(tok, revocations, rev_len)) != SH_OK)
        return rc;
    if (!sh_token_grants(tok, ns, rights))
        return sh_err_set(SH_ERR_PERMISSION, "the token grants no such right in namespace %d", ns);
    return SH_OK;
}

int sh_token_allows(const uint8_t *token, size_t token_len,
                    const uint8_t account[static SH_ED25519_PK_BYTES], const uint8_t *revocations,
                    size_t rev_len, int32_t ns, uint32_t rights, int64_t now_ms, sh_token *out)
{
    sh_token tok;
    int rc = sh_token_parse(&tok, token, token_len, now_ms);

    if (rc != SH_OK)
        return rc;
    if (memcmp(tok.account, account, SH_ED25519_PK_BYTES) != 0)
        return sh_err_set(SH_ERR_PERMISSION, "the token was issued by another account");
    if ((rc = sh_token_check(&tok, revocations, rev_len, ns, rights)) != SH_OK)
        return rc;
    if (out != NULL)
        *out = tok;
    return SH_OK;
}
