/* Peeling one layer of a Sphinx packet at a relay or the destination (Danezis & Goldberg 2009,
 * section 3.2 "Processing"; docs/onion.md "Peeling"). Order matters: the MAC is checked before
 * the replay tag is recorded (so forged packets cannot fill the cache) and the tag before anything
 * is decrypted or forwarded. The destination skips the second scalar multiplication: it has no
 * next hop to blind for. */
#include "onion/internal.h"

#include <sodium.h>
#include <string.h>

#include "crypto/labels.h"
#include "util/err.h"

#define L_BYTES SH_ONION_BETA_BYTES
#define T_BYTES SH_ONION_HOP_BYTES

void sh_onion_peeled_wipe(sh_onion_peeled *p)
{
    sodium_memzero(p, sizeof *p);
}

/* Reads the decrypted routing information into out; SH_ERR_PROTOCOL when malformed. */
static int parse_routing(const uint8_t ri[static SH_ONION_ROUTING_BYTES], sh_onion_peeled *out)
{
    static const uint8_t zero[SH_ONION_ROUTING_BYTES];
    uint8_t command = ri[SH__ONION_RI_COMMAND], flags = ri[SH__ONION_RI_FLAGS];

    if (command < SH_ONION_RELAY_NODE || command > SH_ONION_DELIVER)
        return sh_err_set(SH_ERR_PROTOCOL, "onion routing command %u is unknown", command);
    if ((flags & ~SH_ONION_FLAG_REPLY) != 0 || ri[SH__ONION_RI_RESERVED] != 0 ||
        ri[SH__ONION_RI_RESERVED + 1] != 0)
        return sh_err_set(SH_ERR_PROTOCOL, "onion routing information has unknown flags 0x%02x "
                                           "or reserved bits set", flags);
    out->command = (sh_onion_command)command;
    out->flags = flags;
    if (command == SH_ONION_DELIVER) {
        if (sodium_memcmp(ri + SH__ONION_RI_TIMEOUT, zero,
                          SH_ONION_ROUTING_BYTES - SH__ONION_RI_TIMEOUT) != 0)
            return sh_err_set(SH_ERR_PROTOCOL, "onion delivery carries a next hop");
        return SH_OK;
    }
    out->reply_timeout_ms = sh_load_u32be(ri + SH__ONION_RI_TIMEOUT);
    if (out->reply_timeout_ms > SH_ONION_REPLY_TIMEOUT_MAX_MS)
        out->reply_timeout_ms = SH_ONION_REPLY_TIMEOUT_MAX_MS;
    memcpy(out->next_id, ri + SH__ONION_RI_NEXT_ID, SH_ONION_ID_BYTES);
    return SH_OK;
}

/* Checks size, version and key epoch; computes the hop secret and checks gamma. */
static int open_header(const sh_onion_keyring *kr, const uint8_t *packet, size_t len,
                       uint8_t secret[static SH__ONION_SECRET_BYTES], uint64_t *epoch)
{
    uint8_t dh[SH_ONION_PUBLIC_KEY_BYTES], mu[SH_ONION_KEY_BYTES], mac[SH_ONION_MAC_BYTES];
    const uint8_t *y;
    int rc = SH_OK;

    if (len < SH_ONION_HEADER_BYTES || !sh_onion_is_bucket(len - SH_ONION_HEADER_BYTES))
        return sh_err_set(SH_ERR_PROTOCOL, "an onion packet of %zu bytes is not a %d-byte header "
                                           "plus a bucket", len, SH_ONION_HEADER_BYTES);
    if (packet[SH__ONION_OFF_VERSION] != SH_ONION_VERSION)
        return sh_err_set(SH_ERR_UNSUPPORTED, "onion packet version %u is not supported (this "
                                              "build knows %d)", packet[0], SH_ONION_VERSION);
    *epoch = sh_load_u64be(packet + SH__ONION_OFF_EPOCH);
    y = sh__onion_keyring_find(kr, *epoch);
    if (y == NULL)
        return sh_err_set(SH_ERR_STALE, "onion packet for key epoch %llu, which this node does "
                                        "not accept now", (unsigned long long)*epoch);
    if (crypto_scalarmult_ristretto255(dh, y, packet + SH__ONION_OFF_ALPHA) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "onion packet's group element is invalid");
    sh__onion_hop_secret(secret, packet + SH__ONION_OFF_ALPHA, dh);
    sh__onion_derive(mu, sizeof mu, secret, SH_LABEL_ONION_HEADER_MAC);
    sh__onion_header_mac(mac, mu, packet);
    if (crypto_verify_16(mac, packet + SH__ONION_OFF_GAMMA) != 0)
        rc = sh_err_set(SH_ERR_CRYPTO, "onion header MAC does not match (damaged or forged)");
    sodium_memzero(dh, sizeof dh);
    sodium_memzero(mu, sizeof mu);
    return rc;
}

/* (beta || 0^t) XOR stream: the hop block, then the next beta. */
static void decrypt_beta(const uint8_t secret[static SH__ONION_SECRET_BYTES], const uint8_t *beta,
                         uint8_t out[static SH__ONION_STREAM_BYTES])
{
    static const uint8_t zero_nonce[crypto_stream_chacha20_NONCEBYTES];
    uint8_t rho[crypto_stream_chacha20_KEYBYTES];

    sh__onion_derive(rho, sizeof rho, secret, SH_LABEL_ONION_HEADER_STREAM);
    memcpy(out, beta, L_BYTES);
    memset(out + L_BYTES, 0, T_BYTES);
    crypto_stream_chacha20_xor(out, out, SH__ONION_STREAM_BYTES, zero_nonce, rho);
    sodium_memzero(rho, sizeof rho);
}

/* Writes the next hop's header: version, its epoch, alpha_{i+1} = b_i * alpha_i, gamma, beta. */
static int forward_header(const uint8_t secret[static SH__ONION_SECRET_BYTES],
                          const uint8_t stream[static SH__ONION_STREAM_BYTES], uint8_t *header)
{
    uint8_t blind[32], alpha[SH_ONION_PUBLIC_KEY_BYTES];
    int rc = SH_OK;

    sh__onion_blinding(blind, secret);
    if (crypto_scalarmult_ristretto255(alpha, blind, header + SH__ONION_OFF_ALPHA) != 0) {
        rc = sh_err_set(SH_ERR_CRYPTO, "onion blinding gave the identity element");
        goto done;
    }
    memcpy(header + SH__ONION_OFF_EPOCH, stream + SH__ONION_RI_EPOCH, 8);
    memcpy(header + SH__ONION_OFF_ALPHA, alpha, sizeof alpha);
    memcpy(header + SH__ONION_OFF_GAMMA, stream + SH_ONION_ROUTING_BYTES, SH_ONION_MAC_BYTES);
    memcpy(header + SH__ONION_OFF_BETA, stream + T_BYTES, L_BYTES);
done:
    sodium_memzero(blind, sizeof blind);
    return rc;
}

int sh_onion_peel(const sh_onion_keyring *kr, sh_onion_replay *rc_cache, uint8_t *packet,
                  size_t len, sh_onion_peeled *out)
{
    uint8_t secret[SH__ONION_SECRET_BYTES], stream[SH__ONION_STREAM_BYTES], layer[SH_ONION_KEY_BYTES];
    uint64_t epoch = 0;
    int rc;

    memset(out, 0, sizeof *out);
    rc = open_header(kr, packet, len, secret, &epoch);
    if (rc != SH_OK)
        goto done;
    sh__onion_derive(out->tag, SH_ONION_TAG_BYTES, secret, SH_LABEL_ONION_REPLAY_TAG);
    rc = sh_onion_replay_check_add(rc_cache, epoch, out->tag);
    if (rc != SH_OK)
        goto done;
    out->key_epoch = epoch;
    decrypt_beta(secret, packet + SH__ONION_OFF_BETA, stream);
    rc = parse_routing(stream, out);
    if (rc != SH_OK)
        goto done;
    if (out->command != SH_ONION_DELIVER) {
        rc = forward_header(secret, stream, packet);
        if (rc != SH_OK)
            goto done;
        sh__onion_derive(out->reply_key, SH_ONION_KEY_BYTES, secret, SH_LABEL_ONION_REPLY_LAYER);
    } else {
        sh__onion_derive(out->request_key, SH_ONION_KEY_BYTES, secret, SH_LABEL_ONION_E2E_REQUEST);
        sh__onion_derive(out->reply_key, SH_ONION_KEY_BYTES, secret, SH_LABEL_ONION_E2E_REPLY);
    }
    sh__onion_derive(layer, sizeof layer, secret, SH_LABEL_ONION_REQUEST_LAYER);
    sh__onion_lioness_decrypt(layer, packet + SH_ONION_HEADER_BYTES, len - SH_ONION_HEADER_BYTES);
done:
    if (rc != SH_OK)
        sh_onion_peeled_wipe(out);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(stream, sizeof stream);
    sodium_memzero(layer, sizeof layer);
    return rc;
}
