/* Descriptors: sign/verify round trip, and every rejection: forged or foreign signatures, wrong
 * label, non-canonical bytes (each properly signed, so that only the canonical check can catch
 * them), expired or not-yet-valid onion keys with their age in the message, forged onion-key and
 * operator signatures, malformed addresses, text limits at limit and limit + 1. */
#include "test.h"

#include <sodium.h>

#include "crypto/crypto.h"
#include "crypto/labels.h"
#include "dir/internal.h"
#include "dirtest.h"

/* Wraps body bytes in a Signed message signed by k. */
static void sign_body(const uint8_t *body, size_t len, const dt_key *k, sh_buf *out)
{
    Shoal__Dir__Signed s = SHOAL__DIR__SIGNED__INIT;
    uint8_t sig[64];

    crypto_sign_detached(sig, NULL, body, len, k->sk);
    s.body = (ProtobufCBinaryData){len, (uint8_t *)body};
    s.signature = (ProtobufCBinaryData){64, sig};
    CHECK_OK(sh__dir_pb_pack(&s.base, SH_DIR_DESCRIPTOR_MAX_BYTES, out));
}

/* The body bytes inside a signed descriptor. */
static void body_of(const sh_buf *signed_desc, sh_buf *body)
{
    Shoal__Dir__Signed *s = shoal__dir__signed__unpack(NULL, signed_desc->len, signed_desc->data);
    CHECK(s != NULL);
    sh_buf_reset(body);
    CHECK_OK(sh_buf_append(body, s->body.data, s->body.len));
    shoal__dir__signed__free_unpacked(s, NULL);
}

/* Decodes the body, lets `edit` change it, re-encodes and signs it with k. */
static void edited(const sh_buf *signed_desc, const dt_key *k, void (*edit)(Shoal__Dir__Descriptor *),
                   sh_buf *out)
{
    sh_buf body, packed;
    Shoal__Dir__Descriptor *d;

    sh_buf_init(&body);
    sh_buf_init(&packed);
    body_of(signed_desc, &body);
    d = shoal__dir__descriptor__unpack(NULL, body.len, body.data);
    CHECK(d != NULL);
    /* Edits may point strings elsewhere; the originals go back before freeing. */
    char *label = d->label, *address = d->address, *contact = d->contact;
    edit(d);
    CHECK_OK(sh__dir_pb_pack(&d->base, 1 << 20, &packed));
    d->label = label;
    d->address = address;
    d->contact = contact;
    shoal__dir__descriptor__free_unpacked(d, NULL);
    sign_body(packed.data, packed.len, k, out);
    sh_buf_free(&body);
    sh_buf_free(&packed);
}

static char long_contact[SH_DIR_CONTACT_MAX + 2];
static void edit_label(Shoal__Dir__Descriptor *d) { d->label = (char *)"shoal/dir/vote/v1"; }
static void edit_address(Shoal__Dir__Descriptor *d) { d->address = (char *)"10.0.0.1:07000"; }
static void edit_contact(Shoal__Dir__Descriptor *d) { d->contact = long_contact; }
static void edit_onion_sig(Shoal__Dir__Descriptor *d) { d->onion_next_sig.data[5] ^= 1; }
static void edit_onion_node(Shoal__Dir__Descriptor *d) { d->onion_current->node_identity.data[0] ^= 1; }
static void edit_operator_sig(Shoal__Dir__Descriptor *d) { d->operator_sig.data[0] ^= 1; }
static void edit_nothing(Shoal__Dir__Descriptor *d) { (void)d; }

static void test_round_trip(void)
{
    sh_dir_node n, back;
    dt_key id;
    sh_buf b;

    sh_buf_init(&b);
    dt_node_make(&n, &id, 7, DT_NOW, NULL);
    CHECK_OK(sh_dir_descriptor_sign(&n, id.sk, &b));
    CHECK_OK(sh_dir_descriptor_verify(b.data, b.len, DT_NOW, &back));
    CHECK_MEM(back.identity, n.identity, 32);
    CHECK_MEM(back.link_key, n.link_key, 32);
    CHECK_MEM(&back.onion_current, &n.onion_current, sizeof n.onion_current);
    CHECK_MEM(&back.onion_next, &n.onion_next, sizeof n.onion_next);
    CHECK_STR(back.address, n.address);
    CHECK_STR(back.version, n.version);
    CHECK_STR(back.contact, n.contact);
    CHECK_EQ(back.published_ms, DT_NOW);
    CHECK(!back.has_operator);
    CHECK_OK(sh_dir_onion_key_verify(&back.onion_current, back.identity, DT_NOW));
    CHECK_ERR(sh_dir_onion_key_verify(&back.onion_next, back.identity, DT_NOW), SH_ERR_STALE);
    CHECK_MSG("not valid for another 22 h 0 min");
    /* Signing the same descriptor again gives the same bytes (Ed25519 is deterministic). */
    sh_buf again;
    sh_buf_init(&again);
    CHECK_OK(sh_dir_descriptor_sign(&n, id.sk, &again));
    CHECK_EQ(again.len, b.len);
    CHECK_MEM(again.data, b.data, b.len);
    /* The body starts with its label as field 1. */
    sh_buf body;
    sh_buf_init(&body);
    body_of(&b, &body);
    CHECK_EQ(body.data[0], 0x0a);
    CHECK_EQ(body.data[1], strlen(SH_LABEL_DIR_DESCRIPTOR));
    CHECK_MEM(body.data + 2, SH_LABEL_DIR_DESCRIPTOR, strlen(SH_LABEL_DIR_DESCRIPTOR));
    sh_buf_free(&body);
    sh_buf_free(&again);
    sh_buf_free(&b);
}

static void test_signatures(void)
{
    sh_dir_node n, back;
    dt_key id, other;
    sh_buf b, body, forged;

    sh_buf_init(&b);
    sh_buf_init(&body);
    sh_buf_init(&forged);
    dt_node_make(&n, &id, 8, DT_NOW, NULL);
    dt_key_make(&other, 1, 9);
    CHECK_OK(sh_dir_descriptor_sign(&n, id.sk, &b));
    /* A flipped signature bit. */
    b.data[b.len - 3] ^= 0x10;
    CHECK_ERR(sh_dir_descriptor_verify(b.data, b.len, DT_NOW, &back), SH_ERR_CRYPTO);
    CHECK_MSG("descriptor's signature does not verify");
    b.data[b.len - 3] ^= 0x10;
    /* The same body signed by another key. */
    body_of(&b, &body);
    sign_body(body.data, body.len, &other, &forged);
    CHECK_ERR(sh_dir_descriptor_verify(forged.data, forged.len, DT_NOW, &back), SH_ERR_CRYPTO);
    /* Signing with a key that is not the descriptor's identity. */
    CHECK_ERR(sh_dir_descriptor_sign(&n, other.sk, &forged), SH_ERR_INVALID);
    /* A forged onion-key signature, caught both when verifying and by the onion-key check. */
    edited(&b, &id, edit_onion_sig, &forged);
    CHECK_ERR(sh_dir_descriptor_verify(forged.data, forged.len, DT_NOW, &back), SH_ERR_CRYPTO);
    CHECK_MSG("onion key epoch 101");
    n.onion_current.signature[0] ^= 1;
    CHECK_ERR(sh_dir_onion_key_verify(&n.onion_current, n.identity, DT_NOW), SH_ERR_CRYPTO);
    /* An onion key that names another node. */
    edited(&b, &id, edit_onion_node, &forged);
    CHECK_ERR(sh_dir_descriptor_verify(forged.data, forged.len, DT_NOW, &back), SH_ERR_FORMAT);
    CHECK_MSG("names another node");
    /* Re-signing an unchanged decoded body gives a valid descriptor (the helper is sound). */
    edited(&b, &id, edit_nothing, &forged);
    CHECK_OK(sh_dir_descriptor_verify(forged.data, forged.len, DT_NOW, &back));
    sh_buf_free(&b);
    sh_buf_free(&body);
    sh_buf_free(&forged);
}

static void test_labels_and_canonical(void)
{
    sh_dir_node n, back;
    dt_key id;
    sh_buf b, body, bad;

    sh_buf_init(&b);
    sh_buf_init(&body);
    sh_buf_init(&bad);
    dt_node_make(&n, &id, 10, DT_NOW, NULL);
    CHECK_OK(sh_dir_descriptor_sign(&n, id.sk, &b));
    edited(&b, &id, edit_label, &bad);
    CHECK_ERR(sh_dir_descriptor_verify(bad.data, bad.len, DT_NOW, &back), SH_ERR_FORMAT);
    CHECK_MSG("expected \"shoal/dir/descriptor/v1\"");
    body_of(&b, &body);
    /* An unknown field (99, varint 1) at the end. */
    sh_buf_reset(&bad);
    CHECK_OK(sh_buf_append(&bad, body.data, body.len));
    CHECK_OK(sh_buf_append(&bad, "\x98\x06\x01", 3));
    sh_buf sig;
    sh_buf_init(&sig);
    sign_body(bad.data, bad.len, &id, &sig);
    CHECK_ERR(sh_dir_descriptor_verify(sig.data, sig.len, DT_NOW, &back), SH_ERR_FORMAT);
    CHECK_MSG("fields this version does not know");
    /* An empty operator_sig (field 13) written out although it is the default. */
    sh_buf_reset(&bad);
    CHECK_OK(sh_buf_append(&bad, body.data, body.len));
    CHECK_OK(sh_buf_append(&bad, "\x6a\x00", 2));
    sign_body(bad.data, bad.len, &id, &sig);
    CHECK_ERR(sh_dir_descriptor_verify(sig.data, sig.len, DT_NOW, &back), SH_ERR_FORMAT);
    CHECK_MSG("not canonically encoded");
    /* The label moved from the front to the end. */
    size_t label_len = 2 + body.data[1];
    sh_buf_reset(&bad);
    CHECK_OK(sh_buf_append(&bad, body.data + label_len, body.len - label_len));
    CHECK_OK(sh_buf_append(&bad, body.data, label_len));
    sign_body(bad.data, bad.len, &id, &sig);
    CHECK_ERR(sh_dir_descriptor_verify(sig.data, sig.len, DT_NOW, &back), SH_ERR_FORMAT);
    CHECK_MSG("not canonically encoded");
    /* A second address field after the whole body (protobuf keeps the last one). */
    sh_buf_reset(&bad);
    CHECK_OK(sh_buf_append(&bad, body.data, body.len));
    CHECK_OK(sh_buf_append(&bad, "\x42\x0e" "10.9.9.9:7000x", 16));
    sign_body(bad.data, bad.len, &id, &sig);
    CHECK_ERR(sh_dir_descriptor_verify(sig.data, sig.len, DT_NOW, &back), SH_ERR_FORMAT);
    /* Truncated, empty and oversized inputs. */
    CHECK_ERR(sh_dir_descriptor_verify(b.data, b.len - 1, DT_NOW, &back), SH_ERR_FORMAT);
    CHECK_ERR(sh_dir_descriptor_verify(b.data, 0, DT_NOW, &back), SH_ERR_FORMAT);
    uint8_t big[SH_DIR_DESCRIPTOR_MAX_BYTES + 1] = {0};
    CHECK_ERR(sh_dir_descriptor_verify(big, sizeof big, DT_NOW, &back), SH_ERR_LIMIT);
    sh_buf_free(&sig);
    sh_buf_free(&b);
    sh_buf_free(&body);
    sh_buf_free(&bad);
}

static void test_freshness(void)
{
    sh_dir_node n, back;
    dt_key id;
    sh_buf b;

    sh_buf_init(&b);
    dt_node_make(&n, &id, 11, DT_NOW, NULL);
    CHECK_OK(sh_dir_descriptor_sign(&n, id.sk, &b));
    /* Just inside, then just past, the current key's validity. */
    CHECK_OK(sh_dir_descriptor_verify(b.data, b.len, n.onion_current.valid_until_ms, &back));
    CHECK_ERR(sh_dir_descriptor_verify(b.data, b.len, n.onion_current.valid_until_ms + 1, &back),
              SH_ERR_STALE);
    CHECK_MSG("current onion key (epoch 100) expired 1 ms ago");
    CHECK_ERR(sh_dir_descriptor_verify(b.data, b.len, n.onion_current.valid_until_ms + 2 * DT_HOUR + 5000, &back),
              SH_ERR_STALE);
    CHECK_MSG("expired 2 h 0 min ago");
    CHECK_ERR(sh_dir_descriptor_verify(b.data, b.len, n.onion_current.valid_after_ms - 3 * DT_HOUR, &back),
              SH_ERR_STALE);
    CHECK_MSG("not valid for another 3 h 0 min");
    /* The next key already expired while the current one is valid. */
    n.onion_next.valid_after_ms = DT_NOW - 3 * DT_HOUR;
    n.onion_next.valid_until_ms = DT_NOW - 2 * DT_HOUR;
    CHECK_OK(sh_dir_onion_key_sign(&n.onion_next, id.sk));
    CHECK_OK(sh_dir_descriptor_sign(&n, id.sk, &b));
    CHECK_ERR(sh_dir_descriptor_verify(b.data, b.len, DT_NOW, &back), SH_ERR_STALE);
    CHECK_MSG("next onion key (epoch 101) expired 2 h 0 min ago");
    /* Published too far in the future; a minute of skew is fine. */
    dt_node_make(&n, &id, 11, DT_NOW, NULL);
    n.published_ms = DT_NOW + SH_DIR_CLOCK_SKEW_MS;
    CHECK_OK(sh_dir_descriptor_sign(&n, id.sk, &b));
    CHECK_OK(sh_dir_descriptor_verify(b.data, b.len, DT_NOW, &back));
    n.published_ms = DT_NOW + SH_DIR_CLOCK_SKEW_MS + 1;
    CHECK_OK(sh_dir_descriptor_sign(&n, id.sk, &b));
    CHECK_ERR(sh_dir_descriptor_verify(b.data, b.len, DT_NOW, &back), SH_ERR_STALE);
    /* Epochs must follow each other; a key may not end before it starts. */
    dt_node_make(&n, &id, 11, DT_NOW, NULL);
    n.onion_next.epoch = 102;
    CHECK_ERR(sh_dir_descriptor_sign(&n, id.sk, &b), SH_ERR_FORMAT);
    n.onion_next.epoch = 101;
    n.onion_current.valid_until_ms = n.onion_current.valid_after_ms;
    CHECK_ERR(sh_dir_onion_key_sign(&n.onion_current, id.sk), SH_ERR_RANGE);
    CHECK_ERR(sh_dir_descriptor_sign(&n, id.sk, &b), SH_ERR_RANGE);
    sh_buf_free(&b);
}

static void test_addresses(void)
{
    static const char *good[] = {"10.0.0.1:7000", "127.0.0.1:1", "[::1]:65535", "[2001:db8::1]:443",
                                 "255.255.255.254:80"};
    static const char *bad[] = {"10.0.0.1", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:07000",
                                "010.0.0.1:7000", "10.0.0:7000", "0.0.0.0:7000", "224.0.0.1:7000",
                                "255.255.255.255:7000", "[::ffff:10.0.0.1]:7000", "[2001:DB8::1]:7000",
                                "[2001:db8:0:0:0:0:0:1]:7000", "host.example:7000", "10.0.0.1:70a0",
                                "", "10.0.0.1 :7000", "[::]:7000", "[::1]7000", "[::1:7000",
                                "10.0.0.1:+700", "[ff02::1]:7000", "::1:7000"};
    uint8_t ip[16];
    size_t ip_len;
    uint16_t port;
    sh_dir_node n, back;
    dt_key id;
    sh_buf b, bad_desc;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK_OK(sh_dir_address_parse(good[i], ip, &ip_len, &port));
    CHECK_OK(sh_dir_address_parse("[2001:db8::1]:443", ip, &ip_len, &port));
    CHECK_EQ(ip_len, 16);
    CHECK_EQ(port, 443);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = sh_dir_address_parse(bad[i], ip, &ip_len, &port);
        if (rc != SH_ERR_FORMAT)
            test_fail(__FILE__, __LINE__, "address \"%s\" gave %s", bad[i], sh_err_name(rc));
    }
    CHECK(sh_dir_address_is_loopback("127.3.0.1:7000"));
    CHECK(sh_dir_address_is_loopback("[::1]:7000"));
    CHECK(!sh_dir_address_is_loopback("10.0.0.1:7000"));
    CHECK(!sh_dir_address_is_loopback("garbage"));

    sh_buf_init(&b);
    sh_buf_init(&bad_desc);
    dt_node_make(&n, &id, 12, DT_NOW, "10.0.0.1");
    CHECK_ERR(sh_dir_descriptor_sign(&n, id.sk, &b), SH_ERR_FORMAT);
    dt_node_make(&n, &id, 12, DT_NOW, NULL);
    CHECK_OK(sh_dir_descriptor_sign(&n, id.sk, &b));
    edited(&b, &id, edit_address, &bad_desc);
    CHECK_ERR(sh_dir_descriptor_verify(bad_desc.data, bad_desc.len, DT_NOW, &back), SH_ERR_FORMAT);
    CHECK_MSG("port \"07000\"");
    sh_buf_free(&b);
    sh_buf_free(&bad_desc);
}

static void test_text_limits(void)
{
    sh_dir_node n, back;
    dt_key id;
    sh_buf b, bad;

    sh_buf_init(&b);
    sh_buf_init(&bad);
    dt_node_make(&n, &id, 13, DT_NOW, NULL);
    memset(n.contact, 'c', SH_DIR_CONTACT_MAX);
    n.contact[SH_DIR_CONTACT_MAX] = '\0';
    memset(n.version, 'v', SH_DIR_VERSION_MAX);
    n.version[SH_DIR_VERSION_MAX] = '\0';
    CHECK_OK(sh_dir_descriptor_sign(&n, id.sk, &b));
    CHECK_OK(sh_dir_descriptor_verify(b.data, b.len, DT_NOW, &back));
    CHECK_EQ(strlen(back.contact), SH_DIR_CONTACT_MAX);
    /* One more character than the limit, made on the wire since the struct cannot hold it. */
    memset(long_contact, 'c', SH_DIR_CONTACT_MAX + 1);
    edited(&b, &id, edit_contact, &bad);
    CHECK_ERR(sh_dir_descriptor_verify(bad.data, bad.len, DT_NOW, &back), SH_ERR_LIMIT);
    CHECK_MSG("operator contact");
    /* Unterminated or non-printable text in the struct. */
    memset(n.version, 'v', sizeof n.version);
    CHECK_ERR(sh_dir_descriptor_sign(&n, id.sk, &b), SH_ERR_LIMIT);
    strcpy(n.version, "shoald\t1");
    CHECK_ERR(sh_dir_descriptor_sign(&n, id.sk, &b), SH_ERR_FORMAT);
    strcpy(n.version, "");
    CHECK_ERR(sh_dir_descriptor_sign(&n, id.sk, &b), SH_ERR_FORMAT);
    sh_buf_free(&b);
    sh_buf_free(&bad);
}

static void test_operator(void)
{
    sh_dir_node n, back;
    dt_key id, op, other;
    sh_buf b, bad;

    sh_buf_init(&b);
    sh_buf_init(&bad);
    dt_node_make(&n, &id, 14, DT_NOW, NULL);
    dt_key_make(&op, 3, 1);
    dt_key_make(&other, 3, 2);
    n.has_operator = true;
    memcpy(n.operator_key, op.pk, 32);
    CHECK_OK(sh_dir_operator_sign(op.sk, n.identity, n.operator_sig));
    CHECK_OK(sh_dir_descriptor_sign(&n, id.sk, &b));
    CHECK_OK(sh_dir_descriptor_verify(b.data, b.len, DT_NOW, &back));
    CHECK(back.has_operator);
    CHECK_MEM(back.operator_key, op.pk, 32);
    edited(&b, &id, edit_operator_sig, &bad);
    CHECK_ERR(sh_dir_descriptor_verify(bad.data, bad.len, DT_NOW, &back), SH_ERR_CRYPTO);
    CHECK_MSG("operator's grant");
    /* A grant by another operator key than the one named. */
    CHECK_OK(sh_dir_operator_sign(other.sk, n.identity, n.operator_sig));
    CHECK_ERR(sh_dir_descriptor_sign(&n, id.sk, &b), SH_ERR_CRYPTO);
    sh_buf_free(&b);
    sh_buf_free(&bad);
}

int main(void)
{
    CHECK_OK(sh_crypto_init());
    test_round_trip();
    test_signatures();
    test_labels_and_canonical();
    test_freshness();
    test_addresses();
    test_text_limits();
    test_operator();
    return 0;
}
