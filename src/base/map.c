/* map.c: FNV-1a hashing; grow at 3/4 load counting tombstones. */
#include "base/map.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

static char tombstone_mark;
#define TOMB (&tombstone_mark)

static uint32_t hash_of(const char *k, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)k[i];
        h *= 16777619u;
    }
    return h;
}

void sm_map_init(sm_map *m) { memset(m, 0, sizeof *m); }

void sm_map_release(sm_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != TOMB)
            free(m->slots[i].key);
    free(m->slots);
    sm_map_init(m);
}

static sm_map_slot *find(const sm_map *m, const char *key, size_t klen, uint32_t h)
{
    if (!m->cap)
        return NULL;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        sm_map_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != TOMB && s->hash == h && strlen(s->key) == klen && !memcmp(s->key, key, klen))
            return s;
    }
}

void *sm_map_get(const sm_map *m, const char *key, size_t klen)
{
    sm_map_slot *s = find(m, key, klen, hash_of(key, klen));
    return s ? s->value : NULL;
}

static int grow(sm_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    if (m->len * 4 < m->cap) /* mostly tombstones: rehash at the same size */
        cap = m->cap;
    sm_map_slot *ns = calloc(cap, sizeof *ns);
    if (!ns)
        return SM_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        sm_map_slot *s = &m->slots[i];
        if (!s->key || s->key == TOMB)
            continue;
        size_t j = s->hash & (cap - 1);
        while (ns[j].key)
            j = (j + 1) & (cap - 1);
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->cap = cap;
    m->used = m->len;
    return SM_OK;
}

int sm_map_put(sm_map *m, const char *key, size_t klen, void *value)
{
    uint32_t h = hash_of(key, klen);
    sm_map_slot *s = find(m, key, klen, h);
    if (s) {
        s->value = value;
        return SM_OK;
    }
    if ((m->used + 1) * 4 > m->cap * 3 && grow(m) != SM_OK)
        return SM_ENOMEM;
    char *k = malloc(klen + 1);
    if (!k)
        return SM_ENOMEM;
    memcpy(k, key, klen);
    k[klen] = 0;
    size_t i = h & (m->cap - 1);
    while (m->slots[i].key && m->slots[i].key != TOMB)
        i = (i + 1) & (m->cap - 1);
    if (!m->slots[i].key)
        m->used++;
    m->slots[i] = (sm_map_slot){k, h, value};
    m->len++;
    return SM_OK;
}

void *sm_map_del(sm_map *m, const char *key, size_t klen)
{
    sm_map_slot *s = find(m, key, klen, hash_of(key, klen));
    if (!s)
        return NULL;
    void *v = s->value;
    free(s->key);
    s->key = TOMB;
    s->value = NULL;
    m->len--;
    return v;
}

int sm_map_next(const sm_map *m, size_t *iter, const char **key, void **value)
{
    while (*iter < m->cap) {
        sm_map_slot *s = &m->slots[(*iter)++];
        if (s->key && s->key != TOMB) {
            if (key)
                *key = s->key;
            if (value)
                *value = s->value;
            return 1;
        }
    }
    return 0;
}
