/*
 * History retention for stores that keep their own event log: mem://, Redis
 * (a stream) and ZooKeeper (sequential znodes) keep every revision until
 * dc_compact trims it, so without this their logs grow without limit. etcd
 * compacts itself (--auto-compaction-*), so the command leaves it alone
 * unless told otherwise (docs/DESIGN.md, "History retention").
 *
 * Every every_ms the leader reads the store's revision and remembers it with
 * the time. The target keeps both bounds that are set: the last N revisions
 * (target <= current - N) and the last M minutes (target <= the newest
 * revision seen at least M minutes ago; nothing until the master has been
 * watching that long). A watch or paged read below the target then ends with
 * DC_ECOMPACTED, which the master and the workers handle by reading again.
 */
#include "retention.h"

#include <stdlib.h>
#include <string.h>

#define RET "master"

typedef struct sample {
    int64_t ms;
    int64_t rev;
} sample;

struct dcx_retention {
    dcx_ctx *ctx;
    int64_t keep_revisions, keep_ms, every_ms;
    int64_t next_ms;
    int64_t compacted;
    sample *s; /* ascending by time */
    size_t n, cap;
};

int dcx_retention_new(dcx_ctx *ctx, int64_t keep_revisions, int64_t keep_minutes, int64_t every_ms,
                      dcx_retention **out)
{
    *out = NULL;
    if (keep_revisions <= 0 && keep_minutes <= 0) return DC_OK;
    dcx_retention *r = calloc(1, sizeof *r);
    if (!r) return DC_ENOMEM;
    r->ctx = ctx;
    r->keep_revisions = keep_revisions > 0 ? keep_revisions : 0;
    r->keep_ms = keep_minutes > 0 ? keep_minutes * 60000 : 0;
    r->every_ms = every_ms > 0 ? every_ms : 60000;
    r->next_ms = dcx_now_ms() + r->every_ms;
    *out = r;
    return DC_OK;
}

static int remember(dcx_retention *r, int64_t now, int64_t rev)
{
    /* Drop samples no bound will ask for: keep the newest one older than
     * keep_ms (the time bound's answer) and everything after it. */
    size_t drop = 0;
    while (drop + 1 < r->n && now - r->s[drop + 1].ms >= r->keep_ms) drop++;
    if (drop) {
        memmove(r->s, r->s + drop, (r->n - drop) * sizeof *r->s);
        r->n -= drop;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        sample *s = realloc(r->s, cap * sizeof *s);
        if (!s) return DC_ENOMEM;
        r->s = s;
        r->cap = cap;
    }
    r->s[r->n++] = (sample){now, rev};
    return DC_OK;
}

void dcx_retention_tick(dcx_retention *r)
{
    if (!r) return;
    int64_t now = dcx_now_ms();
    if (now < r->next_ms) return;
    r->next_ms = now + r->every_ms;
    int64_t cur = 0;
    int rc = dc_revision(r->ctx->store, &cur);
    if (rc != DC_OK) return; /* the store is away: the next tick tries again */
    if (cur < r->compacted || (r->n && cur < r->s[r->n - 1].rev)) {
        /* The history went back (a reset, docs/DESIGN.md "Resets"): what was
         * learned of the old one means nothing now. */
        r->compacted = 0;
        r->n = 0;
    }
    if (r->keep_ms && remember(r, now, cur) != DC_OK) return;
    int64_t target = cur;
    if (r->keep_revisions) target = cur - r->keep_revisions;
    if (r->keep_ms) {
        int64_t by_time = 0; /* no sample old enough yet: keep everything */
        for (size_t i = 0; i < r->n && now - r->s[i].ms >= r->keep_ms; i++) by_time = r->s[i].rev;
        if (by_time < target) target = by_time;
    }
    if (target < 2 || target <= r->compacted) return;
    rc = dc_compact(r->ctx->store, target);
    if (rc == DC_OK) {
        dc_log(DC_LOG_INFO, RET, "history: compacted to revision %lld (current %lld)",
               (long long)target, (long long)cur);
        r->compacted = target;
    } else if (rc == DC_ECOMPACTED) {
        r->compacted = target; /* someone else (or the server) got there first */
    } else {
        dc_log(DC_LOG_WARN, RET, "history: compact to revision %lld: %s (%s)", (long long)target,
               dc_strerror(rc), dc_last_error());
    }
}

int64_t dcx_retention_compacted(const dcx_retention *r)
{
    return r ? r->compacted : 0;
}

void dcx_retention_free(dcx_retention *r)
{
    if (!r) return;
    free(r->s);
    free(r);
}
