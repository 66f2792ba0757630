/* The simulated world of sim.h. */
#include "sim.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

void sim_rand_seed(void);

uint32_t sim_rand(uint32_t n)
{
    uint32_t v;

    test_random(&v, sizeof v);
    return n == 0 ? 0 : v % n;
}

static int add_dev(sim_world *w, sh_e2e_device *d, int account)
{
    sim_dev *s;

    if (w->n_devs == SIM_MAX_DEVICES)
        test_fail(__FILE__, __LINE__, "too many simulated devices");
    s = &w->devs[w->n_devs];
    memset(s, 0, sizeof *s);
    s->d = d;
    s->account = account;
    s->live = true;
    s->got = calloc(w->max_ids, 1);
    CHECK(s->got != NULL);
    return w->n_devs++;
}

void sim_init(sim_world *w, int n_accounts, uint64_t max_ids, sim_net net)
{
    memset(w, 0, sizeof *w);
    w->now = 1700000000000LL;
    w->net = net;
    w->max_ids = max_ids;
    w->n_accounts = n_accounts;
    w->sender = calloc(max_ids, 1);
    CHECK(w->sender != NULL);
    for (int a = 0; a < n_accounts; a++) {
        uint8_t seed[16];
        sh_e2e_device *d;
        test_random(seed, sizeof seed);
        CHECK_OK(sh_e2e_device_new_primary(&d, seed, w->now));
        w->primary[a] = add_dev(w, d, a);
    }
    sim_publish(w);
}

void sim_free(sim_world *w)
{
    free(w->sender);
    for (int i = 0; i < w->n_devs; i++) {
        for (size_t j = 0; j < w->devs[i].n_inbox; j++)
            free(w->devs[i].inbox[j].env);
        free(w->devs[i].inbox);
        free(w->devs[i].got);
        sh_e2e_device_free(w->devs[i].d);
    }
}

void sim_publish(sim_world *w)
{
    for (int i = 0; i < w->n_devs; i++) {
        sh_buf list, bundle;
        if (!w->devs[i].live)
            continue;
        sh_buf_init(&list);
        sh_buf_init(&bundle);
        CHECK_OK(sh_e2e_device_bundle(w->devs[i].d, w->now, &bundle));
        if (sh_e2e_device_is_primary(w->devs[i].d))
            CHECK_OK(sh_e2e_device_list(w->devs[i].d, &list));
        for (int j = 0; j < w->n_devs; j++) {
            if (!w->devs[j].live)
                continue;
            if (list.len != 0)
                CHECK_OK(sh_e2e_device_learn_list(w->devs[j].d, list.data, list.len, w->now));
        }
        sh_buf_free(&list);
        sh_buf_free(&bundle);
    }
    /* Bundles once every list is known. */
    for (int i = 0; i < w->n_devs; i++) {
        sh_buf bundle;
        if (!w->devs[i].live)
            continue;
        sh_buf_init(&bundle);
        CHECK_OK(sh_e2e_device_bundle(w->devs[i].d, w->now, &bundle));
        for (int j = 0; j < w->n_devs; j++)
            if (w->devs[j].live)
                CHECK_OK(sh_e2e_device_learn_bundle(w->devs[j].d, bundle.data, bundle.len, w->now));
        sh_buf_free(&bundle);
    }
}

int sim_link(sim_world *w, int account)
{
    sh_e2e_device *primary = w->devs[w->primary[account]].d, *nd;
    char code[SH_E2E_LINK_CODE_BYTES], sas_new[SH_E2E_SAS_BYTES], sas_primary[SH_E2E_SAS_BYTES];
    sh_buf request, response;
    int i;

    sh_buf_init(&request);
    sh_buf_init(&response);
    CHECK_OK(sh_e2e_link_begin(primary, w->now, code));
    CHECK_OK(sh_e2e_device_new_linked(&nd, code, w->now, &request, sas_new));
    CHECK_OK(sh_e2e_link_read_request(primary, request.data, request.len, w->now, sas_primary));
    CHECK_STR(sas_new, sas_primary);
    CHECK_OK(sh_e2e_link_confirm(primary, w->now, &response));
    CHECK_OK(sh_e2e_link_finish(nd, response.data, response.len, w->now));
    i = add_dev(w, nd, account);
    sh_buf_free(&request);
    sh_buf_free(&response);
    sim_publish(w);
    return i;
}

void sim_revoke(sim_world *w, int dev)
{
    int account = w->devs[dev].account;
    sh_e2e_device *primary = w->devs[w->primary[account]].d;

    CHECK_OK(sh_e2e_revoke_device(primary, sh_e2e_device_id(w->devs[dev].d), w->now));
    w->devs[dev].live = false;
    sim_publish(w);
    /* The revoked device reads the new list too: it learns it is out. */
    {
        sh_buf list;
        sh_buf_init(&list);
        CHECK_OK(sh_e2e_device_list(primary, &list));
        CHECK_OK(sh_e2e_device_learn_list(w->devs[dev].d, list.data, list.len, w->now));
        CHECK(sh_e2e_device_is_revoked(w->devs[dev].d));
        sh_buf_free(&list);
    }
    for (int i = 0; i < w->n_devs; i++) {
        sh_buf grant;
        if (i == w->primary[account] || w->devs[i].account != account || !w->devs[i].live)
            continue;
        sh_buf_init(&grant);
        CHECK_OK(sh_e2e_device_grant(primary, sh_e2e_device_id(w->devs[i].d), &grant));
        CHECK_OK(sh_e2e_device_learn_grant(w->devs[i].d, grant.data, grant.len));
        sh_buf_free(&grant);
    }
}

static void push(sim_dev *d, const sh_buf *env, uint64_t id, int64_t at, bool dup)
{
    sim_copy *c;

    if (d->n_inbox == d->cap_inbox) {
        d->cap_inbox = d->cap_inbox ? d->cap_inbox * 2 : 64;
        d->inbox = realloc(d->inbox, d->cap_inbox * sizeof *d->inbox);
        CHECK(d->inbox != NULL);
    }
    c = &d->inbox[d->n_inbox++];
    c->env = malloc(env->len);
    CHECK(c->env != NULL);
    memcpy(c->env, env->data, env->len);
    c->len = env->len;
    c->id = id;
    c->at = at;
    c->duplicate = dup;
}

/* One envelope to every live device of an account except the sender. */
static void post(sim_world *w, const sh_buf *env, int account, int from, uint64_t id)
{
    for (int i = 0; i < w->n_devs; i++) {
        sim_dev *d = &w->devs[i];
        if (i == from || d->account != account || !d->live)
            continue;
        if (sim_rand(100) < w->net.drop_pct) {
            w->dropped++;
            continue;
        }
        push(d, env, id, w->now + (w->net.max_delay_ms ? sim_rand((uint32_t)w->net.max_delay_ms) : 0), false);
        w->posted++;
        if (sim_rand(100) < w->net.dup_pct)
            push(d, env, id, w->now + (w->net.max_delay_ms ? sim_rand((uint32_t)w->net.max_delay_ms) : 0), true);
    }
}

uint64_t sim_send(sim_world *w, int from, int to_account)
{
    sh_buf to_r, to_s;
    uint8_t payload[64];
    uint64_t id = w->next_id++;

    CHECK(id < w->max_ids);
    memset(payload, 0, sizeof payload);
    memcpy(payload, &id, sizeof id);
    payload[8] = (uint8_t)from;
    w->sender[id] = (uint8_t)from;
    sh_buf_init(&to_r);
    sh_buf_init(&to_s);
    CHECK_OK(sh_e2e_send(w->devs[from].d, sh_e2e_device_account(w->devs[w->primary[to_account]].d),
                         payload, 16 + sim_rand(48), w->now, &to_r, &to_s));
    post(w, &to_r, to_account, from, id);
    if (to_s.len != 0)
        post(w, &to_s, w->devs[from].account, from, id);
    w->sent++;
    sh_buf_free(&to_r);
    sh_buf_free(&to_s);
    return id;
}

static void deliver_one(sim_world *w, int i, sim_copy *c)
{
    sim_dev *d = &w->devs[i];
    sh_e2e_received got;
    int rc = sh_e2e_receive(d->d, c->env, c->len, w->now, &got);
    uint64_t id;

    if (!d->live) {
        CHECK_ERR(rc, SH_ERR_PERMISSION);
        return;
    }
    if (d->got[c->id] != 0) {
        if (rc == SH_ERR_PERMISSION && !w->devs[w->sender[c->id]].live) {
            w->rejected_revoked++;
            return;
        }
        if (rc != SH_ERR_REPLAY)
            test_fail(__FILE__, __LINE__, "device %d: second copy of message %llu gave %s (%s)", i,
                      (unsigned long long)c->id, sh_err_name(rc), sh_err_msg());
        w->duplicates_rejected++;
        return;
    }
    if (rc == SH_ERR_PERMISSION && !w->devs[w->sender[c->id]].live) {
        /* Sent by a device revoked since. */
        w->rejected_revoked++;
        return;
    }
    if (rc != SH_OK)
        test_fail(__FILE__, __LINE__, "device %d: message %llu gave %s (%s)", i,
                  (unsigned long long)c->id, sh_err_name(rc), sh_err_msg());
    CHECK(got.payload.len >= 16);
    memcpy(&id, got.payload.data, sizeof id);
    CHECK_EQ(id, c->id);
    d->got[c->id]++;
    if (got.pq_epoch > w->max_epoch)
        w->max_epoch = got.pq_epoch;
    w->delivered++;
    sh_buf_free(&got.payload);
}

size_t sim_deliver(sim_world *w, int i)
{
    sim_dev *d = &w->devs[i];
    size_t n = 0;

    while (d->n_inbox != 0) {
        size_t due = 0, pick;
        sim_copy c = {0};
        for (size_t j = 0; j < d->n_inbox; j++)
            due += d->inbox[j].at <= w->now;
        if (due == 0)
            break;
        pick = sim_rand((uint32_t)due);
        for (size_t j = 0; j < d->n_inbox; j++) {
            if (d->inbox[j].at > w->now)
                continue;
            if (pick-- == 0) {
                c = d->inbox[j];
                d->inbox[j] = d->inbox[--d->n_inbox];
                break;
            }
        }
        deliver_one(w, i, &c);
        free(c.env);
        n++;
    }
    return n;
}

void sim_drain(sim_world *w)
{
    w->now += w->net.max_delay_ms + 1;
    for (int i = 0; i < w->n_devs; i++)
        sim_deliver(w, i);
}

void sim_reload(sim_world *w, int i)
{
    sh_buf state;
    sh_e2e_device *d;

    sh_buf_init_secret(&state);
    CHECK_OK(sh_e2e_device_save(w->devs[i].d, &state));
    CHECK_OK(sh_e2e_device_load(&d, state.data, state.len));
    sh_e2e_device_free(w->devs[i].d);
    w->devs[i].d = d;
    sh_buf_free(&state);
}
