/* fsync.h: making a directory entry durable.
 *
 * A file created, renamed or unlinked survives a power cut only once its
 * directory has been fsynced too; every layer that creates files (storage's
 * segments, the broker's log dirs, topic records and offsets store) calls
 * this one function. Thread-safe (no shared state). */
#ifndef SM_BASE_FSYNC_H
#define SM_BASE_FSYNC_H

/* Opens path as a directory, fsyncs it and closes it. Returns SM_OK, or
 * SM_EIO with errno set by the call that failed (open or fsync). */
int sm_fsync_dir(const char *path);

#endif
