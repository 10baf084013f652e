/*
 * DM's re-entrancy table (docs/DESIGN.md, "The protocol"), one test per row: a worker or master
 * object is abandoned at that step (a step callback or a callback "crashes" it) and a new one
 * started. Every test asserts the lock resolves with the DDL applied downstream exactly once by the
 * owner, and nobody calls unlock.
 *
 * Sources: "a" reports first and owns the lock, "b" follows; task "t",
 * table shard_db.tbl_1 (a second table where the flow must go on after).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static const char *DDL = "ALTER TABLE tbl ADD COLUMN c1 INT";
static const char *LOCK1 = "t-`shard_db`.`tbl_1`";
static const char *TABLES[] = {"tbl_1", "tbl_2"};
static const char *SRCS[] = {"a", "b"};

typedef struct scene {
    const char *ns;
    t_rec rec;
    t_down down;
    t_master tm;
    t_worker a, b;
} scene;

static t_worker make_worker(scene *s, const char *source, size_t n_tables)
{
    return (t_worker){.ns = s->ns,
                      .task = "t",
                      .source = source,
                      .schema = "shard_db",
                      .tables = TABLES,
                      .n_tables = n_tables,
                      .ddl = DDL,
                      .rec = &s->rec,
                      .down = &s->down};
}

/* Master up; a reports, then b; a stops at (worker) step `stop`. */
enum { NONE = 0, FAIL_BEFORE_EXEC = 1, FAIL_AFTER_EXEC = 2, FAIL_CHECKPOINT = 4 };

static void start(scene *s, const char *name, int stop, size_t n_tables, int fail)
{
    s->ns = t_ns(name);
    t_task(s->ns, "t", SRCS, 2);
    t_rec_init(&s->rec);
    t_down_init(&s->down);
    /* Only a executes (it owns the lock), so the one-shot failures hit a. */
    s->down.fail_before_exec = !!(fail & FAIL_BEFORE_EXEC);
    s->down.fail_after_exec = !!(fail & FAIL_AFTER_EXEC);
    s->down.fail_checkpoint = !!(fail & FAIL_CHECKPOINT);
    s->rec.stop_step = stop;
    snprintf(s->rec.stop_source, sizeof s->rec.stop_source, "a");
    t_master_start(&s->tm, s->ns, &s->rec);
    s->a = make_worker(s, "a", n_tables);
    t_worker_start(&s->a);
    t_wait_step(&s->rec, "worker", 2, "a");
    s->b = make_worker(s, "b", n_tables);
    t_worker_start(&s->b);
}

static void finish(scene *s, size_t n_tables)
{
    int rc = t_worker_join(&s->b);
    ck_assert_msg(rc == DC_OK, "b: %s: %s", dc_errname(rc), dc_last_error());
    t_wait_no_locks(s->tm.m);
    t_master_stop(&s->tm);
    for (size_t j = 0; j < n_tables; j++) {
        char lock[64];
        snprintf(lock, sizeof lock, "t-`shard_db`.`%s`", TABLES[j]);
        ck_assert_int_eq(t_down_count(&s->down, lock, DDL), 1);
        ck_assert_int_eq(t_rec_count(&s->rec, "master", 10, lock, NULL), 1);
    }
}

/* The crashed a's replacement: a new worker object re-running its DDLs. */
static void rerun_a(scene *s, size_t n_tables, int expect_first)
{
    t_worker a2 = make_worker(s, "a", n_tables);
    t_worker_start(&a2);
    int rc = t_worker_join(&a2);
    ck_assert_msg(rc == expect_first, "a re-run: %s (%s), expected %s", dc_errname(rc),
                  dc_last_error(), dc_errname(expect_first));
}

START_TEST(reentrant_worker_crash_before_step6_rerun_is_fine)
{
    scene s;
    start(&s, "before6", 5, 1, NONE); /* a got its operation, then died */
    ck_assert_int_eq(t_worker_join(&s.a), DC_ECLOSED);
    ck_assert_int_eq(s.down.exec_calls, 0);
    rerun_a(&s, 1, DC_OK);
    finish(&s, 1);
    ck_assert_int_eq(s.down.exec_calls, 1);
    ck_assert_int_eq(s.down.tolerated, 0);
    t_rec_free(&s.rec);
}
END_TEST

START_TEST(reentrant_worker_crash_in_step6_canceled_rerun_is_fine)
{
    scene s;
    start(&s, "in6cancel", 0, 1, FAIL_BEFORE_EXEC); /* a dies before applying anything */
    ck_assert_int_eq(t_worker_join(&s.a), DC_ECLOSED);
    ck_assert_int_eq(s.down.exec_calls, 0);
    rerun_a(&s, 1, DC_OK);
    finish(&s, 1);
    ck_assert_int_eq(s.down.exec_calls, 1);
    ck_assert_int_eq(s.down.tolerated, 0);
    t_rec_free(&s.rec);
}
END_TEST

START_TEST(reentrant_worker_crash_in_step6_after_exec_reexecution_is_tolerated)
{
    scene s;
    start(&s, "in6done", 0, 1, FAIL_AFTER_EXEC); /* a applied the DDL, died before recording */
    ck_assert_int_eq(t_worker_join(&s.a), DC_ECLOSED);
    rerun_a(&s, 1, DC_OK);
    finish(&s, 1);
    /* DM's row: the re-execution happens and must be tolerated. */
    ck_assert_int_eq(s.down.exec_calls, 2);
    ck_assert_int_eq(s.down.tolerated, 1);
    t_rec_free(&s.rec);
}
END_TEST

START_TEST(reentrant_worker_crash_in_step7_before_flush_skips_without_reexecution)
{
    scene s;
    start(&s, "in7cancel", 0, 1, FAIL_CHECKPOINT); /* recorded, checkpoint not flushed */
    ck_assert_int_eq(t_worker_join(&s.a), DC_ECLOSED);
    /* The re-run replays the DDL at the same position: the marker finishes the
     * done txn and answers "already resolved" (DM would re-execute). */
    rerun_a(&s, 1, DC_ERESOLVED);
    finish(&s, 1);
    ck_assert_int_eq(s.down.exec_calls, 1);
    ck_assert_int_eq(s.down.tolerated, 0);
    t_rec_free(&s.rec);
}
END_TEST

START_TEST(reentrant_worker_crash_in_step7_needs_no_unlock)
{
    scene s;
    start(&s, "in7done", 7, 1, NONE); /* checkpoint flushed, then died before done */
    ck_assert_int_eq(t_worker_join(&s.a), DC_ECLOSED);
    /* The restarted worker never re-sends that DDL (its checkpoint is past
     * it). DM needs unlock-ddl-lock here; recovery at start-up is enough. */
    dc_worker_options o = {.ns = s.ns, .on_step = t_rec_cb, .step_userdata = &s.rec};
    dc_worker *w;
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "a", &o, &w), DC_OK);
    int recovered = 0;
    ck_assert_int_eq(dc_worker_recover(w, T_TIMEOUT, &recovered), DC_OK);
    ck_assert_int_eq(recovered, 1);
    dc_worker_free(w);
    finish(&s, 1);
    ck_assert_int_eq(s.down.exec_calls, 1);
    t_rec_free(&s.rec);
}
END_TEST

START_TEST(reentrant_worker_crash_in_step8_before_commit_recovers_with_next_ddl)
{
    /* Manual API: a executes, flushes, and dies before its done txn; the
     * restarted worker simply goes on with its next DDL, and the put of that
     * info finishes the pending one first. */
    scene s;
    s.ns = t_ns("in8cancel");
    t_task(s.ns, "t", SRCS, 2);
    t_rec_init(&s.rec);
    t_down_init(&s.down);
    t_master_start(&s.tm, s.ns, &s.rec);
    dc_worker_options o = {.ns = s.ns, .on_step = t_rec_cb, .step_userdata = &s.rec};
    dc_worker *w;
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "a", &o, &w), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(w, "shard_db", "tbl_1", &DDL, 1, "pos-1", T_TIMEOUT, NULL),
                     DC_OK);
    s.b = make_worker(&s, "b", 2);
    t_worker_start(&s.b);
    dc_operation *op;
    ck_assert_int_eq(dc_worker_wait_operation(w, T_TIMEOUT, &op), DC_OK);
    ck_assert_int_eq(op->exec, 1);
    t_down_exec(op, &s.down);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_mark_executed(w, T_TIMEOUT), DC_OK);
    dc_worker_free(w); /* died before mark_done */
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "a", &o, &w), DC_OK);
    int executed = 0;
    int rc = dc_worker_run_ddl(w, "shard_db", "tbl_2", &DDL, 1, "pos-2", t_down_exec,
                               t_down_checkpoint, &s.down, T_TIMEOUT, &executed);
    ck_assert_msg(rc == DC_OK, "%s: %s", dc_errname(rc), dc_last_error());
    dc_worker_free(w);
    finish(&s, 2);
    ck_assert_int_eq(s.down.tolerated, 0);
    t_rec_free(&s.rec);
}
END_TEST

START_TEST(reentrant_worker_crash_in_step8_after_commit_rerun_is_fine)
{
    scene s;
    start(&s, "in8done", 8, 1, NONE); /* the done txn committed, a died before returning */
    ck_assert_int_eq(t_worker_join(&s.a), DC_ECLOSED);
    /* Re-sent at the same position: "already resolved", no lock opened. */
    rerun_a(&s, 1, DC_ERESOLVED);
    finish(&s, 1);
    ck_assert_int_eq(s.down.exec_calls, 1);
    ck_assert_int_eq(t_rec_count(&s.rec, "master", 3, LOCK1, "a"), 1);
    t_rec_free(&s.rec);
}
END_TEST

START_TEST(reentrant_worker_restart_after_step8_goes_on_with_the_next_ddl)
{
    scene s;
    start(&s, "after8", 8, 2, NONE);
    ck_assert_int_eq(t_worker_join(&s.a), DC_ECLOSED);
    /* A fresh worker runs both DDLs again: the first is resolved, the second runs. */
    dc_worker_options o = {.ns = s.ns, .on_step = t_rec_cb, .step_userdata = &s.rec};
    dc_worker *w;
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "a", &o, &w), DC_OK);
    int rc = dc_worker_run_ddl(w, "shard_db", "tbl_1", &DDL, 1, "binlog.000001:1000", t_down_exec,
                               t_down_checkpoint, &s.down, T_TIMEOUT, NULL);
    ck_assert_int_eq(rc, DC_ERESOLVED);
    rc = dc_worker_run_ddl(w, "shard_db", "tbl_2", &DDL, 1, "binlog.000001:1001", t_down_exec,
                           t_down_checkpoint, &s.down, T_TIMEOUT, NULL);
    ck_assert_msg(rc == DC_OK, "%s: %s", dc_errname(rc), dc_last_error());
    dc_worker_free(w);
    finish(&s, 2);
    ck_assert_int_eq(s.down.exec_calls, 2);
    t_rec_free(&s.rec);
}
END_TEST

START_TEST(reentrant_master_crash_at_any_step_rerun_is_fine)
{
    static const int steps[] = {1, 3, 4, 9, 10};
    for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
        scene s;
        char name[32];
        snprintf(name, sizeof name, "master%d", steps[k]);
        s.ns = t_ns(name);
        t_task(s.ns, "t", SRCS, 2);
        t_rec_init(&s.rec);
        t_down_init(&s.down);
        s.rec.stop_role_master = 1;
        s.rec.stop_step = steps[k];
        t_master_start(&s.tm, s.ns, &s.rec);
        s.a = make_worker(&s, "a", 2);
        t_worker_start(&s.a);
        t_wait_step(&s.rec, "worker", 2, "a");
        s.b = make_worker(&s, "b", 2);
        t_worker_start(&s.b);
        ck_assert_int_eq(t_master_join(&s.tm), DC_ECLOSED); /* "crashed" after that step */
        t_master_stop(&s.tm);
        t_master_start(&s.tm, s.ns, &s.rec); /* the re-run */
        int rc = t_worker_join(&s.a);
        ck_assert_msg(rc == DC_OK, "step %d: a: %s: %s", steps[k], dc_errname(rc), dc_last_error());
        finish(&s, 2);
        ck_assert_int_eq(s.down.exec_calls, 2);
        ck_assert_int_eq(s.down.tolerated, 0);
        t_rec_free(&s.rec);
    }
}
END_TEST

START_TEST(reentrant_master_restart_never_overwrites_a_done_operation)
{
    scene s;
    s.ns = t_ns("nooverwrite");
    t_task(s.ns, "t", SRCS, 2);
    t_rec_init(&s.rec);
    t_down_init(&s.down);
    s.rec.stop_role_master = 1;
    s.rec.stop_step = 4; /* the master dies right after PUT exec=true for a */
    t_master_start(&s.tm, s.ns, &s.rec);
    s.a = make_worker(&s, "a", 1);
    t_worker_start(&s.a);
    t_wait_step(&s.rec, "worker", 2, "a");
    s.b = make_worker(&s, "b", 1);
    t_worker_start(&s.b);
    ck_assert_int_eq(t_master_join(&s.tm), DC_ECLOSED);
    /* a finishes while no master runs: its operation is done. */
    t_wait_step(&s.rec, "worker", 8, "a");
    char *key;
    ck_assert_int_eq(dc_operation_key(s.ns, "t", "a", &key), DC_OK);
    dc_kvs *before;
    ck_assert_int_eq(dc_get(t_store(), key, strlen(key), 0, 0, &before), DC_OK);
    ck_assert_uint_eq(before->n, 1);
    ck_assert_ptr_nonnull(strstr(before->kvs[0].value, "\"done\":true"));
    dc_watch *wt;
    ck_assert_int_eq(
        dc_watch_open(t_store(), key, strlen(key), before->kvs[0].mod_revision + 1, 0, &wt), DC_OK);
    t_master_stop(&s.tm);
    t_master_start(&s.tm, s.ns, &s.rec);
    ck_assert_int_eq(t_worker_join(&s.a), DC_OK);
    finish(&s, 1);
    /* After the done mark, a's operation key was only ever deleted (step 10). */
    dc_events *ev;
    int rc = dc_watch_next(wt, 5000, &ev);
    ck_assert_int_eq(rc, DC_OK);
    ck_assert_uint_ge(ev->n, 1);
    ck_assert_int_eq(ev->events[0].type, DC_EVENT_DELETE);
    dc_events_free(ev);
    dc_watch_close(wt);
    ck_assert_int_eq(t_rec_count(&s.rec, "master", 4, LOCK1, "a"), 1);
    dc_kvs_free(before);
    free(key);
    t_rec_free(&s.rec);
}
END_TEST

START_TEST(reentrant_master_crash_in_step10_leftovers_do_not_leak_into_the_next_lock)
{
    /* The state a master leaves when it dies between two chunks of step 10
     * (tasks over 32 sources) while the sources already deleted report the
     * table's next DDL: a's done operation of the previous lock, b and c's
     * infos of the next one, both with the same lock ID. */
    static const char *DDL2 = "ALTER TABLE tbl DROP COLUMN c1";
    const char *srcs[] = {"a", "b", "c"};
    const char *ns = t_ns("leftover");
    t_task(ns, "t", srcs, 3);
    dc_operation *old;
    ck_assert_int_eq(dc_operation_new(LOCK1, "t", "a", &DDL, 1, 1, 1, &old), DC_OK);
    char *json, *key;
    ck_assert_int_eq(dc_operation_encode(old, &json), DC_OK);
    ck_assert_int_eq(dc_operation_key(ns, "t", "a", &key), DC_OK);
    ck_assert_int_eq(dc_put(t_store(), key, strlen(key), json, strlen(json), 0, NULL), DC_OK);
    free(json);
    dc_operation_free(old);
    t_down down;
    t_down_init(&down);
    dc_worker_options o = {.ns = ns};
    dc_worker *w[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(dc_worker_new(t_store(), "t", srcs[i], &o, &w[i]), DC_OK);
    for (int i = 1; i < 3; i++)
        ck_assert_int_eq(
            dc_worker_put_info(w[i], "shard_db", "tbl_1", &DDL2, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_wait_gone(key); /* the new master finishes the old step 10 */
    dc_lock_status *st;
    size_t n;
    ck_assert_int_eq(dc_master_locks(tm.m, "t", &st, &n), DC_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(st[0].synced, 0); /* still waiting for a: not forced by the leftover */
    ck_assert_str_eq(st[0].owner, "b");
    ck_assert_int_eq(st[0].sources[0].done, 0);
    dc_lock_status_free_array(st, n);
    ck_assert_int_eq(dc_worker_put_info(w[0], "shard_db", "tbl_1", &DDL2, 1, NULL, T_TIMEOUT, NULL),
                     DC_OK);
    int order[3] = {1, 0, 2};
    for (int k = 0; k < 3; k++) {
        dc_operation *op;
        dc_worker *x = w[order[k]];
        ck_assert_int_eq(dc_worker_wait_operation(x, T_TIMEOUT, &op), DC_OK);
        ck_assert_int_eq(op->exec, k == 0);
        t_down_exec(op, &down);
        dc_operation_free(op);
        ck_assert_int_eq(dc_worker_mark_done(x, T_TIMEOUT, NULL), DC_OK);
    }
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(t_down_count(&down, LOCK1, DDL2), 1);
    for (int i = 0; i < 3; i++) dc_worker_free(w[i]);
    free(key);
    t_master_stop(&tm);
}
END_TEST

START_TEST(reentrant_master_restart_restores_the_owner_from_its_exec_operation)
{
    /* b reports first and owns the lock; after a restart the smallest name
     * (a) would be the default owner, but b already holds exec=true. */
    scene s;
    s.ns = t_ns("owner");
    t_task(s.ns, "t", SRCS, 2);
    t_rec_init(&s.rec);
    t_down_init(&s.down);
    s.rec.stop_role_master = 1;
    s.rec.stop_step = 4;
    t_master_start(&s.tm, s.ns, &s.rec);
    dc_worker_options o = {.ns = s.ns};
    dc_worker *a, *b;
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "a", &o, &a), DC_OK);
    ck_assert_int_eq(dc_worker_new(t_store(), "t", "b", &o, &b), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(b, "shard_db", "tbl_1", &DDL, 1, NULL, T_TIMEOUT, NULL),
                     DC_OK);
    ck_assert_int_eq(dc_worker_put_info(a, "shard_db", "tbl_1", &DDL, 1, NULL, T_TIMEOUT, NULL),
                     DC_OK);
    ck_assert_int_eq(t_master_join(&s.tm), DC_ECLOSED); /* died right after exec=true for b */
    t_master_stop(&s.tm);
    dc_lock_status *st;
    size_t n;
    ck_assert_int_eq(dc_locks_read(t_store(), s.ns, "t", &st, &n, NULL), DC_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(st[0].owner, "b");
    dc_lock_status_free_array(st, n);
    t_master_start(&s.tm, s.ns, &s.rec);
    dc_operation *op;
    ck_assert_int_eq(dc_worker_wait_operation(b, T_TIMEOUT, &op), DC_OK);
    ck_assert_int_eq(op->exec, 1);
    t_down_exec(op, &s.down);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_mark_done(b, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_wait_operation(a, T_TIMEOUT, &op), DC_OK);
    ck_assert_int_eq(op->exec, 0); /* a was never made a second owner */
    t_down_exec(op, &s.down);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_mark_done(a, T_TIMEOUT, NULL), DC_OK);
    t_wait_no_locks(s.tm.m);
    t_master_stop(&s.tm);
    ck_assert_int_eq(s.down.exec_calls, 1);
    ck_assert_int_eq(t_rec_count(&s.rec, "master", 4, LOCK1, "a"), 1); /* exec=false only */
    dc_worker_free(a);
    dc_worker_free(b);
    t_rec_free(&s.rec);
}
END_TEST

/* ---- A worker kept across DDLs acts on what it believes of its keys (its
 * last reads, its own txns, its open watches). These tests make that belief
 * stale behind its back, with no master (the test writes the operations),
 * and check every call still answers what a fresh read would make it answer. */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static dc_worker *kept_worker(const char *ns, const char *source)
{
    dc_worker_options o = {.ns = ns};
    dc_worker *w;
    ck_assert_int_eq(dc_worker_new(t_store(), "t", source, &o, &w), DC_OK);
    return w;
}

static char *key_of(int (*fn)(const char *, const char *, const char *, char **), const char *ns,
                    const char *source)
{
    char *k;
    ck_assert_int_eq(fn(ns, "t", source, &k), DC_OK);
    return k;
}

/* Write source's operation as the master would; returns its revision. */
static int64_t put_op(const char *ns, const char *source, const char *lock, int exec, int done)
{
    dc_operation *op;
    ck_assert_int_eq(dc_operation_new(lock, "t", source, &DDL, 1, exec, done, &op), DC_OK);
    char *json, *key = key_of(dc_operation_key, ns, source);
    ck_assert_int_eq(dc_operation_encode(op, &json), DC_OK);
    int64_t rev = 0;
    ck_assert_int_eq(dc_put(t_store(), key, strlen(key), json, strlen(json), 0, &rev), DC_OK);
    dc_operation_free(op);
    free(json);
    free(key);
    return rev;
}

static int64_t del_key(int (*fn)(const char *, const char *, const char *, char **), const char *ns,
                       const char *source)
{
    char *key = key_of(fn, ns, source);
    int64_t rev = 0;
    ck_assert_int_eq(dc_delete(t_store(), key, strlen(key), 0, NULL, &rev), DC_OK);
    free(key);
    return rev;
}

static int key_exists(int (*fn)(const char *, const char *, const char *, char **), const char *ns,
                      const char *source)
{
    char *key = key_of(fn, ns, source);
    dc_kvs *kvs;
    ck_assert_int_eq(dc_get(t_store(), key, strlen(key), DC_COUNT_ONLY, 0, &kvs), DC_OK);
    int n = (int)kvs->count;
    dc_kvs_free(kvs);
    free(key);
    return n;
}

/* One whole DDL of w on table, the test acting as the master: put info, the
 * operation, wait, mark executed, mark done, and (unless keep_op) step 10. */
static void ddl_by_hand(dc_worker *w, const char *ns, const char *table, const char *pos,
                        int keep_op)
{
    char lock[64];
    snprintf(lock, sizeof lock, "t-`db`.`%s`", table);
    int rc = dc_worker_put_info(w, "db", table, &DDL, 1, pos, T_TIMEOUT, NULL);
    ck_assert_msg(rc == DC_OK, "put info: %s: %s", dc_errname(rc), dc_last_error());
    put_op(ns, "a", lock, 1, 0);
    dc_operation *op;
    ck_assert_int_eq(dc_worker_wait_operation(w, T_TIMEOUT, &op), DC_OK);
    ck_assert_str_eq(op->id, lock);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_mark_executed(w, T_TIMEOUT), DC_OK);
    ck_assert_int_eq(dc_worker_mark_done(w, T_TIMEOUT, NULL), DC_OK);
    if (!keep_op) del_key(dc_operation_key, ns, "a");
}

START_TEST(kept_worker_with_a_stale_marker_still_answers_resolved_and_writes_nothing)
{
    const char *ns = t_ns("kept-marker");
    dc_worker *w = kept_worker(ns, "a"), *other = kept_worker(ns, "a");
    ddl_by_hand(w, ns, "tbl_1", "p1", 0);
    /* A restarted process for the same source resolves tbl_2 at p2: w still
     * believes the marker it wrote for tbl_1. */
    ddl_by_hand(other, ns, "tbl_2", "p2", 0);
    int64_t before, after;
    ck_assert_int_eq(dc_revision(t_store(), &before), DC_OK);
    int rc = dc_worker_put_info(w, "db", "tbl_2", &DDL, 1, "p2", T_TIMEOUT, NULL);
    ck_assert_msg(rc == DC_ERESOLVED, "put info: %s (%s)", dc_errname(rc), dc_last_error());
    ck_assert_int_eq(dc_revision(t_store(), &after), DC_OK);
    ck_assert_int_eq(after, before); /* nothing was written */
    ck_assert_int_eq(key_exists(dc_info_key, ns, "a"), 0);
    /* And with the belief right (its own done txn), the same answer. */
    rc = dc_worker_put_info(other, "db", "tbl_2", &DDL, 1, "p2", T_TIMEOUT, NULL);
    ck_assert_int_eq(rc, DC_ERESOLVED);
    ck_assert_int_eq(dc_revision(t_store(), &after), DC_OK);
    ck_assert_int_eq(after, before);
    /* tbl_1 at p1 is no longer what the marker says: that lock opens again. */
    ck_assert_int_eq(dc_worker_put_info(w, "db", "tbl_1", &DDL, 1, "p1", T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(key_exists(dc_info_key, ns, "a"), 1);
    dc_worker_free(w);
    dc_worker_free(other);
}
END_TEST

typedef struct later_delete {
    const char *ns;
    int64_t rev;
    pthread_t th;
} later_delete;

static void *delete_op_later(void *arg)
{
    later_delete *ld = arg;
    usleep(300 * 1000);
    ld->rev = del_key(dc_operation_key, ld->ns, "a");
    return NULL;
}

START_TEST(kept_worker_that_believes_no_operation_still_waits_for_a_done_one_to_go)
{
    const char *ns = t_ns("kept-op");
    dc_worker *w = kept_worker(ns, "a");
    ck_assert_int_eq(dc_worker_put_info(w, "db", "tbl_1", &DDL, 1, "p1", T_TIMEOUT, NULL), DC_OK);
    /* Behind w's back, a done operation of an earlier lock appears (w
     * believes the key absent); the "master" deletes it 300 ms later. */
    put_op(ns, "a", "t-`db`.`old`", 0, 1);
    later_delete ld = {ns, 0, 0};
    ck_assert_int_eq(pthread_create(&ld.th, NULL, delete_op_later, &ld), 0);
    int64_t w1 = 0;
    int rc = dc_worker_put_info(w, "db", "tbl_2", &DDL, 1, "p2", T_TIMEOUT, &w1);
    pthread_join(ld.th, NULL);
    ck_assert_msg(rc == DC_OK, "put info: %s (%s)", dc_errname(rc), dc_last_error());
    ck_assert_msg(w1 > ld.rev, "info put at %lld, before the done operation went at %lld",
                  (long long)w1, (long long)ld.rev);
    dc_worker_free(w);
}
END_TEST

START_TEST(kept_worker_waiting_from_compacted_history_reads_again)
{
    const char *ns = t_ns("kept-compact");
    dc_worker *w = kept_worker(ns, "a");
    /* Its operation is there before it waits: no watch is open, and w
     * believes its done operation is still there after step 10. */
    ddl_by_hand(w, ns, "tbl_1", "p1", 0);
    char *junk = key_of(dc_conflict_key, ns, "zz");
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(dc_put(t_store(), junk, strlen(junk), "x", 1, 0, NULL), DC_OK);
    free(junk);
    const char *uri = getenv("DDLCOORD_TEST_STORE");
    int64_t rev;
    ck_assert_int_eq(dc_revision(t_store(), &rev), DC_OK);
    /* Only the embedded store is compacted: the servers are shared. There the
     * watch just delivers the deletion; here it cannot start. */
    if (uri && strncmp(uri, "mem:", 4) == 0) ck_assert_int_eq(dc_compact(t_store(), rev), DC_OK);
    int64_t w1 = 0;
    int rc = dc_worker_put_info(w, "db", "tbl_2", &DDL, 1, "p2", 5000, &w1);
    ck_assert_msg(rc == DC_OK, "put info: %s (%s)", dc_errname(rc), dc_last_error());
    ck_assert_int_gt(w1, rev);
    ck_assert_int_eq(key_exists(dc_info_key, ns, "a"), 1);
    dc_worker_free(w);
}
END_TEST

START_TEST(kept_worker_sees_its_info_removed_and_its_operation_replaced_while_waiting)
{
    const char *ns = t_ns("kept-removed");
    dc_worker *w = kept_worker(ns, "a");
    ddl_by_hand(w, ns, "tbl_1", "p1", 0);
    /* Second DDL: w waits for the first one's done operation to go, then for
     * its own operation, on watches it keeps from then on. */
    ck_assert_int_eq(dc_worker_put_info(w, "db", "tbl_2", &DDL, 1, "p2", T_TIMEOUT, NULL), DC_OK);
    dc_operation *op = NULL;
    int64_t t0 = now_ms();
    ck_assert_int_eq(dc_worker_wait_operation(w, 300, &op), DC_ETIMEDOUT);
    ck_assert_int_lt(now_ms() - t0, 5000);
    /* An operation of another lock, then the info removed by hand. */
    put_op(ns, "a", "t-`db`.`other`", 1, 0);
    del_key(dc_info_key, ns, "a");
    int rc = dc_worker_wait_operation(w, T_TIMEOUT, &op);
    ck_assert_msg(rc == DC_ENOTFOUND, "wait: %s (%s)", dc_errname(rc), dc_last_error());
    ck_assert_ptr_null(op);
    /* Report again: the foreign operation is not done, so the info goes in;
     * then ours replaces it and the wait hands it out. */
    ck_assert_int_eq(dc_worker_put_info(w, "db", "tbl_2", &DDL, 1, "p2", T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_wait_operation(w, 200, &op), DC_ETIMEDOUT);
    int64_t r = put_op(ns, "a", "t-`db`.`tbl_2`", 0, 0);
    ck_assert_int_eq(dc_worker_wait_operation(w, T_TIMEOUT, &op), DC_OK);
    ck_assert_int_eq(op->exec, 0);
    dc_operation_free(op);
    /* Replaced once more behind its back before step 6 is recorded. */
    put_op(ns, "a", "t-`db`.`tbl_2`", 1, 0);
    ck_assert_int_eq(dc_worker_mark_executed(w, T_TIMEOUT), DC_ECHANGED);
    ck_assert_int_eq(dc_worker_wait_operation(w, T_TIMEOUT, &op), DC_OK);
    ck_assert_int_eq(op->exec, 1); /* the current one, not the one it had */
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_mark_executed(w, T_TIMEOUT), DC_OK);
    int64_t w2 = 0;
    ck_assert_int_eq(dc_worker_mark_done(w, T_TIMEOUT, &w2), DC_OK);
    ck_assert_int_gt(w2, r);
    dc_worker_free(w);
}
END_TEST

START_TEST(kept_worker_rerun_after_crash_in_step7_finishes_and_resolves)
{
    const char *ns = t_ns("kept-rerun");
    dc_worker *w = kept_worker(ns, "a");
    ddl_by_hand(w, ns, "tbl_1", "p1", 0);
    /* tbl_2: executed and recorded, then "crashed" before the done txn; the
     * same worker object re-sends the DDL at the same position. */
    ck_assert_int_eq(dc_worker_put_info(w, "db", "tbl_2", &DDL, 1, "p2", T_TIMEOUT, NULL), DC_OK);
    put_op(ns, "a", "t-`db`.`tbl_2`", 1, 0);
    dc_operation *op;
    ck_assert_int_eq(dc_worker_wait_operation(w, T_TIMEOUT, &op), DC_OK);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_mark_executed(w, T_TIMEOUT), DC_OK);
    int rc = dc_worker_put_info(w, "db", "tbl_2", &DDL, 1, "p2", T_TIMEOUT, NULL);
    ck_assert_msg(rc == DC_ERESOLVED, "re-run: %s (%s)", dc_errname(rc), dc_last_error());
    ck_assert_int_eq(key_exists(dc_info_key, ns, "a"), 0); /* the done txn deleted it */
    ck_assert_int_eq(t_op_exec(ns, "t", "a"), 1);          /* marked done, left for step 10 */
    dc_worker_free(w);
}
END_TEST

static void teardown(void)
{
    t_store_close();
}

Suite *suite_reentrant(void)
{
    Suite *s = suite_create("reentrant");
    TCase *tc = tcase_create("reentrant");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, reentrant_worker_crash_before_step6_rerun_is_fine);
    tcase_add_test(tc, reentrant_worker_crash_in_step6_canceled_rerun_is_fine);
    tcase_add_test(tc, reentrant_worker_crash_in_step6_after_exec_reexecution_is_tolerated);
    tcase_add_test(tc, reentrant_worker_crash_in_step7_before_flush_skips_without_reexecution);
    tcase_add_test(tc, reentrant_worker_crash_in_step7_needs_no_unlock);
    tcase_add_test(tc, reentrant_worker_crash_in_step8_before_commit_recovers_with_next_ddl);
    tcase_add_test(tc, reentrant_worker_crash_in_step8_after_commit_rerun_is_fine);
    tcase_add_test(tc, reentrant_worker_restart_after_step8_goes_on_with_the_next_ddl);
    tcase_add_test(tc, reentrant_master_crash_at_any_step_rerun_is_fine);
    tcase_add_test(tc, reentrant_master_restart_never_overwrites_a_done_operation);
    tcase_add_test(tc, reentrant_master_restart_restores_the_owner_from_its_exec_operation);
    tcase_add_test(tc, reentrant_master_crash_in_step10_leftovers_do_not_leak_into_the_next_lock);
    suite_add_tcase(s, tc);
    TCase *kept = tcase_create("kept worker");
    tcase_add_checked_fixture(kept, NULL, teardown);
    tcase_set_timeout(kept, 120);
    tcase_add_test(kept, kept_worker_with_a_stale_marker_still_answers_resolved_and_writes_nothing);
    tcase_add_test(kept, kept_worker_that_believes_no_operation_still_waits_for_a_done_one_to_go);
    tcase_add_test(kept, kept_worker_waiting_from_compacted_history_reads_again);
    tcase_add_test(kept,
                   kept_worker_sees_its_info_removed_and_its_operation_replaced_while_waiting);
    tcase_add_test(kept, kept_worker_rerun_after_crash_in_step7_finishes_and_resolves);
    suite_add_tcase(s, kept);
    return s;
}
