/* Growable byte buffers; secret buffers are wiped on every release or move of their memory. */
#include "util/buf.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define BUF_MIN_CAP 64

void sh_buf_init(sh_buf *b)
{
    memset(b, 0, sizeof *b);
}

void sh_buf_init_secret(sh_buf *b)
{
    memset(b, 0, sizeof *b);
    b->secret = true;
}

void sh_buf_free(sh_buf *b)
{
    bool secret = b->secret;

    if (b->data != NULL && secret)
        sodium_memzero(b->data, b->cap);
    free(b->data);
    memset(b, 0, sizeof *b);
    b->secret = secret;
}

void sh_buf_reset(sh_buf *b)
{
    if (b->data != NULL && b->secret)
        sodium_memzero(b->data, b->len);
    b->len = 0;
}

int sh_buf_reserve(sh_buf *b, size_t extra)
{
    size_t need, cap;
    uint8_t *p;

    if (extra > SIZE_MAX - b->len)
        return sh_err_set(SH_ERR_LIMIT, "buffer size overflows (%zu + %zu bytes)", b->len, extra);
    need = b->len + extra;
    if (need <= b->cap)
        return SH_OK;
    cap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = malloc(cap);
    if (p == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory growing a buffer to %zu bytes", cap);
    if (b->data != NULL) {
        memcpy(p, b->data, b->len);
        if (b->secret)
            sodium_memzero(b->data, b->cap);
        free(b->data);
    }
    b->data = p;
    b->cap = cap;
    return SH_OK;
}

int sh_buf_extend(sh_buf *b, size_t len, uint8_t **out)
{
    int rc = sh_buf_reserve(b, len == 0 ? 1 : len);

    if (rc != SH_OK)
        return rc;
    *out = b->data + b->len;
    b->len += len;
    return SH_OK;
}

int sh_buf_append(sh_buf *b, const void *data, size_t len)
{
    uint8_t *p;
    int rc;

    if (len == 0)
        return SH_OK;
    rc = sh_buf_extend(b, len, &p);
    if (rc != SH_OK)
        return rc;
    memcpy(p, data, len);
    return SH_OK;
}

int sh_buf_append_u8(sh_buf *b, uint8_t v)
{
    return sh_buf_append(b, &v, 1);
}

int sh_buf_append_u16be(sh_buf *b, uint16_t v)
{
    uint8_t p[2];

    sh_store_u16be(p, v);
    return sh_buf_append(b, p, sizeof p);
}

int sh_buf_append_u32be(sh_buf *b, uint32_t v)
{
    uint8_t p[4];

    sh_store_u32be(p, v);
    return sh_buf_append(b, p, sizeof p);
}

int sh_buf_append_u64be(sh_buf *b, uint64_t v)
{
    uint8_t p[8];

    sh_store_u64be(p, v);
    return sh_buf_append(b, p, sizeof p);
}

int sh_buf_append_str(sh_buf *b, const char *s)
{
    return sh_buf_append(b, s, strlen(s));
}
