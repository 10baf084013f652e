/*
 * Bulk setup of protocol state for the large measurements: task membership
 * (ns/ddlcoord/task/<task>/<source> = "{}", as dc_task_add writes it) and
 * Infos (DM's JSON at the info keys), loaded with bp_put_many's batched txns
 * instead of one put per key, so that setting up 10 000 locks takes seconds.
 * Task i is "task<i>", source j "src<j>", and each task's lock is on db.t.
 */
#include "setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const bp_ddl = "ALTER TABLE t ADD COLUMN c INT";

void bp_names(int task, int source, char t[32], char s[32])
{
    snprintf(t, 32, "task%05d", task);
    snprintf(s, 32, "src%02d", source);
}

char *bp_info_json(const char *task, const char *source)
{
    dc_info *info;
    bp_check("info new", dc_info_new(task, source, "db", "t", &bp_ddl, 1, &info));
    char *json;
    bp_check("info encode", dc_info_encode(info, &json));
    dc_info_free(info);
    return json;
}

void bp_load_tasks(dc_store *s, const char *ns, int tasks, int sources, int infos, int threads)
{
    size_t per = (size_t)sources + (size_t)infos, n = (size_t)tasks * per, k = 0;
    char **keys = bp_alloc(n * sizeof *keys), **values = bp_alloc(n * sizeof *values);
    for (int i = 0; i < tasks; i++) {
        for (int j = 0; j < sources; j++) {
            char t[32], src[32];
            bp_names(i, j, t, src);
            bp_check("member key", dc_member_key(ns, t, src, &keys[k]));
            values[k] = strdup("{}");
            if (!values[k++]) bp_die("strdup", DC_ENOMEM);
            if (j >= infos) continue;
            bp_check("info key", dc_info_key(ns, t, src, &keys[k]));
            values[k++] = bp_info_json(t, src);
        }
    }
    bp_put_many(s, keys, values, n, threads);
    dc_strings_free(keys, n);
    dc_strings_free(values, n);
}

void bp_wipe(dc_store *s, const char *ns)
{
    size_t nl = strlen(ns);
    char *p = bp_alloc(nl + 2);
    memcpy(p, ns, nl);
    memcpy(p + nl, "/", 2);
    int rc = dc_delete(s, p, nl + 1, DC_PREFIX, NULL, NULL);
    if (rc) fprintf(stderr, "bench_protocol: wiping %s: %s (left in place)\n", p, dc_errname(rc));
    free(p);
}
