/* Constant-time check of ML-KEM-768 and X-Wing, run under valgrind memcheck by tools/ct-check.sh
 * (not by `make test`: ASan and valgrind do not mix). Every secret input is marked undefined with
 * VALGRIND_MAKE_MEM_UNDEFINED, so memcheck reports any branch or memory index that depends on it:
 * d and z of key generation, m and eseed of encapsulation, the secret parts of the decapsulation
 * key (dk_pke and z; its ek and H(ek) are public), and the X-Wing seed. Outputs that are public by
 * design (ek, ct) are marked defined before they are used as inputs again; shared secrets are
 * marked defined only to compare them at the end. Exits 0 when the results are right; memcheck's
 * --error-exitcode turns any report into a failure. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>

#include <shoal/err.h>

#include "crypto/crypto.h"
#include "crypto/kem.h"

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

static int failed;

static void expect(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "ct-kem: %s\n", what);
        failed = 1;
    }
}

static void mlkem_round(int round)
{
    uint8_t d[32], z[32], m[32], ek[SH_MLKEM768_EK_BYTES], dk[SH_MLKEM768_DK_BYTES];
    uint8_t ct[SH_MLKEM768_CT_BYTES], ss1[32], ss2[32], ss3[32];

    randombytes_buf(d, sizeof d);
    randombytes_buf(z, sizeof z);
    randombytes_buf(m, sizeof m);
    SECRET(d, sizeof d);
    SECRET(z, sizeof z);
    expect(sh_mlkem768_keygen_derand(ek, dk, d, z) == SH_OK, "keygen failed");
    PUBLIC(ek, sizeof ek);
    PUBLIC(dk + 1152, 1184 + 32); /* ek || H(ek) inside dk */

    SECRET(m, sizeof m);
    expect(sh_mlkem768_encaps_derand(ct, ss1, ek, m) == SH_OK, "encaps failed");
    PUBLIC(ct, sizeof ct);

    expect(sh_mlkem768_decaps(ss2, ct, dk) == SH_OK, "decaps failed");
    ct[round * 131 % sizeof ct] ^= 1; /* the implicit-rejection path */
    expect(sh_mlkem768_decaps(ss3, ct, dk) == SH_OK, "decaps of a changed ct failed");

    PUBLIC(ss1, 32);
    PUBLIC(ss2, 32);
    PUBLIC(ss3, 32);
    expect(memcmp(ss1, ss2, 32) == 0, "ML-KEM shared secrets differ");
    expect(memcmp(ss1, ss3, 32) != 0, "a changed ciphertext was not rejected");
}

static void xwing_round(void)
{
    uint8_t seed[32], eseed[64], ek[SH_XWING_EK_BYTES], dk[32], ct[SH_XWING_CT_BYTES];
    uint8_t ss1[32], ss2[32];

    randombytes_buf(seed, sizeof seed);
    randombytes_buf(eseed, sizeof eseed);
    SECRET(seed, sizeof seed);
    expect(sh_xwing_keygen_derand(ek, dk, seed) == SH_OK, "X-Wing keygen failed");
    PUBLIC(ek, sizeof ek);
    SECRET(eseed, sizeof eseed);
    expect(sh_xwing_encaps_derand(ct, ss1, ek, eseed) == SH_OK, "X-Wing encaps failed");
    PUBLIC(ct, sizeof ct);
    expect(sh_xwing_decaps(ss2, ct, dk) == SH_OK, "X-Wing decaps failed");
    PUBLIC(ss1, 32);
    PUBLIC(ss2, 32);
    expect(memcmp(ss1, ss2, 32) == 0, "X-Wing shared secrets differ");
}

int main(void)
{
    if (sh_crypto_init() != SH_OK)
        return 1;
    if (!RUNNING_ON_VALGRIND)
        fprintf(stderr, "ct-kem: not under valgrind, so this only checks the results\n");
    for (int round = 0; round < 3; round++) {
        mlkem_round(round);
        xwing_round();
    }
    if (!failed)
        printf("ct-kem: ML-KEM-768 and X-Wing results correct with secrets marked undefined\n");
    return failed;
}
