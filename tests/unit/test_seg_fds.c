/* test_seg_fds.c: segment descriptors are opened when used and closed when
 * cold (storage/log.h: sm_plog_fds_set_budget). 40 logs of 3 segments each
 * (360 segment files) run within a budget of 12 descriptors: appends, reads
 * at every batch, time lookups, rolls, fsyncs through the flusher, a clean
 * and an unclean reopen. After every call the descriptors segment files
 * hold stay within the budget plus what one call may open, and the process
 * as a whole holds no more than that (a log holds no directory or
 * recovery-point descriptor once open). Slices pin their segment: 20 held
 * across trims still read their bytes, and the count falls back within the
 * budget once they are released. Every read returns exactly the bytes that
 * were appended. */
#include <dirent.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "storage/flush.h"
#include "storage/log.h"
#include "batch_builder.h"
#include "check.h"

#define NLOGS 40
#define BUDGET 12
#define PER_CALL 6 /* an append may reopen the .log and both index files, then roll (3 more) */
#define BATCHES 7  /* ~3 KB each into 8 KiB segments: 4 segments */

static char root[128];

typedef struct batch {
    int64_t base;
    uint8_t *bytes;
    size_t len;
} batch;

typedef struct tlog {
    char dir[256];
    sm_plog *l;
    batch b[BATCHES + 1];
    int n;
} tlog;

static tlog logs[NLOGS];

static int process_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the DIR's own */
}

static sm_log_config cfg(void)
{
    sm_log_config c;
    sm_log_config_default(&c);
    c.segment_bytes = 8192;
    c.index_interval_bytes = 256;
    c.segment_ms = 365LL * 24 * 3600 * 1000;
    c.retention_ms = -1;
    return c;
}

static void open_all(bool clean)
{
    sm_log_config c = cfg();
    for (int i = 0; i < NLOGS; i++) {
        char err[512] = "";
        int rc = sm_plog_open(&logs[i].l, logs[i].dir, &c, clean, err, sizeof err);
        if (rc != SM_OK)
            fprintf(stderr, "open %s: %s\n", logs[i].dir, err);
        REQUIRE(rc == SM_OK);
        CHECK(sm_plog_fds_open() <= BUDGET);
    }
}

static void close_all(void)
{
    for (int i = 0; i < NLOGS; i++) {
        char err[256];
        CHECK(sm_plog_sync(logs[i].l, err, sizeof err) == SM_OK);
        sm_plog_close(logs[i].l);
        logs[i].l = NULL;
    }
}

static void append(tlog *t, int k)
{
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    REQUIRE(bb_simple(&w, 10, 1000 + k * 10, 1, 280) > 0);
    int64_t base;
    char err[256];
    int rc = sm_plog_append(t->l, w.p, w.len, sm_wall_ms(), &base, err, sizeof err);
    if (rc != SM_OK)
        fprintf(stderr, "append %s: %s\n", t->dir, err);
    CHECK(rc == SM_OK);
    t->b[t->n].base = base;
    t->b[t->n].bytes = malloc(w.len);
    memcpy(t->b[t->n].bytes, w.p, w.len); /* as written: BaseOffset assigned in place */
    t->b[t->n].len = w.len;
    t->n++;
    sm_wbuf_release(&w);
}

/* The slice at batch k's first offset starts with exactly its bytes. */
static bool slice_matches(const sm_slice *s, const batch *b)
{
    if (s->len < (int64_t)b->len || s->fd < 0)
        return false;
    uint8_t *got = malloc(b->len);
    bool ok = pread(s->fd, got, b->len, s->pos) == (ssize_t)b->len && !memcmp(got, b->bytes, b->len);
    free(got);
    return ok;
}

static int read_all(void)
{
    int bad = 0;
    for (int i = 0; i < NLOGS; i++) {
        tlog *t = &logs[i];
        for (int k = 0; k < t->n; k++) {
            sm_slice s;
            int rc = sm_plog_read(t->l, t->b[k].base, 1, &s);
            if (rc != SM_OK || !slice_matches(&s, &t->b[k]))
                bad++;
            sm_slice_release(&s);
            if (sm_plog_fds_open() > BUDGET + PER_CALL)
                bad++;
        }
    }
    return bad;
}

static void test_appends_and_reads(int base_fds)
{
    TEST_SECTION("40 logs x 4 segments within 12 descriptors: appends, reads");
    open_all(true);
    CHECK(sm_plog_fds_open() <= BUDGET + 3);
    int over = 0;
    for (int k = 0; k < BATCHES; k++)
        for (int i = 0; i < NLOGS; i++) {
            append(&logs[i], k);
            over += sm_plog_fds_open() > BUDGET + PER_CALL;
        }
    CHECK(over == 0);
    for (int i = 0; i < NLOGS; i++)
        CHECK(sm_plog_segment_count(logs[i].l) >= 3);
    CHECK(read_all() == 0);
    printf("   %d descriptors held by segment files, %d in the process (%d before the logs)\n",
           sm_plog_fds_open(), process_fds(), base_fds);
    CHECK(process_fds() <= base_fds + BUDGET + PER_CALL);

    /* time lookups open old segments too */
    for (int i = 0; i < NLOGS; i++) {
        int64_t off = -1, ts = -1;
        CHECK(sm_plog_offset_for_time(logs[i].l, 1000 + 3 * 10, &off, &ts) == SM_OK);
        CHECK(off == logs[i].b[3].base);
        sm_plog_fds_trim();
        CHECK(sm_plog_fds_open() <= BUDGET);
    }
}

static void test_pinned_slices(void)
{
    TEST_SECTION("slices pin their segment across trims");
    sm_slice held[20];
    for (int i = 0; i < 20; i++)
        CHECK(sm_plog_read(logs[i].l, logs[i].b[0].base, 1, &held[i]) == SM_OK);
    /* touch every other log's newest segment: trims close what they can */
    for (int i = 20; i < NLOGS; i++) {
        sm_slice s;
        CHECK(sm_plog_read(logs[i].l, logs[i].b[BATCHES - 1].base, 1, &s) == SM_OK);
        CHECK(slice_matches(&s, &logs[i].b[BATCHES - 1]));
        sm_slice_release(&s);
    }
    int ok = 0;
    for (int i = 0; i < 20; i++)
        ok += slice_matches(&held[i], &logs[i].b[0]);
    CHECK(ok == 20);
    printf("   %d descriptors with 20 slices held (budget %d)\n", sm_plog_fds_open(), BUDGET);
    CHECK(sm_plog_fds_open() >= 20);
    for (int i = 0; i < 20; i++)
        sm_slice_release(&held[i]);
    sm_plog_fds_trim();
    CHECK(sm_plog_fds_open() <= BUDGET);
}

static void on_done(sm_plog *l, int64_t durable, int rc, void *arg)
{
    int *failures = arg;
    (void)l;
    (void)durable;
    *failures += rc != SM_OK;
}

static void test_flusher(void)
{
    TEST_SECTION("the flusher syncs segments whose descriptors were closed, opening none of ours");
    sm_flusher *f;
    char err[256];
    REQUIRE(sm_flusher_new(&f, err, sizeof err) == SM_OK);
    for (int i = 0; i < NLOGS; i++)
        append(&logs[i], BATCHES); /* one more batch each: something to sync */
    int failures = 0;
    for (int i = 0; i < NLOGS; i++) {
        sm_flusher_request(f, logs[i].l);
        CHECK(sm_plog_fds_open() <= BUDGET + PER_CALL); /* nothing pinned for a flush */
    }
    int64_t deadline = sm_mono_ms() + 20000;
    bool all = false;
    while (!all && sm_mono_ms() < deadline) {
        struct pollfd p = {sm_flusher_fd(f), POLLIN, 0};
        if (poll(&p, 1, 100) > 0)
            sm_flusher_collect(f, on_done, &failures);
        all = true;
        for (int i = 0; i < NLOGS; i++)
            all &= sm_plog_durable_offset(logs[i].l) >= sm_plog_end_offset(logs[i].l);
    }
    CHECK(all);
    CHECK(failures == 0);
    sm_flusher_free(f);
    sm_plog_fds_trim();
    CHECK(sm_plog_fds_open() <= BUDGET);
    CHECK(read_all() == 0);
}

static void test_reopen(int base_fds)
{
    TEST_SECTION("clean and unclean reopen within the budget");
    close_all();
    CHECK(sm_plog_fds_open() == 0);
    CHECK(process_fds() == base_fds);
    open_all(true);
    sm_plog_fds_trim();
    CHECK(sm_plog_fds_open() <= BUDGET);
    CHECK(read_all() == 0);
    for (int i = 0; i < NLOGS; i++) {
        sm_plog_close(logs[i].l); /* no sync, no marker: as after a crash */
        logs[i].l = NULL;
    }
    open_all(false);
    CHECK(read_all() == 0);
    CHECK(process_fds() <= base_fds + BUDGET + PER_CALL);
    close_all();
    CHECK(process_fds() == base_fds);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/samsa-test-segfds-XXXXXX");
    REQUIRE(mkdtemp(root) != NULL);
    for (int i = 0; i < NLOGS; i++)
        snprintf(logs[i].dir, sizeof logs[i].dir, "%s/t-%d", root, i);
    sm_plog_fds_set_budget(BUDGET);
    int base_fds = process_fds();
    test_appends_and_reads(base_fds);
    test_pinned_slices();
    test_flusher();
    test_reopen(base_fds);
    for (int i = 0; i < NLOGS; i++)
        for (int k = 0; k < logs[i].n; k++)
            free(logs[i].b[k].bytes);
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_report("test_seg_fds");
}
