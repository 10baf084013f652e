/*
 * ddlcoord logging: one line per event, with a level and a component.
 *
 * By default, lines at DC_LOG_WARN and above go to stderr as
 *   2026-11-25T08:40:00.123Z WARN  mem: <message>
 * An application may install its own handler (it is called from whichever
 * thread logs, so it must be thread-safe) and change the level at any time.
 */
#ifndef DDLCOORD_LOG_H
#define DDLCOORD_LOG_H

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dc_log_level {
    DC_LOG_DEBUG = 0,
    DC_LOG_INFO = 1,
    DC_LOG_WARN = 2,
    DC_LOG_ERROR = 3,
    DC_LOG_OFF = 4,
} dc_log_level;

typedef void (*dc_log_fn)(dc_log_level level, const char *component, const char *message,
                          void *userdata);

/* Install handler (NULL restores the stderr default). Thread-safe. */
DC_API void dc_log_set_handler(dc_log_fn fn, void *userdata);

/* Lines below level are dropped. Thread-safe. The initial level is DC_LOG_WARN,
 * or the value of DDLCOORD_LOG (debug, info, warn, error, off) if set. */
DC_API void dc_log_set_level(dc_log_level level);
DC_API dc_log_level dc_log_get_level(void);

/* Log one line (printf format). Thread-safe. */
DC_API void dc_log(dc_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "DEBUG", "INFO", "WARN", "ERROR". */
DC_API const char *dc_log_level_name(dc_log_level level);

#ifdef __cplusplus
}
#endif
#endif
