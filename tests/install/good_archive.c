/* An archive check-symbols.sh must accept in static mode: one public
 * function of bad-include/ddlcoord/bad.h and internals with the dc__ and
 * dcp_ prefixes. */
#include <ddlcoord/bad.h>

int dc__helper(void);
int dcp_helper(void);
static int file_local(void)
{
    return 4;
}
int dc__helper(void)
{
    return file_local();
}
int dcp_helper(void)
{
    return 5;
}
DC_API int dc_declared(void)
{
    return dc__helper() + dcp_helper();
}
