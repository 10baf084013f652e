/*
 * dc_config: a small set of string options. Few keys are ever set, so an
 * array with linear lookup is simpler and faster than a hash table here.
 * INI files are parsed with inih (Debian's libinih).
 */
#include "internal.h"

#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>

struct dc_config {
    int n, cap;
    char **keys;
    char **values;
};

dc_config *dc_config_new(void)
{
    return calloc(1, sizeof(dc_config));
}

void dc_config_free(dc_config *cfg)
{
    if (!cfg) return;
    for (int i = 0; i < cfg->n; i++) {
        free(cfg->keys[i]);
        free(cfg->values[i]);
    }
    free(cfg->keys);
    free(cfg->values);
    free(cfg);
}

static int find(const dc_config *cfg, const char *key)
{
    for (int i = 0; i < cfg->n; i++)
        if (strcmp(cfg->keys[i], key) == 0) return i;
    return -1;
}

int dc_config_set(dc_config *cfg, const char *key, const char *value)
{
    if (!cfg || !key || !*key) return dc__error(DC_EINVAL, "config: empty key");
    int i = find(cfg, key);
    if (!value) {
        if (i >= 0) {
            free(cfg->keys[i]);
            free(cfg->values[i]);
            cfg->n--;
            cfg->keys[i] = cfg->keys[cfg->n];
            cfg->values[i] = cfg->values[cfg->n];
        }
        return DC_OK;
    }
    char *v = strdup(value);
    if (!v) return dc__error(DC_ENOMEM, "config: out of memory");
    if (i >= 0) {
        free(cfg->values[i]);
        cfg->values[i] = v;
        return DC_OK;
    }
    if (cfg->n == cfg->cap) {
        int cap = cfg->cap ? cfg->cap * 2 : 8;
        char **k = realloc(cfg->keys, (size_t)cap * sizeof *k);
        if (k) cfg->keys = k;
        char **vv = k ? realloc(cfg->values, (size_t)cap * sizeof *vv) : NULL;
        if (!vv) {
            free(v);
            return dc__error(DC_ENOMEM, "config: out of memory");
        }
        cfg->values = vv;
        cfg->cap = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(v);
        return dc__error(DC_ENOMEM, "config: out of memory");
    }
    cfg->keys[cfg->n] = k;
    cfg->values[cfg->n] = v;
    cfg->n++;
    return DC_OK;
}

const char *dc_config_get(const dc_config *cfg, const char *key)
{
    if (!cfg || !key) return NULL;
    int i = find(cfg, key);
    return i >= 0 ? cfg->values[i] : NULL;
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
    const char *v = dc_config_get(cfg, key);
    if (!v) return DC_OK;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    /* strtoll skips leading blanks; a value is digits with an optional sign */
    if (errno || end == v || *end ||
        !(v[0] == '-' || v[0] == '+' || (v[0] >= '0' && v[0] <= '9')) || n < min || n > max)
        return dc__error(DC_EINVAL, "config: %s=%.64s: expected an integer in [%lld, %lld]", key, v,
                         (long long)min, (long long)max);
    *out = n;
    return DC_OK;
}

dc_config *dc_config_dup(const dc_config *cfg)
{
    dc_config *c = dc_config_new();
    if (!c || !cfg) return c;
    for (int i = 0; i < cfg->n; i++)
        if (dc_config_set(c, cfg->keys[i], cfg->values[i]) != DC_OK) {
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
    if (key) *key = cfg->keys[i];
    if (value) *value = cfg->values[i];
    return DC_OK;
}

struct ini_ctx {
    dc_config *cfg;
    int rc;
};

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *ctx = user;
    char key[256];
    if (!section[0] || strcmp(section, "store") == 0 || strcmp(section, "ddlcoord") == 0)
        snprintf(key, sizeof key, "%s", name);
    else
        snprintf(key, sizeof key, "%s.%s", section, name);
    ctx->rc = dc_config_set(ctx->cfg, key, value);
    return ctx->rc == DC_OK;
}

int dc_config_load_file(dc_config *cfg, const char *path)
{
    if (!cfg || !path) return dc__error(DC_EINVAL, "config: no file");
    struct ini_ctx ctx = {cfg, DC_OK};
    int rc = ini_parse(path, on_ini, &ctx);
    if (rc == 0) return DC_OK;
    if (rc == -1)
        return dc__error(DC_ENOTFOUND, "config: cannot open %s: %s", path, strerror(errno));
    if (rc == -2 || ctx.rc == DC_ENOMEM)
        return dc__error(DC_ENOMEM, "config: out of memory reading %s", path);
    return dc__error(DC_EINVAL, "config: %s:%d: syntax error", path, rc);
}
