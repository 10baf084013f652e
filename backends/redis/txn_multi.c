#include "redis.h"
int rd_txn_multi(rd_store *s, redisContext *ctx, const dc_txn_req *req, const char *token,
                 rd_revoke *rv, dc_txn_result *out, dc_drv_err *err)
{
    (void)ctx;
    (void)req;
    (void)token;
    (void)rv;
    (void)out;
    return rd_err(err, DC_EUNSUPPORTED, s, "todo");
}
