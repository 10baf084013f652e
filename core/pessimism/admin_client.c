/*
 * The client side of admin requests (pessimism_admin.h): put the request
 * under a random ID with a lease of its own, wait for the answer (a read,
 * then a watch from that read), and withdraw it by revoking the lease, which
 * deletes request and answer alike. See docs/DESIGN.md, "Admin requests".
 */
#include "admin.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"
#include "hex.h"

struct dc_admin_call {
    dc_store *store;
    char id[33];
    char *req_key;
    char *ans_key;
    int64_t lease;
};

/* 128 random bits in hex: request IDs never repeat, on any host. */
static int random_id(char out[33])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0) return dc__error(DC_EINTERNAL, "getrandom failed");
        got += (size_t)n;
    }
    dc__hex_encode(b, sizeof b, out);
    return DC_OK;
}

void dc_admin_call_free(dc_admin_call *c)
{
    if (!c) return;
    if (c->lease) dc_lease_revoke(c->store, c->lease); /* best effort: it expires anyway */
    free(c->req_key);
    free(c->ans_key);
    free(c);
}

const char *dc_admin_call_id(const dc_admin_call *c)
{
    return c->id;
}

static int key_of(const char *ns, const char *kind, const char *id, char **out)
{
    char *p;
    int rc = dcp_prefix(ns, kind, &p);
    if (rc) return rc;
    size_t n = strlen(p) + strlen(id) + 1;
    *out = malloc(n);
    if (*out) snprintf(*out, n, "%s%s", p, id);
    free(p);
    return *out ? DC_OK : dc__error(DC_ENOMEM, "out of memory");
}

static int send(dc_store *s, const char *ns, const admin_req *r, int timeout_ms,
                dc_admin_call **out)
{
    *out = NULL;
    if (!s || timeout_ms <= 0) return dc__error(DC_EINVAL, "admin: a store and a timeout");
    dc_admin_call *c = calloc(1, sizeof *c);
    if (!c) return dc__error(DC_ENOMEM, "out of memory");
    c->store = s;
    char *json = NULL;
    int rc = random_id(c->id);
    if (!rc) rc = key_of(ns, "request", c->id, &c->req_key);
    if (!rc) rc = key_of(ns, "answer", c->id, &c->ans_key);
    if (!rc) rc = dcp_admin_req_encode(r, &json);
    /* The lease outlives the wait so the master can still answer at its end. */
    if (!rc) rc = dc_lease_grant(s, timeout_ms / 1000 + 10, &c->lease, NULL);
    if (!rc) rc = dc_put(s, c->req_key, strlen(c->req_key), json, strlen(json), c->lease, NULL);
    free(json);
    if (rc) {
        dc_admin_call_free(c);
        return rc;
    }
    *out = c;
    return DC_OK;
}

int dc_admin_send_unlock(dc_store *s, const char *ns, const char *lock_id,
                         const dc_unlock_options *o, int timeout_ms, dc_admin_call **out)
{
    *out = NULL;
    dc_unlock_options none = {0};
    if (!o) o = &none;
    if (!lock_id || !*lock_id) return dc__error(DC_EINVAL, "unlock: no lock ID");
    if (o->owner && !*o->owner) return dc__error(DC_EINVAL, "unlock: empty owner");
    if (o->assume < DC_ASSUME_NOTHING || o->assume > DC_ASSUME_NOT_EXECUTED)
        return dc__error(DC_EINVAL, "unlock: unknown assumption %d", (int)o->assume);
    if (o->assume == DC_ASSUME_EXECUTED && o->owner)
        return dc__error(DC_EINVAL, "unlock: --assume-executed means nobody executes; "
                                    "it takes no owner");
    if (o->wait_ms < 0 || o->wait_ms > DC_UNLOCK_MAX_WAIT_MS)
        return dc__error(DC_EINVAL, "unlock: wait_ms must be 0..%d", DC_UNLOCK_MAX_WAIT_MS);
    /* Leave the master time to answer after its wait for the sources: a
     * third of the timeout, and never less than 3 s, so that a loaded
     * master's answer is not mistaken for no answer. */
    int64_t margin = timeout_ms / 3 > 3000 ? timeout_ms / 3 : 3000;
    int64_t most = timeout_ms - margin > 500 ? timeout_ms - margin : 500;
    admin_req r = {.op = ADMIN_UNLOCK,
                   .lock_id = (char *)lock_id,
                   .owner = (char *)o->owner,
                   .force_remove = o->force_remove,
                   .assume = o->assume,
                   .wait_ms = o->wait_ms && o->wait_ms < most ? o->wait_ms : most};
    return send(s, ns, &r, timeout_ms, out);
}

int dc_admin_send_remove_meta(dc_store *s, const char *ns, const char *task, int timeout_ms,
                              dc_admin_call **out)
{
    *out = NULL;
    if (!task || !*task) return dc__error(DC_EINVAL, "remove-meta: no task");
    admin_req r = {.op = ADMIN_REMOVE_META, .task = (char *)task};
    return send(s, ns, &r, timeout_ms, out);
}

/* The answer if it is there: DC_OK (decoded), DC_ENOTFOUND (not yet; *rev
 * gets the read's revision), or an error. */
static int read_answer(dc_admin_call *c, dc_admin_answer *a, int64_t *rev)
{
    dc_kvs *kvs = NULL;
    int rc = dc_get(c->store, c->ans_key, strlen(c->ans_key), 0, 0, &kvs);
    if (rc) return rc;
    *rev = kvs->revision;
    rc = kvs->n ? dcp_admin_answer_decode(kvs->kvs[0].value, kvs->kvs[0].value_len, a)
                : DC_ENOTFOUND;
    dc_kvs_free(kvs);
    return rc;
}

int dc_admin_wait(dc_admin_call *c, int timeout_ms, dc_admin_answer *a)
{
    memset(a, 0, sizeof *a);
    int64_t deadline = dc__deadline_ms(timeout_ms);
    for (;;) {
        int64_t rev = 0;
        int rc = read_answer(c, a, &rev);
        if (rc != DC_ENOTFOUND) return rc;
        if (deadline >= 0 && dc__now_ms() >= deadline)
            return dc__error(DC_ETIMEDOUT, "admin request %s: no answer yet", c->id);
        dc_watch *w = NULL;
        rc = dc_watch_open(c->store, c->ans_key, strlen(c->ans_key), rev + 1, DC_NO_DELETE, &w);
        if (rc) return rc;
        for (;;) {
            int64_t left = deadline < 0 ? 500 : deadline - dc__now_ms();
            if (left <= 0) break;
            dc_events *ev = NULL;
            rc = dc_watch_next(w, left > 500 ? 500 : (int)left, &ev);
            if (rc == DC_ETIMEDOUT) continue;
            if (rc == DC_OK) {
                rc = dcp_admin_answer_decode(ev->events[0].kv.value, ev->events[0].kv.value_len, a);
                dc_events_free(ev);
                dc_watch_close(w);
                return rc;
            }
            break; /* the watch ended (compaction, a lost connection): read again */
        }
        dc_watch_close(w);
    }
}
