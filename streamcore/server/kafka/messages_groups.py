"""Kafka messages for consumer groups and committed offsets.

FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup, OffsetCommit,
OffsetFetch, DescribeGroups, ListGroups, DeleteGroups; restated from Kafka's
message schemas for the versions streamcore serves (``covers``).
"""

from __future__ import annotations

from .schema import BOOL, BYTES, INT8, INT16, INT32, INT64, STRING, Array, F, message

FIND_COORDINATOR_REQUEST = message("FindCoordinatorRequest", 10, "0-2", 3, [
    F("key", STRING, "0-3"),
    F("key_type", INT8, "1+"),
])

FIND_COORDINATOR_RESPONSE = message("FindCoordinatorResponse", 10, "0-2", 3, [
    F("throttle_time_ms", INT32, "1+"),
    F("error_code", INT16, "0-3"),
    F("error_message", STRING, "1-3", nullable="1-3", default=None),
    F("node_id", INT32, "0-3"),
    F("host", STRING, "0-3"),
    F("port", INT32, "0-3"),
])

JOIN_GROUP_REQUEST = message("JoinGroupRequest", 11, "0-5", 6, [
    F("group_id", STRING),
    F("session_timeout_ms", INT32),
    F("rebalance_timeout_ms", INT32, "1+", default=-1),
    F("member_id", STRING),
    F("group_instance_id", STRING, "5+", nullable="5+", default=None),
    F("protocol_type", STRING),
    F("protocols", [
        F("name", STRING),
        F("metadata", BYTES),
    ]),
])

JOIN_GROUP_RESPONSE = message("JoinGroupResponse", 11, "0-5", 6, [
    F("throttle_time_ms", INT32, "2+"),
    F("error_code", INT16),
    F("generation_id", INT32, default=-1),
    F("protocol_name", STRING, nullable="7+"),
    F("leader", STRING),
    F("member_id", STRING),
    F("members", [
        F("member_id", STRING),
        F("group_instance_id", STRING, "5+", nullable="5+", default=None),
        F("metadata", BYTES),
    ]),
])

HEARTBEAT_REQUEST = message("HeartbeatRequest", 12, "0-3", 4, [
    F("group_id", STRING),
    F("generation_id", INT32),
    F("member_id", STRING),
    F("group_instance_id", STRING, "3+", nullable="3+", default=None),
])

HEARTBEAT_RESPONSE = message("HeartbeatResponse", 12, "0-3", 4, [
    F("throttle_time_ms", INT32, "1+"),
    F("error_code", INT16),
])

LEAVE_GROUP_REQUEST = message("LeaveGroupRequest", 13, "0-3", 4, [
    F("group_id", STRING),
    F("member_id", STRING, "0-2"),
    F("members", [
        F("member_id", STRING, "3+"),
        F("group_instance_id", STRING, "3+", nullable="3+", default=None),
    ], "3+"),
])

LEAVE_GROUP_RESPONSE = message("LeaveGroupResponse", 13, "0-3", 4, [
    F("throttle_time_ms", INT32, "1+"),
    F("error_code", INT16),
    F("members", [
        F("member_id", STRING, "3+"),
        F("group_instance_id", STRING, "3+", nullable="3+", default=None),
        F("error_code", INT16, "3+"),
    ], "3+"),
])

SYNC_GROUP_REQUEST = message("SyncGroupRequest", 14, "0-3", 4, [
    F("group_id", STRING),
    F("generation_id", INT32),
    F("member_id", STRING),
    F("group_instance_id", STRING, "3+", nullable="3+", default=None),
    F("assignments", [
        F("member_id", STRING),
        F("assignment", BYTES),
    ]),
])

SYNC_GROUP_RESPONSE = message("SyncGroupResponse", 14, "0-3", 4, [
    F("throttle_time_ms", INT32, "1+"),
    F("error_code", INT16),
    F("assignment", BYTES),
])

OFFSET_COMMIT_REQUEST = message("OffsetCommitRequest", 8, "0-7", 8, [
    F("group_id", STRING),
    F("generation_id_or_member_epoch", INT32, "1+", default=-1),
    F("member_id", STRING, "1+"),
    F("group_instance_id", STRING, "7+", nullable="7+", default=None),
    F("retention_time_ms", INT64, "2-4", default=-1),
    F("topics", [
        F("name", STRING),
        F("partitions", [
            F("partition_index", INT32),
            F("committed_offset", INT64),
            F("committed_leader_epoch", INT32, "6+", default=-1),
            F("commit_timestamp", INT64, "1", default=-1),
            F("committed_metadata", STRING, nullable="0+"),
        ]),
    ]),
])

OFFSET_COMMIT_RESPONSE = message("OffsetCommitResponse", 8, "0-7", 8, [
    F("throttle_time_ms", INT32, "3+"),
    F("topics", [
        F("name", STRING),
        F("partitions", [
            F("partition_index", INT32),
            F("error_code", INT16),
        ]),
    ]),
])

OFFSET_FETCH_REQUEST = message("OffsetFetchRequest", 9, "0-5", 6, [
    F("group_id", STRING, "0-7"),
    F("topics", [
        F("name", STRING, "0-7"),
        F("partition_indexes", Array(INT32), "0-7"),
    ], "0-7", nullable="2-7"),
])

OFFSET_FETCH_RESPONSE = message("OffsetFetchResponse", 9, "0-5", 6, [
    F("throttle_time_ms", INT32, "3+"),
    F("topics", [
        F("name", STRING, "0-7"),
        F("partitions", [
            F("partition_index", INT32, "0-7"),
            F("committed_offset", INT64, "0-7"),
            F("committed_leader_epoch", INT32, "5-7", default=-1),
            F("metadata", STRING, "0-7", nullable="0-7"),
            F("error_code", INT16, "0-7"),
        ], "0-7"),
    ], "0-7"),
    F("error_code", INT16, "2-7"),
])

DESCRIBE_GROUPS_REQUEST = message("DescribeGroupsRequest", 15, "0-4", 5, [
    F("groups", Array(STRING)),
    F("include_authorized_operations", BOOL, "3+"),
])

DESCRIBE_GROUPS_RESPONSE = message("DescribeGroupsResponse", 15, "0-4", 5, [
    F("throttle_time_ms", INT32, "1+"),
    F("groups", [
        F("error_code", INT16),
        F("group_id", STRING),
        F("group_state", STRING),
        F("protocol_type", STRING),
        F("protocol_data", STRING),
        F("members", [
            F("member_id", STRING),
            F("group_instance_id", STRING, "4+", nullable="4+", default=None),
            F("client_id", STRING),
            F("client_host", STRING),
            F("member_metadata", BYTES),
            F("member_assignment", BYTES),
        ]),
        F("authorized_operations", INT32, "3+", default=-(2**31)),
    ]),
])

LIST_GROUPS_REQUEST = message("ListGroupsRequest", 16, "0-2", 3, [])

LIST_GROUPS_RESPONSE = message("ListGroupsResponse", 16, "0-2", 3, [
    F("throttle_time_ms", INT32, "1+"),
    F("error_code", INT16),
    F("groups", [
        F("group_id", STRING),
        F("protocol_type", STRING),
    ]),
])

DELETE_GROUPS_REQUEST = message("DeleteGroupsRequest", 42, "0-1", 2, [
    F("groups_names", Array(STRING)),
])

DELETE_GROUPS_RESPONSE = message("DeleteGroupsResponse", 42, "0-1", 2, [
    F("throttle_time_ms", INT32),
    F("results", [
        F("group_id", STRING),
        F("error_code", INT16),
    ]),
])
