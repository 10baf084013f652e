/*
 * mem:// watches. A watch first replays the retained log from its start
 * revision, then is registered to receive each new write's events; both
 * happen under the instance mutex, so nothing can slip in between. Writers
 * hand events to the core's watch queue directly (the core then wakes the
 * reader), which keeps delivery in revision order by construction.
 */
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

struct mem_watch {
    mem_watch *prev, *next;
    dc_watch_sink *sink;
    char *key;
    size_t key_len;
    unsigned flags;
    int64_t start_rev;
    int failed;
};

static int matches(const mem_watch *w, const mem_event *ev)
{
    if (w->flags & DC_NO_PUT && ev->type == DC_EVENT_PUT) return 0;
    if (w->flags & DC_NO_DELETE && ev->type == DC_EVENT_DELETE) return 0;
    if (w->flags & DC_PREFIX)
        return dc_key_has_prefix(ev->kv.key, ev->kv.key_len, w->key, w->key_len);
    return dc_key_cmp(ev->kv.key, ev->kv.key_len, w->key, w->key_len) == 0;
}

static int copy_event(dc_event *dst, const mem_event *src, int with_prev)
{
    memset(dst, 0, sizeof *dst);
    dst->type = src->type;
    if (dc_kv_copy(&dst->kv, &src->kv) != 0) return -1;
    if (with_prev && src->has_prev) {
        dst->prev_kv = dc_kv_dup(&src->prev);
        if (!dst->prev_kv) {
            dc_kv_clear(&dst->kv);
            return -1;
        }
    }
    return 0;
}

/* Push the events of log slots [from, to) that w wants. mu held. */
static void deliver(mem_store *m, mem_watch *w, size_t from, size_t to)
{
    if (w->failed) return;
    size_t n = 0;
    for (size_t i = from; i < to; i++)
        if (m->log_rev[i] >= w->start_rev && matches(w, &m->log[i])) n++;
    if (!n) return;
    dc_event *evs = calloc(n, sizeof *evs);
    size_t k = 0;
    for (size_t i = from; evs && i < to; i++) {
        if (m->log_rev[i] < w->start_rev || !matches(w, &m->log[i])) continue;
        if (copy_event(&evs[k], &m->log[i], w->flags & DC_PREV_KV) != 0) {
            dc_event_array_free(evs, k);
            evs = NULL;
            break;
        }
        k++;
    }
    if (!evs) {
        /* Never a silent gap: end the watch instead. */
        w->failed = 1;
        m->host->watch_fail(w->sink, DC_ENOMEM, 0, "mem: out of memory delivering events");
        return;
    }
    if (m->host->watch_push(w->sink, evs, n) != DC_OK) w->failed = 1;
}

void mem_watch_notify(mem_store *m, size_t first, size_t n)
{
    for (mem_watch *w = m->watches; w; w = w->next) deliver(m, w, first, first + n);
}

/* First log slot with revision >= rev. mu held. */
static size_t log_search(mem_store *m, int64_t rev)
{
    size_t lo = m->head, hi = m->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->log_rev[mid] < rev)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int mem_watch_start(void *conn, const dc_watch_req *req, dc_watch_sink *sink, void **handle,
                    dc_drv_err *err)
{
    mem_store *m = conn;
    mem_watch *w = calloc(1, sizeof *w);
    if (!w || !(w->key = malloc(req->key_len + 1))) {
        free(w);
        snprintf(err->msg, sizeof err->msg, "mem: out of memory starting a watch");
        return DC_ENOMEM;
    }
    if (req->key_len) memcpy(w->key, req->key, req->key_len);
    w->key[req->key_len] = '\0';
    w->key_len = req->key_len;
    w->flags = req->flags;
    w->start_rev = req->start_revision;
    w->sink = sink;

    pthread_mutex_lock(&m->mu);
    if (m->compact_rev && req->start_revision < m->compact_rev) {
        err->compact_revision = m->compact_rev;
        snprintf(err->msg, sizeof err->msg,
                 "mem: watch from revision %lld: compacted (compact revision %lld)",
                 (long long)req->start_revision, (long long)m->compact_rev);
        pthread_mutex_unlock(&m->mu);
        free(w->key);
        free(w);
        return DC_ECOMPACTED;
    }
    deliver(m, w, log_search(m, req->start_revision), m->len);
    w->next = m->watches;
    if (m->watches) m->watches->prev = w;
    m->watches = w;
    pthread_mutex_unlock(&m->mu);
    *handle = w;
    return DC_OK;
}

void mem_watch_stop(void *conn, void *handle)
{
    mem_store *m = conn;
    mem_watch *w = handle;
    pthread_mutex_lock(&m->mu);
    if (w->prev)
        w->prev->next = w->next;
    else
        m->watches = w->next;
    if (w->next) w->next->prev = w->prev;
    pthread_mutex_unlock(&m->mu);
    free(w->key);
    free(w);
}
