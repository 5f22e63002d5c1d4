/* h_produce.c: Produce.
 *
 * Each partition's record batch is validated whole, as Kafka's broker
 * validates it (length, magic 2, CRC-32C, size limit, then every record,
 * decompressed as a stream: check_records) before any byte is written, then
 * appended with offsets assigned. acks=1 is answered after the write; acks=all (-1) waits
 * for the flusher to fsync the partition past the batch (group commit: all
 * requests appended before an fsync starts share it); acks=0 gets no answer,
 * and an error closes the connection so the producer notices. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "broker/api.h"
#include "broker/broker.h"
#include "broker/conn.h"
#include "broker/idempotence.h"
#include "broker/partition.h"
#include "broker/topics.h"
#include "proto/batch.h"
#include "proto/kafka.h"
#include "proto/produce.h"

/* One acks=all partition waiting for durability. */
typedef struct produce_wait {
    sm_ack_wait base;
    sm_req *req;
    sm_produce_part_resp *slot;
} produce_wait;

typedef struct produce_state {
    sm_produce_resp resp;
    int waiting; /* partitions not yet durable */
} produce_state;

/* How far a compressed batch's records may inflate: this many times the
 * topic's max.message.bytes (which bounds the compressed batch). Records are
 * validated as they stream out of the decompressor, so the bound is not
 * about memory but about the work a request can cause: a decompression bomb
 * costs the event loop at most this much decompressing (64 MiB at the
 * default max.message.bytes: tens of milliseconds), and is refused with
 * MESSAGE_TOO_LARGE (a Java producer then splits its batch). Honest batches
 * stay far below it: librdkafka compresses batches of at most its own
 * message.max.bytes (1 MB by default), and a Java producer's batch.size
 * bounds the compressed size; real data compresses 2-20 times. */
#define DECOMPRESSED_PER_BATCH_BYTE 64

static sm_str arena_printf(sm_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static sm_str arena_printf(sm_arena *a, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return SM_STR_NULL;
    if ((size_t)n >= sizeof tmp)
        n = (int)sizeof tmp - 1;
    char *p = sm_arena_alloc(a, (size_t)n + 1);
    if (!p)
        return SM_STR_NULL;
    memcpy(p, tmp, (size_t)n + 1);
    return (sm_str){p, n};
}

/* Produce v8+ (KIP-467): why a batch was dropped. Timestamps are checked
 * per record, as Kafka's LogValidator does: each record outside the bounds
 * (or every record, when the producer set LogAppendTime) is listed with
 * Kafka's message, under Kafka's summary. Any other refusal is about the
 * batch: no RecordErrors, and samsa's reason as ErrorMessage. */
static void record_errors(sm_req *req, sm_produce_part_resp *slot, sm_batch_check c,
                          const sm_batch_hdr *h, const sm_batch_ts_error *ts, int32_t nts,
                          int64_t lo, int64_t hi, const char *why)
{
    sm_arena *a = &req->arena;
    if (c != SM_BATCH_BAD_TIMESTAMP) {
        slot->error_message = arena_printf(a, "%s", why);
        return;
    }
    slot->error_message = SM_STR_LIT("One or more records have been rejected due to invalid "
                                     "timestamp");
    int32_t n = nts > 0 ? nts : h->record_count; /* none listed: LogAppendTime from the producer */
    if (n <= 0)
        return;
    slot->record_errors = sm_arena_calloc(a, (size_t)n, sizeof *slot->record_errors);
    if (!slot->record_errors)
        return;
    static const sm_str lat = SM_STR_LIT("Invalid timestamp type in message: Producer should not "
                                         "set timestamp type to LogAppendTime.");
    for (int32_t i = 0; i < n; i++) {
        sm_produce_record_error *e = &slot->record_errors[i];
        if (nts > 0) {
            e->batch_index = ts[i].index;
            e->message = arena_printf(a,
                                      "Timestamp %lld of message with offset %lld is out of range. "
                                      "The timestamp should be within [%lld, %lld]",
                                      (long long)ts[i].timestamp,
                                      (long long)(h->base_offset + ts[i].index), (long long)lo,
                                      (long long)hi);
        } else {
            e->batch_index = i;
            e->message = lat;
        }
    }
    slot->record_error_count = n;
}

/* Checks a partition's records the way Kafka's broker does before appending
 * (ProduceRequest.validateRecords, then UnifiedLog's size and CRC checks,
 * then LogValidator: see sm_batch_check_produced); returns a Kafka error
 * code, and when it is NONE, *hp is the header of the one batch the records
 * are. The reason is logged, and answered from v8 on: a batch refused for
 * record timestamps lists each such record in RecordErrors with Kafka's
 * message and summary (LogValidator's), any other refusal carries the
 * reason as ErrorMessage. */
static int16_t check_records(sm_req *req, sm_topic *t, int32_t part, sm_str recs,
                             sm_batch_hdr *hp, sm_produce_part_resp *slot)
{
    const uint8_t *p = (const uint8_t *)recs.p;
    size_t len = recs.len > 0 ? (size_t)recs.len : 0;
    char why[256] = "";
    sm_batch_hdr h;
    sm_batch_check c = SM_BATCH_INVALID;
    int16_t kerr;
    int64_t lo = 0, hi = 0, now = 0;
    sm_batch_ts_error *ts_errors = NULL;
    int32_t ts_errors_n = 0;
    if (len == 0) {
        snprintf(why, sizeof why, "no record batch");
    } else if ((c = sm_batch_validate(p, len, &h)) != SM_BATCH_OK) {
        snprintf(why, sizeof why, "%s", sm_batch_check_str(c));
    } else if ((size_t)h.batch_length + SM_BATCH_LOG_OVERHEAD < len) {
        c = SM_BATCH_INVALID;
        snprintf(why, sizeof why, "%zu bytes after the batch: a Produce carries exactly one "
                 "record batch per partition", len - (size_t)h.batch_length -
                 SM_BATCH_LOG_OVERHEAD);
    } else if ((int64_t)h.batch_length + SM_BATCH_LOG_OVERHEAD > t->cfg.max_message_bytes) {
        kerr = SM_KERR_MESSAGE_TOO_LARGE;
        snprintf(why, sizeof why, "a batch of %lld bytes, larger than max.message.bytes %d",
                 (long long)h.batch_length + SM_BATCH_LOG_OVERHEAD, t->cfg.max_message_bytes);
        goto refused;
    } else if ((h.attributes & SM_ATTR_COMPRESSION_MASK) == SM_COMP_ZSTD &&
               req->hdr.api_version < 7) {
        kerr = SM_KERR_UNSUPPORTED_COMPRESSION_TYPE;
        snprintf(why, sizeof why, "zstd needs Produce v7 or later, not v%d",
                 req->hdr.api_version);
        goto refused;
    } else {
        now = sm_wall_ms();
        /* RecordErrors (v8+): room for every record of the batch */
        if (req->hdr.api_version >= 8 && h.record_count > 0)
            ts_errors = sm_arena_calloc(&req->arena, (size_t)h.record_count, sizeof *ts_errors);
        sm_batch_rules rules = {
            .now_ms = now,
            .ts_before_max_ms = t->cfg.ts_before_max_ms,
            .ts_after_max_ms = t->cfg.ts_after_max_ms,
            .log_append_time = t->cfg.log_append_time,
            .max_decompressed = (uint64_t)t->cfg.max_message_bytes * DECOMPRESSED_PER_BATCH_BYTE,
            .ts_errors = ts_errors,
            .ts_errors_cap = ts_errors ? h.record_count : 0,
            .ts_errors_n = &ts_errors_n,
        };
        if (__builtin_sub_overflow(now, t->cfg.ts_before_max_ms, &lo))
            lo = INT64_MIN;
        if (__builtin_add_overflow(now, t->cfg.ts_after_max_ms, &hi))
            hi = INT64_MAX;
        c = sm_batch_check_produced(p, &h, &rules, why, sizeof why);
    }
    kerr = c == SM_BATCH_OK ? SM_KERR_NONE : sm_batch_check_kerr(c);
    if (kerr == SM_KERR_NONE) {
        *hp = h;
        return kerr;
    }
refused:
    sm_log_limited(SM_LOG_WARN, "produce v%d from %s to %s-%d refused (%s): %s",
                   req->hdr.api_version, req->conn ? req->conn->peer : "-", t->name, part,
                   sm_kerr_name(kerr), why);
    if (req->hdr.api_version >= 8)
        record_errors(req, slot, c, &h, ts_errors, ts_errors_n, lo, hi, why);
    return kerr;
}

/* An idempotent batch (ProducerId >= 0) against the partition's producer
 * state: NONE, DUPLICATE_SEQUENCE_NUMBER (it is already in the log; *dup_base
 * is where it went, *dup_ts its MaxTimestamp) or an error. */
static int16_t idempotence_check(sm_partition *p, const sm_batch_hdr *h, int64_t *dup_base,
                                 int64_t *dup_ts)
{
    if (h->producer_id < 0)
        return SM_KERR_NONE;
    return sm_idem_check(p, h, dup_base, dup_ts);
}

static void produce_respond(sm_req *req, produce_state *st)
{
    sm_resp_begin(req);
    sm_produce_resp_encode(&req->w, req->hdr.api_version, &st->resp);
    sm_req_complete(req);
}

/* One partition of an acks=all produce is durable (or failed); the request
 * is answered when its last one is. */
static void produce_durable(sm_ack_wait *aw, int rc)
{
    produce_wait *pw = (produce_wait *)aw;
    sm_req *req = pw->req;
    produce_state *st = req->pending;
    if (rc != SM_OK) {
        /* SM_ENOENT: the topic was deleted before the batch was durable */
        pw->slot->error_code = rc == SM_ENOENT ? SM_KERR_UNKNOWN_TOPIC_OR_PARTITION
                                               : SM_KERR_KAFKA_STORAGE_ERROR;
        pw->slot->base_offset = -1;
    }
    if (--st->waiting == 0) {
        req->pending = NULL;
        if (req->conn)
            produce_respond(req, st);
        else
            sm_req_free(req); /* the client went away */
    }
}

void sm_handle_produce(sm_req *req)
{
    sm_broker *b = req->b;
    sm_produce_req pr;
    if (sm_produce_req_decode(&req->body, req->hdr.api_version, &req->arena, &pr) != SM_OK) {
        sm_req_fail_connection(req, "malformed Produce request");
        return;
    }
    produce_state *st = sm_arena_alloc(&req->arena, sizeof *st);
    sm_produce_topic_resp *topics =
        sm_arena_calloc(&req->arena, (size_t)pr.topic_count + 1, sizeof *topics);
    if (!st || !topics) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    st->resp.topic_count = pr.topic_count;
    st->resp.topics = topics;
    req->pending = st; /* read by produce_durable */
    bool acks_ok = pr.acks == 0 || pr.acks == 1 || pr.acks == -1;
    bool any_error = false;
    int64_t now = sm_wall_ms();

    /* every allocation first: once a batch is appended the request can no
     * longer be abandoned */
    for (int32_t i = 0; i < pr.topic_count; i++) {
        sm_produce_topic *rt = &pr.topics[i];
        topics[i].name = rt->name.len < 0 ? SM_STR_LIT("") : rt->name;
        topics[i].partition_count = rt->partition_count;
        topics[i].partitions = sm_arena_calloc(&req->arena, (size_t)rt->partition_count + 1,
                                               sizeof *topics[i].partitions);
        if (!topics[i].partitions) {
            sm_req_fail_connection(req, "out of memory");
            return;
        }
    }
    sm_autocreate ac;
    sm_autocreate_init(b, &ac);
    for (int32_t i = 0; i < pr.topic_count; i++) {
        sm_produce_topic *rt = &pr.topics[i];
        int16_t terr = SM_KERR_NONE;
        sm_topic *t = acks_ok ? sm_topic_get_or_autocreate(b, rt->name, true, &ac, &terr) : NULL;
        for (int32_t j = 0; j < rt->partition_count; j++) {
            sm_produce_part *rp = &rt->partitions[j];
            sm_batch_hdr h; /* the one batch of the partition's records, once checked */
            sm_produce_part_resp *slot = &topics[i].partitions[j];
            *slot = (sm_produce_part_resp){rp->index, SM_KERR_NONE, -1, -1, -1, 0, NULL,
                                           SM_STR_NULL};
            if (!acks_ok) {
                slot->error_code = SM_KERR_INVALID_REQUIRED_ACKS;
            } else if (!t) {
                slot->error_code = terr;
            } else if (rp->index < 0 || rp->index >= t->npart) {
                slot->error_code = SM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            } else {
                slot->error_code = check_records(req, t, rp->index, rp->records, &h, slot);
            }
            if (slot->error_code != SM_KERR_NONE) {
                any_error = true;
                continue;
            }
            sm_partition *p = t->parts[rp->index];
            if (sm_plog_offline(p->log)) { /* damaged files, or a failed fsync */
                slot->error_code = SM_KERR_KAFKA_STORAGE_ERROR;
                any_error = true;
                continue;
            }
            uint8_t *recs = (uint8_t *)rp->records.p; /* our own frame: writable */
            int64_t dup_base = -1, dup_ts = -1;
            int16_t ierr = idempotence_check(p, &h, &dup_base, &dup_ts);
            if (ierr == SM_KERR_DUPLICATE_SEQUENCE_NUMBER) {
                /* a retry of batches already in the log: the original answer
                 * (Kafka's: the stored MaxTimestamp as log_append_time) */
                slot->base_offset = dup_base;
                slot->log_append_time_ms = dup_ts;
                slot->log_start_offset = sm_plog_start_offset(p->log);
                continue;
            }
            if (ierr != SM_KERR_NONE) {
                sm_log_limited(SM_LOG_INFO, "produce from %s to %s-%d refused: %s",
                               req->conn ? req->conn->peer : "-", t->name, rp->index,
                               sm_kerr_name(ierr));
                slot->error_code = ierr;
                any_error = true;
                continue;
            }
            if (t->cfg.log_append_time) {
                sm_batch_stamp_log_append_time(recs, &h, now);
                slot->log_append_time_ms = now;
            }
            char err[256];
            int64_t base;
            if (sm_plog_append(p->log, recs, (size_t)rp->records.len, now, &base, err,
                               sizeof err) != SM_OK) {
                sm_log_limited(SM_LOG_ERROR, "append to %s-%d failed: %s", t->name, rp->index, err);
                slot->error_code = SM_KERR_KAFKA_STORAGE_ERROR;
                any_error = true;
                continue;
            }
            slot->base_offset = base;
            slot->log_start_offset = sm_plog_start_offset(p->log);
            if (p->idem)
                sm_idem_appended(p, &h, base);
            sm_partition_appended(b, p, rp->records.len);
            if (pr.acks == -1) {
                produce_wait *pw = sm_arena_alloc(&req->arena, sizeof *pw);
                if (!pw) {
                    slot->error_code = SM_KERR_UNKNOWN_SERVER_ERROR;
                    continue;
                }
                pw->req = req;
                pw->slot = slot;
                pw->base.done = produce_durable;
                st->waiting++;
                sm_partition_wait_durable(b, p, &pw->base);
            }
        }
    }
    sm_autocreate_report(req, &ac);

    if (pr.acks == 0) {
        if (any_error) {
            sm_req_fail_connection(req, "acks=0 produce failed (see the error above)");
            return;
        }
        sm_req_complete_silent(req);
        return;
    }
    if (st->waiting == 0) {
        req->pending = NULL;
        produce_respond(req, st);
    }
    /* else answered by produce_durable when the last partition is durable */
}
