/* Messages inside packets (docs/onion.md "Requests, answers and relay errors"): requests and
 * answers round-trip and every malformed one is refused with its code; a relay's error block is
 * read by the client at the right hop, through the layers of earlier relays, and nowhere else. */
#include "fixture.h"
#include "test.h"
#include "util/err.h"

static void requests(void)
{
    uint8_t big[SH_ONION_MESSAGE_MAX_BYTES];
    sh_onion_request r;
    sh_buf b;

    sh_buf_init(&b);
    CHECK_OK(sh_onion_request_encode("", "store", (const uint8_t *)"abc", 3, &b));
    CHECK_EQ(b.len, 1 + 1 + 1 + 5 + 3);
    CHECK_MEM(b.data, "\x01\x00\x05store" "abc", b.len);
    CHECK_OK(sh_onion_request_parse(b.data, b.len, &r));
    CHECK_STR(r.service, "");
    CHECK_STR(r.method, "store");
    CHECK_EQ(r.len, 3);
    CHECK_OK(sh_onion_request_encode("file-server", "get", NULL, 0, &b));
    CHECK_OK(sh_onion_request_parse(b.data, b.len, &r));
    CHECK_STR(r.service, "file-server");
    CHECK_EQ(r.len, 0);
    CHECK_ERR(sh_onion_request_encode("", "", NULL, 0, &b), SH_ERR_INVALID);
    CHECK_ERR(sh_onion_request_encode("", "Store", NULL, 0, &b), SH_ERR_INVALID);
    CHECK_ERR(sh_onion_request_encode("a b", "store", NULL, 0, &b), SH_ERR_INVALID);
    memset(big, 0, sizeof big);
    CHECK_OK(sh_onion_request_encode("", "s", big, SH_ONION_MESSAGE_MAX_BYTES - 4, &b));
    CHECK_ERR(sh_onion_request_encode("", "s", big, SH_ONION_MESSAGE_MAX_BYTES - 3, &b), SH_ERR_LIMIT);
    CHECK_ERR(sh_onion_request_parse((const uint8_t *)"", 0, &r), SH_ERR_FORMAT);
    CHECK_ERR(sh_onion_request_parse((const uint8_t *)"\x02\x00\x01s", 4, &r), SH_ERR_UNSUPPORTED);
    CHECK_ERR(sh_onion_request_parse((const uint8_t *)"\x01\x00\x00", 3, &r), SH_ERR_FORMAT);
    CHECK_MSG("method");
    CHECK_ERR(sh_onion_request_parse((const uint8_t *)"\x01\x00\x05sto", 6, &r), SH_ERR_FORMAT);
    CHECK_ERR(sh_onion_request_parse((const uint8_t *)"\x01\x01X\x01s", 5, &r), SH_ERR_FORMAT);
    CHECK_MSG("service");
    sh_buf_free(&b);
}

static void answers(void)
{
    char long_msg[400];
    sh_onion_response a;
    sh_buf b;

    sh_buf_init(&b);
    CHECK_OK(sh_onion_response_encode(SH_ERR_FULL, "inbox\nfull", (const uint8_t *)"xy", 2, &b));
    CHECK_OK(sh_onion_response_parse(b.data, b.len, &a));
    CHECK_EQ(a.status, SH_ERR_FULL);
    CHECK_STR(a.message, "inbox?full");
    CHECK_EQ(a.len, 2);
    memset(long_msg, 'm', sizeof long_msg - 1);
    long_msg[sizeof long_msg - 1] = '\0';
    CHECK_OK(sh_onion_response_encode(SH_OK, long_msg, NULL, 0, &b));
    CHECK_OK(sh_onion_response_parse(b.data, b.len, &a));
    CHECK_EQ(strlen(a.message), SH_ONION_ERROR_MESSAGE_MAX_BYTES);
    CHECK_ERR(sh_onion_response_encode(1, NULL, NULL, 0, &b), SH_ERR_INVALID);
    CHECK_ERR(sh_onion_response_parse((const uint8_t *)"\x01\x00\x00\x00\x01\x00\x00", 7, &a),
              SH_ERR_FORMAT); /* a positive status */
    CHECK_ERR(sh_onion_response_parse((const uint8_t *)"\x01\x00\x00\x00\x00\x00\x05" "ab", 9, &a),
              SH_ERR_FORMAT); /* message longer than what is left */
    CHECK_ERR(sh_onion_response_parse((const uint8_t *)"\x01\x00\x00", 3, &a), SH_ERR_FORMAT);
    CHECK_ERR(sh_onion_response_parse((const uint8_t *)"\x07\x00\x00\x00\x00\x00\x00", 7, &a),
              SH_ERR_UNSUPPORTED);
    sh_buf_free(&b);
}

/* Relay k's error block, wrapped by relays k-1..0, opens at hop k and only with the right keys. */
static void relay_errors(void)
{
    fixture_node nodes[4];
    sh_onion_hop hops[4];
    sh_onion_peeled p[4];
    sh_onion_client *st;
    char msg[SH_ONION_ERROR_MESSAGE_MAX_BYTES + 1];
    size_t hop;
    int status;
    sh_buf pkt, b;

    fixture_nodes(nodes, 4);
    fixture_path(nodes, 4, hops);
    sh_buf_init(&pkt);
    sh_buf_init(&b);
    CHECK_OK(sh_onion_build(hops, 4, (const uint8_t *)"q", 1, &pkt, &st));
    for (int i = 0; i < 4; i++)
        CHECK_OK(sh_onion_peel(nodes[i].kr, nodes[i].rc, pkt.data, pkt.len, &p[i]));
    for (int k = 0; k < 3; k++) {
        CHECK_OK(sh_onion_relay_error(p[k].reply_key, SH_ERR_UNAVAILABLE, "next hop gone", &b));
        CHECK_EQ(b.len, SH_ONION_BUCKET_1K);
        for (int j = k - 1; j >= 0; j--)
            CHECK_OK(sh_onion_wrap_reply(p[j].reply_key, b.data, b.len));
        CHECK_OK(sh_onion_open_relay_error(st, b.data, b.len, &hop, &status, msg));
        CHECK_EQ(hop, k);
        CHECK_EQ(status, SH_ERR_UNAVAILABLE);
        CHECK_STR(msg, "next hop gone");
        b.data[100] ^= 1; /* any change destroys the block */
        CHECK_ERR(sh_onion_open_relay_error(st, b.data, b.len, &hop, &status, msg), SH_ERR_NOT_FOUND);
    }
    /* A block under a key the client does not hold (missing layer) is not an error block. */
    CHECK_OK(sh_onion_relay_error(p[1].reply_key, SH_ERR_TIMEOUT, "x", &b));
    CHECK_ERR(sh_onion_open_relay_error(st, b.data, b.len - 1, &hop, &status, msg), SH_ERR_NOT_FOUND);
    CHECK_ERR(sh_onion_relay_error(p[0].reply_key, SH_OK, "x", &b), SH_ERR_INVALID);
    /* A real reply is not mistaken for an error. */
    CHECK_OK(sh_onion_seal_reply(&p[3], (const uint8_t *)"answer", 6, 0, &b));
    for (int j = 2; j >= 0; j--)
        CHECK_OK(sh_onion_wrap_reply(p[j].reply_key, b.data, b.len));
    CHECK_ERR(sh_onion_open_relay_error(st, b.data, b.len, &hop, &status, msg), SH_ERR_NOT_FOUND);
    for (int i = 0; i < 4; i++)
        sh_onion_peeled_wipe(&p[i]);
    sh_onion_client_free(st);
    sh_buf_free(&pkt);
    sh_buf_free(&b);
    fixture_free(nodes, 4);
}

int main(void)
{
    requests();
    answers();
    relay_errors();
    return 0;
}
