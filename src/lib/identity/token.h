/* Subaccount tokens and their revocation (overview.md "Devices and keys of an account",
 * docs/identity.md "Subaccount tokens"): the primary device (the account key) grants a linked
 * device's Ed25519 key rights in namespaces of the account's swarm until an expiry, and revokes
 * tokens by listing their ids in a signed revocation list kept in namespace 12. Service nodes
 * check a request's token with sh_token_allows; e2e issues and revokes them.
 *
 * Both objects are shoal.Signed wrappers (proto/signed.proto) around the canonical encoding of a
 * labelled message of proto/identity.proto, signed by the account's Ed25519 key. */
#ifndef SH_IDENTITY_TOKEN_H
#define SH_IDENTITY_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>
#include <shoal/identity.h>

#include "util/buf.h"

#define SH_TOKEN_ID_BYTES 16
#define SH_TOKEN_MAX_GRANTS 16         /* namespace grants in one token */
#define SH_TOKEN_MAX_REVOKED 1024      /* token ids on one revocation list */
#define SH_TOKEN_MAX_BYTES 1024        /* a signed token: 16 grants fit with room to spare */
#define SH_REVOCATIONS_MAX_BYTES 32768 /* a signed list of SH_TOKEN_MAX_REVOKED ids */

/* Storage rights a token grants in a namespace. */
#define SH_TOKEN_RIGHT_READ 1u
#define SH_TOKEN_RIGHT_WRITE 2u
#define SH_TOKEN_RIGHT_DELETE 4u

typedef struct sh_token_grant {
    int32_t ns;
    uint32_t rights; /* SH_TOKEN_RIGHT_* bits */
} sh_token_grant;

typedef struct sh_token {
    uint8_t account[SH_ED25519_PK_BYTES];    /* the issuing account's Ed25519 key */
    uint8_t device_ed25519_pk[SH_ED25519_PK_BYTES]; /* the key that signs with this token */
    uint32_t device_id;
    uint8_t token_id[SH_TOKEN_ID_BYTES];
    size_t n_grants;
    sh_token_grant grants[SH_TOKEN_MAX_GRANTS];
    int64_t issued_ms;
    int64_t expires_ms;
} sh_token;

typedef struct sh_revocations {
    uint8_t account[SH_ED25519_PK_BYTES];
    uint64_t counter; /* increases with every new list */
    int64_t timestamp_ms;
    size_t n;
    uint8_t ids[SH_TOKEN_MAX_REVOKED][SH_TOKEN_ID_BYTES];
} sh_revocations;

/* Appends the signed token (tok->account must be the account's key). */
int sh_token_sign(const sh_token *tok, const sh_account *account, sh_buf *out)
    SH_IDENTITY_WUR;
/* Parses a signed token and checks its signature by the account it names and its expiry against
 * now_ms (SH_ERR_STALE; pass INT64_MIN to skip). SH_ERR_FORMAT / SH_ERR_LIMIT for a malformed
 * token, SH_ERR_CRYPTO for a bad signature. */
int sh_token_parse(sh_token *tok, const uint8_t *in, size_t len, int64_t now_ms)
    SH_IDENTITY_WUR;
/* Whether the token grants every bit of `rights` in namespace ns. */
bool sh_token_grants(const sh_token *tok, int32_t ns, uint32_t rights);

/* Appends the signed revocation list (rl->account must be the account's key). */
int sh_revocations_sign(const sh_revocations *rl, const sh_account *account, sh_buf *out)
    SH_IDENTITY_WUR;
/* Parses a signed revocation list and checks its signature by the account it names. */
int sh_revocations_parse(sh_revocations *rl, const uint8_t *in, size_t len) SH_IDENTITY_WUR;
bool sh_revocations_has(const sh_revocations *rl, const uint8_t token_id[static SH_TOKEN_ID_BYTES]);

/* A node's question: may the holder of this token do `rights` in namespace ns of the account
 * with this Ed25519 key, now? Checks the token (signature, expiry: SH_ERR_STALE), that the
 * account issued it, the account's revocation list when one is given (SH_ERR_PERMISSION when the
 * token is on it, or the list is another account's), then the rights (SH_ERR_PERMISSION). On
 * success fills *out (may be NULL) with the token. */
int sh_token_allows(const uint8_t *token, size_t token_len,
                    const uint8_t account[static SH_ED25519_PK_BYTES], const uint8_t *revocations,
                    size_t rev_len, int32_t ns, uint32_t rights, int64_t now_ms, sh_token *out)
    SH_IDENTITY_WUR;

/* The second half of sh_token_allows for a token already parsed: the revocation list (may be
 * NULL) and the rights. */
int sh_token_check(const sh_token *tok, const uint8_t *revocations, size_t rev_len, int32_t ns,
                   uint32_t rights) SH_IDENTITY_WUR;

/* Appends shoal.Signed{canonical body, the account's signature}: every account-signed labelled
 * object (tokens, revocation lists, device lists, grants) is made here. */
int sh_account_sign_pack(const ProtobufCMessage *body, const sh_account *account, sh_buf *out)
    SH_IDENTITY_WUR;

#endif
