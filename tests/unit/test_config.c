/*
 * dc_config: set/get/remove, integers, copies, and INI files read with inih
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
              ini_sections_map_to_keys, missing_and_malformed_files_are_typed_errors,
              store_opens_from_an_ini_file)
