/*
 * History retention (retention.c): the leading master compacts the store's
 * history on a schedule, keeping the last N revisions and/or the last M
 * minutes of it.
 */
#ifndef DCX_RETENTION_H
#define DCX_RETENTION_H

#include "common.h"

typedef struct dcx_retention dcx_retention;

/* Keep keep_revisions revisions (0: no such bound) and keep_minutes minutes
 * (0: no such bound) of history, checking every every_ms. Both 0: *out =
 * NULL (retention off). Returns a DC_E code (DC_ENOMEM). */
int dcx_retention_new(dcx_ctx *ctx, int64_t keep_revisions, int64_t keep_minutes, int64_t every_ms,
                      dcx_retention **out);
/* Called by the leader between passes: compacts when due. NULL: no-op. */
void dcx_retention_tick(dcx_retention *r);
/* The last revision compacted to (0: none yet). */
int64_t dcx_retention_compacted(const dcx_retention *r);
void dcx_retention_free(dcx_retention *r);

#endif
