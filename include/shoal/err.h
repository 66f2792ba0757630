/* Shoal error codes: every libshoal function that can fail returns one of these (0 on success,
 * a negative code otherwise) and leaves a message for a person in sh_err_msg(). The numbers are
 * stable API: new codes are appended, none is ever renumbered. */
#ifndef SHOAL_ERR_H
#define SHOAL_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sh_err {
    SH_OK = 0,
    SH_ERR_INVALID = -1,      /* a bad argument or malformed input */
    SH_ERR_NOMEM = -2,        /* out of memory */
    SH_ERR_IO = -3,           /* a file or socket operation failed */
    SH_ERR_CRYPTO = -4,       /* authentication, signature or decryption check failed */
    SH_ERR_NOT_FOUND = -5,    /* no such account, file, key or record */
    SH_ERR_EXISTS = -6,       /* it already exists (and --force was not given) */
    SH_ERR_LIMIT = -7,        /* a size, count or rate limit was exceeded */
    SH_ERR_TIMEOUT = -8,      /* a deadline passed */
    SH_ERR_PERMISSION = -9,   /* the caller may not do this */
    SH_ERR_PROTOCOL = -10,    /* the peer broke the protocol */
    SH_ERR_CHECKSUM = -11,    /* a checksum did not match */
    SH_ERR_FORMAT = -12,      /* an encoding could not be decoded */
    SH_ERR_RANGE = -13,       /* a value is outside its allowed range */
    SH_ERR_UNAVAILABLE = -14, /* a peer or service could not be reached */
    SH_ERR_BUSY = -15,        /* rate-limited or overloaded; try again later */
    SH_ERR_STALE = -16,       /* a timestamp, map or key is too old or too far in the future */
    SH_ERR_REPLAY = -17,      /* this request or packet was seen before */
    SH_ERR_FULL = -18,        /* the store is full (an inbox at its limit) */
    SH_ERR_WRONG_SWARM = -19, /* this node does not serve that account */
    SH_ERR_CANCELLED = -20,   /* the operation was cancelled or the peer shut down */
    SH_ERR_INTERNAL = -21,    /* a bug: a state that should not happen */
    SH_ERR_UNSUPPORTED = -22, /* a version or feature this build does not know */
} sh_err;

/* Message for a person about the last error on this thread ("" when none). Valid until the next
 * libshoal call on the same thread. */
const char *sh_err_msg(void);

/* Stable symbolic name of a code, e.g. "SH_ERR_CHECKSUM". */
const char *sh_err_name(int code);

#ifdef __cplusplus
}
#endif
#endif
