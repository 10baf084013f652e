/*
 * The mem:// failpoints of ddlcoord/mem.h: the per-handle call hook and each
 * of its verdicts (nothing applied, or applied with the answer lost), ending
 * watches by handle, instance and key, resetting an instance, and the virtual
 * lease clock that expires leases only when moved, in deadline order.
 */
#include <ddlcoord/ddlcoord.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"

typedef struct hook_state {
    dc_mem_fault verdict;  /* what to answer */
    dc_mem_call only;      /* … for calls of this kind */
    int calls;             /* calls seen */
    dc_mem_call_info last; /* the last call seen */
    char last_key[64];
} hook_state;

static dc_mem_fault hook(const dc_mem_call_info *ci, void *ud)
{
    hook_state *h = ud;
    h->calls++;
    h->last = *ci;
    h->last_key[0] = '\0';
    if (ci->key && ci->key_len < sizeof h->last_key) {
        memcpy(h->last_key, ci->key, ci->key_len);
        h->last_key[ci->key_len] = '\0';
    }
    return ci->call == h->only ? h->verdict : DC_MEM_PASS;
}

static int64_t revision(dc_store *s)
{
    int64_t rev = 0;
    ck_assert_int_eq(dc_revision(s, &rev), DC_OK);
    return rev;
}

static int exists(dc_store *s, const char *key)
{
    dc_kvs *kvs;
    ck_assert_int_eq(dc_get(s, key, strlen(key), 0, 0, &kvs), DC_OK);
    int n = (int)kvs->n;
    dc_kvs_free(kvs);
    return n;
}

START_TEST(hook_is_told_each_call_and_pass_changes_nothing)
{
    dc_store *s;
    ck_assert_int_eq(dc_store_open("mem://", &s), DC_OK);
    hook_state h = {DC_MEM_PASS, DC_MEM_CALL_GET, 0, {0}, {0}};
    ck_assert_int_eq(dc_mem_set_hook(s, hook, &h), DC_OK);

    ck_assert_int_eq(dc_put(s, "k1", 2, "v", 1, 0, NULL), DC_OK);
    ck_assert_int_eq(h.last.call, DC_MEM_CALL_TXN);
    ck_assert_str_eq(h.last_key, "k1");
    ck_assert_uint_eq(h.last.writes, 1);

    dc_txn *t = dc_txn_new();
    dc_txn_compare_int(t, "c", 1, DC_TARGET_VERSION, DC_CMP_EQUAL, 0);
    dc_txn_get(t, DC_ELSE, "g", 1, 0, 0);
    dc_txn_put(t, DC_ELSE, "p", 1, "v", 1, 0, 0);
    dc_txn_delete(t, DC_ELSE, "d", 1, 0);
    dc_txn_result *r;
    ck_assert_int_eq(dc_txn_commit(s, t, &r), DC_OK);
    dc_txn_result_free(r);
    dc_txn_free(t);
    ck_assert_str_eq(h.last_key, "g"); /* no then-op: the first else op */
    ck_assert_uint_eq(h.last.writes, 2);

    t = dc_txn_new();
    dc_txn_compare_int(t, "only-compare", 12, DC_TARGET_VERSION, DC_CMP_EQUAL, 0);
    ck_assert_int_eq(dc_txn_commit(s, t, &r), DC_OK);
    dc_txn_result_free(r);
    dc_txn_free(t);
    ck_assert_str_eq(h.last_key, "only-compare");
    ck_assert_uint_eq(h.last.writes, 0);

    ck_assert_int_eq(exists(s, "k1"), 1);
    ck_assert_int_eq(h.last.call, DC_MEM_CALL_GET);

    int64_t lease;
    ck_assert_int_eq(dc_lease_grant(s, 7, &lease, NULL), DC_OK);
    ck_assert_int_eq(h.last.call, DC_MEM_CALL_LEASE_GRANT);
    ck_assert_int_eq(h.last.number, 7);
    ck_assert_ptr_null(h.last.key);
    ck_assert_int_eq(dc_lease_keepalive(s, lease, NULL), DC_OK);
    ck_assert_int_eq(h.last.call, DC_MEM_CALL_LEASE_KEEPALIVE);
    ck_assert_int_eq(h.last.number, lease);
    ck_assert_int_eq(dc_lease_revoke(s, lease), DC_OK);
    ck_assert_int_eq(h.last.call, DC_MEM_CALL_LEASE_REVOKE);
    ck_assert_int_eq(h.last.number, lease);

    dc_watch *w;
    ck_assert_int_eq(dc_watch_open(s, "pre/", 4, 1, DC_PREFIX, &w), DC_OK);
    ck_assert_int_eq(h.last.call, DC_MEM_CALL_WATCH);
    ck_assert_str_eq(h.last_key, "pre/");
    dc_watch_close(w);

    int64_t rev = revision(s);
    ck_assert_int_eq(dc_compact(s, rev), DC_OK);
    ck_assert_int_eq(h.last.call, DC_MEM_CALL_COMPACT);
    ck_assert_int_eq(h.last.number, rev);

    int before = h.calls;
    ck_assert_int_eq(dc_mem_set_hook(s, NULL, NULL), DC_OK);
    ck_assert_int_eq(exists(s, "k1"), 1);
    ck_assert_int_eq(h.calls, before); /* removed: not asked any more */
    dc_store_close(s);
}
END_TEST

START_TEST(refused_writes_apply_nothing)
{
    dc_store *s;
    ck_assert_int_eq(dc_store_open("mem://", &s), DC_OK);
    hook_state h = {DC_MEM_UNAVAILABLE, DC_MEM_CALL_TXN, 0, {0}, {0}};
    dc_mem_set_hook(s, hook, &h);
    int64_t rev = revision(s);
    ck_assert_int_eq(dc_put(s, "k", 1, "v", 1, 0, NULL), DC_EUNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "failpoint"));
    h.verdict = DC_MEM_UNKNOWN_BEFORE;
    ck_assert_int_eq(dc_put(s, "k", 1, "v", 1, 0, NULL), DC_EUNKNOWN);
    ck_assert_int_eq(dc_delete(s, "k", 1, 0, NULL, NULL), DC_EUNKNOWN);
    ck_assert_int_eq(revision(s), rev);
    ck_assert_int_eq(exists(s, "k"), 0);

    h.only = DC_MEM_CALL_GET;
    dc_kvs *kvs;
    ck_assert_int_eq(dc_get(s, "k", 1, 0, 0, &kvs), DC_EUNKNOWN);
    ck_assert_ptr_null(kvs);
    h.verdict = DC_MEM_UNAVAILABLE;
    ck_assert_int_eq(dc_get(s, "k", 1, 0, 0, &kvs), DC_EUNAVAILABLE);

    h.only = DC_MEM_CALL_LEASE_GRANT;
    int64_t lease = 0;
    ck_assert_int_eq(dc_lease_grant(s, 5, &lease, NULL), DC_EUNAVAILABLE);
    h.only = DC_MEM_CALL_COMPACT;
    ck_assert_int_eq(dc_compact(s, 1), DC_EUNAVAILABLE);
    dc_store_close(s);
}
END_TEST

START_TEST(unknown_after_applies_the_call_and_loses_the_answer)
{
    dc_store *s;
    ck_assert_int_eq(dc_store_open("mem://", &s), DC_OK);
    hook_state h = {DC_MEM_UNKNOWN_AFTER, DC_MEM_CALL_TXN, 0, {0}, {0}};
    dc_mem_set_hook(s, hook, &h);
    int64_t rev = revision(s), got = -1;
    ck_assert_int_eq(dc_put(s, "k", 1, "v", 1, 0, &got), DC_EUNKNOWN);
    ck_assert_int_eq(got, -1); /* no answer */
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "applied"));
    ck_assert_int_eq(revision(s), rev + 1);
    ck_assert_int_eq(exists(s, "k"), 1);

    dc_txn *t = dc_txn_new();
    dc_txn_put(t, DC_THEN, "a", 1, "1", 1, 0, 0);
    dc_txn_put(t, DC_THEN, "b", 1, "2", 1, 0, 0);
    dc_txn_result *r = NULL;
    ck_assert_int_eq(dc_txn_commit(s, t, &r), DC_EUNKNOWN);
    ck_assert_ptr_null(r);
    dc_txn_free(t);
    ck_assert_int_eq(exists(s, "a") + exists(s, "b"), 2);

    /* a lease granted with its answer lost exists: the next ID is past it */
    h.only = DC_MEM_CALL_LEASE_GRANT;
    h.verdict = DC_MEM_PASS;
    int64_t l1, l3;
    ck_assert_int_eq(dc_lease_grant(s, 5, &l1, NULL), DC_OK);
    h.verdict = DC_MEM_UNKNOWN_AFTER;
    int64_t lost = 0;
    ck_assert_int_eq(dc_lease_grant(s, 5, &lost, NULL), DC_EUNKNOWN);
    h.verdict = DC_MEM_PASS;
    ck_assert_int_eq(dc_lease_grant(s, 5, &l3, NULL), DC_OK);
    ck_assert_int_eq(l3, l1 + 2);
    ck_assert_int_eq(dc_lease_keepalive(s, l1 + 1, NULL), DC_OK); /* it is there */

    /* revoke applied, answer lost: the key of the lease is gone */
    ck_assert_int_eq(dc_put(s, "leased", 6, "v", 1, l3, NULL), DC_OK);
    h.only = DC_MEM_CALL_LEASE_REVOKE;
    h.verdict = DC_MEM_UNKNOWN_AFTER;
    ck_assert_int_eq(dc_lease_revoke(s, l3), DC_EUNKNOWN);
    ck_assert_int_eq(exists(s, "leased"), 0);
    h.verdict = DC_MEM_PASS;
    ck_assert_int_eq(dc_lease_revoke(s, l3), DC_ENOTFOUND);

    /* a keepalive applied with its answer lost */
    h.only = DC_MEM_CALL_LEASE_KEEPALIVE;
    h.verdict = DC_MEM_UNKNOWN_AFTER;
    ck_assert_int_eq(dc_lease_keepalive(s, l1, NULL), DC_EUNKNOWN);

    /* a compact applied with its answer lost */
    h.only = DC_MEM_CALL_COMPACT;
    rev = revision(s);
    ck_assert_int_eq(dc_compact(s, rev), DC_EUNKNOWN);
    h.verdict = DC_MEM_PASS;
    ck_assert_int_eq(dc_compact(s, rev), DC_ECOMPACTED);
    dc_store_close(s);
}
END_TEST

START_TEST(a_watch_start_is_refused_and_never_kept)
{
    dc_store *s;
    ck_assert_int_eq(dc_store_open("mem://", &s), DC_OK);
    hook_state h = {DC_MEM_UNAVAILABLE, DC_MEM_CALL_WATCH, 0, {0}, {0}};
    dc_mem_set_hook(s, hook, &h);
    dc_watch *w = NULL;
    ck_assert_int_eq(dc_watch_open(s, "k", 1, 1, 0, &w), DC_EUNAVAILABLE);
    ck_assert_ptr_null(w);
    h.verdict = DC_MEM_UNKNOWN_BEFORE;
    ck_assert_int_eq(dc_watch_open(s, "k", 1, 1, 0, &w), DC_EUNKNOWN);
    h.verdict = DC_MEM_UNKNOWN_AFTER;
    ck_assert_int_eq(dc_watch_open(s, "k", 1, 1, 0, &w), DC_EUNKNOWN);
    ck_assert_ptr_null(w);
    /* nothing was left registered: a write delivers to no freed sink (ASan) */
    dc_mem_set_hook(s, NULL, NULL);
    ck_assert_int_eq(dc_put(s, "k", 1, "v", 1, 0, NULL), DC_OK);
    size_t n = 99;
    ck_assert_int_eq(dc_mem_end_watches(s, DC_MEM_SCOPE_INSTANCE, NULL, 0, DC_EUNAVAILABLE, &n),
                     DC_OK);
    ck_assert_uint_eq(n, 0);
    dc_store_close(s);
}
END_TEST

START_TEST(the_hook_belongs_to_one_handle)
{
    dc_store *a, *b;
    ck_assert_int_eq(dc_store_open("mem://fault-per-handle", &a), DC_OK);
    ck_assert_int_eq(dc_store_open("mem://fault-per-handle", &b), DC_OK);
    hook_state h = {DC_MEM_UNAVAILABLE, DC_MEM_CALL_TXN, 0, {0}, {0}};
    dc_mem_set_hook(a, hook, &h);
    ck_assert_int_eq(dc_put(a, "k", 1, "v", 1, 0, NULL), DC_EUNAVAILABLE);
    ck_assert_int_eq(dc_put(b, "k", 1, "v", 1, 0, NULL), DC_OK);
    ck_assert_int_eq(h.calls, 1);
    ck_assert_int_eq(exists(a, "k"), 1);
    dc_store_close(a);
    dc_store_close(b);
}
END_TEST

/* The next dc_watch_next's code, after draining the queued events. */
static int drain_end(dc_watch *w, size_t *events)
{
    *events = 0;
    dc_events *ev;
    int rc;
    while ((rc = dc_watch_next(w, 0, &ev)) == DC_OK) {
        *events += ev->n;
        dc_events_free(ev);
    }
    return rc;
}

START_TEST(ending_watches_by_handle_key_and_instance)
{
    dc_store *a, *b;
    ck_assert_int_eq(dc_store_open("mem://fault-watches", &a), DC_OK);
    ck_assert_int_eq(dc_store_open("mem://fault-watches", &b), DC_OK);
    dc_watch *a_k, *a_p, *b_k;
    ck_assert_int_eq(dc_watch_open(a, "k", 1, 0, 0, &a_k), DC_OK);
    ck_assert_int_eq(dc_watch_open(a, "p/", 2, 0, DC_PREFIX, &a_p), DC_OK);
    ck_assert_int_eq(dc_watch_open(b, "k", 1, 0, 0, &b_k), DC_OK);
    ck_assert_int_eq(dc_put(a, "k", 1, "v", 1, 0, NULL), DC_OK);

    /* a's watch on k: the queued event first, then the end as compacted */
    size_t n = 0, events;
    ck_assert_int_eq(dc_mem_end_watches(a, DC_MEM_SCOPE_HANDLE, "k", 1, DC_ECOMPACTED, &n), DC_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(drain_end(a_k, &events), DC_ECOMPACTED);
    ck_assert_uint_eq(events, 1);
    ck_assert_int_eq(dc_watch_compact_revision(a_k), revision(a));
    ck_assert_int_eq(drain_end(a_p, &events), DC_ETIMEDOUT); /* other key: on */
    ck_assert_int_eq(drain_end(b_k, &events), DC_ETIMEDOUT); /* other handle: on */
    ck_assert_uint_eq(events, 1);

    /* an ended watch no longer counts; the others still get events */
    ck_assert_int_eq(dc_mem_end_watches(a, DC_MEM_SCOPE_HANDLE, "k", 1, DC_ECOMPACTED, &n), DC_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(dc_put(b, "p/x", 3, "v", 1, 0, NULL), DC_OK);
    ck_assert_int_eq(drain_end(a_p, &events), DC_ETIMEDOUT);
    ck_assert_uint_eq(events, 1);

    /* every watch of the instance, as a lost connection */
    ck_assert_int_eq(dc_mem_end_watches(b, DC_MEM_SCOPE_INSTANCE, NULL, 0, DC_EUNAVAILABLE, &n),
                     DC_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(drain_end(a_p, &events), DC_EUNAVAILABLE);
    ck_assert_int_eq(drain_end(b_k, &events), DC_EUNAVAILABLE);
    ck_assert_int_eq(dc_watch_compact_revision(b_k), 0);

    /* bad arguments */
    ck_assert_int_eq(dc_mem_end_watches(a, DC_MEM_SCOPE_HANDLE, NULL, 0, DC_ENOTFOUND, NULL),
                     DC_EINVAL);
    ck_assert_int_eq(dc_mem_end_watches(a, (dc_mem_scope)7, NULL, 0, DC_ECOMPACTED, NULL),
                     DC_EINVAL);
    ck_assert_int_eq(dc_mem_end_watches(NULL, DC_MEM_SCOPE_HANDLE, NULL, 0, DC_ECOMPACTED, NULL),
                     DC_EINVAL);
    dc_watch_close(a_k);
    dc_watch_close(a_p);
    dc_watch_close(b_k);
    dc_store_close(a);
    dc_store_close(b);
}
END_TEST

START_TEST(a_reset_forgets_everything_and_restarts_revisions_and_leases)
{
    dc_store *s, *other;
    ck_assert_int_eq(dc_store_open("mem://fault-reset", &s), DC_OK);
    ck_assert_int_eq(dc_store_open("mem://fault-reset", &other), DC_OK);
    uint64_t e0, e1;
    ck_assert_int_eq(dc_mem_epoch(s, &e0), DC_OK);
    ck_assert_int_eq(e0, 1);
    int64_t l1, l2;
    ck_assert_int_eq(dc_lease_grant(s, 30, &l1, NULL), DC_OK);
    for (int i = 0; i < 20; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        ck_assert_int_eq(dc_put(s, k, strlen(k), "v", 1, i % 2 ? l1 : 0, NULL), DC_OK);
    }
    dc_watch *w;
    ck_assert_int_eq(dc_watch_open(s, "k", 1, 3, DC_PREFIX, &w), DC_OK);
    ck_assert_int_eq(dc_compact(s, 5), DC_OK);

    ck_assert_int_eq(dc_mem_reset(other), DC_OK);
    ck_assert_int_eq(dc_mem_epoch(s, &e1), DC_OK);
    ck_assert_int_eq(e1, e0 + 1);
    /* handles opened before the reset are poisoned (store.h, "Resets") */
    dc_kvs *kvs;
    int64_t rev;
    ck_assert_int_eq(dc_revision(s, &rev), DC_ERESET);
    ck_assert_int_eq(dc_put(other, "k1", 2, "stale", 5, 0, NULL), DC_ERESET);
    ck_assert_int_eq(dc_lease_keepalive(s, l1, NULL), DC_ERESET);
    /* the old watch delivers what was queued before the reset, then ends:
     * never a silent gap into the new history */
    size_t events;
    ck_assert_int_eq(drain_end(w, &events), DC_ERESET);
    ck_assert_uint_eq(events, 19);
    dc_watch_close(w);
    dc_store_close(s);

    /* a handle opened after it (other keeps the instance) sees the new, empty history */
    ck_assert_int_eq(dc_store_open("mem://fault-reset", &s), DC_OK);
    ck_assert_int_eq(revision(s), 1);
    ck_assert_int_eq(dc_get(s, "", 0, DC_PREFIX, 0, &kvs), DC_OK);
    ck_assert_uint_eq(kvs->n, 0);
    dc_kvs_free(kvs);
    ck_assert_int_eq(dc_lease_keepalive(s, l1, NULL), DC_ENOTFOUND);
    ck_assert_int_eq(dc_lease_grant(s, 30, &l2, NULL), DC_OK);
    ck_assert_int_eq(l2, l1); /* handed out again */
    ck_assert_int_eq(dc_put(s, "k1", 2, "new", 3, 0, &rev), DC_OK);
    ck_assert_int_eq(rev, 2);
    ck_assert_int_eq(dc_put(s, "k2", 2, "new", 3, 0, &rev), DC_OK);
    ck_assert_int_eq(rev, 3);
    /* history from 1 is there again (the compaction point went) */
    dc_watch *w2;
    ck_assert_int_eq(dc_watch_open(s, "k", 1, 1, DC_PREFIX, &w2), DC_OK);
    ck_assert_int_eq(drain_end(w2, &events), DC_ETIMEDOUT);
    ck_assert_uint_eq(events, 2);
    dc_watch_close(w2);
    dc_store_close(s);
    dc_store_close(other);
}
END_TEST

START_TEST(the_virtual_clock_expires_leases_only_when_moved)
{
    dc_store *s;
    ck_assert_int_eq(dc_store_open("mem://", &s), DC_OK);
    int64_t now;
    ck_assert_int_eq(dc_mem_clock_now(s, &now), DC_EINVAL);
    ck_assert_int_eq(dc_mem_clock_advance(s, 10, NULL), DC_EINVAL);
    ck_assert_int_eq(dc_mem_clock_set(s, 1000), DC_OK);
    ck_assert_int_eq(dc_mem_clock_now(s, &now), DC_OK);
    ck_assert_int_eq(now, 1000);
    ck_assert_int_eq(dc_mem_clock_set(s, 999), DC_EINVAL);
    ck_assert_int_eq(dc_mem_clock_advance(s, -1, NULL), DC_EINVAL);

    int64_t a, b, c;
    ck_assert_int_eq(dc_lease_grant(s, 2, &a, NULL), DC_OK); /* due at 3000 */
    ck_assert_int_eq(dc_lease_grant(s, 1, &b, NULL), DC_OK); /* due at 2000 */
    ck_assert_int_eq(dc_lease_grant(s, 1, &c, NULL), DC_OK); /* due at 2000, granted later */
    ck_assert_int_eq(dc_put(s, "a", 1, "v", 1, a, NULL), DC_OK);
    ck_assert_int_eq(dc_put(s, "b", 1, "v", 1, b, NULL), DC_OK);
    ck_assert_int_eq(dc_put(s, "c", 1, "v", 1, c, NULL), DC_OK);
    dc_watch *w;
    ck_assert_int_eq(dc_watch_open(s, "", 0, 0, DC_PREFIX, &w), DC_OK);

    usleep(1200 * 1000); /* real time passes: nothing happens */
    ck_assert_int_eq(exists(s, "b"), 1);
    size_t n = 99;
    ck_assert_int_eq(dc_mem_clock_advance(s, 999, &n), DC_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(exists(s, "b"), 1);
    /* keepalive on the virtual clock: c is due at 1999 + 1000 now */
    ck_assert_int_eq(dc_lease_keepalive(s, c, NULL), DC_OK);
    ck_assert_int_eq(dc_mem_clock_advance(s, 1, &n), DC_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(exists(s, "b"), 0);
    ck_assert_int_eq(exists(s, "c"), 1);
    /* 3000: a and (kept alive) c come due at 2999 and 3000: deadline order */
    ck_assert_int_eq(dc_mem_clock_set(s, 3000), DC_OK);
    ck_assert_int_eq(exists(s, "a") + exists(s, "c"), 0);
    dc_events *ev;
    ck_assert_int_eq(dc_watch_next(w, 0, &ev), DC_OK);
    ck_assert_uint_eq(ev->n, 3);
    ck_assert_str_eq(ev->events[0].kv.key, "b");
    ck_assert_str_eq(ev->events[1].kv.key, "c");
    ck_assert_str_eq(ev->events[2].kv.key, "a");
    for (size_t i = 0; i < 3; i++) ck_assert_int_eq(ev->events[i].type, DC_EVENT_DELETE);
    ck_assert_int_lt(ev->events[1].kv.mod_revision, ev->events[2].kv.mod_revision);
    dc_events_free(ev);
    ck_assert_int_eq(dc_lease_keepalive(s, a, NULL), DC_ENOTFOUND);
    dc_watch_close(w);
    dc_store_close(s);
}
END_TEST

START_TEST(equal_deadlines_expire_in_grant_order)
{
    dc_store *s;
    ck_assert_int_eq(dc_store_open("mem://", &s), DC_OK);
    ck_assert_int_eq(dc_mem_clock_set(s, 0), DC_OK);
    int64_t ids[5];
    for (int i = 0; i < 5; i++) {
        char k[4] = {'k', (char)('0' + i), 0, 0};
        ck_assert_int_eq(dc_lease_grant(s, 5, &ids[i], NULL), DC_OK);
        ck_assert_int_eq(dc_put(s, k, 2, "v", 1, ids[i], NULL), DC_OK);
    }
    dc_watch *w;
    ck_assert_int_eq(dc_watch_open(s, "k", 1, 0, DC_PREFIX, &w), DC_OK);
    size_t n;
    ck_assert_int_eq(dc_mem_clock_advance(s, 5000, &n), DC_OK);
    ck_assert_uint_eq(n, 5);
    dc_events *ev;
    ck_assert_int_eq(dc_watch_next(w, 0, &ev), DC_OK);
    ck_assert_uint_eq(ev->n, 5);
    for (int i = 0; i < 5; i++) ck_assert_int_eq(ev->events[i].kv.key[1], '0' + i);
    dc_events_free(ev);
    dc_watch_close(w);
    dc_store_close(s);
}
END_TEST

START_TEST(failpoints_refuse_what_is_not_mem)
{
    ck_assert_int_eq(dc_mem_set_hook(NULL, hook, NULL), DC_EINVAL);
    ck_assert_int_eq(dc_mem_reset(NULL), DC_EINVAL);
    uint64_t e;
    ck_assert_int_eq(dc_mem_epoch(NULL, &e), DC_EINVAL);
    ck_assert_int_eq(dc_mem_clock_set(NULL, 0), DC_EINVAL);
    dc_store *s;
    ck_assert_int_eq(dc_store_open("mem://", &s), DC_OK);
    ck_assert_int_eq(dc_mem_clock_set(s, -5), DC_EINVAL);
    ck_assert_int_eq(dc_mem_epoch(s, NULL), DC_EINVAL);
    dc_store_close(s);
}
END_TEST

DC_CHECK_MAIN("mem_fault", "mem_fault", hook_is_told_each_call_and_pass_changes_nothing,
              refused_writes_apply_nothing, unknown_after_applies_the_call_and_loses_the_answer,
              a_watch_start_is_refused_and_never_kept, the_hook_belongs_to_one_handle,
              ending_watches_by_handle_key_and_instance,
              a_reset_forgets_everything_and_restarts_revisions_and_leases,
              the_virtual_clock_expires_leases_only_when_moved,
              equal_deadlines_expire_in_grant_order, failpoints_refuse_what_is_not_mem)
