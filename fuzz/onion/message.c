/* Fuzz target onion-message: what travels inside packets, from untrusted bytes: the request a
 * destination parses (sh_onion_request_parse), the answer a client parses
 * (sh_onion_response_parse), and relay error blocks a client tries to open
 * (sh_onion_open_relay_error, with the state of a fixed 3-hop request; inputs also tried cut or
 * padded to the 1 KiB block). Seeds: a request, an answer, and an error block from hop 1. */
#include <stdint.h>

#include "common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sh_onion_client *client;
static sh_onion_peeled peeled[FUZZ_NODES];

static void write_seeds(const char *dir)
{
    sh_buf b;

    sh_buf_init(&b);
    if (sh_onion_request_encode("", "retrieve", (const uint8_t *)"body", 4, &b) != SH_OK)
        abort();
    fuzz_write_seed(dir, "request", b.data, b.len);
    if (sh_onion_response_encode(SH_ERR_FULL, "inbox full", (const uint8_t *)"x", 1, &b) != SH_OK)
        abort();
    fuzz_write_seed(dir, "answer", b.data, b.len);
    if (sh_onion_relay_error(peeled[1].reply_key, SH_ERR_UNAVAILABLE, "next hop gone", &b) != SH_OK ||
        sh_onion_wrap_reply(peeled[0].reply_key, b.data, b.len) != SH_OK)
        abort();
    fuzz_write_seed(dir, "relay-error", b.data, b.len);
    sh_buf_free(&b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_with_request(3, &client, peeled, write_seeds);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t block[SH_ONION_BUCKET_1K];
    char msg[SH_ONION_ERROR_MESSAGE_MAX_BYTES + 1];
    sh_onion_request req;
    sh_onion_response resp;
    size_t hop;
    int status;

    if (sh_onion_request_parse(data, size, &req) == SH_OK &&
        (req.body + req.len != data + size || strlen(req.method) == 0))
        abort();
    if (sh_onion_response_parse(data, size, &resp) == SH_OK &&
        (resp.body + resp.len != data + size || resp.status > 0))
        abort();
    memset(block, 0, sizeof block);
    memcpy(block, data, size < sizeof block ? size : sizeof block);
    if (sh_onion_open_relay_error(client, block, sizeof block, &hop, &status, msg) == SH_OK &&
        (hop >= FUZZ_NODES - 1 || status >= 0 || strlen(msg) > SH_ONION_ERROR_MESSAGE_MAX_BYTES))
        abort();
    (void)sh_onion_open_relay_error(client, data, size, &hop, &status, msg);
    return 0;
}
