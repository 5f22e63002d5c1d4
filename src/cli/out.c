/* out.c: how the samsa command shows things: aligned tables for people,
 * JSON (jansson) for scripts, times and ages, bytes made printable, and a
 * progress line that appears only on a terminal. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli/cli.h"

/* ---- tables ------------------------------------------------------------------ */

void sm_table_init(sm_table *t, int ncols, const char *const *head, unsigned right)
{
    t->ncols = ncols;
    t->head = head;
    t->right = right;
    t->cells = NULL;
    t->n = t->cap = 0;
}

void sm_table_cell(sm_table *t, const char *fmt, ...)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **cells = realloc(t->cells, cap * sizeof *cells);
        if (!cells)
            abort(); /* out of memory while printing: nothing sensible is left */
        t->cells = cells;
        t->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    t->cells[t->n++] = s;
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

void sm_table_print(const sm_table *t, FILE *f)
{
    size_t w[32] = {0};
    int nc = t->ncols < 32 ? t->ncols : 32;
    for (int i = 0; i < nc; i++)
        w[i] = width(t->head[i]);
    for (size_t i = 0; i < t->n; i++) {
        size_t cw = width(t->cells[i]);
        if (cw > w[i % (size_t)nc])
            w[i % (size_t)nc] = cw;
    }
    size_t rows = (t->n + (size_t)nc - 1) / (size_t)nc;
    char *line = NULL;
    size_t cap = 0;
    FILE *lf = open_memstream(&line, &cap);
    if (!lf)
        return;
    for (size_t r = 0; r <= rows; r++) {
        rewind(lf);
        for (int i = 0; i < nc; i++) {
            const char *s;
            if (r == 0)
                s = t->head[i];
            else if ((r - 1) * (size_t)nc + (size_t)i < t->n)
                s = t->cells[(r - 1) * (size_t)nc + (size_t)i];
            else
                s = "";
            size_t pad = w[i] - width(s);
            if (t->right & (1u << i))
                fprintf(lf, "%*s%s", (int)pad, "", s);
            else
                fprintf(lf, "%s%*s", s, (int)pad, "");
            if (i < nc - 1)
                fputs("  ", lf);
        }
        fflush(lf);
        /* the line without trailing blanks (empty cells at the end) */
        long len = ftell(lf);
        while (len > 0 && line[len - 1] == ' ')
            len--;
        fprintf(f, "%.*s\n", (int)len, line);
    }
    fclose(lf);
    free(line);
}

void sm_table_release(sm_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->n = t->cap = 0;
}

/* ---- JSON -------------------------------------------------------------------- */

void sm_json_print(json_t *j)
{
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(j);
}

json_t *sm_json_bytes(const void *p, ssize_t len)
{
    if (len < 0 || (!p && len > 0))
        return json_null();
    return json_stringn(p ? p : "", (size_t)len); /* NULL when not UTF-8 */
}

json_t *sm_json_base64(const void *p, size_t len)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = p;
    size_t out = (len + 2) / 3 * 4;
    char *b = malloc(out + 1);
    if (!b)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < len)
            v |= s[i + 2];
        b[o++] = tab[(v >> 18) & 63];
        b[o++] = tab[(v >> 12) & 63];
        b[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        b[o++] = i + 2 < len ? tab[v & 63] : '=';
    }
    b[o] = 0;
    json_t *j = json_string(b);
    free(b);
    return j;
}

/* ---- times and text --------------------------------------------------------- */

void sm_fmt_time(int64_t ms, char *buf, size_t len)
{
    if (ms < 0) {
        snprintf(buf, len, "-");
        return;
    }
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char day[40];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", day, (int)(ms % 1000));
}

void sm_fmt_age(int64_t ms, char *buf, size_t len)
{
    if (ms < 0)
        snprintf(buf, len, "-");
    else if (ms < 60000)
        snprintf(buf, len, "%.1f s", (double)ms / 1000.0);
    else if (ms < 3600000)
        snprintf(buf, len, "%d min %d s", (int)(ms / 60000), (int)(ms / 1000 % 60));
    else if (ms < 86400000)
        snprintf(buf, len, "%d h %d min", (int)(ms / 3600000), (int)(ms / 60000 % 60));
    else
        snprintf(buf, len, "%lld d %d h", (long long)(ms / 86400000), (int)(ms / 3600000 % 24));
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
    unsigned char c = p[0];
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

void sm_fmt_printable(const void *p, size_t len, size_t max, char *buf, size_t buflen)
{
    const unsigned char *s = p;
    size_t o = 0, i = 0;
    if (!buflen)
        return;
    while (i < len && o + 8 < buflen) {
        if (i >= max) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        size_t n = utf8_len(s + i, len - i);
        if (n == 1 && s[i] >= 0x20 && s[i] != 0x7F) {
            buf[o++] = (char)s[i++];
        } else if (n > 1) {
            memcpy(buf + o, s + i, n);
            o += n;
            i += n;
        } else {
            o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", s[i]);
            i++;
        }
    }
    buf[o] = 0;
}

/* ---- progress ---------------------------------------------------------------- */

void sm_progress_init(sm_progress *p, bool enabled, int64_t total, bool by_bytes,
                      const char *unit)
{
    memset(p, 0, sizeof *p);
    p->on = enabled && isatty(STDERR_FILENO);
    p->start_ms = sm_mono_ms();
    p->total = total;
    p->by_bytes = by_bytes;
    p->unit = unit;
}

void sm_progress_update(sm_progress *p, int64_t done, int64_t bytes)
{
    if (!p->on)
        return;
    int64_t now = sm_mono_ms();
    if (now - p->start_ms < 1000 || now - p->last_ms < 100)
        return;
    p->last_ms = now;
    double secs = (double)(now - p->start_ms) / 1000.0;
    double rate = (double)done / secs;
    char line[160];
    if (p->total > 0) {
        int64_t at = p->by_bytes ? bytes : done;
        int64_t d = at > p->total ? p->total : at;
        int width = 30, fill = (int)(d * width / p->total);
        char bar[32];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        if (p->by_bytes)
            snprintf(line, sizeof line, "[%s] %3d%%  %lld %s  %.0f/s", bar,
                     (int)(d * 100 / p->total), (long long)done, p->unit, rate);
        else
            snprintf(line, sizeof line, "[%s] %3d%%  %lld/%lld %s  %.0f/s", bar,
                     (int)(d * 100 / p->total), (long long)done, (long long)p->total, p->unit,
                     rate);
    } else {
        snprintf(line, sizeof line, "%lld %s  %.1f MB  %.0f/s  %.0f s", (long long)done,
                 p->unit, (double)bytes / 1e6, rate, secs);
    }
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    p->drawn = true;
}

void sm_progress_end(sm_progress *p)
{
    if (p->on && p->drawn) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    p->drawn = false;
}
