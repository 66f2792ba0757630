/* CRC-32 as in zlib and ISO-HDLC (reflected polynomial 0xEDB88320, check value 0xCBF43926 for
 * "123456789"). Not a cryptographic hash: it picks the checksum word of a recovery phrase, and
 * catches accidental damage to a clear seed file. */
#ifndef SH_IDENTITY_CRC32_H
#define SH_IDENTITY_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC (start with 0) over len more bytes, like zlib's crc32(). */
uint32_t sh__identity_crc32(uint32_t crc, const void *data, size_t len);

#endif
