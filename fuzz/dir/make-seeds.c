/* Writes the seed corpora of the dir fuzz targets from the fixed world of common.h:
 *   dir-make-seeds fuzz/corpus
 * (built in fuzz builds as build/fuzz/fuzz/dir/dir-make-seeds). */
#include <sys/stat.h>

#include "common.h"
#include "util/fs.h"

static void put(const char *root, const char *target, const char *name, const void *p, size_t n)
{
    char dir[512], path[600];

    snprintf(dir, sizeof dir, "%s/%s", root, target);
    if (sh_fs_mkdir_p(dir, 0755) != SH_OK)
        fz_die(dir);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (sh_fs_write_file(path, p, n, 0644) != SH_OK)
        fz_die(path);
}

int main(int argc, char **argv)
{
    fz_world w;
    sh_buf b;

    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_ROOT\n", argv[0]);
        return 2;
    }
    fz_world_init(&w);
    sh_buf_init(&b);
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "node%d", i);
        if (sh_dir_descriptor_sign(&w.nodes[i], w.node_sk[i], &b) != SH_OK)
            fz_die("descriptor");
        put(argv[1], "dir-descriptor", name, b.data, b.len);
    }
    if (sh_dir_vote_create(w.net, NULL, w.auth_sk[1], FZ_NOW, FZ_NOW + FZ_HOUR, w.nodes, 5, &b) != SH_OK)
        fz_die("vote");
    put(argv[1], "dir-vote", "first", b.data, b.len);
    if (sh_dir_vote_create(w.net, w.map1, w.auth_sk[0], FZ_NOW, FZ_NOW + FZ_HOUR, w.nodes + 3, 4, &b) != SH_OK)
        fz_die("vote");
    put(argv[1], "dir-vote", "on-map1", b.data, b.len);
    if (sh_dir_map_encode(w.map1, &b) != SH_OK)
        fz_die("map");
    put(argv[1], "dir-map", "map1", b.data, b.len);
    if (sh_dir_map_encode(w.map2, &b) != SH_OK)
        fz_die("map");
    put(argv[1], "dir-map", "map2", b.data, b.len);
    if (sh_dir_map_diff(w.map1, w.map2, &b) != SH_OK)
        fz_die("diff");
    put(argv[1], "dir-diff", "map1-to-map2", b.data, b.len);
    if (sh_dir_map_diff(w.map1, w.map1, &b) != SH_OK)
        fz_die("diff");
    put(argv[1], "dir-diff", "map1-to-map1", b.data, b.len);
    if (sh_dir_network_format(w.net, &b) != SH_OK)
        fz_die("network");
    put(argv[1], "dir-network", "canonical", b.data, b.len);
    static const char commented[] =
        "# a devnet\nshoal-network 1\nname devnet\nk 1\n\tswarm-target   4\nauthority "
        "0000000000000000000000000000000000000000000000000000000000000000 "
        "0000000000000000000000000000000000000000000000000000000000000000 [::1]:7100\n";
    put(argv[1], "dir-network", "bad-keys", commented, sizeof commented - 1);
    sh_buf_free(&b);
    sh_dir_map_free(w.map1);
    sh_dir_map_free(w.map2);
    sh_dir_network_free(w.net);
    return 0;
}
