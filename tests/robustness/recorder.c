/*
 * dc_robust: record a history of concurrent clients, watchers and faults on
 * one store, for tests/robustness/check.py to verify.
 *
 *   dc_robust --uri URI --out FILE [--seconds N] [--clients N] [--rate OPS]
 *             [--seed N] [--fault-cmd CMD --faults kill,stop,...]
 *             [--fault-interval-ms MS] [--compact-interval-ms MS] [--drain-ms MS]
 *
 * The store must be this run's alone (a private server, or a mem:// name of
 * its own): the checker holds every read revision to the writes it saw. The
 * run: note the start revision, open the watchers, run the clients for N
 * seconds while the fault thread and the compactor do their work, stop them,
 * write a last key (the sentinel) and let the watchers catch up with it.
 * Exit 0 when the history is complete (whatever it shows), 3 when recording
 * itself failed (the store could not be opened, a fault command failed, the
 * history could not be written).
 */
#include "robust.h"

#include <dlfcn.h>
#include <getopt.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
    fputs("usage: dc_robust --uri URI --out FILE [--seconds N] [--clients N] [--rate OPS]\n"
          "                 [--seed N] [--fault-cmd CMD --faults f1,f2]\n"
          "                 (faults kill, stop, reset, wipe; mem:// resets itself)\n"
          "                 [--fault-interval-ms MS] [--compact-interval-ms MS] [--drain-ms MS]\n",
          stderr);
    exit(2);
}

static int parse_int(const char *s, int lo, int hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "dc_robust: bad number '%s'\n", s);
        usage();
    }
    return (int)v;
}

static void parse_faults(rb_config *cfg, const char *list)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *f = strtok_r(buf, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        if (cfg->n_faults == 8 || strlen(f) >= sizeof cfg->faults[0]) usage();
        snprintf(cfg->faults[cfg->n_faults++], sizeof cfg->faults[0], "%s", f);
    }
}

static void parse(int argc, char **argv, rb_config *cfg)
{
    static const struct option opts[] = {
        {"uri", required_argument, 0, 'u'},
        {"out", required_argument, 0, 'o'},
        {"seconds", required_argument, 0, 's'},
        {"clients", required_argument, 0, 'c'},
        {"rate", required_argument, 0, 'r'},
        {"seed", required_argument, 0, 'S'},
        {"fault-cmd", required_argument, 0, 'F'},
        {"faults", required_argument, 0, 'f'},
        {"fault-interval-ms", required_argument, 0, 'i'},
        {"compact-interval-ms", required_argument, 0, 'C'},
        {"drain-ms", required_argument, 0, 'd'},
        {0, 0, 0, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'u':
            cfg->uri = optarg;
            break;
        case 'o':
            cfg->out = optarg;
            break;
        case 's':
            cfg->seconds = parse_int(optarg, 1, 86400);
            break;
        case 'c':
            cfg->clients = parse_int(optarg, 1, 64);
            break;
        case 'r':
            cfg->rate = parse_int(optarg, 0, 1000000);
            break;
        case 'S':
            cfg->seed = (uint64_t)parse_int(optarg, 0, 2147483647);
            break;
        case 'F':
            cfg->fault_cmd = optarg;
            break;
        case 'f':
            parse_faults(cfg, optarg);
            break;
        case 'i':
            cfg->fault_interval_ms = parse_int(optarg, 100, 3600000);
            break;
        case 'C':
            cfg->compact_interval_ms = parse_int(optarg, 0, 3600000);
            break;
        case 'd':
            cfg->drain_ms = parse_int(optarg, 100, 3600000);
            break;
        default:
            usage();
        }
    }
    if (optind != argc || !cfg->uri || !cfg->out) usage();
    int external = 0;
    for (int i = 0; i < cfg->n_faults; i++)
        external |= strcmp(cfg->faults[i], "reset") != 0 || strncmp(cfg->uri, "mem:", 4) != 0;
    if (external && !cfg->fault_cmd) {
        fputs("dc_robust: --faults needs --fault-cmd\n", stderr);
        usage();
    }
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A marker write: the sentinel at the end of the run, or the end of an epoch
 * before a reset. Its revision is where the watchers may stop. Retried (and
 * every attempt recorded) while the store recovers from a fault. */
int64_t rb_put_marker(rb_run *run, dc_store *s, const char *name, int epoch)
{
    char key[160];
    snprintf(key, sizeof key, "%s%s", run->cfg->prefix, name);
    int64_t deadline = rb_now() + (int64_t)run->cfg->drain_ms * 1000000;
    for (int attempt = 0;; attempt++) {
        int64_t rev = 0;
        cJSON *rec = rb_obj("op");
        rb_add_int(rec, "c", -1);
        rb_add_int(rec, "id", attempt);
        rb_add_int(rec, "e", epoch);
        cJSON *op = rb_obj(NULL);
        rb_add_str(op, "kind", "put", 3);
        rb_add_str(op, "key", key, strlen(key));
        char val[48];
        snprintf(val, sizeof val, "%s.%d", name, attempt);
        rb_add_str(op, "val", val, strlen(val));
        cJSON_AddItemToObject(rec, "op", op);
        rb_add_int(rec, "inv", rb_now());
        int rc = dc_put(s, key, strlen(key), val, strlen(val), 0, &rev);
        rb_add_int(rec, "ret", rb_now());
        rb_add_rc(rec, rc);
        if (rc == DC_OK) {
            cJSON *res = rb_obj(NULL);
            rb_add_int(res, "rev", rev);
            cJSON_AddItemToObject(rec, "res", res);
        }
        rb_hist_write(rec);
        atomic_fetch_add(&run->ops, 1);
        if (rc == DC_OK) return rev;
        if (rb_now() > deadline) rb_die("the %s put kept failing: %s", name, dc_errname(rc));
        sleep_ms(200);
    }
}

/* Pin every object loaded so far (the driver plugin the store open loaded,
 * and its client library) so that closing the last store does not unload
 * them. LeakSanitizer reports at exit: with the objects gone its stacks
 * read "<unknown module>", which neither a person nor a suppression (the
 * client library's own leaks, tests/zk/lsan.supp) can match. */
static int pin_object(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    if (info->dlpi_name && info->dlpi_name[0]) {
        void *h = dlopen(info->dlpi_name, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
        if (h) dlclose(h); /* NODELETE stays: the object is never unloaded */
    }
    return 0;
}

int main(int argc, char **argv)
{
    rb_config cfg = {
        .seconds = 20,
        .clients = 4,
        .rate = 100,
        .seed = 1,
        .fault_interval_ms = 4000,
        .compact_interval_ms = 3000,
        .drain_ms = 60000,
    };
    parse(argc, argv, &cfg);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "/robust-%ld/", (long)getpid());
    cfg.prefix = prefix;

    rb_clock_start();
    if (rb_hist_open(cfg.out) != 0) rb_die("cannot create %s", cfg.out);
    rb_run run = {.cfg = &cfg};
    pthread_mutex_init(&run.reset_mu, NULL);
    for (int g = 0; g < RB_GROUPS; g++)
        for (int k = 0; k < RB_KEYS; k++)
            snprintf(run.keys[g * RB_KEYS + k], sizeof run.keys[0], "%s%c/%d", prefix, 'a' + g, k);

    dc_store *admin = NULL;
    int rc = dc_store_open(cfg.uri, &admin);
    if (rc != DC_OK) rb_die("open: %s: %s", dc_errname(rc), dc_last_error());
    dl_iterate_phdr(pin_object, NULL);
    dc_kvs *kvs = NULL;
    rc = dc_get(admin, prefix, strlen(prefix), DC_PREFIX | DC_COUNT_ONLY, 0, &kvs);
    if (rc != DC_OK) rb_die("first read: %s: %s", dc_errname(rc), dc_last_error());
    if (kvs->count != 0) rb_die("the prefix %s is not empty", prefix);
    run.start_rev = kvs->revision;
    dc_kvs_free(kvs);
    atomic_store(&run.steady_last_rev, run.start_rev);
    atomic_store(&run.max_acked_rev, run.start_rev);
    atomic_store(&run.epoch_start_rev, run.start_rev);

    cJSON *hdr = rb_obj("header");
    const char *backend = dc_store_backend(admin);
    rb_add_str(hdr, "backend", backend, strlen(backend));
    rb_add_str(hdr, "prefix", prefix, strlen(prefix));
    rb_add_int(hdr, "start_rev", run.start_rev);
    rb_add_int(hdr, "clients", cfg.clients);
    rb_add_int(hdr, "seconds", cfg.seconds);
    rb_add_int(hdr, "seed", (int64_t)cfg.seed);
    rb_add_bool(hdr, "exclusive", 1);
    cJSON *fl = rb_arr();
    for (int i = 0; i < cfg.n_faults; i++)
        rb_push(fl, rb_str(cfg.faults[i], strlen(cfg.faults[i])));
    if (cfg.compact_interval_ms > 0) rb_push(fl, rb_str("compact", 7));
    cJSON_AddItemToObject(hdr, "faults", fl);
    rb_hist_write(hdr);

    rb_watcher watchers[2];
    for (int i = 0; i < 2; i++) {
        watchers[i] =
            (rb_watcher){.run = &run, .id = i, .hopper = i, .seed = cfg.seed * 7 + (uint64_t)i + 1};
        if (pthread_create(&watchers[i].th, NULL, rb_watcher_main, &watchers[i]) != 0)
            rb_die("cannot start a thread");
    }
    for (int i = 0; i < 2; i++)
        while (!atomic_load(&watchers[i].opened)) sleep_ms(5);

    rb_client *clients = calloc((size_t)cfg.clients, sizeof *clients);
    if (!clients) rb_die("out of memory");
    for (int i = 0; i < cfg.clients; i++) {
        clients[i] = (rb_client){.run = &run, .id = i};
        if (pthread_create(&clients[i].th, NULL, rb_client_main, &clients[i]) != 0)
            rb_die("cannot start a thread");
    }
    rb_faults faults = {.run = &run};
    int with_faults = cfg.n_faults > 0, with_compact = cfg.compact_interval_ms > 0;
    if (with_faults && pthread_create(&faults.fault_th, NULL, rb_fault_main, &faults) != 0)
        rb_die("cannot start a thread");
    if (with_compact && pthread_create(&faults.compact_th, NULL, rb_compact_main, &faults) != 0)
        rb_die("cannot start a thread");

    sleep_ms(cfg.seconds * 1000);
    atomic_store(&run.stop_clients, 1);
    for (int i = 0; i < cfg.clients; i++) pthread_join(clients[i].th, NULL);
    if (with_faults) pthread_join(faults.fault_th, NULL);
    if (with_compact) pthread_join(faults.compact_th, NULL);
    free(clients);

    /* the fault thread may have reset the store: reopen in the last epoch */
    if (with_faults) {
        dc_store_close(admin);
        admin = rb_open_retry(&run, "reopen");
    }
    int64_t end_rev = rb_put_marker(&run, admin, "~end", atomic_load(&run.epoch));
    int64_t acked = atomic_load(&run.max_acked_rev);
    atomic_store(&run.drain_to, end_rev > acked ? end_rev : acked);
    int64_t deadline = rb_now() + (int64_t)cfg.drain_ms * 1000000;
    while (rb_now() < deadline &&
           !(atomic_load(&watchers[0].complete) && atomic_load(&watchers[1].complete)))
        sleep_ms(20);
    atomic_store(&run.stop_watchers, 1);
    for (int i = 0; i < 2; i++) pthread_join(watchers[i].th, NULL);

    cJSON *ftr = rb_obj("footer");
    rb_add_int(ftr, "end_rev", end_rev);
    rb_add_int(ftr, "drain_to", atomic_load(&run.drain_to));
    rb_add_int(ftr, "ops", atomic_load(&run.ops));
    rb_add_int(ftr, "events", atomic_load(&run.events));
    rb_add_int(ftr, "faults", atomic_load(&run.faults));
    rb_add_int(ftr, "epoch", atomic_load(&run.epoch));
    rb_add_int(ftr, "compactions", atomic_load(&run.compactions));
    cJSON *wc = rb_arr();
    for (int i = 0; i < 2; i++) rb_push(wc, cJSON_CreateBool(atomic_load(&watchers[i].complete)));
    cJSON_AddItemToObject(ftr, "watchers_complete", wc);
    rb_hist_write(ftr);
    rb_hist_close();
    dc_store_close(admin);
    fprintf(stderr, "dc_robust: %lld ops, %lld events, %lld faults, %lld compactions -> %s\n",
            (long long)atomic_load(&run.ops), (long long)atomic_load(&run.events),
            (long long)atomic_load(&run.faults), (long long)atomic_load(&run.compactions), cfg.out);
    return 0;
}
