/* check.h: the unit tests' assertions. A failed CHECK prints file, line and
 * the expression and counts a failure; the program's exit status is the
 * verdict (check_report: a program that made no check fails; check_skip:
 * exit 77, skipped). Each test program prints what it checked. */
#ifndef SM_TEST_CHECK_H
#define SM_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                               \
    do {                                                                                          \
        check_count++;                                                                            \
        if (!(cond)) {                                                                            \
            check_failures++;                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);             \
        }                                                                                         \
    } while (0)

#define CHECK_EQ_I64(a, b)                                                                        \
    do {                                                                                          \
        int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                                             \
        check_count++;                                                                            \
        if (a_ != b_) {                                                                           \
            check_failures++;                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%" PRId64 " != %" PRId64 ")\n",       \
                    __FILE__, __LINE__, #a, #b, a_, b_);                                          \
        }                                                                                         \
    } while (0)

/* Aborts the test program on a precondition a later check depends on. */
#define REQUIRE(cond)                                                                             \
    do {                                                                                          \
        check_count++;                                                                            \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);           \
            exit(1);                                                                              \
        }                                                                                         \
    } while (0)

#define TEST_SECTION(name) printf("-- %s\n", name)

/* main's exit code: 1 when a check failed or none was made (a program
 * that checked nothing proved nothing), else 0. */
static inline int check_report(const char *prog)
{
    printf("%s: %d checks, %d failed\n", prog, check_count, check_failures);
    if (check_count == 0) {
        printf("%s: FAIL: not a single check was made\n", prog);
        return 1;
    }
    return check_failures ? 1 : 0;
}

/* The exit code of a test program that cannot check what it is for on this
 * machine (no PostgreSQL, say): ctest's SKIP_RETURN_CODE (tests/CMakeLists.txt),
 * shown as Skipped, listed by `make test`, a failure in CI. */
#define CHECK_SKIP_CODE 77

/* Prints why and returns CHECK_SKIP_CODE, for main to return. */
static inline int check_skip(const char *prog, const char *why)
{
    printf("%s: SKIP: %s\n", prog, why);
    fflush(stdout);
    return CHECK_SKIP_CODE;
}

#endif
