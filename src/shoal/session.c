/* Opening an account for the messaging commands: the seed (with its passphrase), the client
 * database (its key from the same passphrase through Argon2id, or the key file client.key), the
 * network file (--network FILE or $SHOAL_NETWORK) and its direct transport; and the mapping of
 * libshoal errors to the exit codes of docs/cli.md. */
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "session.h"
#include "util/err.h"
#include "util/fs.h"

#define CALL_DEADLINE_MS 10000u

int cli_session_exit(const char *cmd, int err)
{
    int code;

    switch (err) {
    case SH_ERR_UNAVAILABLE:
    case SH_ERR_TIMEOUT: code = CLI_EXIT_NETWORK; break;
    case SH_ERR_PERMISSION:
        code = strstr(sh_err_msg(), "revoked") != NULL ? CLI_EXIT_REVOKED : CLI_EXIT_PASSPHRASE;
        break;
    case SH_ERR_CRYPTO: code = CLI_EXIT_PASSPHRASE; break;
    default: return cli_fail(cmd, err);
    }
    return cli_failf(cmd, code, "%s", sh_err_msg());
}

static int read_seed(const cli_opts *opts, cli_session *s, uint8_t seed[static SH_SEED_BYTES],
                     sh_buf *pass)
{
    sh_buf file;
    bool locked = false;
    int rc;

    sh_buf_init_secret(&file);
    rc = cli_seedfile_read(&s->paths, &file);
    if (rc == SH_OK)
        rc = sh_seedfile_has_passphrase(file.data, file.len, &locked);
    if (rc == SH_OK && locked && opts->passphrase_file == NULL)
        rc = sh_err_set(SH_ERR_PERMISSION, "the account is protected by a passphrase; "
                                           "give it with --passphrase-file FILE");
    if (rc == SH_OK && locked)
        rc = cli_passphrase_read(opts, pass);
    if (rc == SH_OK)
        rc = sh_seedfile_open(seed, file.data, file.len, locked ? (const char *)pass->data : NULL,
                              pass->len);
    s->locked = locked;
    sh_buf_free(&file);
    return rc;
}

static int open_state(const cli_opts *opts, cli_session *s, const sh_buf *pass)
{
    char db[4096], keyfile[4096];
    sh_client_keysrc src = {0};
    const char *cost = opts->kdf_cost ? opts->kdf_cost : getenv("SHOAL_KDF_COST");
    int rc;

    src.cost = SH_KDF_COST_MODERATE;
    if (cost != NULL && sh_kdf_cost_parse(cost, &src.cost) != SH_OK)
        return sh_err_set(SH_ERR_INVALID, "SHOAL_KDF_COST must be min, interactive, moderate or "
                                          "sensitive");
    if ((rc = sh_fs_join(db, sizeof db, s->paths.dir, SH_CLIENT_STATE_FILE)) != SH_OK ||
        (rc = sh_fs_join(keyfile, sizeof keyfile, s->paths.dir, SH_CLIENT_KEY_FILE)) != SH_OK)
        return rc;
    if (s->locked) {
        src.passphrase = (const char *)pass->data;
        src.passphrase_len = pass->len;
    } else {
        src.key_file = keyfile;
    }
    return sh_client_state_open(db, &src, &s->state);
}

/* The onion transport over the network's map (cached in DATA/map, refreshed every
 * $SHOAL_MAP_REFRESH_MS, default SH_CLIENT_MAP_REFRESH_MS). */
static int open_onion(cli_session *s, const char *network_path)
{
    char cache[4096];
    const char *every = getenv("SHOAL_MAP_REFRESH_MS");
    sh_client_maps maps = {.network_path = network_path, .cache_path = cache,
                           .refresh_ms = every != NULL ? strtoll(every, NULL, 10)
                                                       : SH_CLIENT_MAP_REFRESH_MS};
    sh_onion_caller_config cfg;
    int rc = sh_fs_join(cache, sizeof cache, s->paths.dir, "map");

    sh_onion_caller_config_default(&cfg); /* same-/16 hops only on a loopback devnet */
    if (rc == SH_OK)
        rc = sh_client_onion_open(&maps, &cfg, &s->transport);
    if (rc == SH_ERR_STALE || rc == SH_ERR_TIMEOUT)
        rc = sh_err_wrap(SH_ERR_UNAVAILABLE, "the network's map");
    return rc;
}

/* Timers from the environment: $SHOAL_MESSAGE_TTL_MS (how long a message may wait in the
 * outbox and in the recipient's inbox), $SHOAL_RETRY_MIN_MS / $SHOAL_RETRY_MAX_MS (the outbox's
 * backoff), $SHOAL_HOLD_MS (the longest a message waits for an earlier one of its sender).
 * Values out of range keep the defaults. */
static void client_options(sh_client *c)
{
    static const struct { const char *env; size_t off; int64_t max; } vars[] = {
        {"SHOAL_MESSAGE_TTL_MS", offsetof(sh_client_options, message_ttl_ms),
         SH_CLIENT_INBOX_TTL_MS},
        {"SHOAL_RETRY_MIN_MS", offsetof(sh_client_options, retry_min_ms), 24 * 3600 * 1000LL},
        {"SHOAL_RETRY_MAX_MS", offsetof(sh_client_options, retry_max_ms), 24 * 3600 * 1000LL},
        {"SHOAL_HOLD_MS", offsetof(sh_client_options, hold_ms), SH_CLIENT_INBOX_TTL_MS},
    };
    sh_client_options o;

    sh_client_options_default(&o);
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i].env);
        long long x = v != NULL ? strtoll(v, NULL, 10) : -1;
        if (x >= 0 && x <= vars[i].max)
            *(int64_t *)((char *)&o + vars[i].off) = x;
    }
    sh_client_set_options(c, &o);
}

static int open_network(const cli_opts *opts, cli_session *s)
{
    sh_client_network *net;
    const char *path = opts->network ? opts->network : getenv("SHOAL_NETWORK");
    int rc;

    if (path == NULL || path[0] == '\0')
        return sh_err_set(SH_ERR_INVALID, "no network: give --network FILE (or set SHOAL_NETWORK)");
    if ((net = malloc(sizeof *net)) == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory");
    const char *dl = getenv("SHOAL_DEADLINE_MS");
    long deadline = dl != NULL ? strtol(dl, NULL, 10) : 0;

    rc = sh_client_network_load(path, net);
    if (rc == SH_OK && net->n_nodes == 0) /* a directory network: onion paths from its map */
        rc = open_onion(s, path);
    else if (rc == SH_OK)
        rc = sh_client_direct_new(net, deadline > 0 && deadline <= 600000 ? (uint32_t)deadline
                                                                          : CALL_DEADLINE_MS,
                                  &s->transport);
    s->has_transport = rc == SH_OK;
    free(net);
    return rc;
}

int cli_session_open(const cli_opts *opts, unsigned what, sh_client_event_cb cb, void *ctx,
                     cli_session *s, const char *cmd)
{
    uint8_t seed[SH_SEED_BYTES], sid[SH_SESSION_ID_BYTES];
    sh_buf pass;
    int rc;

    memset(s, 0, sizeof *s);
    sh_buf_init_secret(&pass);
    rc = cli_account_paths_get(opts, &s->paths);
    if (rc == SH_OK && (rc = cli_linked_read(&s->paths, sid)) == SH_OK) {
        s->linked = true;
        s->locked = opts->passphrase_file != NULL;
        if (s->locked)
            rc = cli_passphrase_read(opts, &pass);
    } else if (rc == SH_ERR_NOT_FOUND) {
        rc = read_seed(opts, s, seed, &pass);
    }
    if (rc != SH_OK)
        goto done;
    rc = open_state(opts, s, &pass);
    if (rc == SH_ERR_FORMAT || rc == SH_ERR_UNSUPPORTED) {
        rc = cli_failf(cmd, CLI_EXIT_DATABASE, "%s", sh_err_msg());
        goto out;
    }
    if (rc == SH_OK && (what & CLI_NEED_NETWORK) && (rc = open_network(opts, s)) != SH_OK) {
        rc = rc == SH_ERR_INVALID || rc == SH_ERR_FORMAT || rc == SH_ERR_NOT_FOUND ||
                     rc == SH_ERR_UNSUPPORTED || rc == SH_ERR_LIMIT
                 ? cli_failf(cmd, CLI_EXIT_USAGE, "%s", sh_err_msg())
                 : cli_session_exit(cmd, rc);
        goto out;
    }
    if (rc == SH_OK && (what & CLI_NEED_CLIENT)) {
        sh_client_transport *tp = s->has_transport ? &s->transport : NULL;
        rc = s->linked ? sh_client_new_linked(s->state, tp, cb, ctx, &s->client)
                       : sh_client_new(seed, s->state, tp, cb, ctx, &s->client);
        if (rc == SH_OK)
            client_options(s->client);
        if (rc == SH_ERR_FORMAT) {
            rc = cli_failf(cmd, CLI_EXIT_DATABASE, "%s", sh_err_msg());
            goto out;
        }
    }
done:
    rc = rc == SH_OK ? -1 : cli_session_exit(cmd, rc);
out:
    sodium_memzero(seed, sizeof seed);
    sh_buf_free(&pass);
    if (rc >= 0)
        cli_session_close(s);
    return rc;
}

int cli_session_open_new(const cli_opts *opts, cli_session *s, const char *cmd)
{
    sh_buf pass;
    int rc;

    memset(s, 0, sizeof *s);
    sh_buf_init_secret(&pass);
    s->locked = opts->passphrase_file != NULL;
    s->linked = true;
    rc = cli_account_paths_get(opts, &s->paths);
    if (rc == SH_OK)
        rc = sh_fs_mkdir_p(s->paths.dir, 0700);
    if (rc == SH_OK && s->locked)
        rc = cli_passphrase_read(opts, &pass);
    if (rc == SH_OK)
        rc = open_state(opts, s, &pass);
    sh_buf_free(&pass);
    if (rc == SH_ERR_FORMAT || rc == SH_ERR_UNSUPPORTED)
        rc = cli_failf(cmd, CLI_EXIT_DATABASE, "%s", sh_err_msg());
    else if (rc == SH_OK && (rc = open_network(opts, s)) != SH_OK)
        rc = rc == SH_ERR_INVALID || rc == SH_ERR_FORMAT || rc == SH_ERR_NOT_FOUND ||
                     rc == SH_ERR_UNSUPPORTED || rc == SH_ERR_LIMIT
                 ? cli_failf(cmd, CLI_EXIT_USAGE, "%s", sh_err_msg())
                 : cli_fail(cmd, rc);
    else
        rc = rc == SH_OK ? -1 : cli_session_exit(cmd, rc);
    if (rc >= 0)
        cli_session_close(s);
    return rc;
}

int cli_linked_read(const cli_account_paths *paths, uint8_t sid[static SH_SESSION_ID_BYTES])
{
    char path[4096], hex[SH_SESSION_ID_HEX_BYTES];
    sh_buf file;
    int rc = sh_fs_join(path, sizeof path, paths->dir, CLI_LINKED_FILE);

    sh_buf_init(&file);
    if (rc == SH_OK)
        rc = sh_fs_read_file(path, 256, &file);
    if (rc == SH_OK && (file.len != 14 + 1 + 66 + 1 ||
                        memcmp(file.data, "shoal-linked 1\n", 15) != 0 || file.data[81] != '\n'))
        rc = sh_err_set(SH_ERR_FORMAT, "%s is not a linked device's file", path);
    if (rc == SH_OK) {
        memcpy(hex, file.data + 15, 66);
        hex[66] = '\0';
        sid[0] = SH_SESSION_ID_PREFIX;
        rc = sh_session_id_parse(sid + 1, hex);
    }
    sh_buf_free(&file);
    return rc;
}

int cli_linked_write(const cli_account_paths *paths, const uint8_t sid[static SH_SESSION_ID_BYTES])
{
    char path[4096], text[128], hex[SH_SESSION_ID_HEX_BYTES];
    int rc = sh_fs_join(path, sizeof path, paths->dir, CLI_LINKED_FILE);

    sh_session_id_format(hex, sid + 1);
    snprintf(text, sizeof text, "shoal-linked 1\n%s\n", hex);
    return rc == SH_OK ? sh_fs_write_file(path, (const uint8_t *)text, strlen(text), 0600) : rc;
}

void cli_session_close(cli_session *s)
{
    sh_client_free(s->client);
    if (s->has_transport)
        s->transport.close(s->transport.ctx);
    sh_client_state_close(s->state);
    memset(s, 0, sizeof *s);
}

/* A Session ID is an argument that starts with 05 and holds only hex digits, or any argument of
 * 66 characters; everything else names a contact. */
static bool looks_like_id(const char *arg)
{
    size_t n = strlen(arg);

    return n == 66 || (n >= 2 && arg[0] == '0' && arg[1] == '5' &&
                       strspn(arg, "0123456789abcdefABCDEF") == n);
}

int cli_resolve_quiet(cli_session *s, const char *arg, uint8_t sid[static SH_SESSION_ID_BYTES],
                      int *exit_code)
{
    int rc;

    if (looks_like_id(arg)) {
        rc = sh_session_id_parse(sid + 1, arg);
        sid[0] = SH_SESSION_ID_PREFIX;
        *exit_code = CLI_EXIT_BAD_ID;
        return rc == SH_OK ? rc : sh_err_wrap(rc, "'%s' is not a valid Session ID", arg);
    }
    rc = sh_client_contact_get(s->state, arg, sid);
    *exit_code = rc == SH_ERR_NOT_FOUND ? CLI_EXIT_NO_CONTACT : CLI_EXIT_ERROR;
    if (rc == SH_ERR_NOT_FOUND)
        return sh_err_set(rc, "'%s' is neither a contact nor a Session ID (see 'shoal contacts "
                          "list')", arg);
    return rc;
}

int cli_resolve(cli_session *s, const char *arg, uint8_t sid[static SH_SESSION_ID_BYTES],
                const char *cmd)
{
    int code, rc = cli_resolve_quiet(s, arg, sid, &code);

    return rc == SH_OK ? -1 : cli_failf(cmd, code, "%s", sh_err_msg());
}

void cli_print_time(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[32];

    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fputs(buf, stdout);
}

void cli_print_id(FILE *out, const uint8_t sid[static SH_SESSION_ID_BYTES])
{
    char hex[SH_SESSION_ID_HEX_BYTES];

    sh_session_id_format(hex, sid + 1);
    fputs(hex, out);
}
