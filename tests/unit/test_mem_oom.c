/*
 * mem:// out of memory: a txn whose Nth allocation fails, for every N, must
 * either commit whole or leave the store exactly as it was (keys, values,
 * revision), and an open watch either gets exactly the txn's events or ends
 * with an error, never a silent gap. mem:// prepares every write before
 * touching the store and moves buffers into its log at commit, and this is
 * the test of that two-phase rule.
 *
 * The allocation failures come from malloc, calloc and realloc defined here,
 * which interpose glibc's for the whole process (the library included) and
 * fail only on the test's thread when armed. AddressSanitizer owns malloc
 * itself, so tests/CMakeLists.txt builds this test only without sanitizers
 * (the gcc pass of scripts/test.sh runs it); building it with one is an error
 * rather than a test that passes without testing.
 */
#include <ddlcoord/ddlcoord.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"

#if defined(__SANITIZE_ADDRESS__)
#error "test_mem_oom interposes malloc: build it without AddressSanitizer"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#error "test_mem_oom interposes malloc: build it without AddressSanitizer"
#endif
#endif

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

static __thread long fail_at;   /* fail the fail_at-th allocation from arming; 0: off */
static __thread long allocs;    /* allocations since arming */
static __thread int failed_one; /* the armed failure happened */

static int should_fail(void)
{
    if (!fail_at) return 0;
    if (++allocs != fail_at) return 0;
    failed_one = 1;
    return 1;
}

void *malloc(size_t size)
{
    return should_fail() ? NULL : __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    return should_fail() ? NULL : __libc_realloc(p, size);
}

static void arm(long n)
{
    allocs = 0;
    failed_one = 0;
    fail_at = n;
}

static void disarm(void)
{
    fail_at = 0;
}

/* The store's keys and values as one string "k=v;k=v;", and its revision. */
static char *dump(dc_store *s, int64_t *rev)
{
    dc_kvs *kvs;
    ck_assert_int_eq(dc_get(s, "", 0, DC_PREFIX, 0, &kvs), DC_OK);
    char *out = calloc(1, 4096);
    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < kvs->n; i++)
        snprintf(out + strlen(out), 4096 - strlen(out), "%s=%s;", kvs->kvs[i].key,
                 kvs->kvs[i].value);
    ck_assert_int_eq(dc_revision(s, rev), DC_OK);
    dc_kvs_free(kvs);
    return out;
}

/* One txn: update a (with prev_kv), delete the b/ prefix (two keys, with
 * prev_kv), create d, read everything back. */
static int the_txn(dc_store *s, dc_txn_result **r)
{
    *r = NULL;
    dc_txn *t = dc_txn_new();
    if (!t) return DC_ENOMEM;
    dc_txn_compare_int(t, "a", 1, DC_TARGET_VERSION, DC_CMP_EQUAL, 1);
    dc_txn_put(t, DC_THEN, "a", 1, "2", 1, 0, DC_PREV_KV);
    dc_txn_delete(t, DC_THEN, "b/", 2, DC_PREFIX | DC_PREV_KV);
    dc_txn_put(t, DC_THEN, "d", 1, "1", 1, 0, 0);
    dc_txn_get(t, DC_THEN, "", 0, DC_PREFIX, 0);
    int rc = dc_txn_commit(s, t, r);
    dc_txn_free(t);
    return rc;
}

START_TEST(a_txn_that_runs_out_of_memory_commits_whole_or_changes_nothing)
{
    int completed = 0, committed = 0, refused = 0;
    for (long n = 1; n < 1000 && !completed; n++) {
        dc_store *s;
        ck_assert_int_eq(dc_store_open("mem://", &s), DC_OK);
        ck_assert_int_eq(dc_put(s, "a", 1, "1", 1, 0, NULL), DC_OK);
        ck_assert_int_eq(dc_put(s, "b/1", 3, "x", 1, 0, NULL), DC_OK);
        ck_assert_int_eq(dc_put(s, "b/2", 3, "y", 1, 0, NULL), DC_OK);
        ck_assert_int_eq(dc_put(s, "c", 1, "1", 1, 0, NULL), DC_OK);
        dc_watch *w;
        ck_assert_int_eq(dc_watch_open(s, "", 0, 0, DC_PREFIX | DC_PREV_KV, &w), DC_OK);
        int64_t rev0, rev1;
        char *before = dump(s, &rev0);

        dc_txn_result *r;
        arm(n);
        int rc = the_txn(s, &r);
        disarm();
        completed = !failed_one;
        char *after = dump(s, &rev1);
        int applied = rev1 != rev0;
        if (applied) {
            ck_assert_msg(rc == DC_OK || rc == DC_EUNKNOWN, "n=%ld: applied but %s", n,
                          dc_errname(rc));
            ck_assert_int_eq(rev1, rev0 + 1);
            ck_assert_str_eq(after, "a=2;c=1;d=1;");
            committed++;
        } else {
            ck_assert_msg(rc != DC_OK && rc != DC_EUNKNOWN, "n=%ld: %s but nothing changed", n,
                          dc_errname(rc));
            ck_assert_str_eq(after, before);
            refused++;
        }
        if (rc == DC_OK) {
            ck_assert(r->succeeded);
            ck_assert_uint_eq(r->responses[0].n_prev_kvs, 1);
            ck_assert_str_eq(r->responses[0].prev_kvs[0].value, "1");
            ck_assert_int_eq(r->responses[1].deleted, 2);
            ck_assert_uint_eq(r->responses[1].n_prev_kvs, 2);
            ck_assert_str_eq(r->responses[1].prev_kvs[0].key, "b/1");
            ck_assert_str_eq(r->responses[1].prev_kvs[1].value, "y");
            ck_assert_uint_eq(r->responses[3].n_kvs, 3);
        }
        dc_txn_result_free(r);

        /* The watch: the txn's four events with their previous values, or
         * an end with an error; nothing when the txn did not commit. */
        dc_events *ev = NULL;
        int wrc = dc_watch_next(w, 0, &ev);
        if (!applied) {
            ck_assert_msg(wrc == DC_ETIMEDOUT, "n=%ld: watch says %s", n, dc_errname(wrc));
        } else if (wrc == DC_OK) {
            ck_assert_uint_eq(ev->n, 4);
            ck_assert_str_eq(ev->events[0].kv.key, "a");
            ck_assert_str_eq(ev->events[0].prev_kv->value, "1");
            ck_assert_int_eq(ev->events[1].type, DC_EVENT_DELETE);
            ck_assert_str_eq(ev->events[1].kv.key, "b/1");
            ck_assert_str_eq(ev->events[1].prev_kv->value, "x");
            ck_assert_str_eq(ev->events[2].kv.key, "b/2");
            ck_assert_str_eq(ev->events[2].prev_kv->key, "b/2");
            ck_assert_str_eq(ev->events[3].kv.key, "d");
            ck_assert_ptr_null(ev->events[3].prev_kv);
            for (size_t i = 0; i < 4; i++) ck_assert_int_eq(ev->events[i].kv.mod_revision, rev1);
            dc_events_free(ev);
        } else {
            ck_assert_msg(wrc == DC_ENOMEM, "n=%ld: watch says %s", n, dc_errname(wrc));
        }
        free(before);
        free(after);
        dc_watch_close(w);
        dc_store_close(s);
    }
    ck_assert_msg(completed, "the txn never ran without a failure");
    ck_assert_int_gt(committed, 0);
    ck_assert_int_gt(refused, 0);
}
END_TEST


DC_CHECK_MAIN("mem_oom", "mem_oom", a_txn_that_runs_out_of_memory_commits_whole_or_changes_nothing)
