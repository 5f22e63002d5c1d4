/* delete_topics.h: DeleteTopics (key 20), versions 0-3.
 *
 * The request is the same in v0-3 (a list of names and a timeout). The
 * response gains ThrottleTimeMs (first field) in v1; v3 may answer
 * TOPIC_DELETION_DISABLED (73). Conventions: see header.h. */
#ifndef SM_PROTO_DELETE_TOPICS_H
#define SM_PROTO_DELETE_TOPICS_H

#include "proto/header.h"

/* v4 is the first flexible version. v5 adds ErrorMessage and KIP-599
 * throttling, v6 topic ids: not spoken yet. */
#define SM_DELETE_TOPICS_FLEX 4

typedef struct sm_delete_topics_req {
    int32_t topic_name_count;
    sm_str *topic_names;
    int32_t timeout_ms;
} sm_delete_topics_req;

int sm_delete_topics_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_delete_topics_req *out);

typedef struct sm_delete_topics_topic_resp {
    sm_str name;
    int16_t error_code;
} sm_delete_topics_topic_resp;

typedef struct sm_delete_topics_resp {
    int32_t throttle_time_ms; /* v1+ */
    int32_t response_count;
    sm_delete_topics_topic_resp *responses;
} sm_delete_topics_resp;

void sm_delete_topics_resp_encode(sm_wbuf *w, int16_t version, const sm_delete_topics_resp *resp);

#endif
