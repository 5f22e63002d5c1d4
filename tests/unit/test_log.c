/* test_log.c: the partition log (storage/log.h): offsets assigned on
 * append, reads at every offset, KIP-74, rolls by size and time, retention
 * by time and size, DeleteRecords across restarts, clean and unclean
 * reopen, recovery from torn, corrupt, missing and stray files, time
 * lookups, segment references, a slice sent to a socket, and a failed
 * write undone.
 *
 * A model of every batch appended (offsets, size, segment and position)
 * is kept beside each log; after every operation the log is read back at
 * every offset and compared with it. Logs live under a mkdtemp directory
 * that is removed at the end. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/crc32c.h"
#include "base/err.h"
#include "base/log.h"
#include "proto/batch.h"
#include "storage/log.h"
#include "batch_builder.h"
#include "check.h"

/* ---- helpers ------------------------------------------------------------------ */

static char root[128];
static int ndirs;

static void new_dir(char *out, size_t n) { snprintf(out, n, "%s/t-%d", root, ndirs++); }

static sm_log_config small_cfg(void)
{
    sm_log_config c;
    sm_log_config_default(&c);
    c.index_interval_bytes = 256;
    c.segment_bytes = 8192;
    c.segment_ms = 365LL * 24 * 3600 * 1000;
    c.retention_ms = -1;
    return c;
}

static sm_plog *open_log(const char *dir, const sm_log_config *c, bool clean)
{
    sm_plog *l = NULL;
    char err[512] = "";
    int rc = sm_plog_open(&l, dir, c, clean, err, sizeof err);
    if (rc != SM_OK)
        fprintf(stderr, "open %s: %s\n", dir, err);
    REQUIRE(rc == SM_OK && l);
    return l;
}

#define MAXB 4096

/* What was appended: one entry per batch, in order. */
typedef struct model {
    int n;
    int64_t base[MAXB], last[MAXB], size[MAXB], pos[MAXB], ts0[MAXB];
} model;

static int model_find(const model *m, int64_t offset)
{
    for (int i = 0; i < m->n; i++)
        if (m->base[i] <= offset && offset <= m->last[i])
            return i;
    return -1;
}

/* Truncates the model to the batches below `end`. */
static void model_cut(model *m, int64_t end)
{
    while (m->n > 0 && m->last[m->n - 1] >= end)
        m->n--;
}

/* Appends one batch of n records (timestamps ts, ts + 1, ...) and notes it. */
static int64_t put(sm_plog *l, model *m, int32_t n, int64_t ts, int32_t value_size, int64_t now)
{
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    REQUIRE(bb_simple(&w, n, ts, 1, value_size) > 0);
    int64_t base = -1;
    char err[256] = "";
    int rc = sm_plog_append(l, w.p, w.len, now, &base, err, sizeof err);
    if (rc != SM_OK)
        fprintf(stderr, "append: %s\n", err);
    CHECK(rc == SM_OK);
    if (rc == SM_OK && m) {
        REQUIRE(m->n < MAXB);
        m->base[m->n] = base;
        m->last[m->n] = base + n - 1;
        m->size[m->n] = (int64_t)w.len;
        m->ts0[m->n] = ts;
        m->pos[m->n] = -1;
        m->n++;
    }
    sm_wbuf_release(&w);
    return base;
}

/* Reads the batch a slice starts with and checks it whole: CRC, offsets. */
static bool slice_batch(const sm_slice *s, sm_batch_hdr *h)
{
    uint8_t hdr[SM_BATCH_HEADER_LEN];
    if (s->len < SM_BATCH_HEADER_LEN ||
        pread(s->fd, hdr, sizeof hdr, s->pos) != (ssize_t)sizeof hdr)
        return false;
    int64_t total = sm_batch_total_size(hdr, sizeof hdr);
    if (total < SM_BATCH_HEADER_LEN || total > s->len)
        return false;
    uint8_t *b = malloc((size_t)total);
    bool ok = b && pread(s->fd, b, (size_t)total, s->pos) == total &&
              sm_batch_validate(b, (size_t)total, h) == SM_BATCH_OK &&
              h->partition_leader_epoch == 0;
    free(b);
    return ok;
}

/* Reads at every offset of the model (one batch each: max_bytes 1) and
 * checks the batch served is the one holding the offset. Fills m->pos. */
static int check_reads(sm_plog *l, model *m, const char *what)
{
    int bad = 0;
    int64_t start = sm_plog_start_offset(l), end = sm_plog_end_offset(l);
    for (int64_t o = start; o < end; o++) {
        int i = model_find(m, o);
        sm_slice s;
        sm_batch_hdr h;
        int rc = sm_plog_read(l, o, 1, &s);
        bool ok = rc == SM_OK && i >= 0 && slice_batch(&s, &h) && h.base_offset == m->base[i] &&
                  h.base_offset + h.last_offset_delta == m->last[i] && s.len == m->size[i];
        if (ok)
            m->pos[i] = s.pos;
        else if (bad++ < 3)
            fprintf(stderr, "%s: read at %lld: rc %d, batch %d, len %lld\n", what, (long long)o,
                    rc, i, (long long)s.len);
        sm_slice_release(&s);
    }
    CHECK(bad == 0);
    return bad;
}

static void seg_file(char *out, size_t n, const char *dir, int64_t base, const char *ext)
{
    snprintf(out, n, "%s/%020lld%s", dir, (long long)base, ext);
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* Sorted base offsets of the .log files in dir; returns their count. */
static int list_segments(const char *dir, int64_t *bases, int max)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len == 24 && !strcmp(de->d_name + 20, ".log") && n < max)
            bases[n++] = strtoll(de->d_name, NULL, 10);
    }
    if (d)
        closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && bases[j - 1] > bases[j]; j--) {
            int64_t t = bases[j];
            bases[j] = bases[j - 1];
            bases[j - 1] = t;
        }
    return n;
}

/* The segment (by base offset) holding model batch i. */
static int64_t seg_of(const char *dir, const model *m, int i)
{
    int64_t bases[256];
    int n = list_segments(dir, bases, 256);
    int64_t b = -1;
    for (int k = 0; k < n; k++)
        if (bases[k] <= m->base[i])
            b = bases[k];
    return b;
}

static void write_file(const char *path, const void *p, size_t n, int flags)
{
    int fd = open(path, O_WRONLY | O_CREAT | flags, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, p, n) == (ssize_t)n);
    close(fd);
}

static void flip_byte(const char *path, int64_t pos)
{
    int fd = open(path, O_RDWR);
    uint8_t c;
    REQUIRE(fd >= 0 && pread(fd, &c, 1, pos) == 1);
    c ^= 0x5a;
    REQUIRE(pwrite(fd, &c, 1, pos) == 1);
    close(fd);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

#define STD_SYNCED 52 /* batches of build_std below its recovery point */

/* A log of several segments: 60 batches of 5 records of 40-byte values
 * (about 360 bytes a batch), 8 KiB segments, an index entry every 256
 * bytes. Timestamps: 1000 + 10 * batch. Synced after STD_SYNCED batches
 * (the recovery point), the last 8, all in the last segment, written after
 * it; then closed (cleanly: the index files are brought up to date). */
static void build_std(const char *dir, model *m)
{
    sm_log_config c = small_cfg();
    memset(m, 0, sizeof *m);
    sm_plog *l = open_log(dir, &c, true);
    char err[256];
    for (int i = 0; i < 60; i++) {
        if (i == STD_SYNCED)
            CHECK(sm_plog_sync(l, err, sizeof err) == SM_OK);
        put(l, m, 5, 1000 + 10 * i, 40, sm_wall_ms());
    }
    CHECK(sm_plog_segment_count(l) >= 3);
    check_reads(l, m, "build");
    /* the unsynced batches are all in the active segment */
    CHECK(sm_plog_active_base_offset(l) <= m->base[STD_SYNCED - 1]);
    sm_plog_close(l);
}

/* Reopens unclean and checks the log is exactly the model's first batches
 * up to `end`, then that the next append continues at `end`. */
static void expect_recovered(const char *dir, model *m, int64_t end, const char *what)
{
    sm_log_config c = small_cfg();
    sm_plog *l = open_log(dir, &c, false);
    CHECK_EQ_I64(sm_plog_end_offset(l), end);
    model_cut(m, end);
    check_reads(l, m, what);
    int64_t base = put(l, m, 3, 5000, 10, sm_wall_ms());
    CHECK_EQ_I64(base, end);
    check_reads(l, m, what);
    sm_plog_close(l);
    /* and it opens cleanly afterwards, with the same end */
    l = open_log(dir, &c, true);
    CHECK_EQ_I64(sm_plog_end_offset(l), end + 3);
    check_reads(l, m, what);
    sm_plog_close(l);
}

/* What a directory holds: each file's name, size and CRC-32C. */
#define SNAP_MAX 64
typedef struct dir_snap {
    int n;
    char name[SNAP_MAX][64];
    int64_t size[SNAP_MAX];
    uint32_t crc[SNAP_MAX];
} dir_snap;

static void snap_dir(const char *dir, dir_snap *out)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    REQUIRE(d != NULL);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        REQUIRE(out->n < SNAP_MAX && strlen(de->d_name) < 64);
        char f[512];
        snprintf(f, sizeof f, "%s/%s", dir, de->d_name);
        int fd = open(f, O_RDONLY);
        REQUIRE(fd >= 0);
        uint8_t buf[4096];
        uint32_t crc = 0;
        int64_t size = 0;
        ssize_t r;
        while ((r = read(fd, buf, sizeof buf)) > 0) {
            crc = sm_crc32c(crc, buf, (size_t)r);
            size += r;
        }
        close(fd);
        /* sorted by name */
        int k = out->n++;
        while (k > 0 && strcmp(out->name[k - 1], de->d_name) > 0) {
            memcpy(out->name[k], out->name[k - 1], 64);
            out->size[k] = out->size[k - 1];
            out->crc[k] = out->crc[k - 1];
            k--;
        }
        memcpy(out->name[k], de->d_name, strlen(de->d_name) + 1);
        out->size[k] = size;
        out->crc[k] = crc;
    }
    closedir(d);
}

static bool snap_equal_where(const dir_snap *a, const dir_snap *b, const char *suffix)
{
    int i = 0, j = 0;
    bool same = true;
    for (;;) {
        while (i < a->n && suffix && !strstr(a->name[i], suffix))
            i++;
        while (j < b->n && suffix && !strstr(b->name[j], suffix))
            j++;
        if (i >= a->n || j >= b->n)
            break;
        if (strcmp(a->name[i], b->name[j]) || a->size[i] != b->size[j] || a->crc[i] != b->crc[j]) {
            fprintf(stderr, "changed: %s (%lld bytes) -> %s (%lld bytes)\n", a->name[i],
                    (long long)a->size[i], b->name[j], (long long)b->size[j]);
            same = false;
        }
        i++;
        j++;
    }
    if (i < a->n || j < b->n) {
        fprintf(stderr, "files appeared or went: %s\n", i < a->n ? a->name[i] : b->name[j]);
        same = false;
    }
    return same;
}

static bool snap_equal(const dir_snap *a, const dir_snap *b) { return snap_equal_where(a, b, NULL); }
static bool snap_equal_logs(const dir_snap *a, const dir_snap *b)
{
    return snap_equal_where(a, b, ".log");
}

/* ---- tests -------------------------------------------------------------------- */

static void test_round_trip(void)
{
    TEST_SECTION("append assigns offsets, rewrites headers; read returns the bytes");
    char dir[256];
    new_dir(dir, sizeof dir);
    sm_log_config c = small_cfg();
    sm_plog *l = open_log(dir, &c, true);
    CHECK_EQ_I64(sm_plog_start_offset(l), 0);
    CHECK_EQ_I64(sm_plog_end_offset(l), 0);
    CHECK_EQ_I64(sm_plog_segment_count(l), 1);

    /* three batches in one append call, then one more */
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    bb_simple(&w, 5, 100, 1, 20);
    bb_simple(&w, 1, 200, 1, 20);
    bb_header hdrs[1] = {{"trace", "abc", 3}};
    bb_record rec = {.key = NULL, .key_len = -1, .value = "v", .value_len = 1, .timestamp = 300,
                     .headers = hdrs, .header_count = 1};
    bb_batch(&w, NULL, &rec, 1);
    REQUIRE(!w.oom);
    int64_t base = -1;
    char err[256];
    CHECK(sm_plog_append(l, w.p, w.len, 1000, &base, err, sizeof err) == SM_OK);
    CHECK_EQ_I64(base, 0);
    CHECK_EQ_I64(sm_plog_end_offset(l), 7);
    CHECK_EQ_I64(sm_plog_size(l), (int64_t)w.len);
    /* the caller's buffer now holds the stored bytes: offsets 0, 5, 6 */
    CHECK_EQ_I64((int64_t)sm_be64(w.p), 0);
    size_t second = (size_t)sm_batch_total_size(w.p, w.len);
    CHECK_EQ_I64((int64_t)sm_be64(w.p + second), 5);
    CHECK_EQ_I64((int32_t)sm_be32(w.p + 12), 0); /* PartitionLeaderEpoch */

    sm_slice s;
    CHECK(sm_plog_read(l, 0, 1 << 20, &s) == SM_OK);
    CHECK_EQ_I64(s.pos, 0);
    CHECK_EQ_I64(s.len, (int64_t)w.len);
    uint8_t *back = malloc(w.len);
    CHECK(pread(s.fd, back, w.len, 0) == (ssize_t)w.len && !memcmp(back, w.p, w.len));
    free(back);
    sm_slice_release(&s);
    CHECK(s.seg == NULL);

    int64_t base2 = put(l, NULL, 4, 400, 10, 1000);
    CHECK_EQ_I64(base2, 7);
    CHECK_EQ_I64(sm_plog_end_offset(l), 11);

    TEST_SECTION("reads at the end, past the end, below the start");
    CHECK(sm_plog_read(l, 11, 100, &s) == SM_OK);
    CHECK_EQ_I64(s.len, 0);
    CHECK(s.seg == NULL);
    sm_slice_release(&s);
    CHECK(sm_plog_read(l, 12, 100, &s) == SM_ERANGE);
    CHECK(sm_plog_read(l, -1, 100, &s) == SM_ERANGE);

    TEST_SECTION("KIP-74: max_bytes smaller than the first batch still returns it whole");
    CHECK(sm_plog_read(l, 2, 10, &s) == SM_OK);
    CHECK_EQ_I64(s.pos, 0);
    CHECK_EQ_I64(s.len, (int64_t)second);
    sm_slice_release(&s);
    CHECK(sm_plog_read(l, 2, 0, &s) == SM_OK);
    CHECK_EQ_I64(s.len, (int64_t)second);
    sm_slice_release(&s);
    /* larger than one batch: ends mid-batch, exactly at max_bytes */
    CHECK(sm_plog_read(l, 0, (int64_t)second + 10, &s) == SM_OK);
    CHECK_EQ_I64(s.len, (int64_t)second + 10);
    sm_slice_release(&s);
    /* a read at an offset inside the third batch starts at that batch */
    CHECK(sm_plog_read(l, 6, 1, &s) == SM_OK);
    sm_batch_hdr h;
    CHECK(slice_batch(&s, &h) && h.base_offset == 6);
    sm_slice_release(&s);
    sm_wbuf_release(&w);

    TEST_SECTION("append refuses malformed input without touching the log");
    uint8_t junk[80] = {0};
    CHECK(sm_plog_append(l, junk, sizeof junk, 1000, &base, err, sizeof err) == SM_EINVAL);
    CHECK(sm_plog_append(l, junk, 10, 1000, &base, err, sizeof err) == SM_EINVAL);
    CHECK_EQ_I64(sm_plog_end_offset(l), 11);
    sm_plog_close(l);
}

static void test_every_offset(void)
{
    TEST_SECTION("reads at every offset of a many-batch, many-segment log");
    char dir[256];
    new_dir(dir, sizeof dir);
    sm_log_config c = small_cfg();
    c.segment_bytes = 16384;
    static model m;
    memset(&m, 0, sizeof m);
    sm_plog *l = open_log(dir, &c, true);
    /* batch sizes from one record to 40, values from 1 to 300 bytes */
    for (int i = 0; i < 400; i++)
        put(l, &m, 1 + (i * 7) % 40, 10000 + i * 100, 1 + (i * 37) % 300, sm_wall_ms());
    CHECK(sm_plog_segment_count(l) > 10);
    check_reads(l, &m, "live");
    /* sequential consumer: each read continues where the last complete batch ended */
    int64_t o = 0, reads = 0;
    while (o < sm_plog_end_offset(l)) {
        sm_slice s;
        REQUIRE(sm_plog_read(l, o, 3000, &s) == SM_OK && s.len > 0);
        uint8_t *b = malloc((size_t)s.len);
        REQUIRE(pread(s.fd, b, (size_t)s.len, s.pos) == s.len);
        int64_t p = 0, next = o;
        while (p + SM_BATCH_LOG_OVERHEAD <= s.len) {
            int64_t t = sm_batch_total_size(b + p, (size_t)(s.len - p));
            if (t < 0 || p + t > s.len)
                break;
            sm_batch_hdr h;
            CHECK(sm_batch_validate(b + p, (size_t)t, &h) == SM_BATCH_OK);
            CHECK(h.base_offset <= next || p > 0);
            next = h.base_offset + h.last_offset_delta + 1;
            p += t;
        }
        free(b);
        CHECK(next > o);
        o = next;
        sm_slice_release(&s);
        reads++;
    }
    CHECK_EQ_I64(o, sm_plog_end_offset(l));
    int64_t end = sm_plog_end_offset(l);
    int nseg = sm_plog_segment_count(l);
    sm_plog_close(l);

    l = open_log(dir, &c, true);
    CHECK_EQ_I64(sm_plog_end_offset(l), end);
    CHECK_EQ_I64(sm_plog_segment_count(l), nseg);
    check_reads(l, &m, "reopened clean");
    put(l, &m, 3, 99999, 10, sm_wall_ms());
    check_reads(l, &m, "appended after a clean reopen");
    end = sm_plog_end_offset(l);
    sm_plog_close(l);

    TEST_SECTION("clean and unclean reopen agree");
    l = open_log(dir, &c, false);
    CHECK_EQ_I64(sm_plog_end_offset(l), end);
    CHECK_EQ_I64(sm_plog_segment_count(l), nseg);
    check_reads(l, &m, "reopened unclean");
    sm_plog_close(l);
    l = open_log(dir, &c, true);
    CHECK_EQ_I64(sm_plog_end_offset(l), end);
    check_reads(l, &m, "clean after unclean");
    sm_plog_close(l);
}

static void test_roll(void)
{
    TEST_SECTION("roll by size: no segment passes segment.bytes; Kafka file names");
    char dir[256];
    new_dir(dir, sizeof dir);
    sm_log_config c = small_cfg();
    c.segment_bytes = 4096;
    static model m;
    memset(&m, 0, sizeof m);
    sm_plog *l = open_log(dir, &c, true);
    for (int i = 0; i < 30; i++)
        put(l, &m, 10, 1000 + i, 80, sm_wall_ms()); /* about 1 KiB a batch */
    int64_t bases[256];
    int n = list_segments(dir, bases, 256);
    CHECK_EQ_I64(n, sm_plog_segment_count(l));
    CHECK(n >= 8);
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        char f[512];
        seg_file(f, sizeof f, dir, bases[i], ".log");
        int64_t sz = file_size(f);
        CHECK(sz > 0 && sz <= 4096);
        total += sz;
        /* each base offset is the first offset in its segment */
        CHECK(model_find(&m, bases[i]) >= 0 && m.base[model_find(&m, bases[i])] == bases[i]);
        seg_file(f, sizeof f, dir, bases[i], ".index");
        CHECK(file_size(f) >= 0);
        seg_file(f, sizeof f, dir, bases[i], ".timeindex");
        CHECK(file_size(f) >= 0);
    }
    CHECK_EQ_I64(total, sm_plog_size(l));
    check_reads(l, &m, "rolled by size");

    TEST_SECTION("a single batch larger than segment.bytes gets a segment of its own");
    int before = sm_plog_segment_count(l);
    put(l, &m, 10, 2000, 800, sm_wall_ms()); /* about 8 KiB */
    put(l, &m, 1, 2001, 10, sm_wall_ms());
    CHECK_EQ_I64(sm_plog_segment_count(l), before + 2);
    check_reads(l, &m, "oversized batch");
    sm_plog_close(l);

    TEST_SECTION("roll by time: the first batch's MaxTimestamp against the newest");
    new_dir(dir, sizeof dir);
    c = small_cfg();
    c.segment_ms = 1000;
    int64_t t0 = sm_wall_ms();
    l = open_log(dir, &c, true);
    put(l, NULL, 2, t0, 10, t0);
    put(l, NULL, 2, t0 + 500, 10, t0 + 500);
    CHECK_EQ_I64(sm_plog_segment_count(l), 1);
    put(l, NULL, 2, t0 + 1001, 10, t0 + 1001);
    CHECK_EQ_I64(sm_plog_segment_count(l), 2);
    /* old timestamps (replayed data) roll by the data's own age, not the clock */
    put(l, NULL, 2, t0 - 100000, 10, t0 + 1100);
    CHECK_EQ_I64(sm_plog_segment_count(l), 2);
    /* housekeeping rolls a quiet segment once it is older than log.roll.ms */
    CHECK_EQ_I64(sm_plog_housekeep(l, t0 + 1500), 0);
    CHECK_EQ_I64(sm_plog_segment_count(l), 2);
    CHECK_EQ_I64(sm_plog_housekeep(l, t0 + 5000), 0);
    CHECK_EQ_I64(sm_plog_segment_count(l), 3);
    /* an empty active segment is not rolled */
    CHECK_EQ_I64(sm_plog_housekeep(l, t0 + 100000), 0);
    CHECK_EQ_I64(sm_plog_segment_count(l), 3);
    /* a first timestamp far in the future does not hold the roll off: the
     * segment's creation (at the housekeeping roll, t0 + 5000) counts then */
    put(l, NULL, 1, t0 + 1000000000LL, 10, t0 + 5000);
    put(l, NULL, 1, t0 + 5100, 10, t0 + 5100);
    CHECK_EQ_I64(sm_plog_segment_count(l), 3);
    put(l, NULL, 1, t0 + 7000, 10, t0 + 7000);
    CHECK_EQ_I64(sm_plog_segment_count(l), 4);
    sm_plog_close(l);
}

static void test_retention(void)
{
    TEST_SECTION("retention by time deletes whole oldest segments and moves the start");
    char dir[256];
    new_dir(dir, sizeof dir);
    sm_log_config c = small_cfg();
    c.segment_bytes = 2048;
    c.retention_ms = 60000;
    int64_t now = sm_wall_ms();
    static model m;
    memset(&m, 0, sizeof m);
    sm_plog *l = open_log(dir, &c, true);
    for (int i = 0; i < 12; i++) /* old data: 10 minutes ago */
        put(l, &m, 5, now - 600000 + i, 100, now);
    int old_segs = sm_plog_segment_count(l);
    /* the fresh data starts a segment of its own: a tiny segment.bytes rolls */
    c.segment_bytes = 1;
    sm_plog_set_config(l, &c);
    int64_t fresh = put(l, &m, 5, now, 100, now);
    c.segment_bytes = 2048;
    sm_plog_set_config(l, &c);
    CHECK_EQ_I64(sm_plog_segment_count(l), old_segs + 1);
    for (int i = 1; i < 6; i++)
        put(l, &m, 5, now + i, 100, now);
    int total = sm_plog_segment_count(l);
    CHECK_EQ_I64(sm_plog_housekeep(l, now + 1000), old_segs);
    CHECK_EQ_I64(sm_plog_segment_count(l), total - old_segs);
    CHECK_EQ_I64(sm_plog_start_offset(l), fresh);
    sm_slice s;
    CHECK(sm_plog_read(l, fresh - 1, 100, &s) == SM_ERANGE);
    check_reads(l, &m, "after time retention");
    int64_t bases[256];
    CHECK_EQ_I64(list_segments(dir, bases, 256), sm_plog_segment_count(l));
    CHECK_EQ_I64(bases[0], fresh);

    TEST_SECTION("an expired active segment is rolled, then deleted");
    int64_t end = sm_plog_end_offset(l);
    CHECK(sm_plog_housekeep(l, now + 10000000) > 0);
    CHECK_EQ_I64(sm_plog_segment_count(l), 1);
    CHECK_EQ_I64(sm_plog_start_offset(l), end);
    CHECK_EQ_I64(sm_plog_end_offset(l), end);
    CHECK_EQ_I64(sm_plog_size(l), 0);
    CHECK(sm_plog_read(l, end, 100, &s) == SM_OK && s.len == 0);
    CHECK_EQ_I64(put(l, NULL, 1, now, 10, now), end);
    sm_plog_close(l);
    l = open_log(dir, &c, true);
    CHECK_EQ_I64(sm_plog_start_offset(l), end);
    CHECK_EQ_I64(sm_plog_end_offset(l), end + 1);
    sm_plog_close(l);

    TEST_SECTION("retention by size, as Kafka: delete while size - segment >= retention.bytes");
    new_dir(dir, sizeof dir);
    c = small_cfg();
    c.segment_bytes = 2048;
    memset(&m, 0, sizeof m);
    l = open_log(dir, &c, true);
    for (int i = 0; i < 40; i++)
        put(l, &m, 5, now + i, 100, now);
    int nseg = sm_plog_segment_count(l);
    int64_t size = sm_plog_size(l);
    CHECK_EQ_I64(sm_plog_housekeep(l, now), 0); /* retention.bytes -1: keep all */
    c.retention_bytes = size / 2;
    sm_plog_set_config(l, &c);
    /* the expected count, by Kafka's rule */
    int64_t seg_sizes[256];
    int k = list_segments(dir, bases, 256);
    for (int i = 0; i < k; i++) {
        char f[512];
        seg_file(f, sizeof f, dir, bases[i], ".log");
        seg_sizes[i] = file_size(f);
    }
    int64_t excess = size - c.retention_bytes;
    int want = 0;
    while (want < k && excess - seg_sizes[want] >= 0)
        excess -= seg_sizes[want++];
    CHECK(want > 0);
    CHECK_EQ_I64(sm_plog_housekeep(l, now), want);
    CHECK_EQ_I64(sm_plog_segment_count(l), nseg - want);
    CHECK(sm_plog_size(l) >= c.retention_bytes);
    CHECK_EQ_I64(sm_plog_start_offset(l), bases[want]);
    check_reads(l, &m, "after size retention");
    CHECK_EQ_I64(sm_plog_housekeep(l, now), 0);
    sm_plog_close(l);
}

static void test_delete_records(void)
{
    TEST_SECTION("DeleteRecords: persisted, reads below give SM_ERANGE, segments below go");
    char dir[256];
    new_dir(dir, sizeof dir);
    static model m;
    build_std(dir, &m);
    sm_log_config c = small_cfg();
    sm_plog *l = open_log(dir, &c, true);
    int nseg = sm_plog_segment_count(l);
    int64_t bases[256];
    list_segments(dir, bases, 256);
    int64_t cut = bases[1] + 7; /* inside the second segment */
    char err[256];
    CHECK(sm_plog_delete_records(l, sm_plog_end_offset(l) + 1, err, sizeof err) == SM_ERANGE);
    CHECK(sm_plog_delete_records(l, cut, err, sizeof err) == SM_OK);
    CHECK_EQ_I64(sm_plog_start_offset(l), cut);
    CHECK_EQ_I64(sm_plog_segment_count(l), nseg - 1);
    sm_slice s;
    CHECK(sm_plog_read(l, cut - 1, 100, &s) == SM_ERANGE);
    CHECK(sm_plog_read(l, cut, 1, &s) == SM_OK);
    sm_batch_hdr h;
    CHECK(slice_batch(&s, &h) && h.base_offset <= cut && cut <= h.base_offset + h.last_offset_delta);
    sm_slice_release(&s);
    check_reads(l, &m, "after DeleteRecords");
    /* moving it down is a no-op */
    CHECK(sm_plog_delete_records(l, 3, err, sizeof err) == SM_OK);
    CHECK_EQ_I64(sm_plog_start_offset(l), cut);
    sm_plog_close(l);

    l = open_log(dir, &c, true);
    CHECK_EQ_I64(sm_plog_start_offset(l), cut);
    CHECK(sm_plog_read(l, cut - 1, 100, &s) == SM_ERANGE);
    sm_plog_close(l);
    l = open_log(dir, &c, false);
    CHECK_EQ_I64(sm_plog_start_offset(l), cut);
    check_reads(l, &m, "DeleteRecords after unclean reopen");

    TEST_SECTION("DeleteRecords up to the end keeps the active segment");
    int64_t end = sm_plog_end_offset(l);
    CHECK(sm_plog_delete_records(l, end, err, sizeof err) == SM_OK);
    CHECK_EQ_I64(sm_plog_segment_count(l), 1);
    CHECK_EQ_I64(sm_plog_start_offset(l), end);
    CHECK(sm_plog_read(l, end, 100, &s) == SM_OK && s.len == 0);
    CHECK_EQ_I64(put(l, NULL, 2, 5, 5, sm_wall_ms()), end);
    sm_plog_close(l);

    TEST_SECTION("a checkpoint beyond the end (records lost after DeleteRecords) starts empty there");
    char f[512];
    snprintf(f, sizeof f, "%s/log-start-offset-checkpoint", dir);
    write_file(f, "0\n100000\n", 9, O_TRUNC);
    l = open_log(dir, &c, false);
    CHECK_EQ_I64(sm_plog_start_offset(l), 100000);
    CHECK_EQ_I64(sm_plog_end_offset(l), 100000);
    CHECK_EQ_I64(put(l, NULL, 1, 5, 5, sm_wall_ms()), 100000);
    sm_plog_close(l);

    TEST_SECTION("a partition directory with no segments starts at the checkpoint, else 0");
    new_dir(dir, sizeof dir);
    REQUIRE(mkdir(dir, 0755) == 0);
    snprintf(f, sizeof f, "%s/log-start-offset-checkpoint", dir);
    write_file(f, "0\n42\n", 5, O_TRUNC);
    l = open_log(dir, &c, false);
    CHECK_EQ_I64(sm_plog_start_offset(l), 42);
    CHECK_EQ_I64(sm_plog_end_offset(l), 42);
    CHECK_EQ_I64(put(l, NULL, 1, 5, 5, sm_wall_ms()), 42);
    sm_plog_close(l);
    new_dir(dir, sizeof dir);
    REQUIRE(mkdir(dir, 0755) == 0);
    snprintf(f, sizeof f, "%s/log-start-offset-checkpoint", dir);
    write_file(f, "garbage", 7, O_TRUNC);
    l = open_log(dir, &c, true);
    CHECK_EQ_I64(sm_plog_start_offset(l), 0);
    CHECK_EQ_I64(sm_plog_end_offset(l), 0);
    sm_plog_close(l);
}

static void test_recovery(void)
{
    static model m;
    char dir[256], f[512], tmp_path[512];
    int64_t bases[256];

    TEST_SECTION("recovery: a torn last batch (file cut mid-batch)");
    new_dir(dir, sizeof dir);
    build_std(dir, &m);
    sm_log_config c = small_cfg();
    {
        sm_plog *l = open_log(dir, &c, true);
        check_reads(l, &m, "positions");
        sm_plog_close(l);
    }
    int last = m.n - 1;
    seg_file(f, sizeof f, dir, seg_of(dir, &m, last), ".log");
    REQUIRE(truncate(f, m.pos[last] + m.size[last] / 2) == 0);
    expect_recovered(dir, &m, m.base[last], "torn");
    CHECK_EQ_I64(file_size(f), m.pos[last] + m.size[m.n - 1]); /* cut back, then one append */

    TEST_SECTION("recovery: a corrupted CRC in the last batch");
    new_dir(dir, sizeof dir);
    build_std(dir, &m);
    {
        sm_plog *l = open_log(dir, &c, true);
        check_reads(l, &m, "positions");
        sm_plog_close(l);
    }
    last = m.n - 1;
    seg_file(f, sizeof f, dir, seg_of(dir, &m, last), ".log");
    flip_byte(f, m.pos[last] + m.size[last] - 3);
    expect_recovered(dir, &m, m.base[last], "bad crc");

    TEST_SECTION("recovery: garbage bytes appended");
    new_dir(dir, sizeof dir);
    build_std(dir, &m);
    int64_t end = m.last[m.n - 1] + 1;
    seg_file(f, sizeof f, dir, seg_of(dir, &m, m.n - 1), ".log");
    int64_t good = file_size(f);
    uint8_t junk[100];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 73 + 11);
    write_file(f, junk, sizeof junk, O_APPEND);
    expect_recovered(dir, &m, end, "garbage tail");
    CHECK_EQ_I64(file_size(f), good + m.size[m.n - 1]); /* cut back, then one append */

    TEST_SECTION("recovery: a clean start that finds a torn tail recovers anyway");
    new_dir(dir, sizeof dir);
    build_std(dir, &m);
    {
        sm_plog *l = open_log(dir, &c, true);
        check_reads(l, &m, "positions");
        sm_plog_close(l);
    }
    last = m.n - 1;
    seg_file(f, sizeof f, dir, seg_of(dir, &m, last), ".log");
    REQUIRE(truncate(f, m.pos[last] + 30) == 0);
    {
        sm_plog *l = open_log(dir, &c, true);
        CHECK_EQ_I64(sm_plog_end_offset(l), m.base[last]);
        model_cut(&m, m.base[last]);
        check_reads(l, &m, "clean fallback");
        sm_plog_close(l);
    }

    const char *kinds[] = {"zeroed", "short", "garbage", "missing", "cut at an entry boundary"};
    for (int kind = 0; kind < 5; kind++) {
        char name[96];
        snprintf(name, sizeof name, "recovery: a %s index file (last and first segment)",
                 kinds[kind]);
        TEST_SECTION(name);
        new_dir(dir, sizeof dir);
        build_std(dir, &m);
        end = m.last[m.n - 1] + 1;
        int n = list_segments(dir, bases, 256);
        int64_t targets[2] = {bases[n - 1], bases[0]};
        /* what the appends wrote for the first segment, to compare with the rebuild */
        uint8_t orig[2][4096];
        int64_t orig_len[2];
        for (int e = 0; e < 2; e++) {
            seg_file(f, sizeof f, dir, bases[0], e ? ".timeindex" : ".index");
            int fd = open(f, O_RDONLY);
            REQUIRE(fd >= 0);
            orig_len[e] = read(fd, orig[e], sizeof orig[e]);
            close(fd);
            REQUIRE(orig_len[e] > 0 && orig_len[e] < (int64_t)sizeof orig[e]);
        }
        for (int t = 0; t < 2; t++) {
            const char *exts[] = {".index", ".timeindex"};
            for (int e = 0; e < 2; e++) {
                seg_file(f, sizeof f, dir, targets[t], exts[e]);
                int64_t sz = file_size(f);
                REQUIRE(sz > 0);
                uint8_t *buf = calloc(1, (size_t)sz + 1);
                if (kind == 0) {
                    write_file(f, buf, (size_t)sz, O_TRUNC);
                } else if (kind == 1) {
                    REQUIRE(truncate(f, sz - 3) == 0);
                } else if (kind == 2) {
                    for (int64_t i = 0; i < sz; i++)
                        buf[i] = (uint8_t)(i * 151 + 7);
                    write_file(f, buf, (size_t)sz, O_TRUNC);
                } else if (kind == 3) {
                    REQUIRE(unlink(f) == 0);
                } else { /* the last two entries lost, the rest whole */
                    int64_t esz = e ? 12 : 8;
                    REQUIRE(sz >= 3 * esz && truncate(f, sz - 2 * esz) == 0);
                }
                free(buf);
            }
        }
        expect_recovered(dir, &m, end, kinds[kind]);
        /* the rebuilt indexes are byte for byte the ones the appends wrote */
        for (int e = 0; e < 2; e++) {
            uint8_t now_bytes[4096];
            seg_file(f, sizeof f, dir, bases[0], e ? ".timeindex" : ".index");
            int fd = open(f, O_RDONLY);
            REQUIRE(fd >= 0);
            int64_t len = read(fd, now_bytes, sizeof now_bytes);
            close(fd);
            CHECK_EQ_I64(len, orig_len[e]);
            CHECK(len == orig_len[e] && !memcmp(now_bytes, orig[e], (size_t)len));
        }
    }

    TEST_SECTION("a damaged index of an older segment, opened clean, is rebuilt on first read");
    new_dir(dir, sizeof dir);
    build_std(dir, &m);
    list_segments(dir, bases, 256);
    seg_file(f, sizeof f, dir, bases[0], ".index");
    int64_t isz = file_size(f);
    uint8_t *z = calloc(1, (size_t)isz);
    write_file(f, z, (size_t)isz, O_TRUNC);
    free(z);
    {
        sm_plog *l = open_log(dir, &c, true);
        check_reads(l, &m, "lazy rebuild");
        sm_plog_close(l);
    }

    TEST_SECTION("recovery: index entries past the end of the log (log pages lost)");
    new_dir(dir, sizeof dir);
    build_std(dir, &m);
    {
        sm_plog *l = open_log(dir, &c, true);
        check_reads(l, &m, "positions");
        sm_plog_close(l);
    }
    int cut = m.n - 6; /* the log loses its last six batches, the index keeps them */
    seg_file(f, sizeof f, dir, seg_of(dir, &m, cut), ".log");
    REQUIRE(seg_of(dir, &m, cut) == seg_of(dir, &m, m.n - 1));
    REQUIRE(truncate(f, m.pos[cut]) == 0);
    expect_recovered(dir, &m, m.base[cut], "index past the log");

    TEST_SECTION("recovery: a flipped byte below the recovery point: offline, every file kept");
    new_dir(dir, sizeof dir);
    build_std(dir, &m);
    {
        sm_plog *l = open_log(dir, &c, true);
        check_reads(l, &m, "positions");
        sm_plog_close(l);
    }
    int n = list_segments(dir, bases, 256);
    REQUIRE(n >= 3);
    int victim = model_find(&m, bases[2]) - 1; /* the last batch of the second segment */
    REQUIRE(victim < STD_SYNCED);
    seg_file(f, sizeof f, dir, bases[1], ".log");
    flip_byte(f, m.pos[victim] + m.size[victim] - 1);
    end = m.last[m.n - 1] + 1;
    {
        dir_snap before, after;
        snap_dir(dir, &before);
        sm_plog *l = open_log(dir, &c, false);
        const char *why = sm_plog_offline(l);
        CHECK(why != NULL && strstr(why, f) && strstr(why, "recovery point"));
        sm_slice sl;
        CHECK(sm_plog_read(l, 0, 100, &sl) == SM_EIO);
        CHECK(sm_plog_read(l, m.base[victim], 100, &sl) == SM_EIO);
        int64_t off, ts, base = -1;
        CHECK(sm_plog_offset_for_time(l, 0, &off, &ts) == SM_EIO);
        CHECK(sm_plog_max_timestamp(l, &off, &ts) == SM_EIO);
        char err[256];
        CHECK(sm_plog_delete_records(l, 3, err, sizeof err) == SM_EIO);
        CHECK_EQ_I64(sm_plog_housekeep(l, sm_wall_ms() + 1000000000LL), 0);
        CHECK(sm_plog_sync(l, err, sizeof err) == SM_EIO);
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        bb_simple(&w, 2, 1, 1, 10);
        CHECK(sm_plog_append(l, w.p, w.len, sm_wall_ms(), &base, err, sizeof err) == SM_EIO);
        sm_wbuf_release(&w);
        sm_plog_close(l);
        snap_dir(dir, &after);
        CHECK(snap_equal(&before, &after));
        /* a clean open after it (the operator restarts again) would trust the
         * files; the broker never marks a log dir clean with a log offline */
    }
    TEST_SECTION("recovery: the same log, the byte repaired: everything is there");
    flip_byte(f, m.pos[victim] + m.size[victim] - 1);
    {
        sm_plog *l = open_log(dir, &c, false);
        CHECK(sm_plog_offline(l) == NULL);
        CHECK_EQ_I64(sm_plog_end_offset(l), end);
        check_reads(l, &m, "repaired");
        sm_plog_close(l);
    }

    TEST_SECTION("recovery: without its recovery point, a corrupt segment removes every later one");
    flip_byte(f, m.pos[victim] + m.size[victim] - 1);
    snprintf(tmp_path, sizeof tmp_path, "%s/recovery-point-checkpoint", dir);
    REQUIRE(unlink(tmp_path) == 0); /* how an operator accepts the loss */
    expect_recovered(dir, &m, m.base[victim], "corrupt middle segment");
    CHECK_EQ_I64(list_segments(dir, bases, 256), 2);

    TEST_SECTION("recovery: segments the recovery point vouches for, cut short or gone: offline");
    for (int kind = 0; kind < 4; kind++) {
        static const char *const what[] = {
            "the synced part of the last segment cut", "a torn tail of an older segment",
            "the last segment removed", "a middle segment removed"};
        new_dir(dir, sizeof dir);
        build_std(dir, &m);
        {
            sm_plog *l = open_log(dir, &c, true);
            check_reads(l, &m, "positions");
            sm_plog_close(l);
        }
        n = list_segments(dir, bases, 256);
        int synced_last = STD_SYNCED - 1; /* in the last segment */
        if (kind == 0) {
            seg_file(f, sizeof f, dir, bases[n - 1], ".log");
            REQUIRE(truncate(f, m.pos[synced_last] + 10) == 0);
        } else if (kind == 1) {
            int v = model_find(&m, bases[1]) - 1; /* the last batch of the first segment */
            seg_file(f, sizeof f, dir, bases[0], ".log");
            REQUIRE(truncate(f, m.pos[v] + m.size[v] / 2) == 0);
        } else {
            int64_t which = kind == 2 ? bases[n - 1] : bases[1];
            static const char *const exts[] = {".log", ".index", ".timeindex"};
            for (int e = 0; e < 3; e++) {
                seg_file(f, sizeof f, dir, which, exts[e]);
                REQUIRE(unlink(f) == 0);
            }
        }
        dir_snap before, after;
        snap_dir(dir, &before);
        sm_plog *l = open_log(dir, &c, false);
        const char *why = sm_plog_offline(l);
        CHECK(why != NULL);
        if (why)
            printf("   %s: offline: %s\n", what[kind], why);
        sm_slice sl;
        CHECK(sm_plog_read(l, 0, 1, &sl) == SM_EIO);
        sm_plog_close(l);
        snap_dir(dir, &after);
        CHECK(snap_equal(&before, &after));
    }

    TEST_SECTION("recovery: a damaged header found by a read takes the log offline");
    new_dir(dir, sizeof dir);
    build_std(dir, &m);
    {
        sm_plog *l = open_log(dir, &c, true);
        check_reads(l, &m, "positions");
        sm_plog_close(l);
    }
    n = list_segments(dir, bases, 256);
    victim = 7; /* in the first segment, away from its tail */
    REQUIRE(model_find(&m, bases[1]) > victim + 3);
    seg_file(f, sizeof f, dir, bases[0], ".log");
    flip_byte(f, m.pos[victim] + 16); /* its magic */
    {
        dir_snap before, after;
        snap_dir(dir, &before);
        sm_plog *l = open_log(dir, &c, true);
        CHECK(sm_plog_offline(l) == NULL);
        sm_slice sl;
        CHECK(sm_plog_read(l, m.base[victim - 2], 1, &sl) == SM_OK && sl.len > 0);
        sm_slice_release(&sl);
        int rc = sm_plog_read(l, m.base[victim] + 1, 1, &sl);
        CHECK(rc == SM_ECORRUPT);
        const char *why = sm_plog_offline(l);
        CHECK(why != NULL && strstr(why, f));
        CHECK(sm_plog_read(l, m.base[victim - 2], 1, &sl) == SM_EIO);
        char err[256];
        int64_t base;
        uint8_t one[1] = {0};
        CHECK(sm_plog_append(l, one, sizeof one, sm_wall_ms(), &base, err, sizeof err) == SM_EIO);
        sm_plog_close(l);
        snap_dir(dir, &after);
        /* the index of the first segment was rebuilt by the failed lookup
         * (a cache); every .log is as it was */
        CHECK(snap_equal_logs(&before, &after));
    }

    TEST_SECTION("recovery: an empty last segment, a stray one, leftover files");
    new_dir(dir, sizeof dir);
    build_std(dir, &m);
    end = m.last[m.n - 1] + 1;
    n = list_segments(dir, bases, 256);
    seg_file(f, sizeof f, dir, end, ".log");
    write_file(f, "", 0, O_TRUNC); /* a roll that crashed before its first append */
    {
        sm_plog *l = open_log(dir, &c, false);
        CHECK_EQ_I64(sm_plog_end_offset(l), end);
        CHECK_EQ_I64(sm_plog_segment_count(l), n + 1);
        CHECK_EQ_I64(put(l, &m, 2, 1, 1, sm_wall_ms()), end);
        check_reads(l, &m, "empty last segment");
        sm_plog_close(l);
    }
    end += 2;
    seg_file(f, sizeof f, dir, end + 50, ".log"); /* does not follow: removed */
    write_file(f, "", 0, O_TRUNC);
    char deleted[512], swap[512], tmp[512], orphan[512];
    seg_file(deleted, sizeof deleted, dir, 0, ".log.deleted");
    write_file(deleted, "x", 1, O_TRUNC);
    seg_file(swap, sizeof swap, dir, 0, ".log.swap");
    write_file(swap, "x", 1, O_TRUNC);
    snprintf(tmp, sizeof tmp, "%s/log-start-offset-checkpoint.tmp", dir);
    write_file(tmp, "0\n", 2, O_TRUNC);
    seg_file(orphan, sizeof orphan, dir, 99999999, ".index");
    write_file(orphan, "12345678", 8, O_TRUNC);
    {
        sm_plog *l = open_log(dir, &c, false);
        CHECK_EQ_I64(sm_plog_end_offset(l), end);
        CHECK_EQ_I64(sm_plog_segment_count(l), n + 1);
        CHECK(file_size(f) < 0);
        CHECK(file_size(deleted) < 0);
        CHECK(file_size(tmp) < 0);
        CHECK(file_size(orphan) < 0);
        CHECK(file_size(swap) == 1); /* not ours to judge: left alone */
        check_reads(l, &m, "strays");
        sm_plog_close(l);
    }

    TEST_SECTION("recovery: a lost page in the middle of data written after the last sync");
    new_dir(dir, sizeof dir);
    build_std(dir, &m); /* ends with sm_plog_sync: the recovery point is the end */
    {
        sm_plog *l = open_log(dir, &c, true);
        for (int i = 0; i < 8; i++) /* written, never synced */
            put(l, &m, 5, 9000 + i, 40, sm_wall_ms());
        check_reads(l, &m, "positions");
        sm_plog_close(l);
    }
    int lost = m.n - 5; /* well before the last index entry */
    REQUIRE(seg_of(dir, &m, lost) == seg_of(dir, &m, m.n - 1));
    seg_file(f, sizeof f, dir, seg_of(dir, &m, lost), ".log");
    {
        uint8_t zero[100] = {0};
        int fd = open(f, O_WRONLY);
        REQUIRE(fd >= 0 && pwrite(fd, zero, sizeof zero, m.pos[lost] + 20) == sizeof zero);
        close(fd);
    }
    expect_recovered(dir, &m, m.base[lost], "lost page after the last sync");

    TEST_SECTION("recovery: a first segment whose first batch is torn leaves an empty log");
    new_dir(dir, sizeof dir);
    {
        sm_plog *l = open_log(dir, &c, true);
        memset(&m, 0, sizeof m);
        put(l, &m, 3, 1, 100, sm_wall_ms());
        sm_plog_close(l);
    }
    seg_file(f, sizeof f, dir, 0, ".log");
    REQUIRE(truncate(f, 20) == 0);
    expect_recovered(dir, &m, 0, "empty after recovery");
}

static uint32_t rnd_state = 0x9e3779b9u;
static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}

static void test_random_index_damage(void)
{
    TEST_SECTION("random damage to index files never changes what is served (clean and unclean)");
    static model m;
    char dir[256], f[512];
    int64_t bases[256];
    sm_log_config c = small_cfg();
    for (int it = 0; it < 24; it++) {
        new_dir(dir, sizeof dir);
        build_std(dir, &m);
        int64_t end = m.last[m.n - 1] + 1;
        int n = list_segments(dir, bases, 256);
        int hits = 1 + (int)(rnd() % 3);
        for (int d = 0; d < hits; d++) {
            seg_file(f, sizeof f, dir, bases[rnd() % (uint32_t)n],
                     rnd() % 2 ? ".index" : ".timeindex");
            int64_t sz = file_size(f);
            uint32_t op = rnd() % 4;
            if (op == 0 && sz > 0) { /* a few flipped bytes */
                for (int k = 0; k < 1 + (int)(rnd() % 4); k++)
                    flip_byte(f, (int64_t)(rnd() % (uint32_t)sz));
            } else if (op == 1 && sz > 0) { /* cut anywhere */
                REQUIRE(truncate(f, (off_t)(rnd() % (uint32_t)sz)) == 0);
            } else if (op == 2 && sz > 0) { /* a zeroed range */
                int64_t at = rnd() % (uint32_t)sz, len = 1 + rnd() % 40;
                int fd = open(f, O_WRONLY);
                uint8_t z[40] = {0};
                REQUIRE(fd >= 0 && pwrite(fd, z, (size_t)(at + len > sz ? sz - at : len), at) >= 0);
                close(fd);
            } else { /* garbage appended */
                uint8_t g[40];
                for (size_t k = 0; k < sizeof g; k++)
                    g[k] = (uint8_t)rnd();
                write_file(f, g, 1 + rnd() % sizeof g, O_APPEND);
            }
        }
        sm_plog *l = open_log(dir, &c, it % 2 == 0);
        CHECK_EQ_I64(sm_plog_end_offset(l), end);
        char what[64];
        snprintf(what, sizeof what, "random index damage %d", it);
        check_reads(l, &m, what);
        CHECK_EQ_I64(put(l, &m, 2, 7000, 10, sm_wall_ms()), end);
        sm_plog_close(l);
        l = open_log(dir, &c, true);
        check_reads(l, &m, what);
        sm_plog_close(l);
    }
}

static void test_time(void)
{
    TEST_SECTION("offset_for_time is exact for uncompressed batches, timestamps out of order");
    char dir[256];
    new_dir(dir, sizeof dir);
    sm_log_config c = small_cfg();
    c.segment_bytes = 3000;
    enum { N = 120 };
    static int64_t ts[N * 8];
    int nrec = 0;
    sm_plog *l = open_log(dir, &c, true);
    for (int b = 0; b < N; b++) {
        int n = 1 + b % 7;
        bb_record recs[8];
        memset(recs, 0, sizeof recs);
        for (int i = 0; i < n; i++) {
            /* rising by 10 per record, with every 5th batch going back in time */
            int64_t t = 100000 + 10 * (nrec + i);
            if (b % 5 == 4)
                t -= 3000 + 7 * i;
            if (i == 1 && b % 3 == 0)
                t += 25; /* within a batch too */
            recs[i].timestamp = t;
            recs[i].value = "v";
            recs[i].value_len = 1;
            recs[i].key_len = -1;
            ts[nrec + i] = t;
        }
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        bb_batch(&w, NULL, recs, n);
        int64_t base;
        char err[256];
        REQUIRE(sm_plog_append(l, w.p, w.len, sm_wall_ms(), &base, err, sizeof err) == SM_OK);
        REQUIRE(base == nrec);
        nrec += n;
        sm_wbuf_release(&w);
    }
    CHECK(sm_plog_segment_count(l) > 3);
    int bad = 0;
    for (int pass = 0; pass < 4; pass++) {
        int64_t start = sm_plog_start_offset(l);
        for (int64_t target = 95000; target < 100000 + 10 * nrec + 50; target += 3) {
            int64_t want = -1, want_ts = -1;
            for (int64_t o = start; o < nrec; o++)
                if (ts[o] >= target) {
                    want = o;
                    want_ts = ts[o];
                    break;
                }
            int64_t off = -1, t = -1;
            int rc = sm_plog_offset_for_time(l, target, &off, &t);
            bool ok = want < 0 ? rc == SM_ENOENT : rc == SM_OK && off == want && t == want_ts;
            if (!ok && bad++ < 5)
                fprintf(stderr, "pass %d: time %lld: got rc %d offset %lld ts %lld, want %lld %lld\n",
                        pass, (long long)target, rc, (long long)off, (long long)t, (long long)want,
                        (long long)want_ts);
        }
        /* ListOffsets -3 */
        int64_t best = -1, best_off = -1;
        for (int64_t o = start; o < nrec; o++)
            if (ts[o] > best) {
                best = ts[o];
                best_off = o;
            }
        int64_t off, t;
        CHECK(sm_plog_max_timestamp(l, &off, &t) == SM_OK);
        CHECK_EQ_I64(off, best_off);
        CHECK_EQ_I64(t, best);
        char err[256];
        if (pass == 0) { /* again after a clean reopen: lazily loaded indexes */
            sm_plog_close(l);
            l = open_log(dir, &c, true);
        } else if (pass == 1) {
            /* after a crash that lost the tails of the time indexes of the
             * first and the last segment: rebuilt exactly */
            sm_plog_close(l);
            int64_t bases[256];
            int ns = list_segments(dir, bases, 256);
            int64_t which[2] = {bases[0], bases[ns - 1]};
            for (int w = 0; w < 2; w++) {
                char f[512];
                seg_file(f, sizeof f, dir, which[w], ".timeindex");
                int64_t sz = file_size(f);
                REQUIRE(sz >= 12 && truncate(f, sz - (sz >= 24 ? 24 : 12)) == 0);
            }
            l = open_log(dir, &c, false);
        } else if (pass == 2) { /* and with the start inside a segment, the max below it */
            CHECK(sm_plog_delete_records(l, best_off + 1, err, sizeof err) == SM_OK);
        }
    }
    CHECK(bad == 0);
    sm_plog_close(l);

    TEST_SECTION("offset_for_time on compressed batches answers the batch's first offset");
    new_dir(dir, sizeof dir);
    l = open_log(dir, &c, true);
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    bb_fake_compressed(&w, 10, 1000, 1090, 300, SM_COMP_ZSTD);
    bb_fake_compressed(&w, 10, 1100, 1190, 300, SM_COMP_LZ4);
    int64_t base, off, t;
    char err[256];
    REQUIRE(sm_plog_append(l, w.p, w.len, sm_wall_ms(), &base, err, sizeof err) == SM_OK);
    sm_wbuf_release(&w);
    CHECK(sm_plog_offset_for_time(l, 1050, &off, &t) == SM_OK && off == 0 && t == 1090);
    CHECK(sm_plog_offset_for_time(l, 1091, &off, &t) == SM_OK && off == 10 && t == 1190);
    CHECK(sm_plog_offset_for_time(l, 1191, &off, &t) == SM_ENOENT);
    CHECK(sm_plog_max_timestamp(l, &off, &t) == SM_OK && off == 10 && t == 1190);
    sm_plog_close(l);

    new_dir(dir, sizeof dir);
    l = open_log(dir, &c, true);
    CHECK(sm_plog_offset_for_time(l, 0, &off, &t) == SM_ENOENT);
    CHECK(sm_plog_max_timestamp(l, &off, &t) == SM_ENOENT);
    sm_plog_close(l);
}

static void test_refs(void)
{
    TEST_SECTION("a slice keeps a deleted segment's file readable");
    char dir[256], f[512];
    new_dir(dir, sizeof dir);
    static model m;
    build_std(dir, &m);
    sm_log_config c = small_cfg();
    sm_plog *l = open_log(dir, &c, true);
    sm_slice s;
    REQUIRE(sm_plog_read(l, 0, 1, &s) == SM_OK);
    int64_t bases[256];
    list_segments(dir, bases, 256);
    char err[256];
    CHECK(sm_plog_delete_records(l, bases[2], err, sizeof err) == SM_OK);
    seg_file(f, sizeof f, dir, 0, ".log");
    CHECK(file_size(f) < 0); /* unlinked at once */
    sm_batch_hdr h;
    CHECK(slice_batch(&s, &h) && h.base_offset == 0);
    /* the log may even be closed: the slice still holds the segment */
    sm_plog_close(l);
    CHECK(slice_batch(&s, &h) && h.base_offset == 0);
    sm_slice_release(&s);
}

static void test_slice_send(void)
{
    TEST_SECTION("sm_slice_send: a slice reaches a socket whole across partial sends");
    char dir[256], f[512];
    new_dir(dir, sizeof dir);
    sm_log_config c = small_cfg();
    c.segment_bytes = 1 << 20;
    sm_plog *l = open_log(dir, &c, true);
    put(l, NULL, 100, 1000, 2000, 1000); /* one batch of about 200 KB */
    sm_slice s;
    REQUIRE(sm_plog_read(l, 0, 1 << 20, &s) == SM_OK && s.len > 100000);
    uint8_t *want = malloc((size_t)s.len), *got = malloc((size_t)s.len);
    REQUIRE(want && got);
    REQUIRE(sm_slice_read(&s, 0, want, (size_t)s.len) == (ssize_t)s.len);

    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    REQUIRE(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
    int64_t at = 0, rcvd = 0;
    int partial = 0, full = 0, calls = 0;
    bool failed = false;
    while (rcvd < s.len && !failed && calls++ < 100000) {
        /* send until the socket is full, then drain it */
        while (at < s.len) {
            ssize_t n = sm_slice_send(&s, at, sv[0]);
            if (n > 0) {
                partial += n < s.len - at;
                at += n;
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                full++;
                break;
            }
            if (!(n < 0 && errno == EINTR)) {
                failed = true;
                break;
            }
        }
        ssize_t r;
        while ((r = recv(sv[1], got + rcvd, (size_t)(s.len - rcvd), MSG_DONTWAIT)) > 0)
            rcvd += r;
    }
    CHECK(!failed);
    CHECK_EQ_I64(at, s.len);
    CHECK_EQ_I64(rcvd, s.len);
    CHECK(partial > 0); /* the socket took less than was left */
    CHECK(full > 0);    /* and said EAGAIN when full, having sent nothing */
    CHECK(rcvd == s.len && !memcmp(got, want, (size_t)s.len));

    TEST_SECTION("sm_slice_send: 0 when the file ends before the slice does");
    seg_file(f, sizeof f, dir, 0, ".log");
    REQUIRE(truncate(f, s.len / 2) == 0);
    CHECK_EQ_I64(sm_slice_send(&s, s.len / 2, sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
    free(want);
    free(got);
    sm_slice_release(&s);
    sm_plog_close(l);
}

static void test_failed_write(void)
{
    TEST_SECTION("a failed write is undone: the log is exactly as before");
    char dir[256], f[512];
    new_dir(dir, sizeof dir);
    sm_log_config c = small_cfg();
    c.segment_bytes = 1 << 20;
    static model m;
    memset(&m, 0, sizeof m);
    sm_plog *l = open_log(dir, &c, true);
    for (int i = 0; i < 5; i++)
        put(l, &m, 5, 1000 + i, 50, sm_wall_ms());
    int64_t end = sm_plog_end_offset(l), size = sm_plog_size(l);
    seg_file(f, sizeof f, dir, 0, ".log");
    /* files may not grow past size + 100: the next write is cut short, then fails */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)(size + 100);
    REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    bb_simple(&w, 20, 2000, 1, 100);
    int64_t base = -1;
    char err[256];
    int rc = sm_plog_append(l, w.p, w.len, sm_wall_ms(), &base, err, sizeof err);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK(rc == SM_EIO);
    CHECK_EQ_I64(sm_plog_end_offset(l), end);
    CHECK_EQ_I64(sm_plog_size(l), size);
    CHECK_EQ_I64(file_size(f), size);
    check_reads(l, &m, "after a failed write");
    /* and the log goes on */
    CHECK_EQ_I64(put(l, &m, 5, 3000, 50, sm_wall_ms()), end);
    check_reads(l, &m, "after recovery from a failed write");
    sm_wbuf_release(&w);
    sm_plog_close(l);
    l = open_log(dir, &c, false);
    CHECK_EQ_I64(sm_plog_end_offset(l), end + 5);
    sm_plog_close(l);
}

static void test_delete(void)
{
    TEST_SECTION("sm_plog_delete removes the directory");
    char dir[256];
    new_dir(dir, sizeof dir);
    static model m;
    build_std(dir, &m);
    sm_log_config c = small_cfg();
    sm_plog *l = open_log(dir, &c, true);
    sm_slice s;
    REQUIRE(sm_plog_read(l, 0, 100, &s) == SM_OK);
    char err[256];
    CHECK(sm_plog_delete(l, err, sizeof err) == SM_OK);
    struct stat st;
    CHECK(stat(dir, &st) != 0 && errno == ENOENT);
    sm_batch_hdr h;
    CHECK(slice_batch(&s, &h) && h.base_offset == 0);
    sm_slice_release(&s);
}

/* A batch appended after the recovery point whose header lies in one field
 * (what a torn or misdirected write leaves): recovery cuts the log there,
 * whichever field it is, and everything before it stays. A batch larger
 * than the recovery read window (1 MiB) after the recovery point is checked
 * whole and kept. A stray file where a roll creates its next segment is
 * replaced. */
static void test_damaged_tail_headers(void)
{
    static model m;
    char dir[256], f[512];
    static const char *const kinds[] = {"BatchLength shorter than a header", "a negative LastOffsetDelta",
                                        "a BaseOffset out of range", "the BaseOffset of the batch before"};
    for (int kind = 0; kind < 4; kind++) {
        char name[128];
        snprintf(name, sizeof name, "recovery: an unsynced tail batch with %s", kinds[kind]);
        TEST_SECTION(name);
        new_dir(dir, sizeof dir);
        build_std(dir, &m);
        int64_t end = m.last[m.n - 1] + 1;
        int last = m.n - 1;
        seg_file(f, sizeof f, dir, seg_of(dir, &m, last), ".log");
        /* positions: check_reads in build_std filled them */
        REQUIRE(m.pos[last] >= 0);
        uint8_t *b = malloc((size_t)m.size[last]);
        int fd = open(f, O_RDONLY);
        REQUIRE(fd >= 0 && pread(fd, b, (size_t)m.size[last], m.pos[last]) == m.size[last]);
        close(fd);
        if (kind == 0) {
            sm_put_be32(b + 8, 40);
        } else if (kind == 1) {
            sm_put_be32(b + 23, (uint32_t)-2);
        } else if (kind == 2) {
            sm_put_be64(b + 0, (uint64_t)INT64_MAX - 1);
        } else {
            sm_put_be64(b + 0, (uint64_t)m.base[last]); /* a replay of the last batch */
        }
        write_file(f, b, (size_t)m.size[last], O_APPEND);
        free(b);
        expect_recovered(dir, &m, end, kinds[kind]);
    }

    TEST_SECTION("recovery: a 1.5 MB batch after the recovery point is checked whole and kept");
    new_dir(dir, sizeof dir);
    sm_log_config c = small_cfg();
    c.segment_bytes = 8 << 20;
    memset(&m, 0, sizeof m);
    sm_plog *l = open_log(dir, &c, true);
    char err[256];
    put(l, &m, 3, 1000, 100, sm_wall_ms());
    CHECK(sm_plog_sync(l, err, sizeof err) == SM_OK);
    put(l, &m, 3, 2000, 500000, sm_wall_ms()); /* about 1.5 MB, not synced */
    put(l, &m, 2, 3000, 10, sm_wall_ms());
    sm_plog_close(l);
    l = open_log(dir, &c, false);
    CHECK_EQ_I64(sm_plog_end_offset(l), 8);
    check_reads(l, &m, "big batch");
    sm_plog_close(l);

    TEST_SECTION("a stray file where a roll creates the next segment is replaced");
    new_dir(dir, sizeof dir);
    c = small_cfg();
    memset(&m, 0, sizeof m);
    l = open_log(dir, &c, true);
    int segs = sm_plog_segment_count(l);
    int64_t next = 0;
    /* fill the active segment to just under its size, then put a stray where the roll goes */
    while (sm_plog_segment_count(l) == segs) {
        next = sm_plog_end_offset(l);
        put(l, &m, 2, 4000 + next, 300, sm_wall_ms());
    }
    /* the roll happened at the last put; do it again with a stray in the way */
    segs = sm_plog_segment_count(l);
    next = sm_plog_end_offset(l);
    int guard = 0;
    int64_t stray_at = -1;
    while (sm_plog_segment_count(l) == segs && guard++ < 1000) {
        int64_t e = sm_plog_end_offset(l);
        if (stray_at < 0) {
            /* the next roll starts a segment at the end offset of the append that overflows;
             * put strays at the next few offsets so one of them is in the way */
            for (int k = 0; k < 60; k++) {
                seg_file(f, sizeof f, dir, e + k, ".log");
                write_file(f, "stray", 5, O_TRUNC);
            }
            stray_at = e;
        }
        put(l, &m, 2, 5000 + e, 300, sm_wall_ms());
    }
    CHECK(sm_plog_segment_count(l) == segs + 1);
    check_reads(l, &m, "after replacing a stray");
    sm_plog_close(l);
    l = open_log(dir, &c, true);
    check_reads(l, &m, "reopened");
    sm_plog_close(l);
}

/* The descriptor this process has open on path, or -1 (from /proc/self/fd). */
static int fd_of(const char *path)
{
    DIR *d = opendir("/proc/self/fd");
    REQUIRE(d != NULL);
    struct dirent *e;
    int found = -1;
    while ((e = readdir(d)) != NULL) {
        char link[300], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0) {
            target[n] = 0;
            if (!strcmp(target, path))
                found = atoi(e->d_name);
        }
    }
    closedir(d);
    return found;
}

/* From now on every write through fd fails (EBADF): its file is replaced by
 * /dev/null opened read-only under the same number. */
static void break_writes(int fd)
{
    int ro = open("/dev/null", O_RDONLY);
    REQUIRE(ro >= 0 && dup2(ro, fd) == fd);
    close(ro);
}

/* Index files that cannot be written: reads stay right (the index is kept
 * in memory), the roll removes the stale files rather than leave them to be
 * trusted, and the next open rebuilds them from the log. */
static void test_index_write_failure(void)
{
    TEST_SECTION("index writes failing: reads right, stale files removed at the roll, rebuilt at the next open");
    static model m;
    char dir[256], f[512], real[PATH_MAX];
    new_dir(dir, sizeof dir);
    sm_log_config c = small_cfg();
    memset(&m, 0, sizeof m);
    sm_plog *l = open_log(dir, &c, true);
    for (int i = 0; i < 5; i++)
        put(l, &m, 3, 100 + i, 40, sm_wall_ms());
    const char *exts[] = {".index", ".timeindex"};
    for (int e = 0; e < 2; e++) {
        seg_file(f, sizeof f, dir, 0, exts[e]);
        REQUIRE(realpath(f, real) != NULL);
        int fd = fd_of(real);
        REQUIRE(fd >= 0);
        break_writes(fd);
    }
    int segs = sm_plog_segment_count(l);
    while (sm_plog_segment_count(l) == segs)
        put(l, &m, 3, 200 + m.n, 40, sm_wall_ms());
    put(l, &m, 2, 900, 40, sm_wall_ms());
    check_reads(l, &m, "index writes failing");
    seg_file(f, sizeof f, dir, 0, ".index");
    CHECK(file_size(f) < 0); /* removed at the roll: a stale index is never trusted */
    seg_file(f, sizeof f, dir, 0, ".timeindex");
    CHECK(file_size(f) < 0);
    char err[256];
    CHECK(sm_plog_sync(l, err, sizeof err) == SM_OK);
    sm_plog_close(l);
    l = open_log(dir, &c, true);
    check_reads(l, &m, "reopened: rebuilt");
    sm_plog_close(l);
    seg_file(f, sizeof f, dir, 0, ".index");
    CHECK(file_size(f) > 0); /* rebuilt from the log and written */
    l = open_log(dir, &c, false);
    check_reads(l, &m, "reopened unclean");
    sm_plog_close(l);

    TEST_SECTION("a .log write that fails and cannot be taken back, an fdatasync that fails: the log goes offline");
    for (int kind = 0; kind < 2; kind++) {
        new_dir(dir, sizeof dir);
        c = small_cfg();
        memset(&m, 0, sizeof m);
        l = open_log(dir, &c, true);
        for (int i = 0; i < 3; i++)
            put(l, &m, 3, 100 + i, 40, sm_wall_ms());
        int64_t end = sm_plog_end_offset(l);
        seg_file(f, sizeof f, dir, 0, ".log");
        int64_t size = file_size(f);
        REQUIRE(realpath(f, real) != NULL);
        int fd = fd_of(real);
        REQUIRE(fd >= 0);
        break_writes(fd);
        int64_t base = -1;
        if (kind == 0) {
            sm_wbuf w;
            sm_wbuf_init(&w, 0);
            bb_simple(&w, 2, 500, 1, 10);
            CHECK(sm_plog_append(l, w.p, w.len, sm_wall_ms(), &base, err, sizeof err) == SM_EIO);
            sm_wbuf_release(&w);
            const char *why = sm_plog_offline(l);
            CHECK(why && strstr(why, "cannot truncate back") && strstr(why, real));
        } else {
            CHECK(sm_plog_sync(l, err, sizeof err) == SM_EIO);
            const char *why = sm_plog_offline(l);
            CHECK(why && strstr(why, "fdatasync of") && strstr(why, real));
        }
        sm_slice sl;
        CHECK(sm_plog_read(l, 0, 100, &sl) == SM_EIO); /* offline: nothing served */
        CHECK_EQ_I64(sm_plog_end_offset(l), end);
        sm_plog_close(l);
        CHECK_EQ_I64(file_size(f), size); /* the file as it was */
        l = open_log(dir, &c, false);
        CHECK(sm_plog_offline(l) == NULL);
        CHECK_EQ_I64(sm_plog_end_offset(l), end);
        check_reads(l, &m, kind ? "after a failed fdatasync, reopened" : "after a failed write, reopened");
        sm_plog_close(l);
    }

    TEST_SECTION("a damaged log-start-offset-checkpoint: the log start offset is the first segment's");
    static const char *const damage[] = {"1\n7\n", "0\nseven\n", "0\n99999999999999999999\n", "0\n7\njunk",
                                         "0\n7", ""};
    for (int k = 0; k < 7; k++) {
        new_dir(dir, sizeof dir);
        memset(&m, 0, sizeof m);
        c = small_cfg();
        l = open_log(dir, &c, true);
        for (int i = 0; i < 4; i++)
            put(l, &m, 3, 100 + i, 40, sm_wall_ms());
        CHECK(sm_plog_delete_records(l, 7, err, sizeof err) == SM_OK);
        CHECK_EQ_I64(sm_plog_start_offset(l), 7);
        sm_plog_close(l);
        snprintf(f, sizeof f, "%s/log-start-offset-checkpoint", dir);
        if (k < 6) {
            write_file(f, damage[k], strlen(damage[k]), O_TRUNC);
        } else { /* not a file at all */
            REQUIRE(unlink(f) == 0 && mkdir(f, 0755) == 0);
        }
        l = open_log(dir, &c, true);
        CHECK_EQ_I64(sm_plog_start_offset(l), 0);
        CHECK_EQ_I64(sm_plog_end_offset(l), 12);
        sm_plog_close(l);
        if (k == 6)
            rmdir(f);
    }

    TEST_SECTION("a recovery point unreadable, damaged or not a file: every batch checked, nothing lost");
    for (int k = 0; k < 3; k++) {
        new_dir(dir, sizeof dir);
        build_std(dir, &m);
        int64_t end = m.last[m.n - 1] + 1;
        snprintf(f, sizeof f, "%s/recovery-point-checkpoint", dir);
        if (k == 0) {
            write_file(f, "0\n12", 4, O_TRUNC); /* cut short */
        } else if (k == 1) {
            char junk[54];
            memset(junk, '7', 53); /* the right size, nothing right in it */
            write_file(f, junk, 53, O_TRUNC);
        } else {
            REQUIRE(unlink(f) == 0 && mkdir(f, 0755) == 0);
        }
        expect_recovered(dir, &m, end, k == 0 ? "recovery point cut short" : k == 1 ? "recovery point damaged"
                                                                                 : "recovery point a directory");
        if (k == 2)
            rmdir(f);
    }

    TEST_SECTION("log directory names: a trailing slash, a relative path; a file in the way");
    new_dir(dir, sizeof dir);
    char slashed[300];
    snprintf(slashed, sizeof slashed, "%s//", dir);
    memset(&m, 0, sizeof m);
    l = open_log(slashed, &c, true);
    put(l, &m, 2, 100, 10, sm_wall_ms());
    CHECK(sm_plog_sync(l, err, sizeof err) == SM_OK);
    CHECK(!strcmp(sm_plog_dir(l), dir));
    sm_plog_close(l);
    char cwd[PATH_MAX];
    REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
    REQUIRE(chdir(root) == 0);
    l = open_log(strrchr(dir, '/') + 1, &c, true); /* relative: its parent is "." */
    check_reads(l, &m, "opened by a relative name");
    CHECK(sm_plog_sync(l, err, sizeof err) == SM_OK);
    sm_plog_close(l);
    REQUIRE(chdir(cwd) == 0);
    snprintf(f, sizeof f, "%s/a-file", root);
    write_file(f, "x", 1, O_TRUNC);
    sm_plog *bad = NULL;
    CHECK(sm_plog_open(&bad, f, &c, true, err, sizeof err) == SM_EIO && !bad);
    CHECK(strstr(err, f) && strstr(err, "Not a directory"));

    TEST_SECTION("a segment cut short behind the log's back: reads there refused, the log offline, naming it");
    new_dir(dir, sizeof dir);
    build_std(dir, &m);
    l = open_log(dir, &c, true);
    int64_t bases[256];
    list_segments(dir, bases, 256);
    seg_file(f, sizeof f, dir, bases[0], ".log");
    int victim = 10;
    REQUIRE(model_find(&m, bases[1]) > victim + 2);
    REQUIRE(truncate(f, m.pos[victim] + 20) == 0); /* someone else cut the file */
    sm_slice sl;
    CHECK(sm_plog_read(l, m.base[victim - 3], 1, &sl) == SM_OK);
    sm_slice_release(&sl);
    int rc = sm_plog_read(l, m.base[victim + 1], 1, &sl);
    CHECK(rc == SM_ECORRUPT || rc == SM_EIO);
    const char *why = sm_plog_offline(l);
    CHECK(why != NULL && strstr(why, f) != NULL);
    if (why)
        printf("   offline: %s\n", why);
    CHECK(sm_plog_read(l, m.base[victim - 3], 1, &sl) == SM_EIO);
    sm_plog_close(l);
}

int main(void)
{
    sm_log_set_level(SM_LOG_WARN);
    snprintf(root, sizeof root, "/tmp/samsa-test-log-XXXXXX");
    REQUIRE(mkdtemp(root) != NULL);
    test_round_trip();
    test_every_offset();
    test_roll();
    test_retention();
    test_delete_records();
    test_recovery();
    test_random_index_damage();
    test_time();
    test_refs();
    test_slice_send();
    test_failed_write();
    test_delete();
    test_damaged_tail_headers();
    test_index_write_failure();
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_report("test_log");
}
