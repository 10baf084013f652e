/*
 * The etcd driver's paged read (dc_driver.get_page, ABI 2) and large
 * answers, on the shared etcd fixture.
 *
 * get_page is called on the driver table itself (the plugin is dlopen'ed
 * here with a small dc_host), so these tests check exactly what the driver
 * returns, before the core's own checks: pages of one key that walk a
 * prefix in key order at one revision while the store changes between the
 * pages, the continuation key, keys-only pages, a compacted revision, and a
 * prefix that ends in 0xff. The store API is used for writes and for the
 * large answers (a range answer and a watch message far larger than one
 * HTTP/2 frame of 16 KiB).
 */
#include "etcd_test.h"

#include <ddlcoord/driver.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const dc_driver *drv;
static void *conn;
static dc_config *cfg;

static const char *host_get(const dc_config *c, const char *key)
{
    return dc_config_get(c, key);
}

static int64_t host_get_int(const dc_config *c, const char *key, int64_t def)
{
    return dc_config_get_int(c, key, def);
}

static void host_log(dc_log_level level, const char *component, const char *fmt, ...)
{
    if (level > DC_LOG_WARN) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", component);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static dc_host host = {
    .abi_version = DC_DRIVER_ABI,
    .size = sizeof(dc_host),
    .config_get = host_get,
    .config_get_int = host_get_int,
    .log = host_log,
};

static void open_driver(void)
{
    const char *dir = getenv("DDLCOORD_DRIVER_PATH");
    ck_assert_msg(dir && *dir, "DDLCOORD_DRIVER_PATH is not set");
    char path[1024];
    snprintf(path, sizeof path, "%s/ddlcoord-etcd.so", dir);
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(dl != NULL, "dlopen %s: %s", path, dlerror());
    void *sym = dlsym(dl, DC_DRIVER_ENTRY_SYMBOL);
    ck_assert_ptr_nonnull(sym);
    dc_driver_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);
    drv = entry();
    ck_assert_uint_ge(drv->abi_version, 2);
    ck_assert_ptr_nonnull(drv->get_page);
    cfg = dc_config_new();
    dc_drv_err err = {{0}, 0};
    int rc = drv->open(&host, getenv("DDLCOORD_TEST_STORE"), cfg, &conn, &err);
    ck_assert_msg(rc == DC_OK, "driver open: %s: %s", dc_errname(rc), err.msg);
}

static void close_driver(void)
{
    drv->close(conn);
    dc_config_free(cfg);
}

static int page(const char *prefix, size_t prefix_len, const char *after, size_t after_len,
                int64_t rev, int64_t limit, unsigned flags, dc_kvs *out)
{
    dc_page_req req = {prefix, prefix_len, after, after_len, rev, limit, flags};
    dc_drv_err err = {{0}, 0};
    memset(out, 0, sizeof *out);
    int rc = drv->get_page(conn, &req, out, &err);
    if (rc != DC_OK) fprintf(stderr, "get_page: %s: %s\n", dc_errname(rc), err.msg);
    return rc;
}

static void free_page(dc_kvs *k)
{
    for (size_t i = 0; i < k->n; i++) {
        free(k->kvs[i].key);
        free(k->kvs[i].value);
    }
    free(k->kvs);
    memset(k, 0, sizeof *k);
}

START_TEST(pages_of_one_key_walk_a_prefix_at_one_revision_while_it_changes)
{
    open_driver();
    dc_store *s = et_open(NULL);
    const char *prefix = et_key("page/");
    enum { N = 25 };
    char keys[N][128];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "%s%02d", prefix, i);
        char v[16];
        snprintf(v, sizeof v, "v%d", i);
        ET_OK(dc_put(s, keys[i], strlen(keys[i]), v, strlen(v), 0, NULL));
    }
    /* a key just outside the prefix on each side must never show */
    char before[128], after_pfx[128];
    snprintf(before, sizeof before, "%.*s", (int)strlen(prefix) - 1, prefix);
    snprintf(after_pfx, sizeof after_pfx, "%.*s0", (int)strlen(prefix) - 1, prefix);
    ET_OK(dc_put(s, before, strlen(before), "x", 1, 0, NULL));
    ET_OK(dc_put(s, after_pfx, strlen(after_pfx), "x", 1, 0, NULL));
    int64_t snap;
    ET_OK(dc_revision(s, &snap));

    char last[128] = "";
    size_t last_len = 0;
    int seen = 0;
    for (;;) {
        dc_kvs pg;
        ET_OK(page(prefix, strlen(prefix), last, last_len, snap, 1, 0, &pg));
        ck_assert_int_eq(pg.revision, snap);
        ck_assert_uint_le(pg.n, 1);
        ck_assert_int_eq(pg.count, (int64_t)pg.n);
        if (pg.n == 1) {
            ck_assert_int_lt(seen, N);
            ck_assert_uint_eq(pg.kvs[0].key_len, strlen(keys[seen]));
            ck_assert_mem_eq(pg.kvs[0].key, keys[seen], pg.kvs[0].key_len);
            char v[16];
            snprintf(v, sizeof v, "v%d", seen);
            ck_assert_str_eq(pg.kvs[0].value, v); /* the value as of snap */
            ck_assert_int_eq(pg.more, seen < N - 1);
            memcpy(last, pg.kvs[0].key, pg.kvs[0].key_len);
            last_len = pg.kvs[0].key_len;
            seen++;
        }
        int more = pg.more;
        free_page(&pg);
        if (!more) break;
        /* the store moves on between pages: later writes must not show */
        if (seen == 5) {
            ET_OK(dc_delete(s, keys[10], strlen(keys[10]), 0, NULL, NULL));
            ET_OK(dc_put(s, keys[11], strlen(keys[11]), "changed", 7, 0, NULL));
            char extra[160];
            snprintf(extra, sizeof extra, "%s15a", prefix);
            ET_OK(dc_put(s, extra, strlen(extra), "new", 3, 0, NULL));
        }
    }
    ck_assert_int_eq(seen, N);

    /* revision 0 reads now: the deleted key is gone, the new one is there */
    dc_kvs pg;
    ET_OK(page(prefix, strlen(prefix), NULL, 0, 0, 100, DC_KEYS_ONLY, &pg));
    int64_t now;
    ET_OK(dc_revision(s, &now));
    ck_assert_int_eq(pg.revision, now);
    ck_assert_uint_eq(pg.n, N); /* N - 1 deleted + 1 added */
    ck_assert_int_eq(pg.more, 0);
    for (size_t i = 0; i < pg.n; i++) ck_assert_uint_eq(pg.kvs[i].value_len, 0); /* keys only */
    free_page(&pg);

    /* a limit larger than the rest ends the walk with more = 0 */
    ET_OK(page(prefix, strlen(prefix), keys[20], strlen(keys[20]), snap, 10, 0, &pg));
    ck_assert_uint_eq(pg.n, N - 21);
    ck_assert_int_eq(pg.more, 0);
    ck_assert_mem_eq(pg.kvs[0].key, keys[21], strlen(keys[21]));
    free_page(&pg);
    dc_store_close(s);
    close_driver();
}
END_TEST

START_TEST(a_page_at_a_compacted_revision_is_ecompacted)
{
    open_driver();
    dc_store *s = et_open(NULL);
    const char *prefix = et_key("pagec/");
    char key[160];
    snprintf(key, sizeof key, "%sk", prefix);
    int64_t old, now;
    ET_OK(dc_put(s, key, strlen(key), "1", 1, 0, &old));
    ET_OK(dc_put(s, key, strlen(key), "1b", 2, 0, NULL)); /* revision now - 1 may stay readable */
    ET_OK(dc_put(s, key, strlen(key), "2", 1, 0, &now));
    ET_OK(dc_compact(s, now));
    dc_kvs pg;
    ck_assert_int_eq(page(prefix, strlen(prefix), NULL, 0, old, 1, 0, &pg), DC_ECOMPACTED);
    ck_assert_uint_eq(pg.n, 0);
    ET_OK(page(prefix, strlen(prefix), NULL, 0, now, 1, 0, &pg)); /* the compact point is kept */
    ck_assert_uint_eq(pg.n, 1);
    ck_assert_str_eq(pg.kvs[0].value, "2");
    free_page(&pg);
    dc_store_close(s);
    close_driver();
}
END_TEST

START_TEST(a_prefix_ending_in_ff_pages_over_its_keys_only)
{
    open_driver();
    dc_store *s = et_open(NULL);
    char prefix[128];
    size_t pl = (size_t)snprintf(prefix, sizeof prefix, "%s", et_key("pageff/"));
    prefix[pl++] = '\xff';
    char k1[160], k2[160], out[160];
    memcpy(k1, prefix, pl);
    k1[pl] = '\0';
    memcpy(k2, prefix, pl);
    k2[pl] = '\xff';
    memcpy(out, prefix, pl - 1);
    out[pl - 1] = '0'; /* after the prefix's parent: outside */
    ET_OK(dc_put(s, k1, pl + 1, "a", 1, 0, NULL));
    ET_OK(dc_put(s, k2, pl + 1, "b", 1, 0, NULL));
    ET_OK(dc_put(s, out, pl, "c", 1, 0, NULL));
    dc_kvs pg;
    ET_OK(page(prefix, pl, NULL, 0, 0, 1, 0, &pg));
    ck_assert_uint_eq(pg.n, 1);
    ck_assert_mem_eq(pg.kvs[0].key, k1, pl + 1);
    ck_assert_int_eq(pg.more, 1);
    free_page(&pg);
    ET_OK(page(prefix, pl, k1, pl + 1, 0, 1, 0, &pg));
    ck_assert_uint_eq(pg.n, 1);
    ck_assert_mem_eq(pg.kvs[0].key, k2, pl + 1);
    ck_assert_int_eq(pg.more, 0);
    free_page(&pg);
    dc_store_close(s);
    close_driver();
}
END_TEST

START_TEST(answers_far_larger_than_one_http2_frame_arrive_intact)
{
    /* 40 values of 100 KiB: a 4 MB range answer in ~250 DATA frames, and
     * a watch message of the same size (one delete, one revision). */
    dc_store *s = et_open(NULL);
    const char *prefix = et_key("bigrange/");
    enum { N = 40, LEN = 100 * 1024 };
    char *v = malloc(LEN);
    ck_assert_ptr_nonnull(v);
    char keys[N][160];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "%s%02d", prefix, i);
        for (size_t j = 0; j < LEN; j++) v[j] = (char)('a' + (i + j) % 26);
        ET_OK(dc_put(s, keys[i], strlen(keys[i]), v, LEN, 0, NULL));
    }
    dc_kvs *kvs;
    ET_OK(dc_get(s, prefix, strlen(prefix), DC_PREFIX, 0, &kvs));
    ck_assert_uint_eq(kvs->n, N);
    for (int i = 0; i < N; i++) {
        for (size_t j = 0; j < LEN; j++) v[j] = (char)('a' + (i + j) % 26);
        ck_assert_uint_eq(kvs->kvs[i].value_len, LEN);
        ck_assert_msg(memcmp(kvs->kvs[i].value, v, LEN) == 0, "value %d differs", i);
    }
    dc_kvs_free(kvs);
    /* one delete of all of them: one watch message with every prev_kv */
    int64_t del_rev, deleted;
    ET_OK(dc_delete(s, prefix, strlen(prefix), DC_PREFIX, &deleted, &del_rev));
    ck_assert_int_eq(deleted, N);
    dc_watch *w;
    ET_OK(dc_watch_open(s, prefix, strlen(prefix), del_rev, DC_PREFIX | DC_PREV_KV, &w));
    dc_events *ev;
    ET_OK(dc_watch_next(w, ET_WAIT_MS, &ev));
    ck_assert_uint_eq(ev->n, N);
    for (int i = 0; i < N; i++) {
        for (size_t j = 0; j < LEN; j++) v[j] = (char)('a' + (i + j) % 26);
        ck_assert_ptr_nonnull(ev->events[i].prev_kv);
        ck_assert_uint_eq(ev->events[i].prev_kv->value_len, LEN);
        ck_assert(memcmp(ev->events[i].prev_kv->value, v, LEN) == 0);
    }
    dc_events_free(ev);
    dc_watch_close(w);
    free(v);
    dc_store_close(s);
}
END_TEST

/* Pages after the first read a bounded range guessed from the previous
 * page's key density (kv.c, etcd_get_page). Keys with decimal carries, a
 * long gap, keys of other lengths and a key of 0xff bytes must still come
 * back each once, in order, in full pages (only the last may be short). */
START_TEST(bounded_pages_cross_carries_gaps_and_odd_keys)
{
    open_driver();
    dc_store *s = et_open(NULL);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s", et_key("bounded/"));
    size_t pl = strlen(prefix);
    enum { N = 260 };
    static char keys[N + 8][160];
    int n = 0;
    for (int i = 0; i < 240; i++) /* 000..239: carries at 009/010, 099/100 */
        snprintf(keys[n++], sizeof keys[0], "%stask-%03d/s", prefix, i);
    for (int i = 0; i < 10; i++) /* a long gap, then a denser run */
        snprintf(keys[n++], sizeof keys[0], "%stask-9%02d/s", prefix, i);
    snprintf(keys[n++], sizeof keys[0], "%su", prefix);                      /* short */
    snprintf(keys[n++], sizeof keys[0], "%suuuuuuuuuuuuuuuuuuuuuu", prefix); /* long */
    snprintf(keys[n++], sizeof keys[0], "%s\xff\xff\xff", prefix);           /* 0xff */
    for (int i = 0; i < n; i += 64) {
        dc_txn *t = dc_txn_new();
        ck_assert_ptr_nonnull(t);
        for (int j = i; j < i + 64 && j < n; j++)
            ck_assert_int_eq(dc_txn_put(t, DC_THEN, keys[j], strlen(keys[j]), "v", 1, 0, 0), DC_OK);
        dc_txn_result *r = NULL;
        ET_OK(dc_txn_commit(s, t, &r));
        dc_txn_result_free(r);
        dc_txn_free(t);
    }
    /* the keys in the store's order */
    dc_kvs *all = NULL;
    ET_OK(dc_get(s, prefix, pl, DC_PREFIX, 0, &all));
    ck_assert_uint_eq(all->n, (size_t)n);
    int64_t snap;
    ET_OK(dc_revision(s, &snap));
    const int64_t limits[] = {2, 3, 10, 64};
    for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++) {
        char last[160];
        size_t last_len = 0, at = 0;
        for (int no = 0;; no++) {
            dc_kvs pg;
            ET_OK(page(prefix, pl, last, last_len, snap, limits[li], 0, &pg));
            ck_assert_int_eq(pg.revision, snap);
            ck_assert_int_le((int64_t)pg.n, limits[li]);
            ck_assert_msg(!pg.more || (int64_t)pg.n == limits[li],
                          "limit %lld page %d: %zu keys and more", (long long)limits[li], no, pg.n);
            for (size_t i = 0; i < pg.n; i++, at++) {
                ck_assert_uint_lt(at, all->n);
                ck_assert_uint_eq(pg.kvs[i].key_len, all->kvs[at].key_len);
                ck_assert_mem_eq(pg.kvs[i].key, all->kvs[at].key, pg.kvs[i].key_len);
            }
            if (pg.n) {
                memcpy(last, pg.kvs[pg.n - 1].key, pg.kvs[pg.n - 1].key_len);
                last_len = pg.kvs[pg.n - 1].key_len;
            }
            int more = pg.more;
            free_page(&pg);
            if (!more) break;
        }
        ck_assert_msg(at == all->n, "limit %lld: %zu of %zu keys", (long long)limits[li], at,
                      all->n);
    }
    dc_kvs_free(all);
    dc_store_close(s);
    close_driver();
}
END_TEST

int main(void)
{
    Suite *su = suite_create("etcd_page");
    TCase *tc = tcase_create("page");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pages_of_one_key_walk_a_prefix_at_one_revision_while_it_changes);
    tcase_add_test(tc, a_page_at_a_compacted_revision_is_ecompacted);
    tcase_add_test(tc, a_prefix_ending_in_ff_pages_over_its_keys_only);
    tcase_add_test(tc, answers_far_larger_than_one_http2_frame_arrive_intact);
    tcase_add_test(tc, bounded_pages_cross_carries_gaps_and_odd_keys);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
