/* The sponge construction of FIPS 202 section 4 over Keccak-f[1600] (keccak.c), with the pad10*1
 * rule and the domain suffixes of section 6: SHA3-d appends 01 and SHAKE appends 1111 before the
 * padding, so the first padding byte is 0x06 or 0x1f and the last byte of the block gets 0x80.
 * Bytes map to lanes little-endian (appendix B.1). */
#include "crypto/sha3.h"

#include <sodium.h>
#include <string.h>

static void keccak_init(sh_keccak *st, unsigned rate, uint8_t suffix)
{
    memset(st->lanes, 0, sizeof st->lanes);
    st->rate = rate;
    st->pos = 0;
    st->suffix = suffix;
    st->squeezing = false;
}

void sh_sha3_256_init(sh_keccak *st) { keccak_init(st, SH_SHA3_256_RATE, 0x06); }
void sh_sha3_512_init(sh_keccak *st) { keccak_init(st, SH_SHA3_512_RATE, 0x06); }
void sh_shake128_init(sh_keccak *st) { keccak_init(st, SH_SHAKE128_RATE, 0x1f); }
void sh_shake256_init(sh_keccak *st) { keccak_init(st, SH_SHAKE256_RATE, 0x1f); }

static inline uint64_t load64_le(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline void store64_le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void xor_byte(sh_keccak *st, unsigned pos, uint8_t b)
{
    st->lanes[pos / 8] ^= (uint64_t)b << (8 * (pos % 8));
}

void sh_keccak_absorb(sh_keccak *st, const uint8_t *in, size_t len)
{
    if (st->squeezing)
        return;
    while (len > 0 && st->pos % 8 != 0) {
        xor_byte(st, st->pos++, *in++);
        len--;
        if (st->pos == st->rate) {
            sh__keccak_f1600(st->lanes);
            st->pos = 0;
        }
    }
    while (len >= 8) {
        st->lanes[st->pos / 8] ^= load64_le(in);
        st->pos += 8;
        in += 8;
        len -= 8;
        if (st->pos == st->rate) {
            sh__keccak_f1600(st->lanes);
            st->pos = 0;
        }
    }
    while (len > 0) {
        xor_byte(st, st->pos++, *in++);
        len--;
    }
}

static void keccak_pad(sh_keccak *st)
{
    xor_byte(st, st->pos, st->suffix);
    xor_byte(st, st->rate - 1, 0x80);
    sh__keccak_f1600(st->lanes);
    st->pos = 0;
    st->squeezing = true;
}

void sh_keccak_squeeze(sh_keccak *st, uint8_t *out, size_t len)
{
    if (!st->squeezing)
        keccak_pad(st);
    while (len > 0) {
        if (st->pos == st->rate) {
            sh__keccak_f1600(st->lanes);
            st->pos = 0;
        }
        if (st->pos % 8 == 0 && len >= 8) {
            store64_le(out, st->lanes[st->pos / 8]);
            st->pos += 8;
            out += 8;
            len -= 8;
        } else {
            *out++ = (uint8_t)(st->lanes[st->pos / 8] >> (8 * (st->pos % 8)));
            st->pos++;
            len--;
        }
    }
}

void sh__keccak_squeeze_blocks(sh_keccak *st, uint8_t *out, size_t blocks)
{
    if (!st->squeezing)
        keccak_pad(st);
    for (size_t b = 0; b < blocks; b++) {
        if (st->pos == st->rate)
            sh__keccak_f1600(st->lanes);
        for (unsigned i = 0; i < st->rate / 8; i++)
            store64_le(out + 8 * i, st->lanes[i]);
        st->pos = st->rate;
        out += st->rate;
    }
}

void sh_sha3_256_final(sh_keccak *st, uint8_t out[static SH_SHA3_256_BYTES])
{
    sh_keccak_squeeze(st, out, SH_SHA3_256_BYTES);
}

void sh_sha3_512_final(sh_keccak *st, uint8_t out[static SH_SHA3_512_BYTES])
{
    sh_keccak_squeeze(st, out, SH_SHA3_512_BYTES);
}

void sh_keccak_wipe(sh_keccak *st)
{
    sodium_memzero(st, sizeof *st);
}

void sh_sha3_256(uint8_t out[static SH_SHA3_256_BYTES], const uint8_t *in, size_t len)
{
    sh_keccak st;

    sh_sha3_256_init(&st);
    sh_keccak_absorb(&st, in, len);
    sh_sha3_256_final(&st, out);
    sh_keccak_wipe(&st);
}

void sh_sha3_512(uint8_t out[static SH_SHA3_512_BYTES], const uint8_t *in, size_t len)
{
    sh_keccak st;

    sh_sha3_512_init(&st);
    sh_keccak_absorb(&st, in, len);
    sh_sha3_512_final(&st, out);
    sh_keccak_wipe(&st);
}

void sh_shake128(uint8_t *out, size_t out_len, const uint8_t *in, size_t len)
{
    sh_keccak st;

    sh_shake128_init(&st);
    sh_keccak_absorb(&st, in, len);
    sh_keccak_squeeze(&st, out, out_len);
    sh_keccak_wipe(&st);
}

void sh_shake256(uint8_t *out, size_t out_len, const uint8_t *in, size_t len)
{
    sh_keccak st;

    sh_shake256_init(&st);
    sh_keccak_absorb(&st, in, len);
    sh_keccak_squeeze(&st, out, out_len);
    sh_keccak_wipe(&st);
}
