/* Internals of module onion shared by its files (and by its tests): the header layout, the
 * per-hop key schedule and the wide-block cipher. Not for other modules: they use onion.h. */
#ifndef SH_ONION_INTERNAL_H
#define SH_ONION_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "onion/onion.h"

/* Header layout (docs/onion.md "Packet format"). */
#define SH__ONION_OFF_VERSION 0
#define SH__ONION_OFF_EPOCH 1
#define SH__ONION_OFF_ALPHA 9
#define SH__ONION_OFF_GAMMA (SH__ONION_OFF_ALPHA + SH_ONION_PUBLIC_KEY_BYTES)
#define SH__ONION_OFF_BETA (SH__ONION_OFF_GAMMA + SH_ONION_MAC_BYTES)
_Static_assert(SH__ONION_OFF_BETA + SH_ONION_BETA_BYTES == SH_ONION_HEADER_BYTES,
               "header fields fill the header");

/* Routing information layout, inside one decrypted hop block. */
#define SH__ONION_RI_COMMAND 0
#define SH__ONION_RI_FLAGS 1
#define SH__ONION_RI_RESERVED 2 /* 2 bytes, zero */
#define SH__ONION_RI_TIMEOUT 4  /* u32 big-endian, milliseconds */
#define SH__ONION_RI_EPOCH 8    /* u64 big-endian: the next hop's key epoch */
#define SH__ONION_RI_NEXT_ID 16
_Static_assert(SH__ONION_RI_NEXT_ID + SH_ONION_ID_BYTES == SH_ONION_ROUTING_BYTES,
               "routing fields fill the routing information");
/* The header stream covers beta plus one hop block shifted in. */
#define SH__ONION_STREAM_BYTES (SH_ONION_BETA_BYTES + SH_ONION_HOP_BYTES)

#define SH__ONION_SECRET_BYTES 32 /* a hop secret: BLAKE2b-256 of the DH output */

/* hop_secret = BLAKE2b-256(LABEL_HOP_SECRET || alpha || dh). */
void sh__onion_hop_secret(uint8_t out[static SH__ONION_SECRET_BYTES],
                          const uint8_t alpha[static SH_ONION_PUBLIC_KEY_BYTES],
                          const uint8_t dh[static SH_ONION_PUBLIC_KEY_BYTES]);
/* out = BLAKE2b-(out_len)(key = hop_secret, label); out_len 16..64. */
void sh__onion_derive(uint8_t *out, size_t out_len,
                      const uint8_t hop_secret[static SH__ONION_SECRET_BYTES], const char *label);
/* The blinding scalar: BLAKE2b-512(key = hop_secret, LABEL_BLIND) reduced mod the group order. */
void sh__onion_blinding(uint8_t scalar[static 32],
                        const uint8_t hop_secret[static SH__ONION_SECRET_BYTES]);
/* gamma = BLAKE2b-128(key = mac_key, header minus gamma) over a full header. */
void sh__onion_header_mac(uint8_t mac[static SH_ONION_MAC_BYTES],
                          const uint8_t mac_key[static SH_ONION_KEY_BYTES],
                          const uint8_t header[static SH_ONION_HEADER_BYTES]);

/* LIONESS-style wide-block cipher on blocks longer than 32 bytes: four rounds of ChaCha20 and
 * keyed BLAKE2b under round keys derived from one 32-byte layer key. */
#define SH__ONION_LIONESS_MIN_BYTES 64
void sh__onion_lioness_encrypt(const uint8_t key[static SH_ONION_KEY_BYTES], uint8_t *block,
                               size_t len);
void sh__onion_lioness_decrypt(const uint8_t key[static SH_ONION_KEY_BYTES], uint8_t *block,
                               size_t len);

/* The client's state for one request (in guarded memory): each relay's reply layer key, in path
 * order, and the destination's end-to-end reply key. */
struct sh_onion_client {
    size_t n_layers;
    uint8_t layer_keys[SH_ONION_MAX_HOPS - 1][SH_ONION_KEY_BYTES];
    uint8_t e2e_key[SH_ONION_KEY_BYTES];
};

/* Builds with all randomness drawn from `seed` (known-answer tests, fuzz seeds). */
int sh__onion_build_seeded(const sh_onion_hop *hops, size_t n_hops, const uint8_t *msg,
                           size_t msg_len, size_t bucket, const uint8_t seed[static 32],
                           sh_buf *packet, sh_onion_client **state);

/* End-to-end AEAD of a bucket-sized block: seal writes len(4) || msg || zeros and its tag. */
int sh__onion_e2e_seal(const uint8_t key[static SH_ONION_KEY_BYTES], const uint8_t *msg,
                       size_t msg_len, uint8_t *block, size_t bucket);
int sh__onion_e2e_open(const uint8_t key[static SH_ONION_KEY_BYTES], uint8_t *block,
                       size_t bucket, const uint8_t **msg, size_t *msg_len)
    __attribute__((warn_unused_result));

/* Sets a keyring slot from a known secret scalar (tests, loading). */
int sh__onion_keyring_set(sh_onion_keyring *kr, sh_onion_slot slot, uint64_t epoch,
                          const uint8_t secret[static SH_ONION_SECRET_KEY_BYTES]);
/* The secret scalar for a packet's key epoch, or NULL when that epoch is not accepted. */
const uint8_t *sh__onion_keyring_find(const sh_onion_keyring *kr, uint64_t epoch);

#endif
