/*
 * The ZooKeeper driver's byte formats (codec.c).
 */
#ifndef DC_ZK_CODEC_H
#define DC_ZK_CODEC_H

#include "zk.h"

/* "k" + esc(key): [A-Za-z0-9_-] literal, every other byte %XX. Prefix-free:
 * P is a prefix of K iff esc(P) is a prefix of esc(K). */
int zk_key_escape(dc_buf *out, const char *key, size_t len);
/* Inverse of zk_key_escape on a child name; 0 or -1 if malformed. */
int zk_key_unescape(const char *name, char **key, size_t *len);

/* kv znode data: byte 0 = 0 (no lease) or 1 followed by an 8-byte lease. */
int zk_kv_encode(dc_buf *out, int64_t lease, const char *value, size_t len);
int zk_kv_decode(const char *data, int len, int64_t *lease, const char **value, size_t *vlen);

/* One change inside an event record. */
typedef struct zk_ev {
    dc_event_type type;
    char *key;
    size_t key_len;
    char *value;
    size_t value_len;
    int64_t create_rev; /* 0 = the record's own revision */
    int64_t version;
    int64_t lease;
    int has_prev;
    char *pvalue;
    size_t pvalue_len;
    int64_t pcreate, pmod, pversion, please;
} zk_ev;

/* One event znode: the changes of one write txn. */
typedef struct zk_rec {
    int64_t rev; /* czxid */
    unsigned char token[ZK_TOKEN_LEN];
    size_t n;
    zk_ev *evs;
} zk_rec;

int zk_rec_encode(dc_buf *out, const unsigned char token[ZK_TOKEN_LEN], const zk_ev *evs, size_t n);
/* Decode into rec (the strings are copies). 0, -1 corrupt, -2 no memory. */
int zk_rec_decode(const char *data, int len, int64_t rev, zk_rec *rec);
void zk_rec_clear(zk_rec *rec);
void zk_ev_clear(zk_ev *ev);
/* Turn change i of rec into a dc_event (malloc'd memory). 0 or -1. */
int zk_rec_event(const zk_rec *rec, size_t i, int with_prev, dc_event *out);

#endif
