/* `shoal devices`: list the account's devices, link a new one (on the primary: `link` shows a
 * link code; on the new device: `join <code>`), revoke one (docs/cli.md "Devices"). The link
 * itself, its rendezvous and its errors are the client module's (docs/client.md "Linked
 * devices"); this file waits, prints and asks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "session.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/time.h"

#define ANSWER_MAX_BYTES 64
#define LINK_POLL_MS 20000u /* one long-poll of the rendezvous */

/* The exit code of a failed link step. */
static int link_fail(const char *cmd, int rc)
{
    switch (rc) {
    case SH_ERR_FORMAT:
    case SH_ERR_CHECKSUM: return cli_failf(cmd, CLI_EXIT_LINK_CODE, "%s", sh_err_msg());
    case SH_ERR_STALE: return cli_failf(cmd, CLI_EXIT_LINK_EXPIRED, "%s", sh_err_msg());
    case SH_ERR_EXISTS: return cli_failf(cmd, CLI_EXIT_LINK_USED, "%s", sh_err_msg());
    case SH_ERR_PERMISSION:
        if (strstr(sh_err_msg(), "refused") != NULL)
            return cli_failf(cmd, CLI_EXIT_LINK_REFUSED, "%s", sh_err_msg());
        return cli_failf(cmd, CLI_EXIT_ERROR, "%s", sh_err_msg());
    default: return cli_session_exit(cmd, rc);
    }
}

/* How long to wait in all: --wait-ms, else the code's lifetime. */
static int64_t link_deadline(const cli_opts *opts)
{
    return sh_time_mono_ms() + (opts->wait_ms > 0 ? opts->wait_ms : SH_CLIENT_LINK_TTL_MS);
}

static uint32_t poll_ms(int64_t deadline)
{
    int64_t left = deadline - sh_time_mono_ms();

    return left <= 0 ? 0 : left < LINK_POLL_MS ? (uint32_t)left : LINK_POLL_MS;
}

static int run_list(const cli_opts *opts)
{
    sh_client_device_info devs[SH_E2E_MAX_DEVICES + SH_E2E_MAX_REVOKED];
    cli_session s;
    size_t n = 0;
    int rc = cli_session_open(opts, CLI_NEED_CLIENT, NULL, NULL, &s, "devices");

    if (rc >= 0)
        return rc;
    rc = sh_client_devices(s.client, devs, sizeof devs / sizeof devs[0], &n);
    for (size_t i = 0; rc == SH_OK && i < n && i < sizeof devs / sizeof devs[0]; i++) {
        printf("device %u", devs[i].id);
        if (devs[i].revoked) {
            printf(" revoked ");
        } else {
            printf(" (%s%s) added ", devs[i].self ? "this device, " : "",
                   devs[i].primary ? "primary" : "linked");
        }
        cli_print_time(devs[i].added_ms);
        putchar('\n');
    }
    cli_session_close(&s);
    return rc == SH_OK ? CLI_EXIT_OK : cli_fail("devices", rc);
}

static bool confirmed(const cli_opts *opts)
{
    char line[ANSWER_MAX_BYTES];

    if (opts->yes)
        return true;
    fputs("Do these match the new device's screen? Type yes to link it: ", stdout);
    fflush(stdout);
    if (fgets(line, sizeof line, stdin) == NULL)
        return false;
    line[strcspn(line, "\r\n")] = '\0';
    return strcmp(line, "yes") == 0;
}

/* The primary: shows a code, waits for the new device, shows the SAS, asks, answers. */
static int run_link(const cli_opts *opts)
{
    char code[SH_E2E_LINK_CODE_BYTES], sas[SH_E2E_SAS_BYTES];
    int64_t deadline = link_deadline(opts);
    sh_client_link *l = NULL;
    uint32_t id = 0;
    cli_session s;
    int rc = cli_session_open(opts, CLI_NEED_CLIENT | CLI_NEED_NETWORK, NULL, NULL, &s, "devices");

    if (rc >= 0)
        return rc;
    if (!sh_client_is_primary(s.client)) {
        cli_session_close(&s);
        return cli_failf("devices", CLI_EXIT_ERROR, "only the primary device links new devices");
    }
    rc = sh_client_publish(s.client, false);
    if (rc == SH_OK)
        rc = sh_client_link_begin(s.client, code, &l);
    if (rc == SH_OK) {
        printf("Link code (valid once, for 10 minutes):\n%s\n"
               "On the new device run: shoal devices join %s\nWaiting for the new device...\n",
               code, code);
        fflush(stdout);
    }
    do
        rc = rc == SH_OK || rc == SH_ERR_TIMEOUT ? sh_client_link_wait_request(l, poll_ms(deadline), sas)
                                                 : rc;
    while (rc == SH_ERR_TIMEOUT && sh_time_mono_ms() < deadline);
    if (rc == SH_ERR_TIMEOUT)
        rc = sh_err_set(SH_ERR_STALE, "no new device answered the link code in time");
    if (rc == SH_OK) {
        printf("The new device shows: %s\n", sas);
        bool yes = confirmed(opts);
        rc = sh_client_link_confirm(l, yes, &id);
        if (rc == SH_OK && !yes)
            rc = sh_err_set(SH_ERR_PERMISSION, "not linked: the emoji were not confirmed "
                                               "(refused)");
    }
    if (rc == SH_OK)
        printf("Linked device %u\n", id);
    sh_client_link_free(l);
    cli_session_close(&s);
    return rc == SH_OK ? CLI_EXIT_OK : link_fail("devices", rc);
}

/* The new device: sends its request for the code, shows the SAS, waits for the primary. */
static int run_join(const cli_opts *opts)
{
    char sas[SH_E2E_SAS_BYTES];
    uint8_t sid[SH_SESSION_ID_BYTES];
    int64_t deadline = link_deadline(opts);
    sh_client_link *l = NULL;
    cli_account_paths paths;
    cli_session s;
    int rc = cli_account_paths_get(opts, &paths);

    if (rc == SH_OK && !opts->force && (sh_fs_exists(paths.seed) ||
                                        cli_linked_read(&paths, sid) != SH_ERR_NOT_FOUND))
        rc = sh_err_set(SH_ERR_EXISTS, "%s already holds an account or a linked device; use "
                        "another --data folder (or --force)", paths.dir);
    if (rc != SH_OK)
        return cli_fail("devices", rc);
    if ((rc = cli_session_open_new(opts, &s, "devices")) >= 0)
        return rc;
    rc = sh_client_link_request(s.state, &s.transport, opts->argv[1], sas, &l);
    if (rc == SH_OK) {
        sh_client_link_account(l, sid);
        printf("Linking to ");
        cli_print_id(stdout, sid);
        printf("\nCheck that the primary shows: %s\nWaiting for the primary to confirm...\n", sas);
        fflush(stdout);
    }
    do
        rc = rc == SH_OK || rc == SH_ERR_TIMEOUT ? sh_client_link_wait_response(l, poll_ms(deadline))
                                                 : rc;
    while (rc == SH_ERR_TIMEOUT && sh_time_mono_ms() < deadline);
    if (rc == SH_ERR_TIMEOUT)
        rc = sh_err_set(SH_ERR_STALE, "no answer from the primary: the link code expired or is "
                                      "unknown (is 'shoal devices link' still waiting there?)");
    if (rc == SH_OK)
        rc = cli_linked_write(&s.paths, sid);
    sh_client_link_free(l);
    if (rc == SH_OK) {
        cli_session_close(&s);
        if ((rc = cli_session_open(opts, CLI_NEED_CLIENT | CLI_NEED_NETWORK, NULL, NULL, &s,
                                   "devices")) >= 0)
            return rc;
        rc = sh_client_publish(s.client, false); /* our prekey bundle, signed with the token */
        printf("Linked as device %u of ", sh_client_device_id(s.client));
        cli_print_id(stdout, sid);
        putchar('\n');
    }
    cli_session_close(&s);
    return rc == SH_OK ? CLI_EXIT_OK : link_fail("devices", rc);
}

static int run_revoke(const cli_opts *opts)
{
    char *end;
    unsigned long id = strtoul(opts->argv[1], &end, 10);
    cli_session s;
    int rc;

    if (*end != '\0' || end == opts->argv[1] || id == 0 || id > UINT32_MAX)
        return cli_failf("devices", CLI_EXIT_USAGE, "'%s' is not a device number (see 'shoal "
                         "devices list')", opts->argv[1]);
    if ((rc = cli_session_open(opts, CLI_NEED_CLIENT | CLI_NEED_NETWORK, NULL, NULL, &s,
                               "devices")) >= 0)
        return rc;
    rc = sh_client_revoke_device(s.client, (uint32_t)id);
    if (rc == SH_OK)
        printf("Revoked device %lu\n", id);
    cli_session_close(&s);
    if (rc == SH_ERR_PERMISSION || rc == SH_ERR_NOT_FOUND)
        return cli_failf("devices", CLI_EXIT_ERROR, "%s", sh_err_msg());
    return rc == SH_OK ? CLI_EXIT_OK : cli_session_exit("devices", rc);
}

static int run_devices(const cli_opts *opts)
{
    const char *sub = opts->argv[0];
    bool one = opts->argc == 1, two = opts->argc == 2;

    if (strcmp(sub, "list") == 0 && one)
        return run_list(opts);
    if (strcmp(sub, "link") == 0 && one)
        return run_link(opts);
    if (strcmp(sub, "join") == 0 && two)
        return run_join(opts);
    if (strcmp(sub, "revoke") == 0 && two)
        return run_revoke(opts);
    return cli_failf("devices", CLI_EXIT_USAGE, "usage: %s", cli_cmd_devices.usage);
}

const cli_command cli_cmd_devices = {
    .name = "devices",
    .summary = "List, link and revoke the account's devices",
    .usage = "shoal devices [--data DIR] [--network FILE] (list | link [--yes] | join <code> | "
             "revoke <device>)",
    .help = "list            the account's devices as this device knows them\n"
            "link            (primary) shows a one-time link code and waits for the new device;\n"
            "                shows the emoji the new device shows and asks to confirm (--yes:\n"
            "                without asking); then publishes the new device list\n"
            "join <code>     (new device, an empty --data folder) links this device to the\n"
            "                account of the code; shows the emoji to compare on the primary\n"
            "revoke <device> (primary) revokes a linked device: a new device list and its token\n"
            "                on the revocation list; nodes then refuse it\n\n"
            "    --data DIR               the account folder (default $XDG_DATA_HOME/shoal)\n"
            "    --network FILE           the network file (default $SHOAL_NETWORK)\n"
            "    --passphrase-file FILE   the passphrase (join: protects the new database)\n"
            "    --yes                    link without asking to compare the emoji\n"
            "    --wait-ms MS             link, join: wait at most this long (default: the code's\n"
            "                             10 minutes)\n"
            "    --force                  join: replace what the data folder holds\n",
    .options = CLI_OPT_DATA | CLI_OPT_PASSPHRASE_FILE | CLI_OPT_KDF_COST | CLI_OPT_NETWORK |
               CLI_OPT_YES | CLI_OPT_LISTEN | CLI_OPT_FORCE,
    .min_args = 1,
    .max_args = 2,
    .run = run_devices,
};
