/* Fuzz target: Noise_XK handshake messages as a link receives them. The first input byte picks
 * the step: 0 = the responder reads message 1; 1 = the initiator (having sent message 1) reads
 * message 2; 2 = the responder (after a valid message 1 and its message 2) reads message 3.
 * The rest is the message. Keys and ephemerals are fixed, so valid messages in the seed corpus
 * lead on to Split() and one transport message each way. */
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "crypto/crypto.h"
#include "crypto/labels.h"
#include "net/noise.h"

static const char prologue[] = SH_LABEL_LINK_PROLOGUE;
static uint8_t init_sk[32], resp_sk[32], resp_pk[32], init_e[32], resp_e[32];

static void start(sh_noise_hs *init, sh_noise_hs *resp)
{
    if (sh_noise_hs_init(init, SH_NOISE_XK, true, (const uint8_t *)prologue, sizeof prologue - 1,
                         init_sk, resp_pk) != 0 ||
        sh_noise_hs_init(resp, SH_NOISE_XK, false, (const uint8_t *)prologue,
                         sizeof prologue - 1, resp_sk, NULL) != 0)
        abort();
    sh__noise_hs_fix_ephemeral(init, init_e);
    sh__noise_hs_fix_ephemeral(resp, resp_e);
}

static void pass(sh_noise_hs *from, sh_noise_hs *to, uint8_t *msg, size_t *len)
{
    uint8_t pl[64];
    size_t pn;

    if (sh_noise_write_message(from, NULL, 0, msg, 256, len) != 0 ||
        sh_noise_read_message(to, msg, *len, pl, sizeof pl, &pn) != 0)
        abort();
}

/* After a successful read: play the handshake out between the two states (it completes only
 * when the fuzzer sent exactly the expected message) and use the transport keys. */
static void finish(sh_noise_hs *reader, sh_noise_hs *other)
{
    sh_noise_cipher tx, rx, otx, orx;
    uint8_t msg[256], pt[64];
    size_t n, pn;

    for (int step = 0; step < 3 && !(sh_noise_hs_done(reader) && sh_noise_hs_done(other));
         step++) {
        sh_noise_hs *w = reader, *r = other;

        if (sh_noise_write_message(w, NULL, 0, msg, sizeof msg, &n) != 0) {
            w = other, r = reader;
            if (sh_noise_write_message(w, NULL, 0, msg, sizeof msg, &n) != 0)
                return;
        }
        if (sh_noise_read_message(r, msg, n, pt, sizeof pt, &pn) != 0)
            return;
    }
    if (!sh_noise_hs_done(reader) || !sh_noise_hs_done(other))
        return;
    if (sh_noise_split(reader, &tx, &rx) != 0 || sh_noise_split(other, &otx, &orx) != 0)
        abort();
    if (sh_noise_encrypt(&tx, NULL, 0, (const uint8_t *)"ping", 4, msg) != 0 ||
        sh_noise_decrypt(&orx, NULL, 0, msg, 4 + SH_NOISE_TAG_BYTES, pt) != 0 ||
        memcmp(pt, "ping", 4) != 0)
        abort(); /* both sides completed: their keys must agree */
}

static void write_seeds(void)
{
    sh_noise_hs init, resp;
    uint8_t seed[1 + 256];
    size_t n;

    start(&init, &resp);
    if (sh_noise_write_message(&init, NULL, 0, seed + 1, 256, &n) != 0)
        abort();
    seed[0] = 0;
    fuzz_write_seed("msg1", seed, 1 + n);
    start(&init, &resp);
    pass(&init, &resp, seed + 1, &n);
    if (sh_noise_write_message(&resp, NULL, 0, seed + 1, 256, &n) != 0)
        abort();
    seed[0] = 1;
    fuzz_write_seed("msg2", seed, 1 + n);
    start(&init, &resp);
    pass(&init, &resp, seed + 1, &n);
    pass(&resp, &init, seed + 1, &n);
    if (sh_noise_write_message(&init, NULL, 0, seed + 1, 256, &n) != 0)
        abort();
    seed[0] = 2;
    fuzz_write_seed("msg3", seed, 1 + n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (sh_crypto_init() != 0)
        abort();
    fuzz_fixed_key(init_sk, 1);
    fuzz_fixed_key(resp_sk, 2);
    fuzz_fixed_key(init_e, 3);
    fuzz_fixed_key(resp_e, 4);
    crypto_scalarmult_base(resp_pk, resp_sk);
    write_seeds();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sh_noise_hs init, resp, *reader, *other;
    uint8_t msg[256], pl[SH_NOISE_MAX_MESSAGE_BYTES];
    size_t n, pn;

    if (size < 1)
        return 0;
    start(&init, &resp);
    switch (data[0] % 3) {
    case 0:
        reader = &resp, other = &init;
        if (sh_noise_write_message(&init, NULL, 0, msg, sizeof msg, &n) != 0)
            abort();
        break;
    case 1:
        reader = &init, other = &resp;
        pass(&init, &resp, msg, &n);
        break;
    default:
        reader = &resp, other = &init;
        pass(&init, &resp, msg, &n);
        pass(&resp, &init, msg, &n);
        if (sh_noise_write_message(&init, NULL, 0, msg, sizeof msg, &n) != 0)
            abort();
        break;
    }
    if (sh_noise_read_message(reader, data + 1, size - 1, pl, sizeof pl, &pn) == 0)
        finish(reader, other);
    sh_noise_hs_wipe(&init);
    sh_noise_hs_wipe(&resp);
    return 0;
}
