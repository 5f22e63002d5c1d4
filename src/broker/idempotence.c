/* idempotence.c: idempotent producers: producer ids and the per-partition
 * producer state that makes a retried batch land once (InitProducerId itself
 * is h_init_producer_id.c).
 *
 * Each partition remembers, per producer id, its epoch, the last sequence
 * number appended and the last five batches (first and last sequence, base
 * offset, MaxTimestamp), as Kafka does. A batch that repeats one of those is
 * answered with the offset it already has (and its MaxTimestamp as the
 * log_append_time), without appending; a gap in the sequence is
 * OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is INVALID_PRODUCER_EPOCH.
 * The state is rebuilt from the batches of the partition's active segment
 * the first time an idempotent batch arrives after start-up, so a producer
 * retrying across a broker restart is still deduplicated. Producer ids come
 * from blocks reserved on disk (`producer-id-block`), never handed out
 * twice. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "broker/broker.h"
#include "broker/idempotence.h"
#include "broker/partition.h"
#include "proto/batch.h"
#include "proto/kafka.h"

#define RECENT 5
#define PID_BLOCK 1000

typedef struct pid_batch {
    int32_t first_seq, last_seq;
    int64_t base_offset;
    int64_t max_ts; /* MaxTimestamp as stored (the append time on LogAppendTime topics) */
} pid_batch;

typedef struct pid_state {
    int16_t epoch;
    int32_t last_seq;
    pid_batch recent[RECENT];
    int nrecent, next;
} pid_state;

struct sm_idem {
    sm_map pids; /* decimal producer id -> pid_state */
    bool loaded; /* rebuilt from the log */
};

static int32_t seq_add(int32_t seq, int32_t n)
{
    int64_t v = (int64_t)seq + n;
    return (int32_t)(v > INT32_MAX ? v - INT32_MAX - 1 : v);
}

static int pid_key(char *buf, size_t len, int64_t pid)
{
    return snprintf(buf, len, "%" PRId64, pid);
}

static pid_state *state_of(sm_idem *ix, int64_t pid, bool create)
{
    char key[32];
    int n = pid_key(key, sizeof key, pid);
    pid_state *st = sm_map_get(&ix->pids, key, (size_t)n);
    if (st || !create)
        return st;
    st = calloc(1, sizeof *st);
    if (st && sm_map_put(&ix->pids, key, (size_t)n, st) != SM_OK) {
        free(st);
        st = NULL;
    }
    return st;
}

static void remember(sm_idem *ix, const sm_batch_hdr *h, int64_t base_offset)
{
    pid_state *st = state_of(ix, h->producer_id, true);
    if (!st)
        return;
    if (h->producer_epoch != st->epoch) {
        st->nrecent = st->next = 0;
        st->epoch = h->producer_epoch;
    }
    int32_t last = seq_add(h->base_sequence, h->last_offset_delta);
    st->last_seq = last;
    st->recent[st->next] = (pid_batch){h->base_sequence, last, base_offset, h->max_timestamp};
    st->next = (st->next + 1) % RECENT;
    if (st->nrecent < RECENT)
        st->nrecent++;
}

/* Rebuilds the state from the active segment's batches. */
static void load_from_log(sm_partition *p)
{
    sm_idem *ix = p->idem;
    ix->loaded = true;
    int64_t off = sm_plog_active_base_offset(p->log), end = sm_plog_end_offset(p->log);
    uint8_t *buf = NULL;
    size_t cap = 0;
    int batches = 0;
    while (off < end) {
        sm_slice s;
        if (sm_plog_read(p->log, off, 1 << 20, &s) != SM_OK || s.len == 0) {
            sm_slice_release(&s);
            break;
        }
        if ((size_t)s.len > cap) {
            uint8_t *nb = realloc(buf, (size_t)s.len);
            if (!nb) {
                sm_slice_release(&s);
                break;
            }
            buf = nb;
            cap = (size_t)s.len;
        }
        ssize_t got = sm_slice_read(&s, 0, buf, (size_t)s.len);
        sm_slice_release(&s);
        int64_t next = off;
        sm_batch_walk w;
        sm_batch_walk_init(&w, buf, got > 0 ? (size_t)got : 0);
        size_t pos, total;
        while (sm_batch_walk_next(&w, &pos, &total)) { /* stops at a batch cut short */
            sm_batch_hdr h;
            sm_batch_hdr_decode(buf + pos, &h);
            if (h.producer_id >= 0 && h.base_offset + h.last_offset_delta >= off) {
                remember(ix, &h, h.base_offset);
                batches++;
            }
            next = h.base_offset + h.last_offset_delta + 1;
        }
        if (next <= off)
            break;
        off = next;
    }
    free(buf);
    if (batches)
        sm_debug("%s: producer state rebuilt from %d batch(es): %zu producer(s)",
                 sm_plog_dir(p->log), batches, ix->pids.len);
}

/* p's producer state, made and rebuilt from the log on first use; NULL
 * when out of memory. */
static sm_idem *idem_of(sm_partition *p)
{
    if (!p->idem) {
        p->idem = calloc(1, sizeof *p->idem);
        if (!p->idem)
            return NULL;
        sm_map_init(&p->idem->pids);
    }
    if (!p->idem->loaded)
        load_from_log(p);
    return p->idem;
}

int16_t sm_idem_check(sm_partition *p, const sm_batch_hdr *h, int64_t *dup_base, int64_t *dup_ts)
{
    if (!idem_of(p))
        return SM_KERR_UNKNOWN_SERVER_ERROR;
    pid_state *st = state_of(p->idem, h->producer_id, false);
    if (!st)
        return SM_KERR_NONE; /* a producer new to this partition: any sequence starts it */
    if (h->producer_epoch < st->epoch)
        return SM_KERR_INVALID_PRODUCER_EPOCH;
    if (h->producer_epoch > st->epoch)
        return h->base_sequence == 0 ? SM_KERR_NONE : SM_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    int32_t last = seq_add(h->base_sequence, h->last_offset_delta);
    for (int i = 0; i < st->nrecent; i++) {
        if (st->recent[i].first_seq == h->base_sequence && st->recent[i].last_seq == last) {
            *dup_base = st->recent[i].base_offset;
            *dup_ts = st->recent[i].max_ts;
            return SM_KERR_DUPLICATE_SEQUENCE_NUMBER;
        }
    }
    if (h->base_sequence != seq_add(st->last_seq, 1))
        return SM_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    return SM_KERR_NONE;
}

void sm_idem_appended(sm_partition *p, const sm_batch_hdr *h, int64_t base_offset)
{
    if (h->producer_id >= 0 && p->idem)
        remember(p->idem, h, base_offset);
}

int sm_idem_visit(sm_partition *p, sm_idem_visit_fn fn, void *arg)
{
    sm_idem *ix = idem_of(p);
    if (!ix)
        return SM_ENOMEM;
    const char *k;
    void *v;
    for (size_t it = 0; sm_map_next(&ix->pids, &it, &k, &v);) {
        const pid_state *st = v;
        int64_t last_ts = -1;
        if (st->nrecent > 0)
            last_ts = st->recent[(st->next + RECENT - 1) % RECENT].max_ts;
        fn(strtoll(k, NULL, 10), st->epoch, st->last_seq, last_ts, arg);
    }
    return SM_OK;
}

void sm_idem_free(sm_partition *p)
{
    if (!p->idem)
        return;
    const char *k;
    void *v;
    for (size_t it = 0; sm_map_next(&p->idem->pids, &it, &k, &v);)
        free(v);
    sm_map_release(&p->idem->pids);
    free(p->idem);
    p->idem = NULL;
}

/* ---- producer ids --------------------------------------------------------------------- */

/* Reserves the next block of ids on disk before any of it is handed out. */
static int reserve_block(sm_broker *b)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/producer-id-block", b->cfg.log_dirs[0]);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int64_t next = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%" SCNd64, &next) != 1 || next < 0)
            next = 0;
        fclose(f);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return SM_EIO;
    char line[32];
    int n = snprintf(line, sizeof line, "%" PRId64 "\n", next + PID_BLOCK);
    bool ok = write(fd, line, (size_t)n) == n && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path))
        return SM_EIO;
    int dfd = open(b->cfg.log_dirs[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    b->next_pid = next;
    b->pid_block_end = next + PID_BLOCK;
    return SM_OK;
}

int sm_producer_id_next(sm_broker *b, int64_t *pid)
{
    if (b->next_pid >= b->pid_block_end && reserve_block(b) != SM_OK)
        return SM_EIO;
    *pid = b->next_pid++;
    return SM_OK;
}
