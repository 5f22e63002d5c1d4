#!/usr/bin/python3
"""lossyfs's own test: a power cut keeps exactly what was made durable.

Each test mounts lossyfs on a fresh temp dir, does file operations through
the mount with and without fsync (os.fsync on the file, on the directory),
reads them back live (every write is visible before the cut), cuts the
power (SIGUSR1), mounts again and checks what is left against the rules in
lossyfs.c's header:
  - a file's bytes and size are durable once it is fsynced (fdatasync too),
  - a directory's entries once it is fsynced; the two are independent,
  - rename, unlink, mkdir, truncate and overwrites are undone by a cut
    unless synced; a clean unmount keeps everything.
And lossyfs's report of what it discarded matches what was not synced.

Usage: test_lossyfs.py --lossyfs BIN   (skips when lossyfs was not built or
FUSE cannot mount: the reason is printed)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lossyfs import LossyFS, lossyfs_binary  # noqa: E402
from harness import check, check_eq, run_tests  # noqa: E402


class Mounted:
    """A fresh lossyfs for one test."""

    def __init__(self):
        self.fs = LossyFS(BIN)

    def __enter__(self):
        self.fs.mount()
        return self.fs

    def __exit__(self, *exc):
        if exc[0] is not None:
            print("lossyfs log:\n" + self.fs.log_tail(), flush=True)
        reports = self.fs.sanitizer_reports()
        self.fs.cleanup()
        if exc[0] is None:
            check_eq(reports, [], "lossyfs logged no sanitizer report")
        return False


def p(fs, *names):
    return os.path.join(fs.mnt, *names)


def write(path, data, sync=False, mode="wb", datasync=False):
    with open(path, mode) as f:
        f.write(data)
        f.flush()
        if sync:
            (os.fdatasync if datasync else os.fsync)(f.fileno())


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def cut_and_remount(fs):
    r = fs.cut()
    print("  cut: %s" % r, flush=True)
    fs.mount()
    return r


def test_unsynced_write_is_lost():
    with Mounted() as fs:
        a = p(fs, "a")
        write(a, b"durable", sync=True)
        fsync_dir(fs.mnt)
        write(a, b" and then some", mode="ab")
        check_eq(read(a), b"durable and then some", "live: the unsynced append is read back before the cut")
        r = cut_and_remount(fs)
        check_eq(read(a), b"durable", "after the cut: only the fsynced bytes")
        check_eq((r["files"], r["bytes"], r["dirs"]), (1, 14, 0),
                 "the report: one file with 14 unsynced bytes, no directory change")
        write(a, b"!", mode="ab", sync=True, datasync=True)
        r = cut_and_remount(fs)
        check_eq(read(a), b"durable!", "fdatasync makes an append durable as fsync does")
        check_eq((r["files"], r["bytes"], r["dirs"]), (0, 0, 0), "the report: nothing discarded")


def test_file_and_directory_are_separate():
    with Mounted() as fs:
        write(p(fs, "synced-file-only"), b"x" * 10, sync=True)
        write(p(fs, "dir-only"), b"y" * 10)
        fsync_dir(fs.mnt)
        write(p(fs, "both"), b"z" * 10, sync=True)
        fsync_dir(fs.mnt)
        write(p(fs, "neither"), b"w" * 10)
        check_eq(sorted(os.listdir(fs.mnt)), ["both", "dir-only", "neither", "synced-file-only"],
                 "live: four files listed")
        r = cut_and_remount(fs)
        check_eq(read(p(fs, "both")), b"z" * 10, "a file and its directory fsynced: all there")
        check_eq(read(p(fs, "dir-only")), b"", "directory fsynced but not the file: the name, empty")
        check_eq(read(p(fs, "synced-file-only")), b"x" * 10,
                 "a file fsynced before its directory was: there (the directory sync came later)")
        check_eq(read(p(fs, "neither")), None, "neither fsynced: gone")
        check_eq((r["files"], r["dirs"]), (2, 1), "the report: 2 files with unsynced bytes, 1 directory")

        write(p(fs, "late"), b"v" * 10, sync=True)
        cut_and_remount(fs)
        check_eq(read(p(fs, "late")), None, "a file fsynced, its directory never after its creation: gone")


def test_overwrite_and_truncate():
    with Mounted() as fs:
        f = p(fs, "f")
        write(f, bytes(range(256)) * 64, sync=True)       # 16 KiB
        fsync_dir(fs.mnt)
        with open(f, "r+b") as h:
            h.seek(1000)
            h.write(b"X" * 100)
        os.truncate(f, 5000)
        check_eq(os.path.getsize(f), 5000, "live: truncated to 5000")
        cut_and_remount(fs)
        check_eq(read(f), bytes(range(256)) * 64, "overwrite and truncate, unsynced: the old 16 KiB, byte for byte")

        # truncate to 0 then write far out: the gap must read as zeros
        with open(f, "r+b") as h:
            h.truncate(0)
            h.seek(3 << 20)           # past the 1 MiB copy buffer, three times
            h.write(b"tail")
            h.flush()
            os.fsync(h.fileno())
        cut_and_remount(fs)
        data = read(f)
        check_eq((len(data), data[-4:], data[:-4].count(0)), ((3 << 20) + 4, b"tail", 3 << 20),
                 "truncate to 0 and a write at 3 MiB, fsynced: 3 MiB of zeros then the write")

        with open(f, "r+b") as h:
            h.truncate(10)
            os.fsync(h.fileno())
            h.truncate(20)
        cut_and_remount(fs)
        check_eq(read(f), b"\0" * 10, "truncated to 10 and fsynced, then extended unsynced: 10 zero bytes")


def test_rename_and_unlink():
    with Mounted() as fs:
        final, tmp = p(fs, "final"), p(fs, "final.tmp")
        write(final, b"old", sync=True)
        write(p(fs, "doomed"), b"still here", sync=True)
        fsync_dir(fs.mnt)

        write(tmp, b"new", sync=True)
        os.rename(tmp, final)
        os.unlink(p(fs, "doomed"))
        check_eq((read(final), read(p(fs, "doomed"))), (b"new", None), "live: renamed over, unlinked")
        r = cut_and_remount(fs)
        check_eq(read(final), b"old", "rename over a file without a directory fsync: the old file, old contents")
        check_eq(read(tmp), None, "the temp name was never made durable: gone")
        check_eq(read(p(fs, "doomed")), b"still here", "unlink without a directory fsync: the file is back, whole")
        check_eq(r["dirs"], 1, "the report: one directory with unsynced entries")

        write(tmp, b"new", sync=True)
        fsync_dir(fs.mnt)
        os.rename(tmp, final)
        os.unlink(p(fs, "doomed"))
        fsync_dir(fs.mnt)
        cut_and_remount(fs)
        check_eq((read(final), read(tmp), read(p(fs, "doomed"))), (b"new", None, None),
                 "tmp + fsync + rename + directory fsync: the new contents under the final name, unlink kept")

        # a file opened, unlinked and still written: no name comes back
        h = open(p(fs, "ghost"), "wb")
        fsync_dir(fs.mnt)
        os.unlink(p(fs, "ghost"))
        fsync_dir(fs.mnt)
        h.write(b"boo")
        h.flush()
        os.fsync(h.fileno())
        h.close()
        cut_and_remount(fs)
        check_eq(read(p(fs, "ghost")), None, "an unlinked file written and fsynced through its descriptor: no name")


def test_directories():
    with Mounted() as fs:
        os.mkdir(p(fs, "lost"))
        write(p(fs, "lost", "f"), b"1", sync=True)
        fsync_dir(p(fs, "lost"))
        cut_and_remount(fs)
        check(not os.path.exists(p(fs, "lost")), "mkdir without an fsync of the parent: gone with what it held")

        os.mkdir(p(fs, "kept"))
        fsync_dir(fs.mnt)
        write(p(fs, "kept", "f"), b"1", sync=True)
        os.mkdir(p(fs, "kept", "sub"))
        cut_and_remount(fs)
        check_eq(os.listdir(p(fs, "kept")), [], "mkdir + parent fsync: there, but empty until it is fsynced itself")

        write(p(fs, "kept", "f"), b"1", sync=True)
        os.mkdir(p(fs, "kept", "sub"))
        write(p(fs, "kept", "sub", "g"), b"2", sync=True)
        fsync_dir(p(fs, "kept", "sub"))
        fsync_dir(p(fs, "kept"))
        os.rename(p(fs, "kept"), p(fs, "kept-delete"))     # as a topic deletion does
        cut_and_remount(fs)
        check_eq((read(p(fs, "kept", "f")), read(p(fs, "kept", "sub", "g")), os.path.exists(p(fs, "kept-delete"))),
                 (b"1", b"2", False), "a tree fsynced bottom-up is whole; its unsynced rename undone")

        # rename across directories, only the target fsynced: both names, one inode
        os.mkdir(p(fs, "to"))
        fsync_dir(fs.mnt)
        os.rename(p(fs, "kept", "f"), p(fs, "to", "f"))
        fsync_dir(p(fs, "to"))
        r = cut_and_remount(fs)
        a, b = p(fs, "kept", "f"), p(fs, "to", "f")
        check_eq((read(a), read(b), os.stat(a).st_ino == os.stat(b).st_ino), (b"1", b"1", True),
                 "a rename across directories with only the target fsynced: both names, linked to one file")
        check_eq(r["dropped"], 0, "no directory reached twice")
        os.unlink(a)
        fsync_dir(p(fs, "kept"))
        write(b, b"+", mode="ab", sync=True)
        cut_and_remount(fs)
        check_eq((read(a), read(b)), (None, b"1+"), "one of the two names unlinked (durably): the other keeps the file")


def test_clean_unmount_keeps_all():
    with Mounted() as fs:
        os.mkdir(p(fs, "d"))
        write(p(fs, "d", "f"), b"never synced")
        os.rename(p(fs, "d", "f"), p(fs, "d", "g"))
        check_eq(fs.unmount(), 0, "a clean unmount (SIGTERM) exits 0")
        check_eq(read(os.path.join(fs.backing, "d", "g")), b"never synced",
                 "a clean unmount keeps unsynced data (a clean shutdown)")
        fs.mount()
        r = cut_and_remount(fs)
        check_eq((read(p(fs, "d", "g")), r["files"], r["dirs"]), (b"never synced", 0, 0),
                 "what was there at mount is durable: a cut right after keeps it")


def main():
    global BIN
    BIN = lossyfs_binary()
    return run_tests([test_unsynced_write_is_lost, test_file_and_directory_are_separate, test_overwrite_and_truncate,
                      test_rename_and_unlink, test_directories, test_clean_unmount_keeps_all])


if __name__ == "__main__":
    sys.exit(main())
