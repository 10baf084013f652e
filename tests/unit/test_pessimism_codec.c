/*
 * Unit tests of the pessimism values and keys (no store): DM's JSON for Info
 * and Operation, strict decoding of bad values, DM's key layout (golden),
 * lock IDs and DDL multiset comparison.
 */
#include <ddlcoord/ddlcoord.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"

START_TEST(info_key_matches_dm_golden)
{
    char *k;
    ck_assert_int_eq(dc_info_key("NS", "test", "mysql-replica-01", &k), DC_OK);
    ck_assert_str_eq(k, "NS/shardddl-pessimism/info/74657374/6d7973716c2d7265706c6963612d3031");
    free(k);
    ck_assert_int_eq(dc_operation_key(NULL, "test", "mysql-replica-01", &k), DC_OK);
    ck_assert_str_eq(k, "/ddlcoord/shardddl-pessimism/operation/74657374/"
                        "6d7973716c2d7265706c6963612d3031");
    free(k);
    ck_assert_int_eq(dc_info_key("/dm-master", "test", NULL, &k), DC_OK);
    ck_assert_str_eq(k, "/dm-master/shardddl-pessimism/info/74657374/");
    free(k);
    ck_assert_int_eq(dc_marker_key("/x/", "a/b", "s", &k), DC_OK);
    ck_assert_str_eq(k, "/x/ddlcoord/resolved/612f62/73");
    free(k);
    ck_assert_int_eq(dc_info_key("NS", "", "s", &k), DC_EINVAL);
    ck_assert_int_eq(dc_info_key("NS", NULL, "s", &k), DC_EINVAL);
}
END_TEST

START_TEST(lock_id_is_dm_table_name_with_backquotes_doubled)
{
    char *id;
    ck_assert_int_eq(dc_lock_id_build("test", "shard_db", "tbl", &id), DC_OK);
    ck_assert_str_eq(id, "test-`shard_db`.`tbl`");
    free(id);
    ck_assert_int_eq(dc_lock_id_build("t", "a`b", "c", &id), DC_OK);
    ck_assert_str_eq(id, "t-`a``b`.`c`");
    free(id);
}
END_TEST

START_TEST(ddls_compare_as_multisets)
{
    const char *ab[] = {"A", "B"}, *ba[] = {"B", "A"}, *aa[] = {"A", "A"}, *a[] = {"A"};
    ck_assert(dc_ddls_equal(ab, 2, ba, 2));
    ck_assert(!dc_ddls_equal(ab, 2, aa, 2)); /* DM calls these equal */
    ck_assert(!dc_ddls_equal(aa, 2, ab, 2));
    ck_assert(!dc_ddls_equal(a, 1, ab, 2));
    ck_assert(dc_ddls_equal(NULL, 0, NULL, 0));
}
END_TEST

START_TEST(info_round_trips_through_dm_json)
{
    const char *ddls[] = {"ALTER TABLE t ADD COLUMN c INT", "ALTER TABLE t ADD INDEX i(c)"};
    dc_info *in, *out;
    ck_assert_int_eq(dc_info_new("test", "mysql-replica-01", "db", "tbl", ddls, 2, &in), DC_OK);
    char *json;
    ck_assert_int_eq(dc_info_encode(in, &json), DC_OK);
    ck_assert_ptr_nonnull(strstr(json, "\"task\":\"test\""));
    ck_assert_ptr_nonnull(strstr(json, "\"ddls\":["));
    ck_assert_int_eq(dc_info_decode("k", json, strlen(json), &out), DC_OK);
    ck_assert_str_eq(out->source, "mysql-replica-01");
    ck_assert_str_eq(out->table, "tbl");
    ck_assert_uint_eq(out->n_ddls, 2);
    ck_assert_str_eq(out->ddls[1], ddls[1]);
    char *id;
    ck_assert_int_eq(dc_info_lock_id(out, &id), DC_OK);
    ck_assert_str_eq(id, "test-`db`.`tbl`");
    free(id);
    free(json);
    dc_info_free(in);
    dc_info_free(out);
}
END_TEST

START_TEST(dm_written_values_with_unknown_fields_still_parse)
{
    const char *info = "{\"task\":\"t\",\"source\":\"s\",\"schema\":\"d\",\"table\":\"x\","
                       "\"ddls\":[\"A\"],\"extra\":{\"k\":1}}";
    dc_info *i;
    ck_assert_int_eq(dc_info_decode("k", info, strlen(info), &i), DC_OK);
    dc_info_free(i);
    const char *op = "{\"id\":\"t-`d`.`x`\",\"task\":\"t\",\"source\":\"s\",\"ddls\":[\"A\"],"
                     "\"exec\":true,\"done\":false,\"new\":null}";
    dc_operation *o;
    ck_assert_int_eq(dc_operation_decode("k", op, strlen(op), &o), DC_OK);
    ck_assert_int_eq(o->exec, 1);
    ck_assert_int_eq(o->done, 0);
    char *json;
    ck_assert_int_eq(dc_operation_encode(o, &json), DC_OK);
    ck_assert_str_eq(json, "{\"id\":\"t-`d`.`x`\",\"task\":\"t\",\"source\":\"s\",\"ddls\":[\"A\"],"
                           "\"exec\":true,\"done\":false}");
    free(json);
    dc_operation_free(o);
    /* Go writes a nil slice as null. */
    const char *nil = "{\"id\":\"x\",\"task\":\"t\",\"source\":\"s\",\"ddls\":null,"
                      "\"exec\":false,\"done\":true}";
    ck_assert_int_eq(dc_operation_decode("k", nil, strlen(nil), &o), DC_OK);
    ck_assert_uint_eq(o->n_ddls, 0);
    ck_assert_int_eq(o->done, 1);
    dc_operation_free(o);
}
END_TEST

START_TEST(bad_values_are_typed_errors_naming_the_key)
{
    static const char *bad_infos[] = {
        "",
        "not json",
        "[1,2]",
        "{\"source\":\"s\",\"schema\":\"d\",\"table\":\"x\",\"ddls\":[]}",
        "{\"task\":1,\"source\":\"s\",\"schema\":\"d\",\"table\":\"x\",\"ddls\":[]}",
        "{\"task\":\"t\",\"source\":\"\",\"schema\":\"d\",\"table\":\"x\",\"ddls\":[]}",
        "{\"task\":\"t\",\"source\":\"s\",\"schema\":\"d\",\"table\":\"x\",\"ddls\":\"A\"}",
        "{\"task\":\"t\",\"source\":\"s\",\"schema\":\"d\",\"table\":\"x\",\"ddls\":[1]}",
        "{\"task\":\"t\",\"source\":\"s\",\"schema\":\"d\",\"table\":\"x\",\"ddls\":[\"A\"]",
    };
    for (size_t i = 0; i < sizeof bad_infos / sizeof *bad_infos; i++) {
        dc_info *info = (dc_info *)1;
        int rc = dc_info_decode("/ns/the-key", bad_infos[i], strlen(bad_infos[i]), &info);
        ck_assert_msg(rc == DC_ECORRUPT, "case %zu: %s", i, dc_errname(rc));
        ck_assert_ptr_null(info);
        ck_assert_ptr_nonnull(strstr(dc_last_error(), "/ns/the-key"));
    }
    const char *op = "{\"id\":\"x\",\"task\":\"t\",\"source\":\"s\",\"ddls\":[],\"exec\":\"yes\","
                     "\"done\":false}";
    dc_operation *o;
    ck_assert_int_eq(dc_operation_decode("opkey", op, strlen(op), &o), DC_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "exec"));
    const char *nodone = "{\"id\":\"x\",\"task\":\"t\",\"source\":\"s\",\"ddls\":[],\"exec\":true}";
    ck_assert_int_eq(dc_operation_decode("opkey", nodone, strlen(nodone), &o), DC_ECORRUPT);
}
END_TEST

START_TEST(oversized_values_are_too_big_not_parsed)
{
    size_t len = DC_PESS_MAX_VALUE + 1;
    char *big = malloc(len);
    ck_assert_ptr_nonnull(big);
    memset(big, ' ', len);
    dc_info *info;
    ck_assert_int_eq(dc_info_decode("bigkey", big, len, &info), DC_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "bigkey"));
    free(big);
    /* Too many DDLs. */
    size_t n = DC_PESS_MAX_DDLS + 1, cap = 64 + 4 * n;
    char *many = malloc(cap), *p = many;
    p += sprintf(p, "{\"task\":\"t\",\"source\":\"s\",\"schema\":\"d\",\"table\":\"x\",\"ddls\":[");
    for (size_t i = 0; i < n; i++) p += sprintf(p, "%s\"\"", i ? "," : "");
    sprintf(p, "]}");
    ck_assert_int_eq(dc_info_decode("k", many, strlen(many), &info), DC_ETOOBIG);
    free(many);
}
END_TEST

START_TEST(mutated_values_never_crash_the_decoders)
{
    /* Deterministic mutations of valid values (flip, cut, splice bytes):
     * every result is DC_OK or a typed error, never a crash (run under ASan). */
    const char *seeds[] = {
        "{\"task\":\"t\",\"source\":\"s\",\"schema\":\"d\",\"table\":\"x\","
        "\"ddls\":[\"A\",\"B\"]}",
        "{\"id\":\"t-`d`.`x`\",\"task\":\"t\",\"source\":\"s\",\"ddls\":[\"A\"],"
        "\"exec\":true,\"done\":false}",
    };
    static const char alphabet[] = "{}[]\":,\\0123456789truefalsnul \x00\xff\x80";
    unsigned seed = 12345;
    int ok = 0, bad = 0;
    for (int round = 0; round < 20000; round++) {
        const char *src = seeds[round % 2];
        char buf[256];
        size_t len = strlen(src);
        memcpy(buf, src, len);
        int edits = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 4;
        for (int e = 0; e < edits; e++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 16) % len;
            seed = seed * 1103515245u + 12345u;
            switch ((seed >> 16) % 3) {
            case 0:
                buf[at] = alphabet[(seed >> 20) % (sizeof alphabet - 1)];
                break;
            case 1:
                len = at ? at : 1;
                break;
            default:
                if (len < sizeof buf - 1) {
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = alphabet[(seed >> 20) % (sizeof alphabet - 1)];
                    len++;
                }
            }
        }
        dc_info *info = NULL;
        dc_operation *op = NULL;
        int r1 = dc_info_decode("k", buf, len, &info);
        int r2 = dc_operation_decode("k", buf, len, &op);
        ck_assert(r1 == DC_OK || r1 == DC_ECORRUPT || r1 == DC_ETOOBIG);
        ck_assert(r2 == DC_OK || r2 == DC_ECORRUPT || r2 == DC_ETOOBIG);
        ck_assert((r1 == DC_OK) == (info != NULL));
        ck_assert((r2 == DC_OK) == (op != NULL));
        ok += (r1 == DC_OK) + (r2 == DC_OK);
        bad += (r1 != DC_OK) + (r2 != DC_OK);
        dc_info_free(info);
        dc_operation_free(op);
    }
    ck_assert_int_gt(bad, 0);
    ck_assert_int_gt(ok, 0); /* some mutations (inside strings) stay valid */
}
END_TEST

/* Byte-for-byte what cJSON_PrintUnformatted writes (what DM reads and what
 * earlier ddlcoord versions wrote): field order, escapes (quote, backslash,
 * \b \f \n \r \t, other control bytes as \u00xx), bytes >= 0x7f as they are,
 * an empty DDL list as []. */
START_TEST(encoders_write_dm_json_byte_for_byte)
{
    const char *ddls[] = {"ALTER TABLE `t` ADD COLUMN c INT COMMENT 'it''s \"q\"'",
                          "a\\b\b\f\n\r\t\x01\x1f\x7f\xc3\xa9/end", ""};
    dc_info *info;
    ck_assert_int_eq(dc_info_new("task-1", "mysql-replica-01", "db`x", "tbl", ddls, 3, &info),
                     DC_OK);
    char *json;
    ck_assert_int_eq(dc_info_encode(info, &json), DC_OK);
    ck_assert_str_eq(json, "{\"task\":\"task-1\",\"source\":\"mysql-replica-01\",\"schema\":"
                           "\"db`x\",\"table\":\"tbl\",\"ddls\":[\"ALTER TABLE `t` ADD COLUMN c "
                           "INT COMMENT 'it''s \\\"q\\\"'\",\"a\\\\b\\b\\f\\n\\r\\t\\u0001\\u001f"
                           "\x7f\xc3\xa9/end\",\"\"]}");
    free(json);
    dc_info_free(info);
    ck_assert_int_eq(dc_info_new("t", "s", "", "x", NULL, 0, &info), DC_OK);
    ck_assert_int_eq(dc_info_encode(info, &json), DC_OK);
    ck_assert_str_eq(json, "{\"task\":\"t\",\"source\":\"s\",\"schema\":\"\",\"table\":\"x\","
                           "\"ddls\":[]}");
    free(json);
    dc_info_free(info);

    dc_operation *op;
    ck_assert_int_eq(dc_operation_new("t-`d`.`x`", "t", "s\"1", ddls, 2, 0, 1, &op), DC_OK);
    ck_assert_int_eq(dc_operation_encode(op, &json), DC_OK);
    ck_assert_str_eq(json, "{\"id\":\"t-`d`.`x`\",\"task\":\"t\",\"source\":\"s\\\"1\",\"ddls\":"
                           "[\"ALTER TABLE `t` ADD COLUMN c INT COMMENT 'it''s \\\"q\\\"'\","
                           "\"a\\\\b\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\xc3\xa9/end\"],\"exec\":"
                           "false,\"done\":true}");
    dc_operation *back;
    ck_assert_int_eq(dc_operation_decode("k", json, strlen(json), &back), DC_OK);
    ck_assert_str_eq(back->source, "s\"1");
    ck_assert_str_eq(back->ddls[1], ddls[1]);
    ck_assert_int_eq(back->exec, 0);
    ck_assert_int_eq(back->done, 1);
    dc_operation_free(back);
    free(json);
    dc_operation_free(op);
    ck_assert_int_eq(dc_operation_new("i", "t", "s", NULL, 0, 1, 0, &op), DC_OK);
    ck_assert_int_eq(dc_operation_encode(op, &json), DC_OK);
    ck_assert_str_eq(json, "{\"id\":\"i\",\"task\":\"t\",\"source\":\"s\",\"ddls\":[],\"exec\":"
                           "true,\"done\":false}");
    free(json);
    dc_operation_free(op);
}
END_TEST

/* dc_info_lock_id is the lock ID dc_lock_id_build makes from the same names,
 * whatever they contain. */
START_TEST(info_lock_id_is_lock_id_build_of_its_names)
{
    static const char *const names[][3] = {
        {"test", "shard_db", "tbl"}, {"t", "a`b", "c"}, {"t-1", "``", "`x`"}, {"t", "", ""},
        {"task", "db.x", "t\"\\"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        dc_info *info;
        ck_assert_int_eq(dc_info_new(names[i][0], "s", names[i][1], names[i][2], NULL, 0, &info),
                         DC_OK);
        char *a, *b;
        ck_assert_int_eq(dc_info_lock_id(info, &a), DC_OK);
        ck_assert_int_eq(dc_lock_id_build(names[i][0], names[i][1], names[i][2], &b), DC_OK);
        ck_assert_str_eq(a, b);
        free(a);
        free(b);
        dc_info_free(info);
    }
}
END_TEST

DC_CHECK_MAIN("pessimism_codec", "codec", info_key_matches_dm_golden,
              lock_id_is_dm_table_name_with_backquotes_doubled, ddls_compare_as_multisets,
              info_round_trips_through_dm_json, dm_written_values_with_unknown_fields_still_parse,
              bad_values_are_typed_errors_naming_the_key, oversized_values_are_too_big_not_parsed,
              mutated_values_never_crash_the_decoders, encoders_write_dm_json_byte_for_byte,
              info_lock_id_is_lock_id_build_of_its_names)
