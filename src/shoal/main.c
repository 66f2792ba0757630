/* shoal: the command-line client. Finds the command, hands it its arguments, and prints the
 * help and version; everything else lives in the command files and in libshoal. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_command *const commands[] = {
    &cli_cmd_init, &cli_cmd_restore, &cli_cmd_id, &cli_cmd_phrase, &cli_cmd_send,
    &cli_cmd_listen, &cli_cmd_messages, &cli_cmd_contacts, &cli_cmd_devices, &cli_cmd_status,
    &cli_cmd_bot,
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fputs("usage: shoal [--version] [--help] [--data DIR] <command> [<args>]\n\n"
          "Commands:\n",
          out);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "   %-10s %s\n", commands[i]->name, commands[i]->summary);
    fputs("\n'shoal <command> --help' or 'shoal help <command>' describes a command.\n"
          "The account lives in --data DIR (default $XDG_DATA_HOME/shoal or ~/.local/share/shoal).\n"
          "Exit codes: 0 ok, 1 error, 2 usage, 3 no account, 4 account exists, 5 wrong or missing\n"
          "passphrase, 6 bad recovery phrase, 7 network unreachable, 8 no such contact, 9 bad\n"
          "Session ID, 10 damaged database, 11 recipient not on the network (docs/cli.md).\n",
          out);
}

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

static int unknown_command(const char *name)
{
    fprintf(stderr, "shoal: '%s' is not a shoal command. See 'shoal --help'.\n", name);
    return CLI_EXIT_USAGE;
}

static int help_command(int argc, char **argv)
{
    const cli_command *cmd;

    if (argc < 2) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    cmd = find_command(argv[1]);
    if (cmd == NULL)
        return unknown_command(argv[1]);
    cli_print_command_help(cmd);
    return CLI_EXIT_OK;
}

/* Options before the command: --version, --help and --data DIR. Returns -1 and sets *first to
 * the index of the command, or returns the exit code to end with. */
static int global_options(int argc, char **argv, const char **data, int *first)
{
    int i = 1;

    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("shoal %s\n", SHOAL_VERSION);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--data") == 0) {
            if (i + 1 == argc) {
                fputs("shoal: --data needs a folder. See 'shoal --help'.\n", stderr);
                return CLI_EXIT_USAGE;
            }
            *data = argv[++i];
        } else if (strncmp(argv[i], "--data=", 7) == 0) {
            *data = argv[i] + 7;
        } else {
            fprintf(stderr, "shoal: unknown option '%s'. See 'shoal --help'.\n", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    if (i == argc) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    *first = i;
    return -1;
}

int main(int argc, char **argv)
{
    cli_opts opts = {0};
    const cli_command *cmd;
    int first = 0, rc = global_options(argc, argv, &opts.data, &first);

    if (rc >= 0)
        return rc;
    if (strcmp(argv[first], "help") == 0)
        return help_command(argc - first, argv + first);
    cmd = find_command(argv[first]);
    if (cmd == NULL)
        return unknown_command(argv[first]);
    if (sh_identity_init() != SH_OK)
        return cli_fail(cmd->name, SH_ERR_INTERNAL);
    rc = cli_parse(cmd, argc - first, argv + first, &opts);
    if (rc >= 0)
        return rc;
    return cmd->run(&opts);
}
