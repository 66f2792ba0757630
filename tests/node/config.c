/* shoald's configuration and key file: every setting by file and by name, comments and blank
 * lines, errors naming their line, values at and past their ranges; the key file written and
 * read back (mode 0600, made once), and every malformed key file refused with its code. */
#include <sys/stat.h>

#include "node/node.h"
#include "test.h"
#include "util/fs.h"

static void settings(void)
{
    sh_node_config c;
    const char *text = "# a node\n"
                       "listen = ::1\n"
                       "port=0\r\n"
                       "\n"
                       "  data-dir =  /var/lib/shoald  # where\n"
                       "key_file = /etc/shoald.key\n"
                       "log-level = debug\n"
                       "pow_bits = 3\npow_max_bits = 40\npow_load_per_s = 7\n"
                       "max_msgs_per_ns = 10000\nmax_bytes_per_ns = 104857600\n"
                       "max_wait_ms = 60000\nsweep_interval_ms = 5\nsweep_rows = 10000\n"
                       "commit_linger_us = 100\npeer_rate_per_s = 9\npeer_burst = 10\n"
                       "max_links = 11\nshutdown_timeout_ms = 12\n";
    char path[SH_NODE_PATH_BYTES];

    sh_node_config_default(&c);
    CHECK_EQ(c.port, SH_NODE_DEFAULT_PORT);
    CHECK_EQ(c.pow_bits, SH_NODE_DEFAULT_POW_BITS);
    CHECK_OK(sh_node_config_parse(&c, text, strlen(text)));
    CHECK_STR(c.listen, "::1");
    CHECK_EQ(c.port, 0);
    CHECK_STR(c.data_dir, "/var/lib/shoald");
    CHECK_STR(c.key_file, "/etc/shoald.key");
    CHECK_EQ(c.log_level, SH_LOG_DEBUG);
    CHECK_EQ(c.pow_bits, 3);
    CHECK_EQ(c.pow_max_bits, SH_NODE_POW_MAX_BITS);
    CHECK_EQ(c.pow_load_per_s, 7);
    CHECK_EQ(c.max_msgs_per_ns, SH_STORE_MAX_MSGS_PER_NS);
    CHECK_EQ(c.max_bytes_per_ns, SH_STORE_MAX_BYTES_PER_NS);
    CHECK_EQ(c.max_wait_ms, SH_NODE_MAX_WAIT_MS);
    CHECK_EQ(c.sweep_interval_ms, 5);
    CHECK_EQ(c.sweep_rows, SH_STORE_SWEEP_MAX_ROWS);
    CHECK_EQ(c.commit_linger_us, 100);
    CHECK_EQ(c.peer_rate_per_s, 9);
    CHECK_EQ(c.peer_burst, 10);
    CHECK_EQ(c.max_links, 11);
    CHECK_EQ(c.shutdown_timeout_ms, 12);
    CHECK_OK(sh_node_config_key_path(&c, path));
    CHECK_STR(path, "/etc/shoald.key");
    c.key_file[0] = '\0';
    CHECK_OK(sh_node_config_key_path(&c, path));
    CHECK_STR(path, "/var/lib/shoald/node.key");
}

/* Named services for the onion relay: name, address and link key; at most 16. */
static void onion_services(void)
{
    static const char text[] = "onion_service = files 127.0.0.1:7000 abababababababababababababababababababababababababababababababab\n"
                               "onion_service = push.v1 [::1]:443 ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB\n";
    char line[160];
    sh_node_config c;

    sh_node_config_default(&c);
    CHECK_EQ(c.onion_relay_timeout_ms, SH_NODE_DEFAULT_ONION_RELAY_TIMEOUT_MS);
    CHECK_EQ(c.onion_replay_sync_ms, SH_NODE_DEFAULT_ONION_REPLAY_SYNC_MS);
    CHECK_OK(sh_node_config_parse(&c, text, sizeof text - 1));
    CHECK_EQ(c.n_onion_services, 2);
    CHECK(strcmp(c.onion_services[0].name, "files") == 0);
    CHECK(strcmp(c.onion_services[0].host, "127.0.0.1") == 0);
    CHECK_EQ(c.onion_services[0].port, 7000);
    CHECK_EQ(c.onion_services[1].link_key[31], 0xab);
    CHECK(strcmp(c.onion_services[1].host, "::1") == 0);
    for (int i = 2; i < SH_NODE_ONION_SERVICES_MAX; i++) {
        snprintf(line, sizeof line, "s%d 127.0.0.1:1 abababababababababababababababababababababababababababababababab", i);
        CHECK_OK(sh_node_config_set(&c, "onion_service", line));
    }
    CHECK_ERR(sh_node_config_set(&c, "onion_service", "last 127.0.0.1:1 abababababababababababababababababababababababababababababababab"), SH_ERR_LIMIT);
    CHECK_MSG("at most 16");
}

static void errors(void)
{
    static const struct {
        const char *text;
        int code;
        const char *msg;
    } bad[] = {
        {"port = 65536\n", SH_ERR_RANGE, "line 1: port must be between 0 and 65535"},
        {"\n\nport = -1\n", SH_ERR_INVALID, "line 3: port needs a number"},
        {"port = 12x\n", SH_ERR_INVALID, "needs a number"},
        {"port = 99999999999999999999999\n", SH_ERR_RANGE, "port"},
        {"pow_bits = 41\n", SH_ERR_RANGE, "pow_bits"},
        {"max_msgs_per_ns = 10001\n", SH_ERR_RANGE, "max_msgs_per_ns"},
        {"max_msgs_per_ns = 0\n", SH_ERR_RANGE, "max_msgs_per_ns"},
        {"max_wait_ms = 60001\n", SH_ERR_RANGE, "max_wait_ms"},
        {"sweep_rows = 10001\n", SH_ERR_RANGE, "sweep_rows"},
        {"colour = blue\n", SH_ERR_NOT_FOUND, "line 1: unknown setting \"colour\""},
        {"just words\n", SH_ERR_FORMAT, "line 1: expected `key = value`"},
        {"log_level = loud\n", SH_ERR_INVALID, "line 1"},
        {"listen = \n", SH_ERR_RANGE, "listen must be 1 to 63 characters"},
        {"pow_bits = 9\npow_max_bits = 8\n", SH_ERR_RANGE, "pow_max_bits (8) is below"},
        {"onion_service = files\n", SH_ERR_INVALID, "needs `name host:port link-key-hex`"},
        {"onion_service = Files 127.0.0.1:1 abababababababababababababababababababababababababababababababab\n", SH_ERR_INVALID, "is not 1-64 of"},
        {"onion_service = files localhost:1 abababababababababababababababababababababababababababababababab\n", SH_ERR_INVALID, "is not ip:port"},
        {"onion_service = files 127.0.0.1:1 ababababababababababababababababababababababababababababababab\n", SH_ERR_INVALID, "64 hex digits"},
        {"onion_service = files 127.0.0.1:1 abababababababababababababababababababababababababababababababzz\n", SH_ERR_INVALID, "64 hex digits"},
        {"onion_service = files 127.0.0.1:1 abababababababababababababababababababababababababababababababab x\n", SH_ERR_INVALID, "needs `name"},
        {"onion_service = a 127.0.0.1:1 abababababababababababababababababababababababababababababababab\nonion_service = a 127.0.0.1:2 abababababababababababababababababababababababababababababababab\n", SH_ERR_INVALID,
         "line 2: service a is named twice"},
        {"onion_relay_timeout_ms = 0\n", SH_ERR_RANGE, "onion_relay_timeout_ms"},
        {"onion_replay_sync_ms = 60001\n", SH_ERR_RANGE, "onion_replay_sync_ms"},
        {"port = 1\0\n", SH_ERR_FORMAT, "NUL"},
    };
    char longline[1100];
    sh_node_config c;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = strlen(bad[i].text) + (i == sizeof bad / sizeof bad[0] - 1 ? 2 : 0);
        sh_node_config_default(&c);
        CHECK_ERR(sh_node_config_parse(&c, bad[i].text, len), bad[i].code);
        CHECK_MSG(bad[i].msg);
    }
    memset(longline, '#', sizeof longline);
    sh_node_config_default(&c);
    CHECK_OK(sh_node_config_parse(&c, longline, 1023)); /* the longest line */
    CHECK_ERR(sh_node_config_parse(&c, longline, 1024), SH_ERR_LIMIT);
    CHECK_ERR(sh_node_config_load(&c, "/nonexistent/shoald.conf"), SH_ERR_NOT_FOUND);
    CHECK_MSG("/nonexistent/shoald.conf");
}

static void key_file(void)
{
    char path[512];
    sh_node_keys *a, *b;
    sh_buf text, bad;
    struct stat st;
    bool created;

    snprintf(path, sizeof path, "%s/node.key", test_tmpdir());
    CHECK_ERR(sh_node_keys_load(path, false, &a, &created), SH_ERR_NOT_FOUND);
    CHECK_OK(sh_node_keys_load(path, true, &a, &created));
    CHECK(created);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK_OK(sh_node_keys_load(path, true, &b, &created));
    CHECK(!created);
    CHECK_MEM(a->ed25519_pk, b->ed25519_pk, 32);
    CHECK_MEM(a->link_pk, b->link_pk, 32);
    CHECK_MEM(a->ed25519_sk, b->ed25519_sk, 64);
    CHECK_MEM(a->link_sk, b->link_sk, 32);
    sh_node_keys_free(b);
    /* Decoding: the encoding round-trips; each malformed file is refused. */
    sh_buf_init(&text);
    sh_buf_init(&bad);
    CHECK_OK(sh_node_keys_encode(a, &text));
    CHECK_OK(sh_node_keys_decode(text.data, text.len, &b));
    CHECK_MEM(a->link_pk, b->link_pk, 32);
    sh_node_keys_free(b);
    {
        static const struct {
            const char *text;
            int code;
            const char *msg;
        } cases[] = {
            {"identity-seed 00\n", SH_ERR_FORMAT, "no shoald-keys line"},
            {"shoald-keys 2\nidentity-seed 0000000000000000000000000000000000000000000000000000000000000000\n"
             "link-secret 0000000000000000000000000000000000000000000000000000000000000001\n",
             SH_ERR_UNSUPPORTED, "version 2"},
            {"shoald-keys 1\nidentity-seed 00\nlink-secret 00\n", SH_ERR_FORMAT, "64 hex digits"},
            {"shoald-keys 1\nshoald-keys 1\n", SH_ERR_FORMAT, "twice"},
            {"shoald-keys 1\nidentity-seed 0000000000000000000000000000000000000000000000000000000000000000\n",
             SH_ERR_FORMAT, "no link-secret line"},
            {"shoald-keys 1\nidentity-seed zz00000000000000000000000000000000000000000000000000000000000000\n"
             "link-secret 0000000000000000000000000000000000000000000000000000000000000001\n",
             SH_ERR_FORMAT, "hex"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            CHECK_ERR(sh_node_keys_decode((const uint8_t *)cases[i].text, strlen(cases[i].text), &b),
                      cases[i].code);
            CHECK_MSG(cases[i].msg);
        }
    }
    CHECK_OK(sh_buf_reserve(&bad, SH_NODE_KEYFILE_MAX_BYTES + 1));
    memset(bad.data, '#', SH_NODE_KEYFILE_MAX_BYTES + 1);
    CHECK_ERR(sh_node_keys_decode(bad.data, SH_NODE_KEYFILE_MAX_BYTES + 1, &b), SH_ERR_LIMIT);
    CHECK_OK(sh_fs_write_file(path, "garbage\n", 8, 0600));
    CHECK_ERR(sh_node_keys_load(path, true, &b, &created), SH_ERR_FORMAT);
    CHECK_MSG(path);
    sh_buf_free(&text);
    sh_buf_free(&bad);
    sh_node_keys_free(a);
}

/* One network file: `network`, also under its old name `network_file`; `map_file` beside it. */
static void network_file(void)
{
    sh_node_config c;

    sh_node_config_default(&c);
    CHECK_STR(c.network, "");
    CHECK_STR(c.map_file, "");
    CHECK_OK(sh_node_config_set(&c, "network", "/etc/shoal/network"));
    CHECK_STR(c.network, "/etc/shoal/network");
    CHECK_OK(sh_node_config_set(&c, "network-file", "/srv/net2"));
    CHECK_STR(c.network, "/srv/net2");
    CHECK_OK(sh_node_config_set(&c, "map_file", "/srv/map"));
    CHECK_STR(c.map_file, "/srv/map");
}

int main(void)
{
    settings();
    network_file();
    errors();
    onion_services();
    key_file();
    return 0;
}
