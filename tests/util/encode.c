/* Hex and base64: round trips and strict rejection of malformed text. */
#include "test.h"

#include "util/encode.h"

int main(void)
{
    uint8_t bin[4] = {0xde, 0xad, 0xbe, 0xef}, back[4];
    char hex[9], b64[16];
    sh_buf b;

    sh_buf_init(&b);
    CHECK_OK(sh_hex_encode(hex, sizeof hex, bin, sizeof bin));
    CHECK_STR(hex, "deadbeef");
    CHECK_ERR(sh_hex_encode(hex, 8, bin, sizeof bin), SH_ERR_INVALID);
    CHECK_OK(sh_hex_decode(back, 4, "DEADbeef"));
    CHECK_MEM(back, bin, 4);
    CHECK_ERR(sh_hex_decode(back, 4, "deadbee"), SH_ERR_FORMAT);
    CHECK_ERR(sh_hex_decode(back, 4, "deadbeefaa"), SH_ERR_FORMAT);
    CHECK_ERR(sh_hex_decode(back, 4, "deadbeeg"), SH_ERR_FORMAT);
    CHECK_ERR(sh_hex_decode(back, 4, "dead beef"), SH_ERR_FORMAT);
    CHECK_ERR(sh_hex_decode_buf(&b, "abc"), SH_ERR_FORMAT);
    CHECK_OK(sh_hex_decode_buf(&b, ""));
    CHECK_EQ(b.len, 0);
    CHECK_OK(sh_hex_decode_buf(&b, "00ff"));
    CHECK_EQ(b.len, 2);
    CHECK_EQ(b.data[1], 0xff);

    CHECK_OK(sh_base64_encode(b64, sizeof b64, (const uint8_t *)"hello", 5));
    CHECK_STR(b64, "aGVsbG8=");
    CHECK_ERR(sh_base64_encode(b64, 4, (const uint8_t *)"hello", 5), SH_ERR_INVALID);
    CHECK_OK(sh_base64_decode_buf(&b, "aGVsbG8="));
    CHECK_EQ(b.len, 5);
    CHECK_MEM(b.data, "hello", 5);
    CHECK_ERR(sh_base64_decode_buf(&b, "aGVsbG8"), SH_ERR_FORMAT);
    CHECK_ERR(sh_base64_decode_buf(&b, "aGV*bG8="), SH_ERR_FORMAT);
    sh_buf_free(&b);
    return 0;
}
