/* The Noise Protocol Framework (revision 34) with 25519, ChaChaPoly and SHA256, for the patterns
 * Shoal uses (XK on every link) and the two its test vectors also cover (NN, IK). Internal to the
 * net module; link.c drives it. A handshake state lives in sh_secret_alloc() memory (it holds
 * private keys) and is wiped by sh_noise_hs_wipe(). */
#ifndef SH_NET_NOISE_H
#define SH_NET_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SH_NOISE_DH_BYTES 32   /* X25519 keys and shared secrets (DHLEN) */
#define SH_NOISE_KEY_BYTES 32  /* cipher keys */
#define SH_NOISE_HASH_BYTES 32 /* SHA-256 (HASHLEN) */
#define SH_NOISE_TAG_BYTES 16  /* Poly1305 */
/* Section 3: every Noise message, handshake or transport, is at most 65535 bytes. */
#define SH_NOISE_MAX_MESSAGE_BYTES 65535u
#define SH_NOISE_MAX_PLAINTEXT_BYTES (SH_NOISE_MAX_MESSAGE_BYTES - SH_NOISE_TAG_BYTES)

_Static_assert(SH_NOISE_MAX_PLAINTEXT_BYTES == 65519u, "65535-byte Noise message, 16-byte tag");

typedef enum sh_noise_pattern {
    SH_NOISE_NN = 0,
    SH_NOISE_XK = 1,
    SH_NOISE_IK = 2,
} sh_noise_pattern;

/* CipherState (section 5.1). n is the next nonce; it never wraps (2^64-1 is reserved). */
typedef struct sh_noise_cipher {
    uint8_t k[SH_NOISE_KEY_BYTES];
    uint64_t n;
    bool has_key;
} sh_noise_cipher;

/* HandshakeState (section 5.3) with its SymmetricState (section 5.2) inline. */
typedef struct sh_noise_hs {
    sh_noise_cipher cs;
    uint8_t ck[SH_NOISE_HASH_BYTES];
    uint8_t h[SH_NOISE_HASH_BYTES];
    uint8_t s_sk[SH_NOISE_DH_BYTES], s_pk[SH_NOISE_DH_BYTES];
    uint8_t e_sk[SH_NOISE_DH_BYTES], e_pk[SH_NOISE_DH_BYTES];
    uint8_t rs[SH_NOISE_DH_BYTES], re[SH_NOISE_DH_BYTES];
    bool has_s, has_e, has_rs, has_re, fixed_e;
    bool initiator;
    sh_noise_pattern pattern;
    unsigned msg_index;
} sh_noise_hs;

/* Initialize() for `pattern` and role. s_sk: our static private key (required by XK for both
 * roles, by IK for both); rs: the responder's static public key, which the XK and IK initiator
 * must know. SH_ERR_INVALID when a required key is missing. */
int sh_noise_hs_init(sh_noise_hs *hs, sh_noise_pattern pattern, bool initiator,
                     const uint8_t *prologue, size_t prologue_len, const uint8_t *s_sk,
                     const uint8_t *rs) __attribute__((warn_unused_result));
/* Test vectors and fuzzing only: use this ephemeral private key instead of a random one. */
void sh__noise_hs_fix_ephemeral(sh_noise_hs *hs, const uint8_t e_sk[static SH_NOISE_DH_BYTES]);

/* WriteMessage(): appends the next handshake message for `payload` into out (at most out_cap
 * bytes). SH_ERR_INVALID when it is not our turn, SH_ERR_LIMIT when out is too small. */
int sh_noise_write_message(sh_noise_hs *hs, const uint8_t *payload, size_t payload_len,
                           uint8_t *out, size_t out_cap, size_t *out_len)
    __attribute__((warn_unused_result));
/* ReadMessage(): SH_ERR_PROTOCOL for a message of the wrong size, SH_ERR_CRYPTO when it does not
 * authenticate (wrong keys, prologue or tampering). payload_out may be NULL when payload_cap
 * is 0; SH_ERR_LIMIT if the payload does not fit. The state is unusable after an error. */
int sh_noise_read_message(sh_noise_hs *hs, const uint8_t *msg, size_t msg_len,
                          uint8_t *payload_out, size_t payload_cap, size_t *payload_len)
    __attribute__((warn_unused_result));
/* True once every message of the pattern has been written or read. */
bool sh_noise_hs_done(const sh_noise_hs *hs);
/* Bytes of the next handshake message with an empty payload (for size checks). */
size_t sh_noise_next_message_len(const sh_noise_hs *hs);
/* Split(): our sending and receiving cipher states (the initiator sends with the first). */
int sh_noise_split(sh_noise_hs *hs, sh_noise_cipher *tx, sh_noise_cipher *rx)
    __attribute__((warn_unused_result));
void sh_noise_hs_wipe(sh_noise_hs *hs);

/* EncryptWithAd(): ct receives len + SH_NOISE_TAG_BYTES bytes; ct may equal pt. */
int sh_noise_encrypt(sh_noise_cipher *c, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                     size_t len, uint8_t *ct) __attribute__((warn_unused_result));
/* DecryptWithAd(): pt receives ct_len - SH_NOISE_TAG_BYTES bytes; pt may equal ct. The nonce
 * advances only on success, as the spec requires. */
int sh_noise_decrypt(sh_noise_cipher *c, const uint8_t *ad, size_t ad_len, const uint8_t *ct,
                     size_t ct_len, uint8_t *pt) __attribute__((warn_unused_result));
/* Rekey() (section 4.2): k = the first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros). */
void sh_noise_rekey(sh_noise_cipher *c);

#endif
