/* check.h: the unit tests' assertions. A failed CHECK prints file, line and
 * the expression and counts a failure; the program's exit status is the
 * verdict. Each test program prints what it checked. */
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

static inline int check_report(const char *prog)
{
    printf("%s: %d checks, %d failed\n", prog, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
