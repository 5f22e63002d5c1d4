/* idempotence.h: idempotent producers (idempotence.c): the producer state
 * each partition keeps per producer id, and producer ids reserved in
 * blocks on disk (InitProducerId itself is h_init_producer_id.c).
 *
 * Threads: the event-loop thread only.
 *
 * Ownership: a partition's producer state (p->idem) is made on first use,
 * owned by the partition and freed by sm_idem_free when the partition goes.
 *
 * Errors: sm_idem_check returns a Kafka error code; sm_producer_id_next
 * SM_OK or SM_EIO; sm_idem_visit SM_OK or SM_ENOMEM. */
#ifndef SM_BROKER_IDEMPOTENCE_H
#define SM_BROKER_IDEMPOTENCE_H

#include <stdint.h>

typedef struct sm_broker sm_broker;
typedef struct sm_partition sm_partition;
struct sm_batch_hdr;

/* sm_idem_check answers NONE (append), DUPLICATE_SEQUENCE_NUMBER (already
 * appended at *dup_base with MaxTimestamp *dup_ts: answer success with that
 * offset, and that time as the log_append_time, as Kafka does) or the Kafka
 * error to return. */
int16_t sm_idem_check(sm_partition *p, const struct sm_batch_hdr *h, int64_t *dup_base,
                      int64_t *dup_ts);
/* Records the batch with header h just appended at base_offset (if idempotent). */
void sm_idem_appended(sm_partition *p, const struct sm_batch_hdr *h, int64_t base_offset);
void sm_idem_free(sm_partition *p);
/* Calls fn for every producer p keeps state for (rebuilding it from the log
 * first if no idempotent batch has come since start-up): its id, epoch, last
 * sequence and the MaxTimestamp of its last batch (-1 if none is kept).
 * SM_ENOMEM if the state cannot be made (DescribeProducers). */
typedef void (*sm_idem_visit_fn)(int64_t producer_id, int16_t epoch, int32_t last_seq,
                                 int64_t last_timestamp, void *arg);
int sm_idem_visit(sm_partition *p, sm_idem_visit_fn fn, void *arg);
/* The next producer id, from a block reserved durably on disk first (a
 * restart never hands one out twice); SM_EIO (errno set) when the block
 * cannot be written. */
int sm_producer_id_next(sm_broker *b, int64_t *pid);

#endif
