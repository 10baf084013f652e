/*
 * Leases: etcd's Lease service.
 *
 * LeaseKeepAlive is a bidirectional stream in gRPC. We send one request and
 * half-close: etcd answers it, sees the end of the requests and ends the
 * stream, so a keepalive is one short stream that looks like a unary call.
 * A missing (zero) TTL in the answer means the lease is gone. The caller
 * (dc_lease_keepalive, typically from the keeper's own thread) repeats it
 * every TTL/3; the driver does not renew leases on its own, because a lease
 * the application stopped refreshing must expire (the contract's expiry
 * events depend on it).
 */
#include "etcd.h"

#define LEASE_SVC "/etcdserverpb.Lease/"

int etcd_lease_grant(void *conn, int64_t ttl, int64_t *id, int64_t *granted, dc_drv_err *err)
{
    etcd_conn *c = conn;
    Etcdpb__LeaseGrantRequest req = ETCDPB__LEASE_GRANT_REQUEST__INIT;
    req.ttl = ttl;
    ProtobufCMessage *m = NULL;
    int rc = etcd_rpc(c, LEASE_SVC "LeaseGrant", &req.base,
                      &etcdpb__lease_grant_response__descriptor, ETCD_WRITE, &m, err);
    if (rc != DC_OK) return rc;
    Etcdpb__LeaseGrantResponse *r = (Etcdpb__LeaseGrantResponse *)m;
    if (r->error && *r->error) {
        rc = etcd_err(c, err, DC_EINVAL, "lease grant: %s", r->error);
    } else if (r->id == 0) {
        c->host->log(DC_LOG_ERROR, "etcd", "%s: lease grant answered without an ID", c->label);
        rc = etcd_err(c, err, DC_EUNKNOWN, "malformed lease grant answer (no ID)");
    } else {
        *id = r->id;
        *granted = r->ttl;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int etcd_lease_keepalive(void *conn, int64_t id, int64_t *ttl, dc_drv_err *err)
{
    etcd_conn *c = conn;
    Etcdpb__LeaseKeepAliveRequest req = ETCDPB__LEASE_KEEP_ALIVE_REQUEST__INIT;
    req.id = id;
    ProtobufCMessage *m = NULL;
    /* Refreshing twice is harmless: a keepalive may be retried elsewhere. */
    int rc = etcd_rpc(c, LEASE_SVC "LeaseKeepAlive", &req.base,
                      &etcdpb__lease_keep_alive_response__descriptor, ETCD_READ, &m, err);
    if (rc != DC_OK) return rc;
    Etcdpb__LeaseKeepAliveResponse *r = (Etcdpb__LeaseKeepAliveResponse *)m;
    if (r->ttl <= 0)
        rc = etcd_err(c, err, DC_ENOTFOUND, "lease %lld not found (expired or revoked)",
                      (long long)id);
    else
        *ttl = r->ttl;
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int etcd_lease_revoke(void *conn, int64_t id, dc_drv_err *err)
{
    etcd_conn *c = conn;
    Etcdpb__LeaseRevokeRequest req = ETCDPB__LEASE_REVOKE_REQUEST__INIT;
    req.id = id;
    ProtobufCMessage *m = NULL;
    int rc = etcd_rpc(c, LEASE_SVC "LeaseRevoke", &req.base,
                      &etcdpb__lease_revoke_response__descriptor, ETCD_WRITE, &m, err);
    if (m) protobuf_c_message_free_unpacked(m, NULL);
    if (rc == DC_ENOTFOUND)
        etcd_err(c, err, rc, "lease %lld not found (expired or revoked)", (long long)id);
    return rc;
}
