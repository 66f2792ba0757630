/* Helpers of pair.h. */
#include "pair.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "test.h"

static void party_of(const sh_e2e_device *d, sh_e2e_party *p)
{
    p->account = d->account_pk;
    p->device_id = d->device_id;
    p->device_ed = d->ed_pk;
    p->identity_x = d->x_pk;
}

void pair_init(pair *p)
{
    uint8_t seed[16], zeros[32] = {0};
    sh_e2e_party pa, pb;
    sh_e2e_bundle b;
    sh_buf bytes;

    memset(p, 0, sizeof *p);
    p->now = 1700000000000LL;
    test_random(seed, 16);
    CHECK_OK(sh_e2e_device_new_primary(&p->a, seed, p->now));
    test_random(seed, 16);
    CHECK_OK(sh_e2e_device_new_primary(&p->b, seed, p->now));
    sh_buf_init(&bytes);
    CHECK_OK(sh_e2e_device_bundle(p->b, p->now, &bytes));
    CHECK_OK(sh__e2e_bundle_parse(&b, bytes.data, bytes.len));
    party_of(p->a, &pa);
    party_of(p->b, &pb);
    CHECK_OK(sh__e2e_session_new_initiator(&p->sa, &pa, p->a->x_sk, &pb, &b, zeros, p->now));
    sh_buf_free(&bytes);
}

void pair_free(pair *p)
{
    sh__e2e_session_free(p->sa);
    sh__e2e_session_free(p->sb);
    sh_e2e_device_free(p->a);
    sh_e2e_device_free(p->b);
}

void pair_send(pair *p, bool from_a, uint32_t n, msg *out)
{
    char text[32];
    int len = snprintf(text, sizeof text, "m%u", n);

    CHECK_OK(sh__e2e_session_encrypt(from_a ? p->sa : p->sb, (const uint8_t *)text, (size_t)len,
                                     NULL, 0, out->data));
    out->len = SH_E2E_MSG_OVERHEAD + (size_t)len;
    out->n = n;
}

/* B's side of the handshake from A's session's init. */
static int make_responder(pair *p)
{
    sh_e2e_hs_init init;
    sh_e2e_hs_keys keys;
    sh_e2e_party pa, pb;
    sh_e2e_prekey *pk = p->b->prekeys[0];
    uint8_t th[32];
    int rc;

    party_of(p->a, &pa);
    party_of(p->b, &pb);
    CHECK_OK(sh__e2e_hs_init_decode(&init, p->sa->init));
    if ((rc = sh__e2e_hs_respond(&pb, p->b->x_sk, &pa, pk->spk_sk, pk->spk_pk, pk->pq_seed,
                                 pk->pq_ek, &init, &keys, th)) != SH_OK)
        return rc;
    CHECK_MEM(th, p->sa->th, 32);
    return sh__e2e_session_new_responder(&p->sb, &pa, &keys, th, &init, pk->spk_sk, pk->spk_pk,
                                         p->now);
}

int pair_recv(pair *p, bool at_b, const msg *m)
{
    uint8_t pt[64];
    uint32_t epoch;
    char text[32];
    int rc;

    if (at_b && p->sb == NULL)
        CHECK_OK(make_responder(p));
    rc = sh__e2e_session_decrypt(at_b ? p->sb : p->sa, m->data, m->len, NULL, 0, p->now, pt, &epoch);
    if (rc == SH_OK) {
        int len = snprintf(text, sizeof text, "m%u", m->n);
        CHECK_EQ(m->len - SH_E2E_MSG_OVERHEAD, len);
        CHECK_MEM(pt, text, (size_t)len);
    }
    return rc;
}

sh_e2e_session *session_clone(const sh_e2e_session *s)
{
    sh_buf b;
    sh_e2e_session *c;

    sh_buf_init_secret(&b);
    CHECK_OK(sh__e2e_session_save(s, &b));
    CHECK_OK(sh__e2e_session_load(&c, b.data, b.len));
    sh_buf_free(&b);
    return c;
}
