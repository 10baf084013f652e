/*
 * The protocol suite's fixtures (see harness.h). Everything a test starts
 * it stops: masters are stopped and joined, workers joined, watches closed.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static dc_store *store;
static char ns_buf[256];
static int ns_counter;

dc_store *t_store(void)
{
    if (store) return store;
    const char *uri = getenv("DDLCOORD_TEST_STORE");
    if (!uri || !*uri) {
        fprintf(stderr, "DDLCOORD_TEST_STORE is not set: refusing to guess a store\n");
        abort();
    }
    int rc = dc_store_open(uri, &store);
    ck_assert_msg(rc == DC_OK, "open %s: %s: %s", uri, dc_errname(rc), dc_last_error());
    return store;
}

static char *made[64]; /* namespaces made by this test, removed at teardown */
static int n_made;

void t_store_close(void)
{
    /* Servers are shared and persistent: leave nothing behind. */
    for (int i = 0; i < n_made; i++) {
        if (store) dc_delete(store, made[i], strlen(made[i]), DC_PREFIX, NULL, NULL);
        free(made[i]);
    }
    n_made = 0;
    dc_store_close(store);
    store = NULL;
}

const char *t_ns(const char *name)
{
    snprintf(ns_buf, sizeof ns_buf, "/ddlcoord-test/%ld-%ld-%d/%s", (long)getpid(),
             (long)time(NULL), ++ns_counter, name);
    if (n_made < 64) {
        size_t len = strlen(ns_buf) + 2;
        made[n_made] = malloc(len);
        ck_assert_ptr_nonnull(made[n_made]);
        snprintf(made[n_made++], len, "%s/", ns_buf);
    }
    return ns_buf;
}

void t_rec_init(t_rec *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
}

void t_rec_free(t_rec *r)
{
    free(r->steps);
    pthread_mutex_destroy(&r->mu);
}

int t_rec_cb(const dc_step *st, void *ud)
{
    t_rec *r = ud;
    pthread_mutex_lock(&r->mu);
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 256;
        r->steps = realloc(r->steps, r->cap * sizeof *r->steps);
        ck_assert_ptr_nonnull(r->steps);
    }
    t_step *s = &r->steps[r->n++];
    memset(s, 0, sizeof *s);
    s->step = st->step;
    snprintf(s->role, sizeof s->role, "%s", st->role);
    snprintf(s->lock_id, sizeof s->lock_id, "%s", st->lock_id ? st->lock_id : "");
    snprintf(s->source, sizeof s->source, "%s", st->source ? st->source : "");
    s->revision = st->revision;
    snprintf(s->text, sizeof s->text, "%s", st->text);
    int is_master = strcmp(st->role, "master") == 0;
    int stop = r->stop_step && !r->stopped && st->step == r->stop_step &&
               is_master == r->stop_role_master &&
               (!r->stop_source[0] || (st->source && strcmp(st->source, r->stop_source) == 0));
    if (stop) r->stopped = 1;
    pthread_mutex_unlock(&r->mu);
    return stop;
}

static int match(const t_step *s, const char *role, int step, const char *lock, const char *src)
{
    return s->step == step && strcmp(s->role, role) == 0 && (!lock || !strcmp(s->lock_id, lock)) &&
           (!src || !strcmp(s->source, src));
}

int64_t t_rec_rev(t_rec *r, const char *role, int step, const char *lock, const char *source)
{
    int64_t rev = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n && !rev; i++)
        if (match(&r->steps[i], role, step, lock, source)) rev = r->steps[i].revision;
    pthread_mutex_unlock(&r->mu);
    return rev;
}

int t_rec_count(t_rec *r, const char *role, int step, const char *lock, const char *source)
{
    int n = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) n += match(&r->steps[i], role, step, lock, source);
    pthread_mutex_unlock(&r->mu);
    return n;
}

void *t_master_main(void *arg)
{
    t_master *tm = arg;
    tm->rc = dc_master_run(tm->m, -1);
    return NULL;
}

void t_master_start(t_master *tm, const char *ns, t_rec *rec)
{
    memset(tm, 0, sizeof *tm);
    dc_master_options o = {0};
    o.ns = ns;
    o.on_step = rec ? t_rec_cb : NULL;
    o.step_userdata = rec;
    ck_assert_int_eq(dc_master_new(t_store(), &o, &tm->m), DC_OK);
    ck_assert_int_eq(pthread_create(&tm->th, NULL, t_master_main, tm), 0);
    tm->running = 1;
    for (int i = 0; i < 6000 && dc_master_revision(tm->m) == 0; i++) usleep(10000);
    ck_assert_msg(dc_master_revision(tm->m) > 0, "master did not finish step 1");
}

int t_master_join(t_master *tm)
{
    if (tm->running) {
        pthread_join(tm->th, NULL);
        tm->running = 0;
    }
    return tm->rc;
}

void t_master_stop(t_master *tm)
{
    if (tm->running) dc_master_stop(tm->m);
    t_master_join(tm);
    dc_master_free(tm->m);
    tm->m = NULL;
}

void t_down_init(t_down *d)
{
    memset(d, 0, sizeof *d);
    pthread_mutex_init(&d->mu, NULL);
}

int t_down_exec(const dc_operation *op, void *ud)
{
    t_down *d = ud;
    int crash = 0;
    pthread_mutex_lock(&d->mu);
    if (d->fail_before_exec) {
        d->fail_before_exec = 0;
        crash = 1;
    } else if (!op->exec) {
        d->skip_calls++;
    } else {
        d->exec_calls++;
        d->last_attempt = op->attempt;
        for (size_t k = 0; k < op->n_ddls; k++) {
            char key[160];
            snprintf(key, sizeof key, "%s|%s", op->id, op->ddls[k]);
            size_t i = 0;
            while (i < d->n && strcmp(d->applied[i], key)) i++;
            if (i == d->n) {
                ck_assert_uint_lt(d->n, 512);
                snprintf(d->applied[d->n++], sizeof d->applied[0], "%s", key);
                d->count[i] = 1;
            } else {
                /* "ErrColumnExists": the DDL ran before; tolerated, not re-applied. */
                d->tolerated++;
            }
        }
        if (d->fail_after_exec) {
            d->fail_after_exec = 0;
            crash = 1;
        }
    }
    pthread_mutex_unlock(&d->mu);
    return crash;
}

int t_down_checkpoint(const dc_operation *op, const char *position, void *ud)
{
    t_down *d = ud;
    (void)op;
    (void)position;
    pthread_mutex_lock(&d->mu);
    int crash = d->fail_checkpoint;
    d->fail_checkpoint = 0;
    pthread_mutex_unlock(&d->mu);
    return crash;
}

int t_down_count(t_down *d, const char *lock, const char *ddl)
{
    char key[160];
    snprintf(key, sizeof key, "%s|%s", lock, ddl);
    pthread_mutex_lock(&d->mu);
    int c = 0;
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->applied[i], key)) c = d->count[i];
    pthread_mutex_unlock(&d->mu);
    return c;
}

static void *worker_main(void *arg)
{
    t_worker *tw = arg;
    dc_worker_options o = {0};
    o.ns = tw->ns;
    o.on_step = tw->rec ? t_rec_cb : NULL;
    o.step_userdata = tw->rec;
    dc_worker *w;
    tw->rc = dc_worker_new(t_store(), tw->task, tw->source, &o, &w);
    for (size_t i = 0; i < tw->n_tables && tw->rc == DC_OK; i++) {
        char pos[64];
        snprintf(pos, sizeof pos, "binlog.000001:%zu", 1000 + i);
        int executed = 0;
        tw->rc = dc_worker_run_ddl(w, tw->schema, tw->tables[i], &tw->ddl, 1, pos, t_down_exec,
                                   t_down_checkpoint, tw->down, T_TIMEOUT, &executed);
        tw->executed += executed;
    }
    dc_worker_free(w);
    return NULL;
}

void t_worker_start(t_worker *tw)
{
    ck_assert_int_eq(pthread_create(&tw->th, NULL, worker_main, tw), 0);
}

int t_worker_join(t_worker *tw)
{
    pthread_join(tw->th, NULL);
    return tw->rc;
}

int t_unlock(dc_master *m, const char *lock_id, const char *owner, int force_remove, int wait_ms)
{
    dc_unlock_options o = {.owner = owner, .force_remove = force_remove, .wait_ms = wait_ms};
    return dc_master_unlock(m, lock_id, &o);
}

void t_task(const char *ns, const char *task, const char *const *sources, size_t n)
{
    int rc = dc_task_add(t_store(), ns, task, sources, n);
    ck_assert_msg(rc == DC_OK, "task add: %s", dc_last_error());
}

void t_wait_gone(const char *key)
{
    for (int i = 0; i < T_TIMEOUT / 10; i++) {
        dc_kvs *kvs;
        ck_assert_int_eq(dc_get(t_store(), key, strlen(key), DC_COUNT_ONLY, 0, &kvs), DC_OK);
        int64_t c = kvs->count;
        dc_kvs_free(kvs);
        if (c == 0) return;
        usleep(10000);
    }
    ck_abort_msg("%s is still there", key);
}

void t_wait_no_locks(dc_master *m)
{
    for (int i = 0; i < T_TIMEOUT / 10; i++) {
        dc_lock_status *st;
        size_t n;
        ck_assert_int_eq(dc_master_locks(m, NULL, &st, &n), DC_OK);
        dc_lock_status_free_array(st, n);
        if (n == 0) return;
        usleep(10000);
    }
    ck_abort_msg("the master still has locks");
}

void t_wait_step(t_rec *rec, const char *role, int step, const char *source)
{
    for (int i = 0; i < T_TIMEOUT / 10; i++) {
        if (t_rec_count(rec, role, step, NULL, source) > 0) return;
        usleep(10000);
    }
    ck_abort_msg("no %s step %d for %s", role, step, source ? source : "-");
}

int64_t t_count_prefix(const char *key)
{
    dc_kvs *kvs;
    ck_assert_int_eq(dc_get(t_store(), key, strlen(key), DC_PREFIX | DC_COUNT_ONLY, 0, &kvs),
                     DC_OK);
    int64_t c = kvs->count;
    dc_kvs_free(kvs);
    return c;
}

int t_op_exec(const char *ns, const char *task, const char *source)
{
    char *key;
    ck_assert_int_eq(dc_operation_key(ns, task, source, &key), DC_OK);
    dc_kvs *kvs;
    ck_assert_int_eq(dc_get(t_store(), key, strlen(key), 0, 0, &kvs), DC_OK);
    free(key);
    int exec = -1;
    if (kvs->n) {
        dc_operation *op;
        ck_assert_int_eq(
            dc_operation_decode(kvs->kvs[0].key, kvs->kvs[0].value, kvs->kvs[0].value_len, &op),
            DC_OK);
        exec = op->exec;
        dc_operation_free(op);
    }
    dc_kvs_free(kvs);
    return exec;
}
