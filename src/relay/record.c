/* record.c: row checks and Kafka headers (see record.h). */
#include "relay/record.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

bool sm_relay_topic_valid(const char *name, char *why, size_t whylen)
{
    size_t n = strlen(name);
    if (n == 0) {
        sm_fail(why, whylen, SM_EINVAL, "empty topic name");
        return false;
    }
    if (n > 249) {
        sm_fail(why, whylen, SM_EINVAL, "topic name longer than 249 characters");
        return false;
    }
    if (!strcmp(name, ".") || !strcmp(name, "..")) {
        sm_fail(why, whylen, SM_EINVAL, "topic name '%s' is not allowed", name);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) {
            if (c >= 0x20 && c < 0x7f)
                sm_fail(why, whylen, SM_EINVAL,
                        "invalid topic name: '%c' at %zu (allowed: a-z A-Z 0-9 . _ -)", c, i);
            else
                sm_fail(why, whylen, SM_EINVAL,
                        "invalid topic name: byte 0x%02x at %zu (allowed: a-z A-Z 0-9 . _ -)", c,
                        i);
            return false;
        }
    }
    return true;
}

/* Parses the row's headers; *obj is NULL for none (SQL NULL or JSON null). */
static int headers_parse(const sm_row *r, json_t **obj, char *err, size_t errlen)
{
    *obj = NULL;
    if (!r->headers_json)
        return SM_OK;
    json_error_t je;
    json_t *j = json_loads(r->headers_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j)
        return sm_fail(err, errlen, SM_EINVAL, "invalid headers JSON: %s (at character %d)",
                       je.text, je.position);
    if (json_is_null(j)) {
        json_decref(j);
        return SM_OK;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return sm_fail(err, errlen, SM_EINVAL,
                       "invalid headers: a JSON object of string values is required");
    }
    const char *name;
    json_t *v;
    json_object_foreach(j, name, v)
    {
        if (!strncmp(name, "samsa.", 6)) {
            /* the relay's own (samsa.event_id, samsa.type, ...): a second
             * samsa.event_id after the real one is what consumers reading
             * the last header of a name would deduplicate on */
            sm_fail(err, errlen, SM_EINVAL,
                    "invalid headers: '%s': names starting with 'samsa.' are reserved for the"
                    " relay", name);
            json_decref(j);
            return SM_EINVAL;
        }
        if (!json_is_string(v)) {
            sm_fail(err, errlen, SM_EINVAL, "invalid headers: value of '%s' is not a string",
                    name);
            json_decref(j);
            return SM_EINVAL;
        }
    }
    *obj = j;
    return SM_OK;
}

int sm_relay_row_check(const sm_row *r, char *err, size_t errlen)
{
    char why[256];
    if (!sm_relay_topic_valid(r->topic, why, sizeof why))
        return sm_fail(err, errlen, SM_EINVAL, "%s", why);
    if (r->payload_len < 0 || (!r->payload && r->payload_len > 0))
        return sm_fail(err, errlen, SM_EINVAL, "NULL payload: the row has no value to publish");
    json_t *h;
    int rc = headers_parse(r, &h, err, errlen);
    json_decref(h);
    return rc;
}

rd_kafka_headers_t *sm_relay_headers_base(const sm_row *r)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(8);
    if (!h)
        return NULL;
    if (r->event_id)
        rd_kafka_header_add(h, "samsa.event_id", -1, r->event_id, (ssize_t)strlen(r->event_id));
    if (r->type)
        rd_kafka_header_add(h, "samsa.type", -1, r->type, (ssize_t)strlen(r->type));
    char ts[24];
    int n = snprintf(ts, sizeof ts, "%" PRId64, r->created_at_ms);
    rd_kafka_header_add(h, "samsa.created_at", -1, ts, n);
    return h;
}

int sm_relay_headers_build(const sm_row *r, rd_kafka_headers_t **out, char *err, size_t errlen)
{
    *out = NULL;
    json_t *obj;
    int rc = headers_parse(r, &obj, err, errlen);
    if (rc != SM_OK)
        return rc;
    rd_kafka_headers_t *h = sm_relay_headers_base(r);
    if (!h) {
        json_decref(obj);
        return sm_fail(err, errlen, SM_ENOMEM, "out of memory");
    }
    if (obj) {
        const char *name;
        json_t *v;
        json_object_foreach(obj, name, v)
        {
            rd_kafka_header_add(h, name, -1, json_string_value(v), (ssize_t)json_string_length(v));
        }
        json_decref(obj);
    }
    *out = h;
    return SM_OK;
}
