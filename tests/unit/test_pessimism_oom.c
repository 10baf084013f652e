/*
 * The protocol out of memory: a rebuild of the locks (the `locks` view, and a
 * master's step 1) whose Nth allocation fails, for every N, returns DC_OK or
 * DC_ENOMEM and never ends the process. uthash's default on a failed
 * allocation is exit(-1) inside the host; core/pessimism builds it with
 * HASH_NONFATAL_OOM and checks every add.
 *
 * As test_mem_oom.c, it interposes malloc, calloc and realloc for the whole
 * process (failing only on the test's thread when armed), so it is built only
 * without sanitizers (tests/CMakeLists.txt).
 */
#include <ddlcoord/ddlcoord.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"

#if defined(__SANITIZE_ADDRESS__)
#error "test_pessimism_oom interposes malloc: build it without AddressSanitizer"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#error "test_pessimism_oom interposes malloc: build it without AddressSanitizer"
#endif
#endif

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);

static __thread long fail_at;
static __thread long allocs;
static __thread int failed_one;

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

#define NS "/oom"

/* Two locks of task t (sources s00..s11), one with operations out, and a
 * conflicting report: every table the rebuild fills gets entries. */
static dc_store *populate(void)
{
    dc_store *s;
    ck_assert_int_eq(dc_store_open("mem://", &s), DC_OK);
    const char *srcs[12];
    char names[12][8];
    for (int i = 0; i < 12; i++) {
        snprintf(names[i], sizeof names[i], "s%02d", i);
        srcs[i] = names[i];
    }
    ck_assert_int_eq(dc_task_add(s, NS, "t", srcs, 12), DC_OK);
    const char *ddl = "ALTER TABLE x ADD c INT", *other = "ALTER TABLE x DROP d";
    for (int i = 0; i < 12; i++) {
        dc_info *info;
        ck_assert_int_eq(
            dc_info_new("t", srcs[i], "db", i < 8 ? "x" : "y", i == 5 ? &other : &ddl, 1, &info),
            DC_OK);
        char *key, *json;
        ck_assert_int_eq(dc_info_key(NS, "t", srcs[i], &key), DC_OK);
        ck_assert_int_eq(dc_info_encode(info, &json), DC_OK);
        ck_assert_int_eq(dc_put(s, key, strlen(key), json, strlen(json), 0, NULL), DC_OK);
        free(key);
        free(json);
        dc_info_free(info);
    }
    for (int i = 8; i < 12; i++) {
        dc_operation *op;
        ck_assert_int_eq(dc_operation_new("t-`db`.`y`", "t", srcs[i], &ddl, 1, i == 8, i == 9, &op),
                         DC_OK);
        char *key, *json;
        ck_assert_int_eq(dc_operation_key(NS, "t", srcs[i], &key), DC_OK);
        ck_assert_int_eq(dc_operation_encode(op, &json), DC_OK);
        ck_assert_int_eq(dc_put(s, key, strlen(key), json, strlen(json), 0, NULL), DC_OK);
        free(key);
        free(json);
        dc_operation_free(op);
    }
    return s;
}

START_TEST(locks_view_out_of_memory_fails_cleanly_at_every_allocation)
{
    dc_store *s = populate();
    int completed = 0, refused = 0;
    for (long n = 1; n < 20000 && !completed; n++) {
        dc_lock_status *st = NULL;
        size_t count = 0;
        arm(n);
        int rc = dc_locks_read(s, NS, NULL, &st, &count, NULL);
        disarm();
        completed = !failed_one;
        /* (mem:// reports a read whose answer it could not build as DC_EUNKNOWN) */
        ck_assert_msg(rc == DC_OK || rc == DC_ENOMEM || rc == DC_EUNKNOWN, "n=%ld: %s", n,
                      dc_errname(rc));
        if (rc == DC_OK) ck_assert_uint_eq(count, 2);
        refused += rc == DC_ENOMEM;
        dc_lock_status_free_array(st, count);
    }
    ck_assert_msg(completed, "the read never ran without a failure");
    ck_assert_int_gt(refused, 0);
    dc_store_close(s);
}
END_TEST

START_TEST(master_step1_out_of_memory_never_ends_the_process)
{
    dc_store *s = populate();
    int completed = 0;
    for (long n = 1; n < 20000 && !completed; n++) {
        dc_master_options o = {.ns = NS};
        dc_master *m;
        ck_assert_int_eq(dc_master_new(s, &o, &m), DC_OK);
        arm(n);
        int rc = dc_master_run(m, 0);
        disarm();
        completed = !failed_one;
        /* A master absorbs a failed pass (it rebuilds on the next). */
        ck_assert_msg(rc == DC_OK || rc == DC_ENOMEM, "n=%ld: %s", n, dc_errname(rc));
        if (completed) ck_assert_int_gt(dc_master_revision(m), 0);
        dc_master_free(m);
    }
    ck_assert_msg(completed, "step 1 never ran without a failure");
    dc_store_close(s);
}
END_TEST

DC_CHECK_MAIN("pessimism_oom", "pessimism_oom",
              locks_view_out_of_memory_fails_cleanly_at_every_allocation,
              master_step1_out_of_memory_never_ends_the_process)
