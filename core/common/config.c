/*
 * dc_config: a small set of string options. Few keys are ever set, so an
 * array with linear lookup is simpler and faster than a hash table here.
 * INI files are parsed with inih (Debian's libinih).
 *
 * Each entry remembers where it came from (an INI file and line, the store
 * URI, or code) so that an error can point at it, and whether a store has
 * read it: after a driver has opened, the core reports any key that neither
 * it nor the driver read (a typo, or an option of another backend) as
 * DC_EINVAL, instead of ignoring it in silence (dc__config_unread).
 */
#include "internal.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char *key;
    char *value;
    char *origin;    /* "file.ini:7", "the store URI", or NULL (set by code) */
    atomic_int used; /* read by the core or a driver */
} entry;

struct dc_config {
    int n, cap;
    entry *e;
};

dc_config *dc_config_new(void)
{
    return calloc(1, sizeof(dc_config));
}

static void entry_clear(entry *e)
{
    free(e->key);
    free(e->value);
    free(e->origin);
}

void dc_config_free(dc_config *cfg)
{
    if (!cfg) return;
    for (int i = 0; i < cfg->n; i++) entry_clear(&cfg->e[i]);
    free(cfg->e);
    free(cfg);
}

static int find(const dc_config *cfg, const char *key)
{
    for (int i = 0; i < cfg->n; i++)
        if (strcmp(cfg->e[i].key, key) == 0) return i;
    return -1;
}

/* Set key to value from origin (copied; NULL = code). */
static int set_from(dc_config *cfg, const char *key, const char *value, const char *origin)
{
    if (!cfg || !key || !*key) return dc__error(DC_EINVAL, "config: empty key");
    int i = find(cfg, key);
    if (!value) {
        if (i >= 0) {
            entry_clear(&cfg->e[i]);
            cfg->n--;
            if (i != cfg->n) {
                cfg->e[i].key = cfg->e[cfg->n].key;
                cfg->e[i].value = cfg->e[cfg->n].value;
                cfg->e[i].origin = cfg->e[cfg->n].origin;
                atomic_store(&cfg->e[i].used, atomic_load(&cfg->e[cfg->n].used));
            }
        }
        return DC_OK;
    }
    char *v = strdup(value), *o = origin ? strdup(origin) : NULL;
    if (!v || (origin && !o)) {
        free(v);
        free(o);
        return dc__nomem("config");
    }
    if (i >= 0) {
        free(cfg->e[i].value);
        free(cfg->e[i].origin);
        cfg->e[i].value = v;
        cfg->e[i].origin = o;
        return DC_OK;
    }
    if (cfg->n == cfg->cap) {
        int cap = cfg->cap ? cfg->cap * 2 : 8;
        entry *e = realloc(cfg->e, (size_t)cap * sizeof *e);
        if (!e) {
            free(v);
            free(o);
            return dc__nomem("config");
        }
        cfg->e = e;
        cfg->cap = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(v);
        free(o);
        return dc__nomem("config");
    }
    entry *e = &cfg->e[cfg->n++];
    e->key = k;
    e->value = v;
    e->origin = o;
    atomic_init(&e->used, 0);
    return DC_OK;
}

int dc_config_set(dc_config *cfg, const char *key, const char *value)
{
    return set_from(cfg, key, value, NULL);
}

int dc__config_set_from(dc_config *cfg, const char *key, const char *value, const char *origin)
{
    return set_from(cfg, key, value, origin);
}

const char *dc_config_get(const dc_config *cfg, const char *key)
{
    if (!cfg || !key) return NULL;
    int i = find(cfg, key);
    return i >= 0 ? cfg->e[i].value : NULL;
}

void dc__config_mark(const dc_config *cfg, const char *key)
{
    if (!cfg || !key) return;
    int i = find(cfg, key);
    /* the entry's flag is atomic: a const config may still be marked */
    if (i >= 0) atomic_store_explicit(&((dc_config *)cfg)->e[i].used, 1, memory_order_relaxed);
}

/* " (file.ini:7)" or "" */
static const char *where(const entry *e, char *buf, size_t len)
{
    buf[0] = '\0';
    if (e && e->origin) snprintf(buf, len, " (%s)", e->origin);
    return buf;
}

int64_t dc_config_get_int(const dc_config *cfg, const char *key, int64_t def)
{
    const char *v = dc_config_get(cfg, key);
    if (!v || !*v) return def;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end) {
        dc_log(DC_LOG_WARN, "config", "%s=%s is not an integer; using %lld", key, v,
               (long long)def);
        return def;
    }
    return n;
}

int dc_config_int(const dc_config *cfg, const char *key, int64_t def, int64_t min, int64_t max,
                  int64_t *out)
{
    if (!out || !key) return dc__error(DC_EINVAL, "dc_config_int: NULL argument");
    *out = def;
    int i = cfg ? find(cfg, key) : -1;
    if (i < 0) return DC_OK;
    const char *v = cfg->e[i].value;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    /* strtoll skips leading blanks; a value is digits with an optional sign */
    if (errno || end == v || *end ||
        !(v[0] == '-' || v[0] == '+' || (v[0] >= '0' && v[0] <= '9')) || n < min || n > max) {
        char at[300];
        return dc__error(DC_EINVAL, "config: %s=%.64s%s: expected an integer in [%lld, %lld]", key,
                         v, where(&cfg->e[i], at, sizeof at), (long long)min, (long long)max);
    }
    *out = n;
    return DC_OK;
}

int dc__config_unread(const dc_config *cfg, const char *scheme, const char *const *known)
{
    size_t sl = strlen(scheme);
    for (int i = 0; cfg && i < cfg->n; i++) {
        const entry *e = &cfg->e[i];
        if (atomic_load(&e->used)) continue;
        int core = 0;
        for (size_t k = 0; known[k] && !core; k++) core = strcmp(e->key, known[k]) == 0;
        if (core) continue;
        const char *dot = strchr(e->key, '.');
        /* "<section>.key" of another section (another backend, the command's
         * [master]…) is not the store's business */
        if (dot && !((size_t)(dot - e->key) == sl && strncmp(e->key, scheme, sl) == 0)) continue;
        char at[300];
        if (e->origin && strcmp(e->origin, "the store URI") == 0)
            return dc__error(DC_EINVAL, "store uri: unknown parameter '%.64s' for %s://", e->key,
                             scheme);
        return dc__error(DC_EINVAL,
                         "config: unknown key '%.64s'%s for %s:// (its driver reads "
                         "no such option)",
                         e->key, where(e, at, sizeof at), scheme);
    }
    return DC_OK;
}

dc_config *dc_config_dup(const dc_config *cfg)
{
    dc_config *c = dc_config_new();
    if (!c || !cfg) return c;
    for (int i = 0; i < cfg->n; i++)
        if (set_from(c, cfg->e[i].key, cfg->e[i].value, cfg->e[i].origin) != DC_OK) {
            dc_config_free(c);
            return NULL;
        }
    return c;
}

int dc_config_count(const dc_config *cfg)
{
    return cfg ? cfg->n : 0;
}

int dc_config_entry(const dc_config *cfg, int i, const char **key, const char **value)
{
    if (!cfg || i < 0 || i >= cfg->n) return DC_EINVAL;
    if (key) *key = cfg->e[i].key;
    if (value) *value = cfg->e[i].value;
    return DC_OK;
}

/* inih hands the lines over in file order but without their numbers: the
 * reader finds each key's line by scanning on from the previous one. */
struct ini_ctx {
    dc_config *cfg;
    int rc;
    const char *path;
    const char *text; /* the file, NUL-terminated, or NULL */
    const char *pos;  /* where the previous key's line ended */
    int line;         /* the number of the line at pos */
};

/* The number of the next line from ctx->pos that sets name, or 0. */
static int line_of(struct ini_ctx *ctx, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = ctx->pos; p && *p;) {
        const char *eol = strchr(p, '\n');
        int line = ctx->line;
        const char *s = p;
        while (*s == ' ' || *s == '\t') s++;
        const char *after = s + nl;
        while (*after == ' ' || *after == '\t') after++;
        ctx->line++;
        p = eol ? eol + 1 : p + strlen(p);
        if (strncmp(s, name, nl) == 0 && (*after == '=' || *after == ':')) {
            ctx->pos = p;
            return line;
        }
    }
    return 0;
}

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *ctx = user;
    char key[256], origin[4200];
    if (!section[0] || strcmp(section, "store") == 0 || strcmp(section, "ddlcoord") == 0)
        snprintf(key, sizeof key, "%s", name);
    else
        snprintf(key, sizeof key, "%s.%s", section, name);
    int line = line_of(ctx, name);
    if (line)
        snprintf(origin, sizeof origin, "%s:%d", ctx->path, line);
    else
        snprintf(origin, sizeof origin, "%s", ctx->path);
    ctx->rc = set_from(ctx->cfg, key, value, origin);
    return ctx->rc == DC_OK;
}

/* The whole file, NUL-terminated (malloc'd), or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *text = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            size_t nc = cap ? cap * 2 : 8192;
            while (nc < len + n + 1) nc *= 2;
            char *t = realloc(text, nc);
            if (!t) {
                free(text);
                fclose(f);
                return NULL;
            }
            text = t;
            cap = nc;
        }
        memcpy(text + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!text)
        text = calloc(1, 1);
    else
        text[len] = '\0';
    return text;
}

int dc_config_load_file(dc_config *cfg, const char *path)
{
    if (!cfg || !path) return dc__error(DC_EINVAL, "config: no file");
    char *text = slurp(path); /* for line numbers only: inih reads the file itself */
    struct ini_ctx ctx = {cfg, DC_OK, path, text, text, 1};
    int rc = ini_parse(path, on_ini, &ctx);
    free(text);
    if (rc == 0) return DC_OK;
    if (rc == -1)
        return dc__error(DC_ENOTFOUND, "config: cannot open %s: %s", path, strerror(errno));
    if (rc == -2 || ctx.rc == DC_ENOMEM)
        return dc__error(DC_ENOMEM, "config: out of memory reading %s", path);
    return dc__error(DC_EINVAL, "config: %s:%d: syntax error (expected key = value or [section])",
                     path, rc);
}
