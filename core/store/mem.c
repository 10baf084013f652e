/*
 * mem:// — the embedded store, the reference implementation of the contract.
 *
 * Live keys sit in a red-black tree (libbsd's sys/tree.h) ordered by key
 * bytes, so a prefix read is O(log n + matches), and in a hash table by key,
 * so an exact lookup (every compare, put and single-key read) costs one hash
 * of the key instead of a dozen compares of long, alike keys. Every change
 * is appended to an in-memory log of events (with the previous key-value),
 * which is the MVCC history: watches replay it from any retained revision,
 * found by binary search, and compaction drops its head. One mutex per
 * instance serialises all calls, so reads are snapshots and txns atomic.
 *
 * A write is done in two phases: first everything it needs is allocated (new
 * nodes, value copies, events, log and hash space) without touching the
 * store, so that running out of memory leaves the store unchanged; then the
 * prepared items are linked in, which cannot fail, and the key's old value
 * (and a deleted key's name) move into the event rather than being copied.
 *
 * mem://name instances are registered by name and shared by every handle of
 * the process that opens the same name; mem:// alone is private. Each handle
 * gets its own mem_conn (the driver's conn) pointing at the instance, which
 * carries the handle's failpoint hook (mem_failpoint.c, ddlcoord/mem.h) and
 * the instance's epoch when it opened: after a reset (dc_mem_reset) the
 * epoch has moved on, so every call of an older handle answers DC_ERESET and
 * nothing it prepared before applies to the new history. Reads at a past
 * revision are in mem_page.c.
 *
 * Why over 600 lines: the write path (plan, commit, txn, the lease deletes)
 * and the reads share the tree helpers and the log, and every piece of it
 * runs under the one instance mutex; watches and leases, which only hook
 * into it, are already in mem_watch.c and mem_lease.c. The write path would
 * be the next file (dc__mem_txn.c) once the store's source list names it.
 */
#include "mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "keyhash.h"
#include "kv.h"
#include "uri.h"

#define MEM_DEFAULT_MAX_TXN_OPS 128
#define MEM_DEFAULT_MAX_VALUE   (1536 * 1024)

#define ERR(err, code, ...) (snprintf((err)->msg, sizeof(err)->msg, __VA_ARGS__), (code))

int dc__mem_key_cmp(const mem_key *a, const mem_key *b)
{
    return dc__key_cmp(a->kv.key, a->kv.key_len, b->kv.key, b->kv.key_len);
}

RB_GENERATE(dc__mem_tree, mem_key, rb, dc__mem_key_cmp)

/* The key hash (keyhash.h) is shared with the watch index (mem_watch.c). */
static uint64_t key_hash(const char *key, size_t len)
{
    return dc_keyhash(key, len);
}

static mem_key *find_hashed(mem_store *m, const char *key, size_t key_len, uint64_t h)
{
    if (!m->kcap) return NULL;
    for (mem_key *k = m->khash[h & (m->kcap - 1)]; k; k = k->hnext)
        if (k->hash == h && k->kv.key_len == key_len &&
            (key_len == 0 || memcmp(k->kv.key, key, key_len) == 0))
            return k;
    return NULL;
}

mem_key *dc__mem_find(mem_store *m, const char *key, size_t key_len)
{
    return find_hashed(m, key, key_len, key_hash(key, key_len));
}

/* Room in the hash for extra more keys (at most one key per bucket on
 * average), so that linking new keys at commit cannot fail. mu held. */
static int keys_reserve(mem_store *m, size_t extra)
{
    size_t need = (size_t)m->nkeys + extra;
    if (need <= m->kcap) return 0;
    size_t cap = m->kcap ? m->kcap : 64;
    while (cap < need) cap *= 2;
    mem_key **b = calloc(cap, sizeof *b);
    if (!b) return -1;
    for (size_t i = 0; i < m->kcap; i++)
        for (mem_key *k = m->khash[i], *next; k; k = next) {
            next = k->hnext;
            k->hnext = b[k->hash & (cap - 1)];
            b[k->hash & (cap - 1)] = k;
        }
    free(m->khash);
    m->khash = b;
    m->kcap = cap;
    return 0;
}

/* Link a new key (keys_reserve made room) or unlink a deleted one. */
static void key_link(mem_store *m, mem_key *k)
{
    RB_INSERT(dc__mem_tree, &m->keys, k);
    mem_key **b = &m->khash[k->hash & (m->kcap - 1)];
    k->hnext = *b;
    *b = k;
    m->nkeys++;
}

static void key_unlink(mem_store *m, mem_key *k)
{
    RB_REMOVE(dc__mem_tree, &m->keys, k);
    mem_key **p = &m->khash[k->hash & (m->kcap - 1)];
    while (*p != k) p = &(*p)->hnext;
    *p = k->hnext;
    m->nkeys--;
}

/* Free what an event owns (mem.h: prev.key is kv.key). */
static void event_clear(mem_event *ev)
{
    free(ev->kv.key);
    free(ev->kv.value);
    if (ev->has_prev) free(ev->prev.value);
    memset(ev, 0, sizeof *ev);
}

/* The first key >= key. */
mem_key *dc__mem_lower_bound(mem_store *m, const char *key, size_t key_len)
{
    mem_key probe;
    probe.kv.key = (char *)key;
    probe.kv.key_len = key_len;
    return RB_NFIND(dc__mem_tree, &m->keys, &probe);
}

/* ------------------------------------------------------------ registry */

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static mem_store **registry;
static size_t registry_n;

void dc__mem_wipe(mem_store *m)
{
    mem_key *k, *next;
    for (k = RB_MIN(dc__mem_tree, &m->keys); k; k = next) {
        next = RB_NEXT(dc__mem_tree, &m->keys, k);
        RB_REMOVE(dc__mem_tree, &m->keys, k);
        dc__kv_clear(&k->kv);
        free(k);
    }
    for (size_t i = m->head; i < m->len; i++) event_clear(&m->log[i]);
    free(m->log);
    free(m->khash);
    free(m->log_rev);
    m->log = NULL;
    m->log_rev = NULL;
    m->khash = NULL;
    m->head = m->len = m->cap = m->kcap = 0;
    m->nkeys = 0;
}

static void mem_destroy(mem_store *m)
{
    dc__mem_lease_stop_reaper(m);
    dc__mem_wipe(m);
    dc__mem_watch_index_free(m);
    dc__mem_lease_free_all(m);
    pthread_cond_destroy(&m->reaper_cv);
    pthread_mutex_destroy(&m->mu);
    free(m->name);
    free(m);
}

static mem_store *mem_create(const char *name, const dc_host *host, const dc_config *cfg)
{
    mem_store *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    if (name && !(m->name = strdup(name))) {
        free(m);
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    dc__cond_init_monotonic(&m->reaper_cv);
    RB_INIT(&m->keys);
    m->rev = 1; /* like etcd, an empty store is at revision 1 */
    m->refs = 1;
    m->host = host;
    /* lease IDs look like etcd's: large and unlikely to repeat across runs */
    m->next_lease = ((dc__wall_ms() & 0xffffffffLL) << 20) | 1;
    m->first_lease = m->next_lease;
    m->epoch = 1;
    m->max_txn_ops = host->config_get_int(cfg, "max_txn_ops", MEM_DEFAULT_MAX_TXN_OPS);
    m->max_value_bytes = host->config_get_int(cfg, "max_value_bytes", MEM_DEFAULT_MAX_VALUE);
    if (dc__mem_lease_start_reaper(m) != 0) {
        mem_destroy(m);
        return NULL;
    }
    return m;
}

/* Drop one reference to the instance; the last one destroys it. */
static void mem_release(mem_store *m)
{
    pthread_mutex_lock(&registry_mu);
    pthread_mutex_lock(&m->mu);
    int last = --m->refs == 0;
    pthread_mutex_unlock(&m->mu);
    if (last && m->name) {
        for (size_t i = 0; i < registry_n; i++)
            if (registry[i] == m) {
                registry[i] = registry[--registry_n];
                break;
            }
        if (registry_n == 0) {
            free(registry);
            registry = NULL;
        }
    }
    pthread_mutex_unlock(&registry_mu);
    if (last) mem_destroy(m);
}

static int mem_open(const dc_host *host, const char *uri, const dc_config *cfg, void **conn,
                    dc_drv_err *err)
{
    dc_uri u;
    int rc = dc__uri_parse(uri, &u, err->msg, sizeof err->msg);
    if (rc) {
        dc__uri_free(&u);
        return rc == -2 ? DC_ENOMEM : DC_EINVAL;
    }
    if (u.n_hosts > 1 || u.user || u.path[0]) {
        dc__uri_free(&u);
        char shown[256];
        return ERR(err, DC_EINVAL, "mem: '%s': expected mem://[name]",
                   dc__uri_redact(uri, shown, sizeof shown));
    }
    const char *name = u.n_hosts ? u.hosts[0].host : NULL;
    mem_store *m = NULL;
    pthread_mutex_lock(&registry_mu);
    for (size_t i = 0; name && i < registry_n; i++)
        if (strcmp(registry[i]->name, name) == 0) {
            m = registry[i];
            pthread_mutex_lock(&m->mu);
            m->refs++;
            pthread_mutex_unlock(&m->mu);
        }
    if (!m) {
        m = mem_create(name, host, cfg);
        if (m && name) {
            mem_store **r = realloc(registry, (registry_n + 1) * sizeof *r);
            if (!r) {
                mem_destroy(m);
                m = NULL;
            } else {
                registry = r;
                registry[registry_n++] = m;
            }
        }
    }
    pthread_mutex_unlock(&registry_mu);
    dc__uri_free(&u);
    mem_conn *c = m ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        if (m) mem_release(m);
        return ERR(err, DC_ENOMEM, "mem: out of memory");
    }
    c->m = m;
    pthread_mutex_lock(&m->mu);
    c->epoch = m->epoch;
    pthread_mutex_unlock(&m->mu);
    *conn = c;
    return DC_OK;
}

int dc__mem_check_epoch(const mem_conn *c, dc_drv_err *err)
{
    if (c->epoch == c->m->epoch) return DC_OK;
    return ERR(err, DC_ERESET,
               "mem://%s: the instance was reset after this handle opened (epoch %llu, now %llu)",
               c->m->name ? c->m->name : "", (unsigned long long)c->epoch,
               (unsigned long long)c->m->epoch);
}

static void mem_close(void *conn)
{
    mem_conn *c = conn;
    mem_store *m = c->m;
    free(c);
    mem_release(m);
}

/* ------------------------------------------------------------ reads */

int dc__mem_copy_kv(dc_kv *dst, const dc_kv *src, int keys_only)
{
    *dst = *src;
    if (dc__kv_set(dst, src->key, src->key_len, keys_only ? NULL : src->value,
                   keys_only ? 0 : src->value_len) != 0) {
        memset(dst, 0, sizeof *dst);
        return -1;
    }
    return 0;
}

/* Fill kvs/n/count/more for a get op. mu held. */
static int mem_range(mem_store *m, const dc_op *op, dc_kv **out_kvs, size_t *out_n, int64_t *count,
                     int *more)
{
    *out_kvs = NULL;
    *out_n = 0;
    *count = 0;
    *more = 0;
    mem_key *first, *k;
    if (op->flags & DC_PREFIX)
        first = op->key_len ? dc__mem_lower_bound(m, op->key, op->key_len)
                            : RB_MIN(dc__mem_tree, &m->keys);
    else
        first = dc__mem_find(m, op->key, op->key_len);
    /* count first so the array is allocated once */
    int64_t n = 0;
    for (k = first; k; k = RB_NEXT(dc__mem_tree, &m->keys, k)) {
        if (!dc__key_has_prefix(k->kv.key, k->kv.key_len, op->key, op->key_len)) break;
        n++;
        if (!(op->flags & DC_PREFIX)) break;
    }
    *count = n;
    if (op->flags & DC_COUNT_ONLY || n == 0) return DC_OK;
    int64_t want = op->limit > 0 && op->limit < n ? op->limit : n;
    *more = want < n;
    dc_kv *kvs = calloc((size_t)want, sizeof *kvs);
    if (!kvs) return DC_ENOMEM;
    size_t i = 0;
    for (k = first; k && (int64_t)i < want; k = RB_NEXT(dc__mem_tree, &m->keys, k)) {
        if (dc__mem_copy_kv(&kvs[i], &k->kv, op->flags & DC_KEYS_ONLY) != 0) {
            for (size_t j = 0; j < i; j++) dc__kv_clear(&kvs[j]);
            free(kvs);
            return DC_ENOMEM;
        }
        i++;
    }
    *out_kvs = kvs;
    *out_n = i;
    return DC_OK;
}

int dc__mem_get(void *conn, const dc_op *op, dc_kvs *out, dc_drv_err *err)
{
    mem_store *m = mem_of(conn);
    pthread_mutex_lock(&m->mu);
    int rc = dc__mem_check_epoch(conn, err);
    if (rc != DC_OK) {
        pthread_mutex_unlock(&m->mu);
        return rc;
    }
    rc = mem_range(m, op, &out->kvs, &out->n, &out->count, &out->more);
    out->revision = m->rev;
    pthread_mutex_unlock(&m->mu);
    if (rc) return ERR(err, rc, "mem: out of memory reading");
    return DC_OK;
}

/* ------------------------------------------------------------ writes */

/* One key a txn will write, with everything it needs already allocated.
 * What the event takes from the key (its old value; a deleted key's name and
 * value) is moved over at commit, not copied here. */
typedef struct plan_item {
    mem_key *k; /* the existing node, or the new node (is_new) */
    int is_new;
    int is_put;
    char *value; /* put: the node's new value buffer */
    mem_lease *lease;
    mem_event ev; /* the event to log */
} plan_item;

/* Most txns write a few keys with a few ops: their plan lives on the stack. */
#define PLAN_INLINE 4

typedef struct plan {
    plan_item *items;
    size_t n, cap;
    size_t *op_first, *op_count; /* items of each op */
    plan_item inline_items[PLAN_INLINE];
    size_t inline_ops[2 * PLAN_INLINE];
} plan;

static void plan_init(plan *p)
{
    p->items = p->inline_items;
    p->n = 0;
    p->cap = PLAN_INLINE;
    p->op_first = p->op_count = NULL;
}

static void plan_free(plan *p, int committed)
{
    for (size_t i = 0; i < p->n; i++) {
        plan_item *it = &p->items[i];
        if (!committed) {
            if (!it->is_put && it->k) it->k->planned_delete = 0;
            if (it->is_new && it->k) {
                dc__kv_clear(&it->k->kv);
                free(it->k);
            }
            free(it->value);
            dc__kv_clear(&it->ev.kv); /* prev is filled at commit only */
        }
    }
    if (p->items != p->inline_items) free(p->items);
    if (p->op_first != p->inline_ops) {
        free(p->op_first);
        free(p->op_count);
    }
    plan_init(p);
}

static plan_item *plan_add(plan *p)
{
    if (p->n == p->cap) {
        size_t cap = p->cap * 2;
        plan_item *it = p->items == p->inline_items ? malloc(cap * sizeof *it)
                                                    : realloc(p->items, cap * sizeof *it);
        if (!it) return NULL;
        if (p->items == p->inline_items) memcpy(it, p->items, p->n * sizeof *it);
        p->items = it;
        p->cap = cap;
    }
    plan_item *it = &p->items[p->n++];
    memset(it, 0, sizeof *it);
    return it;
}

static int plan_delete_key(plan *p, mem_key *k, int64_t rev)
{
    if (k->planned_delete) return 0; /* an earlier delete of this txn already takes it */
    plan_item *it = plan_add(p);
    if (!it) return -1;
    it->k = k;
    k->planned_delete = 1;
    it->ev.type = DC_EVENT_DELETE;
    it->ev.kv.mod_revision = rev;
    it->ev.has_prev = 1;
    return 0;
}

static int plan_put(mem_store *m, plan *p, const dc_op *op, int64_t rev)
{
    plan_item *it = plan_add(p);
    if (!it) return -1;
    it->is_put = 1;
    uint64_t h = key_hash(op->key, op->key_len);
    it->k = find_hashed(m, op->key, op->key_len, h);
    if (op->lease) HASH_FIND(hh, m->leases, &op->lease, sizeof op->lease, it->lease);
    if (!it->k) {
        it->is_new = 1;
        it->k = calloc(1, sizeof *it->k);
        if (!it->k || dc__kv_set(&it->k->kv, op->key, op->key_len, NULL, 0) != 0) return -1;
        free(it->k->kv.value); /* the put's buffer replaces it at commit */
        it->k->kv.value = NULL;
        it->k->hash = h;
    } else {
        it->ev.has_prev = 1;
    }
    it->value = malloc(op->value_len + 1);
    if (!it->value) return -1;
    if (op->value_len) memcpy(it->value, op->value, op->value_len);
    it->value[op->value_len] = '\0';
    it->ev.type = DC_EVENT_PUT;
    if (dc__kv_set(&it->ev.kv, op->key, op->key_len, op->value, op->value_len) != 0) return -1;
    it->ev.kv.create_revision = it->is_new ? rev : it->k->kv.create_revision;
    it->ev.kv.mod_revision = rev;
    it->ev.kv.version = it->is_new ? 1 : it->k->kv.version + 1;
    it->ev.kv.lease = op->lease;
    return 0;
}

static int log_reserve(mem_store *m, size_t extra)
{
    if (m->head > 0 && m->head >= m->len / 2) { /* reclaim the compacted head */
        memmove(m->log, m->log + m->head, (m->len - m->head) * sizeof *m->log);
        memmove(m->log_rev, m->log_rev + m->head, (m->len - m->head) * sizeof *m->log_rev);
        m->len -= m->head;
        m->head = 0;
    }
    if (m->len + extra <= m->cap) return 0;
    size_t cap = m->cap ? m->cap : 256;
    while (cap < m->len + extra) cap *= 2;
    mem_event *l = realloc(m->log, cap * sizeof *l);
    if (!l) return -1;
    m->log = l;
    int64_t *r = realloc(m->log_rev, cap * sizeof *r);
    if (!r) return -1;
    m->log_rev = r;
    m->cap = cap;
    return 0;
}

/* Link a prepared item into the store and move its event to the log.
 * Cannot fail: log and hash space were reserved. mu held. */
static void commit_item(mem_store *m, plan_item *it, int64_t rev)
{
    mem_key *k = it->k;
    if (it->ev.has_prev) {
        /* The key's state before this write: its value buffer moves to the
         * event, and a deleted key's name becomes the event's key. */
        it->ev.prev = k->kv;
        if (it->is_put) {
            it->ev.prev.key = it->ev.kv.key;
        } else {
            it->ev.kv.key = k->kv.key;
            it->ev.kv.key_len = k->kv.key_len;
        }
    }
    if (it->is_put) {
        k->kv.value = it->value;
        k->kv.value_len = it->ev.kv.value_len;
        k->kv.create_revision = it->ev.kv.create_revision;
        k->kv.mod_revision = rev;
        k->kv.version = it->ev.kv.version;
        if (k->lease != it->lease) {
            dc__mem_lease_detach(k);
            if (it->lease) dc__mem_lease_attach(m, k, it->lease);
        }
        k->kv.lease = it->lease ? it->lease->id : 0;
        if (it->is_new) key_link(m, k);
    } else {
        dc__mem_lease_detach(k);
        key_unlink(m, k);
        free(k); /* its strings now belong to the event */
    }
    it->value = NULL;
    m->log[m->len] = it->ev;
    m->log_rev[m->len] = rev;
    m->len++;
    memset(&it->ev, 0, sizeof it->ev);
}

static int compare_holds(mem_store *m, const dc_compare *c)
{
    mem_key *k = dc__mem_find(m, c->key, c->key_len);
    return dc__compare_holds(c, k ? &k->kv : NULL);
}

/* Does a delete op match at least one live key? mu held. */
static int delete_matches(mem_store *m, const dc_op *op)
{
    if (!(op->flags & DC_PREFIX)) return dc__mem_find(m, op->key, op->key_len) != NULL;
    mem_key *k =
        op->key_len ? dc__mem_lower_bound(m, op->key, op->key_len) : RB_MIN(dc__mem_tree, &m->keys);
    return k && dc__key_has_prefix(k->kv.key, k->kv.key_len, op->key, op->key_len);
}

static int plan_ops(mem_store *m, plan *p, const dc_op *ops, size_t n, int64_t rev)
{
    if (n <= PLAN_INLINE) {
        p->op_first = p->inline_ops;
        p->op_count = p->inline_ops + PLAN_INLINE;
    } else {
        p->op_first = calloc(n, sizeof *p->op_first);
        p->op_count = calloc(n, sizeof *p->op_count);
        if (!p->op_first || !p->op_count) return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const dc_op *op = &ops[i];
        p->op_first[i] = p->n;
        if (op->kind == DC_OP_PUT) {
            if (plan_put(m, p, op, rev) != 0) return -1;
        } else if (op->kind == DC_OP_DELETE) {
            mem_key *k;
            if (op->flags & DC_PREFIX) {
                for (k = dc__mem_lower_bound(m, op->key, op->key_len); k;
                     k = RB_NEXT(dc__mem_tree, &m->keys, k)) {
                    if (!dc__key_has_prefix(k->kv.key, k->kv.key_len, op->key, op->key_len)) break;
                    if (plan_delete_key(p, k, rev) != 0) return -1;
                }
            } else if ((k = dc__mem_find(m, op->key, op->key_len)) != NULL) {
                if (plan_delete_key(p, k, rev) != 0) return -1;
            }
        }
        p->op_count[i] = p->n - p->op_first[i];
    }
    return 0;
}

/* An op's prev_kvs, from the n events it logged. */
static int fill_prev(dc_response *r, const mem_event *evs, size_t n)
{
    size_t have = 0;
    for (size_t i = 0; i < n; i++) have += evs[i].has_prev;
    if (!have) return 0;
    r->prev_kvs = calloc(have, sizeof *r->prev_kvs);
    if (!r->prev_kvs) return -1;
    for (size_t i = 0; i < n; i++) {
        if (!evs[i].has_prev) continue;
        if (dc__mem_copy_kv(&r->prev_kvs[r->n_prev_kvs], &evs[i].prev, 0) != 0) return -1;
        r->n_prev_kvs++;
    }
    return 0;
}

int dc__mem_txn(void *conn, const dc_txn_req *req, dc_txn_result *out, dc_drv_err *err)
{
    mem_store *m = mem_of(conn);
    if ((int64_t)req->n_compares > m->max_txn_ops || (int64_t)req->n_ops[0] > m->max_txn_ops ||
        (int64_t)req->n_ops[1] > m->max_txn_ops)
        return ERR(err, DC_ETOOBIG,
                   "mem: txn has %zu compares and %zu/%zu ops, limit %lld per list",
                   req->n_compares, req->n_ops[0], req->n_ops[1], (long long)m->max_txn_ops);
    for (int b = 0; b < 2; b++)
        for (size_t i = 0; i < req->n_ops[b]; i++)
            if (req->ops[b][i].kind == DC_OP_PUT &&
                (int64_t)req->ops[b][i].value_len > m->max_value_bytes)
                return ERR(err, DC_ETOOBIG, "mem: value of %zu bytes, limit %lld",
                           req->ops[b][i].value_len, (long long)m->max_value_bytes);

    pthread_mutex_lock(&m->mu);
    /* a txn prepared against a history that was reset must not apply to the new one */
    int erc = dc__mem_check_epoch(conn, err);
    if (erc != DC_OK) {
        pthread_mutex_unlock(&m->mu);
        return erc;
    }
    int ok = 1;
    for (size_t i = 0; i < req->n_compares && ok; i++) ok = compare_holds(m, &req->compares[i]);
    const dc_op *ops = req->ops[ok ? DC_THEN : DC_ELSE];
    size_t nops = req->n_ops[ok ? DC_THEN : DC_ELSE];

    int writes = 0;
    for (size_t i = 0; i < nops; i++) {
        const dc_op *op = &ops[i];
        if (op->kind == DC_OP_PUT && op->lease) {
            mem_lease *l;
            HASH_FIND(hh, m->leases, &op->lease, sizeof op->lease, l);
            /* an expired lease the reaper has not reached yet is gone too */
            if (!l || l->deadline_ms <= dc__mem_now(m)) {
                pthread_mutex_unlock(&m->mu);
                return ERR(err, DC_ENOTFOUND, "mem: lease %lld not found", (long long)op->lease);
            }
        }
        if (op->kind == DC_OP_PUT || (op->kind == DC_OP_DELETE && delete_matches(m, op)))
            writes = 1;
    }
    int64_t rev = writes ? m->rev + 1 : m->rev;

    plan p;
    plan_init(&p);
    dc_response *resp = nops ? calloc(nops, sizeof *resp) : NULL;
    if ((nops && !resp) || plan_ops(m, &p, ops, nops, rev) != 0 || log_reserve(m, p.n) != 0 ||
        keys_reserve(m, p.n) != 0) {
        plan_free(&p, 0);
        free(resp);
        pthread_mutex_unlock(&m->mu);
        return ERR(err, DC_ENOMEM, "mem: out of memory preparing a txn");
    }

    /* Commit: from here on nothing may fail before every write is linked. */
    size_t first_event = m->len;
    int resp_oom = 0;
    for (size_t i = 0; i < nops; i++) {
        const dc_op *op = &ops[i];
        dc_response *r = &resp[i];
        r->kind = op->kind;
        plan_item *items = p.items ? p.items + p.op_first[i] : NULL;
        size_t n = p.op_count[i];
        if (op->kind == DC_OP_GET) {
            if (mem_range(m, op, &r->kvs, &r->n_kvs, &r->count, &r->more) != DC_OK) resp_oom = 1;
            continue;
        }
        if (op->kind == DC_OP_DELETE) r->deleted = (int64_t)n;
        size_t slot = m->len;
        for (size_t j = 0; j < n; j++) commit_item(m, &items[j], rev);
        if (op->flags & DC_PREV_KV && fill_prev(r, &m->log[slot], n) != 0) resp_oom = 1;
    }
    m->rev = rev;
    size_t nev = m->len - first_event;
    plan_free(&p, 1);
    if (nev) dc__mem_watch_notify(m, first_event, nev);
    pthread_mutex_unlock(&m->mu);

    out->succeeded = ok;
    out->revision = rev;
    out->responses = resp;
    out->n_responses = nops;
    if (resp_oom)
        return ERR(err, DC_EUNKNOWN,
                   "mem: txn committed at revision %lld but its responses ran out of memory",
                   (long long)rev);
    return DC_OK;
}

int dc__mem_lease_delete_keys(mem_store *m, mem_lease *l)
{
    if (!l->keys) return 0;
    int64_t rev = m->rev + 1;
    plan p;
    plan_init(&p);
    for (mem_key *k = l->keys; k; k = k->lease_next)
        if (plan_delete_key(&p, k, rev) != 0) {
            plan_free(&p, 0);
            return -1;
        }
    if (log_reserve(m, p.n) != 0) {
        plan_free(&p, 0);
        return -1;
    }
    size_t first = m->len;
    for (size_t i = 0; i < p.n; i++) commit_item(m, &p.items[i], rev);
    m->rev = rev;
    plan_free(&p, 1);
    dc__mem_watch_notify(m, first, m->len - first);
    return 0;
}

/* ------------------------------------------------------------ compaction */

int dc__mem_compact(void *conn, int64_t revision, dc_drv_err *err)
{
    mem_store *m = mem_of(conn);
    pthread_mutex_lock(&m->mu);
    int rc = dc__mem_check_epoch(conn, err);
    if (rc != DC_OK) {
        /* a reset instance: nothing to compact for this handle */
    } else if (revision > m->rev) {
        rc = ERR(err, DC_EINVAL, "mem: cannot compact at %lld: a future revision (current %lld)",
                 (long long)revision, (long long)m->rev);
    } else if (revision <= m->compact_rev) {
        err->compact_revision = m->compact_rev;
        rc = ERR(err, DC_ECOMPACTED, "mem: revision %lld already compacted (compact revision %lld)",
                 (long long)revision, (long long)m->compact_rev);
    } else {
        while (m->head < m->len && m->log_rev[m->head] < revision) {
            event_clear(&m->log[m->head]);
            m->head++;
        }
        m->compact_rev = revision;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static const dc_driver mem_driver = {
    .abi_version = DC_DRIVER_ABI,
    .size = sizeof(dc_driver),
    .name = "mem",
    .version = "built-in",
    .open = mem_open,
    .close = mem_close,
    .get = dc__mem_fp_get, /* the mem_fp_ calls consult the handle's failpoint hook */
    .txn = dc__mem_fp_txn,
    .compact = dc__mem_fp_compact,
    .watch_start = dc__mem_fp_watch_start,
    .watch_stop = dc__mem_watch_stop,
    .lease_grant = dc__mem_fp_lease_grant,
    .lease_keepalive = dc__mem_fp_lease_keepalive,
    .lease_revoke = dc__mem_fp_lease_revoke,
    .get_page = dc__mem_get_page,
};

const dc_driver *dc__mem_driver(void)
{
    return &mem_driver;
}
