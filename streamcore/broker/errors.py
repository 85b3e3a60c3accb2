"""What the broker refuses, as Kafka names it, and the one table from errors to codes.

A ``BrokerError`` is a refusal in Kafka's model (unknown topic, stale
generation, sequence gap...) and carries the Kafka error code it is known by.
Storage errors carry no protocol code: ``kafka_error_code`` maps them here, in
one table, and anything unexpected becomes UNKNOWN_SERVER_ERROR.
"""

from __future__ import annotations

from enum import IntEnum

from .. import errors as storage


class ErrorCode(IntEnum):
    """Kafka's error codes (Errors.java), the ones a single broker answers with."""

    UNKNOWN_SERVER_ERROR = -1
    NONE = 0
    OFFSET_OUT_OF_RANGE = 1
    CORRUPT_MESSAGE = 2
    UNKNOWN_TOPIC_OR_PARTITION = 3
    INVALID_FETCH_SIZE = 4
    LEADER_NOT_AVAILABLE = 5
    NOT_LEADER_OR_FOLLOWER = 6
    REQUEST_TIMED_OUT = 7
    MESSAGE_TOO_LARGE = 10
    OFFSET_METADATA_TOO_LARGE = 12
    COORDINATOR_LOAD_IN_PROGRESS = 14
    COORDINATOR_NOT_AVAILABLE = 15
    NOT_COORDINATOR = 16
    INVALID_TOPIC_EXCEPTION = 17
    RECORD_LIST_TOO_LARGE = 18
    INVALID_REQUIRED_ACKS = 21
    ILLEGAL_GENERATION = 22
    INCONSISTENT_GROUP_PROTOCOL = 23
    INVALID_GROUP_ID = 24
    UNKNOWN_MEMBER_ID = 25
    INVALID_SESSION_TIMEOUT = 26
    REBALANCE_IN_PROGRESS = 27
    INVALID_COMMIT_OFFSET_SIZE = 28
    INVALID_TIMESTAMP = 32
    UNSUPPORTED_VERSION = 35
    TOPIC_ALREADY_EXISTS = 36
    INVALID_PARTITIONS = 37
    INVALID_REPLICATION_FACTOR = 38
    INVALID_REPLICA_ASSIGNMENT = 39
    INVALID_CONFIG = 40
    INVALID_REQUEST = 42
    UNSUPPORTED_FOR_MESSAGE_FORMAT = 43
    OUT_OF_ORDER_SEQUENCE_NUMBER = 45
    DUPLICATE_SEQUENCE_NUMBER = 46
    INVALID_PRODUCER_EPOCH = 47
    INVALID_TRANSACTION_TIMEOUT = 50
    KAFKA_STORAGE_ERROR = 56
    UNKNOWN_PRODUCER_ID = 59
    GROUP_ID_NOT_FOUND = 69
    NON_EMPTY_GROUP = 68
    UNSUPPORTED_COMPRESSION_TYPE = 76
    MEMBER_ID_REQUIRED = 79
    GROUP_MAX_SIZE_REACHED = 81
    FENCED_INSTANCE_ID = 82
    INVALID_RECORD = 87
    UNSTABLE_OFFSET_COMMIT = 88


class BrokerError(Exception):
    """A request the broker refuses; ``code`` is the Kafka error code."""

    code: ErrorCode = ErrorCode.UNKNOWN_SERVER_ERROR

    def __init__(self, message: str = "", code: ErrorCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class UnknownTopicOrPartitionError(BrokerError):
    code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION


class InvalidTopicError(BrokerError):
    code = ErrorCode.INVALID_TOPIC_EXCEPTION


class TopicExistsError(BrokerError):
    code = ErrorCode.TOPIC_ALREADY_EXISTS


class InvalidPartitionsError(BrokerError):
    code = ErrorCode.INVALID_PARTITIONS


class InvalidReplicationFactorError(BrokerError):
    code = ErrorCode.INVALID_REPLICATION_FACTOR


class InvalidConfigError(BrokerError):
    code = ErrorCode.INVALID_CONFIG


class InvalidRecordError(BrokerError):
    """A batch a producer may not write; ``record_errors`` names the records at fault."""

    code = ErrorCode.INVALID_RECORD

    def __init__(
        self, message: str = "", record_errors: list[tuple[int, str | None]] | None = None
    ) -> None:
        super().__init__(message)
        self.record_errors = record_errors or []


class OutOfOrderSequenceError(BrokerError):
    code = ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER


class InvalidProducerEpochError(BrokerError):
    code = ErrorCode.INVALID_PRODUCER_EPOCH


# The one table from storage errors to Kafka codes (most specific class first).
_STORAGE_CODES: tuple[tuple[type[BaseException], ErrorCode], ...] = (
    (storage.CorruptBatchError, ErrorCode.CORRUPT_MESSAGE),
    (storage.UnsupportedCodecError, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE),
    (storage.OffsetOutOfRangeError, ErrorCode.OFFSET_OUT_OF_RANGE),
    (storage.RecordTooLargeError, ErrorCode.MESSAGE_TOO_LARGE),
    (storage.LogClosedError, ErrorCode.NOT_LEADER_OR_FOLLOWER),
    (storage.LogBusyError, ErrorCode.REQUEST_TIMED_OUT),
    (storage.StorageError, ErrorCode.KAFKA_STORAGE_ERROR),
    (OSError, ErrorCode.KAFKA_STORAGE_ERROR),
)


def kafka_error_code(exc: BaseException) -> ErrorCode:
    """The Kafka error code an exception is answered with."""
    if isinstance(exc, BrokerError):
        return exc.code
    for cls, code in _STORAGE_CODES:
        if isinstance(exc, cls):
            return code
    return ErrorCode.UNKNOWN_SERVER_ERROR


MAX_ERROR_MESSAGE = 1024  # characters of an error message answered to a client


def kafka_error_message(exc: BaseException) -> str | None:
    """The error message an exception is answered with: its text (None when empty), cut
    to MAX_ERROR_MESSAGE characters.  A message may quote what the client sent (a name
    of up to 32,767 bytes), and a Kafka string holds no more than that."""
    text = str(exc)
    if len(text) > MAX_ERROR_MESSAGE:
        text = text[: MAX_ERROR_MESSAGE - 3] + "..."
    return text or None
