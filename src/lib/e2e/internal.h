/* The e2e module's internal types and functions, shared by its files and its tests. The formats
 * and key schedules are specified in docs/protocol-v2.md; section names there are cited in each
 * file's header. */
#ifndef SH_E2E_INTERNAL_H
#define SH_E2E_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <shoal/identity.h>
#include <shoal/kem.h>

#include "e2e.pb-c.h"
#include "e2e/e2e.h"
#include "identity/token.h"
#include "util/buf.h"
#include "wire/pb.h"

#define SH_E2E_KEY_BYTES 32
#define SH_E2E_HASH_BYTES 32
#define SH_E2E_REPLAY_TAG_BYTES 16
#define SH_E2E_MLKEM_SEED_BYTES 64 /* d || z */
#define SH_E2E_NONCE_BYTES 24      /* XChaCha20-Poly1305 */
#define SH_E2E_TAG_BYTES 16

/* ---- kdf.c ---------------------------------------------------------------------------------- */

/* HKDF-SHA256 with a label and optional context as info; out_len <= 255*32. */
int sh__e2e_kdf(uint8_t *out, size_t out_len, const uint8_t *salt, size_t salt_len,
                const uint8_t *ikm, size_t ikm_len, const char *label, const uint8_t *ctx,
                size_t ctx_len);

/* ---- devices.c: device lists, envelope key grants (tokens: identity/token.h) ----------------- */

typedef struct sh_e2e_devinfo {
    uint32_t id;
    uint8_t ed25519_pk[32];
    uint8_t x25519_pk[32];
    uint8_t mlkem_ek[SH_MLKEM768_EK_BYTES];
    int64_t added_ms;
} sh_e2e_devinfo;

typedef struct sh_e2e_revinfo {
    uint32_t id;
    uint8_t ed25519_pk[32];
    int64_t revoked_ms;
} sh_e2e_revinfo;

typedef struct sh_e2e_devlist {
    uint8_t account[32];
    uint64_t counter;
    int64_t timestamp_ms;
    uint32_t primary_id;
    uint32_t next_id;
    uint32_t envelope_generation;
    uint8_t envelope_ek[SH_XWING_EK_BYTES];
    size_t n_devices;
    sh_e2e_devinfo devices[SH_E2E_MAX_DEVICES];
    size_t n_revoked;
    sh_e2e_revinfo revoked[SH_E2E_MAX_REVOKED];
} sh_e2e_devlist;

int sh__e2e_devlist_sign(const sh_e2e_devlist *list, const sh_account *account, sh_buf *out)
    SH_E2E_WUR;
/* Parses and verifies (canonical, labelled, signed by the account it names, sizes, unique ids). */
int sh__e2e_devlist_parse(sh_e2e_devlist *list, const uint8_t *in, size_t len) SH_E2E_WUR;
const sh_e2e_devinfo *sh__e2e_devlist_find(const sh_e2e_devlist *list, uint32_t id);
bool sh__e2e_devlist_is_revoked_key(const sh_e2e_devlist *list, const uint8_t ed25519_pk[32]);

/* Seals an envelope seed to a device's X25519 and ML-KEM-768 keys, signed by the account. */
int sh__e2e_grant_make(const sh_account *account, const sh_e2e_devinfo *dev, uint32_t generation,
                       const uint8_t seed[static 32], sh_buf *out) SH_E2E_WUR;
int sh__e2e_grant_open(const uint8_t *in, size_t len, const uint8_t account[static 32],
                       uint32_t device_id, const uint8_t x25519_sk[static 32],
                       const uint8_t x25519_pk[static 32], const uint8_t mlkem_seed[static 64],
                       uint32_t *generation, uint8_t seed[static 32]) SH_E2E_WUR;

/* ---- bundle.c: signed prekeys ---------------------------------------------------------------- */

typedef struct sh_e2e_bundle {
    uint8_t account[32];
    uint32_t device_id;
    uint8_t device_ed25519_pk[32];
    uint32_t spk_id;
    uint8_t spk[32];
    uint32_t pqspk_id;
    uint8_t pqspk[SH_MLKEM768_EK_BYTES];
    int64_t created_ms;
    int64_t expires_ms;
} sh_e2e_bundle;

int sh__e2e_bundle_sign(const sh_e2e_bundle *b, const uint8_t device_ed_sk[static 64], sh_buf *out)
    SH_E2E_WUR;
/* Parses a bundle and checks its signature by the device key it names. Binding that key to the
 * account (the device list) and freshness are the caller's. */
int sh__e2e_bundle_parse(sh_e2e_bundle *b, const uint8_t *in, size_t len) SH_E2E_WUR;

/* ---- pqkem.c: the one place that calls ML-KEM-768 and X-Wing --------------------------------- */

int sh__e2e_mlkem_keypair(const uint8_t seed[static 64], uint8_t ek[static SH_MLKEM768_EK_BYTES],
                          uint8_t *dk_or_null) SH_E2E_WUR;
int sh__e2e_mlkem_encaps(uint8_t ct[static SH_MLKEM768_CT_BYTES], uint8_t ss[static 32],
                         const uint8_t ek[static SH_MLKEM768_EK_BYTES]) SH_E2E_WUR;
int sh__e2e_mlkem_decaps(uint8_t ss[static 32], const uint8_t ct[static SH_MLKEM768_CT_BYTES],
                         const uint8_t seed[static 64]) SH_E2E_WUR;
int sh__e2e_xwing_public(uint8_t ek[static SH_XWING_EK_BYTES], const uint8_t seed[static 32])
    SH_E2E_WUR;
int sh__e2e_xwing_encaps(uint8_t ct[static SH_XWING_CT_BYTES], uint8_t ss[static 32],
                         const uint8_t ek[static SH_XWING_EK_BYTES]) SH_E2E_WUR;
int sh__e2e_xwing_decaps(uint8_t ss[static 32], const uint8_t ct[static SH_XWING_CT_BYTES],
                         const uint8_t seed[static 32]) SH_E2E_WUR;

/* ---- erasure.c: Reed-Solomon over GF(2^8) for post-quantum chunks ----------------------------- */

#define SH_E2E_CHUNK_BYTES 64
#define SH_E2E_CHUNKS_OF(len) (((len) + SH_E2E_CHUNK_BYTES - 1) / SH_E2E_CHUNK_BYTES)
#define SH_E2E_CHUNKS_MAX SH_E2E_CHUNKS_OF(SH_MLKEM768_EK_BYTES)

/* Chunk `index` (0..255) of data: chunks 0..k-1 are the data itself (zero-padded), the others are
 * evaluations of the interpolating polynomial, so any k distinct chunks give the data back. */
void sh__e2e_rs_chunk(const uint8_t *data, size_t len, uint8_t index,
                      uint8_t out[static SH_E2E_CHUNK_BYTES]);
/* Rebuilds `len` bytes from k = SH_E2E_CHUNKS_OF(len) chunks with distinct indices. */
int sh__e2e_rs_decode(uint8_t *out, size_t len, const uint8_t *indices,
                      const uint8_t (*chunks)[SH_E2E_CHUNK_BYTES]) SH_E2E_WUR;

/* ---- handshake.c: PQXDH-style hybrid handshake ----------------------------------------------- */

typedef struct sh_e2e_party {
    const uint8_t *account;      /* 32 */
    uint32_t device_id;
    const uint8_t *device_ed;    /* 32 */
    const uint8_t *identity_x;   /* 32: the device's X25519 identity key */
} sh_e2e_party;

#define SH_E2E_INIT_VERSION 1
#define SH_E2E_INIT_BYTES (1 + 4 + 4 + 32 + SH_MLKEM768_CT_BYTES + 32)

typedef struct sh_e2e_hs_init {
    uint32_t spk_id;
    uint32_t pqspk_id;
    uint8_t ephemeral[32];
    uint8_t ct[SH_MLKEM768_CT_BYTES];
    uint8_t replaces[32]; /* handshake hash of the session this one replaces, or zeros */
} sh_e2e_hs_init;

/* Output of the handshake KDF: root key, the initiator's header key, the responder's next header
 * key and the post-quantum epoch-0 secret. */
typedef struct sh_e2e_hs_keys {
    uint8_t root[32];
    uint8_t hk_initiator[32];
    uint8_t nhk_responder[32];
    uint8_t epoch0[32];
} sh_e2e_hs_keys;

void sh__e2e_hs_init_encode(const sh_e2e_hs_init *init, uint8_t out[static SH_E2E_INIT_BYTES]);
int sh__e2e_hs_init_decode(sh_e2e_hs_init *init, const uint8_t in[static SH_E2E_INIT_BYTES])
    SH_E2E_WUR;
/* The transcript hash: both parties, both prekeys, the ephemeral key, the ciphertext. */
void sh__e2e_hs_transcript(uint8_t th[static 32], const sh_e2e_party *initiator,
                           const sh_e2e_party *responder, const uint8_t spk[static 32],
                           const uint8_t pqspk[static SH_MLKEM768_EK_BYTES],
                           const sh_e2e_hs_init *init);
int sh__e2e_hs_derive(sh_e2e_hs_keys *keys, const uint8_t th[static 32],
                      const uint8_t dh1[static 32], const uint8_t dh2[static 32],
                      const uint8_t dh3[static 32], const uint8_t ss[static 32]) SH_E2E_WUR;
/* Initiator: encapsulates to the bundle's PQ prekey and makes the DH values. */
int sh__e2e_hs_initiate(const sh_e2e_party *me, const uint8_t my_identity_sk[static 32],
                        const sh_e2e_party *peer, const sh_e2e_bundle *bundle,
                        const uint8_t replaces[static 32], sh_e2e_hs_init *init,
                        sh_e2e_hs_keys *keys, uint8_t th[static 32],
                        uint8_t ephemeral_sk_out[static 32]) SH_E2E_WUR;
/* Responder, with the signed prekeys the init names. */
int sh__e2e_hs_respond(const sh_e2e_party *me, const uint8_t my_identity_sk[static 32],
                       const sh_e2e_party *peer, const uint8_t spk_sk[static 32],
                       const uint8_t spk_pk[static 32], const uint8_t pq_seed[static 64],
                       const uint8_t pqspk[static SH_MLKEM768_EK_BYTES],
                       const sh_e2e_hs_init *init, sh_e2e_hs_keys *keys, uint8_t th[static 32])
    SH_E2E_WUR;

/* ---- session.c, ratchet.c, spqr.c: one session between two devices --------------------------- */

#define SH_E2E_HEADER_VERSION 1
#define SH_E2E_HEADER_BYTES (1 + 1 + 32 + 4 + 4 + 4 + 4 + 1 + SH_E2E_CHUNK_BYTES)
#define SH_E2E_ENC_HEADER_BYTES (SH_E2E_NONCE_BYTES + SH_E2E_HEADER_BYTES + SH_E2E_TAG_BYTES)
#define SH_E2E_MSG_OVERHEAD (SH_E2E_ENC_HEADER_BYTES + SH_E2E_TAG_BYTES)
#define SH_E2E_OLD_HKR 4
#define SH_E2E_PQ_SECRETS_KEPT 6

enum { SH_E2E_CHUNK_NONE = 0, SH_E2E_CHUNK_EK = 1, SH_E2E_CHUNK_CT = 2 };

typedef struct sh_e2e_header {
    uint8_t dh[32];
    uint32_t pn;
    uint32_t n;
    uint32_t epoch;        /* post-quantum epoch of this message's key */
    uint8_t chunk_kind;
    uint32_t chunk_epoch;  /* the epoch the chunk's key or ciphertext is for */
    uint8_t chunk_index;
    uint8_t chunk[SH_E2E_CHUNK_BYTES];
} sh_e2e_header;

void sh__e2e_header_encode(const sh_e2e_header *h, uint8_t out[static SH_E2E_HEADER_BYTES]);
int sh__e2e_header_decode(sh_e2e_header *h, const uint8_t in[static SH_E2E_HEADER_BYTES])
    SH_E2E_WUR;

typedef struct sh_e2e_dr {
    uint8_t dhs_sk[32], dhs_pk[32], dhr_pk[32];
    uint8_t rk[32], cks[32], ckr[32];
    uint8_t hks[32], hkr[32], nhks[32], nhkr[32];
    bool has_dhr, has_cks, has_ckr, has_hks, has_hkr;
    uint32_t ns, nr, pn;
    uint8_t old_hkr[SH_E2E_OLD_HKR][32]; /* retired receiving header keys: to name replays */
    uint8_t n_old_hkr;
} sh_e2e_dr;

typedef struct sh_e2e_skipped {
    uint8_t hk[32];
    uint32_t n;
    uint8_t mk[32];
    int64_t expires_ms;
} sh_e2e_skipped;

enum {
    SH_E2E_PQ_PROPOSE_IDLE = 0,    /* our turn to propose the next epoch; no key pair yet */
    SH_E2E_PQ_PROPOSE_SENDING = 1, /* sending our ek in chunks, collecting the peer's ct */
    SH_E2E_PQ_ENCAPS_WAITING = 2,  /* collecting the peer's ek */
    SH_E2E_PQ_ENCAPS_SENDING = 3,  /* sending our ct in chunks until the peer uses the epoch */
};

typedef struct sh_e2e_epoch_secret {
    uint32_t epoch;
    uint8_t secret[32];
    int64_t erase_after_ms; /* 0 while in use */
} sh_e2e_epoch_secret;

typedef struct sh_e2e_pq {
    uint32_t send_epoch;
    uint8_t phase;
    size_t n_secrets;
    sh_e2e_epoch_secret secrets[SH_E2E_PQ_SECRETS_KEPT];
    uint8_t kem_seed[SH_E2E_MLKEM_SEED_BYTES];
    uint8_t kem_data[SH_MLKEM768_EK_BYTES]; /* our ek (proposing) or ct (encapsulating) */
    uint32_t out_index;
    size_t n_in;
    uint8_t in_index[SH_E2E_CHUNKS_MAX];
    uint8_t in_chunks[SH_E2E_CHUNKS_MAX][SH_E2E_CHUNK_BYTES];
    uint8_t pending[32];
} sh_e2e_pq;

typedef struct sh_e2e_session {
    uint8_t th[32];
    uint8_t replaces[32];
    bool initiator;
    bool acknowledged;
    uint8_t peer_account[32];
    uint32_t peer_device_id;
    uint8_t peer_device_ed[32];
    uint8_t peer_identity_x[32];
    bool has_init;
    uint8_t init[SH_E2E_INIT_BYTES];
    sh_e2e_dr dr;
    sh_e2e_pq pq;
    size_t n_skipped;
    sh_e2e_skipped skipped[SH_E2E_MAX_SKIP];
    int64_t created_ms;
    int64_t archived_ms; /* 0 = the active session of its device pair */
} sh_e2e_session;

/* ratchet.c */
void sh__e2e_kdf_rk(uint8_t rk[static 32], uint8_t ck[static 32], uint8_t nhk[static 32],
                    const uint8_t dh_out[static 32]);
void sh__e2e_kdf_ck(uint8_t ck[static 32], uint8_t mk[static 32]);
/* spqr.c */
void sh__e2e_pq_start(sh_e2e_pq *pq, bool initiator, const uint8_t epoch0[static 32]);
/* The epoch and secret to key our next message with, and the chunk it carries (may make a key
 * pair). */
int sh__e2e_pq_outgoing(sh_e2e_pq *pq, bool initiator, sh_e2e_header *h,
                        const uint8_t **secret) SH_E2E_WUR;
/* The secret of a received message's epoch (SH_ERR_STALE when erased, SH_ERR_PROTOCOL when the
 * peer cannot know it yet). */
int sh__e2e_pq_secret_for(const sh_e2e_pq *pq, uint32_t epoch, const uint8_t **secret) SH_E2E_WUR;
/* After a message authenticated: advance the epoch, take its chunk. */
void sh__e2e_pq_incoming(sh_e2e_pq *pq, bool initiator, const sh_e2e_header *h, int64_t now_ms);
/* ES_t = HKDF(salt = ES_{t-1}, ikm = ss, info = label || t || SHA-256(ek) || SHA-256(ct)). */
void sh__e2e_epoch_kdf(uint8_t out[static 32], const uint8_t prev[static 32],
                       const uint8_t ss[static 32], uint32_t epoch, const uint8_t *ek,
                       const uint8_t *ct);
void sh__e2e_message_key(uint8_t out[static 32], const uint8_t mk_dr[static 32],
                         const uint8_t epoch_secret[static 32], uint32_t epoch);

/* session.c */
int sh__e2e_session_new_initiator(sh_e2e_session **out, const sh_e2e_party *me,
                                  const uint8_t my_identity_sk[static 32],
                                  const sh_e2e_party *peer, const sh_e2e_bundle *bundle,
                                  const uint8_t replaces[static 32], int64_t now_ms) SH_E2E_WUR;
int sh__e2e_session_new_responder(sh_e2e_session **out, const sh_e2e_party *peer,
                                  const sh_e2e_hs_keys *keys, const uint8_t th[static 32],
                                  const sh_e2e_hs_init *init, const uint8_t spk_sk[static 32],
                                  const uint8_t spk_pk[static 32], int64_t now_ms) SH_E2E_WUR;
void sh__e2e_session_free(sh_e2e_session *s);
/* Writes SH_E2E_MSG_OVERHEAD + len bytes: encrypted header, then body. */
int sh__e2e_session_encrypt(sh_e2e_session *s, const uint8_t *pt, size_t len, const uint8_t *ad,
                            size_t ad_len, uint8_t *out) SH_E2E_WUR;
/* Decrypts; the session changes only when the message authenticates. pt gets len - overhead. */
int sh__e2e_session_decrypt(sh_e2e_session *s, const uint8_t *msg, size_t len, const uint8_t *ad,
                            size_t ad_len, int64_t now_ms, uint8_t *pt, uint32_t *epoch)
    SH_E2E_WUR;
/* Drops skipped keys and epoch secrets past their time. */
void sh__e2e_session_expire(sh_e2e_session *s, int64_t now_ms);
int sh__e2e_session_save(const sh_e2e_session *s, sh_buf *out) SH_E2E_WUR;
int sh__e2e_session_load(sh_e2e_session **out, const uint8_t *in, size_t len) SH_E2E_WUR;
int sh__e2e_session_from_pb(sh_e2e_session **out, const Shoal__E2e__Session *pb) SH_E2E_WUR;
/* Test hook: gives `to` the Double Ratchet state and skipped keys of `from`: what an adversary who
 * breaks X25519 (a quantum one) computes from an old state and the transcript. The post-quantum
 * state is not copied. */
void sh__e2e_session_leak_classical(sh_e2e_session *to, const sh_e2e_session *from);

/* ---- envelope.c: sender certificates and sealed envelopes -------------------------------------- */

#define SH_E2E_ENVELOPE_VERSION 2
#define SH_E2E_INNER_VERSION 1
#define SH_E2E_SLOT_BODY_BYTES 32 /* the content key */
#define SH_E2E_SLOT_BYTES (4 + SH_E2E_MSG_OVERHEAD + SH_E2E_SLOT_BODY_BYTES)
#define SH_E2E_CERT_MAX_BYTES 320
#define SH_E2E_INIT_ENTRY_BYTES (4 + SH_E2E_INIT_BYTES)
#define SH_E2E_OUTER_OVERHEAD (1 + SH_XWING_CT_BYTES + SH_E2E_TAG_BYTES)
#define SH_E2E_N_BUCKETS 5
extern const size_t sh__e2e_buckets[SH_E2E_N_BUCKETS];

typedef struct sh_e2e_cert {
    uint8_t sender_account[32];
    uint32_t sender_device_id;
    uint8_t sender_device_ed[32];
    uint8_t recipient_account[32];
    uint64_t devlist_counter;
    int64_t expires_ms;
} sh_e2e_cert;

int sh__e2e_cert_sign(const sh_e2e_cert *c, const uint8_t device_ed_sk[static 64], sh_buf *out)
    SH_E2E_WUR;
/* Parses a certificate and checks its signature by the device key it names. */
int sh__e2e_cert_parse(sh_e2e_cert *c, const uint8_t *in, size_t len) SH_E2E_WUR;

typedef struct sh_e2e_inner {
    const uint8_t *cert;
    size_t cert_len;
    const uint8_t *conversation;           /* 32 */
    size_t n_inits;
    const uint8_t *inits;                  /* n_inits entries of SH_E2E_INIT_ENTRY_BYTES */
    const uint8_t *slots;                  /* SH_E2E_MAX_DEVICES * SH_E2E_SLOT_BYTES */
    const uint8_t *payload;                /* payload_len bytes of ciphertext */
    size_t payload_len;
} sh_e2e_inner;

/* Inner layout: parse (views into `in`) and the bytes before the slots for building. */
int sh__e2e_inner_parse(sh_e2e_inner *v, const uint8_t *in, size_t len) SH_E2E_WUR;
size_t sh__e2e_inner_size(size_t cert_len, size_t n_inits, size_t payload_len);
/* The bucket an inner part of this size is padded into; 0 when none fits. */
size_t sh__e2e_bucket_for(size_t inner_len);
int sh__e2e_seal(const uint8_t envelope_ek[static SH_XWING_EK_BYTES], sh_buf *inner,
                 sh_buf *out) SH_E2E_WUR;
int sh__e2e_unseal(const uint8_t seed[static 32], const uint8_t *env, size_t len, sh_buf *inner)
    SH_E2E_WUR;
/* The associated data a slot's ratchet message is bound to. */
void sh__e2e_slot_ad(uint8_t out[static 32], const uint8_t *cert, size_t cert_len,
                     const uint8_t conversation[static 32], const uint8_t *payload,
                     size_t payload_len, uint32_t device_id);

/* ---- device.c: the device object -------------------------------------------------------------- */

typedef struct sh_e2e_prekey {
    uint32_t id;                      /* both the X25519 and the ML-KEM prekey carry this id */
    uint8_t spk_sk[32], spk_pk[32];
    uint8_t pq_seed[SH_E2E_MLKEM_SEED_BYTES];
    uint8_t pq_ek[SH_MLKEM768_EK_BYTES];
    int64_t created_ms;
    int64_t erase_after_ms;           /* 0 while it is the current prekey */
    uint8_t (*seen)[SH_E2E_REPLAY_TAG_BYTES]; /* the replay set: handshake-hash prefixes */
    size_t n_seen, cap_seen;
    sh_buf bundle;
} sh_e2e_prekey;

typedef struct sh_e2e_account_view {
    uint8_t account[32];
    sh_e2e_devlist *list;
    sh_buf list_bytes;
    uint64_t highest_counter;
    size_t n_bundles;
    sh_e2e_bundle *bundles[SH_E2E_MAX_DEVICES];
    sh_buf bundle_bytes[SH_E2E_MAX_DEVICES];
} sh_e2e_account_view;

typedef struct sh_e2e_link_state {
    bool active;
    bool requested;
    uint8_t secret[SH_E2E_LINK_SECRET_BYTES];
    int64_t expires_ms;
    uint8_t request_hash[32];
    sh_e2e_devinfo new_device;
} sh_e2e_link_state;

typedef struct sh_e2e_cert_cache {
    uint8_t recipient[32];
    int64_t expires_ms;
    uint64_t counter;
    sh_buf bytes;
} sh_e2e_cert_cache;

#define SH_E2E_CERT_CACHE 8
#define SH_E2E_ARCHIVED_PER_DEVICE 4

struct sh_e2e_device {
    sh_account *account;              /* primary only */
    uint8_t account_seed[16];
    uint8_t account_pk[32];
    uint32_t device_id;
    uint8_t ed_sk[64], ed_pk[32];
    uint8_t x_sk[32], x_pk[32];
    uint8_t mlkem_seed[SH_E2E_MLKEM_SEED_BYTES];
    uint8_t mlkem_ek[SH_MLKEM768_EK_BYTES];
    uint32_t env_gen, prev_env_gen;
    uint8_t env_seed[32], prev_env_seed[32];
    bool revoked;
    sh_buf token;
    sh_buf revocations;               /* primary: the signed revocation list */
    uint64_t revocations_counter;
    size_t n_issued;
    sh_buf *issued;                   /* primary: tokens it issued */
    size_t n_prekeys;
    sh_e2e_prekey **prekeys;
    uint32_t next_prekey_id;
    size_t n_accounts;
    sh_e2e_account_view **accounts;   /* accounts[0] is our own */
    size_t n_sessions;
    sh_e2e_session **sessions;
    sh_e2e_link_state link;
    sh_e2e_cert_cache certs[SH_E2E_CERT_CACHE];
    sh_e2e_devlist scratch_list;      /* for parsing */
};

/* Device keys from a 32-byte device seed. */
int sh__e2e_device_keys(sh_e2e_device *d, const uint8_t device_seed[static 32]) SH_E2E_WUR;
sh_e2e_device *sh__e2e_device_alloc(void);
sh_e2e_account_view *sh__e2e_account_find(const sh_e2e_device *d, const uint8_t account[32]);
int sh__e2e_account_add(sh_e2e_device *d, const uint8_t account[32], sh_e2e_account_view **out)
    SH_E2E_WUR;
/* Installs a parsed, verified list (rollback and same-counter checks done by the caller). */
int sh__e2e_install_list(sh_e2e_device *d, sh_e2e_account_view *v, const uint8_t *bytes,
                         size_t len, int64_t now_ms) SH_E2E_WUR;
/* Erases prekeys (and their replay sets) whose 16 days are over. */
void sh__e2e_erase_old_prekeys(sh_e2e_device *d, int64_t now_ms);
int sh__e2e_add_session(sh_e2e_device *d, sh_e2e_session *s) SH_E2E_WUR;
void sh__e2e_end_sessions(sh_e2e_device *d, const uint8_t account[32], uint32_t device_id);
int sh__e2e_envelope_seed(uint8_t out[static 32], const uint8_t account_seed[static 16],
                          uint32_t generation) SH_E2E_WUR;
int sh__e2e_issue_token(sh_e2e_device *primary, const sh_e2e_devinfo *dev, int64_t now_ms,
                        sh_buf *out) SH_E2E_WUR;
/* Re-signs our own device list after a change made by the primary. */
int sh__e2e_publish_own_list(sh_e2e_device *primary, sh_e2e_devlist *list, int64_t now_ms)
    SH_E2E_WUR;
/* Test hook: the active session with a device (NULL when none). */
sh_e2e_session *sh__e2e_active_session(const sh_e2e_device *d, const uint8_t account[32],
                                       uint32_t device_id);
/* Ends every session with a device of an account (e.g. once a person accepted its new key). */
void sh_e2e_forget_device(sh_e2e_device *dev, const uint8_t account[static 32], uint32_t device_id);

/* ---- link.c ----------------------------------------------------------------------------------- */

int sh__e2e_link_code_encode(char out[static SH_E2E_LINK_CODE_BYTES], const uint8_t account[32],
                             const uint8_t secret[SH_E2E_LINK_SECRET_BYTES]) SH_E2E_WUR;
/* The new device's side of linking, with the keys it already holds (used by
 * sh_e2e_device_new_linked; tests use it to try linking a revoked key again). */
int sh__e2e_link_request(sh_e2e_device *d, int64_t now_ms, sh_buf *request,
                         char sas[static SH_E2E_SAS_BYTES]) SH_E2E_WUR;
int sh__e2e_link_code_decode(uint8_t account[static 32], uint8_t secret[static 16],
                             const char *code) SH_E2E_WUR;

#endif
