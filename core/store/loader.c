/*
 * The driver loader: scheme -> ddlcoord-<scheme>.so, searched in
 * $DDLCOORD_DRIVER_PATH, the configured driver_dir, the directory next to
 * libddlcoord.so, then the install directory (docs/DESIGN.md, "Finding the
 * driver plugins"). The directory next to the library makes an installed tree
 * relocatable and lets a build tree find its own drivers with nothing set.
 * The plugin's table is checked before anything in it is called: an ABI newer
 * than ours, a zero version, or a table smaller than its version promises are
 * refused, so an old core never calls past the end of a table.
 * Members added after ABI 1 are optional (the core has a fallback for each),
 * and are read only through dc__drv_get_page, which checks the version.
 */
#include "internal.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

#ifndef DDLCOORD_DRIVER_DIR
#define DDLCOORD_DRIVER_DIR "/usr/local/lib/ddlcoord"
#endif

#define ORIGIN_ENV     "DDLCOORD_DRIVER_PATH"
#define ORIGIN_CONFIG  "driver_dir"
#define ORIGIN_LIBRARY "next to libddlcoord.so"
#define ORIGIN_INSTALL "install directory"

const char *dc_version(void)
{
    return DDLCOORD_VERSION;
}

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

/* ------------------------------------------------------------ search path */

typedef struct dir_list {
    dc_driver_dir *v;
    size_t n, cap;
} dir_list;

static void dirs_free(dc_driver_dir *v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i].path);
    free(v);
}

/* Two spellings of one directory (a symlink, a trailing slash) count as one. */
static int same_dir(const char *a, const char *b)
{
    if (strcmp(a, b) == 0) return 1;
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

/* Append path[0..len) unless it is empty or already listed. 0 or -1 (no memory). */
static int dirs_add(dir_list *l, const char *path, size_t len, const char *origin)
{
    if (len == 0) return 0;
    char *p = strndup(path, len);
    if (!p) return -1;
    for (size_t i = 0; i < l->n; i++) {
        if (same_dir(l->v[i].path, p)) {
            free(p);
            return 0;
        }
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        dc_driver_dir *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            free(p);
            return -1;
        }
        l->v = v;
        l->cap = cap;
    }
    struct stat st;
    l->v[l->n++] = (dc_driver_dir){p, origin, stat(p, &st) == 0 && S_ISDIR(st.st_mode)};
    return 0;
}

/* Each directory of a colon-separated list. */
static int dirs_add_list(dir_list *l, const char *list, const char *origin)
{
    while (list && *list) {
        size_t n = strcspn(list, ":");
        if (dirs_add(l, list, n, origin)) return -1;
        list += n;
        if (*list == ':') list++;
    }
    return 0;
}

/* <directory of libddlcoord.so>/ddlcoord into out, or "" when this copy of
 * the core is linked into the program from libddlcoord.a (the file dladdr
 * names would be the program) or the library's file cannot be named. */
static void library_dir(char *out, size_t len)
{
    out[0] = '\0';
    Dl_info info;
    if (!dc__shared_library || !dladdr(&dc__shared_library, &info) || !info.dli_fname) return;
    const char *slash = strrchr(info.dli_fname, '/');
    char dir[PATH_MAX], real[PATH_MAX];
    size_t n = slash ? (size_t)(slash - info.dli_fname) : 0;
    if (n == 0 || n >= sizeof dir) return;
    memcpy(dir, info.dli_fname, n);
    dir[n] = '\0';
    int w = snprintf(out, len, "%s/ddlcoord", realpath(dir, real) ? real : dir);
    if (w < 0 || (size_t)w >= len) out[0] = '\0';
}

/* The search order (see version.h). DC_OK or DC_ENOMEM. */
static int search_dirs(const dc_config *cfg, dc_driver_dir **out, size_t *n)
{
    dir_list l = {NULL, 0, 0};
    char lib[PATH_MAX];
    library_dir(lib, sizeof lib);
    if (dirs_add_list(&l, getenv("DDLCOORD_DRIVER_PATH"), ORIGIN_ENV) ||
        dirs_add_list(&l, cfg ? dc_config_get(cfg, "driver_dir") : NULL, ORIGIN_CONFIG) ||
        dirs_add(&l, lib, strlen(lib), ORIGIN_LIBRARY) ||
        dirs_add(&l, DDLCOORD_DRIVER_DIR, strlen(DDLCOORD_DRIVER_DIR), ORIGIN_INSTALL)) {
        dirs_free(l.v, l.n);
        return dc__nomem(NULL);
    }
    *out = l.v;
    *n = l.n;
    return DC_OK;
}

/* ------------------------------------------------------------ loading */

static int check_scheme(const char *scheme, char *base, size_t len)
{
    size_t n = strcspn(scheme, "+");
    if (n == 0 || n >= len) return dc__error(DC_EINVAL, "bad scheme '%s'", scheme);
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)scheme[i]) && scheme[i] != '-' && scheme[i] != '_')
            return dc__error(DC_EINVAL, "bad scheme '%s'", scheme);
        base[i] = scheme[i];
    }
    base[n] = '\0';
    return DC_OK;
}

int dc__load_driver(const char *scheme, const dc_config *cfg, const dc_driver **drv, void **dl)
{
    char base[32];
    int rc = check_scheme(scheme, base, sizeof base);
    if (rc != DC_OK) return rc;
    dc_driver_dir *dirs;
    size_t n;
    if ((rc = search_dirs(cfg, &dirs, &n)) != DC_OK) return rc;
    rc = DC_ENOTFOUND;
    for (size_t i = 0; i < n && rc == DC_ENOTFOUND; i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/ddlcoord-%s.so", dirs[i].path, base);
        rc = try_file(path, drv, dl);
    }
    if (rc == DC_ENOTFOUND) {
        /* Every directory tried, and the two ways to name another one. */
        dc_buf tried = DC_BUF_INIT;
        int oom = 0;
        for (size_t i = 0; i < n; i++)
            oom |= dc__buf_printf(&tried, "%s%s (%s)", i ? ", " : "", dirs[i].path, dirs[i].origin);
        rc = dc__error(DC_ENODRIVER,
                       "no driver plugin for scheme '%s': ddlcoord-%s.so is not in %s; name its "
                       "directory in DDLCOORD_DRIVER_PATH or the driver_dir setting",
                       scheme, base, oom || !tried.p ? "any directory" : tried.p);
        dc__buf_free(&tried);
    }
    dirs_free(dirs, n);
    return rc;
}

/* ------------------------------------------------------------ listing */

typedef struct file_list {
    dc_driver_file *v;
    size_t n, cap;
} file_list;

static void file_clear(dc_driver_file *f)
{
    free(f->scheme);
    free(f->path);
    free(f->version);
    free(f->error);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The plugin file names of one directory, sorted. DC_OK (none when the
 * directory cannot be read) or DC_ENOMEM. */
static int plugin_names(const char *dir, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return DC_OK;
    char **v = NULL;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= strlen("ddlcoord-.so") || strncmp(e->d_name, "ddlcoord-", 9) != 0 ||
            strcmp(e->d_name + len - 3, ".so") != 0)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            char **nv = realloc(v, cap * sizeof *nv);
            if (!nv) goto oom;
            v = nv;
        }
        if (!(v[*n] = strdup(e->d_name))) goto oom;
        (*n)++;
    }
    closedir(d);
    if (*n) qsort(v, *n, sizeof *v, name_cmp);
    *out = v;
    return DC_OK;
oom:
    closedir(d);
    for (size_t i = 0; i < *n; i++) free(v[i]);
    free(v);
    *n = 0;
    return DC_ENOMEM;
}

/* Load one file to read its version, then unload it. */
static int probe(dc_driver_file *f)
{
    const dc_driver *d;
    void *h;
    f->code = try_file(f->path, &d, &h);
    if (f->code == DC_ENOTFOUND) { /* gone since the directory was read */
        f->code = DC_ENODRIVER;
        return (f->error = strdup("the file disappeared")) ? DC_OK : DC_ENOMEM;
    }
    if (f->code != DC_OK) return (f->error = strdup(dc_last_error())) ? DC_OK : DC_ENOMEM;
    f->version = strdup(d->version ? d->version : "");
    dlclose(h);
    return f->version ? DC_OK : DC_ENOMEM;
}

static int add_file(file_list *l, const dc_drivers *out, size_t dir, const char *name)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        dc_driver_file *v = realloc(l->v, cap * sizeof *v);
        if (!v) return DC_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    dc_driver_file *f = &l->v[l->n];
    *f = (dc_driver_file){0};
    size_t slen = strlen(name) - strlen("ddlcoord-") - strlen(".so");
    f->scheme = strndup(name + strlen("ddlcoord-"), slen);
    f->dir = dir;
    if (f->scheme) {
        size_t plen = strlen(out->dirs[dir].path) + 1 + strlen(name) + 1;
        if ((f->path = malloc(plen))) snprintf(f->path, plen, "%s/%s", out->dirs[dir].path, name);
    }
    if (!f->scheme || !f->path || probe(f) != DC_OK) {
        file_clear(f);
        return DC_ENOMEM;
    }
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].scheme, f->scheme) == 0) f->shadowed = 1;
    l->n++;
    return DC_OK;
}

int dc_drivers_list(const dc_config *cfg, dc_drivers **out)
{
    *out = NULL;
    dc_drivers *r = calloc(1, sizeof *r);
    if (!r) return dc__nomem(NULL);
    int rc = search_dirs(cfg, &r->dirs, &r->n_dirs);
    file_list files = {NULL, 0, 0};
    for (size_t i = 0; i < r->n_dirs && rc == DC_OK; i++) {
        char **names;
        size_t n;
        rc = plugin_names(r->dirs[i].path, &names, &n);
        for (size_t j = 0; j < n; j++) {
            if (rc == DC_OK) rc = add_file(&files, r, i, names[j]);
            free(names[j]);
        }
        free(names);
    }
    r->files = files.v;
    r->n_files = files.n;
    if (rc != DC_OK) {
        dc_drivers_free(r);
        return dc__nomem(NULL);
    }
    *out = r;
    return DC_OK;
}

void dc_drivers_free(dc_drivers *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n_files; i++) file_clear(&d->files[i]);
    free(d->files);
    dirs_free(d->dirs, d->n_dirs);
    free(d);
}
