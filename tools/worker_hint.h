/*
 * A waiting worker says why (worker_hint.c): no registered sources in its
 * task, or no master leading; every 10 s while it waits.
 */
#ifndef DCX_WORKER_HINT_H
#define DCX_WORKER_HINT_H

#include "common.h"

typedef struct dcx_hint dcx_hint;

/* Start looking (ctx->store open); NULL when it cannot (no memory, no
 * thread): the worker then simply gives no hints. */
dcx_hint *dcx_hint_start(dcx_ctx *ctx, const char *task);
/* Stop and free; NULL is a no-op. */
void dcx_hint_stop(dcx_hint *h);

#endif
