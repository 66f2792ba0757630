/* Fuzz target onion-reply: untrusted replies coming back to a client, through
 * sh_onion_open_reply with the state of a fixed 3-hop request, and through a relay's
 * sh_onion_wrap_reply. Inputs are also tried cut or padded to the 1 KiB bucket. Seeds: a valid
 * reply to that request, and one with a layer missing. */
#include <stdint.h>

#include "common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sh_onion_client *client;
static sh_onion_peeled peeled[FUZZ_NODES];

static void write_seeds(const char *dir)
{
    sh_buf reply;

    sh_buf_init(&reply);
    if (sh_onion_seal_reply(&peeled[FUZZ_NODES - 1], (const uint8_t *)"fuzz reply", 10, 0, &reply) != SH_OK)
        abort();
    if (sh_onion_wrap_reply(peeled[1].reply_key, reply.data, reply.len) != SH_OK)
        abort();
    fuzz_write_seed(dir, "missing-layer", reply.data, reply.len);
    if (sh_onion_wrap_reply(peeled[0].reply_key, reply.data, reply.len) != SH_OK)
        abort();
    fuzz_write_seed(dir, "valid", reply.data, reply.len);
    sh_buf_free(&reply);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_with_request(2, &client, peeled, write_seeds);
    return 0;
}

static void open_one(uint8_t *reply, size_t len)
{
    const uint8_t *msg;
    size_t msg_len;

    if (sh_onion_open_reply(client, reply, len, &msg, &msg_len) == SH_OK && msg_len > len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[SH_ONION_BUCKET_1K];
    uint8_t *copy = malloc(size + 1);

    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    open_one(copy, size);
    memcpy(copy, data, size);
    (void)sh_onion_wrap_reply(peeled[0].reply_key, copy, size);
    free(copy);
    if (size != sizeof buf) {
        memset(buf, 0, sizeof buf);
        memcpy(buf, data, size < sizeof buf ? size : sizeof buf);
        open_one(buf, sizeof buf);
    }
    return 0;
}
