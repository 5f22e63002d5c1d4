/* outbox_test.h: helpers the outbox tests share (test_store_contract.c,
 * test_outbox_sqlite.c, test_pg_outbox.c, test_outbox_errors.c): a skip()
 * for sm_store_claim that stands for the relay's in-flight rows and held
 * keys, removing a temporary directory, and how messages name pg.py's
 * database. */
#ifndef SM_TEST_OUTBOX_TEST_H
#define SM_TEST_OUTBOX_TEST_H

#include <dirent.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* What skip() skips (rows in flight, a held key) and what it saw. Every
 * row of these tests is of topic "t". */
typedef struct skip_ctx {
    const char *held_key;
    int64_t inflight[16];
    int ninflight;
    int calls;
    int wrong_topic; /* skip() called without the row's topic */
} skip_ctx;

static inline bool skip_fn(int64_t id, const char *key, const char *topic, void *arg)
{
    skip_ctx *c = arg;
    c->calls++;
    if (!topic || strcmp(topic, "t"))
        c->wrong_topic++;
    if (c->held_key && key && !strcmp(key, c->held_key))
        return true;
    for (int i = 0; i < c->ninflight; i++)
        if (c->inflight[i] == id)
            return true;
    return false;
}

/* Removes dir and the files in it (no subdirectories). */
static inline void rm_tmpdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[400];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* How messages name database samsa of the server of pg_url:
 * "postgresql://samsa@HOST:PORT/samsa" over TCP, "postgresql://samsa@/samsa"
 * over a Unix socket (pg.py's; the socket dir is not named). */
static inline const char *pg_samsa_name(const char *pg_url, char *buf, size_t len)
{
    PQconninfoOption *o = PQconninfoParse(pg_url, NULL);
    const char *host = NULL, *port = NULL;
    for (PQconninfoOption *p = o; p && p->keyword; p++) {
        if (!strcmp(p->keyword, "host"))
            host = p->val;
        else if (!strcmp(p->keyword, "port"))
            port = p->val;
    }
    if (!host || host[0] == '/')
        snprintf(buf, len, "postgresql://samsa@/samsa");
    else
        snprintf(buf, len, "postgresql://samsa@%s%s%s/samsa", host, port ? ":" : "",
                 port ? port : "");
    PQconninfoFree(o);
    return buf;
}

#endif
