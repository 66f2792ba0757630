/* Hex and base64 text encodings (libsodium's constant-time codecs), with strict decoding:
 * the whole input must be valid and of the expected length. */
#ifndef SH_UTIL_ENCODE_H
#define SH_UTIL_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Writes 2*len hex digits and a NUL into out (out_size >= 2*len+1). */
int sh_hex_encode(char *out, size_t out_size, const uint8_t *in, size_t len);
/* Decodes exactly `len` bytes from a hex string of exactly 2*len digits (either case). */
int sh_hex_decode(uint8_t *out, size_t len, const char *hex);
/* Decodes a hex string of any even length into a buffer. */
int sh_hex_decode_buf(sh_buf *out, const char *hex);

/* Standard base64 with padding. out_size >= sh_base64_encoded_len(len). */
size_t sh_base64_encoded_len(size_t len);
int sh_base64_encode(char *out, size_t out_size, const uint8_t *in, size_t len);
int sh_base64_decode_buf(sh_buf *out, const char *b64);

#endif
