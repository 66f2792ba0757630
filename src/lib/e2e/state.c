/* Serialized session state (docs/protocol-v2.md, "Persistence"): a versioned protobuf Session
 * message holding every key of the session in clear; the caller encrypts it at rest. Loading
 * checks every length and count, so a damaged record is refused rather than half-used. */
#include "e2e/internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/err.h"

#define SESSION_VERSION 1
#define IN_RECORD (1 + SH_E2E_CHUNK_BYTES)

typedef struct session_pb {
    Shoal__E2e__Session m;
    Shoal__E2e__PqState pq;
    Shoal__E2e__SkippedKey sk[SH_E2E_MAX_SKIP];
    Shoal__E2e__SkippedKey *skp[SH_E2E_MAX_SKIP];
    Shoal__E2e__EpochSecret es[SH_E2E_PQ_SECRETS_KEPT];
    Shoal__E2e__EpochSecret *esp[SH_E2E_PQ_SECRETS_KEPT];
    ProtobufCBinaryData old_hkr[SH_E2E_OLD_HKR];
    uint8_t in[SH_E2E_CHUNKS_MAX * IN_RECORD];
} session_pb;

#define BIN(field, len) sh_wire_bin((field), (len))

static void pq_to_pb(const sh_e2e_pq *pq, session_pb *b)
{
    Shoal__E2e__PqState *m = &b->pq;

    shoal__e2e__pq_state__init(m);
    m->send_epoch = pq->send_epoch;
    m->phase = pq->phase;
    for (size_t i = 0; i < pq->n_secrets; i++) {
        shoal__e2e__epoch_secret__init(&b->es[i]);
        b->es[i].epoch = pq->secrets[i].epoch;
        b->es[i].secret = BIN(pq->secrets[i].secret, 32);
        b->es[i].erase_after_ms = (uint64_t)pq->secrets[i].erase_after_ms;
        b->esp[i] = &b->es[i];
    }
    m->n_secrets = pq->n_secrets;
    m->secrets = b->esp;
    if (pq->phase == SH_E2E_PQ_PROPOSE_SENDING)
        m->kem_seed = BIN(pq->kem_seed, SH_E2E_MLKEM_SEED_BYTES);
    if (pq->phase == SH_E2E_PQ_PROPOSE_SENDING)
        m->kem_data = BIN(pq->kem_data, SH_MLKEM768_EK_BYTES);
    if (pq->phase == SH_E2E_PQ_ENCAPS_SENDING) {
        m->kem_data = BIN(pq->kem_data, SH_MLKEM768_CT_BYTES);
        m->pending_secret = BIN(pq->pending, 32);
    }
    m->out_index = pq->out_index;
    for (size_t i = 0; i < pq->n_in; i++) {
        b->in[i * IN_RECORD] = pq->in_index[i];
        memcpy(b->in + i * IN_RECORD + 1, pq->in_chunks[i], SH_E2E_CHUNK_BYTES);
    }
    m->in_chunks = BIN(b->in, pq->n_in * IN_RECORD);
}

static void dr_to_pb(const sh_e2e_session *s, session_pb *b)
{
    Shoal__E2e__Session *m = &b->m;
    const sh_e2e_dr *dr = &s->dr;

    m->dhs_sk = BIN(dr->dhs_sk, 32);
    m->dhs_pk = BIN(dr->dhs_pk, 32);
    if (dr->has_dhr)
        m->dhr_pk = BIN(dr->dhr_pk, 32);
    m->root_key = BIN(dr->rk, 32);
    if (dr->has_cks)
        m->send_chain = BIN(dr->cks, 32);
    if (dr->has_ckr)
        m->recv_chain = BIN(dr->ckr, 32);
    if (dr->has_hks)
        m->send_hk = BIN(dr->hks, 32);
    if (dr->has_hkr)
        m->recv_hk = BIN(dr->hkr, 32);
    m->send_nhk = BIN(dr->nhks, 32);
    m->recv_nhk = BIN(dr->nhkr, 32);
    m->ns = dr->ns;
    m->nr = dr->nr;
    m->pn = dr->pn;
    for (size_t i = 0; i < dr->n_old_hkr; i++)
        b->old_hkr[i] = BIN(dr->old_hkr[i], 32);
    m->n_old_recv_hks = dr->n_old_hkr;
    m->old_recv_hks = b->old_hkr;
}

int sh__e2e_session_save(const sh_e2e_session *s, sh_buf *out)
{
    session_pb *b = sh_secret_alloc(sizeof *b);
    Shoal__E2e__Session *m;
    int rc;

    if (b == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory saving a session");
    m = &b->m;
    shoal__e2e__session__init(m);
    m->version = SESSION_VERSION;
    m->handshake_hash = BIN(s->th, 32);
    m->replaces = BIN(s->replaces, 32);
    m->initiator = s->initiator;
    m->acknowledged = s->acknowledged;
    m->peer_account = BIN(s->peer_account, 32);
    m->peer_device_id = s->peer_device_id;
    m->peer_device_ed25519 = BIN(s->peer_device_ed, 32);
    m->peer_identity_x25519 = BIN(s->peer_identity_x, 32);
    if (s->has_init)
        m->handshake_init = BIN(s->init, SH_E2E_INIT_BYTES);
    dr_to_pb(s, b);
    for (size_t i = 0; i < s->n_skipped; i++) {
        shoal__e2e__skipped_key__init(&b->sk[i]);
        b->sk[i].header_key = BIN(s->skipped[i].hk, 32);
        b->sk[i].n = s->skipped[i].n;
        b->sk[i].message_key = BIN(s->skipped[i].mk, 32);
        b->sk[i].expires_ms = (uint64_t)s->skipped[i].expires_ms;
        b->skp[i] = &b->sk[i];
    }
    m->n_skipped = s->n_skipped;
    m->skipped = b->skp;
    pq_to_pb(&s->pq, b);
    m->pq = &b->pq;
    m->created_ms = (uint64_t)s->created_ms;
    m->archived_ms = (uint64_t)s->archived_ms;
    rc = sh_wire_pack(&m->base, out);
    sh_secret_free(b);
    return rc;
}

/* Copies an optional fixed-size key: absent (0 bytes) or exactly 32. */
static int opt_key(uint8_t out[32], bool *has, ProtobufCBinaryData b, const char *what)
{
    if (b.len == 0) {
        if (has != NULL)
            *has = false;
        return SH_OK;
    }
    if (b.len != 32 || (has == NULL && false))
        return sh_err_set(SH_ERR_FORMAT, "saved session: %s has %zu bytes", what, b.len);
    memcpy(out, b.data, 32);
    if (has != NULL)
        *has = true;
    return SH_OK;
}

static int need_key(uint8_t out[32], ProtobufCBinaryData b, const char *what)
{
    int rc = sh_wire_need_len(b, 32, what);

    if (rc == SH_OK)
        memcpy(out, b.data, 32);
    return rc;
}

static int pq_from_pb(sh_e2e_pq *pq, const Shoal__E2e__PqState *m)
{
    int rc;

    if (m == NULL)
        return sh_err_set(SH_ERR_FORMAT, "saved session lacks its post-quantum state");
    if (m->phase > SH_E2E_PQ_ENCAPS_SENDING || m->n_secrets == 0 ||
        m->n_secrets > SH_E2E_PQ_SECRETS_KEPT || m->in_chunks.len % IN_RECORD != 0 ||
        m->in_chunks.len / IN_RECORD > SH_E2E_CHUNKS_MAX)
        return sh_err_set(SH_ERR_FORMAT, "saved session: post-quantum state out of range");
    pq->send_epoch = m->send_epoch;
    pq->phase = (uint8_t)m->phase;
    pq->n_secrets = m->n_secrets;
    for (size_t i = 0; i < m->n_secrets; i++) {
        pq->secrets[i].epoch = m->secrets[i]->epoch;
        pq->secrets[i].erase_after_ms = (int64_t)m->secrets[i]->erase_after_ms;
        if ((rc = need_key(pq->secrets[i].secret, m->secrets[i]->secret, "an epoch secret")) != SH_OK)
            return rc;
    }
    if (pq->phase == SH_E2E_PQ_PROPOSE_SENDING) {
        if ((rc = sh_wire_need_len(m->kem_seed, SH_E2E_MLKEM_SEED_BYTES, "the KEM seed")) != SH_OK ||
            (rc = sh_wire_need_len(m->kem_data, SH_MLKEM768_EK_BYTES, "the KEM key")) != SH_OK)
            return rc;
        memcpy(pq->kem_seed, m->kem_seed.data, SH_E2E_MLKEM_SEED_BYTES);
        memcpy(pq->kem_data, m->kem_data.data, SH_MLKEM768_EK_BYTES);
    } else if (pq->phase == SH_E2E_PQ_ENCAPS_SENDING) {
        if ((rc = sh_wire_need_len(m->kem_data, SH_MLKEM768_CT_BYTES, "the KEM ciphertext")) != SH_OK ||
            (rc = need_key(pq->pending, m->pending_secret, "the pending epoch secret")) != SH_OK)
            return rc;
        memcpy(pq->kem_data, m->kem_data.data, SH_MLKEM768_CT_BYTES);
    }
    pq->out_index = m->out_index;
    pq->n_in = m->in_chunks.len / IN_RECORD;
    for (size_t i = 0; i < pq->n_in; i++) {
        pq->in_index[i] = m->in_chunks.data[i * IN_RECORD];
        memcpy(pq->in_chunks[i], m->in_chunks.data + i * IN_RECORD + 1, SH_E2E_CHUNK_BYTES);
    }
    return SH_OK;
}

static int dr_from_pb(sh_e2e_dr *dr, const Shoal__E2e__Session *m)
{
    int rc;

    if ((rc = need_key(dr->dhs_sk, m->dhs_sk, "the ratchet key")) != SH_OK ||
        (rc = need_key(dr->dhs_pk, m->dhs_pk, "the ratchet public key")) != SH_OK ||
        (rc = opt_key(dr->dhr_pk, &dr->has_dhr, m->dhr_pk, "the peer's ratchet key")) != SH_OK ||
        (rc = need_key(dr->rk, m->root_key, "the root key")) != SH_OK ||
        (rc = opt_key(dr->cks, &dr->has_cks, m->send_chain, "the sending chain")) != SH_OK ||
        (rc = opt_key(dr->ckr, &dr->has_ckr, m->recv_chain, "the receiving chain")) != SH_OK ||
        (rc = opt_key(dr->hks, &dr->has_hks, m->send_hk, "the sending header key")) != SH_OK ||
        (rc = opt_key(dr->hkr, &dr->has_hkr, m->recv_hk, "the receiving header key")) != SH_OK ||
        (rc = need_key(dr->nhks, m->send_nhk, "the next sending header key")) != SH_OK ||
        (rc = need_key(dr->nhkr, m->recv_nhk, "the next receiving header key")) != SH_OK)
        return rc;
    dr->ns = m->ns;
    dr->nr = m->nr;
    dr->pn = m->pn;
    if (m->n_old_recv_hks > SH_E2E_OLD_HKR)
        return sh_err_set(SH_ERR_FORMAT, "saved session: too many retired header keys");
    dr->n_old_hkr = (uint8_t)m->n_old_recv_hks;
    for (size_t i = 0; i < m->n_old_recv_hks; i++)
        if ((rc = need_key(dr->old_hkr[i], m->old_recv_hks[i], "a retired header key")) != SH_OK)
            return rc;
    return SH_OK;
}

static int session_fields(sh_e2e_session *s, const Shoal__E2e__Session *m)
{
    int rc;

    if (m->version != SESSION_VERSION)
        return sh_err_set(SH_ERR_UNSUPPORTED, "saved session version %u is not known here", m->version);
    if (m->n_skipped > SH_E2E_MAX_SKIP)
        return sh_err_set(SH_ERR_FORMAT, "saved session has %zu skipped keys", m->n_skipped);
    if ((rc = need_key(s->th, m->handshake_hash, "the handshake hash")) != SH_OK ||
        (rc = need_key(s->replaces, m->replaces, "the replaced session")) != SH_OK ||
        (rc = need_key(s->peer_account, m->peer_account, "the peer account")) != SH_OK ||
        (rc = need_key(s->peer_device_ed, m->peer_device_ed25519, "the peer device key")) != SH_OK ||
        (rc = need_key(s->peer_identity_x, m->peer_identity_x25519, "the peer identity")) != SH_OK)
        return rc;
    s->initiator = m->initiator;
    s->acknowledged = m->acknowledged;
    s->peer_device_id = m->peer_device_id;
    s->has_init = m->handshake_init.len != 0;
    if (s->has_init) {
        if ((rc = sh_wire_need_len(m->handshake_init, SH_E2E_INIT_BYTES, "the handshake")) != SH_OK)
            return rc;
        memcpy(s->init, m->handshake_init.data, SH_E2E_INIT_BYTES);
    }
    for (size_t i = 0; i < m->n_skipped; i++) {
        sh_e2e_skipped *k = &s->skipped[i];
        if ((rc = need_key(k->hk, m->skipped[i]->header_key, "a skipped header key")) != SH_OK ||
            (rc = need_key(k->mk, m->skipped[i]->message_key, "a skipped message key")) != SH_OK)
            return rc;
        k->n = m->skipped[i]->n;
        k->expires_ms = (int64_t)m->skipped[i]->expires_ms;
    }
    s->n_skipped = m->n_skipped;
    s->created_ms = (int64_t)m->created_ms;
    s->archived_ms = (int64_t)m->archived_ms;
    return SH_OK;
}

int sh__e2e_session_from_pb(sh_e2e_session **out, const Shoal__E2e__Session *m)
{
    sh_e2e_session *s = sh_secret_alloc(sizeof *s);
    int rc;

    if (s == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory loading a session");
    memset(s, 0, sizeof *s);
    if ((rc = session_fields(s, m)) != SH_OK || (rc = dr_from_pb(&s->dr, m)) != SH_OK ||
        (rc = pq_from_pb(&s->pq, m->pq)) != SH_OK) {
        sh_secret_free(s);
        return rc;
    }
    *out = s;
    return SH_OK;
}

int sh__e2e_session_load(sh_e2e_session **out, const uint8_t *in, size_t len)
{
    Shoal__E2e__Session *m = NULL;
    int rc = sh_wire_unpack_with(&shoal__e2e__session__descriptor, in, len, "saved session",
                                 &sh_wire_secret_allocator, (ProtobufCMessage **)&m);

    if (rc != SH_OK)
        return rc;
    rc = sh__e2e_session_from_pb(out, m);
    sh_wire_free_secret(m);
    return rc;
}
