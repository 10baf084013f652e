/*
 * The store core's own logic, through a scripted ABI 1 plugin
 * (tests/plugins/scripted.c) whose answers are chosen by the key asked for:
 *  - reset detection: an answer below a revision the handle saw before, or a
 *    watch event at or below one the watch already had (other than an exact
 *    copy), or a driver's own DC_ERESET, poisons the handle: that call, every
 *    later call and every open watch return DC_ERESET, with one ERROR line;
 *    a new handle works;
 *  - an exact second copy of the last revision is dropped, not a reset;
 *  - a "future revision" answer about a revision the handle saw is a reset.
 */
#include <ddlcoord/ddlcoord.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"

static int errors_logged;
static char last_error_line[1024];

static void count_errors(dc_log_level level, const char *component, const char *message,
                         void *userdata)
{
    if (level == DC_LOG_ERROR) {
        errors_logged++;
        snprintf(last_error_line, sizeof last_error_line, "%s", message);
    }
}

static dc_store *open_scripted(void)
{
    const char *d = getenv("DDLCOORD_TEST_PLUGIN_DIR");
    ck_assert_msg(d && *d, "DDLCOORD_TEST_PLUGIN_DIR is not set (run through ctest)");
    setenv("DDLCOORD_DRIVER_PATH", d, 1);
    dc_store *s;
    ck_assert_int_eq(dc_store_open("scripted://x", &s), DC_OK);
    errors_logged = 0;
    dc_log_set_handler(count_errors, NULL);
    return s;
}

/* Every kind of call on a poisoned handle answers DC_ERESET. */
static void expect_poisoned(dc_store *s)
{
    dc_kvs *kvs;
    dc_txn_result *res;
    dc_watch *w;
    int64_t x;
    ck_assert_int_eq(dc_get(s, "a", 1, 0, 0, &kvs), DC_ERESET);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "close it and open a new one"));
    ck_assert_int_eq(dc_revision(s, &x), DC_ERESET);
    ck_assert_int_eq(dc_put(s, "k", 1, "v", 1, 0, NULL), DC_ERESET);
    ck_assert_int_eq(dc_delete(s, "k", 1, 0, NULL, NULL), DC_ERESET);
    dc_txn *t = dc_txn_new();
    dc_txn_put(t, DC_THEN, "k", 1, "v", 1, 0, 0);
    ck_assert_int_eq(dc_txn_commit(s, t, &res), DC_ERESET);
    dc_txn_free(t);
    ck_assert_int_eq(dc_compact(s, 1), DC_ERESET);
    ck_assert_int_eq(dc_lease_grant(s, 10, &x, NULL), DC_ERESET);
    ck_assert_int_eq(dc_lease_keepalive(s, 1, NULL), DC_ERESET);
    ck_assert_int_eq(dc_lease_revoke(s, 1), DC_ERESET);
    ck_assert_int_eq(dc_watch_open(s, "q", 1, 1, 0, &w), DC_ERESET);
    ck_assert_int_eq(dc_get_page(s, "p/", 2, NULL, 0, 0, 10, 0, &kvs), DC_ERESET);
    char buf[512];
    ck_assert_ptr_nonnull(strstr(dc_store_errmsg(s, buf, sizeof buf), "reset"));
}

START_TEST(a_read_below_what_the_handle_saw_poisons_it)
{
    dc_store *s = open_scripted();
    dc_watch *quiet;
    ck_assert_int_eq(dc_watch_open(s, "quiet", 5, 1, 0, &quiet), DC_OK);
    dc_kvs *kvs;
    ck_assert_int_eq(dc_get(s, "a", 1, 0, 0, &kvs), DC_OK); /* revision 7 */
    dc_kvs_free(kvs);
    ck_assert_int_eq(dc_get(s, "back", 4, 0, 0, &kvs), DC_ERESET); /* revision 3 */
    ck_assert_ptr_null(kvs);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "revision 3"));
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "revision 7"));
    /* the watch that was open ends, and says why; its fd is readable */
    struct pollfd p = {.fd = dc_watch_fd(quiet), .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, 0), 1);
    dc_events *ev;
    ck_assert_int_eq(dc_watch_next(quiet, 0, &ev), DC_ERESET);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "revision 3"));
    expect_poisoned(s);
    ck_assert_int_eq(errors_logged, 1);
    ck_assert_ptr_nonnull(strstr(last_error_line, "reset"));
    dc_watch_close(quiet);
    dc_store_close(s);
    /* a new handle starts afresh */
    s = open_scripted();
    ck_assert_int_eq(dc_get(s, "back", 4, 0, 0, &kvs), DC_OK);
    ck_assert_int_eq(kvs->revision, 3);
    dc_kvs_free(kvs);
    dc_store_close(s);
    dc_log_set_handler(NULL, NULL);
}
END_TEST

START_TEST(a_write_below_what_the_handle_saw_poisons_it)
{
    dc_store *s = open_scripted();
    int64_t rev = 0;
    ck_assert_int_eq(dc_put(s, "k", 1, "v", 1, 0, &rev), DC_OK);
    ck_assert_int_eq(rev, 8);
    ck_assert_int_eq(dc_put(s, "old", 3, "v", 1, 0, &rev), DC_ERESET);
    expect_poisoned(s);
    ck_assert_int_eq(errors_logged, 1);
    dc_store_close(s);
    dc_log_set_handler(NULL, NULL);
}
END_TEST

START_TEST(the_first_answer_of_a_handle_is_never_a_reset)
{
    dc_store *s = open_scripted();
    int64_t rev = 0;
    ck_assert_int_eq(dc_put(s, "old", 3, "v", 1, 0, &rev), DC_OK);
    ck_assert_int_eq(rev, 2);
    ck_assert_int_eq(dc_revision(s, &rev), DC_OK);
    ck_assert_int_eq(rev, 7);
    ck_assert_int_eq(errors_logged, 0);
    dc_store_close(s);
    dc_log_set_handler(NULL, NULL);
}
END_TEST

START_TEST(an_exact_copy_of_the_last_revision_is_dropped_quietly)
{
    dc_store *s = open_scripted();
    dc_watch *w;
    ck_assert_int_eq(dc_watch_open(s, "dup", 3, 5, 0, &w), DC_OK);
    dc_events *ev;
    ck_assert_int_eq(dc_watch_next(w, 0, &ev), DC_OK);
    ck_assert_uint_eq(ev->n, 2);
    ck_assert_int_eq(ev->events[0].kv.mod_revision, 5);
    ck_assert_int_eq(ev->events[1].kv.mod_revision, 6);
    dc_events_free(ev);
    ck_assert_int_eq(dc_watch_next(w, 0, &ev), DC_ETIMEDOUT);
    dc_watch_close(w);
    dc_kvs *kvs;
    ck_assert_int_eq(dc_get(s, "a", 1, 0, 0, &kvs), DC_OK);
    dc_kvs_free(kvs);
    ck_assert_int_eq(errors_logged, 0);
    dc_store_close(s);
    dc_log_set_handler(NULL, NULL);
}
END_TEST

/* A watch on key whose driver reveals a reset: it ends with DC_ERESET, so
 * does the watch opened before it, and the handle is poisoned. */
static void watch_reveals_reset(const char *key, const char *detail)
{
    dc_store *s = open_scripted();
    dc_watch *quiet, *w;
    ck_assert_int_eq(dc_watch_open(s, "quiet", 5, 1, 0, &quiet), DC_OK);
    ck_assert_int_eq(dc_watch_open(s, key, strlen(key), 5, 0, &w), DC_OK);
    dc_events *ev;
    /* the events before the reset are delivered; then the watch ends */
    int rc = dc_watch_next(w, 0, &ev);
    if (rc == DC_OK) {
        ck_assert_int_eq(ev->events[0].kv.mod_revision, 5);
        dc_events_free(ev);
        rc = dc_watch_next(w, 0, &ev);
    }
    ck_assert_int_eq(rc, DC_ERESET);
    ck_assert_msg(strstr(dc_last_error(), detail), "detail: %s", dc_last_error());
    ck_assert_int_eq(dc_watch_next(w, 0, &ev), DC_ERESET); /* and stays ended */
    ck_assert_int_eq(dc_watch_next(quiet, 0, &ev), DC_ERESET);
    expect_poisoned(s);
    ck_assert_int_eq(errors_logged, 1);
    dc_watch_close(w);
    dc_watch_close(quiet);
    dc_store_close(s);
    dc_log_set_handler(NULL, NULL);
}

START_TEST(a_watch_event_below_the_last_one_poisons_the_handle)
{
    watch_reveals_reset("back", "revision 4 after revision 5");
}
END_TEST

START_TEST(the_same_revision_with_other_events_poisons_the_handle)
{
    watch_reveals_reset("diff", "again with different events");
}
END_TEST

START_TEST(a_drivers_own_reset_poisons_the_handle)
{
    watch_reveals_reset("reset", "the epoch changed");
}
END_TEST

START_TEST(an_event_below_the_start_revision_poisons_the_handle)
{
    dc_store *s = open_scripted();
    dc_watch *w;
    /* the driver pushes revision 5 to a watch that asked for 6 and later */
    ck_assert_int_eq(dc_watch_open(s, "dup", 3, 6, 0, &w), DC_OK);
    dc_events *ev;
    ck_assert_int_eq(dc_watch_next(w, 0, &ev), DC_ERESET);
    dc_watch_close(w);
    expect_poisoned(s);
    dc_store_close(s);
    dc_log_set_handler(NULL, NULL);
}
END_TEST

START_TEST(a_future_revision_the_handle_saw_is_a_reset)
{
    dc_store *s = open_scripted();
    /* the plugin calls every compaction revision a future one */
    ck_assert_int_eq(dc_compact(s, 5), DC_EINVAL); /* nothing seen yet */
    dc_kvs *kvs;
    ck_assert_int_eq(dc_get_page(s, "p/", 2, NULL, 0, 9, 10, 0, &kvs), DC_EINVAL); /* at 7 */
    ck_assert_int_eq(dc_get(s, "a", 1, 0, 0, &kvs), DC_OK);
    dc_kvs_free(kvs);
    ck_assert_int_eq(dc_compact(s, 9), DC_EINVAL); /* beyond what was seen: a real future */
    ck_assert_int_eq(errors_logged, 0);
    ck_assert_int_eq(dc_compact(s, 6), DC_ERESET); /* seen at 7, now "in the future" */
    expect_poisoned(s);
    dc_store_close(s);
    dc_log_set_handler(NULL, NULL);
}
END_TEST

DC_CHECK_MAIN("store_core", "store_core", a_read_below_what_the_handle_saw_poisons_it,
              a_write_below_what_the_handle_saw_poisons_it,
              the_first_answer_of_a_handle_is_never_a_reset,
              an_exact_copy_of_the_last_revision_is_dropped_quietly,
              a_watch_event_below_the_last_one_poisons_the_handle,
              the_same_revision_with_other_events_poisons_the_handle,
              a_drivers_own_reset_poisons_the_handle,
              an_event_below_the_start_revision_poisons_the_handle,
              a_future_revision_the_handle_saw_is_a_reset)
