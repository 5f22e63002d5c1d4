/* api.h: the API table (api.c) and every request handler (h_*.c).
 *
 * conn.c dispatches a request through sm_api_find once its key and version
 * are checked against the entry (an ApiVersions request of a version we do
 * not speak still reaches its handler, which answers in the v0 shape); it
 * knows no other API. Adding an API is one
 * line in api.c's table, its handler declared here, and one h_*.c file.
 *
 * Threads: handlers run on the event-loop thread, one at a time (never
 * inside another handler).
 *
 * Ownership and errors: a handler gets a request whose header is decoded
 * and whose version is in range; from then on the request is the
 * handler's until it completes it, now or later, in one of the ways
 * conn.h lists. A handler reports a bad request body with
 * sm_req_fail_connection and every other failure in its response's
 * error codes; it returns nothing. */
#ifndef SM_BROKER_API_H
#define SM_BROKER_API_H

#include <stdint.h>

#include "broker/conn.h" /* sm_req and its lifecycle, which every handler uses */

typedef struct sm_api_def {
    int16_t key;
    int16_t min_version;
    int16_t max_version;
    void (*handle)(sm_req *req);
} sm_api_def;

/* The entry for key, or NULL; every entry, *n of them. The table is static:
 * the pointers stay valid for the life of the process. */
#define SM_API_MAX_DEFS 64 /* api.c asserts the table fits */
const sm_api_def *sm_api_find(int16_t key);
const sm_api_def *sm_api_list(int *n);
/* An API Kafka defines that the broker does not implement but answers with
 * its error response (never advertised: api.c's second table), or NULL. */
const sm_api_def *sm_api_find_unimplemented(int16_t key);

/* Handlers, one per API, by file. */
/* h_api_versions.c, h_metadata.c */
void sm_handle_api_versions(sm_req *req);
void sm_handle_metadata(sm_req *req);
/* h_produce.c, h_fetch.c, h_list_offsets.c */
void sm_handle_produce(sm_req *req);
void sm_handle_fetch(sm_req *req);
void sm_handle_list_offsets(sm_req *req);
/* h_init_producer_id.c */
void sm_handle_init_producer_id(sm_req *req);
/* h_topics.c */
void sm_handle_create_topics(sm_req *req);
void sm_handle_delete_topics(sm_req *req);
void sm_handle_create_partitions(sm_req *req);
void sm_handle_delete_records(sm_req *req);
/* h_configs.c */
void sm_handle_describe_configs(sm_req *req);
void sm_handle_alter_configs(sm_req *req);
void sm_handle_incremental_alter_configs(sm_req *req);
/* h_acls.c: no authorizer, SECURITY_DISABLED */
void sm_handle_describe_acls(sm_req *req);
void sm_handle_create_acls(sm_req *req);
void sm_handle_delete_acls(sm_req *req);
/* h_cluster.c */
void sm_handle_describe_cluster(sm_req *req);
void sm_handle_describe_log_dirs(sm_req *req);
void sm_handle_list_partition_reassignments(sm_req *req);
/* h_transactions.c: no transactions */
void sm_handle_list_transactions(sm_req *req);
void sm_handle_describe_transactions(sm_req *req);
/* h_quotas.c: no client quotas */
void sm_handle_describe_client_quotas(sm_req *req);
/* h_leader_epoch.c */
void sm_handle_offset_for_leader_epoch(sm_req *req);
/* h_producers.c */
void sm_handle_describe_producers(sm_req *req);
/* h_unimplemented.c: the error responses of api.c's second table */
void sm_handle_unimplemented(sm_req *req);
/* h_group.c: membership, DeleteGroups */
void sm_handle_find_coordinator(sm_req *req);
void sm_handle_join_group(sm_req *req);
void sm_handle_sync_group(sm_req *req);
void sm_handle_heartbeat(sm_req *req);
void sm_handle_leave_group(sm_req *req);
void sm_handle_describe_groups(sm_req *req);
void sm_handle_list_groups(sm_req *req);
void sm_handle_delete_groups(sm_req *req);
/* h_offsets.c */
void sm_handle_offset_commit(sm_req *req);
void sm_handle_offset_fetch(sm_req *req);
void sm_handle_offset_delete(sm_req *req);

#endif
