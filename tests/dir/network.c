/* The network file: a good file parses (comments, blank lines, tabs), formats to canonical
 * text that parses back to the same network id, and every malformed file is refused with the
 * right code and a message naming its line. */
#include "test.h"

#include <sodium.h>
#include <stdio.h>

#include "crypto/crypto.h"
#include "dir/dir.h"
#include "dirtest.h"
#include "util/fs.h"

/* Authority lines for authorities 0..2 of dt_network_make's family. */
static char auth_line[3][256];

static void make_lines(void)
{
    dt_key k[3];
    sh_dir_network *net = dt_network_make(3, 2, NULL, k);
    char id[65], link[65];

    for (size_t i = 0; i < 3; i++) {
        const sh_dir_authority *a = sh_dir_network_authority(net, i);
        sodium_bin2hex(id, sizeof id, a->identity, 32);
        sodium_bin2hex(link, sizeof link, a->link_key, 32);
        snprintf(auth_line[i], sizeof auth_line[i], "authority %s %s %s", id, link, a->address);
    }
    sh_dir_network_free(net);
}

/* Parses text, expecting `code`; on failure the message must contain `msg`. */
static void expect(const char *text, int code, const char *msg, int line)
{
    sh_dir_network *net = NULL;
    int rc = sh_dir_network_parse(text, strlen(text), &net);

    if (rc != code)
        test_fail(__FILE__, line, "parse gave %s (%s), expected %s", sh_err_name(rc), sh_err_msg(),
                  sh_err_name(code));
    if (msg != NULL && strstr(sh_err_msg(), msg) == NULL)
        test_fail(__FILE__, line, "message \"%s\" lacks \"%s\"", sh_err_msg(), msg);
    sh_dir_network_free(net);
}
#define EXPECT(text, code, msg) expect(text, code, msg, __LINE__)

static void test_good(void)
{
    char text[2048];
    sh_dir_network *net = NULL, *again = NULL;
    sh_buf canon;

    sh_buf_init(&canon);
    snprintf(text, sizeof text,
             "# a test network, with a comment of many words\n\nshoal-network 1\nname devnet-1\n  k\t2\n%s\n%s\n# the third\n%s  \n"
             "swarm-target 4\nswarm-min 3\nswarm-merge-grace-ms 600000",
             auth_line[2], auth_line[0], auth_line[1]);
    CHECK_OK(sh_dir_network_parse(text, strlen(text), &net));
    CHECK_STR(sh_dir_network_name(net), "devnet-1");
    CHECK_EQ(sh_dir_network_k(net), 2);
    CHECK_EQ(sh_dir_network_authority_count(net), 3);
    CHECK_EQ(sh_dir_network_swarm_params(net)->target, 4);
    CHECK_EQ(sh_dir_network_swarm_params(net)->min, 3);
    CHECK_EQ(sh_dir_network_swarm_params(net)->merge_grace_ms, 600000);
    for (size_t i = 1; i < 3; i++)
        CHECK(memcmp(sh_dir_network_authority(net, i - 1)->identity,
                     sh_dir_network_authority(net, i)->identity, 32) < 0);
    CHECK(sh_dir_network_authority(net, 3) == NULL);
    size_t index;
    CHECK_OK(sh_dir_network_find(net, sh_dir_network_authority(net, 1)->identity, &index));
    CHECK_EQ(index, 1);
    CHECK_ERR(sh_dir_network_find(net, (const uint8_t[32]){1}, &index), SH_ERR_NOT_FOUND);
    /* Canonical text parses back to the same id; a different order of lines does not matter. */
    CHECK_OK(sh_dir_network_format(net, &canon));
    CHECK_OK(sh_dir_network_parse((const char *)canon.data, canon.len, &again));
    CHECK_MEM(sh_dir_network_id(again), sh_dir_network_id(net), 32);
    CHECK(memmem(canon.data, canon.len, "swarm-bootstrap", 15) == NULL); /* only when set */
    sh_dir_network_free(again);
    /* swarm-bootstrap round-trips and changes the network's id. */
    size_t len = strlen(text);
    snprintf(text + len, sizeof text - len, "\nswarm-bootstrap 12\n");
    CHECK_OK(sh_dir_network_parse(text, strlen(text), &again));
    CHECK_EQ(sh_dir_network_swarm_params(again)->bootstrap, 12);
    CHECK(memcmp(sh_dir_network_id(again), sh_dir_network_id(net), 32) != 0);
    sh_buf_reset(&canon);
    CHECK_OK(sh_dir_network_format(again, &canon));
    CHECK(memmem(canon.data, canon.len, "swarm-bootstrap 12\n", 19) != NULL);
    sh_dir_network_free(again);
    sh_buf_reset(&canon);
    CHECK_OK(sh_dir_network_format(net, &canon));
    /* Defaults when the swarm lines are absent, and a different id. */
    snprintf(text, sizeof text, "shoal-network 1\nk 2\n%s\n%s\n%s\n", auth_line[0], auth_line[1],
             auth_line[2]);
    CHECK_OK(sh_dir_network_parse(text, strlen(text), &again));
    CHECK_EQ(sh_dir_network_swarm_params(again)->target, SH_DIR_SWARM_TARGET_DEFAULT);
    CHECK_EQ(sh_dir_network_swarm_params(again)->min, SH_DIR_SWARM_MIN_DEFAULT);
    CHECK(memcmp(sh_dir_network_id(again), sh_dir_network_id(net), 32) != 0);
    CHECK_STR(sh_dir_network_name(again), "");
    sh_dir_network_free(again);
    /* Loading from a file, and a missing file. */
    char path[512];
    CHECK_OK(sh_fs_join(path, sizeof path, test_tmpdir(), "network"));
    CHECK_OK(sh_fs_write_file(path, canon.data, canon.len, 0644));
    CHECK_OK(sh_dir_network_load(path, &again));
    CHECK_MEM(sh_dir_network_id(again), sh_dir_network_id(net), 32);
    sh_dir_network_free(again);
    CHECK_OK(sh_fs_join(path, sizeof path, test_tmpdir(), "missing"));
    CHECK_ERR(sh_dir_network_load(path, &again), SH_ERR_NOT_FOUND);
    CHECK_MSG("network file");
    sh_dir_network_free(net);
    sh_buf_free(&canon);
}

static void test_errors(void)
{
    char text[8192];
    const char *a0 = auth_line[0], *a1 = auth_line[1];

    EXPECT("", SH_ERR_FORMAT, "empty");
    EXPECT("# only a comment\n", SH_ERR_FORMAT, "empty");
    EXPECT("k 1\n", SH_ERR_FORMAT, "line 1: the first line must be");
    EXPECT("shoal-network 2\n", SH_ERR_UNSUPPORTED, "format 2");
    snprintf(text, sizeof text, "shoal-network 1\n%s\n", a0);
    EXPECT(text, SH_ERR_FORMAT, "does not say k");
    EXPECT("shoal-network 1\nk 1\n", SH_ERR_FORMAT, "no authority");
    snprintf(text, sizeof text, "shoal-network 1\nk 1\nk 1\n%s\n", a0);
    EXPECT(text, SH_ERR_FORMAT, "line 3: k is given twice");
    snprintf(text, sizeof text, "shoal-network 1\nk 0\n%s\n", a0);
    EXPECT(text, SH_ERR_RANGE, "k = 0");
    snprintf(text, sizeof text, "shoal-network 1\nk 2\n%s\n", a0);
    EXPECT(text, SH_ERR_RANGE, "k = 2");
    snprintf(text, sizeof text, "shoal-network 1\nk 01\n%s\n", a0);
    EXPECT(text, SH_ERR_FORMAT, "line 2: k \"01\"");
    snprintf(text, sizeof text, "shoal-network 1\nk -1\n%s\n", a0);
    EXPECT(text, SH_ERR_FORMAT, "line 2");
    snprintf(text, sizeof text, "shoal-network 1\nk 17\n%s\n", a0);
    EXPECT(text, SH_ERR_RANGE, "above the maximum 16");
    snprintf(text, sizeof text, "shoal-network 1\nk 1 2\n%s\n", a0);
    EXPECT(text, SH_ERR_FORMAT, "expected: k <number>");
    snprintf(text, sizeof text, "shoal-network 1\nk 1\nauthorities 1\n%s\n", a0);
    EXPECT(text, SH_ERR_FORMAT, "line 3: unknown directive \"authorities\"");
    snprintf(text, sizeof text, "shoal-network 1\nk 1\n%s # first\n", a0);
    EXPECT(text, SH_ERR_FORMAT, "too many fields");
    snprintf(text, sizeof text, "shoal-network 1\r\nk 1\n%s\n", a0);
    EXPECT(text, SH_ERR_FORMAT, "line 1: byte 0x0d at column 16 is not printable ASCII (use Unix");
    snprintf(text, sizeof text, "shoal-network 1\nk 1\n%s\nname caf\xc3\xa9\n", a0);
    EXPECT(text, SH_ERR_FORMAT, "line 4: byte 0xc3");
    snprintf(text, sizeof text, "shoal-network 1\nk 1\n%s\nname Devnet\n", a0);
    EXPECT(text, SH_ERR_FORMAT, "may use only");
    snprintf(text, sizeof text, "shoal-network 1\nk 1\n%s\nname a\nname b\n", a0);
    EXPECT(text, SH_ERR_FORMAT, "line 5: name is given twice");
    /* Authorities: duplicate, bad keys, bad address. */
    snprintf(text, sizeof text, "shoal-network 1\nk 1\n%s\n%s\n", a0, a0);
    EXPECT(text, SH_ERR_FORMAT, "share a key");
    snprintf(text, sizeof text, "shoal-network 1\nk 1\nauthority %.60s %s\n", a0 + 10, a0 + 75);
    EXPECT(text, SH_ERR_FORMAT, "line 3: identity key");
    snprintf(text, sizeof text, "shoal-network 1\nk 1\nauthority %064d %.64s 192.0.2.1:7100\n", 0, a0 + 75);
    EXPECT(text, SH_ERR_FORMAT, "not a valid Ed25519 public key");
    snprintf(text, sizeof text, "shoal-network 1\nk 1\nauthority %.64s %064d 192.0.2.1:7100\n", a0 + 10, 0);
    EXPECT(text, SH_ERR_FORMAT, "not a usable X25519 public key");
    snprintf(text, sizeof text, "shoal-network 1\nk 1\nauthority %.64s %.64s 192.0.2.1\n", a0 + 10, a0 + 75);
    EXPECT(text, SH_ERR_FORMAT, "line 3: address \"192.0.2.1\" has no port");
    snprintf(text, sizeof text, "shoal-network 1\nk 1\nauthority %.64s %.64s\n", a0 + 10, a0 + 75);
    EXPECT(text, SH_ERR_FORMAT, "expected: authority");
    /* Swarm parameters. */
    snprintf(text, sizeof text, "shoal-network 1\nk 1\n%s\nswarm-target 0\n", a1);
    EXPECT(text, SH_ERR_RANGE, "swarm-target 0");
    snprintf(text, sizeof text, "shoal-network 1\nk 1\n%s\nswarm-target 1001\n", a1);
    EXPECT(text, SH_ERR_RANGE, "above the maximum 1000");
    snprintf(text, sizeof text, "shoal-network 1\nk 1\n%s\nswarm-target 4\nswarm-min 7\n", a1);
    EXPECT(text, SH_ERR_RANGE, "swarm-min 7");
    snprintf(text, sizeof text, "shoal-network 1\nk 1\n%s\nswarm-target 4\nswarm-min 6\n", a1);
    EXPECT(text, SH_OK, NULL);
    snprintf(text, sizeof text, "shoal-network 1\nk 1\n%s\nswarm-min 3\nswarm-bootstrap 2\n", a1);
    EXPECT(text, SH_ERR_RANGE, "swarm-bootstrap 2 must be swarm-min (3)");
    snprintf(text, sizeof text, "shoal-network 1\nk 1\n%s\nswarm-bootstrap 4096\n", a1);
    EXPECT(text, SH_OK, NULL);
    snprintf(text, sizeof text, "shoal-network 1\nk 1\n%s\nswarm-bootstrap 4097\n", a1);
    EXPECT(text, SH_ERR_RANGE, "swarm-bootstrap");
    snprintf(text, sizeof text, "shoal-network 1\nk 1\n%s\nswarm-bootstrap 3\nswarm-bootstrap 3\n", a1);
    EXPECT(text, SH_ERR_FORMAT, "line 5");
    snprintf(text, sizeof text, "shoal-network 1\nk 1\n%s\nswarm-merge-grace-ms 99999999999999999999\n", a1);
    EXPECT(text, SH_ERR_FORMAT, "line 4");
    /* A line at its limit and one character over. */
    memset(text, 0, sizeof text);
    strcpy(text, "shoal-network 1\nk 1\n");
    strcat(text, a1);
    strcat(text, "\n#");
    size_t at = strlen(text);
    memset(text + at, 'x', 511);
    strcpy(text + at + 511, "\n");
    EXPECT(text, SH_OK, NULL);
    memset(text + at, 'x', 512);
    strcpy(text + at + 512, "\n");
    EXPECT(text, SH_ERR_LIMIT, "line 4: line is longer than 512");
}

static void test_limits(void)
{
    dt_key k[SH_DIR_MAX_AUTHORITIES];
    sh_dir_network *net = dt_network_make(SH_DIR_MAX_AUTHORITIES, 9, NULL, k), *again = NULL;
    sh_buf canon;
    sh_dir_authority a[SH_DIR_MAX_AUTHORITIES + 1];

    sh_buf_init(&canon);
    CHECK_OK(sh_dir_network_format(net, &canon));
    CHECK_OK(sh_dir_network_parse((const char *)canon.data, canon.len, &again));
    sh_dir_network_free(again);
    /* A 17th authority line. */
    CHECK_OK(sh_buf_append_str(&canon, "authority "));
    char line[200];
    const sh_dir_authority *last = sh_dir_network_authority(net, 0);
    char id[65], link[65];
    dt_key extra;
    dt_key_make(&extra, 2, 99);
    sodium_bin2hex(id, sizeof id, extra.pk, 32);
    sodium_bin2hex(link, sizeof link, last->link_key, 32);
    snprintf(line, sizeof line, "%s %s 192.0.2.99:7100\n", id, link);
    CHECK_OK(sh_buf_append_str(&canon, line));
    CHECK_ERR(sh_dir_network_parse((const char *)canon.data, canon.len, &again), SH_ERR_LIMIT);
    CHECK_MSG("more than 16 authorities");
    /* The same through sh_dir_network_new. */
    for (size_t i = 0; i < SH_DIR_MAX_AUTHORITIES; i++)
        a[i] = *sh_dir_network_authority(net, i);
    a[SH_DIR_MAX_AUTHORITIES] = a[0];
    CHECK_ERR(sh_dir_network_new(NULL, 1, a, SH_DIR_MAX_AUTHORITIES + 1, NULL, &again), SH_ERR_LIMIT);
    CHECK_ERR(sh_dir_network_new(NULL, 1, a, 2, &(sh_dir_swarm_params){5, 0, 0, 0}, &again), SH_ERR_RANGE);
    CHECK_ERR(sh_dir_network_new("x y", 1, a, 2, NULL, &again), SH_ERR_FORMAT);
    /* A file above the size limit. */
    char *huge = calloc(1, SH_DIR_NETWORK_FILE_MAX_BYTES + 1);
    CHECK(huge != NULL);
    memset(huge, '#', SH_DIR_NETWORK_FILE_MAX_BYTES + 1);
    CHECK_ERR(sh_dir_network_parse(huge, SH_DIR_NETWORK_FILE_MAX_BYTES + 1, &again), SH_ERR_LIMIT);
    free(huge);
    sh_dir_network_free(net);
    sh_buf_free(&canon);
}

/* The example in docs/network-file.md parses. */
static void test_documented_example(void)
{
    char path[1024];
    const char *src = getenv("SHOAL_SOURCE_DIR"), *start, *end;
    sh_dir_network *net = NULL;
    sh_buf doc;

    CHECK(src != NULL);
    snprintf(path, sizeof path, "%s/docs/network-file.md", src);
    sh_buf_init(&doc);
    CHECK_OK(sh_fs_read_file(path, 1 << 20, &doc));
    CHECK_OK(sh_buf_append_u8(&doc, 0));
    start = strstr((const char *)doc.data, "```\n# Shoal devnet");
    CHECK(start != NULL);
    start += 4;
    end = strstr(start, "```");
    CHECK(end != NULL);
    CHECK_OK(sh_dir_network_parse(start, (size_t)(end - start), &net));
    CHECK_EQ(sh_dir_network_authority_count(net), 3);
    CHECK_EQ(sh_dir_network_k(net), 2);
    CHECK_EQ(sh_dir_network_swarm_params(net)->target, 4);
    sh_dir_network_free(net);
    sh_buf_free(&doc);
}

int main(void)
{
    CHECK_OK(sh_crypto_init());
    make_lines();
    test_good();
    test_errors();
    test_limits();
    test_documented_example();
    return 0;
}
