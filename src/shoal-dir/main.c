/* shoal-dir: a directory authority of a Shoal network (docs/directory.md "Running shoal-dir").
 * Commands: keygen, pubkey, init-network, run. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "shoal-dir.h"
#include "util/encode.h"
#include "util/err.h"
#include "util/fs.h"

static void usage(FILE *out)
{
    fputs("usage: shoal-dir [--version] [--help] <command> [<args>]\n\n"
          "   keygen         Make an authority key file (Ed25519 identity, X25519 link key)\n"
          "   pubkey         Print the public keys of a key file\n"
          "   init-network   Write a network file naming the authorities\n"
          "   run            Run an authority\n\n"
          "'shoal-dir <command> --help' describes a command (docs/directory.md).\n",
          out);
}

int dir_fail(const char *cmd)
{
    fprintf(stderr, "shoal-dir %s: %s\n", cmd, sh_err_msg());
    return DIR_EXIT_ERROR;
}

int dir_usage_error(const char *cmd, const char *what, const char *arg)
{
    fprintf(stderr, "shoal-dir %s: %s '%s'\nSee 'shoal-dir %s --help'.\n", cmd, what, arg, cmd);
    return DIR_EXIT_USAGE;
}

bool dir_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (*s == '\0' || strlen(s) > 19)
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

int dir_keys_load(const char *path, sh_dir_auth_keys **keys)
{
    sh_dir_auth_keys *k = sh_secret_alloc(sizeof *k);
    sh_buf text;
    int rc;

    if (k == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the keys");
    sh_buf_init_secret(&text);
    rc = sh_fs_read_file(path, SH_DIR_AUTH_KEYS_FILE_MAX_BYTES, &text);
    if (rc == SH_OK)
        rc = sh_dir_auth_keys_parse((const char *)text.data, text.len, k);
    sh_buf_free(&text);
    if (rc != SH_OK) {
        sh_secret_free(k);
        return sh_err_wrap(rc, "%s", path);
    }
    *keys = k;
    return SH_OK;
}

static void print_public(const sh_dir_auth_keys *k)
{
    char id[65], link[65];

    sh_hex_encode(id, sizeof id, k->identity, 32);
    sh_hex_encode(link, sizeof link, k->link_key, 32);
    printf("authority %s %s\n", id, link);
}

/* keygen --out FILE [--force] */
int dir_cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"force", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *out = NULL;
    bool force = false;
    sh_dir_auth_keys *k;
    sh_buf text;
    int c, rc;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 'f')
            force = true;
        else if (c == 'h') {
            puts("usage: shoal-dir keygen --out FILE [--force]\n\nWrites a new authority key file "
                 "(mode 0600): an Ed25519 identity that signs\nvotes and maps, and an X25519 link "
                 "key for Noise links. Prints the public line\n\"authority <identity> <link-key>\" "
                 "for the network file. --force replaces a file.");
            return DIR_EXIT_OK;
        } else
            return dir_usage_error("keygen", "unknown option", argv[optind - 1]);
    }
    if (out == NULL || optind != argc)
        return dir_usage_error("keygen", "needs --out FILE and no other argument", out ? out : "");
    if (!force && sh_fs_exists(out)) {
        fprintf(stderr, "shoal-dir keygen: %s exists; --force replaces it\n", out);
        return DIR_EXIT_ERROR;
    }
    if ((k = sh_secret_alloc(sizeof *k)) == NULL) {
        fputs("shoal-dir keygen: out of memory\n", stderr);
        return DIR_EXIT_ERROR;
    }
    sh_buf_init_secret(&text);
    rc = sh_dir_auth_keys_generate(k);
    if (rc == SH_OK)
        rc = sh_dir_auth_keys_format(k, &text);
    if (rc == SH_OK)
        rc = sh_fs_write_file(out, text.data, text.len, 0600);
    if (rc == SH_OK)
        print_public(k);
    sh_buf_free(&text);
    sh_secret_free(k);
    return rc == SH_OK ? DIR_EXIT_OK : dir_fail("keygen");
}

/* pubkey --key FILE */
int dir_cmd_pubkey(int argc, char **argv)
{
    sh_dir_auth_keys *k;

    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        puts("usage: shoal-dir pubkey --key FILE\n\nPrints \"authority <identity> <link-key>\" "
             "for a key file.");
        return DIR_EXIT_OK;
    }
    if (argc != 3 || strcmp(argv[1], "--key") != 0)
        return dir_usage_error("pubkey", "usage: shoal-dir pubkey --key FILE, not", argc > 1 ? argv[1] : "");
    if (dir_keys_load(argv[2], &k) != SH_OK)
        return dir_fail("pubkey");
    print_public(k);
    sh_secret_free(k);
    return DIR_EXIT_OK;
}

static const struct {
    const char *name;
    int (*run)(int, char **);
} commands[] = {
    {"keygen", dir_cmd_keygen},
    {"pubkey", dir_cmd_pubkey},
    {"init-network", dir_cmd_init_network},
    {"run", dir_cmd_run},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return DIR_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("shoal-dir %s\n", SHOAL_DIR_VERSION);
        return DIR_EXIT_OK;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return DIR_EXIT_OK;
    }
    if (sh_crypto_init() != SH_OK)
        return dir_fail("init");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            optind = 1;
            return commands[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "shoal-dir: '%s' is not a command. See 'shoal-dir --help'.\n", argv[1]);
    return DIR_EXIT_USAGE;
}
