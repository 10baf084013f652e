/* A plugin built for a future ABI this core does not know. */
#include <ddlcoord/driver.h>

static const dc_driver table = {.abi_version = 99, .size = sizeof(dc_driver), .name = "badabi"};

const dc_driver *dc_driver_entry(void);
const dc_driver *dc_driver_entry(void)
{
    return &table;
}
