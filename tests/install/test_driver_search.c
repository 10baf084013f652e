/*
 * Where the library looks for driver plugins (dc_drivers_list, and the
 * not-found message of dc_store_open), built twice by
 * tests/install/CMakeLists.txt:
 *  - against libddlcoord.so: $DDLCOORD_DRIVER_PATH, then driver_dir, then the
 *    directory next to the library (in the build tree, where every driver
 *    of the build is found with nothing set), then the install directory;
 *  - against libddlcoord.a (DC_TEST_STATIC): no directory next to the
 *    library, since the library's file is the program; the install directory
 *    is the fallback.
 * The environment comes from ctest: DC_TEST_PLUGIN_DIR (tests/plugins),
 * DC_TEST_LIBRARY_DIR (the directory of libddlcoord.so in the build),
 * DC_TEST_INSTALL_DIR (the compiled-in install directory) and DC_TEST_DRIVERS
 * (the schemes of the drivers this build makes, possibly none).
 */
#include <ddlcoord/ddlcoord.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/check_main.h"

static const char *env(const char *name)
{
    const char *v = getenv(name);
    ck_assert_msg(v && *v, "%s is not set (run through ctest)", name);
    return v;
}

/* <DC_TEST_LIBRARY_DIR, resolved>/ddlcoord */
static void library_drivers(char *out, size_t len)
{
    char real[PATH_MAX];
    ck_assert_ptr_nonnull(realpath(env("DC_TEST_LIBRARY_DIR"), real));
    int n = snprintf(out, len, "%s/ddlcoord", real);
    ck_assert(n > 0 && (size_t)n < len);
}

static dc_drivers *list(const dc_config *cfg)
{
    dc_drivers *d = NULL;
    ck_assert_int_eq(dc_drivers_list(cfg, &d), DC_OK);
    ck_assert_ptr_nonnull(d);
    return d;
}

static const dc_driver_file *find(const dc_drivers *d, const char *scheme, size_t dir)
{
    for (size_t i = 0; i < d->n_files; i++)
        if (strcmp(d->files[i].scheme, scheme) == 0 && d->files[i].dir == dir) return &d->files[i];
    return NULL;
}

START_TEST(with_nothing_set_the_order_is_library_then_install_dir)
{
    unsetenv("DDLCOORD_DRIVER_PATH");
    dc_drivers *d = list(NULL);
    size_t i = 0;
#ifndef DC_TEST_STATIC
    char lib[PATH_MAX + 16];
    library_drivers(lib, sizeof lib);
    ck_assert_uint_ge(d->n_dirs, 1);
    ck_assert_str_eq(d->dirs[0].path, lib);
    ck_assert_str_eq(d->dirs[0].origin, "next to libddlcoord.so");
    ck_assert_int_eq(d->dirs[0].exists, 1);
    i = 1;
#endif
    ck_assert_uint_eq(d->n_dirs, i + 1);
    ck_assert_str_eq(d->dirs[i].path, env("DC_TEST_INSTALL_DIR"));
    ck_assert_str_eq(d->dirs[i].origin, "install directory");
    dc_drivers_free(d);
}
END_TEST

START_TEST(environment_then_driver_dir_come_first)
{
    setenv("DDLCOORD_DRIVER_PATH", "/nonexistent-a::/nonexistent-b", 1);
    dc_config *cfg = dc_config_new();
    ck_assert_ptr_nonnull(cfg);
    ck_assert_int_eq(dc_config_set(cfg, "driver_dir", "/nonexistent-c"), DC_OK);
    dc_drivers *d = list(cfg);
    const char *want[][2] = {{"/nonexistent-a", "DDLCOORD_DRIVER_PATH"},
                             {"/nonexistent-b", "DDLCOORD_DRIVER_PATH"},
                             {"/nonexistent-c", "driver_dir"}};
    ck_assert_uint_ge(d->n_dirs, 4);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_str_eq(d->dirs[i].path, want[i][0]);
        ck_assert_str_eq(d->dirs[i].origin, want[i][1]);
        ck_assert_int_eq(d->dirs[i].exists, 0);
    }
    ck_assert_str_eq(d->dirs[d->n_dirs - 1].origin, "install directory");
    dc_drivers_free(d);
    dc_config_free(cfg);
}
END_TEST

START_TEST(a_directory_is_listed_once)
{
    char both[2 * PATH_MAX];
    snprintf(both, sizeof both, "%s:%s/", env("DC_TEST_PLUGIN_DIR"), env("DC_TEST_PLUGIN_DIR"));
    setenv("DDLCOORD_DRIVER_PATH", both, 1);
    dc_drivers *d = list(NULL);
    ck_assert_str_eq(d->dirs[0].path, env("DC_TEST_PLUGIN_DIR"));
    for (size_t i = 1; i < d->n_dirs; i++)
        ck_assert_str_ne(d->dirs[i].origin, "DDLCOORD_DRIVER_PATH");
    dc_drivers_free(d);
}
END_TEST

START_TEST(plugins_are_listed_with_their_version_or_their_error)
{
    setenv("DDLCOORD_DRIVER_PATH", env("DC_TEST_PLUGIN_DIR"), 1);
    dc_drivers *d = list(NULL);
    const dc_driver_file *stub = find(d, "stub", 0), *bad = find(d, "badabi", 0),
                         *nosym = find(d, "nosym", 0);
    ck_assert_ptr_nonnull(stub);
    ck_assert_int_eq(stub->code, DC_OK);
    ck_assert_str_eq(stub->version, "test");
    ck_assert_ptr_null(stub->error);
    ck_assert_int_eq(stub->shadowed, 0);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/ddlcoord-stub.so", env("DC_TEST_PLUGIN_DIR"));
    ck_assert_str_eq(stub->path, path);
    ck_assert_ptr_nonnull(bad);
    ck_assert_int_eq(bad->code, DC_EABI);
    ck_assert_ptr_null(bad->version);
    ck_assert_ptr_nonnull(strstr(bad->error, "ABI version 99"));
    ck_assert_ptr_nonnull(nosym);
    ck_assert_int_eq(nosym->code, DC_ENODRIVER);
    /* files sorted by name within a directory */
    for (size_t i = 1; i < d->n_files; i++)
        if (d->files[i].dir == d->files[i - 1].dir)
            ck_assert_int_lt(strcmp(d->files[i - 1].scheme, d->files[i].scheme), 0);
    dc_drivers_free(d);
}
END_TEST

START_TEST(a_later_plugin_of_the_same_scheme_is_shadowed)
{
    char tmp[] = "/tmp/dc-search-XXXXXX", link[PATH_MAX], target[PATH_MAX], path[2 * PATH_MAX];
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    snprintf(link, sizeof link, "%s/ddlcoord-stub.so", tmp);
    snprintf(target, sizeof target, "%s/ddlcoord-stub.so", env("DC_TEST_PLUGIN_DIR"));
    ck_assert_int_eq(symlink(target, link), 0);
    snprintf(path, sizeof path, "%s:%s", tmp, env("DC_TEST_PLUGIN_DIR"));
    setenv("DDLCOORD_DRIVER_PATH", path, 1);
    dc_drivers *d = list(NULL);
    const dc_driver_file *first = find(d, "stub", 0), *second = find(d, "stub", 1);
    ck_assert_ptr_nonnull(first);
    ck_assert_ptr_nonnull(second);
    ck_assert_int_eq(first->shadowed, 0);
    ck_assert_int_eq(second->shadowed, 1);
    dc_drivers_free(d);
    unlink(link);
    rmdir(tmp);
}
END_TEST

/* The build tree's drivers, found next to the library with nothing set (and
 * never by a static program, whatever the install directory holds). */
START_TEST(the_build_drivers_are_found_next_to_the_library)
{
    unsetenv("DDLCOORD_DRIVER_PATH");
    dc_drivers *d = list(NULL);
    char lib[PATH_MAX + 16];
    library_drivers(lib, sizeof lib);
#ifdef DC_TEST_STATIC
    for (size_t i = 0; i < d->n_files; i++)
        ck_assert_msg(strncmp(d->files[i].path, lib, strlen(lib)) != 0,
                      "a static program found %s next to libddlcoord.so", d->files[i].path);
#else
    const char *built = getenv("DC_TEST_DRIVERS");
    ck_assert_msg(built != NULL, "DC_TEST_DRIVERS is not set (run through ctest)");
    char schemes[256];
    snprintf(schemes, sizeof schemes, "%s", built);
    size_t n = 0;
    char *save = NULL;
    for (char *s = strtok_r(schemes, " ;", &save); s; s = strtok_r(NULL, " ;", &save), n++) {
        const dc_driver_file *f = find(d, s, 0);
        ck_assert_msg(f != NULL, "driver %s not found next to libddlcoord.so", s);
        ck_assert_int_eq(f->code, DC_OK);
        ck_assert_ptr_nonnull(f->version);
    }
    /* exactly the build's drivers are there */
    size_t here = 0;
    for (size_t i = 0; i < d->n_files; i++) here += d->files[i].dir == 0;
    ck_assert_uint_eq(here, n);
#endif
    dc_drivers_free(d);
}
END_TEST

START_TEST(not_found_names_each_directory_and_both_settings)
{
    unsetenv("DDLCOORD_DRIVER_PATH");
    dc_store *s = NULL;
    ck_assert_int_eq(dc_store_open("nothere://x", &s), DC_ENODRIVER);
    const char *e = dc_last_error();
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s (install directory)", env("DC_TEST_INSTALL_DIR"));
    ck_assert_ptr_nonnull(strstr(e, want));
#ifdef DC_TEST_STATIC
    ck_assert_ptr_null(strstr(e, "next to libddlcoord.so"));
#else
    char lib[PATH_MAX];
    library_drivers(lib, sizeof lib);
    snprintf(want, sizeof want, "%s (next to libddlcoord.so)", lib);
    ck_assert_ptr_nonnull(strstr(e, want));
#endif
    ck_assert_ptr_nonnull(strstr(e, "DDLCOORD_DRIVER_PATH"));
    ck_assert_ptr_nonnull(strstr(e, "driver_dir"));
}
END_TEST

START_TEST(the_running_library_says_its_version)
{
    ck_assert_str_eq(dc_version(), DDLCOORD_VERSION);
}
END_TEST

DC_CHECK_MAIN("driver_search", "driver_search",
              with_nothing_set_the_order_is_library_then_install_dir,
              environment_then_driver_dir_come_first, a_directory_is_listed_once,
              plugins_are_listed_with_their_version_or_their_error,
              a_later_plugin_of_the_same_scheme_is_shadowed,
              the_build_drivers_are_found_next_to_the_library,
              not_found_names_each_directory_and_both_settings,
              the_running_library_says_its_version)
