/*
 * The etcd driver's JSON rules (backends/etcd/json.c, compiled in here):
 * 64-bit numbers travel as strings and come back exact, malformed numbers
 * and base64 are rejected (never silently zero), missing fields default to
 * zero, and prefix range ends follow etcd's 0xff rule. No server needed.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "etcd.h"
#include "kv.h"

START_TEST(int64_values_are_written_as_strings_and_read_back_exactly)
{
    cJSON *o = cJSON_CreateObject();
    const int64_t id = 2324035604646249321LL; /* a real lease ID, > 2^53 */
    ck_assert_int_eq(etcd_add_i64(o, "ID", id), 0);
    char *text = cJSON_PrintUnformatted(o);
    ck_assert_str_eq(text, "{\"ID\":\"2324035604646249321\"}");
    cJSON *back = cJSON_Parse(text);
    int64_t v = 0;
    ck_assert_int_eq(etcd_get_i64(back, "ID", &v), 0);
    ck_assert_int_eq(v, id);
    free(text);
    cJSON_Delete(back);
    cJSON_Delete(o);
}
END_TEST

START_TEST(malformed_numbers_are_errors_and_missing_ones_are_zero)
{
    cJSON *o = cJSON_Parse("{\"a\":\"12x\",\"b\":\"\",\"c\":true,\"d\":\"99999999999999999999\","
                           "\"e\":7,\"f\":null}");
    int64_t v = 1;
    ck_assert_int_eq(etcd_get_i64(o, "a", &v), -1);
    ck_assert_int_eq(etcd_get_i64(o, "b", &v), -1);
    ck_assert_int_eq(etcd_get_i64(o, "c", &v), -1);
    ck_assert_int_eq(etcd_get_i64(o, "d", &v), -1); /* overflow */
    ck_assert_int_eq(etcd_get_i64(o, "e", &v), 0);  /* the error "code" is a plain number */
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(etcd_get_i64(o, "f", &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(etcd_get_i64(o, "missing", &v), 0);
    ck_assert_int_eq(v, 0);
    cJSON_Delete(o);
}
END_TEST

START_TEST(base64_round_trips_binary_and_rejects_bad_input)
{
    const char data[] = {'\0', '\x01', '\xff', 'x'};
    for (size_t len = 0; len <= sizeof data; len++) {
        cJSON *o = cJSON_CreateObject();
        ck_assert_int_eq(etcd_add_b64(o, "k", data, len), 0);
        char *out;
        size_t out_len;
        ck_assert_int_eq(etcd_b64_decode(cJSON_GetObjectItem(o, "k")->valuestring, &out, &out_len),
                         0);
        ck_assert_uint_eq(out_len, len);
        ck_assert_mem_eq(out, data, len);
        ck_assert_int_eq(out[len], '\0');
        free(out);
        cJSON_Delete(o);
    }
    char *out;
    size_t out_len;
    ck_assert_int_eq(etcd_b64_decode("Zm9vMQ", &out, &out_len), -1); /* unpadded */
    ck_assert_int_eq(etcd_b64_decode("Zm9*", &out, &out_len), -1);   /* bad alphabet */
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(key_values_default_missing_fields_and_reject_corrupt_ones)
{
    cJSON *j = cJSON_Parse("{\"key\":\"Zm9v\",\"mod_revision\":\"33\"}");
    dc_kv kv;
    ck_assert_int_eq(etcd_parse_kv(j, &kv), 0);
    ck_assert_str_eq(kv.key, "foo");
    ck_assert_uint_eq(kv.value_len, 0);
    ck_assert_str_eq(kv.value, "");
    ck_assert_int_eq(kv.mod_revision, 33);
    ck_assert_int_eq(kv.create_revision, 0);
    ck_assert_int_eq(kv.version, 0);
    ck_assert_int_eq(kv.lease, 0);
    dc_kv_clear(&kv);
    cJSON_Delete(j);
    const char *bad[] = {"{\"key\":\"Zm9v\",\"version\":1.5}", "{\"key\":\"@@@@\"}",
                         "{\"value\":\"Zm9v\"}", "{\"key\":\"Zm9v\",\"value\":3}", "[]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = cJSON_Parse(bad[i]);
        ck_assert_msg(etcd_parse_kv(j, &kv) == -1, "accepted %s", bad[i]);
        ck_assert_ptr_null(kv.key);
        cJSON_Delete(j);
    }
}
END_TEST

START_TEST(prefix_range_end_drops_trailing_ff_then_increments)
{
    size_t n;
    char *e = etcd_prefix_end("p/", 2, &n);
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
    Suite *su = suite_create("etcd_json");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, int64_values_are_written_as_strings_and_read_back_exactly);
    tcase_add_test(tc, malformed_numbers_are_errors_and_missing_ones_are_zero);
    tcase_add_test(tc, base64_round_trips_binary_and_rejects_bad_input);
    tcase_add_test(tc, key_values_default_missing_fields_and_reject_corrupt_ones);
    tcase_add_test(tc, prefix_range_end_drops_trailing_ff_then_increments);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
