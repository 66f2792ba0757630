/* The network file as the client reads it (docs/network-file.md; docs/client.md "Network file").
 * The directory's format, plus `node <ed25519-hex> <x25519-hex> <ip:port>` lines naming nodes
 * the client calls directly while clients do not yet fetch the map. A file with authorities is
 * checked whole by the directory's parser (without the node lines, which it does not know); a
 * file of node lines only needs the `shoal-network 1` header. */
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "dir/client.h"
#include "dir/dir.h"
#include "util/encode.h"
#include "util/err.h"
#include "util/fs.h"

#define LINE_MAX_CHARS 512

static int parse_node(char *args, unsigned line, sh_client_network *out)
{
    char ed[80], x[80], addr[128], host[48], extra[2];
    uint8_t ip[16];
    size_t ip_len;
    sh_client_node_addr *n;
    int fields = sscanf(args, "%79s %79s %127s %1s", ed, x, addr, extra);

    if (fields != 3)
        return sh_err_set(SH_ERR_FORMAT, "network file line %u: node needs <ed25519-hex> "
                          "<x25519-hex> <ip:port>", line);
    if (out->n_nodes == SH_CLIENT_MAX_NODES)
        return sh_err_set(SH_ERR_LIMIT, "network file line %u: more than %d nodes", line,
                          SH_CLIENT_MAX_NODES);
    n = &out->nodes[out->n_nodes];
    if (strlen(ed) != 64 || sh_hex_decode(n->identity_key, 32, ed) != SH_OK)
        return sh_err_set(SH_ERR_FORMAT, "network file line %u: identity key: expected 64 hex "
                          "digits", line);
    if (strlen(x) != 64 || sh_hex_decode(n->link_key, 32, x) != SH_OK)
        return sh_err_set(SH_ERR_FORMAT, "network file line %u: link key: expected 64 hex digits",
                          line);
    if (sh_dir_address_parse(addr, ip, &ip_len, &n->port) != SH_OK ||
        sh_dir_address_split(addr, host, &n->port) != SH_OK)
        return sh_err_wrap(SH_ERR_FORMAT, "network file line %u", line);
    snprintf(n->ip, sizeof n->ip, "%s", host);
    out->n_nodes++;
    return SH_OK;
}

/* Handles one line; appends every line but node lines to `rest` for the directory's parser. */
static int parse_line(char *text, unsigned line, bool *header, sh_client_network *out, sh_buf *rest)
{
    char *p = text + strspn(text, " \t");
    size_t word = strcspn(p, " \t");

    if (*p == '\0' || *p == '#')
        return sh_buf_append(rest, "\n", 1);
    if (!*header) {
        char version[16] = "", extra[2];
        if (strncmp(p, "shoal-network", word) != 0 || word != 13)
            return sh_err_set(SH_ERR_FORMAT, "network file line %u: the first directive must be "
                              "'shoal-network 1'", line);
        if (sscanf(p + word, "%15s %1s", version, extra) != 1 || strcmp(version, "1") != 0)
            return sh_err_set(SH_ERR_UNSUPPORTED, "network file line %u: format '%s' is not "
                              "version 1", line, version);
        *header = true;
    } else if (word == 4 && strncmp(p, "node", 4) == 0) {
        int rc = parse_node(p + 4, line, out);
        return rc != SH_OK ? rc : sh_buf_append(rest, "\n", 1);
    } else if (word == 9 && strncmp(p, "authority", 9) == 0) {
        out->n_authorities++;
    }
    if (sh_buf_append_str(rest, text) != SH_OK || sh_buf_append(rest, "\n", 1) != SH_OK)
        return sh_err_set(SH_ERR_NOMEM, "out of memory reading the network file");
    return SH_OK;
}

int sh_client_network_parse(const char *text, size_t len, sh_client_network *out)
{
    char line_buf[LINE_MAX_CHARS + 1];
    unsigned line = 0;
    bool header = false;
    sh_buf rest;
    int rc = SH_OK;

    memset(out, 0, sizeof *out);
    if (len > SH_CLIENT_NETFILE_MAX_BYTES)
        return sh_err_set(SH_ERR_LIMIT, "the network file is over %d bytes",
                          SH_CLIENT_NETFILE_MAX_BYTES);
    sh_buf_init(&rest);
    for (size_t i = 0; i < len && rc == SH_OK;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl != NULL ? (size_t)(nl - (text + i)) : len - i;

        line++;
        if (n > LINE_MAX_CHARS || memchr(text + i, '\0', n) != NULL || memchr(text + i, '\r', n))
            rc = sh_err_set(SH_ERR_FORMAT, "network file line %u: too long, or a NUL or carriage "
                            "return", line);
        else {
            memcpy(line_buf, text + i, n);
            line_buf[n] = '\0';
            rc = parse_line(line_buf, line, &header, out, &rest);
        }
        i += n + 1;
    }
    if (rc == SH_OK && !header)
        rc = sh_err_set(SH_ERR_FORMAT, "the network file has no 'shoal-network 1' line");
    if (rc == SH_OK && out->n_authorities > 0) {
        sh_dir_network *net = NULL;
        rc = sh_dir_network_parse((const char *)rest.data, rest.len, &net);
        sh_dir_network_free(net);
    }
    if (rc == SH_OK && out->n_nodes == 0 && out->n_authorities == 0)
        rc = sh_err_set(SH_ERR_NOT_FOUND, "the network file names no authority and no node");
    sh_buf_free(&rest);
    return rc;
}

int sh_client_network_load(const char *path, sh_client_network *out)
{
    sh_buf file;
    int rc;

    sh_buf_init(&file);
    rc = sh_fs_read_file(path, SH_CLIENT_NETFILE_MAX_BYTES, &file);
    if (rc == SH_OK)
        rc = sh_client_network_parse((const char *)file.data, file.len, out);
    else
        rc = sh_err_wrap(rc, "network file %s", path);
    sh_buf_free(&file);
    return rc;
}
