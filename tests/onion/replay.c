/* The replay cache on its own: new and repeated tags, growth, the per-epoch limit at limit and
 * limit + 1, the epoch count limit, retiring, persistence across reopen, a torn last record cut
 * at load, a damaged file refused, the automatic sync at the batch limit, and write (page cache)
 * apart from sync (fdatasync). */
#include "test.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onion/onion.h"
#include "util/fs.h"

static void tag_of(uint32_t i, uint8_t tag[SH_ONION_TAG_BYTES])
{
    uint8_t msg[4];

    sh_store_u32be(msg, i);
    crypto_generichash(tag, SH_ONION_TAG_BYTES, msg, sizeof msg, NULL, 0);
}

static void test_memory(void)
{
    sh_onion_replay *rc;
    sh_onion_replay_stats st;
    uint8_t tag[SH_ONION_TAG_BYTES], zero[SH_ONION_TAG_BYTES] = {0};

    CHECK_OK(sh_onion_replay_open(NULL, 0, &rc));
    for (uint32_t i = 0; i < 20000; i++) {
        tag_of(i, tag);
        CHECK_OK(sh_onion_replay_check_add(rc, 1, tag));
    }
    for (uint32_t i = 0; i < 20000; i += 997) {
        tag_of(i, tag);
        CHECK_ERR(sh_onion_replay_check_add(rc, 1, tag), SH_ERR_REPLAY);
        CHECK_OK(sh_onion_replay_check_add(rc, 2, tag)); /* epochs are separate sets */
    }
    CHECK_OK(sh_onion_replay_check_add(rc, 1, zero));
    CHECK_ERR(sh_onion_replay_check_add(rc, 1, zero), SH_ERR_REPLAY);
    sh_onion_replay_stats_get(rc, &st);
    CHECK_EQ(st.replays, 21 + 1);
    CHECK_EQ(st.tags, 20000 + 21 + 1);
    CHECK_EQ(st.syncs, 0); /* nothing to write in memory */
    /* At most 4 epochs at once, until old ones retire. */
    CHECK_OK(sh_onion_replay_check_add(rc, 3, tag));
    CHECK_OK(sh_onion_replay_check_add(rc, 4, tag));
    CHECK_ERR(sh_onion_replay_check_add(rc, 5, tag), SH_ERR_LIMIT);
    CHECK_MSG("retire");
    CHECK_OK(sh_onion_replay_retire(rc, 3));
    CHECK_ERR(sh_onion_replay_check_add(rc, 2, tag), SH_ERR_STALE);
    CHECK_OK(sh_onion_replay_check_add(rc, 5, tag));
    sh_onion_replay_stats_get(rc, &st);
    CHECK_EQ(st.tags, 3);
    CHECK_OK(sh_onion_replay_retire(rc, 1)); /* never moves back */
    CHECK_ERR(sh_onion_replay_check_add(rc, 2, tag), SH_ERR_STALE);
    CHECK_OK(sh_onion_replay_close(rc));
}

static void test_limit(void)
{
    sh_onion_replay *rc;
    uint8_t tag[SH_ONION_TAG_BYTES];

    CHECK_OK(sh_onion_replay_open(NULL, 3, &rc));
    for (uint32_t i = 0; i < 3; i++) {
        tag_of(i, tag);
        CHECK_OK(sh_onion_replay_check_add(rc, 9, tag));
    }
    tag_of(2, tag);
    CHECK_ERR(sh_onion_replay_check_add(rc, 9, tag), SH_ERR_REPLAY); /* still recognised */
    tag_of(3, tag);
    CHECK_ERR(sh_onion_replay_check_add(rc, 9, tag), SH_ERR_FULL);
    CHECK_MSG("limit of 3");
    CHECK_OK(sh_onion_replay_check_add(rc, 10, tag));
    CHECK_OK(sh_onion_replay_close(rc));
}

static void file_path(char *out, size_t size, const char *dir, uint64_t epoch)
{
    char name[64];

    snprintf(name, sizeof name, "replay-%llu.tags", (unsigned long long)epoch);
    CHECK_OK(sh_fs_join(out, size, dir, name));
}

static void test_files(void)
{
    const char *dir = test_tmpdir();
    char path[512];
    sh_onion_replay *rc;
    sh_onion_replay_stats st;
    uint8_t tag[SH_ONION_TAG_BYTES];
    struct stat sb;
    int fd;

    CHECK_OK(sh_onion_replay_open(dir, 0, &rc));
    for (uint32_t i = 0; i < SH_ONION_REPLAY_BATCH_MAX + 5; i++) {
        tag_of(i, tag);
        CHECK_OK(sh_onion_replay_check_add(rc, 100, tag));
    }
    sh_onion_replay_stats_get(rc, &st);
    CHECK_EQ(st.syncs, 1); /* the full batch went out by itself */
    CHECK_EQ(st.pending, 5);
    tag_of(0, tag);
    CHECK_OK(sh_onion_replay_check_add(rc, 101, tag));
    CHECK_OK(sh_onion_replay_close(rc)); /* close writes the rest */
    file_path(path, sizeof path, dir, 100);
    CHECK(stat(path, &sb) == 0);
    CHECK_EQ(sb.st_size, 16 + 16 * (SH_ONION_REPLAY_BATCH_MAX + 5));
    CHECK_EQ(sb.st_mode & 0777, 0600);

    /* A torn last record (a crash mid-write) is cut off; every whole tag survives. */
    fd = open(path, O_WRONLY | O_APPEND);
    CHECK(fd >= 0);
    CHECK(write(fd, "torn", 4) == 4);
    close(fd);
    CHECK_OK(sh_onion_replay_open(dir, 0, &rc));
    sh_onion_replay_stats_get(rc, &st);
    CHECK_EQ(st.tags, SH_ONION_REPLAY_BATCH_MAX + 5 + 1);
    for (uint32_t i = 0; i < SH_ONION_REPLAY_BATCH_MAX + 5; i += 101) {
        tag_of(i, tag);
        CHECK_ERR(sh_onion_replay_check_add(rc, 100, tag), SH_ERR_REPLAY);
    }
    tag_of(0, tag);
    CHECK_ERR(sh_onion_replay_check_add(rc, 101, tag), SH_ERR_REPLAY);
    CHECK(stat(path, &sb) == 0);
    CHECK_EQ(sb.st_size, 16 + 16 * (SH_ONION_REPLAY_BATCH_MAX + 5));
    /* Retiring removes the files of old epochs. */
    CHECK_OK(sh_onion_replay_retire(rc, 101));
    CHECK(!sh_fs_exists(path));
    CHECK_OK(sh_onion_replay_close(rc));

    /* A file whose header does not match its name is refused. */
    file_path(path, sizeof path, dir, 102);
    CHECK_OK(sh_fs_write_file(path, "SHOALRP1\0\0\0\0\0\0\0\x63", 16, 0600));
    CHECK_ERR(sh_onion_replay_open(dir, 0, &rc), SH_ERR_FORMAT);
    CHECK_MSG("replay-102.tags");
    CHECK_OK(sh_fs_write_file(path, "SHOALRP", 7, 0600));
    CHECK_ERR(sh_onion_replay_open(dir, 0, &rc), SH_ERR_FORMAT);
    CHECK(unlink(path) == 0);
    /* A directory that cannot be made. */
    CHECK_OK(sh_fs_join(path, sizeof path, dir, "file"));
    CHECK_OK(sh_fs_write_file(path, "x", 1, 0600));
    CHECK_ERR(sh_onion_replay_open(path, 0, &rc), SH_ERR_IO);
    CHECK_MSG("replay cache");
}

/* write puts tags in the file without fdatasync (a process killed after it loses nothing: the
 * next open, here a second cache on the same folder while the first is still open, finds them);
 * sync fdatasyncs only what was written since the last one. */
static void test_write_then_sync(void)
{
    const char *dir = test_tmpdir();
    char path[512];
    sh_onion_replay *rc, *again;
    sh_onion_replay_stats st;
    uint8_t tag[SH_ONION_TAG_BYTES];
    struct stat sb;

    CHECK_OK(sh_onion_replay_open(dir, 0, &rc));
    for (uint32_t i = 0; i < 3; i++) {
        tag_of(i, tag);
        CHECK_OK(sh_onion_replay_check_add(rc, 7, tag));
    }
    CHECK_OK(sh_onion_replay_write(rc));
    sh_onion_replay_stats_get(rc, &st);
    CHECK_EQ(st.pending, 0);
    CHECK_EQ(st.syncs, 0);
    file_path(path, sizeof path, dir, 7);
    CHECK(stat(path, &sb) == 0);
    CHECK_EQ(sb.st_size, 16 + 3 * 16);
    CHECK_OK(sh_onion_replay_open(dir, 0, &again));
    tag_of(1, tag);
    CHECK_ERR(sh_onion_replay_check_add(again, 7, tag), SH_ERR_REPLAY);
    CHECK_OK(sh_onion_replay_close(again));
    CHECK_OK(sh_onion_replay_sync(rc));
    CHECK_OK(sh_onion_replay_sync(rc)); /* nothing new: no second fdatasync */
    sh_onion_replay_stats_get(rc, &st);
    CHECK_EQ(st.syncs, 1);
    CHECK_OK(sh_onion_replay_write(rc)); /* nothing pending */
    CHECK(stat(path, &sb) == 0);
    CHECK_EQ(sb.st_size, 16 + 3 * 16);
    CHECK_OK(sh_onion_replay_close(rc));
}

int main(void)
{
    CHECK(sodium_init() >= 0);
    test_memory();
    test_limit();
    test_files();
    test_write_then_sync();
    return 0;
}
