/* The net module: encrypted links and RPC between Shoal processes (overview.md "Network",
 * docs/net.md). Every connection is TCP with a Noise_XK_25519_ChaChaPoly_SHA256 handshake, then
 * frames that carry RPC envelopes (proto/rpc.proto), many calls in flight, answered out of order.
 *
 * An sh_net is bound to one caller-owned uv_loop_t and is used only from that loop's thread;
 * every callback runs on it, never from inside the call that set it up. The same sh_net can
 * serve (listen, a method registry) and call out (peers). Objects follow libuv's ownership:
 * sh_net_close()/sh_net_shutdown() and sh_net_peer_close() finish asynchronously, and the loop
 * must run until their callbacks have fired.
 *
 * Errors follow include/shoal/err.h end to end: a call's status is SH_OK or a negative sh_err
 * code, whether the server's handler chose it or the link layer did:
 *   SH_ERR_NOT_FOUND    no such method              SH_ERR_PERMISSION  node method, caller refused
 *   SH_ERR_BUSY         rate-limited / overloaded   SH_ERR_TIMEOUT     the deadline passed
 *   SH_ERR_UNAVAILABLE  link failed or server going away (the call may or may not have run)
 *   SH_ERR_CANCELLED    the caller closed the peer or the sh_net
 *   SH_ERR_INVALID      bad method name, deadline or body size
 * with an error message a person can act on. */
#ifndef SH_NET_NET_H
#define SH_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "wire/rpc.h"

#define SH_NET_KEY_BYTES 32 /* X25519 static keys (Noise link keys) */

/* Defaults of sh_net_config (sh_net_config_default). */
#define SH_NET_DEFAULT_CONNECT_TIMEOUT_MS 5000u
#define SH_NET_DEFAULT_HANDSHAKE_TIMEOUT_MS 5000u
#define SH_NET_DEFAULT_IDLE_TIMEOUT_MS 120000u
#define SH_NET_DEFAULT_KEEPALIVE_MS 15000u
#define SH_NET_DEFAULT_KEEPALIVE_TIMEOUT_MS 10000u
#define SH_NET_DEFAULT_RECONNECT_MIN_MS 100u
#define SH_NET_DEFAULT_RECONNECT_MAX_MS 30000u
#define SH_NET_DEFAULT_SHUTDOWN_TIMEOUT_MS 10000u
#define SH_NET_DEFAULT_LINGER_MS 2000u
#define SH_NET_DEFAULT_MAX_WRITE_QUEUE_BYTES (4u * 1024u * 1024u)
#define SH_NET_DEFAULT_MAX_LINKS 4096u
#define SH_NET_DEFAULT_MAX_LINKS_PER_IP 64u
#define SH_NET_DEFAULT_MAX_CALLS_PER_LINK 1024u
#define SH_NET_DEFAULT_MAX_CALLS_PER_PEER 4096u
#define SH_NET_DEFAULT_PEER_RATE_PER_S 1000u
#define SH_NET_DEFAULT_PEER_BURST 2000u

/* A link opened (status SH_OK) or closed (status = why, as an sh_err code). `name` is
 * "address:port" with the peer's short key id once known; `remote_key` is NULL before the
 * handshake has authenticated it. For logs, metrics and tests. */
typedef struct sh_net_link_event {
    const char *name;
    bool initiator;
    const uint8_t *remote_key;
    int status;
    const char *reason;
} sh_net_link_event;
typedef void (*sh_net_link_cb)(const sh_net_link_event *ev, void *ctx);

/* Every timeout and limit; start from sh_net_config_default() and change what you need (tests
 * use short timeouts instead of sleeping). Zero is not a valid value for any field but the
 * callback and the rekey overrides. */
typedef struct sh_net_config {
    uint32_t connect_timeout_ms;   /* TCP connect must complete within this */
    uint32_t handshake_timeout_ms; /* the Noise handshake must complete within this */
    uint32_t idle_timeout_ms;      /* a link with no call for this long is closed */
    uint32_t keepalive_ms;         /* ping after this much silence while calls wait */
    uint32_t keepalive_timeout_ms; /* ... and drop the link if the silence lasts this much more */
    uint32_t reconnect_min_ms;     /* first reconnect delay; doubles per failure ... */
    uint32_t reconnect_max_ms;     /* ... up to this (each delay jittered to 50-100%) */
    uint32_t shutdown_timeout_ms;  /* sh_net_shutdown gives calls in flight this long */
    uint32_t linger_ms;            /* after a graceful close, wait this long for the peer's FIN */
    size_t max_write_queue_bytes;  /* a peer that leaves more unread is disconnected */
    uint32_t max_links;            /* accepted links in total */
    uint32_t max_links_per_ip;     /* accepted links per IPv4 address or IPv6 /64 */
    uint32_t max_calls_per_link;   /* server: requests being handled per link */
    uint32_t max_calls_per_peer;   /* client: calls waiting or in flight per peer */
    uint32_t peer_rate_per_s;      /* server: token bucket per link: rate ... */
    uint32_t peer_burst;           /* ... and depth */
    uint64_t rekey_after_frames;   /* 0 = SH_FRAME_REKEY_AFTER_FRAMES (2^20); tests use less */
    uint64_t rekey_after_bytes;    /* 0 = SH_FRAME_REKEY_AFTER_BYTES (1 GiB) */
    sh_net_link_cb link_cb;
    void *link_ctx;
} sh_net_config;

void sh_net_config_default(sh_net_config *cfg);

typedef struct sh_net sh_net;

/* A new sh_net on `loop`; cfg NULL means the defaults. SH_ERR_INVALID for a zero limit or a
 * keepalive not below the idle timeout. */
int sh_net_new(uv_loop_t *loop, const sh_net_config *cfg, sh_net **out)
    __attribute__((warn_unused_result));
/* Closes everything at once: calls in flight fail with SH_ERR_CANCELLED, handlers' requests are
 * cancelled, peers are freed. close_cb (may be NULL) runs once every handle is closed; the sh_net
 * is freed just before. */
void sh_net_close(sh_net *net, void (*close_cb)(void *ctx), void *ctx);
/* Graceful: stops accepting links and calls, tells connected clients to go away, lets calls in
 * flight (both ways) finish for up to shutdown_timeout_ms, then closes as sh_net_close. */
void sh_net_shutdown(sh_net *net, void (*close_cb)(void *ctx), void *ctx);

/* Server side ------------------------------------------------------------------------------- */

typedef enum sh_rpc_kind {
    SH_RPC_CLIENT = 1, /* anyone with a link may call it */
    SH_RPC_NODE = 2,   /* only callers the authorize callback accepts */
} sh_rpc_kind;

/* One incoming call. The handler owns it and must answer it exactly once with sh_net_respond()
 * (at once or later: after a group commit, a long-poll), which also frees it. If the link dies
 * first the request is cancelled: sh_net_req_alive() turns false, the cancel callback (if set)
 * runs, and the answer is discarded; sh_net_respond() is still required to free it. */
typedef struct sh_net_req sh_net_req;

/* body is valid until sh_net_respond(req). */
typedef void (*sh_net_handler_cb)(sh_net_req *req, const uint8_t *body, size_t len, void *ctx);
/* May the holder of this link key call this node method? */
typedef bool (*sh_net_authorize_cb)(const uint8_t key[static SH_NET_KEY_BYTES],
                                    const char *method, void *ctx);

/* Per-method token bucket; rate 0 means unlimited. */
typedef struct sh_net_method_limits {
    uint32_t rate_per_s;
    uint32_t burst;
} sh_net_method_limits;

/* Starts listening on a numeric IPv4/IPv6 address; port 0 picks a free port, returned in
 * *bound_port. static_sk is the X25519 private key of the Noise handshake (copied). */
int sh_net_listen(sh_net *net, const char *address, uint16_t port,
                  const uint8_t static_sk[static SH_NET_KEY_BYTES], uint16_t *bound_port)
    __attribute__((warn_unused_result));
/* Registers a method (names: 1-64 of [a-z0-9_.-]); limits may be NULL. SH_ERR_EXISTS if taken. */
int sh_net_register(sh_net *net, const char *method, sh_rpc_kind kind, sh_net_handler_cb cb,
                    void *ctx, const sh_net_method_limits *limits)
    __attribute__((warn_unused_result));
/* Consulted for every call of an SH_RPC_NODE method; without one, node methods are refused. */
void sh_net_set_authorize(sh_net *net, sh_net_authorize_cb cb, void *ctx);

/* Answers a request and frees it. status: SH_OK or a negative sh_err code; error_message (NULL
 * or printf-style) is cut to SH_RPC_MAX_ERROR_MESSAGE_BYTES. SH_ERR_INVALID (and an error answer
 * to the caller) for a body over SH_RPC_MAX_BODY_BYTES; SH_ERR_CANCELLED if the link was gone. */
int sh_net_respond(sh_net_req *req, int status, const uint8_t *body, size_t len,
                   const char *error_message, ...) __attribute__((format(printf, 5, 6)));
const char *sh_net_req_method(const sh_net_req *req);
/* The caller's static link key (a node's key, or a client's per-connection key). */
const uint8_t *sh_net_req_peer_key(const sh_net_req *req);
/* Milliseconds left before the caller gives up (0 once passed), by the loop's clock. */
uint64_t sh_net_req_time_left_ms(const sh_net_req *req);
bool sh_net_req_alive(const sh_net_req *req);
void sh_net_req_on_cancel(sh_net_req *req, void (*cancel_cb)(sh_net_req *req, void *ctx),
                          void *ctx);

/* Client side ------------------------------------------------------------------------------- */

/* A remote endpoint we call: it connects on demand, reconnects with backoff, and closes its link
 * when idle. Calls wait while it connects; calls sent on a link that dies fail (they may have
 * run). */
typedef struct sh_net_peer sh_net_peer;

typedef struct sh_net_peer_opts {
    /* Our static key (a node's link key), or NULL for a fresh random key per connection (clients:
     * never the account key). Copied. */
    const uint8_t *local_static_sk;
    /* Keep a link up even without calls (node-to-node), reconnecting when it drops. */
    bool keep_open;
    /* When an attempt to connect fails, the calls waiting for the link fail at once with its
     * error (SH_ERR_UNAVAILABLE), instead of waiting through reconnects until their deadlines:
     * for callers with other nodes to try (clients fetching a map, onion guards). */
    bool fail_fast;
} sh_net_peer_opts;

/* address: numeric IPv4/IPv6; remote_key: the responder's static X25519 public key. opts may
 * be NULL. No connection is made until the first call (or at once with keep_open). */
int sh_net_peer_new(sh_net *net, const char *address, uint16_t port,
                    const uint8_t remote_key[static SH_NET_KEY_BYTES],
                    const sh_net_peer_opts *opts, sh_net_peer **out)
    __attribute__((warn_unused_result));
/* Fails the peer's calls with SH_ERR_CANCELLED, closes its link and frees it (asynchronously;
 * the pointer is invalid on return). */
void sh_net_peer_close(sh_net_peer *peer);

/* The answer of a call: status SH_OK with the body, or an error code and message. Both buffers
 * are valid only during the callback. */
typedef void (*sh_net_call_cb)(int status, const char *error_message, const uint8_t *body,
                               size_t len, void *ctx);

/* Calls `method` with a body (copied) and a deadline of 1 to SH_RPC_MAX_DEADLINE_MS ms. On
 * SH_OK, cb runs exactly once, later, on the loop. Otherwise (SH_ERR_INVALID for bad arguments,
 * SH_ERR_BUSY when max_calls_per_peer calls wait, SH_ERR_CANCELLED while shutting down) cb
 * never runs. */
int sh_net_call(sh_net_peer *peer, const char *method, const uint8_t *body, size_t len,
                uint32_t deadline_ms, sh_net_call_cb cb, void *ctx)
    __attribute__((warn_unused_result));

#endif
