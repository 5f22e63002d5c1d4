/* util.c: helpers the outbox files share: naming a database in messages
 * (never with its password), libpq error text, PostgreSQL's binary formats
 * for parameters and results, and input checks (topic, UUID, headers). */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "outbox/outbox_int.h"
#include "outbox/samsa.h"

/* ---- SQLite ----------------------------------------------------------------- */

void sm_sqlite_name(sqlite3 *db, char *out, size_t outlen)
{
    const char *f = sqlite3_db_filename(db, "main");
    snprintf(out, outlen, "sqlite:%s", f && *f ? f : ":memory:");
}

int sm_sqlite_fail(char *err, size_t errlen, const char *name, const char *op, sqlite3 *db)
{
    return sm_fail(err, errlen, SM_ERR, "%s: %s: %s", name, op, sqlite3_errmsg(db));
}

/* ---- naming a PostgreSQL database ------------------------------------------ */

static void pg_name(char *out, size_t outlen, const char *user, const char *host,
                    const char *port, const char *db)
{
    bool sock = host && host[0] == '/';
    snprintf(out, outlen, "postgresql://%s%s%s%s%s/%s", user && *user ? user : "",
             user && *user ? "@" : "", host && !sock ? host : "",
             port && *port && !sock ? ":" : "", port && *port && !sock ? port : "",
             db ? db : "");
}

void sm_pg_name_conn(PGconn *c, char *out, size_t outlen)
{
    pg_name(out, outlen, PQuser(c), PQhost(c), PQport(c), PQdb(c));
}

void sm_pg_name_url(const char *url, char *out, size_t outlen)
{
    PQconninfoOption *opts = PQconninfoParse(url, NULL);
    if (!opts) {
        snprintf(out, outlen, "postgresql (unparsable connection string)");
        return;
    }
    const char *user = NULL, *host = NULL, *port = NULL, *db = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (!strcmp(o->keyword, "user"))
            user = o->val;
        else if (!strcmp(o->keyword, "host"))
            host = o->val;
        else if (!strcmp(o->keyword, "port"))
            port = o->val;
        else if (!strcmp(o->keyword, "dbname"))
            db = o->val;
    }
    pg_name(out, outlen, user, host, port, db);
    PQconninfoFree(opts);
}

/* ---- libpq errors ----------------------------------------------------------- */

bool sm_pg_ok(const PGresult *r, ExecStatusType want) { return r && PQresultStatus(r) == want; }

/* Copies s into out without newlines (libpq's messages end in one and may
 * hold several lines). */
static void one_line(char *out, size_t outlen, const char *s)
{
    size_t j = 0;
    if (!outlen)
        return;
    for (; s && *s && j + 1 < outlen; s++) {
        if (*s == '\n' || *s == '\r') {
            if (s[1] && j && out[j - 1] != ' ')
                out[j++] = ' ';
            continue;
        }
        out[j++] = *s;
    }
    while (j && out[j - 1] == ' ')
        j--;
    out[j] = 0;
}

int sm_pg_fail(char *err, size_t errlen, const char *name, const char *op, PGconn *c,
               const PGresult *r)
{
    bool lost = PQstatus(c) == CONNECTION_BAD;
    char msg[720];
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (primary) {
        const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
        char line[400];
        one_line(line, sizeof line, primary);
        if (detail) {
            char d[200];
            one_line(d, sizeof d, detail);
            snprintf(msg, sizeof msg, "%.20s %.10s: %s (%s)", sev ? sev : "ERROR",
                     state ? state : "", line, d);
        } else {
            snprintf(msg, sizeof msg, "%.20s %.10s: %s", sev ? sev : "ERROR", state ? state : "",
                     line);
        }
    } else if (r && PQresultStatus(r) != PGRES_FATAL_ERROR) {
        snprintf(msg, sizeof msg, "unexpected result %s", PQresStatus(PQresultStatus(r)));
    } else {
        one_line(msg, sizeof msg, PQerrorMessage(c));
        if (!msg[0])
            snprintf(msg, sizeof msg, "no result (out of memory?)");
    }
    return sm_fail(err, errlen, lost ? SM_EIO : SM_ERR, "%s: %s: %s%s", name, op, msg,
                   lost ? " (connection lost)" : "");
}

int64_t sm_pg_cmd_rows(PGresult *r)
{
    const char *t = PQcmdTuples(r);
    return t && *t ? strtoll(t, NULL, 10) : 0;
}

/* ---- binary arrays ---------------------------------------------------------- */

void sm_pg_arr_begin(sm_wbuf *w, uint32_t elem_oid, int n)
{
    /* ndim, has-nulls flag, element type; then per dimension: size, lower bound */
    sm_wbuf_i32(w, n > 0 ? 1 : 0);
    sm_wbuf_i32(w, 0);
    sm_wbuf_i32(w, (int32_t)elem_oid);
    if (n > 0) {
        sm_wbuf_i32(w, n);
        sm_wbuf_i32(w, 1);
    }
}

void sm_pg_arr_int2(sm_wbuf *w, const int16_t *v, int n)
{
    sm_pg_arr_begin(w, SM_OID_INT2, n);
    for (int i = 0; i < n; i++) {
        sm_wbuf_i32(w, 2);
        sm_wbuf_i16(w, v[i]);
    }
}

void sm_pg_arr_int4(sm_wbuf *w, const int32_t *v, int n)
{
    sm_pg_arr_begin(w, SM_OID_INT4, n);
    for (int i = 0; i < n; i++) {
        sm_wbuf_i32(w, 4);
        sm_wbuf_i32(w, v[i]);
    }
}

void sm_pg_arr_int8(sm_wbuf *w, const int64_t *v, int n)
{
    sm_pg_arr_begin(w, SM_OID_INT8, n);
    for (int i = 0; i < n; i++) {
        sm_wbuf_i32(w, 8);
        sm_wbuf_i64(w, v[i]);
    }
}

/* ---- binary results --------------------------------------------------------- */

int64_t sm_pg_get_i64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
        return 0;
    return (int64_t)sm_be64((const uint8_t *)PQgetvalue(r, row, col));
}

int32_t sm_pg_get_i32(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 4)
        return 0;
    return (int32_t)sm_be32((const uint8_t *)PQgetvalue(r, row, col));
}

int16_t sm_pg_get_i16(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 2)
        return 0;
    return (int16_t)sm_be16((const uint8_t *)PQgetvalue(r, row, col));
}

bool sm_pg_get_bool(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 1)
        return false;
    return PQgetvalue(r, row, col)[0] != 0;
}

/* 2000-01-01 00:00:00 UTC in ms since the Unix epoch */
#define PG_EPOCH_MS INT64_C(946684800000)

int64_t sm_pg_get_ts_ms(const PGresult *r, int row, int col)
{
    int64_t us = sm_pg_get_i64(r, row, col);
    int64_t ms = us / 1000;
    if (us % 1000 < 0) /* floor, for times before 2000 */
        ms--;
    return ms + PG_EPOCH_MS;
}

char *sm_pg_get_dup(const PGresult *r, int row, int col, int32_t *len, bool *ok)
{
    if (PQgetisnull(r, row, col)) {
        if (len)
            *len = -1;
        return NULL;
    }
    int n = PQgetlength(r, row, col);
    char *p = malloc((size_t)n + 1);
    if (!p) {
        *ok = false;
        if (len)
            *len = -1;
        return NULL;
    }
    memcpy(p, PQgetvalue(r, row, col), (size_t)n);
    p[n] = 0;
    if (len)
        *len = n;
    return p;
}

/* ---- input checks ----------------------------------------------------------- */

bool sm_topic_valid(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    if (n == 0 || n > 249 || !strcmp(t, ".") || !strcmp(t, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)t[i];
        if (!isalnum(ch) && ch != '.' && ch != '_' && ch != '-')
            return false;
    }
    return true;
}

bool sm_uuid_norm(const char *in, char out[37])
{
    if (!in || strlen(in) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (ch != '-')
                return false;
        } else if (!isxdigit(ch)) {
            return false;
        }
        out[i] = (char)tolower(ch);
    }
    out[36] = 0;
    return true;
}

int sm_headers_check(const char *json, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return sm_fail(err, errlen, SM_EINVAL, "headers: invalid JSON at line %d column %d: %s",
                       je.line, je.column, je.text);
    int rc = SM_OK;
    if (!json_is_object(root)) {
        rc = sm_fail(err, errlen, SM_EINVAL, "headers: not a JSON object");
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        if (!strncmp(k, "samsa.", 6)) {
            rc = sm_fail(err, errlen, SM_EINVAL,
                         "headers: \"%s\": names starting with \"samsa.\" are the relay's", k);
            goto out;
        }
        if (!json_is_string(v)) {
            rc = sm_fail(err, errlen, SM_EINVAL, "headers: \"%s\": values must be strings", k);
            goto out;
        }
    }
out:
    json_decref(root);
    return rc;
}

int sm_check_event(const samsa_event *ev, char uuid[37], char *err, size_t errlen)
{
    if (!ev)
        return sm_fail(err, errlen, SM_EINVAL, "no event");
    if (!sm_topic_valid(ev->topic))
        return sm_fail(err, errlen, SM_EINVAL,
                       "topic \"%.60s\": not a Kafka topic name ([a-zA-Z0-9._-], 1..249)",
                       ev->topic ? ev->topic : "(null)");
    if (!ev->payload && ev->payload_len)
        return sm_fail(err, errlen, SM_EINVAL, "payload: NULL with length %zu",
                       ev->payload_len);
    if (ev->payload_len > INT32_MAX)
        return sm_fail(err, errlen, SM_EINVAL, "payload: %zu bytes is too large",
                       ev->payload_len);
    if (ev->event_id && !sm_uuid_norm(ev->event_id, uuid))
        return sm_fail(err, errlen, SM_EINVAL, "event_id \"%.60s\": not a UUID", ev->event_id);
    if (ev->headers_json)
        return sm_headers_check(ev->headers_json, err, errlen);
    return SM_OK;
}

int sm_check_inbox(const char *consumer, const char *event_id, char *msg, size_t msglen)
{
    if (!consumer || !*consumer || strlen(consumer) > 200)
        return sm_fail(msg, msglen, SM_EINVAL, "consumer must be 1..200 bytes");
    if (!event_id || !*event_id || strlen(event_id) > 200)
        return sm_fail(msg, msglen, SM_EINVAL, "event id must be 1..200 bytes");
    return SM_OK;
}
