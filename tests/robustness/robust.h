/*
 * The history recorder of the robustness test (tests/robustness/README.md):
 * client threads that run random reads, writes and compare-and-set txns on a
 * small key set, watchers that follow the key prefix, and a fault thread,
 * all writing what they did and saw to one JSON-lines history file that
 * check.py verifies afterwards. This header is shared by the recorder's files.
 */
#ifndef DC_ROBUST_H
#define DC_ROBUST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <ddlcoord/ddlcoord.h>

/* The key set: RB_GROUPS groups of RB_KEYS keys, <prefix><group>/<i>.
 * Multi-key txns and prefix reads stay inside one group, so the checker can
 * check each group on its own. */
#define RB_GROUPS 2
#define RB_KEYS   3
#define RB_NKEYS  (RB_GROUPS * RB_KEYS)

typedef struct rb_config {
    const char *uri;
    const char *out;
    const char *prefix; /* key prefix; every key of the run is under it */
    int seconds;
    int clients;
    int rate; /* ops per second per client (0 = as fast as possible) */
    uint64_t seed;
    const char *fault_cmd; /* external faults: "<fault_cmd> kill|stop|reset|wipe" */
    char faults[8][16];    /* enabled external faults */
    int n_faults;
    int fault_interval_ms;   /* mean time between external faults */
    int compact_interval_ms; /* 0 = no compaction */
    int drain_ms;            /* how long watchers may take to catch up at the end */
} rb_config;

/* Shared run state. */
typedef struct rb_run {
    const rb_config *cfg;
    int64_t start_rev;
    atomic_int stop_clients; /* clients and fault thread stop */
    atomic_int stop_watchers;
    _Atomic int64_t drain_to;        /* watchers stop once they delivered this revision */
    _Atomic int64_t steady_last_rev; /* the steady watcher's last delivered revision */
    _Atomic int64_t max_acked_rev;   /* highest revision a client write got */
    _Atomic int64_t ops, events, faults, compactions;
    char keys[RB_NKEYS][128];
    /* Store resets ("reset", "wipe": rb_is_reset). A reset starts a new
     * epoch: every handle opened before it is poisoned (DC_ERESET), and
     * whoever gets DC_ERESET waits for the epoch to change and reopens. Each
     * op, watch session and compaction records the epoch of its handle. The
     * fault thread quiesces the clients before a reset (pause/paused) and
     * holds reset_mu against the compactor. */
    atomic_int epoch;
    _Atomic int64_t epoch_start_rev; /* the current epoch's first revision - 1 */
    atomic_int pause, paused;
    pthread_mutex_t reset_mu;
} rb_run;

/* 1 if the fault is a store reset. */
int rb_is_reset(const char *fault);
/* Wait (up to 30 s) until run->epoch is above epoch; 1 if it is. */
int rb_wait_epoch(rb_run *run, int epoch);
/* Open a handle, retrying while the server is down or frozen (a fault), up
 * to drain_ms; rb_die names who after that. */
dc_store *rb_open_retry(const rb_run *run, const char *who);
/* Put <prefix><name> (retried while the store recovers, each attempt
 * recorded as an op of client -1 in epoch); its revision. */
int64_t rb_put_marker(rb_run *run, dc_store *s, const char *name, int epoch);

/* ---- history.c: the JSON-lines history file (thread-safe) */
int rb_hist_open(const char *path);
void rb_hist_close(void);
/* Write obj as one line and free it. */
void rb_hist_write(cJSON *obj);
/* Nanoseconds on CLOCK_MONOTONIC since the recorder started. */
int64_t rb_now(void);
void rb_clock_start(void);
/* cJSON helpers that abort the recorder (a test program) when out of memory. */
cJSON *rb_obj(const char *type);
cJSON *rb_arr(void);
void rb_add_str(cJSON *o, const char *name, const char *s, size_t len);
void rb_add_int(cJSON *o, const char *name, int64_t v);
void rb_add_bool(cJSON *o, const char *name, int v);
void rb_push(cJSON *arr, cJSON *item);
cJSON *rb_str(const char *s, size_t len);
cJSON *rb_int(int64_t v);
/* A kv as [key, value, create, mod, version, lease]. */
cJSON *rb_kv(const dc_kv *kv);
/* The rc as its name ("DC_OK", "DC_EUNKNOWN", …). */
void rb_add_rc(cJSON *o, int rc);
/* A fatal recorder error (not a store finding): message and exit(3). */
void rb_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- client.c, watcher.c, faults.c: thread bodies */
typedef struct rb_client {
    rb_run *run;
    int id;
    pthread_t th;
} rb_client;
void *rb_client_main(void *arg);

typedef struct rb_watcher {
    rb_run *run;
    int id;
    int hopper; /* 0: the steady watcher (never closed by us); 1: reopens now and then */
    uint64_t seed;
    pthread_t th;
    int epoch;           /* the epoch of its handle */
    atomic_int opened;   /* set once the first session is open */
    atomic_int complete; /* set when it reached drain_to */
} rb_watcher;
void *rb_watcher_main(void *arg);

typedef struct rb_faults {
    rb_run *run;
    pthread_t fault_th, compact_th;
} rb_faults;
void *rb_fault_main(void *arg);
void *rb_compact_main(void *arg);

/* Sleep ms milliseconds, returning early (1) when *flag becomes non-zero. */
int rb_sleep_unless(int ms, atomic_int *flag);
/* xorshift64* */
uint64_t rb_rand(uint64_t *state);

#endif
