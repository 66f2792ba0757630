/* The building blocks of ML-KEM-768 against FIPS 203's definitions written the plain way in this
 * test: the reductions over every int16 value, Compress/Decompress over every input, NTT-based
 * multiplication against schoolbook multiplication in Z_q[X]/(X^256 + 1), the byte encodings,
 * SampleNTT and SamplePolyCBD against bit-by-bit versions of algorithms 7 and 8, and the CCTV
 * intermediate values of the matrix A (which depends only on rho, so it holds for final FIPS 203). */
#include "test.h"

#include "crypto/mlkem768_internal.h"
#include "crypto/sha3.h"

#define Q SH_MLKEM_Q

static int32_t mod_q(int32_t x)
{
    x %= Q;
    return x < 0 ? x + Q : x;
}

static void check_reductions(void)
{
    for (int32_t a = INT16_MIN; a <= INT16_MAX; a++) {
        int16_t r = sh__mlkem_barrett((int16_t)a), f = sh__mlkem_freeze((int16_t)a);

        CHECK(r >= -(Q - 1) / 2 && r <= (Q - 1) / 2);
        CHECK_EQ(mod_q(r), mod_q(a));
        CHECK(f >= 0 && f < Q);
        CHECK_EQ(f, mod_q(a));
    }
    /* fqmul(a, b) = a * b / 2^16 mod q with |result| < q, for |a| < 2^15 and |b| < q. */
    for (int32_t a = INT16_MIN + 1; a <= INT16_MAX; a += 7) {
        for (int32_t b = -Q + 1; b < Q; b += 331) {
            int16_t r = sh__mlkem_fqmul((int16_t)a, (int16_t)b);

            CHECK(r > -Q && r < Q);
            CHECK_EQ(mod_q((int32_t)((int64_t)r * 65536 % Q)), mod_q((int32_t)((int64_t)a * b % Q)));
        }
    }
}

static void check_compress(void)
{
    static const unsigned ds[] = {1, 4, 10};

    for (size_t i = 0; i < 3; i++) {
        unsigned d = ds[i];

        for (int32_t x = 0; x < Q; x++) {
            /* round(2^d x / q) = floor((2^(d+1) x + q) / 2q), then mod 2^d */
            uint32_t want = (uint32_t)((((int64_t)x << (d + 1)) + Q) / (2 * Q)) & ((1u << d) - 1);

            CHECK_EQ(sh__mlkem_compress((int16_t)x, d), want);
            CHECK_EQ(sh__mlkem_compress((int16_t)(x - Q), d), want);
        }
        for (uint32_t y = 0; y < (1u << d); y++) {
            int32_t want = (int32_t)(((int64_t)2 * Q * y + (1 << d)) / (2 << d));

            CHECK_EQ(sh__mlkem_decompress((uint16_t)y, d), want);
        }
    }
}

static void random_poly(sh_mlkem_poly *p)
{
    uint16_t r[SH_MLKEM_N];

    test_random(r, sizeof r);
    for (int i = 0; i < SH_MLKEM_N; i++)
        p->c[i] = (int16_t)(r[i] % Q);
}

/* NTT^-1(NTT(a) o NTT(b)) against a * b mod (X^256 + 1): the basemul output carries 2^-16 and
 * the inverse NTT's 2^16 takes it out again. */
static void check_ntt_multiply(void)
{
    for (int round = 0; round < 20; round++) {
        sh_mlkem_polyvec a = {0}, b = {0};
        sh_mlkem_poly r;
        int64_t want[SH_MLKEM_N] = {0};
        int k = round % SH_MLKEM_K;

        random_poly(&a.p[k]);
        random_poly(&b.p[k]);
        for (int i = 0; i < SH_MLKEM_N; i++)
            for (int j = 0; j < SH_MLKEM_N; j++) {
                int64_t prod = (int64_t)a.p[k].c[i] * b.p[k].c[j];

                if (i + j < SH_MLKEM_N)
                    want[i + j] += prod;
                else
                    want[i + j - SH_MLKEM_N] -= prod;
            }
        sh__mlkem_ntt(&a.p[k]);
        for (int i = 0; i < SH_MLKEM_N; i++)
            CHECK(a.p[k].c[i] >= -(Q - 1) / 2 && a.p[k].c[i] <= (Q - 1) / 2);
        sh__mlkem_ntt(&b.p[k]);
        for (int i = 0; i < SH_MLKEM_N; i++)
            b.p[k].c[i] = sh__mlkem_freeze(b.p[k].c[i]); /* as decoded from a key: [0, q) */
        sh__mlkem_polyvec_basemul_acc(&r, &a, &b);
        sh__mlkem_invntt(&r);
        for (int i = 0; i < SH_MLKEM_N; i++) {
            CHECK(r.c[i] > -Q && r.c[i] < Q);
            CHECK_EQ(sh__mlkem_freeze(r.c[i]), (int32_t)(((want[i] % Q) + Q) % Q));
        }
    }
}

static void check_encodings(void)
{
    uint8_t buf[SH_MLKEM_POLY_BYTES], c10[320], c4[128], msg[32], msg2[32];
    sh_mlkem_poly p, p2;

    for (int round = 0; round < 10; round++) {
        random_poly(&p);
        sh__mlkem_poly_encode12(buf, &p);
        CHECK(sh__mlkem_poly_is_reduced(buf));
        sh__mlkem_poly_decode12(&p2, buf);
        CHECK_MEM(p.c, p2.c, sizeof p.c);
        test_random(msg, sizeof msg);
        sh__mlkem_poly_from_msg(&p, msg);
        sh__mlkem_poly_to_msg(msg2, &p);
        CHECK_MEM(msg, msg2, sizeof msg);
        test_random(c10, sizeof c10);
        sh__mlkem_poly_decompress10(&p, c10);
        sh__mlkem_poly_compress10(buf, &p);
        CHECK_MEM(buf, c10, sizeof c10); /* Compress(Decompress(y)) = y for d < 12 */
        test_random(c4, sizeof c4);
        sh__mlkem_poly_decompress4(&p, c4);
        sh__mlkem_poly_compress4(buf, &p);
        CHECK_MEM(buf, c4, sizeof c4);
    }
    /* Coefficient q - 1 everywhere passes the modulus check; q or 4095 anywhere fails it, and
     * ByteDecode12 returns the value modulo q. */
    for (int i = 0; i < SH_MLKEM_N; i++)
        p.c[i] = Q - 1;
    sh__mlkem_poly_encode12(buf, &p);
    CHECK(sh__mlkem_poly_is_reduced(buf));
    for (int pos = 0; pos < SH_MLKEM_N; pos += 51) {
        uint8_t bad[SH_MLKEM_POLY_BYTES];
        int byte = 3 * (pos / 2);

        memcpy(bad, buf, sizeof bad);
        if (pos % 2 == 0) { /* value 3329 = 0xd01 in the low 12 bits */
            bad[byte] = 0x01;
            bad[byte + 1] = (uint8_t)((bad[byte + 1] & 0xf0) | 0x0d);
        } else { /* 4095 in the high 12 bits */
            bad[byte + 1] |= 0xf0;
            bad[byte + 2] = 0xff;
        }
        CHECK(!sh__mlkem_poly_is_reduced(bad));
        sh__mlkem_poly_decode12(&p2, bad);
        CHECK_EQ(p2.c[pos], pos % 2 == 0 ? 0 : 4095 - Q);
    }
}

/* Algorithm 8 bit by bit, eta = 2. */
static void check_cbd(void)
{
    uint8_t sigma[32], in[33], bytes[128];
    sh_mlkem_poly p;

    for (int round = 0; round < 20; round++) {
        test_random(sigma, sizeof sigma);
        sh__mlkem_sample_cbd(&p, sigma, (uint8_t)round);
        memcpy(in, sigma, 32);
        in[32] = (uint8_t)round;
        sh_shake256(bytes, sizeof bytes, in, sizeof in);
        for (int i = 0; i < SH_MLKEM_N; i++) {
            int x = 0, y = 0;

            for (int j = 0; j < 2; j++) {
                int bx = 4 * i + j, by = 4 * i + 2 + j;

                x += (bytes[bx / 8] >> (bx % 8)) & 1;
                y += (bytes[by / 8] >> (by % 8)) & 1;
            }
            CHECK_EQ(p.c[i], x - y);
        }
    }
}

/* Algorithm 7 reading SHAKE128 three bytes at a time from one long squeeze. */
static void sample_ntt_plain(int16_t out[SH_MLKEM_N], const uint8_t rho[32], uint8_t j, uint8_t i)
{
    uint8_t seed[34], stream[3 * 168 * 8];
    int n = 0;

    memcpy(seed, rho, 32);
    seed[32] = j;
    seed[33] = i;
    sh_shake128(stream, sizeof stream, seed, sizeof seed);
    for (size_t pos = 0; n < SH_MLKEM_N; pos += 3) {
        CHECK(pos + 3 <= sizeof stream);
        int d1 = stream[pos] + 256 * (stream[pos + 1] % 16);
        int d2 = stream[pos + 1] / 16 + 16 * stream[pos + 2];

        if (d1 < Q)
            out[n++] = (int16_t)d1;
        if (d2 < Q && n < SH_MLKEM_N)
            out[n++] = (int16_t)d2;
    }
}

static void check_sample_ntt(void)
{
    uint8_t rho[32];
    int16_t want[SH_MLKEM_N];
    sh_mlkem_poly p;

    for (int round = 0; round < 30; round++) {
        test_random(rho, sizeof rho);
        sh__mlkem_sample_ntt(&p, rho, (uint8_t)(round % 3), (uint8_t)(round / 3 % 3));
        sample_ntt_plain(want, rho, (uint8_t)(round % 3), (uint8_t)(round / 3 % 3));
        CHECK_MEM(p.c, want, sizeof want);
    }
}

/* CCTV intermediate values: A and A^T from rho (9 ByteEncode12 polynomials, row by row). */
static void check_cctv_matrix(void)
{
    FILE *f = fopen(test_vector_path("mlkem768/cctv/intermediate_ML-KEM-768.txt"), "r");
    static char line[1 << 16];
    sh_buf rho, a, at;
    uint8_t enc[SH_MLKEM_POLY_BYTES];
    sh_mlkem_poly p;

    sh_buf_init(&rho);
    sh_buf_init(&a);
    sh_buf_init(&at);
    CHECK(f != NULL);
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "\xcf\x81 = ", 5) == 0) /* "ρ = " */
            test_hex(line + 5, &rho);
        else if (strncmp(line, "A = ", 4) == 0)
            test_hex(line + 4, &a);
        else if (strncmp(line, "A^T = ", 6) == 0)
            test_hex(line + 6, &at);
    }
    fclose(f);
    CHECK_EQ(rho.len, 32);
    CHECK_EQ(a.len, 9 * SH_MLKEM_POLY_BYTES);
    CHECK_EQ(at.len, 9 * SH_MLKEM_POLY_BYTES);
    for (uint8_t i = 0; i < 3; i++)
        for (uint8_t j = 0; j < 3; j++) {
            sh__mlkem_sample_ntt(&p, rho.data, j, i); /* A[i, j] */
            sh__mlkem_poly_encode12(enc, &p);
            CHECK_MEM(enc, a.data + (3 * i + j) * SH_MLKEM_POLY_BYTES, sizeof enc);
            CHECK_MEM(enc, at.data + (3 * j + i) * SH_MLKEM_POLY_BYTES, sizeof enc);
        }
    sh_buf_free(&rho);
    sh_buf_free(&a);
    sh_buf_free(&at);
}

int main(void)
{
    check_reductions();
    check_compress();
    check_ntt_multiply();
    check_encodings();
    check_cbd();
    check_sample_ntt();
    check_cctv_matrix();
    return 0;
}
