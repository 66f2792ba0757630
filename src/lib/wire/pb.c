/* Canonical protobuf encoding and signed objects (wire/pb.h). protobuf-c keeps unknown fields
 * and re-emits them, and accepts fields out of order, repeated, or with default values written
 * out; each of those gives a second encoding of the same values, so decoders refuse them by
 * re-encoding and comparing. */
#include "wire/pb.h"

#include <malloc.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

int sh_wire_pack(const ProtobufCMessage *m, sh_buf *out)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *p;
    int rc;

    if (len == 0)
        return SH_OK;
    rc = sh_buf_extend(out, len, &p);
    if (rc != SH_OK)
        return rc;
    if (protobuf_c_message_pack(m, p) != len)
        return sh_err_set(SH_ERR_INTERNAL, "protobuf-c packed a different size than it announced");
    return SH_OK;
}

bool sh_wire_has_unknown_fields(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const uint8_t *base = (const uint8_t *)m;

    if (m->n_unknown_fields != 0)
        return true;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];

        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t j = 0; j < n; j++)
                if (sh_wire_has_unknown_fields(v[j]))
                    return true;
        } else {
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)(base + f->offset);
            if (sub != NULL && sh_wire_has_unknown_fields(sub))
                return true;
        }
    }
    return false;
}

/* Decoded messages that hold secrets: glibc's malloc_usable_size gives a block's size, so the
 * whole block is wiped before it is freed. */
static void *wiping_alloc(void *data, size_t size)
{
    (void)data;
    return malloc(size);
}

static void wiping_free(void *data, void *p)
{
    (void)data;
    if (p != NULL)
        sodium_memzero(p, malloc_usable_size(p));
    free(p);
}

ProtobufCAllocator sh_wire_secret_allocator = {wiping_alloc, wiping_free, NULL};

void sh_wire_free_secret(void *msg)
{
    if (msg != NULL)
        protobuf_c_message_free_unpacked(msg, &sh_wire_secret_allocator);
}

void sh_wire_free(void *msg)
{
    if (msg != NULL)
        protobuf_c_message_free_unpacked(msg, NULL);
}

static int check_canonical(const ProtobufCMessage *m, const uint8_t *in, size_t len,
                           const char *what)
{
    uint8_t *again;
    int rc = SH_OK;

    if (sh_wire_has_unknown_fields(m))
        return sh_err_set(SH_ERR_FORMAT, "the %s has fields this version does not know", what);
    if (protobuf_c_message_get_packed_size(m) != len)
        return sh_err_set(SH_ERR_FORMAT, "the %s is not canonically encoded (fields repeated or "
                          "default values written out)", what);
    if (len == 0)
        return SH_OK;
    again = malloc(len);
    if (again == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory checking the %s", what);
    protobuf_c_message_pack(m, again);
    if (memcmp(again, in, len) != 0)
        rc = sh_err_set(SH_ERR_FORMAT, "the %s is not canonically encoded (fields out of order "
                        "or default values written out)", what);
    sodium_memzero(again, len);
    free(again);
    return rc;
}

int sh_wire_unpack_with(const ProtobufCMessageDescriptor *desc, const uint8_t *in, size_t len,
                        const char *what, ProtobufCAllocator *alloc, ProtobufCMessage **out)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, alloc, len, in);
    int rc;

    if (m == NULL)
        return sh_err_set(SH_ERR_FORMAT, "the %s is not a valid protobuf %s", what,
                          desc->short_name);
    rc = check_canonical(m, in, len, what);
    if (rc != SH_OK) {
        protobuf_c_message_free_unpacked(m, alloc);
        return rc;
    }
    *out = m;
    return SH_OK;
}

int sh_wire_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *in, size_t len,
                   const char *what, ProtobufCMessage **out)
{
    return sh_wire_unpack_with(desc, in, len, what, NULL, out);
}

int sh_wire_check_label(const ProtobufCMessage *m, const char *label, const char *what)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *got = NULL;

    if (d->n_fields > 0 && d->fields[0].id == 1 && d->fields[0].type == PROTOBUF_C_TYPE_STRING)
        got = *(const char *const *)((const uint8_t *)m + d->fields[0].offset);
    if (got == NULL || strcmp(got, label) != 0)
        return sh_err_set(SH_ERR_FORMAT, "the %s carries label \"%.40s\", expected \"%s\"", what,
                          got ? got : "", label);
    return SH_OK;
}

int sh_wire_pack_signed(const uint8_t *body, size_t len, const uint8_t sig[static SH_WIRE_SIG_BYTES],
                        sh_buf *out)
{
    Shoal__Signed s = SHOAL__SIGNED__INIT;

    s.body = sh_wire_bin(body, len);
    s.signature = sh_wire_bin(sig, SH_WIRE_SIG_BYTES);
    return sh_wire_pack(&s.base, out);
}

int sh_wire_sign_pack(const ProtobufCMessage *body, const uint8_t ed_sk[static 64], sh_buf *out)
{
    uint8_t sig[SH_WIRE_SIG_BYTES];
    sh_buf b;
    int rc;

    sh_buf_init(&b);
    rc = sh_wire_pack(body, &b);
    if (rc != SH_OK)
        goto done;
    crypto_sign_detached(sig, NULL, b.data, b.len, ed_sk);
    rc = sh_wire_pack_signed(b.data, b.len, sig, out);
done:
    sh_buf_free(&b);
    return rc;
}

int sh_wire_open_signed(const ProtobufCMessageDescriptor *desc, const char *label,
                        const uint8_t *in, size_t len, const char *what, Shoal__Signed **outer,
                        ProtobufCMessage **body)
{
    Shoal__Signed *s = NULL;
    ProtobufCMessage *b = NULL;
    int rc;

    rc = sh_wire_unpack(&shoal__signed__descriptor, in, len, what, (ProtobufCMessage **)&s);
    if (rc != SH_OK)
        return rc;
    if (s->signature.len != SH_WIRE_SIG_BYTES) {
        rc = sh_err_set(SH_ERR_FORMAT, "the %s's signature has %zu bytes, not 64", what,
                        s->signature.len);
        goto done;
    }
    if ((rc = sh_wire_unpack(desc, s->body.data, s->body.len, what, &b)) != SH_OK ||
        (rc = sh_wire_check_label(b, label, what)) != SH_OK)
        goto done;
    *outer = s;
    *body = b;
    s = NULL;
    b = NULL;
done:
    sh_wire_free(s);
    sh_wire_free(b);
    return rc;
}

int sh_wire_verify(const Shoal__Signed *outer, const uint8_t pk[static 32], const char *what)
{
    if (outer->signature.len != SH_WIRE_SIG_BYTES ||
        crypto_sign_verify_detached(outer->signature.data, outer->body.data, outer->body.len,
                                    pk) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "the %s's signature does not verify", what);
    return SH_OK;
}

int sh_wire_need_len(ProtobufCBinaryData b, size_t want, const char *what)
{
    if (b.len != want)
        return sh_err_set(SH_ERR_FORMAT, "%s has %zu bytes, expected %zu", what, b.len, want);
    return SH_OK;
}
