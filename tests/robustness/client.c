/*
 * One workload client: its own store handle, random reads, writes and txns on
 * the small key set, each recorded with its invoke and complete times, its
 * return code and everything the store answered. Compares are made from what
 * this client last saw of a key, so that most of them succeed and some lose
 * races; an else-branch only ever reads, so a txn whose writes show up in a
 * watch is known to have taken its then-branch. Every value a client writes is
 * unique in the run ("c<client>.<n>[.<i>]"), so the checker can tell whose
 * write an event is.
 */
#include "robust.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct seen {
    int exists;
    char val[64];
    int64_t mod, ver; /* -1: unknown */
} seen;

typedef struct client {
    rb_client *me;
    rb_run *run;
    dc_store *s;
    int epoch; /* of s */
    uint64_t rng;
    int64_t seq;
    seen keys[RB_NKEYS];
} client;

/* A txn built together with its description in the history. */
typedef struct txb {
    dc_txn *t;
    cJSON *cmp, *br[2];
} txb;

static const char *target_name[] = {"value", "version", "create", "mod", "lease"};
static const char *cmp_name[] = {"==", "!=", "<", ">"};

static int key_index(const client *c, const char *key)
{
    for (int i = 0; i < RB_NKEYS; i++)
        if (strcmp(c->run->keys[i], key) == 0) return i;
    return -1;
}

static const char *key_of(const client *c, int idx)
{
    return c->run->keys[idx];
}

static void txb_init(txb *b)
{
    b->t = dc_txn_new();
    if (!b->t) rb_die("out of memory");
    b->cmp = rb_arr();
    b->br[0] = rb_arr();
    b->br[1] = rb_arr();
}

static void cmp_int(txb *b, const char *key, dc_target tg, dc_cmp op, int64_t n)
{
    dc_txn_compare_int(b->t, key, strlen(key), tg, op, n);
    cJSON *a = rb_arr();
    rb_push(a, rb_str(key, strlen(key)));
    rb_push(a, rb_str(target_name[tg], strlen(target_name[tg])));
    rb_push(a, rb_str(cmp_name[op], strlen(cmp_name[op])));
    rb_push(a, rb_int(n));
    rb_push(b->cmp, a);
}

static void cmp_val(txb *b, const char *key, dc_cmp op, const char *val)
{
    dc_txn_compare_value(b->t, key, strlen(key), op, val, strlen(val));
    cJSON *a = rb_arr();
    rb_push(a, rb_str(key, strlen(key)));
    rb_push(a, rb_str("value", 5));
    rb_push(a, rb_str(cmp_name[op], strlen(cmp_name[op])));
    rb_push(a, rb_str(val, strlen(val)));
    rb_push(b->cmp, a);
}

static void op_put(txb *b, dc_branch br, const char *key, const char *val)
{
    dc_txn_put(b->t, br, key, strlen(key), val, strlen(val), 0, DC_PREV_KV);
    cJSON *a = rb_arr();
    rb_push(a, rb_str("put", 3));
    rb_push(a, rb_str(key, strlen(key)));
    rb_push(a, rb_str(val, strlen(val)));
    rb_push(b->br[br], a);
}

static void op_del(txb *b, dc_branch br, const char *key)
{
    dc_txn_delete(b->t, br, key, strlen(key), DC_PREV_KV);
    cJSON *a = rb_arr();
    rb_push(a, rb_str("del", 3));
    rb_push(a, rb_str(key, strlen(key)));
    rb_push(b->br[br], a);
}

static void op_get(txb *b, dc_branch br, const char *key, int prefix)
{
    dc_txn_get(b->t, br, key, strlen(key), prefix ? DC_PREFIX : 0, 0);
    cJSON *a = rb_arr();
    rb_push(a, rb_str(prefix ? "getp" : "get", prefix ? 4 : 3));
    rb_push(a, rb_str(key, strlen(key)));
    rb_push(b->br[br], a);
}

static cJSON *kvs_json(const dc_kv *kvs, size_t n)
{
    cJSON *a = rb_arr();
    for (size_t i = 0; i < n; i++) rb_push(a, rb_kv(&kvs[i]));
    return a;
}

/* What a read tells this client about the keys it covers. */
static void learn_kvs(client *c, const char *key, int prefix, const dc_kv *kvs, size_t n)
{
    for (int i = 0; i < RB_NKEYS; i++) {
        const char *k = key_of(c, i);
        int covered = prefix ? strncmp(k, key, strlen(key)) == 0 : strcmp(k, key) == 0;
        if (!covered) continue;
        seen *s = &c->keys[i];
        s->exists = 0;
        s->mod = s->ver = 0;
        for (size_t j = 0; j < n; j++) {
            if (strlen(k) != kvs[j].key_len || memcmp(k, kvs[j].key, kvs[j].key_len) != 0) continue;
            s->exists = 1;
            snprintf(s->val, sizeof s->val, "%.*s", (int)kvs[j].value_len, kvs[j].value);
            s->mod = kvs[j].mod_revision;
            s->ver = kvs[j].version;
        }
    }
}

static void learn_put(client *c, const char *key, const char *val, int64_t rev, int64_t ver)
{
    int i = key_index(c, key);
    if (i < 0) return;
    c->keys[i].exists = 1;
    snprintf(c->keys[i].val, sizeof c->keys[i].val, "%s", val);
    c->keys[i].mod = rev;
    c->keys[i].ver = ver;
}

static void learn_del(client *c, const char *key)
{
    int i = key_index(c, key);
    if (i < 0) return;
    c->keys[i].exists = 0;
    c->keys[i].mod = c->keys[i].ver = 0;
}

static void note_acked(client *c, int64_t rev)
{
    int64_t cur = atomic_load(&c->run->max_acked_rev);
    while (rev > cur && !atomic_compare_exchange_weak(&c->run->max_acked_rev, &cur, rev)) {
    }
}

/* Commit b, record it and learn from the answer. */
static void run_txn(client *c, txb *b, cJSON *rec)
{
    cJSON *op = rb_obj(NULL);
    rb_add_str(op, "kind", "txn", 3);
    cJSON_AddItemToObject(op, "cmp", b->cmp);
    cJSON_AddItemToObject(op, "then", b->br[0]);
    cJSON_AddItemToObject(op, "else", b->br[1]);
    cJSON_AddItemToObject(rec, "op", op);

    dc_txn_result *r = NULL;
    rb_add_int(rec, "inv", rb_now());
    int rc = dc_txn_commit(c->s, b->t, &r);
    rb_add_int(rec, "ret", rb_now());
    rb_add_rc(rec, rc);
    if (rc == DC_OK) {
        cJSON *res = rb_obj(NULL);
        rb_add_bool(res, "ok", r->succeeded);
        rb_add_int(res, "rev", r->revision);
        cJSON *resp = rb_arr();
        cJSON *ops = r->succeeded ? b->br[0] : b->br[1];
        for (size_t i = 0; i < r->n_responses; i++) {
            const dc_response *p = &r->responses[i];
            cJSON *o = rb_obj(NULL);
            cJSON *desc = cJSON_GetArrayItem(ops, (int)i);
            const char *kind = desc ? cJSON_GetArrayItem(desc, 0)->valuestring : "?";
            const char *key = desc ? cJSON_GetArrayItem(desc, 1)->valuestring : "";
            if (p->kind == DC_OP_GET) {
                cJSON_AddItemToObject(o, "kvs", kvs_json(p->kvs, p->n_kvs));
                rb_add_int(o, "count", p->count);
                rb_add_bool(o, "more", p->more);
                learn_kvs(c, key, strcmp(kind, "getp") == 0, p->kvs, p->n_kvs);
            } else {
                if (p->kind == DC_OP_DELETE) rb_add_int(o, "deleted", p->deleted);
                cJSON_AddItemToObject(o, "prev", kvs_json(p->prev_kvs, p->n_prev_kvs));
                if (p->kind == DC_OP_PUT && desc) {
                    const char *val = cJSON_GetArrayItem(desc, 2)->valuestring;
                    int64_t ver = p->n_prev_kvs ? p->prev_kvs[0].version + 1 : 1;
                    learn_put(c, key, val, r->revision, ver);
                } else if (p->kind == DC_OP_DELETE) {
                    learn_del(c, key);
                }
            }
            rb_push(resp, o);
        }
        cJSON_AddItemToObject(res, "resp", resp);
        cJSON_AddItemToObject(rec, "res", res);
        if (r->succeeded && cJSON_GetArraySize(b->br[0]) > 0) note_acked(c, r->revision);
    }
    dc_txn_result_free(r);
    dc_txn_free(b->t);
}

static void do_get(client *c, cJSON *rec, const char *key, int prefix)
{
    cJSON *op = rb_obj(NULL);
    rb_add_str(op, "kind", prefix ? "getp" : "get", prefix ? 4 : 3);
    rb_add_str(op, "key", key, strlen(key));
    cJSON_AddItemToObject(rec, "op", op);
    dc_kvs *kvs = NULL;
    rb_add_int(rec, "inv", rb_now());
    int rc = dc_get(c->s, key, strlen(key), prefix ? DC_PREFIX : 0, 0, &kvs);
    rb_add_int(rec, "ret", rb_now());
    rb_add_rc(rec, rc);
    if (rc == DC_OK) {
        cJSON *res = rb_obj(NULL);
        rb_add_int(res, "rev", kvs->revision);
        rb_add_int(res, "count", kvs->count);
        cJSON_AddItemToObject(res, "kvs", kvs_json(kvs->kvs, kvs->n));
        cJSON_AddItemToObject(rec, "res", res);
        learn_kvs(c, key, prefix, kvs->kvs, kvs->n);
    }
    dc_kvs_free(kvs);
}

static void do_put(client *c, cJSON *rec, const char *key, const char *val)
{
    cJSON *op = rb_obj(NULL);
    rb_add_str(op, "kind", "put", 3);
    rb_add_str(op, "key", key, strlen(key));
    rb_add_str(op, "val", val, strlen(val));
    cJSON_AddItemToObject(rec, "op", op);
    int64_t rev = 0;
    rb_add_int(rec, "inv", rb_now());
    int rc = dc_put(c->s, key, strlen(key), val, strlen(val), 0, &rev);
    rb_add_int(rec, "ret", rb_now());
    rb_add_rc(rec, rc);
    if (rc == DC_OK) {
        cJSON *res = rb_obj(NULL);
        rb_add_int(res, "rev", rev);
        cJSON_AddItemToObject(rec, "res", res);
        learn_put(c, key, val, rev, -1);
        note_acked(c, rev);
    }
}

static void do_del(client *c, cJSON *rec, const char *key)
{
    cJSON *op = rb_obj(NULL);
    rb_add_str(op, "kind", "del", 3);
    rb_add_str(op, "key", key, strlen(key));
    cJSON_AddItemToObject(rec, "op", op);
    int64_t rev = 0, deleted = 0;
    rb_add_int(rec, "inv", rb_now());
    int rc = dc_delete(c->s, key, strlen(key), 0, &deleted, &rev);
    rb_add_int(rec, "ret", rb_now());
    rb_add_rc(rec, rc);
    if (rc == DC_OK) {
        cJSON *res = rb_obj(NULL);
        rb_add_int(res, "rev", rev);
        rb_add_int(res, "deleted", deleted);
        cJSON_AddItemToObject(rec, "res", res);
        learn_del(c, key);
        if (deleted) note_acked(c, rev);
    }
}

static void next_value(client *c, char *buf, size_t len, int part)
{
    if (part < 0)
        snprintf(buf, len, "c%d.%lld", c->me->id, (long long)c->seq);
    else
        snprintf(buf, len, "c%d.%lld.%d", c->me->id, (long long)c->seq, part);
}

/* After DC_ERESET: the handle is poisoned for good. Wait for the fault
 * thread to finish the reset (a DC_ERESET without one is the checker's
 * finding, reset-spurious: then carry on in the same epoch), open a handle of
 * the new epoch and forget what the old one saw. */
static void reopen(client *c)
{
    rb_wait_epoch(c->run, c->epoch);
    dc_store_close(c->s);
    c->s = NULL;
    c->epoch = atomic_load(&c->run->epoch);
    c->s = rb_open_retry(c->run, "client reopen");
    for (int i = 0; i < RB_NKEYS; i++) {
        c->keys[i].exists = 0;
        c->keys[i].mod = c->keys[i].ver = -1;
    }
}

static void one_op(client *c)
{
    rb_run *run = c->run;
    int g = (int)(rb_rand(&c->rng) % RB_GROUPS);
    int k1 = g * RB_KEYS + (int)(rb_rand(&c->rng) % RB_KEYS);
    int k2 = g * RB_KEYS + (int)((k1 % RB_KEYS + 1 + rb_rand(&c->rng) % (RB_KEYS - 1)) % RB_KEYS);
    const char *key = key_of(c, k1), *key2 = key_of(c, k2);
    char gprefix[160];
    snprintf(gprefix, sizeof gprefix, "%s%c/", run->cfg->prefix, 'a' + g);
    char v1[64], v2[64];
    c->seq++;
    next_value(c, v1, sizeof v1, -1);
    const seen *s1 = &c->keys[k1], *s2 = &c->keys[k2];

    cJSON *rec = rb_obj("op");
    rb_add_int(rec, "c", c->me->id);
    rb_add_int(rec, "id", c->seq);
    rb_add_int(rec, "e", c->epoch);
    int pick = (int)(rb_rand(&c->rng) % 100);
    txb b;
    if (pick < 14) {
        do_get(c, rec, key, 0);
    } else if (pick < 22) {
        do_get(c, rec, gprefix, 1);
    } else if (pick < 40) {
        do_put(c, rec, key, v1);
    } else if (pick < 48) {
        do_del(c, rec, key);
    } else if (pick < 66) { /* compare-and-set on mod_revision (or absence) */
        txb_init(&b);
        if (s1->exists && s1->mod > 0)
            cmp_int(&b, key, DC_TARGET_MOD, DC_CMP_EQUAL, s1->mod);
        else
            cmp_int(&b, key, DC_TARGET_CREATE, DC_CMP_EQUAL, 0);
        op_put(&b, DC_THEN, key, v1);
        op_get(&b, DC_ELSE, key, 0);
        run_txn(c, &b, rec);
    } else if (pick < 74) { /* compare-and-delete on the value */
        txb_init(&b);
        cmp_val(&b, key, DC_CMP_EQUAL, s1->exists ? s1->val : "none");
        op_del(&b, DC_THEN, key);
        op_get(&b, DC_ELSE, key, 0);
        run_txn(c, &b, rec);
    } else if (pick < 86) { /* two keys of a group, guarded by both */
        txb_init(&b);
        cmp_int(&b, key, DC_TARGET_VERSION, DC_CMP_EQUAL, s1->ver > 0 && s1->exists ? s1->ver : 0);
        cmp_int(&b, key2, DC_TARGET_MOD, DC_CMP_EQUAL, s2->exists && s2->mod > 0 ? s2->mod : 0);
        next_value(c, v1, sizeof v1, 0);
        op_put(&b, DC_THEN, key, v1);
        if (rb_rand(&c->rng) % 2) {
            next_value(c, v2, sizeof v2, 1);
            op_put(&b, DC_THEN, key2, v2);
        } else {
            op_del(&b, DC_THEN, key2);
        }
        op_get(&b, DC_ELSE, gprefix, 1);
        run_txn(c, &b, rec);
    } else if (pick < 92) { /* two keys, no compare */
        txb_init(&b);
        next_value(c, v1, sizeof v1, 0);
        op_put(&b, DC_THEN, key, v1);
        op_del(&b, DC_THEN, key2);
        run_txn(c, &b, rec);
    } else { /* the other compare targets and operators */
        txb_init(&b);
        cmp_int(&b, key, DC_TARGET_CREATE, DC_CMP_GREATER, 0);
        cmp_val(&b, key, DC_CMP_NOT_EQUAL, s1->exists ? s1->val : "none");
        cmp_int(&b, key2, DC_TARGET_VERSION, DC_CMP_LESS, 5);
        cmp_int(&b, key2, DC_TARGET_LEASE, DC_CMP_EQUAL, 0);
        op_put(&b, DC_THEN, key, v1);
        op_get(&b, DC_ELSE, key, 0);
        op_get(&b, DC_ELSE, key2, 0);
        run_txn(c, &b, rec);
    }
    const cJSON *rc = cJSON_GetObjectItemCaseSensitive(rec, "rc");
    int reset = cJSON_IsString(rc) && strcmp(rc->valuestring, "DC_ERESET") == 0;
    rb_hist_write(rec);
    atomic_fetch_add(&run->ops, 1);
    if (reset) reopen(c);
}

void *rb_client_main(void *arg)
{
    rb_client *me = arg;
    client c = {.me = me, .run = me->run};
    c.rng = me->run->cfg->seed * 1000003u + (uint64_t)me->id * 7919u + 1;
    for (int i = 0; i < RB_NKEYS; i++) c.keys[i].mod = c.keys[i].ver = -1;
    int rc = dc_store_open(me->run->cfg->uri, &c.s);
    if (rc != DC_OK) rb_die("client %d: open: %s: %s", me->id, dc_errname(rc), dc_last_error());
    const int64_t interval = me->run->cfg->rate > 0 ? 1000000000LL / me->run->cfg->rate : 0;
    int64_t next = rb_now();
    while (!atomic_load(&me->run->stop_clients)) {
        if (atomic_load(&me->run->pause)) { /* a reset is coming: hold still */
            atomic_fetch_add(&me->run->paused, 1);
            while (atomic_load(&me->run->pause)) rb_sleep_unless(5, &me->run->stop_clients);
            atomic_fetch_sub(&me->run->paused, 1);
            next = rb_now();
        }
        one_op(&c);
        if (interval > 0) {
            next += interval;
            int64_t now = rb_now();
            if (next > now) {
                int64_t ns = next - now;
                struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
                nanosleep(&ts, NULL);
            } else {
                next = now; /* behind (a fault): do not burst to catch up */
            }
        }
    }
    dc_store_close(c.s);
    return NULL;
}
