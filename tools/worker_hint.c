/*
 * Why a `ddlcoord worker` is still waiting, told on stderr: a thread that,
 * while the worker waits, looks every 10 s (the first time after 2 s) for
 * the two reasons a new user most often meets: the task has no registered
 * sources (`ddlcoord task add` was not run, so no lock can ever be complete),
 * or no master leads (nobody decides). One line per reason found, each time.
 * It only reads the store; the worker's own calls are unaffected.
 */
#include "worker_hint.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define FIRST_MS 2000
#define EVERY_MS 10000

struct dcx_hint {
    dcx_ctx *ctx;
    char *task;
    char *election_prefix;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int stop;
};

static void look(dcx_hint *h)
{
    char **srcs = NULL;
    size_t n = 0;
    if (dc_task_sources(h->ctx->store, h->ctx->ns, h->task, &srcs, &n) == DC_OK) {
        if (n == 0)
            dcx_err(h->ctx,
                    "waiting: task %s has no registered sources, so its locks cannot complete: "
                    "run 'ddlcoord task add %s SOURCE...' with every source of the task",
                    dc__e(h->task), dc__e(h->task));
        dc_strings_free(srcs, n);
    }
    if (dc_election_leader(h->ctx->store, h->election_prefix, NULL, NULL) == DC_ENOTFOUND)
        dcx_err(h->ctx,
                "waiting: no master leads under %s: start 'ddlcoord master' on the same store "
                "and namespace",
                dc__e(h->election_prefix));
}

static void *run(void *arg)
{
    dcx_hint *h = arg;
    int64_t next = dc__now_ms() + FIRST_MS;
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        if (dc__cond_wait_until(&h->cond, &h->mu, next) == 0) continue; /* woken: stop? */
        if (h->stop) break;
        pthread_mutex_unlock(&h->mu);
        look(h);
        pthread_mutex_lock(&h->mu);
        next = dc__now_ms() + EVERY_MS;
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

dcx_hint *dcx_hint_start(dcx_ctx *ctx, const char *task)
{
    dcx_hint *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->ctx = ctx;
    h->task = strdup(task);
    h->election_prefix = dcx_own_key(ctx->ns, "election/");
    if (!h->task || !h->election_prefix) goto fail;
    pthread_mutex_init(&h->mu, NULL);
    if (dc__cond_init_monotonic(&h->cond) != 0) {
        pthread_mutex_destroy(&h->mu);
        goto fail;
    }
    if (pthread_create(&h->thread, NULL, run, h) != 0) {
        pthread_cond_destroy(&h->cond);
        pthread_mutex_destroy(&h->mu);
        goto fail;
    }
    return h;
fail:
    free(h->task);
    free(h->election_prefix);
    free(h);
    return NULL; /* no hints: the worker works the same */
}

void dcx_hint_stop(dcx_hint *h)
{
    if (!h) return;
    pthread_mutex_lock(&h->mu);
    h->stop = 1;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->mu);
    free(h->task);
    free(h->election_prefix);
    free(h);
}
