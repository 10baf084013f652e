/*
 * Unit tests of the admin request and answer codec (core/pessimism/admin.h,
 * private): what an encoder writes decodes to the same request; numbers are
 * range-checked before they are converted (issue #12 case 12: wait_ms and
 * code were cast from any double, undefined behaviour out of range); wrong
 * types, unknown operations and assumptions are refused with a typed error.
 */
#include <ddlcoord/ddlcoord.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "check_main.h"

static int decode(const char *json, admin_req *r)
{
    return dcp_admin_req_decode("req", json, strlen(json), r);
}

START_TEST(requests_round_trip)
{
    admin_req in = {.op = ADMIN_UNLOCK,
                    .lock_id = "t-`db`.`x`",
                    .owner = "b",
                    .force_remove = 1,
                    .assume = DC_ASSUME_NOT_EXECUTED,
                    .wait_ms = 1500};
    char *json;
    ck_assert_int_eq(dcp_admin_req_encode(&in, &json), DC_OK);
    admin_req out;
    ck_assert_int_eq(decode(json, &out), DC_OK);
    ck_assert_int_eq(out.op, ADMIN_UNLOCK);
    ck_assert_str_eq(out.lock_id, in.lock_id);
    ck_assert_str_eq(out.owner, "b");
    ck_assert_int_eq(out.force_remove, 1);
    ck_assert_int_eq(out.assume, DC_ASSUME_NOT_EXECUTED);
    ck_assert_int_eq(out.wait_ms, 1500);
    dcp_admin_req_clear(&out);
    free(json);
    admin_req rm = {.op = ADMIN_REMOVE_META, .task = "t"};
    ck_assert_int_eq(dcp_admin_req_encode(&rm, &json), DC_OK);
    ck_assert_int_eq(decode(json, &out), DC_OK);
    ck_assert_int_eq(out.op, ADMIN_REMOVE_META);
    ck_assert_str_eq(out.task, "t");
    dcp_admin_req_clear(&out);
    free(json);
    admin_req bad = {.op = ADMIN_UNLOCK};
    ck_assert_int_eq(dcp_admin_req_encode(&bad, &json), DC_EINVAL);
}
END_TEST

START_TEST(request_numbers_are_range_checked_before_the_conversion)
{
    static const char *const out_of_range[] = {
        "{\"op\":\"unlock\",\"lock_id\":\"x\",\"wait_ms\":1e300}",
        "{\"op\":\"unlock\",\"lock_id\":\"x\",\"wait_ms\":-1e300}",
        "{\"op\":\"unlock\",\"lock_id\":\"x\",\"wait_ms\":-1}",
        "{\"op\":\"unlock\",\"lock_id\":\"x\",\"wait_ms\":600001}",
        "{\"op\":\"unlock\",\"lock_id\":\"x\",\"wait_ms\":1.5}",
        "{\"op\":\"unlock\",\"lock_id\":\"x\",\"wait_ms\":9223372036854775808}",
        "{\"op\":\"unlock\",\"lock_id\":\"x\",\"assume\":\"maybe\"}",
        "{\"op\":\"unlock\",\"lock_id\":\"\"}",
        "{\"op\":\"unlock\"}",
        "{\"op\":\"remove-meta\"}",
    };
    for (size_t i = 0; i < sizeof out_of_range / sizeof *out_of_range; i++) {
        admin_req r;
        ck_assert_msg(decode(out_of_range[i], &r) == DC_EINVAL, "%s", out_of_range[i]);
        ck_assert_ptr_null(r.lock_id);
    }
    admin_req r;
    ck_assert_int_eq(decode("{\"op\":\"unlock\",\"lock_id\":\"x\",\"wait_ms\":600000}", &r), DC_OK);
    ck_assert_int_eq(r.wait_ms, 600000);
    dcp_admin_req_clear(&r);
    ck_assert_int_eq(decode("{\"op\":\"unlock\",\"lock_id\":\"x\",\"wait_ms\":0}", &r), DC_OK);
    dcp_admin_req_clear(&r);
}
END_TEST

START_TEST(malformed_requests_are_corrupt)
{
    static const char *const corrupt[] = {
        "",
        "[]",
        "{\"op\":",
        "{\"op\":5}",
        "{\"op\":\"nonsense\"}",
        "{\"lock_id\":\"x\"}",
        "{\"op\":\"unlock\",\"lock_id\":5}",
        "{\"op\":\"unlock\",\"lock_id\":\"x\",\"owner\":[]}",
        "{\"op\":\"unlock\",\"lock_id\":\"x\",\"force_remove\":1}",
        "{\"op\":\"unlock\",\"lock_id\":\"x\",\"wait_ms\":\"5\"}",
    };
    for (size_t i = 0; i < sizeof corrupt / sizeof *corrupt; i++) {
        admin_req r;
        ck_assert_msg(decode(corrupt[i], &r) == DC_ECORRUPT, "%s", corrupt[i]);
    }
}
END_TEST

START_TEST(answers_decode_only_with_an_error_code_in_range)
{
    char *json;
    ck_assert_int_eq(dcp_admin_answer_encode(DC_EUNCERTAIN, "may have run", "m1", &json), DC_OK);
    dc_admin_answer a;
    ck_assert_int_eq(dcp_admin_answer_decode(json, strlen(json), &a), DC_OK);
    ck_assert_int_eq(a.code, DC_EUNCERTAIN);
    ck_assert_str_eq(a.message, "may have run");
    ck_assert_str_eq(a.master, "m1");
    dc_admin_answer_clear(&a);
    free(json);
    static const char *const bad[] = {
        "{\"ok\":false,\"code\":1e300}",
        "{\"ok\":false,\"code\":-1e300}",
        "{\"ok\":false,\"code\":5}",
        "{\"ok\":false,\"code\":-2.5}",
        "{\"ok\":true,\"code\":-3}",
        "{\"ok\":false,\"code\":0}",
        "{\"ok\":1,\"code\":0}",
        "{\"ok\":true}",
        "{\"ok\":true,\"code\":0,\"message\":5}",
        "nope",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(dcp_admin_answer_decode(bad[i], strlen(bad[i]), &a) == DC_ECORRUPT, "%s",
                      bad[i]);
    ck_assert_int_eq(dcp_admin_answer_decode("{\"ok\":true,\"code\":0}", 20, &a), DC_OK);
    ck_assert_str_eq(a.message, "");
    dc_admin_answer_clear(&a);
}
END_TEST

DC_CHECK_MAIN("pessimism_admin", "admin", requests_round_trip,
              request_numbers_are_range_checked_before_the_conversion,
              malformed_requests_are_corrupt, answers_decode_only_with_an_error_code_in_range)
