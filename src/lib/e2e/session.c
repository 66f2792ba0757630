/* One session between two devices (docs/protocol-v2.md, "Double Ratchet", "Post-quantum
 * epochs"): Signal's Double Ratchet with header encryption (spec section 4, RatchetEncryptHE /
 * RatchetDecryptHE) whose message keys are mixed with the post-quantum epoch secrets of spqr.c.
 *
 * A message is  nonce(24) || XChaCha20-Poly1305(HK, header(115), ad = TH)   (the encrypted header)
 *             || XChaCha20-Poly1305(MK, plaintext, nonce = 0, ad = TH || encrypted header || ad)
 * where MK = message_key(chain key output, ES_epoch, epoch) is used once.
 *
 * Decryption is all-or-nothing: it works on copies of the ratchet and post-quantum state and new
 * skipped keys are kept aside; only a message whose body authenticates commits them. Skipped keys
 * are capped at SH_E2E_MAX_SKIP per session (the oldest go first) and expire after
 * SH_E2E_SKIP_MAX_AGE_MS. */
#include "e2e/internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/err.h"

_Static_assert(SH_E2E_ENC_HEADER_BYTES == 155, "encrypted header size");

static sh_e2e_session *session_alloc(void)
{
    sh_e2e_session *s = sh_secret_alloc(sizeof *s);

    if (s != NULL)
        memset(s, 0, sizeof *s);
    return s;
}

void sh__e2e_session_free(sh_e2e_session *s)
{
    sh_secret_free(s);
}

static void new_dh(uint8_t sk[static 32], uint8_t pk[static 32])
{
    randombytes_buf(sk, 32);
    crypto_scalarmult_base(pk, sk);
}

static int dh(uint8_t out[static 32], const uint8_t sk[static 32], const uint8_t pk[static 32])
{
    if (crypto_scalarmult(out, sk, pk) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "the peer's ratchet key is a low-order X25519 point");
    return SH_OK;
}

static void set_peer(sh_e2e_session *s, const sh_e2e_party *peer)
{
    memcpy(s->peer_account, peer->account, 32);
    s->peer_device_id = peer->device_id;
    memcpy(s->peer_device_ed, peer->device_ed, 32);
    memcpy(s->peer_identity_x, peer->identity_x, 32);
}

int sh__e2e_session_new_initiator(sh_e2e_session **out, const sh_e2e_party *me,
                                  const uint8_t my_identity_sk[static 32],
                                  const sh_e2e_party *peer, const sh_e2e_bundle *bundle,
                                  const uint8_t replaces[static 32], int64_t now_ms)
{
    sh_e2e_session *s = session_alloc();
    sh_e2e_hs_init init;
    sh_e2e_hs_keys keys;
    uint8_t eph_sk[32], shared[32];
    int rc;

    if (s == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a session");
    rc = sh__e2e_hs_initiate(me, my_identity_sk, peer, bundle, replaces, &init, &keys, s->th, eph_sk);
    if (rc != SH_OK)
        goto done;
    memcpy(s->replaces, replaces, 32);
    s->initiator = true;
    set_peer(s, peer);
    s->has_init = true;
    sh__e2e_hs_init_encode(&init, s->init);
    /* RatchetInitAliceHE: the responder's signed prekey is its first ratchet key. */
    new_dh(s->dr.dhs_sk, s->dr.dhs_pk);
    memcpy(s->dr.dhr_pk, bundle->spk, 32);
    s->dr.has_dhr = true;
    memcpy(s->dr.rk, keys.root, 32);
    if ((rc = dh(shared, s->dr.dhs_sk, s->dr.dhr_pk)) != SH_OK)
        goto done;
    sh__e2e_kdf_rk(s->dr.rk, s->dr.cks, s->dr.nhks, shared);
    s->dr.has_cks = true;
    memcpy(s->dr.hks, keys.hk_initiator, 32);
    s->dr.has_hks = true;
    memcpy(s->dr.nhkr, keys.nhk_responder, 32);
    sh__e2e_pq_start(&s->pq, true, keys.epoch0);
    s->created_ms = now_ms;
    *out = s;
    s = NULL;
done:
    sodium_memzero(&keys, sizeof keys);
    sodium_memzero(eph_sk, sizeof eph_sk);
    sodium_memzero(shared, sizeof shared);
    sh__e2e_session_free(s);
    return rc;
}

int sh__e2e_session_new_responder(sh_e2e_session **out, const sh_e2e_party *peer,
                                  const sh_e2e_hs_keys *keys, const uint8_t th[static 32],
                                  const sh_e2e_hs_init *init, const uint8_t spk_sk[static 32],
                                  const uint8_t spk_pk[static 32], int64_t now_ms)
{
    sh_e2e_session *s = session_alloc();

    if (s == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a session");
    memcpy(s->th, th, 32);
    memcpy(s->replaces, init->replaces, 32);
    s->initiator = false;
    s->acknowledged = true;
    set_peer(s, peer);
    /* RatchetInitBobHE */
    memcpy(s->dr.dhs_sk, spk_sk, 32);
    memcpy(s->dr.dhs_pk, spk_pk, 32);
    memcpy(s->dr.rk, keys->root, 32);
    memcpy(s->dr.nhks, keys->nhk_responder, 32);
    memcpy(s->dr.nhkr, keys->hk_initiator, 32);
    sh__e2e_pq_start(&s->pq, false, keys->epoch0);
    s->created_ms = now_ms;
    *out = s;
    return SH_OK;
}

/* AD of a body: TH || encrypted header || caller's ad (at most 64 bytes). */
static size_t body_ad(uint8_t out[static 32 + SH_E2E_ENC_HEADER_BYTES + 64], const uint8_t th[32],
                      const uint8_t *enc_header, const uint8_t *ad, size_t ad_len)
{
    memcpy(out, th, 32);
    memcpy(out + 32, enc_header, SH_E2E_ENC_HEADER_BYTES);
    if (ad_len != 0)
        memcpy(out + 32 + SH_E2E_ENC_HEADER_BYTES, ad, ad_len);
    return 32 + SH_E2E_ENC_HEADER_BYTES + ad_len;
}

int sh__e2e_session_encrypt(sh_e2e_session *s, const uint8_t *pt, size_t len, const uint8_t *ad,
                            size_t ad_len, uint8_t *out)
{
    static const uint8_t zero_nonce[SH_E2E_NONCE_BYTES];
    uint8_t mk_dr[32], mk[32], hdr[SH_E2E_HEADER_BYTES], adbuf[32 + SH_E2E_ENC_HEADER_BYTES + 64];
    sh_e2e_header h;
    const uint8_t *secret;
    int rc;

    if (!s->dr.has_cks || !s->dr.has_hks)
        return sh_err_set(SH_ERR_INTERNAL, "this session cannot send before it has received");
    if (ad_len > 64)
        return sh_err_set(SH_ERR_INVALID, "associated data of %zu bytes; at most 64", ad_len);
    memset(&h, 0, sizeof h);
    if ((rc = sh__e2e_pq_outgoing(&s->pq, s->initiator, &h, &secret)) != SH_OK)
        return rc;
    sh__e2e_kdf_ck(s->dr.cks, mk_dr);
    memcpy(h.dh, s->dr.dhs_pk, 32);
    h.pn = s->dr.pn;
    h.n = s->dr.ns;
    sh__e2e_header_encode(&h, hdr);
    randombytes_buf(out, SH_E2E_NONCE_BYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + SH_E2E_NONCE_BYTES, NULL, hdr, sizeof hdr,
                                               s->th, 32, NULL, out, s->dr.hks);
    sh__e2e_message_key(mk, mk_dr, secret, h.epoch);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + SH_E2E_ENC_HEADER_BYTES, NULL, pt, len, adbuf,
                                               body_ad(adbuf, s->th, out, ad, ad_len), NULL,
                                               zero_nonce, mk);
    s->dr.ns++;
    sodium_memzero(mk_dr, sizeof mk_dr);
    sodium_memzero(mk, sizeof mk);
    sodium_memzero(hdr, sizeof hdr);
    return SH_OK;
}

/* ---- Decryption ----------------------------------------------------------------------------- */

typedef struct pending_skips {
    sh_e2e_skipped *keys;
    size_t n, cap;
} pending_skips;

static bool open_header(sh_e2e_header *h, const uint8_t *enc, const uint8_t th[32],
                        const uint8_t key[32])
{
    uint8_t hdr[SH_E2E_HEADER_BYTES];
    bool ok = crypto_aead_xchacha20poly1305_ietf_decrypt(
                  hdr, NULL, NULL, enc + SH_E2E_NONCE_BYTES, SH_E2E_HEADER_BYTES + SH_E2E_TAG_BYTES,
                  th, 32, enc, key) == 0 &&
              sh__e2e_header_decode(h, hdr) == SH_OK;

    sodium_memzero(hdr, sizeof hdr);
    return ok;
}

enum { KEY_NONE, KEY_SKIPPED, KEY_CURRENT, KEY_NEXT, KEY_RETIRED };

/* Finds the header key that opens the header: the current and next receiving keys, then the keys
 * of skipped messages, then retired keys (which only name a replay). */
static int find_header_key(const sh_e2e_session *s, const uint8_t *enc, sh_e2e_header *h,
                           const uint8_t **key)
{
    if (s->dr.has_hkr && open_header(h, enc, s->th, s->dr.hkr)) {
        *key = s->dr.hkr;
        return KEY_CURRENT;
    }
    if (open_header(h, enc, s->th, s->dr.nhkr)) {
        *key = s->dr.nhkr;
        return KEY_NEXT;
    }
    for (size_t i = 0; i < s->n_skipped; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = memcmp(s->skipped[j].hk, s->skipped[i].hk, 32) == 0;
        if (!seen && (!s->dr.has_hkr || memcmp(s->skipped[i].hk, s->dr.hkr, 32) != 0) &&
            open_header(h, enc, s->th, s->skipped[i].hk)) {
            *key = s->skipped[i].hk;
            return KEY_SKIPPED;
        }
    }
    for (size_t i = 0; i < s->dr.n_old_hkr; i++)
        if (open_header(h, enc, s->th, s->dr.old_hkr[i]))
            return KEY_RETIRED;
    return KEY_NONE;
}

static long find_skipped(const sh_e2e_session *s, const uint8_t hk[32], uint32_t n)
{
    for (size_t i = 0; i < s->n_skipped; i++)
        if (s->skipped[i].n == n && sodium_memcmp(s->skipped[i].hk, hk, 32) == 0)
            return (long)i;
    return -1;
}

static int skip_keys(sh_e2e_dr *dr, uint32_t until, pending_skips *p, int64_t now_ms)
{
    if (!dr->has_ckr)
        return SH_OK;
    if (until < dr->nr)
        return SH_OK;
    if (until - dr->nr > SH_E2E_MAX_SKIP)
        return sh_err_set(SH_ERR_LIMIT, "the message is %u ahead in its chain; at most %d messages "
                          "may be skipped", until - dr->nr, SH_E2E_MAX_SKIP);
    if (p->n + (until - dr->nr) > p->cap) {
        size_t cap = p->n + (until - dr->nr);
        sh_e2e_skipped *k = calloc(cap, sizeof *k);
        if (k == NULL)
            return sh_err_set(SH_ERR_NOMEM, "out of memory for skipped message keys");
        if (p->n != 0)
            memcpy(k, p->keys, p->n * sizeof *k);
        if (p->keys != NULL) {
            sodium_memzero(p->keys, p->cap * sizeof *k);
            free(p->keys);
        }
        p->keys = k;
        p->cap = cap;
    }
    while (dr->nr < until) {
        sh_e2e_skipped *k = &p->keys[p->n++];
        memcpy(k->hk, dr->hkr, 32);
        k->n = dr->nr;
        sh__e2e_kdf_ck(dr->ckr, k->mk);
        k->expires_ms = now_ms + SH_E2E_SKIP_MAX_AGE_MS;
        dr->nr++;
    }
    return SH_OK;
}

/* DHRatchetHE (spec section 4.3). */
static int dh_ratchet(sh_e2e_dr *dr, const sh_e2e_header *h)
{
    uint8_t shared[32];
    int rc;

    dr->pn = dr->ns;
    dr->ns = 0;
    dr->nr = 0;
    memcpy(dr->hks, dr->nhks, 32);
    dr->has_hks = true;
    if (dr->has_hkr) {
        memmove(dr->old_hkr[1], dr->old_hkr[0], (SH_E2E_OLD_HKR - 1) * 32);
        memcpy(dr->old_hkr[0], dr->hkr, 32);
        if (dr->n_old_hkr < SH_E2E_OLD_HKR)
            dr->n_old_hkr++;
    }
    memcpy(dr->hkr, dr->nhkr, 32);
    dr->has_hkr = true;
    memcpy(dr->dhr_pk, h->dh, 32);
    dr->has_dhr = true;
    if ((rc = dh(shared, dr->dhs_sk, dr->dhr_pk)) != SH_OK)
        goto done;
    sh__e2e_kdf_rk(dr->rk, dr->ckr, dr->nhkr, shared);
    dr->has_ckr = true;
    new_dh(dr->dhs_sk, dr->dhs_pk);
    if ((rc = dh(shared, dr->dhs_sk, dr->dhr_pk)) != SH_OK)
        goto done;
    sh__e2e_kdf_rk(dr->rk, dr->cks, dr->nhks, shared);
    dr->has_cks = true;
done:
    sodium_memzero(shared, sizeof shared);
    return rc;
}

static void commit_skips(sh_e2e_session *s, const pending_skips *p)
{
    for (size_t i = 0; i < p->n; i++) {
        if (s->n_skipped == SH_E2E_MAX_SKIP) {
            sodium_memzero(&s->skipped[0], sizeof s->skipped[0]);
            memmove(&s->skipped[0], &s->skipped[1], (s->n_skipped - 1) * sizeof s->skipped[0]);
            s->n_skipped--;
        }
        s->skipped[s->n_skipped++] = p->keys[i];
    }
}

static void remove_skipped(sh_e2e_session *s, size_t i)
{
    sodium_memzero(&s->skipped[i], sizeof s->skipped[i]);
    memmove(&s->skipped[i], &s->skipped[i + 1], (s->n_skipped - i - 1) * sizeof s->skipped[0]);
    s->n_skipped--;
}

/* The chain key output for the message, on copies; new skipped keys go to `p`. */
static int chain_key_for(const sh_e2e_session *s, int which, const sh_e2e_header *h,
                         const uint8_t *hk, sh_e2e_dr *dr, pending_skips *p, uint8_t mk_dr[32],
                         long *skipped_at, int64_t now_ms)
{
    int rc;

    *skipped_at = find_skipped(s, hk, h->n);
    if (*skipped_at >= 0) {
        memcpy(mk_dr, s->skipped[*skipped_at].mk, 32);
        return SH_OK;
    }
    if (which == KEY_SKIPPED || which == KEY_RETIRED || (which == KEY_CURRENT && h->n < dr->nr))
        return sh_err_set(SH_ERR_REPLAY, "message %u of this chain was already received, or its "
                          "key was dropped", h->n);
    if (which == KEY_NEXT) {
        if ((rc = skip_keys(dr, h->pn, p, now_ms)) != SH_OK || (rc = dh_ratchet(dr, h)) != SH_OK)
            return rc;
    }
    if ((rc = skip_keys(dr, h->n, p, now_ms)) != SH_OK)
        return rc;
    sh__e2e_kdf_ck(dr->ckr, mk_dr);
    dr->nr = h->n + 1;
    return SH_OK;
}

int sh__e2e_session_decrypt(sh_e2e_session *s, const uint8_t *msg, size_t len, const uint8_t *ad,
                            size_t ad_len, int64_t now_ms, uint8_t *pt, uint32_t *epoch)
{
    static const uint8_t zero_nonce[SH_E2E_NONCE_BYTES];
    uint8_t mk_dr[32], mk[32], adbuf[32 + SH_E2E_ENC_HEADER_BYTES + 64];
    sh_e2e_header h;
    sh_e2e_dr dr = s->dr;
    pending_skips p = {NULL, 0, 0};
    const uint8_t *hk = NULL, *secret;
    long skipped_at = -1;
    int which, rc;

    if (len < SH_E2E_MSG_OVERHEAD || ad_len > 64)
        return sh_err_set(SH_ERR_FORMAT, "a ratchet message of %zu bytes is too short", len);
    sh__e2e_session_expire(s, now_ms);
    which = find_header_key(s, msg, &h, &hk);
    if (which == KEY_NONE) {
        rc = sh_err_set(SH_ERR_CRYPTO, "the message header does not open with this session's keys "
                        "(tampered, or another session's)");
        goto done;
    }
    if (which == KEY_RETIRED) {
        rc = sh_err_set(SH_ERR_REPLAY, "message %u of a finished chain was already received, or "
                        "its key was dropped", h.n);
        goto done;
    }
    if ((rc = chain_key_for(s, which, &h, hk, &dr, &p, mk_dr, &skipped_at, now_ms)) != SH_OK ||
        (rc = sh__e2e_pq_secret_for(&s->pq, h.epoch, &secret)) != SH_OK)
        goto done;
    sh__e2e_message_key(mk, mk_dr, secret, h.epoch);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            pt, NULL, NULL, msg + SH_E2E_ENC_HEADER_BYTES, len - SH_E2E_ENC_HEADER_BYTES, adbuf,
            body_ad(adbuf, s->th, msg, ad, ad_len), zero_nonce, mk) != 0) {
        rc = sh_err_set(SH_ERR_CRYPTO, "the message body does not authenticate");
        goto done;
    }
    /* Authenticated: commit. */
    if (skipped_at >= 0) {
        remove_skipped(s, (size_t)skipped_at);
    } else {
        s->dr = dr;
        commit_skips(s, &p);
    }
    sh__e2e_pq_incoming(&s->pq, s->initiator, &h, now_ms);
    s->acknowledged = true;
    s->has_init = false;
    *epoch = h.epoch;
done:
    sodium_memzero(&dr, sizeof dr);
    sodium_memzero(mk_dr, sizeof mk_dr);
    sodium_memzero(mk, sizeof mk);
    if (p.keys != NULL) {
        sodium_memzero(p.keys, p.cap * sizeof *p.keys);
        free(p.keys);
    }
    return rc;
}

void sh__e2e_session_expire(sh_e2e_session *s, int64_t now_ms)
{
    size_t j = 0;

    for (size_t i = 0; i < s->n_skipped; i++) {
        if (s->skipped[i].expires_ms > now_ms)
            s->skipped[j++] = s->skipped[i];
    }
    if (j < s->n_skipped)
        sodium_memzero(&s->skipped[j], (s->n_skipped - j) * sizeof s->skipped[0]);
    s->n_skipped = j;
    j = 0;
    for (size_t i = 0; i < s->pq.n_secrets; i++) {
        const sh_e2e_epoch_secret *e = &s->pq.secrets[i];
        if (e->erase_after_ms == 0 || e->erase_after_ms > now_ms)
            s->pq.secrets[j++] = *e;
    }
    if (j < s->pq.n_secrets)
        sodium_memzero(&s->pq.secrets[j], (s->pq.n_secrets - j) * sizeof s->pq.secrets[0]);
    s->pq.n_secrets = j;
}

void sh__e2e_session_leak_classical(sh_e2e_session *to, const sh_e2e_session *from)
{
    to->dr = from->dr;
    to->n_skipped = from->n_skipped;
    memcpy(to->skipped, from->skipped, from->n_skipped * sizeof from->skipped[0]);
}
