/* `shoal bot`: JSON lines on standard input (commands) and standard output (answers and events),
 * docs/bot-api.md. Between commands it long-polls the inbox for at most --wait-ms (default
 * 500 ms), so a command waits at most that long before it is read. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "session.h"
#include "util/encode.h"
#include "util/err.h"

#define BOT_DEFAULT_WAIT_MS 500u
/* Sends read together are queued and go out in one flush (windows of SH_CLIENT_FLUSH_WINDOW
 * stores in flight); at most this many wait for it. */
#define BOT_MAX_PENDING (4 * SH_CLIENT_FLUSH_WINDOW)

/* A queued send not answered yet: its command id, its message's id, whether it was stored. */
typedef struct pending_send {
    char id[64];
    uint8_t msg_id[SH_CLIENT_MSG_ID_BYTES];
    bool stored;
} pending_send;

typedef struct bot {
    cli_session s;
    sh_buf in;  /* bytes read, not yet a whole line */
    sh_buf out; /* the line being written */
    bool eof, quit;
    pending_send pending[BOT_MAX_PENDING];
    size_t n_pending;
} bot;

static void out_key(bot *b, const char *key)
{
    uint8_t last = b->out.len > 0 ? b->out.data[b->out.len - 1] : '{';

    if (last != '{' && last != '[')
        (void)sh_buf_append_u8(&b->out, ',');
    (void)sh_client_json_string(&b->out, (const uint8_t *)key, strlen(key));
    (void)sh_buf_append_u8(&b->out, ':');
}

static void out_str(bot *b, const char *key, const void *v, size_t len)
{
    out_key(b, key);
    (void)sh_client_json_string(&b->out, v, len);
}

static void out_num(bot *b, const char *key, long long v)
{
    char num[32];

    out_key(b, key);
    snprintf(num, sizeof num, "%lld", v);
    (void)sh_buf_append_str(&b->out, num);
}

static void out_id(bot *b, const char *key, const uint8_t sid[static SH_SESSION_ID_BYTES])
{
    char hex[SH_SESSION_ID_HEX_BYTES];

    sh_session_id_format(hex, sid + 1);
    out_str(b, key, hex, strlen(hex));
}

static void out_hex(bot *b, const char *key, const uint8_t *v, size_t len)
{
    char hex[2 * SH_CLIENT_MSG_ID_BYTES + 1];

    (void)sh_hex_encode(hex, sizeof hex, v, len);
    out_str(b, key, hex, strlen(hex));
}

static void out_begin(bot *b)
{
    sh_buf_reset(&b->out);
    (void)sh_buf_append_u8(&b->out, '{');
}

static void out_end(bot *b)
{
    (void)sh_buf_append(&b->out, "}\n", 2);
    fwrite(b->out.data, 1, b->out.len, stdout);
    fflush(stdout);
}

static void out_bool(bot *b, const char *key, bool v)
{
    out_key(b, key);
    (void)sh_buf_append_str(&b->out, v ? "true" : "false");
}

/* Opens the next element of the array being written. */
static void out_element(bot *b)
{
    if (b->out.data[b->out.len - 1] != '[')
        (void)sh_buf_append_u8(&b->out, ',');
    (void)sh_buf_append_u8(&b->out, '{');
}

static const char *state_name(sh_client_delivery d)
{
    static const char *const names[] = {"queued", "stored", "delivered", "received", "expired"};

    return d <= SH_CLIENT_EXPIRED ? names[d] : "unknown";
}

static void out_message(bot *b, const sh_client_message *m)
{
    char name[SH_CLIENT_MAX_NAME_BYTES + 1] = "";

    out_id(b, m->outgoing ? "to" : "from", m->peer);
    if (sh_client_contact_name(b->s.state, m->peer, name) == SH_OK && name[0] != '\0')
        out_str(b, "name", name, strlen(name));
    out_hex(b, "msg_id", m->msg_id, SH_CLIENT_MSG_ID_BYTES);
    out_num(b, "sent_ms", m->sent_ms);
    out_str(b, "state", state_name(m->state), strlen(state_name(m->state)));
    if (m->state == SH_CLIENT_STORED) {
        out_num(b, "k", m->stored_k);
        out_num(b, "n", m->stored_n);
    }
    if (m->text != NULL)
        out_str(b, "text", m->text, m->text_len);
}

static void event_cb(const sh_client_event *ev, void *ctx)
{
    bot *b = ctx;

    for (size_t i = 0; ev->kind == SH_CLIENT_EV_STATE && ev->msg->state == SH_CLIENT_STORED &&
                       i < b->n_pending; i++)
        if (memcmp(b->pending[i].msg_id, ev->msg->msg_id, SH_CLIENT_MSG_ID_BYTES) == 0)
            b->pending[i].stored = true;

    out_begin(b);
    out_str(b, "event", ev->kind == SH_CLIENT_EV_MESSAGE ? "message" : "state",
            ev->kind == SH_CLIENT_EV_MESSAGE ? 7 : 5);
    out_message(b, ev->msg);
    out_end(b);
}

/* {"ok":false,"error":...,"code":N} (code: the exit code the CLI would give). */
static void answer_error(bot *b, const sh_client_bot_cmd *c, int code)
{
    const char *msg = sh_err_msg();

    out_begin(b);
    if (c != NULL && c->id[0] != '\0')
        out_str(b, "id", c->id, strlen(c->id));
    out_key(b, "ok");
    (void)sh_buf_append_str(&b->out, "false");
    out_str(b, "error", msg, strlen(msg));
    out_num(b, "code", code);
    out_end(b);
}

static void answer_ok(bot *b, const sh_client_bot_cmd *c)
{
    out_begin(b);
    if (c->id[0] != '\0')
        out_str(b, "id", c->id, strlen(c->id));
    out_key(b, "ok");
    (void)sh_buf_append_str(&b->out, "true");
}

/* Flushes the outbox and answers every queued send, in the order they came: "stored", or
 * "queued" with the reason (it goes out later). */
static void flush_pending(bot *b)
{
    char msg[SH_ERR_MSG_BYTES] = "";
    size_t sent;

    if (b->n_pending == 0)
        return;
    if (sh_client_flush(b->s.client, &sent) != SH_OK)
        snprintf(msg, sizeof msg, "%s", sh_err_msg());
    for (size_t i = 0; i < b->n_pending; i++) {
        const pending_send *p = &b->pending[i];
        const char *err = msg[0] != '\0' ? msg : "not stored yet: it waits in the outbox";
        out_begin(b);
        if (p->id[0] != '\0')
            out_str(b, "id", p->id, strlen(p->id));
        out_key(b, "ok");
        (void)sh_buf_append_str(&b->out, "true");
        out_str(b, "state", p->stored ? "stored" : "queued", 6);
        if (!p->stored)
            out_str(b, "error", err, strlen(err));
        out_end(b);
    }
    b->n_pending = 0;
}

/* Queued now; answered by flush_pending once the sends read with it are queued too. */
static void do_send(bot *b, const sh_client_bot_cmd *c)
{
    uint8_t to[SH_SESSION_ID_BYTES];
    pending_send *p = &b->pending[b->n_pending];
    int64_t row = 0;
    int code, rc = cli_resolve_quiet(&b->s, c->to, to, &code);

    if (rc != SH_OK)
        return answer_error(b, c, code);
    if (c->text.len == 0) {
        sh_err_set(SH_ERR_INVALID, "\"text\" is empty");
        return answer_error(b, c, CLI_EXIT_USAGE);
    }
    rc = sh_client_queue_text(b->s.client, to, c->text.data, c->text.len, &row, p->msg_id);
    if (rc != SH_OK)
        return answer_error(b, c, rc == SH_ERR_INVALID || rc == SH_ERR_LIMIT ? CLI_EXIT_USAGE
                                                                             : CLI_EXIT_ERROR);
    snprintf(p->id, sizeof p->id, "%s", c->id);
    p->stored = false;
    if (++b->n_pending == BOT_MAX_PENDING)
        flush_pending(b);
}

static void history_cb(const sh_client_message *m, void *ctx)
{
    bot *b = ctx;

    out_element(b);
    out_str(b, "direction", m->outgoing ? "out" : "in", m->outgoing ? 3 : 2);
    out_message(b, m);
    (void)sh_buf_append_u8(&b->out, '}');
}

static void do_messages(bot *b, const sh_client_bot_cmd *c)
{
    uint8_t peer[SH_SESSION_ID_BYTES];
    int code, rc = cli_resolve_quiet(&b->s, c->to, peer, &code);

    if (rc != SH_OK)
        return answer_error(b, c, code);
    answer_ok(b, c);
    out_key(b, "messages");
    (void)sh_buf_append_u8(&b->out, '[');
    rc = sh_client_message_list(b->s.state, peer, 0, history_cb, b);
    if (rc != SH_OK)
        return answer_error(b, c, CLI_EXIT_ERROR);
    (void)sh_buf_append_u8(&b->out, ']');
    out_end(b);
}

static void do_status(bot *b, const sh_client_bot_cmd *c)
{
    uint8_t sid[SH_SESSION_ID_BYTES];
    size_t queued = 0;

    if (sh_client_outbox_count(b->s.state, &queued) != SH_OK)
        return answer_error(b, c, CLI_EXIT_ERROR);
    sh_client_session_id(b->s.client, sid);
    answer_ok(b, c);
    out_id(b, "session_id", sid);
    out_num(b, "device", sh_client_device_id(b->s.client));
    out_num(b, "outbox", (long long)queued);
    out_end(b);
}

static void contact_cb(const char *name, const uint8_t id[static SH_SESSION_ID_BYTES], void *ctx)
{
    bot *b = ctx;

    out_element(b);
    out_str(b, "name", name, strlen(name));
    out_id(b, "session_id", id);
    (void)sh_buf_append_u8(&b->out, '}');
}

static void do_contacts(bot *b, const sh_client_bot_cmd *c)
{
    answer_ok(b, c);
    out_key(b, "contacts");
    (void)sh_buf_append_u8(&b->out, '[');
    if (sh_client_contact_list(b->s.state, contact_cb, b) != SH_OK)
        return answer_error(b, c, CLI_EXIT_ERROR);
    (void)sh_buf_append_u8(&b->out, ']');
    out_end(b);
}

/* contact_add (name, to: a Session ID) and contact_rm (name). */
static void do_contact_change(bot *b, const sh_client_bot_cmd *c, bool add)
{
    uint8_t id[SH_SESSION_ID_BYTES];
    int rc;

    if (c->name[0] == '\0') {
        sh_err_set(SH_ERR_INVALID, "\"name\" is missing");
        return answer_error(b, c, CLI_EXIT_USAGE);
    }
    if (add && sh_session_id_parse(id + 1, c->to) != SH_OK) {
        sh_err_wrap(SH_ERR_INVALID, "\"to\" is not a valid Session ID");
        return answer_error(b, c, CLI_EXIT_BAD_ID);
    }
    id[0] = SH_SESSION_ID_PREFIX;
    rc = add ? sh_client_contact_add(b->s.state, c->name, id)
             : sh_client_contact_remove(b->s.state, c->name);
    if (rc != SH_OK)
        return answer_error(b, c, rc == SH_ERR_NOT_FOUND ? CLI_EXIT_NO_CONTACT
                                  : rc == SH_ERR_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_ERROR);
    answer_ok(b, c);
    out_end(b);
}

static void do_devices(bot *b, const sh_client_bot_cmd *c)
{
    sh_client_device_info devs[SH_E2E_MAX_DEVICES + SH_E2E_MAX_REVOKED];
    size_t n = 0;

    if (sh_client_devices(b->s.client, devs, sizeof devs / sizeof devs[0], &n) != SH_OK)
        return answer_error(b, c, CLI_EXIT_ERROR);
    answer_ok(b, c);
    out_key(b, "devices");
    (void)sh_buf_append_u8(&b->out, '[');
    for (size_t i = 0; i < n && i < sizeof devs / sizeof devs[0]; i++) {
        out_element(b);
        out_num(b, "device", devs[i].id);
        out_bool(b, "primary", devs[i].primary);
        out_bool(b, "self", devs[i].self);
        out_bool(b, "revoked", devs[i].revoked);
        out_num(b, "since_ms", devs[i].added_ms);
        (void)sh_buf_append_u8(&b->out, '}');
    }
    (void)sh_buf_append_u8(&b->out, ']');
    out_end(b);
}

static void do_revoke(bot *b, const sh_client_bot_cmd *c)
{
    char *end;
    unsigned long id = strtoul(c->device, &end, 10);
    int rc;

    if (c->device[0] < '1' || c->device[0] > '9' || *end != '\0' || id > UINT32_MAX) {
        sh_err_set(SH_ERR_INVALID, "\"device\" must be a device number (see the devices command)");
        return answer_error(b, c, CLI_EXIT_USAGE);
    }
    rc = sh_client_revoke_device(b->s.client, (uint32_t)id);
    if (rc != SH_OK)
        return answer_error(b, c, rc == SH_ERR_UNAVAILABLE ? CLI_EXIT_NETWORK : CLI_EXIT_ERROR);
    answer_ok(b, c);
    out_end(b);
}

static void command(bot *b, const char *line, size_t len)
{
    sh_client_bot_cmd c;
    char why[SH_ERR_MSG_BYTES];
    int rc;

    sh_client_bot_cmd_init(&c);
    rc = sh_client_bot_parse(line, len, &c);
    if (rc != SH_OK || strcmp(c.cmd, "send") != 0) { /* answers stay in the commands' order */
        snprintf(why, sizeof why, "%s", sh_err_msg());
        flush_pending(b);
        if (rc != SH_OK)
            sh_err_set(rc, "%s", why);
    }
    if (rc != SH_OK)
        answer_error(b, &c, CLI_EXIT_USAGE);
    else if (strcmp(c.cmd, "send") == 0)
        do_send(b, &c);
    else if (strcmp(c.cmd, "messages") == 0)
        do_messages(b, &c);
    else if (strcmp(c.cmd, "status") == 0)
        do_status(b, &c);
    else if (strcmp(c.cmd, "contacts") == 0)
        do_contacts(b, &c);
    else if (strcmp(c.cmd, "contact_add") == 0 || strcmp(c.cmd, "contact_rm") == 0)
        do_contact_change(b, &c, strcmp(c.cmd, "contact_add") == 0);
    else if (strcmp(c.cmd, "devices") == 0)
        do_devices(b, &c);
    else if (strcmp(c.cmd, "revoke") == 0)
        do_revoke(b, &c);
    else if (strcmp(c.cmd, "quit") == 0) {
        b->quit = true;
        answer_ok(b, &c);
        out_end(b);
    } else {
        sh_err_set(SH_ERR_INVALID, "unknown command '%s' (send, messages, status, contacts, contact_add, "
                   "contact_rm, devices, revoke, quit)", c.cmd);
        answer_error(b, &c, CLI_EXIT_USAGE);
    }
    sh_client_bot_cmd_free(&c);
}

/* Reads what standard input has within wait_ms and runs every whole line. */
static void read_input(bot *b, int wait_ms)
{
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    uint8_t buf[4096];
    uint8_t *nl;
    ssize_t got;

    if (!b->eof && poll(&p, 1, wait_ms) > 0) {
        got = read(STDIN_FILENO, buf, sizeof buf);
        if (got > 0)
            (void)sh_buf_append(&b->in, buf, (size_t)got);
        else if (got == 0 || errno != EINTR)
            b->eof = true;
    }
    while (!b->quit && b->in.len > 0 && (nl = memchr(b->in.data, '\n', b->in.len)) != NULL) {
        size_t n = (size_t)(nl - b->in.data);
        if (n > 0)
            command(b, (const char *)b->in.data, n);
        memmove(b->in.data, nl + 1, b->in.len - n - 1);
        b->in.len -= n + 1;
    }
    if (b->in.len > SH_CLIENT_BOT_LINE_MAX) {
        sh_err_set(SH_ERR_LIMIT, "a command line is over %d bytes", SH_CLIENT_BOT_LINE_MAX);
        answer_error(b, NULL, CLI_EXIT_USAGE);
        sh_buf_reset(&b->in);
    }
    if (b->eof && b->in.len > 0 && !b->quit) { /* a last line without its newline */
        command(b, (const char *)b->in.data, b->in.len);
        sh_buf_reset(&b->in);
    }
    flush_pending(b);
}

static void ready(bot *b)
{
    uint8_t sid[SH_SESSION_ID_BYTES];
    int rc = sh_client_publish(b->s.client, false);

    sh_client_session_id(b->s.client, sid);
    out_begin(b);
    out_str(b, "event", "ready", 5);
    out_id(b, "session_id", sid);
    out_num(b, "device", sh_client_device_id(b->s.client));
    if (rc != SH_OK)
        out_str(b, "warning", sh_err_msg(), strlen(sh_err_msg()));
    out_end(b);
}

int cli_bot_run(const cli_opts *opts)
{
    static bot b;
    uint32_t wait = opts->wait_ms > 0 ? (uint32_t)opts->wait_ms : BOT_DEFAULT_WAIT_MS;
    size_t got;
    int rc = cli_session_open(opts, CLI_NEED_CLIENT | CLI_NEED_NETWORK, event_cb, &b, &b.s, "bot");

    if (rc >= 0)
        return rc;
    sh_buf_init(&b.in);
    sh_buf_init_secret(&b.out);
    ready(&b);
    while (!b.quit && !b.eof) {
        read_input(&b, 0);
        if (b.quit || b.eof)
            break;
        if (sh_client_poll(b.s.client, wait, &got) != SH_OK) {
            answer_error(&b, NULL, CLI_EXIT_NETWORK);
            read_input(&b, (int)wait); /* the network is down: wait on standard input instead */
        }
    }
    if (sh_client_flush(b.s.client, &got) != SH_OK)
        answer_error(&b, NULL, CLI_EXIT_NETWORK);
    sh_buf_free(&b.in);
    sh_buf_free(&b.out);
    cli_session_close(&b.s);
    return CLI_EXIT_OK;
}
