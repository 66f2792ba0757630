/* An account at work (client.h "The client"; docs/client.md): the e2e primary device kept in the
 * state database, publishing its device list (namespace 11) and prekey bundle (namespace 10),
 * sending through the outbox (state machine in client.h) into the recipient's inbox (namespace 0),
 * and polling our inbox: dedupe by hash, open the envelope, store, emit an event, acknowledge.
 *
 * Every change to the e2e state is saved in the same transaction as what it produced (a sealed
 * outbox row, a received message and its seen hash), so a crash never reuses a ratchet key nor
 * forgets a message it decrypted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/internal.h"
#include "crypto/labels.h"
#include "e2e.pb-c.h"
#include "e2e/e2e.h"
#include "wire/pb.h"
#include "store/namespaces.h"
#include "util/encode.h"
#include "util/err.h"
#include "util/log.h"
#include "util/time.h"


static void sid_of_account(uint8_t sid[static SH_SESSION_ID_BYTES], const uint8_t ed[static 32])
{
    sid[0] = SH_SESSION_ID_PREFIX;
    if (crypto_sign_ed25519_pk_to_curve25519(sid + 1, ed) != 0)
        memset(sid + 1, 0, 32);
}

int sh__client_save_device(sh_client *c)
{
    sh_buf st;
    int rc;

    sh_buf_init_secret(&st);
    rc = sh_e2e_device_save(c->dev, &st);
    if (rc == SH_OK)
        rc = sh_client_state_device_put(c->state, st.data, st.len);
    sh_buf_free(&st);
    return rc;
}

static int load_device(sh_client *c, const uint8_t seed[static SH_SEED_BYTES])
{
    sh_buf st;
    int rc;

    sh_buf_init_secret(&st);
    rc = sh_client_state_device_get(c->state, &st);
    if (rc == SH_OK) {
        rc = sh_e2e_device_load(&c->dev, st.data, st.len);
        if (rc != SH_OK)
            rc = sh_err_wrap(SH_ERR_FORMAT, "the saved device state does not load");
    } else if (rc == SH_ERR_NOT_FOUND) {
        rc = sh_e2e_device_new_primary(&c->dev, seed, sh_time_now_ms());
        if (rc == SH_OK)
            rc = sh__client_save_device(c);
    }
    if (rc == SH_OK &&
        memcmp(sh_e2e_device_account(c->dev), sh_account_ed25519_pk(c->account), 32) != 0)
        rc = sh_err_set(SH_ERR_PERMISSION, "the client database belongs to another account");
    sh_buf_free(&st);
    return rc;
}

int sh__client_load_since(sh_client *c)
{
    uint8_t be[8];
    sh_buf v;
    int rc;

    sh_buf_init(&v);
    rc = sh_client_meta_get(c->state, "order-since", &v);
    if (rc == SH_OK && v.len == 8) {
        for (int i = 0; i < 8; i++)
            c->since_ms = c->since_ms << 8 | v.data[i];
    } else if (rc == SH_OK || rc == SH_ERR_NOT_FOUND) { /* a new device (or a damaged value) */
        c->since_ms = sh_time_now_ms();
        for (int i = 0; i < 8; i++)
            be[i] = (uint8_t)((uint64_t)c->since_ms >> (56 - 8 * i));
        rc = sh_client_meta_put(c->state, "order-since", be, sizeof be);
    }
    sh_buf_free(&v);
    return rc;
}

int sh_client_new(const uint8_t seed[static SH_SEED_BYTES], sh_client_state *state,
                  sh_client_transport *transport, sh_client_event_cb cb, void *ctx,
                  sh_client **out)
{
    sh_client *c = calloc(1, sizeof *c);
    int rc;

    if (c == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the client");
    c->state = state;
    c->tp = transport;
    sh_client_options_default(&c->opt);
    sh_buf_init(&c->token);
    c->cb = cb;
    c->ctx = ctx;
    c->publish_mono_ms = sh_time_mono_ms(); /* programs publish when they start */
    rc = sh_account_from_seed(&c->account, seed);
    if (rc == SH_OK) {
        sh_account_session_id(c->account, c->sid);
        rc = load_device(c, seed);
    }
    if (rc == SH_OK)
        rc = sh__client_set_signer(c);
    if (rc == SH_OK)
        rc = sh__client_load_since(c);
    if (rc != SH_OK) {
        sh_client_free(c);
        return rc;
    }
    *out = c;
    return SH_OK;
}

void sh_client_free(sh_client *c)
{
    if (c == NULL)
        return;
    sh_e2e_device_free(c->dev);
    sh_account_free(c->account);
    sh_buf_free(&c->token);
    free(c);
}

void sh_client_options_default(sh_client_options *o)
{
    *o = (sh_client_options){.list_refresh_ms = SH_CLIENT_LIST_REFRESH_MS,
                             .receipts_every_ms = SH_CLIENT_RECEIPTS_EVERY_MS,
                             .message_ttl_ms = SH_CLIENT_INBOX_TTL_MS,
                             .retry_min_ms = SH_CLIENT_RETRY_MIN_MS,
                             .retry_max_ms = SH_CLIENT_RETRY_MAX_MS,
                             .hold_ms = SH_CLIENT_HOLD_MS,
                             .publish_check_ms = SH_CLIENT_PUBLISH_CHECK_MS};
}

void sh_client_set_options(sh_client *c, const sh_client_options *o)
{
    c->opt = *o;
}

void sh_client_set_list_refresh_ms(sh_client *c, int64_t ms)
{
    c->opt.list_refresh_ms = ms;
}

sh_client_state *sh_client_get_state(sh_client *c)
{
    return c->state;
}

void sh_client_session_id(const sh_client *c, uint8_t out[static SH_SESSION_ID_BYTES])
{
    memcpy(out, c->sid, SH_SESSION_ID_BYTES);
}

uint32_t sh_client_device_id(const sh_client *c)
{
    return sh_e2e_device_id(c->dev);
}

bool sh_client_is_primary(const sh_client *c)
{
    return sh_e2e_device_is_primary(c->dev);
}

int sh_client_describe(sh_client *c, char *out, size_t out_size)
{
    return c->tp->describe(c->tp->ctx, c->sid, out, out_size);
}

int sh_client_describe_peer(sh_client *c, const uint8_t sid[static SH_SESSION_ID_BYTES],
                            char *out, size_t out_size)
{
    return c->tp->describe(c->tp->ctx, sid, out, out_size);
}

static int need_transport(sh_client *c)
{
    if (c->tp == NULL)
        return sh_err_set(SH_ERR_UNAVAILABLE, "no network given (--network FILE)");
    return SH_OK;
}

/* ---- publishing ---------------------------------------------------------------------------- */

int sh_client_publish(sh_client *c, bool force)
{
    const sh_node_signer *signer = &c->signer;
    sh_client_receipt rcpt;
    uint8_t digest[40];
    int64_t now = sh_time_now_ms(), at = 0;
    sh_buf list, bundle, prev;
    crypto_generichash_state h;
    int rc;

    sh_buf_init(&list);
    sh_buf_init(&bundle);
    sh_buf_init(&prev);
    if ((rc = need_transport(c)) != SH_OK || (rc = sh_e2e_device_list(c->dev, &list)) != SH_OK ||
        (rc = sh_e2e_device_bundle(c->dev, now, &bundle)) != SH_OK || (rc = sh__client_save_device(c)) != SH_OK)
        goto done;
    crypto_generichash_init(&h, NULL, 0, 32);
    crypto_generichash_update(&h, list.data, list.len);
    crypto_generichash_update(&h, bundle.data, bundle.len);
    crypto_generichash_final(&h, digest, 32);
    if (sh_client_meta_get(c->state, "published", &prev) == SH_OK && prev.len == 40) {
        for (int i = 0; i < 8; i++)
            at = at << 8 | prev.data[32 + i];
        if (!force && memcmp(prev.data, digest, 32) == 0 && now - at < SH_CLIENT_REPUBLISH_MS)
            goto done;
    }
    rc = sh_client_is_primary(c) ? sh__client_publish_primary(c, &list) : SH_OK;
    if (rc == SH_OK)
        rc = c->tp->store(c->tp->ctx, c->sid, SH_NS_PREKEYS, bundle.data, bundle.len,
                          SH_CLIENT_PUBLIC_TTL_MS, signer, &rcpt);
    if (rc != SH_OK) {
        rc = sh_err_wrap(rc, "publishing our device list and prekeys");
        goto done;
    }
    for (int i = 0; i < 8; i++)
        digest[32 + i] = (uint8_t)((uint64_t)now >> (56 - 8 * i));
    rc = sh_client_meta_put(c->state, "published", digest, sizeof digest);
done:
    c->published = c->published || rc == SH_OK;
    sh_buf_free(&list);
    sh_buf_free(&bundle);
    sh_buf_free(&prev);
    return rc;
}

int sh_client_check(sh_client *c, bool *published)
{
    sh_node_page page = {0};
    int rc = need_transport(c);

    if (rc == SH_OK)
        rc = c->tp->retrieve(c->tp->ctx, c->sid, SH_NS_DEVICE_LIST, NULL, false, 0, NULL, &page);
    *published = rc == SH_OK && page.count > 0;
    sh_node_page_free(&page);
    return rc;
}

/* ---- learning other accounts ---------------------------------------------------------------- */

static void meta_peer_key(char key[static 80], const uint8_t sid[static SH_SESSION_ID_BYTES])
{
    memcpy(key, "peer:", 5);
    (void)sh_hex_encode(key + 5, 75, sid, SH_SESSION_ID_BYTES);
}

/* The device list's account key, which must be the one the Session ID converts from (its
 * signature is checked when the e2e device learns it). */
static int list_account(const uint8_t *list, size_t len, const uint8_t sid[static 33],
                        uint8_t ed[static 32])
{
    Shoal__Signed *outer = NULL;
    Shoal__E2e__DeviceList *m = NULL;
    uint8_t x[32];
    int rc = sh_wire_open_signed(&shoal__e2e__device_list__descriptor, SH_LABEL_E2E_DEVICE_LIST,
                                 list, len, "device list", &outer, (ProtobufCMessage **)&m);

    if (rc == SH_OK)
        rc = sh_wire_need_len(m->account_ed25519_pk, 32, "device list account");
    if (rc == SH_OK && (crypto_sign_ed25519_pk_to_curve25519(x, m->account_ed25519_pk.data) != 0 ||
                        sodium_memcmp(x, sid + 1, 32) != 0))
        rc = sh_err_set(SH_ERR_CRYPTO, "the device list found is of another account");
    if (rc == SH_OK)
        memcpy(ed, m->account_ed25519_pk.data, 32);
    sh_wire_free(outer);
    sh_wire_free(m);
    return rc;
}

static int learn_bundles(sh_client *c, const uint8_t sid[static 33])
{
    sh_node_page page = {0};
    size_t learned = 0;
    int rc = c->tp->retrieve(c->tp->ctx, sid, SH_NS_PREKEYS, NULL, false, 0, NULL, &page);

    for (size_t i = 0; rc == SH_OK && i < page.count; i++)
        if (sh_e2e_device_learn_bundle(c->dev, page.msgs[i].data, page.msgs[i].data_len,
                                       sh_time_now_ms()) == SH_OK)
            learned++;
        else
            sh_log_warn("client", "ignored a prekey bundle: %s", sh_err_msg());
    sh_node_page_free(&page);
    if (rc == SH_OK && learned == 0)
        rc = sh_err_set(SH_ERR_NOT_FOUND, "the account has published no usable prekey bundle");
    return rc;
}

/* Learns every device list of the page (the transport may join the answers of several
 * members): the e2e device keeps the one with the highest counter and refuses older ones, so
 * neither an older copy nor the order of the page rolls the list back. */
static int learn_lists(sh_client *c, const sh_node_page *page, const uint8_t sid[static 33],
                       uint8_t ed[static 32])
{
    int rc = SH_OK, first_rc = SH_OK;
    size_t kept = 0;

    for (size_t i = 0; i < page->count; i++) {
        const sh_store_msg *m = &page->msgs[i];
        rc = list_account(m->data, m->data_len, sid, ed);
        if (rc == SH_OK)
            rc = sh_e2e_device_learn_list(c->dev, m->data, m->data_len, sh_time_now_ms());
        if (rc == SH_OK || rc == SH_ERR_STALE) /* STALE: we hold a newer one */
            kept++;
        else if (first_rc == SH_OK)
            first_rc = rc;
    }
    return kept > 0 ? SH_OK : first_rc;
}

/* Fetches and learns the device list and bundles of the account with this Session ID. */
int sh__client_learn_peer(sh_client *c, const uint8_t sid[static 33], uint8_t ed[static 32])
{
    sh_node_page page = {0};
    char key[80], hex[SH_SESSION_ID_HEX_BYTES];
    int rc;

    sh_session_id_format(hex, sid + 1);
    rc = c->tp->retrieve(c->tp->ctx, sid, SH_NS_DEVICE_LIST, NULL, false, 0, NULL, &page);
    if (rc == SH_OK && page.count == 0)
        rc = sh_err_set(SH_ERR_NOT_FOUND, "%s has published no device list on this network "
                        "(has it run shoal with this network file?)", hex);
    if (rc == SH_OK)
        rc = learn_lists(c, &page, sid, ed);
    sh_node_page_free(&page);
    if (rc == SH_OK)
        rc = learn_bundles(c, sid);
    if (rc == SH_OK)
        rc = sh__client_save_device(c);
    if (rc == SH_OK) {
        uint8_t v[40];
        uint64_t now = (uint64_t)sh_time_now_ms();
        memcpy(v, ed, 32);
        for (int i = 0; i < 8; i++)
            v[32 + i] = (uint8_t)(now >> (56 - 8 * i));
        meta_peer_key(key, sid);
        rc = sh_client_meta_put(c->state, key, v, sizeof v);
    }
    return rc == SH_OK ? SH_OK : sh_err_wrap(rc, "learning the keys of %s", hex);
}

static int peer_account(sh_client *c, const uint8_t sid[static 33], uint8_t ed[static 32])
{
    char key[80];
    sh_buf v;
    int rc;

    sh_buf_init(&v);
    meta_peer_key(key, sid);
    rc = sh_client_meta_get(c->state, key, &v);
    if (rc == SH_OK && v.len == 40) {
        int64_t at = 0;
        for (int i = 0; i < 8; i++)
            at = at << 8 | v.data[32 + i];
        memcpy(ed, v.data, 32);
        if (sh_time_now_ms() - at < c->opt.list_refresh_ms)
            goto done;
        /* refresh the device list (a revoked device must stop getting slots); with the network
         * down, the keys we hold still seal the message */
        rc = sh__client_learn_peer(c, sid, ed);
        if (rc == SH_ERR_UNAVAILABLE || rc == SH_ERR_TIMEOUT) {
            memcpy(ed, v.data, 32);
            rc = SH_OK;
        }
    } else if (rc == SH_OK || rc == SH_ERR_NOT_FOUND) {
        rc = sh__client_learn_peer(c, sid, ed);
    }
done:
    sh_buf_free(&v);
    return rc;
}

/* ---- sending ------------------------------------------------------------------------------- */

static void emit(sh_client *c, sh_client_event_kind kind, const sh_client_message *m)
{
    sh_client_event ev = {.kind = kind, .msg = m};

    if (c->cb != NULL)
        c->cb(&ev, c->ctx);
}

static int flush_rows(sh_client *c, size_t *sent, const uint8_t *focus);

int sh_client_queue_text(sh_client *c, const uint8_t to[static SH_SESSION_ID_BYTES],
                         const uint8_t *text, size_t len, int64_t *row, uint8_t *msg_id)
{
    sh_client_message m = {.outgoing = true, .text = text, .text_len = len,
                           .state = SH_CLIENT_QUEUED};
    sh_client_payload p = {.kind = SH_CLIENT_TEXT, .text = text, .text_len = len};
    sh_buf payload;
    int rc;

    if (to[0] != SH_SESSION_ID_PREFIX)
        return sh_err_set(SH_ERR_INVALID, "a Session ID starts with 05");
    sh_buf_init_secret(&payload);
    randombytes_buf(p.msg_id, sizeof p.msg_id);
    p.sent_ms = m.sent_ms = m.received_ms = sh_time_now_ms();
    memcpy(m.msg_id, p.msg_id, sizeof m.msg_id);
    memcpy(m.peer, to, SH_SESSION_ID_BYTES);
    if ((rc = sh_client_state_begin(c->state)) == SH_OK) {
        rc = sh_client_order_next_seq(c->state, to, &p.seq); /* retries keep it */
        if (rc == SH_OK)
            rc = sh_client_payload_encode(&p, &payload);
        if (rc == SH_OK)
            rc = sh_client_message_add(c->state, &m, row);
        if (rc == SH_OK)
            rc = sh_client_outbox_add(c->state, SH_CLIENT_TEXT, to, p.msg_id, payload.data,
                                      payload.len);
        if (rc == SH_OK)
            rc = sh_client_state_commit(c->state);
        if (rc != SH_OK)
            sh_client_state_rollback(c->state);
    }
    sh_buf_free(&payload);
    if (rc == SH_OK && msg_id != NULL)
        memcpy(msg_id, p.msg_id, SH_CLIENT_MSG_ID_BYTES);
    return rc;
}

int sh_client_send_text(sh_client *c, const uint8_t to[static SH_SESSION_ID_BYTES],
                        const uint8_t *text, size_t len, int64_t *row)
{
    size_t sent;
    int rc = sh_client_queue_text(c, to, text, len, row, NULL);

    return rc == SH_OK ? flush_rows(c, &sent, to) : rc;
}

/* PENDING -> SEALED, in memory: encrypt to every device of the recipient (and our others). The
 * window's sealed rows are saved with the e2e state in one transaction (save_sealed) before any
 * of them is stored. */
static int seal_row(sh_client *c, sh_client_outbox_row *r)
{
    uint8_t ed[32];
    int rc = c->published ? SH_OK : sh_client_publish(c, false); /* they must find our keys */

    if (rc == SH_OK)
        rc = peer_account(c, r->peer, ed);

    if (rc != SH_OK)
        return rc;
    rc = sh_e2e_send(c->dev, ed, r->payload.data, r->payload.len, sh_time_now_ms(), &r->envelope,
                     &r->self_env);
    /* a new device or bundle: learn the recipient's keys again, then our own account's (a
     * bundle of our other devices), once each */
    for (int i = 0; i < 2 && rc == SH_ERR_NOT_FOUND; i++) {
        uint8_t own[32];
        sh_buf_reset(&r->envelope);
        sh_buf_reset(&r->self_env);
        if ((rc = sh__client_learn_peer(c, i == 0 ? r->peer : c->sid, i == 0 ? ed : own)) == SH_OK)
            rc = sh_e2e_send(c->dev, ed, r->payload.data, r->payload.len, sh_time_now_ms(),
                             &r->envelope, &r->self_env);
    }
    if (rc != SH_OK) {
        sh_buf_reset(&r->envelope);
        sh_buf_reset(&r->self_env);
    }
    return rc;
}

/* The rows sealed[0..n) and the e2e state that sealed them, in one transaction. */
static int save_sealed(sh_client *c, sh_client_outbox_row *const *sealed, size_t n)
{
    int rc = sh_client_state_begin(c->state);

    if (rc != SH_OK)
        return rc;
    for (size_t i = 0; rc == SH_OK && i < n; i++)
        rc = sh_client_outbox_sealed(c->state, sealed[i]->row, &sealed[i]->envelope,
                                     &sealed[i]->self_env);
    if (rc == SH_OK)
        rc = sh__client_save_device(c);
    if (rc == SH_OK)
        rc = sh_client_state_commit(c->state);
    if (rc != SH_OK)
        sh_client_state_rollback(c->state);
    return rc;
}

/* SEALED -> gone, in the transaction the caller opened: the row deleted, its message STORED. */
static int row_stored(sh_client *c, const sh_client_outbox_row *r, const sh_client_receipt *rcpt)
{
    int rc = sh_client_outbox_done(c->state, r->row);

    if (rc == SH_OK && r->kind == SH_CLIENT_TEXT) {
        rc = sh_client_message_set_state(c->state, r->peer, r->msg_id, SH_CLIENT_STORED,
                                         rcpt->stored_k, rcpt->stored_n);
        if (rc == SH_ERR_NOT_FOUND) /* already delivered */
            rc = SH_OK;
        if (rc == SH_OK && rcpt->expiry_ms > 0) /* to count receipts again, and to see it expire */
            rc = sh_client_receipt_put(c->state, r->peer, r->msg_id, rcpt->hash, rcpt->expiry_ms);
    }
    return rc;
}

static void emit_stored(sh_client *c, const sh_client_outbox_row *r, const sh_client_receipt *rcpt)
{
    sh_client_message m = {.outgoing = true, .state = SH_CLIENT_STORED,
                           .stored_k = rcpt->stored_k, .stored_n = rcpt->stored_n};

    if (r->kind != SH_CLIENT_TEXT)
        return;
    memcpy(m.peer, r->peer, sizeof m.peer);
    memcpy(m.msg_id, r->msg_id, sizeof m.msg_id);
    emit(c, SH_CLIENT_EV_STATE, &m);
}

/* The stores of a window through the transport: together when it can, else one by one; then,
 * once one found the network down, the others fail with it without waiting out their own. */
static int store_all(sh_client *c, sh_client_store *st, size_t n)
{
    const sh_client_store *down = NULL;

    if (c->tp->store_many != NULL)
        return c->tp->store_many(c->tp->ctx, st, n);
    for (size_t i = 0; i < n; i++) {
        if (down != NULL) {
            st[i].rc = down->rc;
            snprintf(st[i].error, sizeof st[i].error, "%s", down->error);
            continue;
        }
        st[i].rc = c->tp->store(c->tp->ctx, st[i].owner, st[i].ns, st[i].data, st[i].len,
                                st[i].ttl_ms, st[i].signer, &st[i].receipt);
        snprintf(st[i].error, sizeof st[i].error, "%s", st[i].rc == SH_OK ? "" : sh_err_msg());
        if (st[i].rc == SH_ERR_UNAVAILABLE)
            down = &st[i];
    }
    return SH_OK;
}

#define FLUSH_MAX_FAILED_PEERS 64

/* The wait after the n-th failed attempt: retry_min_ms doubling up to retry_max_ms, jittered to
 * 50-100 % (clients that failed together do not retry together). */
static int64_t retry_delay(const sh_client *c, uint32_t n)
{
    int64_t d = sh_time_backoff_ms(c->opt.retry_min_ms, c->opt.retry_max_ms, n);

    if (d <= 1)
        return d;
    return d / 2 + (int64_t)randombytes_uniform((uint32_t)(d / 2 < UINT32_MAX ? d / 2 : UINT32_MAX));
}

static void mark_expired(sh_client *c, const uint8_t peer[static 33],
                         const uint8_t msg_id[static 16])
{
    sh_client_message m = {.outgoing = true, .state = SH_CLIENT_EXPIRED};

    memcpy(m.peer, peer, sizeof m.peer);
    memcpy(m.msg_id, msg_id, sizeof m.msg_id);
    emit(c, SH_CLIENT_EV_STATE, &m);
}

/* A row older than the message TTL: gone from the outbox, its message EXPIRED (not sent). */
static int expire_row(sh_client *c, const sh_client_outbox_row *r)
{
    int rc = sh_client_state_begin(c->state);

    if (rc != SH_OK)
        return rc;
    rc = sh_client_outbox_done(c->state, r->row);
    if (rc == SH_OK && r->kind == SH_CLIENT_TEXT)
        rc = sh_client_message_set_state(c->state, r->peer, r->msg_id, SH_CLIENT_EXPIRED, 0, 0);
    if (rc == SH_ERR_NOT_FOUND)
        rc = SH_OK;
    if (rc == SH_OK)
        rc = sh_client_state_commit(c->state);
    if (rc != SH_OK) {
        sh_client_state_rollback(c->state);
        return rc;
    }
    sh_log_info("client", "an outbox row expired unsent after %u attempts", r->attempts);
    if (r->kind == SH_CLIENT_TEXT)
        mark_expired(c, r->peer, r->msg_id);
    return SH_OK;
}

/* Our stored messages whose copy in the recipient's inbox expired unacknowledged: EXPIRED. */
static int expire_stored(sh_client *c)
{
    sh_client_stored gone[16];
    size_t n = 0;
    int rc = sh_client_stored_expired(c->state, sh_time_now_ms(), gone, 16, &n);

    for (size_t i = 0; rc == SH_OK && i < n; i++) {
        rc = sh_client_message_set_state(c->state, gone[i].peer, gone[i].msg_id,
                                         SH_CLIENT_EXPIRED, 0, 0);
        if (rc == SH_OK)
            mark_expired(c, gone[i].peer, gone[i].msg_id);
        else if (rc == SH_ERR_NOT_FOUND)
            rc = SH_OK;
    }
    return rc;
}

static bool peer_failed(const uint8_t (*failed)[33], size_t n, const uint8_t peer[static 33])
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(failed[i], peer, 33) == 0)
            return true;
    return false;
}

/* Where a flush stands: the accounts whose rows wait (a failed or waiting row holds back the
 * later rows to it, across windows), the first error to report, and whether to stop. */
typedef struct flush_state {
    uint8_t failed[FLUSH_MAX_FAILED_PEERS][33];
    size_t n_failed;
    int64_t after; /* the last row read */
    const uint8_t *focus;
    int first_rc;
    char first_msg[SH_ERR_MSG_BYTES];
    bool stop; /* the network is down, or too many accounts wait */
    size_t sent;
} flush_state;

static void hold_peer(flush_state *fs, const uint8_t peer[static 33])
{
    if (!peer_failed((const uint8_t (*)[33])fs->failed, fs->n_failed, peer) &&
        fs->n_failed < FLUSH_MAX_FAILED_PEERS)
        memcpy(fs->failed[fs->n_failed++], peer, 33);
}

/* A row's attempt failed with rc (message `msg`): counted with its backoff, its account held
 * back; the flush stops when the network is down. */
static void row_failed(sh_client *c, flush_state *fs, const sh_client_outbox_row *r, int rc,
                       const char *msg)
{
    bool report = fs->focus == NULL || memcmp(fs->focus, r->peer, 33) == 0 ||
                  rc == SH_ERR_UNAVAILABLE;

    if (fs->first_rc == SH_OK && report) {
        fs->first_rc = rc;
        snprintf(fs->first_msg, sizeof fs->first_msg, "%s", msg);
    }
    if (sh_client_outbox_failed(c->state, r->row, msg,
                                sh_time_now_ms() + retry_delay(c, r->attempts + 1)) != SH_OK)
        sh_log_warn("client", "could not count a failed attempt: %s", sh_err_msg());
    hold_peer(fs, r->peer);
    if (rc == SH_ERR_UNAVAILABLE || fs->n_failed == FLUSH_MAX_FAILED_PEERS)
        fs->stop = true; /* the network is down: the other rows can wait too */
}

/* Reads the next rows into w (up to SH_CLIENT_FLUSH_WINDOW, *n of them) in outbox order:
 * expires old rows, skips the rows of held-back accounts, seals pending ones (saved together).
 * SH_OK when the window is full or the flush stops, SH_ERR_NOT_FOUND past the last row. */
static int fill_window(sh_client *c, flush_state *fs, sh_client_outbox_row *w, size_t *n)
{
    sh_client_outbox_row *fresh[SH_CLIENT_FLUSH_WINDOW];
    size_t n_fresh = 0, kept = 0;
    int rc = SH_OK, src;

    *n = 0;
    while (*n < SH_CLIENT_FLUSH_WINDOW && !fs->stop &&
           (rc = sh_client_outbox_next(c->state, fs->after, &w[*n])) == SH_OK) {
        sh_client_outbox_row *r = &w[*n];
        int64_t now = sh_time_now_ms();
        bool keep = false;
        fs->after = r->row;
        /* a row waits out its backoff, except in a send to its own peer (a person's action) */
        if (r->created_ms > 0 && now - r->created_ms > c->opt.message_ttl_ms)
            rc = expire_row(c, r);
        else if (r->next_ms > now && (fs->focus == NULL || memcmp(fs->focus, r->peer, 33) != 0))
            hold_peer(fs, r->peer); /* keep the order */
        else if (peer_failed((const uint8_t (*)[33])fs->failed, fs->n_failed, r->peer))
            ;
        else if (r->envelope.len > 0)
            keep = true;
        else if ((src = seal_row(c, r)) == SH_OK)
            keep = true, fresh[n_fresh++] = r;
        else
            row_failed(c, fs, r, src, sh_err_msg());
        if (keep)
            ++*n;
        else
            sh_client_outbox_row_free(r);
        if (rc != SH_OK)
            break;
    }
    if (n_fresh > 0 && (src = save_sealed(c, fresh, n_fresh)) != SH_OK) {
        char msg[SH_ERR_MSG_BYTES];
        snprintf(msg, sizeof msg, "%s", sh_err_msg());
        for (size_t i = 0; i < *n; i++) { /* not saved: not sent either */
            bool is_fresh = false;
            for (size_t j = 0; j < n_fresh; j++)
                is_fresh = is_fresh || fresh[j] == &w[i];
            if (!is_fresh) {
                w[kept++] = w[i];
                continue;
            }
            row_failed(c, fs, &w[i], src, msg);
            sh_client_outbox_row_free(&w[i]);
        }
        *n = kept;
    }
    return rc;
}

/* The stores of a window's rows in flight together (each row's store to the recipient's inbox
 * and its copy to our own); then, in one transaction, every row whose stores all succeeded is
 * done. A row that failed stays queued with its backoff and holds back its account's later rows
 * (those already in flight may still succeed: the receiver orders by sequence number). */
static void deliver_window(sh_client *c, flush_state *fs, sh_client_outbox_row *w, size_t n)
{
    sh_client_store st[2 * SH_CLIENT_FLUSH_WINDOW];
    size_t at[SH_CLIENT_FLUSH_WINDOW], n_st = 0; /* row i: st[at[i]], its copy st[at[i] + 1] */
    bool ok[SH_CLIENT_FLUSH_WINDOW];
    int rc;

    for (size_t i = 0; i < n; i++) {
        at[i] = n_st;
        st[n_st++] = (sh_client_store){.owner = w[i].peer, .ns = SH_NS_INBOX,
                                       .data = w[i].envelope.data, .len = w[i].envelope.len,
                                       .ttl_ms = c->opt.message_ttl_ms};
        if (w[i].self_env.len > 0)
            st[n_st++] = (sh_client_store){.owner = c->sid, .ns = SH_NS_INBOX,
                                           .data = w[i].self_env.data, .len = w[i].self_env.len,
                                           .ttl_ms = c->opt.message_ttl_ms};
    }
    if ((rc = store_all(c, st, n_st)) != SH_OK)
        for (size_t i = 0; i < n_st; i++)
            st[i].rc = rc, snprintf(st[i].error, sizeof st[i].error, "%s", sh_err_msg());
    for (size_t i = 0; i < n; i++) {
        const sh_client_store *bad = st[at[i]].rc != SH_OK ? &st[at[i]] : NULL;
        if (bad == NULL && w[i].self_env.len > 0 && st[at[i] + 1].rc != SH_OK)
            bad = &st[at[i] + 1];
        if (!(ok[i] = bad == NULL))
            row_failed(c, fs, &w[i], bad->rc, bad->error);
    }
    if ((rc = sh_client_state_begin(c->state)) == SH_OK) {
        for (size_t i = 0; rc == SH_OK && i < n; i++)
            if (ok[i])
                rc = row_stored(c, &w[i], &st[at[i]].receipt);
        if (rc == SH_OK)
            rc = sh_client_state_commit(c->state);
        if (rc != SH_OK)
            sh_client_state_rollback(c->state);
    }
    for (size_t i = 0; i < n; i++) {
        if (ok[i] && rc == SH_OK) {
            fs->sent++;
            emit_stored(c, &w[i], &st[at[i]].receipt);
        } else if (ok[i]) { /* stored but not marked: sent again later (the node dedupes it) */
            char msg[SH_ERR_MSG_BYTES];
            snprintf(msg, sizeof msg, "%s", sh_err_msg());
            row_failed(c, fs, &w[i], rc, msg);
        }
        sh_client_outbox_row_free(&w[i]);
    }
}

/* Sends the outbox a window at a time; with `focus`, returns the error of the first failed row
 * to that account only (rows to others may fail silently: they stay queued) or the network's. */
static int flush_rows(sh_client *c, size_t *sent, const uint8_t *focus)
{
    sh_client_outbox_row w[SH_CLIENT_FLUSH_WINDOW];
    flush_state fs = {.focus = focus};
    size_t n;
    int rc;

    *sent = 0;
    if ((rc = need_transport(c)) != SH_OK)
        return rc;
    do {
        rc = fill_window(c, &fs, w, &n);
        if (n > 0)
            deliver_window(c, &fs, w, n);
    } while (rc == SH_OK && !fs.stop);
    *sent = fs.sent;
    if (rc != SH_OK && rc != SH_ERR_NOT_FOUND && fs.first_rc == SH_OK && rc != SH_ERR_UNAVAILABLE)
        return rc;
    return fs.first_rc == SH_OK ? SH_OK : sh_err_set(fs.first_rc, "%s", fs.first_msg);
}

int sh_client_flush(sh_client *c, size_t *sent)
{
    int rc = flush_rows(c, sent, NULL);

    if (expire_stored(c) != SH_OK)
        sh_log_warn("client", "could not mark expired messages: %s", sh_err_msg());
    return rc;
}

/* ---- receipts ------------------------------------------------------------------------------ */

#define RECEIPTS_PER_PASS 16

int sh_client_update_receipts(sh_client *c, size_t *changed)
{
    sh_client_stored pend[RECEIPTS_PER_PASS];
    size_t n = 0;
    int rc;

    *changed = 0;
    if ((rc = need_transport(c)) != SH_OK || c->tp->receipts == NULL)
        return rc;
    c->receipts_mono_ms = sh_time_mono_ms();
    rc = sh_client_receipt_pending(c->state, sh_time_now_ms(), pend, RECEIPTS_PER_PASS, &n);
    for (size_t i = 0; rc == SH_OK && i < n; i++) {
        uint32_t k = 0, total = 0;
        int trc = c->tp->receipts(c->tp->ctx, pend[i].peer, SH_NS_INBOX, pend[i].hash, &k, &total);
        if (trc != SH_OK) {
            sh_log_warn("client", "counting receipts: %s", sh_err_msg());
            if (trc == SH_ERR_UNAVAILABLE)
                break;
            continue;
        }
        if (k <= pend[i].stored_k)
            continue;
        rc = sh_client_message_set_state(c->state, pend[i].peer, pend[i].msg_id, SH_CLIENT_STORED,
                                         k, total);
        if (rc == SH_ERR_NOT_FOUND) { /* delivered meanwhile */
            rc = SH_OK;
            continue;
        }
        if (rc == SH_OK) {
            sh_client_message m = {.outgoing = true, .state = SH_CLIENT_STORED, .stored_k = k,
                                   .stored_n = total};
            memcpy(m.peer, pend[i].peer, sizeof m.peer);
            memcpy(m.msg_id, pend[i].msg_id, sizeof m.msg_id);
            emit(c, SH_CLIENT_EV_STATE, &m);
            ++*changed;
        }
    }
    return rc;
}

/* ---- receiving ------------------------------------------------------------------------------ */

static int ack_payload(const uint8_t msg_id[static 16], sh_buf *out)
{
    sh_client_payload p = {.kind = SH_CLIENT_ACK, .sent_ms = sh_time_now_ms()};

    memcpy(p.msg_id, msg_id, 16);
    return sh_client_payload_encode(&p, out);
}

/* Files an opened payload; *ev says which event to emit once committed, and rows the texts
 * filed in order (order.c). */
static int file_payload(sh_client *c, const sh_e2e_received *rx, const sh_client_payload *p,
                        sh_client_message *m, sh_client_event_kind *ev, sh_client_rows *rows)
{
    bool from_self = memcmp(rx->sender_account, sh_e2e_device_account(c->dev), 32) == 0;
    uint8_t sender[33];
    int rc;

    sid_of_account(sender, rx->sender_account);
    sid_of_account(m->peer, rx->conversation);
    memcpy(m->msg_id, p->msg_id, sizeof m->msg_id);
    *ev = (sh_client_event_kind)0;
    if (p->kind == SH_CLIENT_ACK) {
        if (from_self)
            return SH_OK; /* our other device acknowledged; its sender will hear from it */
        rc = sh_client_message_set_state(c->state, sender, p->msg_id, SH_CLIENT_DELIVERED, 0, 0);
        m->outgoing = true;
        m->state = SH_CLIENT_DELIVERED;
        memcpy(m->peer, sender, sizeof m->peer);
        *ev = rc == SH_OK ? SH_CLIENT_EV_STATE : (sh_client_event_kind)0;
        return rc == SH_ERR_NOT_FOUND ? SH_OK : rc;
    }
    m->outgoing = from_self;
    m->device = rx->sender_device;
    m->sent_ms = p->sent_ms;
    m->received_ms = sh_time_now_ms();
    m->state = from_self ? SH_CLIENT_STORED : SH_CLIENT_RECEIVED;
    m->text = p->text;
    m->text_len = p->text_len;
    rc = sh_client_order_file(c->state, m, p->seq, c->since_ms, rows);
    if (rc == SH_ERR_EXISTS)
        return SH_OK; /* a second copy: exactly once */
    if (rc == SH_OK && !from_self) { /* filed or held, it is saved: acknowledged */
        sh_buf ack;
        sh_buf_init(&ack);
        rc = ack_payload(p->msg_id, &ack);
        if (rc == SH_OK)
            rc = sh_client_outbox_add(c->state, SH_CLIENT_ACK, sender, p->msg_id, ack.data, ack.len);
        sh_buf_free(&ack);
    }
    return rc;
}

/* Opens an envelope, learning its sender's keys first when we lack them. *net_rc is set when
 * that failed for the network's sake: the envelope must then be tried again later. */
static int open_envelope(sh_client *c, const sh_store_msg *msg, sh_e2e_received *rx, int *net_rc)
{
    int rc = sh_e2e_receive(c->dev, msg->data, msg->data_len, sh_time_now_ms(), rx), lrc;
    uint8_t sid[33], ed[32];

    *net_rc = SH_OK;
    if (rc == SH_ERR_NOT_FOUND && !sodium_is_zero(rx->sender_account, 32)) {
        sid_of_account(sid, rx->sender_account);
        lrc = sh__client_learn_peer(c, sid, ed);
        if (lrc == SH_OK)
            rc = sh_e2e_receive(c->dev, msg->data, msg->data_len, sh_time_now_ms(), rx);
        else if (lrc == SH_ERR_UNAVAILABLE || lrc == SH_ERR_TIMEOUT || lrc == SH_ERR_BUSY)
            *net_rc = lrc;
        else
            rc = lrc;
    }
    return rc;
}

static void emit_row_cb(const sh_client_message *m, void *ctx)
{
    emit(ctx, SH_CLIENT_EV_MESSAGE, m);
}

/* A MESSAGE event for each filed row, in order. */
static void emit_rows(sh_client *c, const sh_client_rows *rows, size_t *received)
{
    for (size_t i = 0; i < rows->n; i++) {
        if (sh_client_message_get(c->state, rows->v[i], emit_row_cb, c) != SH_OK)
            sh_log_warn("client", "could not read back a filed message: %s", sh_err_msg());
        ++*received;
    }
}

/* Files the held texts whose wait (options.hold_ms) is over, in order. */
static int release_held(sh_client *c, size_t *received)
{
    sh_client_rows rows = {0};
    size_t n = 0;
    int rc = sh_client_order_held(c->state, &n);

    if (rc != SH_OK || n == 0 || (rc = sh_client_state_begin(c->state)) != SH_OK)
        return rc;
    rc = sh_client_order_release(c->state, sh_time_now_ms(), c->opt.hold_ms, &rows);
    if (rc == SH_OK)
        rc = sh_client_state_commit(c->state);
    if (rc != SH_OK)
        sh_client_state_rollback(c->state);
    else
        emit_rows(c, &rows, received);
    sh_client_rows_free(&rows);
    return rc;
}

static int process_message(sh_client *c, const sh_store_msg *msg, size_t *received)
{
    sh_client_rows rows = {0};
    sh_e2e_received rx;
    sh_client_payload p;
    sh_client_message m = {0};
    sh_client_event_kind ev = (sh_client_event_kind)0;
    bool seen, grant;
    int rc = sh_client_seen_check(c->state, SH_NS_INBOX, msg->hash, &seen), orc;

    if (rc != SH_OK || seen || (rc = sh__client_take_grant(c, msg, &grant)) != SH_OK || grant)
        return rc;
    orc = open_envelope(c, msg, &rx, &rc);
    if (rc != SH_OK) {
        sh_buf_free(&rx.payload);
        return rc; /* not marked seen, the cursor stays: tried again on the next poll */
    }
    if (orc == SH_OK && (orc = sh_client_payload_parse(rx.payload.data, rx.payload.len, &p)) != SH_OK)
        sh_log_warn("client", "dropped a message with a bad payload: %s", sh_err_msg());
    else if (orc == SH_ERR_NOT_FOUND) /* e.g. our own copy for our other devices */
        sh_log_debug("client", "skipped an envelope: %s", sh_err_msg());
    else if (orc != SH_OK && orc != SH_ERR_REPLAY)
        sh_log_warn("client", "dropped an envelope: %s", sh_err_msg());
    if ((rc = sh_client_state_begin(c->state)) != SH_OK)
        goto done;
    rc = sh_client_seen_add(c->state, SH_NS_INBOX, msg->hash, msg->expiry_ms);
    if (rc == SH_OK && orc == SH_OK)
        rc = sh__client_save_device(c);
    if (rc == SH_OK && orc == SH_OK)
        rc = file_payload(c, &rx, &p, &m, &ev, &rows);
    if (rc == SH_OK)
        rc = sh_client_state_commit(c->state);
    if (rc != SH_OK) {
        sh_client_state_rollback(c->state);
        goto done;
    }
    if (ev != 0) {
        emit(c, ev, &m);
        ++*received;
    }
    emit_rows(c, &rows, received);
done:
    sh_client_rows_free(&rows);
    sh_buf_free(&rx.payload);
    return rc;
}

static bool cursor_after(const sh_store_cursor *a, const sh_store_cursor *b)
{
    return a->timestamp_ms > b->timestamp_ms ||
           (a->timestamp_ms == b->timestamp_ms && memcmp(a->hash, b->hash, 32) > 0);
}

/* Reads pages from *after (the first one with look-back when asked) until the last one, and
 * moves the saved cursor forward. The first page may long-poll for wait_ms. */
static int read_pages(sh_client *c, sh_store_cursor *after, bool have_after, bool lookback,
                      uint32_t wait_ms, size_t *received)
{
    bool more = true, found;
    sh_store_cursor saved;
    int rc = SH_OK;

    /* The look-back window is read whole from its start: a look-back page's `next` never moves
     * back (docs/store.md), so its continuation would skip the rest of a window fuller than a
     * page, and with it every late arrival there. */
    if (lookback && have_after) {
        after->timestamp_ms -= SH_STORE_LOOKBACK_MS;
        memset(after->hash, 0, sizeof after->hash);
        lookback = false;
    }
    while (rc == SH_OK && more) {
        sh_node_page page = {0};
        rc = c->tp->retrieve(c->tp->ctx, c->sid, SH_NS_INBOX, have_after ? after : NULL, lookback,
                             wait_ms, &c->signer, &page);
        for (size_t i = 0; rc == SH_OK && i < page.count; i++)
            rc = process_message(c, &page.msgs[i], received);
        if (rc == SH_OK && page.count > 0) {
            *after = page.next;
            have_after = true;
            rc = sh_client_cursor_get(c->state, SH_NS_INBOX, &saved, &found);
            if (rc == SH_OK && (!found || cursor_after(after, &saved)))
                rc = sh_client_cursor_put(c->state, SH_NS_INBOX, after);
        }
        more = page.more && page.count > 0;
        lookback = false;
        wait_ms = 0;
        sh_node_page_free(&page);
    }
    return rc;
}

/* First, at most every SH_CLIENT_LOOKBACK_EVERY_MS, a look-back read (late arrivals older than
 * the cursor; seen ones are skipped: it re-reads up to two minutes of the inbox, so not on every
 * poll); then, with nothing new, a long-poll past the cursor. */
int sh_client_poll(sh_client *c, uint32_t wait_ms, size_t *received)
{
    sh_store_cursor cur;
    bool found, looked_back;
    size_t sent;
    int rc;

    *received = 0;
    if ((rc = need_transport(c)) != SH_OK || (rc = sh__client_refresh_own(c, false)) != SH_OK)
        return rc;
    rc = sh_client_cursor_get(c->state, SH_NS_INBOX, &cur, &found);
    looked_back = c->lookback_ms == 0 ||
                  sh_time_mono_ms() - c->lookback_ms >= SH_CLIENT_LOOKBACK_EVERY_MS;
    if (rc == SH_OK && looked_back) {
        c->lookback_ms = sh_time_mono_ms();
        rc = read_pages(c, &cur, found, true, 0, received);
    }
    if (rc == SH_OK && (!looked_back || (*received == 0 && wait_ms > 0)) &&
        (rc = sh_client_cursor_get(c->state, SH_NS_INBOX, &cur, &found)) == SH_OK)
        rc = read_pages(c, &cur, found, false, wait_ms, received);
    if (rc == SH_OK && release_held(c, received) != SH_OK)
        sh_log_warn("client", "held messages stay held: %s", sh_err_msg());
    if (rc == SH_OK)
        rc = sh_client_seen_sweep(c->state, sh_time_now_ms());
    if (rc == SH_OK && sh_client_flush(c, &sent) != SH_OK)
        sh_log_warn("client", "the outbox keeps its rows for later: %s", sh_err_msg());
    if (rc == SH_OK && sh_time_mono_ms() - c->receipts_mono_ms >= c->opt.receipts_every_ms &&
        sh_client_update_receipts(c, &sent) != SH_OK)
        sh_log_warn("client", "could not count receipts again: %s", sh_err_msg());
    /* a client that runs for days publishes its rotated prekeys (and a day-old device list) */
    if (rc == SH_OK && sh_time_mono_ms() - c->publish_mono_ms >= c->opt.publish_check_ms) {
        c->publish_mono_ms = sh_time_mono_ms();
        if (sh_client_publish(c, false) != SH_OK)
            sh_log_warn("client", "our keys are not published again yet: %s", sh_err_msg());
    }
    return rc;
}
