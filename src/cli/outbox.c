/* outbox.c: samsa outbox status|list|show|retry|dead|init|enqueue against an
 * outbox database (sqlite:PATH or postgresql://...), per docs/outbox.md.
 *
 * Reading and re-queueing go through libsamsa's outbox layer (outbox/admin.h,
 * one SQL text for SQLite and PostgreSQL) on one connection of our own that
 * never changes the database (the relay's store would switch a SQLite file
 * to WAL and LISTEN as a relay); the counts are the relay's metrics' own
 * (sm_admin_stats). init and enqueue use libsamsa's public API (samsa.h),
 * exactly as an application does: the schema migrations, and an enqueue
 * inside a transaction. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "cli/cli.h"
#include "outbox/admin.h"
#include "outbox/samsa.h"

enum {
    O_DB = 1,
    O_STATUS,
    O_TOPIC,
    O_KEY,
    O_LIMIT,
    O_AFTER,
    O_NEWEST,
    O_ALL,
    O_TYPE,
    O_HEADER,
    O_EVENT_ID,
    O_FILE,
};

#define DB_OPT {O_DB, 'd', "db", "URL", "the outbox database: sqlite:PATH or postgresql://... (default: $SAMSA_OUTBOX_DB)"}
#define END_OPT {0, 0, NULL, NULL, NULL}

static const char *db_url(const char *given)
{
    if (given)
        return given;
    const char *env = getenv("SAMSA_OUTBOX_DB");
    return env && *env ? env : NULL;
}

/* An error of the outbox layer (base/err.h code, its message) as an exit
 * code: no such row or table 3, an unreachable database 4. */
static int layer_fail(sm_cli *c, int rc, const char *err)
{
    int code = rc == SM_ENOENT  ? SM_EXIT_NOTFOUND
               : rc == SM_EIO   ? SM_EXIT_UNREACH
               : rc == SM_EINVAL ? SM_EXIT_USAGE
                                 : SM_EXIT_FAIL;
    return sm_cli_fail(c, code, "%s", err);
}

/* Opens the outbox database of --db or $SAMSA_OUTBOX_DB; unless create,
 * it must hold samsa_outbox. */
static int open_db(sm_cli *c, const char *given, bool create, sm_db **out)
{
    const char *url = db_url(given);
    char err[768];
    *out = NULL;
    if (!url || !*url)
        return sm_cli_fail(c, SM_EXIT_USAGE,
                           "which outbox database? give --db sqlite:PATH or --db postgresql://..."
                           " (or set SAMSA_OUTBOX_DB)");
    int rc = sm_db_open(out, url, create, "samsa-cli", err, sizeof err);
    if (rc == SM_EINVAL)
        return sm_cli_fail(c, SM_EXIT_USAGE, "--db %s", err);
    if (!rc && !create && (rc = sm_admin_check_table(*out, err, sizeof err))) {
        sm_db_close(*out);
        *out = NULL;
    }
    return rc ? layer_fail(c, rc, err) : SM_EXIT_OK;
}

static const char *const statuses[] = {"INIT", "PUBLISHED", "COMPLETE", "DEAD", NULL};

static int parse_status(sm_cli *c, const char *s, const char **out)
{
    for (int i = 0; statuses[i]; i++)
        if (!strcasecmp(s, statuses[i])) {
            *out = statuses[i];
            return SM_EXIT_OK;
        }
    return sm_cli_fail(c, SM_EXIT_USAGE,
                       "--status '%s': expected INIT, PUBLISHED, COMPLETE or DEAD", s);
}

static void iso(int64_t ms, char *buf, size_t len) { sm_fmt_time(ms, buf, len); }

static json_t *json_time(int64_t ms)
{
    if (ms < 0)
        return json_null();
    char b[40];
    iso(ms, b, sizeof b);
    return json_string(b);
}

static json_t *row_json(const sm_admin_row *r, bool full)
{
    json_t *j = json_pack("{s:I,s:s?,s:s,s:s?,s:s?,s:s,s:i}", "id", (json_int_t)r->id, "event_id",
                          r->event_id, "topic", r->topic ? r->topic : "", "key", r->key, "type",
                          r->type, "status", r->status ? r->status : "", "attempts",
                          (int)r->attempts);
    json_object_set_new(j, "created_at", json_time(r->created_at));
    json_object_set_new(j, "next_attempt_at", json_time(r->next_attempt_at));
    json_object_set_new(j, "published_at", json_time(r->published_at));
    json_object_set_new(j, "partition", r->partition >= 0 ? json_integer(r->partition) : json_null());
    json_object_set_new(j, "offset", r->offset >= 0 ? json_integer(r->offset) : json_null());
    json_object_set_new(j, "last_error", r->last_error ? json_string(r->last_error) : json_null());
    const char *never = sm_admin_unclaimable_why(r);
    if (never)
        json_object_set_new(j, "unclaimable", json_string(never));
    if (full) {
        json_t *h = r->headers ? json_loads(r->headers, 0, NULL) : NULL;
        json_object_set_new(j, "headers",
                            h ? h : r->headers ? json_string(r->headers) : json_null());
        json_t *pv = sm_json_bytes(r->payload, r->payload_len < 0 ? -1 : (ssize_t)r->payload_len);
        if (pv) {
            json_object_set_new(j, "payload", pv);
        } else {
            json_object_set_new(j, "payload", json_null());
            json_object_set_new(j, "payload_base64",
                                sm_json_base64(r->payload, (size_t)r->payload_len));
        }
        json_object_set_new(j, "archived_at", json_time(r->archived_at));
    }
    return j;
}

/* ---- status ------------------------------------------------------------------ */

static const sm_opt status_opts[] = {DB_OPT, END_OPT};

const sm_cmd_help sm_help_outbox_status = {
    "outbox status", "--db URL [options]",
    "Count the outbox rows by status, per topic, and show how long the oldest"
    "\nunpublished row has waited.",
    "INIT rows are committed but not yet acknowledged by Kafka; their oldest age is\n"
    "how far the relay is behind (the relay's samsa_outbox_oldest_unpublished metric).\n"
    "DEAD rows failed every attempt: see 'samsa outbox dead'.",
    "samsa outbox status --db sqlite:outbox.db\n"
    "samsa outbox status --db postgresql://app@127.0.0.1/shop --output json",
    status_opts, false};

static int outbox_status(sm_cli *c, int argc, char **argv)
{
    sm_args a;
    sm_args_init(&a, c, &sm_help_outbox_status, argc, argv);
    const char *val, *url = NULL;
    int id, rc;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        if (id == O_DB)
            url = val;
        else if (id == SM_OPT_HELP)
            return SM_EXIT_OK;
        else if (id == SM_OPT_POS)
            return sm_cli_fail(c, SM_EXIT_USAGE, "unexpected argument '%s'", val);
        else
            return SM_EXIT_USAGE;
    }
    sm_db *db;
    if ((rc = open_db(c, url, false, &db)))
        return rc;
    int version = 0;
    char err[768];
    int vrc = db->pg ? samsa_schema_version_pg(db->pg, &version, err, sizeof err)
                     : samsa_schema_version_sqlite(db->sq, &version, err, sizeof err);
    if (vrc) {
        rc = sm_cli_fail(c, SM_EXIT_FAIL, "%s", err);
        goto out;
    }
    sm_store_stats st;
    sm_admin_topic_counts *tc = NULL;
    int ntc = 0;
    if ((vrc = sm_admin_stats(db, &st, err, sizeof err)) ||
        (vrc = sm_admin_topic_counts_get(db, &tc, &ntc, err, sizeof err))) {
        rc = layer_fail(c, vrc, err);
        goto out;
    }
    if (c->output == SM_OUT_JSON) {
        json_t *topics = json_array();
        for (int i = 0; i < ntc; i++)
            json_array_append_new(topics,
                                  json_pack("{s:s,s:I,s:I,s:I,s:I}", "topic", tc[i].topic, "INIT",
                                            (json_int_t)tc[i].init, "PUBLISHED",
                                            (json_int_t)tc[i].published, "COMPLETE",
                                            (json_int_t)tc[i].complete, "DEAD",
                                            (json_int_t)tc[i].dead));
        json_t *j = json_pack("{s:s,s:i,s:{s:I,s:I,s:I,s:I}}", "db", db->name,
                              "schema_version", version, "counts", "INIT", (json_int_t)st.init,
                              "PUBLISHED", (json_int_t)st.published, "COMPLETE",
                              (json_int_t)st.complete, "DEAD", (json_int_t)st.dead);
        json_object_set_new(j, "oldest_unpublished_age_ms",
                            st.oldest_init_age_ms >= 0 ? json_integer(st.oldest_init_age_ms)
                                                       : json_null());
        json_object_set_new(j, "oldest_unpublished_id",
                            st.have_oldest ? json_integer(st.oldest_init_id) : json_null());
        json_object_set_new(j, "unclaimable",
                            json_pack("{s:I,s:o,s:s}", "count", (json_int_t)st.unclaimable,
                                      "first_id", st.unclaimable
                                                      ? json_integer(st.unclaimable_first_id)
                                                      : json_null(),
                                      "why", "id <= 0: the relay claims ids above 0"));
        json_object_set_new(j, "topics", topics);
        sm_json_print(j);
    } else {
        printf("Outbox: %s (schema version %d)\n\n", db->name, version);
        static const char *const head[] = {"STATUS", "ROWS"};
        sm_table t;
        sm_table_init(&t, 2, head, 2u);
        int64_t v[4] = {st.init, st.published, st.complete, st.dead};
        for (int i = 0; i < 4; i++) {
            sm_table_cell(&t, "%s", statuses[i]);
            sm_table_cell(&t, "%lld", (long long)v[i]);
        }
        sm_table_print(&t, stdout);
        sm_table_release(&t);
        char age[64];
        sm_fmt_age(st.oldest_init_age_ms, age, sizeof age);
        if (st.have_oldest)
            printf("\noldest unpublished: %s (row %lld)\n", age, (long long)st.oldest_init_id);
        else
            printf("\noldest unpublished: none\n");
        if (st.unclaimable)
            printf("never claimed: %lld INIT row%s with id <= 0 (explicit ids; the relay claims"
                   " ids above 0), first row %lld: see samsa outbox list -s INIT\n",
                   (long long)st.unclaimable, st.unclaimable == 1 ? "" : "s",
                   (long long)st.unclaimable_first_id);
        if (ntc) {
            static const char *const th[] = {"TOPIC", "INIT", "PUBLISHED", "COMPLETE", "DEAD"};
            sm_table tt;
            sm_table_init(&tt, 5, th, 2u | 4u | 8u | 16u);
            for (int i = 0; i < ntc; i++) {
                sm_table_cell(&tt, "%s", tc[i].topic);
                sm_table_cell(&tt, "%lld", (long long)tc[i].init);
                sm_table_cell(&tt, "%lld", (long long)tc[i].published);
                sm_table_cell(&tt, "%lld", (long long)tc[i].complete);
                sm_table_cell(&tt, "%lld", (long long)tc[i].dead);
            }
            printf("\n");
            sm_table_print(&tt, stdout);
            sm_table_release(&tt);
        }
    }
    sm_admin_topic_counts_free(tc, ntc);
out:
    sm_db_close(db);
    return rc;
}

/* ---- list and dead ------------------------------------------------------------------ */

static const sm_opt list_opts[] = {
    DB_OPT,
    {O_STATUS, 's', "status", "STATUS", "only rows in STATUS: INIT, PUBLISHED, COMPLETE, DEAD"},
    {O_TOPIC, 't', "topic", "TOPIC", "only rows for TOPIC"},
    {O_KEY, 'k', "key", "KEY", "only rows with KEY"},
    {O_LIMIT, 'n', "limit", "N", "at most N rows (default 50)"},
    {O_AFTER, 0, "after", "ID", "only rows with an id above ID (to page through)"},
    {O_NEWEST, 0, "newest", NULL, "newest first (default: oldest first, the order of publishing)"},
    END_OPT,
};

const sm_cmd_help sm_help_outbox_list = {
    "outbox list", "--db URL [options]", "List outbox rows, oldest first.",
    "WHERE is the partition/offset a published row went to. ERROR is the last\n"
    "attempt's error, cut short: 'samsa outbox show ID' shows it whole.",
    "samsa outbox list --db sqlite:outbox.db\n"
    "samsa outbox list --db sqlite:outbox.db --status INIT --topic orders\n"
    "samsa outbox list --db sqlite:outbox.db --key order-1 --newest -n 5",
    list_opts, false};

static const sm_opt dead_opts[] = {
    DB_OPT,
    {O_TOPIC, 't', "topic", "TOPIC", "only rows for TOPIC"},
    {O_LIMIT, 'n', "limit", "N", "at most N rows (default 50)"},
    END_OPT,
};

const sm_cmd_help sm_help_outbox_dead = {
    "outbox dead", "--db URL [options]",
    "List DEAD rows (they failed every attempt) with their errors.",
    "A DEAD row was also sent to the relay's dead-letter topic. Fix the cause, then\n"
    "re-queue it with 'samsa outbox retry ID' (or --all).",
    "samsa outbox dead --db sqlite:outbox.db\n"
    "samsa outbox dead --db sqlite:outbox.db --topic payments --output json",
    dead_opts, false};

static void print_rows(sm_cli *c, const sm_admin_row *rows, int n, bool wide_error)
{
    if (c->output == SM_OUT_JSON) {
        json_t *arr = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(arr, row_json(&rows[i], false));
        sm_json_print(arr);
        return;
    }
    static const char *const head[] = {"ID",      "STATUS", "TOPIC", "KEY",
                                       "ATTEMPTS", "CREATED", "WHERE", "ERROR"};
    sm_table t;
    sm_table_init(&t, 8, head, 1u | 16u);
    for (int i = 0; i < n; i++) {
        const sm_admin_row *r = &rows[i];
        char created[40], key[80], errbuf[512];
        iso(r->created_at, created, sizeof created);
        if (r->key)
            sm_fmt_printable(r->key, strlen(r->key), 40, key, sizeof key);
        sm_table_cell(&t, "%lld", (long long)r->id);
        sm_table_cell(&t, "%s", r->status);
        sm_table_cell(&t, "%s", r->topic);
        sm_table_cell(&t, "%s", r->key ? key : "-");
        sm_table_cell(&t, "%d", (int)r->attempts);
        sm_table_cell(&t, "%s", created);
        if (r->partition >= 0)
            sm_table_cell(&t, "%d/%lld", (int)r->partition, (long long)r->offset);
        else
            sm_table_cell(&t, "-");
        const char *never = sm_admin_unclaimable_why(r);
        const char *e = never ? never : r->last_error;
        if (e)
            sm_fmt_printable(e, strlen(e), never ? 200 : wide_error ? 200 : 50, errbuf,
                             sizeof errbuf);
        sm_table_cell(&t, "%s", e ? errbuf : "");
    }
    sm_table_print(&t, stdout);
    sm_table_release(&t);
}

static int list_rows(sm_cli *c, const sm_cmd_help *help, bool dead, int argc, char **argv)
{
    sm_args a;
    sm_args_init(&a, c, help, argc, argv);
    const char *val, *url = NULL;
    sm_admin_filter f = {NULL, NULL, NULL, INT64_MIN, false, 50}; /* every id, also <= 0 */
    int id, rc;
    int32_t limit;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        switch (id) {
        case O_DB:
            url = val;
            break;
        case O_STATUS:
            if (parse_status(c, val, &f.status))
                return SM_EXIT_USAGE;
            break;
        case O_TOPIC:
            f.topic = val;
            break;
        case O_KEY:
            f.key = val;
            break;
        case O_LIMIT:
            if (sm_cli_parse_i32(c, "-n/--limit", val, 1, 1000000, &limit))
                return SM_EXIT_USAGE;
            f.limit = limit;
            break;
        case O_AFTER:
            if (sm_cli_parse_i64(c, "--after", val, 0, INT64_MAX, &f.after_id))
                return SM_EXIT_USAGE;
            break;
        case O_NEWEST:
            f.newest_first = true;
            break;
        case SM_OPT_HELP:
            return SM_EXIT_OK;
        case SM_OPT_POS:
            return sm_cli_fail(c, SM_EXIT_USAGE, "unexpected argument '%s'", val);
        default:
            return SM_EXIT_USAGE;
        }
    }
    if (dead)
        f.status = "DEAD";
    sm_db *db;
    if ((rc = open_db(c, url, false, &db)))
        return rc;
    sm_admin_row *rows;
    int n;
    char err[768];
    rc = sm_admin_list(db, &f, &rows, &n, err, sizeof err);
    if (rc)
        rc = layer_fail(c, rc, err);
    if (!rc) {
        print_rows(c, rows, n, dead);
        if (c->output == SM_OUT_TABLE && n == f.limit)
            printf("(first %d rows; --limit or --after %lld for more)\n", n,
                   (long long)rows[n - 1].id);
    }
    sm_admin_rows_free(rows, n);
    sm_db_close(db);
    return rc;
}

static int outbox_list(sm_cli *c, int argc, char **argv)
{
    return list_rows(c, &sm_help_outbox_list, false, argc, argv);
}

static int outbox_dead(sm_cli *c, int argc, char **argv)
{
    return list_rows(c, &sm_help_outbox_dead, true, argc, argv);
}

/* ---- show ------------------------------------------------------------------ */

static const sm_opt show_opts[] = {DB_OPT, END_OPT};

const sm_cmd_help sm_help_outbox_show = {
    "outbox show", "ID|EVENT_ID --db URL [options]",
    "Show one outbox row: where it stands, its history, error, headers and payload.",
    "The row is looked up by id, or by event id (the samsa.event_id header of the\n"
    "Kafka record), in samsa_outbox and then in samsa_outbox_archive.",
    "samsa outbox show 1 --db sqlite:outbox.db\n"
    "samsa outbox show 1 --db sqlite:outbox.db --output json",
    show_opts, false};

static void field(const char *name, const char *value)
{
    printf("%-17s %s\n", name, value);
}

static int outbox_show(sm_cli *c, int argc, char **argv)
{
    sm_args a;
    sm_args_init(&a, c, &sm_help_outbox_show, argc, argv);
    const char *val, *url = NULL, *ref = NULL;
    int id, rc;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        if (id == O_DB) {
            url = val;
        } else if (id == SM_OPT_POS) {
            if (ref)
                return sm_cli_fail(c, SM_EXIT_USAGE, "one row at a time ('%s' and '%s')", ref,
                                   val);
            ref = val;
        } else if (id == SM_OPT_HELP) {
            return SM_EXIT_OK;
        } else {
            return SM_EXIT_USAGE;
        }
    }
    if (!ref)
        return sm_cli_fail(c, SM_EXIT_USAGE, "which row? (samsa outbox show ID --db URL)");
    sm_db *db;
    if ((rc = open_db(c, url, false, &db)))
        return rc;
    sm_admin_row r;
    char err[768];
    rc = sm_admin_get(db, ref, &r, err, sizeof err);
    if (rc) {
        rc = layer_fail(c, rc, err);
        sm_db_close(db);
        return rc;
    }
    if (c->output == SM_OUT_JSON) {
        sm_json_print(row_json(&r, true));
    } else {
        char buf[1024], t1[40], age[64];
        int64_t now = sm_wall_ms();
        snprintf(buf, sizeof buf, "%lld", (long long)r.id);
        field("id:", buf);
        field("event id:", r.event_id ? r.event_id : "-");
        field("topic:", r.topic);
        if (r.key)
            sm_fmt_printable(r.key, strlen(r.key), 200, buf, sizeof buf);
        field("key:", r.key ? buf : "(none)");
        field("type:", r.type ? r.type : "-");
        snprintf(buf, sizeof buf, "%s%s", r.status, r.archived_at >= 0 ? " (archived)" : "");
        field("status:", buf);
        snprintf(buf, sizeof buf, "%d failed", (int)r.attempts);
        field("attempts:", buf);
        if (r.partition >= 0) {
            snprintf(buf, sizeof buf, "%s [%d] at offset %lld", r.topic, (int)r.partition,
                     (long long)r.offset);
            field("published to:", buf);
        }
        field("headers:", r.headers ? r.headers : "-");
        printf("\nHistory:\n");
        iso(r.created_at, t1, sizeof t1);
        sm_fmt_age(now - r.created_at, age, sizeof age);
        printf("  %s  created (%s ago)\n", t1, age);
        if (r.attempts > 0)
            printf("  %-24s  %d attempt%s failed\n", "", (int)r.attempts,
                   r.attempts == 1 ? "" : "s");
        if (!strcmp(r.status, "DEAD")) {
            printf("  %-24s  DEAD: gave up; re-queue with 'samsa outbox retry %lld'\n", "",
                   (long long)r.id);
        } else if (!strcmp(r.status, "INIT")) {
            iso(r.next_attempt_at, t1, sizeof t1);
            printf("  %s  %s\n", t1,
                   r.next_attempt_at > now ? "next attempt (waiting for a retry)"
                                           : "due: waiting for the relay");
        }
        if (r.published_at >= 0) {
            iso(r.published_at, t1, sizeof t1);
            printf("  %s  published to %s [%d] at offset %lld\n", t1, r.topic, (int)r.partition,
                   (long long)r.offset);
        }
        if (!strcmp(r.status, "COMPLETE"))
            printf("  %-24s  COMPLETE: consumed by every tracked group\n", "");
        if (r.archived_at >= 0) {
            iso(r.archived_at, t1, sizeof t1);
            printf("  %s  archived\n", t1);
        }
        if (r.last_error)
            printf("\nLast error:\n  %s\n", r.last_error);
        if (r.payload_len < 0) {
            printf("\nPayload: NULL\n");
        } else {
            printf("\nPayload (%lld bytes):\n", (long long)r.payload_len);
            char *pb = malloc((size_t)r.payload_len * 4 + 16);
            if (pb) {
                sm_fmt_printable(r.payload, (size_t)r.payload_len, (size_t)r.payload_len, pb,
                                 (size_t)r.payload_len * 4 + 16);
                printf("  %s\n", pb);
                free(pb);
            }
        }
    }
    sm_admin_row_release(&r);
    sm_db_close(db);
    return SM_EXIT_OK;
}

/* ---- retry ------------------------------------------------------------------ */

static const sm_opt retry_opts[] = {
    DB_OPT,
    {O_ALL, 0, "all", NULL, "every DEAD row (of --topic, if given)"},
    {O_TOPIC, 't', "topic", "TOPIC", "with --all: only DEAD rows for TOPIC"},
    END_OPT,
};

const sm_cmd_help sm_help_outbox_retry = {
    "outbox retry", "(ID... | --all [--topic TOPIC]) --db URL",
    "Re-queue DEAD rows: back to INIT with no attempts, due now.",
    "The relay publishes them again, in id order with the other rows of their key;\n"
    "on PostgreSQL the command notifies it (NOTIFY samsa_outbox), so it does so at once.\n"
    "last_error keeps the old error until the next attempt, and is cleared when the\n"
    "row is published. A row that is not DEAD is\n"
    "an error (exit 1); an id that does not exist too (exit 3).",
    "samsa outbox retry 42 --db sqlite:outbox.db\n"
    "samsa outbox retry --all --topic payments --db sqlite:outbox.db\n"
    "samsa outbox retry --all --db sqlite:outbox.db",
    retry_opts, false};

static int outbox_retry(sm_cli *c, int argc, char **argv)
{
    sm_args a;
    sm_args_init(&a, c, &sm_help_outbox_retry, argc, argv);
    const char *val, *url = NULL, *topic = NULL;
    int64_t ids[256];
    int nids = 0, id, rc;
    bool all = false;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        switch (id) {
        case O_DB:
            url = val;
            break;
        case O_ALL:
            all = true;
            break;
        case O_TOPIC:
            topic = val;
            break;
        case SM_OPT_POS:
            if (nids == 256)
                return sm_cli_fail(c, SM_EXIT_USAGE, "at most 256 ids at once (or --all)");
            if (sm_cli_parse_i64(c, "row id", val, 1, INT64_MAX, &ids[nids++]))
                return SM_EXIT_USAGE;
            break;
        case SM_OPT_HELP:
            return SM_EXIT_OK;
        default:
            return SM_EXIT_USAGE;
        }
    }
    if (!all && !nids)
        return sm_cli_fail(c, SM_EXIT_USAGE, "which rows? give row ids or --all");
    if (all && nids)
        return sm_cli_fail(c, SM_EXIT_USAGE, "row ids and --all exclude each other");
    if (topic && !all)
        return sm_cli_fail(c, SM_EXIT_USAGE, "--topic goes with --all");
    sm_db *db;
    if ((rc = open_db(c, url, false, &db)))
        return rc;
    json_t *done = json_array();
    int64_t count = 0;
    char err[768];
    if (all) {
        int r1 = sm_admin_retry_all(db, topic, &count, err, sizeof err);
        if (r1)
            rc = layer_fail(c, r1, err);
    } else {
        for (int i = 0; i < nids; i++) {
            int r1 = sm_admin_retry_one(db, ids[i], err, sizeof err);
            if (!r1) {
                count++;
                json_array_append_new(done, json_integer(ids[i]));
                if (c->output == SM_OUT_TABLE)
                    printf("row %lld re-queued\n", (long long)ids[i]);
            } else {
                r1 = layer_fail(c, r1, err);
                if (!rc)
                    rc = r1;
            }
        }
    }
    /* an idle relay claims them now, not at its next full claim */
    if (count && sm_admin_notify(db, err, sizeof err))
        fprintf(stderr, "samsa: warning: could not notify the relay (it finds the rows within"
                        " 2 s anyway): %s\n", err);
    if (c->output == SM_OUT_JSON)
        sm_json_print(json_pack("{s:I,s:o}", "requeued", (json_int_t)count, "ids", done));
    else
        json_decref(done);
    if (all && !rc && c->output == SM_OUT_TABLE)
        printf("%lld DEAD row%s re-queued%s%s\n", (long long)count, count == 1 ? "" : "s",
               topic ? " for topic " : "", topic ? topic : "");
    sm_db_close(db);
    return rc;
}

/* ---- init ------------------------------------------------------------------ */

static const sm_opt init_opts[] = {DB_OPT, END_OPT};

const sm_cmd_help sm_help_outbox_init = {
    "outbox init", "--db URL",
    "Create or upgrade the outbox tables (what samsa-relay --init-schema does).",
    "Safe to run again and from several processes at once. A sqlite: file is created\n"
    "when missing.",
    "samsa outbox init --db sqlite:outbox.db", init_opts, false};

static int outbox_init(sm_cli *c, int argc, char **argv)
{
    sm_args a;
    sm_args_init(&a, c, &sm_help_outbox_init, argc, argv);
    const char *val, *url = NULL;
    int id, rc;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        if (id == O_DB)
            url = val;
        else if (id == SM_OPT_HELP)
            return SM_EXIT_OK;
        else if (id == SM_OPT_POS)
            return sm_cli_fail(c, SM_EXIT_USAGE, "unexpected argument '%s'", val);
        else
            return SM_EXIT_USAGE;
    }
    sm_db *db;
    if ((rc = open_db(c, url, true, &db)))
        return rc;
    char err[768];
    int version = 0;
    if ((db->pg ? samsa_schema_apply_pg(db->pg, err, sizeof err)
                : samsa_schema_apply_sqlite(db->sq, err, sizeof err)) ||
        (db->pg ? samsa_schema_version_pg(db->pg, &version, err, sizeof err)
                : samsa_schema_version_sqlite(db->sq, &version, err, sizeof err))) {
        rc = sm_cli_fail(c, SM_EXIT_FAIL, "%s", err);
    } else if (c->output == SM_OUT_JSON) {
        sm_json_print(json_pack("{s:s,s:i}", "db", db->name, "schema_version", version));
    } else {
        printf("%s: schema version %d\n", db->name, version);
    }
    sm_db_close(db);
    return rc;
}

/* ---- enqueue ------------------------------------------------------------------ */

static const sm_opt enqueue_opts[] = {
    DB_OPT,
    {O_TOPIC, 't', "topic", "TOPIC", "the Kafka topic (required)"},
    {O_KEY, 'k', "key", "KEY", "the key (the aggregate id; sets partition and order)"},
    {O_TYPE, 0, "type", "TYPE", "the event type (the samsa.type header)"},
    {O_HEADER, 'H', "header", "NAME=VALUE", "an extra header, repeatable"},
    {O_EVENT_ID, 0, "event-id", "UUID", "the event id (default: a new random UUID)"},
    {O_FILE, 'f', "file", "PATH", "the payload is the content of PATH ('-': stdin)"},
    END_OPT,
};

const sm_cmd_help sm_help_outbox_enqueue = {
    "outbox enqueue", "--db URL --topic TOPIC [options] [PAYLOAD]",
    "Write one event into the outbox, as an application does, in a transaction of its own.",
    "The relay then publishes it. Useful to try a pipeline, or to re-send an event by\n"
    "hand. The payload is the PAYLOAD argument, or the content of --file.",
    "samsa outbox enqueue --db sqlite:outbox.db --topic orders -k order-1 '{\"total\":12}'\n"
    "samsa outbox enqueue --db sqlite:outbox.db -t orders -k order-1 --type order.paid \\\n"
    "    -H trace-id=abc -f payload.json",
    enqueue_opts, false};

static int read_all(sm_cli *c, const char *path, char **buf, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f)
        return sm_cli_fail(c, SM_EXIT_USAGE, "%s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    size_t k;
    while (b && (k = fread(b + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    bool bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!b || bad) {
        free(b);
        return sm_cli_fail(c, SM_EXIT_FAIL, "reading %s failed", path);
    }
    *buf = b;
    *len = n;
    return SM_EXIT_OK;
}

static int outbox_enqueue(sm_cli *c, int argc, char **argv)
{
    sm_args a;
    sm_args_init(&a, c, &sm_help_outbox_enqueue, argc, argv);
    const char *val, *url = NULL, *payload = NULL, *file = NULL;
    samsa_event ev = {0};
    json_t *headers = NULL;
    int id, rc = SM_EXIT_OK;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        switch (id) {
        case O_DB:
            url = val;
            break;
        case O_TOPIC:
            ev.topic = val;
            break;
        case O_KEY:
            ev.key = val;
            break;
        case O_TYPE:
            ev.type = val;
            break;
        case O_EVENT_ID:
            ev.event_id = val;
            break;
        case O_FILE:
            file = val;
            break;
        case O_HEADER: {
            char name[256];
            const char *v;
            if (sm_split_kv(val, name, sizeof name, &v)) {
                rc = sm_cli_fail(c, SM_EXIT_USAGE, "-H '%s': expected NAME=VALUE", val);
                goto out;
            }
            if (!headers)
                headers = json_object();
            json_object_set_new(headers, name, json_string(v));
            break;
        }
        case SM_OPT_POS:
            if (payload) {
                rc = sm_cli_fail(c, SM_EXIT_USAGE, "one payload ('%s' and '%s')", payload, val);
                goto out;
            }
            payload = val;
            break;
        case SM_OPT_HELP:
            goto out;
        default:
            rc = SM_EXIT_USAGE;
            goto out;
        }
    }
    if (!ev.topic) {
        rc = sm_cli_fail(c, SM_EXIT_USAGE, "--topic is required");
        goto out;
    }
    if (payload && file) {
        rc = sm_cli_fail(c, SM_EXIT_USAGE, "PAYLOAD and --file exclude each other");
        goto out;
    }
    char *fbuf = NULL;
    size_t flen = 0;
    if (file && (rc = read_all(c, file, &fbuf, &flen)))
        goto out;
    ev.payload = file ? (const void *)fbuf : payload ? payload : "";
    ev.payload_len = file ? flen : payload ? strlen(payload) : 0;
    char *hjson = headers ? json_dumps(headers, JSON_COMPACT) : NULL;
    ev.headers_json = hjson;

    sm_db *db;
    if ((rc = open_db(c, url, false, &db))) {
        free(fbuf);
        free(hjson);
        goto out;
    }
    char event_id[SAMSA_EVENT_ID_SIZE], err[768];
    int erc = sm_db_script(db, "begin", db->pg ? "BEGIN" : "BEGIN IMMEDIATE", err, sizeof err);
    if (!erc) {
        erc = db->pg ? samsa_outbox_enqueue_pg(db->pg, &ev, event_id, err, sizeof err)
                     : samsa_outbox_enqueue_sqlite(db->sq, &ev, event_id, err, sizeof err);
        if (erc)
            sm_db_script(db, "rollback", "ROLLBACK", NULL, 0);
        else
            erc = sm_db_script(db, "commit", "COMMIT", err, sizeof err);
    }
    if (erc) {
        rc = sm_cli_fail(c, erc == SAMSA_EINVAL ? SM_EXIT_USAGE : SM_EXIT_FAIL, "%s", err);
    } else {
        sm_admin_row row;
        int64_t rid = -1;
        if (!sm_admin_get(db, event_id, &row, err, sizeof err)) {
            rid = row.id;
            sm_admin_row_release(&row);
        }
        if (c->output == SM_OUT_JSON)
            sm_json_print(json_pack("{s:I,s:s,s:s}", "id", (json_int_t)rid, "event_id", event_id,
                                    "topic", ev.topic));
        else
            printf("enqueued row %lld (event %s) for topic %s\n", (long long)rid, event_id,
                   ev.topic);
    }
    sm_db_close(db);
    free(fbuf);
    free(hjson);
out:
    json_decref(headers);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------ */

static const sm_subcmd subs[] = {
    {"status", outbox_status, &sm_help_outbox_status},
    {"list", outbox_list, &sm_help_outbox_list},
    {"show", outbox_show, &sm_help_outbox_show},
    {"retry", outbox_retry, &sm_help_outbox_retry},
    {"dead", outbox_dead, &sm_help_outbox_dead},
    {"init", outbox_init, &sm_help_outbox_init},
    {"enqueue", outbox_enqueue, &sm_help_outbox_enqueue},
    {NULL, NULL, NULL},
};

int sm_cmd_outbox(sm_cli *c, int argc, char **argv)
{
    return sm_subcmd_dispatch(c, "outbox",
                              "The outbox table (docs/outbox.md): what is waiting, what failed,"
                              " and re-queueing.",
                              subs,
                              "samsa outbox status --db sqlite:outbox.db\n"
                              "samsa outbox dead --db sqlite:outbox.db\n"
                              "samsa outbox retry --all --db sqlite:outbox.db",
                              argc, argv);
}
