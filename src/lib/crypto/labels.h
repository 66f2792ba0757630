/* Every domain-separation label of Shoal, in one place: each signature, MAC, KDF and hash use
 * has its own string, so that no value made for one purpose is ever accepted for another.
 * Labels are ASCII, start with "shoal/", and end with a version. Add new ones here, never reuse. */
#ifndef SH_CRYPTO_LABELS_H
#define SH_CRYPTO_LABELS_H

/* Local account state (shoal init): the key that encrypts the seed file under a passphrase. */
#define SH_LABEL_SEEDFILE_KEY "shoal/seedfile/key/v1"
/* Associated data of the encrypted seed file. */
#define SH_LABEL_SEEDFILE_AD "shoal/seedfile/ad/v1"

/* Blinded community IDs: keys the deterministic nonce of a signature by a blinded key. */
#define SH_LABEL_BLINDED_SIGN_NONCE "shoal/identity/blinded-sign-nonce/v1"

#endif
