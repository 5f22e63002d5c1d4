/* lossyfs: a test-only FUSE file system that loses, on command, everything
 * not yet made durable, the state a power cut leaves (after the idea of
 * Jepsen's LazyFS; written here from scratch).
 *
 *   lossyfs [-d] BACKING MOUNTPOINT STATE
 *
 * BACKING is the directory served at MOUNTPOINT; STATE is a directory of
 * lossyfs's own on the same file system as BACKING (it holds the durable
 * image). lossyfs runs in the foreground, single-threaded, and prints
 * "lossyfs: mounted ..." once the mount is up.
 *   SIGTERM, SIGINT, `fusermount3 -u`: a clean unmount; BACKING keeps
 *       everything (a clean shutdown loses nothing).
 *   SIGUSR1: a power cut. lossyfs unmounts, rebuilds BACKING from the
 *       durable image alone, prints what it discarded ("lossyfs: power cut:
 *       ...") and exits 0. Mount it again to "reboot".
 * Exit codes: 0 after an unmount (clean or cut), 3 when the kernel refused
 * the mount (no /dev/fuse, no permission: the reason is printed), 1 on any
 * other failure, 2 on bad usage.
 *
 * The one idea: the live view is the backing directory itself (every
 * operation passes straight through, so reads always see the latest
 * writes), and a second, durable image is kept beside it in STATE and
 * advanced only by fsync. A cut replaces the live tree by the durable one.
 *
 * What "durable" means here, as POSIX promises it and no more:
 *  - A file (an inode) has durable contents: its bytes and its size. They
 *    become the file's live contents, all of them, when fsync(2) or
 *    fdatasync(2) returns success on any descriptor of that file. write,
 *    pwrite, truncate, ftruncate and open(O_TRUNC) change only the live
 *    contents. close(2) makes nothing durable. A file created and never
 *    fsynced has empty durable contents.
 *  - A directory has durable entries: the set of (name -> inode) links in
 *    it. They become its live entries when fsync(2) returns success on a
 *    descriptor of that directory. create, mkdir, unlink, rmdir and rename
 *    change only the live entries. So a new file needs an fsync of itself
 *    (its bytes) and of its directory (its name); a rename is durable in
 *    the target directory once that is fsynced and gone from the source
 *    directory once that is; unlinking is undone by a cut unless the
 *    directory was fsynced after it. A durable entry names an inode, and
 *    after a cut that inode holds its own durable contents, whatever its
 *    name: a file renamed over another and not yet made durable in its
 *    directory leaves the old file, with the old file's synced contents.
 *  - A rename across two directories of which only one was fsynced can
 *    leave both names (linked to one inode) or neither: each directory is
 *    judged alone. A directory reached twice through durable entries is
 *    rebuilt once (the second name is dropped and reported).
 *  - What a cut keeps is exactly the durable image: no torn writes, no
 *    writes reordered or partly kept. Unsynced data is lost whole, which
 *    is the harshest outcome a disk is allowed, not the only one.
 *  - Not modelled: sync(2) and syncfs(2) never reach a FUSE file system, so
 *    here they make nothing durable (stricter than a disk); O_SYNC and
 *    O_DSYNC writes are durable only through the fsync the kernel sends for
 *    them; modes, owners and times are not part of the durable image (a
 *    rebuilt file gets its last live mode); only regular files and
 *    directories exist (symlink, link and mknod fail with ENOSYS); lossyfs
 *    never syncs BACKING itself, the host's disk is not the subject.
 *  - Files open when the cut comes (their process must be dead by then)
 *    do not matter: the mount is gone before the rebuild.
 *
 * How: each inode gets a node (keyed by its backing inode number while it
 * is linked live). A file node's durable contents are a file in
 * STATE/data/<node id>; writes and truncations widen the node's dirty
 * range, and fsync copies that range from the live file into the durable
 * copy and sets its size. A directory node keeps its durable entries as a
 * list of (name, node), replaced by a read of the live directory at each
 * fsync. At mount everything in BACKING is durable (it is what the last
 * cut left, or a fresh directory): every file is copied into STATE. */
#define FUSE_USE_VERSION 31
#include <fuse.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

#define LFS_END INT64_MAX /* a dirty range reaching to the end of the file */
#define LFS_BUCKETS 4096

typedef struct lfs_node lfs_node;

typedef struct {
    char *name;
    lfs_node *node;
} lfs_entry;

struct lfs_node {
    uint64_t id;
    bool dir;
    bool live;     /* linked in the live tree, so in the inode table */
    ino_t ino;     /* its backing inode number while live */
    mode_t mode;   /* the permission bits a rebuild gives it */
    /* a file: the live bytes [lo, hi) may differ from the durable copy */
    bool dirty;
    int64_t lo, hi;
    /* a directory: its durable entries */
    lfs_entry *ents;
    size_t n_ents;
    unsigned visit; /* rebuild generation that reached it */
    lfs_node *hnext; /* inode table chain */
    lfs_node *next;  /* every node, for freeing */
};

typedef struct {
    int fd;
    lfs_node *node;
} lfs_handle;

static struct {
    int root_fd;  /* BACKING */
    int state_fd; /* STATE */
    int data_fd;  /* STATE/data */
    const char *backing, *state;
    lfs_node *table[LFS_BUCKETS];
    lfs_node *all;
    lfs_node *root;
    uint64_t next_id;
    unsigned visit;
    struct fuse *fuse;
    bool mounting; /* taking the first durable image */
    volatile sig_atomic_t cut;
} lfs;

/* ---- nodes ---------------------------------------------------------------------- */

static lfs_node *lfs_lookup(ino_t ino)
{
    for (lfs_node *n = lfs.table[ino % LFS_BUCKETS]; n; n = n->hnext)
        if (n->ino == ino)
            return n;
    return NULL;
}

static void lfs_unlink_live(lfs_node *n)
{
    if (!n || !n->live)
        return;
    lfs_node **pp = &lfs.table[n->ino % LFS_BUCKETS];
    while (*pp && *pp != n)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = n->hnext;
    n->hnext = NULL;
    n->live = false;
}

static void lfs_data_name(const lfs_node *n, char *buf, size_t len)
{
    snprintf(buf, len, "%llu", (unsigned long long)n->id);
}

/* A node for the live inode described by st. A file gets an empty durable
 * copy: what a file created and never fsynced holds after a cut. */
static lfs_node *lfs_node_new(const struct stat *st)
{
    lfs_node *old = lfs_lookup(st->st_ino);
    if (old)
        lfs_unlink_live(old); /* a stale entry: its inode number was reused */
    lfs_node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->id = ++lfs.next_id;
    n->dir = S_ISDIR(st->st_mode);
    n->ino = st->st_ino;
    n->mode = st->st_mode & 07777;
    if (!n->dir) {
        char name[32];
        lfs_data_name(n, name, sizeof name);
        int fd = openat(lfs.data_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            free(n);
            return NULL;
        }
        close(fd);
    }
    n->live = true;
    n->hnext = lfs.table[n->ino % LFS_BUCKETS];
    lfs.table[n->ino % LFS_BUCKETS] = n;
    n->next = lfs.all;
    lfs.all = n;
    return n;
}

static void lfs_mark(lfs_node *n, int64_t lo, int64_t hi)
{
    if (!n || n->dir || hi <= lo)
        return;
    if (!n->dirty) {
        n->dirty = true;
        n->lo = lo;
        n->hi = hi;
        return;
    }
    if (lo < n->lo)
        n->lo = lo;
    if (hi > n->hi)
        n->hi = hi;
}

static void lfs_free_entries(lfs_node *d)
{
    for (size_t i = 0; i < d->n_ents; i++)
        free(d->ents[i].name);
    free(d->ents);
    d->ents = NULL;
    d->n_ents = 0;
}

static int copy_range(int from, int to, int64_t lo, int64_t hi)
{
    static char buf[1 << 20];
    while (lo < hi) {
        size_t want = (size_t)(hi - lo < (int64_t)sizeof buf ? hi - lo : (int64_t)sizeof buf);
        ssize_t r = pread(from, buf, want, (off_t)lo);
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        for (ssize_t done = 0; done < r;) {
            ssize_t w = pwrite(to, buf + done, (size_t)(r - done), (off_t)(lo + done));
            if (w < 0)
                return -errno;
            done += w;
        }
        lo += r;
    }
    return 0;
}

/* fsync of a file: its durable copy becomes its live contents. */
static int lfs_sync_file(lfs_node *n, int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    if (!n->dirty)
        return 0;
    char name[32];
    lfs_data_name(n, name, sizeof name);
    int dfd = openat(lfs.data_fd, name, O_WRONLY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    int64_t hi = n->hi < (int64_t)st.st_size ? n->hi : (int64_t)st.st_size;
    int rc = copy_range(fd, dfd, n->lo, hi);
    if (rc == 0 && ftruncate(dfd, st.st_size) != 0)
        rc = -errno;
    close(dfd);
    if (rc == 0)
        n->dirty = false;
    return rc;
}

/* The live entries of the directory open as fd, as (name, node); a node is
 * made for an inode lossyfs has not seen (created behind its back). */
static int lfs_read_entries(int fd, lfs_entry **out, size_t *nout)
{
    int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    DIR *d = fdopendir(dfd);
    if (!d) {
        int e = errno;
        close(dfd);
        return -e;
    }
    lfs_entry *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = -errno;
            break;
        }
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
            continue; /* lossyfs makes none; nothing else is modelled */
        lfs_node *node = lfs_lookup(st.st_ino);
        if (!node) {
            if (!lfs.mounting)
                fprintf(stderr, "lossyfs: %s appeared without passing through lossyfs\n", de->d_name);
            node = lfs_node_new(&st);
            if (node && lfs.mounting)
                lfs_mark(node, 0, LFS_END); /* its durable copy is taken next */
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            lfs_entry *nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            v = nv;
        }
        v[n].name = strdup(de->d_name);
        v[n].node = node;
        if (!node || !v[n].name) {
            free(v[n].name);
            rc = -ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            free(v[i].name);
        free(v);
        return rc;
    }
    *out = v;
    *nout = n;
    return 0;
}

/* fsync of a directory: its durable entries become its live entries. */
static int lfs_sync_dir(lfs_node *d, int fd)
{
    lfs_entry *v;
    size_t n;
    int rc = lfs_read_entries(fd, &v, &n);
    if (rc)
        return rc;
    lfs_free_entries(d);
    d->ents = v;
    d->n_ents = n;
    return 0;
}

/* ---- mount: everything in BACKING is durable ------------------------------------- */

static int lfs_snapshot_dir(int fd, lfs_node *d, long *files, long *dirs)
{
    int rc = lfs_sync_dir(d, fd);
    if (rc)
        return rc;
    (*dirs)++;
    for (size_t i = 0; i < d->n_ents && rc == 0; i++) {
        lfs_node *c = d->ents[i].node;
        int cfd = openat(fd, d->ents[i].name, (c->dir ? O_DIRECTORY | O_RDONLY : O_RDONLY) | O_CLOEXEC);
        if (cfd < 0)
            return -errno;
        if (c->dir) {
            rc = lfs_snapshot_dir(cfd, c, files, dirs);
        } else if (c->dirty) {
            /* not yet copied (a second link to the same inode is not) */
            rc = lfs_sync_file(c, cfd);
            (*files)++;
        }
        close(cfd);
    }
    return rc;
}

static int lfs_rm_contents(int fd)
{
    int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return -errno;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = -errno;
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            int cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (cfd < 0) {
                rc = -errno;
                break;
            }
            rc = lfs_rm_contents(cfd);
            close(cfd);
            if (rc == 0 && unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) != 0)
                rc = -errno;
        } else if (unlinkat(dirfd(d), de->d_name, 0) != 0) {
            rc = -errno;
        }
    }
    closedir(d);
    return rc;
}

static int lfs_open_state(void)
{
    struct stat sb, ss;
    if (fstat(lfs.root_fd, &sb) != 0 || fstat(lfs.state_fd, &ss) != 0)
        return -errno;
    if (sb.st_dev != ss.st_dev) {
        fprintf(stderr, "lossyfs: %s and %s must be on one file system (a cut renames between them)\n",
                lfs.backing, lfs.state);
        return -EXDEV;
    }
    if (mkdirat(lfs.state_fd, "data", 0700) != 0 && errno != EEXIST)
        return -errno;
    lfs.data_fd = openat(lfs.state_fd, "data", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lfs.data_fd < 0)
        return -errno;
    return lfs_rm_contents(lfs.data_fd); /* a previous run's durable copies */
}

/* ---- the cut ---------------------------------------------------------------------- */

typedef struct {
    long files, dirs, dropped;
} lfs_rebuilt;

static int lfs_rebuild_dir(lfs_node *d, int out, lfs_rebuilt *r)
{
    d->visit = lfs.visit;
    r->dirs++;
    for (size_t i = 0; i < d->n_ents; i++) {
        lfs_node *c = d->ents[i].node;
        const char *name = d->ents[i].name;
        if (c->dir) {
            if (c->visit == lfs.visit) {
                fprintf(stderr, "lossyfs: power cut: directory %s reached twice; its second name dropped\n",
                        name);
                r->dropped++;
                continue;
            }
            if (mkdirat(out, name, c->mode ? c->mode : 0755) != 0)
                return -errno;
            int cfd = openat(out, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (cfd < 0)
                return -errno;
            int rc = lfs_rebuild_dir(c, cfd, r);
            close(cfd);
            if (rc)
                return rc;
        } else {
            char data[32];
            lfs_data_name(c, data, sizeof data);
            if (linkat(lfs.data_fd, data, out, name, 0) != 0)
                return -errno;
            if (fchmodat(out, name, c->mode ? c->mode : 0644, 0) != 0)
                return -errno;
            r->files++;
        }
    }
    return 0;
}

/* How much of the live tree differs from the durable image: files with
 * unsynced bytes or size, directories with unsynced entries. */
static void lfs_count_unsynced(int fd, lfs_node *d, long *files, int64_t *bytes, long *dirs)
{
    lfs_entry *v;
    size_t n;
    if (lfs_read_entries(fd, &v, &n) != 0)
        return;
    bool same = n == d->n_ents;
    for (size_t i = 0; same && i < n; i++) {
        bool found = false;
        for (size_t j = 0; j < d->n_ents && !found; j++)
            found = d->ents[j].node == v[i].node && !strcmp(d->ents[j].name, v[i].name);
        same = found;
    }
    if (!same)
        (*dirs)++;
    for (size_t i = 0; i < n; i++) {
        lfs_node *c = v[i].node;
        int cfd = openat(fd, v[i].name, (c->dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
        if (cfd >= 0) {
            if (c->dir) {
                lfs_count_unsynced(cfd, c, files, bytes, dirs);
            } else if (c->dirty) {
                struct stat st;
                if (fstat(cfd, &st) == 0) {
                    int64_t hi = c->hi < (int64_t)st.st_size ? c->hi : (int64_t)st.st_size;
                    (*files)++;
                    *bytes += hi > c->lo ? hi - c->lo : 0;
                }
            }
            close(cfd);
        }
        free(v[i].name);
    }
    free(v);
}

static int lfs_cut(void)
{
    long ufiles = 0, udirs = 0;
    int64_t ubytes = 0;
    lfs_count_unsynced(lfs.root_fd, lfs.root, &ufiles, &ubytes, &udirs);
    /* unsynced files no longer linked live count too */
    for (lfs_node *n = lfs.all; n; n = n->next)
        if (!n->live && n->dirty) {
            ufiles++;
            ubytes += n->hi == LFS_END ? 0 : n->hi - n->lo;
        }

    char tmp[64];
    snprintf(tmp, sizeof tmp, "cut.%ld", (long)getpid());
    int rc = 0;
    if (mkdirat(lfs.state_fd, tmp, 0700) != 0)
        return -errno;
    int out = openat(lfs.state_fd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (out < 0)
        return -errno;
    lfs_rebuilt r = {0, 0, 0};
    lfs.visit++;
    rc = lfs_rebuild_dir(lfs.root, out, &r);
    if (rc == 0)
        rc = lfs_rm_contents(lfs.root_fd);
    if (rc == 0) {
        /* move the rebuilt tree into BACKING */
        DIR *d = fdopendir(dup(out));
        if (!d)
            rc = -errno;
        struct dirent *de;
        while (rc == 0 && (de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            if (renameat(out, de->d_name, lfs.root_fd, de->d_name) != 0)
                rc = -errno;
        }
        if (d)
            closedir(d);
    }
    close(out);
    if (rc == 0 && unlinkat(lfs.state_fd, tmp, AT_REMOVEDIR) != 0)
        rc = -errno;
    if (rc == 0)
        rc = lfs_rm_contents(lfs.data_fd);
    if (rc)
        return rc;
    printf("lossyfs: power cut: discarded unsynced contents of %ld files (%lld bytes) and unsynced entries "
           "of %ld directories; %s now holds %ld files in %ld directories (%ld names dropped)\n",
           ufiles, (long long)ubytes, udirs, lfs.backing, r.files, r.dirs - 1, r.dropped);
    fflush(stdout);
    return 0;
}

/* ---- the file system operations ------------------------------------------------- */

static const char *rel(const char *path)
{
    while (*path == '/')
        path++;
    return *path ? path : ".";
}

static lfs_handle *fh(struct fuse_file_info *fi)
{
    return (lfs_handle *)(uintptr_t)fi->fh;
}

static void *lfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    /* an unlinked file stays reachable through its descriptors (no
     * .fuse_hidden renames, which would show up in directory fsyncs) */
    cfg->hard_remove = 1;
    cfg->nullpath_ok = 1;
    cfg->use_ino = 1;
    /* every write reaches lossyfs when it is made, never later */
    conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
    return NULL;
}

static int lfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    int r = fi ? fstat(fh(fi)->fd, st) : fstatat(lfs.root_fd, rel(path), st, AT_SYMLINK_NOFOLLOW);
    return r == 0 ? 0 : -errno;
}

static int lfs_access(const char *path, int mask)
{
    return faccessat(lfs.root_fd, rel(path), mask, 0) == 0 ? 0 : -errno;
}

static int lfs_open_common(const char *path, struct fuse_file_info *fi, bool create, mode_t mode)
{
    struct stat before;
    bool existed = fstatat(lfs.root_fd, rel(path), &before, AT_SYMLINK_NOFOLLOW) == 0;
    /* always read-write: an fsync copies from this descriptor */
    int flags = O_RDWR | O_CLOEXEC | (fi->flags & (O_TRUNC | O_NOFOLLOW));
    if (create)
        flags |= O_CREAT | (fi->flags & O_EXCL);
    int fd = openat(lfs.root_fd, rel(path), flags, mode);
    if (fd < 0)
        return -errno;
    struct stat st;
    lfs_handle *h = calloc(1, sizeof *h);
    if (!h || fstat(fd, &st) != 0) {
        int e = h ? errno : ENOMEM;
        free(h);
        close(fd);
        return -e;
    }
    lfs_node *n = existed ? lfs_lookup(st.st_ino) : NULL;
    if (!n)
        n = lfs_node_new(&st);
    if (!n) {
        free(h);
        close(fd);
        return -ENOMEM;
    }
    if (existed && (flags & O_TRUNC))
        lfs_mark(n, 0, LFS_END);
    h->fd = fd;
    h->node = n;
    fi->fh = (uint64_t)(uintptr_t)h;
    return 0;
}

static int lfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    return lfs_open_common(path, fi, true, mode);
}

static int lfs_open(const char *path, struct fuse_file_info *fi)
{
    return lfs_open_common(path, fi, false, 0);
}

static int lfs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    ssize_t r = pread(fh(fi)->fd, buf, size, off);
    return r < 0 ? -errno : (int)r;
}

static int lfs_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    ssize_t w = pwrite(fh(fi)->fd, buf, size, off);
    if (w < 0)
        return -errno;
    lfs_mark(fh(fi)->node, (int64_t)off, (int64_t)off + w);
    return (int)w;
}

static int lfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    struct stat st;
    int r;
    if (fi) {
        r = fstat(fh(fi)->fd, &st);
        if (r == 0)
            r = ftruncate(fh(fi)->fd, size);
    } else {
        r = fstatat(lfs.root_fd, rel(path), &st, AT_SYMLINK_NOFOLLOW);
        if (r == 0) {
            int fd = openat(lfs.root_fd, rel(path), O_WRONLY | O_CLOEXEC);
            r = fd < 0 ? -1 : ftruncate(fd, size);
            if (fd >= 0) {
                int e = errno;
                close(fd);
                errno = e;
            }
        }
    }
    if (r != 0)
        return -errno;
    lfs_node *n = fi ? fh(fi)->node : lfs_lookup(st.st_ino);
    int64_t from = (int64_t)(size < st.st_size ? size : st.st_size);
    lfs_mark(n, from, LFS_END);
    return 0;
}

static int lfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    return lfs_sync_file(fh(fi)->node, fh(fi)->fd);
}

static int lfs_flush(const char *path, struct fuse_file_info *fi)
{
    return 0; /* close() makes nothing durable */
}

static int lfs_release(const char *path, struct fuse_file_info *fi)
{
    close(fh(fi)->fd);
    free(fh(fi));
    return 0;
}

static int lfs_opendir(const char *path, struct fuse_file_info *fi)
{
    int fd = openat(lfs.root_fd, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    lfs_handle *h = calloc(1, sizeof *h);
    if (!h || fstat(fd, &st) != 0) {
        int e = h ? errno : ENOMEM;
        free(h);
        close(fd);
        return -e;
    }
    h->node = lfs_lookup(st.st_ino);
    if (!h->node)
        h->node = lfs_node_new(&st);
    h->fd = fd;
    fi->fh = (uint64_t)(uintptr_t)h;
    return 0;
}

static int lfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
                       enum fuse_readdir_flags flags)
{
    int dfd = openat(fh(fi)->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return -errno;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        memset(&st, 0, sizeof st);
        st.st_ino = de->d_ino;
        st.st_mode = (mode_t)DTTOIF(de->d_type);
        if (fill(buf, de->d_name, &st, 0, 0))
            break;
    }
    closedir(d);
    return 0;
}

static int lfs_releasedir(const char *path, struct fuse_file_info *fi)
{
    return lfs_release(path, fi);
}

static int lfs_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
    return lfs_sync_dir(fh(fi)->node, fh(fi)->fd);
}

static int lfs_mkdir(const char *path, mode_t mode)
{
    if (mkdirat(lfs.root_fd, rel(path), mode) != 0)
        return -errno;
    struct stat st;
    if (fstatat(lfs.root_fd, rel(path), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return -errno;
    return lfs_node_new(&st) ? 0 : -ENOMEM;
}

static int lfs_remove(const char *path, int flags)
{
    struct stat st;
    if (fstatat(lfs.root_fd, rel(path), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return -errno;
    if (unlinkat(lfs.root_fd, rel(path), flags) != 0)
        return -errno;
    if (S_ISDIR(st.st_mode) || st.st_nlink <= 1)
        lfs_unlink_live(lfs_lookup(st.st_ino));
    return 0;
}

static int lfs_unlink(const char *path)
{
    return lfs_remove(path, 0);
}

static int lfs_rmdir(const char *path)
{
    return lfs_remove(path, AT_REMOVEDIR);
}

static int lfs_rename(const char *from, const char *to, unsigned int flags)
{
    if (flags & ~(unsigned)RENAME_NOREPLACE)
        return -EINVAL; /* RENAME_EXCHANGE, RENAME_WHITEOUT: not modelled */
    struct stat src, victim;
    if (fstatat(lfs.root_fd, rel(from), &src, AT_SYMLINK_NOFOLLOW) != 0)
        return -errno;
    bool replaces = fstatat(lfs.root_fd, rel(to), &victim, AT_SYMLINK_NOFOLLOW) == 0;
    if (renameat2(lfs.root_fd, rel(from), lfs.root_fd, rel(to), flags) != 0)
        return -errno;
    if (replaces && victim.st_ino != src.st_ino && (S_ISDIR(victim.st_mode) || victim.st_nlink <= 1))
        lfs_unlink_live(lfs_lookup(victim.st_ino));
    return 0;
}

static int lfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    struct stat st;
    int r = fi ? fchmod(fh(fi)->fd, mode) : fchmodat(lfs.root_fd, rel(path), mode, 0);
    if (r != 0)
        return -errno;
    if (fi ? fstat(fh(fi)->fd, &st) == 0 : fstatat(lfs.root_fd, rel(path), &st, 0) == 0) {
        lfs_node *n = lfs_lookup(st.st_ino);
        if (n)
            n->mode = mode & 07777;
    }
    return 0;
}

static int lfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
    int r = fi ? fchown(fh(fi)->fd, uid, gid) : fchownat(lfs.root_fd, rel(path), uid, gid, AT_SYMLINK_NOFOLLOW);
    return r == 0 ? 0 : -errno;
}

static int lfs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    int r = fi ? futimens(fh(fi)->fd, tv) : utimensat(lfs.root_fd, rel(path), tv, AT_SYMLINK_NOFOLLOW);
    return r == 0 ? 0 : -errno;
}

static int lfs_statfs(const char *path, struct statvfs *sv)
{
    return fstatvfs(lfs.root_fd, sv) == 0 ? 0 : -errno;
}

static const struct fuse_operations lfs_ops = {
    .init = lfs_init,
    .getattr = lfs_getattr,
    .access = lfs_access,
    .create = lfs_create,
    .open = lfs_open,
    .read = lfs_read,
    .write = lfs_write,
    .truncate = lfs_truncate,
    .fsync = lfs_fsync,
    .flush = lfs_flush,
    .release = lfs_release,
    .opendir = lfs_opendir,
    .readdir = lfs_readdir,
    .releasedir = lfs_releasedir,
    .fsyncdir = lfs_fsyncdir,
    .mkdir = lfs_mkdir,
    .unlink = lfs_unlink,
    .rmdir = lfs_rmdir,
    .rename = lfs_rename,
    .chmod = lfs_chmod,
    .chown = lfs_chown,
    .utimens = lfs_utimens,
    .statfs = lfs_statfs,
};

/* ---- main ------------------------------------------------------------------------- */

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        lfs.cut = 1;
    if (lfs.fuse)
        fuse_exit(lfs.fuse);
}

static void lfs_free_all(void)
{
    while (lfs.all) {
        lfs_node *n = lfs.all;
        lfs.all = n->next;
        lfs_free_entries(n);
        free(n);
    }
}

int main(int argc, char **argv)
{
    bool debug = argc > 1 && !strcmp(argv[1], "-d");
    if (argc != 4 + debug) {
        fprintf(stderr, "usage: lossyfs [-d] BACKING MOUNTPOINT STATE\n"
                        "  SIGUSR1: power cut (discard what was not fsynced, unmount, exit)\n"
                        "  SIGTERM: clean unmount (keep everything)\n");
        return 2;
    }
    lfs.backing = argv[1 + debug];
    const char *mnt = argv[2 + debug];
    lfs.state = argv[3 + debug];
    lfs.root_fd = open(lfs.backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    lfs.state_fd = open(lfs.state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lfs.root_fd < 0 || lfs.state_fd < 0) {
        fprintf(stderr, "lossyfs: %s: %s\n", lfs.root_fd < 0 ? lfs.backing : lfs.state, strerror(errno));
        return 1;
    }
    int rc = lfs_open_state();
    struct stat st;
    if (rc == 0 && fstat(lfs.root_fd, &st) != 0)
        rc = -errno;
    long files = 0, dirs = 0;
    if (rc == 0) {
        lfs.mounting = true;
        lfs.root = lfs_node_new(&st);
        rc = lfs.root ? lfs_snapshot_dir(lfs.root_fd, lfs.root, &files, &dirs) : -ENOMEM;
        lfs.mounting = false;
    }
    if (rc) {
        fprintf(stderr, "lossyfs: cannot take the durable image of %s: %s\n", lfs.backing, strerror(-rc));
        lfs_free_all();
        return 1;
    }

    char *fargv[] = {argv[0], debug ? "-d" : NULL, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(debug ? 2 : 1, fargv);
    lfs.fuse = fuse_new(&args, &lfs_ops, sizeof lfs_ops, NULL);
    fuse_opt_free_args(&args);
    if (!lfs.fuse) {
        fprintf(stderr, "lossyfs: fuse_new failed\n");
        lfs_free_all();
        return 1;
    }
    if (fuse_mount(lfs.fuse, mnt) != 0) {
        /* libfuse has printed the kernel's reason above */
        fprintf(stderr, "lossyfs: cannot mount %s: the kernel refused (see the line above; /dev/fuse %s)\n", mnt,
                access("/dev/fuse", R_OK | W_OK) == 0 ? "is there" : "is missing or not accessible");
        fuse_destroy(lfs.fuse);
        lfs_free_all();
        return 3;
    }
    /* not SA_RESTART: the signal must interrupt the read of /dev/fuse */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    printf("lossyfs: mounted %s on %s (durable image in %s): %ld files in %ld directories\n", lfs.backing, mnt,
           lfs.state, files, dirs - 1);
    fflush(stdout);

    rc = fuse_loop(lfs.fuse);
    fuse_unmount(lfs.fuse);
    fuse_destroy(lfs.fuse);
    lfs.fuse = NULL;
    int code = rc == 0 ? 0 : 1;
    if (rc != 0)
        fprintf(stderr, "lossyfs: the FUSE loop ended with an error (%d)\n", rc);
    if (lfs.cut) {
        int crc = lfs_cut();
        if (crc) {
            fprintf(stderr, "lossyfs: power cut: rebuilding %s failed: %s\n", lfs.backing, strerror(-crc));
            code = 1;
        }
    } else {
        printf("lossyfs: unmounted %s cleanly: everything kept\n", mnt);
    }
    lfs_free_all();
    close(lfs.data_fd);
    close(lfs.state_fd);
    close(lfs.root_fd);
    return code;
}
