/* The crypto module's common part: library start-up, memory for long-lived secrets and
 * constant-time comparison. All classical primitives come from libsodium; modules call libsodium
 * directly for them and take their domain-separation labels from crypto/labels.h. */
#ifndef SH_CRYPTO_CRYPTO_H
#define SH_CRYPTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Initialises libsodium once; safe to call many times and from many threads. */
int sh_crypto_init(void) __attribute__((warn_unused_result));

/* Guarded, locked memory for long-lived keys (sodium_malloc); NULL when out of memory.
 * sh_secret_free wipes and releases it; NULL is accepted. */
void *sh_secret_alloc(size_t len);
void sh_secret_free(void *p);

/* Constant-time equality of two secrets of the same length. */
bool sh_ct_equal(const void *a, const void *b, size_t len) __attribute__((warn_unused_result));

#endif
