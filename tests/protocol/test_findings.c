/*
 * Findings of the protocol explorer (issue #12), each with the schedule it
 * found, cut down to the steps that matter:
 *  - a source that reports after an unlock forced the lock without it is
 *    given its exec=false and awaited, instead of leaving its info behind as
 *    a phantom lock that a rebuild reopens (the DDL then ran twice);
 *  - a skipper whose operation vanished before its done txn (an unlock that
 *    removed the lock once the owner was done) records its skip as done: it
 *    never executes, and its re-run at the same position is "already
 *    resolved".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static const char *DDL = "ALTER TABLE tbl ADD COLUMN c1 INT";
static const char *LOCK = "t-`db`.`tbl`";

static dc_worker *worker(const char *ns, const char *source)
{
    dc_worker_options o = {.ns = ns};
    dc_worker *w;
    ck_assert_int_eq(dc_worker_new(t_store(), "t", source, &o, &w), DC_OK);
    return w;
}

static void report(dc_worker *w)
{
    int rc = dc_worker_put_info(w, "db", "tbl", &DDL, 1, "pos-1", T_TIMEOUT, NULL);
    ck_assert_msg(rc == DC_OK, "put info: %s: %s", dc_errname(rc), dc_last_error());
}

static void run_owner(dc_worker *w)
{
    dc_operation *op = NULL;
    ck_assert_int_eq(dc_worker_wait_operation(w, T_TIMEOUT, &op), DC_OK);
    ck_assert_int_eq(op->exec, 1);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_begin_exec(w, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_mark_executed(w, T_TIMEOUT), DC_OK);
    ck_assert_int_eq(dc_worker_mark_done(w, T_TIMEOUT, NULL), DC_OK);
}

static int64_t infos(const char *ns)
{
    char *key;
    ck_assert_int_eq(dc_info_key(ns, "t", NULL, &key), DC_OK);
    int64_t n = t_count_prefix(key);
    free(key);
    return n;
}

/* Wait until the master has the lock. */
static void wait_lock(dc_master *m)
{
    for (int i = 0; i < T_TIMEOUT / 10; i++) {
        dc_lock_status *st;
        size_t n;
        ck_assert_int_eq(dc_master_locks(m, "t", &st, &n), DC_OK);
        dc_lock_status_free_array(st, n);
        if (n) return;
        usleep(10000);
    }
    ck_abort_msg("the master never had the lock");
}

typedef struct unlocker {
    pthread_t th;
    dc_master *m;
    int force, wait_ms, rc;
} unlocker;

static void *unlock_main(void *arg)
{
    unlocker *u = arg;
    u->rc = t_unlock(u->m, LOCK, NULL, u->force, u->wait_ms);
    return NULL;
}

/* F1 (explorer seed 206): s0 reports, an unlock forces the lock with s0
 * alone; s1 reports the same DDLs while s0 executes. s1 must get exec=false
 * and finish; no info may outlive the lock, so a new master finds nothing. */
START_TEST(a_source_reporting_after_an_unlock_forced_the_lock_skips_and_leaves_no_phantom)
{
    const char *ns = t_ns("f1");
    const char *srcs[] = {"a", "b", "c"};
    t_task(ns, "t", srcs, 3);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    dc_worker *a = worker(ns, "a"), *b = worker(ns, "b");
    report(a);
    wait_lock(tm.m);
    unlocker u = {.m = tm.m, .wait_ms = T_TIMEOUT};
    ck_assert_int_eq(pthread_create(&u.th, NULL, unlock_main, &u), 0);
    dc_operation *op = NULL;
    ck_assert_int_eq(dc_worker_wait_operation(a, T_TIMEOUT, &op), DC_OK); /* forced: a owns */
    ck_assert_int_eq(op->exec, 1);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_begin_exec(a, T_TIMEOUT, NULL), DC_OK);
    report(b); /* late: the unlock forced the lock without b */
    ck_assert_int_eq(dc_worker_mark_executed(a, T_TIMEOUT), DC_OK);
    ck_assert_int_eq(dc_worker_mark_done(a, T_TIMEOUT, NULL), DC_OK);
    op = NULL;
    int rc = dc_worker_wait_operation(b, 10000, &op);
    ck_assert_msg(rc == DC_OK, "b got no operation: %s", dc_errname(rc));
    ck_assert_int_eq(op->exec, 0);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_mark_done(b, T_TIMEOUT, NULL), DC_OK);
    pthread_join(u.th, NULL);
    ck_assert_msg(u.rc == DC_OK, "unlock: %s", dc_errname(u.rc));
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(infos(ns), 0);
    t_master_stop(&tm);
    t_master_start(&tm, ns, NULL); /* a rebuild finds no lock to reopen */
    dc_lock_status *st;
    size_t n;
    ck_assert_int_eq(dc_master_locks(tm.m, NULL, &st, &n), DC_OK);
    ck_assert_uint_eq(n, 0);
    dc_lock_status_free_array(st, n);
    dc_worker_free(a);
    dc_worker_free(b);
    t_master_stop(&tm);
}
END_TEST

/* A skip callback that stops until released. */
typedef struct gate {
    pthread_mutex_t mu;
    int entered, released, skip_calls, exec_calls;
} gate;

static int gate_exec(const dc_operation *op, void *ud)
{
    gate *g = ud;
    pthread_mutex_lock(&g->mu);
    if (op->exec)
        g->exec_calls++;
    else
        g->skip_calls++;
    g->entered = 1;
    while (!op->exec && !g->released) {
        pthread_mutex_unlock(&g->mu);
        usleep(10000);
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return 0;
}

static int no_checkpoint(const dc_operation *op, const char *pos, void *ud)
{
    (void)op;
    (void)pos;
    (void)ud;
    return 0;
}

typedef struct skipper {
    pthread_t th;
    dc_worker *w;
    gate *g;
    int rc, executed;
} skipper;

static void *skipper_main(void *arg)
{
    skipper *s = arg;
    s->rc = dc_worker_run_ddl(s->w, "db", "tbl", &DDL, 1, "pos-1", gate_exec, no_checkpoint, s->g,
                              T_TIMEOUT, &s->executed);
    return NULL;
}

/* F5 / F3 (explorer seed 66): the owner is done, b got its exec=false and
 * is slow to record its skip; an unlock whose wait runs out removes the
 * lock. b skips (never executes), ends fine, and its re-run at the same
 * position is already resolved rather than a new lock of that DDL. */
START_TEST(a_skipper_whose_lock_was_removed_before_its_done_txn_is_resolved)
{
    const char *ns = t_ns("f5");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    dc_worker *a = worker(ns, "a");
    report(a);
    gate g = {.released = 0};
    pthread_mutex_init(&g.mu, NULL);
    skipper b = {.w = worker(ns, "b"), .g = &g};
    ck_assert_int_eq(pthread_create(&b.th, NULL, skipper_main, &b), 0);
    run_owner(a);
    for (int i = 0; i < T_TIMEOUT / 10; i++) { /* b is inside its skip */
        pthread_mutex_lock(&g.mu);
        int in = g.entered;
        pthread_mutex_unlock(&g.mu);
        if (in) break;
        usleep(10000);
    }
    ck_assert_int_eq(g.skip_calls, 1);
    int rc = t_unlock(tm.m, LOCK, NULL, 1, 300); /* b is not done in time: removed */
    ck_assert_msg(rc == DC_OK, "unlock: %s: %s", dc_errname(rc), dc_last_error());
    t_wait_no_locks(tm.m);
    pthread_mutex_lock(&g.mu);
    g.released = 1;
    pthread_mutex_unlock(&g.mu);
    pthread_join(b.th, NULL);
    ck_assert_msg(b.rc == DC_OK, "b: %s: %s", dc_errname(b.rc), dc_last_error());
    ck_assert_int_eq(b.executed, 0);
    ck_assert_int_eq(g.exec_calls, 0);
    ck_assert_int_eq(infos(ns), 0);
    dc_worker *b2 = worker(ns, "b"); /* the re-run */
    rc = dc_worker_put_info(b2, "db", "tbl", &DDL, 1, "pos-1", T_TIMEOUT, NULL);
    ck_assert_msg(rc == DC_ERESOLVED, "re-run: %s", dc_errname(rc));
    dc_worker_free(b2);
    dc_worker_free(b.w);
    dc_worker_free(a);
    t_master_stop(&tm);
}
END_TEST

/* F2 (explorer seed 28): b got its exec=false and recorded its skip, then
 * was removed from the task (the master deletes its pending operation); a
 * new master's rebuild must not put b's exec=false back and wait for it:
 * the lock resolves once a is done. */
START_TEST(a_rebuild_does_not_wait_for_a_skipper_removed_from_the_task)
{
    const char *ns = t_ns("f2");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    dc_worker *a = worker(ns, "a"), *b = worker(ns, "b");
    report(a);
    report(b);
    dc_operation *op = NULL;
    ck_assert_int_eq(dc_worker_wait_operation(a, T_TIMEOUT, &op), DC_OK);
    ck_assert_int_eq(op->exec, 1);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_begin_exec(a, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_mark_executed(a, T_TIMEOUT), DC_OK);
    ck_assert_int_eq(dc_worker_mark_done(a, T_TIMEOUT, NULL), DC_OK);
    op = NULL;
    ck_assert_int_eq(dc_worker_wait_operation(b, T_TIMEOUT, &op), DC_OK);
    ck_assert_int_eq(op->exec, 0);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_mark_executed(b, T_TIMEOUT), DC_OK); /* skipped */
    t_master_stop(&tm); /* the removal is seen by the next master's rebuild only */
    const char *gone[] = {"b"};
    ck_assert_int_eq(dc_task_remove(t_store(), ns, "t", gone, 1), DC_OK);
    t_master_start(&tm, ns, NULL);
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(t_op_exec(ns, "t", "b"), -1);
    ck_assert_int_eq(infos(ns), 0);
    dc_worker_free(a);
    dc_worker_free(b);
    t_master_stop(&tm);
}
END_TEST

static int crash_on_skip(const dc_operation *op, void *ud)
{
    (void)ud;
    return !op->exec; /* the host dies inside the skip, before anything is recorded */
}

/* F3 through dc_worker_run_ddl (explorer seed 92): a skipper dies inside its
 * skip before recording anything; an unlock (no --force-remove) runs out of
 * time after the owner is done. Nothing is removed: the skipper's re-run at
 * the same position finds its exec=false and finishes the lock, instead of
 * opening a new lock of DDLs that already ran. */
START_TEST(an_unlock_that_runs_out_after_the_owner_is_done_removes_nothing)
{
    const char *ns = t_ns("f3");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    dc_worker *a = worker(ns, "a"), *b = worker(ns, "b");
    report(a);
    int executed = 0;
    report(b);
    run_owner(a);
    int rc = dc_worker_run_ddl(b, "db", "tbl", &DDL, 1, "pos-1", crash_on_skip, no_checkpoint, NULL,
                               T_TIMEOUT, &executed);
    ck_assert_int_eq(rc, DC_ECLOSED);
    dc_worker_free(b);
    rc = t_unlock(tm.m, LOCK, NULL, 0, 300);
    ck_assert_msg(rc == DC_ETIMEDOUT, "unlock: %s", dc_errname(rc));
    ck_assert_int_eq(t_op_exec(ns, "t", "b"), 0); /* b's exec=false is still there */
    b = worker(ns, "b");                          /* the re-run */
    gate g = {.released = 1};
    pthread_mutex_init(&g.mu, NULL);
    rc = dc_worker_run_ddl(b, "db", "tbl", &DDL, 1, "pos-1", gate_exec, no_checkpoint, &g, 10000,
                           &executed);
    ck_assert_msg(rc == DC_OK, "re-run: %s: %s", dc_errname(rc), dc_last_error());
    ck_assert_int_eq(executed, 0);
    ck_assert_int_eq(g.exec_calls, 0);
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(infos(ns), 0);
    dc_worker_free(a);
    dc_worker_free(b);
    t_master_stop(&tm);
}
END_TEST

static void teardown(void)
{
    t_store_close();
}

Suite *suite_findings(void)
{
    Suite *s = suite_create("findings");
    TCase *tc = tcase_create("findings");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc,
                   a_source_reporting_after_an_unlock_forced_the_lock_skips_and_leaves_no_phantom);
    tcase_add_test(tc, a_skipper_whose_lock_was_removed_before_its_done_txn_is_resolved);
    tcase_add_test(tc, a_rebuild_does_not_wait_for_a_skipper_removed_from_the_task);
    tcase_add_test(tc, an_unlock_that_runs_out_after_the_owner_is_done_removes_nothing);
    suite_add_tcase(s, tc);
    return s;
}
