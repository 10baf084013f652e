/*
 * bench_zk: the ZooKeeper driver against the raw ZooKeeper C client doing
 * the least work with the same effect, in the same run on the same server.
 *
 *   put   driver: dc_put (a pipelined read of the key and its deletion
 *                 generation, then one multi: pointer check, generation
 *                 check, set, event, revision)
 *         raw:    zoo_get of the key, then a 3-op zoo_multi (versioned set
 *                 of the key, sequential event create, set of a revision
 *                 node) — the note's minimum for a revisioned put with history
 *   get   driver: dc_get of one key (a consistent read: revision bracket)
 *         raw:    zoo_get
 *   txn   driver: compare mod_revision == last seen, then put (a CAS)
 *         raw:    zoo_get + the same 3-op multi (the version check is the CAS)
 *
 * Each cell runs for a fixed time with 1, 4 and 16 callers sharing one
 * handle (a dc_store, or one zhandle_t), each caller on keys of its own, and
 * reports throughput, p50/p99 latency and the driver/raw ratios. Driver and
 * raw alternate in eight rounds per cell, so load changes hit both alike.
 *
 * usage: bench_zk <zk://host:port> [seconds per cell, default 2] [ops: put,get,txn]
 *                 [callers: 1,4,16]
 */
#include <ddlcoord/ddlcoord.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#define KEYS_PER_CALLER 50
#define MAX_SAMPLES     400000
#define ROUNDS          8

typedef enum { OP_PUT, OP_GET, OP_TXN } op_kind;
static const char *op_names[] = {"put", "get", "txn"};

static dc_store *store;
static zhandle_t *zh;
static const char *raw_root = "/bench-raw";
static double seconds = 2.0;
static char value[100];

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct caller {
    int id;
    op_kind op;
    int raw;
    int64_t *lat;
    size_t n;
    int errors;
    int64_t last_mod[KEYS_PER_CALLER];
    atomic_int *stop;
} caller;

static int raw_put(caller *c, int k)
{
    char path[128], evdir[128], rev[128], buf[256];
    snprintf(path, sizeof path, "%s/kv/c%d-%d", raw_root, c->id, k);
    snprintf(evdir, sizeof evdir, "%s/ev/e-", raw_root);
    snprintf(rev, sizeof rev, "%s/rev", raw_root);
    int len = sizeof buf;
    struct Stat st, rst;
    int rc = zoo_get(zh, path, 0, buf, &len, &st);
    if (rc != ZOK) return rc;
    zoo_op_t ops[3];
    zoo_op_result_t res[3];
    char created[160];
    zoo_set_op_init(&ops[0], path, value, (int)sizeof value, st.version, NULL);
    zoo_create_op_init(&ops[1], evdir, value, (int)sizeof value, &ZOO_OPEN_ACL_UNSAFE,
                       ZOO_PERSISTENT_SEQUENTIAL, created, sizeof created);
    zoo_set_op_init(&ops[2], rev, "", 0, -1, &rst);
    return zoo_multi(zh, 3, ops, res);
}

static int raw_get(caller *c, int k)
{
    char path[128], buf[256];
    snprintf(path, sizeof path, "%s/kv/c%d-%d", raw_root, c->id, k);
    int len = sizeof buf;
    struct Stat st;
    return zoo_get(zh, path, 0, buf, &len, &st);
}

static int drv_op(caller *c, int k)
{
    char key[64];
    int kl = snprintf(key, sizeof key, "bench/c%d-%d", c->id, k);
    if (c->op == OP_PUT) {
        int64_t rev;
        int rc = dc_put(store, key, (size_t)kl, value, sizeof value, 0, &rev);
        if (rc == DC_OK) c->last_mod[k] = rev;
        return rc;
    }
    if (c->op == OP_GET) {
        dc_kvs *r;
        int rc = dc_get(store, key, (size_t)kl, 0, 0, &r);
        if (rc == DC_OK) dc_kvs_free(r);
        return rc;
    }
    dc_txn *t = dc_txn_new();
    dc_txn_compare_int(t, key, (size_t)kl, DC_TARGET_MOD, DC_CMP_EQUAL, c->last_mod[k]);
    dc_txn_put(t, DC_THEN, key, (size_t)kl, value, sizeof value, 0, 0);
    dc_txn_result *r = NULL;
    int rc = dc_txn_commit(store, t, &r);
    dc_txn_free(t);
    if (rc == DC_OK) {
        if (!r->succeeded) rc = -1000; /* nobody else writes these keys */
        c->last_mod[k] = r->revision;
        dc_txn_result_free(r);
    }
    return rc;
}

static void *run_caller(void *p)
{
    caller *c = p;
    for (int i = 0; !atomic_load(c->stop); i++) {
        int k = i % KEYS_PER_CALLER;
        int64_t t0 = now_us();
        int rc = c->raw ? (c->op == OP_GET ? raw_get(c, k) : raw_put(c, k)) : drv_op(c, k);
        int64_t dt = now_us() - t0;
        if (rc != 0) c->errors++;
        if (c->n < MAX_SAMPLES) c->lat[c->n++] = dt;
    }
    return NULL;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Samples of one kind of cell, accumulated over several rounds. */
typedef struct acc {
    int64_t *lat;
    size_t n, cap;
    double busy; /* seconds measured */
    int errors;
} acc;

typedef struct result {
    double ops, p50, p99;
    int errors;
} result;

/* Run callers for `secs` and add their samples to a. */
static void run_round(op_kind op, int raw, int callers, double secs, acc *a)
{
    atomic_int stop = 0;
    caller *cs = calloc((size_t)callers, sizeof *cs);
    pthread_t *th = calloc((size_t)callers, sizeof *th);
    for (int i = 0; i < callers; i++) {
        cs[i].id = i;
        cs[i].op = op;
        cs[i].raw = raw;
        cs[i].stop = &stop;
        cs[i].lat = malloc(MAX_SAMPLES * sizeof *cs[i].lat);
        if (!raw && op == OP_TXN)
            for (int k = 0; k < KEYS_PER_CALLER; k++) { /* learn the mod revisions */
                char key[64];
                int kl = snprintf(key, sizeof key, "bench/c%d-%d", i, k);
                dc_kvs *r;
                if (dc_get(store, key, (size_t)kl, 0, 0, &r) == DC_OK) {
                    cs[i].last_mod[k] = r->n ? r->kvs[0].mod_revision : 0;
                    dc_kvs_free(r);
                }
            }
    }
    int64_t t0 = now_us();
    for (int i = 0; i < callers; i++) pthread_create(&th[i], NULL, run_caller, &cs[i]);
    usleep((useconds_t)(secs * 1e6));
    atomic_store(&stop, 1);
    for (int i = 0; i < callers; i++) pthread_join(th[i], NULL);
    a->busy += (double)(now_us() - t0) / 1e6;
    for (int i = 0; i < callers; i++) {
        if (a->n + cs[i].n > a->cap) {
            size_t cap = (a->n + cs[i].n) * 2;
            int64_t *l = realloc(a->lat, cap * sizeof *l);
            if (!l) abort();
            a->lat = l;
            a->cap = cap;
        }
        memcpy(a->lat + a->n, cs[i].lat, cs[i].n * sizeof *a->lat);
        a->n += cs[i].n;
        a->errors += cs[i].errors;
        free(cs[i].lat);
    }
    free(cs);
    free(th);
}

static result summarise(acc *a)
{
    result r = {0};
    qsort(a->lat, a->n, sizeof *a->lat, cmp64);
    r.ops = a->busy > 0 ? (double)a->n / a->busy : 0;
    r.p50 = a->n ? (double)a->lat[a->n / 2] / 1000.0 : 0;
    r.p99 = a->n ? (double)a->lat[a->n * 99 / 100] / 1000.0 : 0;
    r.errors = a->errors;
    free(a->lat);
    memset(a, 0, sizeof *a);
    return r;
}

static void mk(const char *path)
{
    int rc = zoo_create(zh, path, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    if (rc != ZOK && rc != ZNODEEXISTS) fprintf(stderr, "create %s: %s\n", path, zerror(rc));
}

static void setup(void)
{
    char p[128];
    mk(raw_root);
    snprintf(p, sizeof p, "%s/kv", raw_root);
    mk(p);
    snprintf(p, sizeof p, "%s/ev", raw_root);
    mk(p);
    snprintf(p, sizeof p, "%s/rev", raw_root);
    mk(p);
    for (int c = 0; c < 16; c++)
        for (int k = 0; k < KEYS_PER_CALLER; k++) {
            snprintf(p, sizeof p, "%s/kv/c%d-%d", raw_root, c, k);
            mk(p);
            char key[64];
            int kl = snprintf(key, sizeof key, "bench/c%d-%d", c, k);
            dc_put(store, key, (size_t)kl, value, sizeof value, 0, NULL);
        }
}

/* 1 if the comma-separated list has item. */
static int list_has(const char *list, const char *item)
{
    size_t n = strlen(item);
    for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, item, n) == 0 && (p[n] == ',' || p[n] == '\0')) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <zk://host:port> [seconds per cell] [put,get,txn] [1,4,16]\n",
                argv[0]);
        return 2;
    }
    if (argc > 2) seconds = atof(argv[2]);
    const char *only_ops = argc > 3 ? argv[3] : "put,get,txn";
    const char *only_callers = argc > 4 ? argv[4] : "1,4,16";
    memset(value, 'v', sizeof value);
    if (dc_store_open(argv[1], &store) != DC_OK) {
        fprintf(stderr, "open %s: %s\n", argv[1], dc_last_error());
        return 1;
    }
    char hosts[256];
    snprintf(hosts, sizeof hosts, "%.*s", (int)strcspn(argv[1] + 5, "/?"), argv[1] + 5);
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    zh = zookeeper_init(hosts, NULL, 10000, NULL, NULL, 0);
    struct Stat st;
    for (int i = 0; i < 100 && zoo_exists(zh, "/", 0, &st) != ZOK; i++) usleep(50000);
    setup();

    printf("ZooKeeper driver vs raw C client, %s, %.1f s per cell, 100-byte values\n", argv[1],
           seconds);
    printf("%-4s %7s | %10s %8s %8s | %10s %8s %8s | %9s %9s\n", "op", "callers", "driver/s",
           "p50 ms", "p99 ms", "raw/s", "p50 ms", "p99 ms", "lat ratio", "thr ratio");
    int callers[] = {1, 4, 16};
    for (int o = 0; o < 3; o++)
        for (int ci = 0; ci < 3; ci++) {
            char cs[8];
            snprintf(cs, sizeof cs, "%d", callers[ci]);
            if (!strstr(only_ops, op_names[o]) || !list_has(only_callers, cs)) continue;
            /* driver and raw take turns, so that a change in the machine's
             * load hits both sides alike */
            acc da = {0}, ra = {0};
            for (int round = 0; round < ROUNDS; round++) {
                run_round((op_kind)o, 0, callers[ci], seconds / ROUNDS, &da);
                run_round((op_kind)o, 1, callers[ci], seconds / ROUNDS, &ra);
            }
            result d = summarise(&da), r = summarise(&ra);
            printf("%-4s %7d | %10.0f %8.3f %8.3f | %10.0f %8.3f %8.3f | %8.2fx %8.2fx%s\n",
                   op_names[o], callers[ci], d.ops, d.p50, d.p99, r.ops, r.p50, r.p99,
                   r.p50 > 0 ? d.p50 / r.p50 : 0, d.ops > 0 ? r.ops / d.ops : 0,
                   d.errors || r.errors ? "  (errors!)" : "");
            fflush(stdout);
        }
    printf("lat ratio = driver p50 / raw p50; thr ratio = raw ops/s / driver ops/s "
           "(target for put: <= 1.3x)\n");
    zookeeper_close(zh);
    dc_store_close(store);
    return 0;
}
