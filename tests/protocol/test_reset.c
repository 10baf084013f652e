/*
 * Store resets (docs/DESIGN.md, "Resets"): the store loses its data while a
 * master and workers run. The master (dc_master_run) logs one ERROR line,
 * reopens the store and rebuilds from the new history; each worker inside
 * dc_worker_run_ddl reopens and reports its DDL again; the same objects go
 * on coordinating. mem:// only: dc_mem_reset is the reset (the Redis
 * FLUSHALL version runs the ddlcoord command, tests/tools).
 *
 * Task membership lives in the store and is lost with everything else: the
 * tests put it back after the reset, as an operator restoring a store does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ddlcoord/mem.h>

#include "harness.h"

static const char *DDL = "ALTER TABLE tbl ADD COLUMN c1 INT";
static const char *LOCK = "t-`db`.`tbl`";

static dc_store *fresh_handle(void)
{
    dc_store *s;
    int rc = dc_store_open(getenv("DDLCOORD_TEST_STORE"), &s);
    ck_assert_msg(rc == DC_OK, "open: %s: %s", dc_errname(rc), dc_last_error());
    return s;
}

/* A worker running its whole flow on its own handle, in a thread. */
typedef struct rworker {
    pthread_t th;
    const char *ns, *source;
    dc_store *store;
    dc_exec_fn exec;
    dc_checkpoint_fn checkpoint;
    void *ud;
    int rc, executed;
} rworker;

static void *rworker_main(void *arg)
{
    rworker *r = arg;
    dc_worker_options o = {.ns = r->ns};
    dc_worker *w;
    r->rc = dc_worker_new(r->store, "t", r->source, &o, &w);
    if (r->rc == DC_OK)
        r->rc = dc_worker_run_ddl(w, "db", "tbl", &DDL, 1, "pos-1", r->exec, r->checkpoint, r->ud,
                                  T_TIMEOUT, &r->executed);
    dc_worker_free(w);
    return NULL;
}

static void rworker_start(rworker *r, const char *ns, const char *source, dc_store *s, t_down *d)
{
    memset(r, 0, sizeof *r);
    r->ns = ns;
    r->source = source;
    r->store = s;
    r->exec = t_down_exec;
    r->checkpoint = t_down_checkpoint;
    r->ud = d;
    ck_assert_int_eq(pthread_create(&r->th, NULL, rworker_main, r), 0);
}

/* Lock id's status in m (owner copied into owner, "" if none); 1 if it exists. */
static int lock_owner(dc_master *m, char *owner, size_t len, size_t *synced)
{
    dc_lock_status *st;
    size_t n;
    int found = 0;
    ck_assert_int_eq(dc_master_locks(m, "t", &st, &n), DC_OK);
    for (size_t i = 0; i < n; i++)
        if (strcmp(st[i].id, LOCK) == 0) {
            found = 1;
            snprintf(owner, len, "%s", st[i].owner ? st[i].owner : "");
            *synced = 0;
            for (size_t j = 0; j < st[i].n_sources; j++) *synced += st[i].sources[j].synced;
        }
    dc_lock_status_free_array(st, n);
    return found;
}

static void wait_lock(dc_master *m, const char *owner, size_t synced)
{
    char got[64] = "";
    size_t s = 0;
    for (int i = 0; i < T_TIMEOUT / 10; i++) {
        if (lock_owner(m, got, sizeof got, &s) && s >= synced && (!owner || !strcmp(got, owner)))
            return;
        usleep(10000);
    }
    ck_abort_msg("lock %s never had owner %s and %zu synced (owner %s, %zu synced)", LOCK,
                 owner ? owner : "any", synced, got, s);
}

static void members_of(dc_store *s, const char *ns, size_t n)
{
    const char *srcs[] = {"a", "b"};
    int rc = dc_task_add(s, ns, "t", srcs, n);
    ck_assert_msg(rc == DC_OK, "task add: %s: %s", dc_errname(rc), dc_last_error());
}

static void members(dc_store *s, const char *ns)
{
    members_of(s, ns, 2);
}

/* Wait until source's info is in the store (as s sees it). */
static void wait_info(dc_store *s, const char *ns, const char *source)
{
    char *key;
    ck_assert_int_eq(dc_info_key(ns, "t", source, &key), DC_OK);
    int64_t c = 0;
    for (int i = 0; i < T_TIMEOUT / 10 && !c; i++) {
        dc_kvs *kvs;
        int rc = dc_get(s, key, strlen(key), DC_COUNT_ONLY, 0, &kvs);
        ck_assert_msg(rc == DC_OK, "get: %s", dc_errname(rc));
        c = kvs->count;
        dc_kvs_free(kvs);
        if (!c) usleep(10000);
    }
    free(key);
    ck_assert_msg(c == 1, "%s never reported", source);
}

/* The master and a waiting worker outlive a reset: a reports, the store is
 * reset, a reports again by itself on a new handle, b reports, and the lock
 * resolves with the DDL run once, by the same master object. */
START_TEST(a_reset_makes_the_master_rebuild_and_the_worker_report_again)
{
    const char *ns = t_ns("reset");
    members(t_store(), ns);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    rworker a;
    rworker_start(&a, ns, "a", t_store(), &down);
    wait_lock(tm.m, "a", 1);
    uint64_t e0 = 0, e1 = 0;
    ck_assert_int_eq(dc_mem_epoch(t_store(), &e0), DC_OK);
    ck_assert_int_eq(dc_mem_reset(t_store()), DC_OK);
    dc_store *s = fresh_handle(); /* the test's own handle is poisoned too */
    ck_assert_int_eq(dc_mem_epoch(s, &e1), DC_OK);
    ck_assert_uint_eq(e1, e0 + 1);
    members(s, ns);
    /* a reports again in the new history (by itself), before b does */
    wait_info(s, ns, "a");
    rworker b;
    rworker_start(&b, ns, "b", s, &down);
    pthread_join(a.th, NULL);
    pthread_join(b.th, NULL);
    ck_assert_msg(a.rc == DC_OK, "a: %s", dc_errname(a.rc));
    ck_assert_msg(b.rc == DC_OK, "b: %s", dc_errname(b.rc));
    ck_assert_int_eq(a.executed, 1);
    ck_assert_int_eq(b.executed, 0);
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(t_down_count(&down, LOCK, DDL), 1);
    ck_assert_int_eq(down.last_attempt, 1);
    ck_assert_msg(tm.running, "the master stopped");
    t_master_stop(&tm);
    ck_assert_int_eq(tm.rc, DC_ECLOSED); /* stopped by us, not by the reset */
    dc_store_close(s);
}
END_TEST

/* An exec callback that blocks after applying, until released. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, released;
    t_down *down;
} gate;

static int gate_exec(const dc_operation *op, void *ud)
{
    gate *g = ud;
    int rc = t_down_exec(op, g->down);
    pthread_mutex_lock(&g->mu);
    if (op->exec && !g->entered) {
        g->entered = 1;
        pthread_cond_broadcast(&g->cv);
        while (!g->released) pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return rc;
}

static int gate_checkpoint(const dc_operation *op, const char *pos, void *ud)
{
    gate *g = ud;
    return t_down_checkpoint(op, pos, g->down);
}

/* The owner ran the DDL, then the store lost the record of it: its report
 * in the new history executes again only as attempt 2, so the code that
 * runs the DDL knows to check the downstream first. (a is the task's only
 * source, so it owns the lock in both histories.) */
START_TEST(an_owner_that_executed_before_a_reset_runs_again_as_attempt_2)
{
    const char *ns = t_ns("reset-exec");
    members_of(t_store(), ns, 1);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    gate g = {.down = &down};
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    rworker a;
    memset(&a, 0, sizeof a);
    a.ns = ns;
    a.source = "a";
    a.store = t_store();
    a.exec = gate_exec;
    a.checkpoint = gate_checkpoint;
    a.ud = &g;
    ck_assert_int_eq(pthread_create(&a.th, NULL, rworker_main, &a), 0);
    pthread_mutex_lock(&g.mu);
    for (int i = 0; i < T_TIMEOUT / 10 && !g.entered; i++) {
        pthread_mutex_unlock(&g.mu);
        usleep(10000);
        pthread_mutex_lock(&g.mu);
    }
    int entered = g.entered;
    pthread_mutex_unlock(&g.mu);
    ck_assert_msg(entered, "a never executed");
    ck_assert_int_eq(down.last_attempt, 1);
    ck_assert_int_eq(dc_mem_reset(t_store()), DC_OK);
    dc_store *s = fresh_handle();
    members_of(s, ns, 1);
    pthread_mutex_lock(&g.mu);
    g.released = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    pthread_join(a.th, NULL);
    ck_assert_msg(a.rc == DC_OK, "a: %s: %s", dc_errname(a.rc), dc_last_error());
    ck_assert_int_eq(a.executed, 1);
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(down.exec_calls, 2);
    ck_assert_int_eq(down.last_attempt, 2); /* told: an earlier attempt may have run it */
    ck_assert_int_eq(down.tolerated, 1);
    ck_assert_int_eq(t_down_count(&down, LOCK, DDL), 1);
    ck_assert_msg(tm.running, "the master stopped");
    t_master_stop(&tm);
    ck_assert_int_eq(tm.rc, DC_ECLOSED);
    dc_store_close(s);
}
END_TEST

/* Two resets in a row: the master reopens twice (its own handle the second
 * time) and still coordinates. */
START_TEST(two_resets_in_a_row_leave_one_working_master)
{
    const char *ns = t_ns("reset-2");
    members(t_store(), ns);
    t_rec rec;
    t_rec_init(&rec);
    t_master tm;
    t_master_start(&tm, ns, &rec);
    t_down down;
    t_down_init(&down);
    dc_store *s = NULL;
    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(dc_mem_reset(s ? s : t_store()), DC_OK);
        dc_store_close(s);
        s = fresh_handle();
        /* the master is back on its feet when it has read the new history (step 1) */
        int i = 0;
        while (i++ < T_TIMEOUT / 10 && t_rec_count(&rec, "master", 1, NULL, NULL) < round + 2)
            usleep(10000);
        ck_assert_int_ge(t_rec_count(&rec, "master", 1, NULL, NULL), round + 2);
        members(s, ns);
    }
    rworker a, b;
    rworker_start(&a, ns, "a", s, &down);
    rworker_start(&b, ns, "b", s, &down);
    pthread_join(a.th, NULL);
    pthread_join(b.th, NULL);
    ck_assert_msg(a.rc == DC_OK, "a: %s", dc_errname(a.rc));
    ck_assert_msg(b.rc == DC_OK, "b: %s", dc_errname(b.rc));
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(t_down_count(&down, LOCK, DDL), 1);
    ck_assert_int_eq(a.executed + b.executed, 1);
    ck_assert_msg(tm.running, "the master stopped");
    t_master_stop(&tm);
    ck_assert_int_eq(tm.rc, DC_ECLOSED);
    dc_store_close(s);
    t_rec_free(&rec);
}
END_TEST

/* A fenced master without a reopen callback cannot campaign again: it stops
 * with DC_ERESET (it never writes into the new history with the old fence). */
START_TEST(a_fenced_master_without_reopen_stops_with_ereset)
{
    const char *ns = t_ns("reset-fenced");
    char fence[256];
    snprintf(fence, sizeof fence, "%s/fence", ns);
    int64_t rev = 0;
    ck_assert_int_eq(dc_put(t_store(), fence, strlen(fence), "x", 1, 0, &rev), DC_OK);
    dc_master_options o = {.ns = ns, .fence_key = fence, .fence_create_revision = rev};
    dc_master *m;
    ck_assert_int_eq(dc_master_new(t_store(), &o, &m), DC_OK);
    ck_assert_int_eq(dc_master_run(m, 0), DC_OK);
    ck_assert_int_eq(dc_mem_reset(t_store()), DC_OK);
    int rc = DC_OK;
    for (int i = 0; i < 50 && rc == DC_OK; i++) rc = dc_master_run(m, 100);
    ck_assert_msg(rc == DC_ERESET, "run: %s", dc_errname(rc));
    dc_master_free(m);
}
END_TEST

/* One live worker per (task, source): a second claim while the first lives
 * is refused with DC_EBUSY (after waiting for a lease that never expires);
 * once the first worker is gone, the next claim holds at once. */
START_TEST(a_second_live_worker_for_a_source_gets_ebusy)
{
    const char *ns = t_ns("claim");
    dc_worker_options o = {.ns = ns};
    dc_worker *w1, *w2, *w3;
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "a", &o, &w1), DC_OK);
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "a", &o, &w2), DC_OK);
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "b", &o, &w3), DC_OK);
    ck_assert_int_eq(dc_worker_claim(w1, 0), DC_EINVAL);
    /* The holders' leases outlive a loaded machine; w2 waits 2 * 1 + 2 s. */
    ck_assert_int_eq(dc_worker_claim(w1, 5), DC_OK);
    ck_assert_int_eq(dc_worker_claim(w1, 5), DC_OK); /* held: nothing to do */
    ck_assert_int_eq(dc_worker_claim(w3, 5), DC_OK); /* another source: its own key */
    int rc = dc_worker_claim(w2, 1);
    ck_assert_msg(rc == DC_EBUSY, "second claim: %s", dc_errname(rc));
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "another live worker"));
    dc_worker_free(w1);
    ck_assert_int_eq(dc_worker_claim(w2, 1), DC_OK);
    dc_worker_free(w2);
    dc_worker_free(w3);
}
END_TEST

/* A claimed worker whose claim lapsed (its lease expired: the process was
 * paused, say) never records an intent: a re-run may hold the source by
 * then, and the two must not both execute. */
START_TEST(a_worker_whose_claim_lapsed_does_not_execute)
{
    const char *ns = t_ns("claim-lapsed");
    members_of(t_store(), ns, 1);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    dc_worker_options o = {.ns = ns};
    dc_worker *w;
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "a", &o, &w), DC_OK);
    ck_assert_int_eq(dc_worker_claim(w, 5), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(w, "db", "tbl", &DDL, 1, "pos-1", T_TIMEOUT, NULL), DC_OK);
    dc_operation *op = NULL;
    ck_assert_int_eq(dc_worker_wait_operation(w, T_TIMEOUT, &op), DC_OK);
    ck_assert_int_eq(op->exec, 1);
    dc_operation_free(op);
    size_t expired = 0;
    ck_assert_int_eq(dc_mem_clock_set(t_store(), 0), DC_OK);
    ck_assert_int_eq(dc_mem_clock_advance(t_store(), 10000, &expired), DC_OK);
    ck_assert_uint_ge(expired, 1);
    int rc = dc_worker_begin_exec(w, T_TIMEOUT, NULL);
    ck_assert_msg(rc == DC_EBUSY, "intent: %s", dc_errname(rc));
    dc_worker_free(w);
    t_master_stop(&tm);
}
END_TEST

static void teardown(void)
{
    t_store_close();
}

Suite *suite_reset(void)
{
    Suite *s = suite_create("reset");
    const char *uri = getenv("DDLCOORD_TEST_STORE");
    if (!uri || strncmp(uri, "mem://", 6) != 0) {
        fprintf(stderr, "reset: runs on mem:// only (Redis: tests/tools, FLUSHALL)\n");
        return s;
    }
    TCase *tc = tcase_create("reset");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, a_reset_makes_the_master_rebuild_and_the_worker_report_again);
    tcase_add_test(tc, an_owner_that_executed_before_a_reset_runs_again_as_attempt_2);
    tcase_add_test(tc, two_resets_in_a_row_leave_one_working_master);
    tcase_add_test(tc, a_fenced_master_without_reopen_stops_with_ereset);
    tcase_add_test(tc, a_second_live_worker_for_a_source_gets_ebusy);
    tcase_add_test(tc, a_worker_whose_claim_lapsed_does_not_execute);
    suite_add_tcase(s, tc);
    return s;
}
