/*
 * Which library this is, and which driver plugins it finds: what
 * `ddlcoord version` prints, for a user to see what a dc_store_open of an
 * etcd://, redis:// or zk:// URI would load.
 */
#ifndef DDLCOORD_VERSION_H
#define DDLCOORD_VERSION_H

#include "export.h"

#include <stddef.h>

#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library that is running ("0.1.0"), which may differ from
 * DDLCOORD_VERSION, the version of the headers a program was compiled with.
 * A static string. Thread-safe; never blocks. */
DC_API const char *dc_version(void);

/* One directory of the driver search path, in the order dc_store_open
 * searches them:
 *   1. each directory of $DDLCOORD_DRIVER_PATH (colon-separated);
 *   2. each directory of the configuration's "driver_dir" (colon-separated);
 *   3. <directory of libddlcoord.so>/ddlcoord, when the program uses the
 *      shared library (not with libddlcoord.a): an installed tree can move,
 *      and a build tree finds its own drivers there;
 *   4. the install directory compiled into the library.
 * A directory already listed is not listed again. */
typedef struct dc_driver_dir {
    char *path;         /* as given, or absolute for 3 and 4 */
    const char *origin; /* "DDLCOORD_DRIVER_PATH", "driver_dir", "next to libddlcoord.so"
                           or "install directory" (static strings) */
    int exists;         /* 1 if it is a directory that can be read */
} dc_driver_dir;

/* One plugin file (ddlcoord-<scheme>.so) found in a search directory. */
typedef struct dc_driver_file {
    char *scheme;  /* from the file name */
    char *path;    /* dir + "/ddlcoord-<scheme>.so" */
    size_t dir;    /* index of its directory in dc_drivers.dirs */
    int code;      /* DC_OK when it loads and its table is valid, else the DC_E… code */
    char *version; /* the plugin's own version string (DC_OK only), else NULL */
    char *error;   /* why it does not load (code != DC_OK), else NULL */
    int shadowed;  /* 1 if a file for the same scheme comes earlier in the search
                      order: dc_store_open loads that one, not this one */
} dc_driver_file;

typedef struct dc_drivers {
    dc_driver_dir *dirs; /* the search order */
    size_t n_dirs;
    dc_driver_file *files; /* by directory in search order, then by name */
    size_t n_files;
} dc_drivers;

/* List the search directories and every plugin in them. Each plugin is loaded
 * (dlopen) to read and check its table, then unloaded; a plugin that fails to
 * load is listed with its error, not an error of the call. cfg may be NULL
 * (no driver_dir). On DC_OK *out is the caller's, freed with dc_drivers_free.
 * Errors: DC_ENOMEM (*out is then NULL). Thread-safe; blocks while it reads
 * the directories and loads the plugins. */
DC_API int dc_drivers_list(const dc_config *cfg, dc_drivers **out);

/* Free a listing. NULL is a no-op. */
DC_API void dc_drivers_free(dc_drivers *drivers);

#ifdef __cplusplus
}
#endif
#endif
