/* The network file (docs/network-file.md): the authorities' keys and addresses, k, and the swarm
 * parameters every authority must agree on. The parser is strict (one spelling per value, every
 * directive known, each error naming its line) because every node and client trusts what it
 * reads here. The network id is the hash of the canonical text, so that maps and votes made for
 * one network are never taken for another's. */
#include "dir/internal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/labels.h"
#include "util/encode.h"
#include "util/err.h"
#include "util/fs.h"

#define NETWORK_LINE_MAX 512
#define NETWORK_NAME_MAX 32
#define NETWORK_MAX_TOKENS 5
#define NETWORK_HEADER "shoal-network"
#define NETWORK_FORMAT_VERSION 1

struct sh_dir_network {
    char name[NETWORK_NAME_MAX + 1];
    unsigned k;
    sh_dir_authority authorities[SH_DIR_MAX_AUTHORITIES];
    size_t n;
    sh_dir_swarm_params params;
    uint8_t id[SH_DIR_HASH_BYTES];
};

/* What the parser has seen so far. */
typedef struct parse_state {
    sh_dir_network *net;
    bool header, has_k, has_name, has_target, has_min, has_grace, has_bootstrap;
} parse_state;

static int parse_uint(const char *tok, uint64_t max, const char *what, uint64_t *out)
{
    uint64_t v = 0;
    size_t n = strlen(tok);

    if (n == 0 || n > 19 || (tok[0] == '0' && n > 1))
        return sh_err_set(SH_ERR_FORMAT, "%s \"%.24s\" must be a decimal number without leading "
                          "zeros", what, tok);
    for (size_t i = 0; i < n; i++) {
        if (tok[i] < '0' || tok[i] > '9')
            return sh_err_set(SH_ERR_FORMAT, "%s \"%.24s\" is not a decimal number", what, tok);
        v = v * 10 + (uint64_t)(tok[i] - '0');
    }
    if (v > max)
        return sh_err_set(SH_ERR_RANGE, "%s %llu is above the maximum %llu", what,
                          (unsigned long long)v, (unsigned long long)max);
    *out = v;
    return SH_OK;
}

static int check_name(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > NETWORK_NAME_MAX)
        return sh_err_set(SH_ERR_FORMAT, "network name must be 1 to %d characters", NETWORK_NAME_MAX);
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '-'))
            return sh_err_set(SH_ERR_FORMAT, "network name \"%s\" may use only a-z, 0-9 and '-'", name);
    return SH_OK;
}

static int check_link_key(const uint8_t key[static 32])
{
    /* A low-order X25519 key makes every shared secret zero; libsodium refuses those. */
    static const uint8_t scalar[32] = {0x48, [31] = 0x40};
    uint8_t out[32];
    int bad = crypto_scalarmult(out, scalar, key);

    sodium_memzero(out, sizeof out);
    if (bad != 0)
        return sh_err_set(SH_ERR_FORMAT, "the link key is not a usable X25519 public key");
    return SH_OK;
}

static int check_authority(const sh_dir_authority *a)
{
    uint8_t ip[16];
    size_t ip_len;
    uint16_t port;
    int rc;

    if (crypto_core_ed25519_is_valid_point(a->identity) != 1)
        return sh_err_set(SH_ERR_FORMAT, "the identity key is not a valid Ed25519 public key");
    if ((rc = check_link_key(a->link_key)) != SH_OK)
        return rc;
    if (memchr(a->address, '\0', sizeof a->address) == NULL)
        return sh_err_set(SH_ERR_FORMAT, "the address is too long");
    return sh_dir_address_parse(a->address, ip, &ip_len, &port);
}

int sh__dir_check_swarm_params(const sh_dir_swarm_params *p)
{
    if (p->target < 1 || p->target > SH_DIR_SWARM_TARGET_MAX)
        return sh_err_set(SH_ERR_RANGE, "swarm-target %u must be 1 to %d", p->target,
                          SH_DIR_SWARM_TARGET_MAX);
    /* Halves of a split swarm (target+1 members) must not be undersized (below min-1). */
    if (p->min < 1 || p->min > p->target + 2)
        return sh_err_set(SH_ERR_RANGE, "swarm-min %u must be 1 to swarm-target + 2 (%u)", p->min,
                          p->target + 2);
    if (p->merge_grace_ms < 0)
        return sh_err_set(SH_ERR_RANGE, "swarm-merge-grace-ms must not be negative");
    if (p->bootstrap != 0 && (p->bootstrap < p->min || p->bootstrap > SH_DIR_MAX_NODES))
        return sh_err_set(SH_ERR_RANGE, "swarm-bootstrap %u must be swarm-min (%u) to %d, or 0",
                          p->bootstrap, p->min, SH_DIR_MAX_NODES);
    return SH_OK;
}

static int cmp_authority(const void *a, const void *b)
{
    return memcmp(((const sh_dir_authority *)a)->identity, ((const sh_dir_authority *)b)->identity,
                  SH_DIR_KEY_BYTES);
}

/* Checks the whole network, sorts the authorities and computes the id. */
static int finish(sh_dir_network *net)
{
    crypto_generichash_state st;
    sh_buf text;
    int rc;

    if (net->n == 0)
        return sh_err_set(SH_ERR_FORMAT, "the network has no authority");
    if (net->k < 1 || net->k > net->n)
        return sh_err_set(SH_ERR_RANGE, "k = %u, but it must be 1 to the number of authorities (%zu)",
                          net->k, net->n);
    if ((rc = sh__dir_check_swarm_params(&net->params)) != SH_OK)
        return rc;
    qsort(net->authorities, net->n, sizeof net->authorities[0], cmp_authority);
    for (size_t i = 0; i < net->n; i++)
        for (size_t j = i + 1; j < net->n; j++) {
            const sh_dir_authority *a = &net->authorities[i], *b = &net->authorities[j];
            if (memcmp(a->identity, b->identity, 32) == 0 || memcmp(a->link_key, b->link_key, 32) == 0 ||
                strcmp(a->address, b->address) == 0)
                return sh_err_set(SH_ERR_FORMAT, "two authorities share a key or an address (%s)",
                                  b->address);
        }
    sh_buf_init(&text);
    rc = sh_dir_network_format(net, &text);
    if (rc == SH_OK) {
        crypto_generichash_init(&st, NULL, 0, SH_DIR_HASH_BYTES);
        crypto_generichash_update(&st, (const uint8_t *)SH_LABEL_DIR_NETWORK_ID,
                                  sizeof SH_LABEL_DIR_NETWORK_ID);
        crypto_generichash_update(&st, text.data, text.len);
        crypto_generichash_final(&st, net->id, SH_DIR_HASH_BYTES);
    }
    sh_buf_free(&text);
    return rc;
}

static int parse_authority(parse_state *ps, char **tok, size_t ntok)
{
    sh_dir_authority *a;
    int rc;

    if (ntok != 4)
        return sh_err_set(SH_ERR_FORMAT, "expected: authority <ed25519-hex> <x25519-hex> <ip:port>");
    if (ps->net->n == SH_DIR_MAX_AUTHORITIES)
        return sh_err_set(SH_ERR_LIMIT, "more than %d authorities", SH_DIR_MAX_AUTHORITIES);
    a = &ps->net->authorities[ps->net->n];
    if ((rc = sh_hex_decode(a->identity, 32, tok[1])) != SH_OK)
        return sh_err_wrap(rc, "identity key");
    if ((rc = sh_hex_decode(a->link_key, 32, tok[2])) != SH_OK)
        return sh_err_wrap(rc, "link key");
    if (strlen(tok[3]) > SH_DIR_ADDRESS_MAX)
        return sh_err_set(SH_ERR_FORMAT, "address is longer than %d characters", SH_DIR_ADDRESS_MAX);
    strcpy(a->address, tok[3]);
    if ((rc = check_authority(a)) != SH_OK)
        return rc;
    ps->net->n++;
    return SH_OK;
}

/* Sets a single-valued numeric directive once. */
static int parse_number(bool *seen, char **tok, size_t ntok, uint64_t max, uint64_t *out)
{
    if (ntok != 2)
        return sh_err_set(SH_ERR_FORMAT, "expected: %s <number>", tok[0]);
    if (*seen)
        return sh_err_set(SH_ERR_FORMAT, "%s is given twice", tok[0]);
    *seen = true;
    return parse_uint(tok[1], max, tok[0], out);
}

static int parse_header(parse_state *ps, char **tok, size_t ntok)
{
    if (ntok != 2 || strcmp(tok[0], NETWORK_HEADER) != 0)
        return sh_err_set(SH_ERR_FORMAT, "the first line must be \"%s %d\"", NETWORK_HEADER,
                          NETWORK_FORMAT_VERSION);
    if (strcmp(tok[1], "1") != 0)
        return sh_err_set(SH_ERR_UNSUPPORTED, "network file format %.16s is not supported (this "
                          "build reads format %d)", tok[1], NETWORK_FORMAT_VERSION);
    ps->header = true;
    return SH_OK;
}

static int parse_name(parse_state *ps, char **tok, size_t ntok)
{
    int rc;

    if (ntok != 2)
        return sh_err_set(SH_ERR_FORMAT, "expected: name <network-name>");
    if (ps->has_name)
        return sh_err_set(SH_ERR_FORMAT, "name is given twice");
    ps->has_name = true;
    if ((rc = check_name(tok[1])) != SH_OK)
        return rc;
    strcpy(ps->net->name, tok[1]);
    return SH_OK;
}

static int parse_directive(parse_state *ps, char **tok, size_t ntok)
{
    sh_dir_network *net = ps->net;
    uint64_t v = 0;
    int rc;

    if (!ps->header)
        return parse_header(ps, tok, ntok);
    if (strcmp(tok[0], "authority") == 0)
        return parse_authority(ps, tok, ntok);
    if (strcmp(tok[0], "name") == 0)
        return parse_name(ps, tok, ntok);
    if (strcmp(tok[0], "k") == 0) {
        if ((rc = parse_number(&ps->has_k, tok, ntok, SH_DIR_MAX_AUTHORITIES, &v)) == SH_OK)
            net->k = (unsigned)v;
    } else if (strcmp(tok[0], "swarm-target") == 0) {
        if ((rc = parse_number(&ps->has_target, tok, ntok, SH_DIR_SWARM_TARGET_MAX, &v)) == SH_OK)
            net->params.target = (uint32_t)v;
    } else if (strcmp(tok[0], "swarm-min") == 0) {
        if ((rc = parse_number(&ps->has_min, tok, ntok, SH_DIR_SWARM_TARGET_MAX + 2, &v)) == SH_OK)
            net->params.min = (uint32_t)v;
    } else if (strcmp(tok[0], "swarm-merge-grace-ms") == 0) {
        if ((rc = parse_number(&ps->has_grace, tok, ntok, (uint64_t)INT64_MAX, &v)) == SH_OK)
            net->params.merge_grace_ms = (int64_t)v;
    } else if (strcmp(tok[0], "swarm-bootstrap") == 0) {
        if ((rc = parse_number(&ps->has_bootstrap, tok, ntok, SH_DIR_MAX_NODES, &v)) == SH_OK)
            net->params.bootstrap = (uint32_t)v;
    } else {
        rc = sh_err_set(SH_ERR_FORMAT, "unknown directive \"%.32s\"", tok[0]);
    }
    return rc;
}

/* Splits a line into tokens at runs of spaces and tabs (in place). */
static int tokenize(char *line, char **tok, size_t *ntok)
{
    size_t n = 0;
    char *p = line;

    for (;;) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (*p == '\0')
            break;
        if (n == NETWORK_MAX_TOKENS)
            return sh_err_set(SH_ERR_FORMAT, "too many fields");
        tok[n++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t')
            p++;
    }
    *ntok = n;
    return SH_OK;
}

static int parse_line(parse_state *ps, const char *start, size_t len)
{
    char line[NETWORK_LINE_MAX + 1], *tok[NETWORK_MAX_TOKENS];
    size_t ntok = 0;
    int rc;

    if (len > NETWORK_LINE_MAX)
        return sh_err_set(SH_ERR_LIMIT, "line is longer than %d characters", NETWORK_LINE_MAX);
    for (size_t i = 0; i < len; i++)
        if (start[i] != '\t' && ((unsigned char)start[i] < 0x20 || (unsigned char)start[i] > 0x7e))
            return sh_err_set(SH_ERR_FORMAT, "byte 0x%02x at column %zu is not printable ASCII%s",
                              (unsigned char)start[i], i + 1,
                              start[i] == '\r' ? " (use Unix line endings)" : "");
    memcpy(line, start, len);
    line[len] = '\0';
    if (line[strspn(line, " \t")] == '#')
        return SH_OK;
    if ((rc = tokenize(line, tok, &ntok)) != SH_OK)
        return rc;
    if (ntok == 0)
        return SH_OK;
    return parse_directive(ps, tok, ntok);
}

static void set_defaults(sh_dir_network *net)
{
    memset(net, 0, sizeof *net);
    net->params.target = SH_DIR_SWARM_TARGET_DEFAULT;
    net->params.min = SH_DIR_SWARM_MIN_DEFAULT;
    net->params.merge_grace_ms = SH_DIR_SWARM_MERGE_GRACE_MS_DEFAULT;
}

int sh_dir_network_parse(const char *text, size_t len, sh_dir_network **out)
{
    sh_dir_network *net = calloc(1, sizeof *net);
    parse_state ps = {.net = net};
    size_t pos = 0;
    int line = 0, rc = SH_OK;

    if (net == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the network");
    set_defaults(net);
    if (len > SH_DIR_NETWORK_FILE_MAX_BYTES) {
        rc = sh_err_set(SH_ERR_LIMIT, "network file is %zu bytes, more than %u", len,
                        SH_DIR_NETWORK_FILE_MAX_BYTES);
        goto done;
    }
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;

        line++;
        if ((rc = parse_line(&ps, text + pos, end - pos)) != SH_OK) {
            rc = sh_err_wrap(rc, "network file line %d", line);
            goto done;
        }
        pos = end + 1;
    }
    if (!ps.header) {
        rc = sh_err_set(SH_ERR_FORMAT, "network file is empty (it must start with \"%s %d\")",
                        NETWORK_HEADER, NETWORK_FORMAT_VERSION);
        goto done;
    }
    if (!ps.has_k) {
        rc = sh_err_set(SH_ERR_FORMAT, "network file does not say k (how many authority "
                        "signatures a map needs)");
        goto done;
    }
    if ((rc = finish(net)) != SH_OK) {
        rc = sh_err_wrap(rc, "network file");
        goto done;
    }
    *out = net;
    net = NULL;
done:
    free(net);
    return rc;
}

int sh_dir_network_load(const char *path, sh_dir_network **out)
{
    sh_buf text;
    int rc;

    sh_buf_init(&text);
    rc = sh_fs_read_file(path, SH_DIR_NETWORK_FILE_MAX_BYTES, &text);
    if (rc != SH_OK) {
        rc = sh_err_wrap(rc, "reading the network file %s", path);
        goto done;
    }
    rc = sh_dir_network_parse((const char *)text.data, text.len, out);
    if (rc != SH_OK)
        rc = sh_err_wrap(rc, "%s", path);
done:
    sh_buf_free(&text);
    return rc;
}

int sh_dir_network_new(const char *name, unsigned k, const sh_dir_authority *authorities, size_t n,
                       const sh_dir_swarm_params *params, sh_dir_network **out)
{
    sh_dir_network *net = calloc(1, sizeof *net);
    int rc = SH_OK;

    if (net == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the network");
    set_defaults(net);
    if (n > SH_DIR_MAX_AUTHORITIES) {
        rc = sh_err_set(SH_ERR_LIMIT, "more than %d authorities", SH_DIR_MAX_AUTHORITIES);
        goto done;
    }
    if (name != NULL && name[0] != '\0') {
        if ((rc = check_name(name)) != SH_OK)
            goto done;
        strcpy(net->name, name);
    }
    for (size_t i = 0; i < n; i++)
        if ((rc = check_authority(&authorities[i])) != SH_OK) {
            rc = sh_err_wrap(rc, "authority %zu", i + 1);
            goto done;
        }
    memcpy(net->authorities, authorities, n * sizeof *authorities);
    net->n = n;
    net->k = k;
    if (params != NULL)
        net->params = *params;
    if ((rc = finish(net)) != SH_OK)
        goto done;
    *out = net;
    net = NULL;
done:
    free(net);
    return rc;
}

void sh_dir_network_free(sh_dir_network *net)
{
    free(net);
}

int sh_dir_network_format(const sh_dir_network *net, sh_buf *out)
{
    char line[NETWORK_LINE_MAX + 1], id_hex[65], link_hex[65];
    int rc = SH_OK;

    sh_buf_reset(out);
    snprintf(line, sizeof line, "%s %d\n", NETWORK_HEADER, NETWORK_FORMAT_VERSION);
    rc = sh_buf_append_str(out, line);
    if (rc == SH_OK && net->name[0] != '\0') {
        snprintf(line, sizeof line, "name %s\n", net->name);
        rc = sh_buf_append_str(out, line);
    }
    snprintf(line, sizeof line, "k %u\nswarm-target %u\nswarm-min %u\nswarm-merge-grace-ms %lld\n",
             net->k, net->params.target, net->params.min, (long long)net->params.merge_grace_ms);
    if (rc == SH_OK)
        rc = sh_buf_append_str(out, line);
    if (rc == SH_OK && net->params.bootstrap != 0) {
        snprintf(line, sizeof line, "swarm-bootstrap %u\n", net->params.bootstrap);
        rc = sh_buf_append_str(out, line);
    }
    for (size_t i = 0; i < net->n && rc == SH_OK; i++) {
        const sh_dir_authority *a = &net->authorities[i];
        sh_hex_encode(id_hex, sizeof id_hex, a->identity, 32);
        sh_hex_encode(link_hex, sizeof link_hex, a->link_key, 32);
        snprintf(line, sizeof line, "authority %s %s %s\n", id_hex, link_hex, a->address);
        rc = sh_buf_append_str(out, line);
    }
    return rc;
}

const char *sh_dir_network_name(const sh_dir_network *net) { return net->name; }
unsigned sh_dir_network_k(const sh_dir_network *net) { return net->k; }
size_t sh_dir_network_authority_count(const sh_dir_network *net) { return net->n; }
const uint8_t *sh_dir_network_id(const sh_dir_network *net) { return net->id; }
const sh_dir_swarm_params *sh_dir_network_swarm_params(const sh_dir_network *net) { return &net->params; }

const sh_dir_authority *sh_dir_network_authority(const sh_dir_network *net, size_t i)
{
    return i < net->n ? &net->authorities[i] : NULL;
}

int sh_dir_network_find(const sh_dir_network *net, const uint8_t identity[static SH_DIR_KEY_BYTES],
                        size_t *index)
{
    for (size_t i = 0; i < net->n; i++)
        if (memcmp(net->authorities[i].identity, identity, SH_DIR_KEY_BYTES) == 0) {
            *index = i;
            return SH_OK;
        }
    return sh_err_set(SH_ERR_NOT_FOUND, "not an authority of this network");
}
