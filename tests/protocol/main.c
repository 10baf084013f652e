/*
 * The protocol suite: DM's ten steps (docs/DESIGN.md, "The protocol"), its re-entrancy table, and
 * the places ddlcoord goes beyond DM, run on the store named by DDLCOORD_TEST_STORE (mem://, etcd,
 * Redis or ZooKeeper).
 */
#include <stdlib.h>

#include "harness.h"

int main(void)
{
    SRunner *sr = srunner_create(suite_flow());
    srunner_add_suite(sr, suite_reentrant());
    srunner_add_suite(sr, suite_beyond());
    srunner_add_suite(sr, suite_admin());
    srunner_add_suite(sr, suite_issue12());
    srunner_add_suite(sr, suite_intent());
    srunner_add_suite(sr, suite_reset());
    srunner_add_suite(sr, suite_findings());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
