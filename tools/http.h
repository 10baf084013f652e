/*
 * The master's HTTP endpoint (`ddlcoord master --listen ADDR:PORT`), served
 * by libmicrohttpd's own thread: /healthz, /readyz, /metrics (Prometheus
 * text), /v1/locks (the JSON of `locks --json`), /v1/status, /v1/steps (the
 * last protocol step of each recent lock) and the live page at /.
 *
 * The master's loop tells the monitor what it does: when it leads (and with
 * which dc_master), when it stands by, and every protocol step. Every
 * function accepts a NULL monitor (no --listen) and does nothing then.
 */
#ifndef DCX_HTTP_H
#define DCX_HTTP_H

#include "common.h"

#include <ddlcoord/pessimism_master.h>

typedef struct dcx_monitor dcx_monitor;

/* Listen on listen ("ADDR:PORT", "[v6]:PORT"; port 0 picks a free one) and
 * serve in a thread of its own. name: this master's; election_prefix: where
 * the candidates are (to name the leader when this one stands by). Both are
 * copied. Prints one error line and returns an exit code (DCX_EXIT_USAGE for
 * a bad address, DCX_EXIT_FAIL when it cannot listen) or DCX_EXIT_OK. */
int dcx_monitor_start(dcx_ctx *ctx, const char *listen, const char *name,
                      const char *election_prefix, dcx_monitor **out);
/* The address it listens on, "ADDR:PORT" with the real port. */
const char *dcx_monitor_address(const dcx_monitor *mon);
/* Stop serving and free. */
void dcx_monitor_stop(dcx_monitor *mon);
/* This master leads with master m (term: its leader key's create revision),
 * or stands by (m NULL). Call with NULL before freeing the master. */
void dcx_monitor_lead(dcx_monitor *mon, dc_master *m, int64_t term);
/* Copy the master's store-call counters from store (the master's handle,
 * which a reset may replace): call from the master's loop. */
void dcx_monitor_tick(dcx_monitor *mon, dc_store *store);
/* A protocol step of the master (from its step callback). */
void dcx_monitor_step(dcx_monitor *mon, const dc_step *st);

/* The live page (http_page.c). */
extern const char dcx_http_page[];

#endif
