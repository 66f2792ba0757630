/* A tiny named service for the onion tests (docs/onion.md "Named services"): listens on
 * loopback with a fresh link key, prints "<port> <link-key-hex>" on stdout, and answers the
 * client-kind method `echo` with "echo from <caller's link key, 8 hex>: " ‖ body, until killed. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "net/net.h"
#include "util/encode.h"
#include "util/err.h"

static void on_echo(sh_net_req *req, const uint8_t *body, size_t len, void *ctx)
{
    char head[64], from[9];
    uint8_t out[64 + 4096];
    size_t n;

    (void)ctx;
    sh_hex_encode(from, sizeof from, sh_net_req_peer_key(req), 4);
    n = (size_t)snprintf(head, sizeof head, "echo from %s: ", from);
    if (len > sizeof out - n) {
        (void)sh_net_respond(req, SH_ERR_LIMIT, NULL, 0, "echo takes at most 4096 bytes");
        return;
    }
    memcpy(out, head, n);
    memcpy(out + n, body, len);
    (void)sh_net_respond(req, SH_OK, out, n + len, NULL);
}

int main(void)
{
    uint8_t sk[SH_NET_KEY_BYTES], pk[SH_NET_KEY_BYTES];
    char hex[2 * SH_NET_KEY_BYTES + 1];
    uv_loop_t loop;
    sh_net *net;
    uint16_t port;

    if (sodium_init() < 0 || uv_loop_init(&loop) != 0)
        return 1;
    randombytes_buf(sk, sizeof sk);
    crypto_scalarmult_curve25519_base(pk, sk);
    if (sh_net_new(&loop, NULL, &net) != SH_OK ||
        sh_net_register(net, "echo", SH_RPC_CLIENT, on_echo, NULL, NULL) != SH_OK ||
        sh_net_listen(net, "127.0.0.1", 0, sk, &port) != SH_OK) {
        fprintf(stderr, "fakeservice: %s\n", sh_err_msg());
        return 1;
    }
    sh_hex_encode(hex, sizeof hex, pk, sizeof pk);
    printf("%u %s\n", port, hex);
    fflush(stdout);
    uv_run(&loop, UV_RUN_DEFAULT);
    return 0;
}
