"""``Queue``: one standard or FIFO queue with SQS's semantics, durable in its
message log and state journal.  The operations live by concern: ``base``
(state, storage, recovery, waking receivers), ``sending`` and ``receiving``."""

from __future__ import annotations

from collections.abc import Mapping

from .base import MAX_BATCH_ENTRIES, check_batch_ids
from .receiving import ReceivingQueue
from .sending import SendingQueue


class Queue(SendingQueue, ReceivingQueue):
    """A standard or FIFO queue.  Get one from ``QueueService.create_queue``
    or ``get_queue``; its methods raise ``QueueError`` subclasses carrying
    SQS's error codes."""

    def set_attributes(self, attributes: Mapping[str, str]) -> None:
        """SetQueueAttributes."""
        self._service._set_queue_attributes(self, attributes)


__all__ = ["Queue", "check_batch_ids", "MAX_BATCH_ENTRIES"]
