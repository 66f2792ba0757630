/* A growable byte buffer. A buffer made with sh_buf_init_secret() is wiped whenever its memory is
 * released or moved, so plaintext and key material never linger in freed heap memory.
 * The struct is public (like uv_buf_t) so that buffers can live on the stack. */
#ifndef SH_UTIL_BUF_H
#define SH_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sh_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool secret;
} sh_buf;

void sh_buf_init(sh_buf *b);
void sh_buf_init_secret(sh_buf *b);
/* Frees the memory (wiping it first for a secret buffer) and leaves an empty buffer. */
void sh_buf_free(sh_buf *b);
/* Sets len to 0, keeping the memory (wiped first for a secret buffer). */
void sh_buf_reset(sh_buf *b);
/* Makes room for `extra` more bytes. SH_ERR_NOMEM or SH_ERR_LIMIT on overflow. */
int sh_buf_reserve(sh_buf *b, size_t extra);
int sh_buf_append(sh_buf *b, const void *data, size_t len);
int sh_buf_append_u8(sh_buf *b, uint8_t v);
int sh_buf_append_u16be(sh_buf *b, uint16_t v);
int sh_buf_append_u32be(sh_buf *b, uint32_t v);
int sh_buf_append_u64be(sh_buf *b, uint64_t v);
int sh_buf_append_str(sh_buf *b, const char *s);
/* Appends `len` bytes of uninitialised space and returns a pointer to it in *out. */
int sh_buf_extend(sh_buf *b, size_t len, uint8_t **out);

/* Big-endian loads and stores for fixed-width fields. */
static inline uint16_t sh_load_u16be(const uint8_t p[static 2])
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t sh_load_u32be(const uint8_t p[static 4])
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t sh_load_u64be(const uint8_t p[static 8])
{
    return (uint64_t)sh_load_u32be(p) << 32 | sh_load_u32be(p + 4);
}
static inline void sh_store_u16be(uint8_t p[static 2], uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void sh_store_u32be(uint8_t p[static 4], uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void sh_store_u64be(uint8_t p[static 8], uint64_t v)
{
    sh_store_u32be(p, (uint32_t)(v >> 32));
    sh_store_u32be(p + 4, (uint32_t)v);
}
static inline uint32_t sh_load_u32le(const uint8_t p[static 4])
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void sh_store_u32le(uint8_t p[static 4], uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline uint64_t sh_load_u64le(const uint8_t p[static 8])
{
    return (uint64_t)sh_load_u32le(p) | (uint64_t)sh_load_u32le(p + 4) << 32;
}
static inline void sh_store_u64le(uint8_t p[static 8], uint64_t v)
{
    sh_store_u32le(p, (uint32_t)v);
    sh_store_u32le(p + 4, (uint32_t)(v >> 32));
}

#endif
