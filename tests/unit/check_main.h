/*
 * The main() every unit test file shares: one suite with one test case that
 * holds the file's tests, run by check in its default (forking) mode, so a
 * crash fails one test instead of the file; the exit status is the verdict
 * ctest reads. A test file ends with
 *
 *   DC_CHECK_MAIN("uri", "uri", scheme_hosts_and_ports, malformed_uris_are_rejected)
 *
 * A header rather than a library so each test stays one source file, which is
 * how tests/CMakeLists.txt builds them.
 */
#ifndef DC_CHECK_MAIN_H
#define DC_CHECK_MAIN_H

#include <check.h>
#include <stddef.h>
#include <stdlib.h>

static inline int dc_check_run(const char *suite, const char *tcase, const TTest *const *tests,
                               size_t n)
{
    Suite *s = suite_create(suite);
    TCase *tc = tcase_create(tcase);
    for (size_t i = 0; i < n; i++) tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define DC_CHECK_MAIN(suite, tcase, ...)                                          \
    int main(void)                                                                \
    {                                                                             \
        const TTest *const tests[] = {__VA_ARGS__};                               \
        return dc_check_run(suite, tcase, tests, sizeof tests / sizeof tests[0]); \
    }

#endif
