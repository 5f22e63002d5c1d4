/* map.h: a string-keyed hash map (open addressing, linear probing) from a
 * name to a pointer. The map copies keys; values are the caller's. Used for
 * topics by name and, later, groups by id. */
#ifndef SM_MAP_H
#define SM_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct sm_map_slot {
    char *key; /* NULL: empty; SM_MAP_TOMBSTONE: deleted */
    uint32_t hash;
    void *value;
} sm_map_slot;

typedef struct sm_map {
    sm_map_slot *slots;
    size_t cap;  /* power of two, or 0 */
    size_t len;  /* live entries */
    size_t used; /* live + tombstones */
} sm_map;

void sm_map_init(sm_map *m);
/* Frees the map's keys and table (not the values). */
void sm_map_release(sm_map *m);
void *sm_map_get(const sm_map *m, const char *key, size_t klen);
/* Inserts or replaces; returns SM_OK or SM_ENOMEM. */
int sm_map_put(sm_map *m, const char *key, size_t klen, void *value);
/* Removes key; returns its value or NULL. */
void *sm_map_del(sm_map *m, const char *key, size_t klen);

/* Iteration: for (size_t i = 0; sm_map_next(m, &i, &k, &v);) ... ; safe
 * against sm_map_del of the current key. */
int sm_map_next(const sm_map *m, size_t *iter, const char **key, void **value);

#endif
