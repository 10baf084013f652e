/*
 * The history file: one JSON object per line, written by every thread of the
 * recorder under one mutex, so lines never interleave. Times are nanoseconds
 * on CLOCK_MONOTONIC since the recorder started; the checker only compares
 * them with each other. The line types and their fields are described in
 * tests/robustness/README.md.
 */
#include "robust.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static FILE *hist;
static pthread_mutex_t hist_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t clock_zero;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void rb_clock_start(void)
{
    clock_zero = mono_ns();
}

int64_t rb_now(void)
{
    return mono_ns() - clock_zero;
}

void rb_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("dc_robust: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(3);
}

int rb_hist_open(const char *path)
{
    hist = fopen(path, "w");
    return hist ? 0 : -1;
}

void rb_hist_close(void)
{
    pthread_mutex_lock(&hist_mu);
    if (hist && fclose(hist) != 0) rb_die("cannot write the history file");
    hist = NULL;
    pthread_mutex_unlock(&hist_mu);
}

void rb_hist_write(cJSON *obj)
{
    char *s = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (!s) rb_die("out of memory printing a history line");
    pthread_mutex_lock(&hist_mu);
    int bad = !hist || fputs(s, hist) == EOF || fputc('\n', hist) == EOF;
    pthread_mutex_unlock(&hist_mu);
    free(s);
    if (bad) rb_die("cannot write the history file");
}

static cJSON *need(cJSON *j)
{
    if (!j) rb_die("out of memory building a history line");
    return j;
}

cJSON *rb_obj(const char *type)
{
    cJSON *o = need(cJSON_CreateObject());
    if (type) rb_add_str(o, "t", type, strlen(type));
    return o;
}

cJSON *rb_arr(void)
{
    return need(cJSON_CreateArray());
}

/* Keys and values of the workload are printable ASCII; anything else a
 * store hands back is kept byte for byte as \u00XX escapes by cJSON only if
 * it is valid UTF-8, so other bytes are written as "\\xHH" text and compare
 * unequal to every value the workload wrote (a finding, not a crash). */
cJSON *rb_str(const char *s, size_t len)
{
    char small[256];
    char *buf = len * 4 + 1 <= sizeof small ? small : malloc(len * 4 + 1);
    if (!buf) rb_die("out of memory");
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            buf[n++] = (char)c;
        } else {
            n += (size_t)sprintf(buf + n, "\\x%02x", c);
        }
    }
    buf[n] = '\0';
    cJSON *j = need(cJSON_CreateString(buf));
    if (buf != small) free(buf);
    return j;
}

cJSON *rb_int(int64_t v)
{
    /* cJSON keeps numbers as doubles: exact up to 2^53, which every
     * revision and time of a test run stays below. */
    return need(cJSON_CreateNumber((double)v));
}

void rb_add_str(cJSON *o, const char *name, const char *s, size_t len)
{
    cJSON_AddItemToObject(o, name, rb_str(s, len));
}

void rb_add_int(cJSON *o, const char *name, int64_t v)
{
    cJSON_AddItemToObject(o, name, rb_int(v));
}

void rb_add_bool(cJSON *o, const char *name, int v)
{
    cJSON_AddItemToObject(o, name, need(cJSON_CreateBool(v)));
}

void rb_push(cJSON *arr, cJSON *item)
{
    cJSON_AddItemToArray(arr, item);
}

cJSON *rb_kv(const dc_kv *kv)
{
    cJSON *a = rb_arr();
    rb_push(a, rb_str(kv->key, kv->key_len));
    rb_push(a, rb_str(kv->value, kv->value_len));
    rb_push(a, rb_int(kv->create_revision));
    rb_push(a, rb_int(kv->mod_revision));
    rb_push(a, rb_int(kv->version));
    rb_push(a, rb_int(kv->lease));
    return a;
}

void rb_add_rc(cJSON *o, int rc)
{
    const char *n = dc_errname(rc);
    rb_add_str(o, "rc", n, strlen(n));
}

uint64_t rb_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

int rb_sleep_unless(int ms, atomic_int *flag)
{
    while (ms > 0) {
        if (atomic_load(flag)) return 1;
        int step = ms < 20 ? ms : 20;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return atomic_load(flag) != 0;
}
