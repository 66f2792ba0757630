/* Canonical protobuf and signed objects, shared by every module that signs or parses labelled
 * objects (identity, dir, e2e, node). A canonical encoding is the one protobuf-c writes: fields in
 * order, default values left out, no unknown fields. Decoders accept only that encoding (they
 * re-encode and compare), so that a signature covers one meaning and two parties that agree on
 * values agree on bytes. A signed object travels as `Signed {body, signature}` (proto/signed.proto)
 * whose body's field 1 is its label. */
#ifndef SH_WIRE_PB_H
#define SH_WIRE_PB_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signed.pb-c.h"
#include "util/buf.h"

#define SH_WIRE_WUR __attribute__((warn_unused_result))
#define SH_WIRE_SIG_BYTES 64 /* Ed25519 */

/* Appends the canonical encoding of m to out. */
int sh_wire_pack(const ProtobufCMessage *m, sh_buf *out) SH_WIRE_WUR;
/* Decodes and insists on the canonical form; SH_ERR_FORMAT otherwise, naming `what`. Free *out
 * with sh_wire_free (or sh_wire_free_secret when alloc is &sh_wire_secret_allocator). */
int sh_wire_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *in, size_t len,
                   const char *what, ProtobufCMessage **out) SH_WIRE_WUR;
int sh_wire_unpack_with(const ProtobufCMessageDescriptor *desc, const uint8_t *in, size_t len,
                        const char *what, ProtobufCAllocator *alloc, ProtobufCMessage **out)
    SH_WIRE_WUR;
/* Whether m or a message inside it carries fields this build does not know. */
bool sh_wire_has_unknown_fields(const ProtobufCMessage *m);
/* Frees a decoded message (NULL accepted). */
void sh_wire_free(void *msg);

/* For decoded messages that hold secrets: memory is wiped before it is freed. */
extern ProtobufCAllocator sh_wire_secret_allocator;
void sh_wire_free_secret(void *msg);

/* The label of a labelled message (its field 1, a string) must be `label`. SH_ERR_FORMAT. */
int sh_wire_check_label(const ProtobufCMessage *m, const char *label, const char *what)
    SH_WIRE_WUR;

/* Appends Signed{canonical body, Ed25519 signature by ed_sk (libsodium's 64-byte form)}. */
int sh_wire_sign_pack(const ProtobufCMessage *body, const uint8_t ed_sk[static 64], sh_buf *out)
    SH_WIRE_WUR;
/* Appends Signed{body bytes, signature} as they are. */
int sh_wire_pack_signed(const uint8_t *body, size_t len, const uint8_t sig[static SH_WIRE_SIG_BYTES],
                        sh_buf *out) SH_WIRE_WUR;
/* Decodes a Signed wrapper and its body (both canonical, label checked, 64-byte signature); the
 * signature is NOT checked yet: call sh_wire_verify with the key the body names. */
int sh_wire_open_signed(const ProtobufCMessageDescriptor *desc, const char *label,
                        const uint8_t *in, size_t len, const char *what, Shoal__Signed **outer,
                        ProtobufCMessage **body) SH_WIRE_WUR;
/* SH_ERR_CRYPTO unless outer's signature verifies under the Ed25519 key pk. */
int sh_wire_verify(const Shoal__Signed *outer, const uint8_t pk[static 32], const char *what)
    SH_WIRE_WUR;

/* A bytes field must have exactly `want` bytes (SH_ERR_FORMAT). */
int sh_wire_need_len(ProtobufCBinaryData b, size_t want, const char *what) SH_WIRE_WUR;
/* A bytes field that points at p (for encoding; the data is not copied). */
static inline ProtobufCBinaryData sh_wire_bin(const void *p, size_t len)
{
    ProtobufCBinaryData b = {len, (uint8_t *)(uintptr_t)p};
    return b;
}

#endif
