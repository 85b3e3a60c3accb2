"""What the queue service hands back: sent-message results, received messages,
per-entry batch errors.  Plain value objects with SQS's meanings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class SendResult:
    """An accepted SendMessage (or batch entry)."""

    message_id: str
    md5_of_body: str
    md5_of_message_attributes: str | None = None
    md5_of_message_system_attributes: str | None = None
    sequence_number: str | None = None  # FIFO queues only
    id: str | None = None  # the batch entry's Id


@dataclass(slots=True)
class BatchError:
    """One failed batch entry; the other entries are not affected."""

    id: str
    code: str  # the legacy Query code, as SQS reports it in a batch result
    message: str
    sender_fault: bool = True


@dataclass(slots=True)
class Message:
    """A received message.  ``attributes`` are the system attributes asked for
    (SentTimestamp, ApproximateReceiveCount, ...), ``message_attributes`` the
    message attributes asked for ({name: {"DataType", "StringValue" or
    "BinaryValue"}}) and ``md5_of_message_attributes`` the MD5 of exactly those."""

    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    attributes: dict[str, str] = field(default_factory=dict)
    message_attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    md5_of_message_attributes: str | None = None


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
