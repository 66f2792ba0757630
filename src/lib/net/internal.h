/* Structures shared inside the net module: net.c (the sh_net object, listener, method registry,
 * request dispatch), link.c (one TCP connection and its state machine) and peer.c (client-side
 * peers, calls and their deadlines). Nothing outside src/lib/net includes this. */
#ifndef SH_NET_INTERNAL_H
#define SH_NET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/envelope.h"
#include "net/frame.h"
#include "net/idmap.h"
#include "net/net.h"
#include "net/noise.h"
#include "util/buf.h"

#define SH_NET_LOG_AREA "net"
/* Handshake messages are 48, 48 and 64 bytes with Shoal's empty payloads; anything much larger
 * is not a Shoal peer. */
#define SH_NET_MAX_HANDSHAKE_MSG_BYTES 1024u
/* A link holds a read buffer only while bytes wait in it (an unfinished frame); drained buffers
 * go back to a pool of the sh_net, so idle links cost no buffer memory. */
#define SH_NET_READ_BUFFER_BYTES (256u * 1024u)
#define SH_NET_READ_POOL 8u
#define SH_NET_NAME_BYTES 80
/* Written-out buffers are kept for reuse (fresh memory costs page faults on every write): up to
 * this many per sh_net, each starting at this size. */
#define SH_NET_WRITE_POOL 8u
#define SH_NET_WRITE_BUFFER_BYTES (320u * 1024u)

_Static_assert(SH_NET_MAX_HANDSHAKE_MSG_BYTES < SH_NOISE_MAX_MESSAGE_BYTES,
               "a handshake message is a Noise message");
_Static_assert(SH_NET_READ_BUFFER_BYTES >= SH_FRAME_MAX_WIRE_BYTES, "room for a whole frame");

/* Intrusive doubly linked lists with a sentinel head. */
typedef struct sh_list {
    struct sh_list *prev, *next;
} sh_list;

static inline void sh__list_init(sh_list *l)
{
    l->prev = l->next = l;
}
static inline bool sh__list_empty(const sh_list *l)
{
    return l->next == l;
}
static inline void sh__list_push(sh_list *head, sh_list *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}
static inline void sh__list_remove(sh_list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}
#define SH_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Token bucket: `rate` tokens per second up to `burst`; one token per call. */
typedef struct sh_bucket {
    double tokens, rate, burst;
    uint64_t last_ms;
} sh_bucket;

void sh__bucket_init(sh_bucket *b, uint32_t rate_per_s, uint32_t burst, uint64_t now_ms);
bool sh__bucket_take(sh_bucket *b, uint64_t now_ms);

typedef struct sh_method {
    char name[SH_RPC_MAX_METHOD_BYTES + 1];
    sh_rpc_kind kind;
    sh_net_handler_cb cb;
    void *ctx;
    bool limited;
    sh_bucket bucket;
} sh_method;

typedef enum sh_link_state {
    SH_LINK_CONNECTING,
    SH_LINK_HANDSHAKE,
    SH_LINK_OPEN,
    SH_LINK_DRAINING,
    SH_LINK_LINGER,
    SH_LINK_CLOSING,
} sh_link_state;

/* Key material of a link, in sh_secret_alloc() memory. */
typedef struct sh_link_secrets {
    sh_noise_hs hs;
    sh_frame_tx tx;
    sh_frame_rx rx;
    uint8_t local_sk[SH_NET_KEY_BYTES];
} sh_link_secrets;

typedef struct sh_link {
    sh_list node; /* in net->links */
    sh_net *net;
    struct sh_net_peer *peer; /* initiator links the peer uses for new calls; else NULL */
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect_req;
    uv_shutdown_t shutdown_req;
    sh_link_state state;
    bool initiator, keep_open, counted_ip, was_open;
    int handles_open;
    sh_link_secrets *sec;
    uint8_t remote_key[SH_NET_KEY_BYTES];
    bool has_remote_key;
    uint8_t *rbuf;     /* SH_NET_READ_BUFFER_BYTES, or NULL when no bytes wait */
    size_t roff, rlen; /* the bytes not yet processed: rbuf[roff, roff + rlen) */
    sh_buf out;     /* frames not yet written (link_flush) */
    unsigned cork;
    uint64_t ip_key;
    uint64_t last_rx_ms, last_call_ms, drain_start_ms;
    bool ping_outstanding;
    int deferred_code; /* a close decided inside an API call, done from the timer */
    char deferred_reason[160];
    /* Server side: requests held by handlers, and the link's token bucket. */
    sh_list reqs;
    unsigned n_reqs;
    sh_bucket bucket;
    /* Client side: calls sent on this link, by id and in a list. */
    sh_idmap calls;
    sh_list call_list;
    uint64_t next_id;
    char name[SH_NET_NAME_BYTES];
} sh_link;

struct sh_net_req {
    sh_list node; /* in link->reqs */
    sh_link *link; /* NULL once cancelled */
    uv_loop_t *loop;
    sh_rpc_request rq;
    sh_buf plain; /* secret: the opened message that rq.body points into */
    uint8_t peer_key[SH_NET_KEY_BYTES];
    uint64_t deadline_ms; /* loop time */
    void (*cancel_cb)(sh_net_req *req, void *ctx);
    void *cancel_ctx;
};

typedef struct sh_call {
    sh_list node; /* in peer->pending while unsent, then in link->call_list */
    sh_net *net;
    struct sh_net_peer *peer; /* NULL after the peer was closed */
    sh_link *link;            /* set once sent */
    uint64_t id;
    uint64_t deadline;        /* loop time */
    uint32_t deadline_ms;
    size_t heap_index;
    char method[SH_RPC_MAX_METHOD_BYTES + 1];
    sh_buf body; /* secret copy, only while unsent */
    sh_net_call_cb cb;
    void *ctx;
} sh_call;

struct sh_net_peer {
    sh_list node; /* in net->peers */
    sh_net *net;
    struct sockaddr_storage addr;
    char name[SH_NET_NAME_BYTES];
    uint8_t remote_key[SH_NET_KEY_BYTES];
    uint8_t *local_sk; /* sh_secret_alloc, or NULL for a fresh key per connection */
    bool keep_open, fail_fast, closing, backoff_active;
    sh_link *link;
    sh_list pending;
    size_t pending_bytes; /* bodies waiting in pending */
    unsigned n_calls;     /* pending or in flight */
    unsigned failures;
    uv_timer_t backoff_timer;
    char last_error[160];
};

struct sh_net {
    uv_loop_t *loop;
    sh_net_config cfg;
    uv_tcp_t listener;
    bool listening, draining, closing;
    uint8_t *static_sk; /* sh_secret_alloc */
    sh_method *methods;
    size_t n_methods, cap_methods;
    sh_net_authorize_cb authorize;
    void *authorize_ctx;
    sh_list links;
    unsigned n_accepted;
    sh_idmap per_ip;
    sh_list peers;
    sh_call **heap;
    size_t heap_len, heap_cap;
    uv_timer_t deadline_timer, shutdown_timer;
    int handles_open;
    uint8_t *rpool[SH_NET_READ_POOL]; /* free read buffers */
    unsigned rpool_n;
    sh_buf pool[SH_NET_WRITE_POOL]; /* empty write buffers (len 0) */
    unsigned pool_n;
    uint64_t pings;
    void (*close_cb)(void *ctx);
    void *close_ctx;
};

/* link.c */
int sh__link_connect(sh_net *net, struct sh_net_peer *peer) __attribute__((warn_unused_result));
void sh__link_accept(sh_net *net);
/* Closes at once, logging why (code: an sh_err; protocol violations are logged as warnings). */
void sh__link_close(sh_link *l, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Stops new work: a caller detaches the link from its peer and closes it once its calls are
 * answered; a responder sends GOAWAY and closes after the caller does. */
void sh__link_drain(sh_link *l);
/* Closes a draining link whose last call or request just finished. */
void sh__link_maybe_finish(sh_link *l);
int sh__link_send_request(sh_link *l, sh_call *c, const uint8_t *body, size_t len)
    __attribute__((warn_unused_result));
/* An open link whose write queue has room: calls wait for this (backpressure). */
bool sh__link_writable(const sh_link *l);
int sh__link_send_response(sh_link *l, uint64_t id, int status, const char *message,
                           const uint8_t *body, size_t len) __attribute__((warn_unused_result));

/* net.c */
/* A request the link's rx just opened; a request that reaches its handler takes the memory
 * holding it (sh__frame_rx_take), so that its body lives until the answer. */
int sh__net_on_request(sh_link *l, const uint8_t *data, size_t len)
    __attribute__((warn_unused_result));
void sh__net_cancel_reqs(sh_link *l);
void sh__net_link_event(sh_link *l, int status, const char *reason);
/* Caps on accepted links (total, per IPv4 address or IPv6 /64); counts the link when admitted. */
int sh__net_admit(sh_net *net, sh_link *l, const struct sockaddr_storage *ss)
    __attribute__((warn_unused_result));
void sh__net_link_freed(sh_link *l);
void sh__net_maybe_free(sh_net *net);

/* peer.c */
/* The peer's link opened or its write queue drained: send waiting calls. */
void sh__peer_link_open(struct sh_net_peer *peer);
void sh__peer_link_closed(struct sh_net_peer *peer, sh_link *l, int code, const char *reason);
void sh__peer_on_goaway(sh_link *l);
int sh__peer_on_response(sh_link *l, const uint8_t *data, size_t len)
    __attribute__((warn_unused_result));
void sh__peer_fail_link_calls(sh_link *l, int code, const char *reason);
void sh__peer_close_all(sh_net *net, bool graceful);

#endif
