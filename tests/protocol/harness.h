/*
 * Shared fixtures of the protocol suite: the store under test (from
 * DDLCOORD_TEST_STORE, never defaulted), a fresh namespace per test, a step
 * recorder, a master running in its own thread, worker threads, and a
 * simulated downstream database that counts how often each DDL really ran.
 */
#ifndef PROTOCOL_HARNESS_H
#define PROTOCOL_HARNESS_H

#include <check.h>
#include <ddlcoord/ddlcoord.h>
#include <pthread.h>

#define T_TIMEOUT 60000 /* generous: servers are shared and slow CI exists */

/* The store under test, opened once per test (fork mode: once per process). */
dc_store *t_store(void);
void t_store_close(void);
/* A namespace unique to this process and test: /ddlcoord-test/<pid>-<n>/<name>. */
const char *t_ns(const char *name);

/* ---- step recorder ---- */
typedef struct t_step {
    int step;
    char role[8];
    char lock_id[128];
    char source[64];
    int64_t revision;
    char text[160];
} t_step;

typedef struct t_rec {
    pthread_mutex_t mu;
    t_step *steps;
    size_t n, cap;
    /* fault injection: stop the role at this step (0 = never) */
    int stop_role_master; /* 1: stop_step applies to the master, 0: to workers */
    int stop_step;
    char stop_source[64]; /* "" = any source */
    int stopped;
} t_rec;

void t_rec_init(t_rec *r);
void t_rec_free(t_rec *r);
int t_rec_cb(const dc_step *st, void *ud);
/* Revision of the first step matching (role, step, lock, source); 0 if none.
 * lock/source NULL = any. */
int64_t t_rec_rev(t_rec *r, const char *role, int step, const char *lock, const char *source);
int t_rec_count(t_rec *r, const char *role, int step, const char *lock, const char *source);

/* ---- master in a thread ---- */
typedef struct t_master {
    dc_master *m;
    pthread_t th;
    int rc;
    int running;
} t_master;

/* The thread body t_master_start runs: dc_master_run(tm->m, -1) into tm->rc. */
void *t_master_main(void *arg);
/* Create and start a master on ns, wait for its step 1. */
void t_master_start(t_master *tm, const char *ns, t_rec *rec);
/* Stop and join (the master object stays until t_master_free). Returns run's rc. */
int t_master_join(t_master *tm);
void t_master_stop(t_master *tm);

/* ---- downstream ---- */
typedef struct t_down {
    pthread_mutex_t mu;
    char applied[512][160]; /* "<lock id>|<ddl>" */
    int count[512];
    size_t n;
    int exec_calls; /* exec callback calls with exec = 1 */
    int skip_calls;
    int tolerated;        /* re-executions tolerated (DDL already applied) */
    int fail_before_exec; /* simulate a crash before applying (once) */
    int fail_after_exec;  /* simulate a crash right after applying (once) */
    int fail_checkpoint;  /* simulate a crash in the checkpoint flush (once) */
    int last_attempt;     /* op->attempt of the last exec call */
} t_down;

void t_down_init(t_down *d);
int t_down_exec(const dc_operation *op, void *ud);
int t_down_checkpoint(const dc_operation *op, const char *position, void *ud);
/* How many times ddl of lock really ran downstream. */
int t_down_count(t_down *d, const char *lock, const char *ddl);

/* ---- a worker in a thread, running DDLs for several tables ---- */
typedef struct t_worker {
    pthread_t th;
    const char *ns, *task, *source, *schema;
    const char *const *tables;
    size_t n_tables;
    const char *ddl;
    t_rec *rec;
    t_down *down;
    int rc;
    int executed;
} t_worker;

void t_worker_start(t_worker *tw);
int t_worker_join(t_worker *tw);

/* dc_master_unlock with an owner (or NULL), force_remove and a wait (-1: none). */
int t_unlock(dc_master *m, const char *lock_id, const char *owner, int force_remove, int wait_ms);

/* Add task membership. */
void t_task(const char *ns, const char *task, const char *const *sources, size_t n);

/* Keys under prefix key, counted in the store. */
int64_t t_count_prefix(const char *key);
/* The exec of source's operation in the store (-1: no operation). */
int t_op_exec(const char *ns, const char *task, const char *source);

/* Wait (polling the store, up to T_TIMEOUT) until the key has no value. */
void t_wait_gone(const char *key);
/* Wait until rec has recorded (role, step, source); fails the test on timeout. */
void t_wait_step(t_rec *rec, const char *role, int step, const char *source);
/* Wait until the master has no lock left. */
void t_wait_no_locks(dc_master *m);

/* Suites. */
Suite *suite_flow(void);
Suite *suite_reentrant(void);
Suite *suite_beyond(void);
Suite *suite_admin(void);
Suite *suite_issue12(void);
Suite *suite_intent(void);
Suite *suite_reset(void);
Suite *suite_findings(void);

#endif
