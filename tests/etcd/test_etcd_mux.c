/*
 * The etcd driver multiplexes: every call and every watch of a handle is an
 * HTTP/2 stream on one connection, driven by one thread. On the shared etcd
 * fixture: many watches (and concurrent callers) on one handle use one TCP
 * connection and add no thread; cancelling one watch in the middle leaves
 * every other watch delivering; each watch sees its own key's events only.
 */
#include "etcd_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { WATCHES = 300, CANCELLED = WATCHES / 2 };

static void put_round(dc_store *s, char keys[][128], const char *tag)
{
    for (int i = 0; i < WATCHES; i++) {
        char v[32];
        snprintf(v, sizeof v, "%s-%d", tag, i);
        ET_OK(dc_put(s, keys[i], strlen(keys[i]), v, strlen(v), 0, NULL));
    }
}

/* Watch i's next event is the put of value "<tag>-i" on key i. */
static void expect_round(dc_watch **w, const char *tag)
{
    for (int i = 0; i < WATCHES; i++) {
        if (!w[i]) continue;
        dc_events *ev = NULL;
        ET_OK(dc_watch_next(w[i], ET_WAIT_MS, &ev));
        ck_assert_uint_eq(ev->n, 1);
        char v[32];
        snprintf(v, sizeof v, "%s-%d", tag, i);
        ck_assert_msg(strcmp(ev->events[0].kv.value, v) == 0, "watch %d got %s, want %s", i,
                      ev->events[0].kv.value, v);
        dc_events_free(ev);
    }
}

START_TEST(many_watches_share_one_connection_and_cancelling_one_leaves_the_others)
{
    int port = et_endpoint_port(0);
    int threads_before = et_thread_count();
    dc_store *s = et_open(NULL);
    int threads_open = et_thread_count();
    /* the handle's own threads: the loop (and nothing per call) */
    ck_assert_int_le(threads_open - threads_before, 2);
    static char keys[WATCHES][128];
    static dc_watch *w[WATCHES];
    int64_t rev;
    ET_OK(dc_revision(s, &rev));
    for (int i = 0; i < WATCHES; i++) {
        char k[32];
        snprintf(k, sizeof k, "mux/%03d", i);
        snprintf(keys[i], sizeof keys[i], "%s", et_key(k));
        ET_OK(dc_watch_open(s, keys[i], strlen(keys[i]), rev + 1, 0, &w[i]));
    }
    ck_assert_int_eq(et_thread_count(), threads_open); /* no thread per watch */
    ck_assert_int_eq(et_connections_to(port), 1);      /* no connection per watch */

    put_round(s, keys, "a");
    expect_round(w, "a");

    dc_watch_close(w[CANCELLED]); /* its stream is reset; the connection stays */
    w[CANCELLED] = NULL;
    put_round(s, keys, "b");
    expect_round(w, "b");
    for (int i = 0; i < WATCHES; i++) { /* nothing else arrived anywhere */
        if (!w[i]) continue;
        dc_events *ev = NULL;
        ET_EXPECT_RC(dc_watch_next(w[i], 0, &ev), DC_ETIMEDOUT);
    }
    ck_assert_int_eq(et_connections_to(port), 1);
    ck_assert_int_eq(et_thread_count(), threads_open);
    for (int i = 0; i < WATCHES; i++)
        if (w[i]) dc_watch_close(w[i]);
    dc_store_close(s);
}
END_TEST

typedef struct caller {
    dc_store *s;
    int id;
    int rc;
} caller;

static void *call_loop(void *arg)
{
    caller *c = arg;
    char key[128]; /* not et_key: its buffers are shared by every thread */
    snprintf(key, sizeof key, "/etcdtest/%d/mux/caller/%d", (int)getpid(), c->id);
    for (int i = 0; i < 200 && c->rc == DC_OK; i++) {
        c->rc = dc_put(c->s, key, strlen(key), "v", 1, 0, NULL);
        if (c->rc != DC_OK) break;
        dc_kvs *kvs;
        c->rc = dc_get(c->s, key, strlen(key), 0, 0, &kvs);
        if (c->rc == DC_OK) dc_kvs_free(kvs);
    }
    return NULL;
}

START_TEST(concurrent_callers_share_one_connection)
{
    int port = et_endpoint_port(0);
    dc_store *s = et_open(NULL);
    int threads_open = et_thread_count();
    enum { CALLERS = 16 };
    pthread_t t[CALLERS];
    caller cs[CALLERS];
    for (int i = 0; i < CALLERS; i++) {
        cs[i] = (caller){s, i, DC_OK};
        ck_assert_int_eq(pthread_create(&t[i], NULL, call_loop, &cs[i]), 0);
    }
    for (int i = 0; i < CALLERS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < CALLERS; i++)
        ck_assert_msg(cs[i].rc == DC_OK, "caller %d: %s: %s", i, dc_errname(cs[i].rc),
                      dc_last_error());
    ck_assert_int_eq(et_connections_to(port), 1);
    ck_assert_int_eq(et_thread_count(), threads_open);
    dc_store_close(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("etcd_mux");
    TCase *tc = tcase_create("mux");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, many_watches_share_one_connection_and_cancelling_one_leaves_the_others);
    tcase_add_test(tc, concurrent_callers_share_one_connection);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
