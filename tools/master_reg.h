/*
 * The masters' registry (master_reg.c): NS/ddlcoord/master/<hex name>, one
 * lease-backed key per running master with its host, PID, start time, HTTP
 * address and leadership, read by `ddlcoord status`.
 */
#ifndef DCX_MASTER_REG_H
#define DCX_MASTER_REG_H

#include "common.h"

typedef struct dcx_reg dcx_reg;

/* Register name (refused with DCX_EXIT_USAGE and one error line when a live
 * master holds it), with a lease of ttl seconds; address (may be NULL) is
 * the --listen address. Returns an exit code. */
int dcx_reg_new(dcx_ctx *ctx, const char *name, int64_t ttl, const char *address, dcx_reg **out);
/* Renew the lease when due (cheap to call often); re-register after a
 * lost lease. NULL: no-op. */
void dcx_reg_tick(dcx_reg *reg);
/* This master now leads with term (its leader key's create revision), or
 * stands by (term 0): rewrite the key. NULL: no-op. */
void dcx_reg_leading(dcx_reg *reg, int64_t term);
/* Revoke the lease (the name is free at once) and free. NULL: no-op. */
void dcx_reg_free(dcx_reg *reg);

/* The registry key of name (malloc'd; NULL when out of memory). */
char *dcx_reg_key(const char *ns, const char *name);
/* The wall clock as 2026-12-06T01:02:03.456Z. */
void dcx_iso_now(char *buf, size_t len);

#endif
