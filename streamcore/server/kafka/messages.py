"""Kafka messages for data: ApiVersions, Metadata, Produce, Fetch, ListOffsets.

Restated from Kafka's message schemas for the versions streamcore serves
(``covers``); see ``schema.py`` for the vocabulary.  Group and admin messages
are in ``messages_groups.py`` and ``messages_admin.py``.
"""

from __future__ import annotations

from .schema import BOOL, INT8, INT16, INT32, INT64, RECORDS, STRING, Array, F, message

# ------------------------------------------------------------------ headers

REQUEST_HEADER = message("RequestHeader", None, "0-2", 2, [
    F("request_api_key", INT16),
    F("request_api_version", INT16),
    F("correlation_id", INT32),
    # Still an int16-length string in the flexible header v2.
    F("client_id", STRING, "1+", nullable="1+"),
])

# ------------------------------------------------------------------ ApiVersions (18)

API_VERSIONS_REQUEST = message("ApiVersionsRequest", 18, "0-3", 3, [
    F("client_software_name", STRING, "3+"),
    F("client_software_version", STRING, "3+"),
])

API_VERSIONS_RESPONSE = message("ApiVersionsResponse", 18, "0-3", 3, [
    F("error_code", INT16),
    F("api_keys", [
        F("api_key", INT16),
        F("min_version", INT16),
        F("max_version", INT16),
    ]),
    F("throttle_time_ms", INT32, "1+"),
])

# ------------------------------------------------------------------ Metadata (3)

METADATA_REQUEST = message("MetadataRequest", 3, "0-8", 9, [
    F("topics", [
        F("name", STRING),
    ], nullable="1+"),
    F("allow_auto_topic_creation", BOOL, "4+", default=True),
    F("include_cluster_authorized_operations", BOOL, "8-10"),
    F("include_topic_authorized_operations", BOOL, "8+"),
])

METADATA_RESPONSE = message("MetadataResponse", 3, "0-8", 9, [
    F("throttle_time_ms", INT32, "3+"),
    F("brokers", [
        F("node_id", INT32),
        F("host", STRING),
        F("port", INT32),
        F("rack", STRING, "1+", nullable="1+", default=None),
    ]),
    F("cluster_id", STRING, "2+", nullable="2+", default=None),
    F("controller_id", INT32, "1+", default=-1),
    F("topics", [
        F("error_code", INT16),
        F("name", STRING),
        F("is_internal", BOOL, "1+"),
        F("partitions", [
            F("error_code", INT16),
            F("partition_index", INT32),
            F("leader_id", INT32),
            F("leader_epoch", INT32, "7+", default=-1),
            F("replica_nodes", Array(INT32)),
            F("isr_nodes", Array(INT32)),
            F("offline_replicas", Array(INT32), "5+"),
        ]),
        F("topic_authorized_operations", INT32, "8+", default=-(2**31)),
    ]),
    F("cluster_authorized_operations", INT32, "8-10", default=-(2**31)),
])

# ------------------------------------------------------------------ Produce (0)

PRODUCE_REQUEST = message("ProduceRequest", 0, "0-8", 9, [
    F("transactional_id", STRING, "3+", nullable="3+", default=None),
    F("acks", INT16),
    F("timeout_ms", INT32),
    F("topic_data", [
        F("name", STRING),
        F("partition_data", [
            F("index", INT32),
            F("records", RECORDS, nullable="0+"),
        ]),
    ]),
])

PRODUCE_RESPONSE = message("ProduceResponse", 0, "0-8", 9, [
    F("responses", [
        F("name", STRING),
        F("partition_responses", [
            F("index", INT32),
            F("error_code", INT16),
            F("base_offset", INT64),
            F("log_append_time_ms", INT64, "2+", default=-1),
            F("log_start_offset", INT64, "5+", default=-1),
            F("record_errors", [
                F("batch_index", INT32, "8+"),
                F("batch_index_error_message", STRING, "8+", nullable="8+", default=None),
            ], "8+"),
            F("error_message", STRING, "8+", nullable="8+", default=None),
        ]),
    ]),
    F("throttle_time_ms", INT32, "1+"),
])

# ------------------------------------------------------------------ Fetch (1)

FETCH_REQUEST = message("FetchRequest", 1, "0-11", 12, [
    F("replica_id", INT32, "0-14", default=-1),
    F("max_wait_ms", INT32),
    F("min_bytes", INT32),
    F("max_bytes", INT32, "3+", default=0x7FFFFFFF),
    F("isolation_level", INT8, "4+"),
    F("session_id", INT32, "7+"),
    F("session_epoch", INT32, "7+", default=-1),
    F("topics", [
        F("topic", STRING, "0-12"),
        F("partitions", [
            F("partition", INT32),
            F("current_leader_epoch", INT32, "9+", default=-1),
            F("fetch_offset", INT64),
            F("log_start_offset", INT64, "5+", default=-1),
            F("partition_max_bytes", INT32),
        ]),
    ]),
    F("forgotten_topics_data", [
        F("topic", STRING, "7-12"),
        F("partitions", Array(INT32), "7+"),
    ], "7+"),
    F("rack_id", STRING, "11+"),
])

FETCH_RESPONSE = message("FetchResponse", 1, "0-11", 12, [
    F("throttle_time_ms", INT32, "1+"),
    F("error_code", INT16, "7+"),
    F("session_id", INT32, "7+"),
    F("responses", [
        F("topic", STRING, "0-12"),
        F("partitions", [
            F("partition_index", INT32),
            F("error_code", INT16),
            F("high_watermark", INT64),
            F("last_stable_offset", INT64, "4+", default=-1),
            F("log_start_offset", INT64, "5+", default=-1),
            F("aborted_transactions", [
                F("producer_id", INT64, "4+"),
                F("first_offset", INT64, "4+"),
            ], "4+", nullable="4+", default=None),
            F("preferred_read_replica", INT32, "11+", default=-1),
            F("records", RECORDS, nullable="0+", default=None),
        ]),
    ]),
])

# ------------------------------------------------------------------ ListOffsets (2)

LIST_OFFSETS_REQUEST = message("ListOffsetsRequest", 2, "0-5", 6, [
    F("replica_id", INT32),
    F("isolation_level", INT8, "2+"),
    F("topics", [
        F("name", STRING),
        F("partitions", [
            F("partition_index", INT32),
            F("current_leader_epoch", INT32, "4+", default=-1),
            F("timestamp", INT64),
            F("max_num_offsets", INT32, "0", default=1),
        ]),
    ]),
])

LIST_OFFSETS_RESPONSE = message("ListOffsetsResponse", 2, "0-5", 6, [
    F("throttle_time_ms", INT32, "2+"),
    F("topics", [
        F("name", STRING),
        F("partitions", [
            F("partition_index", INT32),
            F("error_code", INT16),
            F("old_style_offsets", Array(INT64), "0"),
            F("timestamp", INT64, "1+", default=-1),
            F("offset", INT64, "1+", default=-1),
            F("leader_epoch", INT32, "4+", default=-1),
        ]),
    ]),
])

# ------------------------------------------------------------------ OffsetForLeaderEpoch (23)

OFFSET_FOR_LEADER_EPOCH_REQUEST = message("OffsetForLeaderEpochRequest", 23, "0-3", 4, [
    F("replica_id", INT32, "3+", default=-2),
    F("topics", [
        F("topic", STRING),
        F("partitions", [
            F("partition", INT32),
            F("current_leader_epoch", INT32, "2+", default=-1),
            F("leader_epoch", INT32),
        ]),
    ]),
])

OFFSET_FOR_LEADER_EPOCH_RESPONSE = message("OffsetForLeaderEpochResponse", 23, "0-3", 4, [
    F("throttle_time_ms", INT32, "2+"),
    F("topics", [
        F("topic", STRING),
        F("partitions", [
            F("error_code", INT16),
            F("partition", INT32),
            F("leader_epoch", INT32, "1+", default=-1),
            F("end_offset", INT64, default=-1),
        ]),
    ]),
])

__all__ = [
    "REQUEST_HEADER",
    "API_VERSIONS_REQUEST",
    "API_VERSIONS_RESPONSE",
    "METADATA_REQUEST",
    "METADATA_RESPONSE",
    "PRODUCE_REQUEST",
    "PRODUCE_RESPONSE",
    "FETCH_REQUEST",
    "FETCH_RESPONSE",
    "LIST_OFFSETS_REQUEST",
    "LIST_OFFSETS_RESPONSE",
    "OFFSET_FOR_LEADER_EPOCH_REQUEST",
    "OFFSET_FOR_LEADER_EPOCH_RESPONSE",
]
