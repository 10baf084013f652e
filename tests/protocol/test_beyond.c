/*
 * Where ddlcoord goes beyond DM (docs/DESIGN.md, "Beyond DM"): each test would fail on DM's
 * behaviour — a mismatched DDL gets a typed conflict instead of being
 * dropped; a done operation is never overwritten while masters and workers
 * write at once; a resolved position is answered without opening a lock;
 * removing a source releases the locks waiting for it; corrupt values are
 * reported while other locks go on; a deposed (fenced-off) master stops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static const char *DDL = "ALTER TABLE tbl ADD COLUMN c1 INT";
static const char *BAD_DDL = "ALTER TABLE tbl ADD COLUMN c1 BIGINT";

static dc_worker *new_worker(const char *ns, const char *task, const char *source, t_rec *rec)
{
    dc_worker_options o = {.ns = ns, .on_step = rec ? t_rec_cb : NULL, .step_userdata = rec};
    dc_worker *w;
    ck_assert_int_eq(dc_worker_new(t_store(), task, source, &o, &w), DC_OK);
    return w;
}

static void put_raw(const char *key, const char *value, size_t len)
{
    ck_assert_int_eq(dc_put(t_store(), key, strlen(key), value, len, 0, NULL), DC_OK);
}

/* Drive one worker through exec/skip and done by hand. */
static int finish_by_hand(dc_worker *w, t_down *down)
{
    dc_operation *op;
    int rc = dc_worker_wait_operation(w, T_TIMEOUT, &op);
    if (rc) return rc;
    t_down_exec(op, down);
    int exec = op->exec;
    dc_operation_free(op);
    rc = dc_worker_mark_executed(w, T_TIMEOUT);
    if (!rc) rc = dc_worker_mark_done(w, T_TIMEOUT, NULL);
    return rc ? rc : exec;
}

START_TEST(conflict_mismatched_ddl_is_returned_to_the_worker_and_listed)
{
    const char *ns = t_ns("conflict");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    dc_worker *a = new_worker(ns, "t", "a", NULL), *b = new_worker(ns, "t", "b", NULL);
    ck_assert_int_eq(dc_worker_put_info(a, "db", "tbl", &DDL, 1, "p1", T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(b, "db", "tbl", &BAD_DDL, 1, "p1", T_TIMEOUT, NULL), DC_OK);
    dc_operation *op = NULL;
    int rc = dc_worker_wait_operation(b, T_TIMEOUT, &op);
    ck_assert_msg(rc == DC_ECONFLICT, "b's wait: %s (DM drops the mismatch silently)",
                  dc_errname(rc));
    ck_assert_ptr_null(op);
    ck_assert_ptr_nonnull(strstr(dc_worker_conflict(b), "BIGINT"));
    /* The lock list shows it, from the master and from the store alone. */
    dc_lock_status *st;
    size_t n;
    ck_assert_int_eq(dc_master_locks(tm.m, "t", &st, &n), DC_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(st[0].owner, "a");
    ck_assert_int_eq(st[0].synced, 0);
    ck_assert_str_eq(st[0].sources[1].source, "b");
    ck_assert_uint_eq(st[0].sources[1].n_conflict_ddls, 1);
    ck_assert_str_eq(st[0].sources[1].conflict_ddls[0], BAD_DDL);
    dc_lock_status_free_array(st, n);
    ck_assert_int_eq(dc_locks_read(t_store(), ns, "t", &st, &n, NULL), DC_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(st[0].sources[1].n_conflict_ddls, 1);
    dc_lock_status_free_array(st, n);
    /* b corrects its report: the lock syncs and runs. */
    ck_assert_int_eq(dc_worker_put_info(b, "db", "tbl", &DDL, 1, "p1", T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(finish_by_hand(a, &down), 1);
    ck_assert_int_eq(finish_by_hand(b, &down), 0);
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(t_down_count(&down, "t-`db`.`tbl`", DDL), 1);
    char *cf;
    ck_assert_int_eq(dc_conflict_key(ns, "t", NULL, &cf), DC_OK);
    ck_assert_int_eq(t_count_prefix(cf), 0); /* the report went with the correction */
    free(cf);
    dc_worker_free(a);
    dc_worker_free(b);
    t_master_stop(&tm);
}
END_TEST

/* The same mismatch, but both reports are in the store before the master
 * starts: the rebuild from its first read must report the conflict too. */
START_TEST(conflict_already_in_the_store_at_master_start_is_reported)
{
    const char *ns = t_ns("conflict-start");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    dc_worker *a = new_worker(ns, "t", "a", NULL), *b = new_worker(ns, "t", "b", NULL);
    ck_assert_int_eq(dc_worker_put_info(a, "db", "tbl", &DDL, 1, "p1", T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(b, "db", "tbl", &BAD_DDL, 1, "p1", T_TIMEOUT, NULL), DC_OK);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    dc_operation *op = NULL;
    int rc = dc_worker_wait_operation(b, T_TIMEOUT, &op);
    ck_assert_msg(rc == DC_ECONFLICT, "b's wait: %s", dc_errname(rc));
    ck_assert_ptr_null(op);
    dc_lock_status *st;
    size_t n;
    ck_assert_int_eq(dc_locks_read(t_store(), ns, "t", &st, &n, NULL), DC_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(st[0].sources[1].n_conflict_ddls, 1);
    dc_lock_status_free_array(st, n);
    dc_worker_free(a);
    dc_worker_free(b);
    t_master_stop(&tm);
}
END_TEST

START_TEST(no_done_operation_is_overwritten_by_concurrent_masters_and_workers)
{
    enum { N = 6, T = 3 };
    const char *ns = t_ns("concurrent");
    static char names[N][16];
    const char *srcs[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "s%d", i);
        srcs[i] = names[i];
    }
    static const char *tables[T] = {"t1", "t2", "t3"};
    t_task(ns, "t", srcs, N);
    char *ops;
    ck_assert_int_eq(dc_operation_key(ns, "t", NULL, &ops), DC_OK);
    int64_t start;
    ck_assert_int_eq(dc_revision(t_store(), &start), DC_OK);
    dc_watch *wt;
    ck_assert_int_eq(dc_watch_open(t_store(), ops, strlen(ops), start + 1, DC_PREFIX, &wt), DC_OK);
    /* Two masters (no fencing) racing each other and the workers. */
    t_master m1, m2;
    t_master_start(&m1, ns, NULL);
    t_master_start(&m2, ns, NULL);
    t_down down;
    t_down_init(&down);
    t_worker ws[N];
    for (int i = 0; i < N; i++) {
        ws[i] = (t_worker){.ns = ns,
                           .task = "t",
                           .source = srcs[i],
                           .schema = "db",
                           .tables = tables,
                           .n_tables = T,
                           .ddl = DDL,
                           .down = &down};
        t_worker_start(&ws[i]);
    }
    for (int i = 0; i < N; i++) ck_assert_int_eq(t_worker_join(&ws[i]), DC_OK);
    t_wait_no_locks(m1.m);
    t_wait_no_locks(m2.m);
    t_master_stop(&m1);
    t_master_stop(&m2);
    for (int j = 0; j < T; j++) {
        char lock[32];
        snprintf(lock, sizeof lock, "t-`db`.`%s`", tables[j]);
        ck_assert_int_eq(t_down_count(&down, lock, DDL), 1);
    }
    /* Replay every change of the operation keys: once a key holds a done
     * operation, the next change of that key must be its deletion. */
    char done_id[N][64];
    memset(done_id, 0, sizeof done_id);
    /* A sentinel key under the prefix marks the end of the history to check. */
    char sentinel[512];
    snprintf(sentinel, sizeof sentinel, "%sff", ops);
    put_raw(sentinel, "end", 3);
    int64_t seen = start;
    for (int end = 0; !end;) {
        dc_events *ev;
        int rc = dc_watch_next(wt, 5000, &ev);
        ck_assert_int_eq(rc, DC_OK);
        for (size_t i = 0; i < ev->n; i++) {
            const dc_event *e = &ev->events[i];
            seen = e->kv.mod_revision;
            if (strcmp(e->kv.key, sentinel) == 0) {
                end = 1;
                break;
            }
            int k = -1;
            for (int s = 0; s < N; s++) {
                char *key;
                dc_operation_key(ns, "t", srcs[s], &key);
                if (strcmp(key, e->kv.key) == 0) k = s;
                free(key);
            }
            ck_assert_int_ge(k, 0);
            if (e->type == DC_EVENT_DELETE) {
                done_id[k][0] = '\0';
                continue;
            }
            ck_assert_msg(done_id[k][0] == '\0', "%s: done operation of %s overwritten at %lld",
                          e->kv.key, done_id[k], (long long)seen);
            dc_operation *op;
            ck_assert_int_eq(dc_operation_decode(e->kv.key, e->kv.value, e->kv.value_len, &op),
                             DC_OK);
            if (op->done) snprintf(done_id[k], sizeof done_id[k], "%s", op->id);
            dc_operation_free(op);
        }
        dc_events_free(ev);
    }
    dc_watch_close(wt);
    ck_assert_int_eq(dc_delete(t_store(), sentinel, strlen(sentinel), 0, NULL, NULL), DC_OK);
    free(ops);
}
END_TEST

START_TEST(resolved_position_is_skipped_without_opening_a_lock)
{
    const char *ns = t_ns("resolved");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    t_rec rec;
    t_rec_init(&rec);
    t_master tm;
    t_master_start(&tm, ns, &rec);
    t_down down;
    t_down_init(&down);
    dc_worker *a = new_worker(ns, "t", "a", &rec), *b = new_worker(ns, "t", "b", &rec);
    ck_assert_int_eq(dc_worker_put_info(a, "db", "tbl", &DDL, 1, "pos-7", T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(b, "db", "tbl", &DDL, 1, "pos-7", T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(finish_by_hand(a, &down), 1);
    ck_assert_int_eq(finish_by_hand(b, &down), 0);
    t_wait_no_locks(tm.m);
    /* a replays from an old checkpoint: same DDL, same position. DM would
     * open a lock that nobody else ever joins. */
    int64_t rev = -1;
    ck_assert_int_eq(dc_worker_put_info(a, "db", "tbl", &DDL, 1, "pos-7", T_TIMEOUT, &rev),
                     DC_ERESOLVED);
    ck_assert_int_eq(rev, 0);
    char *info;
    ck_assert_int_eq(dc_info_key(ns, "t", NULL, &info), DC_OK);
    ck_assert_int_eq(t_count_prefix(info), 0);
    ck_assert_int_eq(t_rec_count(&rec, "master", 3, "t-`db`.`tbl`", "a"), 1);
    /* A different position is a new DDL: it does open a lock. */
    ck_assert_int_eq(dc_worker_put_info(a, "db", "tbl", &DDL, 1, "pos-9", T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(t_count_prefix(info), 1);
    ck_assert_int_eq(dc_worker_delete_info(a, T_TIMEOUT), DC_OK);
    free(info);
    dc_worker_free(a);
    dc_worker_free(b);
    t_master_stop(&tm);
    t_rec_free(&rec);
}
END_TEST

START_TEST(removing_a_source_releases_the_locks_waiting_for_it)
{
    const char *ns = t_ns("removesrc");
    const char *srcs[] = {"a", "b", "gone"};
    t_task(ns, "t", srcs, 3);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    dc_worker *a = new_worker(ns, "t", "a", NULL), *b = new_worker(ns, "t", "b", NULL);
    ck_assert_int_eq(dc_worker_put_info(a, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(b, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    dc_operation *op = NULL;
    ck_assert_int_eq(dc_worker_wait_operation(a, 300, &op), DC_ETIMEDOUT); /* waits for "gone" */
    const char *gone = "gone";
    ck_assert_int_eq(dc_task_remove(t_store(), ns, "t", &gone, 1), DC_OK);
    ck_assert_int_eq(finish_by_hand(a, &down), 1);
    ck_assert_int_eq(finish_by_hand(b, &down), 0);
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(t_down_count(&down, "t-`db`.`tbl`", DDL), 1);
    char **left;
    size_t n;
    ck_assert_int_eq(dc_task_sources(t_store(), ns, "t", &left, &n), DC_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(left[1], "b");
    dc_strings_free(left, n);
    dc_worker_free(a);
    dc_worker_free(b);
    t_master_stop(&tm);
}
END_TEST

START_TEST(corrupt_values_are_reported_and_other_locks_go_on)
{
    const char *ns = t_ns("corrupt");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    char *k1, *k2, *k3;
    ck_assert_int_eq(dc_info_key(ns, "other", "x", &k1), DC_OK);
    ck_assert_int_eq(dc_operation_key(ns, "other", "y", &k2), DC_OK);
    ck_assert_int_eq(dc_info_key(ns, "other", "z", &k3), DC_OK);
    put_raw(k1, "{\"task\":", 8); /* before the master starts: seen by the rebuild */
    t_master tm;
    t_master_start(&tm, ns, NULL);
    put_raw(k2, "{\"id\":7}", 8); /* after: seen by the watch */
    /* A valid info under the wrong key (it names source a of task t). */
    char *k4, *misplaced;
    ck_assert_int_eq(dc_info_key(ns, "other", "w", &k4), DC_OK);
    dc_info *inf;
    ck_assert_int_eq(dc_info_new("t", "a", "db", "tbl", &DDL, 1, &inf), DC_OK);
    ck_assert_int_eq(dc_info_encode(inf, &misplaced), DC_OK);
    dc_info_free(inf);
    put_raw(k4, misplaced, strlen(misplaced));
    free(misplaced);
    size_t big = DC_PESS_MAX_VALUE + 16;
    char *huge = malloc(big);
    ck_assert_ptr_nonnull(huge);
    memset(huge, '[', big);
    int rc = dc_put(t_store(), k3, strlen(k3), huge, big, 0, NULL);
    ck_assert(rc == DC_OK || rc == DC_ETOOBIG); /* a backend may refuse it first */
    free(huge);
    t_down down;
    t_down_init(&down);
    dc_worker *a = new_worker(ns, "t", "a", NULL), *b = new_worker(ns, "t", "b", NULL);
    ck_assert_int_eq(dc_worker_put_info(a, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(b, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(finish_by_hand(a, &down), 1);
    ck_assert_int_eq(finish_by_hand(b, &down), 0);
    t_wait_no_locks(tm.m);
    char **probs;
    size_t n;
    ck_assert_int_eq(dc_master_problems(tm.m, &probs, &n), DC_OK);
    ck_assert_uint_ge(n, 2);
    int found1 = 0, found2 = 0, found4 = 0;
    for (size_t i = 0; i < n; i++) {
        found1 |= strstr(probs[i], k1) != NULL;
        found2 |= strstr(probs[i], k2) != NULL;
        found4 |= strstr(probs[i], k4) != NULL;
    }
    ck_assert(found1 && found2 && found4);
    dc_strings_free(probs, n);
    /* Deleting a bad value clears its report. */
    ck_assert_int_eq(dc_delete(t_store(), k1, strlen(k1), 0, NULL, NULL), DC_OK);
    for (int i = 0; i < 500; i++) {
        ck_assert_int_eq(dc_master_problems(tm.m, &probs, &n), DC_OK);
        int still = 0;
        for (size_t j = 0; j < n; j++) still |= strstr(probs[j], k1) != NULL;
        dc_strings_free(probs, n);
        if (!still) break;
        ck_assert_int_lt(i, 499);
        usleep(10000);
    }
    dc_worker_free(a);
    dc_worker_free(b);
    t_master_stop(&tm);
    free(k1);
    free(k2);
    free(k3);
    free(k4);
}
END_TEST

START_TEST(fenced_off_master_writes_fail_and_it_stops_with_echanged)
{
    const char *ns = t_ns("fence");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    char fence[256];
    snprintf(fence, sizeof fence, "%s/ddlcoord/election/leader", ns);
    int64_t rev;
    ck_assert_int_eq(dc_put(t_store(), fence, strlen(fence), "me", 2, 0, &rev), DC_OK);
    dc_master_options o = {.ns = ns, .fence_key = fence, .fence_create_revision = rev};
    t_master tm = {0};
    ck_assert_int_eq(dc_master_new(t_store(), &o, &tm.m), DC_OK);
    /* While the guard holds, the master coordinates. */
    t_down down;
    t_down_init(&down);
    dc_worker *a = new_worker(ns, "t", "a", NULL), *b = new_worker(ns, "t", "b", NULL);
    ck_assert_int_eq(dc_worker_put_info(a, "db", "t1", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(b, "db", "t1", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    dc_operation *op = NULL;
    for (int i = 0; i < T_TIMEOUT / 50 && !op; i++) {
        ck_assert_int_eq(dc_master_run(tm.m, 50), DC_OK);
        if (dc_worker_wait_operation(a, 0, &op) != DC_OK) op = NULL;
    }
    ck_assert_ptr_nonnull(op);
    dc_operation_free(op);
    /* Another master takes over: the key is re-created. */
    ck_assert_int_eq(dc_delete(t_store(), fence, strlen(fence), 0, NULL, NULL), DC_OK);
    ck_assert_int_eq(dc_put(t_store(), fence, strlen(fence), "other", 5, 0, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_mark_executed(a, T_TIMEOUT), DC_OK);
    ck_assert_int_eq(dc_worker_mark_done(a, T_TIMEOUT, NULL), DC_OK);
    int rc = DC_OK;
    for (int i = 0; i < T_TIMEOUT / 50 && rc == DC_OK; i++) rc = dc_master_run(tm.m, 50);
    ck_assert_int_eq(rc, DC_ECHANGED);
    ck_assert_int_eq(dc_master_run(tm.m, 10), DC_ECHANGED); /* sticky */
    ck_assert_int_eq(dc_master_remove_meta(tm.m, "t"), DC_ECHANGED);
    /* b never got its operation: the deposed master wrote nothing. */
    ck_assert_int_eq(dc_worker_wait_operation(b, 200, &op), DC_ETIMEDOUT);
    dc_worker_free(a);
    dc_worker_free(b);
    dc_master_free(tm.m);
}
END_TEST

/* In its first step-1 callback (after the read, before the watch opens), a
 * and b report and the store is compacted past M1: the master's watch starts
 * in compacted history, and it must rebuild from a fresh read, not fail. */
typedef struct compact_ctx {
    dc_worker *a, *b;
    int calls;
    int rc;
    int compacted; /* the store really dropped the history after M1 */
} compact_ctx;

static int compact_on_step(const dc_step *st, void *ud)
{
    compact_ctx *c = ud;
    if (st->step != 1 || c->calls++ > 0) return 0;
    c->rc = dc_worker_put_info(c->a, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL);
    if (!c->rc) c->rc = dc_worker_put_info(c->b, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL);
    int64_t rev = 0;
    if (!c->rc) c->rc = dc_revision(t_store(), &rev);
    if (!c->rc) c->rc = dc_compact(t_store(), rev);
    /* Some backends compact in chunks and keep more history than asked:
     * probe whether a watch from M1 + 1 is really gone. */
    dc_watch *probe;
    if (!c->rc) c->rc = dc_watch_open(t_store(), "/", 1, st->revision + 1, DC_PREFIX, &probe);
    if (!c->rc) {
        dc_events *ev = NULL;
        c->compacted = dc_watch_next(probe, 2000, &ev) == DC_ECOMPACTED;
        dc_events_free(ev);
        dc_watch_close(probe);
    }
    return 0;
}

START_TEST(master_rebuilds_from_a_fresh_read_when_its_watch_is_compacted)
{
    const char *ns = t_ns("compacted");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    compact_ctx c = {.a = new_worker(ns, "t", "a", NULL), .b = new_worker(ns, "t", "b", NULL)};
    dc_master_options o = {.ns = ns, .on_step = compact_on_step, .step_userdata = &c};
    dc_master *m;
    ck_assert_int_eq(dc_master_new(t_store(), &o, &m), DC_OK);
    t_down down;
    t_down_init(&down);
    /* Run the master from this thread in slices, a step at a time. */
    dc_operation *op = NULL;
    for (int i = 0; i < 200 && !op; i++) {
        ck_assert_int_eq(dc_master_run(m, 50), DC_OK);
        ck_assert_int_eq(c.rc, DC_OK);
        if (dc_worker_wait_operation(c.a, 0, &op) != DC_OK) op = NULL;
    }
    ck_assert_ptr_nonnull(op);
    /* mem:// compacts exactly; other backends may keep a chunk more. */
    if (strcmp(dc_store_backend(t_store()), "mem") == 0) ck_assert(c.compacted);
    if (c.compacted) ck_assert_int_ge(c.calls, 2); /* step 1 ran again: the rebuild */
    ck_assert_int_eq(op->exec, 1);
    dc_operation_free(op);
    op = NULL;
    ck_assert_int_eq(dc_worker_mark_executed(c.a, T_TIMEOUT), DC_OK);
    ck_assert_int_eq(dc_worker_mark_done(c.a, T_TIMEOUT, NULL), DC_OK);
    for (int i = 0; i < 200 && !op; i++) {
        ck_assert_int_eq(dc_master_run(m, 50), DC_OK);
        if (dc_worker_wait_operation(c.b, 0, &op) != DC_OK) op = NULL;
    }
    ck_assert_ptr_nonnull(op);
    ck_assert_int_eq(op->exec, 0);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_mark_done(c.b, T_TIMEOUT, NULL), DC_OK);
    dc_lock_status *st;
    size_t n = 1;
    for (int i = 0; i < 200 && n; i++) {
        ck_assert_int_eq(dc_master_run(m, 50), DC_OK);
        ck_assert_int_eq(dc_master_locks(m, NULL, &st, &n), DC_OK);
        dc_lock_status_free_array(st, n);
    }
    ck_assert_uint_eq(n, 0);
    dc_worker_free(c.a);
    dc_worker_free(c.b);
    dc_master_free(m);
}
END_TEST

START_TEST(removing_the_owner_hands_the_lock_over_and_deletes_its_operation)
{
    const char *ns = t_ns("removeowner");
    const char *srcs[] = {"a", "b", "c"};
    t_task(ns, "t", srcs, 3);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    dc_worker *w[3];
    for (int i = 0; i < 3; i++) {
        w[i] = new_worker(ns, "t", srcs[i], NULL);
        ck_assert_int_eq(dc_worker_put_info(w[i], "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL),
                         DC_OK);
    }
    dc_operation *op;
    ck_assert_int_eq(dc_worker_wait_operation(w[0], T_TIMEOUT, &op), DC_OK);
    ck_assert_int_eq(op->exec, 1);
    dc_operation_free(op);
    /* a leaves the task before executing: b (smallest synced) takes over. */
    ck_assert_int_eq(dc_task_remove(t_store(), ns, "t", srcs, 1), DC_OK);
    ck_assert_int_eq(finish_by_hand(w[1], &down), 1);
    ck_assert_int_eq(finish_by_hand(w[2], &down), 0);
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(t_down_count(&down, "t-`db`.`tbl`", DDL), 1);
    char *key;
    ck_assert_int_eq(dc_operation_key(ns, "t", "a", &key), DC_OK);
    t_wait_gone(key);
    free(key);
    for (int i = 0; i < 3; i++) dc_worker_free(w[i]);
    t_master_stop(&tm);
}
END_TEST

/* Every event the master handles before x's step 3 of another task's lock
 * has been handled: a barrier for "the master has seen what came before". */
static void barrier(const char *ns, t_rec *rec, const char *x)
{
    t_task(ns, x, &x, 1);
    dc_worker *w = new_worker(ns, x, x, NULL);
    ck_assert_int_eq(dc_worker_put_info(w, "db", "barrier", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    t_wait_step(rec, "master", 3, x);
    t_down down;
    t_down_init(&down);
    ck_assert_int_eq(finish_by_hand(w, &down), 1);
    dc_worker_free(w);
}

START_TEST(removing_an_owner_that_executed_never_gives_exec_to_another_source)
{
    const char *ns = t_ns("removedone");
    const char *srcs[] = {"a", "b", "c"};
    t_task(ns, "t", srcs, 3);
    t_rec rec;
    t_rec_init(&rec);
    t_master tm;
    t_master_start(&tm, ns, &rec);
    t_down down;
    t_down_init(&down);
    dc_worker *w[3];
    for (int i = 0; i < 3; i++) {
        w[i] = new_worker(ns, "t", srcs[i], NULL);
        ck_assert_int_eq(dc_worker_put_info(w[i], "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL),
                         DC_OK);
    }
    ck_assert_int_eq(finish_by_hand(w[0], &down), 1);
    t_wait_step(&rec, "master", 4, "b");
    t_wait_step(&rec, "master", 4, "c");
    /* a ran the DDL and leaves the task: b becomes the owner, but the DDL
     * already ran downstream, so b must keep exec=false (DM never re-runs it). */
    ck_assert_int_eq(dc_task_remove(t_store(), ns, "t", srcs, 1), DC_OK);
    barrier(ns, &rec, "x1");
    ck_assert_int_eq(t_op_exec(ns, "t", "b"), 0);
    ck_assert_int_eq(t_op_exec(ns, "t", "c"), 0);
    /* The same after a restart, rebuilt from the store alone. */
    t_master_stop(&tm);
    t_master_start(&tm, ns, &rec);
    barrier(ns, &rec, "x2");
    ck_assert_int_eq(t_op_exec(ns, "t", "b"), 0);
    ck_assert_int_eq(t_op_exec(ns, "t", "c"), 0);
    ck_assert_int_eq(finish_by_hand(w[1], &down), 0);
    ck_assert_int_eq(finish_by_hand(w[2], &down), 0);
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(down.exec_calls, 1);
    ck_assert_int_eq(down.tolerated, 0);
    for (int i = 0; i < 3; i++) dc_worker_free(w[i]);
    t_master_stop(&tm);
    t_rec_free(&rec);
}
END_TEST

START_TEST(mark_done_retried_after_it_committed_is_idempotent)
{
    const char *ns = t_ns("idempotent");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    dc_worker *a = new_worker(ns, "t", "a", NULL), *b = new_worker(ns, "t", "b", NULL);
    ck_assert_int_eq(dc_worker_put_info(a, "db", "tbl", &DDL, 1, "p", T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(b, "db", "tbl", &DDL, 1, "p", T_TIMEOUT, NULL), DC_OK);
    dc_operation *op;
    ck_assert_int_eq(dc_worker_wait_operation(a, T_TIMEOUT, &op), DC_OK);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_mark_executed(a, T_TIMEOUT), DC_OK);
    int64_t r1 = 0, r2 = 0;
    ck_assert_int_eq(dc_worker_mark_done(a, T_TIMEOUT, &r1), DC_OK);
    /* As if the answer had been lost: the retry finds its own commit. */
    ck_assert_int_eq(dc_worker_mark_done(a, T_TIMEOUT, &r2), DC_OK);
    ck_assert_int_gt(r1, 0);
    ck_assert_int_ge(r2, r1);
    ck_assert_int_eq(finish_by_hand(b, &down), 0);
    t_wait_no_locks(tm.m);
    dc_worker_free(a);
    dc_worker_free(b);
    t_master_stop(&tm);
}
END_TEST

START_TEST(put_info_waits_while_a_done_operation_is_still_there)
{
    const char *ns = t_ns("waitdone");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    dc_worker *a = new_worker(ns, "t", "a", NULL), *b = new_worker(ns, "t", "b", NULL);
    ck_assert_int_eq(dc_worker_put_info(a, "db", "t1", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(b, "db", "t1", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(finish_by_hand(a, &down), 1);
    /* a's done operation stays until b is done too: its next info must wait. */
    ck_assert_int_eq(dc_worker_put_info(a, "db", "t2", &DDL, 1, NULL, 300, NULL), DC_ETIMEDOUT);
    char *info;
    ck_assert_int_eq(dc_info_key(ns, "t", "a", &info), DC_OK);
    ck_assert_int_eq(t_count_prefix(info), 0);
    ck_assert_int_eq(finish_by_hand(b, &down), 0);
    ck_assert_int_eq(dc_worker_put_info(a, "db", "t2", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(t_count_prefix(info), 1);
    ck_assert_int_eq(dc_worker_delete_info(a, T_TIMEOUT), DC_OK);
    free(info);
    dc_worker_free(a);
    dc_worker_free(b);
    t_master_stop(&tm);
}
END_TEST

typedef struct same_table_job {
    pthread_t th;
    const char *ns;
    char source[16];
    t_down *down;
    int rc;
} same_table_job;

static const char *SAME_DDLS[] = {
    "ALTER TABLE tbl ADD COLUMN c1 INT", "ALTER TABLE tbl ADD COLUMN c2 INT",
    "ALTER TABLE tbl ADD INDEX i1(c1)",  "ALTER TABLE tbl DROP COLUMN c2",
    "ALTER TABLE tbl ADD COLUMN c3 INT",
};

static void *same_table_main(void *arg)
{
    same_table_job *j = arg;
    dc_worker *w = new_worker(j->ns, "t", j->source, NULL);
    for (size_t i = 0; i < sizeof SAME_DDLS / sizeof *SAME_DDLS && j->rc == DC_OK; i++) {
        char pos[32];
        snprintf(pos, sizeof pos, "bin.1:%zu", 100 + i);
        j->rc = dc_worker_run_ddl(w, "db", "tbl", &SAME_DDLS[i], 1, pos, t_down_exec,
                                  t_down_checkpoint, j->down, T_TIMEOUT, NULL);
    }
    dc_worker_free(w);
    return NULL;
}

START_TEST(next_ddl_on_the_same_table_never_joins_the_removed_lock)
{
    /* DM bug pingcap/dm#1253: the next info of a table raced the removal of
     * its previous lock. Here every DDL reuses the same lock ID at once. */
    enum { N = 6 };
    const char *ns = t_ns("sametable");
    static char names[N][16];
    const char *srcs[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "s%d", i);
        srcs[i] = names[i];
    }
    t_task(ns, "t", srcs, N);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    same_table_job jobs[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (same_table_job){.ns = ns, .down = &down};
        memcpy(jobs[i].source, names[i], sizeof jobs[i].source);
        ck_assert_int_eq(pthread_create(&jobs[i].th, NULL, same_table_main, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(jobs[i].th, NULL);
        ck_assert_msg(jobs[i].rc == DC_OK, "%s: %s", names[i], dc_errname(jobs[i].rc));
    }
    t_wait_no_locks(tm.m);
    t_master_stop(&tm);
    for (size_t i = 0; i < sizeof SAME_DDLS / sizeof *SAME_DDLS; i++)
        ck_assert_int_eq(t_down_count(&down, "t-`db`.`tbl`", SAME_DDLS[i]), 1);
    ck_assert_int_eq(down.exec_calls, 5);
    ck_assert_int_eq(down.skip_calls, 5 * (N - 1));
}
END_TEST

START_TEST(an_owner_that_withdraws_its_info_hands_the_lock_over)
{
    const char *ns = t_ns("withdraw");
    const char *srcs[] = {"a", "b", "c"};
    t_task(ns, "t", srcs, 3);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    dc_worker *w[3];
    for (int i = 0; i < 3; i++) w[i] = new_worker(ns, "t", srcs[i], NULL);
    ck_assert_int_eq(dc_worker_put_info(w[0], "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(w[2], "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_delete_info(w[0], T_TIMEOUT), DC_OK); /* the owner withdraws */
    dc_lock_status *st = NULL;
    size_t n = 0;
    for (int i = 0; i < T_TIMEOUT / 10; i++) {
        dc_lock_status_free_array(st, n);
        ck_assert_int_eq(dc_master_locks(tm.m, "t", &st, &n), DC_OK);
        if (n == 1 && strcmp(st[0].owner, "c") == 0) break;
        usleep(10000);
    }
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(st[0].owner, "c");
    ck_assert_int_eq(st[0].sources[0].synced, 0);
    dc_lock_status_free_array(st, n);
    ck_assert_int_eq(dc_worker_put_info(w[1], "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(w[0], "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(finish_by_hand(w[2], &down), 1);
    ck_assert_int_eq(finish_by_hand(w[0], &down), 0);
    ck_assert_int_eq(finish_by_hand(w[1], &down), 0);
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(t_down_count(&down, "t-`db`.`tbl`", DDL), 1);
    for (int i = 0; i < 3; i++) dc_worker_free(w[i]);
    t_master_stop(&tm);
}
END_TEST

START_TEST(locks_wait_while_their_task_has_no_sources)
{
    /* Syncing on the reporters alone would let a later source open a second
     * lock for the same DDL and run it twice. */
    const char *ns = t_ns("nomembers");
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    dc_worker *a = new_worker(ns, "t", "a", NULL), *b = new_worker(ns, "t", "b", NULL);
    ck_assert_int_eq(dc_worker_put_info(a, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    dc_operation *op = NULL;
    ck_assert_int_eq(dc_worker_wait_operation(a, 300, &op), DC_ETIMEDOUT);
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    ck_assert_int_eq(dc_worker_wait_operation(a, 300, &op), DC_ETIMEDOUT); /* now waits for b */
    ck_assert_int_eq(dc_worker_put_info(b, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(finish_by_hand(a, &down), 1);
    ck_assert_int_eq(finish_by_hand(b, &down), 0);
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(t_down_count(&down, "t-`db`.`tbl`", DDL), 1);
    dc_worker_free(a);
    dc_worker_free(b);
    t_master_stop(&tm);
}
END_TEST

/* ---- writes behind the master's back ----
 * The master writes each operation key with a compare on what its mirror
 * believes (the store at the last event it handled), without reading first.
 * These tests change an operation key from inside the master's own step
 * callback, so the change is in the store but its event cannot have reached
 * the master before its next write: the mirror is stale on purpose. */

typedef struct behind_trigger {
    int step;
    const char *source;
    char *key;
    const char *value;
    int fired;
    int rc;
} behind_trigger;

typedef struct behind {
    t_rec rec;
    behind_trigger trig[2];
    size_t n;
    dc_master *m;
    pthread_t th;
    int rc;
} behind;

static int behind_cb(const dc_step *st, void *ud)
{
    behind *b = ud;
    int stop = t_rec_cb(st, &b->rec);
    if (strcmp(st->role, "master") != 0) return stop;
    for (size_t i = 0; i < b->n; i++) {
        behind_trigger *t = &b->trig[i];
        if (t->fired || st->step != t->step) continue;
        if (t->source && (!st->source || strcmp(st->source, t->source) != 0)) continue;
        t->fired = 1; /* no ck_assert here: this is the master's thread */
        t->rc = dc_put(t_store(), t->key, strlen(t->key), t->value, strlen(t->value), 0, NULL);
    }
    return stop;
}

static void *behind_main(void *arg)
{
    behind *b = arg;
    b->rc = dc_master_run(b->m, -1);
    return NULL;
}

static void behind_start(behind *b, const char *ns)
{
    dc_master_options o = {.ns = ns, .on_step = behind_cb, .step_userdata = b};
    ck_assert_int_eq(dc_master_new(t_store(), &o, &b->m), DC_OK);
    ck_assert_int_eq(pthread_create(&b->th, NULL, behind_main, b), 0);
    for (int i = 0; i < 6000 && dc_master_revision(b->m) == 0; i++) usleep(10000);
    ck_assert_msg(dc_master_revision(b->m) > 0, "master did not finish step 1");
}

static void behind_stop(behind *b)
{
    dc_master_stop(b->m);
    pthread_join(b->th, NULL);
    dc_master_free(b->m);
    for (size_t i = 0; i < b->n; i++) {
        ck_assert_msg(b->trig[i].fired, "trigger %zu never fired", i);
        ck_assert_int_eq(b->trig[i].rc, DC_OK);
        free(b->trig[i].key);
    }
    t_rec_free(&b->rec);
}

/* The JSON of source's operation of lock <task>-`db`.`tbl` (malloc'd). */
static char *task_op_json(const char *task, const char *source, int exec, int done)
{
    char *ddl = (char *)DDL, *json, id[64];
    snprintf(id, sizeof id, "%s-`db`.`tbl`", task);
    dc_operation op = {id, (char *)task, (char *)source, &ddl, 1, exec, done, 0};
    ck_assert_int_eq(dc_operation_encode(&op, &json), DC_OK);
    return json;
}

static char *op_json(const char *source, int exec, int done)
{
    return task_op_json("t", source, exec, done);
}

START_TEST(owner_done_behind_the_master_is_not_overwritten_by_exec_true)
{
    const char *ns = t_ns("behind-absent");
    const char *srcs[] = {"a", "b"};
    const char *lock = "t-`db`.`tbl`";
    t_task(ns, "t", srcs, 2);
    behind bh = {0};
    t_rec_init(&bh.rec);
    /* When b syncs (the lock is complete, the exec=true put is next), the
     * owner's operation appears, done: the mirror believes the key absent. */
    char *done = op_json("a", 1, 1);
    bh.trig[0] = (behind_trigger){3, "b", NULL, done, 0, 0};
    ck_assert_int_eq(dc_operation_key(ns, "t", "a", &bh.trig[0].key), DC_OK);
    bh.n = 1;
    behind_start(&bh, ns);
    t_down down;
    t_down_init(&down);
    dc_worker *a = new_worker(ns, "t", "a", NULL), *b = new_worker(ns, "t", "b", NULL);
    ck_assert_int_eq(dc_worker_put_info(a, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(b, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    /* b skips: the lost race showed the master the owner's done mark. */
    ck_assert_int_eq(finish_by_hand(b, &down), 0);
    t_wait_no_locks(bh.m);
    ck_assert_int_eq(t_rec_count(&bh.rec, "master", 4, lock, "a"), 0);
    ck_assert_int_eq(t_rec_count(&bh.rec, "master", 4, lock, "b"), 1);
    ck_assert_int_eq(t_rec_count(&bh.rec, "master", 10, lock, NULL), 1);
    ck_assert_int_eq(t_op_exec(ns, "t", "a"), -1);
    behind_stop(&bh);
    free(done);
    dc_worker_free(a);
    dc_worker_free(b);
}
END_TEST

START_TEST(done_mark_behind_a_stale_mirror_value_is_not_overwritten_by_exec_false)
{
    const char *ns = t_ns("behind-stale");
    const char *srcs[] = {"a", "b"};
    const char *lock = "t-`db`.`tbl`";
    t_task(ns, "t", srcs, 2);
    behind bh = {0};
    t_rec_init(&bh.rec);
    /* When b syncs, its operation key gets a corrupt value (the mirror learns
     * it at some revision r); when the owner is done, b's key gets a done
     * operation behind the master's back: the mirror still holds r, and a
     * corrupt value is one the master would replace. */
    char *done = op_json("b", 0, 1);
    bh.trig[0] = (behind_trigger){3, "b", NULL, "{corrupt", 0, 0};
    bh.trig[1] = (behind_trigger){9, "a", NULL, done, 0, 0};
    ck_assert_int_eq(dc_operation_key(ns, "t", "b", &bh.trig[0].key), DC_OK);
    ck_assert_int_eq(dc_operation_key(ns, "t", "b", &bh.trig[1].key), DC_OK);
    bh.n = 2;
    behind_start(&bh, ns);
    t_down down;
    t_down_init(&down);
    dc_worker *a = new_worker(ns, "t", "a", NULL), *b = new_worker(ns, "t", "b", NULL);
    ck_assert_int_eq(dc_worker_put_info(a, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_put_info(b, "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(finish_by_hand(a, &down), 1);
    t_wait_no_locks(bh.m);
    ck_assert_int_eq(t_rec_count(&bh.rec, "master", 4, lock, "a"), 1);
    ck_assert_int_eq(t_rec_count(&bh.rec, "master", 4, lock, "b"), 0);
    ck_assert_int_eq(t_rec_count(&bh.rec, "master", 10, lock, NULL), 1);
    ck_assert_int_eq(t_op_exec(ns, "t", "b"), -1);
    ck_assert_int_eq(t_down_count(&down, lock, DDL), 1);
    behind_stop(&bh);
    free(done);
    dc_worker_free(a);
    dc_worker_free(b);
}
END_TEST

/* Locks that move together have their writes committed together (txns of
 * up to 32 keys). Here four locks, one per task, are all synced when the
 * master starts, so their exec=true puts are one txn; one owner's operation
 * turns up done behind the master's back, so that txn loses its race as a
 * whole. Every lock must still end exactly once, with one exec=true at most
 * (none for the lock whose owner was already done). */
START_TEST(a_batch_of_locks_that_loses_a_race_resolves_each_lock_once)
{
    enum { L = 4 };
    const char *ns = t_ns("batch-race");
    const char *srcs[] = {"a", "b"};
    static const char *tasks[L] = {"k1", "k2", "k3", "k4"};
    dc_worker *wa[L], *wb[L];
    for (int i = 0; i < L; i++) {
        t_task(ns, tasks[i], srcs, 2);
        wa[i] = new_worker(ns, tasks[i], "a", NULL);
        wb[i] = new_worker(ns, tasks[i], "b", NULL);
        ck_assert_int_eq(dc_worker_put_info(wa[i], "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL),
                         DC_OK);
        ck_assert_int_eq(dc_worker_put_info(wb[i], "db", "tbl", &DDL, 1, NULL, T_TIMEOUT, NULL),
                         DC_OK);
    }
    behind bh = {0};
    t_rec_init(&bh.rec);
    /* Step 1 is reported before the rebuilt locks are driven. */
    char *done = task_op_json("k2", "a", 1, 1);
    bh.trig[0] = (behind_trigger){1, NULL, NULL, done, 0, 0};
    ck_assert_int_eq(dc_operation_key(ns, "k2", "a", &bh.trig[0].key), DC_OK);
    bh.n = 1;
    behind_start(&bh, ns);
    t_down down;
    t_down_init(&down);
    for (int i = 0; i < L; i++) {
        if (i != 1) ck_assert_int_eq(finish_by_hand(wa[i], &down), 1);
        ck_assert_int_eq(finish_by_hand(wb[i], &down), 0);
    }
    t_wait_no_locks(bh.m);
    for (int i = 0; i < L; i++) {
        char lock[32];
        snprintf(lock, sizeof lock, "%s-`db`.`tbl`", tasks[i]);
        ck_assert_int_eq(t_rec_count(&bh.rec, "master", 4, lock, "a"), i == 1 ? 0 : 1);
        ck_assert_int_eq(t_rec_count(&bh.rec, "master", 4, lock, "b"), 1);
        ck_assert_int_eq(t_rec_count(&bh.rec, "master", 10, lock, NULL), 1);
        ck_assert_int_eq(t_down_count(&down, lock, DDL), i == 1 ? 0 : 1);
        ck_assert_int_eq(t_op_exec(ns, tasks[i], "a"), -1);
        ck_assert_int_eq(t_op_exec(ns, tasks[i], "b"), -1);
        dc_worker_free(wa[i]);
        dc_worker_free(wb[i]);
    }
    behind_stop(&bh);
    free(done);
}
END_TEST

static void teardown(void)
{
    t_store_close();
}

Suite *suite_beyond(void)
{
    Suite *s = suite_create("beyond");
    TCase *tc = tcase_create("beyond");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, conflict_mismatched_ddl_is_returned_to_the_worker_and_listed);
    tcase_add_test(tc, conflict_already_in_the_store_at_master_start_is_reported);
    tcase_add_test(tc, no_done_operation_is_overwritten_by_concurrent_masters_and_workers);
    tcase_add_test(tc, resolved_position_is_skipped_without_opening_a_lock);
    tcase_add_test(tc, removing_a_source_releases_the_locks_waiting_for_it);
    tcase_add_test(tc, corrupt_values_are_reported_and_other_locks_go_on);
    tcase_add_test(tc, fenced_off_master_writes_fail_and_it_stops_with_echanged);
    tcase_add_test(tc, master_rebuilds_from_a_fresh_read_when_its_watch_is_compacted);
    tcase_add_test(tc, removing_the_owner_hands_the_lock_over_and_deletes_its_operation);
    tcase_add_test(tc, removing_an_owner_that_executed_never_gives_exec_to_another_source);
    tcase_add_test(tc, mark_done_retried_after_it_committed_is_idempotent);
    tcase_add_test(tc, put_info_waits_while_a_done_operation_is_still_there);
    tcase_add_test(tc, next_ddl_on_the_same_table_never_joins_the_removed_lock);
    tcase_add_test(tc, an_owner_that_withdraws_its_info_hands_the_lock_over);
    tcase_add_test(tc, locks_wait_while_their_task_has_no_sources);
    tcase_add_test(tc, owner_done_behind_the_master_is_not_overwritten_by_exec_true);
    tcase_add_test(tc, done_mark_behind_a_stale_mirror_value_is_not_overwritten_by_exec_false);
    tcase_add_test(tc, a_batch_of_locks_that_loses_a_race_resolves_each_lock_once);
    suite_add_tcase(s, tc);
    return s;
}
