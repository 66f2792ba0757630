/* RPC envelopes: protobuf-c packs them through a buffer that writes frames directly (one copy of
 * the body), and unpacks them with an allocator that wipes what it frees; the body is not
 * copied on the way in: protobuf-c reads every field but the body, which stays where it was
 * opened. */
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

/* Decoding ------------------------------------------------------------------------------------ */

/* The protobuf wire format (protobuf.dev/programming-guides/encoding): a field is a varint key,
 * field number << 3 | wire type, then a varint (type 0), 8 bytes (1), a varint length and that
 * many bytes (2) or 4 bytes (5). The body is field 4 of both envelopes. */
#define PB_BODY_FIELD 4u
#define PB_VARINT 0u
#define PB_FIXED64 1u
#define PB_LEN 2u
#define PB_FIXED32 5u
#define PB_MAX_KEY_BYTES 5u /* protobuf-c reads keys and lengths of at most 5 bytes */
#define PB_MAX_VARINT_BYTES 10u

static bool pb_varint(const uint8_t **p, const uint8_t *end, unsigned max_bytes, uint64_t *v)
{
    uint64_t x = 0;

    for (unsigned i = 0; i < max_bytes && *p < end; i++) {
        uint8_t b = *(*p)++;

        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* Walks the fields of an envelope: the last body field stays in data (*body, *body_len) and
 * every other field is copied to rest, in order, for protobuf-c. False when the bytes do not
 * walk cleanly (a key or length over 5 bytes, field 0, a group, a value past the end): then
 * protobuf-c judges the whole envelope. */
static bool split_body(const uint8_t *data, size_t len, sh_buf *rest, const uint8_t **body,
                       size_t *body_len)
{
    const uint8_t *p = data, *end = data + len;

    *body = NULL;
    *body_len = 0;
    while (p < end) {
        const uint8_t *field = p, *value;
        uint64_t key, n;

        if (!pb_varint(&p, end, PB_MAX_KEY_BYTES, &key) || key >> 3 == 0)
            return false;
        switch (key & 7) {
        case PB_VARINT:
            if (!pb_varint(&p, end, PB_MAX_VARINT_BYTES, &n))
                return false;
            break;
        case PB_FIXED64:
        case PB_FIXED32:
            n = (key & 7) == PB_FIXED64 ? 8 : 4;
            if (n > (size_t)(end - p))
                return false;
            p += n;
            break;
        case PB_LEN:
            if (!pb_varint(&p, end, PB_MAX_KEY_BYTES, &n) || n > (size_t)(end - p))
                return false;
            value = p;
            p += n;
            if (key >> 3 == PB_BODY_FIELD) {
                *body = value;
                *body_len = (size_t)n;
                continue;
            }
            break;
        default:
            return false;
        }
        if (sh_buf_append(rest, field, (size_t)(p - field)) != SH_OK)
            return false;
    }
    return true;
}

/* protobuf-c unpacks the envelope but its body: *body points into data, or into the message
 * when the envelope is unpacked whole (then body_of reads it there). */
static ProtobufCMessage *unpack_envelope(const ProtobufCMessageDescriptor *desc,
                                         const uint8_t *data, size_t len, bool whole,
                                         const uint8_t **body, size_t *body_len,
                                         ProtobufCBinaryData *(*body_of)(ProtobufCMessage *))
{
    ProtobufCMessage *m;
    ProtobufCBinaryData *b;
    sh_buf rest;

    sh_buf_init_secret(&rest);
    if (!whole && split_body(data, len, &rest, body, body_len)) {
        m = protobuf_c_message_unpack(desc, &wiping_allocator, rest.len, rest.data);
    } else {
        m = protobuf_c_message_unpack(desc, &wiping_allocator, len, data);
        if (m != NULL) {
            b = body_of(m);
            *body = b->data;
            *body_len = b->len;
        }
    }
    sh_buf_free(&rest);
    return m;
}

static ProtobufCBinaryData *request_body(ProtobufCMessage *m)
{
    return &((Shoal__RpcRequest *)m)->body;
}

static ProtobufCBinaryData *response_body(ProtobufCMessage *m)
{
    return &((Shoal__RpcResponse *)m)->body;
}

static int request_decode(const uint8_t *data, size_t len, bool whole, sh_rpc_request *out)
{
    Shoal__RpcRequest *m;
    const uint8_t *body;
    size_t body_len;

    if (len > SH_RPC_MAX_ENVELOPE_BYTES)
        return sh_err_set(SH_ERR_PROTOCOL, "a request of %zu bytes is over the %u-byte limit", len,
                          SH_RPC_MAX_ENVELOPE_BYTES);
    m = (Shoal__RpcRequest *)unpack_envelope(&shoal__rpc_request__descriptor, data, len, whole,
                                             &body, &body_len, request_body);
    if (m == NULL)
        return sh_err_set(SH_ERR_FORMAT, "a request of %zu bytes is not an RpcRequest", len);
    if (m->id == 0 || body_len > SH_RPC_MAX_BODY_BYTES) {
        uint64_t id = m->id;

        shoal__rpc_request__free_unpacked(m, &wiping_allocator);
        return sh_err_set(SH_ERR_PROTOCOL, "request %llu has id 0 or a body over %u bytes",
                          (unsigned long long)id, SH_RPC_MAX_BODY_BYTES);
    }
    out->id = m->id;
    out->method = m->method;
    out->deadline_ms = m->deadline_ms;
    out->body = body;
    out->body_len = body_len;
    out->owner_ = m;
    return SH_OK;
}

int sh__rpc_request_decode(const uint8_t *data, size_t len, sh_rpc_request *out)
{
    return request_decode(data, len, false, out);
}

int sh__rpc_request_decode_whole(const uint8_t *data, size_t len, sh_rpc_request *out)
{
    return request_decode(data, len, true, out);
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

static int response_decode(const uint8_t *data, size_t len, bool whole, sh_rpc_response *out)
{
    Shoal__RpcResponse *m;
    const uint8_t *body;
    size_t body_len;

    if (len > SH_RPC_MAX_ENVELOPE_BYTES)
        return sh_err_set(SH_ERR_PROTOCOL, "a response of %zu bytes is over the %u-byte limit",
                          len, SH_RPC_MAX_ENVELOPE_BYTES);
    m = (Shoal__RpcResponse *)unpack_envelope(&shoal__rpc_response__descriptor, data, len, whole,
                                              &body, &body_len, response_body);
    if (m == NULL)
        return sh_err_set(SH_ERR_FORMAT, "a response of %zu bytes is not an RpcResponse", len);
    if (m->id == 0 || m->status > 0 || body_len > SH_RPC_MAX_BODY_BYTES ||
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
    out->body = body;
    out->body_len = body_len;
    out->owner_ = m;
    return SH_OK;
}

int sh__rpc_response_decode(const uint8_t *data, size_t len, sh_rpc_response *out)
{
    return response_decode(data, len, false, out);
}

int sh__rpc_response_decode_whole(const uint8_t *data, size_t len, sh_rpc_response *out)
{
    return response_decode(data, len, true, out);
}

void sh__rpc_response_release(sh_rpc_response *rs)
{
    if (rs->owner_ != NULL)
        shoal__rpc_response__free_unpacked(rs->owner_, &wiping_allocator);
    memset(rs, 0, sizeof *rs);
}
