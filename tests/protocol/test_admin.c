#include "harness.h"
Suite *suite_admin(void)
{
    return suite_create("admin");
}
