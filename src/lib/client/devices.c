/* The devices of an account at work (docs/client.md "Linked devices"; protocol-v2.md §4, §11;
 * overview.md "Devices and keys of an account"): how each device signs its storage requests
 * (the primary with the account key, a linked device with its device key and the subaccount
 * token the primary issued it), what the primary publishes (device list in namespace 11,
 * revocation list in namespace 12), how a linked device keeps its account's list fresh, listing
 * and revoking devices, and the envelope-key grants a revocation sends the remaining linked
 * devices through the account's inbox (a signed object there, where envelopes start 0x02). */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/internal.h"
#include "crypto/labels.h"
#include "e2e.pb-c.h"
#include "store/namespaces.h"
#include "util/err.h"
#include "util/log.h"
#include "util/time.h"
#include "wire/pb.h"

int sh__client_set_signer(sh_client *c)
{
    int rc;

    memset(&c->signer, 0, sizeof c->signer);
    if (c->account != NULL) {
        c->signer.account = c->account;
        return SH_OK;
    }
    sh_buf_reset(&c->token);
    rc = sh_e2e_device_token(c->dev, &c->token);
    if (rc != SH_OK)
        return sh_err_wrap(SH_ERR_FORMAT, "the linked device holds no token");
    c->signer.device_sk = sh_e2e_device_signing_key(c->dev);
    c->signer.token = c->token.data;
    c->signer.token_len = c->token.len;
    return SH_OK;
}

int sh_client_new_linked(sh_client_state *state, sh_client_transport *transport,
                         sh_client_event_cb cb, void *ctx, sh_client **out)
{
    sh_client *c = calloc(1, sizeof *c);
    sh_buf st;
    int rc;

    if (c == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the client");
    sh_buf_init_secret(&st);
    sh_buf_init(&c->token);
    c->state = state;
    c->tp = transport;
    sh_client_options_default(&c->opt);
    c->cb = cb;
    c->ctx = ctx;
    rc = sh_client_state_device_get(state, &st);
    if (rc == SH_ERR_NOT_FOUND)
        rc = sh_err_set(SH_ERR_NOT_FOUND, "the client database holds no linked device");
    if (rc == SH_OK && sh_e2e_device_load(&c->dev, st.data, st.len) != SH_OK)
        rc = sh_err_wrap(SH_ERR_FORMAT, "the saved device state does not load");
    if (rc == SH_OK && sh_e2e_device_is_primary(c->dev))
        rc = sh_err_set(SH_ERR_INVALID, "the client database holds a primary device (open it "
                                        "with the account's seed)");
    if (rc == SH_OK) {
        c->sid[0] = SH_SESSION_ID_PREFIX;
        if (crypto_sign_ed25519_pk_to_curve25519(c->sid + 1, sh_e2e_device_account(c->dev)) != 0)
            rc = sh_err_set(SH_ERR_FORMAT, "the linked device's account key is not valid");
    }
    if (rc == SH_OK)
        rc = sh__client_set_signer(c);
    if (rc == SH_OK)
        rc = sh__client_load_since(c);
    sh_buf_free(&st);
    if (rc != SH_OK) {
        sh_client_free(c);
        return rc;
    }
    *out = c;
    return SH_OK;
}

int sh__client_publish_primary(sh_client *c, const sh_buf *list)
{
    sh_client_receipt rcpt;
    sh_buf rl;
    int rc;

    sh_buf_init(&rl);
    rc = c->tp->store(c->tp->ctx, c->sid, SH_NS_DEVICE_LIST, list->data, list->len,
                      SH_CLIENT_PUBLIC_TTL_MS, &c->signer, &rcpt);
    if (rc == SH_OK)
        rc = sh_e2e_device_revocations(c->dev, &rl);
    if (rc == SH_OK && rl.len > 0)
        rc = c->tp->store(c->tp->ctx, c->sid, SH_NS_REVOCATIONS, rl.data, rl.len,
                          SH_CLIENT_PUBLIC_TTL_MS, &c->signer, &rcpt);
    sh_buf_free(&rl);
    return rc;
}

int sh__client_refresh_own(sh_client *c, bool force)
{
    sh_node_page page = {0};
    int64_t now = sh_time_mono_ms();
    int rc = SH_OK, lrc;

    if (sh_client_is_primary(c))
        return SH_OK;
    if (!force && c->own_list_ms != 0 && now - c->own_list_ms < c->opt.list_refresh_ms &&
        !sh_e2e_device_is_revoked(c->dev))
        return SH_OK;
    rc = c->tp->retrieve(c->tp->ctx, c->sid, SH_NS_DEVICE_LIST, NULL, false, 0, NULL, &page);
    for (size_t i = 0; rc == SH_OK && i < page.count; i++) {
        lrc = sh_e2e_device_learn_list(c->dev, page.msgs[i].data, page.msgs[i].data_len,
                                       sh_time_now_ms());
        if (lrc != SH_OK && lrc != SH_ERR_STALE)
            sh_log_warn("client", "ignored a device list of our account: %s", sh_err_msg());
    }
    sh_node_page_free(&page);
    if (rc == SH_OK) {
        c->own_list_ms = now;
        rc = sh__client_save_device(c);
    }
    if (rc == SH_OK && sh_e2e_device_is_revoked(c->dev))
        rc = sh_err_set(SH_ERR_PERMISSION, "this device was revoked from its account");
    return rc;
}

static void add_info(sh_client_device_info *out, size_t max, size_t *n,
                     const sh_client_device_info *d)
{
    if (*n < max)
        out[*n] = *d;
    ++*n;
}

int sh_client_devices(sh_client *c, sh_client_device_info *out, size_t max, size_t *n)
{
    Shoal__Signed *outer = NULL;
    Shoal__E2e__DeviceList *m = NULL;
    sh_buf list;
    int rc;

    *n = 0;
    sh_buf_init(&list);
    rc = sh_e2e_device_list(c->dev, &list);
    if (rc == SH_OK)
        rc = sh_wire_open_signed(&shoal__e2e__device_list__descriptor, SH_LABEL_E2E_DEVICE_LIST,
                                 list.data, list.len, "device list", &outer,
                                 (ProtobufCMessage **)&m);
    for (size_t i = 0; rc == SH_OK && i < m->n_devices; i++) {
        const Shoal__E2e__DeviceEntry *e = m->devices[i];
        sh_client_device_info d = {.id = e->device_id, .primary = e->device_id == m->primary_device_id,
                                   .self = e->device_id == sh_e2e_device_id(c->dev),
                                   .added_ms = (int64_t)e->added_ms};
        add_info(out, max, n, &d);
    }
    for (size_t i = 0; rc == SH_OK && i < m->n_revoked; i++) {
        sh_client_device_info d = {.id = m->revoked[i]->device_id, .revoked = true,
                                   .added_ms = (int64_t)m->revoked[i]->revoked_ms};
        add_info(out, max, n, &d);
    }
    sh_wire_free(outer);
    sh_wire_free(m);
    sh_buf_free(&list);
    return rc;
}

/* The new envelope key, sealed to one linked device, into our inbox (anonymous, like mail). */
static int send_grant(sh_client *c, uint32_t device_id)
{
    sh_client_receipt rcpt;
    sh_buf g;
    int rc;

    sh_buf_init(&g);
    rc = sh_e2e_device_grant(c->dev, device_id, &g);
    if (rc == SH_OK)
        rc = c->tp->store(c->tp->ctx, c->sid, SH_NS_INBOX, g.data, g.len, SH_CLIENT_INBOX_TTL_MS,
                          NULL, &rcpt);
    sh_buf_free(&g);
    return rc;
}

int sh__client_take_grant(sh_client *c, const sh_store_msg *msg, bool *handled)
{
    int rc = SH_OK, grc;

    *handled = msg->data_len > 0 && msg->data[0] == 0x0a; /* a Signed object, not an envelope */
    if (!*handled)
        return SH_OK;
    if (!sh_client_is_primary(c) && (rc = sh__client_refresh_own(c, true)) != SH_OK)
        return rc; /* the grant's key must match a list we hold: tried again on the next poll */
    grc = sh_client_is_primary(c) ? SH_ERR_PERMISSION
                                  : sh_e2e_device_learn_grant(c->dev, msg->data, msg->data_len);
    if (grc != SH_OK)
        sh_log_debug("client", "skipped an envelope-key grant: %s", sh_err_msg());
    if ((rc = sh_client_state_begin(c->state)) != SH_OK)
        return rc;
    rc = sh_client_seen_add(c->state, SH_NS_INBOX, msg->hash, msg->expiry_ms);
    if (rc == SH_OK && grc == SH_OK)
        rc = sh__client_save_device(c);
    if (rc == SH_OK)
        rc = sh_client_state_commit(c->state);
    if (rc != SH_OK)
        sh_client_state_rollback(c->state);
    return rc;
}

/* The device a prekey bundle is of (0 when it does not parse). */
static uint32_t bundle_device(const uint8_t *data, size_t len)
{
    Shoal__Signed *outer = NULL;
    Shoal__E2e__PrekeyBundle *b = NULL;
    uint32_t id = 0;

    if (sh_wire_open_signed(&shoal__e2e__prekey_bundle__descriptor, SH_LABEL_E2E_BUNDLE, data,
                            len, "prekey bundle", &outer, (ProtobufCMessage **)&b) == SH_OK)
        id = b->device_id;
    sh_wire_free(outer);
    sh_wire_free(b);
    return id;
}

/* The revoked device's prekey bundles leave namespace 10 (an owner-signed delete), so that no
 * new session starts from them. */
static int remove_bundles(sh_client *c, uint32_t device_id)
{
    sh_node_page page = {0};
    uint8_t (*hashes)[SH_STORE_HASH_BYTES] = NULL;
    size_t n = 0;
    int rc = c->tp->retrieve(c->tp->ctx, c->sid, SH_NS_PREKEYS, NULL, false, 0, NULL, &page);

    if (rc == SH_OK && page.count > 0 && (hashes = calloc(page.count, sizeof *hashes)) == NULL)
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory removing a revoked device's bundles");
    for (size_t i = 0; rc == SH_OK && i < page.count; i++)
        if (bundle_device(page.msgs[i].data, page.msgs[i].data_len) == device_id)
            memcpy(hashes[n++], page.msgs[i].hash, SH_STORE_HASH_BYTES);
    if (rc == SH_OK && n > 0)
        rc = c->tp->remove(c->tp->ctx, c->sid, SH_NS_PREKEYS,
                           (const uint8_t (*)[SH_STORE_HASH_BYTES])hashes, n, &c->signer);
    free(hashes);
    sh_node_page_free(&page);
    return rc;
}

int sh_client_revoke_device(sh_client *c, uint32_t device_id)
{
    sh_client_device_info devs[SH_E2E_MAX_DEVICES];
    size_t n;
    bool found = false;
    int rc;

    if (!sh_client_is_primary(c))
        return sh_err_set(SH_ERR_PERMISSION, "only the primary device revokes devices");
    if ((rc = sh_client_devices(c, devs, SH_E2E_MAX_DEVICES, &n)) != SH_OK)
        return rc;
    for (size_t i = 0; i < n && i < SH_E2E_MAX_DEVICES; i++)
        found = found || (devs[i].id == device_id && !devs[i].revoked && !devs[i].primary);
    if (!found)
        return sh_err_set(SH_ERR_NOT_FOUND, "device %u is not a linked device of this account "
                          "(see 'shoal devices list')", device_id);
    if ((rc = sh_e2e_revoke_device(c->dev, device_id, sh_time_now_ms())) != SH_OK ||
        (rc = sh__client_save_device(c)) != SH_OK)
        return rc;
    rc = sh_client_publish(c, true);
    if (rc == SH_OK)
        rc = remove_bundles(c, device_id);
    for (size_t i = 0; rc == SH_OK && i < n && i < SH_E2E_MAX_DEVICES; i++)
        if (!devs[i].revoked && !devs[i].primary && devs[i].id != device_id)
            rc = send_grant(c, devs[i].id);
    return rc == SH_OK ? SH_OK : sh_err_wrap(rc, "device %u is revoked here but the network does "
                                             "not know yet (run 'shoal status' to publish)",
                                             device_id);
}
