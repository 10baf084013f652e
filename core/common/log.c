/*
 * The library logger: one line per event with time, level and component.
 * The handler and level are process-wide; a mutex keeps lines whole when
 * several threads write to stderr.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static dc_log_fn log_fn;
static void *log_ud;
static int log_level = -1; /* -1: not read from the environment yet */

static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};

const char *dc_log_level_name(dc_log_level level)
{
    return (unsigned)level <= DC_LOG_OFF ? names[level] : "?";
}

static int env_level(void)
{
    const char *e = getenv("DDLCOORD_LOG");
    if (e)
        for (int i = 0; i <= DC_LOG_OFF; i++)
            if (strcasecmp(e, names[i]) == 0) return i;
    return DC_LOG_WARN;
}

void dc_log_set_handler(dc_log_fn fn, void *userdata)
{
    pthread_mutex_lock(&log_mu);
    log_fn = fn;
    log_ud = userdata;
    pthread_mutex_unlock(&log_mu);
}

void dc_log_set_level(dc_log_level level)
{
    pthread_mutex_lock(&log_mu);
    log_level = level;
    pthread_mutex_unlock(&log_mu);
}

dc_log_level dc_log_get_level(void)
{
    pthread_mutex_lock(&log_mu);
    if (log_level < 0) log_level = env_level();
    int l = log_level;
    pthread_mutex_unlock(&log_mu);
    return (dc_log_level)l;
}

void dc_log(dc_log_level level, const char *component, const char *fmt, ...)
{
    if ((int)level < (int)dc_log_get_level()) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_mu);
    if (log_fn) {
        log_fn(level, component, msg, log_ud);
    } else {
        int64_t ms = dc__wall_ms();
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        char ts[32];
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(stderr, "%s.%03dZ %-5s %s: %s\n", ts, (int)(ms % 1000), names[level],
                component ? component : "ddlcoord", msg);
    }
    pthread_mutex_unlock(&log_mu);
}
