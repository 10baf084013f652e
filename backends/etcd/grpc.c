/*
 * gRPC's wire rules that the etcd driver needs, as pure functions: the
 * 5-byte message prefix, the grpc-status / grpc-message headers, and the
 * mapping of a failed call onto ddlcoord's error codes.
 *
 * A gRPC message on HTTP/2 is one byte of flags (bit 0: compressed; we never
 * offer compression, so a compressed message is malformed), a 4-byte
 * big-endian length, then the protobuf bytes. Messages do not line up with
 * HTTP/2 DATA frames: one message may span many frames and a frame may hold
 * the end of one message and the start of the next.
 *
 * The call's outcome is the grpc-status trailer (a HEADERS frame after the
 * data). libcurl 7.88 hands trailers to the header callback like any header;
 * newer versions flag them but still call the same callback, so one parser
 * serves both. An error without data comes as "trailers only": grpc-status
 * in the first and only HEADERS frame. grpc-message is percent-encoded.
 *
 * etcd's error statuses carry a fixed message per error ("etcdserver: mvcc:
 * required revision has been compacted"); the text is more precise than the
 * code (InvalidArgument covers both a bad request and "request is too
 * large"), so the mapping looks at both; see docs/backends/etcd.md.
 */
#include "etcd.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int etcd_grpc_frame(const ProtobufCMessage *msg, uint8_t **out, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    *out = NULL;
    *len = 0;
    if (n > UINT32_MAX) return -1;
    uint8_t *b = malloc(n + 5);
    if (!b) return -1;
    b[0] = 0;
    b[1] = (uint8_t)(n >> 24);
    b[2] = (uint8_t)(n >> 16);
    b[3] = (uint8_t)(n >> 8);
    b[4] = (uint8_t)n;
    protobuf_c_message_pack(msg, b + 5);
    *out = b;
    *len = n + 5;
    return 0;
}

int etcd_grpc_next(const uint8_t *p, size_t len, size_t max, size_t *off, size_t *msg_len)
{
    if (len < 5) return 0;
    if (p[0] != 0) return -1; /* compressed (bit 0) or an unknown flag */
    size_t n = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | (size_t)p[4];
    if (n > max) return -1;
    if (len - 5 < n) return 0;
    *off = 5;
    *msg_len = n;
    return 1;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Does line start with header name (case-insensitive) and a colon? Returns
 * the offset of the value (spaces skipped) or 0. */
static size_t header_value(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':') return 0;
    n++;
    while (n < len && (line[n] == ' ' || line[n] == '\t')) n++;
    return n;
}

int etcd_grpc_header(const char *line, size_t len, int *status, char *msg, size_t cap)
{
    /* Drop the line end (and trailing blanks). */
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' ')) len--;
    size_t v = header_value(line, len, "grpc-status");
    if (v) {
        long code = 0;
        size_t i = v;
        if (i == len) return 0;
        for (; i < len; i++) {
            if (!isdigit((unsigned char)line[i]) || code > 1000) return 0;
            code = code * 10 + (line[i] - '0');
        }
        *status = (int)code;
        return 1;
    }
    v = header_value(line, len, "grpc-message");
    if (!v || !cap) return 0;
    size_t o = 0;
    for (size_t i = v; i < len && o + 1 < cap; i++) {
        int ch = (unsigned char)line[i];
        if (ch == '%' && i + 2 < len && hexval(line[i + 1]) >= 0 && hexval(line[i + 2]) >= 0) {
            ch = hexval(line[i + 1]) * 16 + hexval(line[i + 2]);
            i += 2;
        }
        msg[o++] = (char)(ch < 0x20 || ch == 0x7f ? ' ' : ch);
    }
    msg[o] = '\0';
    return 1;
}

static int has(const char *msg, const char *what)
{
    return msg && strstr(msg, what) != NULL;
}

int etcd_grpc_map(int status, const char *msg, etcd_kind kind, int *retry, int *reauth)
{
    *retry = *reauth = 0;
    if (has(msg, "required revision has been compacted")) return DC_ECOMPACTED;
    if (has(msg, "required revision is a future revision")) return DC_EINVAL;
    if (has(msg, "too many operations in txn request") || has(msg, "request is too large") ||
        has(msg, "received message larger than max") || has(msg, "database space exceeded") ||
        has(msg, "too large lease TTL") || has(msg, "message larger than max"))
        return DC_ETOOBIG;
    if (has(msg, "requested lease not found") || has(msg, "key not found")) return DC_ENOTFOUND;
    if (has(msg, "invalid auth token") || status == GRPC_UNAUTHENTICATED) {
        *reauth = 1;
        return DC_EAUTH;
    }
    if (has(msg, "user name is empty")) {
        *reauth = 1; /* a request raced with a token refresh, or auth was just enabled */
        return DC_EAUTH;
    }
    if (has(msg, "authentication failed") || has(msg, "permission denied") ||
        has(msg, "invalid auth management") || status == GRPC_PERMISSION_DENIED)
        return DC_EAUTH;
    if (has(msg, "no leader") || has(msg, "not capable") || has(msg, "too many requests") ||
        has(msg, "not enough started members") || has(msg, "unhealthy cluster")) {
        *retry = 1; /* refused before proposing: nothing was applied */
        return DC_EUNAVAILABLE;
    }
    switch (status) {
    case GRPC_UNAVAILABLE:
    case GRPC_DEADLINE_EXCEEDED:
    case GRPC_ABORTED:
    case GRPC_CANCELLED:
        /* "request timed out", "leader changed", a stopping server: a
         * proposal may have been made. */
        *retry = kind != ETCD_WRITE;
        if (kind == ETCD_WRITE) return DC_EUNKNOWN;
        return status == GRPC_DEADLINE_EXCEEDED ? DC_ETIMEDOUT : DC_EUNAVAILABLE;
    case GRPC_NOT_FOUND:
        return DC_ENOTFOUND;
    case GRPC_INVALID_ARGUMENT:
    case GRPC_OUT_OF_RANGE:
    case GRPC_FAILED_PRECONDITION:
    case GRPC_ALREADY_EXISTS:
        return DC_EINVAL;
    case GRPC_RESOURCE_EXHAUSTED:
        return DC_ETOOBIG;
    case GRPC_UNIMPLEMENTED:
        return DC_EUNSUPPORTED;
    case GRPC_DATA_LOSS:
        return DC_ECORRUPT;
    default: /* Unknown, Internal, anything new */
        return kind == ETCD_WRITE ? DC_EUNKNOWN : DC_EUNAVAILABLE;
    }
}

static void *alloc_fn(void *data, size_t size)
{
    void *p = malloc(size);
    if (!p) ((etcd_alloc *)data)->failed = 1;
    return p;
}

static void free_fn(void *data, void *p)
{
    (void)data;
    free(p);
}

void etcd_alloc_init(etcd_alloc *al)
{
    al->a.alloc = alloc_fn;
    al->a.free = free_fn;
    al->a.allocator_data = al;
    al->failed = 0;
}
