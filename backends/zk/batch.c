/*
 * Pipelined reads. The 3.8 C client has no read multi, so reads that belong
 * together (the revision node, a deletion generation, the keys) are sent as
 * async requests back to back on one handle and collected here. ZooKeeper
 * answers a session's requests in order, so a read sent later never sees an
 * older state than one sent earlier: that ordering is what the snapshot and
 * the ABA checks rely on.
 *
 * Completions run on the client's completion thread; they copy what they get
 * into the slot and count down. zk_batch_run waits for every answer without a
 * timeout of its own: the client always completes a request (with
 * ZCONNECTIONLOSS/ZOPERATIONTIMEOUT/ZCLOSING if need be), and returning
 * earlier would leave completions writing into freed slots.
 */
#include <stdlib.h>
#include <string.h>

#include "zk.h"
#include "zk_batch.h"

void zk_batch_init(zk_batch *b)
{
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
}

void zk_batch_free(zk_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        zk_slot *s = &b->slots[i];
        free(s->data);
        for (int j = 0; j < s->n_names; j++) free(s->names[j]);
        free(s->names);
    }
    free(b->slots);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    memset(b, 0, sizeof *b);
}

int zk_batch_add(zk_batch *b, zk_qkind kind, const char *path)
{
    if (b->n == b->cap) {
        /* slots are referenced by in-flight requests only inside zk_batch_run,
         * so growing between runs is safe */
        size_t cap = b->cap ? b->cap * 2 : 8;
        zk_slot *s = realloc(b->slots, cap * sizeof *s);
        if (!s) return -1;
        b->slots = s;
        b->cap = cap;
    }
    zk_slot *s = &b->slots[b->n];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->path = path;
    s->rc = 1; /* not sent yet */
    return (int)b->n++;
}

static void done(zk_slot *s, int rc)
{
    zk_batch *b = s->b;
    pthread_mutex_lock(&b->mu);
    s->rc = rc;
    if (--b->pending == 0) pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void on_data(int rc, const char *value, int value_len, const struct Stat *stat,
                    const void *data)
{
    zk_slot *s = (zk_slot *)data;
    if (rc == ZOK) {
        if (stat) s->stat = *stat;
        int n = value_len > 0 ? value_len : 0;
        s->data = malloc((size_t)n + 1);
        if (!s->data) {
            rc = ZSYSTEMERROR;
        } else {
            if (n) memcpy(s->data, value, (size_t)n);
            s->data[n] = '\0';
            s->len = n;
        }
    }
    done(s, rc);
}

static void on_stat(int rc, const struct Stat *stat, const void *data)
{
    zk_slot *s = (zk_slot *)data;
    if (rc == ZOK && stat) s->stat = *stat;
    done(s, rc);
}

static void on_children(int rc, const struct String_vector *strings, const struct Stat *stat,
                        const void *data)
{
    zk_slot *s = (zk_slot *)data;
    if (rc == ZOK) {
        if (stat) s->stat = *stat;
        int n = strings ? strings->count : 0;
        s->names = calloc(n > 0 ? (size_t)n : 1, sizeof *s->names);
        if (!s->names) rc = ZSYSTEMERROR;
        for (int i = 0; rc == ZOK && i < n; i++) {
            s->names[i] = strdup(strings->data[i]);
            if (!s->names[i])
                rc = ZSYSTEMERROR;
            else
                s->n_names = i + 1;
        }
    }
    done(s, rc);
}

static void on_sync(int rc, const char *value, const void *data)
{
    (void)value;
    done((zk_slot *)data, rc);
}

void zk_batch_run(zk_batch *b, zhandle_t *zh, size_t first)
{
    for (size_t i = first; i < b->n; i++) {
        zk_slot *s = &b->slots[i];
        s->b = b;
        pthread_mutex_lock(&b->mu);
        b->pending++;
        pthread_mutex_unlock(&b->mu);
        int rc;
        switch (s->kind) {
        case ZK_Q_GET:
            rc = zoo_aget(zh, s->path, 0, on_data, s);
            break;
        case ZK_Q_EXISTS:
            rc = zoo_aexists(zh, s->path, 0, on_stat, s);
            break;
        case ZK_Q_SYNC:
            rc = zoo_async(zh, s->path, on_sync, s);
            break;
        default:
            rc = zoo_aget_children2(zh, s->path, 0, on_children, s);
            break;
        }
        if (rc != ZOK) done(s, rc); /* never queued: no completion will come */
    }
    pthread_mutex_lock(&b->mu);
    while (b->pending > 0) pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
    /* a failed sync proves nothing about the reads queued behind it */
    for (size_t i = first; i < b->n; i++) {
        int rc = b->slots[i].rc;
        if (b->slots[i].kind != ZK_Q_SYNC || rc == ZOK) continue;
        for (size_t j = i + 1; j < b->n; j++) {
            zk_slot *s = &b->slots[j];
            if (s->rc != ZOK && s->rc != ZNONODE) continue;
            free(s->data);
            s->data = NULL;
            s->len = 0;
            for (int k = 0; k < s->n_names; k++) free(s->names[k]);
            free(s->names);
            s->names = NULL;
            s->n_names = 0;
            s->rc = rc;
        }
        break;
    }
}

int zk_sync(zhandle_t *zh, const char *path)
{
    zk_batch b;
    zk_batch_init(&b);
    int rc = zk_batch_add(&b, ZK_Q_SYNC, path) < 0 ? ZSYSTEMERROR : ZOK;
    if (rc == ZOK) {
        zk_batch_run(&b, zh, 0);
        rc = b.slots[0].rc;
    }
    zk_batch_free(&b);
    return rc;
}
