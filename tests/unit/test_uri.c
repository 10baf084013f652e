/*
 * Store URI parsing (core/util/uri.c): schemes, user info with escapes,
 * several hosts including IPv6 literals, paths and query parameters, and the
 * malformed forms that must be rejected rather than half-parsed; redaction
 * (user info and secret parameters hidden, unparsable text hidden rather
 * than guessed at), and failed opens that never show a password.
 */
#include <ddlcoord/ddlcoord.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uri.h"

#include "check_main.h"

static dc_uri parse_ok(const char *text)
{
    dc_uri u;
    char err[256];
    int rc = dc__uri_parse(text, &u, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", text, err);
    return u;
}

static void parse_bad(const char *text)
{
    dc_uri u;
    char err[256] = "";
    ck_assert_int_eq(dc__uri_parse(text, &u, err, sizeof err), -1);
    ck_assert_msg(err[0], "no message for %s", text);
    dc__uri_free(&u);
}

START_TEST(scheme_hosts_and_ports)
{
    dc_uri u = parse_ok("ETCD+https://h1:2379,10.0.0.2:2380,[::1]:2381");
    ck_assert_str_eq(u.scheme, "etcd+https");
    ck_assert_uint_eq(u.n_hosts, 3);
    ck_assert_str_eq(u.hosts[0].host, "h1");
    ck_assert_int_eq(u.hosts[0].port, 2379);
    ck_assert_str_eq(u.hosts[2].host, "::1");
    ck_assert_int_eq(u.hosts[2].port, 2381);
    ck_assert_ptr_null(u.user);
    ck_assert_str_eq(u.path, "");
    dc__uri_free(&u);
}
END_TEST

START_TEST(user_password_with_escapes_path_and_query)
{
    dc_uri u = parse_ok("redis://al%40ice:p%3Ass@127.0.0.1:6379/3?mode=multi&prefix=a%2Fb");
    ck_assert_str_eq(u.user, "al@ice");
    ck_assert_str_eq(u.password, "p:ss");
    ck_assert_str_eq(u.path, "3");
    ck_assert_uint_eq(u.n_params, 2);
    ck_assert_str_eq(u.params[0].key, "mode");
    ck_assert_str_eq(u.params[0].value, "multi");
    ck_assert_str_eq(u.params[1].value, "a/b");
    dc__uri_free(&u);
}
END_TEST

START_TEST(name_only_and_empty_authority)
{
    dc_uri u = parse_ok("mem://shared");
    ck_assert_uint_eq(u.n_hosts, 1);
    ck_assert_str_eq(u.hosts[0].host, "shared");
    ck_assert_int_eq(u.hosts[0].port, 0);
    dc__uri_free(&u);
    u = parse_ok("mem://");
    ck_assert_uint_eq(u.n_hosts, 0);
    dc__uri_free(&u);
    u = parse_ok("zk://h:2181/chroot/deep");
    ck_assert_str_eq(u.path, "chroot/deep");
    dc__uri_free(&u);
}
END_TEST

START_TEST(malformed_uris_are_rejected)
{
    parse_bad("no-scheme");
    parse_bad("://x");
    parse_bad("etcd://h:99999");
    parse_bad("etcd://h:0");
    parse_bad("etcd://h:");
    parse_bad("etcd://h:12ab");
    parse_bad("etcd://h1,");
    parse_bad("etcd://[::1");
    parse_bad("etcd://h?novalue");
    parse_bad("etcd://u%zz@h");
    parse_bad("etcd://h/%4");
}
END_TEST

static void redacts(const char *uri, const char *want)
{
    char buf[256];
    ck_assert_str_eq(dc__uri_redact(uri, buf, sizeof buf), want);
    /* the public name is the same function */
    ck_assert_str_eq(dc_uri_redact(uri, buf, sizeof buf), want);
}

START_TEST(redaction_hides_user_info_and_secret_parameters)
{
    redacts("redis://bob:pw@h:1/3?mode=multi", "redis://***@h:1/3?mode=multi");
    redacts("redis://bob@h:1", "redis://***@h:1");
    redacts("etcd://a:1,b:2", "etcd://a:1,b:2");
    redacts("zk://u:p@[::1]:2181,h2/chroot", "zk://***@[::1]:2181,h2/chroot");
    redacts("redis://h:1?password=pw&mode=lua&tls_key=/k&auth_token=t",
            "redis://h:1?password=***&mode=lua&tls_key=/k&auth_token=***");
    redacts("redis://h:1?PASSWORD", "redis://h:1?***");
    redacts("mem://", "mem://");
    redacts("mem://name", "mem://name");
    /* a password may hold '@' or '/': the last '@' of the host part ends it */
    redacts("redis://bob:p@ss@h:1", "redis://***@h:1");
}
END_TEST

START_TEST(redaction_hides_what_it_cannot_parse)
{
    /* an '@' after the host part: where does the user info end? */
    redacts("redis://bob:pa/ss@h:1", "redis://***");
    /* the '@host' forgotten: "bob:secret" is no host:port */
    redacts("redis://bob:secret", "redis://***");
    redacts("redis://h:notaport", "redis://***");
    /* not scheme://: shown only when nothing in it can be a password */
    redacts("bob:secret@h", "***");
    redacts("no-scheme-here", "no-scheme-here");
    redacts("we!rd://bob:pw@h", "***");
    redacts(NULL, "(none)");
    /* truncated, still terminated */
    char small[8];
    ck_assert_str_eq(dc__uri_redact("redis://bob:pw@host:1", small, sizeof small), "redis:/");
    ck_assert_str_eq(dc__uri_redact("x", small, 1), "");
}
END_TEST

static char logged[8192];

static void keep(dc_log_level level, const char *component, const char *message, void *ud)
{
    size_t n = strlen(logged);
    snprintf(logged + n, sizeof logged - n, "%s\n", message);
}

/* Every way the library has to fail an open shows the URI without its secret. */
START_TEST(failed_opens_never_show_the_password)
{
    const char *uris[] = {"mem://u:S3cretPW@x",        "mem://?password=S3cretPW&max_txn_ops=0",
                          "nodriver://u:S3cretPW@h:1", "zk://u:S3cretPW@h:notaport",
                          "redis://u:S3cretPW",        "u:S3cretPW@h:1"};
    dc_log_set_level(DC_LOG_DEBUG);
    dc_log_set_handler(keep, NULL);
    setenv("DDLCOORD_DRIVER_PATH", "/nonexistent", 1);
    for (size_t i = 0; i < sizeof uris / sizeof uris[0]; i++) {
        logged[0] = '\0';
        dc_store *s = NULL;
        int rc = dc_store_open(uris[i], &s);
        ck_assert_msg(rc != DC_OK, "%s opened", uris[i]);
        ck_assert_msg(!strstr(dc_last_error(), "S3cretPW"), "%s: detail %s", uris[i],
                      dc_last_error());
        ck_assert_msg(!strstr(logged, "S3cretPW"), "%s: log %s", uris[i], logged);
    }
    dc_log_set_handler(NULL, NULL);
}
END_TEST

DC_CHECK_MAIN("uri", "uri", scheme_hosts_and_ports, user_password_with_escapes_path_and_query,
              name_only_and_empty_authority, malformed_uris_are_rejected,
              redaction_hides_user_info_and_secret_parameters, redaction_hides_what_it_cannot_parse,
              failed_opens_never_show_the_password)
