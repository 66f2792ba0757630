/* Protocol V2 (docs/protocol-v2.md): end-to-end encryption between the devices of accounts, as a
 * pure library driven by its caller. A `sh_e2e_device` is one device of an account: its keys,
 * its account's device list, its prekeys and their replay sets, what it has learned of other
 * accounts (device lists, prekey bundles) and its sessions, one per device pair. The caller moves
 * bytes (publishes lists and bundles, stores and fetches envelopes) and passes the time in every
 * call; nothing here sleeps, reads a clock or touches the network.
 *
 * Every function returns SH_OK or a negative sh_err with a message in sh_err_msg(). Errors of
 * sh_e2e_receive, which the security tests check:
 *   SH_ERR_FORMAT   an envelope, certificate or message that does not parse
 *   SH_ERR_CRYPTO   envelope not sealed to us, forged certificate, tampered header or body
 *   SH_ERR_PERMISSION  certificate for another account, or a device not (any more) in the
 *                   sender's device list, or this device was revoked
 *   SH_ERR_PROTOCOL the certificate's identity does not match the session's
 *   SH_ERR_REPLAY   a message (or a first message's handshake) already received
 *   SH_ERR_LIMIT    a message further ahead than SH_E2E_MAX_SKIP in its chain
 *   SH_ERR_STALE    expired certificate, erased prekey or post-quantum epoch
 *   SH_ERR_NOT_FOUND  no session, bundle or device list to process it: fetch and retry */
#ifndef SH_E2E_E2E_H
#define SH_E2E_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define SH_E2E_WUR __attribute__((warn_unused_result))

#define SH_E2E_ACCOUNT_BYTES 32           /* accounts are named by their Ed25519 public key */
#define SH_E2E_MAX_DEVICES 8              /* devices per account; envelopes carry this many slots */
#define SH_E2E_MAX_REVOKED 256            /* revoked devices a device list remembers */
#define SH_E2E_MAX_SKIP 1000              /* skipped-message keys kept per session */
#define SH_E2E_SKIP_MAX_AGE_MS (14 * 24 * 3600 * 1000LL) /* = the inbox TTL */
#define SH_E2E_PREKEY_ROTATE_MS (24 * 3600 * 1000LL)      /* a new signed prekey every day */
#define SH_E2E_PREKEY_KEEP_MS (16 * 24 * 3600 * 1000LL)   /* old ones kept 16 days, then erased */
#define SH_E2E_BUNDLE_LIFETIME_MS SH_E2E_PREKEY_KEEP_MS     /* a bundle is usable as long as its keys are kept */
#define SH_E2E_CERT_LIFETIME_MS (24 * 3600 * 1000LL)
#define SH_E2E_TOKEN_LIFETIME_MS (365 * 24 * 3600 * 1000LL)
#define SH_E2E_LINK_TTL_MS (10 * 60 * 1000LL)
#define SH_E2E_REPLAY_MAX 65536           /* handshakes remembered per signed prekey */
#define SH_E2E_ENVELOPE_MAX_BYTES 61440   /* the largest bucket = the storage limit (60 KiB) */
/* The other buckets are 4, 8, 16 and 32 KiB less this, so that the store request carrying an
 * envelope fits the onion bucket of the same power of two (tests/client checks it). */
#define SH_E2E_BUCKET_SLACK_BYTES 256
#define SH_E2E_MAX_PAYLOAD_BYTES 40960
#define SH_E2E_LINK_CODE_BYTES 96         /* room for the text of a link code and its NUL */
#define SH_E2E_LINK_SECRET_BYTES 16       /* the one-time secret a link code carries */
#define SH_E2E_SAS_EMOJI 6
#define SH_E2E_SAS_BYTES 128              /* room for the SAS text: 6 emoji and their names */

typedef struct sh_e2e_device sh_e2e_device;

/* ---- Devices ----------------------------------------------------------------------------- */

/* The primary device of the account with this 16-byte seed (the recovery phrase's): makes its
 * device keys, the first device list (counter 1) and the envelope key of generation 1. */
int sh_e2e_device_new_primary(sh_e2e_device **out, const uint8_t seed[static 16], int64_t now_ms)
    SH_E2E_WUR;
void sh_e2e_device_free(sh_e2e_device *dev);

const uint8_t *sh_e2e_device_account(const sh_e2e_device *dev);
uint32_t sh_e2e_device_id(const sh_e2e_device *dev);
bool sh_e2e_device_is_primary(const sh_e2e_device *dev);
bool sh_e2e_device_is_revoked(const sh_e2e_device *dev);

/* What the device publishes: the account's signed device list (namespace 11; primary), its prekey
 * bundle (namespace 10; rotated daily, old prekeys erased after 16 days, both on this call), the
 * token revocation list (namespace 12; primary) and its own subaccount token (linked devices). */
int sh_e2e_device_list(const sh_e2e_device *dev, sh_buf *out) SH_E2E_WUR;
int sh_e2e_device_bundle(sh_e2e_device *dev, int64_t now_ms, sh_buf *out) SH_E2E_WUR;
int sh_e2e_device_revocations(const sh_e2e_device *dev, sh_buf *out) SH_E2E_WUR;
int sh_e2e_device_token(const sh_e2e_device *dev, sh_buf *out) SH_E2E_WUR;
/* The device's Ed25519 secret key (libsodium's 64-byte form): a linked device signs its storage
 * requests with it and presents its token (docs/node.md "Signed requests"). */
const uint8_t *sh_e2e_device_signing_key(const sh_e2e_device *dev);

/* Learns a signed device list (of another account, or a newer one of our own) or a prekey
 * bundle. A list whose counter is lower than the highest seen for that account is rejected
 * (SH_ERR_STALE: rollback); equal counters must carry identical lists. Sessions with devices that
 * left the list end. A bundle needs its account's list first (SH_ERR_NOT_FOUND). */
int sh_e2e_device_learn_list(sh_e2e_device *dev, const uint8_t *list, size_t len, int64_t now_ms)
    SH_E2E_WUR;
int sh_e2e_device_learn_bundle(sh_e2e_device *dev, const uint8_t *bundle, size_t len,
                               int64_t now_ms) SH_E2E_WUR;

/* ---- Messages ------------------------------------------------------------------------------ */

/* Encrypts a payload to every device of `recipient` (into to_recipient) and to every other device
 * of our own account (into to_self; left empty when there is none). Both are sealed envelopes of
 * a bucket size. Sessions are started as needed from learned bundles (SH_ERR_NOT_FOUND names the
 * missing list or bundle). */
int sh_e2e_send(sh_e2e_device *dev, const uint8_t recipient[static SH_E2E_ACCOUNT_BYTES],
                const uint8_t *payload, size_t len, int64_t now_ms, sh_buf *to_recipient,
                sh_buf *to_self) SH_E2E_WUR;

typedef struct sh_e2e_received {
    uint8_t sender_account[SH_E2E_ACCOUNT_BYTES];
    uint32_t sender_device;
    uint8_t conversation[SH_E2E_ACCOUNT_BYTES]; /* the other account of the conversation */
    uint32_t pq_epoch;                          /* post-quantum epoch of the message key */
    sh_buf payload;                             /* secret buffer; the caller frees it */
} sh_e2e_received;

/* Opens an envelope from our swarm. On success fills `out` (payload in a secret buffer that the
 * caller frees with sh_buf_free). Errors: see the top of this file. When the sender's device list
 * is missing or older than its certificate (SH_ERR_NOT_FOUND), out->sender_account names the
 * account whose list to fetch before trying again (it is zero for other errors). */
int sh_e2e_receive(sh_e2e_device *dev, const uint8_t *envelope, size_t len, int64_t now_ms,
                   sh_e2e_received *out) SH_E2E_WUR;

/* ---- Persistence ---------------------------------------------------------------------------- */

/* The whole device state, versioned (protobuf DeviceState). It holds every secret in clear: the
 * caller encrypts it before it touches a disk. */
int sh_e2e_device_save(const sh_e2e_device *dev, sh_buf *out) SH_E2E_WUR;
int sh_e2e_device_load(sh_e2e_device **out, const uint8_t *state, size_t len) SH_E2E_WUR;

/* ---- Linking and revoking devices ---------------------------------------------------------- */

/* Primary: starts linking a new device; writes a printable, QR-friendly link code (upper-case
 * base32, QR alphanumeric mode) that carries the account and a one-time secret. */
int sh_e2e_link_begin(sh_e2e_device *primary, int64_t now_ms,
                      char code[static SH_E2E_LINK_CODE_BYTES]) SH_E2E_WUR;
/* New device: from a link code, makes its keys and the request to send to the primary, and the
 * short authentication string its screen shows. */
int sh_e2e_device_new_linked(sh_e2e_device **out, const char *code, int64_t now_ms,
                             sh_buf *request, char sas[static SH_E2E_SAS_BYTES]) SH_E2E_WUR;
/* Primary: reads the request and gives the string to compare with the new device's screen. */
int sh_e2e_link_read_request(sh_e2e_device *primary, const uint8_t *request, size_t len,
                             int64_t now_ms, char sas[static SH_E2E_SAS_BYTES]) SH_E2E_WUR;
/* Primary, once the person confirmed that both screens match: adds the device to the list,
 * issues its token and writes the response for the new device. The link code is spent. */
int sh_e2e_link_confirm(sh_e2e_device *primary, int64_t now_ms, sh_buf *response) SH_E2E_WUR;
/* New device: installs the response (device list, token, envelope key). */
int sh_e2e_link_finish(sh_e2e_device *linked, const uint8_t *response, size_t len,
                       int64_t now_ms) SH_E2E_WUR;
/* Reads a link code (case-insensitive) into the account it links to and its one-time secret
 * (SH_ERR_FORMAT, SH_ERR_CHECKSUM for a typo); the client derives the rendezvous from them. */
int sh_e2e_link_code_parse(const char *code, uint8_t account[static SH_E2E_ACCOUNT_BYTES],
                           uint8_t secret[static SH_E2E_LINK_SECRET_BYTES]) SH_E2E_WUR;
/* The SAS of raw bytes, as 6 emoji with their names (exposed for tests). */
void sh_e2e_sas_format(const uint8_t bits[static 5], char out[static SH_E2E_SAS_BYTES]);

/* Primary: revokes a device: a new device list without it (counter + 1), its token on the
 * revocation list, and a new envelope key generation. Sessions with it end here. Publish the list
 * and revocations, and give each remaining linked device its grant (sh_e2e_device_grant). */
int sh_e2e_revoke_device(sh_e2e_device *primary, uint32_t device_id, int64_t now_ms) SH_E2E_WUR;
/* Primary: the current envelope key sealed to one linked device (account-signed). */
int sh_e2e_device_grant(const sh_e2e_device *primary, uint32_t device_id, sh_buf *out) SH_E2E_WUR;
/* Linked device: installs a grant addressed to it. */
int sh_e2e_device_learn_grant(sh_e2e_device *dev, const uint8_t *grant, size_t len) SH_E2E_WUR;

#endif
