/* The identity module's internal view of an account, shared by its key and blinding code. */
#ifndef SH_IDENTITY_ACCOUNT_H
#define SH_IDENTITY_ACCOUNT_H

#include <stdbool.h>
#include <stdint.h>

#include <shoal/identity.h>

struct sh_account {
    uint8_t ed25519_seed[SH_ED25519_SEED_BYTES];
    uint8_t ed25519_sk[64]; /* libsodium's form: seed ‖ public key */
    uint8_t ed25519_pk[SH_ED25519_PK_BYTES];
    uint8_t x25519_sk[32];
    uint8_t x25519_pk[SH_X25519_PK_BYTES];
    bool has_phrase; /* the seed's last 16 bytes are zero */
};

#endif
