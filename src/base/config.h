/* config.h: the configuration engine of the daemons (samsa-broker,
 * samsa-relay): a typed property table, the two-pass load of a properties
 * file then `--override KEY=VALUE` arguments, unknown-name errors, --help
 * text, and the number and boolean parsers.
 *
 * A daemon keeps only its table (sm_config_def[]) and the setters of its
 * SM_CONFIG_SPECIAL properties; the engine fills the typed fields of its
 * config struct through each entry's offset. Every message names the
 * property and where it was set ("server.properties:12", "--override",
 * "default"). */
#ifndef SM_BASE_CONFIG_H
#define SM_BASE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/props.h"

typedef enum {
    SM_CONFIG_STR,     /* char * (strdup'ed; the owner frees it); empty is an error */
    SM_CONFIG_INT,     /* int32_t in [min, max] */
    SM_CONFIG_LONG,    /* int64_t in [min, max] */
    SM_CONFIG_BOOL,    /* bool: true or false, any case */
    SM_CONFIG_SPECIAL, /* the daemon's own setter */
    SM_CONFIG_NOOP,    /* accepted, has no effect; left out of --help's table */
} sm_config_type;

typedef struct sm_config_def {
    const char *name;
    sm_config_type type;
    const char *def; /* default as text; NULL: unset unless given */
    int64_t min, max;
    size_t off; /* into the daemon's config struct, for the typed properties */
    const char *doc;
} sm_config_def;

/* The whole string (spaces and tabs around it allowed) must be a decimal
 * integer in [min, max]; SM_EINVAL otherwise, *out untouched. */
int sm_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* "true" or "false", any case. */
int sm_parse_bool(const char *s, bool *out);

/* The entry called name, or NULL. */
const sm_config_def *sm_config_find(const sm_config_def *defs, size_t n, const char *name);

/* Pass 1, reading: the file (if any), then the overrides, into ps (a later
 * setting of a key wins). ps must be initialised. */
int sm_config_read(sm_props *ps, const char *file, char **overrides, int n_overrides, char *err,
                   size_t errlen);

/* Pass 1, names: every key set must be in the table. check (may be NULL) is
 * called first for each key, with its entry or NULL, and may refuse it; an
 * unknown key then fails as "unknown property 'K' (origin); see PROGRAM
 * --help for the list". */
typedef int (*sm_config_check_fn)(const sm_prop *p, const sm_config_def *d, void *arg, char *err,
                                  size_t errlen);
int sm_config_check_names(const sm_config_def *defs, size_t n, const sm_props *ps,
                          const char *program, sm_config_check_fn check, void *arg, char *err,
                          size_t errlen);

/* Pass 2, values: each typed entry (STR, INT, LONG, BOOL) gets its value as
 * set, or its default, stored at obj + off; in table order, and each
 * SPECIAL entry (if special is not NULL) goes to special with its property
 * as set (NULL: not set) at its place in that order. */
typedef int (*sm_config_special_fn)(void *obj, const sm_config_def *d, const sm_prop *p,
                                    char *err, size_t errlen);
int sm_config_apply(void *obj, const sm_config_def *defs, size_t n, const sm_props *ps,
                    sm_config_special_fn special, char *err, size_t errlen);

/* Sets one typed entry from text; origin is for the message. */
int sm_config_set(void *obj, const sm_config_def *d, const char *val, const char *origin,
                  char *err, size_t errlen);

/* --help: "  NAME  doc [default: X]" per entry but the NOOP ones, the names
 * padded to width. */
void sm_config_print_table(const sm_config_def *defs, size_t n, int width);

/* A daemon's command line: [PROPERTIES_FILE] [--override KEY=VALUE]...
 * (also --override=KEY=VALUE). The strings stay argv's. */
typedef struct sm_config_args {
    const char *file;
    char **overrides;
    int n_overrides;
} sm_config_args;

int sm_config_args_init(sm_config_args *a, int argc);
void sm_config_args_release(sm_config_args *a);
/* Takes argv[*i] when it is the file or an --override (moving *i past its
 * value): SM_OK. SM_ENOENT: another option (the caller's, or unknown);
 * SM_EINVAL: a usage error described in err ("--override needs KEY=VALUE",
 * a second file). */
int sm_config_args_take(sm_config_args *a, int argc, char **argv, int *i, char *err,
                        size_t errlen);

#endif
