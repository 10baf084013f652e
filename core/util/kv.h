/*
 * Helpers for filling the result structs of store.h (dc_kv, dc_kvs,
 * dc_event, dc_txn_result) with malloc'd memory, as the driver contract
 * requires. Shared by the core, mem:// and every driver.
 */
#ifndef DC_UTIL_KV_H
#define DC_UTIL_KV_H

#include <ddlcoord/driver.h>
#include <ddlcoord/store.h>

/* Set kv's key and value to copies (NUL-terminated). Metadata untouched.
 * 0, or -1 when out of memory (kv's strings are then NULL). */
int dc__kv_set(dc_kv *kv, const void *key, size_t key_len, const void *value, size_t value_len);
/* A deep copy into *dst. 0 or -1 (no memory; dst zeroed). */
int dc__kv_copy(dc_kv *dst, const dc_kv *src);
/* A malloc'd deep copy, or NULL. */
dc_kv *dc__kv_dup(const dc_kv *src);
/* Free kv's strings (not kv itself) and zero it. */
void dc__kv_clear(dc_kv *kv);
/* Free the contents of each (not the struct itself) and zero it. */
void dc__kvs_clear(dc_kvs *kvs);
void dc__event_clear(dc_event *ev);
void dc__response_clear(dc_response *r);
void dc__txn_result_clear(dc_txn_result *r);
/* Free n events and the array. */
void dc__event_array_free(dc_event *evs, size_t n);
/* Byte-order comparison of two keys (memcmp, shorter first on a tie). */
int dc__key_cmp(const void *a, size_t alen, const void *b, size_t blen);
/* Evaluate one txn compare against a key's current state; kv NULL means the
 * key is missing: its version, create and mod revision and lease are 0, and
 * every value compare on it is false (etcd's rule, which every backend keeps).
 * Returns 1 if the compare holds. Shared so that every backend that evaluates
 * compares itself (mem://, ZooKeeper, Redis' multi mode) agrees. */
int dc__compare_holds(const dc_compare *c, const dc_kv *kv);
/* The key/type filter of a watch, shared by the core and every driver: 1 if
 * an event of type on key passes flags (DC_NO_PUT, DC_NO_DELETE drop a type;
 * DC_PREFIX matches every key under wkey, else wkey exactly). */
int dc__event_wanted(unsigned flags, const void *wkey, size_t wkey_len, dc_event_type type,
                     const void *key, size_t key_len);
/* The type half of it (for a watch whose keys are matched by an index). */
int dc__event_type_wanted(unsigned flags, dc_event_type type);
/* 1 if key starts with prefix. */
int dc__key_has_prefix(const void *key, size_t key_len, const void *prefix, size_t prefix_len);

#endif
