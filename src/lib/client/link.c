/* Linking a device through the network (docs/client.md "Linked devices"; protocol-v2.md §11).
 * Protocol V2 gives the link code, the request, the SAS and the response; this file carries them
 * between the two devices. Both meet in namespace 0 of a one-time rendezvous account whose seed
 * is BLAKE2b-128 keyed by the code's secret over SH_LABEL_CLIENT_RENDEZVOUS ‖ account, so only
 * holders of the code can find or read it. Its messages are anonymous stores (proof of work)
 * that live as long as the code (10 minutes): u8 kind ‖ body, kind 'Q' the new device's request,
 * 'R' the primary's response, 'X' the primary's refusal (the SAS did not match). Each side reads
 * the rendezvous signing as its owner and long-polls. A code is used once: a new device that
 * finds a request or a response there already stops (SH_ERR_EXISTS), and the primary takes only
 * the first request. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/internal.h"
#include "crypto/labels.h"
#include "store/namespaces.h"
#include "util/err.h"
#include "util/log.h"
#include "util/time.h"

enum { KIND_REQUEST = 'Q', KIND_RESPONSE = 'R', KIND_REFUSED = 'X' };

struct sh_client_link {
    sh_client *c;                /* primary */
    sh_client_state *state;      /* new device */
    sh_client_transport *tp;
    sh_e2e_device *dev;          /* new device, until its state is saved */
    uint8_t account[32];
    sh_account *rz;              /* the rendezvous account */
    uint8_t rz_sid[SH_SESSION_ID_BYTES];
    sh_node_signer rz_signer;
    sh_store_cursor after;
    bool have_after, got_request, done;
    char *sas;                   /* primary: where sh_client_link_wait_request writes the SAS */
    int64_t expires_ms;          /* monotonic */
};

/* A code as people type it: any case, spaces and dashes between groups. */
static int normalize_code(char out[static SH_E2E_LINK_CODE_BYTES], const char *code)
{
    size_t n = 0;

    for (const char *p = code; *p != '\0'; p++) {
        if (*p == ' ' || *p == '-' || *p == '\t' || *p == '\n')
            continue;
        if (n + 1 >= SH_E2E_LINK_CODE_BYTES)
            return sh_err_set(SH_ERR_FORMAT, "the link code is too long");
        out[n++] = *p >= 'a' && *p <= 'z' ? (char)(*p - 32) : *p;
    }
    out[n] = '\0';
    return SH_OK;
}

static int link_new(const char *code, sh_client_transport *tp, sh_client_link **out)
{
    uint8_t secret[SH_E2E_LINK_SECRET_BYTES], seed[SH_SEED_BYTES];
    crypto_generichash_state h;
    sh_client_link *l;
    int rc;

    _Static_assert(SH_E2E_LINK_SECRET_BYTES >= crypto_generichash_KEYBYTES_MIN, "key size");
    if (tp == NULL)
        return sh_err_set(SH_ERR_UNAVAILABLE, "no network given (--network FILE)");
    if ((l = calloc(1, sizeof *l)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a device link");
    l->tp = tp;
    l->expires_ms = sh_time_mono_ms() + SH_CLIENT_LINK_TTL_MS;
    rc = sh_e2e_link_code_parse(code, l->account, secret);
    if (rc == SH_OK) {
        crypto_generichash_init(&h, secret, sizeof secret, sizeof seed);
        crypto_generichash_update(&h, (const uint8_t *)SH_LABEL_CLIENT_RENDEZVOUS,
                                  sizeof SH_LABEL_CLIENT_RENDEZVOUS - 1);
        crypto_generichash_update(&h, l->account, sizeof l->account);
        crypto_generichash_final(&h, seed, sizeof seed);
        rc = sh_account_from_seed(&l->rz, seed);
    }
    if (rc == SH_OK) {
        sh_account_session_id(l->rz, l->rz_sid);
        l->rz_signer.account = l->rz;
        *out = l;
    } else {
        sh_client_link_free(l);
    }
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

void sh_client_link_free(sh_client_link *l)
{
    if (l == NULL)
        return;
    sh_e2e_device_free(l->dev);
    sh_account_free(l->rz);
    free(l);
}

void sh_client_link_account(const sh_client_link *l, uint8_t sid[static SH_SESSION_ID_BYTES])
{
    sid[0] = SH_SESSION_ID_PREFIX;
    if (crypto_sign_ed25519_pk_to_curve25519(sid + 1, l->account) != 0)
        memset(sid + 1, 0, 32);
}

static int rz_store(sh_client_link *l, uint8_t kind, const uint8_t *body, size_t len)
{
    sh_client_receipt rcpt;
    sh_buf m;
    int rc;

    sh_buf_init(&m);
    rc = sh_buf_append(&m, &kind, 1);
    if (rc == SH_OK)
        rc = sh_buf_append(&m, body, len);
    if (rc == SH_OK)
        rc = l->tp->store(l->tp->ctx, l->rz_sid, SH_NS_INBOX, m.data, m.len,
                          SH_CLIENT_LINK_TTL_MS, NULL, &rcpt);
    sh_buf_free(&m);
    return rc;
}

/* Reads the rendezvous past the cursor (long-polling up to wait_ms) and hands each message to
 * `on`, until it fails or sets l->done. */
typedef int (*rz_msg_fn)(sh_client_link *l, uint8_t kind, const uint8_t *body, size_t len);

static int rz_read(sh_client_link *l, uint32_t wait_ms, rz_msg_fn on)
{
    sh_node_page page = {0};
    int rc = l->tp->retrieve(l->tp->ctx, l->rz_sid, SH_NS_INBOX, l->have_after ? &l->after : NULL,
                             false, wait_ms, &l->rz_signer, &page);

    for (size_t i = 0; rc == SH_OK && !l->done && i < page.count; i++) {
        const sh_store_msg *m = &page.msgs[i];
        l->after.timestamp_ms = m->timestamp_ms;
        memcpy(l->after.hash, m->hash, sizeof l->after.hash);
        l->have_after = true;
        if (m->data_len >= 1)
            rc = on(l, m->data[0], m->data + 1, m->data_len - 1);
    }
    sh_node_page_free(&page);
    return rc;
}

/* ---- the primary --------------------------------------------------------------------------- */

int sh_client_link_begin(sh_client *c, char code[static SH_E2E_LINK_CODE_BYTES],
                         sh_client_link **out)
{
    int rc = sh_client_is_primary(c) ? SH_OK
                                     : sh_err_set(SH_ERR_PERMISSION, "only the primary device "
                                                  "links new devices");

    if (rc == SH_OK)
        rc = sh_e2e_link_begin(c->dev, sh_time_now_ms(), code);
    if (rc == SH_OK)
        rc = link_new(code, c->tp, out);
    if (rc == SH_OK)
        (*out)->c = c;
    return rc;
}

static int primary_msg(sh_client_link *l, uint8_t kind, const uint8_t *body, size_t len)
{
    int rc;

    if (kind != KIND_REQUEST || l->got_request)
        return SH_OK;
    rc = sh_e2e_link_read_request(l->c->dev, body, len, sh_time_now_ms(), l->sas);
    if (rc == SH_ERR_STALE)
        return rc;
    if (rc != SH_OK) {
        sh_log_warn("client", "ignored a link request that does not open: %s", sh_err_msg());
        return SH_OK;
    }
    l->got_request = l->done = true; /* the first request is the one */
    return SH_OK;
}

int sh_client_link_wait_request(sh_client_link *l, uint32_t wait_ms,
                                char sas[static SH_E2E_SAS_BYTES])
{
    int rc;

    if (l->c == NULL || l->got_request)
        return sh_err_set(SH_ERR_INVALID, "not a primary waiting for a link request");
    if (sh_time_mono_ms() >= l->expires_ms)
        return sh_err_set(SH_ERR_STALE, "the link code expired (it is valid for %lld minutes); "
                          "show a new one", (long long)(SH_CLIENT_LINK_TTL_MS / 60000));
    l->sas = sas;
    rc = rz_read(l, wait_ms, primary_msg);
    l->sas = NULL;
    l->done = false;
    if (rc == SH_OK && l->got_request)
        return SH_OK;
    if (rc == SH_ERR_STALE)
        return sh_err_wrap(rc, "the link code");
    return rc == SH_OK ? sh_err_set(SH_ERR_TIMEOUT, "no request from the new device yet") : rc;
}

static uint32_t newest_device(sh_client *c)
{
    sh_client_device_info devs[SH_E2E_MAX_DEVICES];
    size_t n = 0;
    uint32_t id = 0;

    if (sh_client_devices(c, devs, SH_E2E_MAX_DEVICES, &n) != SH_OK)
        return 0;
    for (size_t i = 0; i < n && i < SH_E2E_MAX_DEVICES; i++)
        if (!devs[i].revoked && devs[i].id > id)
            id = devs[i].id;
    return id;
}

int sh_client_link_confirm(sh_client_link *l, bool accept, uint32_t *device_id)
{
    sh_buf rsp;
    int rc;

    *device_id = 0;
    if (l->c == NULL || !l->got_request)
        return sh_err_set(SH_ERR_INVALID, "no link request to confirm");
    if (!accept) {
        rc = rz_store(l, KIND_REFUSED, NULL, 0);
        return rc == SH_OK ? SH_OK : sh_err_wrap(rc, "telling the new device it was refused");
    }
    sh_buf_init(&rsp);
    rc = sh_e2e_link_confirm(l->c->dev, sh_time_now_ms(), &rsp);
    if (rc == SH_OK)
        rc = sh__client_save_device(l->c);
    if (rc == SH_OK) {
        *device_id = newest_device(l->c);
        rc = sh_client_publish(l->c, true);
    }
    if (rc == SH_OK)
        rc = rz_store(l, KIND_RESPONSE, rsp.data, rsp.len);
    sh_buf_free(&rsp);
    return rc;
}

/* ---- the new device ------------------------------------------------------------------------ */

static int used_msg(sh_client_link *l, uint8_t kind, const uint8_t *body, size_t len)
{
    (void)l, (void)body, (void)len;
    if (kind == KIND_REQUEST || kind == KIND_RESPONSE || kind == KIND_REFUSED)
        return sh_err_set(SH_ERR_EXISTS, "this link code was already used (show a new one on the "
                                         "primary with 'shoal devices link')");
    return SH_OK;
}

int sh_client_link_request(sh_client_state *state, sh_client_transport *transport,
                           const char *code, char sas[static SH_E2E_SAS_BYTES],
                           sh_client_link **out)
{
    char norm[SH_E2E_LINK_CODE_BYTES];
    sh_client_link *l = NULL;
    sh_buf request;
    int rc;

    sh_buf_init(&request);
    rc = normalize_code(norm, code);
    if (rc == SH_OK)
        rc = link_new(norm, transport, &l);
    if (rc == SH_OK)
        rc = rz_read(l, 0, used_msg);
    if (rc == SH_OK)
        rc = sh_e2e_device_new_linked(&l->dev, norm, sh_time_now_ms(), &request, sas);
    if (rc == SH_OK)
        rc = rz_store(l, KIND_REQUEST, request.data, request.len);
    sh_buf_free(&request);
    if (rc != SH_OK) {
        sh_client_link_free(l);
        return rc;
    }
    l->state = state;
    *out = l;
    return SH_OK;
}

static int device_msg(sh_client_link *l, uint8_t kind, const uint8_t *body, size_t len)
{
    sh_buf st;
    int rc;

    if (kind == KIND_REFUSED)
        return sh_err_set(SH_ERR_PERMISSION, "the primary refused this device (the emoji did not "
                                             "match, or the person said no)");
    if (kind != KIND_RESPONSE)
        return SH_OK;
    rc = sh_e2e_link_finish(l->dev, body, len, sh_time_now_ms());
    if (rc == SH_ERR_CRYPTO || rc == SH_ERR_FORMAT)
        return sh_err_set(SH_ERR_EXISTS, "the primary answered another device: this link code "
                                         "was used by someone else (compare the emoji again)");
    if (rc != SH_OK)
        return rc;
    sh_buf_init_secret(&st);
    rc = sh_e2e_device_save(l->dev, &st);
    if (rc == SH_OK)
        rc = sh_client_state_device_put(l->state, st.data, st.len);
    sh_buf_free(&st);
    l->done = rc == SH_OK; /* linked */
    return rc;
}

int sh_client_link_wait_response(sh_client_link *l, uint32_t wait_ms)
{
    int rc;

    if (l->c != NULL || l->dev == NULL)
        return sh_err_set(SH_ERR_INVALID, "not a new device waiting for its link");
    if (sh_time_mono_ms() >= l->expires_ms)
        return sh_err_set(SH_ERR_STALE, "no answer from the primary within %lld minutes: the "
                          "link code expired", (long long)(SH_CLIENT_LINK_TTL_MS / 60000));
    rc = rz_read(l, wait_ms, device_msg);
    if (rc == SH_OK && l->done)
        return SH_OK;
    return rc == SH_OK ? sh_err_set(SH_ERR_TIMEOUT, "no answer from the primary yet") : rc;
}
