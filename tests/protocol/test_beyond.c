#include "harness.h"
Suite *suite_beyond(void)
{
    return suite_create("beyond");
}
