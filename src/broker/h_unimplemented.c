/* h_unimplemented.c: APIs Kafka defines that samsa-broker does not
 * implement (api.c's second table), answered with the API's own error
 * response rather than a closed connection, so that a client which sends
 * one without consulting ApiVersions (Sarama's ClusterAdmin does) reads a
 * clear error and keeps its connection and its other requests:
 *   SaslHandshake, SaslAuthenticate: ILLEGAL_SASL_STATE, as a Kafka broker
 *     answers them on a PLAINTEXT listener (KafkaApis);
 *   AddOffsetsToTxn, EndTxn: TRANSACTIONAL_ID_AUTHORIZATION_FAILED, the
 *     answer InitProducerId gives a transactional id (no transactions). */
#include "base/log.h"
#include "broker/api.h"
#include "broker/conn.h"
#include "proto/error_response.h"
#include "proto/kafka.h"

typedef struct layout {
    int16_t key;
    int16_t min_version, max_version;
    const char *fields; /* error_response.h */
    int16_t error_code;
    const char *message;
} layout;

static const layout layouts[] = {
    {SM_API_SASL_HANDSHAKE, 0, 1, "EA", SM_KERR_ILLEGAL_SASL_STATE, NULL},
    {SM_API_SASL_AUTHENTICATE, 0, 0, "EMB", SM_KERR_ILLEGAL_SASL_STATE,
     "SaslAuthenticate request received after successful authentication"},
    {SM_API_SASL_AUTHENTICATE, 1, 2, "EMBL", SM_KERR_ILLEGAL_SASL_STATE,
     "SaslAuthenticate request received after successful authentication"},
    {SM_API_ADD_OFFSETS_TO_TXN, 0, 4, "TE", SM_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, NULL},
    {SM_API_END_TXN, 0, 4, "TE", SM_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, NULL},
};

void sm_handle_unimplemented(sm_req *req)
{
    const layout *l = NULL;
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0] && !l; i++)
        if (layouts[i].key == req->hdr.api_key && req->hdr.api_version >= layouts[i].min_version &&
            req->hdr.api_version <= layouts[i].max_version)
            l = &layouts[i];
    if (!l) {
        sm_req_fail_connection(req, "API not implemented, and no known response layout");
        return;
    }
    sm_log_limited(SM_LOG_WARN, "%s v%d from %s (client id '%.*s'): not implemented by "
                   "samsa-broker; answered %s",
                   sm_api_name(req->hdr.api_key), req->hdr.api_version,
                   req->conn ? req->conn->peer : "-",
                   req->hdr.client_id.len > 0 ? (int)req->hdr.client_id.len : 0,
                   req->hdr.client_id.len > 0 ? req->hdr.client_id.p : "",
                   sm_kerr_name(l->error_code));
    /* the body is not decoded: nothing in it changes the answer */
    sm_resp_begin(req);
    sm_error_resp_encode(&req->w, l->fields, sm_api_flexible(req->hdr.api_key, req->hdr.api_version),
                         l->error_code, sm_str_c(l->message));
    sm_req_complete(req);
}
