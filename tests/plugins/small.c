/* A plugin whose table claims ABI 1 but is shorter than ABI 1's table. */
#include <ddlcoord/driver.h>
#include <stddef.h>

static const dc_driver table = {
    .abi_version = 1, .size = offsetof(dc_driver, txn), .name = "small"};

const dc_driver *dc_driver_entry(void);
const dc_driver *dc_driver_entry(void)
{
    return &table;
}
