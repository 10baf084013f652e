/*
 * Unit tests of the Lock and the LockKeeper (no store): syncing, sources
 * joining while a lock syncs, conflicts, done and resolved, force-synced and
 * revert (for unlock), source removal and owner hand-over, snapshots.
 */
#include <ddlcoord/ddlcoord.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"

static const char *DDL[] = {"ALTER TABLE t ADD COLUMN c INT"};
static const char *OTHER[] = {"ALTER TABLE t DROP COLUMN c"};

START_TEST(lock_syncs_when_every_task_source_reported)
{
    const char *srcs[] = {"a", "b", "c"};
    dc_lock *l = dc_lock_new("id", "t", "a", DDL, 1, srcs, 3);
    ck_assert_ptr_nonnull(l);
    int remain;
    ck_assert(!dc_lock_is_synced(l, &remain));
    ck_assert_int_eq(remain, 3);
    ck_assert_int_eq(dc_lock_try_sync(l, "a", DDL, 1, srcs, 3), DC_OK);
    ck_assert_int_eq(dc_lock_try_sync(l, "b", DDL, 1, srcs, 3), DC_OK);
    ck_assert(!dc_lock_is_synced(l, &remain));
    ck_assert_int_eq(remain, 1);
    ck_assert_int_eq(dc_lock_try_sync(l, "c", DDL, 1, srcs, 3), DC_OK);
    ck_assert(dc_lock_is_synced(l, &remain));
    ck_assert_str_eq(dc_lock_get_owner(l), "a");
    ck_assert(!dc_lock_is_resolved(l));
    for (int i = 0; i < 3; i++) ck_assert_int_eq(dc_lock_mark_done(l, srcs[i]), DC_OK);
    ck_assert(dc_lock_is_resolved(l));
    ck_assert_int_eq(dc_lock_mark_done(l, "zzz"), DC_ENOTFOUND);
    dc_lock_free(l);
}
END_TEST

START_TEST(sources_joining_while_a_lock_syncs_are_waited_for)
{
    const char *two[] = {"a", "b"}, *three[] = {"a", "b", "c"};
    dc_lock *l = dc_lock_new("id", "t", "a", DDL, 1, two, 2);
    ck_assert_int_eq(dc_lock_try_sync(l, "a", DDL, 1, two, 2), DC_OK);
    /* c joined the task before b reported */
    ck_assert_int_eq(dc_lock_try_sync(l, "b", DDL, 1, three, 3), DC_OK);
    int remain;
    ck_assert(!dc_lock_is_synced(l, &remain));
    ck_assert_int_eq(remain, 1);
    ck_assert_int_eq(dc_lock_try_sync(l, "c", DDL, 1, three, 3), DC_OK);
    ck_assert(dc_lock_is_synced(l, NULL));
    dc_lock_free(l);
}
END_TEST

START_TEST(conflicting_ddls_are_recorded_not_dropped)
{
    const char *srcs[] = {"a", "b"};
    dc_lock *l = dc_lock_new("id", "t", "a", DDL, 1, srcs, 2);
    ck_assert_int_eq(dc_lock_try_sync(l, "a", DDL, 1, srcs, 2), DC_OK);
    ck_assert_int_eq(dc_lock_try_sync(l, "b", OTHER, 1, srcs, 2), DC_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "DROP COLUMN"));
    ck_assert(!dc_lock_is_synced(l, NULL));
    dc_lock_status st;
    ck_assert_int_eq(dc_lock_status_get(l, &st), DC_OK);
    ck_assert_uint_eq(st.n_sources, 2);
    ck_assert_str_eq(st.sources[1].source, "b");
    ck_assert_uint_eq(st.sources[1].n_conflict_ddls, 1);
    ck_assert_str_eq(st.sources[1].conflict_ddls[0], OTHER[0]);
    dc_lock_status_clear(&st);
    /* b corrects itself: the conflict is cleared and the lock syncs */
    ck_assert_int_eq(dc_lock_try_sync(l, "b", DDL, 1, srcs, 2), DC_OK);
    ck_assert(dc_lock_is_synced(l, NULL));
    ck_assert_int_eq(dc_lock_status_get(l, &st), DC_OK);
    ck_assert_ptr_null(st.sources[1].conflict_ddls);
    dc_lock_status_clear(&st);
    dc_lock_free(l);
}
END_TEST

START_TEST(force_synced_and_revert_for_unlock)
{
    const char *srcs[] = {"a", "b", "c"};
    dc_lock *l = dc_lock_new("id", "t", "a", DDL, 1, srcs, 3);
    dc_lock_try_sync(l, "a", DDL, 1, srcs, 3);
    dc_lock_force_synced(l);
    ck_assert(dc_lock_is_synced(l, NULL));
    const char *unsynced[] = {"b", "c"};
    dc_lock_revert_synced(l, unsynced, 2);
    int remain;
    ck_assert(!dc_lock_is_synced(l, &remain));
    ck_assert_int_eq(remain, 2);
    dc_lock_free(l);
}
END_TEST

START_TEST(removing_the_owner_hands_the_lock_to_a_synced_source)
{
    const char *srcs[] = {"a", "b", "c"};
    dc_lock *l = dc_lock_new("id", "t", "a", DDL, 1, srcs, 3);
    dc_lock_try_sync(l, "a", DDL, 1, srcs, 3);
    dc_lock_try_sync(l, "c", DDL, 1, srcs, 3);
    ck_assert_int_eq(dc_lock_remove_source(l, "a"), 1);
    ck_assert_str_eq(dc_lock_get_owner(l), "c"); /* b has not reported */
    ck_assert_int_eq(dc_lock_remove_source(l, "a"), 0);
    ck_assert_int_eq(dc_lock_remove_source(l, "b"), 1);
    ck_assert(dc_lock_is_synced(l, NULL));
    ck_assert_int_eq(dc_lock_remove_source(l, "c"), 1);
    ck_assert(dc_lock_is_empty(l));
    dc_lock_free(l);
}
END_TEST

START_TEST(keeper_creates_one_lock_per_table_owned_by_first_reporter)
{
    dc_keeper *k = dc_keeper_new();
    const char *srcs[] = {"s1", "s2"};
    dc_info *i1, *i2, *i3;
    dc_info_new("task", "s2", "db", "tbl", DDL, 1, &i1);
    dc_info_new("task", "s1", "db", "tbl", DDL, 1, &i2);
    dc_info_new("task", "s1", "db", "other", DDL, 1, &i3);
    dc_lock *l;
    int created;
    ck_assert_int_eq(dc_keeper_try_sync(k, i1, srcs, 2, &l, &created), DC_OK);
    ck_assert(created);
    ck_assert_str_eq(dc_lock_get_owner(l), "s2");
    ck_assert_int_eq(dc_keeper_try_sync(k, i2, srcs, 2, &l, &created), DC_OK);
    ck_assert(!created);
    ck_assert(dc_lock_is_synced(l, NULL));
    ck_assert_int_eq(dc_keeper_try_sync(k, i3, srcs, 2, NULL, NULL), DC_OK);
    ck_assert_uint_eq(dc_keeper_count(k), 2);
    ck_assert_ptr_nonnull(dc_keeper_find(k, "task-`db`.`tbl`"));
    dc_lock_status *st;
    size_t n;
    ck_assert_int_eq(dc_keeper_status(k, "task", &st, &n), DC_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(st[0].id, "task-`db`.`other`");
    dc_lock_status_free_array(st, n);
    ck_assert_int_eq(dc_keeper_remove(k, "task-`db`.`tbl`"), 1);
    ck_assert_int_eq(dc_keeper_remove(k, "task-`db`.`tbl`"), 0);
    ck_assert_uint_eq(dc_keeper_count(k), 1);
    dc_info_free(i1);
    dc_info_free(i2);
    dc_info_free(i3);
    dc_keeper_free(k);
}
END_TEST

DC_CHECK_MAIN("pessimism_lock", "lock", lock_syncs_when_every_task_source_reported,
              sources_joining_while_a_lock_syncs_are_waited_for,
              conflicting_ddls_are_recorded_not_dropped, force_synced_and_revert_for_unlock,
              removing_the_owner_hands_the_lock_to_a_synced_source,
              keeper_creates_one_lock_per_table_owned_by_first_reporter)
