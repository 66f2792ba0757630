/* The per-hop key schedule of onion packets (docs/onion.md "Key derivation"): the hop secret
 * hashes the ristretto255 DH output together with the group element, and every key of the hop is
 * keyed BLAKE2b of that secret over its own label from crypto/labels.h. */
#include "onion/internal.h"

#include <sodium.h>
#include <string.h>

#include "crypto/labels.h"

void sh__onion_hop_secret(uint8_t out[static SH__ONION_SECRET_BYTES],
                          const uint8_t alpha[static SH_ONION_PUBLIC_KEY_BYTES],
                          const uint8_t dh[static SH_ONION_PUBLIC_KEY_BYTES])
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, SH__ONION_SECRET_BYTES);
    crypto_generichash_update(&st, (const uint8_t *)SH_LABEL_ONION_HOP_SECRET,
                              strlen(SH_LABEL_ONION_HOP_SECRET));
    crypto_generichash_update(&st, alpha, SH_ONION_PUBLIC_KEY_BYTES);
    crypto_generichash_update(&st, dh, SH_ONION_PUBLIC_KEY_BYTES);
    crypto_generichash_final(&st, out, SH__ONION_SECRET_BYTES);
    sodium_memzero(&st, sizeof st);
}

void sh__onion_derive(uint8_t *out, size_t out_len,
                      const uint8_t hop_secret[static SH__ONION_SECRET_BYTES], const char *label)
{
    crypto_generichash(out, out_len, (const uint8_t *)label, strlen(label), hop_secret,
                       SH__ONION_SECRET_BYTES);
}

void sh__onion_blinding(uint8_t scalar[static 32],
                        const uint8_t hop_secret[static SH__ONION_SECRET_BYTES])
{
    uint8_t wide[crypto_core_ristretto255_NONREDUCEDSCALARBYTES];

    sh__onion_derive(wide, sizeof wide, hop_secret, SH_LABEL_ONION_BLIND);
    crypto_core_ristretto255_scalar_reduce(scalar, wide);
    sodium_memzero(wide, sizeof wide);
}

void sh__onion_header_mac(uint8_t mac[static SH_ONION_MAC_BYTES],
                          const uint8_t mac_key[static SH_ONION_KEY_BYTES],
                          const uint8_t header[static SH_ONION_HEADER_BYTES])
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, mac_key, SH_ONION_KEY_BYTES, SH_ONION_MAC_BYTES);
    crypto_generichash_update(&st, header, SH__ONION_OFF_GAMMA);
    crypto_generichash_update(&st, header + SH__ONION_OFF_BETA, SH_ONION_BETA_BYTES);
    crypto_generichash_final(&st, mac, SH_ONION_MAC_BYTES);
    sodium_memzero(&st, sizeof st);
}
