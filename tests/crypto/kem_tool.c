/* A line-oriented front end to Shoal's KEMs for the cross-check against @noble/post-quantum
 * (noble/crosscheck.mjs). One request per input line, one answer per output line, hex throughout:
 *   mk SEED64      -> EK DK        ML-KEM-768 KeyGen_internal(d, z), seed = d || z
 *   me EK M        -> CT SS        ML-KEM-768 Encaps_internal (after the modulus check)
 *   md DK CT       -> SS           ML-KEM-768 Decaps (after the hash check)
 *   xk SEED32      -> EK           X-Wing key from its seed
 *   xe EK ESEED64  -> CT SS        X-Wing EncapsulateDerand
 *   xd SEED32 CT   -> SS           X-Wing Decapsulate
 * A rejected request answers `ERR <code name>`; a malformed line ends the program with status 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shoal/err.h>

#include "crypto/crypto.h"
#include "crypto/kem.h"
#include "util/buf.h"
#include "util/encode.h"

static void print_hex(const uint8_t *b, size_t len, char end)
{
    for (size_t i = 0; i < len; i++)
        printf("%02x", b[i]);
    putchar(end);
}

static void handle(char *cmd, sh_buf *x, sh_buf *y)
{
    uint8_t ek[SH_XWING_EK_BYTES], dk[SH_MLKEM768_DK_BYTES], ct[SH_XWING_CT_BYTES], ss[32];
    int rc = SH_ERR_INVALID;

    if (strcmp(cmd, "mk") == 0 && (rc = sh_mlkem768_keygen_seed(ek, dk, x->data, x->len)) == 0) {
        print_hex(ek, SH_MLKEM768_EK_BYTES, ' ');
        print_hex(dk, SH_MLKEM768_DK_BYTES, '\n');
    } else if (strcmp(cmd, "me") == 0 && y->len == 32 &&
               (rc = sh_mlkem768_encaps_buf(ct, ss, x->data, x->len, y->data)) == 0) {
        print_hex(ct, SH_MLKEM768_CT_BYTES, ' ');
        print_hex(ss, 32, '\n');
    } else if (strcmp(cmd, "md") == 0 &&
               (rc = sh_mlkem768_decaps_buf(ss, y->data, y->len, x->data, x->len)) == 0) {
        print_hex(ss, 32, '\n');
    } else if (strcmp(cmd, "xk") == 0 && x->len == 32 &&
               (rc = sh_xwing_keygen_derand(ek, dk, x->data)) == 0) {
        print_hex(ek, SH_XWING_EK_BYTES, '\n');
    } else if (strcmp(cmd, "xe") == 0 && x->len == SH_XWING_EK_BYTES && y->len == 64 &&
               (rc = sh_xwing_encaps_derand(ct, ss, x->data, y->data)) == 0) {
        print_hex(ct, SH_XWING_CT_BYTES, ' ');
        print_hex(ss, 32, '\n');
    } else if (strcmp(cmd, "xd") == 0 && x->len == 32 &&
               (rc = sh_xwing_decaps_buf(ss, y->data, y->len, x->data)) == 0) {
        print_hex(ss, 32, '\n');
    } else if (rc != 0) {
        printf("ERR %s\n", sh_err_name(rc));
    }
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    sh_buf x, y;

    if (sh_crypto_init() != SH_OK)
        return 1;
    sh_buf_init(&x);
    sh_buf_init(&y);
    while (getline(&line, &cap, stdin) > 0) {
        char *cmd = strtok(line, " \r\n"), *a = strtok(NULL, " \r\n"), *b = strtok(NULL, " \r\n");

        sh_buf_reset(&x);
        sh_buf_reset(&y);
        if (cmd == NULL || a == NULL || sh_hex_decode_buf(&x, a) != SH_OK ||
            (b != NULL && sh_hex_decode_buf(&y, b) != SH_OK)) {
            fprintf(stderr, "kem-tool: malformed request line\n");
            return 2;
        }
        handle(cmd, &x, &y);
    }
    free(line);
    sh_buf_free(&x);
    sh_buf_free(&y);
    return 0;
}
