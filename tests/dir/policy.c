/* Admission policy: open and allow-list (node identity or operator key), the per-/16 limit at
 * its limit and one over (IPv4 /16, IPv6 /32, never on loopback), the per-operator limit, link
 * key reuse, a node re-registering, and the Guard flag after the stable time. */
#include "test.h"

#include "crypto/crypto.h"
#include "dir/dir.h"
#include "dirtest.h"

static void make(sh_dir_node *n, uint32_t i, const char *address)
{
    dt_key k;
    dt_node_make(n, &k, i, DT_NOW, address);
}

static void test_allow_list(void)
{
    sh_dir_node a, b;
    dt_key op;
    uint8_t allowed[2][32];
    sh_dir_policy p = {.open = true};

    make(&a, 1, NULL);
    make(&b, 2, NULL);
    dt_key_make(&op, 3, 1);
    CHECK_OK(sh_dir_policy_admit(&p, &a, NULL, 0));
    p.open = false;
    CHECK_ERR(sh_dir_policy_admit(&p, &a, NULL, 0), SH_ERR_PERMISSION);
    CHECK_MSG("not on the allow-list");
    memcpy(allowed[0], a.identity, 32);
    memcpy(allowed[1], op.pk, 32);
    p.allowed = (const uint8_t (*)[32])allowed;
    p.n_allowed = 2;
    CHECK_OK(sh_dir_policy_admit(&p, &a, NULL, 0));
    CHECK_ERR(sh_dir_policy_admit(&p, &b, NULL, 0), SH_ERR_PERMISSION);
    b.has_operator = true;
    memcpy(b.operator_key, op.pk, 32);
    CHECK_OK(sh_dir_policy_admit(&p, &b, NULL, 0));
}

static void test_network_limits(void)
{
    sh_dir_node admitted[4], c;
    sh_dir_policy p = {.open = true, .max_per_16 = 2};

    make(&admitted[0], 10, "198.51.1.1:7000");
    make(&admitted[1], 11, "198.51.200.7:7000");
    make(&admitted[2], 12, "198.52.1.1:7000");
    make(&admitted[3], 13, "[2001:db8:1::1]:7000");
    /* Two already in 198.51/16: a third is one over the limit of 2. */
    make(&c, 14, "198.51.3.3:7000");
    CHECK_OK(sh_dir_policy_admit(&p, &c, admitted, 1));
    CHECK_ERR(sh_dir_policy_admit(&p, &c, admitted, 2), SH_ERR_LIMIT);
    CHECK_MSG("2 nodes are already admitted from the network of 198.51.3.3:7000");
    /* The node's own older entry does not count against it. */
    make(&c, 10, "198.51.3.3:7000");
    CHECK_OK(sh_dir_policy_admit(&p, &c, admitted, 2));
    /* IPv6 counts per /32. */
    make(&c, 15, "[2001:db8:ffff::2]:7000");
    CHECK_OK(sh_dir_policy_admit(&p, &c, admitted, 4));
    p.max_per_16 = 1;
    CHECK_ERR(sh_dir_policy_admit(&p, &c, admitted, 4), SH_ERR_LIMIT);
    make(&c, 15, "[2001:db9::2]:7000");
    CHECK_OK(sh_dir_policy_admit(&p, &c, admitted, 4));
    /* Loopback is never limited (a devnet runs every node on 127.0.0.1). */
    sh_dir_node local[3];
    make(&local[0], 20, "127.0.0.1:7001");
    make(&local[1], 21, "127.0.0.1:7002");
    make(&local[2], 22, "127.0.0.1:7003");
    CHECK_OK(sh_dir_policy_admit(&p, &local[2], local, 2));
    /* Limit off. */
    p.max_per_16 = 0;
    make(&c, 16, "198.51.9.9:7000");
    CHECK_OK(sh_dir_policy_admit(&p, &c, admitted, 4));
    /* Another node's link key. */
    memcpy(c.link_key, admitted[2].link_key, 32);
    CHECK_ERR(sh_dir_policy_admit(&p, &c, admitted, 4), SH_ERR_EXISTS);
}

static void test_operator_limit(void)
{
    sh_dir_node admitted[3], c;
    dt_key op, other;
    sh_dir_policy p = {.open = true, .max_per_operator = 2};

    dt_key_make(&op, 3, 5);
    dt_key_make(&other, 3, 6);
    for (uint32_t i = 0; i < 3; i++) {
        make(&admitted[i], 30 + i, NULL);
        admitted[i].has_operator = true;
        memcpy(admitted[i].operator_key, i < 2 ? op.pk : other.pk, 32);
    }
    make(&c, 40, NULL);
    c.has_operator = true;
    memcpy(c.operator_key, op.pk, 32);
    CHECK_OK(sh_dir_policy_admit(&p, &c, admitted, 1));
    CHECK_ERR(sh_dir_policy_admit(&p, &c, admitted, 3), SH_ERR_LIMIT);
    CHECK_MSG("this operator already runs 2 admitted nodes");
    memcpy(c.operator_key, other.pk, 32);
    CHECK_OK(sh_dir_policy_admit(&p, &c, admitted, 3));
    c.has_operator = false;
    CHECK_OK(sh_dir_policy_admit(&p, &c, admitted, 3));
}

static void test_guard(void)
{
    sh_dir_policy p = {.open = true, .guard_stable_ms = 8 * DT_HOUR};

    CHECK_EQ(sh_dir_policy_flags(&p, DT_NOW, DT_NOW), 0);
    CHECK_EQ(sh_dir_policy_flags(&p, DT_NOW, DT_NOW + 8 * DT_HOUR - 1), 0);
    CHECK_EQ(sh_dir_policy_flags(&p, DT_NOW, DT_NOW + 8 * DT_HOUR), SH_DIR_FLAG_GUARD);
    CHECK_EQ(sh_dir_policy_flags(&p, DT_NOW + DT_HOUR, DT_NOW), 0);
    p.guard_stable_ms = 0;
    CHECK_EQ(sh_dir_policy_flags(&p, DT_NOW, DT_NOW), SH_DIR_FLAG_GUARD);
}

int main(void)
{
    CHECK_OK(sh_crypto_init());
    test_allow_list();
    test_network_limits();
    test_operator_limit();
    test_guard();
    return 0;
}
