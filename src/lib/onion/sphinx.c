/* Sphinx packet headers over ristretto255 (Danezis & Goldberg 2009, section 3; docs/onion.md
 * "Packet format" and "Building"): the client builds a constant-size header for up to
 * SH_ONION_MAX_HOPS hops and a payload with one wide-block layer per hop; each hop peels one
 * layer, checks its MAC, records the replay tag, and re-blinds the group element for the next hop.
 *
 * Notation as in the paper: alpha_i is hop i's group element (x_i * G), s_i its shared secret
 * (here the hop secret, a hash of x_i * Y_i), b_i its blinding factor (x_{i+1} = x_i * b_i),
 * beta_i the encrypted routing information and gamma_i its MAC. rho_i keys the header stream and
 * mu_i the MAC. The header stream of hop i is SH__ONION_STREAM_BYTES long: beta plus one hop
 * block, which is what the shift by one hop block lets in at the end of beta. */
#include "onion/internal.h"

#include <sodium.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/labels.h"
#include "util/err.h"

#define L_BYTES SH_ONION_BETA_BYTES
#define T_BYTES SH_ONION_HOP_BYTES
_Static_assert(SH_ONION_SECRET_KEY_BYTES == crypto_core_ristretto255_SCALARBYTES, "scalar size");
_Static_assert(SH_ONION_PUBLIC_KEY_BYTES == crypto_core_ristretto255_BYTES, "element size");
_Static_assert(SH_ONION_MAX_HOPS * SH_ONION_HOP_BYTES == SH_ONION_BETA_BYTES, "beta size");

/* Everything the client derives for one hop. */
typedef struct hop_keys {
    uint8_t alpha[SH_ONION_PUBLIC_KEY_BYTES];
    uint8_t stream[SH__ONION_STREAM_BYTES];  /* ChaCha20(rho_i) */
    uint8_t mu[SH_ONION_KEY_BYTES];
    uint8_t request_layer[SH_ONION_KEY_BYTES];
    uint8_t reply_layer[SH_ONION_KEY_BYTES];
    uint8_t e2e_request[SH_ONION_KEY_BYTES];
    uint8_t e2e_reply[SH_ONION_KEY_BYTES];
} hop_keys;

static void header_stream(uint8_t out[static SH__ONION_STREAM_BYTES],
                          const uint8_t secret[static SH__ONION_SECRET_BYTES])
{
    static const uint8_t zero_nonce[crypto_stream_chacha20_NONCEBYTES];
    uint8_t rho[crypto_stream_chacha20_KEYBYTES];

    sh__onion_derive(rho, sizeof rho, secret, SH_LABEL_ONION_HEADER_STREAM);
    crypto_stream_chacha20(out, SH__ONION_STREAM_BYTES, zero_nonce, rho);
    sodium_memzero(rho, sizeof rho);
}

/* alpha_i = x_i * G, s_i = H(alpha_i, x_i * Y_i), x_{i+1} = x_i * b_i, and the hop's keys. */
static int derive_path(const sh_onion_hop *hops, size_t n, uint8_t x[static 32], hop_keys *keys)
{
    uint8_t dh[SH_ONION_PUBLIC_KEY_BYTES], secret[SH__ONION_SECRET_BYTES], blind[32];
    int rc = SH_OK;

    for (size_t i = 0; i < n; i++) {
        hop_keys *k = &keys[i];

        if (crypto_scalarmult_ristretto255_base(k->alpha, x) != 0 ||
            crypto_scalarmult_ristretto255(dh, x, hops[i].onion_key) != 0) {
            rc = sh_err_set(SH_ERR_INVALID, "the onion key of hop %zu is not a valid "
                                            "ristretto255 element", i + 1);
            goto done;
        }
        sh__onion_hop_secret(secret, k->alpha, dh);
        header_stream(k->stream, secret);
        sh__onion_derive(k->mu, sizeof k->mu, secret, SH_LABEL_ONION_HEADER_MAC);
        sh__onion_derive(k->request_layer, SH_ONION_KEY_BYTES, secret, SH_LABEL_ONION_REQUEST_LAYER);
        sh__onion_derive(k->reply_layer, SH_ONION_KEY_BYTES, secret, SH_LABEL_ONION_REPLY_LAYER);
        sh__onion_derive(k->e2e_request, SH_ONION_KEY_BYTES, secret, SH_LABEL_ONION_E2E_REQUEST);
        sh__onion_derive(k->e2e_reply, SH_ONION_KEY_BYTES, secret, SH_LABEL_ONION_E2E_REPLY);
        sh__onion_blinding(blind, secret);
        crypto_core_ristretto255_scalar_mul(x, x, blind);
    }
done:
    sodium_memzero(dh, sizeof dh);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(blind, sizeof blind);
    return rc;
}

static void write_routing(uint8_t ri[static SH_ONION_ROUTING_BYTES], const sh_onion_hop *next,
                          uint32_t timeout_ms, bool reply)
{
    memset(ri, 0, SH_ONION_ROUTING_BYTES);
    if (next == NULL) {
        ri[SH__ONION_RI_COMMAND] = SH_ONION_DELIVER;
        ri[SH__ONION_RI_FLAGS] = reply ? SH_ONION_FLAG_REPLY : 0;
        return;
    }
    ri[SH__ONION_RI_COMMAND] = next->is_service ? SH_ONION_RELAY_SERVICE : SH_ONION_RELAY_NODE;
    ri[SH__ONION_RI_FLAGS] = reply ? SH_ONION_FLAG_REPLY : 0;
    sh_store_u32be(ri + SH__ONION_RI_TIMEOUT, reply ? timeout_ms : 0);
    sh_store_u64be(ri + SH__ONION_RI_EPOCH, next->epoch);
    memcpy(ri + SH__ONION_RI_NEXT_ID, next->id, SH_ONION_ID_BYTES);
}

/* phi_{n-1}: the bytes the first n-1 hops shift into the end of beta, as hop n-1 receives them.
 * phi_0 is empty; phi_i = (phi_{i-1} || 0^t) XOR stream_{i-1}[L - (i-1) t, L + t). */
static void compute_filler(const hop_keys *keys, size_t n, uint8_t *phi)
{
    if (n < 2)
        return;
    memset(phi, 0, (n - 1) * T_BYTES);
    for (size_t i = 1; i < n; i++) {
        const uint8_t *s = keys[i - 1].stream + L_BYTES - (i - 1) * T_BYTES;

        for (size_t j = 0; j < i * T_BYTES; j++)
            phi[j] ^= s[j];
    }
}

/* Writes every hop's beta and gamma from the last hop back to the first; header receives hop 0's
 * version, epoch, alpha, gamma and beta. `pad` fills the unused end of the last hop's beta. */
static void build_header(const sh_onion_hop *hops, size_t n, const hop_keys *keys, bool reply,
                         const uint8_t pad_key[static 32], uint8_t header[static SH_ONION_HEADER_BYTES])
{
    static const uint8_t zero_nonce[crypto_stream_chacha20_NONCEBYTES];
    uint8_t block[T_BYTES], phi[L_BYTES], next_beta[L_BYTES], *beta = header + SH__ONION_OFF_BETA;
    size_t plain = L_BYTES - (n - 1) * T_BYTES;   /* bytes of the last beta before the filler */

    compute_filler(keys, n, phi);
    /* Hop n-1: DELIVER, random bytes up to the filler, encrypted; then the filler. */
    crypto_stream_chacha20(beta, plain, zero_nonce, pad_key);
    write_routing(beta, NULL, 0, reply);
    memset(beta + SH_ONION_ROUTING_BYTES, 0, SH_ONION_MAC_BYTES);
    for (size_t j = 0; j < plain; j++)
        beta[j] ^= keys[n - 1].stream[j];
    memcpy(beta + plain, phi, (n - 1) * T_BYTES);
    for (size_t i = n; i-- > 0;) {
        if (i < n - 1) {
            /* beta_i = (routing_i || gamma_{i+1} || beta_{i+1}[0, L - t)) XOR stream_i[0, L) */
            memcpy(next_beta, beta, L_BYTES);
            write_routing(block, &hops[i + 1], hops[i].reply_timeout_ms, reply);
            memcpy(block + SH_ONION_ROUTING_BYTES, header + SH__ONION_OFF_GAMMA, SH_ONION_MAC_BYTES);
            memcpy(beta, block, T_BYTES);
            memcpy(beta + T_BYTES, next_beta, L_BYTES - T_BYTES);
            for (size_t j = 0; j < L_BYTES; j++)
                beta[j] ^= keys[i].stream[j];
        }
        header[SH__ONION_OFF_VERSION] = SH_ONION_VERSION;
        sh_store_u64be(header + SH__ONION_OFF_EPOCH, hops[i].epoch);
        memcpy(header + SH__ONION_OFF_ALPHA, keys[i].alpha, SH_ONION_PUBLIC_KEY_BYTES);
        sh__onion_header_mac(header + SH__ONION_OFF_GAMMA, keys[i].mu, header);
    }
    sodium_memzero(block, sizeof block);
    sodium_memzero(phi, sizeof phi);
    sodium_memzero(next_beta, sizeof next_beta);
}

static int check_build_args(size_t n_hops, size_t msg_len, size_t bucket)
{
    if (n_hops == 0 || n_hops > SH_ONION_MAX_HOPS)
        return sh_err_set(SH_ERR_INVALID, "an onion path has 1 to %d hops, not %zu",
                          SH_ONION_MAX_HOPS, n_hops);
    if (msg_len > SH_ONION_MESSAGE_MAX_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "a %zu-byte message exceeds the onion limit of %u bytes",
                          msg_len, SH_ONION_MESSAGE_MAX_BYTES);
    if (!sh_onion_is_bucket(bucket) || bucket < sh_onion_bucket_for(msg_len))
        return sh_err_set(SH_ERR_INVALID, "%zu is not a bucket that fits a %zu-byte message",
                          bucket, msg_len);
    return SH_OK;
}

static int make_state(const hop_keys *keys, size_t n, sh_onion_client **state)
{
    sh_onion_client *st = sh_secret_alloc(sizeof *st);

    if (st == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for onion reply keys");
    st->n_layers = n - 1;
    for (size_t i = 0; i + 1 < n; i++)
        memcpy(st->layer_keys[i], keys[i].reply_layer, SH_ONION_KEY_BYTES);
    memcpy(st->e2e_key, keys[n - 1].e2e_reply, SH_ONION_KEY_BYTES);
    *state = st;
    return SH_OK;
}

int sh__onion_build_seeded(const sh_onion_hop *hops, size_t n_hops, const uint8_t *msg,
                           size_t msg_len, size_t bucket, const uint8_t seed[static 32],
                           sh_buf *packet, sh_onion_client **state)
{
    hop_keys keys[SH_ONION_MAX_HOPS];
    uint8_t wide[64], x[32], pad_key[32], *p;
    int rc = check_build_args(n_hops, msg_len, bucket);

    if (rc != SH_OK)
        return rc;
    /* x = reduce(BLAKE2b-512(seed, label || 0)), pad key = BLAKE2b-256(seed, label || 1). */
    crypto_generichash(wide, sizeof wide, (const uint8_t *)SH_LABEL_ONION_BUILD_SEED "\x00",
                       sizeof SH_LABEL_ONION_BUILD_SEED, seed, 32);
    crypto_core_ristretto255_scalar_reduce(x, wide);
    crypto_generichash(pad_key, sizeof pad_key, (const uint8_t *)SH_LABEL_ONION_BUILD_SEED "\x01",
                       sizeof SH_LABEL_ONION_BUILD_SEED, seed, 32);
    rc = derive_path(hops, n_hops, x, keys);
    if (rc != SH_OK)
        goto done;
    sh_buf_reset(packet);
    rc = sh_buf_extend(packet, SH_ONION_HEADER_BYTES + bucket, &p);
    if (rc != SH_OK)
        goto done;
    build_header(hops, n_hops, keys, state != NULL, pad_key, p);
    rc = sh__onion_e2e_seal(keys[n_hops - 1].e2e_request, msg, msg_len, p + SH_ONION_HEADER_BYTES,
                            bucket);
    if (rc != SH_OK)
        goto done;
    for (size_t i = n_hops; i-- > 0;)
        sh__onion_lioness_encrypt(keys[i].request_layer, p + SH_ONION_HEADER_BYTES, bucket);
    if (state != NULL)
        rc = make_state(keys, n_hops, state);
done:
    if (rc != SH_OK)
        sh_buf_reset(packet);
    sodium_memzero(keys, sizeof keys);
    sodium_memzero(wide, sizeof wide);
    sodium_memzero(x, sizeof x);
    sodium_memzero(pad_key, sizeof pad_key);
    return rc;
}

int sh_onion_build_bucket(const sh_onion_hop *hops, size_t n_hops, const uint8_t *msg,
                          size_t msg_len, size_t bucket, sh_buf *packet, sh_onion_client **state)
{
    uint8_t seed[32];
    int rc;

    randombytes_buf(seed, sizeof seed);
    rc = sh__onion_build_seeded(hops, n_hops, msg, msg_len, bucket, seed, packet, state);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

int sh_onion_build(const sh_onion_hop *hops, size_t n_hops, const uint8_t *msg, size_t msg_len,
                   sh_buf *packet, sh_onion_client **state)
{
    size_t bucket = sh_onion_bucket_for(msg_len);

    if (bucket == 0)
        return sh_err_set(SH_ERR_LIMIT, "a %zu-byte message exceeds the onion limit of %u bytes",
                          msg_len, SH_ONION_MESSAGE_MAX_BYTES);
    return sh_onion_build_bucket(hops, n_hops, msg, msg_len, bucket, packet, state);
}

void sh_onion_client_free(sh_onion_client *state)
{
    sh_secret_free(state);
}
