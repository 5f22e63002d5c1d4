/* args.c: the option parser of every samsa command and the --help text it
 * generates from the same tables, so the two can never disagree.
 *
 * Syntax: "-p 3", "-p3", "--partitions 3", "--partitions=3", short flags
 * bundled ("-ev"), "--" ends the options; options and positional arguments
 * may come in any order. The common options are parsed everywhere and
 * applied to the run context directly. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/config.h"
#include "base/err.h"
#include "cli/cli.h"

const sm_opt sm_common_kafka_opts[] = {
    {SM_OPT_BROKERS, 'b', "brokers", "HOST:PORT,...",
     "bootstrap brokers (default: $SAMSA_BROKERS, else " SM_CLI_DEFAULT_BROKERS ")"},
    {SM_OPT_PROP, 'X', "property", "KEY=VALUE",
     "a librdkafka property, repeatable (e.g. -X security.protocol=ssl)"},
    {SM_OPT_TIMEOUT, 0, "timeout", "MS", "how long to wait for the cluster (default 10000)"},
    {0, 0, NULL, NULL, NULL},
};

const sm_opt sm_common_opts[] = {
    {SM_OPT_OUTPUT, 0, "output", "table|json", "table for people (default), json for scripts"},
    {SM_OPT_VERBOSE, 'v', "verbose", NULL, "show librdkafka's log on stderr (twice: debug)"},
    {SM_OPT_HELPFLAG, 'h', "help", NULL, "show this help"},
    {0, 0, NULL, NULL, NULL},
};

void sm_args_init(sm_args *a, sm_cli *c, const sm_cmd_help *help, int argc, char **argv)
{
    a->argc = argc;
    a->argv = argv;
    a->i = 0;
    a->only_pos = false;
    a->help = help;
    a->c = c;
    snprintf(c->cmd, sizeof c->cmd, "%s", help->path);
    a->short_rest = NULL;
}

static const sm_opt *find_in(const sm_opt *opts, char s, const char *l, size_t llen)
{
    for (const sm_opt *o = opts; o && o->id; o++) {
        if (s && o->sname == s)
            return o;
        if (l && o->lname && strlen(o->lname) == llen && !strncmp(o->lname, l, llen))
            return o;
    }
    return NULL;
}

static const sm_opt *find_opt(const sm_args *a, char s, const char *l, size_t llen)
{
    const sm_opt *o = find_in(a->help->opts, s, l, llen);
    if (!o)
        o = find_in(sm_common_opts, s, l, llen);
    if (!o && a->help->kafka)
        o = find_in(sm_common_kafka_opts, s, l, llen);
    return o;
}

static int usage_fail(sm_args *a, const char *fmt, const char *what)
{
    char msg[256];
    snprintf(msg, sizeof msg, fmt, what);
    const char *path = a->help->path;
    sm_cli_fail(a->c, SM_EXIT_USAGE, "%s (see 'samsa %s%s--help')", msg, path, *path ? " " : "");
    return SM_OPT_BAD;
}

int sm_split_kv(const char *s, char *key, size_t keylen, const char **value)
{
    const char *eq = strchr(s, '=');
    if (!eq || eq == s || (size_t)(eq - s) >= keylen)
        return -1;
    memcpy(key, s, (size_t)(eq - s));
    key[eq - s] = 0;
    *value = eq + 1;
    return 0;
}

/* Applies a common option; returns 0, SM_OPT_BAD or SM_OPT_HELP. */
static int apply_common(sm_args *a, const sm_opt *o, const char *val)
{
    sm_cli *c = a->c;
    switch (o->id) {
    case SM_OPT_BROKERS:
        if (!*val)
            return usage_fail(a, "%s: empty broker list", "-b/--brokers");
        c->brokers = val;
        return 0;
    case SM_OPT_PROP: {
        char key[256];
        const char *v;
        if (sm_split_kv(val, key, sizeof key, &v))
            return sm_cli_fail(c, SM_EXIT_USAGE, "-X '%s': expected KEY=VALUE", val),
                   SM_OPT_BAD;
        if (sm_props_set(&c->xprops, key, v, "-X"))
            return sm_cli_fail(c, SM_EXIT_FAIL, "out of memory"), SM_OPT_BAD;
        return 0;
    }
    case SM_OPT_OUTPUT:
        if (!strcmp(val, "json"))
            c->output = SM_OUT_JSON;
        else if (!strcmp(val, "table"))
            c->output = SM_OUT_TABLE;
        else
            return sm_cli_fail(c, SM_EXIT_USAGE, "--output '%s': expected table or json", val),
                   SM_OPT_BAD;
        return 0;
    case SM_OPT_TIMEOUT: {
        int32_t ms;
        if (sm_cli_parse_i32(c, "--timeout", val, 1, INT32_MAX, &ms))
            return SM_OPT_BAD;
        c->timeout_ms = ms;
        return 0;
    }
    case SM_OPT_VERBOSE:
        c->verbose++;
        return 0;
    case SM_OPT_HELPFLAG:
        sm_help_print(a->help, stdout);
        return SM_OPT_HELP;
    }
    return 0;
}

static bool is_common(int id) { return id >= SM_OPT_BROKERS; }

int sm_args_next(sm_args *a, const char **val)
{
    for (;;) {
        *val = NULL;
        const sm_opt *o;
        if (a->short_rest && *a->short_rest) {
            /* inside a bundle of short options: "-ev" */
            char s = *a->short_rest++;
            o = find_opt(a, s, NULL, 0);
            if (!o) {
                char name[3] = {'-', s, 0};
                return usage_fail(a, "unknown option '%s'", name);
            }
            if (o->arg) {
                if (*a->short_rest) {
                    *val = a->short_rest;
                } else if (a->i < a->argc) {
                    *val = a->argv[a->i++];
                } else {
                    char name[3] = {'-', s, 0};
                    return usage_fail(a, "option '%s' needs an argument", name);
                }
                a->short_rest = NULL;
            }
        } else {
            a->short_rest = NULL;
            if (a->i >= a->argc)
                return SM_OPT_END;
            char *arg = a->argv[a->i++];
            if (a->only_pos || arg[0] != '-' || !arg[1]) {
                *val = arg;
                return SM_OPT_POS;
            }
            if (!strcmp(arg, "--")) {
                a->only_pos = true;
                continue;
            }
            if (arg[1] != '-') {
                a->short_rest = arg + 1;
                continue;
            }
            const char *name = arg + 2, *eq = strchr(name, '=');
            size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
            o = find_opt(a, 0, name, nlen);
            if (!o)
                return usage_fail(a, "unknown option '%s'", arg);
            if (o->arg) {
                if (eq)
                    *val = eq + 1;
                else if (a->i < a->argc)
                    *val = a->argv[a->i++];
                else
                    return usage_fail(a, "option '%s' needs an argument", arg);
            } else if (eq) {
                return usage_fail(a, "option '%s' takes no argument", arg);
            }
        }
        if (!is_common(o->id))
            return o->id;
        int rc = apply_common(a, o, *val);
        if (rc)
            return rc;
    }
}

/* ---- help ------------------------------------------------------------------ */

static void print_opts(FILE *f, const sm_opt *opts)
{
    for (const sm_opt *o = opts; o && o->id; o++) {
        char left[96];
        int n = 0;
        if (o->sname)
            n = snprintf(left, sizeof left, "-%c%s", o->sname, o->lname ? ", " : "");
        else
            n = snprintf(left, sizeof left, "    ");
        if (o->lname)
            n += snprintf(left + n, sizeof left - (size_t)n, "--%s", o->lname);
        if (o->arg)
            snprintf(left + n, sizeof left - (size_t)n, " %s", o->arg);
        if (strlen(left) > 28)
            fprintf(f, "  %s\n  %-28s  %s\n", left, "", o->help);
        else
            fprintf(f, "  %-28s  %s\n", left, o->help);
    }
}

static void print_examples(FILE *f, const char *examples)
{
    if (!examples)
        return;
    fprintf(f, "\nExamples:\n");
    const char *p = examples;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        fprintf(f, "  %.*s\n", (int)len, p);
        p += len + (nl ? 1 : 0);
    }
}

void sm_help_print(const sm_cmd_help *h, FILE *f)
{
    fprintf(f, "usage: samsa %s %s\n\n%s\n", h->path, h->usage, h->summary);
    if (h->details)
        fprintf(f, "\n%s\n", h->details);
    if (h->opts && h->opts->id) {
        fprintf(f, "\nOptions:\n");
        print_opts(f, h->opts);
    }
    fprintf(f, "\nCommon options:\n");
    if (h->kafka)
        print_opts(f, sm_common_kafka_opts);
    print_opts(f, sm_common_opts);
    print_examples(f, h->examples);
    fprintf(f, "\nExit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 unreachable"
               " (docs/cli.md).\n");
}

void sm_group_help_print(const char *path, const char *summary, const sm_subcmd *subs,
                         const char *examples, FILE *f)
{
    fprintf(f, "usage: samsa %s COMMAND [options]\n\n%s\n\nCommands:\n", path, summary);
    for (const sm_subcmd *s = subs; s->name; s++)
        fprintf(f, "  %-16s  %s\n", s->name, s->help ? s->help->summary : "");
    print_examples(f, examples);
    fprintf(f, "\n'samsa %s COMMAND --help' shows a command's options.\n", path);
}

int sm_subcmd_dispatch(sm_cli *c, const char *path, const char *summary, const sm_subcmd *subs,
                       const char *examples, int argc, char **argv)
{
    snprintf(c->cmd, sizeof c->cmd, "%s", path);
    if (argc < 1) {
        sm_group_help_print(path, summary, subs, examples, stderr);
        return sm_cli_fail(c, SM_EXIT_USAGE, "a command is needed");
    }
    if (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help") || !strcmp(argv[0], "help")) {
        if (!strcmp(argv[0], "help") && argc > 1) {
            for (const sm_subcmd *s = subs; s->name; s++)
                if (!strcmp(s->name, argv[1]) && s->help) {
                    sm_help_print(s->help, stdout);
                    return SM_EXIT_OK;
                }
        }
        sm_group_help_print(path, summary, subs, examples, stdout);
        return SM_EXIT_OK;
    }
    for (const sm_subcmd *s = subs; s->name; s++)
        if (!strcmp(s->name, argv[0]))
            return s->run(c, argc - 1, argv + 1);
    return sm_cli_fail(c, SM_EXIT_USAGE, "unknown command '%s' (see 'samsa %s --help')", argv[0],
                       path);
}

/* ---- values ------------------------------------------------------------------ */

int sm_cli_parse_i64(sm_cli *c, const char *what, const char *s, int64_t min, int64_t max,
                     int64_t *out)
{
    /* base's parser (base/config.h), without the trailing blanks it allows */
    size_t n = strlen(s);
    int64_t v;
    if (!n || s[n - 1] == ' ' || s[n - 1] == '\t' ||
        sm_parse_i64(s, INT64_MIN, INT64_MAX, &v) != SM_OK)
        return sm_cli_fail(c, SM_EXIT_USAGE, "%s '%s': expected an integer", what, s);
    if (v < min || v > max) {
        if (max >= INT32_MAX)
            return sm_cli_fail(c, SM_EXIT_USAGE, "%s '%s': must be at least %lld", what, s,
                               (long long)min);
        return sm_cli_fail(c, SM_EXIT_USAGE, "%s '%s': must be %lld..%lld", what, s,
                           (long long)min, (long long)max);
    }
    *out = v;
    return SM_EXIT_OK;
}

int sm_cli_parse_i32(sm_cli *c, const char *what, const char *s, int32_t min, int32_t max,
                     int32_t *out)
{
    int64_t v = 0;
    int rc = sm_cli_parse_i64(c, what, s, min, max, &v);
    if (!rc)
        *out = (int32_t)v;
    return rc;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), no time zone involved. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int parse_duration(const char *s, int64_t *ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0)
        return -1;
    double unit;
    if (!strcmp(end, "ms"))
        unit = 1;
    else if (!strcmp(end, "s"))
        unit = 1000;
    else if (!strcmp(end, "m") || !strcmp(end, "min"))
        unit = 60000;
    else if (!strcmp(end, "h"))
        unit = 3600000;
    else if (!strcmp(end, "d"))
        unit = 86400000;
    else
        return -1;
    if (v * unit > 9e15)
        return -1;
    *ms = (int64_t)(v * unit);
    return 0;
}

int sm_cli_parse_time(sm_cli *c, const char *what, const char *s, int64_t *ms)
{
    if (s[0] == '-') {
        int64_t d;
        if (parse_duration(s + 1, &d))
            goto bad;
        *ms = sm_wall_ms() - d;
        return SM_EXIT_OK;
    }
    size_t n = strspn(s, "0123456789");
    if (n == strlen(s) && n > 0) {
        if (n > 15)
            goto bad;
        *ms = strtoll(s, NULL, 10);
        return SM_EXIT_OK;
    }
    int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10)
        goto bad;
    const char *p = s + used;
    int64_t frac = 0;
    if (*p == 'T' || *p == ' ') {
        int u2 = 0;
        if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &u2) != 3 || u2 != 8)
            goto bad;
        p += 1 + u2;
        if (*p == '.') {
            int digits = 0;
            p++;
            while (*p >= '0' && *p <= '9') {
                if (digits < 3)
                    frac = frac * 10 + (*p - '0');
                digits++;
                p++;
            }
            if (!digits)
                goto bad;
            for (; digits < 3; digits++)
                frac *= 10;
        }
    }
    int64_t offset_min = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om, u3 = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &u3) != 2 || u3 != 5)
            goto bad;
        offset_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
        p += 1 + u3;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        goto bad;
    *ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi - offset_min) * 60000 +
          (int64_t)sec * 1000 + frac;
    return SM_EXIT_OK;
bad:
    return sm_cli_fail(c, SM_EXIT_USAGE,
                       "%s '%s': expected milliseconds since the epoch, an ISO 8601 time"
                       " (2024-05-01T12:00:00Z) or -DURATION (-15m, -2h, -1d)",
                       what, s);
}
