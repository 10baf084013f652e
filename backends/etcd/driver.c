/*
 * The etcd driver's table and its connection lifecycle.
 *
 * URIs: etcd://host:port[,host:port…] (HTTP) and etcd+https://… (TLS);
 * a missing port is 2379. Options come from the dc_config the core hands
 * over (URI query parameters are already merged into it); each is looked up
 * first as "etcd.<name>" (an INI section [etcd]) and then as "<name>":
 * username, password (also user:password@ in the URI), tls_ca, tls_cert,
 * tls_key, connect_timeout_ms (default 3000), request_timeout_ms (5000),
 * max_send_bytes (2 MiB, see etcd.h).
 *
 * open() checks that some endpoint answers (and, with a username, that the
 * credentials are accepted) so a wrong address or password fails at once
 * with DC_EUNAVAILABLE / DC_EAUTH instead of at the first call.
 */
#include "etcd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv.h"
#include "uri.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Options: "etcd.<name>" wins over "<name>" (core/util/drv.h); empty is unset. */
static const char *opt(const dc_host *h, const dc_config *cfg, const char *name)
{
    const char *v = dc__drv_opt(h, cfg, "etcd", name);
    return v && *v ? v : NULL;
}

static int dup_opt(const dc_host *h, const dc_config *cfg, const char *name, char **out)
{
    const char *v = opt(h, cfg, name);
    *out = v ? strdup(v) : NULL;
    return v && !*out ? -1 : 0;
}

static void conn_free(etcd_conn *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n_endpoints; i++) free(c->endpoints[i]);
    free(c->endpoints);
    free(c->label);
    free(c->tls_ca);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->username);
    free(c->password);
    etcd_auth_thread_stop(c);
    etcd_loop_stop(c);
    etcd_pool_free(c);
    free(c->token);
    pthread_mutex_destroy(&c->pool_mu);
    pthread_mutex_destroy(&c->page_mu);
    free(c->page_hint.prefix);
    free(c->page_hint.last);
    pthread_mutex_destroy(&c->refresh_mu);
    pthread_mutex_destroy(&c->auth_mu);
    pthread_mutex_destroy(&c->loop_mu);
    pthread_cond_destroy(&c->auth_cv);
    free(c);
}

/* Fill endpoints and label from the parsed URI. */
static int set_endpoints(etcd_conn *c, const dc_uri *u)
{
    c->endpoints = calloc(u->n_hosts, sizeof *c->endpoints);
    dc_buf label = DC_BUF_INIT;
    if (!c->endpoints || dc__buf_puts(&label, "etcd ")) goto oom;
    for (size_t i = 0; i < u->n_hosts; i++) {
        const char *host = u->hosts[i].host;
        int port = u->hosts[i].port ? u->hosts[i].port : 2379;
        int v6 = strchr(host, ':') != NULL;
        size_t n = strlen(host) + 32;
        c->endpoints[i] = malloc(n);
        if (!c->endpoints[i]) goto oom;
        c->n_endpoints = i + 1;
        snprintf(c->endpoints[i], n, "%s://%s%s%s:%d", c->tls ? "https" : "http", v6 ? "[" : "",
                 host, v6 ? "]" : "", port);
        if (dc__buf_printf(&label, "%s%s%s%s:%d", i ? "," : "", v6 ? "[" : "", host, v6 ? "]" : "",
                           port))
            goto oom;
    }
    c->label = dc__buf_steal(&label);
    return c->label ? 0 : -1;
oom:
    dc__buf_free(&label);
    return -1;
}

static int etcd_open(const dc_host *host, const char *uri, const dc_config *cfg, void **conn,
                     dc_drv_err *err)
{
    *conn = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return etcd_err(NULL, err, DC_EUNAVAILABLE, "libcurl initialisation failed: %s",
                        curl_easy_strerror(curl_init_rc));
    dc_uri u;
    char perr[256];
    int prc = dc__uri_parse(uri, &u, perr, sizeof perr);
    if (prc != 0) {
        dc__uri_free(&u);
        return etcd_err(NULL, err, prc == -2 ? DC_ENOMEM : DC_EINVAL, "bad URI: %s", perr);
    }
    int tls = strcmp(u.scheme, "etcd+https") == 0;
    if (!tls && strcmp(u.scheme, "etcd") != 0) {
        dc__uri_free(&u);
        return etcd_err(NULL, err, DC_EINVAL, "scheme %s is not etcd:// or etcd+https://",
                        u.scheme);
    }
    if (u.n_hosts == 0 || (u.path && *u.path)) {
        dc__uri_free(&u);
        return etcd_err(NULL, err, DC_EINVAL, "etcd URI %s: %s", uri,
                        u.n_hosts ? "a path is not supported" : "no host");
    }
    etcd_conn *c = calloc(1, sizeof *c);
    if (!c) {
        dc__uri_free(&u);
        return etcd_err(NULL, err, DC_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&c->pool_mu, NULL);
    pthread_mutex_init(&c->page_mu, NULL);
    pthread_mutex_init(&c->refresh_mu, NULL);
    pthread_mutex_init(&c->auth_mu, NULL);
    pthread_mutex_init(&c->loop_mu, NULL);
    pthread_cond_init(&c->auth_cv, NULL);
    c->host = host;
    c->tls = tls;
    int oom = set_endpoints(c, &u);
    dc__uri_free(&u);
    if (oom || dup_opt(host, cfg, "username", &c->username) ||
        dup_opt(host, cfg, "password", &c->password) || dup_opt(host, cfg, "tls_ca", &c->tls_ca) ||
        dup_opt(host, cfg, "tls_cert", &c->tls_cert) ||
        dup_opt(host, cfg, "tls_key", &c->tls_key)) {
        conn_free(c);
        return etcd_err(NULL, err, DC_ENOMEM, "out of memory");
    }
    /* integers are checked as the core checks its own: a bad one is
     * DC_EINVAL naming the key, never a silent default */
    int64_t cto, rto;
    dc_drv_err why = {{0}, 0};
    int orc = dc__drv_opt_int(host, cfg, "etcd", "connect_timeout_ms",
                              DC_DEFAULT_CONNECT_TIMEOUT_MS, 1, 86400000, &cto, &why);
    if (orc == DC_OK)
        orc = dc__drv_opt_int(host, cfg, "etcd", "request_timeout_ms",
                              DC_DEFAULT_REQUEST_TIMEOUT_MS, 1, 86400000, &rto, &why);
    if (orc == DC_OK)
        orc = dc__drv_opt_int(host, cfg, "etcd", "max_send_bytes", ETCD_DEFAULT_MAX_SEND_BYTES, 1,
                              INT64_MAX, &c->max_send_bytes, &why);
    if (orc != DC_OK) {
        int rc = etcd_err(c, err, DC_EINVAL, "%s", why.msg);
        conn_free(c);
        return rc;
    }
    c->connect_timeout_ms = (long)cto;
    c->request_timeout_ms = (long)rto;
    if (!tls && (c->tls_ca || c->tls_cert || c->tls_key))
        host->log(DC_LOG_WARN, "etcd", "%s: tls_* options ignored on etcd:// (use etcd+https://)",
                  c->label);

    int rc = etcd_loop_start(c);
    if (rc == DC_OK) rc = etcd_auth_thread_start(c);
    if (rc != DC_OK) {
        conn_free(c);
        return etcd_err(NULL, err, rc, "cannot start the driver's threads");
    }
    if (c->username) {
        rc = etcd_auth_refresh(c, 0, err);
    } else {
        Etcdpb__StatusRequest req = ETCDPB__STATUS_REQUEST__INIT;
        ProtobufCMessage *m = NULL;
        rc = etcd_rpc(c, "/etcdserverpb.Maintenance/Status", &req.base,
                      &etcdpb__status_response__descriptor, ETCD_READ, &m, err);
        if (m) protobuf_c_message_free_unpacked(m, NULL);
    }
    if (rc != DC_OK) {
        conn_free(c);
        return rc;
    }
    *conn = c;
    return DC_OK;
}

static void etcd_close(void *conn)
{
    conn_free(conn);
}

static const dc_driver etcd_driver = {
    .abi_version = DC_DRIVER_ABI,
    .size = sizeof(dc_driver),
    .name = "etcd",
    .version = "etcd v3 gRPC over HTTP/2 (libcurl + protobuf-c)",
    .open = etcd_open,
    .close = etcd_close,
    .get = etcd_get,
    .txn = etcd_txn,
    .compact = etcd_compact,
    .watch_start = etcd_watch_start,
    .watch_stop = etcd_watch_stop,
    .lease_grant = etcd_lease_grant,
    .lease_keepalive = etcd_lease_keepalive,
    .lease_revoke = etcd_lease_revoke,
    .get_page = etcd_get_page,
};

__attribute__((visibility("default"))) const dc_driver *dc_driver_entry(void);
__attribute__((visibility("default"))) const dc_driver *dc_driver_entry(void)
{
    return &etcd_driver;
}
