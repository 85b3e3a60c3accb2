"""The queue service: SQS's model (standard and FIFO queues, visibility
timeouts, dead-letter queues, deduplication, move tasks) on the storage core.

    qs = QueueService(data_dir)
    q = qs.create_queue("orders", attributes={"VisibilityTimeout": "30"})
    q.send("hello")
    for m in q.receive(max_messages=10, wait_seconds=5):
        q.delete(m.receipt_handle)

Errors are ``QueueError`` subclasses carrying SQS's codes (``.code``,
``.query_code``, ``.status``).
"""

from __future__ import annotations

from .errors import *  # noqa: F403 - the error classes are part of the API
from .errors import __all__ as _error_names
from .queue import Queue
from .results import BatchError, Message, MoveTask, SendResult
from .service import QueueService

__all__ = ["QueueService", "Queue", "SendResult", "BatchError", "Message", "MoveTask",
           *(n for n in _error_names if n.endswith("Error"))]
