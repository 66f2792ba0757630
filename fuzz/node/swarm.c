/* Fuzz targets of the node's swarm protocol (docs/swarm.md "Replication", "Anti-entropy",
 * "Receipts"), one executable per input (FUZZ_TARGET picks it):
 *   node-push         a swarm.push body: decode, then every item's checks (a message's fields;
 *                     a delete or expire call's form and owner signature)
 *   node-antientropy  the first byte picks: a swarm.digest request, a swarm.fetch request, or
 *                     their answers (as the asking node decodes them)
 *   node-receipts     the first byte picks: receipts of a store answer, of a get_receipts
 *                     answer, of a push answer, or a WRONG_SWARM answer; every receipt decoded is
 *                     also checked against its signature
 * With FUZZ_WRITE_SEEDS=<dir> a target writes its seed corpus there (fuzz/corpus/node-*). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/join.h"
#include "storage.pb-c.h"
#include "wire/pb.h"

enum { T_PUSH = 1, T_AE, T_RECEIPTS };

static void write_seed(const char *name, const uint8_t *data, size_t len)
{
    const char *dir = getenv("FUZZ_WRITE_SEEDS");
    char path[512];
    FILE *f;

    if (dir == NULL)
        return;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if ((f = fopen(path, "wb")) != NULL) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

static void seed_pb(const char *name, uint8_t prefix, bool with_prefix, const ProtobufCMessage *m)
{
    sh_buf b;

    sh_buf_init(&b);
    if ((!with_prefix || sh_buf_append(&b, &prefix, 1) == SH_OK) && sh_wire_pack(m, &b) == SH_OK)
        write_seed(name, b.data, b.len);
    sh_buf_free(&b);
}

static void seeds(void)
{
    static uint8_t owner[33] = {5}, hash[32] = {1}, digest[32] = {2};
    sh_node_receipt r = {.ns = 0, .expiry_ms = 1700000000000LL, .map_version = 7};
    uint8_t pk[32], sk[64];
    Shoal__Swarm__Item it = SHOAL__SWARM__ITEM__INIT, *ip = &it;
    Shoal__Swarm__PushRequest push = SHOAL__SWARM__PUSH_REQUEST__INIT;
    Shoal__Swarm__Cell cell = SHOAL__SWARM__CELL__INIT, *cp = &cell;
    Shoal__Swarm__DigestRequest dr = SHOAL__SWARM__DIGEST_REQUEST__INIT;
    Shoal__Swarm__FetchRequest fr = SHOAL__SWARM__FETCH_REQUEST__INIT;
    Shoal__Swarm__Receipt rp, *rpp = &rp;
    Shoal__Swarm__ReceiptResponse rr = SHOAL__SWARM__RECEIPT_RESPONSE__INIT;
    Shoal__Storage__StoreResponse sr = SHOAL__STORAGE__STORE_RESPONSE__INIT;
    Shoal__Swarm__SwarmNode node = SHOAL__SWARM__SWARM_NODE__INIT, *np = &node;
    Shoal__Storage__ErrorResponse er = SHOAL__STORAGE__ERROR_RESPONSE__INIT;
    uint64_t bucket = 2833333;
    ProtobufCBinaryData have = {32, hash};

    it.owner = sh_wire_bin(owner, 33);
    it.timestamp_ms = 1700000000000ULL;
    it.expiry_ms = 1700003600000ULL;
    it.data = sh_wire_bin("hello", 5);
    push.n_items = 1;
    push.items = &ip;
    push.want_receipts = true;
    seed_pb("push", 0, false, &push.base);
    cell.bucket = bucket;
    cell.count = 3;
    cell.digest = sh_wire_bin(digest, 32);
    dr.range_end = UINT64_MAX;
    dr.n_cells = 1;
    dr.cells = &cp;
    seed_pb("digest", 0, true, &dr.base);
    fr.range_end = UINT64_MAX;
    fr.bucket_ms = 600000;
    fr.n_buckets = 1;
    fr.buckets = &bucket;
    fr.max_bytes = 65536;
    fr.n_have = 1;
    fr.have = &have;
    seed_pb("fetch", 1, true, &fr.base);
    crypto_sign_seed_keypair(pk, sk, digest);
    memcpy(r.node_id, pk, 32);
    memcpy(r.owner, owner, 33);
    memcpy(r.hash, hash, 32);
    sh_node_receipt_sign(&r, sk);
    sh__node_receipt_to_pb(&r, &rp);
    rr.n_receipts = 1;
    rr.receipts = &rpp;
    seed_pb("receipts", 1, true, &rr.base);
    sr.hash = sh_wire_bin(hash, 32);
    sr.outcome = 1;
    sr.n_receipts = 1;
    sr.receipts = &rpp;
    seed_pb("store-answer", 0, true, &sr.base);
    node.identity = sh_wire_bin(pk, 32);
    node.link_key = sh_wire_bin(digest, 32);
    node.address = "127.0.0.1:4433";
    er.map_version = 7;
    er.n_swarm = 1;
    er.swarm = &np;
    seed_pb("redirect", 3, true, &er.base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (sodium_init() < 0)
        abort();
    seeds();
    return 0;
}

static void fuzz_push(const uint8_t *data, size_t size)
{
    Shoal__Swarm__PushRequest *m = NULL;

    if (sh__node_push_parse(data, size, &m) != SH_OK)
        return;
    for (size_t i = 0; i < m->n_items; i++)
        (void)(m->items[i]->method[0] == '\0' ? sh__node_item_check_message(m->items[i])
                                               : sh__node_item_check_request(m->items[i]));
    sh_wire_free(m);
}

static void fuzz_ae(const uint8_t *data, size_t size)
{
    static const ProtobufCMessageDescriptor *const descs[4] = {
        &shoal__swarm__digest_request__descriptor, &shoal__swarm__fetch_request__descriptor,
        &shoal__swarm__digest_response__descriptor, &shoal__swarm__fetch_response__descriptor};
    ProtobufCMessage *m = NULL;
    unsigned which;

    if (size == 0)
        return;
    which = data[0] % 4;
    if (sh_wire_unpack(descs[which], data + 1, size - 1, "fuzz", &m) != SH_OK)
        return;
    if (which == 0)
        (void)sh__node_digest_check((Shoal__Swarm__DigestRequest *)m);
    else if (which == 1)
        (void)sh__node_fetch_check((Shoal__Swarm__FetchRequest *)m);
    else if (which == 3) {
        Shoal__Swarm__FetchResponse *f = (Shoal__Swarm__FetchResponse *)m;
        for (size_t i = 0; i < f->n_items; i++)
            (void)(f->items[i]->method[0] == '\0' ? sh__node_item_check_message(f->items[i])
                                                   : sh__node_item_check_request(f->items[i]));
    }
    sh_wire_free(m);
}

static void fuzz_receipts(const uint8_t *data, size_t size)
{
    sh_node_receipt r[SH_NODE_MAX_RECEIPTS];
    sh_node_swarm_member members[SH_NODE_MAX_REDIRECT];
    uint8_t msg[SH_NODE_RECEIPT_SIGNED_BYTES];
    size_t n = 0;
    uint64_t version;
    int rc;

    if (size == 0)
        return;
    switch (data[0] % 4) {
    case 0: rc = sh_node_receipts_parse(data + 1, size - 1, true, r, SH_NODE_MAX_RECEIPTS, &n); break;
    case 1: rc = sh_node_receipts_parse(data + 1, size - 1, false, r, SH_NODE_MAX_RECEIPTS, &n); break;
    case 2: rc = sh__node_receipts_parse_push(data + 1, size - 1, r, &n); break;
    default:
        (void)sh_node_redirect_parse(data + 1, size - 1, &version, members, SH_NODE_MAX_REDIRECT, &n);
        return;
    }
    for (size_t i = 0; rc == SH_OK && i < n; i++) {
        sh_node_receipt_message(&r[i], msg);
        (void)crypto_sign_verify_detached(r[i].signature, msg, sizeof msg, r[i].node_id);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (FUZZ_TARGET == T_PUSH)
        fuzz_push(data, size);
    else if (FUZZ_TARGET == T_AE)
        fuzz_ae(data, size);
    else
        fuzz_receipts(data, size);
    return 0;
}
