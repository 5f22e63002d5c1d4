/* log.c: formatting log records; a single write(2) per record keeps lines
 * whole when several threads log at once. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"

static sm_log_level cur_level = SM_LOG_INFO;
static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void sm_log_set_level(sm_log_level lvl) { cur_level = lvl; }
sm_log_level sm_log_get_level(void) { return cur_level; }

int sm_log_parse_level(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(s, names[i]))
            return i;
    if (!strcasecmp(s, "warning"))
        return SM_LOG_WARN;
    return -1;
}

static void vlog(sm_log_level lvl, const char *fmt, va_list ap)
{
    char line[2048];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, names[lvl]);
    if (n < 0)
        return;
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void sm_log(sm_log_level lvl, const char *fmt, ...)
{
    if (lvl < cur_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(lvl, fmt, ap);
    va_end(ap);
}

#define LIMIT_PER_SEC 5

void sm_log_limited_(sm_log_limit *lim, sm_log_level lvl, const char *fmt, ...)
{
    if (lvl < cur_level)
        return;
    int64_t now = sm_mono_ms();
    if (now - lim->window_start_ms >= 1000) {
        if (lim->suppressed)
            sm_log(lvl, "(%u similar messages suppressed in the last second)", lim->suppressed);
        lim->window_start_ms = now;
        lim->in_window = 0;
        lim->suppressed = 0;
    }
    if (lim->in_window >= LIMIT_PER_SEC) {
        lim->suppressed++;
        return;
    }
    lim->in_window++;
    va_list ap;
    va_start(ap, fmt);
    vlog(lvl, fmt, ap);
    va_end(ap);
}
