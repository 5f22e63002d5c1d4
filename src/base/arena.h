/* arena.h: a bump allocator tied to one lifetime (a request, a response).
 * Everything allocated from it is freed at once by sm_arena_release. */
#ifndef SM_ARENA_H
#define SM_ARENA_H

#include <stddef.h>

typedef struct sm_arena_chunk sm_arena_chunk;

typedef struct sm_arena {
    sm_arena_chunk *head;
    size_t used; /* bytes handed out, for diagnostics */
} sm_arena;

void sm_arena_init(sm_arena *a);
/* Frees every chunk; the arena may be reused afterwards. */
void sm_arena_release(sm_arena *a);
/* Returns n zeroed bytes aligned for any type, or NULL. */
void *sm_arena_alloc(sm_arena *a, size_t n);
/* n elements of size sz, with an overflow check. */
void *sm_arena_calloc(sm_arena *a, size_t n, size_t sz);
/* A NUL-terminated copy of (p, len). */
char *sm_arena_strndup(sm_arena *a, const char *p, size_t len);

#endif
