/* Canonical, labelled, signed protobuf objects (docs/protocol-v2.md, "Signed objects"): a body is
 * the proto3 encoding of a message whose field 1 is its label; the Signed wrapper carries the body
 * bytes and an Ed25519 signature over exactly them. Decoding insists on the canonical form: the
 * bytes must re-encode identically and carry no unknown fields, so one object has one encoding. */
#include "e2e/internal.h"

#include <malloc.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hkdf.h"
#include "util/err.h"

int sh__e2e_pack(const ProtobufCMessage *m, sh_buf *out)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *p;
    int rc = sh_buf_extend(out, len, &p);

    if (rc != SH_OK)
        return rc;
    if (protobuf_c_message_pack(m, p) != len)
        return sh_err_set(SH_ERR_INTERNAL, "protobuf packing gave an unexpected size");
    return SH_OK;
}

int sh__e2e_sign_pack(const ProtobufCMessage *body, const uint8_t ed_sk[static 64], sh_buf *out)
{
    Shoal__E2e__Signed s = SHOAL__E2E__SIGNED__INIT;
    uint8_t sig[SH_E2E_SIG_BYTES];
    sh_buf b;
    int rc;

    sh_buf_init(&b);
    rc = sh__e2e_pack(body, &b);
    if (rc != SH_OK)
        goto done;
    crypto_sign_detached(sig, NULL, b.data, b.len, ed_sk);
    s.body = sh__e2e_bin(b.data, b.len);
    s.signature = sh__e2e_bin(sig, sizeof sig);
    rc = sh__e2e_pack(&s.base, out);
done:
    sh_buf_free(&b);
    return rc;
}

int sh__e2e_sign_pack_account(const ProtobufCMessage *body, const sh_account *account, sh_buf *out)
{
    Shoal__E2e__Signed s = SHOAL__E2E__SIGNED__INIT;
    uint8_t sig[SH_E2E_SIG_BYTES];
    sh_buf b;
    int rc;

    sh_buf_init(&b);
    if ((rc = sh__e2e_pack(body, &b)) != SH_OK ||
        (rc = sh_account_sign(account, sig, b.data, b.len)) != SH_OK)
        goto done;
    s.body = sh__e2e_bin(b.data, b.len);
    s.signature = sh__e2e_bin(sig, sizeof sig);
    rc = sh__e2e_pack(&s.base, out);
done:
    sh_buf_free(&b);
    return rc;
}

static bool has_unknown_fields(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;

    if (m->n_unknown_fields != 0)
        return true;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const uint8_t *base = (const uint8_t *)m;

        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t j = 0; j < n; j++)
                if (has_unknown_fields(v[j]))
                    return true;
        } else {
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)(base + f->offset);
            if (sub != NULL && has_unknown_fields(sub))
                return true;
        }
    }
    return false;
}

/* An allocator for decoded messages that hold secrets (saved state): memory is wiped before it
 * is freed (glibc's malloc_usable_size gives the block's size). */
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

ProtobufCAllocator sh__e2e_secret_allocator = {wiping_alloc, wiping_free, NULL};

void sh__e2e_free_secret(void *msg)
{
    if (msg != NULL)
        protobuf_c_message_free_unpacked(msg, &sh__e2e_secret_allocator);
}

int sh__e2e_unpack_with(const ProtobufCMessageDescriptor *desc, const uint8_t *in, size_t len,
                        const char *what, ProtobufCAllocator *alloc, ProtobufCMessage **out)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, alloc, len, in);
    uint8_t *again = NULL;
    int rc = SH_OK;

    if (m == NULL)
        return sh_err_set(SH_ERR_FORMAT, "the %s is not a valid protobuf %s", what, desc->short_name);
    if (has_unknown_fields(m)) {
        rc = sh_err_set(SH_ERR_FORMAT, "the %s has fields this version does not know", what);
        goto done;
    }
    if (protobuf_c_message_get_packed_size(m) != len) {
        rc = sh_err_set(SH_ERR_FORMAT, "the %s is not in canonical form (length differs)", what);
        goto done;
    }
    again = malloc(len ? len : 1);
    if (again == NULL) {
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory checking the %s", what);
        goto done;
    }
    protobuf_c_message_pack(m, again);
    if (len != 0 && memcmp(again, in, len) != 0) {
        rc = sh_err_set(SH_ERR_FORMAT, "the %s is not in canonical form (field order or defaults)",
                        what);
        goto done;
    }
    *out = m;
    m = NULL;
done:
    if (again != NULL)
        sodium_memzero(again, len);
    free(again);
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, alloc);
    return rc;
}

int sh__e2e_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *in, size_t len,
                   const char *what, ProtobufCMessage **out)
{
    return sh__e2e_unpack_with(desc, in, len, what, NULL, out);
}

void sh__e2e_free(void *msg)
{
    if (msg != NULL)
        protobuf_c_message_free_unpacked(msg, NULL);
}

int sh__e2e_open_signed(const ProtobufCMessageDescriptor *desc, const char *label,
                        const uint8_t *in, size_t len, const char *what,
                        Shoal__E2e__Signed **outer, ProtobufCMessage **body)
{
    Shoal__E2e__Signed *s = NULL;
    ProtobufCMessage *b = NULL;
    const char *got;
    int rc;

    rc = sh__e2e_unpack(&shoal__e2e__signed__descriptor, in, len, what, (ProtobufCMessage **)&s);
    if (rc != SH_OK)
        return rc;
    if (s->signature.len != SH_E2E_SIG_BYTES) {
        rc = sh_err_set(SH_ERR_FORMAT, "the %s's signature has %zu bytes, not 64", what,
                        s->signature.len);
        goto done;
    }
    rc = sh__e2e_unpack(desc, s->body.data, s->body.len, what, &b);
    if (rc != SH_OK)
        goto done;
    /* Field 1 of every labelled message is its label (a string). */
    got = *(const char *const *)((const uint8_t *)b + desc->fields[0].offset);
    if (desc->fields[0].id != 1 || got == NULL || strcmp(got, label) != 0) {
        rc = sh_err_set(SH_ERR_FORMAT, "the %s carries label \"%.40s\", expected \"%s\"", what,
                        got ? got : "", label);
        goto done;
    }
    *outer = s;
    *body = b;
    s = NULL;
    b = NULL;
done:
    sh__e2e_free(s);
    sh__e2e_free(b);
    return rc;
}

int sh__e2e_verify(const Shoal__E2e__Signed *outer, const uint8_t pk[static 32], const char *what)
{
    if (crypto_sign_verify_detached(outer->signature.data, outer->body.data, outer->body.len, pk) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "the %s's signature does not verify", what);
    return SH_OK;
}

int sh__e2e_need_len(ProtobufCBinaryData b, size_t want, const char *what)
{
    if (b.len != want)
        return sh_err_set(SH_ERR_FORMAT, "%s has %zu bytes, expected %zu", what, b.len, want);
    return SH_OK;
}

int sh__e2e_kdf(uint8_t *out, size_t out_len, const uint8_t *salt, size_t salt_len,
                const uint8_t *ikm, size_t ikm_len, const char *label, const uint8_t *ctx,
                size_t ctx_len)
{
    uint8_t info[256];
    size_t label_len = strlen(label);

    if (label_len + ctx_len > sizeof info)
        return sh_err_set(SH_ERR_INTERNAL, "KDF context too long");
    memcpy(info, label, label_len);
    if (ctx_len != 0)
        memcpy(info + label_len, ctx, ctx_len);
    return sh_hkdf_sha256(out, out_len, salt, salt_len, ikm, ikm_len, info, label_len + ctx_len);
}
