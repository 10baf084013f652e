/*
 * Watches: replay from an old revision delivers exactly the events written,
 * in order, once; prev_kv on PUT and DELETE only when asked; the NO_PUT and
 * NO_DELETE filters; exact-key versus prefix watches; resuming from the last
 * revision + 1 after a close; start revision 0 and starts in the future; the
 * poll fd; timeouts 0 and -1; one DELETE per key of a prefix delete; and the
 * end of a watch when its store closes.
 */
#include "conformance.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

typedef struct expect_ev {
    dc_event_type type;
    const char *key;
    const char *value;
    int64_t rev;
} expect_ev;

CONF_TEST(watch_replays_history_from_old_revision_in_order_exactly_once)
{
    expect_ev want[10];
    size_t n = 0;
#define PUT(k, v) (want[n] = (expect_ev){DC_EVENT_PUT, K(k), v, conf_put(K(k), v)}, n++)
#define DEL(k)    (want[n] = (expect_ev){DC_EVENT_DELETE, K(k), "", conf_delete(K(k), 0, NULL)}, n++)
    conf_put(K("outside"), "x");
    PUT("w/a", "1");
    PUT("w/b", "1");
    conf_put(K("outside"), "y");
    PUT("w/a", "2");
    DEL("w/b");
    dc_txn *t = conf_txn();
    OK(dc_txn_put(t, DC_THEN, K("w/c"), strlen(K("w/c")), "1", 1, 0, 0));
    OK(dc_txn_delete(t, DC_THEN, K("w/a"), strlen(K("w/a")), 0));
    OK(dc_txn_put(t, DC_THEN, K("w/d"), strlen(K("w/d")), "1", 1, 0, 0));
    OK(dc_txn_put(t, DC_THEN, K("outside"), strlen(K("outside")), "z", 1, 0, 0));
    dc_txn_result *r = conf_commit(t);
    want[n++] = (expect_ev){DC_EVENT_PUT, K("w/c"), "1", r->revision};
    want[n++] = (expect_ev){DC_EVENT_DELETE, K("w/a"), "", r->revision};
    want[n++] = (expect_ev){DC_EVENT_PUT, K("w/d"), "1", r->revision};
    dc_txn_result_free(r);
    PUT("w/a", "3");
#undef PUT
#undef DEL

    dc_watch *w = conf_watch(K("w/"), want[0].rev, DC_PREFIX);
    conf_events log = {0};
    conf_collect_exactly(w, &log, n);
    for (size_t i = 0; i < n; i++)
        conf_expect_event(log.ev[i], want[i].type, want[i].key, want[i].value, want[i].rev);
    /* metadata of PUT events: w/a was put, put again, deleted, put again */
    ck_assert_int_eq(log.ev[0]->kv.version, 1);
    ck_assert_int_eq(log.ev[0]->kv.create_revision, want[0].rev);
    ck_assert_int_eq(log.ev[2]->kv.version, 2);
    ck_assert_int_eq(log.ev[2]->kv.create_revision, want[0].rev);
    ck_assert_int_eq(log.ev[7]->kv.version, 1);
    ck_assert_int_eq(log.ev[7]->kv.create_revision, want[7].rev);
    /* a DELETE carries the key and the deletion's revision, nothing else */
    ck_assert_int_eq(log.ev[3]->kv.create_revision, 0);
    ck_assert_int_eq(log.ev[3]->kv.version, 0);
    ck_assert_int_eq(log.ev[3]->kv.lease, 0);
    ck_assert_ptr_null(log.ev[3]->prev_kv);
    ck_assert_int_eq(dc_watch_last_revision(w), want[n - 1].rev);
    conf_expect_quiet(w);
    conf_events_free(&log);
    dc_watch_close(w);

    /* from the middle: exactly the tail */
    w = conf_watch(K("w/"), want[2].rev, DC_PREFIX);
    conf_collect_exactly(w, &log, n - 2);
    for (size_t i = 2; i < n; i++)
        conf_expect_event(log.ev[i - 2], want[i].type, want[i].key, want[i].value, want[i].rev);
    conf_expect_quiet(w);
    conf_events_free(&log);
    dc_watch_close(w);
}
END_TEST

CONF_TEST(watch_gives_prev_kv_on_put_and_delete_only_when_asked)
{
    const char *k = K("k");
    int64_t r1 = conf_put(k, "1");
    int64_t start = conf_revision() + 1;
    int64_t r2 = conf_put(k, "2");
    int64_t r3 = conf_delete(k, 0, NULL);
    int64_t r4 = conf_put(k, "3");

    dc_watch *w = conf_watch(k, start, DC_PREV_KV);
    conf_events log = {0};
    conf_collect_exactly(w, &log, 3);
    conf_expect_event(log.ev[0], DC_EVENT_PUT, k, "2", r2);
    ck_assert_ptr_nonnull(log.ev[0]->prev_kv);
    EXPECT_KV(log.ev[0]->prev_kv, k, "1");
    ck_assert_int_eq(log.ev[0]->prev_kv->mod_revision, r1);
    ck_assert_int_eq(log.ev[0]->prev_kv->version, 1);

    conf_expect_event(log.ev[1], DC_EVENT_DELETE, k, "", r3);
    ck_assert_ptr_nonnull(log.ev[1]->prev_kv);
    EXPECT_KV(log.ev[1]->prev_kv, k, "2");
    ck_assert_int_eq(log.ev[1]->prev_kv->mod_revision, r2);
    ck_assert_int_eq(log.ev[1]->prev_kv->create_revision, r1);
    ck_assert_int_eq(log.ev[1]->prev_kv->version, 2);

    conf_expect_event(log.ev[2], DC_EVENT_PUT, k, "3", r4);
    ck_assert_ptr_null(log.ev[2]->prev_kv); /* the key did not exist before */
    conf_events_free(&log);
    dc_watch_close(w);

    w = conf_watch(k, start, 0);
    conf_collect_exactly(w, &log, 3);
    for (size_t i = 0; i < 3; i++) ck_assert_ptr_null(log.ev[i]->prev_kv);
    conf_events_free(&log);
    dc_watch_close(w);
}
END_TEST

CONF_TEST(watch_no_put_and_no_delete_filter_event_types)
{
    int64_t start = conf_revision() + 1;
    int64_t p1 = conf_put(K("a"), "1");
    int64_t d1 = conf_delete(K("a"), 0, NULL);
    int64_t p2 = conf_put(K("b"), "1");
    int64_t d2 = conf_delete(K("b"), 0, NULL);

    dc_watch *w = conf_watch(K(""), start, DC_PREFIX | DC_NO_PUT);
    conf_events log = {0};
    conf_collect_exactly(w, &log, 2);
    conf_expect_event(log.ev[0], DC_EVENT_DELETE, K("a"), "", d1);
    conf_expect_event(log.ev[1], DC_EVENT_DELETE, K("b"), "", d2);
    conf_expect_quiet(w);
    conf_events_free(&log);
    dc_watch_close(w);

    w = conf_watch(K(""), start, DC_PREFIX | DC_NO_DELETE);
    conf_collect_exactly(w, &log, 2);
    conf_expect_event(log.ev[0], DC_EVENT_PUT, K("a"), "1", p1);
    conf_expect_event(log.ev[1], DC_EVENT_PUT, K("b"), "1", p2);
    conf_expect_quiet(w);
    conf_events_free(&log);
    dc_watch_close(w);

    w = conf_watch(K(""), start, DC_PREFIX | DC_NO_PUT | DC_NO_DELETE);
    conf_expect_quiet(w);
    dc_watch_close(w);
}
END_TEST

CONF_TEST(watch_on_a_key_sees_only_that_key_and_on_a_prefix_all_keys_under_it)
{
    int64_t start = conf_revision() + 1;
    int64_t ra = conf_put(K("a"), "1");
    int64_t rab = conf_put(K("ab"), "1");
    int64_t rasub = conf_put(K("a/b"), "1");
    conf_put(K("b"), "1");
    conf_put(K("\x60"), "1"); /* the byte just below 'a' */
    int64_t rd = conf_delete(K("a"), 0, NULL);

    dc_watch *w = conf_watch(K("a"), start, 0);
    conf_events log = {0};
    conf_collect_exactly(w, &log, 2);
    conf_expect_event(log.ev[0], DC_EVENT_PUT, K("a"), "1", ra);
    conf_expect_event(log.ev[1], DC_EVENT_DELETE, K("a"), "", rd);
    conf_expect_quiet(w);
    conf_events_free(&log);
    dc_watch_close(w);

    w = conf_watch(K("a"), start, DC_PREFIX);
    conf_collect_exactly(w, &log, 4);
    conf_expect_event(log.ev[0], DC_EVENT_PUT, K("a"), "1", ra);
    conf_expect_event(log.ev[1], DC_EVENT_PUT, K("ab"), "1", rab);
    conf_expect_event(log.ev[2], DC_EVENT_PUT, K("a/b"), "1", rasub);
    conf_expect_event(log.ev[3], DC_EVENT_DELETE, K("a"), "", rd);
    conf_expect_quiet(w);
    conf_events_free(&log);
    dc_watch_close(w);
}
END_TEST

/* Each cycle writes while the watch is open and read, then while it is open
 * but unread (close drops those), then while it is closed; the watch reopened
 * from its last revision + 1 must deliver each event exactly once. */
CONF_TEST(watch_reopened_from_last_revision_plus_1_misses_and_repeats_nothing)
{
    enum { CYCLES = 4, PER_CYCLE = 10 };
    int64_t revs[CYCLES * PER_CYCLE];
    char vals[CYCLES * PER_CYCLE][8];
    size_t written = 0;
    conf_events log = {0};
    dc_watch *w = conf_watch(K(""), conf_revision() + 1, DC_PREFIX);
    for (int c = 0; c < CYCLES; c++) {
        for (int i = 0; i < PER_CYCLE; i++) {
            if (i == 4) { /* the first four are read before the close */
                conf_collect_exactly(w, &log, written);
                ck_assert_int_eq(dc_watch_last_revision(w), revs[written - 1]);
            }
            if (i == 7) { /* three written while open and unread, three while closed */
                int64_t last = dc_watch_last_revision(w);
                ck_assert_int_gt(last, 0);
                dc_watch_close(w);
                for (int j = 7; j < PER_CYCLE; j++) {
                    snprintf(vals[written], sizeof vals[0], "%zu", written);
                    revs[written] = conf_put(K(j % 2 ? "odd" : "even"), vals[written]);
                    written++;
                }
                w = conf_watch(K(""), last + 1, DC_PREFIX);
                break;
            }
            snprintf(vals[written], sizeof vals[0], "%zu", written);
            revs[written] = conf_put(K(i % 2 ? "odd" : "even"), vals[written]);
            written++;
        }
    }
    conf_collect_exactly(w, &log, written);
    for (size_t i = 0; i < written; i++) {
        ck_assert_int_eq(log.ev[i]->type, DC_EVENT_PUT);
        ck_assert_msg(log.ev[i]->kv.mod_revision == revs[i],
                      "event %zu at revision %lld, want %lld", i,
                      (long long)log.ev[i]->kv.mod_revision, (long long)revs[i]);
        conf_expect_bytes(log.ev[i]->kv.value, log.ev[i]->kv.value_len, vals[i], strlen(vals[i]),
                          "value");
    }
    conf_expect_quiet(w);
    conf_events_free(&log);
    dc_watch_close(w);
}
END_TEST

CONF_TEST(watch_from_revision_0_starts_at_the_next_write)
{
    const char *k = K("k");
    conf_put(k, "old");
    conf_put(k, "older");
    dc_watch *w = conf_watch(k, 0, 0);
    conf_expect_quiet(w);
    int64_t r = conf_put(k, "new");
    conf_events log = {0};
    conf_collect_exactly(w, &log, 1);
    conf_expect_event(log.ev[0], DC_EVENT_PUT, k, "new", r);
    conf_expect_quiet(w);
    conf_events_free(&log);
    dc_watch_close(w);
}
END_TEST

CONF_TEST(watch_from_a_future_revision_starts_there)
{
    const char *k = K("k");
    int64_t start = conf_revision() + 3;
    int64_t revs[12];
    size_t n = 0;
    /* revisions may have gaps: write until one reaches the start */
    do {
        ck_assert_uint_lt(n, 12);
        revs[n] = conf_put(k, "v");
        n++;
    } while (revs[n - 1] < start);
    dc_watch *w = conf_watch(k, start, 0);
    size_t first = 0;
    while (revs[first] < start) first++;
    revs[n] = conf_put(k, "last");
    n++;
    conf_events log = {0};
    conf_collect_exactly(w, &log, n - first);
    for (size_t i = first; i < n; i++)
        ck_assert_int_eq(log.ev[i - first]->kv.mod_revision, revs[i]);
    conf_expect_quiet(w);
    conf_events_free(&log);
    dc_watch_close(w);

    /* opened before the store reaches the start */
    start = conf_revision() + 2;
    w = conf_watch(k, start, 0);
    n = 0;
    do {
        ck_assert_uint_lt(n, 12);
        revs[n] = conf_put(k, "w");
        n++;
    } while (revs[n - 1] < start);
    first = 0;
    while (revs[first] < start) first++;
    conf_collect_exactly(w, &log, n - first);
    for (size_t i = first; i < n; i++)
        ck_assert_int_eq(log.ev[i - first]->kv.mod_revision, revs[i]);
    conf_expect_quiet(w);
    conf_events_free(&log);
    dc_watch_close(w);
}
END_TEST

static int fd_readable(dc_watch *w, int timeout_ms)
{
    struct pollfd p = {.fd = dc_watch_fd(w), .events = POLLIN};
    ck_assert_int_ge(p.fd, 0);
    int n = poll(&p, 1, timeout_ms);
    ck_assert_int_ge(n, 0);
    return n == 1 && (p.revents & POLLIN);
}

CONF_TEST(watch_fd_is_readable_exactly_while_events_are_queued)
{
    const char *k = K("k");
    dc_watch *w = conf_watch(k, 0, 0);
    ck_assert_int_eq(fd_readable(w, 0), 0);
    int64_t r = conf_put(k, "v");
    ck_assert_msg(fd_readable(w, CONF_WAIT_MS), "fd not readable with an event queued");
    ck_assert_int_eq(fd_readable(w, 0), 1); /* stays readable until consumed */
    dc_events *ev = NULL;
    OK(dc_watch_next(w, 0, &ev));
    ck_assert_uint_eq(ev->n, 1);
    conf_expect_event(&ev->events[0], DC_EVENT_PUT, k, "v", r);
    dc_events_free(ev);
    ck_assert_int_eq(fd_readable(w, 0), 0);
    ev = NULL;
    EXPECT_RC(dc_watch_next(w, 0, &ev), DC_ETIMEDOUT);
    ck_assert_ptr_null(ev);

    /* and again for a second write */
    r = conf_put(k, "w");
    ck_assert_msg(fd_readable(w, CONF_WAIT_MS), "fd not readable with an event queued");
    OK(dc_watch_next(w, 0, &ev));
    conf_expect_event(&ev->events[0], DC_EVENT_PUT, k, "w", r);
    dc_events_free(ev);
    ck_assert_int_eq(fd_readable(w, 0), 0);
    dc_watch_close(w);
}
END_TEST

CONF_TEST(watch_next_with_timeout_0_is_etimedout_when_nothing_is_queued)
{
    dc_watch *w = conf_watch(K("k"), 0, DC_PREFIX);
    dc_events *ev = (dc_events *)&ev; /* must be reset to NULL */
    EXPECT_RC(dc_watch_next(w, 0, &ev), DC_ETIMEDOUT);
    ck_assert_ptr_null(ev);
    EXPECT_RC(dc_watch_next(w, 50, &ev), DC_ETIMEDOUT);
    ck_assert_ptr_null(ev);
    /* a timeout does not end the watch */
    int64_t r = conf_put(K("k"), "v");
    conf_events log = {0};
    conf_collect_exactly(w, &log, 1);
    conf_expect_event(log.ev[0], DC_EVENT_PUT, K("k"), "v", r);
    conf_events_free(&log);
    dc_watch_close(w);
}
END_TEST

static void *put_later(void *arg)
{
    nanosleep(&(struct timespec){0, 100 * 1000000}, NULL);
    int64_t *rev = arg;
    const char *k = K("k");
    if (dc_put(conf_store, k, strlen(k), "late", 4, 0, rev) != DC_OK) *rev = -1;
    return NULL;
}

CONF_TEST(watch_next_with_timeout_minus_1_waits_for_events)
{
    dc_watch *w = conf_watch(K("k"), 0, 0);
    int64_t rev = 0;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, put_later, &rev), 0);
    dc_events *ev = NULL;
    int rc = dc_watch_next(w, -1, &ev);
    pthread_join(th, NULL);
    OK(rc);
    ck_assert_int_gt(rev, 0);
    ck_assert_uint_eq(ev->n, 1);
    conf_expect_event(&ev->events[0], DC_EVENT_PUT, K("k"), "late", rev);
    dc_events_free(ev);
    dc_watch_close(w);
}
END_TEST

CONF_TEST(watch_prefix_delete_gives_one_delete_per_key_at_one_revision)
{
    static const char *keys[] = {"d/1", "d/2", "d/3/x", "d/4"};
    for (int i = 0; i < 4; i++) conf_put(K(keys[i]), keys[i]);
    conf_put(K("e"), "outside");
    dc_watch *w = conf_watch(K(""), 0, DC_PREFIX | DC_PREV_KV);
    int64_t deleted = 0;
    int64_t r = conf_delete(K("d/"), DC_PREFIX, &deleted);
    ck_assert_int_eq(deleted, 4);
    conf_events log = {0};
    conf_collect_exactly(w, &log, 4);
    ck_assert_uint_eq(log.nb, 1); /* one revision, one batch */
    int seen[4] = {0};
    for (size_t i = 0; i < 4; i++) {
        const dc_event *e = log.ev[i];
        ck_assert_int_eq(e->type, DC_EVENT_DELETE);
        ck_assert_int_eq(e->kv.mod_revision, r);
        ck_assert_ptr_nonnull(e->prev_kv);
        int j;
        for (j = 0; j < 4; j++)
            if (e->kv.key_len == strlen(K(keys[j])) &&
                memcmp(e->kv.key, K(keys[j]), e->kv.key_len) == 0)
                break;
        ck_assert_msg(j < 4, "DELETE of an unexpected key '%s'", e->kv.key);
        ck_assert_int_eq(seen[j], 0);
        seen[j] = 1;
        EXPECT_KV(e->prev_kv, K(keys[j]), keys[j]);
    }
    conf_expect_quiet(w);
    conf_events_free(&log);
    dc_watch_close(w);
    ck_assert_int_eq(conf_exists(K("e"), NULL), 1);
}
END_TEST

CONF_TEST(watch_ends_with_eclosed_when_its_store_closes)
{
    dc_store *s2 = NULL;
    OK(dc_store_open(conf_uri, &s2));
    dc_watch *w = NULL;
    OK(dc_watch_open(s2, K("k"), strlen(K("k")), 0, 0, &w));
    dc_store_close(s2);
    dc_events *ev = NULL;
    EXPECT_RC(dc_watch_next(w, CONF_WAIT_MS, &ev), DC_ECLOSED);
    ck_assert_ptr_null(ev);
    EXPECT_RC(dc_watch_next(w, 0, &ev), DC_ECLOSED); /* an ended watch stays ended */
    ck_assert_int_eq(fd_readable(w, 0), 1);
    dc_watch_close(w);
}
END_TEST

/* Many watches at once, on different keys, on one key twice, and on nested
 * prefixes (one of which is also an exact key): each gets exactly the events
 * its key or prefix and filters select, in revision order, none lost, none
 * foreign; closing some and opening one midway changes nothing for the
 * others. (mem:// indexes its watches by key and prefix length: this is the
 * rule that index must keep.) */
typedef struct many_watch {
    const char *key; /* suffix */
    unsigned flags;
    int64_t start;  /* first revision it must see */
    int64_t closed; /* 0, or the revision after which it was closed */
    dc_watch *w;
} many_watch;

typedef struct many_ev {
    dc_event_type type;
    const char *key; /* suffix */
    char value[16];
    int64_t rev;
} many_ev;

static int many_selects(const many_watch *mw, const many_ev *e)
{
    if (mw->flags & DC_NO_DELETE && e->type == DC_EVENT_DELETE) return 0;
    if (mw->flags & DC_NO_PUT && e->type == DC_EVENT_PUT) return 0;
    if (e->rev < mw->start) return 0;
    if (mw->flags & DC_PREFIX) return strncmp(e->key, mw->key, strlen(mw->key)) == 0;
    return strcmp(e->key, mw->key) == 0;
}

CONF_TEST(watch_many_watches_on_keys_and_nested_prefixes_each_get_only_their_events)
{
    static const char *const keys[] = {"m/k0", "m/k1",  "m/k2",    "m/k3",    "m/k4", "m/a",
                                       "m/ab", "m/a/x", "m/a/b/y", "m/a/b/z", "m/k",  "n/k0"};
    enum { NKEYS = sizeof keys / sizeof keys[0] };
    many_watch ws[] = {
        {"m/k0", 0, 0, 0, NULL},
        {"m/k0", 0, 0, 0, NULL},
        {"m/k1", 0, 0, 0, NULL},
        {"m/k2", 0, 0, 0, NULL},
        {"m/k3", DC_NO_PUT, 0, 0, NULL},
        {"m/a", 0, 0, 0, NULL},
        {"m/a/b/y", 0, 0, 0, NULL},
        {"m/", DC_PREFIX, 0, 0, NULL},
        {"m/a", DC_PREFIX, 0, 0, NULL},
        {"m/a/b/", DC_PREFIX, 0, 0, NULL},
        {"m/a/b/", DC_PREFIX | DC_NO_DELETE, 0, 0, NULL},
        {"m/k", DC_PREFIX | DC_NO_DELETE, 0, 0, NULL},
        {"m/a/b", DC_PREFIX, 0, 0, NULL}, /* opened midway */
    };
    enum { NW = sizeof ws / sizeof ws[0], LATE = NW - 1 };
    many_ev evs[128];
    size_t n = 0;
    int live[NKEYS] = {0};

    int64_t start = conf_revision() + 1;
    for (size_t i = 0; i < LATE; i++) {
        ws[i].start = start;
        ws[i].w = conf_watch(K(ws[i].key), start, ws[i].flags);
    }
    for (int r = 0; r < 60; r++) {
        size_t k = (size_t)(r * 7 + r / NKEYS) % NKEYS;
        many_ev *e = &evs[n++];
        e->key = keys[k];
        if (live[k] && r % 4 == 3) {
            e->type = DC_EVENT_DELETE;
            e->value[0] = '\0';
            e->rev = conf_delete(K(keys[k]), 0, NULL);
            live[k] = 0;
        } else {
            e->type = DC_EVENT_PUT;
            snprintf(e->value, sizeof e->value, "v%d", r);
            e->rev = conf_put(K(keys[k]), e->value);
            live[k] = 1;
        }
        if (r == 20) {
            /* one txn: three events at one revision, in op order */
            dc_txn *t = conf_txn();
            OK(dc_txn_put(t, DC_THEN, K("m/a/b/z"), strlen(K("m/a/b/z")), "t", 1, 0, 0));
            OK(dc_txn_put(t, DC_THEN, K("m/k0"), strlen(K("m/k0")), "t", 1, 0, 0));
            OK(dc_txn_put(t, DC_THEN, K("m/ab"), strlen(K("m/ab")), "t", 1, 0, 0));
            dc_txn_result *res = conf_commit(t);
            const char *tk[] = {"m/a/b/z", "m/k0", "m/ab"};
            for (size_t j = 0; j < 3; j++) {
                evs[n] = (many_ev){DC_EVENT_PUT, tk[j], "t", res->revision};
                n++;
            }
            live[9] = live[0] = live[6] = 1;
            dc_txn_result_free(res);
        }
        if (r == 30) {
            /* close the second m/k0 watch and the NO_DELETE twin of m/a/b/,
             * open a prefix of a new length */
            ws[1].closed = ws[10].closed = e->rev;
            dc_watch_close(ws[1].w);
            dc_watch_close(ws[10].w);
            ws[1].w = ws[10].w = NULL;
            ws[LATE].start = e->rev + 1;
            ws[LATE].w = conf_watch(K(ws[LATE].key), ws[LATE].start, ws[LATE].flags);
        }
    }
    ck_assert_uint_le(n, sizeof evs / sizeof evs[0]);

    for (size_t i = 0; i < NW; i++) {
        if (!ws[i].w) continue;
        size_t want = 0;
        for (size_t j = 0; j < n; j++) want += many_selects(&ws[i], &evs[j]);
        ck_assert_msg(want > 0, "watch %zu selects nothing: the test is wrong", i);
        conf_events log = {0};
        conf_collect_exactly(ws[i].w, &log, want);
        size_t got = 0;
        for (size_t j = 0; j < n; j++)
            if (many_selects(&ws[i], &evs[j]))
                conf_expect_event(log.ev[got++], evs[j].type, K(evs[j].key), evs[j].value,
                                  evs[j].rev);
        conf_events_free(&log);
    }
    /* one quiet period for all: nothing foreign or repeated is queued */
    struct timespec q = {CONF_QUIET_MS / 1000, (CONF_QUIET_MS % 1000) * 1000000L};
    nanosleep(&q, NULL);
    for (size_t i = 0; i < NW; i++) {
        if (!ws[i].w) continue;
        dc_events *b = NULL;
        EXPECT_RC(dc_watch_next(ws[i].w, 0, &b), DC_ETIMEDOUT);
        ck_assert_ptr_null(b);
        dc_watch_close(ws[i].w);
    }
}
END_TEST

TCase *conf_watch_tcase(void)
{
    TCase *tc = tcase_create("watch");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, watch_replays_history_from_old_revision_in_order_exactly_once);
    tcase_add_test(tc, watch_gives_prev_kv_on_put_and_delete_only_when_asked);
    tcase_add_test(tc, watch_no_put_and_no_delete_filter_event_types);
    tcase_add_test(tc, watch_on_a_key_sees_only_that_key_and_on_a_prefix_all_keys_under_it);
    tcase_add_test(tc, watch_reopened_from_last_revision_plus_1_misses_and_repeats_nothing);
    tcase_add_test(tc, watch_from_revision_0_starts_at_the_next_write);
    tcase_add_test(tc, watch_from_a_future_revision_starts_there);
    tcase_add_test(tc, watch_fd_is_readable_exactly_while_events_are_queued);
    tcase_add_test(tc, watch_next_with_timeout_0_is_etimedout_when_nothing_is_queued);
    tcase_add_test(tc, watch_next_with_timeout_minus_1_waits_for_events);
    tcase_add_test(tc, watch_prefix_delete_gives_one_delete_per_key_at_one_revision);
    tcase_add_test(tc, watch_ends_with_eclosed_when_its_store_closes);
    tcase_add_test(tc, watch_many_watches_on_keys_and_nested_prefixes_each_get_only_their_events);
    return tc;
}
