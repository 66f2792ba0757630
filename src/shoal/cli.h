/* Shared parts of the shoal command-line client: exit codes, the command table, option parsing
 * and the account files under the data folder. Commands only wire these to libshoal. */
#ifndef SHOAL_CLI_H
#define SHOAL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shoal/identity.h>

#include "util/buf.h"

#define SHOAL_VERSION "0.1.0"

/* Exit codes (docs/cli.md lists them for users). */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_ERROR = 1,      /* anything not listed below */
    CLI_EXIT_USAGE = 2,      /* bad command line */
    CLI_EXIT_NOT_FOUND = 3,  /* no account in the data folder */
    CLI_EXIT_EXISTS = 4,     /* an account exists and --force was not given */
    CLI_EXIT_PASSPHRASE = 5, /* the passphrase is wrong or missing */
    CLI_EXIT_BAD_PHRASE = 6, /* the recovery phrase was rejected */
    CLI_EXIT_NETWORK = 7,    /* the network cannot be reached (what was sent stays queued) */
    CLI_EXIT_NO_CONTACT = 8, /* no contact of that name */
    CLI_EXIT_BAD_ID = 9,     /* not a valid Session ID */
    CLI_EXIT_DATABASE = 10,  /* the client database is damaged or is not one */
    CLI_EXIT_NO_PEER = 11,   /* the recipient has published no keys on this network */
    CLI_EXIT_LINK_CODE = 12,    /* a link code that is mistyped or malformed */
    CLI_EXIT_LINK_EXPIRED = 13, /* no answer before the link code expired (or an unknown code) */
    CLI_EXIT_LINK_USED = 14,    /* the link code was already used */
    CLI_EXIT_LINK_REFUSED = 15, /* the emoji were not confirmed on the primary */
    CLI_EXIT_REVOKED = 16,      /* this device was revoked from its account */
};

/* Which options a command accepts. */
enum cli_option {
    CLI_OPT_DATA = 1 << 0,
    CLI_OPT_FORCE = 1 << 1,
    CLI_OPT_PASSPHRASE_FILE = 1 << 2,
    CLI_OPT_KDF_COST = 1 << 3,
    CLI_OPT_YES = 1 << 4,
    CLI_OPT_NETWORK = 1 << 5,
    CLI_OPT_LISTEN = 1 << 6, /* --count N, --once, --wait-ms MS, --paths */
};

typedef struct cli_opts {
    const char *data;            /* --data DIR */
    const char *passphrase_file; /* --passphrase-file FILE */
    const char *kdf_cost;        /* --kdf-cost LEVEL */
    const char *network;         /* --network FILE */
    long count;                  /* --count N: stop after N messages (listen); 0 = never */
    long wait_ms;                /* --wait-ms MS: longest long-poll (listen, bot) */
    bool force, yes, help, once;
    bool paths;                  /* --paths: print the path each message was fetched through */
    int argc;                    /* positional arguments after the command */
    char **argv;
} cli_opts;

typedef struct cli_command {
    const char *name;
    const char *summary; /* one line for `shoal --help` */
    const char *usage;   /* the synopsis after "usage: " */
    const char *help;    /* description and options for `shoal CMD --help` */
    unsigned options;    /* enum cli_option bits */
    int min_args, max_args; /* positional arguments accepted (both 0: none) */
    int (*run)(const cli_opts *opts);
} cli_command;

extern const cli_command cli_cmd_init, cli_cmd_restore, cli_cmd_id, cli_cmd_phrase;
extern const cli_command cli_cmd_send, cli_cmd_listen, cli_cmd_messages, cli_cmd_contacts,
    cli_cmd_devices, cli_cmd_status, cli_cmd_bot;

/* Parses a command's arguments (argv[0] is the command name). Returns -1 to go on, or the exit
 * code to end with (after --help, or a usage error already printed). */
int cli_parse(const cli_command *cmd, int argc, char **argv, cli_opts *opts);
void cli_print_command_help(const cli_command *cmd);
/* Prints "shoal CMD: <sh_err_msg()>" and returns the exit code for `err`. */
int cli_fail(const char *cmd, int err);
/* Prints "shoal CMD: <message>" and returns `exit_code`. */
int cli_failf(const char *cmd, int exit_code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The account folder and its seed file. */
typedef struct cli_account_paths {
    char dir[4096];
    char seed[4096];
} cli_account_paths;

int cli_account_paths_get(const cli_opts *opts, cli_account_paths *out);
/* Reads the seed file (SH_ERR_NOT_FOUND when there is no account) into a secret buffer. */
int cli_seedfile_read(const cli_account_paths *paths, sh_buf *file);
/* Seals the seed (with the passphrase when one was given) and writes the seed file 0600. */
int cli_seedfile_write(const cli_account_paths *paths, const cli_opts *opts,
                       const uint8_t seed[static SH_SEED_BYTES]);
/* SH_ERR_EXISTS (naming the account) when the folder holds an account and --force was not given. */
int cli_check_no_account(const cli_account_paths *paths, const cli_opts *opts);
/* The passphrase in --passphrase-file (its first line), or an empty buffer without the option. */
int cli_passphrase_read(const cli_opts *opts, sh_buf *out);
/* Reads at most `max` bytes of standard input: one line from a terminal, all of it otherwise. */
int cli_stdin_read(sh_buf *out, size_t max, bool one_line);

#endif
