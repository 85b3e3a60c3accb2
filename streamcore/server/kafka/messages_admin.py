"""Kafka messages for administration and producer ids.

CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs, AlterConfigs,
IncrementalAlterConfigs, DeleteRecords, InitProducerId; restated from Kafka's
message schemas for the versions streamcore serves (``covers``).
"""

from __future__ import annotations

from .schema import BOOL, INT8, INT16, INT32, INT64, STRING, Array, F, message

CREATE_TOPICS_REQUEST = message("CreateTopicsRequest", 19, "0-4", 5, [
    F("topics", [
        F("name", STRING),
        F("num_partitions", INT32),
        F("replication_factor", INT16),
        F("assignments", [
            F("partition_index", INT32),
            F("broker_ids", Array(INT32)),
        ]),
        F("configs", [
            F("name", STRING),
            F("value", STRING, nullable="0+"),
        ]),
    ]),
    F("timeout_ms", INT32, default=60000),
    F("validate_only", BOOL, "1+"),
])

CREATE_TOPICS_RESPONSE = message("CreateTopicsResponse", 19, "0-4", 5, [
    F("throttle_time_ms", INT32, "2+"),
    F("topics", [
        F("name", STRING),
        F("error_code", INT16),
        F("error_message", STRING, "1+", nullable="0+", default=None),
    ]),
])

DELETE_TOPICS_REQUEST = message("DeleteTopicsRequest", 20, "0-3", 4, [
    F("topic_names", Array(STRING), "0-5"),
    F("timeout_ms", INT32),
])

DELETE_TOPICS_RESPONSE = message("DeleteTopicsResponse", 20, "0-3", 4, [
    F("throttle_time_ms", INT32, "1+"),
    F("responses", [
        F("name", STRING),
        F("error_code", INT16),
    ]),
])

CREATE_PARTITIONS_REQUEST = message("CreatePartitionsRequest", 37, "0-1", 2, [
    F("topics", [
        F("name", STRING),
        F("count", INT32),
        F("assignments", [
            F("broker_ids", Array(INT32)),
        ], nullable="0+", default=None),
    ]),
    F("timeout_ms", INT32),
    F("validate_only", BOOL),
])

CREATE_PARTITIONS_RESPONSE = message("CreatePartitionsResponse", 37, "0-1", 2, [
    F("throttle_time_ms", INT32),
    F("results", [
        F("name", STRING),
        F("error_code", INT16),
        F("error_message", STRING, nullable="0+", default=None),
    ]),
])

DESCRIBE_CONFIGS_REQUEST = message("DescribeConfigsRequest", 32, "0-3", 4, [
    F("resources", [
        F("resource_type", INT8),
        F("resource_name", STRING),
        F("configuration_keys", Array(STRING), nullable="0+", default=None),
    ]),
    F("include_synonyms", BOOL, "1+"),
    F("include_documentation", BOOL, "3+"),
])

DESCRIBE_CONFIGS_RESPONSE = message("DescribeConfigsResponse", 32, "0-3", 4, [
    F("throttle_time_ms", INT32),
    F("results", [
        F("error_code", INT16),
        F("error_message", STRING, nullable="0+", default=None),
        F("resource_type", INT8),
        F("resource_name", STRING),
        F("configs", [
            F("name", STRING),
            F("value", STRING, nullable="0+"),
            F("read_only", BOOL),
            F("is_default", BOOL, "0"),
            F("config_source", INT8, "1+", default=-1),
            F("is_sensitive", BOOL),
            F("synonyms", [
                F("name", STRING, "1+"),
                F("value", STRING, "1+", nullable="0+"),
                F("source", INT8, "1+"),
            ], "1+"),
            F("config_type", INT8, "3+"),
            F("documentation", STRING, "3+", nullable="0+", default=None),
        ]),
    ]),
])

ALTER_CONFIGS_REQUEST = message("AlterConfigsRequest", 33, "0-1", 2, [
    F("resources", [
        F("resource_type", INT8),
        F("resource_name", STRING),
        F("configs", [
            F("name", STRING),
            F("value", STRING, nullable="0+"),
        ]),
    ]),
    F("validate_only", BOOL),
])

ALTER_CONFIGS_RESPONSE = message("AlterConfigsResponse", 33, "0-1", 2, [
    F("throttle_time_ms", INT32),
    F("responses", [
        F("error_code", INT16),
        F("error_message", STRING, nullable="0+", default=None),
        F("resource_type", INT8),
        F("resource_name", STRING),
    ]),
])

INCREMENTAL_ALTER_CONFIGS_REQUEST = message("IncrementalAlterConfigsRequest", 44, "0", 1, [
    F("resources", [
        F("resource_type", INT8),
        F("resource_name", STRING),
        F("configs", [
            F("name", STRING),
            F("config_operation", INT8),
            F("value", STRING, nullable="0+"),
        ]),
    ]),
    F("validate_only", BOOL),
])

INCREMENTAL_ALTER_CONFIGS_RESPONSE = message("IncrementalAlterConfigsResponse", 44, "0", 1, [
    F("throttle_time_ms", INT32),
    F("responses", [
        F("error_code", INT16),
        F("error_message", STRING, nullable="0+", default=None),
        F("resource_type", INT8),
        F("resource_name", STRING),
    ]),
])

DELETE_RECORDS_REQUEST = message("DeleteRecordsRequest", 21, "0-1", 2, [
    F("topics", [
        F("name", STRING),
        F("partitions", [
            F("partition_index", INT32),
            F("offset", INT64),
        ]),
    ]),
    F("timeout_ms", INT32),
])

DELETE_RECORDS_RESPONSE = message("DeleteRecordsResponse", 21, "0-1", 2, [
    F("throttle_time_ms", INT32),
    F("topics", [
        F("name", STRING),
        F("partitions", [
            F("partition_index", INT32),
            F("low_watermark", INT64),
            F("error_code", INT16),
        ]),
    ]),
])

INIT_PRODUCER_ID_REQUEST = message("InitProducerIdRequest", 22, "0-1", 2, [
    F("transactional_id", STRING, nullable="0+"),
    F("transaction_timeout_ms", INT32),
])

INIT_PRODUCER_ID_RESPONSE = message("InitProducerIdResponse", 22, "0-1", 2, [
    F("throttle_time_ms", INT32),
    F("error_code", INT16),
    F("producer_id", INT64, default=-1),
    F("producer_epoch", INT16),
])
