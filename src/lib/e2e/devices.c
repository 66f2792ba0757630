/* The devices of an account (docs/protocol-v2.md, "Device list", "Envelope key grants"): the
 * account-signed device list with its monotonic counter, and the grants that carry the account's
 * X-Wing envelope seed to each device. Subaccount tokens and their revocation lists are in the
 * identity module (identity/token.h). */
#include "e2e/internal.h"

#include <sodium.h>
#include <string.h>

#include "crypto/labels.h"
#include "util/err.h"

/* ---- Device list ------------------------------------------------------------------------- */

int sh__e2e_devlist_sign(const sh_e2e_devlist *list, const sh_account *account, sh_buf *out)
{
    Shoal__E2e__DeviceList m = SHOAL__E2E__DEVICE_LIST__INIT;
    Shoal__E2e__DeviceEntry dev[SH_E2E_MAX_DEVICES], *devp[SH_E2E_MAX_DEVICES];
    Shoal__E2e__RevokedDevice *rev = NULL, **revp = NULL;
    int rc;

    if (list->n_devices > SH_E2E_MAX_DEVICES || list->n_revoked > SH_E2E_MAX_REVOKED)
        return sh_err_set(SH_ERR_LIMIT, "a device list holds at most %d devices", SH_E2E_MAX_DEVICES);
    rev = calloc(list->n_revoked + 1, sizeof *rev);
    revp = calloc(list->n_revoked + 1, sizeof *revp);
    if (rev == NULL || revp == NULL) {
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory for a device list");
        goto done;
    }
    m.label = (char *)SH_LABEL_E2E_DEVICE_LIST;
    m.account_ed25519_pk = sh_wire_bin(list->account, 32);
    m.counter = list->counter;
    m.timestamp_ms = (uint64_t)list->timestamp_ms;
    m.primary_device_id = list->primary_id;
    m.next_device_id = list->next_id;
    m.envelope_generation = list->envelope_generation;
    m.envelope_ek = sh_wire_bin(list->envelope_ek, SH_XWING_EK_BYTES);
    for (size_t i = 0; i < list->n_devices; i++) {
        const sh_e2e_devinfo *d = &list->devices[i];
        shoal__e2e__device_entry__init(&dev[i]);
        dev[i].device_id = d->id;
        dev[i].ed25519_pk = sh_wire_bin(d->ed25519_pk, 32);
        dev[i].x25519_pk = sh_wire_bin(d->x25519_pk, 32);
        dev[i].mlkem_ek = sh_wire_bin(d->mlkem_ek, SH_MLKEM768_EK_BYTES);
        dev[i].added_ms = (uint64_t)d->added_ms;
        devp[i] = &dev[i];
    }
    m.n_devices = list->n_devices;
    m.devices = devp;
    for (size_t i = 0; i < list->n_revoked; i++) {
        shoal__e2e__revoked_device__init(&rev[i]);
        rev[i].device_id = list->revoked[i].id;
        rev[i].ed25519_pk = sh_wire_bin(list->revoked[i].ed25519_pk, 32);
        rev[i].revoked_ms = (uint64_t)list->revoked[i].revoked_ms;
        revp[i] = &rev[i];
    }
    m.n_revoked = list->n_revoked;
    m.revoked = revp;
    rc = sh_account_sign_pack(&m.base, account, out);
done:
    free(rev);
    free(revp);
    return rc;
}

static int devlist_entry(sh_e2e_devinfo *d, const Shoal__E2e__DeviceEntry *e)
{
    int rc;

    if (e->device_id == 0)
        return sh_err_set(SH_ERR_FORMAT, "a device list names device id 0, which is reserved");
    if ((rc = sh_wire_need_len(e->ed25519_pk, 32, "a device's Ed25519 key")) != SH_OK ||
        (rc = sh_wire_need_len(e->x25519_pk, 32, "a device's X25519 key")) != SH_OK ||
        (rc = sh_wire_need_len(e->mlkem_ek, SH_MLKEM768_EK_BYTES, "a device's ML-KEM key")) != SH_OK)
        return rc;
    d->id = e->device_id;
    memcpy(d->ed25519_pk, e->ed25519_pk.data, 32);
    memcpy(d->x25519_pk, e->x25519_pk.data, 32);
    memcpy(d->mlkem_ek, e->mlkem_ek.data, SH_MLKEM768_EK_BYTES);
    d->added_ms = (int64_t)e->added_ms;
    return SH_OK;
}

static int devlist_from_pb(sh_e2e_devlist *l, const Shoal__E2e__DeviceList *m)
{
    int rc;

    if ((rc = sh_wire_need_len(m->account_ed25519_pk, 32, "the account key")) != SH_OK ||
        (rc = sh_wire_need_len(m->envelope_ek, SH_XWING_EK_BYTES, "the envelope key")) != SH_OK)
        return rc;
    if (m->n_devices == 0 || m->n_devices > SH_E2E_MAX_DEVICES)
        return sh_err_set(SH_ERR_LIMIT, "a device list has %zu devices; 1 to %d are allowed",
                          m->n_devices, SH_E2E_MAX_DEVICES);
    if (m->n_revoked > SH_E2E_MAX_REVOKED)
        return sh_err_set(SH_ERR_LIMIT, "a device list remembers at most %d revoked devices",
                          SH_E2E_MAX_REVOKED);
    if (m->counter == 0)
        return sh_err_set(SH_ERR_FORMAT, "a device list's counter starts at 1");
    memcpy(l->account, m->account_ed25519_pk.data, 32);
    memcpy(l->envelope_ek, m->envelope_ek.data, SH_XWING_EK_BYTES);
    l->counter = m->counter;
    l->timestamp_ms = (int64_t)m->timestamp_ms;
    l->primary_id = m->primary_device_id;
    l->next_id = m->next_device_id;
    l->envelope_generation = m->envelope_generation;
    l->n_devices = m->n_devices;
    for (size_t i = 0; i < m->n_devices; i++) {
        if ((rc = devlist_entry(&l->devices[i], m->devices[i])) != SH_OK)
            return rc;
        if (l->devices[i].id >= l->next_id)
            return sh_err_set(SH_ERR_FORMAT, "device id %u is not below the list's next id %u",
                              l->devices[i].id, l->next_id);
        for (size_t j = 0; j < i; j++)
            if (l->devices[j].id == l->devices[i].id ||
                memcmp(l->devices[j].ed25519_pk, l->devices[i].ed25519_pk, 32) == 0)
                return sh_err_set(SH_ERR_FORMAT, "device id %u or its key appears twice",
                                  l->devices[i].id);
    }
    l->n_revoked = m->n_revoked;
    for (size_t i = 0; i < m->n_revoked; i++) {
        if ((rc = sh_wire_need_len(m->revoked[i]->ed25519_pk, 32, "a revoked device's key")) != SH_OK)
            return rc;
        l->revoked[i].id = m->revoked[i]->device_id;
        memcpy(l->revoked[i].ed25519_pk, m->revoked[i]->ed25519_pk.data, 32);
        l->revoked[i].revoked_ms = (int64_t)m->revoked[i]->revoked_ms;
        if (sh__e2e_devlist_find(l, l->revoked[i].id) != NULL)
            return sh_err_set(SH_ERR_FORMAT, "device %u is both listed and revoked", l->revoked[i].id);
    }
    if (sh__e2e_devlist_find(l, l->primary_id) == NULL)
        return sh_err_set(SH_ERR_FORMAT, "the primary device %u is not in the list", l->primary_id);
    return SH_OK;
}

int sh__e2e_devlist_parse(sh_e2e_devlist *list, const uint8_t *in, size_t len)
{
    Shoal__Signed *outer = NULL;
    Shoal__E2e__DeviceList *m = NULL;
    int rc;

    memset(list, 0, sizeof *list);
    rc = sh_wire_open_signed(&shoal__e2e__device_list__descriptor, SH_LABEL_E2E_DEVICE_LIST, in,
                             len, "device list", &outer, (ProtobufCMessage **)&m);
    if (rc != SH_OK)
        return rc;
    rc = devlist_from_pb(list, m);
    if (rc == SH_OK)
        rc = sh_wire_verify(outer, list->account, "device list");
    sh_wire_free(outer);
    sh_wire_free(m);
    return rc;
}

const sh_e2e_devinfo *sh__e2e_devlist_find(const sh_e2e_devlist *list, uint32_t id)
{
    for (size_t i = 0; i < list->n_devices; i++)
        if (list->devices[i].id == id)
            return &list->devices[i];
    return NULL;
}

bool sh__e2e_devlist_is_revoked_key(const sh_e2e_devlist *list, const uint8_t ed25519_pk[32])
{
    for (size_t i = 0; i < list->n_revoked; i++)
        if (memcmp(list->revoked[i].ed25519_pk, ed25519_pk, 32) == 0)
            return true;
    return false;
}

/* ---- Envelope key grants ------------------------------------------------------------------- */

static int grant_key(uint8_t key[static 32], const uint8_t dh[static 32], const uint8_t ss[static 32],
                     const uint8_t eph[static 32], const uint8_t device_x[static 32],
                     const uint8_t *ct, uint32_t device_id, uint32_t generation)
{
    uint8_t ikm[64], ctx[32 + 32 + 32 + 8];

    memcpy(ikm, dh, 32);
    memcpy(ikm + 32, ss, 32);
    memcpy(ctx, eph, 32);
    memcpy(ctx + 32, device_x, 32);
    crypto_generichash(ctx + 64, 32, ct, SH_MLKEM768_CT_BYTES, NULL, 0);
    sh_store_u32be(ctx + 96, device_id);
    sh_store_u32be(ctx + 100, generation);
    int rc = sh__e2e_kdf(key, 32, NULL, 0, ikm, sizeof ikm, SH_LABEL_E2E_GRANT_KEY, ctx, sizeof ctx);
    sodium_memzero(ikm, sizeof ikm);
    return rc;
}

int sh__e2e_grant_make(const sh_account *account, const sh_e2e_devinfo *dev, uint32_t generation,
                       const uint8_t seed[static 32], sh_buf *out)
{
    Shoal__E2e__EnvelopeKeyGrant m = SHOAL__E2E__ENVELOPE_KEY_GRANT__INIT;
    uint8_t eph_sk[32], eph_pk[32], dh[32], ss[32], key[32];
    uint8_t ct[SH_MLKEM768_CT_BYTES], sealed[32 + SH_E2E_TAG_BYTES], nonce[24] = {0};
    int rc;

    randombytes_buf(eph_sk, 32);
    crypto_scalarmult_base(eph_pk, eph_sk);
    if (crypto_scalarmult(dh, eph_sk, dev->x25519_pk) != 0) {
        rc = sh_err_set(SH_ERR_CRYPTO, "device %u's X25519 key is a low-order point", dev->id);
        goto done;
    }
    if ((rc = sh__e2e_mlkem_encaps(ct, ss, dev->mlkem_ek)) != SH_OK ||
        (rc = grant_key(key, dh, ss, eph_pk, dev->x25519_pk, ct, dev->id, generation)) != SH_OK)
        goto done;
    crypto_aead_xchacha20poly1305_ietf_encrypt(sealed, NULL, seed, 32, NULL, 0, NULL, nonce, key);
    m.label = (char *)SH_LABEL_E2E_ENVELOPE_GRANT;
    m.account_ed25519_pk = sh_wire_bin(sh_account_ed25519_pk(account), 32);
    m.device_id = dev->id;
    m.generation = generation;
    m.eph_x25519 = sh_wire_bin(eph_pk, 32);
    m.mlkem_ct = sh_wire_bin(ct, sizeof ct);
    m.sealed_seed = sh_wire_bin(sealed, sizeof sealed);
    rc = sh_account_sign_pack(&m.base, account, out);
done:
    sodium_memzero(eph_sk, sizeof eph_sk);
    sodium_memzero(dh, sizeof dh);
    sodium_memzero(ss, sizeof ss);
    sodium_memzero(key, sizeof key);
    return rc;
}

int sh__e2e_grant_open(const uint8_t *in, size_t len, const uint8_t account[static 32],
                       uint32_t device_id, const uint8_t x25519_sk[static 32],
                       const uint8_t x25519_pk[static 32], const uint8_t mlkem_seed[static 64],
                       uint32_t *generation, uint8_t seed[static 32])
{
    Shoal__Signed *outer = NULL;
    Shoal__E2e__EnvelopeKeyGrant *m = NULL;
    uint8_t dh[32], ss[32], key[32], nonce[24] = {0};
    int rc;

    rc = sh_wire_open_signed(&shoal__e2e__envelope_key_grant__descriptor,
                             SH_LABEL_E2E_ENVELOPE_GRANT, in, len, "envelope key grant", &outer,
                             (ProtobufCMessage **)&m);
    if (rc != SH_OK)
        return rc;
    if ((rc = sh_wire_need_len(m->account_ed25519_pk, 32, "the grant's account")) != SH_OK ||
        (rc = sh_wire_need_len(m->eph_x25519, 32, "the grant's ephemeral key")) != SH_OK ||
        (rc = sh_wire_need_len(m->mlkem_ct, SH_MLKEM768_CT_BYTES, "the grant's ciphertext")) != SH_OK ||
        (rc = sh_wire_need_len(m->sealed_seed, 32 + SH_E2E_TAG_BYTES, "the grant's sealed seed")) != SH_OK)
        goto done;
    if (memcmp(m->account_ed25519_pk.data, account, 32) != 0 || m->device_id != device_id) {
        rc = sh_err_set(SH_ERR_PERMISSION, "the grant is for device %u of another account or device",
                        m->device_id);
        goto done;
    }
    if ((rc = sh_wire_verify(outer, account, "envelope key grant")) != SH_OK)
        goto done;
    if (crypto_scalarmult(dh, x25519_sk, m->eph_x25519.data) != 0) {
        rc = sh_err_set(SH_ERR_CRYPTO, "the grant's ephemeral key is a low-order point");
        goto done;
    }
    if ((rc = sh__e2e_mlkem_decaps(ss, m->mlkem_ct.data, mlkem_seed)) != SH_OK ||
        (rc = grant_key(key, dh, ss, m->eph_x25519.data, x25519_pk, m->mlkem_ct.data, device_id,
                        m->generation)) != SH_OK)
        goto done;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(seed, NULL, NULL, m->sealed_seed.data,
                                                   m->sealed_seed.len, NULL, 0, nonce, key) != 0) {
        rc = sh_err_set(SH_ERR_CRYPTO, "the grant does not open with this device's keys");
        goto done;
    }
    *generation = m->generation;
done:
    sodium_memzero(dh, sizeof dh);
    sodium_memzero(ss, sizeof ss);
    sodium_memzero(key, sizeof key);
    sh_wire_free(outer);
    sh_wire_free(m);
    return rc;
}
