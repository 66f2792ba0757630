/* Linking a new device (docs/protocol-v2.md, "Linking"). The primary shows a link code: "SL1" and
 * the upper-case base32 (RFC 4648, QR alphanumeric mode) of account key (32) || one-time secret
 * (16) || check (2, BLAKE2b of the rest, against typing errors). The new device answers with its
 * public keys encrypted under a key from the secret; both screens then show a short
 * authentication string over the secret, the account and exactly those keys (6 emoji, 36 bits),
 * so a person sees whether someone who also read the code slipped in their own keys. Once they
 * match, the primary adds the device to the list, issues its token and grants it the envelope
 * key, encrypted back under a key from the secret and the request. The code works once, for
 * SH_E2E_LINK_TTL_MS. */
#include "e2e/internal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/labels.h"
#include "util/err.h"

#define CODE_PREFIX "SL1"
#define CODE_RAW (32 + SH_E2E_LINK_SECRET_BYTES + 2)
#define CODE_CHARS ((CODE_RAW * 8 + 4) / 5)
_Static_assert(sizeof CODE_PREFIX - 1 + CODE_CHARS < SH_E2E_LINK_CODE_BYTES, "link code size");

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static const char *const emoji[64][2] = {
    {"🐶", "dog"},     {"🐱", "cat"},      {"🦁", "lion"},    {"🐴", "horse"},   {"🦄", "unicorn"},
    {"🐷", "pig"},     {"🐘", "elephant"}, {"🐰", "rabbit"},  {"🐼", "panda"},   {"🐓", "rooster"},
    {"🐧", "penguin"}, {"🐢", "turtle"},   {"🐟", "fish"},    {"🐙", "octopus"}, {"🦋", "butterfly"},
    {"🌷", "flower"},  {"🌳", "tree"},     {"🌵", "cactus"},  {"🍄", "mushroom"}, {"🌏", "globe"},
    {"🌙", "moon"},    {"☁️", "cloud"},    {"🔥", "fire"},    {"🍌", "banana"},  {"🍎", "apple"},
    {"🍓", "strawberry"}, {"🌽", "corn"},  {"🍕", "pizza"},   {"🎂", "cake"},    {"❤️", "heart"},
    {"😀", "smiley"},  {"🤖", "robot"},    {"🎩", "hat"},     {"👓", "glasses"}, {"🔧", "spanner"},
    {"🎅", "santa"},   {"👍", "thumbs up"}, {"☂️", "umbrella"}, {"⌛", "hourglass"}, {"⏰", "clock"},
    {"🎁", "gift"},    {"💡", "light bulb"}, {"📕", "book"},  {"✏️", "pencil"},  {"📎", "paperclip"},
    {"✂️", "scissors"}, {"🔒", "lock"},    {"🔑", "key"},     {"🔨", "hammer"},  {"☎️", "telephone"},
    {"🏁", "flag"},    {"🚂", "train"},    {"🚲", "bicycle"}, {"✈️", "aeroplane"}, {"🚀", "rocket"},
    {"🏆", "trophy"},  {"⚽", "ball"},     {"🎸", "guitar"},  {"🎺", "trumpet"}, {"🔔", "bell"},
    {"⚓", "anchor"},  {"🎧", "headphones"}, {"📁", "folder"}, {"📌", "pin"},
};

int sh__e2e_link_code_encode(char out[static SH_E2E_LINK_CODE_BYTES], const uint8_t account[32],
                             const uint8_t secret[SH_E2E_LINK_SECRET_BYTES])
{
    uint8_t raw[CODE_RAW];
    size_t bits = 0, n = 0;
    unsigned acc = 0;
    char *p = out + sizeof CODE_PREFIX - 1;

    memcpy(out, CODE_PREFIX, sizeof CODE_PREFIX - 1);
    memcpy(raw, account, 32);
    memcpy(raw + 32, secret, SH_E2E_LINK_SECRET_BYTES);
    crypto_generichash(raw + 48, 2, raw, 48, NULL, 0);
    for (size_t i = 0; i < sizeof raw; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 5) {
            p[n++] = b32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        p[n++] = b32[(acc << (5 - bits)) & 31];
    p[n] = '\0';
    sodium_memzero(raw, sizeof raw);
    return SH_OK;
}

int sh__e2e_link_code_decode(uint8_t account[static 32], uint8_t secret[static 16], const char *code)
{
    uint8_t raw[CODE_RAW], check[2];
    size_t bits = 0, n = 0, len = code ? strlen(code) : 0;
    unsigned acc = 0;
    int rc = SH_OK;

    if (len != sizeof CODE_PREFIX - 1 + CODE_CHARS || strncmp(code, CODE_PREFIX, 3) != 0)
        return sh_err_set(SH_ERR_FORMAT, "a link code is \"%s\" and %d base32 characters",
                          CODE_PREFIX, CODE_CHARS);
    for (const char *p = code + 3; *p; p++) {
        const char *at = strchr(b32, *p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        if (at == NULL || *p == '\0')
            return sh_err_set(SH_ERR_FORMAT, "'%c' is not a link-code character", *p);
        acc = (acc << 5) | (unsigned)(at - b32);
        bits += 5;
        if (bits >= 8) {
            if (n < sizeof raw)
                raw[n++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    if (n != sizeof raw) {
        rc = sh_err_set(SH_ERR_FORMAT, "the link code has the wrong length");
        goto done;
    }
    crypto_generichash(check, 2, raw, 48, NULL, 0);
    if (memcmp(check, raw + 48, 2) != 0) {
        rc = sh_err_set(SH_ERR_CHECKSUM, "the link code is mistyped (its check does not match)");
        goto done;
    }
    memcpy(account, raw, 32);
    memcpy(secret, raw + 32, SH_E2E_LINK_SECRET_BYTES);
done:
    sodium_memzero(raw, sizeof raw);
    return rc;
}

int sh_e2e_link_code_parse(const char *code, uint8_t account[static SH_E2E_ACCOUNT_BYTES],
                           uint8_t secret[static SH_E2E_LINK_SECRET_BYTES])
{
    return sh__e2e_link_code_decode(account, secret, code);
}

void sh_e2e_sas_format(const uint8_t bits[static 5], char out[static SH_E2E_SAS_BYTES])
{
    uint64_t v = 0;
    size_t off = 0;

    for (int i = 0; i < 5; i++)
        v = (v << 8) | bits[i];
    out[0] = '\0';
    for (int i = 0; i < SH_E2E_SAS_EMOJI; i++) {
        unsigned k = (unsigned)(v >> (40 - 6 * (i + 1))) & 63;
        int w = snprintf(out + off, SH_E2E_SAS_BYTES - off, "%s%s %s", i ? ", " : "", emoji[k][0],
                         emoji[k][1]);
        if (w < 0 || (size_t)w >= SH_E2E_SAS_BYTES - off)
            break;
        off += (size_t)w;
    }
}

static int link_key(uint8_t key[32], const uint8_t secret[16], const char *label,
                    const uint8_t *ctx, size_t ctx_len)
{
    return sh__e2e_kdf(key, 32, NULL, 0, secret, SH_E2E_LINK_SECRET_BYTES, label, ctx, ctx_len);
}

static int sas_of(char sas[static SH_E2E_SAS_BYTES], const uint8_t secret[16],
                  const uint8_t account[32], const uint8_t request_hash[32])
{
    uint8_t ctx[64], bits[5];
    int rc;

    memcpy(ctx, account, 32);
    memcpy(ctx + 32, request_hash, 32);
    if ((rc = sh__e2e_kdf(bits, sizeof bits, NULL, 0, secret, SH_E2E_LINK_SECRET_BYTES,
                          SH_LABEL_E2E_LINK_SAS, ctx, sizeof ctx)) == SH_OK)
        sh_e2e_sas_format(bits, sas);
    return rc;
}

static int seal(sh_buf *out, const uint8_t key[32], const uint8_t account[32], const sh_buf *pt)
{
    uint8_t *p;
    int rc = sh_buf_extend(out, SH_E2E_NONCE_BYTES + pt->len + SH_E2E_TAG_BYTES, &p);

    if (rc != SH_OK)
        return rc;
    randombytes_buf(p, SH_E2E_NONCE_BYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(p + SH_E2E_NONCE_BYTES, NULL, pt->data, pt->len,
                                               account, 32, NULL, p, key);
    return SH_OK;
}

static int unseal(sh_buf *pt, const uint8_t key[32], const uint8_t account[32], const uint8_t *in,
                  size_t len, const char *what)
{
    uint8_t *p;
    int rc;

    if (len < SH_E2E_NONCE_BYTES + SH_E2E_TAG_BYTES)
        return sh_err_set(SH_ERR_FORMAT, "the link %s is too short", what);
    if ((rc = sh_buf_extend(pt, len - SH_E2E_NONCE_BYTES - SH_E2E_TAG_BYTES, &p)) != SH_OK)
        return rc;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, NULL, NULL, in + SH_E2E_NONCE_BYTES,
                                                   len - SH_E2E_NONCE_BYTES, account, 32, in,
                                                   key) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "the link %s does not open with this link code's secret", what);
    return SH_OK;
}

int sh_e2e_link_begin(sh_e2e_device *p, int64_t now_ms, char code[static SH_E2E_LINK_CODE_BYTES])
{
    if (p->account == NULL || p->revoked)
        return sh_err_set(SH_ERR_PERMISSION, "only the primary device links new devices");
    if (p->accounts[0]->list->n_devices == SH_E2E_MAX_DEVICES)
        return sh_err_set(SH_ERR_LIMIT, "the account has %d devices already", SH_E2E_MAX_DEVICES);
    sodium_memzero(&p->link, sizeof p->link);
    p->link.active = true;
    randombytes_buf(p->link.secret, sizeof p->link.secret);
    p->link.expires_ms = now_ms + SH_E2E_LINK_TTL_MS;
    return sh__e2e_link_code_encode(code, p->account_pk, p->link.secret);
}

int sh__e2e_link_request(sh_e2e_device *d, int64_t now_ms, sh_buf *request,
                         char sas[static SH_E2E_SAS_BYTES])
{
    Shoal__E2e__LinkRequest m = SHOAL__E2E__LINK_REQUEST__INIT;
    uint8_t nonce[16], key[32];
    sh_buf rq;
    int rc;

    sh_buf_init(&rq);
    randombytes_buf(nonce, sizeof nonce);
    m.label = (char *)SH_LABEL_E2E_LINK_REQUEST;
    m.ed25519_pk = sh_wire_bin(d->ed_pk, 32);
    m.x25519_pk = sh_wire_bin(d->x_pk, 32);
    m.mlkem_ek = sh_wire_bin(d->mlkem_ek, SH_MLKEM768_EK_BYTES);
    m.nonce = sh_wire_bin(nonce, sizeof nonce);
    if ((rc = sh_wire_pack(&m.base, &rq)) != SH_OK)
        goto done;
    crypto_hash_sha256(d->link.request_hash, rq.data, rq.len);
    d->link.active = d->link.requested = true;
    d->link.expires_ms = now_ms + SH_E2E_LINK_TTL_MS;
    if ((rc = link_key(key, d->link.secret, SH_LABEL_E2E_LINK_REQUEST_KEY, d->account_pk, 32)) != SH_OK ||
        (rc = seal(request, key, d->account_pk, &rq)) != SH_OK)
        goto done;
    rc = sas_of(sas, d->link.secret, d->account_pk, d->link.request_hash);
done:
    sodium_memzero(key, sizeof key);
    sh_buf_free(&rq);
    return rc;
}

int sh_e2e_device_new_linked(sh_e2e_device **out, const char *code, int64_t now_ms,
                             sh_buf *request, char sas[static SH_E2E_SAS_BYTES])
{
    sh_e2e_device *d = sh__e2e_device_alloc();
    uint8_t seed[32];
    int rc;

    if (d == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a device");
    if ((rc = sodium_init() < 0 ? SH_ERR_INTERNAL : SH_OK) != SH_OK ||
        (rc = sh__e2e_link_code_decode(d->account_pk, d->link.secret, code)) != SH_OK)
        goto done;
    randombytes_buf(seed, sizeof seed);
    if ((rc = sh__e2e_device_keys(d, seed)) != SH_OK ||
        (rc = sh__e2e_link_request(d, now_ms, request, sas)) != SH_OK)
        goto done;
    *out = d;
    d = NULL;
done:
    sodium_memzero(seed, sizeof seed);
    sh_e2e_device_free(d);
    return rc;
}

static int check_link(const sh_e2e_device *p, int64_t now_ms)
{
    if (p->account == NULL || !p->link.active)
        return sh_err_set(SH_ERR_NOT_FOUND, "no device link is in progress (start one with a new code)");
    if (now_ms >= p->link.expires_ms)
        return sh_err_set(SH_ERR_STALE, "the link code expired; show a new one");
    return SH_OK;
}

int sh_e2e_link_read_request(sh_e2e_device *p, const uint8_t *request, size_t len, int64_t now_ms,
                             char sas[static SH_E2E_SAS_BYTES])
{
    Shoal__E2e__LinkRequest *m = NULL;
    uint8_t key[32];
    sh_buf rq;
    int rc;

    sh_buf_init(&rq);
    if ((rc = check_link(p, now_ms)) != SH_OK)
        return rc;
    if (p->link.requested)
        return sh_err_set(SH_ERR_EXISTS, "this link code was already answered by a device");
    if ((rc = link_key(key, p->link.secret, SH_LABEL_E2E_LINK_REQUEST_KEY, p->account_pk, 32)) != SH_OK ||
        (rc = unseal(&rq, key, p->account_pk, request, len, "request")) != SH_OK ||
        (rc = sh_wire_unpack(&shoal__e2e__link_request__descriptor, rq.data, rq.len, "link request",
                             (ProtobufCMessage **)&m)) != SH_OK)
        goto done;
    if (strcmp(m->label, SH_LABEL_E2E_LINK_REQUEST) != 0 ||
        (rc = sh_wire_need_len(m->ed25519_pk, 32, "the new device's key")) != SH_OK ||
        (rc = sh_wire_need_len(m->x25519_pk, 32, "the new device's X25519 key")) != SH_OK ||
        (rc = sh_wire_need_len(m->mlkem_ek, SH_MLKEM768_EK_BYTES, "the new device's ML-KEM key")) != SH_OK) {
        if (rc == SH_OK)
            rc = sh_err_set(SH_ERR_FORMAT, "the link request has the wrong label");
        goto done;
    }
    if (sh__e2e_devlist_is_revoked_key(p->accounts[0]->list, m->ed25519_pk.data)) {
        rc = sh_err_set(SH_ERR_PERMISSION, "this device was revoked from the account and cannot be "
                        "linked again");
        goto done;
    }
    memcpy(p->link.new_device.ed25519_pk, m->ed25519_pk.data, 32);
    memcpy(p->link.new_device.x25519_pk, m->x25519_pk.data, 32);
    memcpy(p->link.new_device.mlkem_ek, m->mlkem_ek.data, SH_MLKEM768_EK_BYTES);
    crypto_hash_sha256(p->link.request_hash, rq.data, rq.len);
    p->link.requested = true;
    rc = sas_of(sas, p->link.secret, p->account_pk, p->link.request_hash);
done:
    sodium_memzero(key, sizeof key);
    sh_wire_free(m);
    sh_buf_free(&rq);
    return rc;
}

static int link_response(sh_e2e_device *p, const sh_e2e_devinfo *dev, int64_t now_ms, sh_buf *rsp)
{
    Shoal__E2e__LinkResponse m = SHOAL__E2E__LINK_RESPONSE__INIT;
    Shoal__Signed *list = NULL, *tok = NULL, *grant = NULL;
    sh_buf tb, gb;
    int rc;

    sh_buf_init(&tb);
    sh_buf_init(&gb);
    if ((rc = sh__e2e_issue_token(p, dev, now_ms, &tb)) != SH_OK ||
        (rc = sh__e2e_grant_make(p->account, dev, p->env_gen, p->env_seed, &gb)) != SH_OK)
        goto done;
    list = shoal__signed__unpack(NULL, p->accounts[0]->list_bytes.len, p->accounts[0]->list_bytes.data);
    tok = shoal__signed__unpack(NULL, tb.len, tb.data);
    grant = shoal__signed__unpack(NULL, gb.len, gb.data);
    if (list == NULL || tok == NULL || grant == NULL) {
        rc = sh_err_set(SH_ERR_INTERNAL, "a signed object does not decode");
        goto done;
    }
    m.label = (char *)SH_LABEL_E2E_LINK_RESPONSE;
    m.device_list = list;
    m.token = tok;
    m.envelope_grant = grant;
    m.device_id = dev->id;
    rc = sh_wire_pack(&m.base, rsp);
done:
    sh_wire_free(list);
    sh_wire_free(tok);
    sh_wire_free(grant);
    sh_buf_free(&tb);
    sh_buf_free(&gb);
    return rc;
}

int sh_e2e_link_confirm(sh_e2e_device *p, int64_t now_ms, sh_buf *response)
{
    sh_e2e_devlist *list = malloc(sizeof *list);
    sh_e2e_devinfo *dev;
    uint8_t key[32];
    sh_buf rsp;
    int rc;

    sh_buf_init_secret(&rsp);
    if (list == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for a device list");
    if ((rc = check_link(p, now_ms)) != SH_OK)
        goto done;
    if (!p->link.requested) {
        rc = sh_err_set(SH_ERR_INVALID, "no request from the new device has been read yet");
        goto done;
    }
    *list = *p->accounts[0]->list;
    if (list->n_devices == SH_E2E_MAX_DEVICES) {
        rc = sh_err_set(SH_ERR_LIMIT, "the account has %d devices already", SH_E2E_MAX_DEVICES);
        goto done;
    }
    dev = &list->devices[list->n_devices++];
    *dev = p->link.new_device;
    dev->id = list->next_id++;
    dev->added_ms = now_ms;
    list->counter++;
    if ((rc = sh__e2e_publish_own_list(p, list, now_ms)) != SH_OK ||
        (rc = link_response(p, dev, now_ms, &rsp)) != SH_OK ||
        (rc = link_key(key, p->link.secret, SH_LABEL_E2E_LINK_RESPONSE_KEY, p->link.request_hash, 32)) != SH_OK)
        goto done;
    rc = seal(response, key, p->account_pk, &rsp);
done:
    sodium_memzero(&p->link, sizeof p->link); /* the code is spent, whatever happened */
    sodium_memzero(key, sizeof key);
    sh_buf_free(&rsp);
    free(list);
    return rc;
}

static int install_response(sh_e2e_device *d, const Shoal__E2e__LinkResponse *m, int64_t now_ms)
{
    sh_buf b;
    sh_token tok;
    int rc;

    sh_buf_init(&b);
    if (strcmp(m->label, SH_LABEL_E2E_LINK_RESPONSE) != 0 || m->device_list == NULL ||
        m->token == NULL || m->envelope_grant == NULL || m->device_id == 0)
        return sh_err_set(SH_ERR_FORMAT, "the link response is incomplete");
    d->device_id = m->device_id;
    if ((rc = sh_wire_pack(&m->device_list->base, &b)) != SH_OK ||
        (rc = sh__e2e_devlist_parse(&d->scratch_list, b.data, b.len)) != SH_OK)
        goto done;
    if (memcmp(d->scratch_list.account, d->account_pk, 32) != 0) {
        rc = sh_err_set(SH_ERR_PROTOCOL, "the link response carries another account's device list");
        goto done;
    }
    if ((rc = sh_e2e_device_learn_list(d, b.data, b.len, now_ms)) != SH_OK)
        goto done;
    if (d->revoked) {
        rc = sh_err_set(SH_ERR_PROTOCOL, "the device list in the link response does not list this device");
        goto done;
    }
    sh_buf_reset(&b);
    if ((rc = sh_wire_pack(&m->token->base, &b)) != SH_OK ||
        (rc = sh_token_parse(&tok, b.data, b.len, now_ms)) != SH_OK)
        goto done;
    if (memcmp(tok.account, d->account_pk, 32) != 0 || memcmp(tok.device_ed25519_pk, d->ed_pk, 32) != 0) {
        rc = sh_err_set(SH_ERR_PROTOCOL, "the token in the link response is not for this device");
        goto done;
    }
    if ((rc = sh_buf_append(&d->token, b.data, b.len)) != SH_OK)
        goto done;
    sh_buf_reset(&b);
    if ((rc = sh_wire_pack(&m->envelope_grant->base, &b)) == SH_OK)
        rc = sh_e2e_device_learn_grant(d, b.data, b.len);
done:
    sh_buf_free(&b);
    return rc;
}

int sh_e2e_link_finish(sh_e2e_device *d, const uint8_t *response, size_t len, int64_t now_ms)
{
    Shoal__E2e__LinkResponse *m = NULL;
    uint8_t key[32];
    sh_buf pt;
    int rc;

    sh_buf_init_secret(&pt);
    if (!d->link.active || d->device_id != 0)
        return sh_err_set(SH_ERR_INVALID, "this device is not waiting for a link response");
    if (now_ms >= d->link.expires_ms)
        return sh_err_set(SH_ERR_STALE, "the link expired; start again with a new code");
    if ((rc = link_key(key, d->link.secret, SH_LABEL_E2E_LINK_RESPONSE_KEY, d->link.request_hash, 32)) != SH_OK ||
        (rc = unseal(&pt, key, d->account_pk, response, len, "response")) != SH_OK ||
        (rc = sh_wire_unpack(&shoal__e2e__link_response__descriptor, pt.data, pt.len, "link response",
                             (ProtobufCMessage **)&m)) != SH_OK)
        goto done;
    rc = install_response(d, m, now_ms);
    if (rc != SH_OK)
        d->device_id = 0;
    else
        sodium_memzero(&d->link, sizeof d->link);
done:
    sodium_memzero(key, sizeof key);
    sh_wire_free(m);
    sh_buf_free(&pt);
    return rc;
}
