/* libsodium start-up and secret-memory helpers. */
#include "crypto/crypto.h"

#include <sodium.h>

#include "util/err.h"

int sh_crypto_init(void)
{
    if (sodium_init() < 0)
        return sh_err_set(SH_ERR_INTERNAL, "libsodium failed to initialise (no entropy source?)");
    return SH_OK;
}

void *sh_secret_alloc(size_t len)
{
    return sodium_malloc(len);
}

void sh_secret_free(void *p)
{
    if (p != NULL)
        sodium_free(p);
}

bool sh_ct_equal(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len) == 0;
}
