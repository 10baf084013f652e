/*
 * The store conformance suite's runner. It checks every statement of the
 * store contract (docs/DESIGN.md, "The store contract") against the store named by
 * DDLCOORD_TEST_STORE (mem://…, etcd://…, redis://…, zk://…), through the public API only, so one
 * binary qualifies every backend. Each topic lives in its own file and contributes one TCase; every
 * test runs in its own forked process with its own store handle and key prefix.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    conf_uri = getenv("DDLCOORD_TEST_STORE");
    if (!conf_uri || !*conf_uri) {
        fprintf(stderr, "test_conformance: DDLCOORD_TEST_STORE is not set.\n"
                        "Set it to the store URI to check, e.g.\n"
                        "  DDLCOORD_TEST_STORE=mem://conformance ./test_conformance\n"
                        "  DDLCOORD_TEST_STORE=etcd://127.0.0.1:2379 ./test_conformance\n");
        return EXIT_FAILURE;
    }
    fprintf(stderr, "test_conformance: checking %s\n", conf_uri);

    Suite *s = suite_create("conformance");
    TCase *(*const tcases[])(void) = {
        conf_kv_tcase,      conf_snapshot_tcase, conf_txn_tcase,          conf_cas_tcase,
        conf_threads_tcase, conf_watch_tcase,    conf_watch_atomic_tcase, conf_compact_tcase,
        conf_lease_tcase,   conf_errors_tcase,   conf_model_tcase,        conf_page_tcase,
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) suite_add_tcase(s, tcases[i]());
    /* the fixture of a store that the test can reset names the command */
    const char *reset = getenv("DDLCOORD_TEST_RESET");
    if (strncmp(conf_uri, "mem:", 4) == 0) reset = "dc_mem_reset";
    if (reset && *reset) {
        suite_add_tcase(s, conf_reset_tcase());
        fprintf(stderr, "test_conformance: reset tests with '%s'\n", reset);
    } else {
        fprintf(stderr, "test_conformance: no reset command for this store (DDLCOORD_TEST_RESET):"
                        " the reset tests are not part of this run\n");
    }

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
