/* sh_buf: growth, appends in big-endian, secret wiping on reset, overflow refusal. */
#include "test.h"

#include "util/buf.h"

int main(void)
{
    sh_buf b;
    uint8_t *p;

    sh_buf_init(&b);
    CHECK_OK(sh_buf_append_u8(&b, 0x01));
    CHECK_OK(sh_buf_append_u16be(&b, 0x0203));
    CHECK_OK(sh_buf_append_u32be(&b, 0x04050607));
    CHECK_OK(sh_buf_append_u64be(&b, 0x08090a0b0c0d0e0fULL));
    CHECK_OK(sh_buf_append_str(&b, "xy"));
    CHECK_EQ(b.len, 17);
    CHECK_MEM(b.data, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f" "xy", 17);
    CHECK_EQ(sh_load_u16be(b.data + 1), 0x0203);
    CHECK_EQ(sh_load_u32be(b.data + 3), 0x04050607);
    CHECK(sh_load_u64be(b.data + 7) == 0x08090a0b0c0d0e0fULL);

    for (int i = 0; i < 100000; i++)
        CHECK_OK(sh_buf_append_u8(&b, (uint8_t)i));
    CHECK_EQ(b.len, 100017);
    CHECK_EQ(b.data[17 + 99999], (uint8_t)99999);
    CHECK(b.cap >= b.len);

    CHECK_ERR(sh_buf_reserve(&b, SIZE_MAX), SH_ERR_LIMIT);
    CHECK_MSG("overflows");
    sh_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);

    sh_buf_init_secret(&b);
    CHECK_OK(sh_buf_extend(&b, 32, &p));
    memset(p, 0xaa, 32);
    sh_buf_reset(&b);
    CHECK_EQ(b.len, 0);
    for (int i = 0; i < 32; i++)
        CHECK_EQ(b.data[i], 0);
    sh_buf_free(&b);
    CHECK(b.secret);

    sh_buf_init(&b);
    CHECK_OK(sh_buf_extend(&b, 0, &p));
    CHECK(p != NULL && b.len == 0);
    sh_buf_free(&b);

    uint8_t le[8];
    sh_store_u64le(le, 0x0102030405060708ULL);
    CHECK_MEM(le, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
    CHECK(sh_load_u64le(le) == 0x0102030405060708ULL);
    return 0;
}
