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

/* Onion routing (docs/onion.md "Key derivation"). BLAKE2b of the DH output, then BLAKE2b keyed
 * with that per-hop secret over each label below. */
/* Hashes a hop's ristretto255 DH output (with the group element) into its per-hop secret. */
#define SH_LABEL_ONION_HOP_SECRET "shoal/onion/hop-secret/v1"
/* The blinding factor that turns this hop's group element into the next hop's. */
#define SH_LABEL_ONION_BLIND "shoal/onion/blind/v1"
/* The replay tag a hop remembers for one onion-key epoch. */
#define SH_LABEL_ONION_REPLAY_TAG "shoal/onion/replay-tag/v1"
/* The ChaCha20 key of the header stream (routing information and filler). */
#define SH_LABEL_ONION_HEADER_STREAM "shoal/onion/header-stream/v1"
/* The keyed-BLAKE2b key of the per-hop header MAC. */
#define SH_LABEL_ONION_HEADER_MAC "shoal/onion/header-mac/v1"
/* The wide-block key of this hop's layer of the request payload. */
#define SH_LABEL_ONION_REQUEST_LAYER "shoal/onion/request-layer/v1"
/* The wide-block key of this hop's layer of the reply. */
#define SH_LABEL_ONION_REPLY_LAYER "shoal/onion/reply-layer/v1"
/* The end-to-end XChaCha20-Poly1305 key of the request (client to destination). */
#define SH_LABEL_ONION_E2E_REQUEST "shoal/onion/e2e-request/v1"
/* The end-to-end XChaCha20-Poly1305 key of the reply (destination to client). */
#define SH_LABEL_ONION_E2E_REPLY "shoal/onion/e2e-reply/v1"
/* The four round keys of the LIONESS-style wide-block cipher, from one layer key. */
#define SH_LABEL_ONION_LIONESS_ROUNDS "shoal/onion/lioness-rounds/v1"
/* The client's build stream: ephemeral scalar and header padding from one random seed. */
#define SH_LABEL_ONION_BUILD_SEED "shoal/onion/build-seed/v1"

/* Directory (docs/directory.md): each signed object starts with its label as protobuf field 1. */
/* A node descriptor, signed by the node identity. */
#define SH_LABEL_DIR_DESCRIPTOR "shoal/dir/descriptor/v1"
/* One epoch's onion key, signed by the node identity. */
#define SH_LABEL_DIR_ONION_KEY "shoal/dir/onion-key/v1"
/* An operator's grant for a node, signed by the operator key. */
#define SH_LABEL_DIR_OPERATOR_CERT "shoal/dir/operator-cert/v1"
/* An authority's vote, signed by the authority. */
#define SH_LABEL_DIR_VOTE "shoal/dir/vote/v1"
/* The consensus map body, signed by k of the n authorities. */
#define SH_LABEL_DIR_MAP "shoal/dir/map/v1"
/* A map diff (unsigned; the map it rebuilds carries the signatures). */
#define SH_LABEL_DIR_MAP_DIFF "shoal/dir/map-diff/v1"
/* BLAKE2b-256 of the network file's canonical text: the network id maps and votes name. */
#define SH_LABEL_DIR_NETWORK_ID "shoal/dir/network-id/v1"
/* BLAKE2b-256 seed for swarm tie-breaks, from the previous map's signatures. */
#define SH_LABEL_DIR_SWARM_SEED "shoal/dir/swarm-seed/v1"
/* BLAKE2b-256 ordering of nodes and swarms under a seed (joins, tie-breaks, splits). */
#define SH_LABEL_DIR_SWARM_ORDER "shoal/dir/swarm-order/v1"

/* Subaccount tokens and token revocation lists (identity module, identity/token.h): field 1 of
 * each signed body. The strings keep the "e2e" of the module that defined them first, so that
 * tokens issued before the move still parse. */
#define SH_LABEL_TOKEN "shoal/e2e/subaccount-token/v1"
#define SH_LABEL_TOKEN_REVOCATIONS "shoal/e2e/token-revocations/v1"

/* Message hash of the node store (BLAKE2b-256 personalization, exactly 16 bytes; store/store.h). */
#define SH_LABEL_MSG_HASH "shoal/msghash/v1"

/* Storage API of a service node (node module, node/request.h, docs/node.md). */
/* Field 1 of the canonical signed request. */
#define SH_LABEL_STORAGE_REQUEST "shoal/storage/request/v1"
/* The first input of the proof-of-work hash of an anonymous store in namespace 0. */
#define SH_LABEL_STORAGE_POW "shoal/storage/pow/v1"
/* A node's signed store receipt: it has committed the message (docs/swarm.md "Receipts"). */
#define SH_LABEL_NODE_RECEIPT "shoal/node/receipt/v1"

/* Noise prologue of every link (net module): names the link protocol and its version, so that
 * peers speaking another version fail the handshake instead of misreading frames. */
#define SH_LABEL_LINK_PROLOGUE "shoal/link/v1"

/* ---- Protocol V2 (e2e module, docs/protocol-v2.md) ------------------------------------------ */
/* Signed objects: field 1 of each body. */
#define SH_LABEL_E2E_DEVICE_LIST "shoal/e2e/device-list/v1"
#define SH_LABEL_E2E_BUNDLE "shoal/e2e/prekey-bundle/v1"
#define SH_LABEL_E2E_SENDER_CERT "shoal/e2e/sender-cert/v1"
#define SH_LABEL_E2E_ENVELOPE_GRANT "shoal/e2e/envelope-grant/v1"
#define SH_LABEL_E2E_LINK_REQUEST "shoal/e2e/link-request/v1"
#define SH_LABEL_E2E_LINK_RESPONSE "shoal/e2e/link-response/v1"
/* Key derivations. */
#define SH_LABEL_E2E_DEVICE_KEYS "shoal/e2e/device-keys/v1"
#define SH_LABEL_E2E_ENVELOPE_SEED "shoal/e2e/envelope-seed/v1"
#define SH_LABEL_E2E_GRANT_KEY "shoal/e2e/envelope-grant/key/v1"
#define SH_LABEL_E2E_HS_TRANSCRIPT "shoal/e2e/pqxdh/transcript/v1"
#define SH_LABEL_E2E_HS_KDF "shoal/e2e/pqxdh/kdf/v1"
#define SH_LABEL_E2E_ROOT_KDF "shoal/e2e/ratchet/root/v1"
#define SH_LABEL_E2E_CHAIN_MSG "shoal/e2e/ratchet/chain/message/v1"
#define SH_LABEL_E2E_CHAIN_NEXT "shoal/e2e/ratchet/chain/next/v1"
#define SH_LABEL_E2E_PQ_EPOCH "shoal/e2e/spqr/epoch/v1"
#define SH_LABEL_E2E_MESSAGE_KEY "shoal/e2e/message-key/v1"
#define SH_LABEL_E2E_ENVELOPE_KEY "shoal/e2e/envelope/key/v1"
#define SH_LABEL_E2E_SLOT_AD "shoal/e2e/envelope/slot/v1"
#define SH_LABEL_E2E_LINK_REQUEST_KEY "shoal/e2e/link/request-key/v1"
#define SH_LABEL_E2E_LINK_RESPONSE_KEY "shoal/e2e/link/response-key/v1"
#define SH_LABEL_E2E_LINK_SAS "shoal/e2e/link/sas/v1"

/* Client state database (docs/client.md "Local key"): the column key from the Argon2id output
 * or the key file, the associated data of every sealed column, and the key check value. */
#define SH_LABEL_CLIENT_KEY "shoal/client/key/v1"
#define SH_LABEL_CLIENT_COLUMN "shoal/client/column/v1"
#define SH_LABEL_CLIENT_CHECK "shoal/client/check/v1"
#define SH_LABEL_CLIENT_RENDEZVOUS "shoal/client/link/rendezvous/v1"

#endif
