/* keys.c: per-key order bookkeeping (see keys.h). Key states live in a
 * string map while a key has rows in flight, failing, or a DEAD block;
 * tracked ids in an open-addressing set. */
#include "relay/keys.h"

#include <stdlib.h>
#include <string.h>

#define ID_EMPTY 0
#define ID_DELETED (-1)

void sm_keys_init(sm_keys *k, bool block_on_dead)
{
    memset(k, 0, sizeof *k);
    k->block_on_dead = block_on_dead;
    sm_map_init(&k->keys);
}

static void state_free(sm_key_state *ks)
{
    free(ks->topic);
    free(ks->failed);
    free(ks);
}

void sm_keys_release(sm_keys *k)
{
    const char *key;
    void *v;
    for (size_t it = 0; sm_map_next(&k->keys, &it, &key, &v);)
        state_free(v);
    sm_map_release(&k->keys);
    sm_idset_release(&k->ids);
    memset(k, 0, sizeof *k);
}

/* ---- the id set ---- */

static size_t id_slot(int64_t id, size_t cap)
{
    uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 17) & (cap - 1);
}

bool sm_idset_has(const sm_idset *s, int64_t id)
{
    if (!s->cap)
        return false;
    for (size_t i = id_slot(id, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (s->ids[i] == id)
            return true;
        if (s->ids[i] == ID_EMPTY)
            return false;
    }
}

static bool idset_grow(sm_idset *s)
{
    size_t cap = s->cap ? s->cap : 1024;
    while (s->n * 2 + 2 > cap)
        cap *= 2;
    int64_t *ids = calloc(cap, sizeof *ids);
    uint8_t *tags = calloc(cap, sizeof *tags);
    if (!ids || !tags) {
        free(ids);
        free(tags);
        return false;
    }
    for (size_t i = 0; i < s->cap; i++) {
        int64_t id = s->ids[i];
        if (id == ID_EMPTY || id == ID_DELETED)
            continue;
        size_t j = id_slot(id, cap);
        while (ids[j] != ID_EMPTY)
            j = (j + 1) & (cap - 1);
        ids[j] = id;
        tags[j] = s->tags[i];
    }
    free(s->ids);
    free(s->tags);
    s->ids = ids;
    s->tags = tags;
    s->cap = cap;
    s->used = s->n;
    return true;
}

bool sm_idset_add(sm_idset *s, int64_t id, uint8_t tag)
{
    if ((s->used + 1) * 4 >= s->cap * 3 && !idset_grow(s))
        return false;
    size_t del = SIZE_MAX;
    size_t i = id_slot(id, s->cap);
    for (;; i = (i + 1) & (s->cap - 1)) {
        if (s->ids[i] == id)
            return true;
        if (s->ids[i] == ID_DELETED && del == SIZE_MAX)
            del = i;
        if (s->ids[i] == ID_EMPTY)
            break;
    }
    if (del != SIZE_MAX)
        i = del;
    else
        s->used++;
    s->ids[i] = id;
    s->tags[i] = tag;
    s->n++;
    return true;
}

int sm_idset_del(sm_idset *s, int64_t id)
{
    if (!s->cap)
        return -1;
    for (size_t i = id_slot(id, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (s->ids[i] == ID_EMPTY)
            return -1;
        if (s->ids[i] == id) {
            int tag = s->tags[i];
            /* an empty successor lets the chain end here */
            if (s->ids[(i + 1) & (s->cap - 1)] == ID_EMPTY) {
                s->ids[i] = ID_EMPTY;
                s->used--;
            } else {
                s->ids[i] = ID_DELETED;
            }
            s->n--;
            return tag;
        }
    }
}

int sm_idset_retag(sm_idset *s, int64_t id, uint8_t tag)
{
    if (!s->cap)
        return -1;
    for (size_t i = id_slot(id, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (s->ids[i] == ID_EMPTY)
            return -1;
        if (s->ids[i] == id) {
            int old = s->tags[i];
            s->tags[i] = tag;
            return old;
        }
    }
}

void sm_idset_release(sm_idset *s)
{
    free(s->ids);
    free(s->tags);
    memset(s, 0, sizeof *s);
}

bool sm_keys_tracked(const sm_keys *k, int64_t id)
{
    return sm_idset_has(&k->ids, id);
}

/* A tracked id's tag: its slot, and TAG_BUDGET while it counts against
 * the in-flight budget. */
#define TAG_SLOT 0x3f
#define TAG_BUDGET 0x80

static bool id_add(sm_keys *k, int64_t id, int slot, bool budget)
{
    if (slot < 0 || slot >= SM_KEYS_SLOTS)
        slot = 0;
    if (sm_idset_has(&k->ids, id))
        return true;
    if (!sm_idset_add(&k->ids, id, (uint8_t)(slot | (budget ? TAG_BUDGET : 0))))
        return false;
    k->per_slot[slot]++;
    if (budget)
        k->budget++;
    return true;
}

/* The row failed: it no longer counts against the budget. */
static void id_unbudget(sm_keys *k, int64_t id)
{
    int tag = sm_idset_retag(&k->ids, id, 0);
    if (tag < 0)
        return;
    sm_idset_retag(&k->ids, id, (uint8_t)(tag & TAG_SLOT));
    if (tag & TAG_BUDGET)
        k->budget--;
}

void sm_keys_settled(sm_keys *k, int64_t id)
{
    int tag = sm_idset_del(&k->ids, id);
    if (tag < 0)
        return;
    k->per_slot[tag & TAG_SLOT]--;
    if (tag & TAG_BUDGET)
        k->budget--;
}

/* ---- key states ---- */

static sm_key_state *state_get(const sm_keys *k, const char *key)
{
    return sm_map_get(&k->keys, key, strlen(key));
}

static sm_key_state *state_get_or_new(sm_keys *k, const char *key)
{
    sm_key_state *ks = state_get(k, key);
    if (ks)
        return ks;
    if (!(ks = calloc(1, sizeof *ks)))
        return NULL;
    if (sm_map_put(&k->keys, key, strlen(key), ks) != 0) {
        free(ks);
        return NULL;
    }
    return ks;
}

/* Drops the state once it holds nothing. */
static void state_maybe_drop(sm_keys *k, const char *key, sm_key_state *ks)
{
    if (ks->inflight || ks->nfailed || ks->dead_block || ks->draining)
        return;
    sm_map_del(&k->keys, key, strlen(key));
    state_free(ks);
}

static int fail_find(const sm_key_state *ks, int64_t id)
{
    for (int i = 0; i < ks->nfailed; i++)
        if (ks->failed[i].id == id)
            return i;
    return -1;
}

static void fail_remove(sm_key_state *ks, int64_t id)
{
    int i = fail_find(ks, id);
    if (i < 0)
        return;
    memmove(&ks->failed[i], &ks->failed[i + 1], (size_t)(ks->nfailed - i - 1) * sizeof ks->failed[0]);
    ks->nfailed--;
}

static bool fail_put(sm_key_state *ks, int64_t id, int64_t due_ms)
{
    int i = fail_find(ks, id);
    if (i >= 0) {
        ks->failed[i].due_ms = due_ms;
        return true;
    }
    if (ks->nfailed == ks->capfailed) {
        int cap = ks->capfailed ? ks->capfailed * 2 : 4;
        sm_key_fail *f = realloc(ks->failed, (size_t)cap * sizeof *f);
        if (!f)
            return false;
        ks->failed = f;
        ks->capfailed = cap;
    }
    i = ks->nfailed;
    while (i > 0 && ks->failed[i - 1].id > id) {
        ks->failed[i] = ks->failed[i - 1];
        i--;
    }
    ks->failed[i] = (sm_key_fail){id, due_ms};
    ks->nfailed++;
    return true;
}

/* Is a row of this key held back (the id-independent and id rules)? */
static bool held(const sm_key_state *ks, int64_t id)
{
    if (ks->draining)
        return true;
    if (ks->dead_block && id > ks->dead_block)
        return true;
    if (ks->nfailed && id > ks->failed[0].id)
        return true;
    if (ks->nfailed && ks->inflight)
        return true; /* the failed head waits for the key to drain */
    if (ks->inflight && ks->serial)
        return true;
    return false;
}

bool sm_keys_skip(const sm_keys *k, int64_t id, const char *key)
{
    if (sm_keys_tracked(k, id))
        return true;
    if (!key)
        return false;
    const sm_key_state *ks = state_get(k, key);
    return ks && held(ks, id);
}

uint64_t sm_keys_busy(const sm_keys *k)
{
    uint64_t busy = 0;
    for (int i = 0; i < SM_KEYS_SLOTS; i++)
        if (k->per_slot[i])
            busy |= (uint64_t)1 << i;
    return busy;
}

bool sm_keys_admit(sm_keys *k, int64_t id, const char *key, int slot, int lane, bool serial,
                   const char *topic)
{
    if (sm_keys_tracked(k, id))
        return false;
    if (!key) {
        if (!id_add(k, id, slot, !serial))
            return false;
        k->inflight++;
        return true;
    }
    sm_key_state *ks = state_get_or_new(k, key);
    if (!ks)
        return false;
    if (held(ks, id)) {
        state_maybe_drop(k, key, ks);
        return false;
    }
    if (ks->inflight) {
        if (ks->lane != lane || serial || ks->serial || strcmp(ks->topic, topic)) {
            ks->draining = true;
            return false;
        }
    } else {
        char *t = strdup(topic);
        if (!t) {
            state_maybe_drop(k, key, ks);
            return false;
        }
        free(ks->topic);
        ks->topic = t;
        ks->lane = lane;
        ks->serial = serial;
    }
    if (!id_add(k, id, slot, !serial)) {
        state_maybe_drop(k, key, ks);
        return false;
    }
    ks->inflight++;
    k->inflight++;
    return true;
}

/* The row left the producer: one less in flight for its key. */
static sm_key_state *landed(sm_keys *k, const char *key)
{
    if (k->inflight)
        k->inflight--;
    if (!key)
        return NULL;
    sm_key_state *ks = state_get(k, key);
    if (!ks)
        return NULL;
    if (ks->inflight && --ks->inflight == 0) {
        if (ks->draining || ks->nfailed)
            k->wake = true;
        ks->draining = false;
        free(ks->topic);
        ks->topic = NULL;
        ks->serial = false;
    }
    return ks;
}

bool sm_keys_acked(sm_keys *k, int64_t id, const char *key)
{
    sm_key_state *ks = landed(k, key);
    if (!ks)
        return false;
    bool was_head = ks->nfailed && ks->failed[0].id == id;
    fail_remove(ks, id);
    bool overtook = ks->nfailed && ks->failed[0].id < id;
    if (ks->dead_block == id)
        ks->dead_block = 0;
    if (was_head)
        k->wake = true;
    state_maybe_drop(k, key, ks);
    return overtook;
}

void sm_keys_failed(sm_keys *k, int64_t id, const char *key, int64_t due_ms)
{
    id_unbudget(k, id);
    sm_key_state *ks = landed(k, key);
    if (!ks)
        return;
    if (!fail_put(ks, id, due_ms)) {
        /* out of memory: hold the whole key instead of this row */
        ks->draining = ks->inflight > 0;
    }
    if (ks->inflight)
        ks->draining = true;
}

void sm_keys_reschedule(sm_keys *k, int64_t id, const char *key, int64_t due_ms)
{
    if (!key)
        return;
    sm_key_state *ks = state_get(k, key);
    if (ks)
        fail_put(ks, id, due_ms);
}

void sm_keys_dead(sm_keys *k, int64_t id, const char *key)
{
    if (!key)
        return;
    sm_key_state *ks = state_get(k, key);
    if (!ks)
        return;
    bool was_head = ks->nfailed && ks->failed[0].id == id;
    fail_remove(ks, id);
    if (k->block_on_dead) {
        if (!ks->dead_block || id < ks->dead_block)
            ks->dead_block = id;
    } else if (was_head) {
        k->wake = true;
    }
    state_maybe_drop(k, key, ks);
}

bool sm_keys_take_wake(sm_keys *k)
{
    bool w = k->wake;
    k->wake = false;
    return w;
}

/* ---- what consumers see ---- */

bool sm_acks_init(sm_acks *a)
{
    a->hash = calloc(SM_ACKS_SIZE, sizeof *a->hash);
    a->id = calloc(SM_ACKS_SIZE, sizeof *a->id);
    if (!a->hash || !a->id) {
        sm_acks_release(a);
        return false;
    }
    return true;
}

void sm_acks_release(sm_acks *a)
{
    free(a->hash);
    free(a->id);
    a->hash = NULL;
    a->id = NULL;
}

void sm_acks_clear(sm_acks *a)
{
    if (a->hash)
        memset(a->hash, 0, SM_ACKS_SIZE * sizeof *a->hash);
}

/* FNV-1a over topic, a separator no topic contains, and key */
static uint64_t acks_hash(const char *topic, const char *key)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = topic; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
    h = (h ^ 0xff) * 0x100000001b3ULL;
    for (const char *p = key; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
    return h ? h : 1;
}

bool sm_acks_note(sm_acks *a, const char *topic, const char *key, int64_t id)
{
    if (!a->hash || !key || !topic)
        return false;
    uint64_t h = acks_hash(topic, key);
    size_t i = (size_t)(h >> 7) & (SM_ACKS_SIZE - 1);
    if (a->hash[i] == h) {
        if (id < a->id[i])
            return true;
        a->id[i] = id;
        return false;
    }
    a->hash[i] = h; /* a newer key pushes an older one out */
    a->id[i] = id;
    return false;
}

/* ---- topics whose rows fail ---- */

void sm_topics_init(sm_topics *t, int32_t probe)
{
    memset(t, 0, sizeof *t);
    t->probe = probe > 0 ? probe : 1;
    sm_map_init(&t->map);
}

void sm_topics_release(sm_topics *t)
{
    const char *name;
    void *v;
    for (size_t it = 0; sm_map_next(&t->map, &it, &name, &v);)
        free(v);
    sm_map_release(&t->map);
}

static sm_topic_state *topic_get(const sm_topics *t, const char *topic)
{
    return sm_map_get(&t->map, topic, strlen(topic));
}

bool sm_topics_skip(sm_topics *t, const char *topic, int64_t id)
{
    if (!topic)
        return false;
    sm_topic_state *ts = topic_get(t, topic);
    if (!ts || ts->proven || ts->inflight < t->probe)
        return false;
    if (!ts->skipped || id < ts->skipped)
        ts->skipped = id;
    return true;
}

bool sm_topics_admit(sm_topics *t, const char *topic, int64_t now_ms)
{
    sm_topic_state *ts = topic_get(t, topic);
    if (!ts) {
        if (!(ts = calloc(1, sizeof *ts)))
            return false;
        if (sm_map_put(&t->map, topic, strlen(topic), ts) != 0) {
            free(ts);
            return false;
        }
        ts->failing_since = now_ms;
    }
    if (!ts->proven && ts->inflight >= t->probe)
        return false;
    ts->inflight++;
    return true;
}

void sm_topics_landed(sm_topics *t, const char *topic, bool acked, bool charged, int64_t now_ms)
{
    sm_topic_state *ts = topic ? topic_get(t, topic) : NULL;
    if (!ts)
        return;
    if (ts->inflight > 0)
        ts->inflight--;
    if (acked) {
        ts->proven = true;
        ts->failing_since = 0;
    } else if (charged && ts->proven) {
        ts->proven = false;
        ts->failing_since = now_ms;
    }
    if (ts->skipped && (ts->proven || ts->inflight < t->probe)) {
        if (!t->rewind || ts->skipped < t->rewind)
            t->rewind = ts->skipped;
        ts->skipped = 0;
    }
}

int64_t sm_topics_failing_ms(const sm_topics *t, const char *topic, int64_t now_ms)
{
    const sm_topic_state *ts = topic ? topic_get(t, topic) : NULL;
    if (!ts || ts->proven || !ts->failing_since)
        return 0;
    return now_ms - ts->failing_since;
}

int64_t sm_topics_take_rewind(sm_topics *t)
{
    int64_t r = t->rewind;
    t->rewind = 0;
    return r;
}
