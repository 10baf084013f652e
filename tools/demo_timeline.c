/*
 * The demo's live timeline. Steps arrive from the master's thread and from N
 * worker threads; a worker reports its write after it committed, by which
 * time the master may already have reacted to it, so printing in arrival
 * order would show effects before causes. Steps are therefore held for a
 * short reorder window (80 ms) and printed sorted by (lock, revision, step):
 * revisions are the store's own order, and within one revision DM's
 * step numbers are the causal order (2 before 3, 4 before 5, 8 before 9).
 * A step with no revision of its own (the checkpoint) takes its source's
 * previous one. A printer thread does the printing, so callers never block
 * on the terminal.
 */
#include "demo.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REORDER_MS 80
#define TICK_MS    20

typedef struct tl_event {
    uint64_t seq;
    int64_t arrival_ms;
    size_t lock;
    char *header;
    int step;
    int master;
    char *source;
    int64_t rev;
    int64_t eff_rev;
    char *text;
} tl_event;

typedef struct last_rev {
    char *who; /* role + source */
    int64_t rev;
} last_rev;

struct demo_timeline {
    FILE *out;
    size_t max_shown;
    int64_t t0;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int stop;
    tl_event *ev;
    size_t n, cap;
    uint64_t seq;
    size_t current_lock; /* last lock printed; SIZE_MAX = none yet */
    int64_t last_ms;     /* time shown on the last row */
    size_t last_lock_added;
    last_rev *last;
    size_t n_last;
};

static void event_free(tl_event *e)
{
    free(e->header);
    free(e->source);
    free(e->text);
}

static int cmp_event(const void *pa, const void *pb)
{
    const tl_event *a = pa, *b = pb;
    if (a->lock != b->lock) return a->lock < b->lock ? -1 : 1;
    if (a->eff_rev != b->eff_rev) return a->eff_rev < b->eff_rev ? -1 : 1;
    if (a->step != b->step) return a->step < b->step ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static const char *tag_of(int step)
{
    switch (step) {
    case 1:
        return "M1";
    case 2:
        return "W1";
    case 4:
        return "M2";
    case 8:
        return "W2";
    case 10:
        return "M3";
    default:
        return "";
    }
}

static void print_event(demo_timeline *t, const tl_event *e)
{
    if (e->lock != t->current_lock && e->header) {
        t->current_lock = e->lock;
        if (e->lock < t->max_shown) fprintf(t->out, "\n%s\n", e->header);
    }
    if (e->lock != SIZE_MAX && e->lock >= t->max_shown) return;
    char rev[24] = "";
    if (e->rev) snprintf(rev, sizeof rev, "%lld", (long long)e->rev);
    /* Sorted by revision, arrival times may step back by a millisecond:
     * show them monotonic, as the reader expects of a timeline. */
    if (e->arrival_ms > t->last_ms) t->last_ms = e->arrival_ms;
    fprintf(t->out, DEMO_TIMELINE_ROW "\n", (double)(t->last_ms - t->t0) / 1000.0, e->step,
            e->master ? "master" : "worker", e->source ? e->source : "", tag_of(e->step), rev,
            e->text ? e->text : "");
}

/* Print the events that are old enough (all when force), in order. */
static void drain(demo_timeline *t, int force)
{
    if (t->n == 0) return;
    qsort(t->ev, t->n, sizeof *t->ev, cmp_event);
    int64_t now = dcx_now_ms();
    size_t i = 0;
    for (; i < t->n; i++) {
        if (!force && now - t->ev[i].arrival_ms < REORDER_MS) break;
        print_event(t, &t->ev[i]);
        event_free(&t->ev[i]);
    }
    memmove(t->ev, t->ev + i, (t->n - i) * sizeof *t->ev);
    t->n -= i;
    fflush(t->out);
}

static void *printer(void *arg)
{
    demo_timeline *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&t->cv, &t->mu, &ts);
        drain(t, 0);
    }
    drain(t, 1);
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

demo_timeline *demo_timeline_new(FILE *out, size_t max_locks_shown, int64_t t0_ms)
{
    demo_timeline *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->out = out;
    t->max_shown = max_locks_shown;
    t->t0 = t0_ms;
    t->current_lock = SIZE_MAX;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (pthread_create(&t->thread, NULL, printer, t) != 0) {
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
        free(t);
        return NULL;
    }
    return t;
}

/* The previous revision of the same actor, updated with rev when non-zero. */
static int64_t effective_rev(demo_timeline *t, const char *who, int64_t rev)
{
    for (size_t i = 0; i < t->n_last; i++) {
        if (strcmp(t->last[i].who, who) != 0) continue;
        if (rev) t->last[i].rev = rev;
        return t->last[i].rev;
    }
    last_rev *grown = realloc(t->last, (t->n_last + 1) * sizeof *grown);
    char *copy = strdup(who);
    if (!grown || !copy) {
        free(copy);
        if (grown) t->last = grown;
        return rev;
    }
    t->last = grown;
    t->last[t->n_last].who = copy;
    t->last[t->n_last].rev = rev;
    t->n_last++;
    return rev;
}

void demo_timeline_add(demo_timeline *t, size_t lock, const char *header, const dc_step *st)
{
    if (!t) return;
    pthread_mutex_lock(&t->mu);
    if (lock == SIZE_MAX)
        lock = t->last_lock_added; /* e.g. step 1: in place */
    else
        t->last_lock_added = lock;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        tl_event *grown = realloc(t->ev, cap * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&t->mu);
            return; /* a lost line in a demo beats a crash */
        }
        t->ev = grown;
        t->cap = cap;
    }
    int is_master = st->role && strcmp(st->role, "master") == 0;
    char who[300];
    snprintf(who, sizeof who, "%s/%s", is_master ? "m" : "w", st->source ? st->source : "");
    tl_event *e = &t->ev[t->n];
    memset(e, 0, sizeof *e);
    e->seq = t->seq++;
    e->arrival_ms = dcx_now_ms();
    e->lock = lock;
    e->header = header ? strdup(header) : NULL;
    e->step = st->step;
    e->master = is_master;
    e->source = st->source ? strdup(st->source) : NULL;
    e->rev = st->revision;
    e->eff_rev = effective_rev(t, who, st->revision);
    e->text = st->text ? strdup(st->text) : NULL;
    t->n++;
    pthread_mutex_unlock(&t->mu);
}

void demo_timeline_flush(demo_timeline *t)
{
    if (!t) return;
    pthread_mutex_lock(&t->mu);
    drain(t, 1);
    pthread_mutex_unlock(&t->mu);
}

void demo_timeline_free(demo_timeline *t)
{
    if (!t) return;
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    for (size_t i = 0; i < t->n; i++) event_free(&t->ev[i]);
    for (size_t i = 0; i < t->n_last; i++) free(t->last[i].who);
    free(t->last);
    free(t->ev);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
}
