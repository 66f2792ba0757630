/* The bot API's input (docs/bot-api.md): one JSON object per line whose values are all strings,
 * e.g. {"cmd":"send","to":"05ab…","text":"hi","id":"7"}. A deliberately small parser: objects
 * of string members only (RFC 8259 string escapes, \u with surrogate pairs), every key known,
 * none repeated; anything else is refused with the column where it went wrong. Input comes from
 * whatever drives the bot, so it is fuzzed (fuzz/client). */
#include <string.h>

#include "client/client.h"
#include "util/err.h"

typedef struct cursor {
    const char *s;
    size_t len, i;
} cursor;

void sh_client_bot_cmd_init(sh_client_bot_cmd *c)
{
    memset(c, 0, sizeof *c);
    sh_buf_init_secret(&c->text);
}

void sh_client_bot_cmd_free(sh_client_bot_cmd *c)
{
    sh_buf_free(&c->text);
}

static void skip_ws(cursor *c)
{
    while (c->i < c->len && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\r' ||
                             c->s[c->i] == '\n'))
        c->i++;
}

static int fail(const cursor *c, const char *what)
{
    return sh_err_set(SH_ERR_FORMAT, "bad JSON at column %zu: %s", c->i + 1, what);
}

static int hex4(cursor *c, uint32_t *out)
{
    *out = 0;
    if (c->len - c->i < 4)
        return fail(c, "a \\u escape needs 4 hex digits");
    for (int k = 0; k < 4; k++) {
        char h = c->s[c->i++];
        int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
              : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        if (v < 0)
            return fail(c, "a \\u escape needs 4 hex digits");
        *out = *out << 4 | (uint32_t)v;
    }
    return SH_OK;
}

static int put_utf8(sh_buf *out, uint32_t cp)
{
    uint8_t b[4];
    size_t n;

    if (cp < 0x80)
        b[0] = (uint8_t)cp, n = 1;
    else if (cp < 0x800)
        b[0] = (uint8_t)(0xc0 | cp >> 6), b[1] = (uint8_t)(0x80 | (cp & 0x3f)), n = 2;
    else if (cp < 0x10000)
        b[0] = (uint8_t)(0xe0 | cp >> 12), b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f)),
        b[2] = (uint8_t)(0x80 | (cp & 0x3f)), n = 3;
    else
        b[0] = (uint8_t)(0xf0 | cp >> 18), b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f)),
        b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f)), b[3] = (uint8_t)(0x80 | (cp & 0x3f)), n = 4;
    return sh_buf_append(out, b, n);
}

static int escape(cursor *c, sh_buf *out)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *p;
    uint32_t cp, lo;
    int rc;

    if (c->i == c->len)
        return fail(c, "the string ends inside an escape");
    if (c->s[c->i] != 'u') {
        if (c->s[c->i] == '\0' || (p = strchr(from, c->s[c->i])) == NULL)
            return fail(c, "unknown escape");
        c->i++;
        return sh_buf_append_u8(out, (uint8_t)to[p - from]);
    }
    c->i++;
    if ((rc = hex4(c, &cp)) != SH_OK)
        return rc;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return fail(c, "a lone low surrogate");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (c->len - c->i < 2 || c->s[c->i] != '\\' || c->s[c->i + 1] != 'u')
            return fail(c, "a high surrogate without its low half");
        c->i += 2;
        if ((rc = hex4(c, &lo)) != SH_OK)
            return rc;
        if (lo < 0xdc00 || lo > 0xdfff)
            return fail(c, "a high surrogate without its low half");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    return put_utf8(out, cp);
}

/* A JSON string at the cursor into out (raw UTF-8, checked), at most max bytes. */
static int string(cursor *c, sh_buf *out, size_t max)
{
    int rc;

    if (c->i == c->len || c->s[c->i] != '"')
        return fail(c, "expected a string");
    c->i++;
    for (;;) {
        unsigned char ch;
        if (c->i == c->len)
            return fail(c, "the string does not end");
        ch = (unsigned char)c->s[c->i];
        if (ch == '"')
            break;
        if (ch < 0x20)
            return fail(c, "a control character inside a string");
        c->i++;
        rc = ch == '\\' ? escape(c, out) : sh_buf_append_u8(out, ch);
        if (rc != SH_OK)
            return rc;
        if (out->len > max)
            return sh_err_set(SH_ERR_LIMIT, "a value at column %zu is longer than %zu bytes",
                              c->i, max);
    }
    c->i++;
    if (out->len > 0 && !sh_client_text_ok(out->data, out->len))
        return fail(c, "a string that is not valid UTF-8 or holds control characters");
    return SH_OK;
}

static int set_field(sh_client_bot_cmd *cmd, const sh_buf *key, sh_buf *val, unsigned *have,
                     const cursor *c)
{
    static const char *const keys[] = {"cmd", "to", "contact", "id", "text", "name", "device"};
    char *dst[] = {cmd->cmd, cmd->to, cmd->to, cmd->id, NULL, cmd->name, cmd->device};
    size_t cap[] = {sizeof cmd->cmd, sizeof cmd->to,   sizeof cmd->to,    sizeof cmd->id, 0,
                    sizeof cmd->name, sizeof cmd->device};

    for (unsigned k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        if (key->len != strlen(keys[k]) || memcmp(key->data, keys[k], key->len) != 0)
            continue;
        if (*have & (1u << (k == 2 ? 1 : k)))
            return sh_err_set(SH_ERR_INVALID, "\"%s\" appears twice (column %zu)", keys[k], c->i);
        *have |= 1u << (k == 2 ? 1 : k);
        if (dst[k] == NULL) {
            sh_buf tmp = cmd->text;
            cmd->text = *val;
            *val = tmp;
            return SH_OK;
        }
        if (val->len >= cap[k])
            return sh_err_set(SH_ERR_LIMIT, "\"%s\" is longer than %zu characters", keys[k],
                              cap[k] - 1);
        if (val->len > 0)
            memcpy(dst[k], val->data, val->len);
        dst[k][val->len] = '\0';
        return SH_OK;
    }
    return sh_err_set(SH_ERR_INVALID, "unknown key \"%.*s\" (column %zu)",
                      (int)(key->len > 32 ? 32 : key->len), key->data ? (char *)key->data : "",
                      c->i);
}

static int members(cursor *c, sh_client_bot_cmd *out, unsigned *have)
{
    sh_buf key, val;
    int rc = SH_OK;

    sh_buf_init(&key);
    sh_buf_init_secret(&val);
    skip_ws(c);
    if (c->i < c->len && c->s[c->i] == '}')
        goto done;
    for (;;) {
        sh_buf_reset(&key);
        sh_buf_reset(&val);
        skip_ws(c);
        if ((rc = string(c, &key, 16)) != SH_OK)
            goto done;
        skip_ws(c);
        if (c->i == c->len || c->s[c->i] != ':') {
            rc = fail(c, "expected ':'");
            goto done;
        }
        c->i++;
        skip_ws(c);
        if ((rc = string(c, &val, SH_CLIENT_MAX_TEXT_BYTES)) != SH_OK ||
            (rc = set_field(out, &key, &val, have, c)) != SH_OK)
            goto done;
        skip_ws(c);
        if (c->i < c->len && c->s[c->i] == ',') {
            c->i++;
            continue;
        }
        break;
    }
done:
    sh_buf_free(&key);
    sh_buf_free(&val);
    return rc;
}

int sh_client_bot_parse(const char *line, size_t len, sh_client_bot_cmd *out)
{
    cursor c = {.s = line, .len = len};
    unsigned have = 0;
    int rc;

    sh_buf_reset(&out->text);
    out->cmd[0] = out->to[0] = out->id[0] = out->name[0] = out->device[0] = '\0';
    if (len > SH_CLIENT_BOT_LINE_MAX)
        return sh_err_set(SH_ERR_LIMIT, "a command line is over %d bytes", SH_CLIENT_BOT_LINE_MAX);
    skip_ws(&c);
    if (c.i == c.len || c.s[c.i] != '{')
        return fail(&c, "a command is a JSON object");
    c.i++;
    if ((rc = members(&c, out, &have)) != SH_OK)
        return rc;
    if (c.i == c.len || c.s[c.i] != '}')
        return fail(&c, "expected ',' or '}'");
    c.i++;
    skip_ws(&c);
    if (c.i != c.len)
        return fail(&c, "text after the object");
    if (out->cmd[0] == '\0')
        return sh_err_set(SH_ERR_INVALID, "the command has no \"cmd\"");
    return SH_OK;
}

int sh_client_json_string(sh_buf *out, const uint8_t *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    int rc = sh_buf_append_u8(out, '"');

    for (size_t i = 0; rc == SH_OK && i < len; i++) {
        uint8_t ch = s[i];
        if (ch == '"' || ch == '\\') {
            uint8_t e[2] = {'\\', ch};
            rc = sh_buf_append(out, e, 2);
        } else if (ch == '\n') {
            rc = sh_buf_append(out, "\\n", 2);
        } else if (ch == '\t') {
            rc = sh_buf_append(out, "\\t", 2);
        } else if (ch < 0x20 || ch == 0x7f) {
            uint8_t e[6] = {'\\', 'u', '0', '0', (uint8_t)hex[ch >> 4], (uint8_t)hex[ch & 15]};
            rc = sh_buf_append(out, e, 6);
        } else {
            rc = sh_buf_append_u8(out, ch);
        }
    }
    return rc == SH_OK ? sh_buf_append_u8(out, '"') : rc;
}
