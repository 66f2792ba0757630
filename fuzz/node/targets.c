/* Fuzz targets of the node module, one executable per input (FUZZ_TARGET picks it):
 *   node-store, node-retrieve, node-delete, node-expire   a call body for that method, through
 *       the whole check chain: decode, freshness and signature, authorization (with the token
 *       and a revocation list), proof of work, namespace-12 content
 *   node-verify   a Request body, signed here by a fixed account key, so that the checks after
 *       the signature (freshness, authorization, tokens, PoW) see inputs that pass it
 *   node-answers  the client's answer decoders (the first byte picks one)
 *   node-config   shoald's configuration file
 *   node-keyfile  shoald's key file
 * Fixed keys and time, so runs are reproducible. With FUZZ_WRITE_SEEDS=<dir> a target writes its
 * seed corpus there (fuzz/corpus/node-*). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/token.h"
#include "node/internal.h"
#include "storage.pb-c.h"
#include "wire/pb.h"

#define NOW 1700000000000LL

enum { T_STORE = 1, T_RETRIEVE, T_DELETE, T_EXPIRE, T_VERIFY, T_ANSWERS, T_CONFIG, T_KEYFILE };

static sh_account *account;
static uint8_t owner[33], dev_pk[32], dev_sk[64];
static sh_buf token, revocations;
static sh__node_keycache cache;

static void write_seed(const char *name, const uint8_t *data, size_t len)
{
    const char *dir = getenv("FUZZ_WRITE_SEEDS");
    char path[512];
    FILE *f;

    if (dir == NULL)
        return;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if ((f = fopen(path, "wb")) == NULL)
        return;
    fwrite(data, 1, len, f);
    fclose(f);
}

static void setup_keys(void)
{
    uint8_t seed[16] = {1, 2, 3}, dseed[32] = {4, 5, 6}, nonce[16] = {7};
    sh_token tok = {0};
    sh_revocations *rl = calloc(1, sizeof *rl);

    if (sh_identity_init() != SH_OK || rl == NULL || sh_account_from_seed(&account, seed) != SH_OK)
        abort();
    sh__node_keycache_init(&cache);
    sh_account_session_id(account, owner);
    crypto_sign_seed_keypair(dev_pk, dev_sk, dseed);
    memcpy(tok.account, sh_account_ed25519_pk(account), 32);
    memcpy(tok.device_ed25519_pk, dev_pk, 32);
    tok.device_id = 2;
    tok.grants[0] = (sh_token_grant){0, 5};
    tok.grants[1] = (sh_token_grant){2, 7};
    tok.n_grants = 2;
    tok.expires_ms = NOW + 1000000;
    memcpy(rl->account, tok.account, 32);
    memcpy(rl->ids[0], nonce, 16);
    rl->n = 1;
    sh_buf_init(&token);
    sh_buf_init(&revocations);
    if (sh_token_sign(&tok, account, &token) != SH_OK ||
        sh_revocations_sign(rl, account, &revocations) != SH_OK)
        abort();
    free(rl);
}

/* The checks a node runs on a call, in its order (handlers.c), minus the store. */
static void check_call(const uint8_t *body, size_t len, sh_node_method m)
{
    sh_node_parsed *p;
    const sh_node_request *r;

    if (sh_node_request_parse(body, len, m, &p) != SH_OK)
        return;
    r = sh_node_parsed_request(p);
    if (sh_node_request_verify(p, r->timestamp_ms) == SH_OK) {
        (void)sh__node_authorize(r, NULL, 0, NOW, NULL);
        (void)sh__node_authorize(r, revocations.data, revocations.len, NOW, &cache);
        (void)sh__node_check_pow(r, 4);
        (void)sh__node_check_content(r, &cache);
    }
    (void)sh_node_request_verify(p, NOW);
    sh_node_parsed_free(p);
}

static void seed_calls(void)
{
    static const char *const names[] = {NULL, "store", "retrieve", "delete", "expire"};
    uint8_t nonce[16] = {9}, h[2][32] = {{1}, {2}};
    sh_node_signer me = {.account = account};
    sh_node_signer dev = {.device_sk = dev_sk, .token = token.data, .token_len = token.len};
    sh_node_request r[] = {
        {.method = SH_NODE_STORE, .ns = 2, .data = (const uint8_t *)"data", .data_len = 4,
         .ttl_ms = 1000},
        {.method = SH_NODE_RETRIEVE, .ns = 0, .max_count = 10, .max_bytes = 1000, .wait_ms = 5,
         .lookback = true, .after = {.timestamp_ms = NOW - 5, .hash = {3}}},
        {.method = SH_NODE_DELETE, .ns = 0, .hashes = (const uint8_t(*)[32])h, .n_hashes = 2},
        {.method = SH_NODE_EXPIRE, .ns = 2, .hashes = (const uint8_t(*)[32])h, .n_hashes = 1,
         .expiry_ms = NOW + 10, .mode = SH_STORE_EXPIRE_SHORTEN_ONLY},
        {.method = SH_NODE_STORE, .ns = 0, .data = (const uint8_t *)"inbox", .data_len = 5,
         .ttl_ms = 1000},
        {.method = SH_NODE_STORE, .ns = 12, .data = revocations.data, .data_len = revocations.len,
         .ttl_ms = 1000},
        {.method = SH_NODE_DELETE, .ns = 4, .before_ms = NOW},
    };
    char name[64];
    sh_buf b;

    sh_buf_init(&b);
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        for (int who = 0; who < 3; who++) {
            memcpy(r[i].owner, owner, 33);
            r[i].timestamp_ms = NOW;
            sh_buf_reset(&b);
            if (sh__node_request_encode_nonce(&r[i], who == 0 ? &me : who == 1 ? &dev : NULL,
                                              nonce, &b) != SH_OK)
                abort();
            snprintf(name, sizeof name, "%zu-%s", i, who == 0 ? "owner" : who == 1 ? "token" : "anon");
            if (FUZZ_TARGET == (int)r[i].method) {
                write_seed(name, b.data, b.len);
            } else if (FUZZ_TARGET == T_VERIFY && who == 0) {
                /* The Request body inside the Signed wrapper. */
                Shoal__Signed *s = shoal__signed__unpack(NULL, b.len, b.data);
                snprintf(name, sizeof name, "%zu-%s", i, names[r[i].method]);
                write_seed(name, s->body.data, s->body.len);
                shoal__signed__free_unpacked(s, NULL);
            }
        }
    sh_buf_free(&b);
}

/* node-verify: signs the input as a Request body with the account key, tries every method. */
static void verify_any(const uint8_t *data, size_t size)
{
    uint8_t sig[64];
    sh_buf b;

    sh_buf_init(&b);
    if (sh_account_sign(account, sig, data, size) == SH_OK &&
        sh_wire_pack_signed(data, size, sig, &b) == SH_OK)
        for (int m = SH_NODE_STORE; m <= SH_NODE_EXPIRE; m++)
            check_call(b.data, b.len, (sh_node_method)m);
    sh_buf_free(&b);
}

static void seed_answers(void)
{
    Shoal__Storage__RetrieveResponse rr = SHOAL__STORAGE__RETRIEVE_RESPONSE__INIT;
    Shoal__Storage__Message msg = SHOAL__STORAGE__MESSAGE__INIT, *mp = &msg;
    Shoal__Storage__Cursor next = SHOAL__STORAGE__CURSOR__INIT;
    Shoal__Storage__StoreResponse st = SHOAL__STORAGE__STORE_RESPONSE__INIT;
    Shoal__Storage__DeleteResponse de = SHOAL__STORAGE__DELETE_RESPONSE__INIT;
    Shoal__Storage__InfoResponse in = SHOAL__STORAGE__INFO_RESPONSE__INIT;
    Shoal__Storage__StatsResponse sr = SHOAL__STORAGE__STATS_RESPONSE__INIT;
    uint8_t h[32] = {1}, key[32] = {2};
    protobuf_c_boolean flags[2] = {1, 0};
    const ProtobufCMessage *all[] = {&st.base, &rr.base, &de.base, &de.base, &in.base, &sr.base,
                                     &sr.base};
    char name[16];
    sh_buf b;

    msg.hash = next.hash = st.hash = sh_wire_bin(h, 32);
    msg.timestamp_ms = next.timestamp_ms = NOW;
    msg.data = sh_wire_bin("data", 4);
    rr.node_time_ms = st.node_time_ms = de.node_time_ms = in.node_time_ms = NOW;
    rr.n_messages = 1;
    rr.messages = &mp;
    rr.next = &next;
    st.outcome = 1;
    de.count = 1;
    de.n_deleted = 2;
    de.deleted = flags;
    in.version = (char *)"0.1.0";
    in.identity_key = in.link_key = sh_wire_bin(key, 32);
    in.pow_bits = 12;
    sr.text = (char *)"shoal_node_pow_bits 12\n";
    sh_buf_init(&b);
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        sh_buf_reset(&b);
        if (sh_buf_append_u8(&b, (uint8_t)i) != SH_OK || sh_wire_pack(all[i], &b) != SH_OK)
            abort();
        snprintf(name, sizeof name, "answer-%zu", i);
        write_seed(name, b.data, b.len);
    }
    sh_buf_free(&b);
}

static void answers(const uint8_t *data, size_t size)
{
    sh_node_stored st;
    sh_node_page page;
    sh_node_changed ch;
    sh_node_info info;
    sh_buf text;
    int64_t t;
    uint32_t bits;

    if (size < 1)
        return;
    (void)sh_node_answer_time(data + 1, size - 1, &t, &bits);
    switch (data[0] % 7) {
    case 0:
        (void)sh_node_stored_parse(data + 1, size - 1, &st);
        break;
    case 1:
        if (sh_node_page_parse(data + 1, size - 1, owner, 0, &page) == SH_OK)
            sh_node_page_free(&page);
        break;
    case 2:
    case 3:
        if (sh_node_changed_parse(data + 1, size - 1, data[0] % 7 == 2 ? SH_NODE_DELETE
                                                                        : SH_NODE_EXPIRE,
                                  &ch) == SH_OK)
            sh_node_changed_free(&ch);
        break;
    case 4:
        (void)sh_node_info_parse(data + 1, size - 1, &info);
        break;
    default:
        sh_buf_init(&text);
        (void)sh_node_stats_parse(data + 1, size - 1, &text);
        sh_buf_free(&text);
        break;
    }
}

static void seed_files(void)
{
    static const char conf[] = "# shoald\nlisten = 0.0.0.0\nport = 4433\ndata-dir = /var/lib/shoald\n"
                               "log_level = info\npow_bits = 12\nmax_wait_ms = 30000\n";
    sh_node_keys *k;
    sh_buf b;

    if (FUZZ_TARGET == T_CONFIG)
        write_seed("config", (const uint8_t *)conf, sizeof conf - 1);
    if (FUZZ_TARGET != T_KEYFILE)
        return;
    sh_buf_init(&b);
    if (sh_node_keys_generate(&k) != SH_OK || sh_node_keys_encode(k, &b) != SH_OK)
        abort();
    write_seed("keyfile", b.data, b.len);
    sh_node_keys_free(k);
    sh_buf_free(&b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setup_keys();
    seed_calls();
    if (FUZZ_TARGET == T_ANSWERS)
        seed_answers();
    seed_files();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sh_node_config cfg;
    sh_node_keys *k;

    switch (FUZZ_TARGET) {
    case T_STORE:
    case T_RETRIEVE:
    case T_DELETE:
    case T_EXPIRE:
        check_call(data, size, (sh_node_method)FUZZ_TARGET);
        break;
    case T_VERIFY:
        verify_any(data, size);
        break;
    case T_ANSWERS:
        answers(data, size);
        break;
    case T_CONFIG:
        sh_node_config_default(&cfg);
        (void)sh_node_config_parse(&cfg, (const char *)data, size);
        break;
    case T_KEYFILE:
        if (sh_node_keys_decode(data, size, &k) == SH_OK)
            sh_node_keys_free(k);
        break;
    }
    return 0;
}
