/* config.c: the configuration engine (config.h): read the file and the
 * overrides into one property set, check the names against the daemon's
 * table, then parse and bounds-check each value into its field. */
#include "base/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"

int sm_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return SM_EINVAL;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (errno || *end || v < min || v > max)
        return SM_EINVAL;
    *out = v;
    return SM_OK;
}

int sm_parse_bool(const char *s, bool *out)
{
    if (!strcasecmp(s, "true")) {
        *out = true;
        return SM_OK;
    }
    if (!strcasecmp(s, "false")) {
        *out = false;
        return SM_OK;
    }
    return SM_EINVAL;
}

const sm_config_def *sm_config_find(const sm_config_def *defs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(defs[i].name, name))
            return &defs[i];
    return NULL;
}

int sm_config_read(sm_props *ps, const char *file, char **overrides, int n_overrides, char *err,
                   size_t errlen)
{
    int rc;
    if (file && (rc = sm_props_load_file(ps, file, err, errlen)) != SM_OK)
        return rc;
    for (int i = 0; i < n_overrides; i++)
        if ((rc = sm_props_add_override(ps, overrides[i], err, errlen)) != SM_OK)
            return rc;
    return SM_OK;
}

int sm_config_check_names(const sm_config_def *defs, size_t n, const sm_props *ps,
                          const char *program, sm_config_check_fn check, void *arg, char *err,
                          size_t errlen)
{
    for (size_t i = 0; i < ps->n; i++) {
        const sm_prop *p = &ps->v[i];
        const sm_config_def *d = sm_config_find(defs, n, p->key);
        int rc;
        if (check && (rc = check(p, d, arg, err, errlen)) != SM_OK)
            return rc;
        if (!d)
            return sm_fail(err, errlen, SM_EINVAL,
                           "unknown property '%s' (%s); see %s --help for the list", p->key,
                           p->origin, program);
    }
    return SM_OK;
}

int sm_config_set(void *obj, const sm_config_def *d, const char *val, const char *origin,
                  char *err, size_t errlen)
{
    char *field = (char *)obj + d->off;
    switch (d->type) {
    case SM_CONFIG_STR:
        if (!*val)
            return sm_fail(err, errlen, SM_EINVAL, "%s (%s): empty value", d->name, origin);
        free(*(char **)field);
        return (*(char **)field = strdup(val)) ? SM_OK : SM_ENOMEM;
    case SM_CONFIG_BOOL: {
        bool b;
        if (sm_parse_bool(val, &b) != SM_OK)
            return sm_fail(err, errlen, SM_EINVAL, "%s (%s): '%s' is not true or false", d->name,
                           origin, val);
        *(bool *)field = b;
        return SM_OK;
    }
    case SM_CONFIG_INT:
    case SM_CONFIG_LONG: {
        int64_t v;
        if (sm_parse_i64(val, d->min, d->max, &v) != SM_OK)
            return sm_fail(err, errlen, SM_EINVAL,
                           "%s (%s): '%s' is not a whole number in [%lld, %lld]", d->name, origin,
                           val, (long long)d->min, (long long)d->max);
        if (d->type == SM_CONFIG_INT)
            *(int32_t *)field = (int32_t)v;
        else
            *(int64_t *)field = v;
        return SM_OK;
    }
    case SM_CONFIG_SPECIAL:
    case SM_CONFIG_NOOP:
        break;
    }
    return SM_OK;
}

int sm_config_apply(void *obj, const sm_config_def *defs, size_t n, const sm_props *ps,
                    sm_config_special_fn special, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const sm_config_def *d = &defs[i];
        const sm_prop *p = sm_props_find(ps, d->name);
        int rc = SM_OK;
        if (d->type == SM_CONFIG_NOOP)
            continue;
        if (d->type == SM_CONFIG_SPECIAL) {
            if (special)
                rc = special(obj, d, p, err, errlen);
        } else if (p || d->def) {
            rc = sm_config_set(obj, d, p ? p->value : d->def, p ? p->origin : "default", err,
                               errlen);
        }
        if (rc != SM_OK)
            return rc;
    }
    return SM_OK;
}

void sm_config_print_table(const sm_config_def *defs, size_t n, int width)
{
    for (size_t i = 0; i < n; i++) {
        const sm_config_def *d = &defs[i];
        if (d->type == SM_CONFIG_NOOP)
            continue;
        printf("  %-*s %s%s%s%s\n", width, d->name, d->doc, d->def ? " [default: " : "",
               d->def ? d->def : "", d->def ? "]" : "");
    }
}

int sm_config_args_init(sm_config_args *a, int argc)
{
    memset(a, 0, sizeof *a);
    a->overrides = calloc((size_t)argc + 1, sizeof *a->overrides);
    return a->overrides ? SM_OK : SM_ENOMEM;
}

void sm_config_args_release(sm_config_args *a)
{
    free(a->overrides);
    memset(a, 0, sizeof *a);
}

int sm_config_args_take(sm_config_args *a, int argc, char **argv, int *i, char *err,
                        size_t errlen)
{
    const char *arg = argv[*i];
    if (!strcmp(arg, "--override")) {
        if (*i + 1 >= argc)
            return sm_fail(err, errlen, SM_EINVAL, "--override needs KEY=VALUE");
        a->overrides[a->n_overrides++] = argv[++*i];
        return SM_OK;
    }
    if (!strncmp(arg, "--override=", 11)) {
        a->overrides[a->n_overrides++] = argv[*i] + 11;
        return SM_OK;
    }
    if (arg[0] == '-')
        return SM_ENOENT;
    if (a->file)
        return sm_fail(err, errlen, SM_EINVAL, "more than one properties file ('%s', '%s')",
                       a->file, arg);
    a->file = arg;
    return SM_OK;
}
