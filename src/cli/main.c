/* main.c: the samsa command's entry point: the run context, the options
 * that may come before the command word, and dispatch to the subcommands
 * (topic, produce, consume, group, cluster, outbox, completion).
 *
 * Exit codes are the SM_EXIT_* of cli.h, documented in docs/cli.md. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int sm_cli_fail(sm_cli *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "samsa%s%s: ", c->cmd[0] ? " " : "", c->cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

void sm_cli_warn(sm_cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "samsa%s%s: warning: ", c->cmd[0] ? " " : "", c->cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const sm_subcmd commands[] = {
    {"topic", sm_cmd_topic, NULL},
    {"produce", sm_cmd_produce, &sm_help_produce},
    {"consume", sm_cmd_consume, &sm_help_consume},
    {"group", sm_cmd_group, NULL},
    {"cluster", sm_cmd_cluster, NULL},
    {"outbox", sm_cmd_outbox, NULL},
    {"completion", sm_cmd_completion, &sm_help_completion},
    {NULL, NULL, NULL},
};

static const char *const summaries[] = {
    "create, list, describe, delete, alter-config, add-partitions",
    "write records from stdin or a file, one per line",
    "read records: from the beginning, the end, an offset or a time",
    "consumer groups: list, describe (lag), delete, reset-offsets",
    "brokers, controller and the API versions of each broker",
    "the outbox table: status, list, show, retry, dead (init, enqueue)",
    "print a shell completion script (bash)",
};

static void top_help(FILE *f)
{
    fprintf(f, "usage: samsa [options] COMMAND [SUBCOMMAND] [options] [args]\n\n"
               "One command for Kafka topics, records and consumer groups, against samsa-broker\n"
               "or any Kafka cluster (librdkafka), and for the samsa outbox table.\n\n"
               "Commands:\n");
    for (int i = 0; commands[i].name; i++)
        fprintf(f, "  %-11s  %s\n", commands[i].name, summaries[i]);
    fprintf(f,
            "\nCommon options (before or after the command):\n"
            "  -b, --brokers HOST:PORT,...   bootstrap brokers (default: $SAMSA_BROKERS, else "
            SM_CLI_DEFAULT_BROKERS ")\n"
            "  -X, --property KEY=VALUE      a librdkafka property, repeatable\n"
            "      --timeout MS              how long to wait for the cluster (default 10000)\n"
            "      --output table|json       tables for people (default), JSON for scripts\n"
            "  -v, --verbose                 librdkafka's log on stderr (twice: debug)\n"
            "  -h, --help                    help; every command has its own\n"
            "      --version                 print the version\n"
            "\nExamples:\n"
            "  samsa topic create orders -p 3\n"
            "  printf 'order-1:paid\\n' | samsa produce orders -K :\n"
            "  samsa consume orders --from-beginning -e --format json\n"
            "  samsa group describe billing\n"
            "  samsa outbox status --db sqlite:outbox.db\n"
            "\nExit codes: 0 ok, 1 the broker or database refused or failed, 2 bad command\n"
            "line or input, 3 not found (topic, partition, offset, group, row), 4 broker or\n"
            "database unreachable, 130 produce interrupted. See docs/cli.md.\n");
}

int main(int argc, char **argv)
{
    static sm_cli ctx; /* static: librdkafka's callbacks may outlive a frame */
    sm_cli *c = &ctx;
    const char *env = getenv("SAMSA_BROKERS");
    c->brokers = env && *env ? env : SM_CLI_DEFAULT_BROKERS;
    c->timeout_ms = SM_CLI_DEFAULT_TIMEOUT_MS;
    sm_props_init(&c->xprops);
    signal(SIGPIPE, SIG_IGN);

    /* options before the command word */
    static const sm_opt top_opts[] = {
        {1, 0, "version", NULL, "print the version"},
        {0, 0, NULL, NULL, NULL},
    };
    static const sm_cmd_help top = {"", "", "", NULL, NULL, top_opts, true};
    sm_args a;
    sm_args_init(&a, c, &top, argc - 1, argv + 1);
    c->cmd[0] = 0;
    const char *val;
    int id, rc;
    for (;;) {
        /* --help here is the top-level help, not a command's */
        if (a.i < a.argc && !a.short_rest &&
            (!strcmp(a.argv[a.i], "-h") || !strcmp(a.argv[a.i], "--help"))) {
            top_help(stdout);
            rc = SM_EXIT_OK;
            goto out;
        }
        id = sm_args_next(&a, &val);
        if (id == SM_OPT_POS || id == SM_OPT_END)
            break;
        if (id == SM_OPT_BAD) {
            rc = SM_EXIT_USAGE;
            goto out;
        }
        if (id == 1) {
            printf("samsa %s (librdkafka %s)\n", SAMSA_VERSION, rd_kafka_version_str());
            rc = SM_EXIT_OK;
            goto out;
        }
    }
    if (id == SM_OPT_END) {
        top_help(stderr);
        rc = sm_cli_fail(c, SM_EXIT_USAGE, "a command is needed");
        goto out;
    }
    int rest = a.argc - a.i;
    char **rargv = a.argv + a.i;
    if (!strcmp(val, "help")) {
        if (rest == 0) {
            top_help(stdout);
            rc = SM_EXIT_OK;
            goto out;
        }
        /* "samsa help topic create" is "samsa topic create --help" */
        char *hargv[4] = {rargv[0], rest > 1 ? rargv[1] : (char *)"--help",
                          rest > 1 ? (char *)"--help" : NULL, NULL};
        val = hargv[0];
        rargv = hargv + 1;
        rest = rest > 1 ? 2 : 1;
        for (int i = 0; commands[i].name; i++)
            if (!strcmp(commands[i].name, val)) {
                rc = commands[i].run(c, rest, rargv);
                goto out;
            }
        rc = sm_cli_fail(c, SM_EXIT_USAGE, "unknown command '%s' (see 'samsa --help')", val);
        goto out;
    }
    for (int i = 0; commands[i].name; i++)
        if (!strcmp(commands[i].name, val)) {
            rc = commands[i].run(c, rest, rargv);
            goto out;
        }
    rc = sm_cli_fail(c, SM_EXIT_USAGE, "unknown command '%s' (see 'samsa --help')", val);
out:
    fflush(stdout);
    sm_props_release(&c->xprops);
    return rc;
}
