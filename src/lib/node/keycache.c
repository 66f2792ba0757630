/* A cache of Ed25519 -> X25519 public key conversions (internal.h "keycache.c"). */
#include <sodium.h>
#include <string.h>

#include "node/internal.h"

void sh__node_keycache_init(sh__node_keycache *c)
{
    memset(c, 0, sizeof *c);
    randombytes_buf(c->sip_key, sizeof c->sip_key);
}

bool sh__node_ed_to_x(sh__node_keycache *c, const uint8_t ed[static 32], uint8_t x[static 32])
{
    uint8_t h[crypto_shorthash_BYTES];
    size_t i;

    if (c == NULL)
        return crypto_sign_ed25519_pk_to_curve25519(x, ed) == 0;
    crypto_shorthash(h, ed, 32, c->sip_key);
    i = sh_load_u64le(h) % SH__NODE_KEYCACHE_SLOTS;
    if (c->slots[i].used && memcmp(c->slots[i].ed, ed, 32) == 0) {
        memcpy(x, c->slots[i].x, 32);
        return true;
    }
    if (crypto_sign_ed25519_pk_to_curve25519(x, ed) != 0)
        return false;
    c->slots[i].used = true;
    memcpy(c->slots[i].ed, ed, 32);
    memcpy(c->slots[i].x, x, 32);
    return true;
}
