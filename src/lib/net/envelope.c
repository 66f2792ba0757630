/* RPC envelopes: protobuf-c packs them through a buffer that writes frames directly (one copy of
 * the body), and unpacks them with an allocator that wipes what it frees. */
#include "net/envelope.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.pb-c.h"
#include "util/err.h"
#include "wire/rpc.h"

/* A wiping allocator: each block remembers its size in front of it. */
#define BLOCK_HEADER_BYTES 16

static void *wipe_alloc(void *data, size_t size)
{
    uint8_t *p;

    (void)data;
    if (size > SIZE_MAX - BLOCK_HEADER_BYTES)
        return NULL;
    p = malloc(size + BLOCK_HEADER_BYTES);
    if (p == NULL)
        return NULL;
    memcpy(p, &size, sizeof size);
    return p + BLOCK_HEADER_BYTES;
}

static void wipe_free(void *data, void *ptr)
{
    uint8_t *p;
    size_t size;

    (void)data;
    if (ptr == NULL)
        return;
    p = (uint8_t *)ptr - BLOCK_HEADER_BYTES;
    memcpy(&size, p, sizeof size);
    sodium_memzero(p, size + BLOCK_HEADER_BYTES);
    free(p);
}

static ProtobufCAllocator wiping_allocator = {wipe_alloc, wipe_free, NULL};

bool sh__rpc_method_valid(const char *method)
{
    size_t n = 0;

    for (const char *c = method; *c != '\0'; c++, n++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' ||
                  *c == '.' || *c == '-';
        if (!ok || n >= SH_RPC_MAX_METHOD_BYTES)
            return false;
    }
    return n > 0;
}

/* A ProtobufCBuffer whose bytes go into frames. */
typedef struct frame_buffer {
    ProtobufCBuffer base;
    sh_frame_writer writer;
} frame_buffer;

static void frame_buffer_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
    frame_buffer *fb = (frame_buffer *)b;

    sh__frame_writer_append(&fb->writer, data, len);
}

static int seal_message(sh_frame_tx *tx, sh_buf *out, uint8_t type, const ProtobufCMessage *m)
{
    frame_buffer fb = {.base = {frame_buffer_append}};

    sh__frame_writer_begin(&fb.writer, tx, type, out, protobuf_c_message_get_packed_size(m));
    protobuf_c_message_pack_to_buffer(m, &fb.base);
    return sh__frame_writer_end(&fb.writer);
}

int sh__rpc_seal_request(sh_frame_tx *tx, sh_buf *out, uint64_t id, const char *method,
                         uint32_t deadline_ms, const uint8_t *body, size_t body_len)
{
    Shoal__RpcRequest m = SHOAL__RPC_REQUEST__INIT;

    m.id = id;
    m.method = (char *)method;
    m.deadline_ms = deadline_ms;
    m.body.data = (uint8_t *)body;
    m.body.len = body_len;
    return seal_message(tx, out, SH_FRAME_REQUEST, &m.base);
}

int sh__rpc_seal_response(sh_frame_tx *tx, sh_buf *out, uint64_t id, int status,
                          const char *error_message, const uint8_t *body, size_t body_len)
{
    Shoal__RpcResponse m = SHOAL__RPC_RESPONSE__INIT;
    char msg[SH_RPC_MAX_ERROR_MESSAGE_BYTES + 1];

    snprintf(msg, sizeof msg, "%s", error_message != NULL ? error_message : "");
    m.id = id;
    m.status = status;
    m.error_message = msg;
    m.body.data = (uint8_t *)body;
    m.body.len = body_len;
    return seal_message(tx, out, SH_FRAME_RESPONSE, &m.base);
}

int sh__rpc_request_decode(const uint8_t *data, size_t len, sh_rpc_request *out)
{
    Shoal__RpcRequest *m;

    if (len > SH_RPC_MAX_ENVELOPE_BYTES)
        return sh_err_set(SH_ERR_PROTOCOL, "a request of %zu bytes is over the %u-byte limit", len,
                          SH_RPC_MAX_ENVELOPE_BYTES);
    m = shoal__rpc_request__unpack(&wiping_allocator, len, data);
    if (m == NULL)
        return sh_err_set(SH_ERR_FORMAT, "a request of %zu bytes is not an RpcRequest", len);
    if (m->id == 0 || m->body.len > SH_RPC_MAX_BODY_BYTES) {
        uint64_t id = m->id;

        shoal__rpc_request__free_unpacked(m, &wiping_allocator);
        return sh_err_set(SH_ERR_PROTOCOL, "request %llu has id 0 or a body over %u bytes",
                          (unsigned long long)id, SH_RPC_MAX_BODY_BYTES);
    }
    out->id = m->id;
    out->method = m->method;
    out->deadline_ms = m->deadline_ms;
    out->body = m->body.data;
    out->body_len = m->body.len;
    out->owner_ = m;
    return SH_OK;
}

int sh__rpc_request_check(const sh_rpc_request *rq)
{
    if (!sh__rpc_method_valid(rq->method))
        return sh_err_set(SH_ERR_INVALID,
                          "method names are 1 to %u characters of a-z, 0-9, '_', '.' and '-'",
                          SH_RPC_MAX_METHOD_BYTES);
    if (rq->deadline_ms == 0 || rq->deadline_ms > SH_RPC_MAX_DEADLINE_MS)
        return sh_err_set(SH_ERR_INVALID, "deadline of %u ms is outside 1 to %u ms",
                          rq->deadline_ms, SH_RPC_MAX_DEADLINE_MS);
    return SH_OK;
}

void sh__rpc_request_release(sh_rpc_request *rq)
{
    if (rq->owner_ != NULL)
        shoal__rpc_request__free_unpacked(rq->owner_, &wiping_allocator);
    memset(rq, 0, sizeof *rq);
}

int sh__rpc_response_decode(const uint8_t *data, size_t len, sh_rpc_response *out)
{
    Shoal__RpcResponse *m;

    if (len > SH_RPC_MAX_ENVELOPE_BYTES)
        return sh_err_set(SH_ERR_PROTOCOL, "a response of %zu bytes is over the %u-byte limit",
                          len, SH_RPC_MAX_ENVELOPE_BYTES);
    m = shoal__rpc_response__unpack(&wiping_allocator, len, data);
    if (m == NULL)
        return sh_err_set(SH_ERR_FORMAT, "a response of %zu bytes is not an RpcResponse", len);
    if (m->id == 0 || m->status > 0 || m->body.len > SH_RPC_MAX_BODY_BYTES ||
        strlen(m->error_message) > SH_RPC_MAX_ERROR_MESSAGE_BYTES) {
        uint64_t id = m->id;

        shoal__rpc_response__free_unpacked(m, &wiping_allocator);
        return sh_err_set(SH_ERR_PROTOCOL,
                          "response %llu has id 0, a positive status or an oversized field",
                          (unsigned long long)id);
    }
    out->id = m->id;
    out->status = m->status;
    out->error_message = m->error_message;
    out->body = m->body.data;
    out->body_len = m->body.len;
    out->owner_ = m;
    return SH_OK;
}

void sh__rpc_response_release(sh_rpc_response *rs)
{
    if (rs->owner_ != NULL)
        shoal__rpc_response__free_unpacked(rs->owner_, &wiping_allocator);
    memset(rs, 0, sizeof *rs);
}
