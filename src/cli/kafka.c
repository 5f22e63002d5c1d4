/* kafka.c: the librdkafka plumbing every Kafka subcommand shares: the
 * configuration (brokers, -X, callbacks), reaching the cluster with a clear
 * failure when it cannot be reached, admin requests, watermarks, and the
 * mapping of Kafka errors to the command's exit codes.
 *
 * librdkafka retries a dead bootstrap broker forever; a command should not.
 * Its error callback reports "all brokers down", and the waits here give up
 * at that moment with what librdkafka said, or at --timeout. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "cli/cli.h"

volatile sig_atomic_t sm_cli_stop;

static void on_signal(int sig)
{
    (void)sig;
    sm_cli_stop = 1;
}

void sm_cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int sm_cli_exit_of(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return SM_EXIT_OK;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR__NOENT:
        return SM_EXIT_NOTFOUND;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return SM_EXIT_UNREACH;
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_REQUEST:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
        return SM_EXIT_USAGE;
    default:
        return SM_EXIT_FAIL;
    }
}

/* Called from rd_kafka_poll and the consumer poll, on the command's thread. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    sm_cli *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        atomic_store(&c->all_down, true);
        if (atomic_load(&c->have_error))
            return; /* keep the transport error that said why */
    }
    snprintf(c->last_error, sizeof c->last_error, "%s", reason);
    atomic_store(&c->have_error, true);
    if (c->verbose)
        fprintf(stderr, "samsa: rdkafka error: %s: %s\n", rd_kafka_err2name(err), reason);
}

/* From librdkafka's threads: only printed, and only with -v. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)level;
    sm_cli *c = rd_kafka_opaque(rk);
    if (c && c->verbose)
        fprintf(stderr, "samsa: rdkafka %s: %s\n", fac, buf);
}

static int conf_set(sm_cli *c, rd_kafka_conf_t *conf, const char *k, const char *v,
                    const char *origin)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        if (origin)
            return sm_cli_fail(c, SM_EXIT_USAGE, "%s %s=%s: %s", origin, k, v, errstr);
        return sm_cli_fail(c, SM_EXIT_FAIL, "librdkafka refused %s=%s: %s", k, v, errstr);
    }
    return SM_EXIT_OK;
}

rd_kafka_conf_t *sm_kafka_conf(sm_cli *c, int *rc)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    *rc = conf_set(c, conf, "bootstrap.servers", c->brokers, "-b");
    if (!*rc)
        *rc = conf_set(c, conf, "client.id", "samsa-cli", NULL);
    if (!*rc)
        *rc = conf_set(c, conf, "log.connection.close", "false", NULL);
    if (!*rc && c->verbose > 1)
        *rc = conf_set(c, conf, "debug", "broker,protocol,metadata,topic,msg,cgrp,consumer",
                       NULL);
    for (size_t i = 0; !*rc && i < c->xprops.n; i++)
        *rc = conf_set(c, conf, c->xprops.v[i].key, c->xprops.v[i].value, "-X");
    if (*rc) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    return conf;
}

rd_kafka_t *sm_kafka_new(sm_cli *c, rd_kafka_type_t type, rd_kafka_conf_t *conf, int *rc)
{
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        /* most often a -X value that only the combination makes invalid */
        *rc = sm_cli_fail(c, SM_EXIT_USAGE, "cannot create the Kafka client: %s", errstr);
        return NULL;
    }
    *rc = SM_EXIT_OK;
    return rk;
}

rd_kafka_t *sm_kafka_client(sm_cli *c, rd_kafka_type_t type, int *rc)
{
    rd_kafka_conf_t *conf = sm_kafka_conf(c, rc);
    return conf ? sm_kafka_new(c, type, conf, rc) : NULL;
}

rd_kafka_t *sm_kafka_admin_open(sm_cli *c, const rd_kafka_metadata_t **md, int *rc)
{
    rd_kafka_t *rk = sm_kafka_client(c, RD_KAFKA_PRODUCER, rc);
    if (!rk)
        return NULL;
    const rd_kafka_metadata_t *m;
    *rc = sm_kafka_metadata(c, rk, &m);
    if (*rc) {
        rd_kafka_destroy(rk);
        return NULL;
    }
    if (md)
        *md = m;
    else
        rd_kafka_metadata_destroy(m);
    return rk;
}

int sm_kafka_unreachable(sm_cli *c)
{
    if (atomic_load(&c->have_error))
        return sm_cli_fail(c, SM_EXIT_UNREACH, "cannot reach %s: %s", c->brokers,
                           c->last_error);
    return sm_cli_fail(c, SM_EXIT_UNREACH, "no answer from %s within %d ms", c->brokers,
                       c->timeout_ms);
}

int sm_kafka_metadata(sm_cli *c, rd_kafka_t *rk, const rd_kafka_metadata_t **md)
{
    int64_t deadline = sm_mono_ms() + c->timeout_ms;
    *md = NULL;
    for (;;) {
        int64_t left = deadline - sm_mono_ms();
        int slice = left > 500 ? 500 : (int)(left < 1 ? 1 : left);
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, md, slice);
        if (!err)
            return SM_EXIT_OK;
        rd_kafka_poll(rk, 0); /* serve the error callback */
        if (err != RD_KAFKA_RESP_ERR__TIMED_OUT && err != RD_KAFKA_RESP_ERR__TRANSPORT)
            return sm_cli_fail(c, sm_cli_exit_of(err), "metadata from %s: %s", c->brokers,
                               rd_kafka_err2str(err));
        if (atomic_load(&c->all_down) || sm_mono_ms() >= deadline || sm_cli_stop)
            return sm_kafka_unreachable(c);
    }
}

const rd_kafka_metadata_topic_t *sm_md_topic(const rd_kafka_metadata_t *md, const char *name)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (!strcmp(md->topics[i].topic, name))
            return &md->topics[i];
    return NULL;
}

int sm_kafka_topic(sm_cli *c, rd_kafka_t *rk, const char *topic, const rd_kafka_metadata_t **md,
                   const rd_kafka_metadata_topic_t **mt)
{
    int rc = sm_kafka_metadata(c, rk, md);
    if (rc)
        return rc;
    *mt = sm_md_topic(*md, topic);
    if (!*mt || (*mt)->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        rd_kafka_metadata_destroy(*md);
        *md = NULL;
        return sm_cli_fail(c, SM_EXIT_NOTFOUND, "topic '%s' does not exist", topic);
    }
    if ((*mt)->err) {
        rc = sm_cli_fail(c, sm_cli_exit_of((*mt)->err), "topic '%s': %s", topic,
                         rd_kafka_err2str((*mt)->err));
        rd_kafka_metadata_destroy(*md);
        *md = NULL;
        return rc;
    }
    return SM_EXIT_OK;
}

rd_kafka_AdminOptions_t *sm_kafka_admin_options(sm_cli *c, rd_kafka_t *rk,
                                                rd_kafka_admin_op_t op)
{
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
    char errstr[256];
    rd_kafka_AdminOptions_set_request_timeout(o, c->timeout_ms, errstr, sizeof errstr);
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS ||
        op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS)
        rd_kafka_AdminOptions_set_operation_timeout(o, c->timeout_ms, errstr, sizeof errstr);
    return o;
}

rd_kafka_event_t *sm_kafka_admin_wait(sm_cli *c, rd_kafka_t *rk, rd_kafka_queue_t *q,
                                      rd_kafka_event_type_t want, int *rc)
{
    /* librdkafka ends the request at its own timeout; the slack is for that */
    int64_t deadline = sm_mono_ms() + c->timeout_ms + 5000;
    for (;;) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 200);
        if (ev) {
            rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
            if (rd_kafka_event_type(ev) != want) {
                *rc = sm_cli_fail(c, SM_EXIT_FAIL, "unexpected admin result %s",
                                  rd_kafka_event_name(ev));
                rd_kafka_event_destroy(ev);
                return NULL;
            }
            if (err) {
                if (err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT)
                    *rc = sm_kafka_unreachable(c);
                else
                    *rc = sm_cli_fail(c, sm_cli_exit_of(err), "%s",
                                      rd_kafka_event_error_string(ev));
                rd_kafka_event_destroy(ev);
                return NULL;
            }
            *rc = SM_EXIT_OK;
            return ev;
        }
        rd_kafka_poll(rk, 0);
        if (sm_mono_ms() >= deadline) {
            *rc = sm_kafka_unreachable(c);
            return NULL;
        }
    }
}

int sm_kafka_watermarks(sm_cli *c, rd_kafka_t *rk, const char *topic, int32_t partition,
                        int64_t *low, int64_t *high)
{
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, topic, partition, low, high, c->timeout_ms);
    if (err)
        return sm_cli_fail(c, sm_cli_exit_of(err), "offsets of %s [%d]: %s", topic,
                           (int)partition, rd_kafka_err2str(err));
    return SM_EXIT_OK;
}
