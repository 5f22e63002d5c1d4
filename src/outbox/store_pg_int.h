/* store_pg_int.h (internal to outbox/): the PostgreSQL store's state and the
 * functions its files share (store_pg.c: statements, sessions, lifecycle,
 * marking; store_pg_slots.c; store_pg_claim.c). A trailing underscore marks a
 * function internal to outbox/ (src/README.md). */
#ifndef SM_OUTBOX_STORE_PG_INT_H
#define SM_OUTBOX_STORE_PG_INT_H

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "outbox/outbox_int.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define LOCK_CLASS STR(SM_PG_LOCK_CLASS)
#define MS " * interval '1 millisecond'"

enum {
    P_CLAIM_IDS,
    P_CLAIM_ROWS,
    P_MARK_PUB,
    P_RETRY,
    P_DEAD,
    P_COMPLETE,
    P_COMPLETE_ANY,
    P_PARTS,
    P_NEW_INC,
    P_REQUEUE_INC,
    P_REQUEUE,
    P_CLEAN_DEL_DONE,
    P_CLEAN_DEL_PUB,
    P_CLEAN_ARCH_DONE,
    P_CLEAN_ARCH_PUB,
    P_HEARTBEAT,
    P_LOCK,
    P_UNLOCK,
    P_BYE,
    P_TAKEOVER,
    P_N
};

typedef struct pg_def {
    const char *sql;
    int nparams;
    Oid types[5];
} pg_def;


typedef enum { WAKE_IDLE, WAKE_PENDING, WAKE_ARMED, WAKE_CANCEL } wake_state;

/* The claim cursor (see "capture" below). A checkpoint says: the claims up
 * to now have looked at every id <= c; a row <= c that they could not see
 * belongs to a transaction whose xid is below x (or that had none yet); x is
 * an xid assigned after that claim's snapshot was taken. */
#define CLAIM_CHECKPOINTS 64
#define CLAIM_FULL_MS 2000 /* a claim from the lowest INIT row this often */
typedef struct claim_cp {
    int64_t c, x;
    int gen; /* 0: waiting for the horizon; 1: once more (see below) */
} claim_cp;
typedef struct sm_claim_cursor {
    int64_t floor;     /* claims start above it */
    int64_t rewind_to; /* lowest (id - 1) asked for by sm_store_rewind */
    int64_t cursor;    /* the highest id a claim has looked at */
    int64_t final_to;  /* ids <= it are final: every committed row is visible */
    int64_t next_full; /* mono ms */
    bool full;         /* the next claim starts from the lowest INIT row */
    bool on;           /* sm_store_set_claim_cursor */
    claim_cp cp[CLAIM_CHECKPOINTS];
    int ncp;
    /* figures, for tests and the debug log */
    int64_t claims, full_claims, rows_read;
} sm_claim_cursor;

typedef struct pg_store {
    sm_store base;
    PGconn *c;         /* every statement, and LISTEN */
    PGconn *w;         /* the wake lock only */
    bool prepared[P_N];
    uint64_t held;     /* slot locks this session holds */
    uint64_t draining; /* held, given up, released once no longer busy */
    wake_state wake;   /* see "the wake connection" */
    int epfd;          /* sm_store_wait_fd: both sockets */
    int64_t lease_ms;  /* a relay whose heartbeat is older loses its slots */
    sm_claim_cursor cur; /* where claims start (see "capture") */
    char *relay_id;
} pg_store;

#define PG(s) ((pg_store *)(s))
#define CLEAN_BATCH 10000
#define CLAIM_PAGE_MIN 256
#define CLAIM_PAGE_MAX 10000

/* store_pg.c */
int sm_store_pg_fail_(pg_store *s, const char *op, const PGresult *r, char *err, size_t errlen);
int sm_store_pg_ensure_(pg_store *s, const char *op, char *err, size_t errlen);
PGresult *sm_store_pg_run_(pg_store *s, int q, const char *const *vals, const int *lens,
                           const char *op,
                           ExecStatusType want, int *rc, char *err, size_t errlen);
/* store_pg_slots.c */
uint64_t sm_store_pg_owned_(const sm_store *base);
void sm_store_pg_set_lease_ms_(sm_store *base, int64_t ms);
int sm_store_pg_balance_(sm_store *base, const char *relay_id, uint64_t busy, uint64_t *owned,
                         char *err, size_t errlen);
/* store_pg_claim.c */
int sm_store_pg_wake_session_(pg_store *s, char *err, size_t errlen);
void sm_store_pg_wake_disarm_(pg_store *s);
void sm_store_pg_set_claim_cursor_(sm_store *base, bool on);
void sm_store_pg_rewind_(sm_store *base, int64_t id);
int sm_store_pg_claim_(sm_store *base, uint64_t owned, int max, sm_row_skip_fn skip, void *arg,
                       sm_row **out, int *nout, char *err, size_t errlen);
int sm_store_pg_wait_(sm_store *base, int timeout_ms, char *err, size_t errlen);
int sm_store_pg_wait_fd_(sm_store *base);

#endif
