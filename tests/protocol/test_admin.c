/*
 * The master's admin entry points, called from the test thread while the
 * master runs in its own: unlock with a replaced owner, unlock that times
 * out and reverts, unlock with force-remove, and remove_meta (after which
 * the same table can be locked again: the removal and the next info are
 * serialised, DM bug pingcap/dm#1253).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static const char *DDL = "ALTER TABLE tbl ADD COLUMN c1 INT";
static const char *LOCK = "t-`db`.`tbl`";
static const char *TABLES[] = {"tbl"};

static int64_t count_task(const char *ns,
                          int (*fn)(const char *, const char *, const char *, char **))
{
    char *p;
    ck_assert_int_eq(fn(ns, "t", NULL, &p), DC_OK);
    int64_t c = t_count_prefix(p);
    free(p);
    return c;
}

static void wait_synced_count(dc_master *m, size_t want_sources_synced)
{
    for (int i = 0; i < T_TIMEOUT / 10; i++) {
        dc_lock_status *st;
        size_t n, synced = 0;
        ck_assert_int_eq(dc_master_locks(m, "t", &st, &n), DC_OK);
        for (size_t j = 0; n && j < st[0].n_sources; j++) synced += st[0].sources[j].synced;
        dc_lock_status_free_array(st, n);
        if (n == 1 && synced >= want_sources_synced) return;
        usleep(10000);
    }
    ck_abort_msg("the lock never had %zu synced sources", want_sources_synced);
}

START_TEST(unlock_with_replaced_owner_executes_on_the_new_owner)
{
    const char *ns = t_ns("unlock-owner");
    const char *srcs[] = {"a", "b", "never"};
    t_task(ns, "t", srcs, 3);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    t_worker a = {.ns = ns,
                  .task = "t",
                  .source = "a",
                  .schema = "db",
                  .tables = TABLES,
                  .n_tables = 1,
                  .ddl = DDL,
                  .down = &down};
    t_worker b = a;
    b.source = "b";
    t_worker_start(&a);
    wait_synced_count(tm.m, 1);
    t_worker_start(&b);
    wait_synced_count(tm.m, 2);
    ck_assert_int_eq(t_unlock(tm.m, LOCK, "nobody", 0, 1000), DC_ENOTFOUND);
    ck_assert_int_eq(t_unlock(tm.m, "t-`db`.`nope`", NULL, 0, 1000), DC_ENOTFOUND);
    /* "never" never reports; b executes instead of a; a skips. */
    int rc = t_unlock(tm.m, LOCK, "b", 0, T_TIMEOUT);
    ck_assert_msg(rc == DC_OK, "unlock: %s: %s", dc_errname(rc), dc_last_error());
    ck_assert_int_eq(t_worker_join(&a), DC_OK);
    ck_assert_int_eq(t_worker_join(&b), DC_OK);
    ck_assert_int_eq(a.executed, 0);
    ck_assert_int_eq(b.executed, 1);
    ck_assert_int_eq(t_down_count(&down, LOCK, DDL), 1);
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(count_task(ns, dc_operation_key), 0);
    ck_assert_int_eq(count_task(ns, dc_info_key), 0);
    t_master_stop(&tm);
}
END_TEST

START_TEST(unlock_without_force_times_out_and_reverts_when_the_owner_is_dead)
{
    const char *ns = t_ns("unlock-revert");
    const char *srcs[] = {"a", "b", "c"};
    t_task(ns, "t", srcs, 3);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    dc_worker_options o = {.ns = ns};
    dc_worker *a, *b;
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "a", &o, &a), DC_OK);
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "b", &o, &b), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(a, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(b, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    wait_synced_count(tm.m, 2);
    dc_worker_free(a); /* the owner is dead */
    ck_assert_int_eq(t_unlock(tm.m, LOCK, NULL, 0, 300), DC_ETIMEDOUT);
    dc_lock_status *st;
    size_t n;
    ck_assert_int_eq(dc_master_locks(tm.m, "t", &st, &n), DC_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(st[0].synced, 0); /* reverted: still waiting for c */
    ck_assert_str_eq(st[0].owner, "a");
    ck_assert_int_eq(st[0].sources[2].synced, 0);
    dc_lock_status_free_array(st, n);
    /* c arrives late: the lock proceeds normally (a's operation is put). */
    dc_worker *c;
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "c", &o, &c), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(c, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    char *opkey;
    ck_assert_int_eq(dc_operation_key(ns, "t", "a", &opkey), DC_OK);
    for (int i = 0; i < T_TIMEOUT / 10 && t_count_prefix(opkey) == 0; i++) usleep(10000);
    ck_assert_int_eq(t_count_prefix(opkey), 1);
    free(opkey);
    /* Clean up with force-remove. */
    ck_assert_int_eq(t_unlock(tm.m, LOCK, NULL, 1, 300), DC_OK);
    dc_worker_free(b);
    dc_worker_free(c);
    t_master_stop(&tm);
}
END_TEST

typedef struct unlock_job {
    dc_master *m;
    int rc;
} unlock_job;

static void *unlock_forever(void *arg)
{
    unlock_job *j = arg;
    j->rc = t_unlock(j->m, LOCK, NULL, 0, -1);
    return NULL;
}

START_TEST(an_unlock_waiting_without_a_timeout_returns_when_the_master_stops)
{
    const char *ns = t_ns("unlock-stop");
    const char *srcs[] = {"a", "never"};
    t_task(ns, "t", srcs, 2);
    t_rec rec;
    t_rec_init(&rec);
    t_master tm;
    t_master_start(&tm, ns, &rec);
    dc_worker_options o = {.ns = ns};
    dc_worker *a;
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "a", &o, &a), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(a, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    wait_synced_count(tm.m, 1);
    /* The unlock puts a's exec=true (step 4) and waits for a, which never
     * finishes. The loop thread can only see the stop once the unlock has
     * released the mutex, i.e. is waiting. */
    unlock_job j = {tm.m, -1};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, unlock_forever, &j), 0);
    t_wait_step(&rec, "master", 4, "a");
    dc_master_stop(tm.m);
    ck_assert_int_eq(t_master_join(&tm), DC_ECLOSED);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    ck_assert_msg(pthread_timedjoin_np(th, NULL, &until) == 0,
                  "the unlock still waits after the master stopped");
    ck_assert_int_eq(j.rc, DC_ECLOSED);
    dc_worker_free(a);
    t_master_stop(&tm);
    t_rec_free(&rec);
}
END_TEST

START_TEST(unlock_force_remove_clears_a_lock_whose_owner_died)
{
    const char *ns = t_ns("unlock-force");
    const char *srcs[] = {"a", "b", "c"};
    t_task(ns, "t", srcs, 3);
    t_rec rec;
    t_rec_init(&rec);
    t_master tm;
    t_master_start(&tm, ns, &rec);
    dc_worker_options o = {.ns = ns};
    dc_worker *a, *b;
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "a", &o, &a), DC_OK);
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "b", &o, &b), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(a, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(b, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    wait_synced_count(tm.m, 2);
    dc_worker_free(a); /* the owner died; c never reported */
    int rc = t_unlock(tm.m, LOCK, NULL, 1, 300);
    ck_assert_msg(rc == DC_OK, "%s: %s", dc_errname(rc), dc_last_error());
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(count_task(ns, dc_info_key), 0);
    ck_assert_int_eq(count_task(ns, dc_operation_key), 0);
    ck_assert_int_eq(t_rec_count(&rec, "master", 4, LOCK, "a"), 1); /* a was asked to execute */
    /* b's wait ends at once: its lock is gone (no phantom operation, no hang). */
    dc_operation *op = NULL;
    ck_assert_int_eq(dc_worker_wait_operation(b, T_TIMEOUT, &op), DC_ENOTFOUND);
    ck_assert_ptr_null(op);
    dc_worker_free(b);
    t_master_stop(&tm);
    t_rec_free(&rec);
}
END_TEST

START_TEST(remove_meta_clears_infos_operations_markers_and_locks)
{
    const char *ns = t_ns("removemeta");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    /* One resolved lock (leaves markers), one open lock with an operation out. */
    static const char *first[] = {"tbl0"};
    t_worker a = {.ns = ns,
                  .task = "t",
                  .source = "a",
                  .schema = "db",
                  .tables = first,
                  .n_tables = 1,
                  .ddl = DDL,
                  .down = &down};
    t_worker b = a;
    b.source = "b";
    t_worker_start(&a);
    t_worker_start(&b);
    ck_assert_int_eq(t_worker_join(&a), DC_OK);
    ck_assert_int_eq(t_worker_join(&b), DC_OK);
    ck_assert_int_gt(count_task(ns, dc_marker_key), 0);
    dc_worker_options o = {.ns = ns};
    dc_worker *wa, *wb;
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "a", &o, &wa), DC_OK);
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "b", &o, &wb), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(wa, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(wb, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    dc_operation *op;
    ck_assert_int_eq(dc_worker_wait_operation(wa, T_TIMEOUT, &op), DC_OK);
    dc_operation_free(op);
    ck_assert_int_eq(dc_master_remove_meta(tm.m, "t"), DC_OK);
    ck_assert_int_eq(count_task(ns, dc_info_key), 0);
    ck_assert_int_eq(count_task(ns, dc_operation_key), 0);
    ck_assert_int_eq(count_task(ns, dc_marker_key), 0);
    ck_assert_int_eq(count_task(ns, dc_conflict_key), 0);
    dc_lock_status *st;
    size_t n;
    ck_assert_int_eq(dc_master_locks(tm.m, NULL, &st, &n), DC_OK);
    ck_assert_uint_eq(n, 0);
    dc_lock_status_free_array(st, n);
    /* The same table locks again from scratch. */
    t_worker a2 = a, b2 = b;
    a2.tables = b2.tables = TABLES;
    t_worker_start(&a2);
    t_worker_start(&b2);
    ck_assert_int_eq(t_worker_join(&a2), DC_OK);
    ck_assert_int_eq(t_worker_join(&b2), DC_OK);
    ck_assert_int_eq(t_down_count(&down, LOCK, DDL), 1);
    t_wait_no_locks(tm.m);
    dc_worker_free(wa);
    dc_worker_free(wb);
    t_master_stop(&tm);
}
END_TEST

START_TEST(unlock_from_the_loop_thread_drives_the_events_itself)
{
    /* A daemon with one thread: it runs the master in slices and handles an
     * unlock request between two slices. The unlock must not wait for a loop
     * that only it could run. */
    const char *ns = t_ns("unlock-inline");
    const char *srcs[] = {"a", "b", "never"};
    t_task(ns, "t", srcs, 3);
    dc_master_options mo = {.ns = ns};
    dc_master *m;
    ck_assert_int_eq(dc_master_new(t_store(), &mo, &m), DC_OK);
    ck_assert_int_eq(dc_master_run(m, 0), DC_OK); /* step 1 */
    t_down down;
    t_down_init(&down);
    t_worker a = {.ns = ns,
                  .task = "t",
                  .source = "a",
                  .schema = "db",
                  .tables = TABLES,
                  .n_tables = 1,
                  .ddl = DDL,
                  .down = &down};
    t_worker b = a;
    b.source = "b";
    t_worker_start(&a);
    t_worker_start(&b);
    size_t synced = 0;
    for (int i = 0; i < T_TIMEOUT / 50 && synced < 2; i++) {
        ck_assert_int_eq(dc_master_run(m, 50), DC_OK);
        dc_lock_status *st;
        size_t n;
        ck_assert_int_eq(dc_master_locks(m, "t", &st, &n), DC_OK);
        synced = 0;
        for (size_t j = 0; n && j < st[0].n_sources; j++) synced += st[0].sources[j].synced;
        dc_lock_status_free_array(st, n);
    }
    ck_assert_uint_eq(synced, 2);
    int rc = t_unlock(m, LOCK, NULL, 0, T_TIMEOUT);
    ck_assert_msg(rc == DC_OK, "unlock: %s: %s", dc_errname(rc), dc_last_error());
    ck_assert_int_eq(t_worker_join(&a), DC_OK);
    ck_assert_int_eq(t_worker_join(&b), DC_OK);
    ck_assert_int_eq(a.executed + b.executed, 1); /* whoever reported first owns it */
    ck_assert_int_eq(t_down_count(&down, LOCK, DDL), 1);
    dc_master_free(m);
}
END_TEST

static void put_op(const char *ns, const char *source, int exec, int done)
{
    dc_operation *op;
    ck_assert_int_eq(dc_operation_new(LOCK, "t", source, &DDL, 1, exec, done, &op), DC_OK);
    char *json, *key;
    ck_assert_int_eq(dc_operation_encode(op, &json), DC_OK);
    ck_assert_int_eq(dc_operation_key(ns, "t", source, &key), DC_OK);
    ck_assert_int_eq(dc_put(t_store(), key, strlen(key), json, strlen(json), 0, NULL), DC_OK);
    free(json);
    free(key);
    dc_operation_free(op);
}

START_TEST(locks_view_from_the_store_alone_rebuilds_a_lock_in_flight)
{
    /* A lock in the middle of step 4: owner b done (its info deleted), a done
     * too, c still waiting, d joined the task after the lock synced. */
    const char *ns = t_ns("view");
    const char *srcs[] = {"a", "b", "c", "d"};
    t_task(ns, "t", srcs, 4);
    dc_worker_options o = {.ns = ns};
    dc_worker *c;
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "c", &o, &c), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(c, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    put_op(ns, "b", 1, 1); /* operations always come after the infos (W1 < M2) */
    put_op(ns, "a", 0, 1);
    dc_lock_status *st;
    size_t n;
    int64_t rev = 0;
    ck_assert_int_eq(dc_locks_read(t_store(), ns, NULL, &st, &n, &rev), DC_OK);
    ck_assert_int_gt(rev, 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(st[0].id, LOCK);
    ck_assert_str_eq(st[0].owner, "b"); /* from exec=true, not the smallest name */
    ck_assert_int_eq(st[0].synced, 1);
    ck_assert_uint_eq(st[0].n_sources, 4);
    ck_assert_int_eq(st[0].sources[0].done, 1); /* a */
    ck_assert_int_eq(st[0].sources[1].done, 1); /* b */
    ck_assert_int_eq(st[0].sources[2].done, 0); /* c: waits for exec=false */
    ck_assert_int_eq(st[0].sources[2].removed, 0);
    ck_assert_int_eq(st[0].sources[3].removed, 1); /* d: not awaited */
    dc_lock_status_free_array(st, n);
    /* A master started on that state finishes the lock: c gets exec=false. */
    t_master tm;
    t_master_start(&tm, ns, NULL);
    dc_operation *op;
    ck_assert_int_eq(dc_worker_wait_operation(c, T_TIMEOUT, &op), DC_OK);
    ck_assert_int_eq(op->exec, 0);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_mark_done(c, T_TIMEOUT, NULL), DC_OK);
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(count_task(ns, dc_operation_key), 0);
    ck_assert_int_eq(dc_locks_read(t_store(), ns, "t", &st, &n, NULL), DC_OK);
    ck_assert_uint_eq(n, 0);
    dc_lock_status_free_array(st, n);
    dc_worker_free(c);
    t_master_stop(&tm);
}
END_TEST

START_TEST(unlock_timeout_keeps_a_replaced_owner_that_holds_exec)
{
    /* b was made owner by an unlock and got exec=true, then the unlock timed
     * out. b may be executing: a must never get exec=true too. */
    const char *ns = t_ns("unlock-keep");
    const char *srcs[] = {"a", "b", "c"};
    t_task(ns, "t", srcs, 3);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    dc_worker_options o = {.ns = ns};
    dc_worker *w[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(dc_worker_new(t_store(), "t", srcs[i], &o, &w[i]), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(w[0], "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(w[1], "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    wait_synced_count(tm.m, 2);
    ck_assert_int_eq(t_unlock(tm.m, LOCK, "b", 0, 300), DC_ETIMEDOUT);
    dc_operation *op;
    ck_assert_int_eq(dc_worker_wait_operation(w[1], T_TIMEOUT, &op), DC_OK);
    ck_assert_int_eq(op->exec, 1); /* b got exec=true from the unlock */
    t_down_exec(op, &down);
    dc_operation_free(op);
    /* c arrives; the lock syncs normally; b finishes; a and c skip. */
    ck_assert_int_eq(dc_worker_put_info(w[2], "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_mark_done(w[1], T_TIMEOUT, NULL), DC_OK);
    for (int i = 0; i < 3; i += 2) {
        ck_assert_int_eq(dc_worker_wait_operation(w[i], T_TIMEOUT, &op), DC_OK);
        ck_assert_int_eq(op->exec, 0);
        t_down_exec(op, &down);
        dc_operation_free(op);
        ck_assert_int_eq(dc_worker_mark_done(w[i], T_TIMEOUT, NULL), DC_OK);
    }
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(down.exec_calls, 1);
    ck_assert_int_eq(t_down_count(&down, LOCK, DDL), 1);
    for (int i = 0; i < 3; i++) dc_worker_free(w[i]);
    t_master_stop(&tm);
}
END_TEST

START_TEST(unlock_replacing_an_owner_that_already_executed_gives_nobody_exec)
{
    /* a ran the DDL and is done; b holds exec=false. An unlock naming b as
     * the owner must not turn that into exec=true: the DDL would run twice. */
    const char *ns = t_ns("unlock-executed");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    dc_worker_options o = {.ns = ns};
    dc_worker *w[2];
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(dc_worker_new(t_store(), "t", srcs[i], &o, &w[i]), DC_OK);
        ck_assert_int_eq(dc_worker_put_info(w[i], "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL),
                         DC_OK);
    }
    dc_operation *op;
    ck_assert_int_eq(dc_worker_wait_operation(w[0], T_TIMEOUT, &op), DC_OK);
    ck_assert_int_eq(op->exec, 1);
    t_down_exec(op, &down);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_mark_done(w[0], T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_wait_operation(w[1], T_TIMEOUT, &op), DC_OK);
    ck_assert_int_eq(op->exec, 0);
    dc_operation_free(op);
    ck_assert_int_eq(t_unlock(tm.m, LOCK, "b", 0, 300), DC_ETIMEDOUT);
    ck_assert_int_eq(t_op_exec(ns, "t", "b"), 0); /* b's operation still says skip */
    ck_assert_int_eq(dc_worker_wait_operation(w[1], T_TIMEOUT, &op), DC_OK);
    ck_assert_int_eq(op->exec, 0);
    t_down_exec(op, &down);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_mark_done(w[1], T_TIMEOUT, NULL), DC_OK);
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(down.exec_calls, 1);
    for (int i = 0; i < 2; i++) dc_worker_free(w[i]);
    t_master_stop(&tm);
}
END_TEST

static void teardown(void)
{
    t_store_close();
}

Suite *suite_admin(void)
{
    Suite *s = suite_create("admin");
    TCase *tc = tcase_create("admin");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, unlock_with_replaced_owner_executes_on_the_new_owner);
    tcase_add_test(tc, unlock_without_force_times_out_and_reverts_when_the_owner_is_dead);
    tcase_add_test(tc, an_unlock_waiting_without_a_timeout_returns_when_the_master_stops);
    tcase_add_test(tc, unlock_force_remove_clears_a_lock_whose_owner_died);
    tcase_add_test(tc, remove_meta_clears_infos_operations_markers_and_locks);
    tcase_add_test(tc, unlock_from_the_loop_thread_drives_the_events_itself);
    tcase_add_test(tc, locks_view_from_the_store_alone_rebuilds_a_lock_in_flight);
    tcase_add_test(tc, unlock_timeout_keeps_a_replaced_owner_that_holds_exec);
    tcase_add_test(tc, unlock_replacing_an_owner_that_already_executed_gives_nobody_exec);
    suite_add_tcase(s, tc);
    return s;
}
