/*
 * Time helpers: a monotonic clock for timeouts and deadlines (never the wall
 * clock, which can jump), and conversions for pthread_cond_timedwait.
 */
#ifndef DC_UTIL_CLOCK_H
#define DC_UTIL_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds / microseconds on CLOCK_MONOTONIC. */
int64_t dc__now_ms(void);
int64_t dc__now_us(void);
/* Milliseconds since the epoch (CLOCK_REALTIME), for log lines only. */
int64_t dc__wall_ms(void);
/* Sleep for ms milliseconds (restarts after signals). */
void dc__sleep_ms(int64_t ms);
/* A condition variable that waits on CLOCK_MONOTONIC. 0 or an errno. */
int dc__cond_init_monotonic(pthread_cond_t *cond);
/* Wait on cond until the monotonic deadline_ms (-1 = forever). Returns 0 or
 * ETIMEDOUT. */
int dc__cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t deadline_ms);
/* now + timeout_ms, or -1 for a negative timeout (wait forever). */
int64_t dc__deadline_ms(int timeout_ms);

#endif
