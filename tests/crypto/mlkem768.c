/* ML-KEM-768 against every vector in ../shared/vectors/mlkem768 that applies to final FIPS 203:
 * NIST ACVP keyGen and encapDecap (internalProjection), the four Wycheproof files (including the
 * section 7.2 modulus check and 7.3 hash check rejections and wrong lengths), the CCTV strcmp,
 * unlucky-sample, modulus and intermediate-value files, and the CCTV "accumulated" pq-crystals run.
 * CCTV's d, z -> ek relations follow the FIPS 203 ipd key generation (G(d) instead of G(d || k)),
 * so only their encapsulation and decapsulation parts are checked (see the vectors README). */
#include "test.h"

#include <sodium.h>

#include "crypto/crypto.h"
#include "crypto/kem.h"
#include "crypto/sha3.h"

enum {
    ACVP_KEYGEN = 25,
    ACVP_ENCAPS = 25,
    ACVP_DECAPS = 10,
    WP_TEST = 193,
    WP_ENCAPS = 265,
    WP_KEYGEN = 100,
    WP_SEMI = 9,
    CCTV_MODULUS = 780,
    CCTV_FILES = 3, /* strcmp, unluckysample, intermediate */
};

static sh_buf a, b, c, d, e;

static void check_hex(json_t *obj, const char *key, const uint8_t *got, size_t len)
{
    test_json_hex(obj, key, &e);
    CHECK_EQ(e.len, len);
    CHECK_MEM(got, e.data, len);
}

static size_t acvp_keygen(void)
{
    json_t *root = test_load_json("mlkem768/acvp_keygen_internalProjection_768.json"), *g, *t;
    uint8_t ek[SH_MLKEM768_EK_BYTES], dk[SH_MLKEM768_DK_BYTES];
    size_t gi, ti, n = 0;

    json_array_foreach(json_object_get(root, "testGroups"), gi, g) {
        CHECK_STR(test_json_str(g, "parameterSet"), "ML-KEM-768");
        json_array_foreach(json_object_get(g, "tests"), ti, t) {
            test_json_hex(t, "d", &a);
            test_json_hex(t, "z", &b);
            CHECK_EQ(a.len, 32);
            CHECK_EQ(b.len, 32);
            CHECK_OK(sh_mlkem768_keygen_derand(ek, dk, a.data, b.data));
            check_hex(t, "ek", ek, sizeof ek);
            check_hex(t, "dk", dk, sizeof dk);
            n++;
        }
    }
    json_decref(root);
    return n;
}

static size_t acvp_encapdecap(size_t *decaps_n)
{
    json_t *root = test_load_json("mlkem768/acvp_encapdecap_internalProjection_768.json"), *g, *t;
    uint8_t ct[SH_MLKEM768_CT_BYTES], ss[32];
    size_t gi, ti, n = 0;

    *decaps_n = 0;
    json_array_foreach(json_object_get(root, "testGroups"), gi, g) {
        bool encaps = strcmp(test_json_str(g, "function"), "encapsulation") == 0;

        CHECK_STR(test_json_str(g, "parameterSet"), "ML-KEM-768");
        json_array_foreach(json_object_get(g, "tests"), ti, t) {
            if (encaps) {
                test_json_hex(t, "ek", &a);
                test_json_hex(t, "m", &b);
                test_json_hex(t, "dk", &d);
                CHECK_OK(sh_mlkem768_encaps_buf(ct, ss, a.data, a.len, b.data));
                check_hex(t, "c", ct, sizeof ct);
                check_hex(t, "k", ss, sizeof ss);
                memset(ss, 0, sizeof ss);
                CHECK_OK(sh_mlkem768_decaps_buf(ss, ct, sizeof ct, d.data, d.len));
                check_hex(t, "k", ss, sizeof ss);
                n++;
            } else {
                test_json_hex(g, "dk", &d);
                test_json_hex(t, "c", &c);
                CHECK_OK(sh_mlkem768_decaps_buf(ss, c.data, c.len, d.data, d.len));
                check_hex(t, "k", ss, sizeof ss);
                (*decaps_n)++;
            }
        }
    }
    json_decref(root);
    return n;
}

static bool is_valid(json_t *t)
{
    return strcmp(test_json_str(t, "result"), "valid") == 0;
}

/* seed (d || z) -> ek; Decaps(dk, c) = K; invalid: a seed or ciphertext of the wrong length. */
static size_t wycheproof_test(void)
{
    json_t *root = test_load_json("mlkem768/wycheproof/mlkem_768_test.json"), *g, *t;
    uint8_t ek[SH_MLKEM768_EK_BYTES], dk[SH_MLKEM768_DK_BYTES], ss[32];
    size_t gi, ti, n = 0;

    json_array_foreach(json_object_get(root, "testGroups"), gi, g) {
        json_array_foreach(json_object_get(g, "tests"), ti, t) {
            int rc;

            test_json_hex(t, "seed", &a);
            test_json_hex(t, "c", &c);
            rc = sh_mlkem768_keygen_seed(ek, dk, a.data, a.len);
            if (rc == SH_OK)
                rc = sh_mlkem768_decaps_buf(ss, c.data, c.len, dk, sizeof dk);
            if (is_valid(t)) {
                CHECK_OK(rc);
                check_hex(t, "ek", ek, sizeof ek);
                check_hex(t, "K", ss, sizeof ss);
            } else {
                CHECK_ERR(rc, SH_ERR_INVALID);
                CHECK_MSG("bytes, not");
            }
            n++;
        }
    }
    CHECK_EQ(n, json_integer_value(json_object_get(root, "numberOfTests")));
    json_decref(root);
    return n;
}

/* ek, m -> c, K; invalid: the modulus check (coefficient >= q) or a wrong length. */
static size_t wycheproof_encaps(void)
{
    json_t *root = test_load_json("mlkem768/wycheproof/mlkem_768_encaps_test.json"), *g, *t;
    uint8_t ct[SH_MLKEM768_CT_BYTES], ss[32];
    size_t gi, ti, n = 0, modulus = 0;

    json_array_foreach(json_object_get(root, "testGroups"), gi, g) {
        json_array_foreach(json_object_get(g, "tests"), ti, t) {
            int rc;

            test_json_hex(t, "ek", &a);
            test_json_hex(t, "m", &b);
            CHECK_EQ(b.len, 32);
            rc = sh_mlkem768_encaps_buf(ct, ss, a.data, a.len, b.data);
            if (is_valid(t)) {
                CHECK_OK(rc);
                check_hex(t, "c", ct, sizeof ct);
                check_hex(t, "K", ss, sizeof ss);
            } else {
                CHECK_ERR(rc, SH_ERR_INVALID);
                if (a.len == SH_MLKEM768_EK_BYTES) {
                    CHECK_MSG("modulus check");
                    CHECK_ERR(sh_mlkem768_encaps_derand(ct, ss, a.data, b.data), SH_ERR_INVALID);
                    modulus++;
                } else {
                    CHECK_MSG("bytes, not 1184");
                }
            }
            n++;
        }
    }
    CHECK_EQ(modulus, 112);
    CHECK_EQ(n, json_integer_value(json_object_get(root, "numberOfTests")));
    json_decref(root);
    return n;
}

static size_t wycheproof_keygen(void)
{
    json_t *root = test_load_json("mlkem768/wycheproof/mlkem_768_keygen_seed_test.json"), *g, *t;
    uint8_t ek[SH_MLKEM768_EK_BYTES], dk[SH_MLKEM768_DK_BYTES];
    size_t gi, ti, n = 0;

    json_array_foreach(json_object_get(root, "testGroups"), gi, g) {
        json_array_foreach(json_object_get(g, "tests"), ti, t) {
            CHECK(is_valid(t));
            test_json_hex(t, "seed", &a);
            CHECK_OK(sh_mlkem768_keygen_seed(ek, dk, a.data, a.len));
            check_hex(t, "ek", ek, sizeof ek);
            check_hex(t, "dk", dk, sizeof dk);
            n++;
        }
    }
    CHECK_EQ(n, json_integer_value(json_object_get(root, "numberOfTests")));
    json_decref(root);
    return n;
}

/* Decaps with a given 2400-byte dk; invalid: wrong lengths and the section 7.3 hash check. */
static size_t wycheproof_semi_expanded(void)
{
    json_t *root = test_load_json("mlkem768/wycheproof/mlkem_768_semi_expanded_decaps_test.json");
    json_t *g, *t;
    uint8_t ss[32];
    size_t gi, ti, n = 0, hash = 0;

    json_array_foreach(json_object_get(root, "testGroups"), gi, g) {
        json_array_foreach(json_object_get(g, "tests"), ti, t) {
            int rc;

            test_json_hex(t, "dk", &d);
            test_json_hex(t, "c", &c);
            rc = sh_mlkem768_decaps_buf(ss, c.data, c.len, d.data, d.len);
            if (is_valid(t)) {
                CHECK_OK(rc);
                check_hex(t, "K", ss, sizeof ss);
            } else {
                CHECK_ERR(rc, SH_ERR_INVALID);
                if (d.len == SH_MLKEM768_DK_BYTES && c.len == SH_MLKEM768_CT_BYTES) {
                    CHECK_MSG("hash check");
                    hash++;
                }
            }
            n++;
        }
    }
    CHECK_EQ(hash, 2);
    CHECK_EQ(n, json_integer_value(json_object_get(root, "numberOfTests")));
    json_decref(root);
    return n;
}

/* Reads `name = hex` lines of a CCTV text file into a JSON object (the same accessors then apply). */
static json_t *load_cctv(const char *relative)
{
    FILE *f = fopen(test_vector_path(relative), "r");
    json_t *obj = json_object();
    static char line[1 << 16];

    CHECK(f != NULL);
    while (fgets(line, sizeof line, f) != NULL) {
        char *eq = strstr(line, " = ");

        if (eq == NULL)
            continue;
        *eq = '\0';
        line[strcspn(line, "\0")] = '\0';
        eq[3 + strcspn(eq + 3, "\r\n")] = '\0';
        json_object_set_new(obj, line, json_string(eq + 3));
    }
    fclose(f);
    return obj;
}

static size_t cctv_files(void)
{
    uint8_t ct[SH_MLKEM768_CT_BYTES], ss[32], k_bar[32];
    json_t *v;

    v = load_cctv("mlkem768/cctv/strcmp_ML-KEM-768.txt");
    test_json_hex(v, "dk", &d);
    test_json_hex(v, "c", &c);
    CHECK_OK(sh_mlkem768_decaps_buf(ss, c.data, c.len, d.data, d.len));
    check_hex(v, "K", ss, sizeof ss);
    json_decref(v);

    /* Only encaps/decaps: ek here comes from the ipd key generation. */
    v = load_cctv("mlkem768/cctv/unluckysample_ML-KEM-768.txt");
    test_json_hex(v, "ek", &a);
    test_json_hex(v, "m", &b);
    test_json_hex(v, "dk", &d);
    CHECK_OK(sh_mlkem768_encaps_buf(ct, ss, a.data, a.len, b.data));
    check_hex(v, "c", ct, sizeof ct);
    check_hex(v, "K", ss, sizeof ss);
    CHECK_OK(sh_mlkem768_decaps_buf(ss, ct, sizeof ct, d.data, d.len));
    check_hex(v, "K", ss, sizeof ss);
    json_decref(v);

    v = load_cctv("mlkem768/cctv/intermediate_ML-KEM-768.txt");
    test_json_hex(v, "ek", &a);
    test_json_hex(v, "m", &b);
    test_json_hex(v, "dk", &d);
    CHECK_OK(sh_mlkem768_encaps_buf(ct, ss, a.data, a.len, b.data));
    check_hex(v, "c", ct, sizeof ct);
    check_hex(v, "K", ss, sizeof ss);
    CHECK_OK(sh_mlkem768_decaps_buf(ss, ct, sizeof ct, d.data, d.len));
    check_hex(v, "K", ss, sizeof ss);
    test_json_hex(v, "z", &e);
    sh_keccak st;
    sh_shake256_init(&st);
    sh_keccak_absorb(&st, e.data, e.len);
    sh_keccak_absorb(&st, ct, sizeof ct);
    sh_keccak_squeeze(&st, k_bar, sizeof k_bar);
    check_hex(v, "KBar", k_bar, sizeof k_bar);
    json_decref(v);
    return CCTV_FILES;
}

/* 780 encapsulation keys with a coefficient in [q, 4095], gzipped, one hex key per line. */
static size_t cctv_modulus(void)
{
    char cmd[4200];
    static char line[4096];
    uint8_t ct[SH_MLKEM768_CT_BYTES], ss[32], m[32] = {0};
    size_t n = 0;
    FILE *p;

    snprintf(cmd, sizeof cmd, "gzip -dc '%s'", test_vector_path("mlkem768/cctv/modulus_ML-KEM-768.txt.gz"));
    p = popen(cmd, "r");
    CHECK(p != NULL);
    while (fgets(line, sizeof line, p) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        test_hex(line, &a);
        CHECK_EQ(a.len, SH_MLKEM768_EK_BYTES);
        CHECK_ERR(sh_mlkem768_ek_check(a.data, a.len), SH_ERR_INVALID);
        CHECK_MSG("modulus check");
        CHECK_ERR(sh_mlkem768_encaps_derand(ct, ss, a.data, m), SH_ERR_INVALID);
        n++;
    }
    CHECK_EQ(pclose(p), 0);
    return n;
}

/* The CCTV accumulated run: inputs from SHAKE128(""), every output into a running SHAKE128. */
static void accumulated(size_t count, const char *want_hex)
{
    uint8_t dz[64], m[32], rand_ct[SH_MLKEM768_CT_BYTES], ek[SH_MLKEM768_EK_BYTES];
    uint8_t dk[SH_MLKEM768_DK_BYTES], ct[SH_MLKEM768_CT_BYTES], k[32], k2[32], out[32];
    sh_keccak rng, acc;

    sh_shake128_init(&rng);
    sh_shake128_init(&acc);
    for (size_t i = 0; i < count; i++) {
        sh_keccak_squeeze(&rng, dz, 64);
        sh_keccak_squeeze(&rng, m, 32);
        sh_keccak_squeeze(&rng, rand_ct, sizeof rand_ct);
        CHECK_OK(sh_mlkem768_keygen_derand(ek, dk, dz, dz + 32));
        CHECK_OK(sh_mlkem768_encaps_derand(ct, k, ek, m));
        CHECK_OK(sh_mlkem768_decaps(k2, ct, dk));
        CHECK_MEM(k, k2, 32);
        CHECK_OK(sh_mlkem768_decaps(k2, rand_ct, dk));
        sh_keccak_absorb(&acc, ek, sizeof ek);
        sh_keccak_absorb(&acc, dk, sizeof dk);
        sh_keccak_absorb(&acc, ct, sizeof ct);
        sh_keccak_absorb(&acc, k, sizeof k);
        sh_keccak_absorb(&acc, k2, sizeof k2);
    }
    sh_keccak_squeeze(&acc, out, sizeof out);
    test_hex(want_hex, &e);
    CHECK_MEM(out, e.data, 32);
}

int main(void)
{
    size_t n_keygen, n_encaps, n_decaps, n_wp, n_wpe, n_wpk, n_wps, n_cctv, n_mod;

    CHECK_OK(sh_crypto_init());
    sh_buf_init(&a);
    sh_buf_init(&b);
    sh_buf_init(&c);
    sh_buf_init(&d);
    sh_buf_init(&e);
    n_keygen = acvp_keygen();
    n_encaps = acvp_encapdecap(&n_decaps);
    n_wp = wycheproof_test();
    n_wpe = wycheproof_encaps();
    n_wpk = wycheproof_keygen();
    n_wps = wycheproof_semi_expanded();
    n_cctv = cctv_files();
    n_mod = cctv_modulus();
    CHECK_EQ(n_keygen, ACVP_KEYGEN);
    CHECK_EQ(n_encaps, ACVP_ENCAPS);
    CHECK_EQ(n_decaps, ACVP_DECAPS);
    CHECK_EQ(n_wp, WP_TEST);
    CHECK_EQ(n_wpe, WP_ENCAPS);
    CHECK_EQ(n_wpk, WP_KEYGEN);
    CHECK_EQ(n_wps, WP_SEMI);
    CHECK_EQ(n_cctv, CCTV_FILES);
    CHECK_EQ(n_mod, CCTV_MODULUS);
    accumulated(100, "8d65b902f28edc683cebee2872962fd165a4d197c9e24ec74caa4470270df0b7");
    accumulated(1000, "5706194c22e3e0977b570e636de7364abce0609b341433cc4eb48062080b7c76");
    /* Longer runs on request: SHOAL_MLKEM_ACCUMULATED=10000 (about 30 s here) or 1000000. */
    const char *longer = getenv("SHOAL_MLKEM_ACCUMULATED");
    if (longer != NULL && strcmp(longer, "10000") == 0)
        accumulated(10000, "f959d18d3d1180121433bf0e05f11e7908cf9d03edc150b2b07cb90bef5bc1c1");
    else if (longer != NULL && strcmp(longer, "1000000") == 0)
        accumulated(1000000, "3b108396a277f2952ff3243a985c9709bcb95788c39b7b36a2c4e19d1a41e51e");
    else if (longer != NULL)
        test_fail(__FILE__, __LINE__, "SHOAL_MLKEM_ACCUMULATED must be 10000 or 1000000");
    printf("mlkem768: ACVP keyGen %zu, encaps %zu, decaps %zu; Wycheproof %zu + %zu + %zu + %zu; "
           "CCTV files %zu, modulus %zu; accumulated 100 and 1000 runs: %zu vectors passed\n",
           n_keygen, n_encaps, n_decaps, n_wp, n_wpe, n_wpk, n_wps, n_cctv, n_mod,
           n_keygen + n_encaps + n_decaps + n_wp + n_wpe + n_wpk + n_wps + n_cctv + n_mod);
    sh_buf_free(&a);
    sh_buf_free(&b);
    sh_buf_free(&c);
    sh_buf_free(&d);
    sh_buf_free(&e);
    return 0;
}
