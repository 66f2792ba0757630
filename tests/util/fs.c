/* Files: atomic writes keep their mode, capped reads, missing files, mkdir -p. */
#include "test.h"

#include <sys/stat.h>

#include "util/fs.h"

int main(void)
{
    const char *dir = test_tmpdir();
    char path[512], nested[512];
    struct stat st;
    sh_buf b;

    sh_buf_init(&b);
    CHECK_OK(sh_fs_join(path, sizeof path, dir, "key"));
    CHECK(!sh_fs_exists(path));
    CHECK_ERR(sh_fs_read_file(path, 100, &b), SH_ERR_NOT_FOUND);
    CHECK_OK(sh_fs_write_file(path, "secret", 6, 0600));
    CHECK(stat(path, &st) == 0);
    CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_OK(sh_fs_read_file(path, 6, &b));
    CHECK_EQ(b.len, 6);
    CHECK_MEM(b.data, "secret", 6);
    CHECK_ERR(sh_fs_read_file(path, 5, &b), SH_ERR_LIMIT);
    CHECK_OK(sh_fs_write_file(path, "new", 3, 0644));
    CHECK_OK(sh_fs_read_file(path, 100, &b));
    CHECK_EQ(b.len, 3);

    CHECK_OK(sh_fs_join(nested, sizeof nested, dir, "a/b/c/"));
    CHECK_OK(sh_fs_mkdir_p(nested, 0700));
    CHECK(sh_fs_exists(nested));
    CHECK_OK(sh_fs_mkdir_p(nested, 0700));
    CHECK_ERR(sh_fs_mkdir_p(path, 0700), SH_ERR_IO);
    char small[8];
    CHECK_ERR(sh_fs_join(small, sizeof small, "/tmp", "long-name"), SH_ERR_LIMIT);
    sh_buf_free(&b);
    return 0;
}
