/* main.c: samsa-relay's command line:
 *   samsa-relay [relay.properties] [--override KEY=VALUE]... [--init-schema]
 * Exit status: 0 after a clean stop (SIGTERM/SIGINT) or --init-schema; 1 for
 * a configuration or start-up error; 2 for a bad command line. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/err.h"
#include "base/log.h"
#include "relay/config.h"
#include "relay/relay.h"

static sm_relay *running;

static void on_signal(int sig)
{
    (void)sig;
    if (running)
        sm_relay_stop(running);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: samsa-relay [relay.properties] [--override KEY=VALUE]... [--init-schema]\n"
            "\n"
            "Publishes the rows applications commit to the samsa_outbox table (SQLite or\n"
            "PostgreSQL) to Kafka: every committed row, in order per key, retried with backoff,\n"
            "dead-lettered when it cannot be published; marks them PUBLISHED, and COMPLETE once\n"
            "the tracked consumer groups have consumed them. See docs/outbox.md.\n"
            "\n"
            "  relay.properties        a properties file (Kafka's format; optional)\n"
            "  --override KEY=VALUE    set a property, overriding the file (repeatable)\n"
            "  --init-schema           create or upgrade the outbox tables and exit\n"
            "  --help                  this text and the property reference\n"
            "  --version               print the version\n"
            "\n"
            "Example:\n"
            "  samsa-relay --override outbox.db=postgresql://app@db/shop \\\n"
            "              --override bootstrap.servers=127.0.0.1:9092 \\\n"
            "              --override track.groups=billing,shipping\n"
            "\n"
            "Once running it logs 'samsa-relay VERSION started: ... metrics on\n"
            "http://ADDRESS:PORT/metrics'. GET /metrics (Prometheus) and /healthz there.\n"
            "SIGTERM or SIGINT stops claiming, waits for in-flight deliveries (shutdown.timeout.ms),\n"
            "writes their marks and exits 0.\n\n");
}

int main(int argc, char **argv)
{
    sm_config_args args;
    char err[1024];
    bool init_schema = false;
    if (sm_config_args_init(&args, argc) != SM_OK)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            sm_relay_config_print_help();
            sm_config_args_release(&args);
            return 0;
        }
        if (!strcmp(a, "--version") || !strcmp(a, "-v")) {
            printf("samsa-relay %s\n", SAMSA_VERSION);
            sm_config_args_release(&args);
            return 0;
        }
        if (!strcmp(a, "--init-schema")) {
            init_schema = true;
            continue;
        }
        int rc = sm_config_args_take(&args, argc, argv, &i, err, sizeof err);
        if (rc == SM_ENOENT)
            fprintf(stderr, "samsa-relay: unknown option '%s' (see --help)\n", a);
        else if (rc != SM_OK)
            fprintf(stderr, "samsa-relay: %s\n", err);
        if (rc != SM_OK) {
            sm_config_args_release(&args);
            return 2;
        }
    }

    sm_relay_config cfg;
    int rc = sm_relay_config_load(&cfg, args.file, args.overrides, args.n_overrides, !init_schema,
                                  err, sizeof err);
    sm_config_args_release(&args);
    if (rc != SM_OK) {
        fprintf(stderr, "samsa-relay: configuration error: %s\n", err);
        sm_relay_config_release(&cfg);
        return 1;
    }
    sm_log_set_level(cfg.log_level);

    if (init_schema) {
        rc = sm_relay_init_schema(&cfg, err, sizeof err);
        if (rc != SM_OK)
            sm_error("samsa-relay --init-schema failed: %s", err);
        sm_relay_config_release(&cfg);
        return rc == SM_OK ? 0 : 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    sm_relay *r = NULL;
    if (sm_relay_new(&r, &cfg, err, sizeof err) != SM_OK) {
        sm_error("samsa-relay failed to start: %s", err);
        sm_relay_config_release(&cfg);
        return 1;
    }
    running = r;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sm_relay_run(r);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    running = NULL;
    sm_relay_free(r);
    sm_relay_config_release(&cfg);
    return 0;
}
