/*
 * store_basics: the store API in one page, on mem:// (or the URI given as
 * the first argument). Puts two keys, reads them back as a prefix, watches a
 * compare-and-swap and a lease expiry.
 */
#include <ddlcoord/ddlcoord.h>
#include <stdio.h>
#include <string.h>

static int check(int rc, const char *what)
{
    if (rc != DC_OK) fprintf(stderr, "%s: %s: %s\n", what, dc_strerror(rc), dc_last_error());
    return rc;
}

int main(int argc, char **argv)
{
    const char *uri = argc > 1 ? argv[1] : "mem://";
    dc_store *s;
    if (check(dc_store_open(uri, &s), "open")) return 1;
    /* Everything opened below is released at "out", on success and failure. */
    int status = 1;
    dc_watch *w = NULL;
    dc_txn *t = NULL;
    dc_txn_result *tr = NULL;

    int64_t rev;
    if (check(dc_put(s, "demo/a", 6, "1", 1, 0, &rev), "put") ||
        check(dc_put(s, "demo/b", 6, "2", 1, 0, NULL), "put"))
        goto out;
    printf("put demo/a at revision %lld\n", (long long)rev);

    if (check(dc_watch_open(s, "demo/", 5, rev, DC_PREFIX | DC_PREV_KV, &w), "watch")) goto out;

    /* compare-and-swap: demo/a from "1" to "10" (builder errors surface at commit) */
    if (!(t = dc_txn_new())) goto out;
    dc_txn_compare_value(t, "demo/a", 6, DC_CMP_EQUAL, "1", 1);
    dc_txn_put(t, DC_THEN, "demo/a", 6, "10", 2, 0, 0);
    if (check(dc_txn_commit(s, t, &tr), "txn")) goto out;
    printf("cas %s at revision %lld\n", tr->succeeded ? "succeeded" : "failed",
           (long long)tr->revision);

    int64_t lease;
    if (check(dc_lease_grant(s, 1, &lease, NULL), "lease grant") ||
        check(dc_put(s, "demo/tmp", 8, "x", 1, lease, NULL), "put with lease"))
        goto out;

    dc_kvs *kvs;
    if (check(dc_get(s, "demo/", 5, DC_PREFIX, 0, &kvs), "get")) goto out;
    printf("%zu keys under demo/ at revision %lld:\n", kvs->n, (long long)kvs->revision);
    for (size_t i = 0; i < kvs->n; i++)
        printf("  %s = %s (version %lld)\n", kvs->kvs[i].key, kvs->kvs[i].value,
               (long long)kvs->kvs[i].version);
    dc_kvs_free(kvs);

    /* until the lease expires and deletes demo/tmp */
    int deletes = 0;
    while (deletes == 0) {
        dc_events *ev;
        if (check(dc_watch_next(w, 5000, &ev), "watch next")) goto out;
        for (size_t i = 0; i < ev->n; i++) {
            dc_event *e = &ev->events[i];
            printf("event %-6s %s rev %lld%s%s\n", e->type == DC_EVENT_PUT ? "PUT" : "DELETE",
                   e->kv.key, (long long)e->kv.mod_revision, e->prev_kv ? " prev=" : "",
                   e->prev_kv ? e->prev_kv->value : "");
            deletes += e->type == DC_EVENT_DELETE;
        }
        dc_events_free(ev);
    }
    status = 0;
out:
    dc_txn_result_free(tr);
    dc_txn_free(t);
    dc_watch_close(w);
    dc_store_close(s);
    return status;
}
