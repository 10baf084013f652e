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
    tcase_add_test(tc, issue12_12_names_with_newlines_do_not_forge_log_lines);
    suite_add_tcase(s, tc);
    return s;
}
