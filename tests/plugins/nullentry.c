/* A plugin whose entry point returns no table. */
#include <ddlcoord/driver.h>

const dc_driver *dc_driver_entry(void);
const dc_driver *dc_driver_entry(void)
{
    return 0;
}
