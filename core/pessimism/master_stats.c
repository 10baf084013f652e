/*
 * The master's read-only counters (ddlcoord/stats.h, dc_master_get_stats),
 * for monitoring: how far it has handled the store's history, its rebuilds
 * and how long the last one took, the admin requests it answered, and how
 * many locks it holds. The run loop updates them under the master's mutex
 * (master.c: rebuild; master_admin.c: answers); this file only reads them.
 */
#include "master.h"

#include <ddlcoord/stats.h>

int dc_master_get_stats(dc_master *m, dc_master_stats *out)
{
    if (!m || !out) return dc__error(DC_EINVAL, "dc_master_get_stats: NULL argument");
    pthread_mutex_lock(&m->mu);
    out->rebuilt_revision = atomic_load(&m->m1);
    out->handled_revision = m->handled;
    out->rebuilds = m->rebuilds;
    out->last_rebuild_ms = m->stat_rebuild_ms;
    out->admin_answers = m->stat_answers;
    out->locks = dcp_keeper_count(m->keeper);
    pthread_mutex_unlock(&m->mu);
    return DC_OK;
}
