/* CRC-32 (zlib / ISO-HDLC), bit by bit: it only ever runs over a few dozen bytes. */
#include "identity/crc32.h"

#define CRC32_POLY_REFLECTED 0xEDB88320u

uint32_t sh__identity_crc32(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;

    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (CRC32_POLY_REFLECTED & (0u - (crc & 1u)));
    }
    return ~crc;
}
