/* The device object (docs/protocol-v2.md, "Devices", "Prekey bundles", "Multi-device"): a
 * device's keys, what it knows of accounts (device lists with their highest counter, prekey
 * bundles), its prekeys with their replay sets, and its sessions, one active per device pair plus
 * a few archived ones that can still decrypt late messages. */
#include "e2e/internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/labels.h"
#include "util/err.h"

sh_e2e_device *sh__e2e_device_alloc(void)
{
    sh_e2e_device *d;

    if (sh_crypto_init() != SH_OK)
        return NULL; /* sodium_malloc needs libsodium initialised */
    d = sh_secret_alloc(sizeof *d);
    if (d == NULL)
        return NULL;
    memset(d, 0, sizeof *d);
    sh_buf_init(&d->token);
    sh_buf_init(&d->revocations);
    for (size_t i = 0; i < SH_E2E_CERT_CACHE; i++)
        sh_buf_init(&d->certs[i].bytes);
    d->next_prekey_id = 1;
    return d;
}

int sh__e2e_device_keys(sh_e2e_device *d, const uint8_t device_seed[static 32])
{
    uint8_t okm[32 + 32 + SH_E2E_MLKEM_SEED_BYTES];
    int rc = sh__e2e_kdf(okm, sizeof okm, NULL, 0, device_seed, 32, SH_LABEL_E2E_DEVICE_KEYS, NULL, 0);

    if (rc != SH_OK)
        return rc;
    crypto_sign_seed_keypair(d->ed_pk, d->ed_sk, okm);
    memcpy(d->x_sk, okm + 32, 32);
    crypto_scalarmult_base(d->x_pk, d->x_sk);
    memcpy(d->mlkem_seed, okm + 64, SH_E2E_MLKEM_SEED_BYTES);
    rc = sh__e2e_mlkem_keypair(d->mlkem_seed, d->mlkem_ek, NULL);
    sodium_memzero(okm, sizeof okm);
    return rc;
}

int sh__e2e_envelope_seed(uint8_t out[static 32], const uint8_t account_seed[static 16],
                          uint32_t generation)
{
    uint8_t ctx[4];

    sh_store_u32be(ctx, generation);
    return sh__e2e_kdf(out, 32, NULL, 0, account_seed, 16, SH_LABEL_E2E_ENVELOPE_SEED, ctx, 4);
}

static void account_view_free(sh_e2e_account_view *v)
{
    if (v == NULL)
        return;
    free(v->list);
    sh_buf_free(&v->list_bytes);
    for (size_t i = 0; i < v->n_bundles; i++) {
        free(v->bundles[i]);
        sh_buf_free(&v->bundle_bytes[i]);
    }
    free(v);
}

static void prekey_free(sh_e2e_prekey *p)
{
    if (p == NULL)
        return;
    free(p->seen);
    sh_buf_free(&p->bundle);
    sh_secret_free(p);
}

void sh_e2e_device_free(sh_e2e_device *d)
{
    if (d == NULL)
        return;
    sh_account_free(d->account);
    sh_buf_free(&d->token);
    sh_buf_free(&d->revocations);
    for (size_t i = 0; i < d->n_issued; i++)
        sh_buf_free(&d->issued[i]);
    free(d->issued);
    for (size_t i = 0; i < d->n_prekeys; i++)
        prekey_free(d->prekeys[i]);
    free(d->prekeys);
    for (size_t i = 0; i < d->n_accounts; i++)
        account_view_free(d->accounts[i]);
    free(d->accounts);
    for (size_t i = 0; i < d->n_sessions; i++)
        sh__e2e_session_free(d->sessions[i]);
    free(d->sessions);
    for (size_t i = 0; i < SH_E2E_CERT_CACHE; i++)
        sh_buf_free(&d->certs[i].bytes);
    sh_secret_free(d);
}

const uint8_t *sh_e2e_device_account(const sh_e2e_device *d)
{
    return d->account_pk;
}

uint32_t sh_e2e_device_id(const sh_e2e_device *d)
{
    return d->device_id;
}

bool sh_e2e_device_is_primary(const sh_e2e_device *d)
{
    return d->account != NULL;
}

bool sh_e2e_device_is_revoked(const sh_e2e_device *d)
{
    return d->revoked;
}

/* ---- Accounts we know ---------------------------------------------------------------------- */

sh_e2e_account_view *sh__e2e_account_find(const sh_e2e_device *d, const uint8_t account[32])
{
    for (size_t i = 0; i < d->n_accounts; i++)
        if (memcmp(d->accounts[i]->account, account, 32) == 0)
            return d->accounts[i];
    return NULL;
}

int sh__e2e_account_add(sh_e2e_device *d, const uint8_t account[32], sh_e2e_account_view **out)
{
    sh_e2e_account_view *v = calloc(1, sizeof *v), **a;

    if (v == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for an account");
    a = realloc(d->accounts, (d->n_accounts + 1) * sizeof *a);
    if (a == NULL) {
        free(v);
        return sh_err_set(SH_ERR_NOMEM, "out of memory for an account");
    }
    memcpy(v->account, account, 32);
    sh_buf_init(&v->list_bytes);
    d->accounts = a;
    d->accounts[d->n_accounts++] = v;
    *out = v;
    return SH_OK;
}

static void drop_bundle(sh_e2e_account_view *v, size_t i)
{
    free(v->bundles[i]);
    sh_buf_free(&v->bundle_bytes[i]);
    v->bundles[i] = v->bundles[v->n_bundles - 1];
    v->bundle_bytes[i] = v->bundle_bytes[v->n_bundles - 1];
    v->n_bundles--;
}

int sh__e2e_install_list(sh_e2e_device *d, sh_e2e_account_view *v, const uint8_t *bytes,
                         size_t len, int64_t now_ms)
{
    sh_e2e_devlist *list = v->list;
    int rc;

    (void)now_ms;
    if (list == NULL && (list = malloc(sizeof *list)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a device list");
    v->list = list;
    *list = d->scratch_list;
    sh_buf_reset(&v->list_bytes);
    if ((rc = sh_buf_append(&v->list_bytes, bytes, len)) != SH_OK)
        return rc;
    v->highest_counter = list->counter;
    /* Sessions and bundles of devices that left the list end. */
    for (size_t i = 0; i < d->n_sessions;) {
        sh_e2e_session *s = d->sessions[i];
        if (memcmp(s->peer_account, v->account, 32) == 0 &&
            sh__e2e_devlist_find(list, s->peer_device_id) == NULL) {
            sh__e2e_session_free(s);
            d->sessions[i] = d->sessions[--d->n_sessions];
            continue;
        }
        i++;
    }
    for (size_t i = 0; i < v->n_bundles;) {
        const sh_e2e_devinfo *di = sh__e2e_devlist_find(list, v->bundles[i]->device_id);
        if (di == NULL || memcmp(di->ed25519_pk, v->bundles[i]->device_ed25519_pk, 32) != 0) {
            drop_bundle(v, i);
            continue;
        }
        i++;
    }
    return SH_OK;
}

static void become_revoked(sh_e2e_device *d)
{
    d->revoked = true;
    for (size_t i = 0; i < d->n_sessions; i++)
        sh__e2e_session_free(d->sessions[i]);
    d->n_sessions = 0;
    sodium_memzero(d->env_seed, 32);
    sodium_memzero(d->prev_env_seed, 32);
}

int sh_e2e_device_learn_list(sh_e2e_device *d, const uint8_t *bytes, size_t len, int64_t now_ms)
{
    sh_e2e_account_view *v;
    sh_e2e_devlist *l = &d->scratch_list;
    const sh_e2e_devinfo *me;
    int rc = sh__e2e_devlist_parse(l, bytes, len);

    if (rc != SH_OK)
        return rc;
    v = sh__e2e_account_find(d, l->account);
    if (v != NULL && v->list != NULL) {
        if (l->counter < v->highest_counter)
            return sh_err_set(SH_ERR_STALE, "device list %llu is older than list %llu already seen "
                              "(a rollback)", (unsigned long long)l->counter,
                              (unsigned long long)v->highest_counter);
        if (l->counter == v->highest_counter) {
            if (len != v->list_bytes.len || memcmp(bytes, v->list_bytes.data, len) != 0)
                return sh_err_set(SH_ERR_PROTOCOL, "two different device lists carry counter %llu",
                                  (unsigned long long)l->counter);
            return SH_OK;
        }
    }
    if (v == NULL && (rc = sh__e2e_account_add(d, l->account, &v)) != SH_OK)
        return rc;
    if ((rc = sh__e2e_install_list(d, v, bytes, len, now_ms)) != SH_OK)
        return rc;
    if (memcmp(l->account, d->account_pk, 32) == 0) {
        me = sh__e2e_devlist_find(v->list, d->device_id);
        if (me == NULL || memcmp(me->ed25519_pk, d->ed_pk, 32) != 0)
            become_revoked(d);
    }
    return SH_OK;
}

int sh_e2e_device_learn_bundle(sh_e2e_device *d, const uint8_t *bytes, size_t len, int64_t now_ms)
{
    sh_e2e_bundle *b = malloc(sizeof *b);
    sh_e2e_account_view *v;
    const sh_e2e_devinfo *di;
    size_t slot;
    int rc;

    if (b == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a bundle");
    if ((rc = sh__e2e_bundle_parse(b, bytes, len)) != SH_OK)
        goto done;
    v = sh__e2e_account_find(d, b->account);
    if (v == NULL || v->list == NULL) {
        rc = sh_err_set(SH_ERR_NOT_FOUND, "learn the device list of the bundle's account first");
        goto done;
    }
    di = sh__e2e_devlist_find(v->list, b->device_id);
    if (di == NULL || memcmp(di->ed25519_pk, b->device_ed25519_pk, 32) != 0) {
        rc = sh_err_set(SH_ERR_PERMISSION, "the bundle's device %u is not in its account's list "
                        "with that key", b->device_id);
        goto done;
    }
    if (now_ms >= b->expires_ms) {
        rc = sh_err_set(SH_ERR_STALE, "the bundle of device %u expired", b->device_id);
        goto done;
    }
    for (slot = 0; slot < v->n_bundles; slot++)
        if (v->bundles[slot]->device_id == b->device_id)
            break;
    if (slot < v->n_bundles && v->bundles[slot]->created_ms > b->created_ms)
        goto done; /* we already have a newer one */
    if (slot == v->n_bundles) {
        if (v->n_bundles == SH_E2E_MAX_DEVICES) {
            rc = sh_err_set(SH_ERR_INTERNAL, "bundle table full");
            goto done;
        }
        v->n_bundles++;
        sh_buf_init(&v->bundle_bytes[slot]);
    } else {
        free(v->bundles[slot]);
    }
    v->bundles[slot] = b;
    b = NULL;
    sh_buf_reset(&v->bundle_bytes[slot]);
    rc = sh_buf_append(&v->bundle_bytes[slot], bytes, len);
done:
    free(b);
    return rc;
}

/* ---- Sessions -------------------------------------------------------------------------------- */

int sh__e2e_add_session(sh_e2e_device *d, sh_e2e_session *s)
{
    sh_e2e_session **a = realloc(d->sessions, (d->n_sessions + 1) * sizeof *a);

    if (a == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a session");
    d->sessions = a;
    d->sessions[d->n_sessions++] = s;
    return SH_OK;
}

void sh__e2e_end_sessions(sh_e2e_device *d, const uint8_t account[32], uint32_t device_id)
{
    for (size_t i = 0; i < d->n_sessions;) {
        sh_e2e_session *s = d->sessions[i];
        if (memcmp(s->peer_account, account, 32) == 0 && s->peer_device_id == device_id) {
            sh__e2e_session_free(s);
            d->sessions[i] = d->sessions[--d->n_sessions];
            continue;
        }
        i++;
    }
}

void sh_e2e_forget_device(sh_e2e_device *dev, const uint8_t account[static 32], uint32_t device_id)
{
    sh__e2e_end_sessions(dev, account, device_id);
}

sh_e2e_session *sh__e2e_active_session(const sh_e2e_device *d, const uint8_t account[32],
                                       uint32_t device_id)
{
    for (size_t i = 0; i < d->n_sessions; i++) {
        sh_e2e_session *s = d->sessions[i];
        if (s->archived_ms == 0 && s->peer_device_id == device_id &&
            memcmp(s->peer_account, account, 32) == 0)
            return s;
    }
    return NULL;
}

/* ---- Prekeys ------------------------------------------------------------------------------- */

static int new_prekey(sh_e2e_device *d, int64_t now_ms, sh_e2e_prekey **out)
{
    sh_e2e_prekey *p = sh_secret_alloc(sizeof *p), **a;
    sh_e2e_bundle b;
    int rc;

    if (p == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a prekey");
    memset(p, 0, sizeof *p);
    sh_buf_init(&p->bundle);
    p->id = d->next_prekey_id;
    randombytes_buf(p->spk_sk, 32);
    crypto_scalarmult_base(p->spk_pk, p->spk_sk);
    randombytes_buf(p->pq_seed, sizeof p->pq_seed);
    p->created_ms = now_ms;
    memset(&b, 0, sizeof b);
    memcpy(b.account, d->account_pk, 32);
    b.device_id = d->device_id;
    memcpy(b.device_ed25519_pk, d->ed_pk, 32);
    b.spk_id = b.pqspk_id = p->id;
    memcpy(b.spk, p->spk_pk, 32);
    b.created_ms = now_ms;
    b.expires_ms = now_ms + SH_E2E_BUNDLE_LIFETIME_MS;
    if ((rc = sh__e2e_mlkem_keypair(p->pq_seed, p->pq_ek, NULL)) != SH_OK)
        goto done;
    memcpy(b.pqspk, p->pq_ek, SH_MLKEM768_EK_BYTES);
    if ((rc = sh__e2e_bundle_sign(&b, d->ed_sk, &p->bundle)) != SH_OK)
        goto done;
    if ((a = realloc(d->prekeys, (d->n_prekeys + 1) * sizeof *a)) == NULL) {
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory for a prekey");
        goto done;
    }
    d->prekeys = a;
    d->prekeys[d->n_prekeys++] = p;
    d->next_prekey_id++;
    *out = p;
    p = NULL;
done:
    prekey_free(p);
    return rc;
}

/* Erases prekeys past their 16 days, with their replay sets. */
void sh__e2e_erase_old_prekeys(sh_e2e_device *d, int64_t now_ms)
{
    for (size_t i = 0; i < d->n_prekeys;) {
        sh_e2e_prekey *p = d->prekeys[i];
        if (p->erase_after_ms != 0 && p->erase_after_ms <= now_ms) {
            prekey_free(p);
            memmove(&d->prekeys[i], &d->prekeys[i + 1], (d->n_prekeys - i - 1) * sizeof *d->prekeys);
            d->n_prekeys--;
            continue;
        }
        i++;
    }
}

int sh_e2e_device_bundle(sh_e2e_device *d, int64_t now_ms, sh_buf *out)
{
    sh_e2e_prekey *cur = d->n_prekeys ? d->prekeys[d->n_prekeys - 1] : NULL;
    int rc;

    if (d->revoked)
        return sh_err_set(SH_ERR_PERMISSION, "this device was revoked");
    if (d->device_id == 0)
        return sh_err_set(SH_ERR_INVALID, "this device is not linked yet");
    sh__e2e_erase_old_prekeys(d, now_ms);
    if (cur == NULL || cur->erase_after_ms != 0 || now_ms - cur->created_ms >= SH_E2E_PREKEY_ROTATE_MS) {
        if (cur != NULL && cur->erase_after_ms == 0)
            cur->erase_after_ms = now_ms + SH_E2E_PREKEY_KEEP_MS;
        if ((rc = new_prekey(d, now_ms, &cur)) != SH_OK)
            return rc;
    }
    return sh_buf_append(out, cur->bundle.data, cur->bundle.len);
}

int sh_e2e_device_list(const sh_e2e_device *d, sh_buf *out)
{
    const sh_e2e_account_view *v = d->n_accounts ? d->accounts[0] : NULL;

    if (v == NULL || v->list == NULL)
        return sh_err_set(SH_ERR_NOT_FOUND, "this device has no device list yet");
    return sh_buf_append(out, v->list_bytes.data, v->list_bytes.len);
}

int sh_e2e_device_revocations(const sh_e2e_device *d, sh_buf *out)
{
    if (d->account == NULL)
        return sh_err_set(SH_ERR_PERMISSION, "only the primary device signs the revocation list");
    return sh_buf_append(out, d->revocations.data, d->revocations.len);
}

const uint8_t *sh_e2e_device_signing_key(const sh_e2e_device *d)
{
    return d->ed_sk;
}

int sh_e2e_device_token(const sh_e2e_device *d, sh_buf *out)
{
    if (d->token.len == 0)
        return sh_err_set(SH_ERR_NOT_FOUND, "this device holds no subaccount token (the primary "
                          "signs with the account key)");
    return sh_buf_append(out, d->token.data, d->token.len);
}
