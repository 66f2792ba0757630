/* The messaging commands: send, listen, messages, contacts, status (docs/cli.md; devices are in
 * cmd_devices.c). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "session.h"
#include "util/encode.h"
#include "util/err.h"

#define DATA_NET_HELP                                                                          \
    "    --data DIR               the account folder (default $XDG_DATA_HOME/shoal)\n"         \
    "    --network FILE           the network file (default $SHOAL_NETWORK)\n"                 \
    "    --passphrase-file FILE   the account's passphrase (also unlocks the client database)\n"
#define DATA_HELP                                                                              \
    "    --data DIR               the account folder (default $XDG_DATA_HOME/shoal)\n"         \
    "    --passphrase-file FILE   the account's passphrase (also unlocks the client database)\n"

#define OPTS_STATE (CLI_OPT_DATA | CLI_OPT_PASSPHRASE_FILE | CLI_OPT_KDF_COST)
#define OPTS_NET (OPTS_STATE | CLI_OPT_NETWORK)

static const char *state_word(const sh_client_message *m, char *buf, size_t n)
{
    switch (m->state) {
    case SH_CLIENT_QUEUED: return "queued";
    case SH_CLIENT_STORED: snprintf(buf, n, "stored-%u/%u", m->stored_k, m->stored_n); return buf;
    case SH_CLIENT_DELIVERED: return "delivered";
    case SH_CLIENT_EXPIRED: return "expired";
    default: return "received";
    }
}

/* "who": the contact's name or the Session ID. */
static void print_peer(cli_session *s, const uint8_t sid[static SH_SESSION_ID_BYTES])
{
    char name[SH_CLIENT_MAX_NAME_BYTES + 1] = "";

    if (sh_client_contact_name(s->state, sid, name) == SH_OK && name[0] != '\0')
        fputs(name, stdout);
    else
        cli_print_id(stdout, sid);
}

/* ---- send ------------------------------------------------------------------------------------ */

static int send_exit(int rc)
{
    if (rc == SH_ERR_NOT_FOUND)
        return cli_failf("send", CLI_EXIT_NO_PEER, "%s (the message stays queued)", sh_err_msg());
    if (rc == SH_ERR_UNAVAILABLE || rc == SH_ERR_TIMEOUT)
        return cli_failf("send", CLI_EXIT_NETWORK, "%s (the message stays queued and goes out with "
                         "the next send or listen)", sh_err_msg());
    return cli_fail("send", rc);
}

static int read_text(const cli_opts *opts, sh_buf *text)
{
    int rc = SH_OK;

    if (opts->argc > 1) {
        for (int i = 1; i < opts->argc && rc == SH_OK; i++)
            if ((i > 1 && (rc = sh_buf_append_u8(text, ' ')) != SH_OK) ||
                (rc = sh_buf_append_str(text, opts->argv[i])) != SH_OK)
                break;
        return rc;
    }
    rc = cli_stdin_read(text, SH_CLIENT_MAX_TEXT_BYTES + 2, false);
    while (rc == SH_OK && text->len > 0 && text->data[text->len - 1] == '\n')
        text->len--;
    return rc;
}

static int run_send(const cli_opts *opts)
{
    cli_session s;
    uint8_t to[SH_SESSION_ID_BYTES];
    char path[512];
    int64_t row = 0;
    sh_buf text;
    int rc = cli_session_open(opts, CLI_NEED_CLIENT | CLI_NEED_NETWORK, NULL, NULL, &s, "send");

    if (rc >= 0)
        return rc;
    sh_buf_init_secret(&text);
    if ((rc = cli_resolve(&s, opts->argv[0], to, "send")) >= 0)
        goto done;
    if ((rc = read_text(opts, &text)) != SH_OK || text.len == 0) {
        rc = cli_failf("send", CLI_EXIT_USAGE, "%s",
                       rc != SH_OK ? sh_err_msg() : "there is no text to send");
        goto done;
    }
    rc = sh_client_publish(s.client, false);
    if (rc == SH_OK || rc == SH_ERR_UNAVAILABLE || rc == SH_ERR_TIMEOUT)
        rc = sh_client_send_text(s.client, to, text.data, text.len, &row);
    if (rc == SH_ERR_INVALID || rc == SH_ERR_LIMIT) {
        rc = cli_failf("send", CLI_EXIT_USAGE, "%s", sh_err_msg());
        goto done;
    }
    if (rc != SH_OK && row == 0) {
        rc = send_exit(rc);
        goto done;
    }
    printf("sent to ");
    print_peer(&s, to);
    printf(rc == SH_OK ? "\n" : " (queued)\n");
    if (rc == SH_OK && sh_client_describe_peer(s.client, to, path, sizeof path) == SH_OK)
        printf("path: %s\n", path);
    rc = rc == SH_OK ? CLI_EXIT_OK : send_exit(rc);
done:
    sh_buf_free(&text);
    cli_session_close(&s);
    return rc;
}

const cli_command cli_cmd_send = {
    .name = "send",
    .summary = "Send a text message to a Session ID or a contact",
    .usage = "shoal send [--data DIR] [--network FILE] <session-id|contact> [<text>...]",
    .help = "Encrypts the text (the arguments joined with spaces, or standard input) for every\n"
            "device of the recipient and stores it in the recipient's swarm. The message goes\n"
            "into the outbox first: if the network cannot be reached it stays there (exit 7)\n"
            "and goes out with the next send or listen.\n\n" DATA_NET_HELP,
    .options = OPTS_NET,
    .min_args = 1,
    .max_args = 4096,
    .run = run_send,
};

/* ---- listen ---------------------------------------------------------------------------------- */

typedef struct listen_ctx {
    cli_session *s;
    bool paths;
    long printed;
} listen_ctx;

static void listen_event_cb(const sh_client_event *ev, void *ctx)
{
    listen_ctx *l = ctx;
    const sh_client_message *m = ev->msg;
    char path[512];

    if (ev->kind != SH_CLIENT_EV_MESSAGE)
        return;
    cli_print_time(m->sent_ms);
    printf(m->outgoing ? " to " : " from ");
    print_peer(l->s, m->peer);
    printf(": %.*s\n", (int)m->text_len, (const char *)m->text);
    if (l->paths && sh_client_describe(l->s->client, path, sizeof path) == SH_OK)
        printf("  fetched through %s\n", path);
    fflush(stdout);
    l->printed++;
}

static int run_listen(const cli_opts *opts)
{
    cli_session s;
    listen_ctx l = {.s = &s, .paths = opts->paths};
    uint32_t wait = opts->once ? 0 : opts->wait_ms > 0 ? (uint32_t)opts->wait_ms : 25000;
    size_t got;
    int rc = cli_session_open(opts, CLI_NEED_CLIENT | CLI_NEED_NETWORK, listen_event_cb, &l, &s,
                              "listen");

    if (rc >= 0)
        return rc;
    rc = sh_client_publish(s.client, false);
    while (rc == SH_OK) {
        rc = sh_client_poll(s.client, wait, &got);
        if (opts->once || (opts->count > 0 && l.printed >= opts->count))
            break;
    }
    if (rc == SH_OK) {
        size_t sent;
        rc = sh_client_flush(s.client, &sent); /* acknowledgements of the last page */
    }
    cli_session_close(&s);
    return rc == SH_OK ? CLI_EXIT_OK : cli_session_exit("listen", rc);
}

const cli_command cli_cmd_listen = {
    .name = "listen",
    .summary = "Print incoming messages as they arrive",
    .usage = "shoal listen [--data DIR] [--network FILE] [--count N] [--once] [--wait-ms MS] "
             "[--paths]",
    .help = "Publishes this device's keys when needed, sends what waits in the outbox, then\n"
            "long-polls the account's inbox and prints each new message as\n"
            "'<time> from <contact or Session ID>: <text>' (copies of what our other devices\n"
            "sent as 'to'). Each message is acknowledged to its sender.\n\n" DATA_NET_HELP
            "    --count N                stop after N messages\n"
            "    --once                   fetch what is there now and stop\n"
            "    --wait-ms MS             longest long-poll (default 25000, at most 60000)\n"
            "    --paths                  after each message, the path it was fetched through\n",
    .options = OPTS_NET | CLI_OPT_LISTEN,
    .run = run_listen,
};

/* ---- messages -------------------------------------------------------------------------------- */

static void message_line_cb(const sh_client_message *m, void *ctx)
{
    char buf[32];

    (void)ctx;
    cli_print_time(m->outgoing ? m->sent_ms : m->received_ms);
    printf(" %s %s: %.*s\n", m->outgoing ? "out" : "in", state_word(m, buf, sizeof buf),
           (int)m->text_len, (const char *)m->text);
}

static int run_messages(const cli_opts *opts)
{
    cli_session s;
    uint8_t peer[SH_SESSION_ID_BYTES];
    int rc = cli_session_open(opts, CLI_NEED_STATE, NULL, NULL, &s, "messages");

    if (rc >= 0)
        return rc;
    if ((rc = cli_resolve(&s, opts->argv[0], peer, "messages")) < 0) {
        rc = sh_client_message_list(s.state, peer, (size_t)opts->count, message_line_cb, NULL);
        rc = rc == SH_OK ? CLI_EXIT_OK : rc == SH_ERR_FORMAT
                 ? cli_failf("messages", CLI_EXIT_DATABASE, "%s", sh_err_msg())
                 : cli_fail("messages", rc);
    }
    cli_session_close(&s);
    return rc;
}

const cli_command cli_cmd_messages = {
    .name = "messages",
    .summary = "Show the conversation with a contact or Session ID",
    .usage = "shoal messages [--data DIR] [--count N] <session-id|contact>",
    .help = "Prints the conversation oldest first, one message a line:\n"
            "'<time> in received: <text>' or '<time> out <state>: <text>', where state is\n"
            "queued, stored-K/N (on K of the N nodes of the recipient's swarm), delivered or\n"
            "expired (its TTL ended first).\n\n"
            DATA_HELP "    --count N                only the last N messages\n",
    .options = OPTS_STATE | CLI_OPT_LISTEN,
    .min_args = 1,
    .max_args = 1,
    .run = run_messages,
};

/* ---- contacts -------------------------------------------------------------------------------- */

static void contact_line_cb(const char *name, const uint8_t id[static SH_SESSION_ID_BYTES], void *ctx)
{
    (void)ctx;
    printf("%s ", name);
    cli_print_id(stdout, id);
    putchar('\n');
}

static int contacts_do(cli_session *s, const cli_opts *opts)
{
    const char *sub = opts->argv[0];
    uint8_t id[SH_SESSION_ID_BYTES];
    int rc;

    if (strcmp(sub, "list") == 0 && opts->argc == 1)
        rc = sh_client_contact_list(s->state, contact_line_cb, NULL);
    else if (strcmp(sub, "rm") == 0 && opts->argc == 2)
        rc = sh_client_contact_remove(s->state, opts->argv[1]);
    else if (strcmp(sub, "add") == 0 && opts->argc == 3) {
        if (sh_session_id_parse(id + 1, opts->argv[1]) != SH_OK)
            return cli_failf("contacts", CLI_EXIT_BAD_ID, "'%s' is not a valid Session ID: %s",
                             opts->argv[1], sh_err_msg());
        id[0] = SH_SESSION_ID_PREFIX;
        rc = sh_client_contact_add(s->state, opts->argv[2], id);
    } else
        return cli_failf("contacts", CLI_EXIT_USAGE, "usage: %s", cli_cmd_contacts.usage);
    if (rc == SH_ERR_NOT_FOUND)
        return cli_failf("contacts", CLI_EXIT_NO_CONTACT, "%s", sh_err_msg());
    if (rc == SH_ERR_INVALID)
        return cli_failf("contacts", CLI_EXIT_USAGE, "%s", sh_err_msg());
    return rc == SH_OK ? CLI_EXIT_OK : cli_fail("contacts", rc);
}

static int run_contacts(const cli_opts *opts)
{
    cli_session s;
    int rc = cli_session_open(opts, CLI_NEED_STATE, NULL, NULL, &s, "contacts");

    if (rc >= 0)
        return rc;
    rc = contacts_do(&s, opts);
    cli_session_close(&s);
    return rc;
}

const cli_command cli_cmd_contacts = {
    .name = "contacts",
    .summary = "Name Session IDs: contacts add <id> <name>, list, rm <name>",
    .usage = "shoal contacts [--data DIR] (add <session-id> <name> | list | rm <name>)",
    .help = "Keeps names for Session IDs in the client database; a name can stand for its\n"
            "Session ID in send and messages. Names have 1 to 64 characters and no spaces.\n\n"
            DATA_HELP,
    .options = OPTS_STATE,
    .min_args = 1,
    .max_args = 3,
    .run = run_contacts,
};

/* ---- status ---------------------------------------------------------------------------------- */

static int run_status(const cli_opts *opts)
{
    cli_session s;
    uint8_t sid[SH_SESSION_ID_BYTES];
    char line[256];
    size_t queued = 0;
    bool published = false;
    int rc = cli_session_open(opts, CLI_NEED_CLIENT | CLI_NEED_NETWORK, NULL, NULL, &s, "status");

    if (rc >= 0)
        return rc;
    sh_client_session_id(s.client, sid);
    printf("Session ID: ");
    cli_print_id(stdout, sid);
    printf("\ndevice: %u%s\n", sh_client_device_id(s.client),
           sh_client_is_primary(s.client) ? " (primary)" : "");
    if (sh_client_outbox_count(s.state, &queued) == SH_OK)
        printf("outbox: %zu waiting\n", queued);
    if (sh_client_describe(s.client, line, sizeof line) == SH_OK)
        printf("swarm: %s\n", line);
    rc = sh_client_publish(s.client, false);
    if (rc == SH_OK)
        rc = sh_client_check(s.client, &published);
    if (rc == SH_OK && !published)
        rc = sh_err_set(SH_ERR_UNAVAILABLE, "the node does not hold our device list");
    printf("network: %s\n", rc == SH_OK ? "reachable, keys published" : sh_err_msg());
    cli_session_close(&s);
    return rc == SH_OK ? CLI_EXIT_OK : cli_session_exit("status", rc);
}

const cli_command cli_cmd_status = {
    .name = "status",
    .summary = "Show the account, its outbox and how the network is reached",
    .usage = "shoal status [--data DIR] [--network FILE]",
    .help = "Prints the Session ID, this device, the messages waiting in the outbox and the\n"
            "node that serves the account, and checks the network by publishing this device's\n"
            "keys when needed (exit 7 when it cannot be reached).\n\n" DATA_NET_HELP,
    .options = OPTS_NET,
    .run = run_status,
};

const cli_command cli_cmd_bot = {
    .name = "bot",
    .summary = "JSON lines on standard input and output, for bots (docs/bot-api.md)",
    .usage = "shoal bot [--data DIR] [--network FILE] [--wait-ms MS]",
    .help = "Reads one JSON command per line on standard input and writes one JSON event or\n"
            "answer per line on standard output (docs/bot-api.md).\n\n" DATA_NET_HELP
            "    --wait-ms MS             longest network wait between reads of standard input\n"
            "                             (default 500)\n",
    .options = OPTS_NET | CLI_OPT_LISTEN,
    .run = cli_bot_run,
};
