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

/* The fixed request, peeled by every node, gives the client state and the relays' keys. */
static void setup_request(void)
{
    sh_onion_hop hops[FUZZ_NODES];
    sh_onion_replay *rc;
    sh_buf pkt;
    uint8_t seed[32] = {2};

    sh_buf_init(&pkt);
    fuzz_path(FUZZ_NODES, hops);
    if (sh__onion_build_seeded(hops, FUZZ_NODES, (const uint8_t *)"q", 1, SH_ONION_BUCKET_1K, seed,
                               &pkt, &client) != SH_OK ||
        sh_onion_replay_open(NULL, 0, &rc) != SH_OK)
        abort();
    for (int i = 0; i < FUZZ_NODES; i++)
        if (sh_onion_peel(fuzz_nodes[i].kr, rc, pkt.data, pkt.len, &peeled[i]) != SH_OK)
            abort();
    sh_onion_replay_close(rc);
    sh_buf_free(&pkt);
}

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
    const char *dir = getenv("SHOAL_FUZZ_WRITE_SEEDS");

    (void)argc;
    (void)argv;
    fuzz_setup_nodes();
    setup_request();
    if (dir != NULL) {
        write_seeds(dir);
        exit(0);
    }
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
