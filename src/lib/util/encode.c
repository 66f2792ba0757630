/* Strict hex and base64 codecs on top of libsodium's constant-time implementations. */
#include "util/encode.h"

#include <sodium.h>
#include <string.h>

#include "util/err.h"

int sh_hex_encode(char *out, size_t out_size, const uint8_t *in, size_t len)
{
    if (len > (SIZE_MAX - 1) / 2 || out_size < 2 * len + 1)
        return sh_err_set(SH_ERR_INVALID, "hex output buffer too small for %zu bytes", len);
    sodium_bin2hex(out, out_size, in, len);
    return SH_OK;
}

int sh_hex_decode(uint8_t *out, size_t len, const char *hex)
{
    size_t hex_len = strlen(hex), bin_len = 0;
    const char *end = NULL;

    if (hex_len != 2 * len)
        return sh_err_set(SH_ERR_FORMAT, "expected %zu hex digits, got %zu", 2 * len, hex_len);
    if (len == 0)
        return SH_OK;
    if (sodium_hex2bin(out, len, hex, hex_len, NULL, &bin_len, &end) != 0 || bin_len != len ||
        (end != NULL && *end != '\0'))
        return sh_err_set(SH_ERR_FORMAT, "'%.16s%s' is not valid hex", hex, hex_len > 16 ? "..." : "");
    return SH_OK;
}

int sh_hex_decode_buf(sh_buf *out, const char *hex)
{
    size_t hex_len = strlen(hex);
    uint8_t *p;
    int rc;

    if (hex_len % 2 != 0)
        return sh_err_set(SH_ERR_FORMAT, "hex string has an odd number of digits (%zu)", hex_len);
    sh_buf_reset(out);
    rc = sh_buf_extend(out, hex_len / 2, &p);
    if (rc != SH_OK)
        return rc;
    return sh_hex_decode(p, hex_len / 2, hex);
}

size_t sh_base64_encoded_len(size_t len)
{
    return sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
}

int sh_base64_encode(char *out, size_t out_size, const uint8_t *in, size_t len)
{
    if (out_size < sh_base64_encoded_len(len))
        return sh_err_set(SH_ERR_INVALID, "base64 output buffer too small for %zu bytes", len);
    sodium_bin2base64(out, out_size, in, len, sodium_base64_VARIANT_ORIGINAL);
    return SH_OK;
}

int sh_base64_decode_buf(sh_buf *out, const char *b64)
{
    size_t b64_len = strlen(b64), bin_len = 0;
    const char *end = NULL;
    uint8_t *p;
    int rc;

    sh_buf_reset(out);
    rc = sh_buf_reserve(out, b64_len / 4 * 3 + 3);
    if (rc != SH_OK)
        return rc;
    p = out->data;
    if (sodium_base642bin(p, out->cap, b64, b64_len, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        (end != NULL && *end != '\0'))
        return sh_err_set(SH_ERR_FORMAT, "not valid base64");
    out->len = bin_len;
    return SH_OK;
}
