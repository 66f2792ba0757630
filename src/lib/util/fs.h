/* Files: whole-file reads with a size cap, atomic writes (temp file + fsync + rename) with an
 * explicit mode, and directory creation. Key files are written 0600 and never partially. */
#ifndef SH_UTIL_FS_H
#define SH_UTIL_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"

/* Reads the whole file into `out` (replacing its contents). SH_ERR_NOT_FOUND if missing,
 * SH_ERR_LIMIT if larger than max_bytes. */
int sh_fs_read_file(const char *path, size_t max_bytes, sh_buf *out);
/* Writes the file atomically with the given mode; an existing file is replaced. */
int sh_fs_write_file(const char *path, const void *data, size_t len, mode_t mode);
/* Creates the directory and its parents (like mkdir -p) with the given mode for new ones. */
int sh_fs_mkdir_p(const char *path, mode_t mode);
bool sh_fs_exists(const char *path);
/* Writes all of data to fd, retrying on EINTR and short writes. -1 with errno set on failure. */
int sh_fs_write_all(int fd, const void *data, size_t len);
/* Joins two path parts with one '/' into out. SH_ERR_LIMIT if it does not fit. */
int sh_fs_join(char *out, size_t out_size, const char *dir, const char *name);

#endif
