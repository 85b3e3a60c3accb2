"""The queue service's errors: one class per SQS error a caller can act on.

Each class carries SQS's own names for it, so the HTTP layer only translates:
``code`` is the error shape name of the service model (what the JSON protocol
sends as ``__type`` and what boto3's ``client.exceptions.<Code>`` matches),
``query_code`` the legacy Query code (``<Code>`` in an ``<ErrorResponse>`` and
the first half of the ``x-amzn-query-error`` header; what boto3 reports as
``Error.Code``), and ``status`` the HTTP status.

Storage errors carry no protocol codes: ``STORAGE_ERRORS`` is the one table
that says which SQS error each of them becomes (see ``from_storage``).
"""

from __future__ import annotations

from ..errors import (
    CorruptBatchError,
    LogClosedError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
    StorageError,
    StreamcoreError,
)


class QueueError(StreamcoreError):
    """Base class of the queue service's errors."""

    code: str = "InternalError"
    query_code: str = "InternalError"
    status: int = 500
    sender_fault: bool = False

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class _SenderError(QueueError):
    status = 400
    sender_fault = True


_AWS = "AWS.SimpleQueueService."  # the prefix of most legacy Query codes


class QueueDoesNotExistError(_SenderError):
    """The queue named does not exist."""

    code = "QueueDoesNotExist"
    query_code = _AWS + "NonExistentQueue"


class QueueNameExistsError(_SenderError):
    """CreateQueue of an existing name with different attributes."""

    code = "QueueNameExists"
    query_code = "QueueAlreadyExists"


class QueueDeletedRecentlyError(_SenderError):
    """A queue of that name was deleted less than 60 seconds ago."""

    code = "QueueDeletedRecently"
    query_code = _AWS + "QueueDeletedRecently"


class PurgeQueueInProgressError(_SenderError):
    """The queue was purged less than 60 seconds ago."""

    code = "PurgeQueueInProgress"
    query_code = _AWS + "PurgeQueueInProgress"
    status = 403


class TooManyEntriesInBatchRequestError(_SenderError):
    """More than 10 entries in a batch."""

    code = "TooManyEntriesInBatchRequest"
    query_code = _AWS + "TooManyEntriesInBatchRequest"


class BatchEntryIdsNotDistinctError(_SenderError):
    """Two entries of a batch share an Id."""

    code = "BatchEntryIdsNotDistinct"
    query_code = _AWS + "BatchEntryIdsNotDistinct"


class EmptyBatchRequestError(_SenderError):
    """A batch with no entries."""

    code = "EmptyBatchRequest"
    query_code = _AWS + "EmptyBatchRequest"


class BatchRequestTooLongError(_SenderError):
    """The messages of a batch add up to more than 1 MiB."""

    code = "BatchRequestTooLong"
    query_code = _AWS + "BatchRequestTooLong"


class InvalidBatchEntryIdError(_SenderError):
    """A batch entry Id is not 1-80 of [A-Za-z0-9_-]."""

    code = "InvalidBatchEntryId"
    query_code = _AWS + "InvalidBatchEntryId"


class MessageNotInflightError(_SenderError):
    """The message is not in flight."""

    code = "MessageNotInflight"
    query_code = _AWS + "MessageNotInflight"


class UnsupportedOperationError(_SenderError):
    """The operation is not supported."""

    code = "UnsupportedOperation"
    query_code = _AWS + "UnsupportedOperation"


class ReceiptHandleIsInvalidError(_SenderError):
    """The receipt handle is malformed, forged, or for another queue."""

    code = "ReceiptHandleIsInvalid"
    query_code = "ReceiptHandleIsInvalid"


class InvalidAttributeNameError(_SenderError):
    """An unknown queue attribute name, or one this queue type does not have."""

    code = "InvalidAttributeName"
    query_code = "InvalidAttributeName"


class InvalidAttributeValueError(_SenderError):
    """A queue attribute value out of range or malformed."""

    code = "InvalidAttributeValue"
    query_code = "InvalidAttributeValue"


class InvalidMessageContentsError(_SenderError):
    """The message body holds characters SQS does not allow."""

    code = "InvalidMessageContents"
    query_code = "InvalidMessageContents"


class InvalidIdFormatError(_SenderError):
    """A malformed identifier (deprecated)."""

    code = "InvalidIdFormat"
    query_code = "InvalidIdFormat"


class OverLimitError(_SenderError):
    """Too many messages in flight, or too many actions in a permission."""

    code = "OverLimit"
    query_code = "OverLimit"
    status = 403


class ResourceNotFoundError(_SenderError):
    """No such move task, or no such source queue for one."""

    code = "ResourceNotFoundException"
    query_code = "ResourceNotFoundException"
    status = 404


class InvalidParameterValueError(_SenderError):
    """A request parameter is out of range or malformed."""

    code = "InvalidParameterValueException"
    query_code = "InvalidParameterValue"


class MissingParameterError(_SenderError):
    """A required request parameter is absent."""

    code = "MissingRequiredParameterException"
    query_code = "MissingParameter"


class InternalQueueError(QueueError):
    """The service failed (for instance, the disk is full); the request may be retried."""

    code = "InternalError"
    query_code = "InternalError"
    status = 500


# The one table from storage errors (which carry no protocol codes) to SQS errors.
# Order matters: the first class the error is an instance of wins.
STORAGE_ERRORS: tuple[tuple[type[StreamcoreError], type[QueueError], str], ...] = (
    (RecordTooLargeError, InvalidParameterValueError,
     "One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes."),
    (LogClosedError, QueueDoesNotExistError, "The specified queue does not exist."),
    (StorageError, InternalQueueError, "The service could not write to its storage."),
    (CorruptBatchError, InternalQueueError, "Stored data failed its checksum."),
    (OffsetOutOfRangeError, InternalQueueError, "Stored data is missing."),
)


def from_storage(exc: StreamcoreError) -> QueueError:
    """The SQS error a storage error becomes (InternalError when unlisted)."""
    if isinstance(exc, QueueError):
        return exc
    for storage_cls, queue_cls, message in STORAGE_ERRORS:
        if isinstance(exc, storage_cls):
            err = queue_cls(message)
            err.__cause__ = exc
            return err
    err = InternalQueueError(f"{type(exc).__name__}: {exc}")
    err.__cause__ = exc
    return err


__all__ = [
    "QueueError",
    "QueueDoesNotExistError",
    "QueueNameExistsError",
    "QueueDeletedRecentlyError",
    "PurgeQueueInProgressError",
    "TooManyEntriesInBatchRequestError",
    "EmptyBatchRequestError",
    "BatchEntryIdsNotDistinctError",
    "BatchRequestTooLongError",
    "InvalidBatchEntryIdError",
    "MessageNotInflightError",
    "UnsupportedOperationError",
    "ReceiptHandleIsInvalidError",
    "InvalidAttributeNameError",
    "InvalidAttributeValueError",
    "InvalidMessageContentsError",
    "InvalidIdFormatError",
    "OverLimitError",
    "ResourceNotFoundError",
    "InvalidParameterValueError",
    "MissingParameterError",
    "InternalQueueError",
    "STORAGE_ERRORS",
    "from_storage",
]
