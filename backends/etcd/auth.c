/*
 * User/password authentication. etcd trades credentials for a token
 * (Auth/Authenticate) that then travels as the "token" gRPC metadata header
 * of every call. Tokens expire after an idle TTL (300 s by default) and are
 * forgotten by a restarted server, so a call that gets "invalid auth token"
 * asks for a new one here and retries once. A generation number keeps
 * concurrent callers that saw the same stale token from all logging in
 * again: only the first one does.
 *
 * Watches live on the loop thread, which must never wait for a call (the
 * call would need the loop). A watch whose token was rejected therefore
 * asks a small refresher thread (started only when a username is set) to
 * log in; once it has, the waiting watches reconnect with the new token.
 */
#include "etcd.h"

#include <stdlib.h>
#include <string.h>

unsigned etcd_token_gen(etcd_conn *c)
{
    pthread_mutex_lock(&c->auth_mu);
    unsigned g = c->token_gen;
    pthread_mutex_unlock(&c->auth_mu);
    return g;
}

int etcd_auth_refresh(etcd_conn *c, unsigned gen, dc_drv_err *err)
{
    if (!c->username) return DC_OK;
    pthread_mutex_lock(&c->refresh_mu);
    pthread_mutex_lock(&c->auth_mu);
    int fresh = c->token && c->token_gen != gen;
    pthread_mutex_unlock(&c->auth_mu);
    if (fresh) { /* another caller already replaced the token we used */
        pthread_mutex_unlock(&c->refresh_mu);
        return DC_OK;
    }
    Etcdpb__AuthenticateRequest req = ETCDPB__AUTHENTICATE_REQUEST__INIT;
    req.name = c->username;
    req.password = c->password ? c->password : (char *)"";
    ProtobufCMessage *m = NULL;
    int rc = etcd_rpc(c, "/etcdserverpb.Auth/Authenticate", &req.base,
                      &etcdpb__authenticate_response__descriptor, ETCD_LOGIN, &m, err);
    if (rc == DC_OK) {
        const char *t = ((Etcdpb__AuthenticateResponse *)m)->token;
        char *tok = t && *t ? strdup(t) : NULL;
        if (!tok) {
            rc = t && *t ? etcd_err(c, err, DC_ENOMEM, "out of memory storing the token")
                         : etcd_err(c, err, DC_ECORRUPT, "Authenticate answered without a token");
        } else {
            pthread_mutex_lock(&c->auth_mu);
            free(c->token);
            c->token = tok;
            unsigned g = ++c->token_gen;
            pthread_mutex_unlock(&c->auth_mu);
            c->host->log(DC_LOG_INFO, "etcd", "%s: authenticated as %s (token #%u)", c->label,
                         c->username, g);
        }
    } else if (rc == DC_EINVAL && strstr(err->msg, "authentication is not enabled")) {
        /* The server runs without auth: send no token at all. */
        pthread_mutex_lock(&c->auth_mu);
        free(c->token);
        c->token = NULL;
        c->token_gen++;
        pthread_mutex_unlock(&c->auth_mu);
        rc = DC_OK;
    }
    if (m) protobuf_c_message_free_unpacked(m, NULL);
    pthread_mutex_unlock(&c->refresh_mu);
    if (rc != DC_OK && rc != DC_EAUTH && rc != DC_ENOMEM && rc != DC_ECORRUPT)
        c->host->log(DC_LOG_WARN, "etcd", "authentication as %s failed: %s", c->username, err->msg);
    return rc;
}

static void *refresher(void *arg)
{
    etcd_conn *c = arg;
    pthread_mutex_lock(&c->auth_mu);
    for (;;) {
        while (!c->auth_stop && !c->auth_wanted) pthread_cond_wait(&c->auth_cv, &c->auth_mu);
        if (c->auth_stop) break;
        unsigned gen = c->auth_want_gen;
        c->auth_wanted = 0;
        pthread_mutex_unlock(&c->auth_mu);
        dc_drv_err err = {{0}, 0};
        if (etcd_auth_refresh(c, gen, &err) != DC_OK)
            c->host->log(DC_LOG_WARN, "etcd", "%s: token refresh for watches failed: %s", c->label,
                         err.msg);
        /* Either way the watches try again (and fail typed if it is hopeless). */
        etcd_watch_token_ready(c);
        pthread_mutex_lock(&c->auth_mu);
    }
    pthread_mutex_unlock(&c->auth_mu);
    return NULL;
}

int etcd_auth_thread_start(etcd_conn *c)
{
    if (!c->username) return DC_OK;
    if (pthread_create(&c->auth_thread, NULL, refresher, c) != 0) return DC_ENOMEM;
    c->auth_thread_running = 1;
    return DC_OK;
}

void etcd_auth_thread_stop(etcd_conn *c)
{
    if (!c->auth_thread_running) return;
    pthread_mutex_lock(&c->auth_mu);
    c->auth_stop = 1;
    pthread_cond_signal(&c->auth_cv);
    pthread_mutex_unlock(&c->auth_mu);
    pthread_join(c->auth_thread, NULL);
    c->auth_thread_running = 0;
}

void etcd_auth_want(etcd_conn *c, unsigned gen)
{
    pthread_mutex_lock(&c->auth_mu);
    c->auth_wanted = 1;
    c->auth_want_gen = gen;
    pthread_cond_signal(&c->auth_cv);
    pthread_mutex_unlock(&c->auth_mu);
}
