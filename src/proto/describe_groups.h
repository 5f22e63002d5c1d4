/* describe_groups.h: DescribeGroups (key 15), versions 0-6.
 *
 * v1 adds ThrottleTimeMs (first field of the response); v2 is the same as
 * v1; v3 adds IncludeAuthorizedOperations to the request and
 * AuthorizedOperations (after Members) to each group; v4 adds
 * GroupInstanceId to each member; v5 is the first flexible version; v6
 * (KIP-1043) adds ErrorMessage (nullable, after ErrorCode) to each group and
 * answers a group that does not exist with GROUP_ID_NOT_FOUND instead of a
 * Dead one.
 *
 * GroupState is Kafka's state name: "Empty", "PreparingRebalance",
 * "CompletingRebalance", "Stable" or "Dead" (an unknown group is answered
 * "Dead" with ErrorCode 0 before v6, as Kafka does). ProtocolType is e.g. "consumer",
 * ProtocolData the chosen protocol (e.g. "range"); MemberMetadata and
 * MemberAssignment are the opaque bytes from JoinGroup and SyncGroup.
 * AuthorizedOperations is a bit field of ACL operations, or INT32_MIN
 * (SM_AUTHORIZED_OPERATIONS_OMITTED) when the request did not ask for it.
 *
 * Conventions: see header.h; the response's nullable strings are null when
 * their .p is NULL, so a zeroed struct encodes sensibly. */
#ifndef SM_PROTO_DESCRIBE_GROUPS_H
#define SM_PROTO_DESCRIBE_GROUPS_H

#include <stdbool.h>

#include "proto/header.h"

#define SM_AUTHORIZED_OPERATIONS_OMITTED INT32_MIN
#define SM_DESCRIBE_GROUPS_FLEX 5 /* first flexible version */
#define SM_DESCRIBE_GROUPS_NOT_FOUND 6 /* first version with ErrorMessage and GROUP_ID_NOT_FOUND */

typedef struct sm_describe_groups_req {
    int32_t group_count;
    sm_str *groups;
    bool include_authorized_operations; /* v3+; false before */
} sm_describe_groups_req;

int sm_describe_groups_req_decode(sm_rd *r, int16_t version, sm_arena *a,
                                  sm_describe_groups_req *out);

typedef struct sm_describe_groups_member {
    sm_str member_id;
    sm_str group_instance_id; /* v4+, nullable */
    sm_str client_id;
    sm_str client_host;
    sm_str member_metadata;   /* BYTES */
    sm_str member_assignment; /* BYTES */
} sm_describe_groups_member;

typedef struct sm_describe_groups_group {
    int16_t error_code;
    sm_str error_message; /* v6+, nullable */
    sm_str group_id;
    sm_str group_state;
    sm_str protocol_type;
    sm_str protocol_data;
    int32_t member_count;
    sm_describe_groups_member *members;
    int32_t authorized_operations; /* v3+ */
} sm_describe_groups_group;

typedef struct sm_describe_groups_resp {
    int32_t throttle_time_ms; /* v1+ */
    int32_t group_count;
    sm_describe_groups_group *groups;
} sm_describe_groups_resp;

void sm_describe_groups_resp_encode(sm_wbuf *w, int16_t version,
                                    const sm_describe_groups_resp *resp);

#endif
