/* main.c: samsa-broker's command line, as kafka-server-start.sh takes it:
 *   samsa-broker [server.properties] [--override KEY=VALUE]... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/err.h"
#include "base/log.h"
#include "broker/broker.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: samsa-broker [server.properties] [--override KEY=VALUE]...\n"
            "\n"
            "A single-node, durable broker that speaks the Kafka protocol. Any Kafka client\n"
            "works against it; point bootstrap.servers at the listener.\n"
            "\n"
            "  server.properties       a Kafka-style properties file (optional)\n"
            "  --override KEY=VALUE    set a property, overriding the file (repeatable)\n"
            "  --help                  this text and the property reference\n"
            "  --version               print the version\n"
            "\n"
            "Examples:\n"
            "  samsa-broker config/server.properties\n"
            "  samsa-broker --override listeners=PLAINTEXT://127.0.0.1:9092 "
            "--override log.dirs=/var/lib/samsa\n"
            "\n"
            "SIGTERM or SIGINT shuts down cleanly: in-flight requests are answered and every\n"
            "log is fsynced.\n\n");
}

int main(int argc, char **argv)
{
    sm_config_args args;
    char err[1024];
    if (sm_config_args_init(&args, argc) != SM_OK)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            sm_broker_config_print_help();
            sm_config_args_release(&args);
            return 0;
        }
        if (!strcmp(a, "--version") || !strcmp(a, "-v")) {
            printf("samsa-broker %s\n", SAMSA_VERSION);
            sm_config_args_release(&args);
            return 0;
        }
        int rc = sm_config_args_take(&args, argc, argv, &i, err, sizeof err);
        if (rc == SM_ENOENT)
            fprintf(stderr, "samsa-broker: unknown option '%s' (see --help)\n", a);
        else if (rc != SM_OK)
            fprintf(stderr, "samsa-broker: %s\n", err);
        if (rc != SM_OK) {
            sm_config_args_release(&args);
            return 2;
        }
    }

    static sm_broker b;
    int rc = sm_broker_config_load(&b.cfg, args.file, args.overrides, args.n_overrides, err,
                                   sizeof err);
    sm_config_args_release(&args);
    if (rc != SM_OK) {
        fprintf(stderr, "samsa-broker: configuration error: %s\n", err);
        sm_broker_config_release(&b.cfg);
        return 1;
    }
    if (sm_broker_init(&b, err, sizeof err) != SM_OK) {
        sm_error("samsa-broker failed to start: %s", err);
        sm_broker_release(&b);
        return 1;
    }
    sm_broker_run(&b);
    sm_broker_release(&b);
    sm_info("samsa-broker stopped");
    return 0;
}
