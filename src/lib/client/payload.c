/* The payload a client puts inside a Protocol V2 envelope (client.h "Payloads"; docs/client.md
 * "Order per sender"):
 *   v2: u8 version = 2 | u8 kind | msg id (16) | u64 sent_ms | u64 seq | text
 *   v1: u8 version = 1 | u8 kind | msg id (16) | u64 sent_ms | text      (read, never written)
 * Integers are big-endian. A text carries seq >= 1 (its number among the texts of its sending
 * device to the conversation); an acknowledgement carries the id of the message it acknowledges,
 * seq = 0 and no text. A v1 text has no number (seq = 0: delivered as it comes). Parsed from decrypted envelopes of anyone who knows our Session ID, so
 * every byte is checked. */
#include <string.h>

#include "client/client.h"
#include "util/err.h"

#define PAYLOAD_V1 1
#define PAYLOAD_V2 2

_Static_assert(SH_CLIENT_PAYLOAD_V1_HEADER_BYTES == 2 + SH_CLIENT_MSG_ID_BYTES + 8,
               "the v1 header is version, kind, id and time");
_Static_assert(SH_CLIENT_PAYLOAD_HEADER_BYTES == SH_CLIENT_PAYLOAD_V1_HEADER_BYTES + 8,
               "v2 adds the sequence number");

bool sh_client_text_ok(const uint8_t *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint32_t cp;

        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
                return false;
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, cp = c & 0x07;
        else
            return false;
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* A text is numbered from 1; an acknowledgement is not numbered. */
static int check_seq(sh_client_kind kind, int64_t seq, int code)
{
    if (kind == SH_CLIENT_ACK && seq != 0)
        return sh_err_set(code, "an acknowledgement carries no sequence number");
    if (kind == SH_CLIENT_TEXT && seq < 1)
        return sh_err_set(code, "a text's sequence number is %lld; they start at 1", (long long)seq);
    if (kind == SH_CLIENT_TEXT && seq == INT64_MAX)
        return sh_err_set(code, "the payload's sequence number is out of range");
    return SH_OK;
}

static uint64_t get_u64be(const uint8_t *in)
{
    uint64_t v = 0;

    for (size_t i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

int sh_client_payload_encode(const sh_client_payload *p, sh_buf *out)
{
    int rc;

    if (p->kind != SH_CLIENT_TEXT && p->kind != SH_CLIENT_ACK)
        return sh_err_set(SH_ERR_INVALID, "unknown payload kind %d", (int)p->kind);
    if (p->kind == SH_CLIENT_ACK && p->text_len != 0)
        return sh_err_set(SH_ERR_INVALID, "an acknowledgement carries no text");
    if (p->text_len > SH_CLIENT_MAX_TEXT_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "the text has %zu bytes; at most %d fit in a message",
                          p->text_len, SH_CLIENT_MAX_TEXT_BYTES);
    if (!sh_client_text_ok(p->text, p->text_len))
        return sh_err_set(SH_ERR_INVALID, "the text is not valid UTF-8 or holds control characters");
    if ((rc = check_seq(p->kind, p->seq, SH_ERR_INVALID)) != SH_OK)
        return rc;
    if ((rc = sh_buf_append_u8(out, PAYLOAD_V2)) != SH_OK ||
        (rc = sh_buf_append_u8(out, (uint8_t)p->kind)) != SH_OK ||
        (rc = sh_buf_append(out, p->msg_id, SH_CLIENT_MSG_ID_BYTES)) != SH_OK ||
        (rc = sh_buf_append_u64be(out, (uint64_t)p->sent_ms)) != SH_OK ||
        (rc = sh_buf_append_u64be(out, (uint64_t)p->seq)) != SH_OK)
        return rc;
    return p->text_len == 0 ? SH_OK : sh_buf_append(out, p->text, p->text_len);
}

/* The v2 sequence number at `in` (8 bytes): within int64, then check_seq. */
static int parse_seq(const uint8_t *in, sh_client_payload *out)
{
    uint64_t seq = get_u64be(in);

    if (seq > INT64_MAX)
        return sh_err_set(SH_ERR_FORMAT, "the payload's sequence number is out of range");
    out->seq = (int64_t)seq;
    return check_seq(out->kind, out->seq, SH_ERR_FORMAT);
}

int sh_client_payload_parse(const uint8_t *in, size_t len, sh_client_payload *out)
{
    size_t header;
    uint64_t t;
    int rc;

    memset(out, 0, sizeof *out);
    if (len < 1 || (in[0] != PAYLOAD_V1 && in[0] != PAYLOAD_V2))
        return len < 1 ? sh_err_set(SH_ERR_FORMAT, "an empty payload")
                       : sh_err_set(SH_ERR_UNSUPPORTED, "payload version %u is unknown to this build",
                                    in[0]);
    header = in[0] == PAYLOAD_V1 ? SH_CLIENT_PAYLOAD_V1_HEADER_BYTES : SH_CLIENT_PAYLOAD_HEADER_BYTES;
    if (len < header)
        return sh_err_set(SH_ERR_FORMAT, "a payload of %zu bytes is shorter than its %zu-byte header",
                          len, header);
    if (in[1] != SH_CLIENT_TEXT && in[1] != SH_CLIENT_ACK)
        return sh_err_set(SH_ERR_UNSUPPORTED, "payload kind %u is unknown to this build", in[1]);
    if ((t = get_u64be(in + 2 + SH_CLIENT_MSG_ID_BYTES)) > INT64_MAX)
        return sh_err_set(SH_ERR_FORMAT, "the payload's time is out of range");
    out->version = in[0];
    out->kind = (sh_client_kind)in[1];
    memcpy(out->msg_id, in + 2, SH_CLIENT_MSG_ID_BYTES);
    out->sent_ms = (int64_t)t;
    out->text = in + header;
    out->text_len = len - header;
    if (in[0] == PAYLOAD_V2 && (rc = parse_seq(in + SH_CLIENT_PAYLOAD_V1_HEADER_BYTES, out)) != SH_OK)
        return rc;
    if (out->kind == SH_CLIENT_ACK && out->text_len != 0)
        return sh_err_set(SH_ERR_FORMAT, "an acknowledgement with %zu bytes of text", out->text_len);
    if (out->text_len > SH_CLIENT_MAX_TEXT_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "a text of %zu bytes is over the %d-byte limit",
                          out->text_len, SH_CLIENT_MAX_TEXT_BYTES);
    if (!sh_client_text_ok(out->text, out->text_len))
        return sh_err_set(SH_ERR_FORMAT, "the text is not valid UTF-8 or holds control characters");
    return SH_OK;
}
