/* CRC-32 (zlib / ISO-HDLC) against its published check value and known values. */
#include "test.h"

#include "identity/crc32.h"

int main(void)
{
    CHECK(sh__identity_crc32(0, "", 0) == 0);
    CHECK(sh__identity_crc32(0, "123456789", 9) == 0xCBF43926u);
    CHECK(sh__identity_crc32(0, "The quick brown fox jumps over the lazy dog", 43) == 0x414FA339u);
    CHECK(sh__identity_crc32(0, "a", 1) == 0xE8B7BE43u);
    /* Continuing a CRC gives the CRC of the whole. */
    CHECK(sh__identity_crc32(sh__identity_crc32(0, "12345", 5), "6789", 4) == 0xCBF43926u);
    return 0;
}
