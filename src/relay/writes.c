/* writes.c: the relay's queued database writes: PUBLISHED marks in batches,
 * retries and DEAD marks, written between polls (never inside a librdkafka
 * callback), and what happens when the database refuses them. */
#include "relay/relay_int.h"

/* ------------------------------------------------------------------ */
/* queued database writes                                              */

void sm_relay_queue_retry_(sm_relay *r, int64_t id, int32_t attempts, int64_t due_ms,
                           const char *error)
{
    char *e = strdup(error);
    if (!e || !sm_relay_grow_((void **)&r->retries, &r->capretries, r->nretries,
                              sizeof *r->retries)) {
        free(e);
        sm_error("out of memory recording a retry of row %" PRId64, id);
        return;
    }
    r->retries[r->nretries++] = (pend_retry){id, attempts, due_ms, e};
}

void sm_relay_queue_dead_(sm_relay *r, int64_t id, const char *key, int32_t attempts,
                          const char *error)
{
    char *e = strdup(error), *k = key ? strdup(key) : NULL;
    if (!e || (key && !k) ||
        !sm_relay_grow_((void **)&r->deads, &r->capdeads, r->ndeads, sizeof *r->deads)) {
        free(e);
        free(k);
        sm_error("out of memory recording DEAD row %" PRId64, id);
        return;
    }
    r->deads[r->ndeads++] = (pend_dead){id, attempts, e, k};
}

void sm_relay_queue_published_(sm_relay *r, int64_t id, int32_t partition, int64_t offset,
                               int64_t at_ms, int32_t inc)
{
    if (!sm_relay_grow_((void **)&r->pub, &r->cappub, r->npub, sizeof *r->pub)) {
        sm_error("out of memory recording PUBLISHED row %" PRId64
                 "; it will be published again after a restart",
                 id);
        return;
    }
    r->pub[r->npub++] = (sm_published){id, partition, offset, at_ms, inc};
}

bool sm_relay_writes_pending_(const sm_relay *r)
{
    return r->npub || r->nretries || r->ndeads;
}

/* Writes what is queued: PUBLISHED marks in a few statements, then the
 * (rare) retries and dead rows one by one. A failure keeps the rest for
 * later; the rows stay tracked meanwhile, so nothing is claimed twice. */
void sm_relay_flush_writes_(sm_relay *r, bool force)
{
    if (!sm_relay_writes_pending_(r) || (!force && sm_mono_ms() < r->db_retry_at))
        return;
    int64_t tf = sm_mono_us();
    char err[512];
    size_t done = 0;
    while (done < r->npub) {
        int n = (int)(r->npub - done > MARK_CHUNK ? MARK_CHUNK : r->npub - done);
        if (sm_store_mark_published(r->store, r->pub + done, n, err, sizeof err) != SM_OK) {
            sm_relay_db_fail_(r, "marking rows PUBLISHED", err);
            break;
        }
        for (int i = 0; i < n; i++)
            sm_keys_settled(&r->keys, r->pub[done + (size_t)i].id);
        done += (size_t)n;
    }
    if (done && done < r->npub)
        memmove(r->pub, r->pub + done, (r->npub - done) * sizeof *r->pub);
    r->npub -= done;
    if (done)
        sm_debug("marked %zu rows PUBLISHED in %.1f ms", done, (double)(sm_mono_us() - tf) / 1000);
    if (r->npub)
        return;

    /* one statement per row: a bounded number per round, so thousands of
     * failing rows do not hold up the loop (claims, marks of healthy rows) */
    size_t slow = force ? SIZE_MAX : SLOW_WRITES;
    done = 0;
    for (; done < r->nretries && done < slow; done++) {
        pend_retry *p = &r->retries[done];
        if (sm_store_mark_retry(r->store, p->id, p->attempts, p->due_ms, p->error, err,
                                sizeof err) != SM_OK) {
            sm_relay_db_fail_(r, "recording a retry", err);
            break;
        }
        sm_keys_settled(&r->keys, p->id);
        free(p->error);
    }
    if (done && done < r->nretries)
        memmove(r->retries, r->retries + done, (r->nretries - done) * sizeof *r->retries);
    r->nretries -= done;
    if (r->nretries)
        return;

    done = 0;
    for (; done < r->ndeads && done < slow; done++) {
        pend_dead *p = &r->deads[done];
        if (sm_store_mark_dead(r->store, p->id, p->attempts, p->error, err, sizeof err) !=
            SM_OK) {
            sm_relay_db_fail_(r, "marking a row DEAD", err);
            break;
        }
        sm_keys_dead(&r->keys, p->id, p->key);
        sm_keys_settled(&r->keys, p->id);
        atomic_fetch_add(&r->metrics.dead_letters_total, 1);
        free(p->error);
        free(p->key);
    }
    if (done && done < r->ndeads)
        memmove(r->deads, r->deads + done, (r->ndeads - done) * sizeof *r->deads);
    r->ndeads -= done;
}
