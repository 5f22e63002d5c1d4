/* err.h: the project's closed set of status codes.
 *
 * Functions return SM_OK (0) or a negative code; where a person will read
 * the reason, the caller passes `char *err, size_t errlen` and the callee
 * fills it. On the wire we speak Kafka error codes instead (proto/kafka.h). */
#ifndef SM_ERR_H
#define SM_ERR_H

#include <stddef.h>

enum {
    SM_OK = 0,
    SM_ERR = -1,      /* generic failure; see the message */
    SM_AGAIN = -2,    /* would block / need more input */
    SM_ENOMEM = -3,
    SM_EIO = -4,      /* an OS call failed; errno is meaningful */
    SM_ECORRUPT = -5, /* bad bytes: from the network or from a file */
    SM_ENOENT = -6,
    SM_EEXIST = -7,
    SM_EINVAL = -8,
    SM_ERANGE = -9,
};

/* Format into err (if non-NULL) and return code: `return sm_fail(err, errlen, SM_EINVAL, "..")`. */
int sm_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
