/*
 * `ddlcoord master`: the coordinator daemon. Every master campaigns in the
 * election under NS/ddlcoord/election/ (lease-backed keys, lowest create
 * revision leads); the leader runs the protocol's master (dc_master) with the
 * fencing guard set to its own leader key and create_revision, so once it is
 * deposed (lease expired while it was paused, say) every write it attempts
 * fails in the store. A deposed master drops its in-memory state and
 * campaigns again; the next leader rebuilds everything from the store.
 *
 * One log line per protocol step (time, level, lock ID, source, revision),
 * from the master's step callback. The leader also serves `unlock` and
 * `remove-meta` requests: dc_master_run does, in its own loop. SIGTERM or
 * SIGINT: stop, resign (revoking the lease, so a standby takes over at
 * once), exit 0.
 *
 * Test-only: DDLCOORD_TEST_PAUSE_AT_STEP=N makes the master stop itself with
 * SIGSTOP right after the first step N it takes, so a test can kill -9 it at
 * exactly that point of a lock (or SIGCONT it later, after its lease ran out).
 */
#include "common.h"
#include "http.h"
#include "master_reg.h"
#include "retention.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
    OPT_NAME = DCX_OPT_FIRST_PRIVATE,
    OPT_TTL,
    OPT_LISTEN,
    OPT_KEEP_REVS,
    OPT_KEEP_MIN,
    OPT_EVERY
};

/* History retention settings as given: -1 = not given (retention.c). */
enum { KEEP_REVS, KEEP_MIN, KEEP_EVERY_MS, KEEP_N };

#define MASTER "master"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void help(void)
{
    printf("Usage: ddlcoord master [--name NAME] [--ttl SECONDS] [--listen ADDR:PORT]\n"
           "                       [--keep-revisions N] [--keep-minutes M] [--compact-every S]\n"
           "Run the shard-DDL coordinator. Several masters may run: one leads (election\n"
           "under NS/ddlcoord/election/), the others stand by and take over within the\n"
           "lease TTL when it dies. Every write of the leader is fenced by its leader key.\n"
           "Logs one line per protocol step on stderr. SIGTERM: resign, exit 0.\n\n"
           "  --name NAME      candidate name shown to others (default HOST:PID)\n"
           "  --ttl SECONDS    election lease TTL (default 10)\n"
           "  --listen ADDR:PORT  serve HTTP: /healthz, /readyz, /metrics (Prometheus),\n"
           "                   /v1/locks, /v1/status and a live page at / (port 0: any)\n"
           "  --keep-revisions N  the leader compacts the store's history, keeping the last\n"
           "                   N revisions (0: no revision bound)\n"
           "  --keep-minutes M    ...and the last M minutes (0: no time bound); both 0: off.\n"
           "                   Default: 10000 revisions and 60 minutes on mem://, Redis and\n"
           "                   ZooKeeper; off on etcd, which compacts itself\n"
           "  --compact-every S   how often the leader checks (default 60 s)\n"
           "All of them may also come from the config file's [master] section (name, ttl,\n"
           "listen, keep_revisions, keep_minutes, compact_every).\n\n"
           "Test only: DDLCOORD_TEST_PAUSE_AT_STEP=N stops the process (SIGSTOP) right\n"
           "after the first protocol step N it takes.\n\n%s\n%s",
           dcx_common_help, dcx_exit_help);
}

typedef struct master_run {
    dcx_ctx *ctx;
    const char *name;
    dcx_monitor *mon;   /* --listen, or NULL */
    dcx_reg *reg;       /* this master's registry key (master_reg.c) */
    dcx_retention *ret; /* history retention while leading, or NULL (off) */
    const char *election_prefix;
    char *leader_seen; /* the leader last logged while standing by */
    int64_t next_leader_check;
    int pause_at; /* test-only pause point, 0 = none */
    int paused;
    dc_election *e; /* the candidacy, on ctx->store */
    char *prefix;   /* the election prefix */
    int64_t ttl;
    char *fence; /* the leader key handed to the master after a reset */
} master_run;

/* The store's history was reset (docs/DESIGN.md, "Resets"): the old handle,
 * its candidacy and its leader key mean nothing now. Close them and stand
 * as a new candidate on a new handle. */
static int renew(master_run *r)
{
    dcx_ctx *ctx = r->ctx;
    dc_election_free(r->e); /* its resign fails on the poisoned handle: nothing to undo */
    r->e = NULL;
    for (int tries = 0; !stop_requested; tries++) {
        dc_store *fresh = NULL;
        int rc = dc_store_reopen(ctx->store, &fresh);
        if (rc == DC_OK) rc = dc_election_new(fresh, r->prefix, r->name, r->ttl, &r->e);
        if (rc == DC_OK) {
            dc_store_close(ctx->store);
            ctx->store = fresh;
            dc_log(DC_LOG_INFO, MASTER, "%s campaigns again on a new store handle", r->name);
            return DC_OK;
        }
        dc_store_close(fresh);
        if (tries % 10 == 0)
            dc_log(DC_LOG_WARN, MASTER, "cannot reopen the store: %s (%s); retrying",
                   dc_strerror(rc), dc_last_error());
        struct timespec ts = {0, 500 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return DC_ECLOSED;
}

/* dc_master_options.reopen: a new handle, and the fence of a new leadership
 * won on it (a standby waits here until it leads). */
static int reopen_cb(dc_store *poisoned, dc_store **fresh, const char **fence_key,
                     size_t *fence_key_len, int64_t *fence_create_revision, void *ud)
{
    master_run *r = ud;
    (void)poisoned; /* it is ctx->store: renew closes it */
    int rc = renew(r);
    while (rc == DC_OK && !stop_requested) {
        rc = dc_election_campaign(r->e, 500);
        if (rc == DC_ETIMEDOUT || rc == DC_ECHANGED) {
            rc = DC_OK;
            continue;
        }
        if (rc == DC_ERESET) {
            rc = renew(r); /* reset again while campaigning */
            continue;
        }
        if (rc != DC_OK) return rc;
        const char *k = NULL;
        size_t kl = 0;
        if ((rc = dc_election_fence(r->e, &k, &kl, fence_create_revision)) != DC_OK) return rc;
        free(r->fence);
        if (!(r->fence = strndup(k, kl))) return DC_ENOMEM;
        *fence_key = r->fence;
        *fence_key_len = kl;
        *fresh = r->ctx->store;
        dc_log(DC_LOG_INFO, MASTER, "%s leads again after the reset (leader key %s)", r->name,
               r->fence);
        return DC_OK;
    }
    return rc ? rc : DC_ECLOSED;
}

static int on_step(const dc_step *st, void *ud)
{
    master_run *r = ud;
    dcx_monitor_step(r->mon, st);
    if (r->pause_at && st->step == r->pause_at && !r->paused) {
        r->paused = 1;
        dc_log(DC_LOG_WARN, MASTER, "test pause point: stopping after step %d (pid %d)", st->step,
               (int)getpid());
        raise(SIGSTOP);
        dc_log(DC_LOG_WARN, MASTER, "test pause point: resumed after step %d", st->step);
    }
    return 0;
}

/* Log the values the master cannot decode, each once while it stays bad. */
static void report_problems(dc_master *m, char ***seen, size_t *n_seen)
{
    char **now = NULL;
    size_t n = 0;
    if (dc_master_problems(m, &now, &n) != DC_OK) return;
    for (size_t i = 0; i < n; i++) {
        int old = 0;
        for (size_t j = 0; j < *n_seen && !old; j++) old = strcmp(now[i], (*seen)[j]) == 0;
        if (!old)
            dc_log(DC_LOG_ERROR, MASTER, "bad value, ignored (other locks go on): %s", now[i]);
    }
    dc_strings_free(*seen, *n_seen);
    *seen = now;
    *n_seen = n;
}

/* Lead until stopped or deposed. Returns 1 when deposed, 0 when stopped. */
static int lead(master_run *r)
{
    dcx_ctx *ctx = r->ctx;
    dc_election *e = r->e;
    const char *fkey = NULL;
    size_t fkey_len = 0;
    int64_t frev = 0;
    if (dc_election_fence(e, &fkey, &fkey_len, &frev) != DC_OK) return 1;
    /* The fence key is owned by e until the next campaign: keep a copy. */
    char *key = strndup(fkey, fkey_len);
    if (!key) return 1;
    dc_log(DC_LOG_INFO, MASTER, "%s leads (leader key %s, create_revision %lld)", r->name, key,
           (long long)frev);
    dc_master_options o = {.ns = ctx->ns,
                           .fence_key = key,
                           .fence_key_len = fkey_len,
                           .fence_create_revision = frev,
                           .on_step = on_step,
                           .step_userdata = r,
                           .name = r->name,
                           .reopen = reopen_cb,
                           .reopen_userdata = r};
    dc_master *m = NULL;
    int rc = dc_master_new(ctx->store, &o, &m);
    if (rc != DC_OK) {
        dc_log(DC_LOG_ERROR, MASTER, "cannot create the master: %s", dc_strerror(rc));
        free(key);
        return 1;
    }
    dcx_monitor_lead(r->mon, m, frev);
    dcx_reg_leading(r->reg, frev);
    char **seen = NULL;
    size_t n_seen = 0;
    int deposed = 0;
    while (!stop_requested) {
        rc = dc_master_run(m, 200);
        if (rc == DC_ECHANGED) {
            dc_log(DC_LOG_WARN, MASTER, "a write was rejected by the fence: %s is deposed",
                   r->name);
            deposed = 1;
            break;
        }
        if (rc != DC_OK) {
            dc_log(DC_LOG_ERROR, MASTER, "coordinator stopped: %s (%s)", dc_strerror(rc),
                   dc_last_error());
            deposed = 1;
            break;
        }
        if (dc_election_lost(r->e)) { /* r->e: a reset gives it a new candidacy */
            dc_log(DC_LOG_WARN, MASTER, "%s lost its leadership (lease gone)", r->name);
            deposed = 1;
            break;
        }
        report_problems(m, &seen, &n_seen);
        dcx_reg_tick(r->reg);
        dcx_retention_tick(r->ret);
        dcx_monitor_tick(r->mon, ctx->store);
    }
    dcx_monitor_lead(r->mon, NULL, 0);
    if (deposed) dcx_reg_leading(r->reg, 0);
    dc_master_free(m);
    dc_strings_free(seen, n_seen);
    free(key);
    return deposed;
}

static int parse(dcx_ctx *ctx, int argc, char **argv, const char **name, int64_t *ttl,
                 const char **listen, int64_t *keep)
{
    static const struct option opts[] = {{"name", required_argument, 0, OPT_NAME},
                                         {"ttl", required_argument, 0, OPT_TTL},
                                         {"listen", required_argument, 0, OPT_LISTEN},
                                         {"keep-revisions", required_argument, 0, OPT_KEEP_REVS},
                                         {"keep-minutes", required_argument, 0, OPT_KEEP_MIN},
                                         {"compact-every", required_argument, 0, OPT_EVERY},
                                         DCX_COMMON_LONG_OPTIONS,
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            help();
            return -1;
        }
        if (c == OPT_NAME) {
            if (!*optarg) {
                dcx_err(ctx, "--name must not be empty");
                return DCX_EXIT_USAGE;
            }
            *name = optarg;
            continue;
        }
        if (c == OPT_LISTEN) {
            *listen = optarg;
            continue;
        }
        if (c == OPT_KEEP_REVS || c == OPT_KEEP_MIN || c == OPT_EVERY) {
            int64_t v = c == OPT_EVERY
                            ? dcx_parse_seconds_ms(optarg)
                            : (strcmp(optarg, "0") == 0 ? 0 : dcx_parse_long(optarg, 1, 1L << 40));
            if (v < 0 || (c == OPT_EVERY && v == 0)) {
                dcx_err(ctx, "--%s: bad value: %s",
                        c == OPT_KEEP_REVS  ? "keep-revisions"
                        : c == OPT_KEEP_MIN ? "keep-minutes"
                                            : "compact-every",
                        dc__e(optarg));
                return DCX_EXIT_USAGE;
            }
            keep[c == OPT_KEEP_REVS ? KEEP_REVS : c == OPT_KEEP_MIN ? KEEP_MIN : KEEP_EVERY_MS] = v;
            continue;
        }
        if (c == OPT_TTL) {
            *ttl = dcx_parse_long(optarg, 1, 3600);
            if (*ttl < 1) {
                dcx_err(ctx, "--ttl must be 1..3600 seconds: %s", optarg);
                return DCX_EXIT_USAGE;
            }
            continue;
        }
        int rr = dcx_common_option(ctx, c, optarg);
        if (rr < 0) return DCX_EXIT_USAGE;
        if (rr == 0) return dcx_usage_error(ctx);
    }
    if (optind < argc) {
        dcx_err(ctx, "unexpected argument '%s'", argv[optind]);
        return dcx_usage_error(ctx);
    }
    return DCX_EXIT_OK;
}

/* Standing by: log who leads whenever that changes (checked every 2 s). */
static void log_leader(master_run *r)
{
    if (dcx_now_ms() < r->next_leader_check) return;
    r->next_leader_check = dcx_now_ms() + 2000;
    char *leader = NULL;
    int64_t term = 0;
    int rc = dc_election_leader(r->ctx->store, r->election_prefix, &leader, &term);
    if (rc != DC_OK && rc != DC_ENOTFOUND) return;
    if (rc == DC_OK && strcmp(leader, r->name) == 0) {
        free(leader); /* our own key leads: the campaign returns at once */
        return;
    }
    if ((leader == NULL) != (r->leader_seen == NULL) ||
        (leader && strcmp(leader, r->leader_seen) != 0)) {
        if (leader)
            dc_log(DC_LOG_INFO, MASTER, "%s stands by: %s leads (term %lld)", r->name,
                   dc__e(leader), (long long)term);
        else
            dc_log(DC_LOG_INFO, MASTER, "%s stands by: no master leads yet", r->name);
        free(r->leader_seen);
        r->leader_seen = leader;
        return;
    }
    free(leader);
}

static int campaign_loop(master_run *r)
{
    int failures = 0;
    while (!stop_requested) {
        dcx_reg_tick(r->reg);
        dcx_monitor_tick(r->mon, r->ctx->store);
        int rc = dc_election_campaign(r->e, 500);
        if (rc == DC_ETIMEDOUT || rc == DC_ECHANGED) {
            log_leader(r);
            continue;
        }
        if (rc == DC_ERESET) {
            dc_log(DC_LOG_ERROR, MASTER,
                   "the store's history was reset (%s); standing as a new candidate",
                   dc_last_error());
            if (renew(r) != DC_OK) break;
            continue;
        }
        if (rc != DC_OK) {
            /* The store may be restarting: keep trying, but say so. */
            if (failures++ % 10 == 0)
                dc_log(DC_LOG_WARN, MASTER, "campaign failed: %s (%s); retrying", dc_strerror(rc),
                       dc_last_error());
            struct timespec ts = {0, 500 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        failures = 0;
        free(r->leader_seen);
        r->leader_seen = NULL;
        if (!lead(r)) break;
        /* Deposed: give up the candidacy (if anything is left of it) and
         * stand in line again; the new leader rebuilds from the store. */
        dc_election_resign(r->e);
        dc_log(DC_LOG_INFO, MASTER, "%s stands by again", r->name);
    }
    return DCX_EXIT_OK;
}

/* History retention: flags beat the config's [master] section, which
 * beats the defaults (off on etcd: it compacts itself). */
static int retention_setup(dcx_ctx *ctx, int64_t *keep, dcx_retention **out)
{
    static const char *const keys[KEEP_N] = {"master.keep_revisions", "master.keep_minutes",
                                             "master.compact_every"};
    int etcd = strncmp(dc_store_backend(ctx->store), "etcd", 4) == 0;
    int given = 0;
    for (int i = 0; i < KEEP_N; i++) {
        const char *v = keep[i] < 0 ? dc_config_get(ctx->cfg, keys[i]) : NULL;
        if (v && i != KEEP_EVERY_MS) {
            /* the detail names the key, the value, the range and file:line */
            if (dc_config_int(ctx->cfg, keys[i], 0, 0, (int64_t)1 << 40, &keep[i]) != DC_OK) {
                dcx_err(ctx, "%s", dc_last_error());
                return DCX_EXIT_USAGE;
            }
        } else if (v) {
            keep[i] = dcx_parse_seconds_ms(v);
            if (keep[i] <= 0) {
                dcx_err(ctx, "config: %s=%s: expected a positive number of seconds", keys[i],
                        dc__e(v));
                return DCX_EXIT_USAGE;
            }
        }
        if (keep[i] >= 0 && i != KEEP_EVERY_MS) given = 1;
    }
    if (keep[KEEP_REVS] < 0) keep[KEEP_REVS] = given || etcd ? 0 : 10000;
    if (keep[KEEP_MIN] < 0) keep[KEEP_MIN] = given || etcd ? 0 : 60;
    if (keep[KEEP_EVERY_MS] < 0) keep[KEEP_EVERY_MS] = 60000;
    int rc = dcx_retention_new(ctx, keep[KEEP_REVS], keep[KEEP_MIN], keep[KEEP_EVERY_MS], out);
    if (rc != DC_OK) return dcx_fail(ctx, rc, "history retention");
    if (*out)
        dc_log(DC_LOG_INFO, MASTER,
               "history retention: keep %lld revisions and %lld minutes (0: no bound), "
               "checked every %.1f s while leading",
               (long long)keep[KEEP_REVS], (long long)keep[KEEP_MIN],
               (double)keep[KEEP_EVERY_MS] / 1000);
    else
        dc_log(DC_LOG_INFO, MASTER, "history retention: off%s",
               etcd && !given ? " (etcd compacts its own history)" : "");
    return DCX_EXIT_OK;
}

int dcx_cmd_master(dcx_ctx *ctx, int argc, char **argv)
{
    const char *name_opt = NULL, *listen = NULL;
    int64_t ttl = 0; /* 0: not given */
    int64_t keep[KEEP_N] = {-1, -1, -1};
    int ex = parse(ctx, argc, argv, &name_opt, &ttl, &listen, keep);
    if (ex < 0) return DCX_EXIT_OK;
    if (ex != DCX_EXIT_OK) return ex;
    /* Before anything slow: a SIGTERM from now on means a clean exit 0. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    dcx_log_setup(ctx, DC_LOG_INFO);
    ex = dcx_open_store(ctx);
    if (ex != DCX_EXIT_OK) return ex;

    char name[320];
    /* Flags beat the config file's [master] section, which beats defaults. */
    if (!name_opt) name_opt = dc_config_get(ctx->cfg, "master.name");
    if (!ttl && dc_config_int(ctx->cfg, "master.ttl", 10, 1, 3600, &ttl) != DC_OK) {
        /* the detail names the key, the value, the range and file:line */
        dcx_err(ctx, "%s (seconds)", dc_last_error());
        return DCX_EXIT_USAGE;
    }
    if (name_opt && *name_opt) {
        snprintf(name, sizeof name, "%s", name_opt);
    } else {
        char host[256] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(name, sizeof name, "%s:%d", host, (int)getpid());
    }
    master_run r = {.ctx = ctx, .name = name};
    const char *pause = getenv("DDLCOORD_TEST_PAUSE_AT_STEP");
    if (pause && *pause) {
        r.pause_at = (int)dcx_parse_long(pause, 1, 10);
        if (r.pause_at < 1) {
            dcx_err(ctx, "DDLCOORD_TEST_PAUSE_AT_STEP must be 1..10: %s", pause);
            return DCX_EXIT_USAGE;
        }
    }

    char *prefix = dcx_own_key(ctx->ns, "election/");
    r.prefix = prefix;
    r.ttl = ttl;
    int rc = prefix ? dc_election_new(ctx->store, prefix, name, ttl, &r.e) : DC_ENOMEM;
    if (rc != DC_OK) {
        free(prefix);
        return dcx_fail(ctx, rc, "election");
    }
    r.election_prefix = prefix;
    ex = retention_setup(ctx, keep, &r.ret);
    if (ex != DCX_EXIT_OK) {
        dc_election_free(r.e);
        free(prefix);
        return ex;
    }
    if (!listen) listen = dc_config_get(ctx->cfg, "master.listen");
    if (listen && *listen) ex = dcx_monitor_start(ctx, listen, name, prefix, &r.mon);
    /* A second master with the same name is refused (master_reg.c). */
    if (ex == DCX_EXIT_OK)
        ex = dcx_reg_new(ctx, name, ttl, r.mon ? dcx_monitor_address(r.mon) : NULL, &r.reg);
    if (ex != DCX_EXIT_OK) {
        dcx_monitor_stop(r.mon);
        dcx_retention_free(r.ret);
        dc_election_free(r.e);
        free(prefix);
        return ex;
    }
    if (r.mon)
        dc_log(DC_LOG_INFO, MASTER, "%s serves HTTP on http://%s/", name,
               dcx_monitor_address(r.mon));
    dc_log(DC_LOG_INFO, MASTER, "%s campaigns under %s (store %s, lease TTL %llds)", name, prefix,
           ctx->uri_shown, (long long)ttl);
    ex = campaign_loop(&r);
    rc = r.e ? dc_election_resign(r.e) : DC_OK;
    if (rc != DC_OK && rc != DC_ENOTFOUND)
        dc_log(DC_LOG_WARN, MASTER, "resign: %s (%s)", dc_strerror(rc), dc_last_error());
    dc_election_free(r.e);
    dcx_reg_free(r.reg);
    dcx_retention_free(r.ret);
    free(r.leader_seen);
    dcx_monitor_stop(r.mon);
    dc_log(DC_LOG_INFO, MASTER, "%s stopped", name);
    free(r.fence);
    free(prefix);
    return ex;
}
