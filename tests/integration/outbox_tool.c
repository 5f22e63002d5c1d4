/* outbox_tool.c: the application side of the outbox tests, written against
 * libsamsa (src/outbox/samsa.h) as a C service would use it.
 *
 *   outbox_tool enqueue DB --topic T --keys N --txns N [--per-txn N]
 *               [--rollback-every N] [--writer W] [--seed S] [--pause-us N]
 *     One application writer. Each transaction takes 1..per-txn events;
 *     each event bumps its key's sequence in the business table
 *     samsa_test_agg (a row lock, so writes of one key are serialized, as
 *     docs/outbox.md assumes) and enqueues {"k":KEY,"seq":SEQ} with
 *     samsa_outbox_enqueue_*. Every rollback-every-th transaction is rolled
 *     back instead of committed. Prints one line per event once its
 *     transaction has ended:  C EVENT_ID KEY SEQ  or  R EVENT_ID KEY SEQ.
 *
 *   outbox_tool inbox DB --bootstrap B --topic T --group G --consumer NAME
 *               --expect N [--max-ms N] [--idle-ms N] [--stop-after N]
 *     A consumer in group G applying events through the inbox: per record,
 *     one transaction with samsa_inbox_begin_* (1: apply the effect, an
 *     INSERT into samsa_test_effect, which has no unique constraint, so a
 *     duplicate that got past the inbox shows as two rows), commit, then
 *     commit the Kafka offset synchronously. Ends when N distinct events
 *     have been applied in total (counting samsa_test_effect) and idle-ms
 *     pass without a record, or after max-ms (exit 3), or after stop-after
 *     records: then it exits at once without committing the last offset
 *     (a consumer crash). Prints "inbox: received R applied A skipped S".
 *
 *   outbox_tool setup DB --keys N
 *     Creates samsa_test_agg (keys k0..kN-1 at seq 0) and samsa_test_effect.
 *
 * DB: sqlite:PATH or a postgresql:// URL. Exit 0 on success, 1 on error. */
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "outbox/samsa.h"

typedef struct db {
    sqlite3 *lite;
    PGconn *pg;
} db;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "outbox_tool: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void db_open(db *d, const char *url)
{
    memset(d, 0, sizeof *d);
    if (!strncmp(url, "sqlite:", 7)) {
        if (sqlite3_open(url + 7, &d->lite) != SQLITE_OK)
            die("sqlite open %s: %s", url + 7, sqlite3_errmsg(d->lite));
        sqlite3_busy_timeout(d->lite, 30000);
        return;
    }
    d->pg = PQconnectdb(url);
    if (PQstatus(d->pg) != CONNECTION_OK)
        die("connect %s: %s", url, PQerrorMessage(d->pg));
}

static void db_close(db *d)
{
    if (d->lite)
        sqlite3_close(d->lite);
    if (d->pg)
        PQfinish(d->pg);
}

/* Runs sql; false on a serialization/deadlock/busy failure the caller may
 * retry (the transaction is then rolled back); dies on anything else. */
static bool db_exec(db *d, const char *sql)
{
    if (d->lite) {
        char *msg = NULL;
        int rc = sqlite3_exec(d->lite, sql, NULL, NULL, &msg);
        if (rc == SQLITE_OK)
            return true;
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            sqlite3_free(msg);
            sqlite3_exec(d->lite, "ROLLBACK", NULL, NULL, NULL);
            return false;
        }
        die("sqlite: %s: %s", sql, msg ? msg : "?");
    }
    PGresult *r = PQexec(d->pg, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        PQclear(r);
        return true;
    }
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state && (!strcmp(state, "40P01") || !strcmp(state, "40001"))) {
        PQclear(r);
        PQclear(PQexec(d->pg, "ROLLBACK"));
        return false;
    }
    die("postgresql: %s: %s", sql, PQresultErrorMessage(r));
}

static void db_begin(db *d)
{
    while (!db_exec(d, d->lite ? "BEGIN IMMEDIATE" : "BEGIN"))
        usleep(1000);
}

/* The key's next sequence number in the business table (row-locked until
 * the transaction ends). -1: deadlock or busy, transaction rolled back. */
static int64_t bump(db *d, const char *key)
{
    if (d->lite) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(d->lite,
                               "UPDATE samsa_test_agg SET seq = seq + 1 WHERE key = ?1 RETURNING seq",
                               -1, &st, NULL) != SQLITE_OK)
            die("sqlite prepare: %s", sqlite3_errmsg(d->lite));
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        if (rc == SQLITE_ROW)
            rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            sqlite3_exec(d->lite, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        if (rc != SQLITE_DONE || v < 0)
            die("sqlite bump %s: %s", key, sqlite3_errmsg(d->lite));
        return v;
    }
    const char *vals[1] = {key};
    PGresult *r = PQexecParams(d->pg,
                               "UPDATE samsa_test_agg SET seq = seq + 1 WHERE key = $1 RETURNING seq",
                               1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && (!strcmp(state, "40P01") || !strcmp(state, "40001"))) {
            PQclear(r);
            PQclear(PQexec(d->pg, "ROLLBACK"));
            return -1;
        }
        die("postgresql bump %s: %s", key, PQresultErrorMessage(r));
    }
    int64_t v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static const char *arg(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 2; i < argc - 1; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return def;
}

static long argl(int argc, char **argv, const char *name, long def)
{
    const char *v = arg(argc, argv, name, NULL);
    return v ? strtol(v, NULL, 10) : def;
}

static uint64_t rnd_state;
static uint64_t rnd(void)
{
    uint64_t x = rnd_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rnd_state = x;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

static int cmd_setup(const char *url, int argc, char **argv)
{
    long keys = argl(argc, argv, "--keys", 10);
    db d;
    db_open(&d, url);
    db_exec(&d, "CREATE TABLE IF NOT EXISTS samsa_test_agg (key text PRIMARY KEY, seq bigint NOT NULL)");
    db_exec(&d, "CREATE TABLE IF NOT EXISTS samsa_test_effect (event_id text NOT NULL, "
                "key text, seq bigint, consumer text)");
    db_begin(&d);
    for (long k = 0; k < keys; k++) {
        char sql[200];
        snprintf(sql, sizeof sql, "INSERT INTO samsa_test_agg VALUES ('k%ld', 0)", k);
        db_exec(&d, sql);
    }
    db_exec(&d, "COMMIT");
    db_close(&d);
    return 0;
}

#define MAX_PER_TXN 16

static int cmd_enqueue(const char *url, int argc, char **argv)
{
    const char *topic = arg(argc, argv, "--topic", NULL);
    long keys = argl(argc, argv, "--keys", 10), txns = argl(argc, argv, "--txns", 100);
    long per = argl(argc, argv, "--per-txn", 1), rb = argl(argc, argv, "--rollback-every", 0);
    long writer = argl(argc, argv, "--writer", 0), pause_us = argl(argc, argv, "--pause-us", 0);
    rnd_state = (uint64_t)argl(argc, argv, "--seed", 1) * 2654435761u + (uint64_t)writer + 1;
    if (!topic || keys < 1 || per < 1 || per > MAX_PER_TXN)
        die("enqueue: need --topic, --keys >= 1, 1 <= --per-txn <= %d", MAX_PER_TXN);
    db d;
    db_open(&d, url);
    char err[512];
    for (long t = 0; t < txns; t++) {
        long n = 1 + (long)(rnd() % (uint64_t)per), ks[MAX_PER_TXN];
        for (long i = 0; i < n; i++)
            ks[i] = (long)(rnd() % (uint64_t)keys);
        qsort(ks, (size_t)n, sizeof ks[0], cmp_long); /* lock order: no deadlocks */
        char lines[MAX_PER_TXN][128];
    again:
        db_begin(&d);
        for (long i = 0; i < n; i++) {
            char key[32], pay[96], eid[SAMSA_EVENT_ID_SIZE];
            snprintf(key, sizeof key, "k%ld", ks[i]);
            int64_t seq = bump(&d, key);
            if (seq < 0)
                goto again;
            int pl = snprintf(pay, sizeof pay, "{\"k\": \"%s\", \"seq\": %" PRId64 "}", key, seq);
            samsa_event ev = {.topic = topic, .key = key, .payload = pay,
                              .payload_len = (size_t)pl, .type = "test.event"};
            int rc = d.lite ? samsa_outbox_enqueue_sqlite(d.lite, &ev, eid, err, sizeof err)
                            : samsa_outbox_enqueue_pg(d.pg, &ev, eid, err, sizeof err);
            if (rc != SAMSA_OK)
                die("enqueue: %s", err);
            snprintf(lines[i], sizeof lines[i], "%s %s %" PRId64, eid, key, seq);
        }
        bool rollback = rb > 0 && (t + 1) % rb == 0;
        if (!db_exec(&d, rollback ? "ROLLBACK" : "COMMIT"))
            goto again;
        for (long i = 0; i < n; i++)
            printf("%c %s\n", rollback ? 'R' : 'C', lines[i]);
        if (pause_us)
            usleep((useconds_t)pause_us);
    }
    fflush(stdout);
    db_close(&d);
    return 0;
}

static int64_t count_effects(db *d, const char *consumer)
{
    if (d->lite) {
        sqlite3_stmt *st;
        sqlite3_prepare_v2(d->lite,
                           "SELECT count(DISTINCT event_id) FROM samsa_test_effect WHERE consumer = ?1",
                           -1, &st, NULL);
        sqlite3_bind_text(st, 1, consumer, -1, SQLITE_STATIC);
        int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_finalize(st);
        return v;
    }
    const char *vals[1] = {consumer};
    PGresult *r = PQexecParams(d->pg,
                               "SELECT count(DISTINCT event_id) FROM samsa_test_effect WHERE consumer = $1",
                               1, NULL, vals, NULL, NULL, 0);
    int64_t v = PQresultStatus(r) == PGRES_TUPLES_OK ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return v;
}

static void apply_effect(db *d, const char *eid, const char *key, const char *val, size_t vlen,
                         const char *consumer)
{
    char seq[32] = "";
    const char *p = memmem(val, vlen, "\"seq\": ", 7);
    if (p) {
        size_t i = 0;
        p += 7;
        while (p < val + vlen && *p >= '0' && *p <= '9' && i < sizeof seq - 1)
            seq[i++] = *p++;
        seq[i] = 0;
    }
    if (d->lite) {
        sqlite3_stmt *st;
        sqlite3_prepare_v2(d->lite, "INSERT INTO samsa_test_effect VALUES (?1, ?2, ?3, ?4)", -1,
                           &st, NULL);
        sqlite3_bind_text(st, 1, eid, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, seq, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, consumer, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            die("sqlite effect: %s", sqlite3_errmsg(d->lite));
        sqlite3_finalize(st);
        return;
    }
    const char *vals[4] = {eid, key, seq[0] ? seq : NULL, consumer};
    PGresult *r = PQexecParams(d->pg, "INSERT INTO samsa_test_effect VALUES ($1, $2, $3, $4)", 4,
                               NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die("postgresql effect: %s", PQresultErrorMessage(r));
    PQclear(r);
}

static int cmd_inbox(const char *url, int argc, char **argv)
{
    const char *bootstrap = arg(argc, argv, "--bootstrap", NULL);
    const char *topic = arg(argc, argv, "--topic", NULL), *group = arg(argc, argv, "--group", NULL);
    const char *consumer = arg(argc, argv, "--consumer", group);
    long expect = argl(argc, argv, "--expect", 0), max_ms = argl(argc, argv, "--max-ms", 60000);
    long idle_ms = argl(argc, argv, "--idle-ms", 1000), stop_after = argl(argc, argv, "--stop-after", 0);
    if (!bootstrap || !topic || !group || !consumer)
        die("inbox: need --bootstrap, --topic, --group");
    db d;
    db_open(&d, url);
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[][2] = {{"bootstrap.servers", bootstrap}, {"group.id", group},
                           {"enable.auto.commit", "false"}, {"auto.offset.reset", "earliest"},
                           {"session.timeout.ms", "6000"}, {"topic.metadata.refresh.interval.ms", "500"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err) != RD_KAFKA_CONF_OK)
            die("%s: %s", kv[i][0], err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk)
        die("consumer: %s", err);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(rk, sub))
        die("subscribe %s", topic);
    rd_kafka_topic_partition_list_destroy(sub);
    long received = 0, applied = 0, skipped = 0;
    int64_t start = mono_ms(), last = mono_ms();
    int rc = 0;
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        int64_t now = mono_ms();
        if (!m) {
            if (expect && now - last >= idle_ms && count_effects(&d, consumer) >= expect)
                break;
            if (now - start > max_ms) {
                rc = 3;
                break;
            }
            continue;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "outbox_tool inbox: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        last = now;
        received++;
        rd_kafka_headers_t *h = NULL;
        const void *hv = NULL;
        size_t hl = 0;
        char eid[256] = "";
        if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(h, SAMSA_HEADER_EVENT_ID, &hv, &hl) ==
                RD_KAFKA_RESP_ERR_NO_ERROR &&
            hv && hl < sizeof eid) {
            memcpy(eid, hv, hl);
            eid[hl] = 0;
        }
        if (!eid[0])
            die("inbox: record at offset %" PRId64 " has no %s header", m->offset,
                SAMSA_HEADER_EVENT_ID);
        char key[128] = "";
        if (m->key && m->key_len < sizeof key) {
            memcpy(key, m->key, m->key_len);
            key[m->key_len] = 0;
        }
        int r;
        for (;;) {
            db_begin(&d);
            r = d.lite ? samsa_inbox_begin_sqlite(d.lite, consumer, eid, err, sizeof err)
                       : samsa_inbox_begin_pg(d.pg, consumer, eid, err, sizeof err);
            if (r < 0)
                die("inbox begin %s: %s", eid, err);
            if (r == 1)
                apply_effect(&d, eid, key, m->payload, m->len, consumer);
            if (db_exec(&d, "COMMIT"))
                break;
        }
        if (r == 1)
            applied++;
        else
            skipped++;
        if (stop_after && received >= stop_after) {
            /* a crash after the effect committed and before the offset:
             * the record comes again to the next member */
            printf("inbox: received %ld applied %ld skipped %ld (stopped without committing "
                   "the last offset)\n",
                   received, applied, skipped);
            fflush(stdout);
            _exit(0);
        }
        rd_kafka_resp_err_t ce = rd_kafka_commit_message(rk, m, 0);
        if (ce)
            fprintf(stderr, "outbox_tool inbox: commit: %s\n", rd_kafka_err2str(ce));
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    printf("inbox: received %ld applied %ld skipped %ld\n", received, applied, skipped);
    db_close(&d);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: outbox_tool setup|enqueue|inbox DB [options] (see the source)\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    if (!strcmp(argv[1], "setup"))
        return cmd_setup(argv[2], argc, argv);
    if (!strcmp(argv[1], "enqueue"))
        return cmd_enqueue(argv[2], argc, argv);
    if (!strcmp(argv[1], "inbox"))
        return cmd_inbox(argv[2], argc, argv);
    fprintf(stderr, "outbox_tool: unknown command %s\n", argv[1]);
    return 2;
}
