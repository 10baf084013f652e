/*
 * Unit tests of the lock model (core/pessimism/lock.h, private: tests may use
 * private headers): syncing, sources joining while a lock syncs, conflicts,
 * done and resolved, sources leaving the task and coming back, the one rule
 * that picks the next owner, the keeper, and status snapshots.
 */
#include <ddlcoord/ddlcoord.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "lock.h"

static const char *DDL[] = {"ALTER TABLE t ADD COLUMN c INT"};
static const char *OTHER[] = {"ALTER TABLE t DROP COLUMN c"};

START_TEST(lock_syncs_when_every_task_source_reported)
{
    const char *srcs[] = {"a", "b", "c"};
    pess_lock *l = dcp_lock_new("id", "t", "a", DDL, 1, srcs, 3, 0);
    ck_assert_ptr_nonnull(l);
    int remain;
    ck_assert(!dcp_lock_is_synced(l, &remain));
    ck_assert_int_eq(remain, 3);
    ck_assert_int_eq(dcp_lock_try_sync(l, "a", DDL, 1, srcs, 3), DC_OK);
    ck_assert_int_eq(dcp_lock_try_sync(l, "b", DDL, 1, srcs, 3), DC_OK);
    ck_assert(!dcp_lock_is_synced(l, &remain));
    ck_assert_int_eq(remain, 1);
    ck_assert_int_eq(dcp_lock_try_sync(l, "c", DDL, 1, srcs, 3), DC_OK);
    ck_assert(dcp_lock_is_synced(l, &remain));
    ck_assert_str_eq(l->owner, "a");
    ck_assert(!dcp_lock_is_resolved(l));
    for (int i = 0; i < 3; i++) ck_assert_int_eq(dcp_lock_mark_done(l, srcs[i]), DC_OK);
    ck_assert(dcp_lock_is_resolved(l));
    ck_assert_int_eq(dcp_lock_mark_done(l, "zzz"), DC_ENOTFOUND);
    dcp_lock_free(l);
}
END_TEST

START_TEST(sources_joining_while_a_lock_syncs_are_waited_for)
{
    const char *two[] = {"a", "b"}, *three[] = {"a", "b", "c"};
    pess_lock *l = dcp_lock_new("id", "t", "a", DDL, 1, two, 2, 0);
    ck_assert_int_eq(dcp_lock_try_sync(l, "a", DDL, 1, two, 2), DC_OK);
    /* c joined the task before b reported */
    ck_assert_int_eq(dcp_lock_try_sync(l, "b", DDL, 1, three, 3), DC_OK);
    int remain;
    ck_assert(!dcp_lock_is_synced(l, &remain));
    ck_assert_int_eq(remain, 1);
    ck_assert_int_eq(dcp_lock_try_sync(l, "c", DDL, 1, three, 3), DC_OK);
    ck_assert(dcp_lock_is_synced(l, NULL));
    dcp_lock_free(l);
}
END_TEST

START_TEST(conflicting_ddls_are_recorded_not_dropped)
{
    const char *srcs[] = {"a", "b"};
    pess_lock *l = dcp_lock_new("id", "t", "a", DDL, 1, srcs, 2, 0);
    ck_assert_int_eq(dcp_lock_try_sync(l, "a", DDL, 1, srcs, 2), DC_OK);
    ck_assert_int_eq(dcp_lock_try_sync(l, "b", OTHER, 1, srcs, 2), DC_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "DROP COLUMN"));
    ck_assert(!dcp_lock_is_synced(l, NULL));
    dc_lock_status st;
    ck_assert_int_eq(dcp_lock_status(l, &st), DC_OK);
    ck_assert_uint_eq(st.n_sources, 2);
    ck_assert_str_eq(st.sources[1].source, "b");
    ck_assert_uint_eq(st.sources[1].n_conflict_ddls, 1);
    ck_assert_str_eq(st.sources[1].conflict_ddls[0], OTHER[0]);
    dc_lock_status_clear(&st);
    /* b corrects itself: the conflict is cleared and the lock syncs */
    ck_assert_int_eq(dcp_lock_try_sync(l, "b", DDL, 1, srcs, 2), DC_OK);
    ck_assert(dcp_lock_is_synced(l, NULL));
    ck_assert_int_eq(dcp_lock_status(l, &st), DC_OK);
    ck_assert_ptr_null(st.sources[1].conflict_ddls);
    dc_lock_status_clear(&st);
    dcp_lock_free(l);
}
END_TEST

START_TEST(a_forced_lock_is_synced_and_shows_forced_only_when_an_unlock_did_it)
{
    const char *srcs[] = {"a", "b", "c"};
    pess_lock *l = dcp_lock_new("id", "t", "a", DDL, 1, srcs, 3, 0);
    dcp_lock_try_sync(l, "a", DDL, 1, srcs, 3);
    l->forced = 1; /* operations are out (a master rebuilt it) */
    ck_assert(dcp_lock_is_synced(l, NULL));
    dc_lock_status st;
    ck_assert_int_eq(dcp_lock_status(l, &st), DC_OK);
    ck_assert_int_eq(st.synced, 1);
    ck_assert_int_eq(st.forced, 0);
    dc_lock_status_clear(&st);
    l->unlocked = 1; /* an operator's unlock */
    ck_assert_int_eq(dcp_lock_status(l, &st), DC_OK);
    ck_assert_int_eq(st.forced, 1);
    dc_lock_status_clear(&st);
    dcp_lock_free(l);
}
END_TEST

START_TEST(sources_that_leave_are_not_awaited_until_they_come_back)
{
    const char *srcs[] = {"a", "b", "c"};
    pess_lock *l = dcp_lock_new("id", "t", "a", DDL, 1, srcs, 3, 0);
    dcp_lock_try_sync(l, "a", DDL, 1, srcs, 3);
    dcp_lock_try_sync(l, "c", DDL, 1, srcs, 3);
    ck_assert_int_eq(dcp_lock_leave(l, "b"), 1);
    ck_assert_int_eq(dcp_lock_leave(l, "b"), 0);
    ck_assert(dcp_lock_is_synced(l, NULL)); /* b is not awaited */
    ck_assert_int_eq(dcp_lock_mark_done(l, "a"), DC_OK);
    ck_assert_int_eq(dcp_lock_mark_done(l, "c"), DC_OK);
    ck_assert(dcp_lock_is_resolved(l));
    ck_assert_int_eq(dcp_lock_rejoin(l, "b"), 1);
    ck_assert(!dcp_lock_is_resolved(l)); /* awaited again */
    ck_assert_int_eq(dcp_lock_rejoin(l, "b"), 0);
    ck_assert(!dcp_lock_is_empty(l));
    for (int i = 0; i < 3; i++) dcp_lock_leave(l, srcs[i]);
    ck_assert(dcp_lock_is_empty(l));
    dcp_lock_free(l);
}
END_TEST

START_TEST(the_next_owner_is_the_smallest_synced_source_that_may_own_it)
{
    const char *srcs[] = {"a", "b", "c", "d", "e"};
    pess_lock *l = dcp_lock_new("id", "t", "a", DDL, 1, srcs, 5, 0);
    for (int i = 0; i < 5; i++) dcp_lock_try_sync(l, srcs[i], DDL, 1, srcs, 5);
    dcp_lock_unsync(l, "b");
    ck_assert_str_eq(dcp_lock_pick_owner(l, "a"), "c"); /* b has not reported */
    dcp_lock_src(l, "c")->fenced = 1;                   /* a takeover fenced c */
    dcp_lock_leave(l, "d");                             /* d left the task */
    ck_assert_str_eq(dcp_lock_pick_owner(l, "a"), "e");
    dcp_lock_src(l, "e")->excluded = 1;                 /* an unlock does not await e */
    ck_assert_str_eq(dcp_lock_pick_owner(l, "a"), "b"); /* nobody synced: the smallest */
    dcp_lock_leave(l, "b");
    ck_assert_ptr_null(dcp_lock_pick_owner(l, "a"));
    ck_assert_str_eq(dcp_lock_pick_owner(l, NULL), "a");
    ck_assert_int_eq(dcp_lock_set_owner(l, "zz"), DC_ENOTFOUND);
    ck_assert_int_eq(dcp_lock_set_owner(l, "e"), DC_OK);
    ck_assert_str_eq(l->owner, "e");
    dcp_lock_free(l);
}
END_TEST

START_TEST(keeper_creates_one_lock_per_table_owned_by_first_reporter)
{
    pess_keeper *k = dcp_keeper_new(16);
    const char *srcs[] = {"s1", "s2"};
    dc_info *i1, *i2, *i3;
    dc_info_new("task", "s2", "db", "tbl", DDL, 1, &i1);
    dc_info_new("task", "s1", "db", "tbl", DDL, 1, &i2);
    dc_info_new("task", "s1", "db", "other", DDL, 1, &i3);
    pess_lock *l;
    int created;
    ck_assert_int_eq(dcp_keeper_try_sync(k, i1, srcs, 2, &l, &created), DC_OK);
    ck_assert(created);
    ck_assert_str_eq(l->owner, "s2");
    ck_assert_ptr_nonnull(l->data); /* the keeper's per-lock record */
    ck_assert_int_eq(dcp_keeper_try_sync(k, i2, srcs, 2, &l, &created), DC_OK);
    ck_assert(!created);
    ck_assert(dcp_lock_is_synced(l, NULL));
    ck_assert_int_eq(dcp_keeper_try_sync(k, i3, srcs, 2, NULL, NULL), DC_OK);
    ck_assert_uint_eq(dcp_keeper_count(k), 2);
    ck_assert_ptr_nonnull(dcp_keeper_find(k, "task-`db`.`tbl`"));
    pess_lock **v;
    size_t n;
    ck_assert_int_eq(dcp_keeper_locks(k, &v, &n), DC_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(v[0]->id, "task-`db`.`other`");
    free(v);
    size_t nids;
    char **ids = dcp_keeper_task_ids(k, "task", &nids);
    ck_assert_uint_eq(nids, 2);
    dc_strings_free(ids, nids);
    dcp_keeper_remove(k, dcp_keeper_find(k, "task-`db`.`tbl`"));
    ck_assert_ptr_null(dcp_keeper_find(k, "task-`db`.`tbl`"));
    ck_assert_uint_eq(dcp_keeper_count(k), 1);
    dc_info_free(i1);
    dc_info_free(i2);
    dc_info_free(i3);
    dcp_keeper_free(k);
}
END_TEST

DC_CHECK_MAIN("pessimism_lock", "lock", lock_syncs_when_every_task_source_reported,
              sources_joining_while_a_lock_syncs_are_waited_for,
              conflicting_ddls_are_recorded_not_dropped,
              a_forced_lock_is_synced_and_shows_forced_only_when_an_unlock_did_it,
              sources_that_leave_are_not_awaited_until_they_come_back,
              the_next_owner_is_the_smallest_synced_source_that_may_own_it,
              keeper_creates_one_lock_per_table_owned_by_first_reporter)
