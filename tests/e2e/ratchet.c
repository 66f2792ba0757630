/* The session layer: Double Ratchet with header encryption and the post-quantum epochs, message
 * by message. Each case is its own test process (argv[1] names it). */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include <shoal/identity.h>

#include "pair.h"

/* A conversation in bursts; both directions; post-quantum epochs advance. */
static void in_order(void)
{
    pair p;
    msg m;
    uint32_t n = 0;

    pair_init(&p);
    for (int round = 0; round < 120; round++) {
        bool from_a = round % 2 == 0;
        for (int k = 0; k < 1 + round % 4; k++) {
            pair_send(&p, from_a, n, &m);
            CHECK_OK(pair_recv(&p, from_a, &m));
            n++;
        }
    }
    CHECK(p.sa->pq.send_epoch >= 2 && p.sb->pq.send_epoch >= 2);
    pair_free(&p);
}

/* 60 messages delivered in random order, each twice: all decrypt once, second copies are
 * replays, and the session state survives a save and load at every step. */
static void out_of_order(void)
{
    pair p;
    msg *ms = calloc(60, sizeof *ms);
    int order[120];

    pair_init(&p);
    pair_send(&p, true, 0, &ms[0]);
    CHECK_OK(pair_recv(&p, true, &ms[0]));
    for (uint32_t i = 1; i < 60; i++)
        pair_send(&p, true, i, &ms[i]);
    for (int i = 0; i < 120; i++)
        order[i] = 1 + i % 59;
    for (int i = 119; i > 0; i--) {
        int j = (int)(rand() % (i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    bool seen[60] = {false};
    for (int i = 0; i < 118; i++) {
        int k = order[i];
        sh_e2e_session *c = session_clone(p.sb);
        sh__e2e_session_free(p.sb);
        p.sb = c;
        if (seen[k]) {
            CHECK_ERR(pair_recv(&p, true, &ms[k]), SH_ERR_REPLAY);
        } else {
            CHECK_OK(pair_recv(&p, true, &ms[k]));
            seen[k] = true;
        }
    }
    free(ms);
    pair_free(&p);
}

/* A message more than SH_E2E_MAX_SKIP ahead is refused; one exactly at the limit is fine. */
static void beyond_window(void)
{
    pair p;
    msg *ms = calloc(SH_E2E_MAX_SKIP + 3, sizeof *ms);

    pair_init(&p);
    for (uint32_t i = 0; i < SH_E2E_MAX_SKIP + 3; i++)
        pair_send(&p, true, i, &ms[i]);
    CHECK_OK(pair_recv(&p, true, &ms[0]));
    CHECK_ERR(pair_recv(&p, true, &ms[SH_E2E_MAX_SKIP + 2]), SH_ERR_LIMIT);
    CHECK_MSG("at most 1000 messages may be skipped");
    CHECK_OK(pair_recv(&p, true, &ms[SH_E2E_MAX_SKIP + 1]));
    CHECK_EQ(p.sb->n_skipped, SH_E2E_MAX_SKIP);
    CHECK_OK(pair_recv(&p, true, &ms[1]));
    CHECK_OK(pair_recv(&p, true, &ms[SH_E2E_MAX_SKIP + 2]));
    free(ms);
    pair_free(&p);
}

/* Skipped keys expire: a message arriving after SH_E2E_SKIP_MAX_AGE_MS is refused. */
static void skipped_expire(void)
{
    pair p;
    msg m0, m1, m2;

    pair_init(&p);
    pair_send(&p, true, 0, &m0);
    pair_send(&p, true, 1, &m1);
    pair_send(&p, true, 2, &m2);
    CHECK_OK(pair_recv(&p, true, &m0));
    CHECK_OK(pair_recv(&p, true, &m2));
    CHECK_EQ(p.sb->n_skipped, 1);
    p.now += SH_E2E_SKIP_MAX_AGE_MS + 1;
    CHECK_ERR(pair_recv(&p, true, &m1), SH_ERR_REPLAY);
    CHECK_MSG("its key was dropped");
    CHECK_EQ(p.sb->n_skipped, 0);
    pair_free(&p);
}

/* A flipped bit anywhere in the header or the body is refused and changes nothing. */
static void tampered(void)
{
    pair p;
    msg m, bad;

    pair_init(&p);
    pair_send(&p, true, 0, &m);
    CHECK_OK(pair_recv(&p, true, &m));
    pair_send(&p, true, 1, &m);
    for (size_t i = 0; i < m.len; i += 7) {
        bad = m;
        bad.data[i] ^= 0x20;
        CHECK_ERR(pair_recv(&p, true, &bad), SH_ERR_CRYPTO);
        CHECK_MSG(i < SH_E2E_ENC_HEADER_BYTES ? "header does not open" : "body does not authenticate");
    }
    bad = m;
    bad.len = SH_E2E_MSG_OVERHEAD - 1;
    CHECK_ERR(pair_recv(&p, true, &bad), SH_ERR_FORMAT);
    CHECK_OK(pair_recv(&p, true, &m));
    CHECK_ERR(pair_recv(&p, true, &m), SH_ERR_REPLAY);
    pair_free(&p);
}

/* Forward secrecy: a snapshot taken after message k cannot decrypt message k-1 (its key is gone),
 * in either direction and across DH ratchet steps. */
static void forward_secrecy(void)
{
    pair p;
    msg ms[40];

    pair_init(&p);
    for (uint32_t k = 0; k < 40; k++) {
        bool from_a = (k / 5) % 2 == 0;
        sh_e2e_session *snap;
        pair_send(&p, from_a, k, &ms[k]);
        CHECK_OK(pair_recv(&p, from_a, &ms[k]));
        if (k == 0)
            continue;
        bool prev_at_b = ((k - 1) / 5) % 2 == 0;
        snap = session_clone(prev_at_b ? p.sb : p.sa);
        {
            uint8_t pt[64];
            uint32_t e;
            int rc = sh__e2e_session_decrypt(snap, ms[k - 1].data, ms[k - 1].len, NULL, 0, p.now, pt, &e);
            CHECK(rc == SH_ERR_REPLAY || rc == SH_ERR_CRYPTO);
        }
        sh__e2e_session_free(snap);
    }
    pair_free(&p);
}

/* The message carrying a post-quantum key or ciphertext chunk is lost: every message with a
 * chunk of index < 8 is dropped, yet both sides reach later epochs (the erasure code fills in). */
static void pq_chunks_lost(void)
{
    pair p;
    msg m;
    uint32_t n = 0, dropped = 0;

    pair_init(&p);
    pair_send(&p, true, n, &m);
    CHECK_OK(pair_recv(&p, true, &m));
    n++;
    for (int round = 0; round < 800 && p.sa->pq.send_epoch < 4; round++) {
        bool from_a = round % 2 == 0;
        sh_e2e_session *s = from_a ? p.sa : p.sb;
        bool carries = s->pq.phase == SH_E2E_PQ_PROPOSE_SENDING || s->pq.phase == SH_E2E_PQ_ENCAPS_SENDING ||
                       s->pq.phase == SH_E2E_PQ_PROPOSE_IDLE;
        uint32_t index = s->pq.phase == SH_E2E_PQ_PROPOSE_IDLE ? 0 : s->pq.out_index;
        pair_send(&p, from_a, n, &m);
        if (carries && index < 8) {
            dropped++;
            n++;
            continue;
        }
        CHECK_OK(pair_recv(&p, from_a, &m));
        n++;
    }
    CHECK(dropped >= 16);
    CHECK(p.sa->pq.send_epoch >= 4);
    pair_free(&p);
}

/* Post-compromise security against a quantum adversary. At some point the adversary copies B's
 * whole session; from then on it also learns every Double Ratchet state B reaches (it can break
 * X25519). It decrypts A's messages until the next post-quantum epoch that needed fresh
 * randomness, and none after. A classical adversary (no DH leak) is locked out by the DH ratchet
 * already. */
static void post_compromise(bool quantum)
{
    pair p;
    msg m;
    uint32_t n = 0, compromised_epoch = 0;
    sh_e2e_session *eve = NULL;
    int read_before = 0, read_after = 0, failed_after = 0;

    pair_init(&p);
    for (int round = 0; round < 160; round++) {
        bool from_a = round % 2 == 0;
        for (int k = 0; k < 3; k++) {
            pair_send(&p, from_a, n, &m);
            if (from_a && eve != NULL) {
                uint8_t pt[64];
                uint32_t e;
                uint32_t msg_epoch = p.sa->pq.send_epoch;
                int rc = sh__e2e_session_decrypt(eve, m.data, m.len, NULL, 0, p.now, pt, &e);
                if (msg_epoch >= compromised_epoch + 2) {
                    CHECK(rc != SH_OK);
                    failed_after++;
                } else if (rc == SH_OK) {
                    read_before++;
                }
                (void)read_after;
            }
            CHECK_OK(pair_recv(&p, from_a, &m));
            if (eve != NULL && quantum)
                sh__e2e_session_leak_classical(eve, p.sb);
            n++;
        }
        if (round == 40) {
            eve = session_clone(p.sb);
            compromised_epoch = p.sb->pq.send_epoch;
        }
    }
    CHECK(p.sa->pq.send_epoch >= compromised_epoch + 3);
    CHECK(failed_after > 30);
    if (quantum)
        CHECK(read_before > 0); /* until the PQ step, breaking DH was enough */
    else
        CHECK(read_before <= 3); /* a classical adversary is out after one DH step */
    sh__e2e_session_free(eve);
    pair_free(&p);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "";

    CHECK_OK(sh_identity_init());
    srand(7);
    if (strcmp(which, "in_order") == 0)
        in_order();
    else if (strcmp(which, "out_of_order") == 0)
        out_of_order();
    else if (strcmp(which, "beyond_window") == 0)
        beyond_window();
    else if (strcmp(which, "skipped_expire") == 0)
        skipped_expire();
    else if (strcmp(which, "tampered") == 0)
        tampered();
    else if (strcmp(which, "forward_secrecy") == 0)
        forward_secrecy();
    else if (strcmp(which, "pq_chunks_lost") == 0)
        pq_chunks_lost();
    else if (strcmp(which, "pcs_quantum") == 0)
        post_compromise(true);
    else if (strcmp(which, "pcs_classical") == 0)
        post_compromise(false);
    else
        test_fail(__FILE__, __LINE__, "unknown case '%s'", which);
    return 0;
}
