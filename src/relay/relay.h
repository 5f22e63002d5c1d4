/* relay.h: the samsa-relay daemon: capture committed outbox rows, publish
 * them with an idempotent librdkafka producer, mark them PUBLISHED in
 * batches, retry failures with backoff and per-key order, dead-letter what
 * cannot be published, and track completion, stale rows and retention.
 *
 * One thread runs it all (the store is single-threaded); librdkafka and the
 * metrics endpoint have their own threads and signal the loop through a
 * pipe. The loop sleeps in poll(2) on that pipe and on the PostgreSQL
 * socket (LISTEN/NOTIFY), so it wakes for new rows, delivery reports, due
 * retries and periodic work, never on a blind timer. */
#ifndef SM_RELAY_RELAY_H
#define SM_RELAY_RELAY_H

#include <stddef.h>

#include "relay/config.h"

typedef struct sm_relay sm_relay;

/* Opens the outbox (applying migrations), the producers and the metrics
 * endpoint, and logs the ready line. The relay keeps cfg (the caller
 * releases it after sm_relay_free). */
int sm_relay_new(sm_relay **out, sm_relay_config *cfg, char *err, size_t errlen);

/* Runs until sm_relay_stop, then flushes in-flight deliveries (bounded by
 * shutdown.timeout.ms) and writes their marks. Returns SM_OK. */
int sm_relay_run(sm_relay *r);

/* Asks the loop to stop; async-signal-safe. */
void sm_relay_stop(sm_relay *r);

void sm_relay_free(sm_relay *r);

/* --init-schema: applies the migrations and reports the version. */
int sm_relay_init_schema(const sm_relay_config *cfg, char *err, size_t errlen);

#endif
