/*
 * The byte helpers of core/util: hex (every byte round-trips, either case
 * decodes, anything else is refused) and the growable buffer's printf (one
 * formatting pass when the result fits, a second when it does not, and the
 * contents untouched by a failure).
 */
#include <ddlcoord/config.h>
#include <ddlcoord/error.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "drv.h"
#include "kv.h"
#include "hex.h"

#include "check_main.h"

START_TEST(hex_round_trips_every_byte_and_refuses_non_digits)
{
    unsigned char all[256], back[256];
    char hex[513];
    for (int i = 0; i < 256; i++) all[i] = (unsigned char)i;
    dc__hex_encode(all, sizeof all, hex);
    ck_assert_uint_eq(strlen(hex), 512);
    ck_assert(strncmp(hex, "000102", 6) == 0);
    ck_assert_str_eq(hex + 506, "fdfeff");
    ck_assert_int_eq(dc__hex_decode(hex, 512, back), 256);
    ck_assert(memcmp(all, back, sizeof all) == 0);

    ck_assert_int_eq(dc__hex_decode("AbCdEF", 6, back), 3);
    ck_assert_int_eq(back[0], 0xab);
    ck_assert_int_eq(back[1], 0xcd);
    ck_assert_int_eq(back[2], 0xef);
    ck_assert_int_eq(dc__hex_decode("", 0, back), 0);
    ck_assert_int_eq(dc__hex_decode("abc", 3, back), -1);
    /* every byte that is not a digit, in either position */
    for (int c = 0; c < 256; c++) {
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) continue;
        char bad[2] = {'a', (char)c};
        ck_assert_msg(dc__hex_decode(bad, 2, back) == -1, "byte 0x%02x accepted", c);
        bad[0] = (char)c;
        bad[1] = 'a';
        ck_assert_msg(dc__hex_decode(bad, 2, back) == -1, "byte 0x%02x accepted", c);
    }
}
END_TEST

START_TEST(buf_printf_appends_short_and_long_results_whole)
{
    dc_buf b = DC_BUF_INIT;
    ck_assert_int_eq(dc__buf_printf(&b, "%s-%d", "task", 7), 0);
    ck_assert_str_eq(b.p, "task-7");
    ck_assert_uint_eq(b.len, 6);
    /* longer than the free room: formatted again into a grown buffer */
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(dc__buf_printf(&b, "/%s/", big), 0);
    ck_assert_uint_eq(b.len, 6 + 1 + 999 + 1);
    ck_assert(strncmp(b.p, "task-7/xxx", 10) == 0);
    ck_assert_str_eq(b.p + b.len - 3, "xx/");
    /* exactly filling the room, then one byte more */
    dc__buf_reset(&b);
    size_t room = b.cap - 1;
    char *fill = malloc(room + 1);
    ck_assert_ptr_nonnull(fill);
    memset(fill, 'y', room);
    fill[room] = '\0';
    ck_assert_int_eq(dc__buf_printf(&b, "%s", fill), 0);
    free(fill);
    ck_assert_uint_eq(b.len, room);
    ck_assert_int_eq(dc__buf_printf(&b, "%c", 'z'), 0);
    ck_assert_uint_eq(b.len, room + 1);
    ck_assert_int_eq(b.p[room], 'z');
    ck_assert_int_eq(b.p[room + 1], '\0');
    ck_assert_int_eq(dc__buf_printf(&b, "%s", ""), 0);
    ck_assert_uint_eq(b.len, room + 1);
    char *s = dc__buf_steal(&b);
    ck_assert_uint_eq(strlen(s), room + 1);
    free(s);
}
END_TEST

/* A dc_host with only the configuration lookup the helpers use. */
static const char *cfg_get(const dc_config *cfg, const char *key)
{
    return dc_config_get(cfg, key);
}

START_TEST(drv_opt_prefers_the_scheme_key_and_rejects_bad_integers_everywhere)
{
    dc_host h = {.config_get = cfg_get};
    dc_config *cfg = dc_config_new();
    ck_assert_ptr_nonnull(cfg);
    dc_drv_err err = {{0}, 0};
    int64_t v = -1;
    /* absent: the default, not range-checked */
    ck_assert_int_eq(dc__drv_opt_int(&h, cfg, "zk", "bucket_size", 77, 1, 10, &v, &err), DC_OK);
    ck_assert_int_eq(v, 77);
    /* the bare key, then the scheme's key wins */
    ck_assert_int_eq(dc_config_set(cfg, "bucket_size", "5"), DC_OK);
    ck_assert_int_eq(dc__drv_opt_int(&h, cfg, "zk", "bucket_size", 77, 1, 10, &v, &err), DC_OK);
    ck_assert_int_eq(v, 5);
    ck_assert_int_eq(dc_config_set(cfg, "zk.bucket_size", "6"), DC_OK);
    ck_assert_int_eq(dc__drv_opt_int(&h, cfg, "zk", "bucket_size", 77, 1, 10, &v, &err), DC_OK);
    ck_assert_int_eq(v, 6);
    ck_assert_str_eq(dc__drv_opt(&h, cfg, "redis", "bucket_size"), "5");
    /* every malformed or out-of-range value is DC_EINVAL naming key and value */
    const char *bad[] = {"", "x", "5x", " 5", "5 ", "11", "0", "-1", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(dc_config_set(cfg, "zk.bucket_size", bad[i]), DC_OK);
        v = -1;
        ck_assert_msg(dc__drv_opt_int(&h, cfg, "zk", "bucket_size", 77, 1, 10, &v, &err) ==
                          DC_EINVAL,
                      "'%s' accepted", bad[i]);
        ck_assert_msg(strstr(err.msg, "zk: config: zk.bucket_size=") && strstr(err.msg, "[1, 10]"),
                      "%s", err.msg);
    }
    /* a negative range works */
    ck_assert_int_eq(dc_config_set(cfg, "zk.bucket_size", "-3"), DC_OK);
    ck_assert_int_eq(dc__drv_opt_int(&h, cfg, "zk", "bucket_size", 0, -5, 5, &v, &err), DC_OK);
    ck_assert_int_eq(v, -3);
    dc_config_free(cfg);
}
END_TEST

START_TEST(drv_host_list_brackets_ipv6_and_fills_default_ports)
{
    dc_uri u;
    char why[256];
    ck_assert_int_eq(dc__uri_parse("zk://a:1,[::1]:2,b,[fe80::2]/x", &u, why, sizeof why), 0);
    dc_buf b = DC_BUF_INIT;
    ck_assert_int_eq(dc__drv_host_list(&b, &u, 2181, ","), 0);
    ck_assert_str_eq(b.p, "a:1,[::1]:2,b:2181,[fe80::2]:2181");
    dc__buf_free(&b);
    dc__uri_free(&u);
}
END_TEST

START_TEST(event_filter_keeps_types_and_keys_as_a_watch_asks)
{
    ck_assert(dc__event_wanted(0, "k", 1, DC_EVENT_PUT, "k", 1));
    ck_assert(!dc__event_wanted(0, "k", 1, DC_EVENT_PUT, "k2", 2));
    ck_assert(dc__event_wanted(DC_PREFIX, "k", 1, DC_EVENT_DELETE, "k2", 2));
    ck_assert(!dc__event_wanted(DC_PREFIX, "k2", 2, DC_EVENT_PUT, "k", 1));
    ck_assert(dc__event_wanted(DC_PREFIX, "", 0, DC_EVENT_PUT, "any", 3));
    ck_assert(!dc__event_wanted(DC_NO_PUT, "k", 1, DC_EVENT_PUT, "k", 1));
    ck_assert(dc__event_wanted(DC_NO_PUT, "k", 1, DC_EVENT_DELETE, "k", 1));
    ck_assert(!dc__event_wanted(DC_NO_DELETE | DC_PREFIX, "k", 1, DC_EVENT_DELETE, "k1", 2));
    ck_assert(dc__event_type_wanted(DC_NO_DELETE, DC_EVENT_PUT));
    ck_assert(!dc__event_type_wanted(DC_NO_DELETE, DC_EVENT_DELETE));
    /* keys are bytes: an embedded NUL is part of the key */
    ck_assert(!dc__event_wanted(0, "k\0a", 3, DC_EVENT_PUT, "k\0b", 3));
}
END_TEST

DC_CHECK_MAIN("util", "util", hex_round_trips_every_byte_and_refuses_non_digits,
              buf_printf_appends_short_and_long_results_whole,
              drv_opt_prefers_the_scheme_key_and_rejects_bad_integers_everywhere,
              drv_host_list_brackets_ipv6_and_fills_default_ports,
              event_filter_keeps_types_and_keys_as_a_watch_asks)
