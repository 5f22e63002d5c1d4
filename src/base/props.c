/* props.c: the .properties parser. Lines are joined across trailing
 * backslashes first, then split into key and value, then unescaped. */
#include "base/props.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

void sm_props_init(sm_props *ps)
{
    ps->v = NULL;
    ps->n = ps->cap = 0;
}

void sm_props_release(sm_props *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->v[i].key);
        free(ps->v[i].value);
        free(ps->v[i].origin);
    }
    free(ps->v);
    sm_props_init(ps);
}

const sm_prop *sm_props_find(const sm_props *ps, const char *key)
{
    for (size_t i = 0; i < ps->n; i++)
        if (!strcmp(ps->v[i].key, key))
            return &ps->v[i];
    return NULL;
}

const char *sm_props_get(const sm_props *ps, const char *key)
{
    const sm_prop *p = sm_props_find(ps, key);
    return p ? p->value : NULL;
}

int sm_props_set(sm_props *ps, const char *key, const char *value, const char *origin)
{
    char *v = strdup(value), *o = strdup(origin ? origin : "");
    if (!v || !o) {
        free(v);
        free(o);
        return SM_ENOMEM;
    }
    for (size_t i = 0; i < ps->n; i++) {
        if (!strcmp(ps->v[i].key, key)) {
            free(ps->v[i].value);
            free(ps->v[i].origin);
            ps->v[i].value = v;
            ps->v[i].origin = o;
            return SM_OK;
        }
    }
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 16;
        sm_prop *nv = realloc(ps->v, cap * sizeof *nv);
        if (!nv) {
            free(v);
            free(o);
            return SM_ENOMEM;
        }
        ps->v = nv;
        ps->cap = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(v);
        free(o);
        return SM_ENOMEM;
    }
    ps->v[ps->n++] = (sm_prop){k, v, o};
    return SM_OK;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\f'; }

/* Unescapes src[0..len) into dst (which has room for len+1). */
static void unescape(char *dst, const char *src, size_t len)
{
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '\\' && i + 1 < len) {
            c = src[++i];
            switch (c) {
            case 't': c = '\t'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 'f': c = '\f'; break;
            default: break; /* \= \: \# \\ and others stand for themselves */
            }
        }
        dst[j++] = c;
    }
    dst[j] = 0;
}

/* One logical line (continuations already joined). */
static int parse_line(sm_props *ps, const char *s, size_t len, const char *origin, char *err,
                      size_t errlen)
{
    size_t i = 0;
    while (i < len && is_ws(s[i]))
        i++;
    if (i == len || s[i] == '#' || s[i] == '!')
        return SM_OK;
    size_t ks = i;
    while (i < len && s[i] != '=' && s[i] != ':' && !is_ws(s[i])) {
        if (s[i] == '\\' && i + 1 < len)
            i++;
        i++;
    }
    size_t ke = i;
    while (i < len && is_ws(s[i]))
        i++;
    if (i < len && (s[i] == '=' || s[i] == ':'))
        i++;
    while (i < len && is_ws(s[i]))
        i++;
    size_t ve = len;
    while (ve > i && (is_ws(s[ve - 1]) || s[ve - 1] == '\r'))
        ve--;
    char *key = malloc(ke - ks + 1), *val = malloc(ve - i + 1);
    if (!key || !val) {
        free(key);
        free(val);
        return SM_ENOMEM;
    }
    unescape(key, s + ks, ke - ks);
    unescape(val, s + i, ve - i);
    int rc = key[0] ? sm_props_set(ps, key, val, origin)
                    : sm_fail(err, errlen, SM_EINVAL, "%s: a line with an empty key", origin);
    free(key);
    free(val);
    return rc;
}

int sm_props_parse(sm_props *ps, const char *text, size_t len, const char *name, char *err,
                   size_t errlen)
{
    char *line = malloc(len + 1);
    if (!line)
        return SM_ENOMEM;
    size_t i = 0, lineno = 0;
    int rc = SM_OK;
    while (i < len && rc == SM_OK) {
        size_t n = 0, first = lineno + 1;
        for (;;) { /* gather one logical line */
            lineno++;
            size_t e = i;
            while (e < len && text[e] != '\n')
                e++;
            size_t le = e;
            if (le > i && text[le - 1] == '\r')
                le--;
            /* a trailing odd run of backslashes continues the line */
            size_t bs = 0;
            while (le - bs > i && text[le - bs - 1] == '\\')
                bs++;
            int cont = (bs % 2) == 1;
            /* leading whitespace of continuation lines is dropped */
            size_t st = i;
            if (n > 0)
                while (st < le && is_ws(text[st]))
                    st++;
            size_t take = le - st - (cont ? 1 : 0);
            memcpy(line + n, text + st, take);
            n += take;
            i = e < len ? e + 1 : e;
            if (!cont || i >= len)
                break;
        }
        char origin[512];
        snprintf(origin, sizeof origin, "%s:%zu", name, first);
        rc = parse_line(ps, line, n, origin, err, errlen);
    }
    free(line);
    return rc;
}

int sm_props_load_file(sm_props *ps, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sm_fail(err, errlen, SM_EIO, "cannot open %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return SM_ENOMEM;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return sm_fail(err, errlen, SM_EIO, "cannot read %s", path);
    }
    int rc = sm_props_parse(ps, buf ? buf : "", len, path, err, errlen);
    free(buf);
    return rc;
}

int sm_props_add_override(sm_props *ps, const char *kv, char *err, size_t errlen)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return sm_fail(err, errlen, SM_EINVAL,
                       "--override expects KEY=VALUE, got '%s'", kv);
    char key[256];
    size_t kl = (size_t)(eq - kv);
    if (kl >= sizeof key)
        return sm_fail(err, errlen, SM_EINVAL, "--override key too long in '%s'", kv);
    memcpy(key, kv, kl);
    key[kl] = 0;
    return sm_props_set(ps, key, eq + 1, "--override");
}
