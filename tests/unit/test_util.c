/*
 * The byte helpers of core/util: hex (every byte round-trips, either case
 * decodes, anything else is refused) and the growable buffer's printf (one
 * formatting pass when the result fits, a second when it does not, and the
 * contents untouched by a failure).
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hex.h"

#include "check_main.h"

START_TEST(hex_round_trips_every_byte_and_refuses_non_digits)
{
    unsigned char all[256], back[256];
    char hex[513];
    for (int i = 0; i < 256; i++) all[i] = (unsigned char)i;
    dc_hex_encode(all, sizeof all, hex);
    ck_assert_uint_eq(strlen(hex), 512);
    ck_assert(strncmp(hex, "000102", 6) == 0);
    ck_assert_str_eq(hex + 506, "fdfeff");
    ck_assert_int_eq(dc_hex_decode(hex, 512, back), 256);
    ck_assert(memcmp(all, back, sizeof all) == 0);

    ck_assert_int_eq(dc_hex_decode("AbCdEF", 6, back), 3);
    ck_assert_int_eq(back[0], 0xab);
    ck_assert_int_eq(back[1], 0xcd);
    ck_assert_int_eq(back[2], 0xef);
    ck_assert_int_eq(dc_hex_decode("", 0, back), 0);
    ck_assert_int_eq(dc_hex_decode("abc", 3, back), -1);
    /* every byte that is not a digit, in either position */
    for (int c = 0; c < 256; c++) {
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) continue;
        char bad[2] = {'a', (char)c};
        ck_assert_msg(dc_hex_decode(bad, 2, back) == -1, "byte 0x%02x accepted", c);
        bad[0] = (char)c;
        bad[1] = 'a';
        ck_assert_msg(dc_hex_decode(bad, 2, back) == -1, "byte 0x%02x accepted", c);
    }
}
END_TEST

START_TEST(buf_printf_appends_short_and_long_results_whole)
{
    dc_buf b = DC_BUF_INIT;
    ck_assert_int_eq(dc_buf_printf(&b, "%s-%d", "task", 7), 0);
    ck_assert_str_eq(b.p, "task-7");
    ck_assert_uint_eq(b.len, 6);
    /* longer than the free room: formatted again into a grown buffer */
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(dc_buf_printf(&b, "/%s/", big), 0);
    ck_assert_uint_eq(b.len, 6 + 1 + 999 + 1);
    ck_assert(strncmp(b.p, "task-7/xxx", 10) == 0);
    ck_assert_str_eq(b.p + b.len - 3, "xx/");
    /* exactly filling the room, then one byte more */
    dc_buf_reset(&b);
    size_t room = b.cap - 1;
    char *fill = malloc(room + 1);
    ck_assert_ptr_nonnull(fill);
    memset(fill, 'y', room);
    fill[room] = '\0';
    ck_assert_int_eq(dc_buf_printf(&b, "%s", fill), 0);
    free(fill);
    ck_assert_uint_eq(b.len, room);
    ck_assert_int_eq(dc_buf_printf(&b, "%c", 'z'), 0);
    ck_assert_uint_eq(b.len, room + 1);
    ck_assert_int_eq(b.p[room], 'z');
    ck_assert_int_eq(b.p[room + 1], '\0');
    ck_assert_int_eq(dc_buf_printf(&b, "%s", ""), 0);
    ck_assert_uint_eq(b.len, room + 1);
    char *s = dc_buf_steal(&b);
    ck_assert_uint_eq(strlen(s), room + 1);
    free(s);
}
END_TEST

DC_CHECK_MAIN("util", "util", hex_round_trips_every_byte_and_refuses_non_digits,
              buf_printf_appends_short_and_long_results_whole)
