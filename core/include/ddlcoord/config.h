/*
 * ddlcoord configuration: one mechanism for every option (think curl's
 * easy_setopt), filled from code, from a store URI's query string, or from an
 * INI file.
 *
 * A dc_config is a set of string keys and values. Keys used by the library:
 *
 *   uri                 the store URI (required to open a store)
 *   namespace           key namespace of the protocol (default /ddlcoord)
 *   driver_dir          a directory searched for driver plugins
 *   username, password  credentials (also accepted inside the URI)
 *   tls_ca, tls_cert, tls_key   TLS files for drivers that support TLS
 *   connect_timeout_ms  connect timeout (default 3000; 1 ms .. 1 day)
 *   request_timeout_ms  timeout of one backend call (default 5000, on zk:// at least the
 *                       session timeout; 1 ms .. 1 day)
 *   max_txn_ops         mem://: ops allowed per txn branch (default 128; 1 .. 1000000)
 *   max_value_bytes     mem://: largest value accepted (default 1572864; 0 .. 2^31-1)
 *
 * Integer keys are range-checked when a store opens: a value that is not a
 * decimal integer in its range fails the open with DC_EINVAL naming the key
 * (never a silent default, and never a value wrapped by a cast).
 *
 * Driver-specific keys are documented by each driver (for example "mode" for
 * redis://). In an INI file, keys of the sections [store] and [ddlcoord] (and
 * keys before any section) are stored under their bare names; keys of any
 * other section S are stored as "S.key".
 *
 * A dc_config is not thread-safe; stores copy it when they open.
 */
#ifndef DDLCOORD_CONFIG_H
#define DDLCOORD_CONFIG_H

#include "export.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The defaults of connect_timeout_ms and request_timeout_ms, the same for
 * every backend (mem:// has no network and ignores both), with one rule on
 * zk://: request_timeout_ms defaults to at least the ZooKeeper session
 * timeout (zk.session_timeout_ms, default 10000), because the ZooKeeper
 * client notices a silent server only after two thirds of it; a shorter
 * call timeout would give up before the client even reconnects. */
#define DC_DEFAULT_CONNECT_TIMEOUT_MS 3000
#define DC_DEFAULT_REQUEST_TIMEOUT_MS 5000

typedef struct dc_config dc_config;

/* A new, empty configuration, or NULL when out of memory. Free with dc_config_free. */
DC_API dc_config *dc_config_new(void);

/* Free cfg and its strings. NULL is a no-op. */
DC_API void dc_config_free(dc_config *cfg);

/* A deep copy, or NULL when out of memory. */
DC_API dc_config *dc_config_dup(const dc_config *cfg);

/* Set key to value (both copied); value NULL removes the key.
 * Errors: DC_EINVAL (NULL or empty key), DC_ENOMEM. */
DC_API int dc_config_set(dc_config *cfg, const char *key, const char *value);

/* The value of key, or NULL. Owned by cfg, valid until it is changed or freed. */
DC_API const char *dc_config_get(const dc_config *cfg, const char *key);

/* The value of key as an integer, or def when absent. A value that is not a
 * decimal integer gives def too (and a WARN line): prefer dc_config_int,
 * which reports it. */
DC_API int64_t dc_config_get_int(const dc_config *cfg, const char *key, int64_t def);

/* The value of key as an integer in [min, max] into *out, or def when the
 * key is absent (def is not range-checked). Errors: DC_EINVAL when the value
 * is not a decimal integer or is out of range; the detail names the key, the
 * value and the range ("config: request_timeout_ms=4294967396: expected an
 * integer in [1, 86400000]"). Nothing is logged. */
DC_API int dc_config_int(const dc_config *cfg, const char *key, int64_t def, int64_t min,
                         int64_t max, int64_t *out);

/* Read an INI file into cfg (later keys override earlier ones).
 * Errors: DC_ENOTFOUND (cannot open), DC_EINVAL (syntax error; the detail
 * names the line), DC_ENOMEM. */
DC_API int dc_config_load_file(dc_config *cfg, const char *path);

/* Number of keys, and the i-th key/value pair (0 <= i < count), for callers
 * that want to list a configuration. */
DC_API int dc_config_count(const dc_config *cfg);
DC_API int dc_config_entry(const dc_config *cfg, int i, const char **key, const char **value);

#ifdef __cplusplus
}
#endif
#endif
