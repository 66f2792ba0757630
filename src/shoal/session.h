/* The messaging commands' shared setup: an open account (seed, client database, network). */
#ifndef SHOAL_SESSION_H
#define SHOAL_SESSION_H

#include <stdio.h>

#include "cli.h"
#include "client/client.h"

enum cli_need {
    CLI_NEED_STATE = 0,        /* the database only (contacts, messages) */
    CLI_NEED_CLIENT = 1 << 0,  /* the e2e device too */
    CLI_NEED_NETWORK = 1 << 1, /* and a transport from the network file */
};

typedef struct cli_session {
    cli_account_paths paths;
    bool locked; /* the seed file has a passphrase (a linked device: --passphrase-file given) */
    bool linked; /* a linked device: no seed, the file `linked` (cmd_devices.c) */
    sh_client_state *state;
    sh_client_transport transport;
    bool has_transport;
    sh_client *client;
} cli_session;

/* Returns -1 with everything opened, or the exit code after printing the error. */
int cli_session_open(const cli_opts *opts, unsigned what, sh_client_event_cb cb, void *ctx,
                     cli_session *s, const char *cmd);
void cli_session_close(cli_session *s);
/* For a new device (shoal devices join): the data folder (made 0700), the client database (with
 * --passphrase-file, else the key file) and the network; no seed. -1, or the exit code. */
int cli_session_open_new(const cli_opts *opts, cli_session *s, const char *cmd);

/* A linked device's folder holds `linked` instead of `seed`: "shoal-linked 1\n<Session ID>\n".
 * SH_ERR_NOT_FOUND when there is none. */
#define CLI_LINKED_FILE "linked"
int cli_linked_read(const cli_account_paths *paths, uint8_t sid[static SH_SESSION_ID_BYTES]);
int cli_linked_write(const cli_account_paths *paths, const uint8_t sid[static SH_SESSION_ID_BYTES]);
/* Prints the error and returns its exit code (network errors 7, key errors 5, others 1). */
int cli_session_exit(const char *cmd, int err);
/* A Session ID or a contact's name into sid; -1, or the exit code after printing the error. */
int cli_resolve(cli_session *s, const char *arg, uint8_t sid[static SH_SESSION_ID_BYTES],
                const char *cmd);
/* The same without printing: an sh_err, and the exit code it would give. */
int cli_resolve_quiet(cli_session *s, const char *arg, uint8_t sid[static SH_SESSION_ID_BYTES],
                      int *exit_code);
void cli_print_id(FILE *out, const uint8_t sid[static SH_SESSION_ID_BYTES]);
/* A UTC time as 2026-11-23T23:26:06Z on stdout. */
void cli_print_time(int64_t ms);

/* The bot (cmd_bot.c). */
int cli_bot_run(const cli_opts *opts);

#endif
