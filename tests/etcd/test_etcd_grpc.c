/*
 * The etcd driver's wire rules (backends/etcd/grpc.c and pb.c, linked in
 * directly; no server): gRPC's 5-byte framing across arbitrary splits,
 * malformed frames rejected, grpc-status / grpc-message read from header
 * and trailer lines with percent-decoding, etcd's errors mapped onto typed
 * codes, protobuf round trips of 64-bit IDs and binary bytes, and the
 * prefix range-end rule.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "etcd.h"
#include "kv.h"

static Etcdpb__KeyValue *sample_kv(void)
{
    static Etcdpb__KeyValue kv = ETCDPB__KEY_VALUE__INIT;
    static const uint8_t key[] = {'k', 0, 0xff};
    static const uint8_t val[] = {0, 1, 0xff, 'a'};
    kv.key.data = (uint8_t *)key;
    kv.key.len = sizeof key;
    kv.value.data = (uint8_t *)val;
    kv.value.len = sizeof val;
    kv.create_revision = 7;
    kv.mod_revision = 9;
    kv.version = 2;
    kv.lease = 2324035604646249321LL; /* a real lease ID, > 2^53 */
    return &kv;
}

START_TEST(frames_round_trip_when_split_at_every_byte)
{
    uint8_t *f;
    size_t len;
    ck_assert_int_eq(etcd_grpc_frame(&sample_kv()->base, &f, &len), 0);
    ck_assert_uint_eq(f[0], 0);
    size_t n = protobuf_c_message_get_packed_size(&sample_kv()->base);
    ck_assert_uint_eq(len, n + 5);
    for (size_t cut = 0; cut < len; cut++) {
        size_t off, ml;
        ck_assert_int_eq(etcd_grpc_next(f, cut, 1 << 20, &off, &ml), 0);
    }
    size_t off, ml;
    ck_assert_int_eq(etcd_grpc_next(f, len, 1 << 20, &off, &ml), 1);
    ck_assert_uint_eq(off, 5);
    ck_assert_uint_eq(ml, n);
    Etcdpb__KeyValue *back = etcdpb__key_value__unpack(NULL, ml, f + off);
    ck_assert_ptr_nonnull(back);
    dc_kv kv;
    ck_assert_int_eq(etcd_kv_from_pb(back, &kv), 0);
    ck_assert_uint_eq(kv.key_len, 3);
    ck_assert_mem_eq(kv.key, "k\0\xff", 3);
    ck_assert_int_eq(kv.key[3], '\0');
    ck_assert_uint_eq(kv.value_len, 4);
    ck_assert_mem_eq(kv.value,
                     "\0\1\xff"
                     "a",
                     4);
    ck_assert_int_eq(kv.lease, 2324035604646249321LL);
    ck_assert_int_eq(kv.mod_revision, 9);
    dc__kv_clear(&kv);
    etcdpb__key_value__free_unpacked(back, NULL);
    free(f);
}
END_TEST

START_TEST(two_frames_in_one_buffer_are_read_one_after_the_other)
{
    uint8_t *a, *b;
    size_t la, lb;
    Etcdpb__KeyValue empty = ETCDPB__KEY_VALUE__INIT; /* packs to 0 bytes */
    ck_assert_int_eq(etcd_grpc_frame(&empty.base, &a, &la), 0);
    ck_assert_uint_eq(la, 5);
    ck_assert_int_eq(etcd_grpc_frame(&sample_kv()->base, &b, &lb), 0);
    uint8_t buf[256];
    memcpy(buf, a, la);
    memcpy(buf + la, b, lb);
    size_t off, ml;
    ck_assert_int_eq(etcd_grpc_next(buf, la + lb, 1 << 20, &off, &ml), 1);
    ck_assert_uint_eq(ml, 0);
    ck_assert_int_eq(etcd_grpc_next(buf + off + ml, la + lb - off - ml, 1 << 20, &off, &ml), 1);
    ck_assert_uint_eq(ml, lb - 5);
    free(a);
    free(b);
}
END_TEST

START_TEST(compressed_or_oversized_frames_are_malformed)
{
    uint8_t compressed[] = {1, 0, 0, 0, 1, 0};
    uint8_t flag[] = {0x80, 0, 0, 0, 0};
    uint8_t huge[] = {0, 0xff, 0xff, 0xff, 0xff};
    size_t off, ml;
    ck_assert_int_eq(etcd_grpc_next(compressed, sizeof compressed, 100, &off, &ml), -1);
    ck_assert_int_eq(etcd_grpc_next(flag, sizeof flag, 100, &off, &ml), -1);
    ck_assert_int_eq(etcd_grpc_next(huge, sizeof huge, ETCD_MAX_MESSAGE, &off, &ml), -1);
}
END_TEST

START_TEST(grpc_status_and_message_come_from_header_or_trailer_lines)
{
    int st = -1;
    char msg[64] = "";
    ck_assert_int_eq(etcd_grpc_header("content-type: application/grpc\r\n", 32, &st, msg, 64), 0);
    ck_assert_int_eq(st, -1);
    const char *l1 = "grpc-status: 11\r\n";
    ck_assert_int_eq(etcd_grpc_header(l1, strlen(l1), &st, msg, sizeof msg), 1);
    ck_assert_int_eq(st, 11);
    const char *l2 = "Grpc-Message: etcdserver: mvcc: required revision has been compacted\r\n";
    ck_assert_int_eq(etcd_grpc_header(l2, strlen(l2), &st, msg, sizeof msg), 1);
    ck_assert_str_eq(msg, "etcdserver: mvcc: required revision has been compacted");
    const char *l3 = "grpc-message: 100%25 %E2%9C%93 a%0Ab%zz\r\n"; /* percent-encoded */
    ck_assert_int_eq(etcd_grpc_header(l3, strlen(l3), &st, msg, sizeof msg), 1);
    ck_assert_str_eq(msg, "100% \xe2\x9c\x93 a b%zz");
    const char *bad = "grpc-status: 1x\r\n";
    st = 5;
    ck_assert_int_eq(etcd_grpc_header(bad, strlen(bad), &st, msg, sizeof msg), 0);
    ck_assert_int_eq(st, 5);
    char tiny[4];
    ck_assert_int_eq(etcd_grpc_header(l2, strlen(l2), &st, tiny, sizeof tiny), 1);
    ck_assert_str_eq(tiny, "etc");
}
END_TEST

START_TEST(etcd_errors_map_onto_typed_codes)
{
    int retry, reauth;
    ck_assert_int_eq(etcd_grpc_map(11, "etcdserver: mvcc: required revision has been compacted",
                                   ETCD_READ, &retry, &reauth),
                     DC_ECOMPACTED);
    ck_assert_int_eq(etcd_grpc_map(3, "etcdserver: too many operations in txn request", ETCD_WRITE,
                                   &retry, &reauth),
                     DC_ETOOBIG);
    ck_assert_int_eq(
        etcd_grpc_map(3, "etcdserver: request is too large", ETCD_WRITE, &retry, &reauth),
        DC_ETOOBIG);
    ck_assert_int_eq(etcd_grpc_map(8,
                                   "grpc: received message larger than max (3145750 vs. 2097152)",
                                   ETCD_WRITE, &retry, &reauth),
                     DC_ETOOBIG);
    ck_assert_int_eq(
        etcd_grpc_map(16, "etcdserver: invalid auth token", ETCD_READ, &retry, &reauth), DC_EAUTH);
    ck_assert_int_eq(reauth, 1);
    ck_assert_int_eq(etcd_grpc_map(3, "etcdserver: user name is empty", ETCD_READ, &retry, &reauth),
                     DC_EAUTH);
    ck_assert_int_eq(reauth, 1);
    ck_assert_int_eq(etcd_grpc_map(3,
                                   "etcdserver: authentication failed, invalid user ID or password",
                                   ETCD_LOGIN, &retry, &reauth),
                     DC_EAUTH);
    ck_assert_int_eq(reauth, 0);
    ck_assert_int_eq(etcd_grpc_map(7, "etcdserver: permission denied", ETCD_READ, &retry, &reauth),
                     DC_EAUTH);
    ck_assert_int_eq(etcd_grpc_map(14, "etcdserver: no leader", ETCD_WRITE, &retry, &reauth),
                     DC_EUNAVAILABLE);
    ck_assert_int_eq(retry, 1); /* refused before proposing: safe elsewhere */
    ck_assert_int_eq(
        etcd_grpc_map(14, "etcdserver: request timed out", ETCD_WRITE, &retry, &reauth),
        DC_EUNKNOWN);
    ck_assert_int_eq(retry, 0);
    ck_assert_int_eq(etcd_grpc_map(4, "context deadline exceeded", ETCD_READ, &retry, &reauth),
                     DC_ETIMEDOUT);
    ck_assert_int_eq(etcd_grpc_map(4, "context deadline exceeded", ETCD_WRITE, &retry, &reauth),
                     DC_EUNKNOWN);
    ck_assert_int_eq(
        etcd_grpc_map(5, "etcdserver: requested lease not found", ETCD_WRITE, &retry, &reauth),
        DC_ENOTFOUND);
    ck_assert_int_eq(etcd_grpc_map(11, "etcdserver: mvcc: required revision is a future revision",
                                   ETCD_READ, &retry, &reauth),
                     DC_EINVAL);
    ck_assert_int_eq(etcd_grpc_map(12, "unknown method", ETCD_READ, &retry, &reauth),
                     DC_EUNSUPPORTED);
    ck_assert_int_eq(etcd_grpc_map(13, "", ETCD_WRITE, &retry, &reauth), DC_EUNKNOWN);
}
END_TEST

START_TEST(unknown_fields_are_skipped_and_truncated_messages_rejected)
{
    /* A KeyValue with an extra field 15 (varint 1) the proto does not know. */
    uint8_t *f;
    size_t len;
    ck_assert_int_eq(etcd_grpc_frame(&sample_kv()->base, &f, &len), 0);
    uint8_t buf[256];
    memcpy(buf, f + 5, len - 5);
    size_t n = len - 5;
    buf[n++] = 15 << 3;
    buf[n++] = 1;
    Etcdpb__KeyValue *m = etcdpb__key_value__unpack(NULL, n, buf);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(m->mod_revision, 9);
    etcdpb__key_value__free_unpacked(m, NULL);
    for (size_t cut = 1; cut < len - 5; cut++) {
        m = etcdpb__key_value__unpack(NULL, cut, f + 5);
        if (m) { /* a cut between fields is a valid shorter message */
            ck_assert_uint_le(m->key.len, 3);
            etcdpb__key_value__free_unpacked(m, NULL);
        }
    }
    uint8_t garbage[] = {0x0a, 0x7f, 'x'}; /* key field claiming 127 bytes */
    ck_assert_ptr_null(etcdpb__key_value__unpack(NULL, sizeof garbage, garbage));
    free(f);
}
END_TEST

START_TEST(prefix_range_end_drops_trailing_ff_then_increments)
{
    size_t n;
    uint8_t *e = etcd_prefix_end("p/", 2, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_mem_eq(e, "p0", 2);
    free(e);
    e = etcd_prefix_end("x\xff\xff", 3, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_mem_eq(e, "y", 1);
    free(e);
    e = etcd_prefix_end("\xff\xff", 2, &n); /* nothing left: "\0" = to the end */
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(e[0], '\0');
    free(e);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("etcd_grpc");
    TCase *tc = tcase_create("grpc");
    tcase_add_test(tc, frames_round_trip_when_split_at_every_byte);
    tcase_add_test(tc, two_frames_in_one_buffer_are_read_one_after_the_other);
    tcase_add_test(tc, compressed_or_oversized_frames_are_malformed);
    tcase_add_test(tc, grpc_status_and_message_come_from_header_or_trailer_lines);
    tcase_add_test(tc, etcd_errors_map_onto_typed_codes);
    tcase_add_test(tc, unknown_fields_are_skipped_and_truncated_messages_rejected);
    tcase_add_test(tc, prefix_range_end_drops_trailing_ff_then_increments);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
