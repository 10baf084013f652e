/*
 * The driver helper layer: what every driver plugin (etcd, Redis, ZooKeeper)
 * needs from its configuration and its errors, written once. Part of dc_util,
 * so a plugin links it statically (plugins do not depend on libddlcoord's
 * symbols). docs/DESIGN.md, "Driver helpers", lists who uses what.
 *
 *   options     "<scheme>.key" first, then "key"; integers strictly checked
 *               (a bad value is DC_EINVAL naming the key, never a silent default)
 *   errors      DC_DRV_ERR fills a dc_drv_err and yields the code
 *   hosts       a URI's host list as "h1:p1,[v6]:p2"
 *   credentials the core merges the URI's user info into the configuration
 *               (username/password) before a driver opens, so a driver reads
 *               only dc__drv_opt(..., "username")
 */
#ifndef DC_UTIL_DRV_H
#define DC_UTIL_DRV_H

#include <ddlcoord/driver.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "uri.h"

/* Fill err's detail (printf-style) and evaluate to code. */
#define DC_DRV_ERR(err, code, ...) (snprintf((err)->msg, sizeof(err)->msg, __VA_ARGS__), (code))

/* The value of option key for a driver: "<scheme>.key" if set, else "key",
 * else NULL. Owned by cfg. */
const char *dc__drv_opt(const dc_host *h, const dc_config *cfg, const char *scheme,
                        const char *key);

/* The integer option key (looked up as dc__drv_opt does) into *out: def when
 * absent (def is not range-checked); DC_EINVAL with err filled
 * ("<scheme>: config: <key>=<value>…: expected an integer in [lo, hi]") when
 * the value is not a decimal integer in [lo, hi]. The check is the core's
 * dc_config_int (through dc_host.config_int), so every driver and the core
 * have one strictness; with an older core the same rule runs here. */
int dc__drv_opt_int(const dc_host *h, const dc_config *cfg, const char *scheme, const char *key,
                    int64_t def, int64_t lo, int64_t hi, int64_t *out, dc_drv_err *err);

/* Append the URI's hosts to out as "host:port" joined by sep, IPv6 literals
 * in brackets, default_port where the URI gives none. 0, or -1 when out of
 * memory. */
int dc__drv_host_list(dc_buf *out, const dc_uri *u, int default_port, const char *sep);

#endif
