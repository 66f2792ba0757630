/* The message hash against vectors from an independent implementation (Python's hashlib.blake2b
 * with person=b"shoal/msghash/v1", digest_size=32, over owner ‖ int16 BE namespace ‖ data), and
 * the namespace table of overview.md. */
#include "helpers.h"

static void check_vector(const uint8_t owner[33], int16_t ns, const uint8_t *data, size_t len,
                         const char *hex)
{
    uint8_t got[SH_STORE_HASH_BYTES];
    sh_buf want;

    sh_buf_init(&want);
    test_hex(hex, &want);
    sh_store_msg_hash(got, owner, ns, data, len);
    CHECK_EQ(want.len, SH_STORE_HASH_BYTES);
    CHECK_MEM(got, want.data, SH_STORE_HASH_BYTES);
    sh_buf_free(&want);
}

static void check_namespaces(void)
{
    static const int known[] = {0, 2, 3, 4, 5, 10, 11, 12};
    static const int unknown[] = {-1, 1, 6, 9, 13, 32767, -32768};

    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        CHECK(sh_store_ns_lookup(known[i]) != NULL);
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        CHECK(sh_store_ns_lookup(unknown[i]) == NULL);
    CHECK_EQ(sh_store_ns_lookup(0)->max_ttl_ms, 14LL * 24 * 3600 * 1000);
    CHECK_EQ(sh_store_ns_lookup(0)->writer, SH_NS_WRITE_ANYONE);
    CHECK_EQ(sh_store_ns_lookup(0)->reader, SH_NS_READ_OWNER_OR_TOKEN);
    for (int ns = 2; ns <= 5; ns++) {
        CHECK_EQ(sh_store_ns_lookup(ns)->max_ttl_ms, 30LL * 24 * 3600 * 1000);
        CHECK_EQ(sh_store_ns_lookup(ns)->writer, SH_NS_WRITE_OWNER_OR_TOKEN);
        CHECK_EQ(sh_store_ns_lookup(ns)->slots, SH_NS_SLOTS_NONE);
    }
    CHECK_EQ(sh_store_ns_lookup(10)->slots, SH_NS_SLOTS_PER_DEVICE);
    CHECK_EQ(sh_store_ns_lookup(10)->reader, SH_NS_READ_ANYONE);
    for (int ns = 11; ns <= 12; ns++) {
        CHECK_EQ(sh_store_ns_lookup(ns)->slots, SH_NS_SLOTS_SINGLE);
        CHECK_EQ(sh_store_ns_lookup(ns)->writer, SH_NS_WRITE_PRIMARY);
        CHECK_EQ(sh_store_ns_lookup(ns)->reader, SH_NS_READ_ANYONE);
        CHECK_EQ(sh_store_ns_lookup(ns)->max_ttl_ms, 30LL * 24 * 3600 * 1000);
    }
}

int main(void)
{
    static uint8_t big[61440], kib[1024];
    uint8_t o1[33], o2[33], a[32], b[32];

    o1[0] = 0x05;
    for (int i = 0; i < 32; i++)
        o1[1 + i] = (uint8_t)i;
    o2[0] = 0x03;
    memset(o2 + 1, 0xab, 32);
    for (size_t i = 0; i < sizeof kib; i++)
        kib[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);

    check_vector(o1, 0, NULL, 0,
                 "b54d77c3238a27916fe0875f95a09a7e30ccfde20b3bce55947d0374e9a5f500");
    check_vector(o1, 0, (const uint8_t *)"hello", 5,
                 "2d52b6721fce470bc056b2aa992fe5c6fc8ff2766abb3c8e44ec046183fd444c");
    check_vector(o1, 5, (const uint8_t *)"hello", 5,
                 "ea172fad2ee4bcfbe632756b9a31b502e31d171c3220a2d4f004c53befe157aa");
    check_vector(o2, -1, (const uint8_t *)"hello", 5,
                 "d9c9393032c841efe589129b5599283ce802496dd845ecdaa4bea5b54e4f0d4b");
    check_vector(o2, -32768, kib, sizeof kib,
                 "e72f6d1996c85dc8ae993e9931d09cfb31adcd7996e43396728c8c5e5215abf9");
    check_vector(o1, 32767, big, sizeof big,
                 "daaf4c7a72710a4271a4c592a0bf0d90d6f1c18dd3e9070bbef6416f79498a66");

    /* Owner and namespace are part of the hash: the same data elsewhere is another message. */
    sh_store_msg_hash(a, o1, 0, kib, 100);
    sh_store_msg_hash(b, o2, 0, kib, 100);
    CHECK(memcmp(a, b, 32) != 0);
    sh_store_msg_hash(b, o1, 2, kib, 100);
    CHECK(memcmp(a, b, 32) != 0);

    check_namespaces();
    return 0;
}
