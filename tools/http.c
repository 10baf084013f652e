/*
 * `ddlcoord master --listen ADDR:PORT`: the master's HTTP endpoint, with
 * libmicrohttpd (its internal polling thread; no HTTP code of our own).
 *
 *   /healthz    200 "ok" while the process runs
 *   /readyz     200 when this master leads and has rebuilt its locks, else 503
 *   /metrics    Prometheus text format (see metrics() for every series)
 *   /v1/locks   the JSON of `ddlcoord locks --json`, read from the store
 *   /v1/status  leader name, term, this master's name and role, the store URI
 *               with credentials redacted, the store and handled revisions
 *   /v1/steps   the last protocol step of each recent lock (the live page)
 *   /           the live page (http_page.c): polls /v1/locks and /v1/steps
 *
 * Store handles. The master's loop may replace ctx->store after a reset
 * (docs/DESIGN.md, "Resets"), so the HTTP thread never touches it: its reads
 * (/v1/locks, /v1/status, the store revision) go through a handle of its own,
 * opened from the same configuration and renewed when a reset poisons it;
 * the master's store-call counters are copied in by the loop
 * (dcx_monitor_tick), added up across handles.
 *
 * Locking. mon->mu guards the master pointer and the role; a handler holds it
 * while it calls into the master (dc_master_locks, dc_master_get_stats take
 * the master's own mutex after it), so the master loop clears the pointer
 * (dcx_monitor_lead(mon, NULL, 0)) before it frees the master. The step
 * callback runs with the master's mutex held, so what it records has its own
 * mutex (step_mu), never held while calling into the master.
 */
#include "http.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define STEP_CAP 256 /* recent locks remembered for /v1/steps */

typedef struct step_rec {
    char *lock_id;
    char *task;
    char *source;
    char *text;
    int step;
    int64_t revision;
    int64_t first_ms; /* monotonic: the first step seen of this lock */
    int64_t wall_ms;  /* when its last step was taken */
    int resolved;     /* step 10 seen */
    uint64_t seq;     /* order of the last update */
} step_rec;

struct dcx_monitor {
    dcx_ctx *ctx;
    dc_store *own; /* the HTTP thread's handle (only that thread uses it) */
    char *name;
    char *election_prefix;
    char address[160];
    struct MHD_Daemon *daemon;

    pthread_mutex_t mu; /* guards the fields below */
    dc_master *master;  /* non-NULL while leading */
    int64_t term;
    int64_t lead_since_wall; /* ms since the epoch, 0: not leading */
    uint64_t answers_before; /* admin answers of earlier terms */
    uint64_t rebuilds_before;
    int64_t started_wall;
    /* the master's store-call counters (dcx_monitor_tick): those of handles
     * replaced since, and the current handle's last copy */
    dc_store_call_stats calls_before[DC_CALL_COUNT];
    dc_store_call_stats calls_now[DC_CALL_COUNT];
    const dc_store *calls_of;

    pthread_mutex_t step_mu; /* guards the fields below */
    step_rec steps[STEP_CAP];
    size_t n_steps;
    uint64_t seq;
    dc_histogram lock_latency; /* first step seen to step 10, in ms */
    uint64_t steps_total;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- what the master tells */

void dcx_monitor_lead(dcx_monitor *mon, dc_master *m, int64_t term)
{
    if (!mon) return;
    pthread_mutex_lock(&mon->mu);
    if (mon->master && !m) {
        /* Keep the counters of the term that ends. */
        dc_master_stats st;
        if (dc_master_get_stats(mon->master, &st) == DC_OK) {
            mon->answers_before += st.admin_answers;
            mon->rebuilds_before += st.rebuilds;
        }
    }
    mon->master = m;
    mon->term = m ? term : 0;
    mon->lead_since_wall = m ? wall_ms() : 0;
    pthread_mutex_unlock(&mon->mu);
}

static void hist_add(dc_histogram *to, const dc_histogram *h)
{
    to->count += h->count;
    to->sum_ms += h->sum_ms;
    for (int b = 0; b < DC_HIST_BUCKETS; b++) to->buckets[b] += h->buckets[b];
}

void dcx_monitor_tick(dcx_monitor *mon, dc_store *store)
{
    if (!mon || !store) return;
    dc_store_call_stats now[DC_CALL_COUNT];
    if (dc_store_get_stats(store, now) != DC_OK) return;
    pthread_mutex_lock(&mon->mu);
    /* A new handle (a reset replaced it; the same address may come back):
     * what the old one counted is kept. */
    int fresh = store != mon->calls_of;
    for (int c = 0; c < DC_CALL_COUNT && !fresh; c++)
        fresh = now[c].latency.count < mon->calls_now[c].latency.count;
    if (fresh) {
        for (int c = 0; c < DC_CALL_COUNT; c++) {
            hist_add(&mon->calls_before[c].latency, &mon->calls_now[c].latency);
            mon->calls_before[c].errors += mon->calls_now[c].errors;
        }
        mon->calls_of = store;
    }
    memcpy(mon->calls_now, now, sizeof now);
    pthread_mutex_unlock(&mon->mu);
}

/* The store's revision through the HTTP thread's own handle; after a reset,
 * a new handle and one more try. */
static int own_revision(dcx_monitor *mon, int64_t *rev)
{
    int rc = dc_revision(mon->own, rev);
    if (rc != DC_ERESET) return rc;
    dc_store *fresh = NULL;
    if (dc_store_reopen(mon->own, &fresh) != DC_OK) return rc;
    dc_store_close(mon->own);
    mon->own = fresh;
    return dc_revision(mon->own, rev);
}

static void rec_clear(step_rec *r)
{
    free(r->lock_id);
    free(r->task);
    free(r->source);
    free(r->text);
    memset(r, 0, sizeof *r);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

void dcx_monitor_step(dcx_monitor *mon, const dc_step *st)
{
    if (!mon || !st->lock_id) return;
    pthread_mutex_lock(&mon->step_mu);
    mon->steps_total++;
    step_rec *r = NULL;
    for (size_t i = 0; i < mon->n_steps && !r; i++)
        if (strcmp(mon->steps[i].lock_id, st->lock_id) == 0) r = &mon->steps[i];
    /* Every DDL of a table has the same lock ID: a step after step 10 is
     * the table's next lock. */
    if (r && r->resolved && st->step != 10) {
        rec_clear(r);
        r->first_ms = dcx_now_ms();
        r->lock_id = strdup(st->lock_id);
    }
    if (!r) {
        if (mon->n_steps == STEP_CAP) {
            /* Forget the least recently updated lock. */
            size_t old = 0;
            for (size_t i = 1; i < mon->n_steps; i++)
                if (mon->steps[i].seq < mon->steps[old].seq) old = i;
            rec_clear(&mon->steps[old]);
            r = &mon->steps[old];
        } else {
            r = &mon->steps[mon->n_steps++];
            memset(r, 0, sizeof *r);
        }
        r->lock_id = strdup(st->lock_id);
        r->first_ms = dcx_now_ms();
    }
    free(r->task);
    free(r->source);
    free(r->text);
    r->task = dup_or_empty(st->task);
    r->source = dup_or_empty(st->source);
    r->text = dup_or_empty(st->text);
    r->step = st->step;
    r->revision = st->revision;
    r->wall_ms = wall_ms();
    r->seq = ++mon->seq;
    if (st->step == 10 && !r->resolved) {
        r->resolved = 1;
        dc_hist_observe(&mon->lock_latency, (double)(dcx_now_ms() - r->first_ms));
    }
    if (!r->lock_id || !r->task || !r->source || !r->text) {
        /* Out of memory: drop the record rather than serve half of it. */
        rec_clear(r);
        *r = mon->steps[--mon->n_steps];
        memset(&mon->steps[mon->n_steps], 0, sizeof mon->steps[0]);
    }
    pthread_mutex_unlock(&mon->step_mu);
}

/* ---------------------------------------------------------------- text building */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

static void histogram(sbuf *b, const char *name, const char *labels, const dc_histogram *h,
                      double scale)
{
    size_t nb;
    const double *bounds = dc_hist_bounds_ms(&nb);
    uint64_t cum = 0;
    const char *sep = *labels ? "," : "";
    for (size_t i = 0; i < nb; i++) {
        cum += h->buckets[i];
        sb_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, bounds[i] * scale,
                  (unsigned long long)cum);
    }
    cum += h->buckets[nb];
    sb_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cum);
    const char *o = *labels ? "{" : "", *c = *labels ? "}" : "";
    sb_printf(b, "%s_sum%s%s%s %.6f\n", name, o, labels, c, h->sum_ms * scale);
    sb_printf(b, "%s_count%s%s%s %llu\n", name, o, labels, c, (unsigned long long)h->count);
}

enum { LS_WAITING, LS_RESOLVING, LS_UNCERTAIN, LS_CONFLICT, LS_COUNT };
static const char *const lock_state_names[LS_COUNT] = {"waiting", "resolving", "uncertain",
                                                       "conflict"};

static int lock_state(const dc_lock_status *st)
{
    if (st->uncertain) return LS_UNCERTAIN;
    for (size_t i = 0; i < st->n_sources; i++)
        if (st->sources[i].conflict_ddls) return LS_CONFLICT;
    return st->synced ? LS_RESOLVING : LS_WAITING;
}

/* Everything /metrics serves. mon->mu is held by the caller. */
static void metrics(dcx_monitor *mon, sbuf *b)
{
    dc_master *m = mon->master;
    dc_master_stats ms = {0};
    int have = m && dc_master_get_stats(m, &ms) == DC_OK;
    size_t by_state[LS_COUNT] = {0};
    if (m) {
        dc_lock_status *locks = NULL;
        size_t n = 0;
        if (dc_master_locks(m, NULL, &locks, &n) == DC_OK) {
            for (size_t i = 0; i < n; i++) by_state[lock_state(&locks[i])]++;
            dc_lock_status_free_array(locks, n);
        }
    }
    int64_t store_rev = 0;
    int rev_ok = own_revision(mon, &store_rev) == DC_OK;

    sb_printf(b,
              "# HELP ddlcoord_master_leader 1 while this master leads.\n"
              "# TYPE ddlcoord_master_leader gauge\nddlcoord_master_leader %d\n",
              m ? 1 : 0);
    sb_printf(b,
              "# HELP ddlcoord_master_ready 1 while it leads and has rebuilt its locks.\n"
              "# TYPE ddlcoord_master_ready gauge\nddlcoord_master_ready %d\n",
              have && ms.rebuilt_revision > 0 ? 1 : 0);
    sb_printf(b,
              "# HELP ddlcoord_master_term The create revision of its leader key (0: not "
              "leading).\n# TYPE ddlcoord_master_term gauge\nddlcoord_master_term %lld\n",
              (long long)mon->term);
    sb_printf(b, "# HELP ddlcoord_locks Locks held by the leading master, by state.\n"
                 "# TYPE ddlcoord_locks gauge\n");
    for (int i = 0; i < LS_COUNT; i++)
        sb_printf(b, "ddlcoord_locks{state=\"%s\"} %zu\n", lock_state_names[i], by_state[i]);

    pthread_mutex_lock(&mon->step_mu);
    dc_histogram lat = mon->lock_latency;
    uint64_t steps = mon->steps_total;
    pthread_mutex_unlock(&mon->step_mu);
    sb_printf(b, "# HELP ddlcoord_lock_resolution_seconds From the first step this master took "
                 "on a lock to its step 10.\n# TYPE ddlcoord_lock_resolution_seconds histogram\n");
    histogram(b, "ddlcoord_lock_resolution_seconds", "", &lat, 0.001);
    sb_printf(b,
              "# HELP ddlcoord_master_steps_total Protocol steps taken by this master.\n"
              "# TYPE ddlcoord_master_steps_total counter\nddlcoord_master_steps_total %llu\n",
              (unsigned long long)steps);

    dc_store_call_stats cs[DC_CALL_COUNT];
    memcpy(cs, mon->calls_before, sizeof cs);
    for (int c = 0; c < DC_CALL_COUNT; c++) {
        hist_add(&cs[c].latency, &mon->calls_now[c].latency);
        cs[c].errors += mon->calls_now[c].errors;
    }
    {
        sb_printf(b, "# HELP ddlcoord_store_call_seconds Latency of the store calls of this "
                     "process, by op.\n# TYPE ddlcoord_store_call_seconds histogram\n");
        for (int c = 0; c < DC_CALL_COUNT; c++) {
            char labels[64];
            snprintf(labels, sizeof labels, "op=\"%s\"", dc_store_call_name(c));
            histogram(b, "ddlcoord_store_call_seconds", labels, &cs[c].latency, 0.001);
        }
        sb_printf(b, "# HELP ddlcoord_store_call_errors_total Store calls that failed, by op.\n"
                     "# TYPE ddlcoord_store_call_errors_total counter\n");
        for (int c = 0; c < DC_CALL_COUNT; c++)
            sb_printf(b, "ddlcoord_store_call_errors_total{op=\"%s\"} %llu\n",
                      dc_store_call_name(c), (unsigned long long)cs[c].errors);
    }
    sb_printf(b,
              "# HELP ddlcoord_store_revision The store's current revision.\n"
              "# TYPE ddlcoord_store_revision gauge\nddlcoord_store_revision %lld\n",
              (long long)(rev_ok ? store_rev : 0));
    sb_printf(b,
              "# HELP ddlcoord_watch_lag_revisions Store revision minus the last revision "
              "the leading master handled.\n# TYPE ddlcoord_watch_lag_revisions gauge\n"
              "ddlcoord_watch_lag_revisions %lld\n",
              (long long)(have && rev_ok && store_rev > ms.handled_revision
                              ? store_rev - ms.handled_revision
                              : 0));
    sb_printf(b,
              "# HELP ddlcoord_rebuild_duration_seconds Duration of the last rebuild (step 1).\n"
              "# TYPE ddlcoord_rebuild_duration_seconds gauge\n"
              "ddlcoord_rebuild_duration_seconds %.6f\n",
              have ? ms.last_rebuild_ms / 1000.0 : 0.0);
    sb_printf(b,
              "# HELP ddlcoord_rebuilds_total Rebuilds of the locks from the store.\n"
              "# TYPE ddlcoord_rebuilds_total counter\nddlcoord_rebuilds_total %llu\n",
              (unsigned long long)(mon->rebuilds_before + (have ? ms.rebuilds : 0)));
    sb_printf(b,
              "# HELP ddlcoord_admin_requests_served_total Admin requests (unlock, "
              "remove-meta) answered.\n# TYPE ddlcoord_admin_requests_served_total counter\n"
              "ddlcoord_admin_requests_served_total %llu\n",
              (unsigned long long)(mon->answers_before + (have ? ms.admin_answers : 0)));
}

static char *iso_time(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char s[32];
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", s, (int)(ms % 1000));
    return buf;
}

/* /v1/status (mon->mu held). */
static char *status_json(dcx_monitor *mon)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char *leader = NULL;
    int64_t leader_rev = 0;
    int64_t rev = 0;
    own_revision(mon, &rev); /* first: it renews the handle after a reset */
    int lrc = mon->master
                  ? DC_OK
                  : dc_election_leader(mon->own, mon->election_prefix, &leader, &leader_rev);
    dc_master_stats ms = {0};
    int have = mon->master && dc_master_get_stats(mon->master, &ms) == DC_OK;
    char since[48] = "", started[48];
    if (mon->lead_since_wall) iso_time(mon->lead_since_wall, since, sizeof since);
    iso_time(mon->started_wall, started, sizeof started);
    const char *lname = mon->master ? mon->name : (lrc == DC_OK ? leader : NULL);
    int ok = cJSON_AddStringToObject(o, "name", mon->name) &&
             cJSON_AddStringToObject(o, "role", mon->master ? "leader" : "standby") &&
             cJSON_AddBoolToObject(o, "ready", have && ms.rebuilt_revision > 0) &&
             (lname ? cJSON_AddStringToObject(o, "leader", lname) != NULL
                    : cJSON_AddNullToObject(o, "leader") != NULL) &&
             cJSON_AddNumberToObject(
                 o, "term", (double)(mon->master ? mon->term : (lrc == DC_OK ? leader_rev : 0))) &&
             cJSON_AddStringToObject(o, "leading_since", since) &&
             cJSON_AddStringToObject(o, "started", started) &&
             cJSON_AddStringToObject(o, "address", mon->address) &&
             cJSON_AddStringToObject(o, "store", mon->ctx->uri_shown) &&
             cJSON_AddStringToObject(o, "namespace", mon->ctx->ns) &&
             cJSON_AddNumberToObject(o, "revision", (double)rev) &&
             cJSON_AddNumberToObject(o, "handled_revision", (double)ms.handled_revision) &&
             cJSON_AddNumberToObject(o, "locks", (double)ms.locks);
    free(leader);
    char *s = ok ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    return s;
}

/* /v1/steps: the recent locks, most recently updated first. */
static char *steps_json(dcx_monitor *mon)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "locks") : NULL;
    int ok = arr != NULL;
    pthread_mutex_lock(&mon->step_mu);
    size_t n = mon->n_steps;
    const step_rec **v = calloc(n ? n : 1, sizeof *v);
    ok = ok && v;
    for (size_t i = 0; ok && i < n; i++) v[i] = &mon->steps[i];
    /* newest first: a small insertion sort (at most STEP_CAP entries) */
    for (size_t i = 1; ok && i < n; i++)
        for (size_t j = i; j > 0 && v[j]->seq > v[j - 1]->seq; j--) {
            const step_rec *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    for (size_t i = 0; ok && i < n; i++) {
        const step_rec *r = v[i];
        char when[48];
        cJSON *e = cJSON_CreateObject();
        ok = e && cJSON_AddItemToArray(arr, e) && cJSON_AddStringToObject(e, "ID", r->lock_id) &&
             cJSON_AddStringToObject(e, "task", r->task) &&
             cJSON_AddNumberToObject(e, "step", r->step) &&
             cJSON_AddStringToObject(e, "source", r->source) &&
             cJSON_AddStringToObject(e, "text", r->text) &&
             cJSON_AddNumberToObject(e, "revision", (double)r->revision) &&
             cJSON_AddStringToObject(e, "time", iso_time(r->wall_ms, when, sizeof when)) &&
             cJSON_AddBoolToObject(e, "resolved", r->resolved);
    }
    pthread_mutex_unlock(&mon->step_mu);
    free(v);
    char *s = ok ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    return s;
}

static char *locks_json(dcx_monitor *mon)
{
    dc_lock_status *locks = NULL;
    size_t n = 0;
    int64_t rev = 0;
    int64_t probe = 0;
    own_revision(mon, &probe); /* renews the handle after a reset */
    if (dc_locks_read(mon->own, mon->ctx->ns, NULL, &locks, &n, &rev) != DC_OK) return NULL;
    char *s = dcx_locks_json(locks, n, rev);
    dc_lock_status_free_array(locks, n);
    return s;
}

/* ---------------------------------------------------------------- serving */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             char *body, int must_free)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (must_free) free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result serve_json(struct MHD_Connection *c, char *json)
{
    if (!json)
        return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
                     "store read failed or out of memory\n", 0);
    return reply(c, MHD_HTTP_OK, "application/json", json, 1);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    (void)con_cls;
    dcx_monitor *mon = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET only\n", 0);
    if (*upload_size) return MHD_NO;
    if (strcmp(url, "/healthz") == 0) return reply(c, MHD_HTTP_OK, "text/plain", "ok\n", 0);
    if (strcmp(url, "/") == 0)
        return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", (char *)dcx_http_page, 0);
    if (strcmp(url, "/v1/locks") == 0) return serve_json(c, locks_json(mon));
    if (strcmp(url, "/v1/steps") == 0) return serve_json(c, steps_json(mon));
    if (strcmp(url, "/readyz") == 0) {
        pthread_mutex_lock(&mon->mu);
        dc_master_stats ms = {0};
        int ready = mon->master && dc_master_get_stats(mon->master, &ms) == DC_OK &&
                    ms.rebuilt_revision > 0;
        pthread_mutex_unlock(&mon->mu);
        return ready ? reply(c, MHD_HTTP_OK, "text/plain", "ready\n", 0)
                     : reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
                             "not ready: not leading, or not rebuilt yet\n", 0);
    }
    if (strcmp(url, "/v1/status") == 0) {
        pthread_mutex_lock(&mon->mu);
        char *s = status_json(mon);
        pthread_mutex_unlock(&mon->mu);
        return serve_json(c, s);
    }
    if (strcmp(url, "/metrics") == 0) {
        sbuf b = {0};
        pthread_mutex_lock(&mon->mu);
        metrics(mon, &b);
        pthread_mutex_unlock(&mon->mu);
        if (b.oom || !b.p) {
            free(b.p);
            return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "out of memory\n", 0);
        }
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4", b.p, 1);
    }
    return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n", 0);
}

/* "ADDR:PORT" or "[V6]:PORT" into a socket address. 0 or -1. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[128];
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) return -1;
    size_t hl = (size_t)(colon - s);
    const char *h = s;
    if (s[0] == '[') {
        if (hl < 3 || s[hl - 1] != ']') return -1;
        h = s + 1;
        hl -= 2;
    }
    if (hl >= sizeof host) return -1;
    memcpy(host, h, hl);
    host[hl] = 0;
    long port = dcx_parse_long(colon + 1, 0, 65535);
    if (port < 0 && strcmp(colon + 1, "0") != 0) return -1;
    if (port < 0) port = 0;
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char ps[24];
    snprintf(ps, sizeof ps, "%ld", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0 || !res) return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int dcx_monitor_start(dcx_ctx *ctx, const char *listen, const char *name,
                      const char *election_prefix, dcx_monitor **out)
{
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t slen = 0;
    memset(&ss, 0, sizeof ss);
    if (parse_listen(listen, &ss, &slen) != 0) {
        dcx_err(ctx, "--listen wants ADDR:PORT (127.0.0.1:9090, [::1]:9090, 0.0.0.0:0): %s",
                dc__e(listen));
        return DCX_EXIT_USAGE;
    }
    dcx_monitor *mon = calloc(1, sizeof *mon);
    if (!mon || !(mon->name = strdup(name)) || !(mon->election_prefix = strdup(election_prefix))) {
        if (mon) free(mon->name);
        free(mon);
        dcx_err(ctx, "out of memory");
        return DCX_EXIT_FAIL;
    }
    mon->ctx = ctx;
    mon->started_wall = wall_ms();
    int orc = dc_store_open_config(ctx->cfg, &mon->own);
    if (orc != DC_OK) {
        free(mon->name);
        free(mon->election_prefix);
        free(mon);
        return dcx_fail(ctx, orc, "open the HTTP endpoint's store handle");
    }
    pthread_mutex_init(&mon->mu, NULL);
    pthread_mutex_init(&mon->step_mu, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    mon->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handler, mon, MHD_OPTION_SOCK_ADDR,
                                   (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT,
                                   (unsigned)30, MHD_OPTION_END);
    if (!mon->daemon) {
        dcx_err(ctx, "cannot listen on %s (address in use, or not this host's?)", dc__e(listen));
        dcx_monitor_stop(mon);
        return DCX_EXIT_FAIL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(mon->daemon, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = di ? di->port : 0;
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
        snprintf(mon->address, sizeof mon->address, "[%s]:%u", host, port);
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
        snprintf(mon->address, sizeof mon->address, "%s:%u", host, port);
    }
    *out = mon;
    return DCX_EXIT_OK;
}

const char *dcx_monitor_address(const dcx_monitor *mon)
{
    return mon ? mon->address : "";
}

void dcx_monitor_stop(dcx_monitor *mon)
{
    if (!mon) return;
    if (mon->daemon) MHD_stop_daemon(mon->daemon);
    for (size_t i = 0; i < mon->n_steps; i++) rec_clear(&mon->steps[i]);
    pthread_mutex_destroy(&mon->mu);
    pthread_mutex_destroy(&mon->step_mu);
    dc_store_close(mon->own);
    free(mon->name);
    free(mon->election_prefix);
    free(mon);
}
