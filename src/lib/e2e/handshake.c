/* The hybrid handshake (docs/protocol-v2.md, "Handshake"), modelled on Signal's PQXDH without
 * one-time prekeys. The initiator A knows the responder B's device identity key IK_B (device
 * list), signed prekey SPK_B and signed ML-KEM-768 prekey PQSPK_B (bundle):
 *   DH1 = DH(IK_A, SPK_B)   DH2 = DH(EK_A, IK_B)   DH3 = DH(EK_A, SPK_B)
 *   (CT, SS) = ML-KEM-768.Encaps(PQSPK_B)
 *   TH = SHA-256(label || A's account, device id, device key, IK_A || B's the same ||
 *                spk ids and keys || PQSPK_B || EK_A || CT || replaces)
 *   root || HK_A || NHK_B || ES_0 = HKDF-SHA256(salt = TH, ikm = DH1||DH2||DH3||SS, info = label)
 * TH binds both identities and device ids (no unknown key share), the PQ prekey and ciphertext
 * (no re-encapsulation), and DH1 needs A's identity secret (no impersonation of A to B by someone
 * who holds only B's identity key). TH also names the session and is the replay-set entry. */
#include "e2e/internal.h"

#include <sodium.h>
#include <string.h>

#include "crypto/labels.h"
#include "util/err.h"

void sh__e2e_hs_init_encode(const sh_e2e_hs_init *init, uint8_t out[static SH_E2E_INIT_BYTES])
{
    uint8_t *p = out;

    *p++ = SH_E2E_INIT_VERSION;
    sh_store_u32be(p, init->spk_id);
    sh_store_u32be(p + 4, init->pqspk_id);
    p += 8;
    memcpy(p, init->ephemeral, 32);
    p += 32;
    memcpy(p, init->ct, SH_MLKEM768_CT_BYTES);
    p += SH_MLKEM768_CT_BYTES;
    memcpy(p, init->replaces, 32);
}

int sh__e2e_hs_init_decode(sh_e2e_hs_init *init, const uint8_t in[static SH_E2E_INIT_BYTES])
{
    const uint8_t *p = in + 1;

    if (in[0] != SH_E2E_INIT_VERSION)
        return sh_err_set(SH_ERR_UNSUPPORTED, "handshake version %u is not known here", in[0]);
    init->spk_id = sh_load_u32be(p);
    init->pqspk_id = sh_load_u32be(p + 4);
    p += 8;
    memcpy(init->ephemeral, p, 32);
    p += 32;
    memcpy(init->ct, p, SH_MLKEM768_CT_BYTES);
    p += SH_MLKEM768_CT_BYTES;
    memcpy(init->replaces, p, 32);
    return SH_OK;
}

static void hash_party(crypto_hash_sha256_state *st, const sh_e2e_party *p)
{
    uint8_t id[4];

    sh_store_u32be(id, p->device_id);
    crypto_hash_sha256_update(st, p->account, 32);
    crypto_hash_sha256_update(st, id, 4);
    crypto_hash_sha256_update(st, p->device_ed, 32);
    crypto_hash_sha256_update(st, p->identity_x, 32);
}

void sh__e2e_hs_transcript(uint8_t th[static 32], const sh_e2e_party *initiator,
                           const sh_e2e_party *responder, const uint8_t spk[static 32],
                           const uint8_t pqspk[static SH_MLKEM768_EK_BYTES],
                           const sh_e2e_hs_init *init)
{
    crypto_hash_sha256_state st;
    uint8_t ids[8];

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)SH_LABEL_E2E_HS_TRANSCRIPT,
                              sizeof SH_LABEL_E2E_HS_TRANSCRIPT - 1);
    hash_party(&st, initiator);
    hash_party(&st, responder);
    sh_store_u32be(ids, init->spk_id);
    sh_store_u32be(ids + 4, init->pqspk_id);
    crypto_hash_sha256_update(&st, ids, 8);
    crypto_hash_sha256_update(&st, spk, 32);
    crypto_hash_sha256_update(&st, pqspk, SH_MLKEM768_EK_BYTES);
    crypto_hash_sha256_update(&st, init->ephemeral, 32);
    crypto_hash_sha256_update(&st, init->ct, SH_MLKEM768_CT_BYTES);
    crypto_hash_sha256_update(&st, init->replaces, 32);
    crypto_hash_sha256_final(&st, th);
}

int sh__e2e_hs_derive(sh_e2e_hs_keys *keys, const uint8_t th[static 32],
                      const uint8_t dh1[static 32], const uint8_t dh2[static 32],
                      const uint8_t dh3[static 32], const uint8_t ss[static 32])
{
    uint8_t ikm[128], okm[128];
    int rc;

    memcpy(ikm, dh1, 32);
    memcpy(ikm + 32, dh2, 32);
    memcpy(ikm + 64, dh3, 32);
    memcpy(ikm + 96, ss, 32);
    rc = sh__e2e_kdf(okm, sizeof okm, th, 32, ikm, sizeof ikm, SH_LABEL_E2E_HS_KDF, NULL, 0);
    if (rc == SH_OK) {
        memcpy(keys->root, okm, 32);
        memcpy(keys->hk_initiator, okm + 32, 32);
        memcpy(keys->nhk_responder, okm + 64, 32);
        memcpy(keys->epoch0, okm + 96, 32);
    }
    sodium_memzero(ikm, sizeof ikm);
    sodium_memzero(okm, sizeof okm);
    return rc;
}

static int dh(uint8_t out[static 32], const uint8_t sk[static 32], const uint8_t pk[static 32],
              const char *what)
{
    if (crypto_scalarmult(out, sk, pk) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "%s is a low-order X25519 point", what);
    return SH_OK;
}

int sh__e2e_hs_initiate(const sh_e2e_party *me, const uint8_t my_identity_sk[static 32],
                        const sh_e2e_party *peer, const sh_e2e_bundle *bundle,
                        const uint8_t replaces[static 32], sh_e2e_hs_init *init,
                        sh_e2e_hs_keys *keys, uint8_t th[static 32],
                        uint8_t ephemeral_sk_out[static 32])
{
    uint8_t ek_sk[32], dh1[32], dh2[32], dh3[32], ss[32];
    int rc;

    randombytes_buf(ek_sk, 32);
    crypto_scalarmult_base(init->ephemeral, ek_sk);
    init->spk_id = bundle->spk_id;
    init->pqspk_id = bundle->pqspk_id;
    memcpy(init->replaces, replaces, 32);
    if ((rc = dh(dh1, my_identity_sk, bundle->spk, "the signed prekey")) != SH_OK ||   /* DH1 */
        (rc = dh(dh2, ek_sk, peer->identity_x, "the peer's identity key")) != SH_OK || /* DH2 */
        (rc = dh(dh3, ek_sk, bundle->spk, "the signed prekey")) != SH_OK ||            /* DH3 */
        (rc = sh__e2e_mlkem_encaps(init->ct, ss, bundle->pqspk)) != SH_OK)             /* KEM */
        goto done;
    sh__e2e_hs_transcript(th, me, peer, bundle->spk, bundle->pqspk, init);
    rc = sh__e2e_hs_derive(keys, th, dh1, dh2, dh3, ss);
    memcpy(ephemeral_sk_out, ek_sk, 32);
done:
    sodium_memzero(ek_sk, sizeof ek_sk);
    sodium_memzero(dh1, sizeof dh1);
    sodium_memzero(dh2, sizeof dh2);
    sodium_memzero(dh3, sizeof dh3);
    sodium_memzero(ss, sizeof ss);
    return rc;
}

int sh__e2e_hs_respond(const sh_e2e_party *me, const uint8_t my_identity_sk[static 32],
                       const sh_e2e_party *peer, const uint8_t spk_sk[static 32],
                       const uint8_t spk_pk[static 32], const uint8_t pq_seed[static 64],
                       const uint8_t pqspk[static SH_MLKEM768_EK_BYTES],
                       const sh_e2e_hs_init *init, sh_e2e_hs_keys *keys, uint8_t th[static 32])
{
    uint8_t dh1[32], dh2[32], dh3[32], ss[32];
    int rc;

    if ((rc = dh(dh1, spk_sk, peer->identity_x, "the initiator's identity key")) != SH_OK ||
        (rc = dh(dh2, my_identity_sk, init->ephemeral, "the ephemeral key")) != SH_OK ||
        (rc = dh(dh3, spk_sk, init->ephemeral, "the ephemeral key")) != SH_OK ||
        (rc = sh__e2e_mlkem_decaps(ss, init->ct, pq_seed)) != SH_OK)
        goto done;
    sh__e2e_hs_transcript(th, peer, me, spk_pk, pqspk, init);
    rc = sh__e2e_hs_derive(keys, th, dh1, dh2, dh3, ss);
done:
    sodium_memzero(dh1, sizeof dh1);
    sodium_memzero(dh2, sizeof dh2);
    sodium_memzero(dh3, sizeof dh3);
    sodium_memzero(ss, sizeof ss);
    return rc;
}
