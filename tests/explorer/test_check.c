/*
 * The explorer's invariant checkers, fed violations and non-violations
 * (a checker that cannot fail is caught here). The runner's own broken
 * hosts (explorer --break N --expect-violation) prove the same end to end.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "explorer.h"

START_TEST(exec_twice_blind_is_a_violation)
{
    xc_state s;
    ck_assert_int_eq(xc_init(&s, 2), 0);
    ck_assert_int_eq(xc_exec(&s, 0, "a", 1), 0);
    ck_assert_int_eq(xc_exec(&s, 1, "a", 1), 0);
    ck_assert_int_eq(xc_exec(&s, 0, "b", 1), 1);
    ck_assert_int_eq(s.n_viol, 1);
    ck_assert_ptr_nonnull(strstr(s.viol[0], "executed twice"));
    xc_free(&s);
}
END_TEST

START_TEST(exec_again_at_a_later_attempt_is_tolerated)
{
    xc_state s;
    ck_assert_int_eq(xc_init(&s, 1), 0);
    ck_assert_int_eq(xc_exec(&s, 0, "a", 1), 0);
    ck_assert_int_eq(xc_exec(&s, 0, "a", 2), 0);
    ck_assert_int_eq(s.jobs[0].tolerated, 1);
    ck_assert_int_eq(s.jobs[0].applied, 1);
    ck_assert_int_eq(s.n_viol, 0);
    xc_free(&s);
}
END_TEST

START_TEST(exec_twice_after_assume_not_executed_is_exempt)
{
    xc_state s;
    ck_assert_int_eq(xc_init(&s, 1), 0);
    s.jobs[0].exempt = 1;
    ck_assert_int_eq(xc_exec(&s, 0, "a", 1), 0);
    ck_assert_int_eq(xc_exec(&s, 0, "b", 1), 0);
    ck_assert_int_eq(s.n_viol, 0);
    ck_assert_int_eq(s.jobs[0].applied, 2);
    xc_free(&s);
}
END_TEST

START_TEST(done_operation_overwritten_is_a_violation)
{
    xc_state s;
    ck_assert_int_eq(xc_init(&s, 1), 0);
    const char *done = "{\"id\":\"t-`db`.`tb0`\",\"task\":\"t\",\"source\":\"a\",\"ddls\":[\"X\"],"
                       "\"exec\":true,\"done\":true}";
    const char *pending =
        "{\"id\":\"t-`db`.`tb0`\",\"task\":\"t\",\"source\":\"a\",\"ddls\":[\"X\"],"
        "\"exec\":false,\"done\":false}";
    ck_assert_int_eq(xc_op_put(&s, "k", NULL, 0, pending, strlen(pending)), 0);
    ck_assert_int_eq(xc_op_put(&s, "k", pending, strlen(pending), done, strlen(done)), 0);
    ck_assert_int_eq(xc_op_put(&s, "k", done, strlen(done), done, strlen(done)), 0);
    ck_assert_int_eq(s.n_viol, 0);
    ck_assert_int_eq(xc_op_put(&s, "k", done, strlen(done), pending, strlen(pending)), 1);
    ck_assert_int_eq(s.n_viol, 1);
    xc_free(&s);
}
END_TEST

START_TEST(resend_after_done_must_be_resolved)
{
    xc_state s;
    ck_assert_int_eq(xc_init(&s, 1), 0);
    ck_assert_int_eq(xc_resend(&s, 0, "a", DC_ERESOLVED, 0), 0);
    ck_assert_int_eq(xc_resend(&s, 0, "a", DC_OK, 1), 0);
    ck_assert_int_eq(xc_resend(&s, 0, "a", DC_OK, 0), 1);
    ck_assert_int_eq(s.n_viol, 1);
    xc_free(&s);
}
END_TEST

START_TEST(unresolved_lock_at_quiescence_is_a_violation)
{
    xc_state s;
    ck_assert_int_eq(xc_init(&s, 1), 0);
    dc_lock_status l[2];
    memset(l, 0, sizeof l);
    l[0].id = "t-`db`.`tb0`";
    l[0].owner = "a";
    l[1].id = "t-`db`.`tb1`";
    l[1].uncertain = 1;
    ck_assert_int_eq(xc_quiescent(&s, l, 0, 0, 0), 0);
    ck_assert_int_eq(xc_quiescent(&s, &l[1], 1, 0, 1), 0); /* uncertain waits for an operator */
    ck_assert_int_eq(s.n_viol, 0);
    ck_assert_int_eq(xc_quiescent(&s, &l[1], 1, 0, 0), 1);
    ck_assert_int_eq(xc_quiescent(&s, l, 1, 0, 1), 1);
    ck_assert_int_eq(xc_quiescent(&s, NULL, 0, 3, 1), 1);
    ck_assert_int_eq(s.n_viol, 3);
    xc_free(&s);
}
END_TEST

START_TEST(ddl_never_executed_is_a_violation)
{
    xc_state s;
    ck_assert_int_eq(xc_init(&s, 3), 0);
    ck_assert_int_eq(xc_exec(&s, 0, "a", 1), 0);
    s.jobs[2].exempt = 1; /* an operator removed it */
    ck_assert_int_eq(xc_final(&s), 1);
    ck_assert_int_eq(s.n_viol, 1);
    ck_assert_ptr_nonnull(strstr(s.viol[0], "job 1"));
    xc_free(&s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("explorer_check");
    TCase *tc = tcase_create("checkers");
    tcase_add_test(tc, exec_twice_blind_is_a_violation);
    tcase_add_test(tc, exec_again_at_a_later_attempt_is_tolerated);
    tcase_add_test(tc, exec_twice_after_assume_not_executed_is_exempt);
    tcase_add_test(tc, done_operation_overwritten_is_a_violation);
    tcase_add_test(tc, resend_after_done_must_be_resolved);
    tcase_add_test(tc, unresolved_lock_at_quiescence_is_a_violation);
    tcase_add_test(tc, ddl_never_executed_is_a_violation);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
