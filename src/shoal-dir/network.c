/* shoal-dir init-network: writes a network file (docs/network-file.md) naming the authorities,
 * from their key files (a devnet holds them all) or from their public keys. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "crypto/crypto.h"
#include "shoal-dir.h"
#include "util/encode.h"
#include "util/err.h"
#include "util/fs.h"

#define HELP                                                                                      \
    "usage: shoal-dir init-network --out FILE --k N [--name NAME] [--swarm-target N]\n"          \
    "           [--swarm-min N] [--swarm-merge-grace-ms MS] [--swarm-bootstrap N]\n"               \
    "           --authority SPEC [--authority SPEC...]\n"                                         \
    "\nWrites the network file every node, client and authority is given with --network.\n"     \
    "SPEC is KEYFILE=ADDRESS (a key file from 'shoal-dir keygen') or IDENTITY,LINKKEY,ADDRESS\n"  \
    "(the hex keys 'shoal-dir pubkey' prints); ADDRESS is ip:port or [ipv6]:port.\n"              \
    "  --k N                    signatures a map needs (1 to the number of authorities)\n"       \
    "  --swarm-target N         swarms split above 2N+1 members (default 5; a devnet uses 4)\n"  \
    "  --swarm-min N            no swarms below N nodes; merges below N-1 (default 3)\n"         \
    "  --swarm-merge-grace-ms   how long a small swarm may stay before it merges (1 h)\n"      \
    "  --swarm-bootstrap N      the first swarms wait for N nodes (default: swarm-min)\n"

typedef struct net_args {
    const char *out, *name;
    uint64_t k;
    sh_dir_swarm_params params;
    sh_dir_authority auth[SH_DIR_MAX_AUTHORITIES];
    size_t n;
} net_args;

static int parse_spec(const char *spec, sh_dir_authority *a)
{
    char buf[4200];
    char *addr;
    sh_dir_auth_keys *k;

    if (snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf)
        return sh_err_set(SH_ERR_LIMIT, "authority spec too long");
    if ((addr = strchr(buf, '=')) != NULL) {
        *addr++ = '\0';
        if (dir_keys_load(buf, &k) != SH_OK)
            return SH_ERR_INVALID;
        memcpy(a->identity, k->identity, 32);
        memcpy(a->link_key, k->link_key, 32);
        sh_secret_free(k);
    } else {
        char *link = strchr(buf, ',');
        addr = link != NULL ? strchr(link + 1, ',') : NULL;
        if (addr == NULL)
            return sh_err_set(SH_ERR_FORMAT, "authority '%s' is neither KEYFILE=ADDRESS nor "
                              "IDENTITY,LINKKEY,ADDRESS", spec);
        *link++ = '\0';
        *addr++ = '\0';
        if (sh_hex_decode(a->identity, 32, buf) != SH_OK || sh_hex_decode(a->link_key, 32, link) != SH_OK)
            return sh_err_set(SH_ERR_FORMAT, "authority '%s': keys must be 64 hex digits", spec);
    }
    if (snprintf(a->address, sizeof a->address, "%s", addr) >= (int)sizeof a->address)
        return sh_err_set(SH_ERR_LIMIT, "address '%s' is too long", addr);
    return SH_OK;
}

static int parse_args(int argc, char **argv, net_args *a)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},       {"k", required_argument, NULL, 'k'},
        {"name", required_argument, NULL, 'n'},      {"swarm-target", required_argument, NULL, 't'},
        {"swarm-min", required_argument, NULL, 'm'}, {"swarm-merge-grace-ms", required_argument, NULL, 'g'},
        {"swarm-bootstrap", required_argument, NULL, 'b'},
        {"authority", required_argument, NULL, 'a'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    uint64_t v;
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'o': a->out = optarg; break;
        case 'n': a->name = optarg; break;
        case 'k': ok = dir_parse_u64(optarg, SH_DIR_MAX_AUTHORITIES, &a->k); break;
        case 't': ok = dir_parse_u64(optarg, SH_DIR_SWARM_TARGET_MAX, &v); a->params.target = (uint32_t)v; break;
        case 'm': ok = dir_parse_u64(optarg, SH_DIR_SWARM_TARGET_MAX + 2, &v); a->params.min = (uint32_t)v; break;
        case 'g': ok = dir_parse_u64(optarg, INT64_MAX, &v); a->params.merge_grace_ms = (int64_t)v; break;
        case 'b': ok = dir_parse_u64(optarg, SH_DIR_MAX_NODES, &v); a->params.bootstrap = (uint32_t)v; break;
        case 'a':
            if (a->n == SH_DIR_MAX_AUTHORITIES)
                return dir_usage_error("init-network", "too many authorities at", optarg);
            if (parse_spec(optarg, &a->auth[a->n++]) != SH_OK)
                return dir_fail("init-network");
            break;
        case 'h': fputs(HELP, stdout); return DIR_EXIT_OK;
        default: return dir_usage_error("init-network", "unknown option", argv[optind - 1]);
        }
        if (!ok)
            return dir_usage_error("init-network", "bad number", optarg);
    }
    if (a->out == NULL || a->k == 0 || a->n == 0 || optind != argc)
        return dir_usage_error("init-network", "needs --out, --k and --authority; not", optind < argc ? argv[optind] : "");
    return -1;
}

int dir_cmd_init_network(int argc, char **argv)
{
    net_args a = {.params = {SH_DIR_SWARM_TARGET_DEFAULT, SH_DIR_SWARM_MIN_DEFAULT,
                             SH_DIR_SWARM_MERGE_GRACE_MS_DEFAULT, 0}};
    sh_dir_network *net = NULL;
    char id[65];
    sh_buf text;
    int rc = parse_args(argc, argv, &a);

    if (rc >= 0)
        return rc;
    sh_buf_init(&text);
    rc = sh_dir_network_new(a.name, (unsigned)a.k, a.auth, a.n, &a.params, &net);
    if (rc == SH_OK)
        rc = sh_dir_network_format(net, &text);
    if (rc == SH_OK)
        rc = sh_fs_write_file(a.out, text.data, text.len, 0644);
    if (rc == SH_OK) {
        sh_hex_encode(id, sizeof id, sh_dir_network_id(net), 32);
        printf("network %s: %zu authorities, k = %u, id %s\n", a.out, a.n, (unsigned)a.k, id);
    }
    sh_dir_network_free(net);
    sh_buf_free(&text);
    return rc == SH_OK ? DIR_EXIT_OK : dir_fail("init-network");
}
