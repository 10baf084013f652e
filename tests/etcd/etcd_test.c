/*
 * Helpers of the etcd-specific tests (see etcd_test.h). The fixture script
 * is run through system(3) with paths taken from the environment that
 * run-with-etcd.sh sets up.
 */
#include "etcd_test.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *et_uri(const char *query)
{
    static char buf[1024];
    const char *base = getenv("DDLCOORD_TEST_STORE");
    const char *extra = getenv("DDLCOORD_TEST_STORE_QUERY");
    ck_assert_msg(base && *base, "DDLCOORD_TEST_STORE is not set");
    int has_q = strchr(base, '?') != NULL;
    snprintf(buf, sizeof buf, "%s%s%s%s%s", base,
             (extra && *extra) || (query && *query) ? (has_q ? "&" : "?") : "", extra ? extra : "",
             extra && *extra && query && *query ? "&" : "", query ? query : "");
    return buf;
}

dc_store *et_open(const char *query)
{
    dc_store *s = NULL;
    const char *uri = et_uri(query);
    int rc = dc_store_open(uri, &s);
    ck_assert_msg(rc == DC_OK, "open %s: %s: %s", uri, dc_errname(rc), dc_last_error());
    return s;
}

void et_fixture(const char *verb, const char *args)
{
    const char *script = getenv("ETCD_FIXTURE"), *dir = getenv("ETCD_TEST_DIR");
    ck_assert_msg(script && dir, "run through run-with-etcd.sh (ETCD_FIXTURE, ETCD_TEST_DIR)");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s '%s' %s", script, verb, dir, args ? args : "");
    int rc = system(cmd);
    ck_assert_msg(rc == 0, "fixture command failed (%d): %s", rc, cmd);
}

int et_member_pid(int i)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/pid.%d", getenv("ETCD_TEST_DIR"), i);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no pid file %s", path);
    int pid = 0;
    ck_assert_int_eq(fscanf(f, "%d", &pid), 1);
    fclose(f);
    return pid;
}

/* 1 when every thread of pid is in state T (stopped). */
static int all_stopped(int pid)
{
    char path[128];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d) return 0;
    int stopped = 1;
    struct dirent *e;
    while (stopped && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char stat_path[512], buf[512];
        snprintf(stat_path, sizeof stat_path, "%s/%s/stat", path, e->d_name);
        FILE *f = fopen(stat_path, "r");
        if (!f) continue; /* the thread just exited */
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *paren = strrchr(buf, ')'); /* "pid (comm) S …" */
        if (!paren || (paren[2] != 'T' && paren[2] != 't')) stopped = 0;
    }
    closedir(d);
    return stopped;
}

void et_freeze(int pid)
{
    ck_assert_int_eq(kill(pid, SIGSTOP), 0);
    for (int i = 0; i < 500 && !all_stopped(pid); i++) usleep(10000);
    ck_assert_msg(all_stopped(pid), "process %d did not stop", pid);
}

/* 1 if inode is one of this process's socket descriptors. */
static int own_socket(unsigned long inode)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    char want[64];
    snprintf(want, sizeof want, "socket:[%lu]", inode);
    while (!found && (e = readdir(d))) {
        char path[300], target[128];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = '\0';
        found = strcmp(target, want) == 0;
    }
    closedir(d);
    return found;
}

int et_connections_to(int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    int n = 0;
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f)); /* header */
    while (fgets(line, sizeof line, f)) {
        unsigned lport, rport, state;
        unsigned long inode;
        char laddr[16], raddr[16];
        if (sscanf(line, " %*d: %8[0-9A-Fa-f]:%x %8[0-9A-Fa-f]:%x %x %*s %*s %*s %*s %*s %lu",
                   laddr, &lport, raddr, &rport, &state, &inode) != 6)
            continue;
        if ((int)rport == port && state == 1 /* ESTABLISHED */ && own_socket(inode)) n++;
    }
    fclose(f);
    return n;
}

int et_endpoint_port(int i)
{
    const char *p = strstr(getenv("DDLCOORD_TEST_STORE"), "://");
    ck_assert_ptr_nonnull(p);
    p += 3;
    for (; i > 0; i--) {
        p = strchr(p, ',');
        ck_assert_ptr_nonnull(p);
        p++;
    }
    const char *colon = strchr(p, ':');
    ck_assert_ptr_nonnull(colon);
    return atoi(colon + 1);
}

int et_thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

const char *et_key(const char *suffix)
{
    static char buf[8][256];
    static int i;
    char *b = buf[i++ % 8];
    snprintf(b, 256, "/etcdtest/%d/%s", (int)getpid(), suffix);
    return b;
}

void et_collect(dc_watch *w, et_seen *seen, size_t want)
{
    while (seen->n < want) {
        dc_events *ev = NULL;
        int rc = dc_watch_next(w, ET_WAIT_MS, &ev);
        ck_assert_msg(rc == DC_OK, "watch after %zu of %zu events: %s: %s", seen->n, want,
                      dc_errname(rc), dc_last_error());
        for (size_t i = 0; i < ev->n; i++) {
            ck_assert_msg(seen->n < sizeof seen->revs / sizeof seen->revs[0], "too many events");
            const dc_event *e = &ev->events[i];
            if (seen->n)
                ck_assert_msg(e->kv.mod_revision >= seen->revs[seen->n - 1],
                              "revision went back from %lld to %lld",
                              (long long)seen->revs[seen->n - 1], (long long)e->kv.mod_revision);
            seen->revs[seen->n] = e->kv.mod_revision;
            seen->types[seen->n] = e->type;
            snprintf(seen->values[seen->n], sizeof seen->values[0], "%.*s", (int)e->kv.value_len,
                     e->kv.value);
            seen->n++;
        }
        dc_events_free(ev);
    }
}

void et_expect_value(dc_store *s, const char *key, const char *value)
{
    dc_kvs *kvs;
    ET_OK(dc_get(s, key, strlen(key), 0, 0, &kvs));
    ck_assert_uint_eq(kvs->n, 1);
    ck_assert_str_eq(kvs->kvs[0].value, value);
    dc_kvs_free(kvs);
}
