/* ML-KEM-768 and X-Wing speed beside libsodium's X25519 (crypto_scalarmult) and crypto_box_seal,
 * measured in the same run. The target: one ML-KEM-768 decapsulation costs at most two
 * X25519 scalar multiplications (figure mlkem768_decaps_vs_x25519 <= 2). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include <shoal/err.h>

#include "bench.h"
#include "crypto/crypto.h"
#include "crypto/kem.h"

typedef struct ctx {
    uint8_t ek[SH_MLKEM768_EK_BYTES], dk[SH_MLKEM768_DK_BYTES], ct[SH_MLKEM768_CT_BYTES];
    uint8_t xek[SH_XWING_EK_BYTES], xdk[SH_XWING_DK_BYTES], xct[SH_XWING_CT_BYTES];
    uint8_t ss[32], seed[64], scalar[32], point[32], out[32];
    uint8_t box_pk[crypto_box_PUBLICKEYBYTES], box_sk[crypto_box_SECRETKEYBYTES];
    uint8_t msg[32], sealed[32 + crypto_box_SEALBYTES];
} ctx;

static void fail(const char *what)
{
    fprintf(stderr, "bench-crypto-kem: %s failed: %s\n", what, sh_err_msg());
    exit(1);
}

static void op_keygen(ctx *c, uint64_t i)
{
    c->seed[0] = (uint8_t)i;
    if (sh_mlkem768_keygen_derand(c->ek, c->dk, c->seed, c->seed + 32) != SH_OK)
        fail("keygen");
}

static void op_encaps(ctx *c, uint64_t i)
{
    c->seed[0] = (uint8_t)i;
    if (sh_mlkem768_encaps_derand(c->ct, c->ss, c->ek, c->seed) != SH_OK)
        fail("encaps");
}

static void op_decaps(ctx *c, uint64_t i)
{
    c->ct[i % SH_MLKEM768_CT_BYTES] ^= (uint8_t)(i & 1);
    if (sh_mlkem768_decaps(c->ss, c->ct, c->dk) != SH_OK)
        fail("decaps");
}

static void op_xwing_encaps(ctx *c, uint64_t i)
{
    c->seed[0] = (uint8_t)i;
    if (sh_xwing_encaps_derand(c->xct, c->ss, c->xek, c->seed) != SH_OK)
        fail("X-Wing encaps");
}

static void op_xwing_decaps(ctx *c, uint64_t i)
{
    (void)i;
    if (sh_xwing_decaps(c->ss, c->xct, c->xdk) != SH_OK)
        fail("X-Wing decaps");
}

static void op_x25519(ctx *c, uint64_t i)
{
    c->scalar[0] = (uint8_t)i;
    if (crypto_scalarmult(c->out, c->scalar, c->point) != 0)
        fail("crypto_scalarmult");
}

static void op_box_seal(ctx *c, uint64_t i)
{
    c->msg[0] = (uint8_t)i;
    if (crypto_box_seal(c->sealed, c->msg, sizeof c->msg, c->box_pk) != 0)
        fail("crypto_box_seal");
}

typedef struct op {
    const char *name;
    void (*run)(ctx *, uint64_t);
    uint64_t iters;
    double best; /* ops/s */
} op;

/* Rounds interleave all operations, and each keeps its best rate, so that a burst of load from
 * a neighbour on this shared machine hits every figure alike rather than one of a ratio's sides. */
static void measure(op *ops, size_t n_ops, ctx *c, int rounds)
{
    for (int round = 0; round < rounds; round++) {
        for (size_t k = 0; k < n_ops; k++) {
            double t0 = bench_now_s();

            for (uint64_t i = 0; i < ops[k].iters; i++)
                ops[k].run(c, i);
            double per_s = (double)ops[k].iters / (bench_now_s() - t0);

            if (per_s > ops[k].best)
                ops[k].best = per_s;
        }
    }
    for (size_t k = 0; k < n_ops; k++)
        printf("%-24s %10.0f ops/s  %8.2f us/op\n", ops[k].name, ops[k].best, 1e6 / ops[k].best);
}

int main(void)
{
    ctx *c = calloc(1, sizeof *c);
    uint64_t n = bench_iters(1000);

    if (c == NULL || sh_crypto_init() != SH_OK)
        fail("init");
    randombytes_buf(c->seed, sizeof c->seed);
    randombytes_buf(c->scalar, sizeof c->scalar);
    crypto_scalarmult_base(c->point, c->seed);
    crypto_box_keypair(c->box_pk, c->box_sk);
    op_keygen(c, 0);
    op_encaps(c, 0);
    if (sh_xwing_keygen_derand(c->xek, c->xdk, c->seed) != SH_OK)
        fail("X-Wing keygen");
    op_xwing_encaps(c, 0);

    op ops[] = {
        {"mlkem768 keygen", op_keygen, n, 0},
        {"mlkem768 encaps", op_encaps, n, 0},
        {"mlkem768 decaps", op_decaps, n, 0},
        {"xwing encaps", op_xwing_encaps, n / 2, 0},
        {"xwing decaps", op_xwing_decaps, n / 2, 0},
        {"x25519 (scalarmult)", op_x25519, n, 0},
        {"crypto_box_seal 32 B", op_box_seal, n / 2, 0},
    };
    measure(ops, sizeof ops / sizeof ops[0], c, bench_quick() ? 1 : 5);
    double keygen = ops[0].best, encaps = ops[1].best, decaps = ops[2].best;
    double xenc = ops[3].best, xdec = ops[4].best, x25519 = ops[5].best, seal = ops[6].best;

    printf("decaps / X25519 time: %.2f (target <= 2); X-Wing decaps / crypto_box_seal: %.2f\n",
           x25519 / decaps, seal / xdec);
    bench_report("mlkem768_keygen_per_s", keygen, "ops/s");
    bench_report("mlkem768_encaps_per_s", encaps, "ops/s");
    bench_report("mlkem768_decaps_per_s", decaps, "ops/s");
    bench_report("xwing_encaps_per_s", xenc, "ops/s");
    bench_report("xwing_decaps_per_s", xdec, "ops/s");
    bench_report("x25519_per_s", x25519, "ops/s");
    bench_report("box_seal_per_s", seal, "ops/s");
    bench_report("mlkem768_decaps_vs_x25519", x25519 / decaps, "ratio");
    bench_report("mlkem768_encaps_vs_x25519", x25519 / encaps, "ratio");
    bench_report("xwing_encaps_vs_box_seal", seal / xenc, "ratio");
    bench_report("xwing_decaps_vs_box_seal", seal / xdec, "ratio");
    free(c);
    return 0;
}
