/* The account commands: init, restore, id and phrase. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "session.h"
#include "util/err.h"

#define PHRASE_INPUT_MAX_BYTES 4096
#define CONFIRM_MAX_BYTES 64

#define DATA_HELP \
    "    --data DIR               the account folder (default $XDG_DATA_HOME/shoal, or\n" \
    "                             ~/.local/share/shoal)\n"
#define PASSPHRASE_HELP \
    "    --passphrase-file FILE   the passphrase that protects the seed file (its first line)\n"
#define CREATE_HELP                                                                           \
    "    --force                  replace the account already in the folder\n"                \
    PASSPHRASE_HELP                                                                           \
    "    --kdf-cost LEVEL         how hard Argon2id works on the passphrase: min (tests only),\n" \
    "                             interactive, moderate (default) or sensitive; also\n"       \
    "                             $SHOAL_KDF_COST. The file records it for later runs.\n"

static void print_session_id(const uint8_t seed[static SH_SEED_BYTES])
{
    char hex[SH_SESSION_ID_HEX_BYTES];
    sh_account *acct;

    if (sh_account_from_seed(&acct, seed) != SH_OK)
        return;
    sh_account_session_id_hex(acct, hex);
    printf("Session ID: %s\n", hex);
    sh_account_free(acct);
}

static int run_init(const cli_opts *opts)
{
    cli_account_paths paths;
    uint8_t seed[SH_SEED_BYTES];
    char phrase[SH_PHRASE_MAX_BYTES];
    int rc = cli_account_paths_get(opts, &paths);

    if (rc == SH_OK)
        rc = cli_check_no_account(&paths, opts);
    if (rc != SH_OK)
        return cli_fail("init", rc);
    sh_seed_generate(seed);
    rc = sh_phrase_encode(phrase, sizeof phrase, seed);
    if (rc == SH_OK)
        rc = cli_seedfile_write(&paths, opts, seed);
    if (rc == SH_OK) {
        printf("Created a new account in %s\n", paths.dir);
        print_session_id(seed);
        printf("Recovery phrase (shown only now; write it down and keep it secret):\n%s\n", phrase);
    }
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(phrase, sizeof phrase);
    return rc == SH_OK ? CLI_EXIT_OK : cli_fail("init", rc);
}

const cli_command cli_cmd_init = {
    .name = "init",
    .summary = "Create a new account and show its recovery phrase once",
    .usage = "shoal init [--data DIR] [--force] [--passphrase-file FILE] [--kdf-cost LEVEL]",
    .help = "Creates a new account in the data folder, prints its Session ID and its 13-word\n"
            "recovery phrase, and keeps the seed in the file 'seed' (mode 0600), encrypted when\n"
            "a passphrase is given. Refuses to replace an existing account without --force.\n\n"
            DATA_HELP CREATE_HELP,
    .options = CLI_OPT_DATA | CLI_OPT_FORCE | CLI_OPT_PASSPHRASE_FILE | CLI_OPT_KDF_COST,
    .run = run_init,
};

static int read_phrase(uint8_t seed[static SH_SEED_BYTES])
{
    sh_buf text;
    bool tty = isatty(STDIN_FILENO);
    int rc;

    if (tty)
        fputs("Type the 13 words of the recovery phrase, then Enter: ", stderr);
    sh_buf_init_secret(&text);
    rc = cli_stdin_read(&text, PHRASE_INPUT_MAX_BYTES, tty);
    if (rc == SH_OK)
        rc = sh_phrase_decode(seed, (const char *)text.data);
    sh_buf_free(&text);
    return rc;
}

static int run_restore(const cli_opts *opts)
{
    cli_account_paths paths;
    uint8_t seed[SH_SEED_BYTES];
    int rc = cli_account_paths_get(opts, &paths);

    if (rc == SH_OK)
        rc = cli_check_no_account(&paths, opts);
    if (rc != SH_OK)
        return cli_fail("restore", rc);
    rc = read_phrase(seed);
    if (rc == SH_ERR_INVALID || rc == SH_ERR_FORMAT || rc == SH_ERR_RANGE || rc == SH_ERR_CHECKSUM)
        return cli_failf("restore", CLI_EXIT_BAD_PHRASE, "%s", sh_err_msg());
    if (rc == SH_OK)
        rc = cli_seedfile_write(&paths, opts, seed);
    if (rc == SH_OK) {
        printf("Restored the account in %s\n", paths.dir);
        print_session_id(seed);
    }
    sodium_memzero(seed, sizeof seed);
    return rc == SH_OK ? CLI_EXIT_OK : cli_fail("restore", rc);
}

const cli_command cli_cmd_restore = {
    .name = "restore",
    .summary = "Restore an account from its recovery phrase, read from standard input",
    .usage = "shoal restore [--data DIR] [--force] [--passphrase-file FILE] [--kdf-cost LEVEL]",
    .help = "Reads a recovery phrase from standard input (never from the command line, where\n"
            "other users could see it) and restores its account in the data folder. A Session\n"
            "recovery phrase gives the same Session ID. Words may be in any case and cut to\n"
            "their first 3 letters. Refuses to replace an existing account without --force.\n\n"
            DATA_HELP CREATE_HELP,
    .options = CLI_OPT_DATA | CLI_OPT_FORCE | CLI_OPT_PASSPHRASE_FILE | CLI_OPT_KDF_COST,
    .run = run_restore,
};

static int run_id(const cli_opts *opts)
{
    cli_account_paths paths;
    uint8_t id[SH_SESSION_ID_BYTES];
    char hex[SH_SESSION_ID_HEX_BYTES];
    sh_buf file;
    int rc = cli_account_paths_get(opts, &paths);

    sh_buf_init_secret(&file);
    if (rc == SH_OK && cli_linked_read(&paths, id) == SH_OK)
        goto print; /* a linked device */
    if (rc == SH_OK)
        rc = cli_seedfile_read(&paths, &file);
    if (rc == SH_OK)
        rc = sh_seedfile_session_id(file.data, file.len, id);
print:
    sh_buf_free(&file);
    if (rc != SH_OK)
        return cli_fail("id", rc);
    sh_session_id_format(hex, id + 1);
    printf("%s\n", hex);
    return CLI_EXIT_OK;
}

const cli_command cli_cmd_id = {
    .name = "id",
    .summary = "Print the account's Session ID",
    .usage = "shoal id [--data DIR]",
    .help = "Prints the Session ID of the account in the data folder: 66 hex digits starting\n"
            "with 05. It needs no passphrase.\n\n" DATA_HELP,
    .options = CLI_OPT_DATA,
    .run = run_id,
};

/* Asks on standard input unless --yes was given. */
static bool confirmed(const cli_opts *opts)
{
    sh_buf answer;
    bool yes;

    if (opts->yes)
        return true;
    fputs("Anyone who sees the recovery phrase can take over the account.\n"
          "Type 'yes' to show it: ", stderr);
    sh_buf_init(&answer);
    yes = cli_stdin_read(&answer, CONFIRM_MAX_BYTES, true) == SH_OK &&
          (strcmp((const char *)answer.data, "yes") == 0 ||
           strcmp((const char *)answer.data, "yes\r") == 0);
    sh_buf_free(&answer);
    if (!isatty(STDIN_FILENO))
        fputc('\n', stderr);
    return yes;
}

/* Decrypts the seed (with the passphrase when the file has one) and prints its phrase. */
static int show_phrase(const cli_opts *opts, const sh_buf *file)
{
    uint8_t seed[SH_SEED_BYTES];
    char phrase[SH_PHRASE_MAX_BYTES];
    sh_buf pass;
    int rc;

    sh_buf_init_secret(&pass);
    rc = cli_passphrase_read(opts, &pass);
    if (rc == SH_OK)
        rc = sh_seedfile_open(seed, file->data, file->len,
                              opts->passphrase_file ? (const char *)pass.data : NULL, pass.len);
    if (rc == SH_OK)
        rc = sh_phrase_encode(phrase, sizeof phrase, seed);
    if (rc == SH_OK)
        printf("%s\n", phrase);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(phrase, sizeof phrase);
    sh_buf_free(&pass);
    return rc;
}

static int run_phrase(const cli_opts *opts)
{
    cli_account_paths paths;
    sh_buf file;
    bool locked = false;
    int rc = cli_account_paths_get(opts, &paths);

    sh_buf_init_secret(&file);
    if (rc == SH_OK)
        rc = cli_seedfile_read(&paths, &file);
    if (rc == SH_OK)
        rc = sh_seedfile_has_passphrase(file.data, file.len, &locked);
    if (rc == SH_OK && locked && opts->passphrase_file == NULL)
        rc = sh_err_set(SH_ERR_PERMISSION, "the account is protected by a passphrase; "
                                           "give it with --passphrase-file FILE");
    if (rc == SH_OK && !confirmed(opts)) {
        sh_buf_free(&file);
        return cli_failf("phrase", CLI_EXIT_ERROR, "not confirmed; the phrase was not shown");
    }
    if (rc == SH_OK)
        rc = show_phrase(opts, &file);
    sh_buf_free(&file);
    return rc == SH_OK ? CLI_EXIT_OK : cli_fail("phrase", rc);
}

const cli_command cli_cmd_phrase = {
    .name = "phrase",
    .summary = "Show the account's recovery phrase (asks first)",
    .usage = "shoal phrase [--data DIR] [--passphrase-file FILE] [--yes]",
    .help = "Shows the 13-word recovery phrase of the account after you type 'yes' on standard\n"
            "input (or give --yes). Whoever has the phrase has the account.\n\n"
            DATA_HELP PASSPHRASE_HELP
            "    --yes                    show it without asking\n",
    .options = CLI_OPT_DATA | CLI_OPT_PASSPHRASE_FILE | CLI_OPT_YES,
    .run = run_phrase,
};
