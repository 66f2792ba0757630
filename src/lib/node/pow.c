/* Proof of work of an anonymous store in namespace 0 (node/request.h, docs/node.md "Proof of
 * work"): BLAKE2b-256 over label ‖ owner ‖ message hash ‖ timestamp ‖ nonce, counted in leading
 * zero bits. Binding the owner, the hash and the timestamp means a proof cannot be reused for
 * another message or inbox, and cannot be made more than the freshness window in advance. */
#include <sodium.h>
#include <string.h>

#include "crypto/labels.h"
#include "node/request.h"
#include "util/buf.h"

static void pow_prefix(crypto_generichash_blake2b_state *st,
                       const uint8_t owner[static SH_STORE_OWNER_BYTES],
                       const uint8_t msg_hash[static SH_STORE_HASH_BYTES], int64_t timestamp_ms)
{
    uint8_t ts[8];

    sh_store_u64be(ts, (uint64_t)timestamp_ms);
    crypto_generichash_blake2b_init(st, NULL, 0, 32);
    crypto_generichash_blake2b_update(st, (const uint8_t *)SH_LABEL_STORAGE_POW,
                                      sizeof SH_LABEL_STORAGE_POW - 1);
    crypto_generichash_blake2b_update(st, owner, SH_STORE_OWNER_BYTES);
    crypto_generichash_blake2b_update(st, msg_hash, SH_STORE_HASH_BYTES);
    crypto_generichash_blake2b_update(st, ts, sizeof ts);
}

static void pow_finish(const crypto_generichash_blake2b_state *prefix, uint64_t nonce,
                       uint8_t out[static 32])
{
    crypto_generichash_blake2b_state st = *prefix;
    uint8_t n[8];

    sh_store_u64be(n, nonce);
    crypto_generichash_blake2b_update(&st, n, sizeof n);
    crypto_generichash_blake2b_final(&st, out, 32);
}

void sh_node_pow_hash(uint8_t out[static 32], const uint8_t owner[static SH_STORE_OWNER_BYTES],
                      const uint8_t msg_hash[static SH_STORE_HASH_BYTES], int64_t timestamp_ms,
                      uint64_t nonce)
{
    crypto_generichash_blake2b_state st;

    pow_prefix(&st, owner, msg_hash, timestamp_ms);
    pow_finish(&st, nonce, out);
}

unsigned sh_node_pow_bits(const uint8_t hash[static 32])
{
    unsigned bits = 0;

    for (int i = 0; i < 32; i++) {
        if (hash[i] == 0) {
            bits += 8;
            continue;
        }
        for (uint8_t b = hash[i]; (b & 0x80) == 0; b <<= 1)
            bits++;
        break;
    }
    return bits;
}

uint64_t sh_node_pow_solve(const uint8_t owner[static SH_STORE_OWNER_BYTES],
                           const uint8_t msg_hash[static SH_STORE_HASH_BYTES],
                           int64_t timestamp_ms, unsigned bits)
{
    crypto_generichash_blake2b_state st;
    uint8_t h[32];
    uint64_t nonce = 0;

    if (bits == 0)
        return 0;
    pow_prefix(&st, owner, msg_hash, timestamp_ms);
    for (;; nonce++) {
        pow_finish(&st, nonce, h);
        if (sh_node_pow_bits(h) >= bits)
            return nonce;
    }
}
