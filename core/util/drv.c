/*
 * The driver helper layer (drv.h): option lookup, strict integers, host
 * lists. docs/DESIGN.md, "Driver helpers".
 */
#include "drv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *dc__drv_opt(const dc_host *h, const dc_config *cfg, const char *scheme, const char *key)
{
    char k[128];
    int n = snprintf(k, sizeof k, "%s.%s", scheme, key);
    const char *v = n > 0 && (size_t)n < sizeof k ? h->config_get(cfg, k) : NULL;
    return v ? v : h->config_get(cfg, key);
}

int dc__drv_opt_int(const dc_host *h, const dc_config *cfg, const char *scheme, const char *key,
                    int64_t def, int64_t lo, int64_t hi, int64_t *out, dc_drv_err *err)
{
    char k[128];
    int n = snprintf(k, sizeof k, "%s.%s", scheme, key);
    const char *use = n > 0 && (size_t)n < sizeof k && h->config_get(cfg, k) ? k : key;
    *out = def;
    /* the core's own check (ABI 2), so that every driver has its strictness
     * and its message (which also says where the value came from) */
    if (h->abi_version >= 2 && h->size >= sizeof(dc_host) && h->config_int) {
        char why[sizeof err->msg - 16];
        if (h->config_int(cfg, use, def, lo, hi, out, why, sizeof why) == DC_OK) return DC_OK;
        return DC_DRV_ERR(err, DC_EINVAL, "%s: %s", scheme, why);
    }
    /* an older core: the same rule here (dc_config_int in core/common/config.c) */
    const char *v = h->config_get(cfg, use);
    if (!v) return DC_OK;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    /* strtoll skips leading blanks; a value is digits with an optional sign */
    int digits = (v[0] == '-' || v[0] == '+' || (v[0] >= '0' && v[0] <= '9'));
    if (!digits || errno || end == v || *end || x < lo || x > hi)
        return DC_DRV_ERR(err, DC_EINVAL,
                          "%s: config: %s=%.64s: expected an integer in [%lld, %lld]", scheme, use,
                          v, (long long)lo, (long long)hi);
    *out = x;
    return DC_OK;
}

int dc__drv_host_list(dc_buf *out, const dc_uri *u, int default_port, const char *sep)
{
    for (size_t i = 0; i < u->n_hosts; i++) {
        const char *host = u->hosts[i].host;
        int v6 = strchr(host, ':') != NULL;
        if (dc__buf_printf(out, "%s%s%s%s:%d", i ? sep : "", v6 ? "[" : "", host, v6 ? "]" : "",
                           u->hosts[i].port ? u->hosts[i].port : default_port))
            return -1;
    }
    return 0;
}
