/* The node's per-epoch ristretto255 onion keys (overview.md "Network": current and next keys,
 * the previous one kept only during the overlap; docs/onion.md "Keys and epochs").
 *
 * Slots and transitions, all made by sh_onion_keyring_advance(now) from the epoch e of `now`:
 *   NEXT(e+1) --epoch e+1 begins--> CURRENT(e+1) --epoch e+2 begins--> PREVIOUS(e+1)
 *   PREVIOUS(e+1) --now >= start of e+2 + overlap--> wiped
 * A slot whose key does not fit the epochs of `now` (a node that was down, a clock that jumped)
 * is wiped and a fresh key generated. Only CURRENT and PREVIOUS open packets. The whole keyring
 * lives in guarded memory (sh_secret_alloc) and is wiped when freed.
 *
 * File format (sh_onion_keyring_save, mode 0600): "SHOALOK1", a count byte, then per key: slot
 * byte, epoch (u64 big-endian), secret scalar (32 bytes). */
#include "onion/internal.h"

#include <sodium.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/err.h"
#include "util/fs.h"

#define FILE_MAGIC "SHOALOK1"
#define FILE_MAGIC_BYTES 8
#define FILE_ENTRY_BYTES (1 + 8 + SH_ONION_SECRET_KEY_BYTES)
#define FILE_MAX_BYTES (FILE_MAGIC_BYTES + 1 + SH_ONION_SLOT_COUNT * FILE_ENTRY_BYTES)

typedef struct key_slot {
    bool used;
    uint64_t epoch;
    uint8_t secret[SH_ONION_SECRET_KEY_BYTES];
    uint8_t public_key[SH_ONION_PUBLIC_KEY_BYTES];
} key_slot;

struct sh_onion_keyring {
    sh_onion_epochs ep;
    key_slot slot[SH_ONION_SLOT_COUNT];
};

static int check_epochs(const sh_onion_epochs *ep)
{
    if (ep->epoch_ms <= 0 || ep->overlap_ms < 0 || ep->overlap_ms >= ep->epoch_ms)
        return sh_err_set(SH_ERR_RANGE, "onion epochs of %lld ms with an overlap of %lld ms: "
                                        "need 0 <= overlap < epoch", (long long)ep->epoch_ms,
                          (long long)ep->overlap_ms);
    return SH_OK;
}

int sh_onion_epoch_at(const sh_onion_epochs *ep, int64_t now_ms, uint64_t *epoch)
{
    int rc = check_epochs(ep);

    if (rc != SH_OK)
        return rc;
    if (now_ms < 0)
        return sh_err_set(SH_ERR_RANGE, "time %lld ms is before 1970", (long long)now_ms);
    *epoch = (uint64_t)(now_ms / ep->epoch_ms);
    return SH_OK;
}

void sh_onion_epoch_window(const sh_onion_epochs *ep, uint64_t epoch, int64_t *valid_after_ms,
                           int64_t *valid_until_ms)
{
    *valid_after_ms = (int64_t)epoch * ep->epoch_ms;
    *valid_until_ms = ((int64_t)epoch + 1) * ep->epoch_ms + ep->overlap_ms;
}

int sh_onion_keyring_new(const sh_onion_epochs *ep, sh_onion_keyring **out)
{
    sh_onion_keyring *kr;
    int rc = check_epochs(ep);

    if (rc != SH_OK)
        return rc;
    kr = sh_secret_alloc(sizeof *kr);
    if (kr == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the onion keyring");
    memset(kr, 0, sizeof *kr);
    kr->ep = *ep;
    *out = kr;
    return SH_OK;
}

void sh_onion_keyring_free(sh_onion_keyring *kr)
{
    sh_secret_free(kr);
}

static int fill_slot(key_slot *s, uint64_t epoch, const uint8_t secret[static 32])
{
    if (crypto_scalarmult_ristretto255_base(s->public_key, secret) != 0)
        return sh_err_set(SH_ERR_INVALID, "an onion secret key of zero is not a key");
    memcpy(s->secret, secret, SH_ONION_SECRET_KEY_BYTES);
    s->epoch = epoch;
    s->used = true;
    return SH_OK;
}

static int generate_slot(key_slot *s, uint64_t epoch)
{
    uint8_t secret[SH_ONION_SECRET_KEY_BYTES];
    int rc;

    crypto_core_ristretto255_scalar_random(secret);
    rc = fill_slot(s, epoch, secret);
    sodium_memzero(secret, sizeof secret);
    return rc;
}

int sh__onion_keyring_set(sh_onion_keyring *kr, sh_onion_slot slot, uint64_t epoch,
                          const uint8_t secret[static SH_ONION_SECRET_KEY_BYTES])
{
    if ((unsigned)slot >= SH_ONION_SLOT_COUNT)
        return sh_err_set(SH_ERR_INVALID, "onion key slot %d does not exist", (int)slot);
    return fill_slot(&kr->slot[slot], epoch, secret);
}

/* Moves the old key of `epoch` into *to if there is one; true when it did. */
static bool reuse(key_slot old[static SH_ONION_SLOT_COUNT], uint64_t epoch, key_slot *to)
{
    for (int i = 0; i < SH_ONION_SLOT_COUNT; i++) {
        if (old[i].used && old[i].epoch == epoch) {
            *to = old[i];
            sodium_memzero(&old[i], sizeof old[i]);
            return true;
        }
    }
    return false;
}

int sh_onion_keyring_advance(sh_onion_keyring *kr, int64_t now_ms, bool *changed)
{
    key_slot old[SH_ONION_SLOT_COUNT], *s = kr->slot;
    uint8_t was_cur[SH_ONION_PUBLIC_KEY_BYTES], was_next[SH_ONION_PUBLIC_KEY_BYTES];
    uint64_t e;
    int rc = sh_onion_epoch_at(&kr->ep, now_ms, &e);

    if (rc != SH_OK)
        return rc;
    memcpy(was_cur, s[SH_ONION_SLOT_CURRENT].public_key, sizeof was_cur);
    memcpy(was_next, s[SH_ONION_SLOT_NEXT].public_key, sizeof was_next);
    memcpy(old, s, sizeof old);
    memset(s, 0, sizeof old);
    if (!reuse(old, e, &s[SH_ONION_SLOT_CURRENT]))
        rc = generate_slot(&s[SH_ONION_SLOT_CURRENT], e);
    if (rc == SH_OK && !reuse(old, e + 1, &s[SH_ONION_SLOT_NEXT]))
        rc = generate_slot(&s[SH_ONION_SLOT_NEXT], e + 1);
    if (rc == SH_OK && e > 0 && now_ms < (int64_t)e * kr->ep.epoch_ms + kr->ep.overlap_ms)
        reuse(old, e - 1, &s[SH_ONION_SLOT_PREVIOUS]);
    if (changed != NULL)
        *changed = sodium_memcmp(was_cur, s[SH_ONION_SLOT_CURRENT].public_key, sizeof was_cur) != 0 ||
                   sodium_memcmp(was_next, s[SH_ONION_SLOT_NEXT].public_key, sizeof was_next) != 0;
    sodium_memzero(old, sizeof old);
    return rc;
}

int sh_onion_keyring_public(const sh_onion_keyring *kr, sh_onion_slot slot, uint64_t *epoch,
                            uint8_t public_key[static SH_ONION_PUBLIC_KEY_BYTES])
{
    if ((unsigned)slot >= SH_ONION_SLOT_COUNT || !kr->slot[slot].used)
        return sh_err_set(SH_ERR_NOT_FOUND, "the onion keyring has no key in slot %d", (int)slot);
    *epoch = kr->slot[slot].epoch;
    memcpy(public_key, kr->slot[slot].public_key, SH_ONION_PUBLIC_KEY_BYTES);
    return SH_OK;
}

int sh_onion_keyring_oldest(const sh_onion_keyring *kr, uint64_t *epoch)
{
    for (int i = SH_ONION_SLOT_PREVIOUS; i <= SH_ONION_SLOT_CURRENT; i++) {
        if (kr->slot[i].used) {
            *epoch = kr->slot[i].epoch;
            return SH_OK;
        }
    }
    return sh_err_set(SH_ERR_NOT_FOUND, "the onion keyring is empty");
}

const uint8_t *sh__onion_keyring_find(const sh_onion_keyring *kr, uint64_t epoch)
{
    for (int i = SH_ONION_SLOT_PREVIOUS; i <= SH_ONION_SLOT_CURRENT; i++)
        if (kr->slot[i].used && kr->slot[i].epoch == epoch)
            return kr->slot[i].secret;
    return NULL;
}

int sh_onion_keyring_save(const sh_onion_keyring *kr, const char *path)
{
    uint8_t buf[FILE_MAX_BYTES], *p = buf + FILE_MAGIC_BYTES + 1;
    uint8_t count = 0;
    int rc;

    memcpy(buf, FILE_MAGIC, FILE_MAGIC_BYTES);
    for (int i = 0; i < SH_ONION_SLOT_COUNT; i++) {
        if (!kr->slot[i].used)
            continue;
        p[0] = (uint8_t)i;
        sh_store_u64be(p + 1, kr->slot[i].epoch);
        memcpy(p + 9, kr->slot[i].secret, SH_ONION_SECRET_KEY_BYTES);
        p += FILE_ENTRY_BYTES;
        count++;
    }
    buf[FILE_MAGIC_BYTES] = count;
    rc = sh_fs_write_file(path, buf, (size_t)(p - buf), 0600);
    sodium_memzero(buf, sizeof buf);
    return rc == SH_OK ? SH_OK : sh_err_wrap(rc, "saving the onion keyring");
}

/* A canonical, non-zero scalar: reducing it changes nothing. */
static bool canonical_scalar(const uint8_t s[static 32])
{
    uint8_t wide[64] = {0}, reduced[32];
    bool ok;

    memcpy(wide, s, 32);
    crypto_core_ristretto255_scalar_reduce(reduced, wide);
    ok = sodium_memcmp(reduced, s, 32) == 0 && !sodium_is_zero(s, 32);
    sodium_memzero(wide, sizeof wide);
    sodium_memzero(reduced, sizeof reduced);
    return ok;
}

int sh_onion_keyring_parse(const sh_onion_epochs *ep, const uint8_t *data, size_t len,
                           sh_onion_keyring **out)
{
    sh_onion_keyring *kr = NULL;
    const uint8_t *p = data + FILE_MAGIC_BYTES + 1;
    int rc;

    if (len < FILE_MAGIC_BYTES + 1 || memcmp(data, FILE_MAGIC, FILE_MAGIC_BYTES) != 0 ||
        data[FILE_MAGIC_BYTES] > SH_ONION_SLOT_COUNT ||
        len != FILE_MAGIC_BYTES + 1 + (size_t)data[FILE_MAGIC_BYTES] * FILE_ENTRY_BYTES)
        return sh_err_set(SH_ERR_FORMAT, "not an onion keyring file (bad magic, count or size)");
    rc = sh_onion_keyring_new(ep, &kr);
    for (int i = 0; rc == SH_OK && i < data[FILE_MAGIC_BYTES]; i++, p += FILE_ENTRY_BYTES) {
        if (p[0] >= SH_ONION_SLOT_COUNT || kr->slot[p[0]].used)
            rc = sh_err_set(SH_ERR_FORMAT, "onion keyring file names slot %u twice or unknown", p[0]);
        else if (!canonical_scalar(p + 9))
            rc = sh_err_set(SH_ERR_FORMAT, "onion keyring file holds an invalid secret key");
        else
            rc = fill_slot(&kr->slot[p[0]], sh_load_u64be(p + 1), p + 9);
    }
    if (rc != SH_OK) {
        sh_onion_keyring_free(kr);
        return rc;
    }
    *out = kr;
    return SH_OK;
}

int sh_onion_keyring_load(const sh_onion_epochs *ep, const char *path, sh_onion_keyring **out)
{
    sh_buf b;
    int rc;

    sh_buf_init_secret(&b);
    rc = sh_fs_read_file(path, FILE_MAX_BYTES, &b);
    if (rc == SH_OK)
        rc = sh_onion_keyring_parse(ep, b.data, b.len, out);
    sh_buf_free(&b);
    return rc == SH_OK ? SH_OK : sh_err_wrap(rc, "loading the onion keyring %s", path);
}
