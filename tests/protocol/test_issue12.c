/*
 * Regressions of issue #12, one test per numbered case the protocol fixes
 * (operator paths, admin requests, the locks view, bad input). Each test
 * reproduces the case as the issue describes it and asserts the rule that
 * was broken.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static const char *DDL = "ALTER TABLE tbl ADD COLUMN c1 INT";
static const char *DDL_B = "ALTER TABLE tbl ADD COLUMN c2 INT";
static const char *LOCK = "t-`db`.`tbl`";
static const char *LOCK2 = "t-`db`.`tbl2`";

static dc_worker *worker(const char *ns, const char *source)
{
    dc_worker_options o = {.ns = ns};
    dc_worker *w;
    ck_assert_int_eq(dc_worker_new(t_store(), "t", source, &o, &w), DC_OK);
    return w;
}

static void report(dc_worker *w, const char *table, const char *ddl)
{
    int rc = dc_worker_put_info(w, "db", table, &ddl, 1, NULL, T_TIMEOUT, NULL);
    ck_assert_msg(rc == DC_OK, "put info: %s: %s", dc_errname(rc), dc_last_error());
}

/* The operation of (t, source) as stored; NULL when there is none. */
static dc_operation *stored_op(const char *ns, const char *source)
{
    char *key;
    ck_assert_int_eq(dc_operation_key(ns, "t", source, &key), DC_OK);
    dc_kvs *kvs;
    ck_assert_int_eq(dc_get(t_store(), key, strlen(key), 0, 0, &kvs), DC_OK);
    free(key);
    dc_operation *op = NULL;
    if (kvs->n)
        ck_assert_int_eq(
            dc_operation_decode(kvs->kvs[0].key, kvs->kvs[0].value, kvs->kvs[0].value_len, &op),
            DC_OK);
    dc_kvs_free(kvs);
    return op;
}

static void wait_synced(dc_master *m, const char *lock_id, size_t want)
{
    for (int i = 0; i < T_TIMEOUT / 10; i++) {
        dc_lock_status *st;
        size_t n, synced = 0;
        ck_assert_int_eq(dc_master_locks(m, "t", &st, &n), DC_OK);
        for (size_t l = 0; l < n; l++)
            for (size_t j = 0; strcmp(st[l].id, lock_id) == 0 && j < st[l].n_sources; j++)
                synced += st[l].sources[j].synced;
        dc_lock_status_free_array(st, n);
        if (synced >= want) return;
        usleep(10000);
    }
    ck_abort_msg("lock %s never had %zu synced sources", lock_id, want);
}

/* 6: `unlock --owner b` where b never reported the lock but holds a pending
 * operation of another lock of the task: that operation must stay as it is
 * (b may be executing it), and the unlock is refused. */
START_TEST(issue12_6_unlock_owner_never_overwrites_another_locks_pending_operation)
{
    const char *ns = t_ns("i12-6");
    const char *srcs[] = {"a", "b", "c"};
    t_task(ns, "t", srcs, 3);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    dc_worker *a = worker(ns, "a"), *b = worker(ns, "b");
    /* Lock 2: only b reports; an unlock makes b execute it, and b's
     * exec=true stays out when the unlock gives up waiting. */
    report(b, "tbl2", DDL);
    wait_synced(tm.m, LOCK2, 1);
    ck_assert_int_eq(t_unlock(tm.m, LOCK2, NULL, 0, 300), DC_ETIMEDOUT);
    dc_operation *op = stored_op(ns, "b");
    ck_assert_ptr_nonnull(op);
    ck_assert_str_eq(op->id, LOCK2);
    ck_assert_int_eq(op->exec, 1);
    dc_operation_free(op);
    /* Lock 1: a reports; b is busy with lock 2. */
    report(a, "tbl", DDL);
    wait_synced(tm.m, LOCK, 1);
    int rc = t_unlock(tm.m, LOCK, "b", 0, 300);
    ck_assert_msg(rc != DC_OK, "unlock with an owner that never reported succeeded");
    op = stored_op(ns, "b");
    ck_assert_ptr_nonnull(op);
    ck_assert_msg(strcmp(op->id, LOCK2) == 0, "b's operation of %s was replaced by one of %s",
                  LOCK2, op->id);
    ck_assert_int_eq(op->exec, 1);
    ck_assert_int_eq(op->done, 0);
    dc_operation_free(op);
    ck_assert_int_eq(t_unlock(tm.m, LOCK, NULL, 1, 300), DC_OK);
    ck_assert_int_eq(t_unlock(tm.m, LOCK2, NULL, 1, 300), DC_OK);
    dc_worker_free(a);
    dc_worker_free(b);
    t_master_stop(&tm);
}
END_TEST

/* 8: a worker re-run with different DDLs must not take an old, not-done
 * operation of the same lock ID (it would execute DDLs it no longer
 * reports): it gets the conflict instead. */
START_TEST(issue12_8_rerun_with_other_ddls_does_not_take_the_old_operation)
{
    const char *ns = t_ns("i12-8");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    dc_worker *a = worker(ns, "a"), *b = worker(ns, "b");
    report(a, "tbl", DDL);
    report(b, "tbl", DDL);
    dc_operation *op;
    ck_assert_int_eq(dc_worker_wait_operation(a, T_TIMEOUT, &op), DC_OK);
    ck_assert_int_eq(op->exec, 1);
    dc_operation_free(op);
    dc_worker_free(a); /* crashed before executing */
    a = worker(ns, "a");
    report(a, "tbl", DDL_B);
    op = NULL;
    int rc = dc_worker_wait_operation(a, T_TIMEOUT, &op);
    ck_assert_msg(rc == DC_ECONFLICT, "wait: %s (operation %s)", dc_errname(rc),
                  op && op->n_ddls ? op->ddls[0] : "-");
    ck_assert_ptr_null(op);
    ck_assert_int_eq(t_unlock(tm.m, LOCK, NULL, 1, 300), DC_OK);
    dc_worker_free(a);
    dc_worker_free(b);
    t_master_stop(&tm);
}
END_TEST

/* 9: an admin request written to the store is served inside dc_master_run,
 * so one thread can write it, run the master and read the answer (no second
 * thread polling the master's watch). */
START_TEST(issue12_9_admin_request_is_served_inside_dc_master_run)
{
    const char *ns = t_ns("i12-9");
    const char *srcs[] = {"a", "never"};
    t_task(ns, "t", srcs, 2);
    dc_master_options mo = {.ns = ns};
    dc_master *m;
    ck_assert_int_eq(dc_master_new(t_store(), &mo, &m), DC_OK);
    ck_assert_int_eq(dc_master_run(m, 0), DC_OK);
    dc_worker *a = worker(ns, "a");
    report(a, "tbl", DDL);
    char req[512], ans[512];
    snprintf(req, sizeof req, "%s/ddlcoord/admin/request/r1", ns);
    snprintf(ans, sizeof ans, "%s/ddlcoord/admin/answer/r1", ns);
    const char *json = "{\"op\":\"unlock\",\"lock_id\":\"t-`db`.`tbl`\",\"force_remove\":true,"
                       "\"wait_ms\":100}";
    ck_assert_int_eq(dc_put(t_store(), req, strlen(req), json, strlen(json), 0, NULL), DC_OK);
    int64_t answers = 0;
    for (int i = 0; i < 200 && answers == 0; i++) {
        ck_assert_int_eq(dc_master_run(m, 0), DC_OK);
        answers = t_count_prefix(ans);
        if (!answers) usleep(10000);
    }
    ck_assert_msg(answers == 1, "no answer after 200 passes of dc_master_run");
    dc_worker_free(a);
    dc_master_free(m);
}
END_TEST

/* 11: a lock whose sources all reported is synced, not "forced synced" (that
 * is only what an unlock does), in the master's view and the store's. */
START_TEST(issue12_11_a_lock_that_synced_normally_is_not_shown_forced)
{
    const char *ns = t_ns("i12-11");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    dc_worker *a = worker(ns, "a"), *b = worker(ns, "b");
    report(a, "tbl", DDL);
    report(b, "tbl", DDL);
    dc_operation *op;
    ck_assert_int_eq(dc_worker_wait_operation(a, T_TIMEOUT, &op), DC_OK);
    dc_operation_free(op);
    dc_lock_status *st;
    size_t n;
    ck_assert_int_eq(dc_locks_read(t_store(), ns, NULL, &st, &n, NULL), DC_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(st[0].synced, 1);
    ck_assert_msg(!st[0].forced, "the store's view says forced");
    dc_lock_status_free_array(st, n);
    t_master_stop(&tm);
    /* A restarted master treats the lock as past syncing, but nobody forced it. */
    t_master_start(&tm, ns, NULL);
    ck_assert_int_eq(dc_master_locks(tm.m, NULL, &st, &n), DC_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_msg(!st[0].forced, "the restarted master says forced");
    dc_lock_status_free_array(st, n);
    dc_worker_free(a);
    dc_worker_free(b);
    t_master_stop(&tm);
}
END_TEST

/* 12: a name with a newline (task and source names may hold any byte) must
 * not forge a log line: every line the library logs is one line. */
static void no_newline(dc_log_level level, const char *component, const char *message, void *ud)
{
    (void)level;
    (void)component;
    if (strchr(message, '\n') || strchr(message, '\r')) (*(int *)ud)++;
}

START_TEST(issue12_12_names_with_newlines_do_not_forge_log_lines)
{
    const char *ns = t_ns("i12-12");
    const char *src = "s1\n2026-01-01T00:00:00.000Z ERROR forged";
    const char *srcs[] = {src};
    const char *task = "t\nx";
    ck_assert_int_eq(dc_task_add(t_store(), ns, task, srcs, 1), DC_OK);
    int bad = 0;
    dc_log_set_handler(no_newline, &bad);
    dc_log_set_level(DC_LOG_DEBUG);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    dc_worker_options o = {.ns = ns};
    dc_worker *w;
    ck_assert_int_eq(dc_worker_new(t_store(), task, src, &o, &w), DC_OK);
    const char *ddl = "ALTER TABLE t\nADD c INT";
    int executed = 0;
    int rc = dc_worker_run_ddl(w, "d\nb", "t\nbl", &ddl, 1, "p\n1", t_down_exec, t_down_checkpoint,
                               &(t_down){0}, T_TIMEOUT, &executed);
    ck_assert_msg(rc == DC_OK, "run: %s: %s", dc_errname(rc), dc_last_error());
    ck_assert_int_eq(executed, 1);
    t_wait_no_locks(tm.m);
    dc_worker_free(w);
    t_master_stop(&tm);
    dc_log_set_handler(NULL, NULL);
    ck_assert_msg(bad == 0, "%d log lines held a line break", bad);
}
END_TEST

static void teardown(void)
{
    t_store_close();
}

Suite *suite_issue12(void)
{
    Suite *s = suite_create("issue12");
    TCase *tc = tcase_create("issue12");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, issue12_6_unlock_owner_never_overwrites_another_locks_pending_operation);
    tcase_add_test(tc, issue12_8_rerun_with_other_ddls_does_not_take_the_old_operation);
    tcase_add_test(tc, issue12_9_admin_request_is_served_inside_dc_master_run);
    tcase_add_test(tc, issue12_11_a_lock_that_synced_normally_is_not_shown_forced);
    tcase_add_test(tc, issue12_12_names_with_newlines_do_not_forge_log_lines);
    suite_add_tcase(s, tc);
    return s;
}
