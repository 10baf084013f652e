/*
 * The ZooKeeper driver's consistent reads (snap.c).
 */
#ifndef DC_ZK_SNAP_H
#define DC_ZK_SNAP_H

#include "zk.h"
#include "zk_conn.h"

/* One key as read (and then as a txn changes it). */
typedef struct zk_entry {
    char *key;
    size_t key_len;
    char *path;       /* R/kv/k<esc(key)> */
    const char *name; /* the child name inside path */
    /* as read / patched (the snapshot) */
    int present;
    char *value;
    size_t value_len;
    int64_t create_rev, mod_rev, version, lease;
    int gen_shard;
    int gen_version; /* version of R/gen/NN read before the key; -1 unknown */
    int64_t mzxid_read;
    /* txn overlay */
    int written; /* 1 if a put or delete of the txn touched it */
    int fpresent;
    char *fvalue;
    size_t fvalue_len;
    int64_t flease;
    int64_t fversion, fcreate; /* final version / create rev (0 = this txn) */
    int fvalue_owned;
} zk_entry;

typedef struct zk_snap {
    zk_entry *e; /* sorted by key after zk_snap_read */
    size_t n, cap;
    char **prefixes; /* ranges read completely */
    size_t *prefix_lens;
    size_t n_prefixes;
    int64_t rev;     /* the snapshot's revision */
    int rev_version; /* R/rev's version at rev (for strict checks) */
    int64_t r0, r1;
    int64_t max_mzxid;
    int for_write; /* read deletion generations too (before each key) */
} zk_snap;

void zk_snap_init(zk_snap *s);
void zk_snap_free(zk_snap *s);
/* Declare what to read: one key, or every key under a prefix. */
int zk_snap_want_key(zk_snap *s, const char *key, size_t len);
int zk_snap_want_prefix(zk_snap *s, const char *prefix, size_t len);
/* Read everything declared. consistent: make it a snapshot at one revision
 * (bracket + log patch); otherwise only per-key states and gen versions. */
int zk_snap_read(zk_conn *c, zhandle_t *zh, zk_snap *s, int consistent, dc_drv_err *err);
zk_entry *zk_snap_find(zk_snap *s, const char *key, size_t len);
/* 1 if the snapshot covers key (read as a single key or under a prefix). */
int zk_snap_covers(const zk_snap *s, const char *key, size_t len);
/* Fill a get op's answer from the snapshot (with the txn overlay if overlay). */
int zk_snap_range(zk_snap *s, const dc_op *op, int overlay, dc_kv **kvs, size_t *n, int64_t *count,
                  int *more);
int zk_gen_shard(const char *key, size_t len);

#endif
