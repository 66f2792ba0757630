/* Fuzz target node-relay: the body of an `onion` call as a relay handles it before any link is
 * involved: the frame check (circuit id ‖ header ‖ bucket), the peel with a fixed keyring, and
 * at the destination the end-to-end open and the request parse. Seeds: a 3-hop packet for the
 * first fixed node, and a 1-hop packet that this node delivers. */
#include <stdint.h>

#include "../onion/common.h"
#include "node/internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void seed(const char *dir, const char *name, size_t n_hops)
{
    sh_onion_hop hops[FUZZ_NODES];
    sh_onion_client *st;
    sh_buf msg, pkt, body;
    uint8_t s[32] = {4};

    sh_buf_init(&msg);
    sh_buf_init(&pkt);
    sh_buf_init(&body);
    fuzz_path(n_hops, hops);
    if (sh_onion_request_encode("", "info", NULL, 0, &msg) != SH_OK ||
        sh__onion_build_seeded(hops, n_hops, msg.data, msg.len, SH_ONION_BUCKET_1K, s, &pkt, &st) != SH_OK ||
        sh_buf_append_u64be(&body, 7) != SH_OK || sh_buf_append(&body, pkt.data, pkt.len) != SH_OK)
        abort();
    fuzz_write_seed(dir, name, body.data, body.len);
    sh_onion_client_free(st);
    sh_buf_free(&msg);
    sh_buf_free(&pkt);
    sh_buf_free(&body);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("SHOAL_FUZZ_WRITE_SEEDS");

    (void)argc;
    (void)argv;
    fuzz_setup_nodes();
    if (dir != NULL) {
        seed(dir, "relay-3-hops", 3);
        seed(dir, "deliver-1-hop", 1);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sh_onion_replay *rc;
    sh_onion_peeled p;
    sh_onion_request req;
    const uint8_t *msg;
    size_t msg_len;
    uint64_t circuit;
    uint8_t *pkt;

    if (sh__node_relay_body(data, size, &circuit) != SH_OK)
        return 0;
    if (circuit == 0 || (pkt = malloc(size)) == NULL || sh_onion_replay_open(NULL, 0, &rc) != SH_OK)
        abort();
    memcpy(pkt, data + 8, size - 8);
    if (sh_onion_peel(fuzz_nodes[0].kr, rc, pkt, size - 8, &p) == SH_OK &&
        p.command == SH_ONION_DELIVER &&
        sh_onion_open_request(&p, pkt + SH_ONION_HEADER_BYTES, size - 8 - SH_ONION_HEADER_BYTES,
                              &msg, &msg_len) == SH_OK)
        (void)sh_onion_request_parse(msg, msg_len, &req);
    sh_onion_peeled_wipe(&p);
    (void)sh_onion_replay_close(rc);
    free(pkt);
    return 0;
}
