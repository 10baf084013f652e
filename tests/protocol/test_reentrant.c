#include "harness.h"
Suite *suite_reentrant(void)
{
    return suite_create("reentrant");
}
