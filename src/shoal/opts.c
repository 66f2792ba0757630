/* Option parsing, help output and error reporting shared by every shoal command. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct option long_options[] = {
    {"data", required_argument, NULL, 'd'},
    {"force", no_argument, NULL, 'f'},
    {"passphrase-file", required_argument, NULL, 'p'},
    {"kdf-cost", required_argument, NULL, 'k'},
    {"yes", no_argument, NULL, 'y'},
    {"network", required_argument, NULL, 'n'},
    {"count", required_argument, NULL, 'c'},
    {"wait-ms", required_argument, NULL, 'w'},
    {"once", no_argument, NULL, 'o'},
    {"paths", no_argument, NULL, 'P'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

void cli_print_command_help(const cli_command *cmd)
{
    printf("usage: %s\n\n%s", cmd->usage, cmd->help);
}

static int usage_error(const cli_command *cmd, const char *what, const char *arg)
{
    fprintf(stderr, "shoal %s: %s '%s'\nusage: %s\nSee 'shoal %s --help'.\n", cmd->name, what, arg,
            cmd->usage, cmd->name);
    return CLI_EXIT_USAGE;
}

/* A count or duration: decimal digits, at most 9 of them; -1 otherwise. */
static long number(const char *s)
{
    long v = 0;
    size_t n = strlen(s);

    if (n == 0 || n > 9 || strspn(s, "0123456789") != n)
        return -1;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* Stores option `c` if the command takes it; false when it does not. */
static bool take_option(const cli_command *cmd, int c, cli_opts *opts)
{
    switch (c) {
    case 'h': opts->help = true; return true;
    case 'd': opts->data = optarg; return (cmd->options & CLI_OPT_DATA) != 0;
    case 'f': opts->force = true; return (cmd->options & CLI_OPT_FORCE) != 0;
    case 'p': opts->passphrase_file = optarg; return (cmd->options & CLI_OPT_PASSPHRASE_FILE) != 0;
    case 'k': opts->kdf_cost = optarg; return (cmd->options & CLI_OPT_KDF_COST) != 0;
    case 'y': opts->yes = true; return (cmd->options & CLI_OPT_YES) != 0;
    case 'n': opts->network = optarg; return (cmd->options & CLI_OPT_NETWORK) != 0;
    case 'c': opts->count = number(optarg); return (cmd->options & CLI_OPT_LISTEN) != 0;
    case 'w': opts->wait_ms = number(optarg); return (cmd->options & CLI_OPT_LISTEN) != 0;
    case 'o': opts->once = true; return (cmd->options & CLI_OPT_LISTEN) != 0;
    case 'P': opts->paths = true; return (cmd->options & CLI_OPT_LISTEN) != 0;
    default: return false;
    }
}

int cli_parse(const cli_command *cmd, int argc, char **argv, cli_opts *opts)
{
    int c;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
        if (c == ':')
            return usage_error(cmd, "missing value for option", argv[optind - 1]);
        if (!take_option(cmd, c, opts))
            return usage_error(cmd, "unknown option", argv[optind - 1]);
    }
    if (opts->help) {
        cli_print_command_help(cmd);
        return CLI_EXIT_OK;
    }
    if (argc - optind > cmd->max_args)
        return usage_error(cmd, "unexpected argument", argv[optind + cmd->max_args]);
    if (argc - optind < cmd->min_args)
        return usage_error(cmd, "missing argument after", argv[argc - 1]);
    if (opts->count < 0 || opts->wait_ms < 0 || opts->wait_ms > 60000)
        return usage_error(cmd, "--count takes a number, --wait-ms 0 to 60000, not",
                           opts->count < 0 ? "a non-number" : "that");
    opts->argc = argc - optind;
    opts->argv = argv + optind;
    if (opts->kdf_cost != NULL && sh_kdf_cost_parse(opts->kdf_cost, &(sh_kdf_cost){0}) != SH_OK)
        return usage_error(cmd, "--kdf-cost must be min, interactive, moderate or sensitive, not",
                           opts->kdf_cost);
    return -1;
}

static int exit_code_of(int err)
{
    switch (err) {
    case SH_ERR_NOT_FOUND: return CLI_EXIT_NOT_FOUND;
    case SH_ERR_EXISTS: return CLI_EXIT_EXISTS;
    case SH_ERR_CRYPTO:
    case SH_ERR_PERMISSION: return CLI_EXIT_PASSPHRASE;
    default: return CLI_EXIT_ERROR;
    }
}

int cli_fail(const char *cmd, int err)
{
    const char *msg = sh_err_msg();

    fprintf(stderr, "shoal %s: %s\n", cmd, msg[0] != '\0' ? msg : sh_err_name(err));
    return exit_code_of(err);
}

int cli_failf(const char *cmd, int exit_code, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "shoal %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return exit_code;
}
