/* Node and authority addresses: "a.b.c.d:port" or "[v6]:port" in exactly one spelling (the one
 * inet_ntop writes), so that votes can compare addresses as strings and a /16 limit cannot be
 * dodged by writing the same address twice in different ways (docs/directory.md "Addresses"). */
#include "dir/client.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

static int parse_port(const char *s, uint16_t *port)
{
    unsigned long v = 0;
    size_t n = strlen(s);

    if (n == 0 || n > 5 || (s[0] == '0'))
        return sh_err_set(SH_ERR_FORMAT, "port \"%.8s\" must be 1 to 65535 without leading zeros", s);
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return sh_err_set(SH_ERR_FORMAT, "port \"%.8s\" is not a decimal number", s);
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 65535)
        return sh_err_set(SH_ERR_FORMAT, "port %lu is above 65535", v);
    *port = (uint16_t)v;
    return SH_OK;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* Parses the host part and checks that inet_ntop spells it the same way. */
static int parse_host(const char *host, bool v6, uint8_t ip[16], size_t *ip_len)
{
    char back[INET6_ADDRSTRLEN];
    int af = v6 ? AF_INET6 : AF_INET;
    size_t n = v6 ? 16 : 4;

    if (inet_pton(af, host, ip) != 1)
        return sh_err_set(SH_ERR_FORMAT, "\"%.46s\" is not an IPv%d address", host, v6 ? 6 : 4);
    if (inet_ntop(af, ip, back, sizeof back) == NULL || strcmp(back, host) != 0)
        return sh_err_set(SH_ERR_FORMAT, "address \"%.46s\" is not in canonical form (write %s)",
                          host, back);
    if (all_zero(ip, n))
        return sh_err_set(SH_ERR_FORMAT, "address %s is unspecified", host);
    if ((!v6 && (ip[0] & 0xf0) == 0xe0) || (v6 && ip[0] == 0xff) ||
        (!v6 && memcmp(ip, "\xff\xff\xff\xff", 4) == 0))
        return sh_err_set(SH_ERR_FORMAT, "address %s is multicast or broadcast", host);
    if (v6 && all_zero(ip, 10) && ip[10] == 0xff && ip[11] == 0xff)
        return sh_err_set(SH_ERR_FORMAT, "address %s is IPv4-mapped; write the IPv4 address", host);
    *ip_len = n;
    return SH_OK;
}

int sh_dir_address_parse(const char *text, uint8_t ip[16], size_t *ip_len, uint16_t *port)
{
    char host[SH_DIR_ADDRESS_MAX + 1];
    const char *colon;
    size_t n = strlen(text), host_len;
    bool v6 = text[0] == '[';
    int rc;

    if (n > SH_DIR_ADDRESS_MAX)
        return sh_err_set(SH_ERR_FORMAT, "address is %zu characters, more than %d", n, SH_DIR_ADDRESS_MAX);
    if (v6) {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            return sh_err_set(SH_ERR_FORMAT, "address \"%s\" must be [ipv6]:port", text);
        colon = close + 1;
        host_len = (size_t)(close - text) - 1;
        memcpy(host, text + 1, host_len);
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL)
            return sh_err_set(SH_ERR_FORMAT, "address \"%s\" has no port (ip:port)", text);
        host_len = (size_t)(colon - text);
        memcpy(host, text, host_len);
    }
    host[host_len] = '\0';
    rc = parse_host(host, v6, ip, ip_len);
    if (rc != SH_OK)
        return rc;
    return parse_port(colon + 1, port);
}

bool sh_dir_address_is_loopback(const char *text)
{
    static const uint8_t v6_loopback[16] = {[15] = 1};
    uint8_t ip[16];
    size_t ip_len;
    uint16_t port;

    if (sh_dir_address_parse(text, ip, &ip_len, &port) != SH_OK)
        return false;
    return ip_len == 4 ? ip[0] == 127 : memcmp(ip, v6_loopback, 16) == 0;
}

int sh_dir_address_split(const char *address, char host[static 48], uint16_t *port)
{
    uint8_t ip[16];
    size_t ip_len;
    int rc = sh_dir_address_parse(address, ip, &ip_len, port);

    if (rc != SH_OK)
        return rc;
    if (inet_ntop(ip_len == 16 ? AF_INET6 : AF_INET, ip, host, 48) == NULL)
        return sh_err_set(SH_ERR_INTERNAL, "cannot print address %s", address);
    return SH_OK;
}
