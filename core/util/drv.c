/*
 * The driver helper layer (drv.h): option lookup, strict integers, host
 * lists. docs/DESIGN.md, "Driver helpers".
 */
#include "drv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *dc_drv_opt(const dc_host *h, const dc_config *cfg, const char *scheme, const char *key)
{
    char k[128];
    int n = snprintf(k, sizeof k, "%s.%s", scheme, key);
    const char *v = n > 0 && (size_t)n < sizeof k ? h->config_get(cfg, k) : NULL;
    return v ? v : h->config_get(cfg, key);
}

int dc_drv_opt_int(const dc_host *h, const dc_config *cfg, const char *scheme, const char *key,
                   int64_t def, int64_t lo, int64_t hi, int64_t *out, dc_drv_err *err)
{
    const char *v = dc_drv_opt(h, cfg, scheme, key);
    *out = def;
    if (!v) return DC_OK;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    /* strtoll skips leading blanks and takes a sign: "+5" and " 5" are not
     * what a user means by a number in a config file, so only digits and an
     * optional '-' are accepted */
    int digits = (v[0] >= '0' && v[0] <= '9') || (v[0] == '-' && v[1] >= '0' && v[1] <= '9');
    if (!digits || errno || *end || x < lo || x > hi)
        return DC_DRV_ERR(err, DC_EINVAL, "%s: %s=%.64s: expected an integer in [%lld, %lld]",
                          scheme, key, v, (long long)lo, (long long)hi);
    *out = x;
    return DC_OK;
}

int dc_drv_host_list(dc_buf *out, const dc_uri *u, int default_port, const char *sep)
{
    for (size_t i = 0; i < u->n_hosts; i++) {
        const char *host = u->hosts[i].host;
        int v6 = strchr(host, ':') != NULL;
        if (dc_buf_printf(out, "%s%s%s%s:%d", i ? sep : "", v6 ? "[" : "", host, v6 ? "]" : "",
                          u->hosts[i].port ? u->hosts[i].port : default_port))
            return -1;
    }
    return 0;
}
