/* Sender certificates and sealed envelopes (docs/protocol-v2.md, "Sealed envelopes").
 *
 * outer  = 0x02 || X-Wing ciphertext (1120) || XChaCha20-Poly1305(K, inner, nonce 0, ad = 0x02)
 *          with K = HKDF(ikm = X-Wing shared secret, info = label), padded to a bucket size
 * inner  = 0x01 || cert length (2) || certificate || conversation account (32)
 *          || init count (1) || count x (device id (4) || handshake init (1161))
 *          || SH_E2E_MAX_DEVICES slots x (device id (4) || ratchet message of the content key)
 *          || payload length (4) || payload ciphertext || zero padding
 * A node sees one X-Wing ciphertext and a bucket-sized blob: not the sender, not the number of
 * devices. Unused slots have device id 0 and random bytes. */
#include "e2e/internal.h"

#include <sodium.h>
#include <string.h>

#include "crypto/labels.h"
#include "util/err.h"

const size_t sh__e2e_buckets[SH_E2E_N_BUCKETS] = {
    4096 - SH_E2E_BUCKET_SLACK_BYTES, 8192 - SH_E2E_BUCKET_SLACK_BYTES,
    16384 - SH_E2E_BUCKET_SLACK_BYTES, 32768 - SH_E2E_BUCKET_SLACK_BYTES, SH_E2E_ENVELOPE_MAX_BYTES};

#define INNER_FIXED (1 + 2 + 32 + 1 + SH_E2E_MAX_DEVICES * SH_E2E_SLOT_BYTES + 4)
_Static_assert(SH_E2E_OUTER_OVERHEAD + INNER_FIXED + SH_E2E_CERT_MAX_BYTES +
                   SH_E2E_MAX_DEVICES * SH_E2E_INIT_ENTRY_BYTES + SH_E2E_MAX_PAYLOAD_BYTES +
                   SH_E2E_TAG_BYTES <= SH_E2E_ENVELOPE_MAX_BYTES,
               "the largest payload with every handshake fits the largest bucket");

int sh__e2e_cert_sign(const sh_e2e_cert *c, const uint8_t device_ed_sk[static 64], sh_buf *out)
{
    Shoal__E2e__SenderCert m = SHOAL__E2E__SENDER_CERT__INIT;

    m.label = (char *)SH_LABEL_E2E_SENDER_CERT;
    m.sender_account_ed25519_pk = sh_wire_bin(c->sender_account, 32);
    m.sender_device_id = c->sender_device_id;
    m.sender_device_ed25519_pk = sh_wire_bin(c->sender_device_ed, 32);
    m.recipient_account_ed25519_pk = sh_wire_bin(c->recipient_account, 32);
    m.devlist_counter = c->devlist_counter;
    m.expires_ms = (uint64_t)c->expires_ms;
    return sh_wire_sign_pack(&m.base, device_ed_sk, out);
}

int sh__e2e_cert_parse(sh_e2e_cert *c, const uint8_t *in, size_t len)
{
    Shoal__Signed *outer = NULL;
    Shoal__E2e__SenderCert *m = NULL;
    int rc;

    memset(c, 0, sizeof *c);
    rc = sh_wire_open_signed(&shoal__e2e__sender_cert__descriptor, SH_LABEL_E2E_SENDER_CERT, in,
                             len, "sender certificate", &outer, (ProtobufCMessage **)&m);
    if (rc != SH_OK)
        return rc;
    if ((rc = sh_wire_need_len(m->sender_account_ed25519_pk, 32, "the sender account")) != SH_OK ||
        (rc = sh_wire_need_len(m->sender_device_ed25519_pk, 32, "the sender device key")) != SH_OK ||
        (rc = sh_wire_need_len(m->recipient_account_ed25519_pk, 32, "the recipient account")) != SH_OK)
        goto done;
    memcpy(c->sender_account, m->sender_account_ed25519_pk.data, 32);
    c->sender_device_id = m->sender_device_id;
    memcpy(c->sender_device_ed, m->sender_device_ed25519_pk.data, 32);
    memcpy(c->recipient_account, m->recipient_account_ed25519_pk.data, 32);
    c->devlist_counter = m->devlist_counter;
    c->expires_ms = (int64_t)m->expires_ms;
    rc = sh_wire_verify(outer, c->sender_device_ed, "sender certificate");
done:
    sh_wire_free(outer);
    sh_wire_free(m);
    return rc;
}

size_t sh__e2e_inner_size(size_t cert_len, size_t n_inits, size_t payload_len)
{
    return INNER_FIXED + cert_len + n_inits * SH_E2E_INIT_ENTRY_BYTES + payload_len;
}

size_t sh__e2e_bucket_for(size_t inner_len)
{
    for (size_t i = 0; i < SH_E2E_N_BUCKETS; i++)
        if (inner_len + SH_E2E_OUTER_OVERHEAD <= sh__e2e_buckets[i])
            return sh__e2e_buckets[i];
    return 0;
}

int sh__e2e_inner_parse(sh_e2e_inner *v, const uint8_t *in, size_t len)
{
    size_t off = 0, need;

    memset(v, 0, sizeof *v);
    if (len < INNER_FIXED)
        return sh_err_set(SH_ERR_FORMAT, "an envelope's content of %zu bytes is too short", len);
    if (in[0] != SH_E2E_INNER_VERSION)
        return sh_err_set(SH_ERR_UNSUPPORTED, "envelope content version %u is not known here", in[0]);
    v->cert_len = sh_load_u16be(in + 1);
    off = 3;
    if (v->cert_len == 0 || v->cert_len > SH_E2E_CERT_MAX_BYTES)
        return sh_err_set(SH_ERR_FORMAT, "the sender certificate has %zu bytes", v->cert_len);
    if (len < sh__e2e_inner_size(v->cert_len, 0, 0))
        return sh_err_set(SH_ERR_FORMAT, "the envelope's content is cut short");
    v->cert = in + off;
    off += v->cert_len;
    v->conversation = in + off;
    off += 32;
    v->n_inits = in[off++];
    if (v->n_inits > SH_E2E_MAX_DEVICES)
        return sh_err_set(SH_ERR_FORMAT, "the envelope carries %zu handshakes", v->n_inits);
    need = sh__e2e_inner_size(v->cert_len, v->n_inits, 0);
    if (len < need)
        return sh_err_set(SH_ERR_FORMAT, "the envelope's content is cut short");
    v->inits = in + off;
    off += v->n_inits * SH_E2E_INIT_ENTRY_BYTES;
    v->slots = in + off;
    off += SH_E2E_MAX_DEVICES * SH_E2E_SLOT_BYTES;
    v->payload_len = sh_load_u32be(in + off);
    off += 4;
    if (v->payload_len < SH_E2E_TAG_BYTES || v->payload_len > len - off)
        return sh_err_set(SH_ERR_FORMAT, "the payload length %zu does not fit the envelope",
                          v->payload_len);
    v->payload = in + off;
    off += v->payload_len;
    for (; off < len; off++)
        if (in[off] != 0)
            return sh_err_set(SH_ERR_FORMAT, "the envelope's padding is not zero");
    return SH_OK;
}

static int envelope_key(uint8_t key[static 32], const uint8_t ss[static 32])
{
    uint8_t version = SH_E2E_ENVELOPE_VERSION;

    return sh__e2e_kdf(key, 32, NULL, 0, ss, 32, SH_LABEL_E2E_ENVELOPE_KEY, &version, 1);
}

int sh__e2e_seal(const uint8_t envelope_ek[static SH_XWING_EK_BYTES], sh_buf *inner, sh_buf *out)
{
    static const uint8_t zero_nonce[SH_E2E_NONCE_BYTES];
    uint8_t ss[32], key[32], ad = SH_E2E_ENVELOPE_VERSION, *p;
    size_t bucket = sh__e2e_bucket_for(inner->len);
    int rc;

    if (bucket == 0)
        return sh_err_set(SH_ERR_LIMIT, "an envelope of %zu bytes exceeds the largest bucket (%d)",
                          inner->len + SH_E2E_OUTER_OVERHEAD, SH_E2E_ENVELOPE_MAX_BYTES);
    if ((rc = sh_buf_extend(inner, bucket - SH_E2E_OUTER_OVERHEAD - inner->len, &p)) != SH_OK)
        return rc;
    memset(p, 0, bucket - SH_E2E_OUTER_OVERHEAD - (size_t)(p - inner->data));
    if ((rc = sh_buf_extend(out, bucket, &p)) != SH_OK)
        return rc;
    p[0] = SH_E2E_ENVELOPE_VERSION;
    if ((rc = sh__e2e_xwing_encaps(p + 1, ss, envelope_ek)) != SH_OK ||
        (rc = envelope_key(key, ss)) != SH_OK)
        goto done;
    crypto_aead_xchacha20poly1305_ietf_encrypt(p + 1 + SH_XWING_CT_BYTES, NULL, inner->data,
                                               inner->len, &ad, 1, NULL, zero_nonce, key);
done:
    sodium_memzero(ss, sizeof ss);
    sodium_memzero(key, sizeof key);
    return rc;
}

int sh__e2e_unseal(const uint8_t seed[static 32], const uint8_t *env, size_t len, sh_buf *inner)
{
    static const uint8_t zero_nonce[SH_E2E_NONCE_BYTES];
    uint8_t ss[32], key[32], *p;
    size_t n;
    int rc;

    if (len < SH_E2E_OUTER_OVERHEAD + 1)
        return sh_err_set(SH_ERR_FORMAT, "an envelope of %zu bytes is too short", len);
    if (env[0] != SH_E2E_ENVELOPE_VERSION)
        return sh_err_set(SH_ERR_UNSUPPORTED, "envelope version %u is not known here", env[0]);
    n = len - SH_E2E_OUTER_OVERHEAD;
    if ((rc = sh__e2e_xwing_decaps(ss, env + 1, seed)) != SH_OK ||
        (rc = envelope_key(key, ss)) != SH_OK || (rc = sh_buf_extend(inner, n, &p)) != SH_OK)
        goto done;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, NULL, NULL, env + 1 + SH_XWING_CT_BYTES,
                                                   len - 1 - SH_XWING_CT_BYTES, env, 1, zero_nonce,
                                                   key) != 0) {
        inner->len -= n;
        rc = sh_err_set(SH_ERR_CRYPTO, "the envelope is not sealed to this account's envelope key");
    }
done:
    sodium_memzero(ss, sizeof ss);
    sodium_memzero(key, sizeof key);
    return rc;
}

void sh__e2e_slot_ad(uint8_t out[static 32], const uint8_t *cert, size_t cert_len,
                     const uint8_t conversation[static 32], const uint8_t *payload,
                     size_t payload_len, uint32_t device_id)
{
    crypto_generichash_state st;
    uint8_t id[4];

    sh_store_u32be(id, device_id);
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)SH_LABEL_E2E_SLOT_AD,
                              sizeof SH_LABEL_E2E_SLOT_AD - 1);
    crypto_generichash_update(&st, cert, cert_len);
    crypto_generichash_update(&st, conversation, 32);
    crypto_generichash_update(&st, payload, payload_len);
    crypto_generichash_update(&st, id, 4);
    crypto_generichash_final(&st, out, 32);
}
