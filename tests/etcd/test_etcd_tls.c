/*
 * etcd driver over TLS (etcd+https://): a private server with a throwaway
 * CA, a server certificate for 127.0.0.1 and required client certificates
 * (run-with-etcd.sh … --tls). The fixture exports the tls_ca / tls_cert /
 * tls_key settings as DDLCOORD_TEST_STORE_QUERY.
 */
#include "etcd_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *tls_dir(void)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/tls", getenv("ETCD_TEST_DIR"));
    return buf;
}

START_TEST(ca_and_client_certificate_read_write_and_watch)
{
    const char *uri = et_uri(NULL);
    ck_assert_msg(strncmp(uri, "etcd+https://", 13) == 0, "not a TLS URI: %s", uri);
    dc_store *s = et_open(NULL);
    const char *key = et_key("tls/a");
    int64_t rev;
    ET_OK(dc_put(s, key, strlen(key), "over-tls", 8, 0, &rev));
    et_expect_value(s, key, "over-tls");
    dc_watch *w;
    ET_OK(dc_watch_open(s, key, strlen(key), rev, 0, &w));
    static et_seen seen;
    et_collect(w, &seen, 1);
    ck_assert_str_eq(seen.values[0], "over-tls");
    dc_watch_close(w);
    dc_store_close(s);
}
END_TEST

START_TEST(missing_client_certificate_is_refused)
{
    char uri[2048];
    snprintf(uri, sizeof uri, "%s?tls_ca=%s/ca.pem", getenv("DDLCOORD_TEST_STORE"), tls_dir());
    dc_store *s = NULL;
    ET_EXPECT_RC(dc_store_open(uri, &s), DC_EAUTH);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(server_signed_by_an_unknown_ca_is_an_auth_error)
{
    /* the client certificate is fine, but the system CAs do not know our CA */
    char uri[2048];
    snprintf(uri, sizeof uri, "%s?tls_cert=%s/client.pem&tls_key=%s/client-key.pem",
             getenv("DDLCOORD_TEST_STORE"), tls_dir(), tls_dir());
    dc_store *s = NULL;
    ET_EXPECT_RC(dc_store_open(uri, &s), DC_EAUTH);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(plain_http_to_a_tls_server_fails_cleanly)
{
    char uri[2048];
    snprintf(uri, sizeof uri, "etcd://%s?request_timeout_ms=2000",
             getenv("DDLCOORD_TEST_STORE") + strlen("etcd+https://"));
    dc_store *s = NULL;
    int rc = dc_store_open(uri, &s);
    ck_assert_ptr_null(s);
    ck_assert_msg(rc != DC_OK, "plain HTTP to a TLS port opened");
}
END_TEST

int main(void)
{
    Suite *su = suite_create("etcd_tls");
    TCase *tc = tcase_create("tls");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, ca_and_client_certificate_read_write_and_watch);
    tcase_add_test(tc, missing_client_certificate_is_refused);
    tcase_add_test(tc, server_signed_by_an_unknown_ca_is_an_auth_error);
    tcase_add_test(tc, plain_http_to_a_tls_server_fails_cleanly);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
