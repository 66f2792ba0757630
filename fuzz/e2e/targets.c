/* libFuzzer targets of the e2e module, one per decoder of untrusted bytes; this file is built once
 * per target with FUZZ_TARGET set to its number (see meson.build):
 *   e2e-devlist, e2e-bundle, e2e-token, e2e-revocations, e2e-cert, e2e-grant   signed objects
 *   e2e-envelope        envelope content, sealed to a device and received by it (certificate,
 *                       slots, handshakes, sessions)
 *   e2e-header          a ratchet message to a live session (header, handshake and body parsing)
 *   e2e-session-state, e2e-device-state   saved state
 *   e2e-link            link codes, link requests and responses
 * The world (two accounts, a session between them) is made once at start from a deterministic
 * random source, so it is the same in every run and the seeds' signatures and sessions match it.
 * Run a target with SHOAL_FUZZ_WRITE_SEEDS=<dir> to write its seed corpus and exit. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e/internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { T_DEVLIST = 1, T_BUNDLE, T_TOKEN, T_REVOCATIONS, T_CERT, T_GRANT, T_ENVELOPE, T_HEADER,
       T_SESSION_STATE, T_DEVICE_STATE, T_LINK };

#define NOW 1700000000000LL

static sh_e2e_device *a, *b, *a2;
static sh_buf seeds[4];
static size_t n_seeds;
static char code[SH_E2E_LINK_CODE_BYTES];

/* A deterministic randombytes implementation: ChaCha20 of a counter under a fixed key. */
static uint64_t det_counter;

static const char *det_name(void)
{
    return "fuzz-deterministic";
}

static uint32_t det_random(void)
{
    uint32_t v;
    uint8_t seed[randombytes_SEEDBYTES] = {0};

    memcpy(seed, &det_counter, sizeof det_counter);
    det_counter++;
    randombytes_buf_deterministic(&v, sizeof v, seed);
    return v;
}

static void det_buf(void *buf, size_t size)
{
    uint8_t seed[randombytes_SEEDBYTES] = {0};

    memcpy(seed, &det_counter, sizeof det_counter);
    det_counter++;
    randombytes_buf_deterministic(buf, size, seed);
}

static struct randombytes_implementation det_impl = {
    .implementation_name = det_name, .random = det_random, .buf = det_buf,
};

static void need(int rc)
{
    if (rc != SH_OK) {
        fprintf(stderr, "fuzz setup failed: %s\n", sh_err_msg());
        abort();
    }
}

static sh_buf *seed(void)
{
    sh_buf_init(&seeds[n_seeds]);
    return &seeds[n_seeds++];
}

static void exchange(sh_e2e_device *from, sh_e2e_device *to, sh_buf *inner_out)
{
    sh_buf r, s, inner;
    sh_e2e_received got;

    sh_buf_init(&r);
    sh_buf_init(&s);
    sh_buf_init(&inner);
    need(sh_e2e_send(from, sh_e2e_device_account(to), (const uint8_t *)"seed", 4, NOW, &r, &s));
    need(sh__e2e_unseal(to->env_seed, r.data, r.len, &inner));
    if (inner_out != NULL)
        need(sh_buf_append(inner_out, inner.data, inner.len));
    need(sh_e2e_receive(to, r.data, r.len, NOW, &got));
    sh_buf_free(&got.payload);
    sh_buf_free(&r);
    sh_buf_free(&s);
    sh_buf_free(&inner);
}

/* Two accounts; A has a linked device; A and B have talked. */
static void setup(void)
{
    uint8_t sa[16], sb[16];
    char sas[SH_E2E_SAS_BYTES];
    sh_buf l, bb, req, rsp;

    memset(sa, 1, 16);
    memset(sb, 2, 16);
    need(sh_e2e_device_new_primary(&a, sa, NOW));
    need(sh_e2e_device_new_primary(&b, sb, NOW));
    sh_buf_init(&req);
    sh_buf_init(&rsp);
    need(sh_e2e_link_begin(a, NOW, code));
    need(sh_e2e_device_new_linked(&a2, code, NOW, &req, sas));
    need(sh_e2e_link_read_request(a, req.data, req.len, NOW, sas));
    need(sh_e2e_link_confirm(a, NOW, &rsp));
    need(sh_e2e_link_finish(a2, rsp.data, rsp.len, NOW));
    need(sh_e2e_link_begin(a, NOW, code)); /* a pending code for the link target */
    sh_e2e_device *all[3] = {a, b, a2};
    for (int i = 0; i < 3; i++) {
        sh_buf_init(&l);
        if (sh_e2e_device_is_primary(all[i]))
            need(sh_e2e_device_list(all[i], &l));
        for (int j = 0; j < 3 && l.len; j++)
            need(sh_e2e_device_learn_list(all[j], l.data, l.len, NOW));
        sh_buf_free(&l);
    }
    for (int i = 0; i < 3; i++) {
        sh_buf_init(&bb);
        need(sh_e2e_device_bundle(all[i], NOW, &bb));
        for (int j = 0; j < 3; j++)
            need(sh_e2e_device_learn_bundle(all[j], bb.data, bb.len, NOW));
        sh_buf_free(&bb);
    }
    sh_buf_free(&req);
    sh_buf_free(&rsp);
}

static void make_seeds(int target)
{
    sh_e2e_session *s;

    switch (target) {
    case T_DEVLIST:
        need(sh_e2e_device_list(a, seed()));
        need(sh_e2e_device_list(b, seed()));
        break;
    case T_BUNDLE:
        need(sh_e2e_device_bundle(b, NOW, seed()));
        break;
    case T_TOKEN:
        need(sh_e2e_device_token(a2, seed()));
        break;
    case T_REVOCATIONS:
        need(sh_e2e_device_revocations(a, seed()));
        break;
    case T_CERT: {
        sh_e2e_cert c = {{0}, 1, {0}, {0}, 1, NOW + 1000};
        memcpy(c.sender_account, a->account_pk, 32);
        memcpy(c.sender_device_ed, a->ed_pk, 32);
        memcpy(c.recipient_account, b->account_pk, 32);
        need(sh__e2e_cert_sign(&c, a->ed_sk, seed()));
        break;
    }
    case T_GRANT:
        need(sh_e2e_device_grant(a, sh_e2e_device_id(a2), seed()));
        break;
    case T_ENVELOPE:
        exchange(a, b, seed()); /* with a handshake */
        exchange(b, a, NULL);
        exchange(a, b, seed()); /* without */
        break;
    case T_HEADER: {
        sh_buf *m = seed();
        uint8_t *p;
        s = sh__e2e_active_session(a, b->account_pk, 1);
        need(sh_buf_extend(m, SH_E2E_MSG_OVERHEAD + 4, &p));
        need(sh__e2e_session_encrypt(s, (const uint8_t *)"seed", 4, NULL, 0, p));
        break;
    }
    case T_SESSION_STATE:
        exchange(a, b, NULL);
        need(sh__e2e_session_save(sh__e2e_active_session(a, b->account_pk, 1), seed()));
        break;
    case T_DEVICE_STATE:
        exchange(a, b, NULL);
        need(sh_e2e_device_save(a2, seed()));
        break;
    case T_LINK:
        need(sh_buf_append(seed(), code, strlen(code)));
        break;
    }
}

/* The devices live in sodium_malloc memory, which LeakSanitizer does not scan: free them at exit
 * so what they point to is not reported as leaked. */
static void free_world(void)
{
    sh_e2e_device_free(a);
    sh_e2e_device_free(b);
    sh_e2e_device_free(a2);
    for (size_t i = 0; i < n_seeds; i++)
        sh_buf_free(&seeds[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("SHOAL_FUZZ_WRITE_SEEDS");

    (void)argc;
    (void)argv;
    if (randombytes_set_implementation(&det_impl) != 0)
        abort();
    setup();
    atexit(free_world);
    if (FUZZ_TARGET == T_HEADER || FUZZ_TARGET == T_ENVELOPE)
        exchange(a, b, NULL), exchange(b, a, NULL);
    if (dir == NULL)
        return 0;
    make_seeds(FUZZ_TARGET);
    for (size_t i = 0; i < n_seeds; i++) {
        char path[4096];
        FILE *f;
        snprintf(path, sizeof path, "%s/seed-%zu", dir, i);
        f = fopen(path, "wb");
        if (f == NULL || fwrite(seeds[i].data, 1, seeds[i].len, f) != seeds[i].len || fclose(f) != 0)
            abort();
    }
    exit(0);
}

static void fuzz_envelope(const uint8_t *data, size_t size)
{
    sh_buf inner, env;
    sh_e2e_received got;

    if (size > SH_E2E_ENVELOPE_MAX_BYTES)
        return;
    sh_buf_init(&inner);
    sh_buf_init(&env);
    if (sh_buf_append(&inner, data, size) == SH_OK &&
        sh__e2e_seal(b->accounts[0]->list->envelope_ek, &inner, &env) == SH_OK &&
        sh_e2e_receive(b, env.data, env.len, NOW, &got) == SH_OK)
        sh_buf_free(&got.payload);
    sh_buf_free(&inner);
    sh_buf_free(&env);
}

static void fuzz_header(const uint8_t *data, size_t size)
{
    sh_e2e_session *s = sh__e2e_active_session(b, a->account_pk, 1);
    sh_e2e_header h;
    sh_e2e_hs_init init;
    uint8_t pt[4096];
    uint32_t epoch;

    if (size >= SH_E2E_HEADER_BYTES)
        (void)sh__e2e_header_decode(&h, data);
    if (size >= SH_E2E_INIT_BYTES)
        (void)sh__e2e_hs_init_decode(&init, data);
    if (s != NULL && size <= sizeof pt)
        (void)sh__e2e_session_decrypt(s, data, size, NULL, 0, NOW, pt, &epoch);
}

static void fuzz_link(const uint8_t *data, size_t size)
{
    char text[256];
    uint8_t acc[32], secret[16];
    char sas[SH_E2E_SAS_BYTES];

    if (size < sizeof text) {
        memcpy(text, data, size);
        text[size] = '\0';
        (void)sh__e2e_link_code_decode(acc, secret, text);
    }
    (void)sh_e2e_link_read_request(a, data, size, NOW, sas);
    a->link.requested = false; /* keep the code open for the next input */
    a->link.active = true;
    (void)sh_e2e_link_finish(a2, data, size, NOW);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    union {
        sh_e2e_devlist list;
        sh_e2e_bundle bundle;
        sh_token token;
        sh_revocations rl;
        sh_e2e_cert cert;
    } *u = malloc(sizeof *u);
    uint8_t seed32[32];
    uint32_t gen;

    if (u == NULL)
        return 0;
    switch (FUZZ_TARGET) {
    case T_DEVLIST:
        if (sh__e2e_devlist_parse(&u->list, data, size) == SH_OK)
            (void)sh_e2e_device_learn_list(b, data, size, NOW);
        break;
    case T_BUNDLE:
        if (sh__e2e_bundle_parse(&u->bundle, data, size) == SH_OK)
            (void)sh_e2e_device_learn_bundle(b, data, size, NOW);
        break;
    case T_TOKEN:
        (void)sh_token_parse(&u->token, data, size, NOW);
        (void)sh_token_allows(data, size, a->account_pk, NULL, 0, 2, SH_TOKEN_RIGHT_READ, NOW, NULL);
        break;
    case T_REVOCATIONS:
        (void)sh_revocations_parse(&u->rl, data, size);
        break;
    case T_CERT:
        (void)sh__e2e_cert_parse(&u->cert, data, size);
        break;
    case T_GRANT:
        (void)sh__e2e_grant_open(data, size, a->account_pk, a2->device_id, a2->x_sk, a2->x_pk,
                                 a2->mlkem_seed, &gen, seed32);
        break;
    case T_ENVELOPE:
        fuzz_envelope(data, size);
        break;
    case T_HEADER:
        fuzz_header(data, size);
        break;
    case T_SESSION_STATE: {
        sh_e2e_session *s;
        if (sh__e2e_session_load(&s, data, size) == SH_OK)
            sh__e2e_session_free(s);
        break;
    }
    case T_DEVICE_STATE: {
        sh_e2e_device *d;
        if (sh_e2e_device_load(&d, data, size) == SH_OK)
            sh_e2e_device_free(d);
        break;
    }
    case T_LINK:
        fuzz_link(data, size);
        break;
    }
    free(u);
    return 0;
}
