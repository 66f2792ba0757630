/* Fuzz target: the bodies of the directory's RPC methods (proto/dirnet.proto) as servers and
 * callers receive them. The first byte picks the decoder. A body that decodes is encoded again
 * and must decode to the same values; slices that decode are fed to a blob assembly and a
 * published descriptor to the descriptor check, as the handlers do. */
#include <stdint.h>

#include "common.h"
#include "dir/rpc.h"

enum { MAP_GET, MAP_REPLY, PONG, PUBLISH, PUBLISH_REPLY, VOTE_GET, VOTE_REPLY, SIG_GET, SIG_REPLY, N_KINDS };

static void check_map_get(const uint8_t *d, size_t n)
{
    sh__dir_map_get g, again;
    sh_buf b;

    if (sh__dir_map_get_decode(d, n, &g) != SH_OK)
        return;
    sh_buf_init(&b);
    if (sh__dir_map_get_encode(&g, &b) != SH_OK || sh__dir_map_get_decode(b.data, b.len, &again) != SH_OK ||
        memcmp(&g, &again, sizeof g) != 0)
        abort();
    sh_buf_free(&b);
}

static void take_chunk(const sh__dir_chunk *c)
{
    sh__dir_assembly a;

    if (!c->present)
        return;
    sh__dir_assembly_init(&a, SH_DIR_DIFF_MAX_BYTES);
    if (sh__dir_assembly_add(&a, c) == SH_OK && c->offset != 0)
        abort(); /* a first slice must start at 0 */
    sh__dir_assembly_free(&a);
}

static void check_map_reply(const uint8_t *d, size_t n)
{
    sh__dir_map_reply r, again;
    sh_buf b;

    if (sh__dir_map_reply_decode(d, n, &r) != SH_OK)
        return;
    sh_buf_init(&b);
    if (sh__dir_map_reply_encode(r.kind, r.version, r.chunk.present ? &r.chunk : NULL, &b) != SH_OK ||
        sh__dir_map_reply_decode(b.data, b.len, &again) != SH_OK || again.kind != r.kind ||
        again.version != r.version || again.chunk.len != r.chunk.len)
        abort();
    take_chunk(&r.chunk);
    sh__dir_map_reply_release(&again);
    sh__dir_map_reply_release(&r);
    sh_buf_free(&b);
}

static void check_publish(const uint8_t *d, size_t n)
{
    Shoal__Dirnet__Publish *pb;
    sh_dir_node node;

    if (sh__dir_publish_decode(d, n, &pb) != SH_OK)
        return;
    (void)!sh_dir_descriptor_verify(pb->descriptor.data, pb->descriptor.len, FZ_NOW, &node);
    protobuf_c_message_free_unpacked(&pb->base, NULL);
}

static void check_vote_reply(const uint8_t *d, size_t n)
{
    sh__dir_vote_reply r;

    if (sh__dir_vote_reply_decode(d, n, &r) != SH_OK)
        return;
    take_chunk(&r.chunk);
    sh__dir_vote_reply_release(&r);
}

static void check_sig_reply(const uint8_t *d, size_t n)
{
    sh__dir_sig_reply r, again;
    sh_buf b;

    if (sh__dir_sig_reply_decode(d, n, &r) != SH_OK)
        return;
    sh_buf_init(&b);
    if (sh__dir_sig_reply_encode(&r, &b) != SH_OK || sh__dir_sig_reply_decode(b.data, b.len, &again) != SH_OK ||
        again.n_sigs != r.n_sigs || again.has_body != r.has_body ||
        memcmp(again.sigs, r.sigs, r.n_sigs * sizeof r.sigs[0]) != 0)
        abort();
    sh_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    sh__dir_pong pong;
    sh__dir_publish_reply pr;
    sh__dir_vote_get vg;
    uint64_t round;

    if (!ready) {
        if (sh_crypto_init() != SH_OK)
            abort();
        ready = 1;
    }
    if (size == 0)
        return 0;
    switch (data[0] % N_KINDS) {
    case MAP_GET: check_map_get(data + 1, size - 1); break;
    case MAP_REPLY: check_map_reply(data + 1, size - 1); break;
    case PONG: (void)!sh__dir_pong_decode(data + 1, size - 1, &pong); break;
    case PUBLISH: check_publish(data + 1, size - 1); break;
    case PUBLISH_REPLY: (void)!sh__dir_publish_reply_decode(data + 1, size - 1, &pr); break;
    case VOTE_GET: (void)!sh__dir_vote_get_decode(data + 1, size - 1, &vg); break;
    case VOTE_REPLY: check_vote_reply(data + 1, size - 1); break;
    case SIG_GET: (void)!sh__dir_sig_get_decode(data + 1, size - 1, &round); break;
    default: check_sig_reply(data + 1, size - 1); break;
    }
    return 0;
}
