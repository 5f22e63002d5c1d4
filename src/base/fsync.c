/* fsync.c: see fsync.h. */
#include "base/fsync.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "base/err.h"

int sm_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return SM_EIO;
    int rc = fsync(fd) == 0 ? SM_OK : SM_EIO;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}
