/* The replay cache (overview.md "Onion routing"; docs/onion.md "Replay protection"): the set of
 * replay tags a node has seen, one set per onion-key epoch, in memory for lookups and on disk so
 * that a restart does not reopen the window.
 *
 * Storage choice: one append-only file per epoch, "replay-<epoch>.tags", a 16-byte header
 * ("SHOALRP1" + epoch as u64 big-endian) then 16-byte tags. The data is a set of random,
 * fixed-size values that is only ever added to and then discarded whole when its epoch ends, and
 * every lookup is served from memory, so a database buys nothing: SQLite would add a B-tree insert
 * per packet (~10k/s, slower than the peel itself) for queries we never make. Appending costs one
 * write per batch and one fdatasync per sync period; dropping an epoch is one unlink. A torn last
 * record after a crash is cut off at load.
 *
 * Durability contract: check_add puts the tag in memory at once (so a replay inside the same
 * batch is caught). `write` hands pending tags to the kernel (they survive the process being
 * killed); `sync` also fdatasyncs (they survive power loss). A relay peels a batch, writes it,
 * and only then forwards it; a timer syncs every sync period, which bounds what a power loss can
 * forget to that period.
 *
 * The in-memory set is an open-addressing table per epoch with linear probing, indexed by SipHash
 * under a random per-process key: a client can grind its packets' tags (it knows the shared
 * secrets), but not the table positions. An all-zero slot marks empty; the one tag value 0 is
 * stored as ...01, which merges it with one other value out of 2^128. */
#include "onion/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/fs.h"

#define FILE_MAGIC "SHOALRP1"
#define RECORD_BYTES SH_ONION_TAG_BYTES
#define HEADER_BYTES 16
#define MAX_EPOCHS 4
#define INITIAL_CAP 1024u
#define PATH_BYTES 4096

typedef struct epoch_set {
    uint64_t epoch;
    uint8_t (*slot)[RECORD_BYTES];
    size_t cap, count;
    int fd;
    uint8_t *pending;
    size_t n_pending;
    bool unsynced; /* written since the last fdatasync */
} epoch_set;

struct sh_onion_replay {
    char *dir;
    size_t max_tags;
    uint8_t hash_key[crypto_shorthash_KEYBYTES];
    epoch_set set[MAX_EPOCHS];
    size_t n_sets;
    uint64_t retired_below;
    uint64_t replays, syncs, pending;
};

static size_t position(const sh_onion_replay *rc, const uint8_t tag[static RECORD_BYTES],
                       size_t cap)
{
    uint8_t h[crypto_shorthash_BYTES];

    crypto_shorthash(h, tag, RECORD_BYTES, rc->hash_key);
    return (size_t)sh_load_u64le(h) & (cap - 1);
}

/* Finds tag or the empty slot where it would go; true when found. */
static bool lookup(const sh_onion_replay *rc, const epoch_set *s,
                   const uint8_t tag[static RECORD_BYTES], size_t *at)
{
    size_t i = position(rc, tag, s->cap);

    while (!sodium_is_zero(s->slot[i], RECORD_BYTES)) {
        if (memcmp(s->slot[i], tag, RECORD_BYTES) == 0) {
            *at = i;
            return true;
        }
        i = (i + 1) & (s->cap - 1);
    }
    *at = i;
    return false;
}

static int grow(sh_onion_replay *rc, epoch_set *s)
{
    size_t cap = s->cap == 0 ? INITIAL_CAP : s->cap * 2, at;
    uint8_t(*old)[RECORD_BYTES] = s->slot;
    size_t old_cap = s->cap;

    s->slot = calloc(cap, RECORD_BYTES);
    if (s->slot == NULL) {
        s->slot = old;
        return sh_err_set(SH_ERR_NOMEM, "out of memory growing the replay cache to %zu tags", cap);
    }
    s->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (sodium_is_zero(old[i], RECORD_BYTES))
            continue;
        lookup(rc, s, old[i], &at);
        memcpy(s->slot[at], old[i], RECORD_BYTES);
    }
    free(old);
    return SH_OK;
}

/* Adds tag to the in-memory set; SH_ERR_REPLAY when present. */
static int insert(sh_onion_replay *rc, epoch_set *s, const uint8_t tag[static RECORD_BYTES])
{
    size_t at;
    int err;

    if (s->cap > 0 && lookup(rc, s, tag, &at))
        return SH_ERR_REPLAY;
    if (s->count >= rc->max_tags)
        return sh_err_set(SH_ERR_FULL, "the replay cache holds its limit of %zu tags for epoch "
                                       "%" PRIu64 "; shorten the onion epoch", rc->max_tags, s->epoch);
    if (4 * (s->count + 1) > 3 * s->cap) {
        err = grow(rc, s);
        if (err != SH_OK)
            return err;
    }
    lookup(rc, s, tag, &at);
    memcpy(s->slot[at], tag, RECORD_BYTES);
    s->count++;
    return SH_OK;
}

static void set_free(epoch_set *s)
{
    if (s->fd >= 0)
        close(s->fd);
    free(s->slot);
    free(s->pending);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

static int set_path(const sh_onion_replay *rc, uint64_t epoch, char path[static PATH_BYTES])
{
    char name[64];

    snprintf(name, sizeof name, "replay-%" PRIu64 ".tags", epoch);
    return sh_fs_join(path, PATH_BYTES, rc->dir, name);
}

static int read_some(int fd, uint8_t *p, size_t len, size_t *got)
{
    ssize_t n;

    do
        n = read(fd, p, len);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return -1;
    *got = (size_t)n;
    return 0;
}

/* Reads every whole record of an open epoch file into the set; cuts a torn last record. */
static int load_records(sh_onion_replay *rc, epoch_set *s, const char *path)
{
    uint8_t buf[RECORD_BYTES * 1024];
    struct stat st;
    size_t have = 0, got, used;
    off_t whole, left;
    int err;

    if (fstat(s->fd, &st) != 0)
        return sh_err_set(SH_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
    whole = st.st_size - (st.st_size - HEADER_BYTES) % RECORD_BYTES;
    if (whole != st.st_size && ftruncate(s->fd, whole) != 0)
        return sh_err_set(SH_ERR_IO, "cannot cut the torn end of %s: %s", path, strerror(errno));
    if (lseek(s->fd, HEADER_BYTES, SEEK_SET) < 0)
        return sh_err_set(SH_ERR_IO, "cannot seek in %s: %s", path, strerror(errno));
    for (left = whole - HEADER_BYTES; left > 0; left -= (off_t)got) {
        size_t want = sizeof buf - have;

        if ((off_t)want > left)
            want = (size_t)left;
        if (read_some(s->fd, buf + have, want, &got) != 0)
            return sh_err_set(SH_ERR_IO, "cannot read %s: %s", path, strerror(errno));
        have += got;
        for (used = 0; used + RECORD_BYTES <= have; used += RECORD_BYTES) {
            err = insert(rc, s, buf + used);
            if (err != SH_OK && err != SH_ERR_REPLAY)
                return err;
        }
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    return SH_OK;
}

/* Opens (or creates) the file of s->epoch for appending and loads what it holds. */
static int set_open_file(sh_onion_replay *rc, epoch_set *s)
{
    char path[PATH_BYTES];
    uint8_t header[HEADER_BYTES];
    ssize_t n;
    int err = set_path(rc, s->epoch, path);

    if (err != SH_OK)
        return err;
    s->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (s->fd < 0)
        return sh_err_set(SH_ERR_IO, "cannot open the replay cache %s: %s", path, strerror(errno));
    n = pread(s->fd, header, sizeof header, 0);
    if (n == 0) {
        memcpy(header, FILE_MAGIC, 8);
        sh_store_u64be(header + 8, s->epoch);
        if (sh_fs_write_all(s->fd, header, sizeof header) != 0 || fdatasync(s->fd) != 0)
            return sh_err_set(SH_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        return SH_OK;
    }
    if (n != (ssize_t)sizeof header || memcmp(header, FILE_MAGIC, 8) != 0 ||
        sh_load_u64be(header + 8) != s->epoch)
        return sh_err_set(SH_ERR_FORMAT, "%s is not the replay cache of epoch %" PRIu64 "; move "
                          "it away and restart with fresh onion keys", path, s->epoch);
    return load_records(rc, s, path);
}

/* The set of `epoch`, created (and its file opened) when missing. */
static int get_set(sh_onion_replay *rc, uint64_t epoch, epoch_set **out)
{
    epoch_set *s;
    int err;

    for (size_t i = 0; i < rc->n_sets; i++) {
        if (rc->set[i].epoch == epoch) {
            *out = &rc->set[i];
            return SH_OK;
        }
    }
    if (rc->n_sets == MAX_EPOCHS)
        return sh_err_set(SH_ERR_LIMIT, "the replay cache holds %d epochs already; retire old "
                                        "ones with sh_onion_replay_retire", MAX_EPOCHS);
    s = &rc->set[rc->n_sets];
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->epoch = epoch;
    s->pending = malloc(SH_ONION_REPLAY_BATCH_MAX * RECORD_BYTES);
    err = s->pending == NULL ? sh_err_set(SH_ERR_NOMEM, "out of memory for the replay cache")
                             : SH_OK;
    if (err == SH_OK && rc->dir != NULL)
        err = set_open_file(rc, s);
    if (err != SH_OK) {
        set_free(s);
        return err;
    }
    rc->n_sets++;
    *out = s;
    return SH_OK;
}

/* Loads every epoch file of the cache directory. */
static int load_dir(sh_onion_replay *rc)
{
    DIR *d = opendir(rc->dir);
    struct dirent *e;
    epoch_set *s;
    int err = SH_OK;

    if (d == NULL)
        return sh_err_set(SH_ERR_IO, "cannot list %s: %s", rc->dir, strerror(errno));
    while (err == SH_OK && (e = readdir(d)) != NULL) {
        uint64_t epoch;
        char tail[8];

        if (sscanf(e->d_name, "replay-%" SCNu64 ".%7s", &epoch, tail) != 2 ||
            strcmp(tail, "tags") != 0)
            continue;
        err = get_set(rc, epoch, &s);
    }
    closedir(d);
    return err;
}

int sh_onion_replay_open(const char *dir, size_t max_tags, sh_onion_replay **out)
{
    sh_onion_replay *rc = calloc(1, sizeof *rc);
    int err = SH_OK;

    if (rc == NULL)
        return sh_err_set(SH_ERR_NOMEM, "out of memory for the replay cache");
    rc->max_tags = max_tags == 0 ? SH_ONION_REPLAY_MAX_TAGS : max_tags;
    crypto_shorthash_keygen(rc->hash_key);
    if (dir != NULL) {
        rc->dir = strdup(dir);
        err = rc->dir == NULL ? sh_err_set(SH_ERR_NOMEM, "out of memory") : sh_fs_mkdir_p(dir, 0700);
        if (err == SH_OK)
            err = load_dir(rc);
    }
    if (err != SH_OK) {
        sh_onion_replay_close(rc);
        return sh_err_wrap(err, "opening the replay cache");
    }
    *out = rc;
    return SH_OK;
}

int sh_onion_replay_close(sh_onion_replay *rc)
{
    int err;

    if (rc == NULL)
        return SH_OK;
    err = sh_onion_replay_sync(rc);
    for (size_t i = 0; i < rc->n_sets; i++)
        set_free(&rc->set[i]);
    free(rc->dir);
    free(rc);
    return err;
}

int sh_onion_replay_check_add(sh_onion_replay *rc, uint64_t epoch,
                              const uint8_t tag[static SH_ONION_TAG_BYTES])
{
    uint8_t t[RECORD_BYTES];
    epoch_set *s = NULL;
    int err;

    if (epoch < rc->retired_below)
        return sh_err_set(SH_ERR_STALE, "onion key epoch %" PRIu64 " is retired", epoch);
    err = get_set(rc, epoch, &s);
    if (err != SH_OK)
        return err;
    memcpy(t, tag, RECORD_BYTES);
    if (sodium_is_zero(t, RECORD_BYTES))
        t[RECORD_BYTES - 1] = 1;
    err = insert(rc, s, t);
    if (err == SH_ERR_REPLAY) {
        rc->replays++;
        return sh_err_set(SH_ERR_REPLAY, "onion packet replayed (epoch %" PRIu64 ")", epoch);
    }
    if (err != SH_OK)
        return err;
    memcpy(s->pending + s->n_pending * RECORD_BYTES, t, RECORD_BYTES);
    s->n_pending++;
    rc->pending++;
    if (s->n_pending == SH_ONION_REPLAY_BATCH_MAX)
        return sh_onion_replay_sync(rc);
    return SH_OK;
}

static int write_pending(sh_onion_replay *rc, epoch_set *s)
{
    if (s->n_pending == 0)
        return SH_OK;
    if (s->fd >= 0) {
        if (sh_fs_write_all(s->fd, s->pending, s->n_pending * RECORD_BYTES) != 0)
            return sh_err_set(SH_ERR_IO, "cannot write the replay cache of epoch %" PRIu64 ": %s",
                              s->epoch, strerror(errno));
        s->unsynced = true;
    }
    rc->pending -= s->n_pending;
    s->n_pending = 0;
    return SH_OK;
}

int sh_onion_replay_write(sh_onion_replay *rc)
{
    int err;

    for (size_t i = 0; i < rc->n_sets; i++)
        if ((err = write_pending(rc, &rc->set[i])) != SH_OK)
            return err;
    return SH_OK;
}

int sh_onion_replay_sync(sh_onion_replay *rc)
{
    bool synced = false;
    int err;

    for (size_t i = 0; i < rc->n_sets; i++) {
        epoch_set *s = &rc->set[i];

        if ((err = write_pending(rc, s)) != SH_OK)
            return err;
        if (!s->unsynced)
            continue;
        if (fdatasync(s->fd) != 0)
            return sh_err_set(SH_ERR_IO, "cannot sync the replay cache of epoch %" PRIu64 ": %s",
                              s->epoch, strerror(errno));
        s->unsynced = false;
        synced = true;
    }
    if (synced)
        rc->syncs++;
    return SH_OK;
}

int sh_onion_replay_retire(sh_onion_replay *rc, uint64_t oldest)
{
    char path[PATH_BYTES];
    size_t kept = 0;
    int err = SH_OK;

    if (oldest > rc->retired_below)
        rc->retired_below = oldest;
    for (size_t i = 0; i < rc->n_sets; i++) {
        epoch_set *s = &rc->set[i];

        if (s->epoch >= rc->retired_below) {
            rc->set[kept++] = *s;
            continue;
        }
        rc->pending -= s->n_pending;
        if (rc->dir != NULL && set_path(rc, s->epoch, path) == SH_OK && unlink(path) != 0 &&
            errno != ENOENT)
            err = sh_err_set(SH_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
        set_free(s);
    }
    rc->n_sets = kept;
    return err;
}

void sh_onion_replay_stats_get(const sh_onion_replay *rc, sh_onion_replay_stats *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < rc->n_sets; i++)
        out->tags += rc->set[i].count;
    out->replays = rc->replays;
    out->pending = rc->pending;
    out->syncs = rc->syncs;
}
