/* Labelled HKDF-SHA256 for Protocol V2's key schedules (docs/protocol-v2.md): info = label ‖
 * context. Canonical signed objects are in wire/pb.h. */
#include "e2e/internal.h"

#include <string.h>

#include "crypto/hkdf.h"
#include "util/err.h"

int sh__e2e_kdf(uint8_t *out, size_t out_len, const uint8_t *salt, size_t salt_len,
                const uint8_t *ikm, size_t ikm_len, const char *label, const uint8_t *ctx,
                size_t ctx_len)
{
    uint8_t info[256];
    size_t label_len = strlen(label);

    if (label_len + ctx_len > sizeof info)
        return sh_err_set(SH_ERR_INTERNAL, "KDF context too long");
    memcpy(info, label, label_len);
    if (ctx_len != 0)
        memcpy(info + label_len, ctx, ctx_len);
    return sh_hkdf_sha256(out, out_len, salt, salt_len, ikm, ikm_len, info, label_len + ctx_len);
}
