/* Double Ratchet building blocks (docs/protocol-v2.md, "Double Ratchet"; Signal's Double Ratchet
 * specification, sections 3.5 and 4): the root-chain KDF with header keys (KDF_RK_HE), the
 * symmetric-chain KDF (KDF_CK) and the fixed-size message header. The state machine that uses them
 * is in session.c. */
#include "e2e/internal.h"

#include <sodium.h>
#include <string.h>

#include "crypto/labels.h"
#include "util/err.h"

_Static_assert(SH_E2E_HEADER_BYTES == 115, "header layout (docs/protocol-v2.md)");

/* RK, CK, NHK = HKDF-SHA256(salt = RK, ikm = DH output, info = label), 96 bytes. */
void sh__e2e_kdf_rk(uint8_t rk[static 32], uint8_t ck[static 32], uint8_t nhk[static 32],
                    const uint8_t dh_out[static 32])
{
    uint8_t okm[96];

    /* Cannot fail: the output length is fixed and small. */
    (void)sh__e2e_kdf(okm, sizeof okm, rk, 32, dh_out, 32, SH_LABEL_E2E_ROOT_KDF, NULL, 0);
    memcpy(rk, okm, 32);
    memcpy(ck, okm + 32, 32);
    memcpy(nhk, okm + 64, 32);
    sodium_memzero(okm, sizeof okm);
}

/* MK = HMAC-SHA256(CK, label_message), CK' = HMAC-SHA256(CK, label_next). */
void sh__e2e_kdf_ck(uint8_t ck[static 32], uint8_t mk[static 32])
{
    uint8_t next[32];

    crypto_auth_hmacsha256(mk, (const uint8_t *)SH_LABEL_E2E_CHAIN_MSG,
                           sizeof SH_LABEL_E2E_CHAIN_MSG - 1, ck);
    crypto_auth_hmacsha256(next, (const uint8_t *)SH_LABEL_E2E_CHAIN_NEXT,
                           sizeof SH_LABEL_E2E_CHAIN_NEXT - 1, ck);
    memcpy(ck, next, 32);
    sodium_memzero(next, sizeof next);
}

void sh__e2e_header_encode(const sh_e2e_header *h, uint8_t out[static SH_E2E_HEADER_BYTES])
{
    out[0] = SH_E2E_HEADER_VERSION;
    out[1] = h->chunk_kind;
    memcpy(out + 2, h->dh, 32);
    sh_store_u32be(out + 34, h->pn);
    sh_store_u32be(out + 38, h->n);
    sh_store_u32be(out + 42, h->epoch);
    sh_store_u32be(out + 46, h->chunk_epoch);
    out[50] = h->chunk_index;
    memcpy(out + 51, h->chunk, SH_E2E_CHUNK_BYTES);
}

int sh__e2e_header_decode(sh_e2e_header *h, const uint8_t in[static SH_E2E_HEADER_BYTES])
{
    static const uint8_t zeros[4 + 1 + SH_E2E_CHUNK_BYTES];

    if (in[0] != SH_E2E_HEADER_VERSION)
        return sh_err_set(SH_ERR_UNSUPPORTED, "message header version %u is not known here", in[0]);
    if (in[1] > SH_E2E_CHUNK_CT)
        return sh_err_set(SH_ERR_FORMAT, "message header names chunk kind %u", in[1]);
    if (in[1] == SH_E2E_CHUNK_NONE && memcmp(in + 46, zeros, sizeof zeros) != 0)
        return sh_err_set(SH_ERR_FORMAT, "message header has chunk bytes but no chunk");
    h->chunk_kind = in[1];
    memcpy(h->dh, in + 2, 32);
    h->pn = sh_load_u32be(in + 34);
    h->n = sh_load_u32be(in + 38);
    h->epoch = sh_load_u32be(in + 42);
    h->chunk_epoch = sh_load_u32be(in + 46);
    h->chunk_index = in[50];
    memcpy(h->chunk, in + 51, SH_E2E_CHUNK_BYTES);
    return SH_OK;
}
