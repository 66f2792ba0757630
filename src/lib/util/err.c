/* Per-thread error messages and the names of the sh_err codes. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_msg[SH_ERR_MSG_BYTES];

const char *sh_err_msg(void) { return err_msg; }

void sh_err_clear(void) { err_msg[0] = '\0'; }

int sh_err_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    return code;
}

int sh_err_wrap(int code, const char *fmt, ...)
{
    char prefix[SH_ERR_MSG_BYTES];
    char old[SH_ERR_MSG_BYTES];
    va_list ap;

    memcpy(old, err_msg, sizeof old);
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* A message longer than the buffer is cut short; the start says the most. */
    if (old[0] != '\0') {
        if (snprintf(err_msg, sizeof err_msg, "%s: %s", prefix, old) >= (int)sizeof err_msg)
            err_msg[sizeof err_msg - 1] = '\0';
    } else {
        memcpy(err_msg, prefix, sizeof err_msg);
    }
    return code;
}

const char *sh_err_name(int code)
{
    switch (code) {
    case SH_OK: return "SH_OK";
    case SH_ERR_INVALID: return "SH_ERR_INVALID";
    case SH_ERR_NOMEM: return "SH_ERR_NOMEM";
    case SH_ERR_IO: return "SH_ERR_IO";
    case SH_ERR_CRYPTO: return "SH_ERR_CRYPTO";
    case SH_ERR_NOT_FOUND: return "SH_ERR_NOT_FOUND";
    case SH_ERR_EXISTS: return "SH_ERR_EXISTS";
    case SH_ERR_LIMIT: return "SH_ERR_LIMIT";
    case SH_ERR_TIMEOUT: return "SH_ERR_TIMEOUT";
    case SH_ERR_PERMISSION: return "SH_ERR_PERMISSION";
    case SH_ERR_PROTOCOL: return "SH_ERR_PROTOCOL";
    case SH_ERR_CHECKSUM: return "SH_ERR_CHECKSUM";
    case SH_ERR_FORMAT: return "SH_ERR_FORMAT";
    case SH_ERR_RANGE: return "SH_ERR_RANGE";
    case SH_ERR_UNAVAILABLE: return "SH_ERR_UNAVAILABLE";
    case SH_ERR_BUSY: return "SH_ERR_BUSY";
    case SH_ERR_STALE: return "SH_ERR_STALE";
    case SH_ERR_REPLAY: return "SH_ERR_REPLAY";
    case SH_ERR_FULL: return "SH_ERR_FULL";
    case SH_ERR_WRONG_SWARM: return "SH_ERR_WRONG_SWARM";
    case SH_ERR_CANCELLED: return "SH_ERR_CANCELLED";
    case SH_ERR_INTERNAL: return "SH_ERR_INTERNAL";
    case SH_ERR_UNSUPPORTED: return "SH_ERR_UNSUPPORTED";
    default: return "SH_ERR_UNKNOWN";
    }
}
