/*
 * The driver loader: a scheme resolves to ddlcoord-<scheme>.so on the search
 * path ($DDLCOORD_DRIVER_PATH, then the configured driver_dir, then the
 * directory next to libddlcoord.so, then the install directory; the order
 * itself is tested in tests/install/test_driver_search.c); a good plugin is called through its
 * table; a missing plugin, a missing symbol, a plugin that is not a shared object, a future ABI and
 * a truncated table each fail with their own code and a detail that names the file tried; a
 * plugin built for ABI 1 still loads, and paged reads reach it through the core's fallback. The
 * plugins are built by tests/plugins.
 */
#include <ddlcoord/ddlcoord.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"

static const char *plugin_dir(void)
{
    const char *d = getenv("DDLCOORD_TEST_PLUGIN_DIR");
    ck_assert_msg(d && *d, "DDLCOORD_TEST_PLUGIN_DIR is not set (run through ctest)");
    return d;
}

static void use_path(void)
{
    setenv("DDLCOORD_DRIVER_PATH", plugin_dir(), 1);
}

static int open_fails(const char *uri)
{
    dc_store *s = (dc_store *)1;
    int rc = dc_store_open(uri, &s);
    ck_assert_ptr_null(s);
    return rc;
}

START_TEST(good_plugin_is_loaded_and_called_through_its_table)
{
    use_path();
    dc_store *s;
    ck_assert_int_eq(dc_store_open("stub://anything", &s), DC_OK);
    ck_assert_str_eq(dc_store_backend(s), "stub");
    dc_kvs *kvs;
    ck_assert_int_eq(dc_get(s, "k", 1, 0, 0, &kvs), DC_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "stub driver: get"));
    char buf[256];
    ck_assert_ptr_nonnull(strstr(dc_store_errmsg(s, buf, sizeof buf), "stub driver"));
    dc_store_close(s);
}
END_TEST

START_TEST(uri_query_parameters_reach_the_driver_config)
{
    use_path();
    dc_store *s;
    ck_assert_int_eq(dc_store_open("stub://h?stub.option=hello", &s), DC_OK);
    dc_kvs *kvs;
    ck_assert_int_eq(dc_get(s, "k", 1, 0, 0, &kvs), DC_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "option=hello"));
    dc_store_close(s);
}
END_TEST

START_TEST(driver_open_failure_is_reported_with_its_code)
{
    use_path();
    ck_assert_int_eq(open_fails("stub://fail"), DC_EUNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "refusing"));
}
END_TEST

START_TEST(missing_plugin_names_every_directory_tried)
{
    use_path();
    ck_assert_int_eq(open_fails("nothere://x"), DC_ENODRIVER);
    const char *e = dc_last_error();
    char want[4096];
    snprintf(want, sizeof want, "%s (DDLCOORD_DRIVER_PATH)", plugin_dir());
    ck_assert_ptr_nonnull(strstr(e, "ddlcoord-nothere.so is not in"));
    ck_assert_ptr_nonnull(strstr(e, want));
    ck_assert_ptr_nonnull(strstr(e, "(install directory)")); /* and the others */
    /* how to name another directory, also when neither way was used */
    unsetenv("DDLCOORD_DRIVER_PATH");
    ck_assert_int_eq(open_fails("nothere://x"), DC_ENODRIVER);
    e = dc_last_error();
    ck_assert_ptr_nonnull(strstr(e, "DDLCOORD_DRIVER_PATH"));
    ck_assert_ptr_nonnull(strstr(e, "driver_dir"));
}
END_TEST

START_TEST(missing_entry_symbol_is_a_clear_error)
{
    use_path();
    ck_assert_int_eq(open_fails("nosym://x"), DC_ENODRIVER);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "ddlcoord-nosym.so"));
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "dc_driver_entry"));
}
END_TEST

START_TEST(entry_returning_null_is_a_clear_error)
{
    use_path();
    ck_assert_int_eq(open_fails("nullentry://x"), DC_ENODRIVER);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "ddlcoord-nullentry.so"));
}
END_TEST

START_TEST(file_that_is_not_a_shared_object_is_a_clear_error)
{
    use_path();
    ck_assert_int_eq(open_fails("garbage://x"), DC_ENODRIVER);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "ddlcoord-garbage.so"));
}
END_TEST

START_TEST(future_abi_is_refused)
{
    use_path();
    ck_assert_int_eq(open_fails("badabi://x"), DC_EABI);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "ddlcoord-badabi.so"));
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "ABI version 99"));
}
END_TEST

START_TEST(table_smaller_than_its_abi_is_refused)
{
    use_path();
    ck_assert_int_eq(open_fails("small://x"), DC_EABI);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "ddlcoord-small.so"));
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "too small"));
}
END_TEST

START_TEST(abi2_table_as_small_as_abi1s_is_refused)
{
    use_path();
    ck_assert_int_eq(open_fails("small2://x"), DC_EABI);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "ddlcoord-small2.so"));
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "too small for ABI 2"));
}
END_TEST

START_TEST(abi1_plugin_still_loads_and_pages_through_the_fallback)
{
    use_path();
    dc_store *s;
    ck_assert_int_eq(dc_store_open("scripted://x", &s), DC_OK);
    /* no get_page in its table: one full read returned as a single page */
    dc_kvs *page;
    ck_assert_int_eq(dc_get_page(s, "p/", 2, NULL, 0, 0, 1, 0, &page), DC_OK);
    ck_assert_int_eq(page->revision, 7);
    ck_assert_uint_eq(page->n, 3);
    ck_assert_int_eq(page->count, 3);
    ck_assert_int_eq(page->more, 0);
    dc_kvs_free(page);
    ck_assert_int_eq(dc_get_page(s, "p/", 2, "p/a", 3, 7, 1, DC_KEYS_ONLY, &page), DC_OK);
    ck_assert_uint_eq(page->n, 2);
    ck_assert_str_eq(page->kvs[0].key, "p/b");
    ck_assert_uint_eq(page->kvs[0].value_len, 0);
    dc_kvs_free(page);
    /* it cannot read the past, and says so */
    ck_assert_int_eq(dc_get_page(s, "p/", 2, NULL, 0, 5, 10, 0, &page), DC_EUNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "predates paged reads"));
    dc_store_close(s);
}
END_TEST

START_TEST(configured_driver_dir_is_searched_after_the_environment)
{
    setenv("DDLCOORD_DRIVER_PATH", "/nonexistent-a:/nonexistent-b", 1);
    dc_config *cfg = dc_config_new();
    ck_assert_int_eq(dc_config_set(cfg, "uri", "stub://x"), DC_OK);
    dc_store *s;
    ck_assert_int_eq(dc_store_open_config(cfg, &s), DC_ENODRIVER);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "/nonexistent-b (DDLCOORD_DRIVER_PATH)"));
    ck_assert_int_eq(dc_config_set(cfg, "driver_dir", plugin_dir()), DC_OK);
    ck_assert_int_eq(dc_store_open_config(cfg, &s), DC_OK);
    dc_store_close(s);
    dc_config_free(cfg);
}
END_TEST

START_TEST(environment_path_wins_over_the_configured_dir)
{
    use_path();
    dc_config *cfg = dc_config_new();
    dc_config_set(cfg, "uri", "badabi://x");
    dc_config_set(cfg, "driver_dir", "/nonexistent");
    dc_store *s;
    /* found (and refused) in the environment's directory, not "not found" */
    ck_assert_int_eq(dc_store_open_config(cfg, &s), DC_EABI);
    dc_config_free(cfg);
}
END_TEST

START_TEST(bad_uris_are_invalid_arguments)
{
    ck_assert_int_eq(open_fails("no-scheme-here"), DC_EINVAL);
    ck_assert_int_eq(open_fails(""), DC_EINVAL);
    ck_assert_int_eq(open_fails("etcd://host:notaport"), DC_EINVAL);
    ck_assert_int_eq(open_fails("we!rd://x"), DC_EINVAL);
    ck_assert_int_eq(open_fails("mem://a,b"), DC_EINVAL);
    dc_store *s;
    ck_assert_int_eq(dc_store_open(NULL, &s), DC_EINVAL);
    ck_assert_int_eq(dc_store_open("mem://", NULL), DC_EINVAL);
}
END_TEST

START_TEST(mem_is_built_in_and_needs_no_plugin)
{
    setenv("DDLCOORD_DRIVER_PATH", "/nonexistent", 1);
    dc_store *s;
    ck_assert_int_eq(dc_store_open("mem://", &s), DC_OK);
    ck_assert_str_eq(dc_store_backend(s), "mem");
    dc_store_close(s);
}
END_TEST

DC_CHECK_MAIN("loader", "loader", good_plugin_is_loaded_and_called_through_its_table,
              uri_query_parameters_reach_the_driver_config,
              driver_open_failure_is_reported_with_its_code,
              missing_plugin_names_every_directory_tried, missing_entry_symbol_is_a_clear_error,
              entry_returning_null_is_a_clear_error,
              file_that_is_not_a_shared_object_is_a_clear_error, future_abi_is_refused,
              table_smaller_than_its_abi_is_refused, abi2_table_as_small_as_abi1s_is_refused,
              abi1_plugin_still_loads_and_pages_through_the_fallback,
              configured_driver_dir_is_searched_after_the_environment,
              environment_path_wins_over_the_configured_dir, bad_uris_are_invalid_arguments,
              mem_is_built_in_and_needs_no_plugin)
