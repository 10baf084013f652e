/*
 * dc_test_raw URI put KEY VALUE | get KEY | count PREFIX: raw store access
 * for the command tests, through the public store API. `put` plants values
 * the command never writes itself (a corrupt Info, a DM-written Info, an
 * admin request); `get` prints a key's value (exit 1 when it is missing);
 * `count` prints how many keys start with PREFIX, to check what the command
 * left in the store (admin requests withdrawn, a resigned master's election
 * key gone).
 */
#include <ddlcoord/ddlcoord.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: dc_test_raw URI put KEY VALUE | get KEY | count PREFIX | "
                    "watch-from REV PREFIX\n");
    return 2;
}

int main(int argc, char **argv)
{
    int is_put = argc == 5 && strcmp(argv[2], "put") == 0;
    int is_count = argc == 4 && strcmp(argv[2], "count") == 0;
    int is_get = argc == 4 && strcmp(argv[2], "get") == 0;
    int is_watch = argc == 5 && strcmp(argv[2], "watch-from") == 0;
    if (!is_put && !is_count && !is_get && !is_watch) return usage();
    dc_store *s = NULL;
    int rc = dc_store_open(argv[1], &s);
    if (rc != DC_OK) {
        fprintf(stderr, "dc_test_raw: open %s: %s (%s)\n", argv[1], dc_strerror(rc),
                dc_last_error());
        return 3;
    }
    if (is_watch) {
        /* "compacted C" when history before REV is gone, else "kept". */
        dc_watch *w = NULL;
        rc = dc_watch_open(s, argv[4], strlen(argv[4]), atoll(argv[3]), DC_PREFIX, &w);
        dc_events *ev = NULL;
        if (rc == DC_OK) rc = dc_watch_next(w, 2000, &ev);
        if (rc == DC_ECOMPACTED) {
            printf("compacted %lld\n", (long long)dc_watch_compact_revision(w));
            rc = DC_OK;
        } else if (rc == DC_OK || rc == DC_ETIMEDOUT) {
            printf("kept\n");
            rc = DC_OK;
        }
        dc_events_free(ev);
        dc_watch_close(w);
    } else if (is_put) {
        int64_t rev = 0;
        rc = dc_put(s, argv[3], strlen(argv[3]), argv[4], strlen(argv[4]), 0, &rev);
        if (rc == DC_OK) printf("%lld\n", (long long)rev);
    } else if (is_get) {
        dc_kvs *kvs = NULL;
        rc = dc_get(s, argv[3], strlen(argv[3]), 0, 0, &kvs);
        int found = rc == DC_OK && kvs->n == 1;
        if (found) printf("%s\n", kvs->kvs[0].value);
        dc_kvs_free(kvs);
        if (rc == DC_OK && !found) {
            dc_store_close(s);
            return 1;
        }
    } else {
        dc_kvs *kvs = NULL;
        rc = dc_get(s, argv[3], strlen(argv[3]), DC_PREFIX | DC_COUNT_ONLY, 0, &kvs);
        if (rc == DC_OK) printf("%lld\n", (long long)kvs->count);
        dc_kvs_free(kvs);
    }
    if (rc != DC_OK)
        fprintf(stderr, "dc_test_raw: %s: %s (%s)\n", argv[2], dc_strerror(rc), dc_last_error());
    dc_store_close(s);
    return rc == DC_OK ? 0 : 3;
}
