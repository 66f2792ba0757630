/* Canonical protobuf for signed directory objects (docs/directory.md "Encoding"): a decoder
 * accepts only the exact bytes our encoder would write for the same values, so that a
 * signature covers one meaning and two parties that agree on values agree on bytes. The
 * canonical check itself is wire's (wire/pb.h), shared with identity, e2e and node; here are the
 * directory's size limits and field checks. */
#include "dir/internal.h"

#include <string.h>

#include "util/err.h"
#include "wire/pb.h"

int sh__dir_pb_pack(const ProtobufCMessage *m, size_t max, sh_buf *out)
{
    size_t n = protobuf_c_message_get_packed_size(m);

    if (n > max)
        return sh_err_set(SH_ERR_LIMIT, "encoded %s is %zu bytes, more than the limit of %zu",
                          m->descriptor->short_name, n, max);
    sh_buf_reset(out);
    return sh_wire_pack(m, out);
}

int sh__dir_pb_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *in, size_t len,
                      size_t max, const char *what, ProtobufCMessage **out)
{
    if (len > max)
        return sh_err_set(SH_ERR_LIMIT, "%s is %zu bytes, more than the limit of %zu", what, len, max);
    return sh_wire_unpack(desc, in, len, what, out);
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
