/*
 * The execution intent and the uncertain state (docs/DESIGN.md, "Execution
 * intent"): an owner records attempt n before it runs anything, every
 * takeover fences the owner's operation in a txn that requires no intent,
 * and exactly one of the two wins; an intent without a done operation leaves
 * the lock uncertain until the owner comes back (as attempt n + 1) or an
 * operator decides. Issue #12 cases 1, 2 and 4 are here too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ddlcoord/mem.h>

#include "harness.h"

static const char *DDL = "ALTER TABLE tbl ADD COLUMN c1 INT";
static const char *LOCK = "t-`db`.`tbl`";

static dc_worker *worker(const char *ns, const char *source)
{
    dc_worker_options o = {.ns = ns};
    dc_worker *w;
    ck_assert_int_eq(dc_worker_new(t_store(), "t", source, &o, &w), DC_OK);
    return w;
}

static void report(dc_worker *w, const char *table)
{
    int rc = dc_worker_put_info(w, "db", table, &DDL, 1, "pos-1", T_TIMEOUT, NULL);
    ck_assert_msg(rc == DC_OK, "put info: %s: %s", dc_errname(rc), dc_last_error());
}

static dc_operation *wait_op(dc_worker *w)
{
    dc_operation *op = NULL;
    int rc = dc_worker_wait_operation(w, T_TIMEOUT, &op);
    ck_assert_msg(rc == DC_OK, "wait: %s: %s", dc_errname(rc), dc_last_error());
    return op;
}

/* The master's view of lock id (asserts it exists). */
static dc_lock_status lock_status(dc_master *m, const char *id)
{
    dc_lock_status *st;
    size_t n;
    ck_assert_int_eq(dc_master_locks(m, "t", &st, &n), DC_OK);
    dc_lock_status out = {0};
    for (size_t i = 0; i < n; i++)
        if (strcmp(st[i].id, id) == 0) {
            out = st[i];
            memset(&st[i], 0, sizeof st[i]);
        }
    dc_lock_status_free_array(st, n);
    ck_assert_msg(out.id != NULL, "no lock %s", id);
    return out;
}

static void wait_synced(dc_master *m, const char *id, size_t want)
{
    for (int i = 0; i < T_TIMEOUT / 10; i++) {
        dc_lock_status *st;
        size_t n, synced = 0;
        ck_assert_int_eq(dc_master_locks(m, "t", &st, &n), DC_OK);
        for (size_t l = 0; l < n; l++)
            for (size_t j = 0; strcmp(st[l].id, id) == 0 && j < st[l].n_sources; j++)
                synced += st[l].sources[j].synced;
        dc_lock_status_free_array(st, n);
        if (synced >= want) return;
        usleep(10000);
    }
    ck_abort_msg("lock %s never had %zu synced sources", id, want);
}

/* Wait until the master sees lock id as uncertain (its owner's intent). */
static void wait_uncertain(dc_master *m, const char *id)
{
    for (int i = 0; i < T_TIMEOUT / 10; i++) {
        dc_lock_status st = lock_status(m, id);
        int u = st.uncertain;
        dc_lock_status_clear(&st);
        if (u) return;
        usleep(10000);
    }
    ck_abort_msg("lock %s never became uncertain", id);
}

/* Wait until the master sees lock id's owner as executed (its marker after
 * the DDLs ran), not merely as having an intent. */
static void wait_executed(dc_master *m, const char *id)
{
    for (int i = 0; i < T_TIMEOUT / 10; i++) {
        dc_lock_status st = lock_status(m, id);
        int done = st.executed && !st.uncertain;
        dc_lock_status_clear(&st);
        if (done) return;
        usleep(10000);
    }
    ck_abort_msg("the master never saw the owner of %s as executed", id);
}

static int unlock(dc_master *m, const char *owner, dc_assume assume, int force, int wait_ms)
{
    dc_unlock_options o = {
        .owner = owner, .force_remove = force, .assume = assume, .wait_ms = wait_ms};
    return dc_master_unlock(m, LOCK, &o);
}

/* ---- an exec callback that stops inside until released ---- */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, released;
    int in_checkpoint; /* block in the checkpoint callback instead (after the marker) */
    t_down *down;
} gate;

static void gate_init(gate *g, t_down *d)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->down = d;
}

static void gate_block(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->entered = 1;
    pthread_cond_broadcast(&g->cv);
    while (!g->released) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_wait_entered(gate *g)
{
    pthread_mutex_lock(&g->mu);
    for (int i = 0; i < T_TIMEOUT / 10 && !g->entered; i++) {
        pthread_mutex_unlock(&g->mu);
        usleep(10000);
        pthread_mutex_lock(&g->mu);
    }
    int ok = g->entered;
    pthread_mutex_unlock(&g->mu);
    ck_assert_msg(ok, "the owner never started executing");
}

static void gate_release(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->released = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static int gate_exec(const dc_operation *op, void *ud)
{
    gate *g = ud;
    int rc = t_down_exec(op, g->down);                /* applied downstream... */
    if (op->exec && !g->in_checkpoint) gate_block(g); /* ...then slow to report it */
    return rc;
}

static int gate_checkpoint(const dc_operation *op, const char *pos, void *ud)
{
    gate *g = ud;
    if (op->exec && g->in_checkpoint) gate_block(g);
    return t_down_checkpoint(op, pos, g->down);
}

typedef struct slow_owner {
    pthread_t th;
    dc_worker *w;
    gate *g;
    int rc, executed;
} slow_owner;

static void *slow_main(void *arg)
{
    slow_owner *s = arg;
    s->rc = dc_worker_run_ddl(s->w, "db", "tbl", &DDL, 1, "pos-1", gate_exec, gate_checkpoint, s->g,
                              T_TIMEOUT, &s->executed);
    return NULL;
}

/* The other sources of a lock, each running its whole flow in a thread. */
static void start_worker(t_worker *tw, const char *ns, const char *source, t_down *down)
{
    static const char *tables[] = {"tbl"};
    memset(tw, 0, sizeof *tw);
    tw->ns = ns;
    tw->task = "t";
    tw->source = source;
    tw->schema = "db";
    tw->tables = tables;
    tw->n_tables = 1;
    tw->ddl = DDL;
    tw->down = down;
    t_worker_start(tw);
}

/* 1: `unlock --owner b` while owner a has run the DDL and not yet said so:
 * a's intent stands, so the unlock is refused (uncertain) and b never
 * executes; a finishes, b skips: the DDL ran once. */
START_TEST(issue12_1_unlock_owner_while_the_owner_is_slow_never_runs_the_ddl_twice)
{
    const char *ns = t_ns("i12-1");
    const char *srcs[] = {"a", "b", "c"};
    t_task(ns, "t", srcs, 3);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    gate g;
    gate_init(&g, &down);
    slow_owner a = {.w = worker(ns, "a"), .g = &g};
    ck_assert_int_eq(pthread_create(&a.th, NULL, slow_main, &a), 0);
    wait_synced(tm.m, LOCK, 1);
    t_worker b;
    start_worker(&b, ns, "b", &down);
    wait_synced(tm.m, LOCK, 2);
    dc_worker *c = worker(ns, "c");
    report(c, "tbl");
    gate_wait_entered(&g); /* a executed the DDL and is slow to mark it */
    int rc = unlock(tm.m, "b", DC_ASSUME_NOTHING, 0, 2000);
    ck_assert_msg(rc == DC_EUNCERTAIN, "unlock --owner b: %s: %s", dc_errname(rc), dc_last_error());
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "--assume-executed"));
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "--assume-not-executed"));
    /* The refusal read the intent from the store; the master's view of the
     * lock follows its watch, which may still be behind: wait for it. */
    wait_uncertain(tm.m, LOCK);
    dc_lock_status st = lock_status(tm.m, LOCK);
    ck_assert_str_eq(st.owner, "a");
    ck_assert_int_eq(st.uncertain, 1);
    ck_assert_int_eq(st.attempt, 1);
    ck_assert_int_gt(st.intent_revision, 0);
    dc_lock_status_clear(&st);
    ck_assert_int_eq(t_op_exec(ns, "t", "b"), -1); /* b has no operation: it waits */
    gate_release(&g);
    pthread_join(a.th, NULL);
    ck_assert_int_eq(a.rc, DC_OK);
    ck_assert_int_eq(a.executed, 1);
    ck_assert_int_eq(t_worker_join(&b), DC_OK);
    ck_assert_int_eq(b.executed, 0);
    dc_operation *op = wait_op(c);
    ck_assert_int_eq(op->exec, 0);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_mark_done(c, T_TIMEOUT, NULL), DC_OK);
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(t_down_count(&down, LOCK, DDL), 1);
    ck_assert_int_eq(down.exec_calls, 1);
    dc_worker_free(a.w);
    dc_worker_free(c);
    t_master_stop(&tm);
}
END_TEST

/* 1, with the marker already written (a ran it and is slow in its checkpoint
 * flush): the DDLs ran, so the unlock lets b skip, and a finishes. */
START_TEST(issue12_1_unlock_owner_after_the_owner_executed_makes_the_new_owner_skip)
{
    const char *ns = t_ns("i12-1b");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    gate g;
    gate_init(&g, &down);
    g.in_checkpoint = 1;
    slow_owner a = {.w = worker(ns, "a"), .g = &g};
    ck_assert_int_eq(pthread_create(&a.th, NULL, slow_main, &a), 0);
    wait_synced(tm.m, LOCK, 1);
    t_worker b;
    start_worker(&b, ns, "b", &down);
    gate_wait_entered(&g);
    /* a's marker says it executed; the master may still be on the intent it
     * wrote just before (uncertain): wait for the marker's event. */
    wait_executed(tm.m, LOCK);
    dc_lock_status st = lock_status(tm.m, LOCK);
    ck_assert_int_eq(st.uncertain, 0);
    ck_assert_int_eq(st.executed, 1);
    dc_lock_status_clear(&st);
    int rc = unlock(tm.m, "b", DC_ASSUME_NOTHING, 0, 300);
    ck_assert_msg(rc == DC_ETIMEDOUT || rc == DC_OK, "unlock: %s", dc_errname(rc));
    ck_assert_int_eq(t_worker_join(&b), DC_OK); /* b skipped */
    ck_assert_int_eq(b.executed, 0);
    gate_release(&g);
    pthread_join(a.th, NULL);
    ck_assert_int_eq(a.rc, DC_OK);
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(t_down_count(&down, LOCK, DDL), 1);
    ck_assert_int_eq(down.exec_calls, 1);
    dc_worker_free(a.w);
    t_master_stop(&tm);
}
END_TEST

/* 2: removing the owner from the task while its DDL runs does not hand
 * exec=true to another source: the lock waits for a (uncertain), and once
 * a finishes the others skip. */
START_TEST(issue12_2_removing_the_owner_while_its_ddl_runs_gives_nobody_else_exec)
{
    const char *ns = t_ns("i12-2");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    gate g;
    gate_init(&g, &down);
    slow_owner a = {.w = worker(ns, "a"), .g = &g};
    ck_assert_int_eq(pthread_create(&a.th, NULL, slow_main, &a), 0);
    wait_synced(tm.m, LOCK, 1);
    t_worker b;
    start_worker(&b, ns, "b", &down);
    gate_wait_entered(&g);
    const char *gone[] = {"a"};
    ck_assert_int_eq(dc_task_remove(t_store(), ns, "t", gone, 1), DC_OK);
    wait_uncertain(tm.m, LOCK); /* the master saw a's intent (before or after the removal) */
    usleep(300000); /* the master handled the removal (or will: b must still not execute) */
    ck_assert_int_eq(t_op_exec(ns, "t", "b"), -1);
    dc_lock_status st = lock_status(tm.m, LOCK);
    ck_assert_str_eq(st.owner, "a");
    ck_assert_int_eq(st.uncertain, 1);
    dc_lock_status_clear(&st);
    gate_release(&g);
    pthread_join(a.th, NULL);
    ck_assert_int_eq(a.rc, DC_OK);
    ck_assert_int_eq(t_worker_join(&b), DC_OK);
    ck_assert_int_eq(b.executed, 0);
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(t_down_count(&down, LOCK, DDL), 1);
    ck_assert_int_eq(down.exec_calls, 1);
    dc_worker_free(a.w);
    t_master_stop(&tm);
}
END_TEST

/* 2, when a's marker already proves it executed: the lock goes on without
 * it (its run is finished for it), b skips, and a's own worker ends fine. */
START_TEST(issue12_2_removing_an_owner_whose_marker_proves_it_executed_lets_the_lock_go_on)
{
    const char *ns = t_ns("i12-2b");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    gate g;
    gate_init(&g, &down);
    g.in_checkpoint = 1;
    slow_owner a = {.w = worker(ns, "a"), .g = &g};
    ck_assert_int_eq(pthread_create(&a.th, NULL, slow_main, &a), 0);
    wait_synced(tm.m, LOCK, 1);
    t_worker b;
    start_worker(&b, ns, "b", &down);
    gate_wait_entered(&g);
    const char *gone[] = {"a"};
    ck_assert_int_eq(dc_task_remove(t_store(), ns, "t", gone, 1), DC_OK);
    ck_assert_int_eq(t_worker_join(&b), DC_OK); /* goes on without a */
    ck_assert_int_eq(b.executed, 0);
    t_wait_no_locks(tm.m);
    gate_release(&g);
    pthread_join(a.th, NULL);
    ck_assert_msg(a.rc == DC_OK, "a: %s: %s", dc_errname(a.rc), dc_last_error());
    ck_assert_int_eq(t_down_count(&down, LOCK, DDL), 1);
    /* a's re-run at the same position is told it is resolved. */
    dc_worker *a2 = worker(ns, "a");
    ck_assert_int_eq(dc_worker_put_info(a2, "db", "tbl", &DDL, 1, "pos-1", T_TIMEOUT, NULL),
                     DC_ERESOLVED);
    dc_worker_free(a2);
    dc_worker_free(a.w);
    t_master_stop(&tm);
}
END_TEST

/* 4: a source removed from the task while the lock is out and added back
 * before it resolved is put back (gets its exec=false and finishes); one
 * removed for good has its info removed with the lock, so no phantom lock
 * is left for a restart to rebuild. */
START_TEST(issue12_4_a_waiting_source_removed_and_readded_is_put_back)
{
    const char *ns = t_ns("i12-4");
    const char *srcs[] = {"a", "b", "c"};
    t_task(ns, "t", srcs, 3);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    gate g;
    gate_init(&g, &down);
    slow_owner a = {.w = worker(ns, "a"), .g = &g};
    ck_assert_int_eq(pthread_create(&a.th, NULL, slow_main, &a), 0);
    wait_synced(tm.m, LOCK, 1);
    dc_worker *b = worker(ns, "b"), *c = worker(ns, "c");
    report(b, "tbl");
    report(c, "tbl");
    gate_wait_entered(&g); /* the lock is out: a executes */
    const char *bs[] = {"b"}, *cs[] = {"c"};
    ck_assert_int_eq(dc_task_remove(t_store(), ns, "t", bs, 1), DC_OK);
    ck_assert_int_eq(dc_task_remove(t_store(), ns, "t", cs, 1), DC_OK);
    ck_assert_int_eq(dc_task_add(t_store(), ns, "t", bs, 1), DC_OK);
    usleep(200000);
    gate_release(&g);
    pthread_join(a.th, NULL);
    ck_assert_int_eq(a.rc, DC_OK);
    dc_operation *op = wait_op(b); /* b is back: it gets exec=false */
    ck_assert_int_eq(op->exec, 0);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_mark_done(b, T_TIMEOUT, NULL), DC_OK);
    t_wait_no_locks(tm.m); /* c is not awaited */
    op = NULL;
    ck_assert_int_eq(dc_worker_wait_operation(c, T_TIMEOUT, &op), DC_ENOTFOUND);
    dc_lock_status *st;
    size_t n;
    ck_assert_int_eq(dc_locks_read(t_store(), ns, NULL, &st, &n, NULL), DC_OK);
    ck_assert_msg(n == 0, "a phantom lock %s is left in the store", n ? st[0].id : "");
    dc_lock_status_free_array(st, n);
    t_master_stop(&tm);
    t_master_start(&tm, ns, NULL); /* and a restart finds nothing either */
    ck_assert_int_eq(dc_master_locks(tm.m, NULL, &st, &n), DC_OK);
    ck_assert_uint_eq(n, 0);
    dc_lock_status_free_array(st, n);
    ck_assert_int_eq(t_down_count(&down, LOCK, DDL), 1);
    dc_worker_free(a.w);
    dc_worker_free(b);
    dc_worker_free(c);
    t_master_stop(&tm);
}
END_TEST

/* An owner that crashed after its intent leaves the lock uncertain, visible
 * in the master and in the store's view; its re-run executes as attempt 2
 * and resolves it, with no unlock. */
START_TEST(an_owner_that_crashed_mid_exec_is_uncertain_until_its_rerun_as_attempt_2)
{
    const char *ns = t_ns("intent-rerun");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    down.fail_after_exec = 1; /* it ran downstream, then died */
    dc_worker *a = worker(ns, "a");
    report(a, "tbl");
    t_worker b;
    start_worker(&b, ns, "b", &down);
    dc_operation *op = wait_op(a);
    dc_operation_free(op);
    int executed = 0;
    int rc = dc_worker_run_ddl(a, "db", "tbl", &DDL, 1, "pos-1", t_down_exec, t_down_checkpoint,
                               &down, T_TIMEOUT, &executed);
    ck_assert_int_eq(rc, DC_ECLOSED);
    ck_assert_int_eq(down.last_attempt, 1);
    dc_worker_free(a);
    wait_uncertain(tm.m, LOCK);
    dc_lock_status st = lock_status(tm.m, LOCK);
    ck_assert_int_eq(st.uncertain, 1);
    ck_assert_int_eq(st.attempt, 1);
    dc_lock_status_clear(&st);
    dc_lock_status *view;
    size_t n;
    ck_assert_int_eq(dc_locks_read(t_store(), ns, NULL, &view, &n, NULL), DC_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(view[0].uncertain, 1);
    ck_assert_int_eq(view[0].attempt, 1);
    ck_assert_str_eq(view[0].owner, "a");
    dc_lock_status_free_array(view, n);
    a = worker(ns, "a"); /* the re-run */
    rc = dc_worker_run_ddl(a, "db", "tbl", &DDL, 1, "pos-1", t_down_exec, t_down_checkpoint, &down,
                           T_TIMEOUT, &executed);
    ck_assert_msg(rc == DC_OK, "re-run: %s: %s", dc_errname(rc), dc_last_error());
    ck_assert_int_eq(down.last_attempt, 2);
    ck_assert_int_eq(down.tolerated, 1); /* attempt 2 found it applied */
    ck_assert_int_eq(t_worker_join(&b), DC_OK);
    ck_assert_int_eq(b.executed, 0);
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(t_down_count(&down, LOCK, DDL), 1);
    dc_worker_free(a);
    t_master_stop(&tm);
}
END_TEST

/* A dead owner with an intent: a plain unlock is refused, an --assume-
 * executed completes its operation (nobody executes; everyone skips; its
 * re-run is "already resolved"). */
START_TEST(unlock_assume_executed_completes_an_uncertain_owner_and_all_skip)
{
    const char *ns = t_ns("assume-ex");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    down.fail_after_exec = 1;
    dc_worker *a = worker(ns, "a");
    t_worker b;
    int executed;
    report(a, "tbl");
    start_worker(&b, ns, "b", &down);
    ck_assert_int_eq(dc_worker_run_ddl(a, "db", "tbl", &DDL, 1, "pos-1", t_down_exec,
                                       t_down_checkpoint, &down, T_TIMEOUT, &executed),
                     DC_ECLOSED);
    dc_worker_free(a);
    wait_uncertain(tm.m, LOCK);
    int rc = unlock(tm.m, NULL, DC_ASSUME_NOTHING, 0, 300);
    ck_assert_msg(rc == DC_EUNCERTAIN, "plain unlock: %s", dc_errname(rc));
    ck_assert_int_eq(unlock(tm.m, NULL, DC_ASSUME_NOTHING, 1, 300), DC_EUNCERTAIN);
    ck_assert_int_eq(unlock(tm.m, "b", DC_ASSUME_EXECUTED, 0, 300), DC_EINVAL);
    rc = unlock(tm.m, NULL, DC_ASSUME_EXECUTED, 0, T_TIMEOUT);
    ck_assert_msg(rc == DC_OK, "unlock --assume-executed: %s: %s", dc_errname(rc), dc_last_error());
    ck_assert_int_eq(t_worker_join(&b), DC_OK);
    ck_assert_int_eq(b.executed, 0);
    t_wait_no_locks(tm.m);
    a = worker(ns, "a");
    ck_assert_int_eq(dc_worker_put_info(a, "db", "tbl", &DDL, 1, "pos-1", T_TIMEOUT, NULL),
                     DC_ERESOLVED);
    ck_assert_int_eq(down.exec_calls, 1);
    dc_worker_free(a);
    t_master_stop(&tm);
}
END_TEST

typedef struct unlocker {
    dc_master *m;
    const char *owner;
    dc_assume assume;
    int rc;
} unlocker;

static void *unlock_main(void *arg)
{
    unlocker *u = arg;
    u->rc = unlock(u->m, u->owner, u->assume, 0, T_TIMEOUT);
    return NULL;
}

/* A dead owner whose intent did not execute (the operator checked): an
 * --owner b --assume-not-executed fences it, b executes; a's re-run skips. */
START_TEST(unlock_assume_not_executed_fences_the_owner_and_the_new_owner_executes)
{
    const char *ns = t_ns("assume-not");
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    t_master tm;
    t_master_start(&tm, ns, NULL);
    t_down down;
    t_down_init(&down);
    down.fail_before_exec = 1; /* it died before applying anything */
    dc_worker *a = worker(ns, "a");
    report(a, "tbl");
    t_worker b;
    start_worker(&b, ns, "b", &down);
    wait_synced(tm.m, LOCK, 2);
    int executed;
    ck_assert_int_eq(dc_worker_run_ddl(a, "db", "tbl", &DDL, 1, "pos-1", t_down_exec,
                                       t_down_checkpoint, &down, T_TIMEOUT, &executed),
                     DC_ECLOSED);
    dc_worker_free(a);
    wait_uncertain(tm.m, LOCK);
    ck_assert_int_eq(unlock(tm.m, "b", DC_ASSUME_NOTHING, 0, 300), DC_EUNCERTAIN);
    /* The unlock waits for every source: a re-runs meanwhile. */
    unlocker u = {tm.m, "b", DC_ASSUME_NOT_EXECUTED, -1};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, unlock_main, &u), 0);
    ck_assert_int_eq(t_worker_join(&b), DC_OK);
    ck_assert_int_eq(b.executed, 1);
    a = worker(ns, "a");
    int rc = dc_worker_run_ddl(a, "db", "tbl", &DDL, 1, "pos-1", t_down_exec, t_down_checkpoint,
                               &down, T_TIMEOUT, &executed);
    ck_assert_msg(rc == DC_OK, "a's re-run: %s: %s", dc_errname(rc), dc_last_error());
    ck_assert_int_eq(executed, 0);
    pthread_join(th, NULL);
    ck_assert_msg(u.rc == DC_OK, "unlock: %s", dc_errname(u.rc));
    t_wait_no_locks(tm.m);
    ck_assert_int_eq(t_down_count(&down, LOCK, DDL), 1);
    dc_worker_free(a);
    t_master_stop(&tm);
}
END_TEST

/* The race itself, many times: the owner records its intent while an unlock
 * hands the lock to b. In every round exactly one wins: either a's intent
 * commits (and the unlock is refused as uncertain, b gets nothing), or the
 * fence does (a's intent fails with DC_ECHANGED and b gets exec=true). */
typedef struct racer {
    pthread_barrier_t *bar;
    dc_worker *w;
    dc_master *m;
    int rc;
} racer;

static void *race_intent(void *arg)
{
    racer *r = arg;
    pthread_barrier_wait(r->bar);
    r->rc = dc_worker_begin_exec(r->w, T_TIMEOUT, NULL);
    return NULL;
}

static void *race_unlock(void *arg)
{
    racer *r = arg;
    pthread_barrier_wait(r->bar);
    dc_unlock_options o = {.owner = "b", .wait_ms = 1};
    r->rc = dc_master_unlock(r->m, LOCK, &o);
    return NULL;
}

START_TEST(intent_and_fence_race_and_exactly_one_wins)
{
    int intent_won = 0, fence_won = 0;
    for (int round = 0; round < 20; round++) {
        const char *ns = t_ns("race");
        const char *srcs[] = {"a", "b"};
        t_task(ns, "t", srcs, 2);
        t_master tm;
        t_master_start(&tm, ns, NULL);
        dc_worker *a = worker(ns, "a"), *b = worker(ns, "b");
        report(a, "tbl");
        report(b, "tbl");
        dc_operation *op = wait_op(a);
        ck_assert_int_eq(op->exec, 1);
        dc_operation_free(op);
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, 2);
        racer ri = {&bar, a, tm.m, -1}, ru = {&bar, a, tm.m, -1};
        pthread_t t1, t2;
        ck_assert_int_eq(pthread_create(&t1, NULL, race_intent, &ri), 0);
        ck_assert_int_eq(pthread_create(&t2, NULL, race_unlock, &ru), 0);
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
        pthread_barrier_destroy(&bar);
        if (ri.rc == DC_OK) {
            intent_won++;
            ck_assert_msg(ru.rc == DC_EUNCERTAIN, "round %d: intent recorded, unlock %s", round,
                          dc_errname(ru.rc));
            ck_assert_int_eq(t_op_exec(ns, "t", "a"), 1);
            ck_assert_int_eq(t_op_exec(ns, "t", "b"), -1);
        } else {
            fence_won++;
            ck_assert_msg(ri.rc == DC_ECHANGED, "round %d: intent %s", round, dc_errname(ri.rc));
            ck_assert_msg(ru.rc == DC_ETIMEDOUT || ru.rc == DC_OK, "round %d: unlock %s", round,
                          dc_errname(ru.rc));
            ck_assert_int_eq(t_op_exec(ns, "t", "a"), -1); /* fenced */
            op = wait_op(b);
            ck_assert_int_eq(op->exec, 1); /* b owns it now */
            dc_operation_free(op);
        }
        dc_worker_free(a);
        dc_worker_free(b);
        t_master_stop(&tm);
        t_store_close(); /* one namespace per round, cleaned up */
    }
    fprintf(stderr, "intent_and_fence_race: intent won %d, fence won %d\n", intent_won, fence_won);
    ck_assert_int_eq(intent_won + fence_won, 20);
}
END_TEST

/* ---- both orders of the race, forced (mem:// failpoint hooks) ----
 *
 * The master and the owner a each get a handle of their own on the test's
 * mem:// instance, with a call hook that, once armed, lets the other side
 * commit first at the exact moment its own txn is about to reach the store:
 * the master's fence after it decided on a marker without intent, or a's
 * intent after it read its operation. */
typedef struct order {
    dc_store *hs;     /* the hooked handle */
    const char *key;  /* the txn to stop: its first DC_THEN key */
    int armed, fired; /* fire once */
    dc_worker *a;     /* intent first: the owner whose intent commits inside the hook */
    int intent_rc;    /* its dc_worker_begin_exec result */
    const char *ns;   /* fence first: wait inside the hook until a's operation is gone */
    dc_master *m;
    pthread_t unlock_th;
    unlocker u;
} order;

static dc_store *own_handle(void)
{
    dc_store *s;
    int rc = dc_store_open(getenv("DDLCOORD_TEST_STORE"), &s);
    ck_assert_msg(rc == DC_OK, "open: %s: %s", dc_errname(rc), dc_last_error());
    return s;
}

static int is_key(const dc_mem_call_info *c, const char *key)
{
    return c->call == DC_MEM_CALL_TXN && c->key && c->key_len == strlen(key) &&
           memcmp(c->key, key, c->key_len) == 0;
}

/* On the master's handle: its fence of a's operation lets a's intent in first. */
static dc_mem_fault intent_first_hook(const dc_mem_call_info *c, void *ud)
{
    order *o = ud;
    if (__atomic_load_n(&o->armed, __ATOMIC_ACQUIRE) && !o->fired && is_key(c, o->key)) {
        __atomic_store_n(&o->intent_rc, dc_worker_begin_exec(o->a, T_TIMEOUT, NULL),
                         __ATOMIC_RELEASE);
        __atomic_store_n(&o->fired, 1, __ATOMIC_RELEASE);
    }
    return DC_MEM_PASS;
}

/* On a's handle: its intent waits until the master's fence has deleted a's
 * operation (an unlock --owner b, started here). */
static dc_mem_fault fence_first_hook(const dc_mem_call_info *c, void *ud)
{
    order *o = ud;
    if (!o->armed || o->fired || !is_key(c, o->key)) return DC_MEM_PASS;
    o->fired = 1;
    o->u = (unlocker){o->m, "b", DC_ASSUME_NOTHING, -1};
    ck_assert_int_eq(pthread_create(&o->unlock_th, NULL, unlock_main, &o->u), 0);
    for (int i = 0; i < T_TIMEOUT / 10 && t_op_exec(o->ns, "t", "a") != -1; i++) usleep(10000);
    return DC_MEM_PASS;
}

/* Sets up a lock with a (exec=true, not yet intent) and b synced, the
 * master on handle hm and a on handle ha. */
static void order_setup(const char *ns, dc_store *hm, dc_store *ha, t_master *tm, dc_worker **a,
                        dc_worker **b)
{
    const char *srcs[] = {"a", "b"};
    t_task(ns, "t", srcs, 2);
    memset(tm, 0, sizeof *tm);
    dc_master_options mo = {.ns = ns};
    ck_assert_int_eq(dc_master_new(hm, &mo, &tm->m), DC_OK);
    ck_assert_int_eq(pthread_create(&tm->th, NULL, t_master_main, tm), 0);
    tm->running = 1;
    dc_worker_options wo = {.ns = ns};
    ck_assert_int_eq(dc_worker_new(ha, "t", "a", &wo, a), DC_OK);
    *b = worker(ns, "b");
    report(*a, "tbl");
    report(*b, "tbl");
    dc_operation *op = wait_op(*a);
    ck_assert_int_eq(op->exec, 1);
    dc_operation_free(op);
}

START_TEST(intent_committed_before_the_fence_makes_the_unlock_uncertain)
{
    const char *ns = t_ns("order-intent");
    dc_store *hm = own_handle(), *ha = own_handle();
    order o = {.hs = hm};
    ck_assert_int_eq(dc_mem_set_hook(hm, intent_first_hook, &o), DC_OK);
    t_master tm;
    dc_worker *a, *b;
    order_setup(ns, hm, ha, &tm, &a, &b);
    char *opk;
    ck_assert_int_eq(dc_operation_key(ns, "t", "a", &opk), DC_OK);
    o.key = opk;
    o.a = a;
    __atomic_store_n(&o.armed, 1, __ATOMIC_RELEASE);
    int rc = unlock(tm.m, "b", DC_ASSUME_NOTHING, 0, T_TIMEOUT);
    ck_assert_msg(__atomic_load_n(&o.fired, __ATOMIC_ACQUIRE), "the master never tried to fence a");
    int irc = __atomic_load_n(&o.intent_rc, __ATOMIC_ACQUIRE);
    ck_assert_msg(irc == DC_OK, "intent: %s", dc_errname(irc));
    ck_assert_msg(rc == DC_EUNCERTAIN, "unlock: %s: %s", dc_errname(rc), dc_last_error());
    ck_assert_int_eq(t_op_exec(ns, "t", "a"), 1); /* the fence failed: a still owns it */
    ck_assert_int_eq(t_op_exec(ns, "t", "b"), -1);
    wait_uncertain(tm.m, LOCK); /* its view follows the intent's event */
    dc_lock_status st = lock_status(tm.m, LOCK);
    ck_assert_str_eq(st.owner, "a");
    dc_lock_status_clear(&st);
    /* a finishes: executed once, b skips. */
    ck_assert_int_eq(dc_worker_mark_executed(a, T_TIMEOUT), DC_OK);
    ck_assert_int_eq(dc_worker_mark_done(a, T_TIMEOUT, NULL), DC_OK);
    dc_operation *op = wait_op(b);
    ck_assert_int_eq(op->exec, 0);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_mark_done(b, T_TIMEOUT, NULL), DC_OK);
    t_wait_no_locks(tm.m);
    free(opk);
    dc_worker_free(a);
    dc_worker_free(b);
    t_master_stop(&tm);
    dc_store_close(ha);
    dc_store_close(hm);
}
END_TEST

START_TEST(fence_committed_before_the_intent_makes_the_intent_fail_and_b_owns)
{
    const char *ns = t_ns("order-fence");
    dc_store *hm = own_handle(), *ha = own_handle();
    order o = {.hs = ha, .ns = ns};
    ck_assert_int_eq(dc_mem_set_hook(ha, fence_first_hook, &o), DC_OK);
    t_master tm;
    dc_worker *a, *b;
    order_setup(ns, hm, ha, &tm, &a, &b);
    char *mk;
    ck_assert_int_eq(dc_marker_key(ns, "t", "a", &mk), DC_OK);
    o.key = mk;
    o.m = tm.m;
    o.armed = 1;
    int rc = dc_worker_begin_exec(a, T_TIMEOUT, NULL);
    ck_assert_msg(o.fired, "a never tried to record its intent");
    ck_assert_msg(rc == DC_ECHANGED, "intent: %s: %s", dc_errname(rc), dc_last_error());
    ck_assert_int_eq(t_op_exec(ns, "t", "a"), -1); /* fenced */
    dc_operation *op = wait_op(b);
    ck_assert_int_eq(op->exec, 1); /* b owns it now */
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_begin_exec(b, T_TIMEOUT, NULL), DC_OK);
    ck_assert_int_eq(dc_worker_mark_executed(b, T_TIMEOUT), DC_OK);
    ck_assert_int_eq(dc_worker_mark_done(b, T_TIMEOUT, NULL), DC_OK);
    op = wait_op(a); /* a gets its exec=false after b is done */
    ck_assert_int_eq(op->exec, 0);
    dc_operation_free(op);
    ck_assert_int_eq(dc_worker_mark_done(a, T_TIMEOUT, NULL), DC_OK);
    pthread_join(o.unlock_th, NULL);
    ck_assert_msg(o.u.rc == DC_OK, "unlock: %s", dc_errname(o.u.rc));
    t_wait_no_locks(tm.m);
    free(mk);
    dc_worker_free(a);
    dc_worker_free(b);
    t_master_stop(&tm);
    dc_store_close(ha);
    dc_store_close(hm);
}
END_TEST

static void teardown(void)
{
    t_store_close();
}

Suite *suite_intent(void)
{
    Suite *s = suite_create("intent");
    TCase *tc = tcase_create("intent");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, issue12_1_unlock_owner_while_the_owner_is_slow_never_runs_the_ddl_twice);
    tcase_add_test(tc, issue12_1_unlock_owner_after_the_owner_executed_makes_the_new_owner_skip);
    tcase_add_test(tc, issue12_2_removing_the_owner_while_its_ddl_runs_gives_nobody_else_exec);
    tcase_add_test(tc,
                   issue12_2_removing_an_owner_whose_marker_proves_it_executed_lets_the_lock_go_on);
    tcase_add_test(tc, issue12_4_a_waiting_source_removed_and_readded_is_put_back);
    tcase_add_test(tc, an_owner_that_crashed_mid_exec_is_uncertain_until_its_rerun_as_attempt_2);
    tcase_add_test(tc, unlock_assume_executed_completes_an_uncertain_owner_and_all_skip);
    tcase_add_test(tc, unlock_assume_not_executed_fences_the_owner_and_the_new_owner_executes);
    tcase_add_test(tc, intent_and_fence_race_and_exactly_one_wins);
    suite_add_tcase(s, tc);
    /* The two orders forced with mem:// failpoints: mem:// only (the other
     * stores get the free race above). */
    const char *uri = getenv("DDLCOORD_TEST_STORE");
    if (uri && strncmp(uri, "mem://", 6) == 0) {
        TCase *to = tcase_create("intent-orders");
        tcase_add_checked_fixture(to, NULL, teardown);
        tcase_set_timeout(to, 300);
        tcase_add_test(to, intent_committed_before_the_fence_makes_the_unlock_uncertain);
        tcase_add_test(to, fence_committed_before_the_intent_makes_the_intent_fail_and_b_owns);
        suite_add_tcase(s, to);
    } else {
        fprintf(stderr, "intent: the forced intent/fence orders run on mem:// only\n");
    }
    return s;
}
