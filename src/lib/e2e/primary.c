/* What only the primary device does (docs/protocol-v2.md, "Device list", "Revocation"): it holds
 * the account seed, signs the device list, issues and revokes subaccount tokens, and derives the
 * account's envelope keys (generation g: HKDF(account seed, label || g)), granting each to the
 * linked devices. */
#include "e2e/internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/err.h"

int sh__e2e_publish_own_list(sh_e2e_device *p, sh_e2e_devlist *list, int64_t now_ms)
{
    sh_buf bytes;
    int rc;

    sh_buf_init(&bytes);
    list->timestamp_ms = now_ms;
    if ((rc = sh__e2e_devlist_sign(list, p->account, &bytes)) != SH_OK)
        goto done;
    p->scratch_list = *list;
    rc = sh__e2e_install_list(p, p->accounts[0], bytes.data, bytes.len, now_ms);
done:
    sh_buf_free(&bytes);
    return rc;
}

static int sign_revocations(sh_e2e_device *p, const sh_revocations *rl)
{
    sh_buf_reset(&p->revocations);
    return sh_revocations_sign(rl, p->account, &p->revocations);
}

int sh_e2e_device_new_primary(sh_e2e_device **out, const uint8_t seed[static 16], int64_t now_ms)
{
    sh_e2e_device *d = sh__e2e_device_alloc();
    sh_e2e_account_view *own;
    sh_e2e_devlist *list = NULL;
    sh_revocations *rl = NULL;
    uint8_t device_seed[32];
    int rc;

    if (d == NULL || (list = calloc(1, sizeof *list)) == NULL || (rl = calloc(1, sizeof *rl)) == NULL) {
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory for a device");
        goto done;
    }
    if ((rc = sh_crypto_init()) != SH_OK || (rc = sh_account_from_seed(&d->account, seed)) != SH_OK)
        goto done;
    memcpy(d->account_seed, seed, 16);
    memcpy(d->account_pk, sh_account_ed25519_pk(d->account), 32);
    randombytes_buf(device_seed, sizeof device_seed);
    if ((rc = sh__e2e_device_keys(d, device_seed)) != SH_OK ||
        (rc = sh__e2e_account_add(d, d->account_pk, &own)) != SH_OK)
        goto done;
    d->device_id = 1;
    d->env_gen = 1;
    if ((rc = sh__e2e_envelope_seed(d->env_seed, seed, 1)) != SH_OK ||
        (rc = sh__e2e_xwing_public(list->envelope_ek, d->env_seed)) != SH_OK)
        goto done;
    memcpy(list->account, d->account_pk, 32);
    list->counter = 1;
    list->primary_id = 1;
    list->next_id = 2;
    list->envelope_generation = 1;
    list->n_devices = 1;
    list->devices[0].id = 1;
    memcpy(list->devices[0].ed25519_pk, d->ed_pk, 32);
    memcpy(list->devices[0].x25519_pk, d->x_pk, 32);
    memcpy(list->devices[0].mlkem_ek, d->mlkem_ek, SH_MLKEM768_EK_BYTES);
    list->devices[0].added_ms = now_ms;
    if ((rc = sh__e2e_publish_own_list(d, list, now_ms)) != SH_OK)
        goto done;
    memcpy(rl->account, d->account_pk, 32);
    rl->counter = 1;
    rl->timestamp_ms = now_ms;
    d->revocations_counter = 1;
    if ((rc = sign_revocations(d, rl)) != SH_OK)
        goto done;
    *out = d;
    d = NULL;
done:
    sodium_memzero(device_seed, sizeof device_seed);
    free(list);
    free(rl);
    sh_e2e_device_free(d);
    return rc;
}

int sh__e2e_issue_token(sh_e2e_device *p, const sh_e2e_devinfo *dev, int64_t now_ms, sh_buf *out)
{
    static const sh_token_grant rights[] = {
        {0, SH_TOKEN_RIGHT_READ | SH_TOKEN_RIGHT_DELETE},
        {2, SH_TOKEN_RIGHT_READ | SH_TOKEN_RIGHT_WRITE | SH_TOKEN_RIGHT_DELETE},
        {3, SH_TOKEN_RIGHT_READ | SH_TOKEN_RIGHT_WRITE | SH_TOKEN_RIGHT_DELETE},
        {4, SH_TOKEN_RIGHT_READ | SH_TOKEN_RIGHT_WRITE | SH_TOKEN_RIGHT_DELETE},
        {5, SH_TOKEN_RIGHT_READ | SH_TOKEN_RIGHT_WRITE | SH_TOKEN_RIGHT_DELETE},
        {10, SH_TOKEN_RIGHT_READ | SH_TOKEN_RIGHT_WRITE},
    };
    sh_token tok;
    sh_buf *a;
    int rc;

    memset(&tok, 0, sizeof tok);
    memcpy(tok.account, p->account_pk, 32);
    memcpy(tok.device_ed25519_pk, dev->ed25519_pk, 32);
    tok.device_id = dev->id;
    randombytes_buf(tok.token_id, sizeof tok.token_id);
    tok.n_grants = sizeof rights / sizeof rights[0];
    memcpy(tok.grants, rights, sizeof rights);
    tok.issued_ms = now_ms;
    tok.expires_ms = now_ms + SH_E2E_TOKEN_LIFETIME_MS;
    if ((rc = sh_token_sign(&tok, p->account, out)) != SH_OK)
        return rc;
    if ((a = realloc(p->issued, (p->n_issued + 1) * sizeof *a)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a token");
    p->issued = a;
    sh_buf_init(&p->issued[p->n_issued]);
    return sh_buf_append(&p->issued[p->n_issued++], out->data, out->len);
}

/* Adds the ids of every token issued to a device to the revocation list and re-signs it. */
static int revoke_tokens(sh_e2e_device *p, uint32_t device_id, int64_t now_ms)
{
    sh_revocations *rl = malloc(sizeof *rl);
    sh_token tok;
    int rc;

    if (rl == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a revocation list");
    if ((rc = sh_revocations_parse(rl, p->revocations.data, p->revocations.len)) != SH_OK)
        goto done;
    for (size_t i = 0; i < p->n_issued; i++) {
        if (sh_token_parse(&tok, p->issued[i].data, p->issued[i].len, INT64_MIN) != SH_OK ||
            tok.device_id != device_id)
            continue;
        if (rl->n == SH_TOKEN_MAX_REVOKED) {
            rc = sh_err_set(SH_ERR_LIMIT, "the revocation list is full");
            goto done;
        }
        memcpy(rl->ids[rl->n++], tok.token_id, SH_TOKEN_ID_BYTES);
    }
    rl->counter = ++p->revocations_counter;
    rl->timestamp_ms = now_ms;
    rc = sign_revocations(p, rl);
done:
    free(rl);
    return rc;
}

int sh_e2e_revoke_device(sh_e2e_device *p, uint32_t device_id, int64_t now_ms)
{
    sh_e2e_devlist *list = malloc(sizeof *list);
    size_t i;
    int rc;

    if (list == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a device list");
    if (p->account == NULL || p->revoked) {
        rc = sh_err_set(SH_ERR_PERMISSION, "only the primary device can revoke devices");
        goto done;
    }
    *list = *p->accounts[0]->list;
    for (i = 0; i < list->n_devices && list->devices[i].id != device_id; i++)
        ;
    if (i == list->n_devices || device_id == p->device_id) {
        rc = sh_err_set(SH_ERR_NOT_FOUND, "device %u is not a linked device of this account", device_id);
        goto done;
    }
    if (list->n_revoked == SH_E2E_MAX_REVOKED) {
        rc = sh_err_set(SH_ERR_LIMIT, "the device list remembers %d revoked devices at most",
                        SH_E2E_MAX_REVOKED);
        goto done;
    }
    list->revoked[list->n_revoked].id = device_id;
    memcpy(list->revoked[list->n_revoked].ed25519_pk, list->devices[i].ed25519_pk, 32);
    list->revoked[list->n_revoked++].revoked_ms = now_ms;
    list->devices[i] = list->devices[--list->n_devices];
    list->counter++;
    /* A new envelope key generation: the revoked device holds the old seed. */
    p->prev_env_gen = p->env_gen;
    memcpy(p->prev_env_seed, p->env_seed, 32);
    p->env_gen++;
    list->envelope_generation = p->env_gen;
    if ((rc = sh__e2e_envelope_seed(p->env_seed, p->account_seed, p->env_gen)) != SH_OK ||
        (rc = sh__e2e_xwing_public(list->envelope_ek, p->env_seed)) != SH_OK ||
        (rc = sh__e2e_publish_own_list(p, list, now_ms)) != SH_OK)
        goto done;
    rc = revoke_tokens(p, device_id, now_ms);
done:
    free(list);
    return rc;
}

int sh_e2e_device_grant(const sh_e2e_device *p, uint32_t device_id, sh_buf *out)
{
    const sh_e2e_devinfo *di;

    if (p->account == NULL)
        return sh_err_set(SH_ERR_PERMISSION, "only the primary device grants envelope keys");
    di = sh__e2e_devlist_find(p->accounts[0]->list, device_id);
    if (di == NULL || device_id == p->device_id)
        return sh_err_set(SH_ERR_NOT_FOUND, "device %u is not a linked device of this account", device_id);
    return sh__e2e_grant_make(p->account, di, p->env_gen, p->env_seed, out);
}

int sh_e2e_device_learn_grant(sh_e2e_device *d, const uint8_t *grant, size_t len)
{
    uint8_t seed[32], ek[SH_XWING_EK_BYTES];
    const sh_e2e_devlist *own = d->accounts[0]->list;
    uint32_t gen;
    int rc;

    if (d->revoked)
        return sh_err_set(SH_ERR_PERMISSION, "this device was revoked");
    rc = sh__e2e_grant_open(grant, len, d->account_pk, d->device_id, d->x_sk, d->x_pk,
                            d->mlkem_seed, &gen, seed);
    if (rc != SH_OK)
        return rc;
    if (own == NULL || gen != own->envelope_generation) {
        rc = sh_err_set(SH_ERR_STALE, "the grant is for envelope key %u; the device list names %u",
                        gen, own ? own->envelope_generation : 0);
        goto done;
    }
    if ((rc = sh__e2e_xwing_public(ek, seed)) != SH_OK)
        goto done;
    if (memcmp(ek, own->envelope_ek, SH_XWING_EK_BYTES) != 0) {
        rc = sh_err_set(SH_ERR_CRYPTO, "the granted envelope key is not the one in the device list");
        goto done;
    }
    if (gen != d->env_gen) {
        d->prev_env_gen = d->env_gen;
        memcpy(d->prev_env_seed, d->env_seed, 32);
        d->env_gen = gen;
        memcpy(d->env_seed, seed, 32);
    }
done:
    sodium_memzero(seed, sizeof seed);
    return rc;
}
