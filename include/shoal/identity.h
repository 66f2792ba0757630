/* Shoal identity: an account's seed and recovery phrase, its keys and Session ID, its blinded
 * community IDs, its place on the swarm ring, and the seed file that keeps it on disk.
 * Formats follow Session's (../shared/vectors/session/README.md), so that a Session recovery
 * phrase restores the same Session ID. Every function returning int returns SH_OK or a negative
 * sh_err code with a message in sh_err_msg() (shoal/err.h). Call sh_identity_init() first. */
#ifndef SHOAL_IDENTITY_H
#define SHOAL_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shoal/err.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SH_IDENTITY_WUR __attribute__((warn_unused_result))

#define SH_SEED_BYTES 16             /* the account seed a recovery phrase encodes */
#define SH_ED25519_SEED_BYTES 32     /* the seed followed by 16 zero bytes */
#define SH_ED25519_PK_BYTES 32
#define SH_X25519_PK_BYTES 32
#define SH_SIGNATURE_BYTES 64
#define SH_SESSION_ID_BYTES 33       /* 0x05 + X25519 public key */
#define SH_SESSION_ID_HEX_BYTES 67   /* 66 hex digits + NUL */
#define SH_BLINDED_ID_BYTES 33       /* 0x15 or 0x25 + blinded Ed25519 public key */
#define SH_BLINDED_ID_HEX_BYTES 67
#define SH_SERVER_PK_BYTES 32

#define SH_SESSION_ID_PREFIX 0x05
#define SH_BLIND15_PREFIX 0x15
#define SH_BLIND25_PREFIX 0x25

/* Initialises libsodium; safe to call more than once. */
int sh_identity_init(void) SH_IDENTITY_WUR;

/* Fills a new account seed from the system's random source. */
void sh_seed_generate(uint8_t seed[static SH_SEED_BYTES]);

/* ---- Recovery phrase ------------------------------------------------------------------------ */

#define SH_PHRASE_WORDS 13           /* 12 words for the 16-byte seed + 1 checksum word */
#define SH_PHRASE_WORD_MAX_CHARS 12  /* the longest word of the list */
/* Room for the text of n words separated by single spaces, with its NUL. */
#define SH_PHRASE_TEXT_BYTES(n) ((size_t)(n) * (SH_PHRASE_WORD_MAX_CHARS + 1))
#define SH_PHRASE_MAX_BYTES SH_PHRASE_TEXT_BYTES(SH_PHRASE_WORDS)

/* Writes the 13-word recovery phrase of a seed (lower case, single spaces) into out. */
int sh_phrase_encode(char *out, size_t out_size, const uint8_t seed[static SH_SEED_BYTES]);
/* Reads a 13-word recovery phrase back into its seed. Any case and white space are accepted, and
 * each word counts by its first 3 letters. Errors name the word and its position:
 * SH_ERR_INVALID (wrong word count), SH_ERR_FORMAT (a word not in the list),
 * SH_ERR_RANGE (three words that do not encode a 32-bit value), SH_ERR_CHECKSUM. */
int sh_phrase_decode(uint8_t seed[static SH_SEED_BYTES], const char *phrase) SH_IDENTITY_WUR;

/* The general form: `len` bytes (a non-zero multiple of 4) as 3 words per 4 bytes, followed by a
 * checksum word when `checksum` is true. out_size must be at least SH_PHRASE_TEXT_BYTES(number of
 * words), else SH_ERR_LIMIT. */
int sh_phrase_encode_bytes(char *out, size_t out_size, const uint8_t *bytes, size_t len,
                           bool checksum);
/* Decodes 3k words (no checksum) or 3k+1 words (the last one a checksum) into out, which must
 * hold at least 4k bytes; sets *out_len to 4k. Errors as sh_phrase_decode, plus SH_ERR_LIMIT when
 * out is too small. */
int sh_phrase_decode_bytes(uint8_t *out, size_t out_size, size_t *out_len, const char *phrase)
    SH_IDENTITY_WUR;

/* ---- Account keys and Session IDs ----------------------------------------------------------- */

/* An account's key pairs (Ed25519 and the X25519 pair converted from it), kept in guarded memory
 * that is wiped when freed. */
typedef struct sh_account sh_account;

/* Derives the account of a 16-byte seed (Ed25519 seed = seed + 16 zero bytes). */
int sh_account_from_seed(sh_account **out, const uint8_t seed[static SH_SEED_BYTES]) SH_IDENTITY_WUR;
/* Derives an account from a full 32-byte Ed25519 seed; it has no recovery phrase unless the last
 * 16 bytes are zero. */
int sh_account_from_ed25519_seed(sh_account **out, const uint8_t seed[static SH_ED25519_SEED_BYTES])
    SH_IDENTITY_WUR;
void sh_account_free(sh_account *account);

const uint8_t *sh_account_ed25519_pk(const sh_account *account);
const uint8_t *sh_account_x25519_pk(const sh_account *account);
/* The binary Session ID (0x05 + X25519 public key) and its 66-digit hex form. */
void sh_account_session_id(const sh_account *account, uint8_t out[static SH_SESSION_ID_BYTES]);
void sh_account_session_id_hex(const sh_account *account, char out[static SH_SESSION_ID_HEX_BYTES]);
/* The account's recovery phrase; SH_ERR_UNSUPPORTED for an account made from a 32-byte seed that
 * no phrase encodes. */
int sh_account_phrase(const sh_account *account, char *out, size_t out_size);
/* The X25519 secret key, for key agreement (32 bytes, owned by the account). */
const uint8_t *sh_account_x25519_sk(const sh_account *account);
/* A plain Ed25519 signature by the account key. */
int sh_account_sign(const sh_account *account, uint8_t sig[static SH_SIGNATURE_BYTES],
                    const uint8_t *msg, size_t len);

/* Formats "05" + hex of an X25519 public key. */
void sh_session_id_format(char out[static SH_SESSION_ID_HEX_BYTES],
                          const uint8_t x25519_pk[static SH_X25519_PK_BYTES]);
/* Parses a 66-digit Session ID (either case). SH_ERR_FORMAT for a wrong length or a character that
 * is not a hex digit; SH_ERR_UNSUPPORTED for a prefix other than 05 (e.g. a blinded 15/25 id). */
int sh_session_id_parse(uint8_t x25519_pk[static SH_X25519_PK_BYTES], const char *text)
    SH_IDENTITY_WUR;

/* ---- Blinded IDs (communities) -------------------------------------------------------------- */

/* The account's 15- or 25-blinded ID on the server with this public key (prefix 0x15 or 0x25).
 * A 15-blinded key keeps the sign of the account's Ed25519 key, so for half of all accounts it is
 * the second of the two candidates a server derives from the Session ID. */
int sh_account_blinded_id(const sh_account *account, uint8_t prefix,
                          const uint8_t server_pk[static SH_SERVER_PK_BYTES],
                          uint8_t out[static SH_BLINDED_ID_BYTES]) SH_IDENTITY_WUR;
/* Signs msg with the account's blinded key for that server; the signature is a standard Ed25519
 * signature that verifies against the 32 key bytes of the blinded ID. */
int sh_account_blinded_sign(const sh_account *account, uint8_t prefix,
                            const uint8_t server_pk[static SH_SERVER_PK_BYTES],
                            uint8_t sig[static SH_SIGNATURE_BYTES], const uint8_t *msg, size_t len)
    SH_IDENTITY_WUR;
/* Server side: checks a signature against a blinded ID (15 or 25). SH_ERR_CRYPTO when it fails. */
int sh_blinded_verify(const uint8_t blinded_id[static SH_BLINDED_ID_BYTES],
                      const uint8_t sig[static SH_SIGNATURE_BYTES], const uint8_t *msg, size_t len)
    SH_IDENTITY_WUR;
/* Server side: whether a blinded ID belongs to the account with this X25519 key (its Session ID)
 * on this server. For 15-blinded IDs both sign candidates are accepted, since the X25519 key does
 * not fix the sign of the Ed25519 key. SH_OK when it does, SH_ERR_CRYPTO when it does not. */
int sh_blinded_id_matches(const uint8_t blinded_id[static SH_BLINDED_ID_BYTES],
                          const uint8_t x25519_pk[static SH_X25519_PK_BYTES],
                          const uint8_t server_pk[static SH_SERVER_PK_BYTES]) SH_IDENTITY_WUR;

/* ---- Swarms --------------------------------------------------------------------------------- */

/* The account's position in swarm space: its X25519 public key read as four big-endian 64-bit
 * words, XORed together. */
uint64_t sh_swarm_space_position(const uint8_t x25519_pk[static 32]);
/* The swarm owning a position among the swarm ids of the ring, sorted ascending without
 * duplicates: the nearer of the ids on either side (distances wrap modulo 2^64), ties to the
 * lower one (to the last id across the wrap). SH_ERR_INVALID when n == 0. */
int sh_swarm_nearest(uint64_t position, const uint64_t *sorted_swarm_ids, size_t n,
                     uint64_t *out_swarm_id);

/* ---- Seed file ------------------------------------------------------------------------------ */

/* The cost of the Argon2id passphrase hash (libsodium's levels). MIN is for tests only. */
typedef enum sh_kdf_cost {
    SH_KDF_COST_MIN = 0,
    SH_KDF_COST_INTERACTIVE = 1,
    SH_KDF_COST_MODERATE = 2,
    SH_KDF_COST_SENSITIVE = 3,
} sh_kdf_cost;

/* Parses "min", "interactive", "moderate" or "sensitive". SH_ERR_INVALID otherwise. */
int sh_kdf_cost_parse(const char *name, sh_kdf_cost *out);

#define SH_SEEDFILE_MAX_BYTES 128

/* Writes the seed file of an account: the seed in clear (passphrase NULL) or encrypted with
 * XChaCha20-Poly1305 under a key from Argon2id(passphrase) at the given cost. The Session ID is
 * kept readable in both forms. out must hold SH_SEEDFILE_MAX_BYTES. */
int sh_seedfile_seal(uint8_t out[static SH_SEEDFILE_MAX_BYTES], size_t *out_len,
                     const uint8_t seed[static SH_SEED_BYTES], const char *passphrase,
                     size_t passphrase_len, sh_kdf_cost cost) SH_IDENTITY_WUR;
/* Whether the seed file is encrypted with a passphrase. */
int sh_seedfile_has_passphrase(const uint8_t *file, size_t len, bool *out) SH_IDENTITY_WUR;
/* Reads the Session ID recorded in a seed file (no passphrase needed). */
int sh_seedfile_session_id(const uint8_t *file, size_t len, uint8_t out[static SH_SESSION_ID_BYTES])
    SH_IDENTITY_WUR;
/* Recovers the seed. SH_ERR_FORMAT / SH_ERR_UNSUPPORTED for a file that is not a seed file of a
 * version we know, SH_ERR_CHECKSUM for a damaged clear file, SH_ERR_PERMISSION when a passphrase
 * is needed but none was given, SH_ERR_INVALID when one was given to a clear file, SH_ERR_CRYPTO
 * for a wrong passphrase (or an altered file). The seed is checked against the recorded ID. */
int sh_seedfile_open(uint8_t seed[static SH_SEED_BYTES], const uint8_t *file, size_t len,
                     const char *passphrase, size_t passphrase_len) SH_IDENTITY_WUR;

#ifdef __cplusplus
}
#endif
#endif
