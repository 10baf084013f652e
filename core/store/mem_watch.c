/*
 * mem:// watches. A watch first replays the retained log from its start
 * revision, then is registered to receive each new write's events; both
 * happen under the instance mutex, so nothing can slip in between. Writers
 * hand events to the core's watch queue directly (the core then wakes the
 * reader), which keeps delivery in revision order by construction.
 *
 * The watches are indexed so that a write costs in proportion to the watches
 * it matches, not to all those open (the protocol keeps about three per
 * source open, and each write concerns one or two of them):
 *  - exact-key watches sit in buckets of a hash by key: one lookup per event;
 *  - prefix watches sit in buckets of a second hash by prefix, and the index
 *    keeps the distinct lengths of those prefixes, ascending. The prefixes
 *    that match a key K are exactly K's first L bytes for each such length
 *    L <= |K| that has a bucket, so an event costs one lookup per distinct
 *    length. The protocol's prefixes come in a handful of lengths (the
 *    namespace's kinds, a task's infos) however many watches are open. A
 *    sorted array of prefixes would not do as well: the prefixes of K are
 *    not contiguous in it, so finding them means walking back over every
 *    prefix that sorts between them; a trie would need a node per byte.
 * Both hashes use their own function, computed a word at a time and
 * incrementally: one pass over an event's key yields the hash of each of
 * its prefixes that has a length in the list and of the whole key, where
 * uthash's default would rehash the key from its start for every length.
 * A write's events are offered in log order, and each touched watch
 * collects the slots it wants, then receives them as one batch: per watch,
 * the order and the all-or-nothing delivery of a revision are unchanged.
 */
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyhash.h"
#include "kv.h"

struct mem_watch_bucket {
    UT_hash_handle hh;
    mem_watch *head; /* the watches on this key or prefix */
    size_t key_len;
    char key[]; /* the bucket's key or prefix (NUL-terminated) */
};

struct mem_watch {
    mem_watch *prev, *next; /* in bucket->head */
    mem_watch_bucket *bucket;
    const mem_conn *conn; /* the handle that opened it (dc_mem_end_watches) */
    dc_watch_sink *sink;
    unsigned flags;
    int64_t start_rev;
    int failed;
    size_t *pend; /* log slots to deliver, collected by one notify or replay */
    size_t n_pend, cap_pend;
};

/* The incremental key hash shared with the key table (keyhash.h); uthash
 * takes 32 bits of it. */
static uint64_t hash_word(uint64_t h, const char *p)
{
    return dc_keyhash_word(h, p);
}

static unsigned hash_finish(uint64_t h, const char *key, size_t done, size_t len)
{
    return (unsigned)dc_keyhash_finish(h, key, done, len);
}

#define HASH_SEED DC_KEYHASH_SEED

static unsigned key_hash(const char *key, size_t len)
{
    return hash_finish(HASH_SEED, key, 0, len);
}

/* Never a silent gap: a watch that cannot take its events ends. */
static void fail_watch(mem_store *m, mem_watch *w)
{
    w->failed = 1;
    w->n_pend = 0;
    m->host->watch_fail(w->sink, DC_ENOMEM, 0, "mem: out of memory delivering events");
}

/* The type filter and the start revision; the key is the index's business. */
static int wants(const mem_watch *w, const mem_event *ev, int64_t rev)
{
    if (rev < w->start_rev) return 0;
    return dc__event_type_wanted(w->flags, ev->type);
}

static int pend_add(mem_watch *w, size_t slot)
{
    if (w->n_pend == w->cap_pend) {
        size_t cap = w->cap_pend ? w->cap_pend * 2 : 4;
        size_t *p = realloc(w->pend, cap * sizeof *p);
        if (!p) return -1;
        w->pend = p;
        w->cap_pend = cap;
    }
    w->pend[w->n_pend++] = slot;
    return 0;
}

static int copy_event(dc_event *dst, const mem_event *src, int with_prev)
{
    memset(dst, 0, sizeof *dst);
    dst->type = src->type;
    if (dc__kv_copy(&dst->kv, &src->kv) != 0) return -1;
    if (with_prev && src->has_prev) {
        dst->prev_kv = dc__kv_dup(&src->prev);
        if (!dst->prev_kv) {
            dc__kv_clear(&dst->kv);
            return -1;
        }
    }
    return 0;
}

/* Push w's pending slots as one batch and empty the list. mu held. */
static void flush(mem_store *m, mem_watch *w)
{
    size_t n = w->n_pend;
    w->n_pend = 0;
    if (w->failed || !n) return;
    dc_event *evs = calloc(n, sizeof *evs);
    if (!evs) {
        fail_watch(m, w);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (copy_event(&evs[i], &m->log[w->pend[i]], w->flags & DC_PREV_KV) != 0) {
            dc__event_array_free(evs, i);
            fail_watch(m, w);
            return;
        }
    if (m->host->watch_push(w->sink, evs, n) != DC_OK) w->failed = 1;
    /* A burst (a replay, a big prefix delete) should not pin its list. */
    if (w->cap_pend > 64) {
        free(w->pend);
        w->pend = NULL;
        w->cap_pend = 0;
    }
}

/* Offer log slot `slot` to every watch of bucket b, remembering each watch
 * that gets its first pending slot in m->watches.touched[*nt]. mu held. */
static void offer(mem_store *m, mem_watch_bucket *b, size_t slot, size_t *nt)
{
    mem_watch_index *ix = &m->watches;
    for (mem_watch *w = b->head; w; w = w->next) {
        if (w->failed || !wants(w, &m->log[slot], m->log_rev[slot])) continue;
        if (w->n_pend == 0) {
            if (*nt == ix->cap_touched) {
                size_t cap = ix->cap_touched ? ix->cap_touched * 2 : 16;
                mem_watch **t = realloc(ix->touched, cap * sizeof *t);
                if (!t) {
                    fail_watch(m, w);
                    continue;
                }
                ix->touched = t;
                ix->cap_touched = cap;
            }
            ix->touched[(*nt)++] = w;
        }
        if (pend_add(w, slot) != 0) fail_watch(m, w);
    }
}

void dc__mem_watch_notify(mem_store *m, size_t first, size_t n)
{
    mem_watch_index *ix = &m->watches;
    if (!ix->exact && !ix->prefixes) return;
    size_t nt = 0;
    for (size_t i = first; i < first + n; i++) {
        const char *key = m->log[i].kv.key;
        size_t key_len = m->log[i].kv.key_len;
        mem_watch_bucket *b;
        /* h holds the first `done` bytes of the key, for the next length */
        uint64_t h = HASH_SEED;
        size_t done = 0;
        for (size_t j = 0; j < ix->n_lens && ix->lens[j].len <= key_len; j++) {
            size_t len = ix->lens[j].len;
            for (; done + 8 <= len; done += 8) h = hash_word(h, key + done);
            HASH_FIND_BYHASHVALUE(hh, ix->prefixes, key, len, hash_finish(h, key, done, len), b);
            if (b) offer(m, b, i, &nt);
        }
        if (ix->exact) {
            HASH_FIND_BYHASHVALUE(hh, ix->exact, key, key_len, hash_finish(h, key, done, key_len),
                                  b);
            if (b) offer(m, b, i, &nt);
        }
    }
    for (size_t i = 0; i < nt; i++) flush(m, ix->touched[i]);
}

size_t dc__mem_log_search(mem_store *m, int64_t rev)
{
    size_t lo = m->head, hi = m->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->log_rev[mid] < rev)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Deliver the retained history from w's start revision: one scan, once per
 * watch. mu held. */
static void replay(mem_store *m, mem_watch *w)
{
    const mem_watch_bucket *b = w->bucket;
    for (size_t i = dc__mem_log_search(m, w->start_rev); i < m->len && !w->failed; i++) {
        const dc_kv *kv = &m->log[i].kv;
        int key_ok = w->flags & DC_PREFIX
                         ? dc__key_has_prefix(kv->key, kv->key_len, b->key, b->key_len)
                         : dc__key_cmp(kv->key, kv->key_len, b->key, b->key_len) == 0;
        if (key_ok && wants(w, &m->log[i], m->log_rev[i]) && pend_add(w, i) != 0) fail_watch(m, w);
    }
    flush(m, w);
}

/* Count one more (delta 1) or one fewer (-1) prefix bucket of length len.
 * -1 when out of memory (only when adding). mu held. */
static int lens_update(mem_watch_index *ix, size_t len, int delta)
{
    size_t j = 0;
    while (j < ix->n_lens && ix->lens[j].len < len) j++;
    if (j < ix->n_lens && ix->lens[j].len == len) {
        ix->lens[j].buckets += (size_t)delta;
        if (ix->lens[j].buckets == 0) {
            memmove(&ix->lens[j], &ix->lens[j + 1], (ix->n_lens - j - 1) * sizeof *ix->lens);
            ix->n_lens--;
        }
        return 0;
    }
    if (delta < 0) return 0; /* not counted: cannot happen */
    if (ix->n_lens == ix->cap_lens) {
        size_t cap = ix->cap_lens ? ix->cap_lens * 2 : 8;
        struct mem_prefix_len *l = realloc(ix->lens, cap * sizeof *l);
        if (!l) return -1;
        ix->lens = l;
        ix->cap_lens = cap;
    }
    memmove(&ix->lens[j + 1], &ix->lens[j], (ix->n_lens - j) * sizeof *ix->lens);
    ix->lens[j].len = len;
    ix->lens[j].buckets = 1;
    ix->n_lens++;
    return 0;
}

/* Put w into the bucket of its key, creating the bucket if needed.
 * -1 when out of memory (nothing changed). mu held. */
static int index_add(mem_store *m, mem_watch *w, const char *key, size_t key_len)
{
    mem_watch_index *ix = &m->watches;
    int prefix = (w->flags & DC_PREFIX) != 0;
    mem_watch_bucket **table = prefix ? &ix->prefixes : &ix->exact;
    mem_watch_bucket *b;
    unsigned hv = key_hash(key, key_len);
    HASH_FIND_BYHASHVALUE(hh, *table, key, key_len, hv, b);
    if (!b) {
        b = malloc(sizeof *b + key_len + 1);
        if (!b) return -1;
        if (key_len) memcpy(b->key, key, key_len);
        b->key[key_len] = '\0';
        b->key_len = key_len;
        b->head = NULL;
        if (prefix && lens_update(ix, key_len, 1) != 0) {
            free(b);
            return -1;
        }
        HASH_ADD_KEYPTR_BYHASHVALUE(hh, *table, b->key, b->key_len, hv, b);
        if (!b->hh.tbl) {
            if (prefix) lens_update(ix, key_len, -1);
            free(b);
            return -1;
        }
    }
    w->bucket = b;
    w->prev = NULL;
    w->next = b->head;
    if (b->head) b->head->prev = w;
    b->head = w;
    return 0;
}

static void index_remove(mem_store *m, mem_watch *w)
{
    mem_watch_index *ix = &m->watches;
    mem_watch_bucket *b = w->bucket;
    if (w->prev)
        w->prev->next = w->next;
    else
        b->head = w->next;
    if (w->next) w->next->prev = w->prev;
    if (b->head) return;
    if (w->flags & DC_PREFIX) {
        HASH_DEL(ix->prefixes, b);
        lens_update(ix, b->key_len, -1);
    } else {
        HASH_DEL(ix->exact, b);
    }
    free(b);
}

void dc__mem_watch_index_free(mem_store *m)
{
    /* The core stops every watch before the last close; only the index's
     * own arrays can be left. */
    free(m->watches.lens);
    free(m->watches.touched);
    memset(&m->watches, 0, sizeof m->watches);
}

int dc__mem_watch_start(void *conn, const dc_watch_req *req, dc_watch_sink *sink, void **handle,
                        dc_drv_err *err)
{
    mem_store *m = mem_of(conn);
    mem_watch *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err->msg, sizeof err->msg, "mem: out of memory starting a watch");
        return DC_ENOMEM;
    }
    w->flags = req->flags;
    w->start_rev = req->start_revision;
    w->sink = sink;
    w->conn = conn;

    pthread_mutex_lock(&m->mu);
    int rc = dc__mem_check_epoch(conn, err);
    if (rc != DC_OK) {
        pthread_mutex_unlock(&m->mu);
        free(w);
        return rc;
    }
    if (m->compact_rev && req->start_revision < m->compact_rev) {
        err->compact_revision = m->compact_rev;
        snprintf(err->msg, sizeof err->msg,
                 "mem: watch from revision %lld: compacted (compact revision %lld)",
                 (long long)req->start_revision, (long long)m->compact_rev);
        pthread_mutex_unlock(&m->mu);
        free(w);
        return DC_ECOMPACTED;
    }
    if (index_add(m, w, req->key, req->key_len) != 0) {
        pthread_mutex_unlock(&m->mu);
        free(w);
        snprintf(err->msg, sizeof err->msg, "mem: out of memory starting a watch");
        return DC_ENOMEM;
    }
    replay(m, w);
    pthread_mutex_unlock(&m->mu);
    *handle = w;
    return DC_OK;
}

void dc__mem_watch_stop(void *conn, void *handle)
{
    mem_store *m = mem_of(conn);
    mem_watch *w = handle;
    pthread_mutex_lock(&m->mu);
    index_remove(m, w);
    pthread_mutex_unlock(&m->mu);
    free(w->pend);
    free(w);
}

static size_t end_bucket(mem_store *m, mem_watch_bucket *b, const mem_conn *only, int code,
                         int64_t compact_rev)
{
    size_t n = 0;
    for (mem_watch *w = b->head; w; w = w->next) {
        if (w->failed || (only && w->conn != only)) continue;
        w->failed = 1;
        m->host->watch_fail(w->sink, code, code == DC_ECOMPACTED ? compact_rev : 0,
                            code == DC_ECOMPACTED ? "mem: failpoint: watch compacted"
                            : code == DC_ERESET   ? "mem: the instance was reset"
                                                  : "mem: failpoint: watch connection lost");
        n++;
    }
    return n;
}

size_t dc__mem_watch_end(mem_store *m, const mem_conn *only, const char *key, size_t key_len,
                         int code, int64_t compact_rev)
{
    /* A failed watch stays in the index (skipped by offer) until it is stopped. */
    size_t n = 0;
    mem_watch_bucket *tables[2] = {m->watches.exact, m->watches.prefixes}, *b, *tmp;
    for (int t = 0; t < 2; t++) {
        if (key) {
            HASH_FIND_BYHASHVALUE(hh, tables[t], key, key_len, key_hash(key, key_len), b);
            if (b) n += end_bucket(m, b, only, code, compact_rev);
            continue;
        }
        HASH_ITER(hh, tables[t], b, tmp) n += end_bucket(m, b, only, code, compact_rev);
    }
    return n;
}
