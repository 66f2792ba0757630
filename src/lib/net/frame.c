/* Transport frames: chunking, sealing, opening and reassembly (format in frame.h). */
#include "net/frame.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

void sh__frame_tx_init(sh_frame_tx *tx, const sh_noise_cipher *c, uint64_t rekey_frames,
                       uint64_t rekey_bytes)
{
    memset(tx, 0, sizeof *tx);
    tx->cipher = *c;
    tx->rekey_frames = rekey_frames != 0 ? rekey_frames : SH_FRAME_REKEY_AFTER_FRAMES;
    tx->rekey_bytes = rekey_bytes != 0 ? rekey_bytes : SH_FRAME_REKEY_AFTER_BYTES;
}

void sh__frame_rx_init(sh_frame_rx *rx, const sh_noise_cipher *c, size_t max_msg)
{
    memset(rx, 0, sizeof *rx);
    rx->cipher = *c;
    sh_buf_init_secret(&rx->msg);
    rx->max_msg = max_msg;
}

void sh__frame_tx_wipe(sh_frame_tx *tx)
{
    sodium_memzero(tx, sizeof *tx);
}

void sh__frame_rx_wipe(sh_frame_rx *rx)
{
    sh_buf_free(&rx->msg);
    sodium_memzero(rx, sizeof *rx);
}

/* Writing ------------------------------------------------------------------------------------ */

static void open_frame(sh_frame_writer *w)
{
    uint8_t *p;

    if (w->rc != SH_OK)
        return;
    w->frame_start = w->out->len;
    w->chunk_len = 0;
    w->rc = sh_buf_extend(w->out, SH_FRAME_LEN_BYTES + SH_FRAME_HEADER_BYTES, &p);
}

/* Encrypts the open frame in place: [len][header|chunk] becomes [len][ciphertext|tag]. */
static void seal_frame(sh_frame_writer *w, bool more)
{
    sh_frame_tx *tx = w->tx;
    size_t pt_len = SH_FRAME_HEADER_BYTES + w->chunk_len;
    size_t ct_len = pt_len + SH_NOISE_TAG_BYTES;
    uint8_t *tag, *frame;
    bool rekey;

    if (w->rc != SH_OK)
        return;
    w->rc = sh_buf_extend(w->out, SH_NOISE_TAG_BYTES, &tag);
    if (w->rc != SH_OK)
        return;
    frame = w->out->data + w->frame_start;
    rekey = tx->frames + 1 >= tx->rekey_frames || tx->bytes + ct_len >= tx->rekey_bytes;
    frame[SH_FRAME_LEN_BYTES] = (uint8_t)(w->type | (more ? SH_FRAME_FLAG_MORE : 0) |
                                          (rekey ? SH_FRAME_FLAG_REKEY : 0));
    sh_store_u16be(frame, (uint16_t)ct_len);
    w->rc = sh_noise_encrypt(&tx->cipher, NULL, 0, frame + SH_FRAME_LEN_BYTES, pt_len,
                             frame + SH_FRAME_LEN_BYTES);
    if (w->rc != SH_OK)
        return;
    tx->frames++;
    tx->bytes += ct_len;
    if (rekey) {
        sh_noise_rekey(&tx->cipher);
        tx->frames = tx->bytes = 0;
        tx->rekeys++;
    }
}

void sh__frame_writer_begin(sh_frame_writer *w, sh_frame_tx *tx, uint8_t type, sh_buf *out,
                            size_t size_hint)
{
    size_t frames = size_hint / SH_FRAME_MAX_CHUNK_BYTES + 1;

    w->tx = tx;
    w->out = out;
    w->type = type;
    w->frame_start = out->len;
    w->rc = sh_buf_reserve(out, size_hint + frames * SH_FRAME_OVERHEAD_BYTES);
    open_frame(w);
}

void sh__frame_writer_append(sh_frame_writer *w, const uint8_t *data, size_t len)
{
    while (len > 0 && w->rc == SH_OK) {
        size_t room = SH_FRAME_MAX_CHUNK_BYTES - w->chunk_len, take;

        if (room == 0) {
            /* Full, and more follows: seal it with MORE and start the next. */
            seal_frame(w, true);
            open_frame(w);
            continue;
        }
        take = len < room ? len : room;
        w->rc = sh_buf_append(w->out, data, take);
        w->chunk_len += take;
        data += take;
        len -= take;
    }
}

int sh__frame_writer_end(sh_frame_writer *w)
{
    seal_frame(w, false);
    if (w->rc != SH_OK && w->out->len > w->frame_start) /* a frame left unsealed */
        sodium_memzero(w->out->data + w->frame_start, w->out->len - w->frame_start);
    return w->rc;
}

int sh__frame_seal(sh_frame_tx *tx, uint8_t type, const uint8_t *data, size_t len, sh_buf *out)
{
    sh_frame_writer w;

    sh__frame_writer_begin(&w, tx, type, out, len);
    sh__frame_writer_append(&w, data, len);
    return sh__frame_writer_end(&w);
}

/* Reading ------------------------------------------------------------------------------------ */

size_t sh__frame_wire_len(const uint8_t *data, size_t len)
{
    if (len < SH_FRAME_LEN_BYTES)
        return 0;
    return SH_FRAME_LEN_BYTES + sh_load_u16be(data);
}

/* A message of several frames grew rx->msg by doubling; its receiver may keep it a while
 * (sh__frame_rx_take), so more than a frame's worth of slack is given back with one copy. */
static void fit_message(sh_frame_rx *rx)
{
    size_t len = rx->msg.len;
    uint8_t *p;

    if (rx->msg.cap - len <= SH_FRAME_MAX_PLAINTEXT_BYTES || (p = malloc(len)) == NULL)
        return;
    memcpy(p, rx->msg.data, len);
    sh_buf_free(&rx->msg);
    rx->msg = (sh_buf){.data = p, .len = len, .cap = len, .secret = true};
}

/* Takes the chunk just opened onto the message in progress (rx->msg holds both, see
 * open_frame_at); delivers the message when it is whole. */
static int take_chunk(sh_frame_rx *rx, uint8_t header, sh_frame_msg_cb cb, void *ctx)
{
    uint8_t type = header & SH_FRAME_TYPE_MASK;
    bool more = (header & SH_FRAME_FLAG_MORE) != 0;
    size_t msg_len = rx->msg.len - SH_FRAME_HEADER_BYTES;
    int rc;

    if (type == 0 || type > SH_FRAME_TYPE_LAST ||
        (header & ~(SH_FRAME_TYPE_MASK | SH_FRAME_FLAG_MORE | SH_FRAME_FLAG_REKEY)) != 0)
        return sh_err_set(SH_ERR_PROTOCOL, "frame %llu has an unknown header 0x%02x",
                          (unsigned long long)rx->frames, header);
    if (rx->msg_type != 0 && type != rx->msg_type)
        return sh_err_set(SH_ERR_PROTOCOL,
                          "frame %llu of type %u interrupts a message of type %u",
                          (unsigned long long)rx->frames, type, rx->msg_type);
    if ((rx->msg_type != 0 || more) && msg_len > rx->max_msg)
        return sh_err_set(SH_ERR_LIMIT, "a message over the %zu-byte limit (%zu bytes so far)",
                          rx->max_msg, msg_len);
    if (more) {
        rx->msg_type = type;
        return SH_OK;
    }
    if (rx->msg_type != 0)
        fit_message(rx);
    rc = cb(ctx, type, rx->msg.data + SH_FRAME_HEADER_BYTES, msg_len);
    sh_buf_reset(&rx->msg); /* wipes the plaintext, unless the callback took it */
    rx->msg_type = 0;
    return rc;
}

/* Opens a frame out of place into rx->msg, so that the read buffer only ever holds ciphertext
 * and a message needs no copy. A frame that starts a message lands at the front: its header
 * byte is msg.data[0], the message follows. A continuation frame lands one byte early: its
 * header byte covers the last byte of the message so far, which is kept aside and put back. */
static int open_frame_at(sh_frame_rx *rx, const uint8_t *ct, size_t ct_len, sh_frame_msg_cb cb,
                         void *ctx)
{
    size_t pt_len = ct_len - SH_NOISE_TAG_BYTES, at;
    uint8_t header, kept = 0;
    int rc;

    rx->frames++;
    if (ct_len < SH_FRAME_MIN_CIPHERTEXT_BYTES)
        return sh_err_set(SH_ERR_PROTOCOL, "frame %llu of %zu bytes is shorter than %u",
                          (unsigned long long)rx->frames, ct_len, SH_FRAME_MIN_CIPHERTEXT_BYTES);
    if (rx->msg_type == 0)
        sh_buf_reset(&rx->msg);
    at = rx->msg_type == 0 ? 0 : rx->msg.len - SH_FRAME_HEADER_BYTES;
    rc = sh_buf_reserve(&rx->msg, at + pt_len - rx->msg.len);
    if (rc != SH_OK)
        return rc;
    if (at > 0)
        kept = rx->msg.data[at];
    if (sh_noise_decrypt(&rx->cipher, NULL, 0, ct, ct_len, rx->msg.data + at) != SH_OK)
        return sh_err_set(SH_ERR_CRYPTO,
                          "frame %llu failed authentication (corrupted, replayed or reordered)",
                          (unsigned long long)rx->frames);
    header = rx->msg.data[at];
    if (at > 0)
        rx->msg.data[at] = kept;
    rx->msg.len = at + pt_len;
    rc = take_chunk(rx, header, cb, ctx);
    if (rc == SH_OK && (header & SH_FRAME_FLAG_REKEY) != 0) {
        sh_noise_rekey(&rx->cipher);
        rx->rekeys++;
    }
    return rc;
}

void sh__frame_rx_take(sh_frame_rx *rx, sh_buf *out)
{
    *out = rx->msg;
    sh_buf_init_secret(&rx->msg);
}

int sh__frame_rx_process(sh_frame_rx *rx, const uint8_t *data, size_t len, size_t *consumed,
                         sh_frame_msg_cb cb, void *ctx)
{
    size_t pos = 0, wire_len;
    int rc = SH_OK;

    while ((wire_len = sh__frame_wire_len(data + pos, len - pos)) != 0 && wire_len <= len - pos) {
        rc = open_frame_at(rx, data + pos + SH_FRAME_LEN_BYTES, wire_len - SH_FRAME_LEN_BYTES, cb,
                           ctx);
        pos += wire_len;
        if (rc != SH_OK)
            break;
    }
    *consumed = pos;
    if (rc != SH_OK) {
        sh_buf_reset(&rx->msg);
        rx->msg_type = 0;
    }
    /* Between messages the buffer is empty: give its memory back, so that idle links hold none. */
    if (rx->msg_type == 0)
        sh_buf_free(&rx->msg);
    return rc;
}
