"""What the queue service hands back: sent-message results, received messages,
per-entry batch errors, move tasks.  Plain value objects with SQS's meanings;
``SendResult`` and ``Message``, built ten per batch, are C types
(``results.pxi``)."""

from __future__ import annotations

from dataclasses import dataclass

from ._native import Message, SendResult

__all__ = ["BatchError", "Message", "MoveTask", "SendResult"]


@dataclass(slots=True)
class BatchError:
    """One failed batch entry; the other entries are not affected."""

    id: str
    code: str  # the legacy Query code, as SQS reports it in a batch result
    message: str
    sender_fault: bool = True


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

