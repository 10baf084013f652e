/*
 * The driver loader: scheme -> ddlcoord-<scheme>.so, searched in
 * $DDLCOORD_DRIVER_PATH, the configured driver_dir, then the install
 * directory. The plugin's table is checked before anything in it is called:
 * an ABI newer than ours, a zero version, or a table smaller than its version
 * promises are refused, so an old core never calls past the end of a table.
 * Members added after ABI 1 are optional (the core has a fallback for each),
 * and are read only through dc__drv_get_page, which checks the version.
 */
#include "internal.h"

#include <ctype.h>
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

#ifndef DDLCOORD_DRIVER_DIR
#define DDLCOORD_DRIVER_DIR "/usr/local/lib/ddlcoord"
#endif

/* Minimum table size for each ABI version (the offset past its last member). */
static size_t abi_min_size(uint32_t abi)
{
    switch (abi) {
    case 1:
        return offsetof(dc_driver, lease_revoke) + sizeof(((dc_driver *)0)->lease_revoke);
    case 2:
        return offsetof(dc_driver, get_page) + sizeof(((dc_driver *)0)->get_page);
    default:
        return (size_t)-1;
    }
}

/* Try one file. Returns DC_OK, DC_ENOTFOUND (no such file: keep looking), or
 * a final error with its detail set. */
static int try_file(const char *path, const dc_driver **out, void **dl)
{
    if (access(path, F_OK) != 0) return DC_ENOTFOUND;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) return dc__error(DC_ENODRIVER, "cannot load driver %s: %s", path, dlerror());
    dc_driver_entry_fn entry;
    *(void **)&entry = dlsym(h, DC_DRIVER_ENTRY_SYMBOL);
    if (!entry) {
        dlclose(h);
        return dc__error(DC_ENODRIVER, "driver %s has no symbol %s", path, DC_DRIVER_ENTRY_SYMBOL);
    }
    const dc_driver *d = entry();
    if (!d) {
        dlclose(h);
        return dc__error(DC_ENODRIVER, "driver %s: %s() returned NULL", path,
                         DC_DRIVER_ENTRY_SYMBOL);
    }
    if (d->abi_version == 0 || d->abi_version > DC_DRIVER_ABI) {
        uint32_t v = d->abi_version;
        dlclose(h);
        return dc__error(DC_EABI, "driver %s has ABI version %u; this library supports 1..%d", path,
                         v, DC_DRIVER_ABI);
    }
    if (d->size < abi_min_size(d->abi_version)) {
        uint32_t v = d->abi_version, sz = d->size;
        dlclose(h);
        return dc__error(DC_EABI, "driver %s: table of %u bytes is too small for ABI %u", path, sz,
                         v);
    }
    if (!d->open || !d->close || !d->get || !d->txn || !d->compact || !d->watch_start ||
        !d->watch_stop || !d->lease_grant || !d->lease_keepalive || !d->lease_revoke) {
        dlclose(h);
        return dc__error(DC_EABI, "driver %s: table has a NULL member", path);
    }
    *out = d;
    *dl = h;
    return DC_OK;
}

dc_get_page_fn dc__drv_get_page(const dc_driver *d)
{
    return d->abi_version >= 2 && d->size >= abi_min_size(2) ? d->get_page : NULL;
}

int dc__load_driver(const char *scheme, const dc_config *cfg, const dc_driver **drv, void **dl)
{
    char base[32];
    size_t n = strcspn(scheme, "+");
    if (n == 0 || n >= sizeof base) return dc__error(DC_EINVAL, "bad scheme '%s'", scheme);
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)scheme[i]) && scheme[i] != '-' && scheme[i] != '_')
            return dc__error(DC_EINVAL, "bad scheme '%s'", scheme);
        base[i] = scheme[i];
    }
    base[n] = '\0';

    dc_buf dirs = DC_BUF_INIT, tried = DC_BUF_INIT;
    const char *env = getenv("DDLCOORD_DRIVER_PATH");
    const char *cdir = dc_config_get(cfg, "driver_dir");
    if ((env && *env && (dc_buf_puts(&dirs, env) || dc_buf_puts(&dirs, ":"))) ||
        (cdir && *cdir && (dc_buf_puts(&dirs, cdir) || dc_buf_puts(&dirs, ":"))) ||
        dc_buf_puts(&dirs, DDLCOORD_DRIVER_DIR)) {
        dc_buf_free(&dirs);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    int rc = DC_ENOTFOUND;
    char *save = NULL;
    for (char *d = strtok_r(dirs.p, ":", &save); d && rc == DC_ENOTFOUND;
         d = strtok_r(NULL, ":", &save)) {
        char path[4096];
        snprintf(path, sizeof path, "%s/ddlcoord-%s.so", d, base);
        rc = try_file(path, drv, dl);
        if (rc == DC_ENOTFOUND) dc_buf_printf(&tried, "%s%s", tried.len ? ", " : "", path);
    }
    if (rc == DC_ENOTFOUND)
        rc = dc__error(DC_ENODRIVER, "no driver for scheme '%s': tried %s", scheme,
                       tried.p ? tried.p : "nothing");
    dc_buf_free(&dirs);
    dc_buf_free(&tried);
    return rc;
}
