/* HKDF-SHA256, RFC 5869 sections 2.2 (extract) and 2.3 (expand). */
#include "crypto/hkdf.h"

#include <sodium.h>
#include <string.h>

#include "util/err.h"

void sh_hkdf_sha256_extract(uint8_t prk[static SH_HKDF_SHA256_PRK_BYTES], const uint8_t *salt,
                            size_t salt_len, const uint8_t *ikm, size_t ikm_len)
{
    static const uint8_t zero_salt[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;

    if (salt == NULL || salt_len == 0) {
        salt = zero_salt;
        salt_len = sizeof zero_salt;
    }
    crypto_auth_hmacsha256_init(&st, salt, salt_len);
    crypto_auth_hmacsha256_update(&st, ikm, ikm_len);
    crypto_auth_hmacsha256_final(&st, prk);
    sodium_memzero(&st, sizeof st);
}

int sh_hkdf_sha256_expand(uint8_t *out, size_t out_len,
                          const uint8_t prk[static SH_HKDF_SHA256_PRK_BYTES], const uint8_t *info,
                          size_t info_len)
{
    crypto_auth_hmacsha256_state st;
    uint8_t t[crypto_auth_hmacsha256_BYTES];
    size_t done = 0, t_len = 0;
    uint8_t counter = 1;

    if (out_len > SH_HKDF_SHA256_MAX_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "HKDF-SHA256 output of %zu bytes exceeds %d", out_len,
                          SH_HKDF_SHA256_MAX_BYTES);
    while (done < out_len) {
        size_t take = out_len - done < sizeof t ? out_len - done : sizeof t;

        crypto_auth_hmacsha256_init(&st, prk, SH_HKDF_SHA256_PRK_BYTES);
        crypto_auth_hmacsha256_update(&st, t, t_len);
        if (info_len > 0)
            crypto_auth_hmacsha256_update(&st, info, info_len);
        crypto_auth_hmacsha256_update(&st, &counter, 1);
        crypto_auth_hmacsha256_final(&st, t);
        t_len = sizeof t;
        memcpy(out + done, t, take);
        done += take;
        counter++;
    }
    sodium_memzero(&st, sizeof st);
    sodium_memzero(t, sizeof t);
    return SH_OK;
}

int sh_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *salt, size_t salt_len,
                   const uint8_t *ikm, size_t ikm_len, const uint8_t *info, size_t info_len)
{
    uint8_t prk[SH_HKDF_SHA256_PRK_BYTES];
    int rc;

    if (out_len > SH_HKDF_SHA256_MAX_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "HKDF-SHA256 output of %zu bytes exceeds %d", out_len,
                          SH_HKDF_SHA256_MAX_BYTES);
    sh_hkdf_sha256_extract(prk, salt, salt_len, ikm, ikm_len);
    rc = sh_hkdf_sha256_expand(out, out_len, prk, info, info_len);
    sodium_memzero(prk, sizeof prk);
    return rc;
}
