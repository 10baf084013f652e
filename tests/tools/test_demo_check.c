/*
 * Unit tests of the demo's checker (tools/demo_check.c): it must pass a run
 * that follows DM's protocol and fail each kind of violation — a revision out of
 * order, a DDL executed twice or not at all, a source that neither executed
 * nor skipped, a lock that never resolved, keys left in the store. The demo
 * itself only ever produces correct runs, so this is where the checker's
 * failure paths are shown to work.
 */
#include <check.h>
#include <stdio.h>

#include "demo.h"

static FILE *sink;

static void setup(void)
{
    sink = fopen("/dev/null", "w");
    ck_assert_ptr_nonnull(sink);
}

static void teardown(void)
{
    fclose(sink);
}

static void step(demo_check *c, size_t lock, size_t src, int n, int64_t rev)
{
    dc_step st = {
        .step = n, .role = n == 1 || n == 4 || n == 10 ? "master" : "worker", .revision = rev};
    demo_check_step(c, lock, src, &st);
}

/* A correct run of 2 locks x 2 sources: source 0 owns both. */
static demo_check *good_run(void)
{
    demo_check *c = demo_check_new(2, 2);
    ck_assert_ptr_nonnull(c);
    step(c, SIZE_MAX, SIZE_MAX, 1, 10);
    for (size_t l = 0; l < 2; l++) {
        int64_t base = 100 * (int64_t)(l + 1);
        for (size_t s = 0; s < 2; s++) {
            step(c, l, s, 2, base + (int64_t)s);      /* W1 */
            step(c, l, s, 4, base + 10 + (int64_t)s); /* M2 */
            step(c, l, s, 8, base + 20 + (int64_t)s); /* W2 */
            demo_check_exec(c, l, s, s == 0);
            demo_check_result(c, l, s, DC_OK);
        }
        step(c, l, SIZE_MAX, 10, base + 30); /* M3 */
    }
    return c;
}

START_TEST(checker_passes_a_run_in_the_seeds_order)
{
    demo_check *c = good_run();
    ck_assert_int_eq(demo_check_summary(c, sink, 0, "mem://", 300, 0.1), 1);
    size_t resolved, execs, skips;
    demo_check_totals(c, &resolved, &execs, &skips);
    ck_assert_uint_eq(resolved, 2);
    ck_assert_uint_eq(execs, 2);
    ck_assert_uint_eq(skips, 2);
    demo_check_free(c);
}
END_TEST

START_TEST(checker_fails_an_info_put_before_the_masters_read)
{
    demo_check *c = good_run();
    step(c, 0, 1, 2, 5); /* W1 < M1 */
    ck_assert_int_eq(demo_check_summary(c, sink, 0, "mem://", 300, 0.1), 0);
    demo_check_free(c);
}
END_TEST

START_TEST(checker_fails_done_after_the_operations_were_deleted)
{
    demo_check *c = good_run();
    step(c, 1, 0, 8, 999); /* W2 > M3 */
    ck_assert_int_eq(demo_check_summary(c, sink, 0, "mem://", 300, 0.1), 0);
    demo_check_free(c);
}
END_TEST

START_TEST(checker_fails_a_ddl_executed_twice)
{
    demo_check *c = good_run();
    demo_check_exec(c, 1, 0, 1);
    ck_assert_int_eq(demo_check_summary(c, sink, 0, "mem://", 300, 0.1), 0);
    demo_check_free(c);
}
END_TEST

START_TEST(checker_fails_a_ddl_nobody_executed)
{
    demo_check *c = demo_check_new(1, 2);
    step(c, SIZE_MAX, SIZE_MAX, 1, 1);
    for (size_t s = 0; s < 2; s++) {
        step(c, 0, s, 2, 2 + (int64_t)s);
        step(c, 0, s, 4, 5);
        step(c, 0, s, 8, 6 + (int64_t)s);
        demo_check_exec(c, 0, s, 0); /* both skipped */
        demo_check_result(c, 0, s, DC_OK);
    }
    step(c, 0, SIZE_MAX, 10, 9);
    ck_assert_int_eq(demo_check_summary(c, sink, 0, "mem://", 9, 0.1), 0);
    demo_check_free(c);
}
END_TEST

START_TEST(checker_fails_an_unresolved_lock_and_a_failed_run)
{
    demo_check *c = demo_check_new(1, 1);
    step(c, SIZE_MAX, SIZE_MAX, 1, 1);
    step(c, 0, 0, 2, 2);
    demo_check_result(c, 0, 0, DC_ETIMEDOUT);
    ck_assert_int_eq(demo_check_resolved(c, 0), 0);
    ck_assert_int_eq(demo_check_summary(c, sink, 0, "mem://", 2, 0.1), 0);
    demo_check_free(c);
}
END_TEST

START_TEST(checker_fails_keys_left_in_the_store)
{
    demo_check *c = good_run();
    ck_assert_int_eq(demo_check_summary(c, sink, 1, "mem://", 300, 0.1), 0);
    demo_check_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("demo_check");
    TCase *tc = tcase_create("checks");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, checker_passes_a_run_in_the_seeds_order);
    tcase_add_test(tc, checker_fails_an_info_put_before_the_masters_read);
    tcase_add_test(tc, checker_fails_done_after_the_operations_were_deleted);
    tcase_add_test(tc, checker_fails_a_ddl_executed_twice);
    tcase_add_test(tc, checker_fails_a_ddl_nobody_executed);
    tcase_add_test(tc, checker_fails_an_unresolved_lock_and_a_failed_run);
    tcase_add_test(tc, checker_fails_keys_left_in_the_store);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
