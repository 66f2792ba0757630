/* Fuzz target: the frame decoder of a link after its handshake (frame.c), with the envelope
 * decoders behind it. The first input byte picks the mode and the size of the pieces the stream
 * arrives in. Raw mode (bit 0 clear): the rest is the byte stream as received, under a fixed key
 * (almost nothing authenticates; this fuzzes lengths and framing). Sealed mode (bit 0 set): the
 * rest is a list of records [u16 length][plaintext], each sealed as one frame with the sender's
 * key (rekeying as its header asks), so the fuzzer controls headers, chunking, reassembly and
 * envelopes behind valid authentication. */
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "crypto/crypto.h"
#include "net/envelope.h"
#include "net/frame.h"
#include "util/buf.h"
#include "wire/rpc.h"

static sh_noise_cipher key;

static int on_message(void *ctx, uint8_t type, const uint8_t *data, size_t len)
{
    (void)ctx;
    if (type == SH_FRAME_REQUEST) {
        sh_rpc_request rq;

        if (sh__rpc_request_decode(data, len, &rq) == 0) {
            (void)sh__rpc_request_check(&rq);
            sh__rpc_request_release(&rq);
        }
    } else if (type == SH_FRAME_RESPONSE) {
        sh_rpc_response rs;

        if (sh__rpc_response_decode(data, len, &rs) == 0)
            sh__rpc_response_release(&rs);
    }
    return 0;
}

/* Seals records of plaintext as frames, each header byte chosen by the input. */
static void seal_records(const uint8_t *p, size_t n, sh_buf *wire)
{
    sh_noise_cipher tx = key;

    while (n >= 3) {
        size_t len = sh_load_u16be(p);
        uint8_t *f;

        p += 2, n -= 2;
        if (len == 0 || len > n || len > SH_FRAME_MAX_PLAINTEXT_BYTES)
            len = n < SH_FRAME_MAX_PLAINTEXT_BYTES ? n : SH_FRAME_MAX_PLAINTEXT_BYTES;
        if (sh_buf_extend(wire, 2 + len + SH_NOISE_TAG_BYTES, &f) != 0)
            abort();
        sh_store_u16be(f, (uint16_t)(len + SH_NOISE_TAG_BYTES));
        if (sh_noise_encrypt(&tx, NULL, 0, p, len, f + 2) != 0)
            abort();
        if (p[0] & SH_FRAME_FLAG_REKEY)
            sh_noise_rekey(&tx);
        p += len, n -= len;
    }
}

static void feed(const sh_buf *wire, size_t step)
{
    sh_frame_rx rx;
    sh_buf pending;
    size_t pos = 0, used;

    sh__frame_rx_init(&rx, &key, SH_RPC_MAX_ENVELOPE_BYTES);
    sh_buf_init(&pending);
    while (pos < wire->len) {
        size_t n = wire->len - pos < step ? wire->len - pos : step;

        if (sh_buf_append(&pending, wire->data + pos, n) != 0)
            abort();
        pos += n;
        if (sh__frame_rx_process(&rx, pending.data, pending.len, &used, on_message, NULL) != 0)
            break;
        if (used > pending.len)
            abort();
        memmove(pending.data, pending.data + used, pending.len - used);
        pending.len -= used;
    }
    sh_buf_free(&pending);
    sh__frame_rx_wipe(&rx);
}

static void write_seeds(void)
{
    sh_frame_tx tx;
    sh_buf out, rec;
    uint8_t body[300] = {0};

    sh_buf_init(&out);
    sh_buf_init(&rec);
    sh__frame_tx_init(&tx, &key, 2, 0);
    if (sh__rpc_seal_request(&tx, &out, 1, "echo", 1000, body, sizeof body) != 0 ||
        sh__frame_seal(&tx, SH_FRAME_PING, body, 8, &out) != 0 ||
        sh__rpc_seal_response(&tx, &out, 1, 0, NULL, body, 10) != 0)
        abort();
    if (sh_buf_append_u8(&rec, 0x10) != 0 || sh_buf_append(&rec, out.data, out.len) != 0)
        abort();
    fuzz_write_seed("raw-frames", rec.data, rec.len);
    /* The same messages as plaintext records; a request in two chunks. */
    sh_buf_reset(&rec);
    if (sh_buf_append_u8(&rec, 0x07) != 0)
        abort();
    static const uint8_t request[] = {0x08, 0x01, 0x12, 0x04, 'e', 'c', 'h', 'o',
                                      0x18, 0xe8, 0x07, 0x22, 0x02, 'h', 'i'};
    uint8_t r1[1 + 5], r2[1 + sizeof request - 5];
    r1[0] = SH_FRAME_REQUEST | SH_FRAME_FLAG_MORE;
    memcpy(r1 + 1, request, 5);
    r2[0] = SH_FRAME_REQUEST | SH_FRAME_FLAG_REKEY;
    memcpy(r2 + 1, request + 5, sizeof request - 5);
    if (sh_buf_append_u16be(&rec, sizeof r1) != 0 || sh_buf_append(&rec, r1, sizeof r1) != 0 ||
        sh_buf_append_u16be(&rec, sizeof r2) != 0 || sh_buf_append(&rec, r2, sizeof r2) != 0)
        abort();
    static const uint8_t ping[] = {SH_FRAME_PING, 1, 2, 3, 4, 5, 6, 7, 8};
    if (sh_buf_append_u16be(&rec, sizeof ping) != 0 || sh_buf_append(&rec, ping, sizeof ping))
        abort();
    fuzz_write_seed("sealed-records", rec.data, rec.len);
    sh_buf_free(&out);
    sh_buf_free(&rec);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (sh_crypto_init() != 0)
        abort();
    fuzz_fixed_key(key.k, 5);
    key.has_key = true;
    write_seeds();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t steps[] = {1, 3, 17, 64, 1000, 65537, 1 << 20, 1 << 22};
    sh_buf wire;

    if (size < 1)
        return 0;
    sh_buf_init(&wire);
    if (data[0] & 1)
        seal_records(data + 1, size - 1, &wire);
    else if (size > 1 && sh_buf_append(&wire, data + 1, size - 1) != 0)
        abort();
    feed(&wire, steps[(data[0] >> 1) & 7]);
    sh_buf_free(&wire);
    return 0;
}
