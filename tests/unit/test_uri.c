/*
 * Store URI parsing (core/util/uri.c): schemes, user info with escapes,
 * several hosts including IPv6 literals, paths and query parameters, and the
 * malformed forms that must be rejected rather than half-parsed.
 */
#include <stdlib.h>
#include <string.h>

#include "uri.h"

#include "check_main.h"

static dc_uri parse_ok(const char *text)
{
    dc_uri u;
    char err[256];
    int rc = dc_uri_parse(text, &u, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", text, err);
    return u;
}

static void parse_bad(const char *text)
{
    dc_uri u;
    char err[256] = "";
    ck_assert_int_eq(dc_uri_parse(text, &u, err, sizeof err), -1);
    ck_assert_msg(err[0], "no message for %s", text);
    dc_uri_free(&u);
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
    dc_uri_free(&u);
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
    dc_uri_free(&u);
}
END_TEST

START_TEST(name_only_and_empty_authority)
{
    dc_uri u = parse_ok("mem://shared");
    ck_assert_uint_eq(u.n_hosts, 1);
    ck_assert_str_eq(u.hosts[0].host, "shared");
    ck_assert_int_eq(u.hosts[0].port, 0);
    dc_uri_free(&u);
    u = parse_ok("mem://");
    ck_assert_uint_eq(u.n_hosts, 0);
    dc_uri_free(&u);
    u = parse_ok("zk://h:2181/chroot/deep");
    ck_assert_str_eq(u.path, "chroot/deep");
    dc_uri_free(&u);
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

DC_CHECK_MAIN("uri", "uri", scheme_hosts_and_ports, user_password_with_escapes_path_and_query,
              name_only_and_empty_authority, malformed_uris_are_rejected)
