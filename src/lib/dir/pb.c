/* Canonical protobuf for signed directory objects (docs/directory.md "Encoding"): a decoder
 * accepts only the exact bytes our encoder would write for the same values, so that a
 * signature covers one meaning and two parties that agree on values agree on bytes.
 * protobuf-c keeps unknown fields and re-emits them, so those are refused explicitly. */
#include "dir/internal.h"

#include <string.h>

#include "util/err.h"

int sh__dir_pb_pack(const ProtobufCMessage *m, size_t max, sh_buf *out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *p;
    int rc;

    if (n > max)
        return sh_err_set(SH_ERR_LIMIT, "encoded %s is %zu bytes, more than the limit of %zu",
                          m->descriptor->short_name, n, max);
    sh_buf_reset(out);
    if (n == 0)
        return SH_OK;
    rc = sh_buf_extend(out, n, &p);
    if (rc != SH_OK)
        return rc;
    if (protobuf_c_message_pack(m, p) != n)
        return sh_err_set(SH_ERR_INTERNAL, "protobuf-c packed a different size than it announced");
    return SH_OK;
}

static bool has_unknown_fields(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;

    if (m->n_unknown_fields != 0)
        return true;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m;

        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *sub = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t j = 0; j < n; j++)
                if (has_unknown_fields(sub[j]))
                    return true;
        } else {
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)(base + f->offset);
            if (sub != NULL && has_unknown_fields(sub))
                return true;
        }
    }
    return false;
}

int sh__dir_pb_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *in, size_t len,
                      size_t max, const char *what, ProtobufCMessage **out)
{
    ProtobufCMessage *m = NULL;
    sh_buf again;
    int rc;

    sh_buf_init(&again);
    if (len > max)
        return sh_err_set(SH_ERR_LIMIT, "%s is %zu bytes, more than the limit of %zu", what, len, max);
    m = protobuf_c_message_unpack(desc, NULL, len, in);
    if (m == NULL) {
        rc = sh_err_set(SH_ERR_FORMAT, "%s is not a valid protobuf %s message", what, desc->short_name);
        goto done;
    }
    if (has_unknown_fields(m)) {
        rc = sh_err_set(SH_ERR_FORMAT, "%s has fields this version does not know", what);
        goto done;
    }
    rc = sh__dir_pb_pack(m, max, &again);
    if (rc != SH_OK)
        goto done;
    if (again.len != len || (len != 0 && memcmp(again.data, in, len) != 0)) {
        rc = sh_err_set(SH_ERR_FORMAT, "%s is not canonically encoded (fields out of order, "
                        "repeated, or default values written out)", what);
        goto done;
    }
    *out = m;
    m = NULL;
done:
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    sh_buf_free(&again);
    return rc;
}

int sh__dir_check_label(const char *got, const char *want, const char *what)
{
    if (strcmp(got, want) != 0)
        return sh_err_set(SH_ERR_FORMAT, "%s has label \"%.40s\", expected \"%s\"", what, got, want);
    return SH_OK;
}

int sh__dir_check_len(const ProtobufCBinaryData *b, size_t n, const char *what)
{
    if (b->len != n)
        return sh_err_set(SH_ERR_FORMAT, "%s is %zu bytes, expected %zu", what, b->len, n);
    return SH_OK;
}

int sh__dir_check_text(const char *s, size_t max, bool allow_empty, const char *what)
{
    size_t n = strlen(s);

    if (n == 0 && !allow_empty)
        return sh_err_set(SH_ERR_FORMAT, "%s is empty", what);
    if (n > max)
        return sh_err_set(SH_ERR_LIMIT, "%s is %zu characters, more than the limit of %zu", what, n, max);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return sh_err_set(SH_ERR_FORMAT, "%s has a character that is not printable ASCII "
                              "(byte 0x%02x at %zu)", what, (unsigned char)s[i], i);
    return SH_OK;
}

int sh__dir_check_time(uint64_t t, const char *what)
{
    if (t > (uint64_t)INT64_MAX)
        return sh_err_set(SH_ERR_RANGE, "%s (%llu) is out of range", what, (unsigned long long)t);
    return SH_OK;
}
