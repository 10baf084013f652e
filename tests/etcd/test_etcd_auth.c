/*
 * etcd driver with authentication on: a private server whose root user has
 * the password "rootpw" (run-with-etcd.sh … --auth) and whose tokens expire
 * after 2 idle seconds (--auth-token-ttl 2), so the refresh path runs.
 */
#include "etcd_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* etcd://root:<password>@host:port… from the plain test URI. */
static const char *uri_with_user(const char *password)
{
    static char buf[512];
    const char *base = getenv("DDLCOORD_TEST_STORE");
    snprintf(buf, sizeof buf, "etcd://root:%s@%s", password, base + strlen("etcd://"));
    return buf;
}

START_TEST(right_password_in_the_uri_reads_and_writes)
{
    dc_store *s = NULL;
    ET_OK(dc_store_open(uri_with_user("rootpw"), &s));
    const char *key = et_key("auth/a");
    ET_OK(dc_put(s, key, strlen(key), "secret", 6, 0, NULL));
    et_expect_value(s, key, "secret");
    dc_store_close(s);
}
END_TEST

START_TEST(right_password_in_the_config_reads_and_writes)
{
    dc_store *s = et_open("username=root&password=rootpw");
    const char *key = et_key("auth/b");
    ET_OK(dc_put(s, key, strlen(key), "x", 1, 0, NULL));
    dc_store_close(s);
}
END_TEST

START_TEST(wrong_password_is_an_auth_error)
{
    dc_store *s = NULL;
    ET_EXPECT_RC(dc_store_open(uri_with_user("wrong"), &s), DC_EAUTH);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(dc_last_error(), "authentication failed"), "detail: %s", dc_last_error());
}
END_TEST

START_TEST(no_credentials_is_an_auth_error_on_first_use)
{
    dc_store *s = et_open(NULL); /* /v3/maintenance/status needs no token */
    const char *key = et_key("auth/anon");
    ET_EXPECT_RC(dc_put(s, key, strlen(key), "x", 1, 0, NULL), DC_EAUTH);
    dc_kvs *kvs = NULL;
    ET_EXPECT_RC(dc_get(s, key, strlen(key), 0, 0, &kvs), DC_EAUTH);
    dc_store_close(s);
}
END_TEST

START_TEST(expired_token_is_refreshed_for_calls_and_watches)
{
    dc_store *s = NULL;
    ET_OK(dc_store_open(uri_with_user("rootpw"), &s));
    const char *key = et_key("auth/refresh");
    int64_t rev;
    ET_OK(dc_put(s, key, strlen(key), "1", 1, 0, &rev));
    sleep(4); /* the token's idle TTL is 2 s: it is now invalid */
    ET_OK(dc_put(s, key, strlen(key), "2", 1, 0, NULL));
    sleep(4);
    dc_watch *w;
    ET_OK(dc_watch_open(s, key, strlen(key), rev, 0, &w));
    static et_seen seen;
    memset(&seen, 0, sizeof seen);
    et_collect(w, &seen, 2);
    ck_assert_str_eq(seen.values[0], "1");
    ck_assert_str_eq(seen.values[1], "2");
    dc_watch_close(w);
    dc_store_close(s);
}
END_TEST

START_TEST(watch_without_credentials_is_an_auth_error)
{
    dc_store *s = et_open(NULL);
    const char *key = et_key("auth/w");
    dc_watch *w = NULL;
    int rc = dc_watch_open(s, key, strlen(key), 1, 0, &w);
    if (rc == DC_OK) { /* the cancel may also arrive after "created" */
        dc_events *ev = NULL;
        rc = dc_watch_next(w, ET_WAIT_MS, &ev);
        dc_watch_close(w);
    }
    ck_assert_msg(rc == DC_EAUTH, "watch without a token: %s, want DC_EAUTH", dc_errname(rc));
    dc_store_close(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("etcd_auth");
    TCase *tc = tcase_create("auth");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, right_password_in_the_uri_reads_and_writes);
    tcase_add_test(tc, right_password_in_the_config_reads_and_writes);
    tcase_add_test(tc, wrong_password_is_an_auth_error);
    tcase_add_test(tc, no_credentials_is_an_auth_error_on_first_use);
    tcase_add_test(tc, expired_token_is_refreshed_for_calls_and_watches);
    tcase_add_test(tc, watch_without_credentials_is_an_auth_error);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
