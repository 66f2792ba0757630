/* File helpers: capped reads, atomic mode-preserving writes, mkdir -p. */
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"

int sh_fs_read_file(const char *path, size_t max_bytes, sh_buf *out)
{
    struct stat st;
    int fd, rc = SH_OK;
    uint8_t *p;
    size_t got = 0;

    sh_buf_reset(out);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return sh_err_set(SH_ERR_NOT_FOUND, "%s does not exist", path);
        return sh_err_set(SH_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        rc = sh_err_set(SH_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
        goto done;
    }
    if ((uintmax_t)st.st_size > max_bytes) {
        rc = sh_err_set(SH_ERR_LIMIT, "%s is %jd bytes, more than the %zu allowed", path,
                        (intmax_t)st.st_size, max_bytes);
        goto done;
    }
    rc = sh_buf_extend(out, (size_t)st.st_size, &p);
    if (rc != SH_OK)
        goto done;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, p + got, (size_t)st.st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = sh_err_set(SH_ERR_IO, "cannot read %s: %s", path, n < 0 ? strerror(errno) : "short read");
            goto done;
        }
        got += (size_t)n;
    }
done:
    close(fd);
    if (rc != SH_OK)
        sh_buf_reset(out);
    return rc;
}

int sh_fs_write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int sh_fs_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[4096];
    int fd, rc = SH_OK;

    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return sh_err_set(SH_ERR_LIMIT, "path too long: %s", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return sh_err_set(SH_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    if (fchmod(fd, mode) != 0 || sh_fs_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        rc = sh_err_set(SH_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return rc;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        rc = sh_err_set(SH_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
    }
    return rc;
}

static int make_dir(const char *path, mode_t mode)
{
    struct stat st;

    if (mkdir(path, mode) == 0)
        return SH_OK;
    if (errno != EEXIST)
        return sh_err_set(SH_ERR_IO, "cannot create directory %s: %s", path, strerror(errno));
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return sh_err_set(SH_ERR_IO, "%s exists and is not a directory", path);
    return SH_OK;
}

int sh_fs_mkdir_p(const char *path, mode_t mode)
{
    char tmp[4096];
    size_t len = strlen(path);
    int rc;

    if (len == 0 || len >= sizeof tmp)
        return sh_err_set(SH_ERR_INVALID, "bad directory path '%s'", path);
    memcpy(tmp, path, len + 1);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        rc = make_dir(tmp, mode);
        if (rc != SH_OK)
            return rc;
        *p = '/';
    }
    return make_dir(tmp, mode);
}

bool sh_fs_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

int sh_fs_join(char *out, size_t out_size, const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    const char *sep = (dl > 0 && dir[dl - 1] == '/') ? "" : "/";

    if ((size_t)snprintf(out, out_size, "%s%s%s", dir, sep, name) >= out_size)
        return sh_err_set(SH_ERR_LIMIT, "path too long: %s/%s", dir, name);
    return SH_OK;
}
