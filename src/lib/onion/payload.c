/* Onion payloads (docs/onion.md "Payload" and "Replies"): bucket sizes, the end-to-end
 * XChaCha20-Poly1305 block the destination and the client check, and the reply path where each
 * relay adds a wide-block layer that only the client removes. Each end-to-end key is derived from
 * one packet's fresh hop secret and seals exactly one block, so the nonce is a constant zero. */
#include "onion/internal.h"

#include <sodium.h>
#include <string.h>

#include "util/err.h"

#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define LEN_BYTES 4
_Static_assert(SH_ONION_E2E_OVERHEAD_BYTES == TAG_BYTES + LEN_BYTES, "e2e overhead");
_Static_assert(SH_ONION_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "e2e key size");
_Static_assert(SH_ONION_BUCKET_1K >= SH__ONION_LIONESS_MIN_BYTES, "buckets fit the wide block");

const uint32_t sh_onion_buckets[SH_ONION_BUCKET_COUNT] = {
    SH_ONION_BUCKET_1K, SH_ONION_BUCKET_4K, SH_ONION_BUCKET_16K, SH_ONION_BUCKET_64K,
    SH_ONION_BUCKET_256K,
};

static const uint8_t zero_nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];

size_t sh_onion_bucket_for(size_t msg_len)
{
    for (size_t i = 0; i < SH_ONION_BUCKET_COUNT; i++)
        if (msg_len <= sh_onion_buckets[i] - SH_ONION_E2E_OVERHEAD_BYTES)
            return sh_onion_buckets[i];
    return 0;
}

bool sh_onion_is_bucket(size_t len)
{
    for (size_t i = 0; i < SH_ONION_BUCKET_COUNT; i++)
        if (len == sh_onion_buckets[i])
            return true;
    return false;
}

int sh__onion_e2e_seal(const uint8_t key[static SH_ONION_KEY_BYTES], const uint8_t *msg,
                       size_t msg_len, uint8_t *block, size_t bucket)
{
    size_t inner = bucket - TAG_BYTES;

    if (!sh_onion_is_bucket(bucket) || msg_len > bucket - SH_ONION_E2E_OVERHEAD_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "a %zu-byte message does not fit a %zu-byte bucket",
                          msg_len, bucket);
    sh_store_u32be(block, (uint32_t)msg_len);
    if (msg_len > 0)
        memmove(block + LEN_BYTES, msg, msg_len);
    memset(block + LEN_BYTES + msg_len, 0, inner - LEN_BYTES - msg_len);
    crypto_aead_xchacha20poly1305_ietf_encrypt_detached(block, block + inner, NULL, block, inner,
                                                        NULL, 0, NULL, zero_nonce, key);
    return SH_OK;
}

int sh__onion_e2e_open(const uint8_t key[static SH_ONION_KEY_BYTES], uint8_t *block,
                       size_t bucket, const uint8_t **msg, size_t *msg_len)
{
    size_t inner = bucket - TAG_BYTES;
    uint32_t len;

    if (!sh_onion_is_bucket(bucket))
        return sh_err_set(SH_ERR_PROTOCOL, "onion payload of %zu bytes is not a bucket size",
                          bucket);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(block, NULL, block, inner,
                                                            block + inner, NULL, 0, zero_nonce,
                                                            key) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "onion payload failed its end-to-end check "
                                         "(damaged on the way or not meant for this key)");
    len = sh_load_u32be(block);
    if (len > inner - LEN_BYTES)
        return sh_err_set(SH_ERR_PROTOCOL, "onion payload claims %u bytes in a %zu-byte bucket",
                          len, bucket);
    *msg = block + LEN_BYTES;
    *msg_len = len;
    return SH_OK;
}

int sh_onion_open_request(const sh_onion_peeled *p, uint8_t *payload, size_t len,
                          const uint8_t **msg, size_t *msg_len)
{
    if (p->command != SH_ONION_DELIVER)
        return sh_err_set(SH_ERR_INVALID, "only the destination opens an onion request");
    return sh__onion_e2e_open(p->request_key, payload, len, msg, msg_len);
}

static size_t pick_bucket(size_t msg_len, size_t bucket)
{
    size_t need = sh_onion_bucket_for(msg_len);

    if (need == 0)
        return 0;
    return bucket > need ? bucket : need;
}

int sh_onion_seal_reply(const sh_onion_peeled *p, const uint8_t *msg, size_t msg_len,
                        size_t bucket, sh_buf *reply)
{
    size_t size = pick_bucket(msg_len, bucket);
    uint8_t *block;
    int rc;

    if (p->command != SH_ONION_DELIVER)
        return sh_err_set(SH_ERR_INVALID, "only the destination seals an onion reply");
    if (size == 0 || (bucket != 0 && !sh_onion_is_bucket(bucket)))
        return sh_err_set(SH_ERR_LIMIT, "a reply of %zu bytes does not fit a bucket of at most "
                                        "%u bytes", msg_len, SH_ONION_BUCKET_MAX);
    sh_buf_reset(reply);
    rc = sh_buf_extend(reply, size, &block);
    if (rc != SH_OK)
        return rc;
    return sh__onion_e2e_seal(p->reply_key, msg, msg_len, block, size);
}

int sh_onion_wrap_reply(const uint8_t reply_key[static SH_ONION_KEY_BYTES], uint8_t *reply,
                        size_t len)
{
    if (!sh_onion_is_bucket(len))
        return sh_err_set(SH_ERR_PROTOCOL, "onion reply of %zu bytes is not a bucket size", len);
    sh__onion_lioness_encrypt(reply_key, reply, len);
    return SH_OK;
}

int sh_onion_open_reply(const sh_onion_client *state, uint8_t *reply, size_t len,
                        const uint8_t **msg, size_t *msg_len)
{
    if (!sh_onion_is_bucket(len))
        return sh_err_set(SH_ERR_PROTOCOL, "onion reply of %zu bytes is not a bucket size", len);
    for (size_t i = 0; i < state->n_layers; i++)
        sh__onion_lioness_decrypt(state->layer_keys[i], reply, len);
    return sh__onion_e2e_open(state->e2e_key, reply, len, msg, msg_len);
}
