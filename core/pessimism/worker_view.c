/*
 * The worker's view of its own keys (operation, info, marker, conflict) and
 * the watches that keep it current, both kept across calls and runs so that
 * a lock does not cost a read before every decision and three new watches
 * per wait.
 *
 * Each key's state is known "at" a revision (`seen`): the revision of the
 * read that returned it, of an event that changed it, or of the worker's own
 * txn that wrote it (or whose compare on it held). Events at or below `seen`
 * are already in the state and are dropped, which also drops the echo of the
 * worker's own writes. A watch is opened at seen + 1 of its key right after
 * the state was set, so state + events is a gap-free history. A watch that
 * ends (compaction, a reconnect the driver could not prove gap-free, any
 * error, the store closing) is closed and its key made unknown: the caller
 * reads again and the next wait opens a new watch from that read (docs/DESIGN.md,
 * "Watch errors"); nothing here surfaces it as an error. No code assumes contiguous
 * revisions: only "later than" is ever asked.
 *
 * Keys are watched one by one (the four are under different prefixes); the
 * marker is never watched, since only the worker itself writes it (an admin
 * who deletes it makes the worker's compare fail, which it then re-reads).
 */
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

const char *dcp_view_key(const dc_worker *w, int k)
{
    switch (k) {
    case WK_OP:
        return w->op_key;
    case WK_INFO:
        return w->info_key;
    case WK_MARKER:
        return w->marker_key;
    default:
        return w->conflict_key;
    }
}

const dc_kv *dcp_view_kv(dc_worker *w, int k, dc_kv *buf)
{
    const wk_slot *s = &w->view[k];
    if (!s->known || !s->present) return NULL;
    const char *key = dcp_view_key(w, k);
    *buf = (dc_kv){(char *)key, strlen(key), s->value, s->len, s->create, s->mod, 0, 0};
    return buf;
}

int dcp_view_known(const dc_worker *w, const int *ks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!w->view[ks[i]].known) return 0;
    return 1;
}

void dcp_view_unknown(dc_worker *w, int k)
{
    wk_slot *s = &w->view[k];
    free(s->value);
    s->value = NULL;
    s->len = 0;
    s->known = s->present = 0;
    s->seen = s->mod = s->create = 0;
}

static void view_unwatch(dc_worker *w, int k)
{
    dc_watch_close(w->view[k].watch);
    w->view[k].watch = NULL;
}

int dcp_view_set(dc_worker *w, int k, const dc_kv *kv, int64_t rev)
{
    wk_slot *s = &w->view[k];
    if (s->known && rev < s->seen) return DC_OK; /* we already know a later state */
    char *v = NULL;
    if (kv && !(v = malloc(kv->value_len + 1))) {
        dcp_view_unknown(w, k);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    if (kv) {
        memcpy(v, kv->value, kv->value_len);
        v[kv->value_len] = '\0';
    }
    free(s->value);
    s->value = v;
    s->len = kv ? kv->value_len : 0;
    s->present = kv != NULL;
    s->mod = kv ? kv->mod_revision : 0;
    s->create = kv ? kv->create_revision : 0;
    s->seen = rev;
    s->known = 1;
    return DC_OK;
}

void dcp_view_confirm(dc_worker *w, int k, int64_t rev)
{
    wk_slot *s = &w->view[k];
    if (s->known && rev > s->seen) s->seen = rev;
}

int dcp_view_set_gets(dc_worker *w, const int *ks, size_t n, const dc_txn_result *res, size_t first)
{
    int rc = DC_OK;
    for (size_t i = 0; i < n; i++) {
        const dc_response *r = first + i < res->n_responses ? &res->responses[first + i] : NULL;
        if (!r) {
            dcp_view_unknown(w, ks[i]);
            continue;
        }
        int r2 = dcp_view_set(w, ks[i], r->n_kvs ? &r->kvs[0] : NULL, res->revision);
        if (r2) rc = r2;
    }
    return rc;
}

int dcp_view_read(dc_worker *w, const int *ks, size_t n)
{
    dc_txn *t = dc_txn_new();
    if (!t) return dc__error(DC_ENOMEM, "out of memory");
    int rc = DC_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *key = dcp_view_key(w, ks[i]);
        rc = dc_txn_get(t, DC_THEN, key, strlen(key), 0, 0);
    }
    dc_txn_result *res = NULL;
    if (!rc) rc = dc_txn_commit(w->store, t, &res);
    dc_txn_free(t);
    if (!rc) rc = dcp_view_set_gets(w, ks, n, res, 0);
    dc_txn_result_free(res);
    return rc;
}

int dcp_view_compare(dc_worker *w, dc_txn *t, int k)
{
    const wk_slot *s = &w->view[k];
    const char *key = dcp_view_key(w, k);
    if (s->present)
        return dc_txn_compare_int(t, key, strlen(key), DC_TARGET_MOD, DC_CMP_EQUAL, s->mod);
    return dc_txn_compare_int(t, key, strlen(key), DC_TARGET_CREATE, DC_CMP_EQUAL, 0);
}

/* Apply one batch of slot k's events; *changed = 1 if the state moved. */
static int view_apply(dc_worker *w, int k, const dc_events *evs, int *changed)
{
    for (size_t i = 0; i < evs->n; i++) {
        const dc_event *e = &evs->events[i];
        int64_t rev = e->kv.mod_revision;
        /* Unknown: a read is coming and its state includes this event. */
        if (!w->view[k].known || rev <= w->view[k].seen) continue;
        int rc = dcp_view_set(w, k, e->type == DC_EVENT_PUT ? &e->kv : NULL, rev);
        if (rc) return rc;
        *changed = 1;
    }
    return DC_OK;
}

int dcp_view_drain(dc_worker *w, int *changed)
{
    *changed = 0;
    for (int k = 0; k < WK_N; k++) {
        while (w->view[k].watch) {
            dc_events *evs = NULL;
            int rc = dc_watch_next(w->view[k].watch, 0, &evs);
            if (rc == DC_ETIMEDOUT) break;
            if (rc == DC_OK) {
                rc = view_apply(w, k, evs, changed);
                dc_events_free(evs);
                if (rc) {
                    dcp_view_unknown(w, k);
                    return rc;
                }
                continue;
            }
            dc_log(DC_LOG_INFO, PESS, "worker %s: watch of %s ended (%s): re-reading",
                   dc__e(w->source), dc__e(dcp_view_key(w, k)), dc_errname(rc));
            view_unwatch(w, k);
            dcp_view_unknown(w, k);
            *changed = 1;
        }
    }
    return DC_OK;
}

int dcp_view_wait(dc_worker *w, const int *ks, size_t n, int64_t deadline)
{
    for (size_t i = 0; i < n; i++) {
        wk_slot *s = &w->view[ks[i]];
        if (!s->known) return DC_OK; /* only a read tells where to start */
        if (s->watch) continue;
        const char *key = dcp_view_key(w, ks[i]);
        int rc = dc_watch_open(w->store, key, strlen(key), s->seen + 1, 0, &s->watch);
        if (rc) {
            s->watch = NULL;
            dcp_view_unknown(w, ks[i]);
            dc_log(DC_LOG_INFO, PESS, "worker %s: cannot watch %s (%s): re-reading",
                   dc__e(w->source), dc__e(key), dc_errname(rc));
            /* A store blip: pause so a dead store is not hammered. */
            int64_t left = deadline < 0 ? 100 : deadline - dc__now_ms();
            dc__sleep_ms(left < 100 ? (left > 0 ? left : 0) : 100);
            return DC_OK;
        }
    }
    struct pollfd p[WK_N];
    nfds_t np = 0;
    for (int k = 0; k < WK_N; k++)
        if (w->view[k].watch) p[np++] = (struct pollfd){dc_watch_fd(w->view[k].watch), POLLIN, 0};
    for (;;) {
        int64_t now = dc__now_ms();
        if (deadline >= 0 && now >= deadline)
            return dc__error(DC_ETIMEDOUT, "worker %s: timed out waiting", dc__e(w->source));
        int wait = deadline < 0 ? 1000 : (int)(deadline - now);
        int r = poll(p, np, wait > 1000 ? 1000 : wait);
        if (r > 0) return DC_OK;
        if (r < 0 && errno != EINTR) {
            dc__sleep_ms(10); /* cannot tell: drain and decide again, without spinning */
            return DC_OK;
        }
    }
}

void dcp_view_free(dc_worker *w)
{
    for (int k = 0; k < WK_N; k++) {
        view_unwatch(w, k);
        dcp_view_unknown(w, k);
    }
}
