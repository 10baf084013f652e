/*
 * uthash, included the one way the library may use it. uthash's default on a
 * failed allocation is exit(-1): a library must never end its host, so every
 * file that keeps a hash table includes this header instead of <uthash.h>,
 * which turns that into a failed add (the table is left as it was) that the
 * caller checks with DC_HASH_ADDED and reports as DC_ENOMEM.
 */
#ifndef DC_UTIL_HASH_H
#define DC_UTIL_HASH_H

#ifdef UTHASH_H
#error "include dc_hash.h before (and instead of) uthash.h"
#endif

#define HASH_NONFATAL_OOM 1
#include <uthash.h>

/* After a HASH_ADD* of elt: 1 if elt went in, 0 if an allocation failed. */
#define DC_HASH_ADDED(hh, elt) ((elt)->hh.tbl != NULL)

#endif
