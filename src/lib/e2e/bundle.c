/* Prekey bundles (docs/protocol-v2.md, "Prekey bundles"): a device's signed X25519 prekey and
 * signed ML-KEM-768 prekey with their ids and validity, signed by the device's Ed25519 key. The
 * device list binds that key to the account. No one-time prekeys. */
#include "e2e/internal.h"

#include <string.h>

#include "crypto/labels.h"
#include "util/err.h"

int sh__e2e_bundle_sign(const sh_e2e_bundle *b, const uint8_t device_ed_sk[static 64], sh_buf *out)
{
    Shoal__E2e__PrekeyBundle m = SHOAL__E2E__PREKEY_BUNDLE__INIT;

    m.label = (char *)SH_LABEL_E2E_BUNDLE;
    m.account_ed25519_pk = sh_wire_bin(b->account, 32);
    m.device_id = b->device_id;
    m.device_ed25519_pk = sh_wire_bin(b->device_ed25519_pk, 32);
    m.spk_id = b->spk_id;
    m.spk_x25519 = sh_wire_bin(b->spk, 32);
    m.pqspk_id = b->pqspk_id;
    m.pqspk_mlkem = sh_wire_bin(b->pqspk, SH_MLKEM768_EK_BYTES);
    m.created_ms = (uint64_t)b->created_ms;
    m.expires_ms = (uint64_t)b->expires_ms;
    return sh_wire_sign_pack(&m.base, device_ed_sk, out);
}

int sh__e2e_bundle_parse(sh_e2e_bundle *b, const uint8_t *in, size_t len)
{
    Shoal__Signed *outer = NULL;
    Shoal__E2e__PrekeyBundle *m = NULL;
    int rc;

    memset(b, 0, sizeof *b);
    rc = sh_wire_open_signed(&shoal__e2e__prekey_bundle__descriptor, SH_LABEL_E2E_BUNDLE, in, len,
                             "prekey bundle", &outer, (ProtobufCMessage **)&m);
    if (rc != SH_OK)
        return rc;
    if ((rc = sh_wire_need_len(m->account_ed25519_pk, 32, "the bundle's account")) != SH_OK ||
        (rc = sh_wire_need_len(m->device_ed25519_pk, 32, "the bundle's device key")) != SH_OK ||
        (rc = sh_wire_need_len(m->spk_x25519, 32, "the signed X25519 prekey")) != SH_OK ||
        (rc = sh_wire_need_len(m->pqspk_mlkem, SH_MLKEM768_EK_BYTES, "the signed ML-KEM prekey")) != SH_OK)
        goto done;
    if (m->device_id == 0 || m->spk_id == 0 || m->pqspk_id == 0) {
        rc = sh_err_set(SH_ERR_FORMAT, "a bundle's device and prekey ids start at 1");
        goto done;
    }
    memcpy(b->account, m->account_ed25519_pk.data, 32);
    b->device_id = m->device_id;
    memcpy(b->device_ed25519_pk, m->device_ed25519_pk.data, 32);
    b->spk_id = m->spk_id;
    memcpy(b->spk, m->spk_x25519.data, 32);
    b->pqspk_id = m->pqspk_id;
    memcpy(b->pqspk, m->pqspk_mlkem.data, SH_MLKEM768_EK_BYTES);
    b->created_ms = (int64_t)m->created_ms;
    b->expires_ms = (int64_t)m->expires_ms;
    rc = sh_wire_verify(outer, b->device_ed25519_pk, "prekey bundle");
done:
    sh_wire_free(outer);
    sh_wire_free(m);
    return rc;
}
