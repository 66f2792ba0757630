/* RPC envelopes (proto/rpc.proto) on a link: sealing them straight into frames, and decoding and
 * checking received ones against the limits of wire/rpc.h. Internal to net. Decoded fields
 * live in memory that is wiped when released; bodies stay in the caller's (secret) buffer. */
#ifndef SH_NET_ENVELOPE_H
#define SH_NET_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/frame.h"

typedef struct sh_rpc_request {
    uint64_t id;
    const char *method;
    uint32_t deadline_ms;
    const uint8_t *body;
    size_t body_len;
    void *owner_; /* the decoded message */
} sh_rpc_request;

typedef struct sh_rpc_response {
    uint64_t id;
    int status;
    const char *error_message;
    const uint8_t *body;
    size_t body_len;
    void *owner_;
} sh_rpc_response;

/* Method names: 1 to SH_RPC_MAX_METHOD_BYTES characters of [a-z0-9_.-]. */
bool sh__rpc_method_valid(const char *method);

/* Appends the frames of an envelope to out. The caller has checked the limits. */
int sh__rpc_seal_request(sh_frame_tx *tx, sh_buf *out, uint64_t id, const char *method,
                         uint32_t deadline_ms, const uint8_t *body, size_t body_len)
    __attribute__((warn_unused_result));
/* error_message may be NULL; it is cut to SH_RPC_MAX_ERROR_MESSAGE_BYTES. */
int sh__rpc_seal_response(sh_frame_tx *tx, sh_buf *out, uint64_t id, int status,
                          const char *error_message, const uint8_t *body, size_t body_len)
    __attribute__((warn_unused_result));

/* Decoding. SH_ERR_FORMAT when the bytes are not an envelope, SH_ERR_PROTOCOL when a field
 * breaks a rule the peer cannot excuse (id 0, a positive status, an oversized field). A request
 * with a bad method name or deadline still decodes (the server answers it with an error);
 * sh__rpc_request_check says what is wrong with it. The body is not copied: it points into
 * data, which must outlive the decoded envelope. Release what decoded. */
int sh__rpc_request_decode(const uint8_t *data, size_t len, sh_rpc_request *out)
    __attribute__((warn_unused_result));
int sh__rpc_request_check(const sh_rpc_request *rq) __attribute__((warn_unused_result));
void sh__rpc_request_release(sh_rpc_request *rq);
int sh__rpc_response_decode(const uint8_t *data, size_t len, sh_rpc_response *out)
    __attribute__((warn_unused_result));
void sh__rpc_response_release(sh_rpc_response *rs);
/* Tests and fuzzing only: the same decoding with protobuf-c reading the whole envelope, body
 * included (copied), as a reference for the decoders above. */
int sh__rpc_request_decode_whole(const uint8_t *data, size_t len, sh_rpc_request *out)
    __attribute__((warn_unused_result));
int sh__rpc_response_decode_whole(const uint8_t *data, size_t len, sh_rpc_response *out)
    __attribute__((warn_unused_result));

#endif
