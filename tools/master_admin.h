/*
 * The leading master's admin thread: executes unlock and remove-meta
 * requests found under NS/ddlcoord/admin/request/ and writes the answers,
 * fenced by the leader key (see admin.h for the protocol).
 */
#ifndef DCX_MASTER_ADMIN_H
#define DCX_MASTER_ADMIN_H

#include "common.h"

#include <pthread.h>

typedef struct dcx_master_admin dcx_master_admin;

/* Start serving requests for master m (which another thread runs with
 * dc_master_run) while it leads with the fence (key, create_revision).
 * name is the master's name, put in answers. All borrowed: they must outlive
 * dcx_master_admin_stop. Errors: DC_ENOMEM, thread creation failure
 * (DC_EINTERNAL). */
int dcx_master_admin_start(dc_store *store, const char *ns, dc_master *m, const char *name,
                           const char *fence_key, size_t fence_key_len, int64_t fence_rev,
                           dcx_master_admin **out);

/* 1 once an answer write was rejected by the fence (this master is deposed). */
int dcx_master_admin_fenced(dcx_master_admin *a);

/* Stop the thread (an unlock in progress is cut short by dc_master_stop,
 * which the caller invokes first), join it and free. NULL is a no-op. */
void dcx_master_admin_stop(dcx_master_admin *a);

#endif
