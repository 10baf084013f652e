/*
 * Key layout (docs/DESIGN.md, "Key layout"; DM compatible). Every component is lower-case hex
 * of its bytes, so task and source names may hold any byte, '/' included:
 *
 *   NS/shardddl-pessimism/info/<hex task>/<hex source>
 *   NS/shardddl-pessimism/operation/<hex task>/<hex source>
 *   NS/ddlcoord/{task,resolved,conflict,worker}/<hex task>/<hex source>
 *   NS/ddlcoord/admin/{request,answer}/<request ID>
 *
 * A task-only prefix ends in '/', so task "a" never matches task "ab".
 */
#include "pess.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hex.h"

static const struct {
    const char *kind;
    const char *path;
} kinds[] = {
    {"info", "shardddl-pessimism/info/"}, {"operation", "shardddl-pessimism/operation/"},
    {"member", "ddlcoord/task/"},         {"marker", "ddlcoord/resolved/"},
    {"conflict", "ddlcoord/conflict/"},   {"request", "ddlcoord/admin/request/"},
    {"answer", "ddlcoord/admin/answer/"}, {"worker", "ddlcoord/worker/"},
};

int dcp_prefix(const char *ns, const char *kind, char **out)
{
    *out = NULL;
    if (!ns) ns = DC_DEFAULT_NAMESPACE;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(kinds[i].kind, kind)) continue;
        dc_buf b = DC_BUF_INIT;
        /* A namespace given with a trailing '/' must not double it. */
        size_t nl = strlen(ns);
        while (nl > 0 && ns[nl - 1] == '/') nl--;
        if (dc__buf_append(&b, ns, nl) || dc__buf_printf(&b, "/%s", kinds[i].path)) {
            dc__buf_free(&b);
            return dc__error(DC_ENOMEM, "out of memory");
        }
        *out = dc__buf_steal(&b);
        return *out ? DC_OK : dc__error(DC_ENOMEM, "out of memory");
    }
    return dc__error(DC_EINVAL, "unknown key kind %s", kind);
}

static int build(const char *ns, const char *kind, const char *task, const char *source, char **out)
{
    *out = NULL;
    if ((task && !*task) || (source && !*source) || (!task && source))
        return dc__error(DC_EINVAL, "%s key: empty task or source", kind);
    char *prefix;
    int rc = dcp_prefix(ns, kind, &prefix);
    if (rc) return rc;
    dc_buf b = DC_BUF_INIT;
    int bad = dc__buf_puts(&b, prefix);
    free(prefix);
    const char *parts[2] = {task, source};
    for (int i = 0; i < 2 && !bad && parts[i]; i++) {
        size_t len = strlen(parts[i]);
        char *hex = malloc(2 * len + 1);
        if (!hex) {
            bad = 1;
            break;
        }
        dc__hex_encode(parts[i], len, hex);
        bad = dc__buf_puts(&b, hex) || (i == 0 && dc__buf_puts(&b, "/"));
        free(hex);
    }
    if (bad) {
        dc__buf_free(&b);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    *out = dc__buf_steal(&b);
    return *out ? DC_OK : dc__error(DC_ENOMEM, "out of memory");
}

int dc_info_key(const char *ns, const char *task, const char *source, char **out)
{
    return build(ns, "info", task, source, out);
}

int dc_operation_key(const char *ns, const char *task, const char *source, char **out)
{
    return build(ns, "operation", task, source, out);
}

int dc_member_key(const char *ns, const char *task, const char *source, char **out)
{
    return build(ns, "member", task, source, out);
}

int dc_marker_key(const char *ns, const char *task, const char *source, char **out)
{
    return build(ns, "marker", task, source, out);
}

int dc_conflict_key(const char *ns, const char *task, const char *source, char **out)
{
    return build(ns, "conflict", task, source, out);
}

int dcp_worker_prefix(const char *ns, const char *task, const char *source, char **out)
{
    char *key;
    int rc = build(ns, "worker", task, source, &key);
    if (rc) return rc;
    size_t len = strlen(key);
    *out = realloc(key, len + 2);
    if (!*out) {
        free(key);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    memcpy(*out + len, "/", 2);
    return DC_OK;
}

static char *unhex(const char *hex, size_t len)
{
    if (len == 0 || len % 2) return NULL;
    char *s = malloc(len / 2 + 1);
    if (!s) return NULL;
    if (dc__hex_decode(hex, len, s) < 0 || memchr(s, '\0', len / 2)) {
        free(s);
        return NULL;
    }
    s[len / 2] = '\0';
    return s;
}

int dcp_key_split(const char *key, size_t key_len, size_t prefix_len, char **task, char **source)
{
    *task = *source = NULL;
    if (key_len <= prefix_len) return dc__error(DC_ECORRUPT, "%s: malformed key", dc__e(key));
    const char *p = key + prefix_len, *end = key + key_len;
    const char *slash = memchr(p, '/', (size_t)(end - p));
    if (!slash) return dc__error(DC_ECORRUPT, "%s: malformed key", dc__e(key));
    *task = unhex(p, (size_t)(slash - p));
    *source = unhex(slash + 1, (size_t)(end - slash - 1));
    if (!*task || !*source) {
        free(*task);
        free(*source);
        *task = *source = NULL;
        return dc__error(DC_ECORRUPT, "%s: malformed key (components must be hex)", dc__e(key));
    }
    return DC_OK;
}

int dc_lock_id_build(const char *task, const char *schema, const char *table, char **out)
{
    *out = NULL;
    if (!task || !schema || !table) return dc__error(DC_EINVAL, "lock id: NULL name");
    dc_buf b = DC_BUF_INIT;
    int bad = dc__buf_printf(&b, "%s-", task);
    const char *names[2] = {schema, table};
    for (int i = 0; i < 2 && !bad; i++) {
        bad = dc__buf_puts(&b, i ? ".`" : "`");
        /* A backquote inside a name is doubled, as MySQL quoting (and DM) does. */
        for (const char *c = names[i]; *c && !bad; c++)
            bad = dc__buf_append(&b, c, 1) || (*c == '`' && dc__buf_append(&b, c, 1));
        if (!bad) bad = dc__buf_puts(&b, "`");
    }
    if (bad) {
        dc__buf_free(&b);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    *out = dc__buf_steal(&b);
    return *out ? DC_OK : dc__error(DC_ENOMEM, "out of memory");
}

int dcp_key_matches(const char *key, size_t key_len, size_t prefix_len, const char *task,
                    const char *source)
{
    char *t, *s;
    int rc = dcp_key_split(key, key_len, prefix_len, &t, &s);
    if (rc) return rc;
    int same = strcmp(t, task) == 0 && strcmp(s, source) == 0;
    free(t);
    free(s);
    if (same) return DC_OK;
    return dc__error(DC_ECORRUPT, "%s: value is for task %s source %s, not for this key",
                     dc__e(key), dc__e(task), dc__e(source));
}
