/*
 * Watchers of the key prefix, each with its own store handle and DC_PREV_KV.
 * Every watch the recorder opens is a *session* in the history (wopen, the
 * batches it delivered as ev lines, wend with the code that ended it), so
 * the checker can hold each session to the rules on its own and compare the
 * sessions with each other.
 *
 * The steady watcher opens once, from the run's first revision, and is never
 * closed by us: if the store ends it (it should only ever end with
 * DC_ECOMPACTED), it reopens from where it must and the checker sees the
 * seam. The hopper closes its watch every second or two and reopens it,
 * either right after its last revision (resume) or further back (replay),
 * sometimes from a revision that compaction has already removed.
 */
#include "robust.h"

#include <string.h>

static cJSON *event_json(const dc_event *e)
{
    cJSON *a = rb_arr();
    rb_push(a, rb_str(e->type == DC_EVENT_PUT ? "P" : "D", 1));
    rb_push(a, rb_str(e->kv.key, e->kv.key_len));
    rb_push(a, rb_str(e->kv.value, e->kv.value_len));
    rb_push(a, rb_int(e->kv.create_revision));
    rb_push(a, rb_int(e->kv.mod_revision));
    rb_push(a, rb_int(e->kv.version));
    rb_push(a, rb_int(e->kv.lease));
    rb_push(a, e->prev_kv ? rb_kv(e->prev_kv) : cJSON_CreateNull());
    return a;
}

/* After DC_ERESET (the store was reset, docs/DESIGN.md "Resets"): wait for
 * the fault thread to finish the reset, open a handle of the new epoch and
 * return the revision to watch from (the new epoch's first). */
static int64_t reopen(rb_watcher *me, dc_store **s)
{
    rb_wait_epoch(me->run, me->epoch);
    dc_store_close(*s);
    *s = NULL;
    me->epoch = atomic_load(&me->run->epoch);
    *s = rb_open_retry(me->run, "watcher reopen");
    return atomic_load(&me->run->epoch_start_rev) + 1;
}

static dc_watch *open_session(rb_watcher *me, dc_store **s, int *sess, int64_t *start)
{
    for (;;) {
        dc_watch *w = NULL;
        const char *p = me->run->cfg->prefix;
        int rc = dc_watch_open(*s, p, strlen(p), *start, DC_PREFIX | DC_PREV_KV, &w);
        cJSON *rec = rb_obj("wopen");
        rb_add_int(rec, "w", me->id);
        rb_add_int(rec, "s", *sess);
        rb_add_int(rec, "e", me->epoch);
        rb_add_int(rec, "start", *start);
        rb_add_int(rec, "at", rb_now());
        rb_add_rc(rec, rc);
        rb_hist_write(rec);
        if (rc == DC_OK) return w;
        if (rc == DC_ERESET) {
            *start = reopen(me, s);
            continue;
        }
        if (atomic_load(&me->run->stop_watchers)) return NULL;
        rb_sleep_unless(100, &me->run->stop_watchers);
    }
}

static void end_session(rb_watcher *me, dc_watch *w, int sess, const char *why, int rc,
                        int64_t last)
{
    cJSON *rec = rb_obj("wend");
    rb_add_int(rec, "w", me->id);
    rb_add_int(rec, "s", sess);
    rb_add_int(rec, "at", rb_now());
    rb_add_int(rec, "last", last);
    if (why)
        rb_add_str(rec, "rc", why, strlen(why));
    else
        rb_add_rc(rec, rc);
    if (rc == DC_ECOMPACTED) rb_add_int(rec, "compact", dc_watch_compact_revision(w));
    rb_hist_write(rec);
}

void *rb_watcher_main(void *arg)
{
    rb_watcher *me = arg;
    rb_run *run = me->run;
    dc_store *s = NULL;
    int rc = dc_store_open(run->cfg->uri, &s);
    if (rc != DC_OK) rb_die("watcher %d: open: %s: %s", me->id, dc_errname(rc), dc_last_error());

    int sess = 0;
    int64_t last = run->start_rev; /* last revision this watcher delivered */
    int64_t base = run->start_rev; /* the epoch's first revision - 1 */
    int64_t from = run->start_rev + 1;
    dc_watch *w = open_session(me, &s, &sess, &from);
    if (me->epoch != 0) last = base = from - 1; /* a reset at once */
    atomic_store(&me->opened, 1);
    int64_t hop_at = rb_now() + (int64_t)(500 + rb_rand(&me->seed) % 2500) * 1000000;
    while (w) {
        dc_events *ev = NULL;
        rc = dc_watch_next(w, 200, &ev);
        if (rc == DC_OK) {
            cJSON *rec = rb_obj("ev");
            rb_add_int(rec, "w", me->id);
            rb_add_int(rec, "s", sess);
            rb_add_int(rec, "at", rb_now());
            cJSON *arr = rb_arr();
            for (size_t i = 0; i < ev->n; i++) {
                rb_push(arr, event_json(&ev->events[i]));
                if (ev->events[i].kv.mod_revision > last) last = ev->events[i].kv.mod_revision;
            }
            cJSON_AddItemToObject(rec, "events", arr);
            rb_hist_write(rec);
            atomic_fetch_add(&run->events, (long long)ev->n);
            if (!me->hopper) atomic_store(&run->steady_last_rev, last);
            dc_events_free(ev);
        } else if (rc != DC_ETIMEDOUT) {
            /* The store ended the watch: reopen where the contract says. */
            from = last + 1;
            if (rc == DC_ECOMPACTED && dc_watch_compact_revision(w) > from)
                from = dc_watch_compact_revision(w);
            end_session(me, w, sess, NULL, rc, last);
            dc_watch_close(w);
            int ep = me->epoch;
            if (rc == DC_ERESET) { /* the store was reset: a new epoch */
                from = reopen(me, &s);
            } else if (rc != DC_ECOMPACTED) {
                rb_sleep_unless(100, &run->stop_watchers);
            }
            ++sess;
            w = atomic_load(&run->stop_watchers) ? NULL : open_session(me, &s, &sess, &from);
            if (me->epoch != ep) last = base = from - 1; /* a new epoch */
            continue;
        }
        int64_t drain = atomic_load(&run->drain_to);
        if (drain > 0 && last >= drain) {
            end_session(me, w, sess, "closed", DC_OK, last);
            atomic_store(&me->complete, 1);
            break;
        }
        if (atomic_load(&run->stop_watchers)) {
            end_session(me, w, sess, "stopped", DC_OK, last);
            break;
        }
        if (me->hopper && rb_now() >= hop_at) {
            end_session(me, w, sess, "closed", DC_OK, last);
            dc_watch_close(w);
            from = last + 1;
            if (rb_rand(&me->seed) % 2) { /* replay: from up to 40 revisions back */
                int64_t back = (int64_t)(rb_rand(&me->seed) % 40);
                from = last - back > base ? last - back : base + 1;
            }
            ++sess;
            int ep = me->epoch;
            w = open_session(me, &s, &sess, &from);
            if (me->epoch != ep) base = from - 1; /* a reset: a new epoch */
            /* the reopened session delivers from `from` again */
            last = from - 1;
            hop_at = rb_now() + (int64_t)(500 + rb_rand(&me->seed) % 2500) * 1000000;
        }
    }
    if (w) dc_watch_close(w);
    dc_store_close(s);
    return NULL;
}
