/* Fuzz target: RPC envelope decoding (proto/rpc.proto under wire/rpc.h's limits). The first
 * input byte picks RpcRequest (even) or RpcResponse (odd); the rest is the encoded envelope.
 * Whatever decodes must satisfy the limits the decoder promises, and the decoders, which leave
 * the body where it is, must agree with protobuf-c reading the whole envelope. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "crypto/crypto.h"
#include "net/envelope.h"
#include "util/buf.h"
#include "wire/rpc.h"

static void write_seeds(void)
{
    sh_frame_tx tx;
    sh_noise_cipher c = {.has_key = false}; /* unkeyed: the frame carries plaintext */
    sh_buf out;
    uint8_t seed[1 + 600];

    sh_buf_init(&out);
    sh__frame_tx_init(&tx, &c, 0, 0);
    if (sh__rpc_seal_request(&tx, &out, 7, "store.put", 1500, (const uint8_t *)"body", 4) != 0)
        abort();
    /* Skip the 2-byte length, the header byte and the (empty) tag of the unkeyed frame. */
    seed[0] = 0;
    memcpy(seed + 1, out.data + 3, out.len - 3 - SH_NOISE_TAG_BYTES);
    fuzz_write_seed("request", seed, 1 + out.len - 3 - SH_NOISE_TAG_BYTES);
    sh_buf_reset(&out);
    if (sh__rpc_seal_response(&tx, &out, 7, -9, "the caller may not do this", NULL, 0) != 0)
        abort();
    seed[0] = 1;
    memcpy(seed + 1, out.data + 3, out.len - 3 - SH_NOISE_TAG_BYTES);
    fuzz_write_seed("response", seed, 1 + out.len - 3 - SH_NOISE_TAG_BYTES);
    sh_buf_free(&out);
    /* Fields in any order, unknown ones, and two body fields (the last wins). */
    static const uint8_t fields[] = {0, 0x22, 1, 'a', 0x48, 0x39, 0x08, 0x07, 0x52, 1, 'z',
                                     0x12, 4, 'e', 'c', 'h', 'o', 0x5d, 1, 2, 3, 4,
                                     0x22, 2, 'b', 'c', 0x18, 0x64};
    fuzz_write_seed("request-fields", fields, sizeof fields);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (sh_crypto_init() != 0)
        abort();
    write_seeds();
    return 0;
}

static bool same_bytes(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

static void fuzz_request(const uint8_t *data, size_t size)
{
    sh_rpc_request rq, ref;
    int rc = sh__rpc_request_decode(data, size, &rq);
    int ref_rc = sh__rpc_request_decode_whole(data, size, &ref);

    if (rc != ref_rc)
        abort();
    if (rc != 0)
        return;
    if (rq.id == 0 || rq.body_len > SH_RPC_MAX_BODY_BYTES || rq.method == NULL)
        abort();
    if (sh__rpc_request_check(&rq) == 0 && strlen(rq.method) > SH_RPC_MAX_METHOD_BYTES)
        abort();
    if (rq.id != ref.id || strcmp(rq.method, ref.method) != 0 ||
        rq.deadline_ms != ref.deadline_ms ||
        !same_bytes(rq.body, rq.body_len, ref.body, ref.body_len))
        abort();
    sh__rpc_request_release(&rq);
    sh__rpc_request_release(&ref);
}

static void fuzz_response(const uint8_t *data, size_t size)
{
    sh_rpc_response rs, ref;
    int rc = sh__rpc_response_decode(data, size, &rs);
    int ref_rc = sh__rpc_response_decode_whole(data, size, &ref);

    if (rc != ref_rc)
        abort();
    if (rc != 0)
        return;
    if (rs.id == 0 || rs.status > 0 || rs.body_len > SH_RPC_MAX_BODY_BYTES ||
        strlen(rs.error_message) > SH_RPC_MAX_ERROR_MESSAGE_BYTES)
        abort();
    if (rs.id != ref.id || rs.status != ref.status ||
        strcmp(rs.error_message, ref.error_message) != 0 ||
        !same_bytes(rs.body, rs.body_len, ref.body, ref.body_len))
        abort();
    sh__rpc_response_release(&rs);
    sh__rpc_response_release(&ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] % 2 == 0)
        fuzz_request(data + 1, size - 1);
    else
        fuzz_response(data + 1, size - 1);
    return 0;
}
