/* cli.h: what the files of the samsa command share: the run context, the
 * exit codes, the option parser with its generated --help, the librdkafka
 * plumbing (configuration, reachability, errors), tables, JSON and the
 * progress bar. One file per subcommand implements sm_cmd_<name>.
 *
 * The one idea: every subcommand talks Kafka through librdkafka only (never
 * the broker's internals), so the command works against any Kafka cluster.
 *
 * Errors: every failure is printed once, as "samsa <command>: <reason>", by
 * sm_cli_fail, and the command returns one of the SM_EXIT_* codes. */
#ifndef SM_CLI_H
#define SM_CLI_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "base/props.h"

/* Exit codes (docs/cli.md, "Exit codes"). */
enum {
    SM_EXIT_OK = 0,
    SM_EXIT_FAIL = 1,     /* the broker or the database refused or failed the operation */
    SM_EXIT_USAGE = 2,    /* bad command line or input: option, argument, -X, a produce line */
    SM_EXIT_NOTFOUND = 3, /* no such topic, partition, offset, group or outbox row */
    SM_EXIT_UNREACH = 4,  /* no broker answered (or the database could not be reached) */
    SM_EXIT_INTR = 130,   /* produce interrupted by SIGINT/SIGTERM (what was read is sent) */
};

#define SM_CLI_DEFAULT_BROKERS "127.0.0.1:9092"
#define SM_CLI_DEFAULT_TIMEOUT_MS 10000

typedef enum { SM_OUT_TABLE = 0, SM_OUT_JSON } sm_out;

/* One run of the command. Strings point into argv or the environment. */
typedef struct sm_cli {
    const char *brokers;
    sm_props xprops; /* -X key=value, in order (a later one wins) */
    sm_out output;
    int timeout_ms;
    int verbose;
    char cmd[64]; /* "topic create": the prefix of error messages */
    /* filled by librdkafka's callbacks */
    atomic_bool all_down;
    char last_error[512];
    atomic_bool have_error;
} sm_cli;

/* ---- errors (cli.c) ------------------------------------------------------- */

/* Prints "samsa <cmd>: <message>" on stderr and returns code. */
int sm_cli_fail(sm_cli *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prints "samsa <cmd>: warning: <message>" on stderr. */
void sm_cli_warn(sm_cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The exit code for a Kafka error: unknown topic/partition/group and offset
 * out of range are SM_EXIT_NOTFOUND, transport errors SM_EXIT_UNREACH, bad
 * requests from the command line (invalid config, partitions, replication
 * factor, topic name) SM_EXIT_USAGE, everything else SM_EXIT_FAIL. */
int sm_cli_exit_of(rd_kafka_resp_err_t err);

/* ---- options (args.c) ------------------------------------------------------ */

/* Option ids shared by every command; a command's own ids are 1..999. */
enum {
    SM_OPT_POS = 0,    /* a positional argument */
    SM_OPT_END = -1,   /* no more arguments */
    SM_OPT_BAD = -2,   /* a usage error, already printed */
    SM_OPT_HELP = -3,  /* --help was given and printed: exit 0 */
    SM_OPT_BROKERS = 1000,
    SM_OPT_PROP,
    SM_OPT_OUTPUT,
    SM_OPT_TIMEOUT,
    SM_OPT_VERBOSE,
    SM_OPT_HELPFLAG,
};

typedef struct sm_opt {
    int id;            /* > 0 */
    char sname;        /* 0: no short form */
    const char *lname; /* NULL: no long form */
    const char *arg;   /* NULL: a flag; else how --help names its argument */
    const char *help;
} sm_opt;

/* A command or a group of subcommands, as --help shows it. */
typedef struct sm_cmd_help {
    const char *path;     /* "topic create" */
    const char *usage;    /* "TOPIC [options]" */
    const char *summary;  /* one line */
    const char *details;  /* NULL or paragraphs */
    const char *examples; /* NULL or lines, each a command */
    const sm_opt *opts;   /* NULL or terminated by {0}; the common options are added */
    bool kafka;           /* takes -b/-X/--timeout (outbox commands do not) */
} sm_cmd_help;

typedef struct sm_args {
    int argc;
    char **argv;
    int i;
    bool only_pos;          /* after "--" */
    const char *short_rest; /* the rest of a bundle of short options */
    const sm_cmd_help *help;
    sm_cli *c;
} sm_args;

void sm_args_init(sm_args *a, sm_cli *c, const sm_cmd_help *help, int argc, char **argv);
/* The next option's id with its argument in *val, SM_OPT_POS with the
 * argument in *val, SM_OPT_END, SM_OPT_BAD (message printed) or SM_OPT_HELP
 * (help printed). The common options (-b, -X, --output, --timeout, -v) are
 * applied to the context here and not returned. */
int sm_args_next(sm_args *a, const char **val);
void sm_help_print(const sm_cmd_help *h, FILE *f);
/* A subcommand group: "usage" line and the table of subcommands. */
typedef struct sm_subcmd {
    const char *name;
    int (*run)(sm_cli *c, int argc, char **argv);
    const sm_cmd_help *help;
} sm_subcmd;
void sm_group_help_print(const char *path, const char *summary, const sm_subcmd *subs,
                         const char *examples, FILE *f);
/* Runs argv[0] among subs; prints the group help for none/--help/unknown. */
int sm_subcmd_dispatch(sm_cli *c, const char *path, const char *summary, const sm_subcmd *subs,
                       const char *examples, int argc, char **argv);

/* Number parsing for option values; on failure prints "<what>: ..." and
 * returns SM_EXIT_USAGE. */
int sm_cli_parse_i64(sm_cli *c, const char *what, const char *s, int64_t min, int64_t max,
                     int64_t *out);
int sm_cli_parse_i32(sm_cli *c, const char *what, const char *s, int32_t min, int32_t max,
                     int32_t *out);
/* A time: milliseconds since the epoch, or ISO 8601 UTC ("2024-05-01",
 * "2024-05-01T12:00:00Z", "...T12:00:00.250Z", "...+02:00"), or
 * "-DURATION" before now ("-15m", "-2h", "-1d", "-30s", "-500ms"). */
int sm_cli_parse_time(sm_cli *c, const char *what, const char *s, int64_t *ms);
/* "KEY=VALUE": splits into the two (key non-empty); returns 0 or -1. */
int sm_split_kv(const char *s, char *key, size_t keylen, const char **value);

/* ---- librdkafka (kafka.c) --------------------------------------------------- */

/* A configuration with bootstrap.servers, client.id, the context's
 * callbacks and every -X. NULL with the error printed (*rc set). */
rd_kafka_conf_t *sm_kafka_conf(sm_cli *c, int *rc);
/* A client of the given type from conf (consumed either way). */
rd_kafka_t *sm_kafka_new(sm_cli *c, rd_kafka_type_t type, rd_kafka_conf_t *conf, int *rc);
/* conf + new in one, for admin and producer handles. */
rd_kafka_t *sm_kafka_client(sm_cli *c, rd_kafka_type_t type, int *rc);
/* An admin handle once the cluster has answered a full metadata request:
 * *md gets that metadata (the caller destroys it), or it is dropped when md
 * is NULL. NULL with the failure printed (*rc set). */
rd_kafka_t *sm_kafka_admin_open(sm_cli *c, const rd_kafka_metadata_t **md, int *rc);
/* Full metadata (all topics), waiting for a broker; fails fast once every
 * broker is down. Returns SM_EXIT_OK or the printed failure's code. */
int sm_kafka_metadata(sm_cli *c, rd_kafka_t *rk, const rd_kafka_metadata_t **md);
const rd_kafka_metadata_topic_t *sm_md_topic(const rd_kafka_metadata_t *md, const char *name);
/* The topic's metadata, failing with SM_EXIT_NOTFOUND if it does not exist. */
int sm_kafka_topic(sm_cli *c, rd_kafka_t *rk, const char *topic, const rd_kafka_metadata_t **md,
                   const rd_kafka_metadata_topic_t **mt);
/* Runs an admin request already started on q and returns its result event
 * (rd_kafka_event_destroy it), or NULL with the failure printed. */
rd_kafka_event_t *sm_kafka_admin_wait(sm_cli *c, rd_kafka_t *rk, rd_kafka_queue_t *q,
                                      rd_kafka_event_type_t want, int *rc);
rd_kafka_AdminOptions_t *sm_kafka_admin_options(sm_cli *c, rd_kafka_t *rk,
                                                rd_kafka_admin_op_t op);
/* Low and high watermarks (query_watermark_offsets). */
int sm_kafka_watermarks(sm_cli *c, rd_kafka_t *rk, const char *topic, int32_t partition,
                        int64_t *low, int64_t *high);
/* "the broker is unreachable" with what librdkafka last said. */
int sm_kafka_unreachable(sm_cli *c);
/* A signal flag set by SIGINT/SIGTERM once sm_cli_catch_signals ran. */
extern volatile sig_atomic_t sm_cli_stop;
void sm_cli_catch_signals(void);

/* ---- ApiVersions (apiversions.c) ------------------------------------------ */

typedef struct sm_api_range {
    int16_t key, min, max;
} sm_api_range;

/* Asks host:port for its API version ranges (PLAINTEXT only). *out is
 * malloc'd (free it); on failure -1 with the reason in err. */
int sm_api_versions(const char *host, int port, int timeout_ms, sm_api_range **out, int *n,
                    char *err, size_t errlen);
/* Kafka's name of an API key ("Produce"), or "?". */
const char *sm_api_name(int key);

/* ---- output (out.c) ------------------------------------------------------- */

typedef struct sm_table {
    int ncols;
    const char *const *head;
    unsigned right; /* bit i: column i is right-aligned */
    char **cells;
    size_t n, cap; /* cells */
} sm_table;

void sm_table_init(sm_table *t, int ncols, const char *const *head, unsigned right);
/* Appends one cell (printf format) to the current row; rows fill left to right. */
void sm_table_cell(sm_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sm_table_print(const sm_table *t, FILE *f);
void sm_table_release(sm_table *t);

/* Prints j (indented) on stdout, then releases it. */
void sm_json_print(json_t *j);
/* A JSON string of bytes: text if valid UTF-8, else NULL (the caller then
 * uses sm_json_base64). len < 0: JSON null. */
json_t *sm_json_bytes(const void *p, ssize_t len);
json_t *sm_json_base64(const void *p, size_t len);
/* "2024-05-01T12:00:00.250Z" from ms since the epoch. */
void sm_fmt_time(int64_t ms, char *buf, size_t len);
/* "3.2 s", "4 min 12 s", "2 h 5 min", "3 d 4 h". */
void sm_fmt_age(int64_t ms, char *buf, size_t len);
/* Printable: control and non-UTF-8 bytes escaped, at most max bytes shown. */
void sm_fmt_printable(const void *p, size_t len, size_t max, char *buf, size_t buflen);

/* A progress line on stderr, only when stderr is a terminal, shown once a
 * run has lasted over a second, redrawn at most 10 times a second. */
typedef struct sm_progress {
    bool on;
    int64_t start_ms, last_ms;
    int64_t total; /* -1: unknown (count and rate only) */
    bool by_bytes; /* total is in bytes (a file being read), not in records */
    const char *unit;
    bool drawn;
} sm_progress;

/* total: records (or bytes when by_bytes) expected, or -1 if unknown. */
void sm_progress_init(sm_progress *p, bool enabled, int64_t total, bool by_bytes,
                      const char *unit);
void sm_progress_update(sm_progress *p, int64_t done, int64_t bytes);
void sm_progress_end(sm_progress *p);

/* ---- subcommands ----------------------------------------------------------- */

int sm_cmd_topic(sm_cli *c, int argc, char **argv);
int sm_cmd_produce(sm_cli *c, int argc, char **argv);
int sm_cmd_consume(sm_cli *c, int argc, char **argv);
int sm_cmd_group(sm_cli *c, int argc, char **argv);
int sm_cmd_cluster(sm_cli *c, int argc, char **argv);
int sm_cmd_outbox(sm_cli *c, int argc, char **argv);
int sm_cmd_completion(sm_cli *c, int argc, char **argv);

/* Every command's help, for the completion script. */
extern const sm_cmd_help sm_help_topic_create, sm_help_topic_list, sm_help_topic_describe,
    sm_help_topic_delete, sm_help_topic_alter_config, sm_help_topic_add_partitions,
    sm_help_produce, sm_help_consume, sm_help_group_list, sm_help_group_describe,
    sm_help_group_delete, sm_help_group_reset_offsets, sm_help_cluster_info,
    sm_help_outbox_status, sm_help_outbox_list, sm_help_outbox_show, sm_help_outbox_retry,
    sm_help_outbox_dead, sm_help_outbox_init, sm_help_outbox_enqueue, sm_help_completion;
extern const sm_opt sm_common_opts[];
extern const sm_opt sm_common_kafka_opts[];

#endif
