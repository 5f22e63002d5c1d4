/* log.h: one-line log records to stderr: time, level, component, message.
 *
 * sm_log_limited() is for things a client can cause (bad frames, bad
 * batches): it logs at most a few lines per second per call site and then
 * reports how many it suppressed, so a misbehaving client cannot flood the
 * log or slow the broker down. */
#ifndef SM_LOG_H
#define SM_LOG_H

#include <stdint.h>

typedef enum { SM_LOG_DEBUG = 0, SM_LOG_INFO, SM_LOG_WARN, SM_LOG_ERROR } sm_log_level;

void sm_log_set_level(sm_log_level lvl);
sm_log_level sm_log_get_level(void);
/* Parses "debug", "info", "warn", "error"; returns -1 if unknown. */
int sm_log_parse_level(const char *s);

void sm_log(sm_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct sm_log_limit {
    int64_t window_start_ms;
    uint32_t in_window;
    uint32_t suppressed;
} sm_log_limit;

void sm_log_limited_(sm_log_limit *lim, sm_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define sm_log_limited(lvl, ...)                                                                  \
    do {                                                                                          \
        static sm_log_limit lim_;                                                                 \
        sm_log_limited_(&lim_, (lvl), __VA_ARGS__);                                               \
    } while (0)

#define sm_debug(...) do { if (sm_log_get_level() <= SM_LOG_DEBUG) sm_log(SM_LOG_DEBUG, __VA_ARGS__); } while (0)
#define sm_info(...) sm_log(SM_LOG_INFO, __VA_ARGS__)
#define sm_warn(...) sm_log(SM_LOG_WARN, __VA_ARGS__)
#define sm_error(...) sm_log(SM_LOG_ERROR, __VA_ARGS__)

#endif
