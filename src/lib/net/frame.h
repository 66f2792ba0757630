/* Transport frames of a Noise link (internal to net; see docs/net.md "Frames").
 *
 * On the wire every frame, like every handshake message, is a 2-byte big-endian length and that
 * many bytes: here one Noise transport message (ChaCha20-Poly1305 of the plaintext, 16-byte tag).
 * The plaintext is a 1-byte header and a chunk:
 *     header = type (low 4 bits) | SH_FRAME_FLAG_MORE | SH_FRAME_FLAG_REKEY
 * A message (an RPC envelope, a ping) longer than one chunk goes out as consecutive frames of the
 * same type, all but the last flagged MORE; frames of two messages never interleave. REKEY on a
 * frame means its sender applies Noise's Rekey() to its sending key right after it, so the
 * receiver rekeys after opening it; the sender decides when (after 2^20 frames or 1 GiB). */
#ifndef SH_NET_FRAME_H
#define SH_NET_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "net/noise.h"
#include "util/buf.h"

#define SH_FRAME_LEN_BYTES 2u
#define SH_FRAME_HEADER_BYTES 1u
#define SH_FRAME_MAX_CIPHERTEXT_BYTES SH_NOISE_MAX_MESSAGE_BYTES
#define SH_FRAME_MAX_PLAINTEXT_BYTES SH_NOISE_MAX_PLAINTEXT_BYTES
#define SH_FRAME_MAX_CHUNK_BYTES (SH_FRAME_MAX_PLAINTEXT_BYTES - SH_FRAME_HEADER_BYTES)
#define SH_FRAME_MIN_CIPHERTEXT_BYTES (SH_FRAME_HEADER_BYTES + SH_NOISE_TAG_BYTES)
#define SH_FRAME_MAX_WIRE_BYTES (SH_FRAME_LEN_BYTES + SH_FRAME_MAX_CIPHERTEXT_BYTES)
/* Bytes a frame adds around its chunk. */
#define SH_FRAME_OVERHEAD_BYTES (SH_FRAME_LEN_BYTES + SH_FRAME_HEADER_BYTES + SH_NOISE_TAG_BYTES)

_Static_assert(SH_FRAME_MAX_CIPHERTEXT_BYTES <= UINT16_MAX, "the length prefix is 2 bytes");
_Static_assert(SH_FRAME_MAX_CHUNK_BYTES == 65518u, "65519 bytes of plaintext less the header");

/* Rekey points (Noise section 11.3 leaves the schedule to the application). */
#define SH_FRAME_REKEY_AFTER_FRAMES (1ull << 20)
#define SH_FRAME_REKEY_AFTER_BYTES (1ull << 30)

enum sh_frame_type {
    SH_FRAME_REQUEST = 1,  /* an RpcRequest envelope, initiator to responder */
    SH_FRAME_RESPONSE = 2, /* an RpcResponse envelope, responder to initiator */
    SH_FRAME_PING = 3,     /* 8 opaque bytes; the peer answers with a PONG carrying them */
    SH_FRAME_PONG = 4,
    SH_FRAME_GOAWAY = 5, /* responder: send no new calls; calls in flight will be answered */
    SH_FRAME_TYPE_LAST = SH_FRAME_GOAWAY,
};
#define SH_FRAME_TYPE_MASK 0x0fu
#define SH_FRAME_FLAG_MORE 0x10u
#define SH_FRAME_FLAG_REKEY 0x20u
#define SH_FRAME_PING_BYTES 8u

/* Sending side: the cipher and the counters that decide when to rekey. */
typedef struct sh_frame_tx {
    sh_noise_cipher cipher;
    uint64_t frames, bytes;             /* since the last rekey */
    uint64_t rekey_frames, rekey_bytes; /* thresholds */
    uint64_t rekeys;
} sh_frame_tx;

/* Receiving side: the cipher and the message being opened. */
typedef struct sh_frame_rx {
    sh_noise_cipher cipher;
    sh_buf msg;       /* secret: frames are opened into it (see frame.c); wiped on every reset */
    uint8_t msg_type; /* 0 when no message is in progress */
    size_t max_msg;   /* cap on a reassembled message */
    uint64_t frames, rekeys;
} sh_frame_rx;

void sh__frame_tx_init(sh_frame_tx *tx, const sh_noise_cipher *c, uint64_t rekey_frames,
                       uint64_t rekey_bytes);
void sh__frame_rx_init(sh_frame_rx *rx, const sh_noise_cipher *c, size_t max_msg);
/* Wipes the keys and frees the reassembly buffer. */
void sh__frame_tx_wipe(sh_frame_tx *tx);
void sh__frame_rx_wipe(sh_frame_rx *rx);

/* Writes one message as frames into a buffer, copying its bytes once: append as many pieces as
 * needed, then end. Each full chunk is encrypted in place in `out`. */
typedef struct sh_frame_writer {
    sh_frame_tx *tx;
    sh_buf *out;
    size_t frame_start; /* offset of the open frame's length prefix in out */
    size_t chunk_len;
    uint8_t type;
    int rc; /* first error, sticky */
} sh_frame_writer;

void sh__frame_writer_begin(sh_frame_writer *w, sh_frame_tx *tx, uint8_t type, sh_buf *out,
                            size_t size_hint);
void sh__frame_writer_append(sh_frame_writer *w, const uint8_t *data, size_t len);
/* Seals the last frame; returns the first error of the whole message. */
int sh__frame_writer_end(sh_frame_writer *w) __attribute__((warn_unused_result));
/* begin + append + end. */
int sh__frame_seal(sh_frame_tx *tx, uint8_t type, const uint8_t *data, size_t len, sh_buf *out)
    __attribute__((warn_unused_result));

/* Called for each complete message; data is plaintext, valid (and wiped) after the call unless
 * the callback keeps it with sh__frame_rx_take. A non-zero return stops processing and is
 * returned by sh__frame_rx_process. */
typedef int (*sh_frame_msg_cb)(void *ctx, uint8_t type, const uint8_t *data, size_t len);

/* Opens every complete frame in data[0, len) (ciphertext, left as it is) into rx's own secret
 * memory, reassembles and delivers messages. *consumed = bytes of the whole frames used; the
 * rest starts an incomplete frame. Errors: SH_ERR_PROTOCOL (bad length, header or sequence),
 * SH_ERR_CRYPTO (a frame that does not authenticate: corrupted, replayed, reordered or under
 * another key), SH_ERR_LIMIT (a message over max_msg), SH_ERR_NOMEM, or the callback's.
 * Plaintext not taken is wiped before returning, except a message still in progress. */
int sh__frame_rx_process(sh_frame_rx *rx, const uint8_t *data, size_t len, size_t *consumed,
                         sh_frame_msg_cb cb, void *ctx) __attribute__((warn_unused_result));
/* From inside the callback: moves the memory holding the message to *out (a secret buffer, to
 * be freed with sh_buf_free), so that the data pointer the callback got stays valid. */
void sh__frame_rx_take(sh_frame_rx *rx, sh_buf *out);

/* Total bytes of the frame (or handshake message) that starts with data[0, len): its length
 * prefix plus its body; 0 while fewer than 2 bytes are known. */
size_t sh__frame_wire_len(const uint8_t *data, size_t len);

#endif
