/* store_pg_slots.c: the PostgreSQL store's slots: which keys this relay
 * claims, by session advisory locks, balanced among the live relays.
 *
 * Slots: samsa_outbox.slot is a stored generated column,
 * hashtext(key) & 63 (0 for NULL keys). A relay owns a slot while it holds
 * the session advisory lock (SM_PG_LOCK_CLASS, slot). sm_store_balance
 * writes a heartbeat row (relay_id, backend pid, now()), counts the live
 * relays (seen within the TTL and whose backend still exists, so a dead
 * relay stops counting at once), and moves towards ceil(64 / live) slots:
 * extras are released (after they drain, with sm_store_balance_busy), free
 * slots are taken with pg_try_advisory_lock. A lost connection loses every
 * lock with its session: the call that sees it returns SM_EIO and says so,
 * the store owns nothing, and the next call reconnects. */
#include "outbox/store_pg_int.h"

/* ---- slots ------------------------------------------------------------------- */

static int slot_array(sm_wbuf *w, uint64_t bits)
{
    int16_t v[SM_STORE_SLOTS];
    int n = 0;
    for (int i = 0; i < SM_STORE_SLOTS; i++)
        if (bits & ((uint64_t)1 << i))
            v[n++] = (int16_t)i;
    sm_pg_arr_int2(w, v, n);
    return n;
}

uint64_t sm_store_pg_owned_(const sm_store *base)
{
    const pg_store *s = (const pg_store *)base;
    return s->held & ~s->draining;
}

/* Runs P_LOCK or P_UNLOCK for the slots in bits; P_LOCK returns the slots it
 * got in *got. */
static int lock_slots(pg_store *s, int q, uint64_t bits, uint64_t *got, char *err, size_t errlen)
{
    sm_wbuf w;
    sm_wbuf_init(&w, 64 * 6 + 20);
    slot_array(&w, bits);
    if (w.oom) {
        sm_wbuf_release(&w);
        return sm_fail(err, errlen, SM_ENOMEM, "%s: balance: out of memory", s->base.name);
    }
    const char *vals[1] = {(const char *)w.p};
    int lens[1] = {(int)w.len}, rc;
    PGresult *r = sm_store_pg_run_(s, q, vals, lens,
                                   q == P_LOCK ? "balance: lock slots" : "balance: release",
                                   PGRES_TUPLES_OK, &rc, err, errlen);
    sm_wbuf_release(&w);
    if (!r)
        return rc;
    if (got) {
        *got = 0;
        for (int i = 0; i < PQntuples(r); i++) {
            int slot = sm_pg_get_i16(r, i, 0);
            if (slot >= 0 && slot < SM_STORE_SLOTS)
                *got |= (uint64_t)1 << slot;
        }
    }
    PQclear(r);
    return SM_OK;
}

/* Lease expiry: ends the sessions of relays that hold slots and have not
 * written their heartbeat for lease_ms (see P_TAKEOVER), so their slots can
 * be taken in this very balance. A failure (e.g. a role without the right
 * to end other sessions: grant it pg_signal_backend) is logged, not fatal. */
static void takeover(pg_store *s, const char *relay_id)
{
    if (s->lease_ms <= 0)
        return;
    uint8_t lease_be[8];
    sm_put_be64(lease_be, (uint64_t)s->lease_ms);
    const char *vals[2] = {relay_id, (const char *)lease_be};
    int lens[2] = {(int)strlen(relay_id), 8}, rc;
    char err[512];
    PGresult *r = sm_store_pg_run_(s, P_TAKEOVER, vals, lens, "balance: lease expiry",
                                   PGRES_TUPLES_OK, &rc,
                                   err, sizeof err);
    if (!r) {
        sm_log_limited(SM_LOG_WARN, "%s", err);
        return;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        bool ok = true;
        char *id = sm_pg_get_dup(r, i, 0, NULL, &ok);
        sm_warn("%s: relay %s (backend pid %d) holds slots but has not written its heartbeat"
                " for %.1f s (lease %.1f s): it looks hung; its database session %s, so its"
                " slots can be taken (it reconnects when it wakes up)",
                s->base.name, id ? id : "?", (int)sm_pg_get_i32(r, i, 1),
                (double)sm_pg_get_i64(r, i, 2) / 1000.0, (double)s->lease_ms / 1000.0,
                sm_pg_get_bool(r, i, 3) ? "was ended" : "is being ended");
        free(id);
    }
    PQclear(r);
}

void sm_store_pg_set_lease_ms_(sm_store *base, int64_t ms)
{
    PG(base)->lease_ms = ms;
}

int sm_store_pg_balance_(sm_store *base, const char *relay_id, uint64_t busy, uint64_t *owned,
                         char *err, size_t errlen)
{
    pg_store *s = PG(base);
    int rc;
    *owned = sm_store_pg_owned_(base);
    if (!s->relay_id || strcmp(s->relay_id, relay_id)) {
        char *id = strdup(relay_id);
        if (!id)
            return sm_fail(err, errlen, SM_ENOMEM, "%s: balance: out of memory", base->name);
        free(s->relay_id);
        s->relay_id = id;
    }
    takeover(s, relay_id);
    uint8_t mine_be[8], ttl_be[8];
    uint64_t mine = s->held & ~s->draining;
    sm_put_be64(mine_be, mine);
    sm_put_be64(ttl_be, (uint64_t)base->heartbeat_ttl_ms);
    const char *vals[3] = {relay_id, (const char *)mine_be, (const char *)ttl_be};
    int lens[3] = {(int)strlen(relay_id), 8, 8};
    PGresult *r = sm_store_pg_run_(s, P_HEARTBEAT, vals, lens, "balance: heartbeat",
                                   PGRES_TUPLES_OK, &rc, err,
                                   errlen);
    if (!r)
        return rc;
    int live = 1 + sm_pg_get_i32(r, 0, 0);
    uint64_t others = (uint64_t)sm_pg_get_i64(r, 0, 1);
    PQclear(r);
    mine = s->held & ~s->draining; /* a reconnect inside run() may have cleared it */
    int target = (SM_STORE_SLOTS + live - 1) / live;
    int n = __builtin_popcountll(mine);

    if (n < target) {
        /* take back slots still draining before asking for new ones */
        for (int i = 0; i < SM_STORE_SLOTS && n < target; i++) {
            uint64_t bit = (uint64_t)1 << i;
            if (s->draining & bit) {
                s->draining &= ~bit;
                s->cur.full = true; /* not claimed meanwhile: start low once */
                n++;
            }
        }
    } else if (n > target) {
        /* give up extras: idle slots first, from the top */
        int extra = n - target;
        for (int pass = 0; pass < 2 && extra; pass++)
            for (int i = SM_STORE_SLOTS - 1; i >= 0 && extra; i--) {
                uint64_t bit = (uint64_t)1 << i;
                bool is_busy = (busy & bit) != 0;
                if ((mine & bit) && is_busy == (pass == 1)) {
                    s->draining |= bit;
                    extra--;
                }
            }
    }
    uint64_t release = s->draining & ~busy;
    if (release) {
        rc = lock_slots(s, P_UNLOCK, release, NULL, err, errlen);
        if (rc)
            return rc;
        s->held &= ~release;
        s->draining &= ~release;
    }
    mine = s->held & ~s->draining;
    n = __builtin_popcountll(mine);
    if (n < target) {
        /* free slots, tried from a point that depends on the relay id so
         * that relays starting together do not all race for slot 0 */
        uint64_t avail = ~s->held & ~others, want = 0;
        int start = sm_slot_of(relay_id, strlen(relay_id));
        for (int k = 0; k < SM_STORE_SLOTS && n < target; k++) {
            uint64_t bit = (uint64_t)1 << ((start + k) % SM_STORE_SLOTS);
            if (avail & bit) {
                want |= bit;
                n++;
            }
        }
        if (want) {
            uint64_t got;
            rc = lock_slots(s, P_LOCK, want, &got, err, errlen);
            if (rc)
                return rc;
            s->held |= got;
            if (got)
                s->cur.full = true; /* rows its last owner left are below the floor */
        }
    }
    *owned = sm_store_pg_owned_(base);
    return SM_OK;
}
