/*
 * Every mistake check-symbols.sh must reject, built into a shared library, a
 * driver plugin and an archive (tests/install/CMakeLists.txt): internal names
 * exported with and without the dc_ prefix, next to one correct public one.
 */
#include <ddlcoord/bad.h>

#ifdef BAD_PLUGIN
DC_API const void *dc_driver_entry(void);
DC_API const void *dc_driver_entry(void)
{
    return 0;
}
#else
DC_API int dc_declared(void)
{
    return 0;
}
#endif

/* Not in any header: what libddlcoord exported before DC_API. */
DC_API int mem_find(void);
DC_API int mem_find(void)
{
    return 1;
}
DC_API int dc__internal(void);
DC_API int dc__internal(void)
{
    return 2;
}
DC_API int dc_not_declared(void);
DC_API int dc_not_declared(void)
{
    return 3;
}
