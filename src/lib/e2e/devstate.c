/* The saved device (docs/protocol-v2.md, "Persistence"): a versioned protobuf DeviceState with
 * its keys, prekeys and replay sets, the accounts it knows and its sessions. Every secret is in
 * clear in these bytes; the caller encrypts them before they reach a disk. */
#include "e2e/internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/err.h"

#define DEVICE_STATE_VERSION 1

/* A Signed message pointing into stored bytes, decoded shallowly. */
static int signed_of(const sh_buf *b, Shoal__Signed **out)
{
    if (b->len == 0) {
        *out = NULL;
        return SH_OK;
    }
    *out = (Shoal__Signed *)protobuf_c_message_unpack(&shoal__signed__descriptor, NULL,
                                                          b->len, b->data);
    if (*out == NULL)
        return sh_err_set(SH_ERR_INTERNAL, "a stored signed object does not decode");
    return SH_OK;
}

typedef struct save_ctx {
    Shoal__E2e__DeviceState m;
    ProtobufCBinaryData env[2];
    Shoal__E2e__Prekey *pk;
    Shoal__E2e__Prekey **pkp;
    ProtobufCBinaryData **seen;
    Shoal__E2e__PeerAccount *acc;
    Shoal__E2e__PeerAccount **accp;
    Shoal__Signed ***bundles;
    Shoal__E2e__Session **sessions;
    Shoal__Signed **issued;
    size_t n_signed;
    Shoal__Signed *signed_list[4096];
} save_ctx;

static Shoal__Signed *track(save_ctx *c, const sh_buf *b, int *rc)
{
    Shoal__Signed *s = NULL;

    if (*rc != SH_OK)
        return NULL;
    *rc = signed_of(b, &s);
    if (s != NULL) {
        if (c->n_signed == sizeof c->signed_list / sizeof c->signed_list[0]) {
            protobuf_c_message_free_unpacked(&s->base, NULL);
            *rc = sh_err_set(SH_ERR_LIMIT, "too many objects to save");
            return NULL;
        }
        c->signed_list[c->n_signed++] = s;
    }
    return s;
}

static int save_prekeys(const sh_e2e_device *d, save_ctx *c)
{
    c->pk = calloc(d->n_prekeys + 1, sizeof *c->pk);
    c->pkp = calloc(d->n_prekeys + 1, sizeof *c->pkp);
    c->seen = calloc(d->n_prekeys + 1, sizeof *c->seen);
    if (c->pk == NULL || c->pkp == NULL || c->seen == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory saving prekeys");
    int rc = SH_OK;
    for (size_t i = 0; i < d->n_prekeys; i++) {
        const sh_e2e_prekey *p = d->prekeys[i];
        Shoal__E2e__Prekey *m = &c->pk[i];
        shoal__e2e__prekey__init(m);
        m->spk_id = p->id;
        m->spk_sk = sh_wire_bin(p->spk_sk, 32);
        m->pqspk_id = p->id;
        m->pq_seed = sh_wire_bin(p->pq_seed, SH_E2E_MLKEM_SEED_BYTES);
        m->created_ms = (uint64_t)p->created_ms;
        m->erase_after_ms = (uint64_t)p->erase_after_ms;
        if ((c->seen[i] = calloc(p->n_seen + 1, sizeof **c->seen)) == NULL)
            return sh_err_set(SH_ERR_NOMEM, "out of memory saving a replay set");
        for (size_t j = 0; j < p->n_seen; j++)
            c->seen[i][j] = sh_wire_bin(p->seen[j], SH_E2E_REPLAY_TAG_BYTES);
        m->n_seen_handshakes = p->n_seen;
        m->seen_handshakes = c->seen[i];
        m->bundle = track(c, &p->bundle, &rc);
        c->pkp[i] = m;
    }
    c->m.n_prekeys = d->n_prekeys;
    c->m.prekeys = c->pkp;
    return rc;
}

static int save_accounts(const sh_e2e_device *d, save_ctx *c)
{
    int rc = SH_OK;

    c->acc = calloc(d->n_accounts + 1, sizeof *c->acc);
    c->accp = calloc(d->n_accounts + 1, sizeof *c->accp);
    c->bundles = calloc(d->n_accounts + 1, sizeof *c->bundles);
    if (c->acc == NULL || c->accp == NULL || c->bundles == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory saving accounts");
    for (size_t i = 0; i < d->n_accounts && rc == SH_OK; i++) {
        const sh_e2e_account_view *v = d->accounts[i];
        Shoal__E2e__PeerAccount *m = &c->acc[i];
        shoal__e2e__peer_account__init(m);
        m->device_list = track(c, &v->list_bytes, &rc);
        m->highest_counter = v->highest_counter;
        if ((c->bundles[i] = calloc(v->n_bundles + 1, sizeof **c->bundles)) == NULL)
            return sh_err_set(SH_ERR_NOMEM, "out of memory saving bundles");
        for (size_t j = 0; j < v->n_bundles; j++)
            c->bundles[i][j] = track(c, &v->bundle_bytes[j], &rc);
        m->n_bundles = v->n_bundles;
        m->bundles = c->bundles[i];
        c->accp[i] = m;
    }
    c->m.n_peers = d->n_accounts;
    c->m.peers = c->accp;
    return rc;
}

static int save_sessions(const sh_e2e_device *d, save_ctx *c)
{
    int rc = SH_OK;

    if ((c->sessions = calloc(d->n_sessions + 1, sizeof *c->sessions)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory saving sessions");
    for (size_t i = 0; i < d->n_sessions && rc == SH_OK; i++) {
        sh_buf b;
        sh_buf_init_secret(&b);
        if ((rc = sh__e2e_session_save(d->sessions[i], &b)) == SH_OK) {
            c->sessions[i] = shoal__e2e__session__unpack(&sh_wire_secret_allocator, b.len, b.data);
            if (c->sessions[i] == NULL)
                rc = sh_err_set(SH_ERR_INTERNAL, "a saved session does not decode");
        }
        sh_buf_free(&b);
    }
    c->m.n_sessions = d->n_sessions;
    c->m.sessions = c->sessions;
    return rc;
}

static void save_free(save_ctx *c, size_t n_prekeys, size_t n_accounts, size_t n_sessions)
{
    for (size_t i = 0; i < c->n_signed; i++)
        protobuf_c_message_free_unpacked(&c->signed_list[i]->base, NULL);
    for (size_t i = 0; c->seen && i < n_prekeys; i++)
        free(c->seen[i]);
    for (size_t i = 0; c->bundles && i < n_accounts; i++)
        free(c->bundles[i]);
    for (size_t i = 0; c->sessions && i < n_sessions; i++)
        sh_wire_free_secret(c->sessions[i]);
    free(c->pk);
    free(c->pkp);
    free(c->seen);
    free(c->acc);
    free(c->accp);
    free(c->bundles);
    free(c->sessions);
    free(c->issued);
}

int sh_e2e_device_save(const sh_e2e_device *d, sh_buf *out)
{
    save_ctx *c = sh_secret_alloc(sizeof *c);
    Shoal__E2e__DeviceState *m;
    int rc = SH_OK;

    if (c == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory saving a device");
    memset(c, 0, sizeof *c);
    m = &c->m;
    shoal__e2e__device_state__init(m);
    m->version = DEVICE_STATE_VERSION;
    m->account_ed25519_pk = sh_wire_bin(d->account_pk, 32);
    if (d->account != NULL)
        m->account_seed = sh_wire_bin(d->account_seed, 16);
    m->device_id = d->device_id;
    m->ed25519_seed = sh_wire_bin(d->ed_sk, 32);
    m->x25519_sk = sh_wire_bin(d->x_sk, 32);
    m->mlkem_seed = sh_wire_bin(d->mlkem_seed, SH_E2E_MLKEM_SEED_BYTES);
    c->env[0] = sh_wire_bin(d->prev_env_seed, 32);
    c->env[1] = sh_wire_bin(d->env_seed, 32);
    m->n_envelope_seeds = 2;
    m->envelope_seeds = c->env;
    m->envelope_generation = d->env_gen;
    m->token = track(c, &d->token, &rc);
    m->next_prekey_id = d->next_prekey_id;
    m->revoked = d->revoked;
    m->revocation_list = track(c, &d->revocations, &rc);
    m->revocations_counter = d->revocations_counter;
    if ((c->issued = calloc(d->n_issued + 1, sizeof *c->issued)) == NULL && rc == SH_OK)
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory saving tokens");
    for (size_t i = 0; i < d->n_issued && rc == SH_OK; i++)
        c->issued[i] = track(c, &d->issued[i], &rc);
    m->n_issued_tokens = d->n_issued;
    m->issued_tokens = c->issued;
    if (rc == SH_OK && (rc = save_prekeys(d, c)) == SH_OK && (rc = save_accounts(d, c)) == SH_OK &&
        (rc = save_sessions(d, c)) == SH_OK)
        rc = sh_wire_pack(&m->base, out);
    save_free(c, d->n_prekeys, d->n_accounts, d->n_sessions);
    sh_secret_free(c);
    return rc;
}

/* ---- Loading ------------------------------------------------------------------------------- */

static int pack_signed(const Shoal__Signed *s, sh_buf *out)
{
    sh_buf_reset(out);
    return s == NULL ? SH_OK : sh_wire_pack(&s->base, out);
}

static int load_keys(sh_e2e_device *d, const Shoal__E2e__DeviceState *m)
{
    int rc;

    if ((rc = sh_wire_need_len(m->account_ed25519_pk, 32, "the account key")) != SH_OK ||
        (rc = sh_wire_need_len(m->ed25519_seed, 32, "the device key")) != SH_OK ||
        (rc = sh_wire_need_len(m->x25519_sk, 32, "the device X25519 key")) != SH_OK ||
        (rc = sh_wire_need_len(m->mlkem_seed, SH_E2E_MLKEM_SEED_BYTES, "the ML-KEM seed")) != SH_OK)
        return rc;
    if (m->n_envelope_seeds != 2 || m->envelope_seeds[0].len != 32 || m->envelope_seeds[1].len != 32)
        return sh_err_set(SH_ERR_FORMAT, "saved device: envelope seeds malformed");
    memcpy(d->account_pk, m->account_ed25519_pk.data, 32);
    if (m->account_seed.len != 0) {
        if ((rc = sh_wire_need_len(m->account_seed, 16, "the account seed")) != SH_OK ||
            (rc = sh_account_from_seed(&d->account, m->account_seed.data)) != SH_OK)
            return rc;
        memcpy(d->account_seed, m->account_seed.data, 16);
    }
    d->device_id = m->device_id;
    crypto_sign_seed_keypair(d->ed_pk, d->ed_sk, m->ed25519_seed.data);
    memcpy(d->x_sk, m->x25519_sk.data, 32);
    crypto_scalarmult_base(d->x_pk, d->x_sk);
    memcpy(d->mlkem_seed, m->mlkem_seed.data, SH_E2E_MLKEM_SEED_BYTES);
    memcpy(d->prev_env_seed, m->envelope_seeds[0].data, 32);
    memcpy(d->env_seed, m->envelope_seeds[1].data, 32);
    d->env_gen = m->envelope_generation;
    d->prev_env_gen = d->env_gen > 1 ? d->env_gen - 1 : 0;
    d->next_prekey_id = m->next_prekey_id;
    d->revoked = m->revoked;
    d->revocations_counter = m->revocations_counter;
    return sh__e2e_mlkem_keypair(d->mlkem_seed, d->mlkem_ek, NULL);
}

static int load_prekey(sh_e2e_device *d, const Shoal__E2e__Prekey *m)
{
    sh_e2e_prekey *p = sh_secret_alloc(sizeof *p), **a;
    int rc;

    if (p == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory loading a prekey");
    memset(p, 0, sizeof *p);
    sh_buf_init(&p->bundle);
    if ((a = realloc(d->prekeys, (d->n_prekeys + 1) * sizeof *a)) == NULL) {
        sh_secret_free(p);
        return sh_err_set(SH_ERR_NOMEM, "out of memory loading a prekey");
    }
    d->prekeys = a;
    d->prekeys[d->n_prekeys++] = p;
    if ((rc = sh_wire_need_len(m->spk_sk, 32, "a prekey")) != SH_OK ||
        (rc = sh_wire_need_len(m->pq_seed, SH_E2E_MLKEM_SEED_BYTES, "a PQ prekey")) != SH_OK)
        return rc;
    p->id = m->spk_id;
    memcpy(p->spk_sk, m->spk_sk.data, 32);
    crypto_scalarmult_base(p->spk_pk, p->spk_sk);
    memcpy(p->pq_seed, m->pq_seed.data, SH_E2E_MLKEM_SEED_BYTES);
    p->created_ms = (int64_t)m->created_ms;
    p->erase_after_ms = (int64_t)m->erase_after_ms;
    if (m->n_seen_handshakes > SH_E2E_REPLAY_MAX)
        return sh_err_set(SH_ERR_FORMAT, "saved device: replay set too large");
    if (m->n_seen_handshakes != 0) {
        p->seen = malloc(m->n_seen_handshakes * SH_E2E_REPLAY_TAG_BYTES);
        if (p->seen == NULL)
            return sh_err_set(SH_ERR_NOMEM, "out of memory loading a replay set");
        p->cap_seen = m->n_seen_handshakes;
    }
    for (size_t i = 0; i < m->n_seen_handshakes; i++) {
        if ((rc = sh_wire_need_len(m->seen_handshakes[i], SH_E2E_REPLAY_TAG_BYTES, "a replay tag")) != SH_OK)
            return rc;
        memcpy(p->seen[p->n_seen++], m->seen_handshakes[i].data, SH_E2E_REPLAY_TAG_BYTES);
    }
    if ((rc = pack_signed(m->bundle, &p->bundle)) != SH_OK)
        return rc;
    return sh__e2e_mlkem_keypair(p->pq_seed, p->pq_ek, NULL);
}

static int load_account(sh_e2e_device *d, const Shoal__E2e__PeerAccount *m, size_t index)
{
    sh_buf b;
    sh_e2e_account_view *v;
    int rc;

    sh_buf_init(&b);
    if (m->device_list == NULL)
        return sh_err_set(SH_ERR_FORMAT, "saved device: an account without its device list");
    if ((rc = pack_signed(m->device_list, &b)) != SH_OK ||
        (rc = sh__e2e_devlist_parse(&d->scratch_list, b.data, b.len)) != SH_OK)
        goto done;
    if (index == 0 && memcmp(d->scratch_list.account, d->account_pk, 32) != 0) {
        rc = sh_err_set(SH_ERR_FORMAT, "saved device: the first account is not our own");
        goto done;
    }
    if ((rc = sh__e2e_account_add(d, d->scratch_list.account, &v)) != SH_OK ||
        (rc = sh__e2e_install_list(d, v, b.data, b.len, 0)) != SH_OK)
        goto done;
    v->highest_counter = m->highest_counter > v->highest_counter ? m->highest_counter : v->highest_counter;
    for (size_t i = 0; i < m->n_bundles && rc == SH_OK; i++) {
        if ((rc = pack_signed(m->bundles[i], &b)) == SH_OK)
            rc = sh_e2e_device_learn_bundle(d, b.data, b.len, INT64_MIN);
    }
done:
    sh_buf_free(&b);
    return rc;
}

static int load_all(sh_e2e_device *d, const Shoal__E2e__DeviceState *m)
{
    int rc;

    if (m->version != DEVICE_STATE_VERSION)
        return sh_err_set(SH_ERR_UNSUPPORTED, "saved device version %u is not known here", m->version);
    if ((rc = load_keys(d, m)) != SH_OK || (rc = pack_signed(m->token, &d->token)) != SH_OK ||
        (rc = pack_signed(m->revocation_list, &d->revocations)) != SH_OK)
        return rc;
    if (m->n_issued_tokens != 0 && (d->issued = calloc(m->n_issued_tokens, sizeof *d->issued)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory loading tokens");
    for (size_t i = 0; i < m->n_issued_tokens; i++) {
        sh_buf_init(&d->issued[i]);
        d->n_issued++;
        if ((rc = pack_signed(m->issued_tokens[i], &d->issued[i])) != SH_OK)
            return rc;
    }
    for (size_t i = 0; i < m->n_prekeys; i++)
        if ((rc = load_prekey(d, m->prekeys[i])) != SH_OK)
            return rc;
    if (m->n_peers == 0)
        return sh_err_set(SH_ERR_FORMAT, "saved device: its own account is missing");
    for (size_t i = 0; i < m->n_peers; i++)
        if ((rc = load_account(d, m->peers[i], i)) != SH_OK)
            return rc;
    for (size_t i = 0; i < m->n_sessions; i++) {
        sh_e2e_session *s;
        if ((rc = sh__e2e_session_from_pb(&s, m->sessions[i])) != SH_OK)
            return rc;
        if ((rc = sh__e2e_add_session(d, s)) != SH_OK) {
            sh__e2e_session_free(s);
            return rc;
        }
    }
    return SH_OK;
}

int sh_e2e_device_load(sh_e2e_device **out, const uint8_t *state, size_t len)
{
    Shoal__E2e__DeviceState *m = NULL;
    sh_e2e_device *d = NULL;
    int rc;

    if ((rc = sh_crypto_init()) != SH_OK)
        return rc;
    rc = sh_wire_unpack_with(&shoal__e2e__device_state__descriptor, state, len, "saved device",
                             &sh_wire_secret_allocator, (ProtobufCMessage **)&m);
    if (rc != SH_OK)
        return rc;
    if ((d = sh__e2e_device_alloc()) == NULL) {
        rc = sh_err_set(SH_ERR_NOMEM, "out of memory loading a device");
        goto done;
    }
    if ((rc = load_all(d, m)) != SH_OK)
        goto done;
    *out = d;
    d = NULL;
done:
    sh_e2e_device_free(d);
    sh_wire_free_secret(m);
    return rc;
}
