/* A plugin whose table claims ABI 2 but ends where ABI 1's table ends. */
#include <ddlcoord/driver.h>
#include <stddef.h>

static const dc_driver table = {
    .abi_version = 2, .size = offsetof(dc_driver, get_page), .name = "small2"};

const dc_driver *dc_driver_entry(void);
const dc_driver *dc_driver_entry(void)
{
    return &table;
}
