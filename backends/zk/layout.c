/*
 * The znode layout of a zk:// store (zk_layout.h draws it): its paths,
 * its creation in one multi, the access probe, and the store's epoch.
 *
 * Digest auth never fails on the wire (a wrong password just yields an
 * identity that matches no ACL), so open reads the event pointer, which is
 * ACL-protected, and reports DC_EAUTH when that read is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"
#include "zk.h"
#include "zk_config.h"
#include "zk_layout.h"
#include "zk_session.h"

static char *path_join(const char *a, const char *b)
{
    dc_buf p = DC_BUF_INIT;
    if (dc__buf_printf(&p, "%s%s", a, b)) return NULL;
    return dc__buf_steal(&p);
}

int zk_layout_init(zk_layout *l, const zk_cfg *cfg, dc_drv_err *err)
{
    memset(l, 0, sizeof *l);
    l->endpoint = cfg->endpoint;
    l->root = strdup(cfg->root);
    if (!l->root) return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    l->root_len = strlen(l->root);
    l->p_rev = path_join(l->root, "/rev");
    l->p_kv = path_join(l->root, "/kv");
    l->p_ev = path_join(l->root, "/ev");
    l->p_compact = path_join(l->root, "/compact");
    l->p_lease = path_join(l->root, "/lease");
    l->p_clock = path_join(l->root, "/clock");
    l->p_gen = path_join(l->root, "/gen");
    l->p_epoch = path_join(l->root, "/epoch");
    if (!l->p_rev || !l->p_kv || !l->p_ev || !l->p_compact || !l->p_lease || !l->p_clock ||
        !l->p_gen || !l->p_epoch) {
        zk_layout_free(l);
        return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    }
    return DC_OK;
}

void zk_layout_free(zk_layout *l)
{
    free(l->root);
    free(l->p_rev);
    free(l->p_kv);
    free(l->p_ev);
    free(l->p_compact);
    free(l->p_lease);
    free(l->p_clock);
    free(l->p_gen);
    free(l->p_epoch);
    free(l->epoch_path);
    memset(l, 0, sizeof *l);
}

void zk_bucket_path(const zk_layout *l, int64_t b, char *buf, size_t len)
{
    snprintf(buf, len, "%s/b%010lld", l->p_ev, (long long)b);
}

char *zk_lease_node_path(const zk_layout *l, int64_t id, const char *name)
{
    dc_buf b = DC_BUF_INIT;
    if (dc__buf_printf(&b, "%s/%016llx", l->p_lease, (unsigned long long)id)) return NULL;
    if (name && dc__buf_printf(&b, "/%s", name)) {
        dc__buf_free(&b);
        return NULL;
    }
    return dc__buf_steal(&b);
}

char *zk_lease_path(const zk_layout *l, int64_t id)
{
    return zk_lease_node_path(l, id, NULL);
}

/* Create every ancestor of the root that is missing (races are fine). */
static int ensure_parents(zk_layout *c, const zk_cfg *cfg, zhandle_t *zh, dc_drv_err *err)
{
    char *p = strdup(c->root);
    if (!p) return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    int rc = DC_OK;
    for (char *s = strchr(p + 1, '/'); s && rc == DC_OK; s = strchr(s + 1, '/')) {
        *s = '\0';
        int zrc = zoo_create(zh, p, NULL, -1, zk_acl(cfg), ZOO_PERSISTENT, NULL, 0);
        if (zrc != ZOK && zrc != ZNODEEXISTS)
            rc = ZKERR(err, zk_map_rc(zrc), "zk %s: cannot create %s: %s", c->endpoint, p,
                       zerror(zrc));
        *s = '/';
    }
    free(p);
    return rc;
}

/* Create the whole layout in one multi if the root is missing. */
static int ensure_layout(zk_layout *c, const zk_cfg *cfg, zhandle_t *zh, dc_drv_err *err)
{
    struct Stat st;
    int zrc = zoo_exists(zh, c->root, 0, &st);
    if (zrc == ZOK) return DC_OK;
    if (zrc != ZNONODE)
        return ZKERR(err, zk_map_rc(zrc), "zk %s: exists %s: %s", c->endpoint, c->root,
                     zerror(zrc));
    int rc = ensure_parents(c, cfg, zh, err);
    if (rc) return rc;
    enum { NFIXED = 10 };
    zoo_op_t ops[NFIXED + ZK_GEN_SHARDS];
    zoo_op_result_t res[NFIXED + ZK_GEN_SHARDS];
    char b0[512], gens[ZK_GEN_SHARDS][512];
    zk_bucket_path(c, 0, b0, sizeof b0);
    const struct ACL_vector *acl = zk_acl(cfg);
    int n = 0;
    zoo_create_op_init(&ops[n++], c->root, NULL, -1, acl, ZOO_PERSISTENT, NULL, 0);
    zoo_create_op_init(&ops[n++], c->p_rev, "", 0, acl, ZOO_PERSISTENT, NULL, 0);
    zoo_create_op_init(&ops[n++], c->p_kv, "", 0, acl, ZOO_PERSISTENT, NULL, 0);
    zoo_create_op_init(&ops[n++], c->p_ev, "0", 1, acl, ZOO_PERSISTENT, NULL, 0);
    zoo_create_op_init(&ops[n++], b0, "", 0, acl, ZOO_PERSISTENT, NULL, 0);
    zoo_create_op_init(&ops[n++], c->p_compact, "0", 1, acl, ZOO_PERSISTENT, NULL, 0);
    zoo_create_op_init(&ops[n++], c->p_lease, "", 0, acl, ZOO_PERSISTENT, NULL, 0);
    zoo_create_op_init(&ops[n++], c->p_clock, "", 0, acl, ZOO_PERSISTENT, NULL, 0);
    zoo_create_op_init(&ops[n++], c->p_gen, "", 0, acl, ZOO_PERSISTENT, NULL, 0);
    for (int i = 0; i < ZK_GEN_SHARDS; i++) {
        snprintf(gens[i], sizeof gens[i], "%s/%02d", c->p_gen, i);
        zoo_create_op_init(&ops[n++], gens[i], "", 0, acl, ZOO_PERSISTENT, NULL, 0);
    }
    zrc = zoo_multi(zh, n, ops, res);
    if (zrc != ZOK && zrc != ZNODEEXISTS)
        return ZKERR(err, zk_map_rc(zrc), "zk %s: cannot create the store layout under %s: %s",
                     c->endpoint, c->root, zerror(zrc));
    return DC_OK;
}

int zk_epoch_rc(const zk_layout *c, int zrc, dc_drv_err *err)
{
    if (zrc == ZOK) return DC_OK;
    if (zrc == ZNONODE)
        return ZKERR(err, DC_ERESET,
                     "zk %s: the store's epoch %s is gone: the server lost its data (a wiped or "
                     "replaced data directory) and this is another history",
                     c->endpoint, c->epoch_path);
    return ZKERR(err, zk_map_rc(zrc), "zk %s: reading %s: %s", c->endpoint, c->epoch_path,
                 zerror(zrc));
}

/* Learn the store's epoch, R/epoch/<name>, creating it with a random name
 * for a store that has none yet (a new layout, or one made before epochs:
 * parent and child in one multi, so racing openers agree on one name). */
static int epoch_init(zk_layout *c, const zk_cfg *cfg, zhandle_t *zh, dc_drv_err *err)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        struct String_vector names = {0, NULL};
        int zrc = zoo_get_children(zh, c->p_epoch, 0, &names);
        if (zrc == ZOK && names.count > 0) {
            const char *first = names.data[0]; /* there is one; if more, the smallest */
            for (int i = 1; i < names.count; i++)
                if (strcmp(names.data[i], first) < 0) first = names.data[i];
            dc_buf p = DC_BUF_INIT;
            int bad = dc__buf_printf(&p, "%s/%s", c->p_epoch, first);
            deallocate_String_vector(&names);
            if (bad) {
                dc__buf_free(&p);
                return ZKERR(err, DC_ENOMEM, "zk: out of memory");
            }
            free(c->epoch_path);
            c->epoch_path = dc__buf_steal(&p);
            return c->epoch_path ? DC_OK : ZKERR(err, DC_ENOMEM, "zk: out of memory");
        }
        if (zrc == ZOK) deallocate_String_vector(&names);
        if (zrc != ZOK && zrc != ZNONODE)
            return ZKERR(err, zk_map_rc(zrc), "zk %s: reading %s: %s", c->endpoint, c->p_epoch,
                         zerror(zrc));
        unsigned char b[16];
        if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
            uint64_t t[2] = {(uint64_t)dc__now_us(), (uint64_t)(uintptr_t)c ^ (uint64_t)getpid()};
            memcpy(b, t, sizeof b);
        }
        char name[64], hex[33];
        for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", b[i]);
        snprintf(name, sizeof name, "%s/e%s", c->p_epoch, hex);
        zoo_op_t ops[2];
        zoo_op_result_t res[2];
        int n = 0;
        if (zrc == ZNONODE)
            zoo_create_op_init(&ops[n++], c->p_epoch, "", 0, zk_acl(cfg), ZOO_PERSISTENT, NULL, 0);
        zoo_create_op_init(&ops[n++], name, "", 0, zk_acl(cfg), ZOO_PERSISTENT, NULL, 0);
        zrc = zoo_multi(zh, n, ops, res);
        if (zrc != ZOK && zrc != ZNODEEXISTS && zrc != ZNONODE)
            return ZKERR(err, zk_map_rc(zrc), "zk %s: creating the store's epoch: %s", c->endpoint,
                         zerror(zrc));
    }
    return ZKERR(err, DC_EUNAVAILABLE, "zk %s: %s keeps changing", c->endpoint, c->p_epoch);
}

/* Read the event pointer (ACL-checked, unlike exists): the auth probe. */
static int probe(zk_layout *c, const zk_cfg *cfg, zhandle_t *zh, dc_drv_err *err)
{
    char buf[64];
    int len = sizeof buf;
    struct Stat st;
    int zrc = zoo_get(zh, c->p_ev, 0, buf, &len, &st);
    if (zrc == ZNOAUTH)
        return ZKERR(err, DC_EAUTH, "zk %s: access to %s denied: %s (wrong user name or password?)",
                     c->endpoint, c->root,
                     cfg->user ? "the credentials do not match the store's ACL"
                               : "the store is protected and no credentials were given");
    if (zrc == ZNONODE)
        return ZKERR(err, DC_ECORRUPT, "zk %s: %s exists but is not a ddlcoord store", c->endpoint,
                     c->root);
    if (zrc != ZOK)
        return ZKERR(err, zk_map_rc(zrc), "zk %s: reading %s: %s", c->endpoint, c->p_ev,
                     zerror(zrc));
    return DC_OK;
}

int zk_layout_open(zk_layout *l, zk_session *s, const zk_cfg *cfg, dc_drv_err *err)
{
    zhandle_t *zh = zk_acquire(s, NULL);
    int rc = ensure_layout(l, cfg, zh, err);
    if (!rc) rc = probe(l, cfg, zh, err);
    if (!rc) rc = epoch_init(l, cfg, zh, err);
    zk_release(s);
    return rc;
}
