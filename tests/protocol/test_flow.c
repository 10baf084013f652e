/*
 * DM's ten steps end to end (docs/DESIGN.md, "The protocol"): a master and N workers (threads)
 * through several tables, asserting revision-M1 < W1 < M2 < W2 < M3 for every source of every lock,
 * exactly one exec=true per lock, and each DDL applied downstream exactly once. The 300-source case
 * runs the workers from one thread and proves no txn grows with the number of sources (every store
 * refuses more than 128 ops per branch).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char *DDL = "ALTER TABLE tbl ADD COLUMN c1 INT";

static void check_order(t_rec *rec, const char *lock, const char *const *sources, size_t n)
{
    int64_t m1 = t_rec_rev(rec, "master", 1, NULL, NULL);
    int64_t m3 = t_rec_rev(rec, "master", 10, lock, NULL);
    ck_assert_int_gt(m1, 0);
    ck_assert_msg(m3 > 0, "lock %s: no step 10", lock);
    for (size_t i = 0; i < n; i++) {
        int64_t w1 = t_rec_rev(rec, "worker", 2, lock, sources[i]);
        int64_t m2 = t_rec_rev(rec, "master", 4, lock, sources[i]);
        int64_t w2 = t_rec_rev(rec, "worker", 8, lock, sources[i]);
        ck_assert_msg(m1 < w1 && w1 < m2 && m2 < w2 && w2 < m3,
                      "lock %s source %s: M1 %lld W1 %lld M2 %lld W2 %lld M3 %lld", lock,
                      sources[i], (long long)m1, (long long)w1, (long long)m2, (long long)w2,
                      (long long)m3);
    }
}

static void run_threads(size_t n_sources, size_t n_tables)
{
    const char *ns = t_ns("flow");
    char names[16][32];
    const char *sources[16];
    char tnames[20][32];
    const char *tables[20];
    for (size_t i = 0; i < n_sources; i++) {
        snprintf(names[i], sizeof names[i], "mysql-replica-%02zu", i + 1);
        sources[i] = names[i];
    }
    for (size_t j = 0; j < n_tables; j++) {
        snprintf(tnames[j], sizeof tnames[j], "tbl_%zu", j + 1);
        tables[j] = tnames[j];
    }
    t_task(ns, "test", sources, n_sources);
    t_rec rec;
    t_rec_init(&rec);
    t_down down;
    t_down_init(&down);
    t_master tm;
    t_master_start(&tm, ns, &rec);
    t_worker ws[16];
    for (size_t i = 0; i < n_sources; i++) {
        ws[i] = (t_worker){.ns = ns,
                           .task = "test",
                           .source = sources[i],
                           .schema = "shard_db",
                           .tables = tables,
                           .n_tables = n_tables,
                           .ddl = DDL,
                           .rec = &rec,
                           .down = &down};
        t_worker_start(&ws[i]);
    }
    for (size_t i = 0; i < n_sources; i++) {
        int rc = t_worker_join(&ws[i]);
        ck_assert_msg(rc == DC_OK, "worker %s: %s: %s", sources[i], dc_errname(rc),
                      dc_last_error());
    }
    t_wait_no_locks(tm.m);
    t_master_stop(&tm);
    ck_assert_int_eq(down.exec_calls, (int)n_tables);
    ck_assert_int_eq(down.skip_calls, (int)(n_tables * (n_sources - 1)));
    ck_assert_int_eq(down.tolerated, 0);
    for (size_t j = 0; j < n_tables; j++) {
        char lock[64];
        snprintf(lock, sizeof lock, "test-`shard_db`.`%s`", tables[j]);
        ck_assert_int_eq(t_down_count(&down, lock, DDL), 1);
        ck_assert_int_eq(t_rec_count(&rec, "master", 10, lock, NULL), 1);
        check_order(&rec, lock, sources, n_sources);
    }
    /* Nothing is left behind: no infos, no operations. */
    char *p;
    ck_assert_int_eq(dc_info_key(ns, "test", NULL, &p), DC_OK);
    t_wait_gone(p);
    free(p);
    ck_assert_int_eq(dc_operation_key(ns, "test", NULL, &p), DC_OK);
    t_wait_gone(p);
    free(p);
    t_rec_free(&rec);
}

START_TEST(flow_two_sources_three_tables_in_revision_order)
{
    run_threads(2, 3);
}
END_TEST

START_TEST(flow_eight_sources_three_tables_in_revision_order)
{
    run_threads(8, 3);
}
END_TEST

/* Each worker keeps its dc_worker (its view and watches) for all the tables:
 * the next DDL often comes while the last lock's done operation is still
 * there, and the worker must wait for its deletion on the watch it kept. */
START_TEST(flow_kept_workers_through_twenty_tables_in_revision_order)
{
    run_threads(3, 20);
}
END_TEST

START_TEST(flow_three_hundred_sources_no_txn_grows_with_sources)
{
    enum { N = 300 };
    const char *ns = t_ns("flow300");
    static char names[N][32];
    const char *sources[N];
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "src-%03zu", i);
        sources[i] = names[i];
    }
    t_task(ns, "big", sources, N);
    t_rec rec;
    t_rec_init(&rec);
    t_master tm;
    t_master_start(&tm, ns, &rec);
    static dc_worker *w[N];
    dc_worker_options o = {.ns = ns, .on_step = t_rec_cb, .step_userdata = &rec};
    for (size_t i = 0; i < N; i++) {
        ck_assert_int_eq(dc_worker_new(t_store(), "big", sources[i], &o, &w[i]), DC_OK);
        int rc = dc_worker_put_info(w[i], "db", "t", &DDL, 1, NULL, T_TIMEOUT, NULL);
        ck_assert_msg(rc == DC_OK, "put info %zu: %s", i, dc_last_error());
    }
    int execs = 0;
    /* The owner (first to report) first: the others get theirs after it is done. */
    for (size_t i = 0; i < N; i++) {
        dc_operation *op;
        int rc = dc_worker_wait_operation(w[i], T_TIMEOUT, &op);
        ck_assert_msg(rc == DC_OK, "wait %zu: %s: %s", i, dc_errname(rc), dc_last_error());
        execs += op->exec;
        ck_assert_int_eq(op->exec, i == 0);
        dc_operation_free(op);
        ck_assert_int_eq(dc_worker_mark_executed(w[i], T_TIMEOUT), DC_OK);
        ck_assert_int_eq(dc_worker_mark_done(w[i], T_TIMEOUT, NULL), DC_OK);
    }
    ck_assert_int_eq(execs, 1);
    t_wait_no_locks(tm.m);
    const char *lock = "big-`db`.`t`";
    check_order(&rec, lock, sources, N);
    ck_assert_int_eq(t_rec_count(&rec, "master", 4, lock, NULL), N);
    for (size_t i = 0; i < N; i++) dc_worker_free(w[i]);
    t_master_stop(&tm);
    t_rec_free(&rec);
}
END_TEST

static void teardown(void)
{
    t_store_close();
}

Suite *suite_flow(void)
{
    Suite *s = suite_create("flow");
    TCase *tc = tcase_create("flow");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, flow_two_sources_three_tables_in_revision_order);
    tcase_add_test(tc, flow_eight_sources_three_tables_in_revision_order);
    tcase_add_test(tc, flow_kept_workers_through_twenty_tables_in_revision_order);
    tcase_add_test(tc, flow_three_hundred_sources_no_txn_grows_with_sources);
    suite_add_tcase(s, tc);
    return s;
}
