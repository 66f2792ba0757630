/* The sparse post-quantum ratchet (docs/protocol-v2.md, "Post-quantum epochs"), modelled on
 * Signal's SPQR / Triple Ratchet. Epoch t's secret is
 *   ES_t = HKDF(salt = ES_{t-1}, ikm = ML-KEM-768 shared secret, info = label || t || H(ek) || H(ct))
 * and every message key mixes the Double Ratchet's message key with the secret of the epoch named
 * in the (encrypted) header. The initiator proposes odd epochs, the responder even ones.
 *
 * States of one party for the next epoch t = send_epoch + 1 (numbers are the `phase` values):
 *
 *   proposer:      0 PROPOSE_IDLE --first send--> 1 PROPOSE_SENDING (ek chunks on every message)
 *                  1 --enough ct chunks: decaps, ES_t, send_epoch = t--> 2 ENCAPS_WAITING
 *   encapsulator:  2 ENCAPS_WAITING --enough ek chunks: encaps, ES_t pending--> 3 ENCAPS_SENDING
 *                  3 (ct chunks on every message) --a message keyed with epoch t--> 0 PROPOSE_IDLE
 *
 * Invariants: (1) a party keys messages with epoch t only once the peer holds ES_t (the proposer
 * after decapsulating, which the encapsulator already did; the encapsulator after seeing the
 * proposer use t). (2) Only authenticated messages drive transitions (sh__e2e_pq_incoming runs
 * after decryption). (3) Chunks are erasure-coded (erasure.c): any k distinct chunks of a key or
 * ciphertext rebuild it, so loss, duplication and reordering only delay an epoch. */
#include "e2e/internal.h"

#include <sodium.h>
#include <string.h>

#include "crypto/labels.h"
#include "util/err.h"
#include "util/log.h"

#define EK_CHUNKS SH_E2E_CHUNKS_OF(SH_MLKEM768_EK_BYTES)
#define CT_CHUNKS SH_E2E_CHUNKS_OF(SH_MLKEM768_CT_BYTES)

void sh__e2e_pq_start(sh_e2e_pq *pq, bool initiator, const uint8_t epoch0[static 32])
{
    memset(pq, 0, sizeof *pq);
    pq->n_secrets = 1;
    pq->secrets[0].epoch = 0;
    memcpy(pq->secrets[0].secret, epoch0, 32);
    pq->phase = initiator ? SH_E2E_PQ_PROPOSE_IDLE : SH_E2E_PQ_ENCAPS_WAITING;
}

static const sh_e2e_epoch_secret *find_secret(const sh_e2e_pq *pq, uint32_t epoch)
{
    for (size_t i = 0; i < pq->n_secrets; i++)
        if (pq->secrets[i].epoch == epoch)
            return &pq->secrets[i];
    return NULL;
}

void sh__e2e_message_key(uint8_t out[static 32], const uint8_t mk_dr[static 32],
                         const uint8_t epoch_secret[static 32], uint32_t epoch)
{
    uint8_t ctx[4];

    sh_store_u32be(ctx, epoch);
    (void)sh__e2e_kdf(out, 32, epoch_secret, 32, mk_dr, 32, SH_LABEL_E2E_MESSAGE_KEY, ctx, 4);
}

void sh__e2e_epoch_kdf(uint8_t out[static 32], const uint8_t prev[static 32], const uint8_t ss[static 32],
                       uint32_t epoch, const uint8_t *ek, const uint8_t *ct)
{
    uint8_t ctx[4 + 32 + 32];

    sh_store_u32be(ctx, epoch);
    crypto_hash_sha256(ctx + 4, ek, SH_MLKEM768_EK_BYTES);
    crypto_hash_sha256(ctx + 36, ct, SH_MLKEM768_CT_BYTES);
    (void)sh__e2e_kdf(out, 32, prev, 32, ss, 32, SH_LABEL_E2E_PQ_EPOCH, ctx, sizeof ctx);
}

/* Installs ES_t as the sending epoch; the previous secret stays for late messages until the
 * skipped-key age, and at most SH_E2E_PQ_SECRETS_KEPT secrets are kept. */
static void install_epoch(sh_e2e_pq *pq, uint32_t epoch, const uint8_t secret[static 32], int64_t now_ms)
{
    for (size_t i = 0; i < pq->n_secrets; i++)
        if (pq->secrets[i].erase_after_ms == 0)
            pq->secrets[i].erase_after_ms = now_ms + SH_E2E_SKIP_MAX_AGE_MS;
    if (pq->n_secrets == SH_E2E_PQ_SECRETS_KEPT) {
        sodium_memzero(&pq->secrets[0], sizeof pq->secrets[0]);
        memmove(&pq->secrets[0], &pq->secrets[1], (pq->n_secrets - 1) * sizeof pq->secrets[0]);
        pq->n_secrets--;
    }
    pq->secrets[pq->n_secrets].epoch = epoch;
    memcpy(pq->secrets[pq->n_secrets].secret, secret, 32);
    pq->secrets[pq->n_secrets].erase_after_ms = 0;
    pq->n_secrets++;
    pq->send_epoch = epoch;
    pq->n_in = 0;
    pq->out_index = 0;
    sodium_memzero(pq->kem_seed, sizeof pq->kem_seed);
    sodium_memzero(pq->kem_data, sizeof pq->kem_data);
    sodium_memzero(pq->pending, sizeof pq->pending);
}

int sh__e2e_pq_outgoing(sh_e2e_pq *pq, bool initiator, sh_e2e_header *h, const uint8_t **secret)
{
    const sh_e2e_epoch_secret *es = find_secret(pq, pq->send_epoch);
    size_t len;
    int rc;

    (void)initiator;
    if (es == NULL)
        return sh_err_set(SH_ERR_INTERNAL, "the sending epoch's secret is missing");
    *secret = es->secret;
    h->epoch = pq->send_epoch;
    h->chunk_kind = SH_E2E_CHUNK_NONE;
    h->chunk_epoch = 0;
    h->chunk_index = 0;
    memset(h->chunk, 0, sizeof h->chunk);
    if (pq->phase == SH_E2E_PQ_PROPOSE_IDLE) {
        randombytes_buf(pq->kem_seed, sizeof pq->kem_seed);
        if ((rc = sh__e2e_mlkem_keypair(pq->kem_seed, pq->kem_data, NULL)) != SH_OK)
            return rc;
        pq->out_index = 0;
        pq->n_in = 0;
        pq->phase = SH_E2E_PQ_PROPOSE_SENDING;
    }
    if (pq->phase == SH_E2E_PQ_PROPOSE_SENDING) {
        h->chunk_kind = SH_E2E_CHUNK_EK;
        len = SH_MLKEM768_EK_BYTES;
    } else if (pq->phase == SH_E2E_PQ_ENCAPS_SENDING) {
        h->chunk_kind = SH_E2E_CHUNK_CT;
        len = SH_MLKEM768_CT_BYTES;
    } else {
        return SH_OK;
    }
    h->chunk_epoch = pq->send_epoch + 1;
    h->chunk_index = (uint8_t)pq->out_index++;
    sh__e2e_rs_chunk(pq->kem_data, len, h->chunk_index, h->chunk);
    return SH_OK;
}

int sh__e2e_pq_secret_for(const sh_e2e_pq *pq, uint32_t epoch, const uint8_t **secret)
{
    const sh_e2e_epoch_secret *es = find_secret(pq, epoch);

    if (es != NULL) {
        *secret = es->secret;
        return SH_OK;
    }
    if (epoch == pq->send_epoch + 1 && pq->phase == SH_E2E_PQ_ENCAPS_SENDING) {
        *secret = pq->pending;
        return SH_OK;
    }
    if (epoch < pq->send_epoch)
        return sh_err_set(SH_ERR_STALE, "the message is keyed with post-quantum epoch %u, whose "
                          "secret was erased (now at %u)", epoch, pq->send_epoch);
    return sh_err_set(SH_ERR_PROTOCOL, "the message is keyed with post-quantum epoch %u, which "
                      "was never agreed (now at %u)", epoch, pq->send_epoch);
}

/* Adds a chunk; true once k distinct chunks are in. */
static bool take_chunk(sh_e2e_pq *pq, const sh_e2e_header *h, size_t k)
{
    for (size_t i = 0; i < pq->n_in; i++)
        if (pq->in_index[i] == h->chunk_index)
            return false;
    if (pq->n_in >= k)
        return false;
    pq->in_index[pq->n_in] = h->chunk_index;
    memcpy(pq->in_chunks[pq->n_in], h->chunk, SH_E2E_CHUNK_BYTES);
    pq->n_in++;
    return pq->n_in == k;
}

static void got_ek(sh_e2e_pq *pq)
{
    uint8_t ek[SH_MLKEM768_EK_BYTES], ct[SH_MLKEM768_CT_BYTES], ss[32];
    const sh_e2e_epoch_secret *prev = find_secret(pq, pq->send_epoch);

    pq->n_in = 0;
    if (sh__e2e_rs_decode(ek, sizeof ek, pq->in_index,
                          (const uint8_t(*)[SH_E2E_CHUNK_BYTES])pq->in_chunks) != SH_OK ||
        prev == NULL || sh__e2e_mlkem_encaps(ct, ss, ek) != SH_OK) {
        sh_log_warn("e2e", "the peer's post-quantum key for epoch %u is unusable; waiting for another",
                    pq->send_epoch + 1);
        return;
    }
    sh__e2e_epoch_kdf(pq->pending, prev->secret, ss, pq->send_epoch + 1, ek, ct);
    memcpy(pq->kem_data, ct, sizeof ct);
    pq->out_index = 0;
    pq->phase = SH_E2E_PQ_ENCAPS_SENDING;
    sodium_memzero(ss, sizeof ss);
}

static void got_ct(sh_e2e_pq *pq, int64_t now_ms)
{
    uint8_t ct[SH_MLKEM768_CT_BYTES], ss[32], next[32];
    const sh_e2e_epoch_secret *prev = find_secret(pq, pq->send_epoch);

    pq->n_in = 0;
    if (sh__e2e_rs_decode(ct, sizeof ct, pq->in_index,
                          (const uint8_t(*)[SH_E2E_CHUNK_BYTES])pq->in_chunks) != SH_OK ||
        prev == NULL || sh__e2e_mlkem_decaps(ss, ct, pq->kem_seed) != SH_OK)
        return;
    sh__e2e_epoch_kdf(next, prev->secret, ss, pq->send_epoch + 1, pq->kem_data, ct);
    install_epoch(pq, pq->send_epoch + 1, next, now_ms);
    pq->phase = SH_E2E_PQ_ENCAPS_WAITING;
    sodium_memzero(ss, sizeof ss);
    sodium_memzero(next, sizeof next);
}

void sh__e2e_pq_incoming(sh_e2e_pq *pq, bool initiator, const sh_e2e_header *h, int64_t now_ms)
{
    uint8_t pending[32];

    (void)initiator;
    if (pq->phase == SH_E2E_PQ_ENCAPS_SENDING && h->epoch == pq->send_epoch + 1) {
        memcpy(pending, pq->pending, 32);
        install_epoch(pq, pq->send_epoch + 1, pending, now_ms);
        pq->phase = SH_E2E_PQ_PROPOSE_IDLE;
        sodium_memzero(pending, sizeof pending);
    }
    if (h->chunk_kind == SH_E2E_CHUNK_NONE || h->chunk_epoch != pq->send_epoch + 1)
        return;
    if (h->chunk_kind == SH_E2E_CHUNK_EK && pq->phase == SH_E2E_PQ_ENCAPS_WAITING) {
        if (take_chunk(pq, h, EK_CHUNKS))
            got_ek(pq);
    } else if (h->chunk_kind == SH_E2E_CHUNK_CT && pq->phase == SH_E2E_PQ_PROPOSE_SENDING) {
        if (take_chunk(pq, h, CT_CHUNKS))
            got_ct(pq, now_ms);
    }
}
