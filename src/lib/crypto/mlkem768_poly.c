/* ML-KEM-768 (FIPS 203) polynomial layer: arithmetic modulo q = 3329 (section 2.3), the NTT and
 * its inverse (section 4.3, algorithms 9 and 10), multiplication in T_q (algorithms 11 and 12),
 * ByteEncode/ByteDecode and Compress/Decompress (section 4.2.1, algorithms 5 and 6), and the two
 * samplers (section 4.2.2, algorithms 7 and 8).
 *
 * Reductions are Barrett (to a centred representative) and Montgomery (a*b/2^16 mod q, so the
 * twiddle factors are stored times 2^16); divisions by q in Compress are a multiplication and a
 * shift. No branch or memory index depends on a coefficient, except in SampleNTT, whose input
 * (the matrix seed rho) is public. */
#include "crypto/mlkem768_internal.h"

#include <sodium.h>
#include <string.h>

#include "crypto/sha3.h"

#define Q SH_MLKEM_Q
#define QINV 62209u          /* q^-1 mod 2^16 */
#define BARRETT_V 20159      /* round(2^26 / q) */
#define MONT_R2 1353         /* 2^32 mod q: multiplies into the Montgomery domain */
#define INVNTT_F 1441        /* 2^32 / 128 mod q: 128^-1 of NTT^-1 and one factor 2^16 */
#define DIVQ_M UINT64_C(2580335) /* ceil(2^33 / q): floor(x / q) = (x * M) >> 33 for x < 2^22 */
#define DIVQ_S 33

/* zeta^BitRev7(i) * 2^16 mod q for zeta = 17, centred (the zetas of algorithms 9 and 10). */
static const int16_t zetas[128] = {
    -1044, -758,  -359,  -1517, 1493,  1422,  287,   202,   -171,  622,   1577,  182,   962,
    -1202, -1474, 1468,  573,   -1325, 264,   383,   -829,  1458,  -1602, -130,  -681,  1017,
    732,   608,   -1542, 411,   -205,  -1571, 1223,  652,   -552,  1015,  -1293, 1491,  -282,
    -1544, 516,   -8,    -320,  -666,  -1618, -1162, 126,   1469,  -853,  -90,   -271,  830,
    107,   -1421, -247,  -951,  -398,  961,   -1508, -725,  448,   -1065, 677,   -1275, -1103,
    430,   555,   843,   -1251, 871,   1550,  105,   422,   587,   177,   -235,  -291,  -460,
    1574,  1653,  -246,  778,   1159,  -147,  -777,  1483,  -602,  1119,  -1590, 644,   -872,
    349,   418,   329,   -156,  -75,   817,   1097,  603,   610,   1322,  -1285, -1465, 384,
    -1215, -136,  1218,  -1335, -874,  220,   -1187, -1659, -1185, -1530, -1278, 794,   -1510,
    -854,  -870,  478,   -108,  -308,  996,   991,   958,   -1460, 1522,  1628,
};

/* gamma_i = zeta^(2 BitRev7(i) + 1) * 2^16 mod q, centred (algorithm 11, line 2). */
static const int16_t gammas[128] = {
    -1103, 1103,  430,   -430,  555,   -555,  843,   -843,  -1251, 1251,  871,   -871,  1550,
    -1550, 105,   -105,  422,   -422,  587,   -587,  177,   -177,  -235,  235,   -291,  291,
    -460,  460,   1574,  -1574, 1653,  -1653, -246,  246,   778,   -778,  1159,  -1159, -147,
    147,   -777,  777,   1483,  -1483, -602,  602,   1119,  -1119, -1590, 1590,  644,   -644,
    -872,  872,   349,   -349,  418,   -418,  329,   -329,  -156,  156,   -75,   75,    817,
    -817,  1097,  -1097, 603,   -603,  610,   -610,  1322,  -1322, -1285, 1285,  -1465, 1465,
    384,   -384,  -1215, 1215,  -136,  136,   1218,  -1218, -1335, 1335,  -874,  874,   220,
    -220,  -1187, 1187,  -1659, 1659,  -1185, 1185,  -1530, 1530,  -1278, 1278,  794,   -794,
    -1510, 1510,  -854,  854,   -870,  870,   478,   -478,  -108,  108,   -308,  308,   996,
    -996,  991,   -991,  958,   -958,  -1460, 1460,  1522,  -1522, 1628,  -1628,
};

static inline int16_t barrett(int16_t a)
{
    int16_t t = (int16_t)((BARRETT_V * (int32_t)a + (1 << 25)) >> 26);

    return (int16_t)(a - t * Q);
}

/* a / 2^16 mod q for |a| < q * 2^15; result in (-q, q). */
static inline int16_t montgomery_reduce(int32_t a)
{
    int16_t t = (int16_t)(uint16_t)((uint32_t)a * QINV);

    return (int16_t)((a - (int32_t)t * Q) >> 16);
}

static inline int16_t fqmul(int16_t a, int16_t b)
{
    return montgomery_reduce((int32_t)a * b);
}

/* [0, q) from (-q, q]-ish Barrett output: add q to a negative value, without a branch. */
static inline int16_t freeze(int16_t a)
{
    a = barrett(a);
    return (int16_t)(a + ((a >> 15) & Q));
}

int16_t sh__mlkem_barrett(int16_t a) { return barrett(a); }
int16_t sh__mlkem_fqmul(int16_t a, int16_t b) { return fqmul(a, b); }
int16_t sh__mlkem_freeze(int16_t a) { return freeze(a); }

void sh__mlkem_poly_reduce(sh_mlkem_poly *p)
{
    for (int i = 0; i < SH_MLKEM_N; i++)
        p->c[i] = barrett(p->c[i]);
}

void sh__mlkem_poly_tomont(sh_mlkem_poly *p)
{
    for (int i = 0; i < SH_MLKEM_N; i++)
        p->c[i] = fqmul(p->c[i], MONT_R2);
}

void sh__mlkem_poly_add(sh_mlkem_poly *r, const sh_mlkem_poly *a)
{
    for (int i = 0; i < SH_MLKEM_N; i++)
        r->c[i] = (int16_t)(r->c[i] + a->c[i]);
}

void sh__mlkem_poly_sub(sh_mlkem_poly *r, const sh_mlkem_poly *a)
{
    for (int i = 0; i < SH_MLKEM_N; i++)
        r->c[i] = (int16_t)(r->c[i] - a->c[i]);
}

/* Each layer adds at most q to a coefficient, so from |c| < q the seven layers stay below 8q. */
void sh__mlkem_ntt(sh_mlkem_poly *p)
{
    unsigned k = 1;

    for (unsigned len = 128; len >= 2; len >>= 1) {
        for (unsigned start = 0; start < SH_MLKEM_N; start += 2 * len) {
            int16_t zeta = zetas[k++];

            for (unsigned j = start; j < start + len; j++) {
                int16_t t = fqmul(zeta, p->c[j + len]);

                p->c[j + len] = (int16_t)(p->c[j] - t);
                p->c[j] = (int16_t)(p->c[j] + t);
            }
        }
    }
    sh__mlkem_poly_reduce(p);
}

void sh__mlkem_invntt(sh_mlkem_poly *p)
{
    unsigned k = 127;

    for (unsigned len = 2; len <= 128; len <<= 1) {
        for (unsigned start = 0; start < SH_MLKEM_N; start += 2 * len) {
            int16_t zeta = zetas[k--];

            for (unsigned j = start; j < start + len; j++) {
                int16_t t = p->c[j];

                p->c[j] = barrett((int16_t)(t + p->c[j + len]));
                p->c[j + len] = fqmul(zeta, (int16_t)(p->c[j + len] - t));
            }
        }
    }
    for (int i = 0; i < SH_MLKEM_N; i++)
        p->c[i] = fqmul(p->c[i], INVNTT_F);
}

/* (a0 + a1 X)(b0 + b1 X) mod (X^2 - gamma), summed over the K entries in 32 bits and reduced
 * once: each term is below q^2 + q^2/2, so three of them stay below q * 2^15. */
void sh__mlkem_polyvec_basemul_acc(sh_mlkem_poly *r, const sh_mlkem_polyvec *a,
                                   const sh_mlkem_polyvec *b)
{
    for (int i = 0; i < SH_MLKEM_N / 2; i++) {
        int32_t c0 = 0, c1 = 0;

        for (int k = 0; k < SH_MLKEM_K; k++) {
            const int16_t *x = &a->p[k].c[2 * i], *y = &b->p[k].c[2 * i];

            c0 += (int32_t)x[0] * y[0] + (int32_t)fqmul(x[1], y[1]) * gammas[i];
            c1 += (int32_t)x[0] * y[1] + (int32_t)x[1] * y[0];
        }
        r->c[2 * i] = montgomery_reduce(c0);
        r->c[2 * i + 1] = montgomery_reduce(c1);
    }
}

void sh__mlkem_poly_encode12(uint8_t out[static SH_MLKEM_POLY_BYTES], const sh_mlkem_poly *p)
{
    for (int i = 0; i < SH_MLKEM_N / 2; i++) {
        uint16_t t0 = (uint16_t)freeze(p->c[2 * i]), t1 = (uint16_t)freeze(p->c[2 * i + 1]);

        out[3 * i] = (uint8_t)t0;
        out[3 * i + 1] = (uint8_t)((t0 >> 8) | (t1 << 4));
        out[3 * i + 2] = (uint8_t)(t1 >> 4);
    }
}

/* Subtracts q from a value in [0, 4096) when it is at least q, without a branch. */
static inline int16_t reduce_12bit(uint16_t t)
{
    int16_t x = (int16_t)(t - Q);

    return (int16_t)(x + ((x >> 15) & Q));
}

void sh__mlkem_poly_decode12(sh_mlkem_poly *p, const uint8_t in[static SH_MLKEM_POLY_BYTES])
{
    for (int i = 0; i < SH_MLKEM_N / 2; i++) {
        uint16_t t0 = (uint16_t)(in[3 * i] | ((in[3 * i + 1] & 0x0f) << 8));
        uint16_t t1 = (uint16_t)((in[3 * i + 1] >> 4) | (in[3 * i + 2] << 4));

        p->c[2 * i] = reduce_12bit(t0);
        p->c[2 * i + 1] = reduce_12bit(t1);
    }
}

int sh__mlkem_poly_is_reduced(const uint8_t in[static SH_MLKEM_POLY_BYTES])
{
    uint32_t bad = 0;

    for (int i = 0; i < SH_MLKEM_N / 2; i++) {
        int32_t t0 = in[3 * i] | ((in[3 * i + 1] & 0x0f) << 8);
        int32_t t1 = (in[3 * i + 1] >> 4) | (in[3 * i + 2] << 4);

        bad |= (uint32_t)(Q - 1 - t0) | (uint32_t)(Q - 1 - t1);
    }
    return (int)(1 - (bad >> 31));
}

/* round(2^d / q * x) mod 2^d for x mod q; floor((2^d x + (q-1)/2) / q) equals the rounding
 * because q is odd, and the quotient is a multiplication and a shift (exact below 2^22). */
uint16_t sh__mlkem_compress(int16_t x, unsigned d)
{
    uint32_t n = ((uint32_t)freeze(x) << d) + (Q - 1) / 2;

    return (uint16_t)(((n * DIVQ_M) >> DIVQ_S) & ((1u << d) - 1));
}

/* round(q / 2^d * y). */
int16_t sh__mlkem_decompress(uint16_t y, unsigned d)
{
    return (int16_t)(((uint32_t)y * Q + (1u << (d - 1))) >> d);
}

void sh__mlkem_poly_compress10(uint8_t out[static 320], const sh_mlkem_poly *p)
{
    for (int i = 0; i < SH_MLKEM_N / 4; i++) {
        uint16_t t[4];

        for (int k = 0; k < 4; k++)
            t[k] = sh__mlkem_compress(p->c[4 * i + k], 10);
        out[5 * i] = (uint8_t)t[0];
        out[5 * i + 1] = (uint8_t)((t[0] >> 8) | (t[1] << 2));
        out[5 * i + 2] = (uint8_t)((t[1] >> 6) | (t[2] << 4));
        out[5 * i + 3] = (uint8_t)((t[2] >> 4) | (t[3] << 6));
        out[5 * i + 4] = (uint8_t)(t[3] >> 2);
    }
}

void sh__mlkem_poly_decompress10(sh_mlkem_poly *p, const uint8_t in[static 320])
{
    for (int i = 0; i < SH_MLKEM_N / 4; i++) {
        const uint8_t *b = in + 5 * i;
        uint16_t t[4] = {
            (uint16_t)(b[0] | ((b[1] & 0x03) << 8)),
            (uint16_t)((b[1] >> 2) | ((b[2] & 0x0f) << 6)),
            (uint16_t)((b[2] >> 4) | ((b[3] & 0x3f) << 4)),
            (uint16_t)((b[3] >> 6) | (b[4] << 2)),
        };

        for (int k = 0; k < 4; k++)
            p->c[4 * i + k] = sh__mlkem_decompress(t[k], 10);
    }
}

void sh__mlkem_poly_compress4(uint8_t out[static 128], const sh_mlkem_poly *p)
{
    for (int i = 0; i < SH_MLKEM_N / 2; i++)
        out[i] = (uint8_t)(sh__mlkem_compress(p->c[2 * i], 4) |
                           (sh__mlkem_compress(p->c[2 * i + 1], 4) << 4));
}

void sh__mlkem_poly_decompress4(sh_mlkem_poly *p, const uint8_t in[static 128])
{
    for (int i = 0; i < SH_MLKEM_N / 2; i++) {
        p->c[2 * i] = sh__mlkem_decompress(in[i] & 0x0f, 4);
        p->c[2 * i + 1] = sh__mlkem_decompress(in[i] >> 4, 4);
    }
}

void sh__mlkem_poly_from_msg(sh_mlkem_poly *p, const uint8_t msg[static 32])
{
    for (int i = 0; i < SH_MLKEM_N; i++) {
        int16_t bit = (int16_t)((msg[i / 8] >> (i % 8)) & 1);

        p->c[i] = (int16_t)(-bit & ((Q + 1) / 2));
    }
}

void sh__mlkem_poly_to_msg(uint8_t msg[static 32], const sh_mlkem_poly *p)
{
    memset(msg, 0, 32);
    for (int i = 0; i < SH_MLKEM_N; i++)
        msg[i / 8] |= (uint8_t)(sh__mlkem_compress(p->c[i], 1) << (i % 8));
}

/* Three SHAKE128 blocks give 168 candidates, enough for 256 coefficients almost always; more
 * blocks follow one at a time. 168 is a multiple of 3, so candidates never straddle blocks. Every
 * candidate is stored and the count advances only for an accepted one, which spares the branch
 * predictor; `out` has room for the two candidates past the last coefficient. */
void sh__mlkem_sample_ntt(sh_mlkem_poly *p, const uint8_t rho[static 32], uint8_t j, uint8_t i)
{
    uint8_t seed[34], buf[3 * SH_SHAKE128_RATE];
    int16_t out[SH_MLKEM_N + 2];
    size_t len = sizeof buf, pos = 0;
    unsigned n = 0;
    sh_keccak st;

    memcpy(seed, rho, 32);
    seed[32] = j;
    seed[33] = i;
    sh_shake128_init(&st);
    sh_keccak_absorb(&st, seed, sizeof seed);
    sh__keccak_squeeze_blocks(&st, buf, 3);
    while (n < SH_MLKEM_N) {
        if (pos == len) {
            sh__keccak_squeeze_blocks(&st, buf, 1);
            len = SH_SHAKE128_RATE;
            pos = 0;
        }
        uint16_t d1 = (uint16_t)(buf[pos] | ((buf[pos + 1] & 0x0f) << 8));
        uint16_t d2 = (uint16_t)((buf[pos + 1] >> 4) | (buf[pos + 2] << 4));

        pos += 3;
        out[n] = (int16_t)d1;
        n += d1 < Q;
        out[n] = (int16_t)d2;
        n += d2 < Q;
    }
    memcpy(p->c, out, sizeof p->c);
}

static inline uint32_t load32_le(const uint8_t *b)
{
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
           ((uint32_t)b[3] << 24);
}

/* Coefficient i is (b[4i] + b[4i+1]) - (b[4i+2] + b[4i+3]) over the bits of the PRF output;
 * adding the odd bits to the even bits of a 32-bit word gives all eight pair sums at once. */
void sh__mlkem_sample_cbd(sh_mlkem_poly *p, const uint8_t sigma[static 32], uint8_t n)
{
    uint8_t in[33], buf[SH_MLKEM_CBD_BYTES];

    memcpy(in, sigma, 32);
    in[32] = n;
    sh_shake256(buf, sizeof buf, in, sizeof in);
    for (int w = 0; w < SH_MLKEM_N / 8; w++) {
        uint32_t bits = load32_le(buf + 4 * w);
        uint32_t sums = (bits & 0x55555555u) + ((bits >> 1) & 0x55555555u);

        for (int k = 0; k < 8; k++) {
            int16_t x = (int16_t)((sums >> (4 * k)) & 3), y = (int16_t)((sums >> (4 * k + 2)) & 3);

            p->c[8 * w + k] = (int16_t)(x - y);
        }
    }
    sodium_memzero(in, sizeof in);
    sodium_memzero(buf, sizeof buf);
}
