/* retry.h: the retry policy: exponential backoff with full jitter, and what
 * a delivery error means for the row.
 *
 * Error classes:
 * - NOT_MINE: the row did nothing wrong; the producer was reset or gave up
 *   on everything queued (purge, fatal error, sequence resets, timeouts,
 *   transport). No attempt is counted; the row is produced again once its
 *   key has nothing in flight.
 * - RETRY: it may work later (unknown topic, message too large for the
 *   topic today, authorization, broker-side errors): attempts+1, backoff,
 *   DEAD after max.attempts.
 * - PERMANENT: it can never work (invalid topic): DEAD at once. */
#ifndef SM_RELAY_RETRY_H
#define SM_RELAY_RETRY_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

typedef enum { SM_ERRC_NOT_MINE = 0, SM_ERRC_RETRY, SM_ERRC_PERMANENT } sm_errclass;

sm_errclass sm_relay_classify(rd_kafka_resp_err_t err);

/* Backoff before retry number `attempt` (1 = after the first failure):
 * uniform in [1, min(max_ms, initial_ms * 2^(attempt-1))], from the random
 * word rnd ("full jitter": retries of many rows spread out instead of
 * coming back together). */
int64_t sm_relay_backoff_ms(int attempt, int64_t initial_ms, int64_t max_ms, uint64_t rnd);

/* A small fast PRNG (xorshift64*), not for secrets. */
uint64_t sm_relay_rand(uint64_t *state);

#endif
