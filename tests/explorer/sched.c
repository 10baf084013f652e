/*
 * The explorer's schedule runner (explorer.h, docs/explorer.md).
 *
 * A schedule: N sources of one task go through K successive DDLs on a few
 * tables of one downstream schema (every DDL of a table reuses the table's
 * lock ID). Each source is a worker host written as a state machine over the
 * step API of pessimism_worker.h (put info, wait, intent, execute, mark
 * executed, checkpoint, done), one call per tick with timeout 0; the master
 * is driven one pass per tick. A tick runs one actor or one event, chosen by
 * the seeded generator:
 *  - a worker crash at whatever step it is in (between the intent and the
 *    execution, and between the execution and its marker, are steps: that is
 *    a crash from inside the exec callback), and its restart from its
 *    checkpoint with a fresh handle;
 *  - a master crash (its lease revoked, a new master campaigns and
 *    rebuilds) and a fail-over with the deposed master still running (every
 *    write of it must fail its fence);
 *  - an operator's unlock through an admin request, plain, with --owner, and
 *    with --assume-* decided by looking at the downstream;
 *  - a source removed from the task and added back (its worker goes on);
 *  - remove-meta between two DDLs;
 *  - a lost checkpoint (the worker re-sends a DDL its done txn resolved);
 *  - store faults: DC_EUNAVAILABLE, DC_EUNKNOWN before or after applying a
 *    call (the call hook of every actor's handle), watches ended as
 *    compacted or lost, a compaction.
 * Then a quiet phase (no faults, everyone restarted and re-added) must bring
 * every source through every DDL with no manual unlock.
 */
#include "explorer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NS      "/x"
#define TASK    "t"
#define SCHEMA  "db"
#define MAXSRC  64
#define MAXJOBS 16
#define LEADER  NS "/explorer/leader"
#define TICK_MS 10

typedef enum wstate {
    W_DOWN,
    W_PUT,
    W_WAIT,
    W_BEGIN,
    W_EXEC,
    W_MARK,
    W_CKPT,
    W_DONE,
    W_FINISHED,
    W_RECOVER
} wstate;

static const char *wname[] = {"down", "put",  "wait", "begin",    "exec",
                              "mark", "ckpt", "done", "finished", "recover"};

struct xp;

typedef struct hookctx {
    struct xp *x;
    char who[16];
} hookctx;

typedef struct src {
    hookctx hc;
    dc_store *h;
    dc_worker *w;
    wstate st;
    size_t job;  /* the DDL being worked on */
    size_t ckpt; /* the checkpoint: the first DDL not flushed */
    int exec;
    int64_t attempt;
    int put_tried;  /* a put for job was tried (it may have applied) */
    long last_done; /* the job whose done txn this worker committed last, -1 none */
    int resend;     /* re-sending a resolved job after a lost checkpoint */
    int removed;    /* not a member of the task */
    int flow;       /* a host of dc_worker_run_ddl (1) or of the step API (0) */
    int ran;        /* flow: its exec callback ran in the last call */
    long readd_at;
} src;

typedef struct mst {
    hookctx *hc; /* on the heap: the struct moves when its master is deposed */
    dc_master *m;
    dc_store *h;
    int64_t lease;
    long since;
} mst;

typedef struct xp {
    const xp_opts *o;
    xp_result *res;
    uint64_t rng;
    char uri[64];
    dc_store *adm; /* the explorer's own handle: no faults */
    dc_watch *obs;
    int64_t obs_rev;
    int n_src;
    src s[MAXSRC];
    size_t n_jobs;
    int n_tables;
    int job_table[MAXJOBS];
    char ddl[MAXJOBS][64];
    char pos[MAXJOBS][16];
    char table[4][16];
    mst cur, old;
    int n_masters;
    dc_admin_call *call;
    int call_meta;
    long call_until;
    int hold;
    size_t hold_job;
    long hold_until;
    int64_t now_ms;
    long tick;
    int faults;     /* faults injected now */
    int call_fault; /* per 10000 calls */
    int event_rate; /* per 1000 ticks */
    xc_state chk;
    char *trace;
    size_t tlen, tcap;
    long tlines;
    char op_pfx[128];
} xp;

/* ---------------------------------------------------------------- basics */

static uint64_t next(xp *x)
{
    uint64_t z = (x->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int rnd(xp *x, int n)
{
    return n > 0 ? (int)(next(x) % (uint64_t)n) : 0;
}

static void tr(xp *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tr(xp *x, const char *fmt, ...)
{
    char line[512];
    int k = snprintf(line, sizeof line, "%6ld ", x->tick);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + k, sizeof line - (size_t)k, fmt, ap);
    va_end(ap);
    size_t n = strlen(line);
    if (x->tlen + n + 2 > x->tcap) {
        size_t cap = x->tcap ? 2 * x->tcap : 65536;
        while (cap < x->tlen + n + 2) cap *= 2;
        char *t = realloc(x->trace, cap);
        if (!t) return; /* the trace is best effort */
        x->trace = t;
        x->tcap = cap;
    }
    memcpy(x->trace + x->tlen, line, n);
    x->tlen += n;
    x->trace[x->tlen++] = '\n';
    x->trace[x->tlen] = '\0';
    x->tlines++;
}

static void on_log(dc_log_level level, const char *component, const char *message, void *ud)
{
    tr(ud, "log %s %s: %s", dc_log_level_name(level), component, message);
}

static int64_t vclock(void *ud)
{
    return ((xp *)ud)->now_ms;
}

static int transient(int rc)
{
    return rc == DC_ETIMEDOUT || rc == DC_EUNKNOWN || dc_error_retryable(rc);
}

static dc_mem_fault hook(const dc_mem_call_info *c, void *ud)
{
    hookctx *hc = ud;
    xp *x = hc->x;
    if (!x->faults || !x->call_fault || rnd(x, 10000) >= x->call_fault) return DC_MEM_PASS;
    dc_mem_fault f = (dc_mem_fault)(1 + rnd(x, 3));
    static const char *fn[] = {"pass", "unavailable", "unknown-before", "unknown-after"};
    tr(x, "%s: fault %s on call %d (%zu writes)", hc->who, fn[f], (int)c->call, c->writes);
    x->res->faults++;
    return f;
}

static int open_handle(xp *x, hookctx *hc, dc_store **out)
{
    int rc = dc_store_open(x->uri, out);
    if (rc) {
        tr(x, "%s: open failed: %s", hc->who, dc_errname(rc));
        return rc;
    }
    hc->x = x;
    return dc_mem_set_hook(*out, hook, hc);
}

static size_t job_of(xp *x, const dc_lock_status *l)
{
    for (size_t j = 0; l->n_ddls && j < x->n_jobs; j++)
        if (strcmp(l->ddls[0], x->ddl[j]) == 0) return j;
    return (size_t)-1;
}

static const char *last_viol(const xp *x)
{
    int i = x->chk.n_viol - 1;
    return i >= 0 && i < XC_MAX_VIOL ? x->chk.viol[i] : "(more violations)";
}

/* ---------------------------------------------------------------- observer */

static void observe(xp *x)
{
    for (;;) {
        if (!x->obs) {
            int rc = dc_watch_open(x->adm, NS, strlen(NS), x->obs_rev + 1, DC_PREFIX | DC_PREV_KV,
                                   &x->obs);
            if (rc) {
                tr(x, "observer: cannot watch: %s", dc_errname(rc));
                x->obs = NULL;
                return;
            }
        }
        dc_events *evs = NULL;
        int rc = dc_watch_next(x->obs, 0, &evs);
        if (rc == DC_ETIMEDOUT) return;
        if (rc) {
            tr(x, "observer: watch ended: %s (reopened)", dc_errname(rc));
            dc_watch_close(x->obs);
            x->obs = NULL;
            if (rc == DC_ECOMPACTED) xc_fail(&x->chk, "harness: the observer missed history");
            return;
        }
        size_t pl = strlen(x->op_pfx);
        for (size_t i = 0; i < evs->n; i++) {
            const dc_event *e = &evs->events[i];
            x->obs_rev = e->kv.mod_revision;
            if (x->o->verbose > 1)
                tr(x, "store: rev %lld %s %.*s%s%.*s", (long long)e->kv.mod_revision,
                   e->type == DC_EVENT_PUT ? "PUT" : "DEL", (int)e->kv.key_len, e->kv.key,
                   e->type == DC_EVENT_PUT ? " = " : "",
                   (int)(e->type == DC_EVENT_PUT ? e->kv.value_len : 0), e->kv.value);
            if (e->type != DC_EVENT_PUT || e->kv.key_len < pl || memcmp(e->kv.key, x->op_pfx, pl))
                continue;
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)e->kv.key_len, e->kv.key);
            if (xc_op_put(&x->chk, key, e->prev_kv ? e->prev_kv->value : NULL,
                          e->prev_kv ? e->prev_kv->value_len : 0, e->kv.value, e->kv.value_len))
                tr(x, "VIOLATION: %s", last_viol(x));
        }
        dc_events_free(evs);
    }
}

/* ---------------------------------------------------------------- masters */

static int on_master_step(const dc_step *st, void *ud)
{
    hookctx *hc = ud;
    tr(hc->x, "%s: step %d %s %s rev %lld: %s", hc->who, st->step, st->lock_id ? st->lock_id : "-",
       st->source ? st->source : "-", (long long)st->revision, st->text);
    return 0;
}

static void master_free(xp *x, mst *m, int revoke)
{
    (void)x;
    dc_master_free(m->m);
    m->m = NULL;
    if (m->h) dc_store_close(m->h);
    m->h = NULL;
    if (revoke && m->lease) dc_lease_revoke(x->adm, m->lease);
    m->lease = 0;
    free(m->hc);
    m->hc = NULL;
}

/* Campaign: the leader key, created only if absent, with a lease of its
 * own; the master's writes are fenced on its create revision. */
static void campaign(xp *x)
{
    int64_t lease = 0;
    if (dc_lease_grant(x->adm, 3600, &lease, NULL)) return;
    char name[16];
    snprintf(name, sizeof name, "m%d", ++x->n_masters);
    dc_txn *t = dc_txn_new();
    dc_txn_result *r = NULL;
    int rc = t ? DC_OK : DC_ENOMEM;
    if (!rc) rc = dc_txn_compare_int(t, LEADER, strlen(LEADER), DC_TARGET_CREATE, DC_CMP_EQUAL, 0);
    if (!rc) rc = dc_txn_put(t, DC_THEN, LEADER, strlen(LEADER), name, strlen(name), lease, 0);
    if (!rc) rc = dc_txn_commit(x->adm, t, &r);
    dc_txn_free(t);
    if (rc || !r->succeeded) {
        dc_txn_result_free(r);
        dc_lease_revoke(x->adm, lease);
        return;
    }
    int64_t rev = r->revision;
    dc_txn_result_free(r);
    mst *m = &x->cur;
    if (!(m->hc = calloc(1, sizeof *m->hc))) {
        dc_lease_revoke(x->adm, lease);
        return;
    }
    snprintf(m->hc->who, sizeof m->hc->who, "%s", name);
    m->lease = lease;
    m->since = x->tick;
    dc_master_options mo = {0};
    mo.ns = NS;
    mo.fence_key = LEADER;
    mo.fence_create_revision = rev;
    mo.on_step = on_master_step;
    mo.step_userdata = m->hc;
    mo.name = name;
    mo.clock_ms = vclock;
    mo.clock_userdata = x;
    if (open_handle(x, m->hc, &m->h) || dc_master_new(m->h, &mo, &m->m)) {
        tr(x, "%s: cannot start", name);
        master_free(x, m, 1);
        return;
    }
    tr(x, "%s: elected at rev %lld", name, (long long)rev);
}

static void dcp_master_step(xp *x, mst *m)
{
    if (!m->m) {
        if (m == &x->cur) campaign(x);
        return;
    }
    int rc = dc_master_run(m->m, 0);
    if (rc == DC_OK) return;
    tr(x, "%s: run returned %s (%s)", m->hc->who, dc_errname(rc), dc_last_error());
    if (m == &x->old && rc == DC_ECHANGED) x->res->fenced++; /* a deposed master's write refused */
    if (m == &x->cur && rc == DC_ECHANGED)
        xc_fail(&x->chk, "%s: fenced while it held the leader key", m->hc->who);
    master_free(x, m, m == &x->cur);
}

static void master_crash(xp *x)
{
    if (!x->cur.m) return;
    tr(x, "%s: CRASH", x->cur.hc->who);
    x->res->master_crashes++;
    master_free(x, &x->cur, 1);
}

/* The leader's lease expires while it runs on: it is deposed but goes on
 * writing (every write must fail its fence) until it notices. */
static void failover(xp *x)
{
    if (!x->cur.m) return;
    if (x->old.m) master_free(x, &x->old, 0);
    tr(x, "%s: DEPOSED (lease %lld expired), still running", x->cur.hc->who,
       (long long)x->cur.lease);
    x->res->failovers++;
    dc_lease_revoke(x->adm, x->cur.lease);
    x->old = x->cur;
    x->old.lease = 0;
    memset(&x->cur, 0, sizeof x->cur);
}

/* ---------------------------------------------------------------- workers */

static void worker_crash(xp *x, src *s, const char *why)
{
    if (s->st == W_DOWN) return;
    tr(x, "%s: CRASH in %s (job %zu, ckpt %zu): %s", s->hc.who, wname[s->st], s->job, s->ckpt, why);
    dc_worker_free(s->w);
    s->w = NULL;
    dc_store_close(s->h);
    s->h = NULL;
    s->st = W_DOWN;
    s->put_tried = 0;
}

static void next_job(xp *x, src *s, const char *why);

/* The callbacks of a dc_worker_run_ddl host. Each may crash the run (a
 * non-zero return abandons it as if the process died: DC_ECLOSED). */
static int flow_crash(xp *x, const src *s, const char *where)
{
    if (!x->faults || rnd(x, 1000) >= 3 * x->event_rate) return 0;
    tr(x, "%s: CRASH inside %s (injected)", s->hc.who, where);
    return 1;
}

static int flow_step(const dc_step *st, void *ud)
{
    src *s = ud;
    char where[32];
    snprintf(where, sizeof where, "step %d", st->step);
    return flow_crash(s->hc.x, s, where);
}

static int flow_exec(const dc_operation *op, void *ud)
{
    src *s = ud;
    xp *x = s->hc.x;
    if (flow_crash(x, s, "exec, before the DDL")) return 1;
    if (op->exec || x->o->broken == 1) {
        x->res->execs++;
        tr(x, "%s: EXECUTE job %zu attempt %d (flow)", s->hc.who, s->job, op->attempt);
        if (xc_exec(&x->chk, s->job, s->hc.who, op->attempt ? op->attempt : 1))
            tr(x, "VIOLATION: %s", last_viol(x));
    }
    s->ran = 1;
    return flow_crash(x, s, "exec, after the DDL");
}

static int flow_checkpoint(const dc_operation *op, const char *position, void *ud)
{
    src *s = ud;
    (void)op;
    (void)position;
    s->ckpt = s->job + 1;
    return flow_crash(s->hc.x, s, "checkpoint, after the flush");
}

/* One dc_worker_run_ddl call (timeout 0: it returns DC_ETIMEDOUT while it
 * would wait; the next tick calls it again, as a host's retry loop would). */
static void flow_run(xp *x, src *s)
{
    size_t j = s->job;
    const char *d = x->ddl[j];
    if ((long)j > s->last_done) s->last_done = -1;
    s->ran = 0;
    int executed = 0;
    int rc = dc_worker_run_ddl(s->w, SCHEMA, x->table[x->job_table[j]], &d, 1, x->pos[j], flow_exec,
                               flow_checkpoint, s, 0, &executed);
    if (s->resend && s->ran && xc_resend(&x->chk, j, s->hc.who, DC_OK, 0))
        tr(x, "VIOLATION: %s", last_viol(x));
    if (s->ran) s->resend = 0;
    if (rc == DC_OK) {
        s->last_done = (long)j;
        next_job(x, s, executed ? "done (flow, executed)" : "done (flow, skipped)");
    } else if (rc == DC_ERESOLVED) {
        next_job(x, s, "already resolved (flow)");
    } else if (rc == DC_ENOTFOUND) {
        next_job(x, s, "lock removed: skipped (flow)");
    } else if (rc == DC_ECONFLICT) {
        tr(x, "%s: conflict on job %zu: %s", s->hc.who, j, dc_worker_conflict(s->w));
    } else if (!transient(rc)) {
        worker_crash(x, s, rc == DC_ECLOSED ? "crashed inside the flow" : dc_last_error());
    }
}

static void worker_start(xp *x, src *s)
{
    if (open_handle(x, &s->hc, &s->h)) return;
    dc_worker_options wo = {0};
    wo.ns = NS;
    if (s->flow) {
        wo.on_step = flow_step;
        wo.step_userdata = s;
    }
    if (dc_worker_new(s->h, TASK, s->hc.who, &wo, &s->w)) {
        dc_store_close(s->h);
        s->h = NULL;
        return;
    }
    s->job = s->ckpt;
    /* A host finishes a crashed run first (dc_worker_put_info would too,
     * but after its last DDL there is no next put). */
    s->st = W_RECOVER;
    s->put_tried = 0;
    tr(x, "%s: start at job %zu", s->hc.who, s->job);
}

static void next_job(xp *x, src *s, const char *why)
{
    tr(x, "%s: job %zu %s", s->hc.who, s->job, why);
    s->resend = 0;
    s->job++;
    if (s->ckpt < s->job) s->ckpt = s->job;
    s->put_tried = 0;
    s->st = s->job >= x->n_jobs ? W_FINISHED : W_PUT;
}

static void dcp_worker_step(xp *x, src *s)
{
    int rc = DC_OK;
    size_t j = s->job;
    switch (s->st) {
    case W_FINISHED:
        return;
    case W_RECOVER: {
        int recovered = 0;
        rc = dc_worker_recover(s->w, 0, &recovered);
        if (rc == DC_OK) {
            if (recovered) tr(x, "%s: recovered a run that crashed before its done txn", s->hc.who);
            s->st = s->job >= x->n_jobs ? W_FINISHED : W_PUT;
        } else if (!transient(rc)) {
            worker_crash(x, s, dc_last_error());
        }
        return;
    }
    case W_DOWN:
        if (!x->faults || rnd(x, 3) == 0) worker_start(x, s);
        return;
    case W_PUT: {
        if (x->hold && j > x->hold_job) return;
        if (s->flow) {
            flow_run(x, s);
            return;
        }
        const char *d = x->ddl[j];
        /* Its marker is about to name this DDL: a checkpoint lost from now
         * on would re-send a DDL the store no longer remembers resolving. */
        if ((long)j > s->last_done) s->last_done = -1;
        rc = dc_worker_put_info(s->w, SCHEMA, x->table[x->job_table[j]], &d, 1, x->pos[j], 0, NULL);
        if (rc == DC_OK) {
            tr(x, "%s: put job %zu%s", s->hc.who, j, s->resend ? " (re-sent)" : "");
            s->st = W_WAIT;
        } else if (rc == DC_ERESOLVED) {
            next_job(x, s, "already resolved (put)");
        } else if (transient(rc)) {
            s->put_tried = 1;
        } else {
            worker_crash(x, s, dc_last_error());
        }
        return;
    }
    case W_WAIT: {
        dc_operation *op = NULL;
        rc = dc_worker_wait_operation(s->w, 0, &op);
        if (rc == DC_OK) {
            int done = op->done, exec = op->exec;
            dc_operation_free(op);
            if (s->resend && xc_resend(&x->chk, j, s->hc.who, DC_OK, done))
                tr(x, "VIOLATION: %s", last_viol(x));
            s->resend = 0;
            if (done) {
                next_job(x, s, "already resolved (done operation)");
                return;
            }
            tr(x, "%s: got exec=%d for job %zu", s->hc.who, exec, j);
            s->exec = exec;
            if (!exec && x->o->broken == 1) {
                s->attempt = 1;
                s->st = W_EXEC;
                return;
            }
            s->st = exec ? W_BEGIN : W_MARK;
        } else if (rc == DC_ENOTFOUND) {
            next_job(x, s, "lock removed: skipped");
        } else if (rc == DC_ECONFLICT) {
            tr(x, "%s: conflict on job %zu: %s", s->hc.who, j, dc_worker_conflict(s->w));
            s->st = W_PUT;
        } else if (!transient(rc)) {
            worker_crash(x, s, dc_last_error());
        }
        return;
    }
    case W_BEGIN:
        if (x->o->broken == 2) {
            s->attempt = 1;
            s->st = W_EXEC;
            return;
        }
        rc = dc_worker_begin_exec(s->w, 0, &s->attempt);
        if (rc == DC_OK) {
            tr(x, "%s: intent for job %zu, attempt %lld", s->hc.who, j, (long long)s->attempt);
            s->st = W_EXEC;
        } else if (rc == DC_ECHANGED) {
            tr(x, "%s: fenced before the intent", s->hc.who);
            s->st = W_WAIT;
        } else if (rc == DC_ERESOLVED) {
            tr(x, "%s: job %zu ran before a crash", s->hc.who, j);
            s->st = W_CKPT;
        } else if (!transient(rc)) {
            worker_crash(x, s, dc_last_error());
        }
        return;
    case W_EXEC:
        x->res->execs++;
        tr(x, "%s: EXECUTE job %zu attempt %lld", s->hc.who, j, (long long)s->attempt);
        if (xc_exec(&x->chk, j, s->hc.who, s->attempt)) tr(x, "VIOLATION: %s", last_viol(x));
        s->st = W_MARK;
        return;
    case W_MARK:
        rc = dc_worker_mark_executed(s->w, 0);
        if (rc == DC_OK)
            s->st = W_CKPT;
        else if (rc == DC_ECHANGED)
            worker_crash(x, s, "an operator decided meanwhile (mark executed)");
        else if (!transient(rc))
            worker_crash(x, s, dc_last_error());
        return;
    case W_CKPT:
        s->ckpt = j + 1;
        s->st = W_DONE;
        return;
    case W_DONE:
        rc = dc_worker_mark_done(s->w, 0, NULL);
        if (rc == DC_OK) {
            s->last_done = (long)j;
            next_job(x, s, "done");
        } else if (rc == DC_ECHANGED) {
            worker_crash(x, s, "operation changed (done txn)");
        } else if (!transient(rc)) {
            worker_crash(x, s, dc_last_error());
        }
        return;
    }
}

/* A restart that lost the last checkpoint: the worker re-sends the DDL its
 * done txn resolved (the re-entrancy table's "after step 8" row). */
static void lose_checkpoint(xp *x, src *s)
{
    if (x->hold) return; /* a remove-meta may be clearing the markers */
    if (s->st != W_PUT || s->put_tried || s->job == 0 || s->last_done != (long)s->job - 1) return;
    worker_crash(x, s, "checkpoint lost");
    s->ckpt--;
    s->resend = 1;
    s->last_done = -1;
}

/* ---------------------------------------------------------------- operator */

static void operator_poll(xp *x)
{
    if (!x->call) return;
    dc_admin_answer a;
    int rc = dc_admin_wait(x->call, 0, &a);
    if (rc == DC_OK) {
        tr(x, "operator: answer %s: %s", dc_errname(a.code), a.message);
        dc_admin_answer_clear(&a);
    } else if (x->tick < x->call_until && (rc == DC_ETIMEDOUT || transient(rc))) {
        return;
    } else {
        tr(x, "operator: gave up (%s)", dc_errname(rc));
    }
    dc_admin_call_free(x->call);
    x->call = NULL;
    if (x->call_meta) {
        if (rc == DC_OK)
            for (int i = 0; i < x->n_src; i++) x->s[i].last_done = -1; /* markers are gone */
        x->hold = 0;
        x->call_meta = 0;
    }
}

static dc_assume oracle(xp *x, size_t job)
{
    if (job >= x->n_jobs) return DC_ASSUME_NOTHING;
    return x->chk.jobs[job].applied ? DC_ASSUME_EXECUTED : DC_ASSUME_NOT_EXECUTED;
}

static int send_unlock(xp *x, const dc_lock_status *l, int plain_only)
{
    size_t job = job_of(x, l);
    dc_unlock_options uo = {0};
    uo.wait_ms = 300 + rnd(x, 3000);
    int r = plain_only ? 0 : rnd(x, 10);
    if (r >= 4 && r < 8 && l->n_sources) uo.owner = l->sources[rnd(x, (int)l->n_sources)].source;
    if (r >= 8) uo.owner = x->s[rnd(x, x->n_src)].hc.who;
    if (l->uncertain ? rnd(x, 10) < 8 : rnd(x, 10) == 0) uo.assume = oracle(x, job);
    if (plain_only) uo.assume = l->uncertain ? oracle(x, job) : DC_ASSUME_NOTHING;
    if (uo.assume == DC_ASSUME_NOT_EXECUTED && job < x->n_jobs) x->chk.jobs[job].exempt = 1;
    static const char *an[] = {"", " --assume-executed", " --assume-not-executed"};
    tr(x, "operator: unlock %s%s%s%s (uncertain %d, job %zd)", l->id, uo.owner ? " --owner " : "",
       uo.owner ? uo.owner : "", an[uo.assume], l->uncertain, (ssize_t)job);
    int rc = dc_admin_send_unlock(x->adm, NS, l->id, &uo, 600000, &x->call);
    if (rc) {
        tr(x, "operator: send failed: %s", dc_errname(rc));
        x->call = NULL;
        return rc;
    }
    x->call_until = x->tick + 1500 + rnd(x, 3000);
    x->res->unlocks++;
    return DC_OK;
}

static void operator_unlock(xp *x)
{
    if (x->call || !x->cur.m) return;
    dc_lock_status *l = NULL;
    size_t n = 0;
    if (dc_master_locks(x->cur.m, NULL, &l, &n) || n == 0) {
        dc_lock_status_free_array(l, n);
        return;
    }
    const dc_lock_status *k = &l[rnd(x, (int)n)];
    /* A careful operator unlocks only a lock every source reported (to
     * change its owner or decide an uncertain one): F1 of findings.txt is
     * about the others. */
    if (!(x->o->without & XP_NO_UNSYNCED_UNLOCK) || k->synced) send_unlock(x, k, 0);
    dc_lock_status_free_array(l, n);
}

static void remove_source(xp *x)
{
    int members = 0;
    for (int i = 0; i < x->n_src; i++) members += !x->s[i].removed;
    if (members < 2) return;
    src *s = &x->s[rnd(x, x->n_src)];
    if (s->removed) return;
    const char *n = s->hc.who;
    if (dc_task_remove(x->adm, NS, TASK, &n, 1)) return;
    s->removed = 1;
    s->readd_at = x->tick + 20 + rnd(x, 400);
    x->res->removes++;
    tr(x, "operator: task remove %s (it is in %s, job %zu)", n, wname[s->st], s->job);
}

static void readd(xp *x, src *s)
{
    const char *n = s->hc.who;
    if (dc_task_add(x->adm, NS, TASK, &n, 1)) return;
    s->removed = 0;
    tr(x, "operator: task add %s (it is in %s, job %zu)", n, wname[s->st], s->job);
}

/* remove-meta between two DDLs: hold every worker before the DDL after the
 * furthest one, wait until all of them are there, then send it. */
static void remove_meta_begin(xp *x)
{
    if (x->call || x->hold) return;
    size_t h = 0;
    for (int i = 0; i < x->n_src; i++) {
        size_t j = x->s[i].st == W_DOWN ? x->s[i].ckpt : x->s[i].job;
        if (j > h) h = j;
    }
    if (h + 1 >= x->n_jobs) return;
    x->hold = 1;
    x->hold_job = h;
    x->hold_until = x->tick + 4000;
    tr(x, "operator: holding workers before job %zu for remove-meta", h + 1);
}

static void remove_meta_poll(xp *x)
{
    if (!x->hold || x->call) return;
    if (x->tick > x->hold_until) {
        tr(x, "operator: remove-meta abandoned (workers not quiet)");
        x->hold = 0;
        return;
    }
    for (int i = 0; i < x->n_src; i++) {
        const src *s = &x->s[i];
        int quiet = s->st == W_FINISHED ||
                    (s->st == W_PUT && !s->put_tried && s->job == x->hold_job + 1) ||
                    (s->st == W_DOWN && s->ckpt == x->hold_job + 1);
        if (!quiet) return;
    }
    tr(x, "operator: remove-meta %s", TASK);
    x->res->metas++;
    if (dc_admin_send_remove_meta(x->adm, NS, TASK, 600000, &x->call)) {
        x->call = NULL;
        x->hold = 0;
        return;
    }
    x->call_meta = 1;
    x->call_until = x->tick + 3000;
}

/* ---------------------------------------------------------------- faults */

/* The store loses its data (dc_mem_reset: a Redis restart without its AOF).
 * Every handle opened before is poisoned (DC_ERESET): every process starts
 * over on a new handle, and the operator adds the task's sources again. The
 * protocol cannot know what ran before (markers and operations are gone), so
 * the DDLs in flight are exempt from the twice rule; every lock must still
 * resolve. */
static void reset(xp *x)
{
    if (x->call) return; /* keep the operator's bookkeeping simple */
    /* Only while every source restarts at the same DDL: sources whose
     * checkpoints differ cannot agree on a lock again once the store forgot
     * which DDLs resolved (that needs an operator, not a protocol). */
    for (int i = 1; i < x->n_src; i++)
        if (x->s[i].ckpt != x->s[0].ckpt) return;
    tr(x, "store: RESET (all data lost) while every source is at DDL %zu", x->s[0].ckpt);
    x->res->resets++;
    if (dc_mem_reset(x->adm)) return;
    master_free(x, &x->old, 0);
    master_free(x, &x->cur, 0);
    x->hold = 0;
    for (int i = 0; i < x->n_src; i++) {
        src *s = &x->s[i];
        /* Its owner may have executed it: the store no longer knows. */
        if (s->ckpt < x->n_jobs) x->chk.jobs[s->ckpt].exempt = 1;
        worker_crash(x, s, "store reset");
        s->last_done = -1;
        s->removed = 0;
    }
    dc_watch_close(x->obs);
    x->obs = NULL;
    dc_store_close(x->adm);
    x->adm = NULL;
    const char *names[MAXSRC];
    for (int i = 0; i < x->n_src; i++) names[i] = x->s[i].hc.who;
    int rc = dc_store_open(x->uri, &x->adm);
    if (!rc) rc = dc_mem_clock_set(x->adm, x->now_ms);
    if (!rc) rc = dc_task_add(x->adm, NS, TASK, names, (size_t)x->n_src);
    if (!rc) rc = dc_revision(x->adm, &x->obs_rev);
    if (rc) xc_fail(&x->chk, "harness: cannot start over after a reset: %s", dc_errname(rc));
}

static dc_store *random_actor_handle(xp *x, const char **who)
{
    int k = rnd(x, x->n_src + 2);
    if (k < x->n_src) {
        *who = x->s[k].hc.who;
        return x->s[k].h;
    }
    mst *m = k == x->n_src ? &x->cur : &x->old;
    *who = m->hc ? m->hc->who : "-";
    return m->h;
}

static void event(xp *x)
{
    int r = rnd(x, 100);
    src *s = &x->s[rnd(x, x->n_src)];
    if (r < 35) {
        x->res->crashes += s->st != W_DOWN && s->st != W_FINISHED;
        worker_crash(x, s, "injected");
    } else if (r < 40) {
        if (!(x->o->without & XP_NO_MASTER)) master_crash(x);
    } else if (r < 45) {
        if (!(x->o->without & XP_NO_MASTER)) failover(x);
    } else if (r < 55) {
        if (!(x->o->without & XP_NO_UNLOCK)) operator_unlock(x);
    } else if (r < 63) {
        if (!(x->o->without & XP_NO_REMOVE)) remove_source(x);
    } else if (r < 66) {
        if (!(x->o->without & XP_NO_META)) remove_meta_begin(x);
    } else if (x->o->without & XP_NO_FAULTS && r < 83) {
        return;
    } else if (r < 78) {
        const char *who = NULL;
        dc_store *h = random_actor_handle(x, &who);
        int code = rnd(x, 2) ? DC_ECOMPACTED : DC_EUNAVAILABLE;
        size_t n = 0;
        if (h && dc_mem_end_watches(h, DC_MEM_SCOPE_HANDLE, NULL, 0, code, &n) == DC_OK && n)
            tr(x, "%s: %zu watches ended with %s", who, n, dc_errname(code));
    } else if (r < 83) {
        if (x->obs_rev > 1 && dc_compact(x->adm, x->obs_rev) == DC_OK)
            tr(x, "store: compacted at %lld", (long long)x->obs_rev);
    } else if (r < 91) {
        if (!(x->o->without & XP_NO_CKPT)) lose_checkpoint(x, s);
    } else if (r < 93) {
        if (!(x->o->without & XP_NO_RESET)) reset(x);
    } else if (x->o->broken == 3) {
        /* A rogue writer overwrites a done operation. */
        dc_kvs *kv = NULL;
        if (dc_get(x->adm, x->op_pfx, strlen(x->op_pfx), DC_PREFIX, 0, &kv) == DC_OK) {
            for (size_t i = 0; i < kv->n; i++)
                if (memmem(kv->kvs[i].value, kv->kvs[i].value_len, "\"done\":true", 11)) {
                    const char *v = "{\"id\":\"rogue\",\"task\":\"t\",\"source\":\"s\",\"ddls\":[],"
                                    "\"exec\":false,\"done\":false}";
                    dc_put(x->adm, kv->kvs[i].key, kv->kvs[i].key_len, v, strlen(v), 0, NULL);
                    tr(x, "rogue: overwrote a done operation");
                    break;
                }
        }
        dc_kvs_free(kv);
    }
}

/* ---------------------------------------------------------------- ticks */

static void tick_end(xp *x)
{
    operator_poll(x);
    remove_meta_poll(x);
    for (int i = 0; i < x->n_src; i++)
        if (x->s[i].removed && x->faults && x->tick >= x->s[i].readd_at) readd(x, &x->s[i]);
    observe(x);
}

/* One token of a scripted schedule (explorer.h, xp_opts.script). */
static int script_token(xp *x, const char *t)
{
    char c = t[0];
    int i = t[1] >= '0' && t[1] <= '9' ? atoi(t + 1) : -1;
    if (strchr("wxraL", c) && (i < 0 || i >= x->n_src)) return -1;
    x->tick++;
    x->now_ms += TICK_MS;
    switch (c) {
    case 'w': {
        const char *star = strchr(t, '*');
        int n = star ? atoi(star + 1) : 1;
        for (int k = 0; k < n; k++) dcp_worker_step(x, &x->s[i]);
        break;
    }
    case 'x':
        worker_crash(x, &x->s[i], "scripted");
        break;
    case 'm': {
        int n = t[1] == '*' ? atoi(t + 2) : 1;
        for (int k = 0; k < n; k++) dcp_master_step(x, &x->cur);
        break;
    }
    case 'o':
        dcp_master_step(x, &x->old);
        break;
    case 'K':
        master_crash(x);
        break;
    case 'F':
        failover(x);
        break;
    case 'r':
        if (!x->s[i].removed) {
            const char *n = x->s[i].hc.who;
            if (dc_task_remove(x->adm, NS, TASK, &n, 1) == DC_OK) x->s[i].removed = 1;
            tr(x, "operator: task remove %s (it is in %s, job %zu)", n, wname[x->s[i].st],
               x->s[i].job);
        }
        break;
    case 'a':
        readd(x, &x->s[i]);
        break;
    case 'u': { /* u, ue, un, uo<I>: an unlock of the master's first lock */
        dc_lock_status *l = NULL;
        size_t n = 0;
        if (x->call || !x->cur.m || dc_master_locks(x->cur.m, NULL, &l, &n) || n == 0) {
            dc_lock_status_free_array(l, n);
            tr(x, "operator: no lock to unlock");
            break;
        }
        dc_unlock_options uo = {0};
        uo.wait_ms = 2000;
        if (t[1] == 'e') uo.assume = DC_ASSUME_EXECUTED;
        if (t[1] == 'n') uo.assume = DC_ASSUME_NOT_EXECUTED;
        if (t[1] == 'o' && atoi(t + 2) < x->n_src) uo.owner = x->s[atoi(t + 2)].hc.who;
        size_t job = job_of(x, &l[0]);
        if (uo.assume == DC_ASSUME_NOT_EXECUTED && job < x->n_jobs) x->chk.jobs[job].exempt = 1;
        tr(x, "operator: unlock %s (%s)", l[0].id, t);
        if (dc_admin_send_unlock(x->adm, NS, l[0].id, &uo, 600000, &x->call)) x->call = NULL;
        x->call_until = x->tick + 3000;
        dc_lock_status_free_array(l, n);
        break;
    }
    case 'X':
        reset(x);
        break;
    case 'L': /* LI: worker I restarts one DDL back (a lost checkpoint) */
        if (i < 0 || i >= x->n_src) return -1;
        lose_checkpoint(x, &x->s[i]);
        break;
    case 'C':
        if (x->obs_rev > 1) dc_compact(x->adm, x->obs_rev);
        break;
    case 'E': { /* end every watch of the leading master */
        if (x->cur.h)
            dc_mem_end_watches(x->cur.h, DC_MEM_SCOPE_HANDLE, NULL, 0, DC_ECOMPACTED, NULL);
        break;
    }
    default:
        return -1;
    }
    tick_end(x);
    return 0;
}

static int run_script(xp *x, const char *script)
{
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", script);
    char *save = NULL;
    for (char *t = strtok_r(buf, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
        if (t[0] == '#') break;
        if (script_token(x, t)) {
            printf("explorer: bad script token '%s'\n", t);
            return -1;
        }
    }
    return 0;
}

static void tick(xp *x)
{
    x->tick++;
    x->now_ms += TICK_MS;
    if (x->faults && rnd(x, 1000) < x->event_rate) {
        event(x);
    } else {
        int r = rnd(x, 100);
        if (r < 22)
            dcp_master_step(x, &x->cur);
        else if (r < 26)
            dcp_master_step(x, &x->old);
        else
            dcp_worker_step(x, &x->s[rnd(x, x->n_src)]);
    }
    tick_end(x);
}

static size_t unfinished(xp *x)
{
    size_t n = 0;
    for (int i = 0; i < x->n_src; i++) n += x->s[i].st != W_FINISHED;
    return n;
}

/* Run without faults until every source finished and the master holds no
 * lock, or the budget runs out. Returns 1 when quiescent. */
static int quiet(xp *x, long budget)
{
    for (long t = 0; t < budget; t++) {
        tick(x);
        if ((t & 63) == 0 && !unfinished(x) && x->cur.m) {
            dc_lock_status *l = NULL;
            size_t n = 0;
            int rc = dc_master_locks(x->cur.m, NULL, &l, &n);
            dc_lock_status_free_array(l, n);
            if (!rc && n == 0) return 1;
        }
    }
    return 0;
}

static int final_locks(xp *x, dc_lock_status **l, size_t *n)
{
    *l = NULL;
    *n = 0;
    int rc = x->cur.m ? dc_master_locks(x->cur.m, NULL, l, n)
                      : dc_locks_read(x->adm, NS, NULL, l, n, NULL);
    for (size_t i = 0; !rc && i < *n; i++) {
        const dc_lock_status *k = &(*l)[i];
        tr(x,
           "left: lock %s owner %s ddl [%s] synced %d forced %d executed %d uncertain %d "
           "attempt %lld",
           k->id, k->owner ? k->owner : "-", k->n_ddls ? k->ddls[0] : "", k->synced, k->forced,
           k->executed, k->uncertain, (long long)k->attempt);
        for (size_t j = 0; j < k->n_sources; j++) {
            const dc_lock_source *s = &k->sources[j];
            tr(x, "left:   %s synced %d done %d removed %d left %d fenced %d conflict %zu",
               s->source, s->synced, s->done, s->removed, s->left, s->fenced, s->n_conflict_ddls);
        }
    }
    for (int i = 0; i < x->n_src; i++)
        tr(x, "left: %s in %s at job %zu (ckpt %zu)", x->s[i].hc.who, wname[x->s[i].st],
           x->s[i].job, x->s[i].ckpt);
    return rc;
}

static void setup(xp *x)
{
    int r = rnd(x, 10);
    int max = x->o->max_sources < 2 ? 2 : x->o->max_sources > MAXSRC ? MAXSRC : x->o->max_sources;
    x->n_src = r < 6 ? 2 + rnd(x, 5) : r < 9 ? 7 + rnd(x, 14) : 21 + rnd(x, 44);
    if (x->n_src > max) x->n_src = 2 + rnd(x, max - 1);
    int mj = x->o->max_jobs < 1 ? 1 : x->o->max_jobs > MAXJOBS ? MAXJOBS : x->o->max_jobs;
    x->n_jobs = (size_t)(1 + rnd(x, mj));
    x->n_tables = 1 + rnd(x, 3);
    for (int t = 0; t < x->n_tables; t++) snprintf(x->table[t], sizeof x->table[t], "tb%d", t);
    for (size_t j = 0; j < x->n_jobs; j++) {
        x->job_table[j] = rnd(x, x->n_tables);
        snprintf(x->ddl[j], sizeof x->ddl[j], "ALTER TABLE tb%d ADD COLUMN c%zu INT",
                 x->job_table[j], j);
        snprintf(x->pos[j], sizeof x->pos[j], "pos-%zu", j);
    }
    if (x->o->script) { /* a scripted schedule: its shape is given */
        x->n_src = x->o->script_sources;
        x->n_jobs = (size_t)x->o->script_jobs;
        x->n_tables = 1;
        for (size_t j = 0; j < x->n_jobs; j++) {
            x->job_table[j] = 0;
            snprintf(x->ddl[j], sizeof x->ddl[j], "ALTER TABLE tb0 ADD COLUMN c%zu INT", j);
        }
    }
    static const int cf[] = {0, 0, 30, 100, 300};
    x->call_fault = cf[rnd(x, 5)];
    if (x->o->without & XP_NO_FAULTS) x->call_fault = 0;
    x->event_rate = 5 + rnd(x, 40);
    /* 1: step-API hosts, 2: dc_worker_run_ddl hosts, 3: both (the broken
     * hosts and scripts are step-API hosts) */
    int hosts = x->o->script || x->o->broken ? 1 : x->o->hosts ? x->o->hosts : 1 + rnd(x, 3);
    for (int i = 0; i < x->n_src; i++) {
        src *s = &x->s[i];
        s->flow = hosts == 2 || (hosts == 3 && rnd(x, 2));
        snprintf(s->hc.who, sizeof s->hc.who, "s%02d", i);
        s->st = W_DOWN;
        s->last_done = -1;
    }
}

static void teardown(xp *x)
{
    if (x->call) dc_admin_call_free(x->call);
    x->call = NULL;
    master_free(x, &x->old, 0);
    master_free(x, &x->cur, 0);
    for (int i = 0; i < x->n_src; i++) {
        dc_worker_free(x->s[i].w);
        if (x->s[i].h) dc_store_close(x->s[i].h);
        x->s[i].w = NULL;
        x->s[i].h = NULL;
    }
    dc_watch_close(x->obs);
    x->obs = NULL;
    if (x->adm) dc_store_close(x->adm);
    x->adm = NULL;
}

static void report(xp *x, const char *what)
{
    if (x->o->script)
        printf("explorer: script '%s' on %d sources, %d DDLs: %s\n", x->o->script,
               x->o->script_sources, x->o->script_jobs, what);
    printf("explorer: seed %llu: %s (%d sources, %zu DDLs on %d tables, %ld ticks, call faults "
           "%d/10000, events %d/1000)\n",
           (unsigned long long)x->o->seed, what, x->n_src, x->n_jobs, x->n_tables, x->tick,
           x->call_fault, x->event_rate);
    int shown = x->chk.n_viol < XC_MAX_VIOL ? x->chk.n_viol : XC_MAX_VIOL;
    for (int i = 0; i < shown; i++) printf("  violation: %s\n", x->chk.viol[i]);
    if (!x->trace) return;
    const char *p = x->trace;
    if (x->o->trace_tail > 0 && x->tlines > x->o->trace_tail) {
        long skip = x->tlines - x->o->trace_tail;
        for (long i = 0; i < skip && p; i++) {
            p = strchr(p, '\n');
            if (p) p++;
        }
        printf("  trace (last %d of %ld lines; --trace-tail 0 for all):\n", x->o->trace_tail,
               x->tlines);
    } else {
        printf("  trace (%ld lines):\n", x->tlines);
    }
    fputs(p ? p : "", stdout);
    printf("explorer: replay with: explorer --seed %llu --max-sources %d --max-jobs %d%s\n",
           (unsigned long long)x->o->seed, x->o->max_sources, x->o->max_jobs,
           x->o->broken ? " --break N" : "");
    fflush(stdout);
}

int xp_run(const xp_opts *o, xp_result *res)
{
    static xp X;
    xp *x = &X;
    memset(x, 0, sizeof *x);
    memset(res, 0, sizeof *res);
    x->o = o;
    x->res = res;
    x->rng = o->seed * 0x2545f4914f6cdd1dULL + 1;
    setup(x);
    if (xc_init(&x->chk, x->n_jobs)) return -1;
    snprintf(x->uri, sizeof x->uri, "mem://explore-%d-%llu", (int)getpid(),
             (unsigned long long)o->seed);
    dc_log_set_handler(on_log, x);
    int rc = dc_store_open(x->uri, &x->adm);
    char *pfx = NULL;
    if (!rc) rc = dc_mem_clock_set(x->adm, 0); /* leases expire only when revoked */
    if (!rc) rc = dc_operation_key(NS, TASK, NULL, &pfx);
    if (!rc) snprintf(x->op_pfx, sizeof x->op_pfx, "%s", pfx);
    free(pfx);
    const char *names[MAXSRC];
    for (int i = 0; i < x->n_src; i++) names[i] = x->s[i].hc.who;
    if (!rc) rc = dc_task_add(x->adm, NS, TASK, names, (size_t)x->n_src);
    if (!rc) rc = dc_revision(x->adm, &x->obs_rev);
    if (rc) {
        printf("explorer: seed %llu: harness setup failed: %s\n", (unsigned long long)o->seed,
               dc_errname(rc));
        teardown(x);
        dc_log_set_handler(NULL, NULL);
        xc_free(&x->chk);
        return -1;
    }
    tr(x, "schedule: %d sources, %zu DDLs on %d tables, call faults %d/10000, events %d/1000",
       x->n_src, x->n_jobs, x->n_tables, x->call_fault, x->event_rate);
    for (size_t j = 0; j < x->n_jobs; j++) tr(x, "job %zu: %s", j, x->ddl[j]);

    /* Chaos, or the script. */
    if (o->script) {
        x->call_fault = 0;
        if (run_script(x, o->script)) {
            teardown(x);
            dc_log_set_handler(NULL, NULL);
            xc_free(&x->chk);
            free(x->trace);
            x->trace = NULL;
            return -1;
        }
    } else {
        x->faults = 1;
        long chaos = 8L * x->n_src * (long)x->n_jobs + 200 + rnd(x, 600);
        while (x->tick < chaos) tick(x);
    }

    /* Quiet: no faults, no operator; everyone back. */
    x->faults = 0;
    tr(x, "quiet: faults off");
    if (x->call) {
        dc_admin_call_free(x->call);
        x->call = NULL;
    }
    x->call_meta = 0;
    x->hold = 0;
    master_free(x, &x->old, 0);
    for (int i = 0; i < x->n_src; i++)
        if (x->s[i].removed) readd(x, &x->s[i]);
    long budget = 60L * x->n_src * (long)x->n_jobs + 4000;
    int q = quiet(x, budget);
    dc_lock_status *l = NULL;
    size_t n = 0;
    if (!q) {
        final_locks(x, &l, &n);
        xc_quiescent(&x->chk, l, n, unfinished(x), 1);
        /* Uncertain locks wait for an operator: decide them as one would,
         * by looking at the downstream, then everything must resolve. */
        for (size_t i = 0; i < n; i++) {
            if (!l[i].uncertain) continue;
            tr(x, "quiet: lock %s is uncertain: the operator decides", l[i].id);
            if (send_unlock(x, &l[i], 1) == DC_OK) {
                for (long t = 0; t < 4000 && x->call; t++) tick(x);
            }
        }
        dc_lock_status_free_array(l, n);
        l = NULL;
        n = 0;
        q = quiet(x, budget);
        if (!q) {
            final_locks(x, &l, &n);
            xc_quiescent(&x->chk, l, n, unfinished(x), 0);
            dc_lock_status_free_array(l, n);
        }
    }
    xc_final(&x->chk);
    res->ok = x->chk.n_viol == 0;
    res->n_sources = x->n_src;
    res->n_jobs = (int)x->n_jobs;
    res->n_tables = x->n_tables;
    res->ticks = x->tick;
    dc_log_set_handler(NULL, NULL);
    if (!res->ok)
        report(x, "VIOLATION");
    else if (o->verbose)
        report(x, "ok");
    teardown(x);
    xc_free(&x->chk);
    free(x->trace);
    x->trace = NULL;
    return res->ok ? 0 : 1;
}
