/* Fuzz target onion-peel: untrusted packets from a link, through sh_onion_peel at up to three
 * fixed nodes (header and payload), then the destination's sh_onion_open_request and a sealed
 * reply. Inputs of a size that is not a header plus a bucket are also tried cut or padded to the
 * 1 KiB bucket, so mutations reach the crypto. Seeds: valid 1..3-hop packets for the fixed nodes. */
#include <stdint.h>

#include "common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_seeds(const char *dir)
{
    sh_onion_hop hops[FUZZ_NODES];
    sh_buf pkt;
    sh_onion_client *st;
    uint8_t seed[32] = {1};
    char name[32];

    sh_buf_init(&pkt);
    fuzz_path(FUZZ_NODES, hops);
    for (size_t n = 1; n <= FUZZ_NODES; n++) {
        seed[1] = (uint8_t)n;
        if (sh__onion_build_seeded(hops, n, (const uint8_t *)"fuzz request", 12, SH_ONION_BUCKET_1K,
                                   seed, &pkt, &st) != SH_OK)
            abort();
        snprintf(name, sizeof name, "hops-%zu", n);
        fuzz_write_seed(dir, name, pkt.data, pkt.len);
        sh_onion_client_free(st);
    }
    sh_buf_free(&pkt);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("SHOAL_FUZZ_WRITE_SEEDS");

    (void)argc;
    (void)argv;
    fuzz_setup_nodes();
    if (dir != NULL) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}

static void peel_all(uint8_t *pkt, size_t len)
{
    sh_onion_replay *rc;
    sh_onion_peeled p;
    const uint8_t *msg;
    size_t msg_len;
    sh_buf reply;

    if (sh_onion_replay_open(NULL, 0, &rc) != SH_OK)
        abort();
    for (int i = 0; i < FUZZ_NODES; i++) {
        if (sh_onion_peel(fuzz_nodes[i].kr, rc, pkt, len, &p) != SH_OK)
            break;
        if (p.command == SH_ONION_DELIVER) {
            if (sh_onion_open_request(&p, pkt + SH_ONION_HEADER_BYTES,
                                      len - SH_ONION_HEADER_BYTES, &msg, &msg_len) == SH_OK) {
                sh_buf_init(&reply);
                if (sh_onion_seal_reply(&p, msg, msg_len, 0, &reply) != SH_OK)
                    abort(); /* a message that arrived always fits a reply */
                sh_buf_free(&reply);
            }
            break;
        }
        if (i + 1 < FUZZ_NODES && memcmp(p.next_id, fuzz_nodes[i + 1].id, SH_ONION_ID_BYTES) != 0)
            break;
        sh_onion_peeled_wipe(&p);
    }
    sh_onion_peeled_wipe(&p);
    sh_onion_replay_close(rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[SH_ONION_HEADER_BYTES + SH_ONION_BUCKET_1K];
    uint8_t *copy = malloc(size + 1);

    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    peel_all(copy, size);
    free(copy);
    if (size != sizeof buf) {
        memset(buf, 0, sizeof buf);
        memcpy(buf, data, size < sizeof buf ? size : sizeof buf);
        peel_all(buf, sizeof buf);
    }
    return 0;
}
