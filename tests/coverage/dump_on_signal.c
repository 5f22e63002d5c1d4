/* dump_on_signal.c: linked into every program of a coverage build only
 * (SAMSA_COVERAGE, make coverage). A gcov-instrumented process writes its
 * counts when it exits, so one that a test kills with SIGKILL (a crash on
 * purpose) loses the record of everything it ran. Here SIGUSR2 writes the
 * counts, then the process kills itself with SIGKILL: harness.py's kill9()
 * sends SIGUSR2 instead of SIGKILL when SAMSA_COVERAGE_KILL=1
 * (scripts/coverage.sh sets it), and the process still dies by SIGKILL with
 * nothing flushed or closed, as the test means. */
#include <signal.h>
#include <string.h>

extern void __gcov_dump(void);

static void dump_and_die(int sig)
{
    (void)sig;
    __gcov_dump();
    raise(SIGKILL);
}

__attribute__((constructor)) static void install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = dump_and_die;
    sigfillset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, NULL);
}
