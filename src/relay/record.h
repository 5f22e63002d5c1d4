/* record.h: what the relay makes of an outbox row before it produces it:
 * the checks that make a row unpublishable (a permanent error on the row)
 * and its Kafka headers.
 *
 * Headers, in order: samsa.event_id, samsa.type (when set),
 * samsa.created_at (ms since the epoch, decimal), then the row's own
 * `headers` JSON object, whose values must be strings. */
#ifndef SM_RELAY_RECORD_H
#define SM_RELAY_RECORD_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#include "outbox/store.h"

/* Kafka's rule: 1..249 characters of [a-zA-Z0-9._-], not "." or "..". */
bool sm_relay_topic_valid(const char *name, char *why, size_t whylen);

/* SM_OK, or SM_EINVAL with the reason when the row can never be published
 * as it is: NULL payload, invalid topic name, invalid headers (not a JSON
 * object of strings, or a name starting with "samsa.", reserved). */
int sm_relay_row_check(const sm_row *r, char *err, size_t errlen);

/* New headers for the row (caller owns; rd_kafka_headers_destroy, or hand
 * them to rd_kafka_producev). SM_EINVAL with the reason for invalid headers
 * JSON; *out is then NULL. */
int sm_relay_headers_build(const sm_row *r, rd_kafka_headers_t **out, char *err, size_t errlen);

/* The samsa.* headers alone, for a dead letter whose own headers are
 * invalid. Never fails but for memory. */
rd_kafka_headers_t *sm_relay_headers_base(const sm_row *r);

#endif
