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

    int64_t rev;
    dc_put(s, "demo/a", 6, "1", 1, 0, &rev);
    dc_put(s, "demo/b", 6, "2", 1, 0, NULL);
    printf("put demo/a at revision %lld\n", (long long)rev);

    dc_watch *w;
    if (check(dc_watch_open(s, "demo/", 5, rev, DC_PREFIX | DC_PREV_KV, &w), "watch")) return 1;

    /* compare-and-swap: demo/a from "1" to "10" */
    dc_txn *t = dc_txn_new();
    dc_txn_compare_value(t, "demo/a", 6, DC_CMP_EQUAL, "1", 1);
    dc_txn_put(t, DC_THEN, "demo/a", 6, "10", 2, 0, 0);
    dc_txn_result *tr;
    if (check(dc_txn_commit(s, t, &tr), "txn")) return 1;
    printf("cas %s at revision %lld\n", tr->succeeded ? "succeeded" : "failed",
           (long long)tr->revision);
    dc_txn_result_free(tr);
    dc_txn_free(t);

    int64_t lease;
    dc_lease_grant(s, 1, &lease, NULL);
    dc_put(s, "demo/tmp", 8, "x", 1, lease, NULL);

    dc_kvs *kvs;
    if (check(dc_get(s, "demo/", 5, DC_PREFIX, 0, &kvs), "get")) return 1;
    printf("%zu keys under demo/ at revision %lld:\n", kvs->n, (long long)kvs->revision);
    for (size_t i = 0; i < kvs->n; i++)
        printf("  %s = %s (version %lld)\n", kvs->kvs[i].key, kvs->kvs[i].value,
               (long long)kvs->kvs[i].version);
    dc_kvs_free(kvs);

    int deletes = 0;
    while (deletes == 0) {
        dc_events *ev;
        int rc = dc_watch_next(w, 5000, &ev);
        if (check(rc, "watch next")) return 1;
        for (size_t i = 0; i < ev->n; i++) {
            dc_event *e = &ev->events[i];
            printf("event %-6s %s rev %lld%s%s\n", e->type == DC_EVENT_PUT ? "PUT" : "DELETE",
                   e->kv.key, (long long)e->kv.mod_revision, e->prev_kv ? " prev=" : "",
                   e->prev_kv ? e->prev_kv->value : "");
            deletes += e->type == DC_EVENT_DELETE;
        }
        dc_events_free(ev);
    }
    dc_watch_close(w);
    dc_store_close(s);
    return 0;
}
