/* A systematic Reed-Solomon erasure code over GF(2^8) (docs/protocol-v2.md, "Chunks"): the data
 * is k chunks of 64 bytes; byte j of chunk i is p_j(i), where p_j is the polynomial of degree < k
 * through (x, data chunk x, byte j) for x = 0..k-1. Chunks 0..k-1 are the data itself, and any k
 * chunks with distinct indices give it back (Lagrange interpolation), so a lost message only
 * delays a post-quantum key by one more message. The field is GF(2)[x]/(x^8+x^4+x^3+x^2+1); the
 * data coded here (KEM public keys and ciphertexts) is not secret, so table look-ups are fine. */
#include "e2e/internal.h"

#include <pthread.h>
#include <string.h>

#include "util/err.h"

static uint8_t gf_exp[512];
static uint8_t gf_log[256];
static pthread_once_t gf_once = PTHREAD_ONCE_INIT;

static void gf_init(void)
{
    unsigned x = 1;

    for (int i = 0; i < 255; i++) {
        gf_exp[i] = (uint8_t)x;
        gf_log[x] = (uint8_t)i;
        x <<= 1;
        if (x & 0x100)
            x ^= 0x11d;
    }
    for (int i = 255; i < 512; i++)
        gf_exp[i] = gf_exp[i - 255];
}

static uint8_t gf_mul(uint8_t a, uint8_t b)
{
    if (a == 0 || b == 0)
        return 0;
    return gf_exp[gf_log[a] + gf_log[b]];
}

static uint8_t gf_div(uint8_t a, uint8_t b)
{
    if (a == 0)
        return 0;
    return gf_exp[gf_log[a] + 255 - gf_log[b]];
}

/* Lagrange basis values at x for the points xs[0..k-1] (distinct). */
static void lagrange_at(uint8_t *coef, const uint8_t *xs, size_t k, uint8_t x)
{
    for (size_t m = 0; m < k; m++) {
        uint8_t num = 1, den = 1;
        for (size_t l = 0; l < k; l++) {
            if (l == m)
                continue;
            num = gf_mul(num, (uint8_t)(x ^ xs[l]));
            den = gf_mul(den, (uint8_t)(xs[m] ^ xs[l]));
        }
        coef[m] = gf_div(num, den);
    }
}

static void data_chunk(const uint8_t *data, size_t len, size_t i, uint8_t out[SH_E2E_CHUNK_BYTES])
{
    size_t off = i * SH_E2E_CHUNK_BYTES, n = len - off;

    if (n > SH_E2E_CHUNK_BYTES)
        n = SH_E2E_CHUNK_BYTES;
    memset(out, 0, SH_E2E_CHUNK_BYTES);
    memcpy(out, data + off, n);
}

void sh__e2e_rs_chunk(const uint8_t *data, size_t len, uint8_t index,
                      uint8_t out[static SH_E2E_CHUNK_BYTES])
{
    size_t k = SH_E2E_CHUNKS_OF(len);
    uint8_t xs[256] = {0}, coef[256], c[SH_E2E_CHUNK_BYTES];

    pthread_once(&gf_once, gf_init);
    if (index < k) {
        data_chunk(data, len, index, out);
        return;
    }
    for (size_t m = 0; m < k; m++)
        xs[m] = (uint8_t)m;
    lagrange_at(coef, xs, k, index);
    memset(out, 0, SH_E2E_CHUNK_BYTES);
    for (size_t m = 0; m < k; m++) {
        data_chunk(data, len, m, c);
        for (size_t j = 0; j < SH_E2E_CHUNK_BYTES; j++)
            out[j] ^= gf_mul(coef[m], c[j]);
    }
}

int sh__e2e_rs_decode(uint8_t *out, size_t len, const uint8_t *indices,
                      const uint8_t (*chunks)[SH_E2E_CHUNK_BYTES])
{
    size_t k = SH_E2E_CHUNKS_OF(len);
    uint8_t coef[256], c[SH_E2E_CHUNK_BYTES];

    if (k == 0 || k > 255)
        return sh_err_set(SH_ERR_INVALID, "cannot erasure-code %zu bytes", len);
    for (size_t a = 0; a < k; a++)
        for (size_t b = 0; b < a; b++)
            if (indices[a] == indices[b])
                return sh_err_set(SH_ERR_INVALID, "chunk index %u given twice", indices[a]);
    pthread_once(&gf_once, gf_init);
    for (size_t x = 0; x < k; x++) {
        size_t off = x * SH_E2E_CHUNK_BYTES, n = len - off;
        lagrange_at(coef, indices, k, (uint8_t)x);
        memset(c, 0, sizeof c);
        for (size_t m = 0; m < k; m++)
            for (size_t j = 0; j < SH_E2E_CHUNK_BYTES; j++)
                c[j] ^= gf_mul(coef[m], chunks[m][j]);
        memcpy(out + off, c, n > SH_E2E_CHUNK_BYTES ? SH_E2E_CHUNK_BYTES : n);
    }
    return SH_OK;
}
