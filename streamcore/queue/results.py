"""What the queue service hands back: sent-message results, received messages,
per-entry batch errors.  Plain value objects with SQS's meanings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .messages import md5_hex


class SendResult:
    """An accepted SendMessage (or batch entry).

    ``md5_of_body`` is computed from the body the first time it is read (the
    HTTP face always reads it; an embedded sender that does not, never pays for it)."""

    __slots__ = ("message_id", "_md5_of_body", "_body", "md5_of_message_attributes",
                 "md5_of_message_system_attributes", "sequence_number", "id")

    def __init__(self, message_id: str, md5_of_body: str | None,
                 md5_of_message_attributes: str | None = None,
                 md5_of_message_system_attributes: str | None = None,
                 sequence_number: str | None = None, id: str | None = None, *,
                 body: bytes = b"") -> None:
        self.message_id = message_id
        self._md5_of_body = md5_of_body
        self._body = body  # the UTF-8 body, kept until its digest is read
        self.md5_of_message_attributes = md5_of_message_attributes
        self.md5_of_message_system_attributes = md5_of_message_system_attributes
        self.sequence_number = sequence_number  # FIFO queues only
        self.id = id  # the batch entry's Id

    @property
    def md5_of_body(self) -> str:
        if self._md5_of_body is None:
            self._md5_of_body = md5_hex(self._body)
            self._body = b""
        return self._md5_of_body

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SendResult):
            return NotImplemented
        return _fields(self, _SEND_FIELDS) == _fields(other, _SEND_FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return _repr(self, _SEND_FIELDS)


@dataclass(slots=True)
class BatchError:
    """One failed batch entry; the other entries are not affected."""

    id: str
    code: str  # the legacy Query code, as SQS reports it in a batch result
    message: str
    sender_fault: bool = True


class Message:
    """A received message.  ``attributes`` are the system attributes asked for
    (SentTimestamp, ApproximateReceiveCount, ...), ``message_attributes`` the
    message attributes asked for ({name: {"DataType", "StringValue" or
    "BinaryValue"}}) and ``md5_of_message_attributes`` the MD5 of exactly those.
    ``md5_of_body`` is computed from the body the first time it is read."""

    __slots__ = ("message_id", "receipt_handle", "body", "_md5_of_body", "attributes",
                 "message_attributes", "md5_of_message_attributes")

    def __init__(self, message_id: str, receipt_handle: str, body: str,
                 md5_of_body: str | None = None, attributes: dict[str, str] | None = None,
                 message_attributes: dict[str, dict[str, Any]] | None = None,
                 md5_of_message_attributes: str | None = None) -> None:
        self.message_id = message_id
        self.receipt_handle = receipt_handle
        self.body = body
        self._md5_of_body = md5_of_body
        self.attributes = {} if attributes is None else attributes
        self.message_attributes = {} if message_attributes is None else message_attributes
        self.md5_of_message_attributes = md5_of_message_attributes

    @property
    def md5_of_body(self) -> str:
        if self._md5_of_body is None:
            self._md5_of_body = md5_hex(self.body.encode())
        return self._md5_of_body

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return _fields(self, _MESSAGE_FIELDS) == _fields(other, _MESSAGE_FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return _repr(self, _MESSAGE_FIELDS)


@dataclass(slots=True)
class MoveTask:
    """A message move task (StartMessageMoveTask) and its progress."""

    task_handle: str
    source_arn: str
    destination_arn: str | None
    max_per_second: int | None
    started_ms: int
    to_move: int
    moved: int = 0
    status: str = "RUNNING"  # RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED
    failure_reason: str | None = None


_SEND_FIELDS = ("message_id", "md5_of_body", "md5_of_message_attributes",
                "md5_of_message_system_attributes", "sequence_number", "id")
_MESSAGE_FIELDS = ("message_id", "receipt_handle", "body", "md5_of_body", "attributes",
                   "message_attributes", "md5_of_message_attributes")


def _fields(obj: object, names: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(getattr(obj, n) for n in names)


def _repr(obj: object, names: tuple[str, ...]) -> str:
    inner = ", ".join(f"{n}={getattr(obj, n)!r}" for n in names)
    return f"{type(obj).__name__}({inner})"
