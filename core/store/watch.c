/*
 * The core's side of a watch: a queue of event batches between the driver
 * (which pushes whole revisions from its own thread, or from the writer's
 * thread for mem://) and the user (who pulls with dc_watch_next or polls
 * dc_watch_fd).
 * Guarantees that hold whatever the driver does:
 *  - a revision is never split: batches are queued and handed out whole;
 *  - nothing is delivered twice, and nothing is skipped in silence: the
 *    driver must push revisions in increasing order. An exact second copy of
 *    the last revision pushed (a driver that resumed one revision too early)
 *    is dropped; any other event at or below it means the store's history
 *    went backwards: the watch ends with DC_ERESET and the handle is
 *    poisoned (docs/DESIGN.md, "Resets"). Dropping such events instead, as
 *    this file once did, is how a reset turns into a silent gap: the new
 *    history's first revisions vanish and the rest looks normal;
 *  - key, prefix and type filters are applied again here, so a driver may
 *    deliver a superset (Redis and ZooKeeper read one log for all watches);
 *  - with DC_PREV_KV, an event that lacks the prev_kv it must have ends the
 *    watch with DC_ECOMPACTED instead of being handed out.
 * The eventfd is readable exactly while something waits in the queue or the
 * watch has ended.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "kv.h"

typedef struct batch {
    struct batch *next;
    dc_event *events;
    size_t n;
} batch;

struct dc_watch {
    dc_store *store;                  /* NULL once detached by dc_store_close */
    void *handle;                     /* the driver's */
    struct dc_watch *prev_w, *next_w; /* in store->watches */
    char *key;
    size_t key_len;
    unsigned flags;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int efd;
    int fd_set; /* the eventfd counter is non-zero */
    batch *head, *tail;
    int64_t last_queued;    /* highest revision pushed by the driver (start - 1 at first) */
    uint64_t last_print;    /* fingerprint of the events pushed at last_queued */
    int have_print;         /* last_queued was pushed (not just the start) */
    int64_t last_delivered; /* highest revision handed to the user */
    int ended, end_code;
    int64_t compact_rev;
    char end_msg[512];
};

/* The sink handed to drivers is the watch itself. */
#define W(sink) ((dc_watch *)(void *)(sink))

static void fd_raise(dc_watch *w)
{
    if (w->fd_set) return;
    uint64_t one = 1;
    if (write(w->efd, &one, sizeof one) == sizeof one) w->fd_set = 1;
}

static void fd_lower(dc_watch *w)
{
    if (!w->fd_set) return;
    uint64_t v;
    if (read(w->efd, &v, sizeof v) == sizeof v) w->fd_set = 0;
}

static int wanted(const dc_watch *w, const dc_event *ev)
{
    return dc__event_wanted(w->flags, w->key, w->key_len, ev->type, ev->kv.key, ev->kv.key_len);
}

/* DC_PREV_KV promises the prev_kv of every event whose key existed before:
 * every DELETE, and every PUT past version 1. etcd itself drops it for the
 * event at the compact revision (the version it replaced is compacted), so
 * a driver may hand such an event over; see docs/DESIGN.md "Watches and
 * prev_kv at the compact revision". */
static int lacks_prev_kv(const dc_watch *w, const dc_event *ev)
{
    return (w->flags & DC_PREV_KV) && !ev->prev_kv &&
           (ev->type == DC_EVENT_DELETE || ev->kv.version > 1);
}

static void end_locked(dc_watch *w, int code, int64_t compact_rev, const char *msg);

/* The watch cannot give rev with its prev_kv: it ends as compacted, at the
 * next revision (from there on every prev_kv is still stored). */
static void end_prev_kv_lost(dc_watch *w, int64_t rev)
{
    char msg[160];
    snprintf(msg, sizeof msg,
             "the prev_kv of revision %lld is compacted: watch again from revision %lld",
             (long long)rev, (long long)rev + 1);
    end_locked(w, DC_ECOMPACTED, rev + 1, msg);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static uint64_t print_kv(uint64_t h, const dc_kv *kv)
{
    int64_t meta[5] = {(int64_t)kv->key_len, kv->create_revision, kv->mod_revision, kv->version,
                       kv->lease};
    h = fnv(h, meta, sizeof meta);
    h = fnv(h, kv->key, kv->key_len);
    return fnv(h, kv->value, kv->value_len);
}

/* A fingerprint of the events evs[0..n) (one revision's, in order). */
static uint64_t print_events(const dc_event *evs, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        int t = (int)evs[i].type;
        h = fnv(h, &t, sizeof t);
        h = print_kv(h, &evs[i].kv);
    }
    return h;
}

/* Check the order of a push: *skip = how many leading events are an exact
 * copy of the last revision already pushed. 0, or -1 for a reset (why set). */
static int push_order(const dc_watch *w, const dc_event *events, size_t n, size_t *skip, char *why,
                      size_t whylen)
{
    *skip = 0;
    size_t i = 0;
    if (n && events[0].kv.mod_revision == w->last_queued && w->have_print) {
        while (i < n && events[i].kv.mod_revision == w->last_queued) i++;
        if (print_events(events, i) != w->last_print) {
            snprintf(why, whylen,
                     "a watch received revision %lld again with different events: the store's "
                     "history went backwards",
                     (long long)w->last_queued);
            return -1;
        }
        *skip = i;
    }
    int64_t prev = w->last_queued;
    for (; i < n; i++) {
        int64_t rev = events[i].kv.mod_revision;
        /* equal to the previous event of this push: the same revision goes on */
        if (rev < prev || (rev == prev && i == *skip)) {
            snprintf(why, whylen,
                     "a watch received revision %lld after revision %lld: the store's history "
                     "went backwards",
                     (long long)rev, (long long)w->last_queued);
            return -1;
        }
        prev = rev;
    }
    return 0;
}

int dc__watch_push(dc_watch_sink *sink, dc_event *events, size_t n)
{
    dc_watch *w = W(sink);
    pthread_mutex_lock(&w->mu);
    if (w->ended) {
        pthread_mutex_unlock(&w->mu);
        dc__event_array_free(events, n);
        return DC_ECLOSED;
    }
    size_t skip;
    char why[256];
    if (push_order(w, events, n, &skip, why, sizeof why) != 0) {
        end_locked(w, DC_ERESET, 0, why);
        dc_store *s = w->store; /* valid while the driver may push (see stop_watch) */
        pthread_mutex_unlock(&w->mu);
        dc__event_array_free(events, n);
        return s ? dc__poison(s, why) : DC_ERESET;
    }
    int64_t top = n > skip ? events[n - 1].kv.mod_revision : w->last_queued;
    if (n > skip) {
        /* remember the last revision's events, to know an exact copy of them */
        size_t first = n;
        while (first > skip && events[first - 1].kv.mod_revision == top) first--;
        w->last_print = print_events(events + first, n - first);
        w->have_print = 1;
    }
    if (w->store) dc__note_rev(w->store, top);
    /* Keep the wanted events that are new, compacting in place. */
    int64_t no_prev = 0; /* the revision of an event that lacks its prev_kv */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        dc_event *ev = &events[i];
        if (no_prev || i < skip || !wanted(w, ev)) {
            dc__event_clear(ev);
            continue;
        }
        if (lacks_prev_kv(w, ev)) {
            /* Deliver the revisions before it, whole, then end the watch. */
            int64_t rev = ev->kv.mod_revision;
            no_prev = rev;
            while (k > 0 && events[k - 1].kv.mod_revision == rev) dc__event_clear(&events[--k]);
            dc__event_clear(ev);
            continue;
        }
        if (!(w->flags & DC_PREV_KV) && ev->prev_kv) {
            dc__kv_clear(ev->prev_kv);
            free(ev->prev_kv);
            ev->prev_kv = NULL;
        }
        events[k++] = *ev;
    }
    w->last_queued = top;
    if (k == 0) {
        if (no_prev) end_prev_kv_lost(w, no_prev);
        pthread_mutex_unlock(&w->mu);
        free(events);
        return DC_OK;
    }
    batch *b = malloc(sizeof *b);
    if (!b) {
        dc__event_array_free(events, k);
        w->ended = 1;
        w->end_code = DC_ENOMEM;
        snprintf(w->end_msg, sizeof w->end_msg, "out of memory queueing watch events");
        fd_raise(w);
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        return DC_ENOMEM;
    }
    b->next = NULL;
    b->events = events;
    b->n = k;
    if (w->tail)
        w->tail->next = b;
    else
        w->head = b;
    w->tail = b;
    if (no_prev) end_prev_kv_lost(w, no_prev);
    fd_raise(w);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return DC_OK;
}

static void end_locked(dc_watch *w, int code, int64_t compact_rev, const char *msg)
{
    if (w->ended) return;
    w->ended = 1;
    w->end_code = code;
    w->compact_rev = compact_rev;
    snprintf(w->end_msg, sizeof w->end_msg, "%s", msg ? msg : dc_strerror(code));
    fd_raise(w);
    pthread_cond_broadcast(&w->cv);
}

void dc__watch_fail(dc_watch_sink *sink, int code, int64_t compact_revision, const char *msg)
{
    dc_watch *w = W(sink);
    pthread_mutex_lock(&w->mu);
    end_locked(w, code, compact_revision, msg);
    dc_store *s = w->store;
    pthread_mutex_unlock(&w->mu);
    /* the driver's own check found a reset: the whole handle is done */
    if (code == DC_ERESET && s) dc__poison(s, msg ? msg : dc_strerror(code));
}

void dc__watches_end(dc_store *s, int code, const char *msg)
{
    pthread_mutex_lock(&s->watch_mu);
    for (dc_watch *w = s->watches; w; w = w->next_w) {
        pthread_mutex_lock(&w->mu);
        end_locked(w, code, 0, msg);
        pthread_mutex_unlock(&w->mu);
    }
    pthread_mutex_unlock(&s->watch_mu);
}

int dc_watch_open(dc_store *s, const void *key, size_t key_len, int64_t start_revision,
                  unsigned flags, dc_watch **out)
{
    if (!s || !out) return dc__error(DC_EINVAL, "dc_watch_open: NULL argument");
    *out = NULL;
    if (flags & ~(DC_PREFIX | DC_PREV_KV | DC_NO_PUT | DC_NO_DELETE))
        return dc__error_store(s, DC_EINVAL, "dc_watch_open: invalid flags 0x%x", flags);
    if ((!key && key_len) || (key_len == 0 && !(flags & DC_PREFIX)))
        return dc__error_store(s, DC_EINVAL, "dc_watch_open: empty key");
    if (start_revision < 0)
        return dc__error_store(s, DC_EINVAL, "dc_watch_open: negative start revision");
    int prc = dc__check_poison(s);
    if (prc != DC_OK) return prc;
    if (start_revision == 0) {
        int64_t cur;
        int rc = dc_revision(s, &cur);
        if (rc != DC_OK) return rc;
        start_revision = cur + 1;
    }
    dc_watch *w = calloc(1, sizeof *w);
    if (!w) return dc__nomem_store(s, NULL);
    w->key = malloc(key_len + 1);
    w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!w->key || w->efd < 0) {
        int e = errno;
        free(w->key);
        if (w->efd >= 0) close(w->efd);
        free(w);
        return dc__error_store(s, DC_ENOMEM, "dc_watch_open: %s", strerror(e));
    }
    if (key_len) memcpy(w->key, key, key_len);
    w->key[key_len] = '\0';
    w->key_len = key_len;
    w->flags = flags;
    w->last_queued = start_revision - 1;
    pthread_mutex_init(&w->mu, NULL);
    dc__cond_init_monotonic(&w->cv);
    w->store = s;

    dc_watch_req req = {
        .key = w->key, .key_len = key_len, .flags = flags, .start_revision = start_revision};
    dc_drv_err err = {{0}, 0};
    int rc = s->drv->watch_start(s->conn, &req, (dc_watch_sink *)(void *)w, &w->handle, &err);
    if (rc == DC_ECOMPACTED) {
        /* The contract: the watch opens, and its first next() says compacted. */
        w->handle = NULL;
        end_locked(w, DC_ECOMPACTED, err.compact_revision, err.msg);
    } else if (rc != DC_OK) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        close(w->efd);
        free(w->key);
        free(w);
        if (rc == DC_ERESET) return dc__poison(s, err.msg[0] ? err.msg : dc_strerror(rc));
        dc_log(DC_LOG_WARN, s->scheme, "watch failed: %s (%s)", err.msg, dc_errname(rc));
        return dc__error_store(s, rc, "%s", err.msg[0] ? err.msg : dc_strerror(rc));
    }
    pthread_mutex_lock(&s->watch_mu);
    w->next_w = s->watches;
    if (s->watches) s->watches->prev_w = w;
    s->watches = w;
    pthread_mutex_unlock(&s->watch_mu);
    /* poisoned meanwhile (the walk that ends every watch may have missed this
     * one): it opens ended, like every watch of a poisoned handle */
    if (atomic_load(&s->poisoned)) {
        pthread_mutex_lock(&w->mu);
        end_locked(w, DC_ERESET, 0, s->poison_msg);
        pthread_mutex_unlock(&w->mu);
    }
    *out = w;
    return DC_OK;
}

int dc_watch_next(dc_watch *w, int timeout_ms, dc_events **out)
{
    if (!w || !out) return dc__error(DC_EINVAL, "dc_watch_next: NULL argument");
    *out = NULL;
    int64_t deadline = dc__deadline_ms(timeout_ms);
    pthread_mutex_lock(&w->mu);
    while (!w->head && !w->ended) {
        if (timeout_ms == 0 || dc__cond_wait_until(&w->cv, &w->mu, deadline) == ETIMEDOUT) break;
    }
    if (!w->head) {
        int code = w->ended ? w->end_code : DC_ETIMEDOUT;
        int rc = w->ended ? dc__error(code, "%s", w->end_msg) : dc__error(code, "no events yet");
        pthread_mutex_unlock(&w->mu);
        return rc;
    }
    /* Hand out everything queued: whole batches only, merged into one array. */
    size_t n = 0;
    for (batch *b = w->head; b; b = b->next) n += b->n;
    dc_events *r = malloc(sizeof *r);
    dc_event *evs = w->head->next ? malloc(n * sizeof *evs) : NULL;
    if (!r || (w->head->next && !evs)) {
        free(r);
        free(evs);
        pthread_mutex_unlock(&w->mu);
        return dc__nomem(NULL);
    }
    if (!w->head->next) {
        evs = w->head->events; /* one batch: hand over its array as is */
        free(w->head);
    } else {
        size_t k = 0;
        batch *b = w->head;
        while (b) {
            memcpy(evs + k, b->events, b->n * sizeof *evs);
            k += b->n;
            batch *nx = b->next;
            free(b->events);
            free(b);
            b = nx;
        }
    }
    w->head = w->tail = NULL;
    r->n = n;
    r->events = evs;
    w->last_delivered = evs[n - 1].kv.mod_revision;
    if (!w->ended) fd_lower(w);
    pthread_mutex_unlock(&w->mu);
    *out = r;
    return DC_OK;
}

int dc_watch_fd(dc_watch *w)
{
    return w ? w->efd : -1;
}

int64_t dc_watch_compact_revision(dc_watch *w)
{
    if (!w) return 0;
    pthread_mutex_lock(&w->mu);
    int64_t r = w->ended && w->end_code == DC_ECOMPACTED ? w->compact_rev : 0;
    pthread_mutex_unlock(&w->mu);
    return r;
}

int64_t dc_watch_last_revision(dc_watch *w)
{
    if (!w) return 0;
    pthread_mutex_lock(&w->mu);
    int64_t r = w->last_delivered;
    pthread_mutex_unlock(&w->mu);
    return r;
}

/* Unlink w from its store's list. store->watch_mu held. */
static void unlink_locked(dc_store *s, dc_watch *w)
{
    if (w->prev_w)
        w->prev_w->next_w = w->next_w;
    else
        s->watches = w->next_w;
    if (w->next_w) w->next_w->prev_w = w->prev_w;
    w->prev_w = w->next_w = NULL;
}

/* Stop the driver side of an unlinked watch. Outside watch_mu: the driver
 * may be ending watches (and poisoning the store) from a thread that holds
 * its own locks, which watch_stop takes too. w->store stays set until the
 * driver promised not to push any more (the push path reads it). */
static void stop_watch(dc_watch *w)
{
    dc_store *s = w->store;
    if (w->handle) s->drv->watch_stop(s->conn, w->handle);
    w->handle = NULL;
    pthread_mutex_lock(&w->mu);
    w->store = NULL;
    pthread_mutex_unlock(&w->mu);
}

void dc__watches_detach(dc_store *s)
{
    for (;;) {
        pthread_mutex_lock(&s->watch_mu);
        dc_watch *w = s->watches;
        if (w) unlink_locked(s, w);
        pthread_mutex_unlock(&s->watch_mu);
        if (!w) return;
        stop_watch(w);
        pthread_mutex_lock(&w->mu);
        end_locked(w, DC_ECLOSED, 0, "the store was closed");
        pthread_mutex_unlock(&w->mu);
    }
}

void dc_watch_close(dc_watch *w)
{
    if (!w) return;
    /* Other watches of the store may open and close meanwhile: watch_mu
     * guards the list. dc_store_close itself must not run concurrently
     * (store.h): it detaches what is left, and a detached watch has
     * store == NULL and needs only freeing. */
    dc_store *s = w->store;
    if (s) {
        pthread_mutex_lock(&s->watch_mu);
        unlink_locked(s, w);
        pthread_mutex_unlock(&s->watch_mu);
        stop_watch(w);
    }
    for (batch *b = w->head; b;) {
        batch *nx = b->next;
        dc__event_array_free(b->events, b->n);
        free(b);
        b = nx;
    }
    close(w->efd);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->key);
    free(w);
}
