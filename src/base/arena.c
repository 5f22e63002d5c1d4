/* arena.c: chunks of at least 4 KiB, each allocation 16-byte aligned. */
#include "base/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sm_arena_chunk {
    sm_arena_chunk *next;
    size_t cap;
    size_t off;
    _Alignas(16) unsigned char data[];
};

#define CHUNK_MIN 4096

void sm_arena_init(sm_arena *a)
{
    a->head = NULL;
    a->used = 0;
}

void sm_arena_release(sm_arena *a)
{
    sm_arena_chunk *c = a->head;
    while (c) {
        sm_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
}

void *sm_arena_alloc(sm_arena *a, size_t n)
{
    if (n > SIZE_MAX - 32)
        return NULL;
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    sm_arena_chunk *c = a->head;
    if (!c || c->cap - c->off < n) {
        size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
        if (c && c->cap * 2 > cap && c->cap < (1u << 20))
            cap = c->cap * 2;
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->off = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->off;
    c->off += n;
    a->used += n;
    memset(p, 0, n);
    return p;
}

void *sm_arena_calloc(sm_arena *a, size_t n, size_t sz)
{
    if (sz && n > SIZE_MAX / sz)
        return NULL;
    return sm_arena_alloc(a, n * sz);
}

char *sm_arena_strndup(sm_arena *a, const char *p, size_t len)
{
    char *s = sm_arena_alloc(a, len + 1);
    if (s) {
        if (len)
            memcpy(s, p, len);
        s[len] = 0;
    }
    return s;
}
