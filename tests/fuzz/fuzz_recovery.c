/* fuzz_recovery.c: a fuzz target for opening a partition log from whatever
 * a crash (or a bad disk) left on disk.
 *
 * Input: Flags uint8 | IndexLength uint16 | CheckpointLength uint16 |
 * IndexLength bytes of `.index` | CheckpointLength bytes of
 * `recovery-point-checkpoint` | the rest: the `.log` of the segment at base
 * offset 0 (or 100 with flag 2). These files are written into an empty
 * partition directory (a missing .index when its length is 0, no checkpoint
 * when its length is 0), then sm_plog_open runs, unclean (after a crash)
 * unless flag 1 asks for a clean open; when it opens, the log is read at its
 * start, middle and end and searched by time, then closed. Whatever the
 * bytes, that must end in SM_OK or an error, never in a crash, a leak or a
 * sanitizer report. Built with clang -fsanitize=fuzzer (SAMSA_FUZZ=ON) and
 * replayed over its corpus (tests/fuzz/corpus-recovery) in ctest. */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "storage/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char top_dir[4000], part_dir[4096];

static void clear_dir(void);

static void teardown(void)
{
    clear_dir();
    rmdir(part_dir);
    rmdir(top_dir);
}

static bool setup(void)
{
    if (part_dir[0])
        return true;
    /* $TMPDIR (run_libfuzzer.sh points it at a directory it removes), else
     * /dev/shm: a file system in memory keeps the runs fast */
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(top_dir, sizeof top_dir, "%s/samsa-fuzz-recovery-XXXXXX", base);
    if (!mkdtemp(top_dir))
        return false;
    snprintf(part_dir, sizeof part_dir, "%s/t-0", top_dir);
    if (mkdir(part_dir, 0755) != 0)
        return false;
    atexit(teardown); /* libFuzzer ends a timed run with exit() */
    sm_log_set_level((sm_log_level)(SM_LOG_ERROR + 1)); /* recovery reports every damage it finds: quiet */
    return true;
}

static void clear_dir(void)
{
    DIR *d = opendir(part_dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' || (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")))
            unlinkat(dirfd(d), de->d_name, 0);
    closedir(d);
}

static void put(const char *name, const uint8_t *p, size_t len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", part_dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        abort(); /* the harness's own failure, not the input's */
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w <= 0)
            abort();
        p += w;
        len -= (size_t)w;
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5 || !setup())
        return 0;
    uint8_t flags = data[0];
    size_t ilen = sm_be16(data + 1), clen = sm_be16(data + 3);
    data += 5;
    size -= 5;
    if (ilen > size)
        ilen = size;
    const uint8_t *index = data;
    data += ilen;
    size -= ilen;
    if (clen > size)
        clen = size;
    const uint8_t *ckpt = data;
    data += clen;
    size -= clen;

    clear_dir();
    const char *seg = (flags & 2) ? "00000000000000000100" : "00000000000000000000";
    char name[64];
    snprintf(name, sizeof name, "%s.log", seg);
    put(name, data, size);
    if (ilen) {
        snprintf(name, sizeof name, "%s.index", seg);
        put(name, index, ilen);
    }
    if (clen)
        put("recovery-point-checkpoint", ckpt, clen);

    sm_log_config cfg;
    sm_log_config_default(&cfg);
    cfg.segment_bytes = 1 << 20;
    sm_plog *l = NULL;
    char err[512];
    if (sm_plog_open(&l, part_dir, &cfg, (flags & 1) != 0, err, sizeof err) == 0 && l) {
        int64_t start = sm_plog_start_offset(l), end = sm_plog_end_offset(l);
        int64_t at[] = {start, start + (end - start) / 2, end > start ? end - 1 : start, end};
        for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
            sm_slice s;
            memset(&s, 0, sizeof s);
            s.fd = -1;
            if (sm_plog_read(l, at[i], 1 << 16, &s) == 0)
                sm_slice_release(&s);
        }
        int64_t off, ts;
        (void)sm_plog_offset_for_time(l, 0, &off, &ts);
        (void)sm_plog_offset_for_time(l, INT64_MAX, &off, &ts);
        sm_plog_close(l);
    }
    return 0;
}
