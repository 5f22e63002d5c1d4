/* test_flush.c: the flusher thread (storage/flush.h): a request served
 * through the eventfd, group commit of many requests, what each round
 * syncs (rolled segments, the directory), the durable offset, callbacks
 * that close logs, and logs closed or deleted while a flush is in flight
 * (run under ASan, these would show any use after free or leak). */
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "storage/flush.h"
#include "storage/log.h"
#include "batch_builder.h"
#include "check.h"

static char root[128];
static int ndirs;

static sm_plog *new_log(int64_t segment_bytes)
{
    char dir[256], err[256];
    snprintf(dir, sizeof dir, "%s/p-%d", root, ndirs++);
    sm_log_config c;
    sm_log_config_default(&c);
    c.segment_bytes = segment_bytes;
    sm_plog *l = NULL;
    int rc = sm_plog_open(&l, dir, &c, true, err, sizeof err);
    if (rc != SM_OK)
        fprintf(stderr, "%s\n", err);
    REQUIRE(rc == SM_OK);
    return l;
}

static void put(sm_plog *l, int32_t n)
{
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    REQUIRE(bb_simple(&w, n, sm_wall_ms(), 1, 100) > 0);
    int64_t base;
    char err[256];
    CHECK(sm_plog_append(l, w.p, w.len, sm_wall_ms(), &base, err, sizeof err) == SM_OK);
    sm_wbuf_release(&w);
}

typedef struct seen {
    int calls;
    int failures;
    sm_plog *last;
    int64_t durable;
    sm_plog *close_on_call; /* closed from inside the callback */
} seen;

static void on_done(sm_plog *l, int64_t durable, int rc, void *arg)
{
    seen *s = arg;
    s->calls++;
    s->failures += rc != SM_OK;
    s->last = l;
    s->durable = durable;
    CHECK_EQ_I64(durable, sm_plog_durable_offset(l));
    if (s->close_on_call && s->close_on_call != l) {
        sm_plog_close(s->close_on_call);
        s->close_on_call = NULL;
    }
}

/* Collects until every log in ls is durable up to its end (10 s at most). */
static bool drain(sm_flusher *f, sm_plog **ls, int n, seen *s)
{
    int64_t deadline = sm_mono_ms() + 10000;
    for (;;) {
        bool all = true;
        for (int i = 0; i < n; i++)
            all &= sm_plog_durable_offset(ls[i]) >= sm_plog_end_offset(ls[i]);
        if (all)
            return true;
        if (sm_mono_ms() > deadline)
            return false;
        struct pollfd p = {sm_flusher_fd(f), POLLIN, 0};
        if (poll(&p, 1, 100) > 0)
            sm_flusher_collect(f, on_done, s);
    }
}

/* Waits (10 s at most) for the flusher to have finished `rounds` rounds;
 * says whether it has. */
static bool wait_idle(sm_flusher *f, uint64_t rounds)
{
    sm_flusher_stats st;
    int64_t deadline = sm_mono_ms() + 10000;
    do {
        usleep(1000);
        sm_flusher_stats_get(f, &st);
    } while (st.rounds < rounds && sm_mono_ms() < deadline);
    return st.rounds >= rounds;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void test_round_trip(sm_flusher *f)
{
    TEST_SECTION("one request: the segment, the new directory and its parent are synced");
    sm_flusher_stats a, b;
    sm_flusher_stats_get(f, &a);
    sm_plog *l = new_log(1 << 20);
    CHECK_EQ_I64(sm_plog_durable_offset(l), 0);
    put(l, 5);
    CHECK_EQ_I64(sm_plog_durable_offset(l), 0); /* an append alone is not durable */
    sm_flusher_request(f, l);
    seen s = {0};
    CHECK(drain(f, &l, 1, &s));
    CHECK_EQ_I64(sm_plog_durable_offset(l), 5);
    CHECK(s.calls >= 1 && s.last == l && s.durable == 5 && s.failures == 0);
    sm_flusher_stats_get(f, &b);
    CHECK_EQ_I64(b.requests - a.requests, 1);
    CHECK_EQ_I64(b.rounds - a.rounds, 1);
    CHECK_EQ_I64(b.syncs - a.syncs, 3);
    /* the recovery point names the segment and the synced size */
    char rp[512], want[64];
    snprintf(rp, sizeof rp, "%s/recovery-point-checkpoint", sm_plog_dir(l));
    snprintf(want, sizeof want, "0\n%020d %020lld ", 0, (long long)sm_plog_size(l));
    FILE *fp = fopen(rp, "r");
    char got[64] = "";
    CHECK(fp && fread(got, 1, sizeof got - 1, fp) == 53 && !strncmp(got, want, strlen(want)));
    if (fp)
        fclose(fp);

    TEST_SECTION("a request with nothing new is answered without a round");
    int calls = s.calls;
    sm_flusher_request(f, l);
    CHECK(drain(f, &l, 1, &s));
    struct pollfd p = {sm_flusher_fd(f), POLLIN, 0};
    CHECK(poll(&p, 1, 5000) == 1);
    sm_flusher_collect(f, on_done, &s);
    CHECK_EQ_I64(s.calls, calls + 1);
    CHECK(s.durable == 5 && s.failures == 0);
    sm_flusher_stats_get(f, &a);
    CHECK_EQ_I64(a.rounds, b.rounds);

    TEST_SECTION("the durable offset moves only when a flush or sm_plog_sync completes");
    put(l, 3);
    CHECK_EQ_I64(sm_plog_durable_offset(l), 5);
    char err[256];
    CHECK(sm_plog_sync(l, err, sizeof err) == SM_OK);
    CHECK_EQ_I64(sm_plog_durable_offset(l), 8);
    sm_plog_close(l);
}

static void test_rolled(sm_flusher *f)
{
    TEST_SECTION("a round syncs every segment rolled since the last one, and the directory");
    sm_plog *l = new_log(4096);
    seen s = {0};
    char err[256];
    CHECK(sm_plog_sync(l, err, sizeof err) == SM_OK); /* the new directory, first */
    for (int i = 0; i < 10; i++)
        put(l, 10); /* about 1.3 KiB each: three per segment */
    int nseg = sm_plog_segment_count(l);
    CHECK(nseg >= 3);
    sm_flusher_stats a, b;
    sm_flusher_stats_get(f, &a);
    sm_flusher_request(f, l);
    CHECK(drain(f, &l, 1, &s));
    sm_flusher_stats_get(f, &b);
    CHECK_EQ_I64(b.rounds - a.rounds, 1);
    /* every segment, the final index files of the rolled ones, the directory once */
    CHECK_EQ_I64(b.syncs - a.syncs, nseg + 2 * (nseg - 1) + 1);

    put(l, 1); /* into the active segment: one fdatasync */
    sm_flusher_request(f, l);
    CHECK(drain(f, &l, 1, &s));
    sm_flusher_stats_get(f, &a);
    CHECK_EQ_I64(a.syncs - b.syncs, 1);

    while (sm_plog_segment_count(l) == nseg)
        put(l, 10); /* until a roll, which asks for a flush of what precedes it */
    int64_t end = sm_plog_end_offset(l);
    sm_flusher_request(f, l); /* and the batch that went into the new segment */
    CHECK(drain(f, &l, 1, &s));
    sm_flusher_stats_get(f, &b);
    /* the replaced segment and its index files, the new segment, the directory */
    CHECK_EQ_I64(b.syncs - a.syncs, 5);
    CHECK_EQ_I64(sm_plog_durable_offset(l), end);
    CHECK_EQ_I64(s.failures, 0);
    sm_plog_close(l);
}

static void test_group_commit(sm_flusher *f)
{
    TEST_SECTION("group commit: many requests from many logs share rounds");
    enum { NLOG = 8, ITER = 200 };
    sm_plog *ls[NLOG];
    char err[256];
    for (int i = 0; i < NLOG; i++) {
        ls[i] = new_log(1 << 20);
        CHECK(sm_plog_sync(ls[i], err, sizeof err) == SM_OK);
    }
    sm_flusher_stats a, b;
    sm_flusher_stats_get(f, &a);
    seen s = {0};
    for (int k = 0; k < ITER; k++) {
        for (int i = 0; i < NLOG; i++) {
            put(ls[i], 2);
            sm_flusher_request(f, ls[i]);
        }
        if (k % 16 == 0) { /* the loop collects now and then, as the broker's would */
            struct pollfd p = {sm_flusher_fd(f), POLLIN, 0};
            if (poll(&p, 1, 0) > 0)
                sm_flusher_collect(f, on_done, &s);
        }
    }
    CHECK(drain(f, ls, NLOG, &s));
    sm_flusher_stats_get(f, &b);
    uint64_t req = b.requests - a.requests, rounds = b.rounds - a.rounds,
             syncs = b.syncs - a.syncs;
    printf("   %llu requests served by %llu rounds, %llu fdatasyncs\n", (unsigned long long)req,
           (unsigned long long)rounds, (unsigned long long)syncs);
    CHECK_EQ_I64(req, NLOG * ITER);
    CHECK(rounds < req / 4);
    CHECK(syncs < req / 2);
    CHECK_EQ_I64(s.failures, 0);
    for (int i = 0; i < NLOG; i++) {
        CHECK_EQ_I64(sm_plog_durable_offset(ls[i]), 2 * ITER);
        sm_plog_close(ls[i]);
    }
}

static void test_close_in_flight(sm_flusher *f)
{
    TEST_SECTION("closing or deleting a log while its flush is queued or running is safe");
    seen s = {0};
    sm_flusher_stats st;
    for (int i = 0; i < 60; i++) {
        sm_plog *l = new_log(1 << 20);
        put(l, 3);
        sm_flusher_request(f, l);
        if (i % 3 == 1)
            usleep((useconds_t)(i * 20)); /* let some get taken by the thread first */
        if (i % 3 == 2) {
            char err[256];
            CHECK(sm_plog_delete(l, err, sizeof err) == SM_OK);
        } else {
            sm_plog_close(l);
        }
    }
    sm_flusher_stats_get(f, &st);
    wait_idle(f, st.rounds + 1);
    for (int k = 0; k < 20; k++) {
        struct pollfd p = {sm_flusher_fd(f), POLLIN, 0};
        if (poll(&p, 1, 10) > 0)
            sm_flusher_collect(f, on_done, &s);
    }
    CHECK_EQ_I64(s.calls, 0); /* no callback for a closed log */

    TEST_SECTION("a callback may close a log whose result is still to be collected");
    sm_plog *x = new_log(1 << 20), *y = new_log(1 << 20);
    put(x, 1);
    put(y, 1);
    /* one round each, awaited: a round puts its results on the done list
     * before it counts itself, so both wait there now, x's first */
    sm_flusher_stats_get(f, &st);
    sm_flusher_request(f, x);
    REQUIRE(wait_idle(f, st.rounds + 1));
    sm_flusher_request(f, y);
    REQUIRE(wait_idle(f, st.rounds + 2));
    s.close_on_call = y; /* x is reported first (requested first): its callback closes y */
    CHECK(drain(f, &x, 1, &s));
    CHECK(s.close_on_call == NULL);
    sm_plog_close(x);
}

static void test_fsync_failure(sm_flusher *f)
{
    TEST_SECTION("a failed fsync is reported, and the log goes offline for good");
    sm_plog *l = new_log(1 << 20);
    put(l, 3);
    char err[256];
    CHECK(sm_plog_sync(l, err, sizeof err) == SM_OK);
    CHECK_EQ_I64(sm_plog_durable_offset(l), 3);
    put(l, 2);
    /* swap the segment's file for a FIFO, on which fdatasync fails (EINVAL):
     * the flusher opens the segment by its path for each sync */
    char seg[PATH_MAX], moved[PATH_MAX + 8];
    snprintf(seg, sizeof seg, "%s/%020d.log", sm_plog_dir(l), 0);
    snprintf(moved, sizeof moved, "%s.moved", seg);
    REQUIRE(rename(seg, moved) == 0);
    REQUIRE(mkfifo(seg, 0644) == 0);
    seen s = {0};
    sm_flusher_request(f, l);
    int64_t deadline = sm_mono_ms() + 10000;
    while (s.calls == 0 && sm_mono_ms() < deadline) {
        struct pollfd pf = {sm_flusher_fd(f), POLLIN, 0};
        if (poll(&pf, 1, 100) > 0)
            sm_flusher_collect(f, on_done, &s);
    }
    CHECK(s.calls == 1 && s.failures == 1 && s.durable == 3);
    CHECK_EQ_I64(sm_plog_durable_offset(l), 3);
    int64_t base;
    uint8_t junk[1] = {0};
    CHECK(sm_plog_append(l, junk, sizeof junk, sm_wall_ms(), &base, err, sizeof err) == SM_EIO);
    CHECK(sm_plog_sync(l, err, sizeof err) == SM_EIO);
    sm_flusher_request(f, l); /* answered at once, and still a failure */
    struct pollfd pf = {sm_flusher_fd(f), POLLIN, 0};
    CHECK(poll(&pf, 1, 5000) == 1);
    sm_flusher_collect(f, on_done, &s);
    CHECK(s.calls == 2 && s.failures == 2);
    CHECK_EQ_I64(sm_plog_durable_offset(l), 3);
    sm_plog_close(l);
}

static void test_free_in_flight(void)
{
    TEST_SECTION("freeing the flusher with closed logs in flight, and with open logs");
    char err[256];
    sm_flusher *f;
    REQUIRE(sm_flusher_new(&f, err, sizeof err) == SM_OK);
    sm_plog *open_one = new_log(1 << 20);
    put(open_one, 1);
    sm_flusher_request(f, open_one);
    for (int i = 0; i < 10; i++) {
        sm_plog *l = new_log(1 << 20);
        put(l, 3);
        sm_flusher_request(f, l);
        sm_plog_close(l);
    }
    sm_flusher_free(f); /* serves what it has, frees the closed logs */
    put(open_one, 1);
    CHECK(sm_plog_sync(open_one, err, sizeof err) == SM_OK);
    CHECK_EQ_I64(sm_plog_durable_offset(open_one), 2);
    sm_plog_close(open_one); /* no flusher to talk to any more */
}

int main(void)
{
    sm_log_set_level(SM_LOG_WARN);
    snprintf(root, sizeof root, "/tmp/samsa-test-flush-XXXXXX");
    REQUIRE(mkdtemp(root) != NULL);
    char err[256];
    sm_flusher *f;
    REQUIRE(sm_flusher_new(&f, err, sizeof err) == SM_OK);
    test_round_trip(f);
    test_rolled(f);
    test_group_commit(f);
    test_close_in_flight(f);
    test_fsync_failure(f);
    sm_flusher_free(f);
    test_free_in_flight();
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_report("test_flush");
}
