/* HKDF-SHA256 (RFC 5869) over libsodium's HMAC-SHA256. libsodium 1.0.18 (Debian 12) has HMAC but
 * not HKDF, so the two-step construction is written here; it is tested with Wycheproof's vectors. */
#ifndef SH_CRYPTO_HKDF_H
#define SH_CRYPTO_HKDF_H

#include <stddef.h>
#include <stdint.h>

#define SH_HKDF_SHA256_PRK_BYTES 32
#define SH_HKDF_SHA256_MAX_BYTES (255 * 32)

void sh_hkdf_sha256_extract(uint8_t prk[static SH_HKDF_SHA256_PRK_BYTES], const uint8_t *salt,
                            size_t salt_len, const uint8_t *ikm, size_t ikm_len);
/* SH_ERR_LIMIT if out_len > SH_HKDF_SHA256_MAX_BYTES. */
int sh_hkdf_sha256_expand(uint8_t *out, size_t out_len,
                          const uint8_t prk[static SH_HKDF_SHA256_PRK_BYTES], const uint8_t *info,
                          size_t info_len);
/* Extract then expand. */
int sh_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *salt, size_t salt_len,
                   const uint8_t *ikm, size_t ikm_len, const uint8_t *info, size_t info_len);

#endif
