/*
 * A randomised check against a reference model: a few hundred random puts,
 * deletes, prefix deletes and txns (with random compares on value, version,
 * create_revision and mod_revision, and ops in both branches) over a handful
 * of keys, each result compared with what a tiny model of the contract
 * predicts (branch taken, revisions, deleted counts), the whole state read
 * back and compared every few steps (values, versions, create and mod
 * revisions), and at the end a watch replaying the history compared event by
 * event. The seed is printed and can be fixed with DDLCOORD_TEST_SEED.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NKEYS  6
#define STEPS  300
#define MAXEV  (STEPS * NKEYS)
#define PREFIX 6 /* slot number of the "c/" prefix delete */

static const char *const names[NKEYS] = {"a", "b", "c/1", "c/2", "c/3", "d"};

typedef struct mkey {
    int exists;
    char value[16];
    int64_t create, mod, version;
} mkey;

typedef struct mevent {
    dc_event_type type;
    int key;
    char value[16];
    int64_t rev, create, version;
} mevent;

typedef struct model {
    mkey k[NKEYS];
    mevent ev[MAXEV];
    size_t nev;
    int64_t last; /* revision of the last write */
    unsigned seed, state;
} model;

static unsigned rnd(model *m, unsigned n)
{
    m->state = m->state * 1103515245u + 12345u;
    return (m->state >> 16) % n;
}

static void m_put(model *m, int k, const char *v, int64_t rev)
{
    mkey *x = &m->k[k];
    if (!x->exists) {
        x->exists = 1;
        x->create = rev;
        x->version = 0;
    }
    x->version++;
    x->mod = rev;
    snprintf(x->value, sizeof x->value, "%s", v);
    ck_assert_uint_lt(m->nev, MAXEV);
    m->ev[m->nev++] = (mevent){DC_EVENT_PUT, k, "", rev, x->create, x->version};
    snprintf(m->ev[m->nev - 1].value, sizeof m->ev[0].value, "%s", v);
}

static int m_delete(model *m, int k, int64_t rev)
{
    mkey *x = &m->k[k];
    if (!x->exists) return 0;
    memset(x, 0, sizeof *x);
    ck_assert_uint_lt(m->nev, MAXEV);
    m->ev[m->nev++] = (mevent){DC_EVENT_DELETE, k, "", rev, 0, 0};
    return 1;
}

/* keys of a slot: one key, or c/1..c/3 for the prefix slot */
static int slot_first(int slot)
{
    return slot == PREFIX ? 2 : slot;
}
static int slot_last(int slot)
{
    return slot == PREFIX ? 4 : slot;
}

static void check_state(model *m, int step)
{
    dc_kvs *r = conf_get(K(""), DC_PREFIX, 0);
    size_t j = 0;
    for (int k = 0; k < NKEYS; k++) {
        if (!m->k[k].exists) continue;
        ck_assert_msg(j < r->n, "seed %u step %d: %s missing", m->seed, step, names[k]);
        const dc_kv *kv = &r->kvs[j++];
        ck_assert_msg(strcmp(kv->key, K(names[k])) == 0, "seed %u step %d: found %s, want %s",
                      m->seed, step, kv->key, K(names[k]));
        ck_assert_msg(strcmp(kv->value, m->k[k].value) == 0 && kv->version == m->k[k].version &&
                          kv->create_revision == m->k[k].create && kv->mod_revision == m->k[k].mod,
                      "seed %u step %d: %s = '%s' v%lld c%lld m%lld, model '%s' v%lld c%lld m%lld",
                      m->seed, step, names[k], kv->value, (long long)kv->version,
                      (long long)kv->create_revision, (long long)kv->mod_revision, m->k[k].value,
                      (long long)m->k[k].version, (long long)m->k[k].create,
                      (long long)m->k[k].mod);
    }
    ck_assert_msg(j == r->n, "seed %u step %d: %zu keys, model has %zu", m->seed, step, r->n, j);
    ck_assert_int_ge(r->revision, m->last);
    dc_kvs_free(r);
}

/* A random compare on key k; returns whether the model says it holds. */
static int add_compare(model *m, dc_txn *t, int k)
{
    const char *key = K(names[k]);
    size_t kl = strlen(key);
    mkey *x = &m->k[k];
    int truth = rnd(m, 2);
    switch (rnd(m, 4)) {
    case 0: {
        const char *v = truth && x->exists ? x->value : "nope";
        OK(dc_txn_compare_value(t, key, kl, DC_CMP_EQUAL, v, strlen(v)));
        return x->exists && strcmp(v, x->value) == 0;
    }
    case 1:
        OK(dc_txn_compare_int(t, key, kl, DC_TARGET_VERSION, DC_CMP_EQUAL,
                              x->version + (truth ? 0 : 1)));
        return truth;
    case 2:
        OK(dc_txn_compare_int(t, key, kl, DC_TARGET_MOD, truth ? DC_CMP_EQUAL : DC_CMP_NOT_EQUAL,
                              x->mod));
        return truth;
    default:
        OK(dc_txn_compare_int(t, key, kl, DC_TARGET_CREATE, DC_CMP_GREATER, 0));
        return x->exists;
    }
}

typedef struct mop {
    int slot;
    int put;
    char value[16];
} mop;

/* Up to three ops on distinct slots (the prefix slot excludes c/1..c/3, so
 * no key is written twice); puts never use the prefix slot. */
static size_t random_ops(model *m, mop *ops, int step, int branch)
{
    size_t n = 1 + rnd(m, 3), k = 0;
    int used[PREFIX + 1] = {0};
    for (size_t tries = 0; k < n && tries < 20; tries++) {
        int s = (int)rnd(m, PREFIX + 1);
        if (used[s]) continue;
        if (s == PREFIX && (used[2] || used[3] || used[4])) continue;
        if (s >= 2 && s <= 4 && used[PREFIX]) continue;
        used[s] = 1;
        ops[k].slot = s;
        ops[k].put = s != PREFIX && rnd(m, 3) != 0;
        snprintf(ops[k].value, sizeof ops[k].value, "s%d%c%zu", step, branch ? 'e' : 't', k);
        k++;
    }
    return k;
}

static void add_ops(dc_txn *t, dc_branch b, const mop *ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *key = ops[i].slot == PREFIX ? K("c/") : K(names[ops[i].slot]);
        if (ops[i].put)
            OK(dc_txn_put(t, b, key, strlen(key), ops[i].value, strlen(ops[i].value), 0, 0));
        else
            OK(dc_txn_delete(t, b, key, strlen(key), ops[i].slot == PREFIX ? DC_PREFIX : 0));
    }
}

static void step_txn(model *m, int step)
{
    dc_txn *t = conf_txn();
    int holds = 1;
    for (size_t c = 1 + rnd(m, 2); c > 0; c--) holds &= add_compare(m, t, (int)rnd(m, NKEYS));
    mop then[3], els[3];
    size_t nt = random_ops(m, then, step, 0), ne = random_ops(m, els, step, 1);
    add_ops(t, DC_THEN, then, nt);
    add_ops(t, DC_ELSE, els, ne);
    dc_txn_result *r = conf_commit(t);
    ck_assert_msg(r->succeeded == holds, "seed %u step %d: txn took the %s branch", m->seed, step,
                  r->succeeded ? "then" : "else");
    const mop *ops = holds ? then : els;
    size_t n = holds ? nt : ne;
    ck_assert_uint_eq(r->n_responses, n);
    int wrote = 0;
    for (size_t i = 0; i < n; i++) {
        if (ops[i].put) {
            wrote = 1;
            continue;
        }
        for (int k = slot_first(ops[i].slot); k <= slot_last(ops[i].slot); k++)
            wrote |= m->k[k].exists;
    }
    if (wrote) {
        ck_assert_msg(r->revision > m->last, "seed %u step %d: txn wrote at %lld after %lld",
                      m->seed, step, (long long)r->revision, (long long)m->last);
        m->last = r->revision;
    } else {
        ck_assert_int_ge(r->revision, m->last);
    }
    for (size_t i = 0; i < n; i++) {
        if (ops[i].put) {
            m_put(m, ops[i].slot, ops[i].value, r->revision);
            continue;
        }
        int64_t deleted = 0;
        for (int k = slot_first(ops[i].slot); k <= slot_last(ops[i].slot); k++)
            deleted += m_delete(m, k, r->revision);
        ck_assert_msg(r->responses[i].deleted == deleted,
                      "seed %u step %d: op %zu deleted %lld, model %lld", m->seed, step, i,
                      (long long)r->responses[i].deleted, (long long)deleted);
    }
    dc_txn_result_free(r);
}

static void step_single(model *m, int step)
{
    int slot = (int)rnd(m, PREFIX + 1);
    if (slot != PREFIX && rnd(m, 2)) {
        char v[16];
        snprintf(v, sizeof v, "p%d", step);
        int64_t rev = conf_put(K(names[slot]), v);
        ck_assert_int_gt(rev, m->last);
        m->last = rev;
        m_put(m, slot, v, rev);
        return;
    }
    int64_t deleted = 0;
    int64_t rev = conf_delete(slot == PREFIX ? K("c/") : K(names[slot]),
                              slot == PREFIX ? DC_PREFIX : 0, &deleted);
    int64_t want = 0;
    for (int k = slot_first(slot); k <= slot_last(slot); k++) want += m_delete(m, k, rev);
    ck_assert_msg(deleted == want, "seed %u step %d: deleted %lld, model %lld", m->seed, step,
                  (long long)deleted, (long long)want);
    if (want) {
        ck_assert_int_gt(rev, m->last);
        m->last = rev;
    } else {
        ck_assert_int_ge(rev, m->last);
    }
}

static int cmp_event_key(const void *a, const void *b)
{
    const dc_event *x = *(const dc_event *const *)a, *y = *(const dc_event *const *)b;
    if (x->kv.mod_revision != y->kv.mod_revision)
        return x->kv.mod_revision < y->kv.mod_revision ? -1 : 1;
    return strcmp(x->kv.key, y->kv.key);
}

static int cmp_mevent_key(const void *a, const void *b)
{
    const mevent *x = a, *y = b;
    if (x->rev != y->rev) return x->rev < y->rev ? -1 : 1;
    return strcmp(names[x->key], names[y->key]);
}

static void check_history(model *m, int64_t start)
{
    dc_watch *w = conf_watch(K(""), start, DC_PREFIX);
    conf_events log = {0};
    conf_collect_exactly(w, &log, m->nev);
    conf_expect_quiet(w);
    /* order inside one revision is the backend's; compare by (revision, key) */
    for (size_t i = 1; i < log.n; i++)
        ck_assert_int_ge(log.ev[i]->kv.mod_revision, log.ev[i - 1]->kv.mod_revision);
    qsort(log.ev, log.n, sizeof *log.ev, cmp_event_key);
    qsort(m->ev, m->nev, sizeof *m->ev, cmp_mevent_key);
    for (size_t i = 0; i < m->nev; i++) {
        const dc_event *e = log.ev[i];
        const mevent *x = &m->ev[i];
        ck_assert_msg(e->type == x->type && e->kv.mod_revision == x->rev &&
                          strcmp(e->kv.key, K(names[x->key])) == 0,
                      "seed %u: event %zu is %s %s at %lld, model %s %s at %lld", m->seed, i,
                      e->type == DC_EVENT_PUT ? "PUT" : "DELETE", e->kv.key,
                      (long long)e->kv.mod_revision, x->type == DC_EVENT_PUT ? "PUT" : "DELETE",
                      names[x->key], (long long)x->rev);
        if (x->type == DC_EVENT_PUT)
            ck_assert_msg(strcmp(e->kv.value, x->value) == 0 && e->kv.version == x->version &&
                              e->kv.create_revision == x->create,
                          "seed %u: event %zu on %s: '%s' v%lld c%lld, model '%s' v%lld c%lld",
                          m->seed, i, names[x->key], e->kv.value, (long long)e->kv.version,
                          (long long)e->kv.create_revision, x->value, (long long)x->version,
                          (long long)x->create);
    }
    conf_events_free(&log);
    dc_watch_close(w);
}

CONF_TEST(random_ops_match_a_reference_model)
{
    model *m = conf_malloc(sizeof *m);
    memset(m, 0, sizeof *m);
    const char *env = getenv("DDLCOORD_TEST_SEED");
    m->seed = env && *env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL);
    m->state = m->seed;
    fprintf(stderr, "random_ops_match_a_reference_model: seed %u (DDLCOORD_TEST_SEED)\n", m->seed);
    int64_t start = conf_revision() + 1;
    m->last = start - 1;
    for (int step = 0; step < STEPS; step++) {
        if (rnd(m, 2))
            step_txn(m, step);
        else
            step_single(m, step);
        if (step % 10 == 9) check_state(m, step);
    }
    check_state(m, STEPS);
    check_history(m, start);
    free(m);
}
END_TEST

TCase *conf_model_tcase(void)
{
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, random_ops_match_a_reference_model);
    return tc;
}
