/* sqlite_journal.h: the SQLite store's acknowledgements journal
 * (PATH-samsa-acks, store_sqlite.c) seen from a test: PUBLISHED marks go
 * there first and reach the outbox through the store's applier thread. */
#ifndef SM_TEST_SQLITE_JOURNAL_H
#define SM_TEST_SQLITE_JOURNAL_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "base/clock.h"

/* Rows in the journal of the outbox at db_path; -1 when it cannot be read. */
static inline int64_t sq_journal_rows(const char *db_path)
{
    char jp[512];
    snprintf(jp, sizeof jp, "%s-samsa-acks", db_path);
    sqlite3 *j = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_open_v2(jp, &j, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(j, 5000);
        if (sqlite3_prepare_v2(j, "SELECT count(*) FROM samsa_acks", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(j);
    return n;
}

/* Waits up to timeout_ms until the applier has applied every mark (the
 * journal is empty); returns the rows left (0 when all were applied). */
static inline int64_t sq_marks_applied(const char *db_path, int timeout_ms)
{
    int64_t until = sm_mono_ms() + timeout_ms, n;
    while ((n = sq_journal_rows(db_path)) != 0 && sm_mono_ms() < until) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    return n;
}

#endif
