/* Two devices of two accounts and a session between them, built directly on the session layer
 * (internal API), for the ratchet and security tests. */
#ifndef SH_TEST_E2E_PAIR_H
#define SH_TEST_E2E_PAIR_H

#include "e2e/internal.h"

typedef struct pair {
    sh_e2e_device *a, *b;
    sh_e2e_session *sa, *sb; /* sa: A's (initiator), sb: B's (responder, after the first message) */
    int64_t now;
} pair;

typedef struct msg {
    uint8_t data[SH_E2E_MSG_OVERHEAD + 64];
    size_t len;
    uint32_t n; /* sequence number in the test */
} msg;

/* A and B, and A's session to B (B's session is made when its first message arrives). */
void pair_init(pair *p);
void pair_free(pair *p);
/* Encrypts "m<n>" from A (from_a) or B. */
void pair_send(pair *p, bool from_a, uint32_t n, msg *out);
/* Decrypts at the other side; returns the code; on success checks the text. */
int pair_recv(pair *p, bool at_b, const msg *m);
/* A copy of a session through save and load. */
sh_e2e_session *session_clone(const sh_e2e_session *s);

#endif
