/* Error reporting inside libshoal: set a code together with a message a person can act on, in one
 * statement, e.g. `return sh_err_set(SH_ERR_CHECKSUM, "the checksum word (word %d) does not match", n);`.
 * The message lives in a per-thread buffer read back by sh_err_msg() (include/shoal/err.h). */
#ifndef SH_UTIL_ERR_H
#define SH_UTIL_ERR_H

#include <shoal/err.h>

#define SH_ERR_MSG_BYTES 512

/* Records the message for `code` on this thread and returns `code`. */
int sh_err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with more context ("reading key file: <old message>") and returns
 * `code` unchanged, so callers can add where an error happened without losing why. */
int sh_err_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void sh_err_clear(void);

#endif
