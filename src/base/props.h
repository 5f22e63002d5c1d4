/* props.h: Java-style .properties files (Kafka's server.properties format)
 * and `--override KEY=VALUE` arguments.
 *
 * A later setting of a key replaces the earlier one, as Kafka's overrides
 * do. Each value remembers where it came from ("server.properties:12" or
 * "--override") so validation errors can point at it. The set owns all its
 * strings. */
#ifndef SM_PROPS_H
#define SM_PROPS_H

#include <stddef.h>

typedef struct sm_prop {
    char *key;
    char *value;
    char *origin;
} sm_prop;

typedef struct sm_props {
    sm_prop *v;
    size_t n;
    size_t cap;
} sm_props;

void sm_props_init(sm_props *ps);
void sm_props_release(sm_props *ps);

/* Parses a whole file. Supports '#'/'!' comments, '=' ':' or whitespace
 * separators, backslash line continuation and the usual escapes. */
int sm_props_load_file(sm_props *ps, const char *path, char *err, size_t errlen);
int sm_props_parse(sm_props *ps, const char *text, size_t len, const char *name, char *err,
                   size_t errlen);
/* "KEY=VALUE" from the command line; fails if there is no '=' or no key. */
int sm_props_add_override(sm_props *ps, const char *kv, char *err, size_t errlen);
/* Sets key to value (replacing any earlier value); origin may be NULL. */
int sm_props_set(sm_props *ps, const char *key, const char *value, const char *origin);
/* The value of key, or NULL. The pointer stays valid until the key is set again. */
const char *sm_props_get(const sm_props *ps, const char *key);
const sm_prop *sm_props_find(const sm_props *ps, const char *key);

#endif
