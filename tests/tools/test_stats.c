/*
 * The stats API behind the master's /metrics (ddlcoord/stats.h), on mem://:
 * every driver call is counted by kind, failures as errors, latencies in
 * buckets that add up to the count; a master reports its rebuild, the
 * revision it handled, its locks and the admin requests it answered.
 */
#include <check.h>
#include <ddlcoord/ddlcoord.h>
#include <ddlcoord/pessimism_admin.h>
#include <ddlcoord/pessimism_master.h>
#include <string.h>

static uint64_t bucket_sum(const dc_histogram *h)
{
    uint64_t n = 0;
    for (int b = 0; b < DC_HIST_BUCKETS; b++) n += h->buckets[b];
    return n;
}

START_TEST(histogram_buckets_are_bounded_above_and_the_last_takes_the_rest)
{
    size_t n = 0;
    const double *bounds = dc_hist_bounds_ms(&n);
    ck_assert_uint_eq(n, DC_HIST_BUCKETS - 1);
    for (size_t i = 1; i < n; i++) ck_assert(bounds[i] > bounds[i - 1]);
    dc_histogram h;
    memset(&h, 0, sizeof h);
    dc_hist_observe(&h, 0);
    dc_hist_observe(&h, bounds[0]);        /* on the bound: still the first bucket */
    dc_hist_observe(&h, bounds[0] + 0.01); /* just above: the second */
    dc_hist_observe(&h, bounds[n - 1] * 10);
    ck_assert_uint_eq(h.count, 4);
    ck_assert_uint_eq(h.buckets[0], 2);
    ck_assert_uint_eq(h.buckets[1], 1);
    ck_assert_uint_eq(h.buckets[n], 1);
    ck_assert_uint_eq(bucket_sum(&h), 4);
    ck_assert_str_eq(dc_store_call_name(DC_CALL_TXN), "txn");
    ck_assert_str_eq(dc_store_call_name(-1), "?");
}
END_TEST

static dc_mem_fault fail_gets(const dc_mem_call_info *call, void *ud)
{
    (void)ud;
    return call->call == DC_MEM_CALL_GET ? DC_MEM_UNAVAILABLE : DC_MEM_PASS;
}

START_TEST(store_calls_are_counted_by_kind_with_their_errors)
{
    dc_store *s = NULL;
    ck_assert_int_eq(dc_store_open("mem://stats-calls", &s), DC_OK);
    dc_store_call_stats st[DC_CALL_COUNT];
    ck_assert_int_eq(dc_store_get_stats(s, st), DC_OK);
    for (int c = 0; c < DC_CALL_COUNT; c++) ck_assert_uint_eq(st[c].latency.count, 0);
    ck_assert_int_eq(dc_put(s, "a", 1, "1", 1, 0, NULL), DC_OK);
    ck_assert_int_eq(dc_put(s, "b", 1, "2", 1, 0, NULL), DC_OK);
    dc_kvs *kvs = NULL;
    ck_assert_int_eq(dc_get(s, "a", 1, 0, 0, &kvs), DC_OK);
    dc_kvs_free(kvs);
    /* a call refused before the driver is not a store call */
    ck_assert_int_eq(dc_get(s, "", 0, 0, 0, &kvs), DC_EINVAL);
    ck_assert_int_eq(dc_mem_set_hook(s, fail_gets, NULL), DC_OK);
    ck_assert_int_eq(dc_get(s, "a", 1, 0, 0, &kvs), DC_EUNAVAILABLE);
    ck_assert_int_eq(dc_mem_set_hook(s, NULL, NULL), DC_OK);
    ck_assert_int_eq(dc_store_get_stats(s, st), DC_OK);
    ck_assert_uint_eq(st[DC_CALL_TXN].latency.count, 2);
    ck_assert_uint_eq(st[DC_CALL_TXN].errors, 0);
    ck_assert_uint_eq(st[DC_CALL_GET].latency.count, 2);
    ck_assert_uint_eq(st[DC_CALL_GET].errors, 1);
    ck_assert_uint_eq(bucket_sum(&st[DC_CALL_GET].latency), 2);
    ck_assert(st[DC_CALL_GET].latency.sum_ms >= 0);
    ck_assert_uint_eq(st[DC_CALL_COMPACT].latency.count, 0);
    ck_assert_int_eq(dc_store_get_stats(NULL, st), DC_EINVAL);
    dc_store_close(s);
}
END_TEST

START_TEST(master_reports_rebuild_handled_revision_locks_and_answers)
{
    dc_store *s = NULL;
    ck_assert_int_eq(dc_store_open("mem://stats-master", &s), DC_OK);
    dc_master *m = NULL;
    dc_master_options o;
    memset(&o, 0, sizeof o);
    ck_assert_int_eq(dc_master_new(s, &o, &m), DC_OK);
    dc_master_stats ms;
    ck_assert_int_eq(dc_master_get_stats(m, &ms), DC_OK);
    ck_assert_int_eq(ms.rebuilt_revision, 0); /* not ready before step 1 */
    ck_assert_uint_eq(ms.rebuilds, 0);
    ck_assert_int_eq(dc_master_run(m, 0), DC_OK);
    ck_assert_int_eq(dc_master_get_stats(m, &ms), DC_OK);
    ck_assert_int_gt(ms.rebuilt_revision, 0);
    ck_assert_uint_eq(ms.rebuilds, 1);
    ck_assert(ms.last_rebuild_ms >= 0);
    ck_assert_uint_eq(ms.locks, 0);

    const char *srcs[] = {"s1", "s2"};
    ck_assert_int_eq(dc_task_add(s, NULL, "T", srcs, 2), DC_OK);
    dc_worker *w = NULL;
    ck_assert_int_eq(dc_worker_new(s, "T", "s1", NULL, &w), DC_OK);
    const char *ddl[] = {"ALTER TABLE t ADD c INT"};
    int64_t rev = 0;
    ck_assert_int_eq(dc_worker_put_info(w, "db", "t", ddl, 1, NULL, 5000, &rev), DC_OK);
    for (int i = 0; i < 100 && ms.locks == 0; i++) {
        ck_assert_int_eq(dc_master_run(m, 50), DC_OK);
        ck_assert_int_eq(dc_master_get_stats(m, &ms), DC_OK);
    }
    ck_assert_uint_eq(ms.locks, 1);
    ck_assert_int_ge(ms.handled_revision, rev);

    ck_assert_uint_eq(ms.admin_answers, 0);
    dc_admin_call *call = NULL;
    ck_assert_int_eq(dc_admin_send_remove_meta(s, NULL, "T", 10000, &call), DC_OK);
    dc_admin_answer ans;
    memset(&ans, 0, sizeof ans);
    int rc = DC_ETIMEDOUT;
    for (int i = 0; i < 200 && rc == DC_ETIMEDOUT; i++) {
        ck_assert_int_eq(dc_master_run(m, 50), DC_OK);
        rc = dc_admin_wait(call, 0, &ans);
    }
    ck_assert_int_eq(rc, DC_OK);
    dc_admin_answer_clear(&ans);
    dc_admin_call_free(call);
    ck_assert_int_eq(dc_master_get_stats(m, &ms), DC_OK);
    ck_assert_uint_eq(ms.admin_answers, 1);
    ck_assert_uint_eq(ms.locks, 0);
    ck_assert_int_eq(dc_master_get_stats(NULL, &ms), DC_EINVAL);
    dc_worker_free(w);
    dc_master_free(m);
    dc_store_close(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("stats");
    TCase *tc = tcase_create("stats");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, histogram_buckets_are_bounded_above_and_the_last_takes_the_rest);
    tcase_add_test(tc, store_calls_are_counted_by_kind_with_their_errors);
    tcase_add_test(tc, master_reports_rebuild_handled_revision_locks_and_answers);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
