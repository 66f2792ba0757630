/* The account's files: where the data folder is, reading and writing the seed file (0600 in a
 * 0700 folder), the passphrase file and the recovery phrase on standard input. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "util/err.h"
#include "util/fs.h"

#define SEED_FILE_NAME "seed"
#define PASSPHRASE_MAX_BYTES 4096
#define KDF_COST_ENV "SHOAL_KDF_COST"

static int default_data_dir(char *out, size_t out_size)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");

    /* The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored. */
    if (xdg != NULL && xdg[0] == '/')
        return sh_fs_join(out, out_size, xdg, "shoal");
    if (home != NULL && home[0] != '\0')
        return sh_fs_join(out, out_size, home, ".local/share/shoal");
    return sh_err_set(SH_ERR_INVALID, "no data folder: give --data DIR, or set XDG_DATA_HOME or HOME");
}

int cli_account_paths_get(const cli_opts *opts, cli_account_paths *out)
{
    int rc;

    if (opts->data != NULL) {
        if (opts->data[0] == '\0')
            return sh_err_set(SH_ERR_INVALID, "--data needs a folder name");
        rc = (size_t)snprintf(out->dir, sizeof out->dir, "%s", opts->data) < sizeof out->dir
                 ? SH_OK
                 : sh_err_set(SH_ERR_LIMIT, "the --data folder name is too long");
    } else {
        rc = default_data_dir(out->dir, sizeof out->dir);
    }
    if (rc == SH_OK)
        rc = sh_fs_join(out->seed, sizeof out->seed, out->dir, SEED_FILE_NAME);
    return rc;
}

/* Warns when the seed file can be read by others than its owner. */
static void check_mode(const char *path)
{
    struct stat st;

    if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
        fprintf(stderr, "shoal: warning: %s can be read by other users (mode %03o); "
                        "run 'chmod 600 %s'\n", path, (unsigned)(st.st_mode & 0777), path);
}

int cli_seedfile_read(const cli_account_paths *paths, sh_buf *file)
{
    int rc = sh_fs_read_file(paths->seed, SH_SEEDFILE_MAX_BYTES, file);

    if (rc == SH_ERR_NOT_FOUND)
        return sh_err_set(SH_ERR_NOT_FOUND, "there is no account in %s; create one with "
                                            "'shoal init' or 'shoal restore'", paths->dir);
    if (rc == SH_ERR_LIMIT)
        return sh_err_set(SH_ERR_FORMAT, "%s is too large to be a seed file", paths->seed);
    if (rc == SH_OK)
        check_mode(paths->seed);
    return rc;
}

int cli_check_no_account(const cli_account_paths *paths, const cli_opts *opts)
{
    uint8_t id[SH_SESSION_ID_BYTES];
    char hex[SH_SESSION_ID_HEX_BYTES] = "an unreadable ID";
    sh_buf file;

    if (opts->force || !sh_fs_exists(paths->seed))
        return SH_OK;
    sh_buf_init_secret(&file);
    if (sh_fs_read_file(paths->seed, SH_SEEDFILE_MAX_BYTES, &file) == SH_OK &&
        sh_seedfile_session_id(file.data, file.len, id) == SH_OK)
        sh_session_id_format(hex, id + 1);
    sh_buf_free(&file);
    return sh_err_set(SH_ERR_EXISTS, "%s already holds an account (Session ID %s); --force replaces "
                                     "it (the old account then comes back only from its phrase)",
                      paths->dir, hex);
}

static int kdf_cost(const cli_opts *opts, sh_kdf_cost *cost)
{
    const char *name = opts->kdf_cost != NULL ? opts->kdf_cost : getenv(KDF_COST_ENV);

    *cost = SH_KDF_COST_MODERATE;
    if (name == NULL || name[0] == '\0')
        return SH_OK;
    return sh_kdf_cost_parse(name, cost);
}

int cli_seedfile_write(const cli_account_paths *paths, const cli_opts *opts,
                       const uint8_t seed[static SH_SEED_BYTES])
{
    uint8_t file[SH_SEEDFILE_MAX_BYTES];
    size_t len = 0;
    sh_kdf_cost cost;
    sh_buf pass;
    int rc;

    sh_buf_init_secret(&pass);
    rc = kdf_cost(opts, &cost);
    if (rc == SH_OK)
        rc = cli_passphrase_read(opts, &pass);
    if (rc == SH_OK)
        rc = sh_seedfile_seal(file, &len, seed, opts->passphrase_file ? (const char *)pass.data : NULL,
                              pass.len, cost);
    if (rc == SH_OK)
        rc = sh_fs_mkdir_p(paths->dir, 0700);
    if (rc == SH_OK)
        rc = sh_fs_write_file(paths->seed, file, len, 0600);
    sodium_memzero(file, sizeof file);
    sh_buf_free(&pass);
    return rc;
}

int cli_passphrase_read(const cli_opts *opts, sh_buf *out)
{
    int rc;

    sh_buf_reset(out);
    if (opts->passphrase_file == NULL)
        return SH_OK;
    rc = sh_fs_read_file(opts->passphrase_file, PASSPHRASE_MAX_BYTES, out);
    if (rc != SH_OK)
        return sh_err_wrap(rc == SH_ERR_NOT_FOUND ? SH_ERR_IO : rc, "reading the passphrase file");
    /* The passphrase is the first line, without its line ending. */
    for (size_t i = 0; i < out->len; i++) {
        if (out->data[i] == '\n' || out->data[i] == '\r') {
            sodium_memzero(out->data + i, out->len - i);
            out->len = i;
            break;
        }
    }
    if (out->len == 0)
        return sh_err_set(SH_ERR_INVALID, "the passphrase file %s is empty", opts->passphrase_file);
    return SH_OK;
}

int cli_stdin_read(sh_buf *out, size_t max, bool one_line)
{
    uint8_t c;
    ssize_t n;
    int rc;

    sh_buf_reset(out);
    while ((n = read(STDIN_FILENO, &c, 1)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return sh_err_set(SH_ERR_IO, "cannot read standard input: %s", strerror(errno));
        if (one_line && c == '\n')
            break;
        if (out->len == max)
            return sh_err_set(SH_ERR_LIMIT, "standard input is longer than %zu bytes", max);
        rc = sh_buf_append_u8(out, c);
        if (rc != SH_OK)
            return rc;
    }
    /* A NUL after the text, not counted in its length. */
    rc = sh_buf_append_u8(out, 0);
    if (rc == SH_OK)
        out->len--;
    return rc;
}
