/* shoald's configuration (docs/node.md "Operating shoald"): defaults, `key = value` lines from a
 * file, and the same keys from flags. A file is untrusted input (it has a fuzz target): every
 * line is checked and an error names the line. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "node/internal.h"
#include "util/err.h"
#include "util/fs.h"

#define LINE_MAX_BYTES 1024

void sh_node_config_default(sh_node_config *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->listen, "127.0.0.1");
    c->port = SH_NODE_DEFAULT_PORT;
    c->log_level = SH_LOG_INFO;
    c->pow_bits = SH_NODE_DEFAULT_POW_BITS;
    c->pow_max_bits = SH_NODE_DEFAULT_POW_MAX_BITS;
    c->pow_load_per_s = SH_NODE_DEFAULT_POW_LOAD_PER_S;
    c->max_msgs_per_ns = SH_STORE_MAX_MSGS_PER_NS;
    c->max_bytes_per_ns = SH_STORE_MAX_BYTES_PER_NS;
    c->max_wait_ms = SH_NODE_MAX_WAIT_MS;
    c->sweep_interval_ms = SH_NODE_DEFAULT_SWEEP_INTERVAL_MS;
    c->sweep_rows = SH_NODE_DEFAULT_SWEEP_ROWS;
    c->peer_rate_per_s = SH_NET_DEFAULT_PEER_RATE_PER_S;
    c->peer_burst = SH_NET_DEFAULT_PEER_BURST;
    c->max_links = SH_NET_DEFAULT_MAX_LINKS;
    c->shutdown_timeout_ms = SH_NET_DEFAULT_SHUTDOWN_TIMEOUT_MS;
    c->onion_epoch_ms = SH_NODE_DEFAULT_ONION_EPOCH_MS;
    c->onion_overlap_ms = SH_NODE_DEFAULT_ONION_OVERLAP_MS;
    c->onion_relay_timeout_ms = SH_NODE_DEFAULT_ONION_RELAY_TIMEOUT_MS;
    c->onion_replay_sync_ms = SH_NODE_DEFAULT_ONION_REPLAY_SYNC_MS;
    c->map_refresh_ms = SH_NODE_DEFAULT_MAP_REFRESH_MS;
    c->publish_interval_ms = SH_NODE_DEFAULT_PUBLISH_INTERVAL_MS;
    c->replicate_timeout_ms = SH_NODE_DEFAULT_REPLICATE_TIMEOUT_MS;
    c->antientropy_ms = SH_NODE_DEFAULT_ANTIENTROPY_MS;
    c->antientropy_bytes_per_s = SH_NODE_DEFAULT_ANTIENTROPY_BYTES_PER_S;
    c->antientropy_peer_per_s = SH_NODE_DEFAULT_ANTIENTROPY_PEER_PER_S;
}

static int parse_u64(const char *key, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long x;

    if (*v == '\0' || !isdigit((unsigned char)*v))
        return sh_err_set(SH_ERR_INVALID, "%s needs a number, not \"%.40s\"", key, v);
    errno = 0;
    x = strtoull(v, &end, 10);
    if (*end != '\0')
        return sh_err_set(SH_ERR_INVALID, "%s needs a number, not \"%.40s\"", key, v);
    if (errno == ERANGE || x < min || x > max)
        return sh_err_set(SH_ERR_RANGE, "%s must be between %" PRIu64 " and %" PRIu64 ", not %.40s",
                          key, min, max, v);
    *out = x;
    return SH_OK;
}

static int set_text(char *dst, size_t size, const char *key, const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || n >= size)
        return sh_err_set(SH_ERR_RANGE, "%s must be 1 to %zu characters", key, size - 1);
    memcpy(dst, v, n + 1);
    return SH_OK;
}

typedef struct num_key {
    const char *name;
    size_t offset, size; /* of the field in sh_node_config */
    uint64_t min, max;
} num_key;

#define NUM(field, lo, hi) \
    {#field, offsetof(sh_node_config, field), sizeof(((sh_node_config *)0)->field), lo, hi}

static const num_key num_keys[] = {
    NUM(port, 0, 65535),
    NUM(pow_bits, 0, SH_NODE_POW_MAX_BITS),
    NUM(pow_max_bits, 0, SH_NODE_POW_MAX_BITS),
    NUM(pow_load_per_s, 1, 1000000),
    NUM(max_msgs_per_ns, 1, SH_STORE_MAX_MSGS_PER_NS),
    NUM(max_bytes_per_ns, 1, SH_STORE_MAX_BYTES_PER_NS),
    NUM(max_wait_ms, 0, SH_NODE_MAX_WAIT_MS),
    NUM(sweep_interval_ms, 1, 3600000),
    NUM(sweep_rows, 1, SH_STORE_SWEEP_MAX_ROWS),
    NUM(commit_linger_us, 0, 100000),
    NUM(peer_rate_per_s, 1, 1000000),
    NUM(peer_burst, 1, 1000000),
    NUM(max_links, 1, 1000000),
    NUM(shutdown_timeout_ms, 1, 600000),
    NUM(onion_epoch_ms, 1000, 30LL * 24 * 3600 * 1000),
    NUM(onion_overlap_ms, 0, 30LL * 24 * 3600 * 1000),
    NUM(onion_relay_timeout_ms, 1, 5 * 60 * 1000),
    NUM(onion_replay_sync_ms, 1, 60000),
    NUM(map_refresh_ms, 100, 24 * 3600 * 1000),
    NUM(publish_interval_ms, 100, 24 * 3600 * 1000),
    NUM(replicate_timeout_ms, 10, 60000),
    NUM(antientropy_ms, 10, 24 * 3600 * 1000),
    NUM(antientropy_bytes_per_s, 1024, 1u << 30),
    NUM(antientropy_peer_per_s, 1, 10000),
};

static void normalize(char *dst, size_t size, const char *key)
{
    size_t i = 0;

    for (; key[i] != '\0' && i + 1 < size; i++)
        dst[i] = key[i] == '-' ? '_' : key[i];
    dst[i] = '\0';
}

int sh_node_config_set(sh_node_config *c, const char *key_in, const char *v)
{
    char key[64];
    uint64_t x = 0;
    int rc;

    normalize(key, sizeof key, key_in);
    if (strcmp(key, "listen") == 0)
        return set_text(c->listen, sizeof c->listen, key, v);
    if (strcmp(key, "data_dir") == 0)
        return set_text(c->data_dir, sizeof c->data_dir, key, v);
    if (strcmp(key, "key_file") == 0)
        return set_text(c->key_file, sizeof c->key_file, key, v);
    if (strcmp(key, "map_file") == 0)
        return set_text(c->map_file, sizeof c->map_file, key, v);
    if (strcmp(key, "network") == 0 || strcmp(key, "network_file") == 0) /* the old name */
        return set_text(c->network, sizeof c->network, key, v);
    if (strcmp(key, "advertise") == 0)
        return set_text(c->advertise, sizeof c->advertise, key, v);
    if (strcmp(key, "contact") == 0)
        return set_text(c->contact, sizeof c->contact, key, v);
    if (strcmp(key, "log_level") == 0)
        return sh_log_parse_level(v, &c->log_level);
    if (strcmp(key, "onion_service") == 0)
        return sh__node_onion_service_add(c, v);
    for (size_t i = 0; i < sizeof num_keys / sizeof num_keys[0]; i++) {
        const num_key *k = &num_keys[i];
        if (strcmp(key, k->name) != 0)
            continue;
        if ((rc = parse_u64(key, v, k->min, k->max, &x)) != SH_OK)
            return rc;
        if (k->size == sizeof(uint16_t))
            *(uint16_t *)((char *)c + k->offset) = (uint16_t)x;
        else if (k->size == sizeof(uint32_t))
            *(uint32_t *)((char *)c + k->offset) = (uint32_t)x;
        else
            *(uint64_t *)((char *)c + k->offset) = x;
        return SH_OK;
    }
    return sh_err_set(SH_ERR_NOT_FOUND, "unknown setting \"%.40s\"", key_in);
}

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

static int parse_line(sh_node_config *c, char *line)
{
    char *hash = strchr(line, '#'), *eq, *key, *value;

    if (hash != NULL)
        *hash = '\0';
    line = trim(line);
    if (*line == '\0')
        return SH_OK;
    if ((eq = strchr(line, '=')) == NULL)
        return sh_err_set(SH_ERR_FORMAT, "expected `key = value`");
    *eq = '\0';
    key = trim(line);
    value = trim(eq + 1);
    return sh_node_config_set(c, key, value);
}

int sh_node_config_parse(sh_node_config *c, const char *text, size_t len)
{
    char line[LINE_MAX_BYTES];
    size_t start = 0, lineno = 0;
    int rc;

    while (start < len) {
        size_t end = start;
        while (end < len && text[end] != '\n')
            end++;
        lineno++;
        if (end - start >= sizeof line)
            return sh_err_set(SH_ERR_LIMIT, "line %zu is longer than %d bytes", lineno,
                              LINE_MAX_BYTES - 1);
        if (memchr(text + start, '\0', end - start) != NULL)
            return sh_err_set(SH_ERR_FORMAT, "line %zu holds a NUL byte", lineno);
        memcpy(line, text + start, end - start);
        line[end - start] = '\0';
        if ((rc = parse_line(c, line)) != SH_OK)
            return sh_err_wrap(rc, "line %zu", lineno);
        start = end + 1;
    }
    if (c->pow_max_bits < c->pow_bits)
        return sh_err_set(SH_ERR_RANGE, "pow_max_bits (%u) is below pow_bits (%u)",
                          c->pow_max_bits, c->pow_bits);
    return SH_OK;
}

int sh_node_config_load(sh_node_config *c, const char *path)
{
    sh_buf b;
    int rc;

    sh_buf_init(&b);
    rc = sh_fs_read_file(path, SH_NODE_CONFIG_MAX_BYTES, &b);
    if (rc == SH_OK)
        rc = sh_node_config_parse(c, (const char *)b.data, b.len);
    if (rc != SH_OK)
        sh_err_wrap(rc, "%s", path);
    sh_buf_free(&b);
    return rc;
}

int sh_node_config_key_path(const sh_node_config *c, char out[static SH_NODE_PATH_BYTES])
{
    if (c->key_file[0] != '\0')
        return set_text(out, SH_NODE_PATH_BYTES, "key_file", c->key_file);
    if (c->data_dir[0] == '\0')
        return sh_err_set(SH_ERR_INVALID, "no data_dir and no key_file are set");
    return sh_fs_join(out, SH_NODE_PATH_BYTES, c->data_dir, SH_NODE_KEY_FILE);
}
