/* Sending and receiving (docs/protocol-v2.md, "Multi-device", "Sealed envelopes", "Session
 * selection"). A message is encrypted once under a fresh content key; each device of the
 * recipient account gets that key in its own slot under the session of the device pair, and the
 * whole is sealed with X-Wing to the account's envelope key. A copy goes the same way to our own
 * other devices.
 *
 * Session selection when a handshake arrives for a device pair that already has an active
 * session: a new session that an existing one names as `replaces` is stale and only archived;
 * two sessions that replace the same predecessor were started at once, and the one whose
 * initiator has the smaller device key wins on both sides; otherwise the newer one wins. */
#include "e2e/internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

static void me_party(const sh_e2e_device *d, sh_e2e_party *p)
{
    p->account = d->account_pk;
    p->device_id = d->device_id;
    p->device_ed = d->ed_pk;
    p->identity_x = d->x_pk;
}

static void dev_party(const uint8_t *account, const sh_e2e_devinfo *di, sh_e2e_party *p)
{
    p->account = account;
    p->device_id = di->id;
    p->device_ed = di->ed25519_pk;
    p->identity_x = di->x25519_pk;
}

/* The newest session with a device (active or not), to name in `replaces`. */
static const sh_e2e_session *latest_session(const sh_e2e_device *d, const uint8_t *account,
                                            uint32_t device_id)
{
    const sh_e2e_session *best = NULL;

    for (size_t i = 0; i < d->n_sessions; i++) {
        const sh_e2e_session *s = d->sessions[i];
        if (s->peer_device_id == device_id && memcmp(s->peer_account, account, 32) == 0 &&
            (best == NULL || s->created_ms >= best->created_ms))
            best = s;
    }
    return best;
}

static int session_for_sending(sh_e2e_device *d, sh_e2e_account_view *v, const sh_e2e_devinfo *di,
                               int64_t now_ms, sh_e2e_session **out)
{
    static const uint8_t zeros[32];
    const sh_e2e_session *prev;
    const sh_e2e_bundle *b = NULL;
    sh_e2e_party me, peer;
    int rc;

    if ((*out = sh__e2e_active_session(d, v->account, di->id)) != NULL)
        return SH_OK;
    for (size_t i = 0; i < v->n_bundles; i++)
        if (v->bundles[i]->device_id == di->id)
            b = v->bundles[i];
    if (b == NULL || now_ms >= b->expires_ms)
        return sh_err_set(SH_ERR_NOT_FOUND, "no current prekey bundle for device %u: fetch it", di->id);
    me_party(d, &me);
    dev_party(v->account, di, &peer);
    prev = latest_session(d, v->account, di->id);
    rc = sh__e2e_session_new_initiator(out, &me, d->x_sk, &peer, b, prev ? prev->th : zeros, now_ms);
    if (rc != SH_OK)
        return rc;
    if ((rc = sh__e2e_add_session(d, *out)) != SH_OK) {
        sh__e2e_session_free(*out);
        *out = NULL;
    }
    return rc;
}

static int sender_cert(sh_e2e_device *d, const uint8_t recipient[32], int64_t now_ms,
                       const sh_buf **out)
{
    sh_e2e_cert_cache *slot = &d->certs[0];
    uint64_t counter = d->accounts[0]->highest_counter;
    sh_e2e_cert c;

    for (size_t i = 0; i < SH_E2E_CERT_CACHE; i++) {
        sh_e2e_cert_cache *e = &d->certs[i];
        if (memcmp(e->recipient, recipient, 32) == 0 && e->bytes.len != 0) {
            if (e->expires_ms - now_ms > SH_E2E_CERT_LIFETIME_MS / 2 && e->counter == counter) {
                *out = &e->bytes;
                return SH_OK;
            }
            slot = e;
            break;
        }
        if (e->expires_ms < slot->expires_ms)
            slot = e;
    }
    memset(&c, 0, sizeof c);
    memcpy(c.sender_account, d->account_pk, 32);
    c.sender_device_id = d->device_id;
    memcpy(c.sender_device_ed, d->ed_pk, 32);
    memcpy(c.recipient_account, recipient, 32);
    c.devlist_counter = counter;
    c.expires_ms = now_ms + SH_E2E_CERT_LIFETIME_MS;
    memcpy(slot->recipient, recipient, 32);
    slot->expires_ms = c.expires_ms;
    slot->counter = counter;
    sh_buf_reset(&slot->bytes);
    *out = &slot->bytes;
    return sh__e2e_cert_sign(&c, d->ed_sk, &slot->bytes);
}

typedef struct slots_out {
    uint8_t slots[SH_E2E_MAX_DEVICES * SH_E2E_SLOT_BYTES];
    uint8_t inits[SH_E2E_MAX_DEVICES * SH_E2E_INIT_ENTRY_BYTES];
    size_t n_inits;
} slots_out;

/* One slot per device of `v` except ours: the content key under the session of the pair, bound
 * to the certificate, conversation and payload ciphertext; handshake entries where needed. */
static int fill_slots(sh_e2e_device *d, sh_e2e_account_view *v, const sh_buf *cert,
                      const uint8_t conversation[32], const uint8_t *ct, size_t ct_len,
                      const uint8_t key[32], int64_t now_ms, slots_out *o)
{
    size_t n_slots = 0;
    uint8_t ad[32];
    int rc = SH_OK;

    randombytes_buf(o->slots, sizeof o->slots);
    o->n_inits = 0;
    for (size_t i = 0; i < v->list->n_devices && rc == SH_OK; i++) {
        const sh_e2e_devinfo *di = &v->list->devices[i];
        uint8_t *slot = o->slots + n_slots * SH_E2E_SLOT_BYTES;
        sh_e2e_session *s;
        if (memcmp(v->account, d->account_pk, 32) == 0 && di->id == d->device_id)
            continue;
        if ((rc = session_for_sending(d, v, di, now_ms, &s)) != SH_OK)
            break;
        sh__e2e_slot_ad(ad, cert->data, cert->len, conversation, ct, ct_len, di->id);
        sh_store_u32be(slot, di->id);
        if ((rc = sh__e2e_session_encrypt(s, key, 32, ad, 32, slot + 4)) != SH_OK)
            break;
        n_slots++;
        if (s->has_init) {
            uint8_t *e = o->inits + o->n_inits++ * SH_E2E_INIT_ENTRY_BYTES;
            sh_store_u32be(e, di->id);
            memcpy(e + 4, s->init, SH_E2E_INIT_BYTES);
        }
    }
    for (size_t i = n_slots; i < SH_E2E_MAX_DEVICES; i++)
        memset(o->slots + i * SH_E2E_SLOT_BYTES, 0, 4); /* unused: device id 0 */
    return rc;
}

/* One envelope to every device of `v` except ours (docs/protocol-v2.md section 10). */
static int build_envelope(sh_e2e_device *d, sh_e2e_account_view *v, const uint8_t conversation[32],
                          const uint8_t *payload, size_t len, int64_t now_ms, sh_buf *out)
{
    static const uint8_t zero_nonce[SH_E2E_NONCE_BYTES];
    size_t ct_len = len + SH_E2E_TAG_BYTES;
    uint8_t key[32], *ct = malloc(ct_len);
    slots_out *o = malloc(sizeof *o);
    const sh_buf *cert;
    sh_buf inner;
    int rc;

    sh_buf_init_secret(&inner);
    if (ct == NULL || o == NULL) {
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory for a message");
        goto done;
    }
    randombytes_buf(key, sizeof key);
    /* The payload first: the slots are bound to its ciphertext. */
    crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, payload, len, conversation, 32, NULL,
                                               zero_nonce, key);
    if ((rc = sender_cert(d, v->account, now_ms, &cert)) != SH_OK ||
        (rc = fill_slots(d, v, cert, conversation, ct, ct_len, key, now_ms, o)) != SH_OK)
        goto done;
    if ((rc = sh_buf_append_u8(&inner, SH_E2E_INNER_VERSION)) != SH_OK ||
        (rc = sh_buf_append_u16be(&inner, (uint16_t)cert->len)) != SH_OK ||
        (rc = sh_buf_append(&inner, cert->data, cert->len)) != SH_OK ||
        (rc = sh_buf_append(&inner, conversation, 32)) != SH_OK ||
        (rc = sh_buf_append_u8(&inner, (uint8_t)o->n_inits)) != SH_OK ||
        (rc = sh_buf_append(&inner, o->inits, o->n_inits * SH_E2E_INIT_ENTRY_BYTES)) != SH_OK ||
        (rc = sh_buf_append(&inner, o->slots, sizeof o->slots)) != SH_OK ||
        (rc = sh_buf_append_u32be(&inner, (uint32_t)ct_len)) != SH_OK ||
        (rc = sh_buf_append(&inner, ct, ct_len)) != SH_OK)
        goto done;
    rc = sh__e2e_seal(v->list->envelope_ek, &inner, out);
done:
    sodium_memzero(key, sizeof key);
    sh_buf_free(&inner);
    free(ct);
    free(o);
    return rc;
}

int sh_e2e_send(sh_e2e_device *d, const uint8_t recipient[static SH_E2E_ACCOUNT_BYTES],
                const uint8_t *payload, size_t len, int64_t now_ms, sh_buf *to_recipient,
                sh_buf *to_self)
{
    sh_e2e_account_view *v = sh__e2e_account_find(d, recipient), *own = d->accounts[0];
    int rc;

    if (d->revoked)
        return sh_err_set(SH_ERR_PERMISSION, "this device was revoked from its account");
    if (len > SH_E2E_MAX_PAYLOAD_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "a payload of %zu bytes exceeds the %d-byte limit", len,
                          SH_E2E_MAX_PAYLOAD_BYTES);
    if (v == NULL || v->list == NULL)
        return sh_err_set(SH_ERR_NOT_FOUND, "learn the recipient's device list first");
    if ((rc = build_envelope(d, v, d->account_pk, payload, len, now_ms, to_recipient)) != SH_OK)
        return rc;
    if (v != own && own->list->n_devices > 1)
        rc = build_envelope(d, own, v->account, payload, len, now_ms, to_self);
    return rc;
}

/* ---- Receiving ------------------------------------------------------------------------------ */

static bool replay_seen(const sh_e2e_prekey *p, const uint8_t th[32])
{
    for (size_t i = 0; i < p->n_seen; i++)
        if (memcmp(p->seen[i], th, SH_E2E_REPLAY_TAG_BYTES) == 0)
            return true;
    return false;
}

static int replay_add(sh_e2e_prekey *p, const uint8_t th[32])
{
    if (p->n_seen == SH_E2E_REPLAY_MAX)
        return sh_err_set(SH_ERR_FULL, "prekey %u has taken %d handshakes; wait for the next one",
                          p->id, SH_E2E_REPLAY_MAX);
    if (p->n_seen == p->cap_seen) {
        size_t cap = p->cap_seen ? p->cap_seen * 2 : 16;
        void *a = realloc(p->seen, cap * SH_E2E_REPLAY_TAG_BYTES);
        if (a == NULL)
            return sh_err_set(SH_ERR_NOMEM, "out of memory for the replay set");
        p->seen = a;
        p->cap_seen = cap;
    }
    memcpy(p->seen[p->n_seen++], th, SH_E2E_REPLAY_TAG_BYTES);
    return SH_OK;
}

static bool key_less(const uint8_t a[32], const uint8_t b[32])
{
    return memcmp(a, b, 32) < 0;
}

/* Decides which of the active session and a new inbound one is active (see the file header). */
static void select_session(sh_e2e_device *d, sh_e2e_session *in, int64_t now_ms)
{
    sh_e2e_session *act = NULL;
    size_t archived = 0;

    for (size_t i = 0; i < d->n_sessions; i++) {
        sh_e2e_session *s = d->sessions[i];
        if (s == in || s->peer_device_id != in->peer_device_id ||
            memcmp(s->peer_account, in->peer_account, 32) != 0)
            continue;
        if (memcmp(s->replaces, in->th, 32) == 0)
            in->archived_ms = now_ms; /* superseded already */
        if (s->archived_ms == 0)
            act = s;
    }
    if (in->archived_ms == 0 && act != NULL) {
        bool concurrent = act->initiator && memcmp(act->replaces, in->replaces, 32) == 0;
        if (concurrent && key_less(d->ed_pk, in->peer_device_ed))
            in->archived_ms = now_ms;
        else
            act->archived_ms = now_ms;
    }
    /* Keep a few archived sessions per device pair; the oldest go first. */
    for (size_t i = d->n_sessions; i-- > 0;) {
        sh_e2e_session *s = d->sessions[i];
        if (s->archived_ms != 0 && s->peer_device_id == in->peer_device_id &&
            memcmp(s->peer_account, in->peer_account, 32) == 0 &&
            ++archived > SH_E2E_ARCHIVED_PER_DEVICE) {
            sh__e2e_session_free(s);
            d->sessions[i] = d->sessions[--d->n_sessions];
        }
    }
}

typedef struct rx {
    sh_e2e_cert cert;
    sh_e2e_inner inner;
    const sh_e2e_devinfo *sender;
    const uint8_t *slot;  /* our slot's ratchet message */
    const uint8_t *init;  /* our handshake, or NULL */
    uint8_t ad[32];
} rx;

static int check_cert(sh_e2e_device *d, rx *r, int64_t now_ms)
{
    sh_e2e_account_view *v;
    int rc = sh__e2e_cert_parse(&r->cert, r->inner.cert, r->inner.cert_len);

    if (rc != SH_OK)
        return rc;
    if (memcmp(r->cert.recipient_account, d->account_pk, 32) != 0)
        return sh_err_set(SH_ERR_PERMISSION, "the sender certificate is for another account");
    if (now_ms >= r->cert.expires_ms)
        return sh_err_set(SH_ERR_STALE, "the sender certificate expired");
    v = sh__e2e_account_find(d, r->cert.sender_account);
    if (v == NULL || v->list == NULL || v->highest_counter < r->cert.devlist_counter)
        return sh_err_set(SH_ERR_NOT_FOUND, "fetch the sender's device list (counter %llu)",
                          (unsigned long long)r->cert.devlist_counter);
    r->sender = sh__e2e_devlist_find(v->list, r->cert.sender_device_id);
    if (r->sender == NULL || memcmp(r->sender->ed25519_pk, r->cert.sender_device_ed, 32) != 0)
        return sh_err_set(SH_ERR_PERMISSION, "device %u is not in the sender's device list with "
                          "that key (revoked?)", r->cert.sender_device_id);
    if (memcmp(r->cert.sender_account, d->account_pk, 32) != 0 &&
        memcmp(r->inner.conversation, r->cert.sender_account, 32) != 0)
        return sh_err_set(SH_ERR_PROTOCOL, "the conversation named is not the sender's");
    return SH_OK;
}

static int find_slot(const sh_e2e_device *d, rx *r)
{
    r->slot = NULL;
    r->init = NULL;
    for (size_t i = 0; i < SH_E2E_MAX_DEVICES; i++) {
        const uint8_t *s = r->inner.slots + i * SH_E2E_SLOT_BYTES;
        if (sh_load_u32be(s) == d->device_id && r->slot == NULL)
            r->slot = s + 4;
    }
    for (size_t i = 0; i < r->inner.n_inits; i++) {
        const uint8_t *e = r->inner.inits + i * SH_E2E_INIT_ENTRY_BYTES;
        if (sh_load_u32be(e) == d->device_id && r->init == NULL)
            r->init = e + 4;
    }
    if (r->slot == NULL)
        return sh_err_set(SH_ERR_NOT_FOUND, "the envelope has no slot for device %u", d->device_id);
    return SH_OK;
}

static sh_e2e_session *session_by_th(const sh_e2e_device *d, const uint8_t th[32])
{
    for (size_t i = 0; i < d->n_sessions; i++)
        if (memcmp(d->sessions[i]->th, th, 32) == 0)
            return d->sessions[i];
    return NULL;
}

static sh_e2e_prekey *prekey_by_id(const sh_e2e_device *d, uint32_t id)
{
    for (size_t i = 0; i < d->n_prekeys; i++)
        if (d->prekeys[i]->id == id)
            return d->prekeys[i];
    return NULL;
}

/* A message carrying a handshake: its session if we have it, else a new responder session. */
static int receive_with_init(sh_e2e_device *d, rx *r, int64_t now_ms, uint8_t key[32],
                             uint32_t *epoch)
{
    sh_e2e_hs_init init;
    sh_e2e_hs_keys keys;
    sh_e2e_party me, peer;
    sh_e2e_prekey *pk;
    sh_e2e_session *s = NULL;
    uint8_t th[32];
    int rc;

    if ((rc = sh__e2e_hs_init_decode(&init, r->init)) != SH_OK)
        return rc;
    pk = prekey_by_id(d, init.spk_id);
    if (pk == NULL || init.pqspk_id != init.spk_id)
        return sh_err_set(SH_ERR_STALE, "the handshake names prekey %u, which was erased or never "
                          "existed", init.spk_id);
    me_party(d, &me);
    dev_party(r->cert.sender_account, r->sender, &peer);
    sh__e2e_hs_transcript(th, &peer, &me, pk->spk_pk, pk->pq_ek, &init);
    if ((s = session_by_th(d, th)) != NULL)
        return sh__e2e_session_decrypt(s, r->slot, SH_E2E_SLOT_BYTES - 4, r->ad, 32, now_ms, key, epoch);
    if (replay_seen(pk, th))
        return sh_err_set(SH_ERR_REPLAY, "this handshake was already used with prekey %u", pk->id);
    s = sh__e2e_active_session(d, r->cert.sender_account, r->sender->id);
    if (s != NULL && memcmp(s->peer_device_ed, r->cert.sender_device_ed, 32) != 0)
        return sh_err_set(SH_ERR_PROTOCOL, "the sender certificate's device key differs from the "
                          "session's: the device's identity changed");
    s = NULL;
    if ((rc = sh__e2e_hs_respond(&me, d->x_sk, &peer, pk->spk_sk, pk->spk_pk, pk->pq_seed,
                                 pk->pq_ek, &init, &keys, th)) != SH_OK ||
        (rc = sh__e2e_session_new_responder(&s, &peer, &keys, th, &init, pk->spk_sk, pk->spk_pk,
                                            now_ms)) != SH_OK)
        goto done;
    if ((rc = sh__e2e_session_decrypt(s, r->slot, SH_E2E_SLOT_BYTES - 4, r->ad, 32, now_ms, key,
                                      epoch)) != SH_OK ||
        (rc = replay_add(pk, th)) != SH_OK || (rc = sh__e2e_add_session(d, s)) != SH_OK)
        goto done;
    select_session(d, s, now_ms);
    s = NULL;
done:
    sodium_memzero(&keys, sizeof keys);
    sh__e2e_session_free(s);
    return rc;
}

/* A message without handshake: the active session of the pair, then archived ones. */
static int receive_in_session(sh_e2e_device *d, rx *r, int64_t now_ms, uint8_t key[32],
                              uint32_t *epoch)
{
    int rc = sh_err_set(SH_ERR_NOT_FOUND, "no session with device %u of the sender",
                        r->cert.sender_device_id);

    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < d->n_sessions; i++) {
            sh_e2e_session *s = d->sessions[i];
            if ((s->archived_ms == 0) != (pass == 0) || s->peer_device_id != r->sender->id ||
                memcmp(s->peer_account, r->cert.sender_account, 32) != 0)
                continue;
            if (memcmp(s->peer_device_ed, r->cert.sender_device_ed, 32) != 0)
                return sh_err_set(SH_ERR_PROTOCOL, "the sender certificate's device key differs "
                                  "from the session's: the device's identity changed");
            rc = sh__e2e_session_decrypt(s, r->slot, SH_E2E_SLOT_BYTES - 4, r->ad, 32, now_ms, key,
                                         epoch);
            if (rc != SH_ERR_CRYPTO)
                return rc;
        }
    }
    return rc;
}

static void expire_sessions(sh_e2e_device *d, int64_t now_ms)
{
    for (size_t i = 0; i < d->n_sessions;) {
        sh_e2e_session *s = d->sessions[i];
        if (s->archived_ms != 0 && now_ms - s->archived_ms > SH_E2E_SKIP_MAX_AGE_MS) {
            sh__e2e_session_free(s);
            d->sessions[i] = d->sessions[--d->n_sessions];
            continue;
        }
        i++;
    }
}

static int open_payload(const rx *r, const uint8_t key[32], sh_e2e_received *out)
{
    static const uint8_t zero_nonce[SH_E2E_NONCE_BYTES];
    size_t n = r->inner.payload_len - SH_E2E_TAG_BYTES;
    uint8_t *p;
    int rc;

    sh_buf_init_secret(&out->payload);
    if ((rc = sh_buf_extend(&out->payload, n, &p)) != SH_OK)
        return rc;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, NULL, NULL, r->inner.payload,
                                                   r->inner.payload_len, r->inner.conversation,
                                                   32, zero_nonce, key) != 0) {
        sh_buf_free(&out->payload);
        return sh_err_set(SH_ERR_CRYPTO, "the payload does not authenticate");
    }
    memcpy(out->sender_account, r->cert.sender_account, 32);
    out->sender_device = r->cert.sender_device_id;
    memcpy(out->conversation, r->inner.conversation, 32);
    return SH_OK;
}

int sh_e2e_receive(sh_e2e_device *d, const uint8_t *env, size_t len, int64_t now_ms,
                   sh_e2e_received *out)
{
    uint8_t key[32];
    sh_buf inner;
    rx r;
    int rc;

    memset(out, 0, sizeof *out);
    if (d->revoked)
        return sh_err_set(SH_ERR_PERMISSION, "this device was revoked from its account");
    sh_buf_init_secret(&inner);
    rc = sh__e2e_unseal(d->env_seed, env, len, &inner);
    if (rc == SH_ERR_CRYPTO && d->prev_env_gen != 0)
        rc = sh__e2e_unseal(d->prev_env_seed, env, len, &inner);
    if (rc != SH_OK || (rc = sh__e2e_inner_parse(&r.inner, inner.data, inner.len)) != SH_OK)
        goto done;
    rc = check_cert(d, &r, now_ms);
    if (rc == SH_ERR_NOT_FOUND) /* tell the caller whose device list to fetch */
        memcpy(out->sender_account, r.cert.sender_account, SH_E2E_ACCOUNT_BYTES);
    if (rc != SH_OK || (rc = find_slot(d, &r)) != SH_OK)
        goto done;
    expire_sessions(d, now_ms);
    sh__e2e_erase_old_prekeys(d, now_ms);
    sh__e2e_slot_ad(r.ad, r.inner.cert, r.inner.cert_len, r.inner.conversation, r.inner.payload,
                    r.inner.payload_len, d->device_id);
    rc = r.init != NULL ? receive_with_init(d, &r, now_ms, key, &out->pq_epoch)
                        : receive_in_session(d, &r, now_ms, key, &out->pq_epoch);
    if (rc == SH_OK)
        rc = open_payload(&r, key, out);
done:
    sodium_memzero(key, sizeof key);
    sh_buf_free(&inner);
    return rc;
}
