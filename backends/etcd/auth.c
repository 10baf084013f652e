/*
 * User/password authentication. etcd's gateway trades credentials for a
 * token (POST /v3/auth/authenticate) that then travels, raw and without
 * "Bearer", in the Authorization header of every call. Tokens expire after
 * an idle TTL (300 s by default) and are forgotten by a restarted server, so
 * a call that gets "invalid auth token" asks for a new one here and retries
 * once. A generation number keeps concurrent callers that saw the same
 * stale token from all logging in again: only the first one does.
 */
#include "etcd.h"

#include <stdlib.h>
#include <string.h>

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
    cJSON *req = cJSON_CreateObject();
    cJSON *resp = NULL;
    int rc = DC_ENOMEM;
    if (req && cJSON_AddStringToObject(req, "name", c->username) &&
        cJSON_AddStringToObject(req, "password", c->password ? c->password : ""))
        rc = etcd_call(c, "/v3/auth/authenticate", req, ETCD_LOGIN, &resp, err);
    else
        etcd_err(c, err, rc, "out of memory building an auth request");
    cJSON_Delete(req);
    if (rc == DC_OK) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(resp, "token");
        char *tok = cJSON_IsString(t) && *t->valuestring ? strdup(t->valuestring) : NULL;
        if (!tok) {
            rc = cJSON_IsString(t) && *t->valuestring
                     ? etcd_err(c, err, DC_ENOMEM, "out of memory storing the token")
                     : etcd_err(c, err, DC_ECORRUPT, "auth/authenticate answered without a token");
        } else {
            pthread_mutex_lock(&c->auth_mu);
            free(c->token);
            c->token = tok;
            unsigned g = ++c->token_gen;
            pthread_mutex_unlock(&c->auth_mu);
            c->host->log(DC_LOG_INFO, "etcd", "%s: authenticated as %s (token #%u)", c->label,
                         c->username, g);
        }
    } else if (rc == DC_EINVAL) {
        /* 400 "authentication failed" is mapped to DC_EAUTH already; a 412
         * "authentication is not enabled" means the server runs without auth. */
        if (strstr(err->msg, "authentication is not enabled")) {
            pthread_mutex_lock(&c->auth_mu);
            free(c->token);
            c->token = NULL;
            c->token_gen++;
            pthread_mutex_unlock(&c->auth_mu);
            rc = DC_OK;
        }
    }
    cJSON_Delete(resp);
    pthread_mutex_unlock(&c->refresh_mu);
    if (rc != DC_OK && rc != DC_EAUTH && rc != DC_ENOMEM && rc != DC_ECORRUPT)
        c->host->log(DC_LOG_WARN, "etcd", "authentication as %s failed: %s", c->username, err->msg);
    return rc;
}
