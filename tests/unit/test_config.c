/*
 * dc_config: set/get/remove, integers (lenient and range-checked; a store
 * refuses to open with an integer that does not fit), keys that nobody reads
 * (named, with their file and line), copies, and INI files read with inih
 * ([store]/[ddlcoord] keys bare, other sections as "section.key"); a file
 * that is missing or malformed is a typed error naming the file and line.
 */
#include <ddlcoord/ddlcoord.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/dc-config-test-%d.ini", (int)getpid());
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

START_TEST(set_get_replace_and_remove)
{
    dc_config *c = dc_config_new();
    ck_assert_int_eq(dc_config_set(c, "a", "1"), DC_OK);
    ck_assert_int_eq(dc_config_set(c, "a", "2"), DC_OK);
    ck_assert_str_eq(dc_config_get(c, "a"), "2");
    ck_assert_int_eq(dc_config_count(c), 1);
    ck_assert_int_eq(dc_config_set(c, "a", NULL), DC_OK);
    ck_assert_ptr_null(dc_config_get(c, "a"));
    ck_assert_int_eq(dc_config_set(c, "", "x"), DC_EINVAL);
    ck_assert_int_eq(dc_config_set(c, NULL, "x"), DC_EINVAL);
    dc_config_free(c);
}
END_TEST

START_TEST(integers_fall_back_on_bad_values)
{
    dc_config *c = dc_config_new();
    dc_config_set(c, "n", "1500");
    dc_config_set(c, "bad", "15x");
    ck_assert_int_eq(dc_config_get_int(c, "n", 7), 1500);
    ck_assert_int_eq(dc_config_get_int(c, "bad", 7), 7);
    ck_assert_int_eq(dc_config_get_int(c, "absent", 7), 7);
    dc_config *d = dc_config_dup(c);
    dc_config_free(c);
    ck_assert_str_eq(dc_config_get(d, "n"), "1500");
    dc_config_free(d);
}
END_TEST

START_TEST(checked_integers_name_the_key_and_the_range)
{
    dc_config *c = dc_config_new();
    int64_t v = 0;
    ck_assert_int_eq(dc_config_int(c, "absent", 7, 1, 10, &v), DC_OK);
    ck_assert_int_eq(v, 7);
    const char *bad[] = {"4294967396", "15x", "", " 5", "0x10", "-1", "11", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dc_config_set(c, "request_timeout_ms", bad[i]);
        ck_assert_msg(dc_config_int(c, "request_timeout_ms", 5, 0, 10, &v) == DC_EINVAL,
                      "'%s' accepted", bad[i]);
        ck_assert_ptr_nonnull(strstr(dc_last_error(), "request_timeout_ms="));
        ck_assert_ptr_nonnull(strstr(dc_last_error(), "[0, 10]"));
    }
    dc_config_set(c, "request_timeout_ms", "10");
    ck_assert_int_eq(dc_config_int(c, "request_timeout_ms", 5, 0, 10, &v), DC_OK);
    ck_assert_int_eq(v, 10);
    dc_config_set(c, "request_timeout_ms", "-3");
    ck_assert_int_eq(dc_config_int(c, "request_timeout_ms", 5, -3, 10, &v), DC_OK);
    ck_assert_int_eq(v, -3);
    dc_config_free(c);
}
END_TEST

/* A store does not open with a timeout that does not fit, whatever the
 * backend: 2^32 + 100 once became 100 ms through an int cast. */
START_TEST(a_store_with_an_out_of_range_integer_does_not_open)
{
    const char *uris[] = {"mem://?request_timeout_ms=4294967396", "mem://?connect_timeout_ms=0",
                          "mem://?max_txn_ops=lots", "mem://?max_value_bytes=-1"};
    const char *keys[] = {"request_timeout_ms", "connect_timeout_ms", "max_txn_ops",
                          "max_value_bytes"};
    for (size_t i = 0; i < 4; i++) {
        dc_store *s = (dc_store *)1;
        ck_assert_int_eq(dc_store_open(uris[i], &s), DC_EINVAL);
        ck_assert_ptr_null(s);
        ck_assert_msg(strstr(dc_last_error(), keys[i]), "%s: %s", uris[i], dc_last_error());
    }
    dc_store *s;
    ck_assert_int_eq(dc_store_open("mem://?request_timeout_ms=86400000", &s), DC_OK);
    dc_store_close(s);
}
END_TEST

/* Keys nobody reads are typos or another backend's options: the open says
 * which, and where it came from. */
START_TEST(unknown_keys_and_parameters_are_named)
{
    dc_store *s = (dc_store *)1;
    ck_assert_int_eq(dc_store_open("mem://?modee=lua", &s), DC_EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(dc_last_error(), "unknown parameter 'modee'"), "%s", dc_last_error());
    ck_assert_int_eq(dc_store_open("mem://?mem.nope=1", &s), DC_EINVAL);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "'mem.nope'"));
    /* other sections belong to someone else (another backend, the command) */
    ck_assert_int_eq(dc_store_open("mem://?zk.root=/x&master.name=m&request_timeout_ms=10", &s),
                     DC_OK);
    dc_store_close(s);

    const char *path = write_tmp("[store]\n"
                                 "uri = mem://\n"
                                 "\n"
                                 "request_timout_ms = 5\n"
                                 "[master]\n"
                                 "name = m1\n");
    dc_config *c = dc_config_new();
    ck_assert_int_eq(dc_config_load_file(c, path), DC_OK);
    ck_assert_int_eq(dc_store_open_config(c, &s), DC_EINVAL);
    char want[128];
    snprintf(want, sizeof want, "'request_timout_ms' (%s:4)", path);
    ck_assert_msg(strstr(dc_last_error(), want), "%s", dc_last_error());
    dc_config_free(c);

    /* a number that is not one: the key, the value and the line */
    path = write_tmp("[store]\nuri = mem://\n; timeouts\nrequest_timeout_ms = 5s\n");
    c = dc_config_new();
    ck_assert_int_eq(dc_config_load_file(c, path), DC_OK);
    ck_assert_int_eq(dc_store_open_config(c, &s), DC_EINVAL);
    snprintf(want, sizeof want, "request_timeout_ms=5s (%s:4)", path);
    ck_assert_msg(strstr(dc_last_error(), want), "%s", dc_last_error());
    dc_config_free(c);
    unlink(path);
}
END_TEST

START_TEST(ini_sections_map_to_keys)
{
    const char *path = write_tmp("; a comment\n"
                                 "top = 1\n"
                                 "[store]\n"
                                 "uri = etcd://127.0.0.1:2379\n"
                                 "[ddlcoord]\n"
                                 "namespace = /dm-master\n"
                                 "[redis]\n"
                                 "mode = multi\n");
    dc_config *c = dc_config_new();
    ck_assert_int_eq(dc_config_load_file(c, path), DC_OK);
    ck_assert_str_eq(dc_config_get(c, "top"), "1");
    ck_assert_str_eq(dc_config_get(c, "uri"), "etcd://127.0.0.1:2379");
    ck_assert_str_eq(dc_config_get(c, "namespace"), "/dm-master");
    ck_assert_str_eq(dc_config_get(c, "redis.mode"), "multi");
    dc_config_free(c);
    unlink(path);
}
END_TEST

START_TEST(missing_and_malformed_files_are_typed_errors)
{
    dc_config *c = dc_config_new();
    ck_assert_int_eq(dc_config_load_file(c, "/nonexistent/ddlcoord.ini"), DC_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "/nonexistent/ddlcoord.ini"));
    const char *path = write_tmp("[store]\nuri = mem://\nthis line has no equals sign\n");
    ck_assert_int_eq(dc_config_load_file(c, path), DC_EINVAL);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), ":3:"));
    dc_config_free(c);
    unlink(path);
}
END_TEST

START_TEST(store_opens_from_an_ini_file)
{
    const char *path = write_tmp("[store]\nuri = mem://ini-test\n");
    dc_config *c = dc_config_new();
    ck_assert_int_eq(dc_config_load_file(c, path), DC_OK);
    dc_store *s;
    ck_assert_int_eq(dc_store_open_config(c, &s), DC_OK);
    dc_config_free(c); /* the store keeps its own copy */
    ck_assert_int_eq(dc_put(s, "k", 1, "v", 1, 0, NULL), DC_OK);
    dc_store_close(s);
    unlink(path);
}
END_TEST

DC_CHECK_MAIN("config", "config", set_get_replace_and_remove, integers_fall_back_on_bad_values,
              checked_integers_name_the_key_and_the_range,
              a_store_with_an_out_of_range_integer_does_not_open,
              unknown_keys_and_parameters_are_named, ini_sections_map_to_keys,
              missing_and_malformed_files_are_typed_errors, store_opens_from_an_ini_file)
