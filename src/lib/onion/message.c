/* What travels inside onion packets (docs/onion.md "Requests, answers and relay errors"): the RPC
 * request the destination runs, its answer, and the error block a relay sends back when its next
 * hop failed. All three are parsed from untrusted bytes (fuzz target fuzz-onion-message). */
#include "onion/onion.h"

#include <sodium.h>
#include <string.h>

#include "onion/internal.h"
#include "util/err.h"

#define RELAY_ERROR_BLOCK SH_ONION_BUCKET_1K
#define RELAY_ERROR_HEAD (SH_ONION_RELAY_ERROR_MAGIC_BYTES + 4 + 2)
_Static_assert(sizeof SH_ONION_RELAY_ERROR_MAGIC - 1 == SH_ONION_RELAY_ERROR_MAGIC_BYTES,
               "the magic fills its field");
_Static_assert(RELAY_ERROR_HEAD + SH_ONION_ERROR_MESSAGE_MAX_BYTES <= RELAY_ERROR_BLOCK,
               "an error with the longest message fits in the smallest bucket");

static bool name_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '.' || s[i] == '-'))
            return false;
    return true;
}

int sh_onion_request_encode(const char *service, const char *method, const uint8_t *body,
                            size_t len, sh_buf *out)
{
    size_t sl = strlen(service), ml = strlen(method);
    int rc;

    if (sl > SH_ONION_SERVICE_MAX_BYTES || !name_ok(service, sl))
        return sh_err_set(SH_ERR_INVALID, "service name \"%.64s\" is not 0-64 of [a-z0-9_.-]",
                          service);
    if (ml == 0 || ml > SH_ONION_METHOD_MAX_BYTES || !name_ok(method, ml))
        return sh_err_set(SH_ERR_INVALID, "method name \"%.64s\" is not 1-64 of [a-z0-9_.-]",
                          method);
    if (3 + sl + ml + len > SH_ONION_MESSAGE_MAX_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "a %zu-byte request does not fit in an onion packet "
                          "(at most %u bytes with its names)", len, SH_ONION_MESSAGE_MAX_BYTES);
    sh_buf_reset(out);
    if ((rc = sh_buf_append_u8(out, SH_ONION_MSG_VERSION)) != SH_OK ||
        (rc = sh_buf_append_u8(out, (uint8_t)sl)) != SH_OK ||
        (rc = sh_buf_append(out, service, sl)) != SH_OK ||
        (rc = sh_buf_append_u8(out, (uint8_t)ml)) != SH_OK ||
        (rc = sh_buf_append(out, method, ml)) != SH_OK)
        return rc;
    return len ? sh_buf_append(out, body, len) : SH_OK;
}

/* A length-prefixed name at *pos into dst (NUL-terminated). */
static int take_name(const uint8_t *msg, size_t len, size_t *pos, size_t min, size_t max,
                     char *dst, const char *what)
{
    size_t n;

    if (*pos >= len)
        return sh_err_set(SH_ERR_FORMAT, "onion request ends before its %s", what);
    n = msg[(*pos)++];
    if (n < min || n > max || n > len - *pos || !name_ok((const char *)msg + *pos, n))
        return sh_err_set(SH_ERR_FORMAT, "onion request has a bad %s name", what);
    memcpy(dst, msg + *pos, n);
    dst[n] = '\0';
    *pos += n;
    return SH_OK;
}

int sh_onion_request_parse(const uint8_t *msg, size_t len, sh_onion_request *out)
{
    size_t pos = 1;
    int rc;

    memset(out, 0, sizeof *out);
    if (len < 1)
        return sh_err_set(SH_ERR_FORMAT, "empty onion request");
    if (msg[0] != SH_ONION_MSG_VERSION)
        return sh_err_set(SH_ERR_UNSUPPORTED, "onion request version %u (this build knows %u)",
                          msg[0], SH_ONION_MSG_VERSION);
    if ((rc = take_name(msg, len, &pos, 0, SH_ONION_SERVICE_MAX_BYTES, out->service, "service")) != SH_OK ||
        (rc = take_name(msg, len, &pos, 1, SH_ONION_METHOD_MAX_BYTES, out->method, "method")) != SH_OK)
        return rc;
    out->body = msg + pos;
    out->len = len - pos;
    return SH_OK;
}

/* Printable ASCII only, cut to the limit. */
static size_t clean_message(const char *in, char out[static SH_ONION_ERROR_MESSAGE_MAX_BYTES + 1])
{
    size_t n = 0;

    for (; in != NULL && in[n] != '\0' && n < SH_ONION_ERROR_MESSAGE_MAX_BYTES; n++)
        out[n] = (in[n] >= 0x20 && in[n] < 0x7f) ? in[n] : '?';
    out[n] = '\0';
    return n;
}

int sh_onion_response_encode(int status, const char *message, const uint8_t *body, size_t len,
                             sh_buf *out)
{
    char m[SH_ONION_ERROR_MESSAGE_MAX_BYTES + 1];
    size_t ml = clean_message(message, m);
    int rc;

    if (status > 0)
        return sh_err_set(SH_ERR_INVALID, "status %d is neither SH_OK nor an error code", status);
    if (7 + ml + len > SH_ONION_MESSAGE_MAX_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "a %zu-byte answer does not fit in an onion reply", len);
    sh_buf_reset(out);
    if ((rc = sh_buf_append_u8(out, SH_ONION_MSG_VERSION)) != SH_OK ||
        (rc = sh_buf_append_u32be(out, (uint32_t)status)) != SH_OK ||
        (rc = sh_buf_append_u16be(out, (uint16_t)ml)) != SH_OK ||
        (rc = sh_buf_append(out, m, ml)) != SH_OK)
        return rc;
    return len ? sh_buf_append(out, body, len) : SH_OK;
}

/* status ‖ message_len ‖ message, as in answers and error blocks. */
static int parse_status(const uint8_t *p, size_t len, int *status,
                        char message[static SH_ONION_ERROR_MESSAGE_MAX_BYTES + 1], size_t *used)
{
    int32_t st;
    size_t ml;

    if (len < 6)
        return sh_err_set(SH_ERR_FORMAT, "onion answer too short for its status");
    st = (int32_t)sh_load_u32be(p);
    ml = sh_load_u16be(p + 4);
    if (st > 0 || st < -1000 || ml > SH_ONION_ERROR_MESSAGE_MAX_BYTES || ml > len - 6)
        return sh_err_set(SH_ERR_FORMAT, "onion answer has a bad status or message length");
    for (size_t i = 0; i < ml; i++)
        message[i] = (p[6 + i] >= 0x20 && p[6 + i] < 0x7f) ? (char)p[6 + i] : '?';
    message[ml] = '\0';
    *status = st;
    *used = 6 + ml;
    return SH_OK;
}

int sh_onion_response_parse(const uint8_t *msg, size_t len, sh_onion_response *out)
{
    size_t used;
    int rc;

    memset(out, 0, sizeof *out);
    if (len < 1)
        return sh_err_set(SH_ERR_FORMAT, "empty onion answer");
    if (msg[0] != SH_ONION_MSG_VERSION)
        return sh_err_set(SH_ERR_UNSUPPORTED, "onion answer version %u (this build knows %u)",
                          msg[0], SH_ONION_MSG_VERSION);
    if ((rc = parse_status(msg + 1, len - 1, &out->status, out->message, &used)) != SH_OK)
        return rc;
    out->body = msg + 1 + used;
    out->len = len - 1 - used;
    return SH_OK;
}

int sh_onion_relay_error(const uint8_t reply_key[static SH_ONION_KEY_BYTES], int status,
                         const char *message, sh_buf *out)
{
    char m[SH_ONION_ERROR_MESSAGE_MAX_BYTES + 1];
    size_t ml = clean_message(message, m);
    uint8_t *b;
    int rc;

    if (status >= 0)
        return sh_err_set(SH_ERR_INVALID, "a relay error needs an error code, not %d", status);
    sh_buf_reset(out);
    if ((rc = sh_buf_extend(out, RELAY_ERROR_BLOCK, &b)) != SH_OK)
        return rc;
    memset(b, 0, RELAY_ERROR_BLOCK);
    memcpy(b, SH_ONION_RELAY_ERROR_MAGIC, SH_ONION_RELAY_ERROR_MAGIC_BYTES);
    sh_store_u32be(b + SH_ONION_RELAY_ERROR_MAGIC_BYTES, (uint32_t)status);
    sh_store_u16be(b + SH_ONION_RELAY_ERROR_MAGIC_BYTES + 4, (uint16_t)ml);
    memcpy(b + RELAY_ERROR_HEAD, m, ml);
    sh__onion_lioness_encrypt(reply_key, b, RELAY_ERROR_BLOCK);
    return SH_OK;
}

/* Removes layers 0..n-1 one by one from a copy, looking for a relay's error block after each. */
int sh_onion_open_relay_error(const sh_onion_client *state, const uint8_t *reply, size_t len,
                              size_t *hop, int *status,
                              char message[static SH_ONION_ERROR_MESSAGE_MAX_BYTES + 1])
{
    uint8_t b[RELAY_ERROR_BLOCK];
    size_t used;
    int rc = SH_ERR_NOT_FOUND;

    if (len != RELAY_ERROR_BLOCK)
        return SH_ERR_NOT_FOUND;
    memcpy(b, reply, len);
    for (size_t i = 0; i < state->n_layers; i++) {
        sh__onion_lioness_decrypt(state->layer_keys[i], b, sizeof b);
        if (sodium_memcmp(b, SH_ONION_RELAY_ERROR_MAGIC, SH_ONION_RELAY_ERROR_MAGIC_BYTES) != 0)
            continue;
        if (parse_status(b + SH_ONION_RELAY_ERROR_MAGIC_BYTES, sizeof b - SH_ONION_RELAY_ERROR_MAGIC_BYTES,
                         status, message, &used) != SH_OK || *status == SH_OK)
            break;
        *hop = i;
        rc = SH_OK;
        break;
    }
    sodium_memzero(b, sizeof b);
    return rc;
}
