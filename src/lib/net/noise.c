/* Noise Protocol Framework, revision 34 (noiseprotocol.org/noise.html): CipherState (5.1),
 * SymmetricState (5.2), HandshakeState (5.3) with DH = X25519, cipher = ChaChaPoly (IETF
 * ChaCha20-Poly1305, nonce = 32 zero bits || 64-bit little-endian counter), hash = SHA-256 and
 * HKDF = HMAC-SHA256 as in section 4.3 (which is RFC 5869 with ck as salt and an empty info).
 * Shoal's links use Noise_XK:
 *     <- s
 *     ...
 *     -> e, es
 *     <- e, ee
 *     -> s, se
 * The interpreter below walks the token lists of section 7 so that the NN and IK vectors can
 * check the same code. */
#include "net/noise.h"

#include <sodium.h>
#include <string.h>

#include "crypto/hkdf.h"
#include "util/buf.h"
#include "util/err.h"

enum token { TOK_END = 0, TOK_E, TOK_S, TOK_EE, TOK_ES, TOK_SE, TOK_SS };

#define MAX_MESSAGES 3
#define MAX_TOKENS 5

typedef struct pattern_def {
    const char *protocol_name;
    bool responder_static_premessage; /* "<- s" before the "..." */
    unsigned n_messages;
    uint8_t messages[MAX_MESSAGES][MAX_TOKENS];
} pattern_def;

static const pattern_def patterns[] = {
    [SH_NOISE_NN] = {"Noise_NN_25519_ChaChaPoly_SHA256", false, 2,
                     {{TOK_E}, {TOK_E, TOK_EE}}},
    [SH_NOISE_XK] = {"Noise_XK_25519_ChaChaPoly_SHA256", true, 3,
                     {{TOK_E, TOK_ES}, {TOK_E, TOK_EE}, {TOK_S, TOK_SE}}},
    [SH_NOISE_IK] = {"Noise_IK_25519_ChaChaPoly_SHA256", true, 2,
                     {{TOK_E, TOK_ES, TOK_S, TOK_SS}, {TOK_E, TOK_EE, TOK_SE}}},
};

static void nonce_bytes(uint8_t out[static crypto_aead_chacha20poly1305_ietf_NPUBBYTES], uint64_t n)
{
    memset(out, 0, 4);
    sh_store_u64le(out + 4, n);
}

int sh_noise_encrypt(sh_noise_cipher *c, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                     size_t len, uint8_t *ct)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

    if (!c->has_key) {
        memmove(ct, pt, len);
        return SH_OK;
    }
    if (c->n == UINT64_MAX)
        return sh_err_set(SH_ERR_LIMIT, "Noise nonce exhausted: the link must be re-established");
    nonce_bytes(nonce, c->n);
    crypto_aead_chacha20poly1305_ietf_encrypt(ct, NULL, pt, len, ad, ad_len, NULL, nonce, c->k);
    c->n++;
    return SH_OK;
}

int sh_noise_decrypt(sh_noise_cipher *c, const uint8_t *ad, size_t ad_len, const uint8_t *ct,
                     size_t ct_len, uint8_t *pt)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

    if (!c->has_key) {
        memmove(pt, ct, ct_len);
        return SH_OK;
    }
    if (ct_len < SH_NOISE_TAG_BYTES)
        return sh_err_set(SH_ERR_PROTOCOL, "a Noise ciphertext of %zu bytes is shorter than its tag",
                          ct_len);
    if (c->n == UINT64_MAX)
        return sh_err_set(SH_ERR_LIMIT, "Noise nonce exhausted: the link must be re-established");
    nonce_bytes(nonce, c->n);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(pt, NULL, NULL, ct, ct_len, ad, ad_len, nonce,
                                                  c->k) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "a Noise message failed authentication");
    c->n++;
    return SH_OK;
}

void sh_noise_rekey(sh_noise_cipher *c)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
    uint8_t zeros[SH_NOISE_KEY_BYTES] = {0};
    uint8_t out[SH_NOISE_KEY_BYTES + SH_NOISE_TAG_BYTES];

    nonce_bytes(nonce, UINT64_MAX);
    crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, zeros, sizeof zeros, NULL, 0, NULL, nonce,
                                              c->k);
    memcpy(c->k, out, SH_NOISE_KEY_BYTES);
    sodium_memzero(out, sizeof out);
}

/* SymmetricState ---------------------------------------------------------------------------- */

static void mix_hash(sh_noise_hs *hs, const uint8_t *data, size_t len)
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, hs->h, sizeof hs->h);
    crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, hs->h);
}

/* MixKey(): ck, temp_k = HKDF(ck, ikm, 2); the cipher key becomes temp_k with n = 0. */
static void mix_key(sh_noise_hs *hs, const uint8_t *ikm, size_t ikm_len)
{
    uint8_t out[2 * SH_NOISE_HASH_BYTES];

    (void)sh_hkdf_sha256(out, sizeof out, hs->ck, sizeof hs->ck, ikm, ikm_len, NULL, 0);
    memcpy(hs->ck, out, SH_NOISE_HASH_BYTES);
    memcpy(hs->cs.k, out + SH_NOISE_HASH_BYTES, SH_NOISE_KEY_BYTES);
    hs->cs.n = 0;
    hs->cs.has_key = true;
    sodium_memzero(out, sizeof out);
}

/* EncryptAndHash(): ciphertext (or plaintext before any key) is appended at out. */
static int encrypt_and_hash(sh_noise_hs *hs, const uint8_t *pt, size_t len, uint8_t *out,
                            size_t *out_len)
{
    size_t ct_len = len + (hs->cs.has_key ? SH_NOISE_TAG_BYTES : 0);
    int rc = sh_noise_encrypt(&hs->cs, hs->h, sizeof hs->h, pt, len, out);

    if (rc != SH_OK)
        return rc;
    mix_hash(hs, out, ct_len);
    *out_len = ct_len;
    return SH_OK;
}

static int decrypt_and_hash(sh_noise_hs *hs, const uint8_t *ct, size_t ct_len, uint8_t *pt)
{
    uint8_t h_before[SH_NOISE_HASH_BYTES];
    int rc;

    memcpy(h_before, hs->h, sizeof h_before);
    mix_hash(hs, ct, ct_len);
    rc = sh_noise_decrypt(&hs->cs, h_before, sizeof h_before, ct, ct_len, pt);
    return rc;
}

static int dh(uint8_t out[static SH_NOISE_DH_BYTES], const uint8_t sk[static SH_NOISE_DH_BYTES],
              const uint8_t pk[static SH_NOISE_DH_BYTES])
{
    if (crypto_scalarmult(out, sk, pk) != 0)
        return sh_err_set(SH_ERR_CRYPTO, "the peer sent a low-order X25519 key");
    return SH_OK;
}

/* HandshakeState ---------------------------------------------------------------------------- */

int sh_noise_hs_init(sh_noise_hs *hs, sh_noise_pattern pattern, bool initiator,
                     const uint8_t *prologue, size_t prologue_len, const uint8_t *s_sk,
                     const uint8_t *rs)
{
    const pattern_def *p;
    size_t name_len;

    if ((unsigned)pattern >= sizeof patterns / sizeof patterns[0])
        return sh_err_set(SH_ERR_INVALID, "unknown Noise pattern %d", (int)pattern);
    p = &patterns[pattern];
    if (pattern != SH_NOISE_NN && s_sk == NULL)
        return sh_err_set(SH_ERR_INVALID, "%s needs a static key", p->protocol_name);
    if (p->responder_static_premessage && initiator && rs == NULL)
        return sh_err_set(SH_ERR_INVALID, "%s: the initiator must know the responder's key",
                          p->protocol_name);
    memset(hs, 0, sizeof *hs);
    hs->pattern = pattern;
    hs->initiator = initiator;
    /* InitializeSymmetric(): h = protocol name padded to HASHLEN, or its hash if longer. */
    name_len = strlen(p->protocol_name);
    if (name_len <= SH_NOISE_HASH_BYTES)
        memcpy(hs->h, p->protocol_name, name_len);
    else
        crypto_hash_sha256(hs->h, (const uint8_t *)p->protocol_name, name_len);
    memcpy(hs->ck, hs->h, sizeof hs->ck);
    mix_hash(hs, prologue, prologue_len);
    if (s_sk != NULL) {
        memcpy(hs->s_sk, s_sk, SH_NOISE_DH_BYTES);
        crypto_scalarmult_base(hs->s_pk, hs->s_sk);
        hs->has_s = true;
    }
    if (p->responder_static_premessage) {
        /* Pre-message "<- s": both sides hash the responder's static public key. */
        if (initiator) {
            memcpy(hs->rs, rs, SH_NOISE_DH_BYTES);
            hs->has_rs = true;
            mix_hash(hs, hs->rs, SH_NOISE_DH_BYTES);
        } else {
            mix_hash(hs, hs->s_pk, SH_NOISE_DH_BYTES);
        }
    }
    return SH_OK;
}

void sh__noise_hs_fix_ephemeral(sh_noise_hs *hs, const uint8_t e_sk[static SH_NOISE_DH_BYTES])
{
    memcpy(hs->e_sk, e_sk, SH_NOISE_DH_BYTES);
    hs->fixed_e = true;
}

bool sh_noise_hs_done(const sh_noise_hs *hs)
{
    return hs->msg_index >= patterns[hs->pattern].n_messages;
}

static bool our_turn(const sh_noise_hs *hs)
{
    /* Even messages go from the initiator, odd ones from the responder. */
    return !sh_noise_hs_done(hs) && ((hs->msg_index % 2 == 0) == hs->initiator);
}

size_t sh_noise_next_message_len(const sh_noise_hs *hs)
{
    const uint8_t *tok;
    bool keyed = hs->cs.has_key;
    size_t len = 0;

    if (sh_noise_hs_done(hs))
        return 0;
    for (tok = patterns[hs->pattern].messages[hs->msg_index]; *tok != TOK_END; tok++) {
        if (*tok == TOK_E)
            len += SH_NOISE_DH_BYTES;
        else if (*tok == TOK_S)
            len += SH_NOISE_DH_BYTES + (keyed ? SH_NOISE_TAG_BYTES : 0);
        else
            keyed = true;
    }
    return len + (keyed ? SH_NOISE_TAG_BYTES : 0);
}

/* The DH of a token, seen from our role: "es" is DH(e, rs) for the initiator and DH(s, re) for
 * the responder; "se" the mirror image. */
static int mix_dh_token(sh_noise_hs *hs, enum token tok)
{
    uint8_t shared[SH_NOISE_DH_BYTES];
    const uint8_t *sk, *pk;
    bool ok;
    int rc;

    switch (tok) {
    case TOK_EE: /* ee */
        sk = hs->e_sk, pk = hs->re, ok = hs->has_e && hs->has_re;
        break;
    case TOK_ES: /* es */
        sk = hs->initiator ? hs->e_sk : hs->s_sk;
        pk = hs->initiator ? hs->rs : hs->re;
        ok = hs->initiator ? hs->has_e && hs->has_rs : hs->has_s && hs->has_re;
        break;
    case TOK_SE: /* se */
        sk = hs->initiator ? hs->s_sk : hs->e_sk;
        pk = hs->initiator ? hs->re : hs->rs;
        ok = hs->initiator ? hs->has_s && hs->has_re : hs->has_e && hs->has_rs;
        break;
    default: /* ss */
        sk = hs->s_sk, pk = hs->rs, ok = hs->has_s && hs->has_rs;
        break;
    }
    if (!ok)
        return sh_err_set(SH_ERR_INTERNAL, "Noise token %d lacks a key", (int)tok);
    rc = dh(shared, sk, pk);
    if (rc == SH_OK)
        mix_key(hs, shared, sizeof shared);
    sodium_memzero(shared, sizeof shared);
    return rc;
}

static void make_ephemeral(sh_noise_hs *hs)
{
    if (!hs->fixed_e)
        randombytes_buf(hs->e_sk, sizeof hs->e_sk);
    crypto_scalarmult_base(hs->e_pk, hs->e_sk);
    hs->has_e = true;
}

int sh_noise_write_message(sh_noise_hs *hs, const uint8_t *payload, size_t payload_len,
                           uint8_t *out, size_t out_cap, size_t *out_len)
{
    const uint8_t *tok;
    size_t pos = 0, n;
    int rc;

    if (!our_turn(hs))
        return sh_err_set(SH_ERR_INVALID, "Noise: not our turn to write a handshake message");
    if (payload_len > SH_NOISE_MAX_MESSAGE_BYTES ||
        sh_noise_next_message_len(hs) + payload_len > out_cap)
        return sh_err_set(SH_ERR_LIMIT, "Noise handshake message does not fit %zu bytes", out_cap);
    for (tok = patterns[hs->pattern].messages[hs->msg_index]; *tok != TOK_END; tok++) {
        switch (*tok) {
        case TOK_E: /* e: a fresh ephemeral key, sent in the clear and hashed */
            make_ephemeral(hs);
            memcpy(out + pos, hs->e_pk, SH_NOISE_DH_BYTES);
            mix_hash(hs, hs->e_pk, SH_NOISE_DH_BYTES);
            pos += SH_NOISE_DH_BYTES;
            break;
        case TOK_S: /* s: our static key, encrypted once a key exists */
            rc = encrypt_and_hash(hs, hs->s_pk, SH_NOISE_DH_BYTES, out + pos, &n);
            if (rc != SH_OK)
                return rc;
            pos += n;
            break;
        default: /* ee, es, se, ss */
            rc = mix_dh_token(hs, (enum token)*tok);
            if (rc != SH_OK)
                return rc;
            break;
        }
    }
    rc = encrypt_and_hash(hs, payload, payload_len, out + pos, &n);
    if (rc != SH_OK)
        return rc;
    *out_len = pos + n;
    hs->msg_index++;
    return SH_OK;
}

/* Reads the public key of an "e" or "s" token; advances *pos. */
static int read_key_token(sh_noise_hs *hs, enum token tok, const uint8_t *msg, size_t msg_len,
                          size_t *pos)
{
    size_t need = SH_NOISE_DH_BYTES;
    int rc;

    if (tok == TOK_E) { /* e: the peer's ephemeral key */
        if (msg_len - *pos < need)
            return sh_err_set(SH_ERR_PROTOCOL, "handshake message too short for its 'e' key");
        memcpy(hs->re, msg + *pos, need);
        hs->has_re = true;
        mix_hash(hs, hs->re, need);
        *pos += need;
        return SH_OK;
    }
    /* s: the peer's static key, encrypted under the current key */
    if (hs->cs.has_key)
        need += SH_NOISE_TAG_BYTES;
    if (msg_len - *pos < need)
        return sh_err_set(SH_ERR_PROTOCOL, "handshake message too short for its 's' key");
    rc = decrypt_and_hash(hs, msg + *pos, need, hs->rs);
    if (rc != SH_OK)
        return sh_err_set(rc, "the peer's static key did not decrypt");
    hs->has_rs = true;
    *pos += need;
    return SH_OK;
}

int sh_noise_read_message(sh_noise_hs *hs, const uint8_t *msg, size_t msg_len,
                          uint8_t *payload_out, size_t payload_cap, size_t *payload_len)
{
    const uint8_t *tok;
    size_t pos = 0, ct_len, pt_len;
    int rc;

    if (sh_noise_hs_done(hs) || our_turn(hs))
        return sh_err_set(SH_ERR_INVALID, "Noise: no handshake message is expected now");
    if (msg_len > SH_NOISE_MAX_MESSAGE_BYTES)
        return sh_err_set(SH_ERR_PROTOCOL, "handshake message of %zu bytes is over 65535", msg_len);
    for (tok = patterns[hs->pattern].messages[hs->msg_index]; *tok != TOK_END; tok++) {
        if (*tok == TOK_E || *tok == TOK_S)
            rc = read_key_token(hs, (enum token)*tok, msg, msg_len, &pos);
        else /* ee, es, se, ss */
            rc = mix_dh_token(hs, (enum token)*tok);
        if (rc != SH_OK)
            return rc;
    }
    ct_len = msg_len - pos;
    if (hs->cs.has_key && ct_len < SH_NOISE_TAG_BYTES)
        return sh_err_set(SH_ERR_PROTOCOL, "handshake message too short for its payload tag");
    pt_len = ct_len - (hs->cs.has_key ? SH_NOISE_TAG_BYTES : 0);
    if (pt_len > payload_cap)
        return sh_err_set(SH_ERR_LIMIT, "handshake payload of %zu bytes does not fit %zu", pt_len,
                          payload_cap);
    if (pt_len == 0) {
        /* Only the tag: decrypt into a scratch byte so that payload_out may be NULL. */
        uint8_t scratch[1];
        rc = decrypt_and_hash(hs, msg + pos, ct_len, scratch);
    } else {
        rc = decrypt_and_hash(hs, msg + pos, ct_len, payload_out);
    }
    if (rc != SH_OK)
        return sh_err_set(rc, "handshake message %u did not authenticate", hs->msg_index + 1);
    *payload_len = pt_len;
    hs->msg_index++;
    return SH_OK;
}

/* Split(): k1, k2 = HKDF(ck, "", 2); the initiator sends with k1, the responder with k2. */
int sh_noise_split(sh_noise_hs *hs, sh_noise_cipher *tx, sh_noise_cipher *rx)
{
    uint8_t out[2 * SH_NOISE_HASH_BYTES];
    int rc;

    if (!sh_noise_hs_done(hs))
        return sh_err_set(SH_ERR_INVALID, "Noise: Split() before the handshake is complete");
    rc = sh_hkdf_sha256(out, sizeof out, hs->ck, sizeof hs->ck, NULL, 0, NULL, 0);
    if (rc != SH_OK)
        goto done;
    memset(tx, 0, sizeof *tx);
    memset(rx, 0, sizeof *rx);
    memcpy(hs->initiator ? tx->k : rx->k, out, SH_NOISE_KEY_BYTES);
    memcpy(hs->initiator ? rx->k : tx->k, out + SH_NOISE_HASH_BYTES, SH_NOISE_KEY_BYTES);
    tx->has_key = rx->has_key = true;
done:
    sodium_memzero(out, sizeof out);
    return rc;
}

void sh_noise_hs_wipe(sh_noise_hs *hs)
{
    sodium_memzero(hs, sizeof *hs);
}
