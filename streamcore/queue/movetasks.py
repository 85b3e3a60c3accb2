"""Message move tasks (StartMessageMoveTask): a dead-letter queue's messages
moved back to their source queue, or to a named destination, at a bounded rate.

One background thread runs every task.  Each step moves up to ten visible
messages: appended to the destination first, then deleted from the source,
so a crash in between can repeat a message, never lose one.  Task records are
kept in memory (a restart forgets finished tasks and stops running ones).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .errors import InvalidParameterValueError, QueueError, ResourceNotFoundError
from .results import MoveTask

if TYPE_CHECKING:
    from .service import QueueService

DEFAULT_RATE = 500  # messages per second when the request names no rate
MAX_RATE = 500
STEP = 10


class MoveTaskRunner:
    def __init__(self, service: QueueService) -> None:
        self._service = service
        self._tasks: dict[str, MoveTask] = {}
        self._by_source: dict[str, list[MoveTask]] = {}
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self, source_arn: str, destination_arn: str | None,
              max_per_second: int | None) -> str:
        from .service import new_task_handle

        svc = self._service
        with svc._lock:
            source = svc._queue_by_arn(source_arn)
            if source is None:
                raise ResourceNotFoundError(
                    "The resource that you specified for the SourceArn parameter doesn't exist.")
            if not svc.dead_letter_source_queues(source):
                raise InvalidParameterValueError(
                    "Source queue must be configured as a Dead Letter Queue.")
            if destination_arn is not None:
                destination = svc._queue_by_arn(destination_arn)
                if destination is None:
                    raise ResourceNotFoundError(
                        "The resource that you specified for the DestinationArn parameter "
                        "doesn't exist.")
                if destination is source:
                    raise InvalidParameterValueError(
                        "Value for parameter DestinationArn is invalid. Reason: the source "
                        "and the destination queue must be different.")
                if destination.fifo != source.fifo:  # as a DLQ must be of its source's type
                    raise InvalidParameterValueError(
                        "Value for parameter DestinationArn is invalid. Reason: the "
                        "destination queue must be of the same type as the source queue.")
            if max_per_second is not None and (
                    isinstance(max_per_second, bool) or not isinstance(max_per_second, int)
                    or not 1 <= max_per_second <= MAX_RATE):
                raise InvalidParameterValueError(
                    f"Value {max_per_second} for parameter MaxNumberOfMessagesPerSecond is "
                    f"invalid. Reason: Must be between 1 and {MAX_RATE}.")
            for t in self._by_source.get(source_arn, []):
                if t.status in ("RUNNING", "CANCELLING"):
                    raise InvalidParameterValueError(
                        "There is already a task running. Only one active task is allowed "
                        "for a source queue arn at a given time.")
            visible, _inflight, _delayed = source.counts()
            task = MoveTask(new_task_handle(source_arn), source_arn, destination_arn,
                            max_per_second, svc.now_ms(), visible)
            self._tasks[task.task_handle] = task
            self._by_source.setdefault(source_arn, []).append(task)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="streamcore-move-tasks",
                                                daemon=True)
                self._thread.start()
        self._wake.set()
        return task.task_handle

    def list(self, source_arn: str, max_results: int) -> list[MoveTask]:
        svc = self._service
        if (isinstance(max_results, bool) or not isinstance(max_results, int)
                or not 1 <= max_results <= 10):
            raise InvalidParameterValueError(
                f"Value {max_results} for parameter MaxResults is invalid. "
                "Reason: Must be between 1 and 10.")
        with svc._lock:
            if svc._queue_by_arn(source_arn) is None:
                raise ResourceNotFoundError(
                    "The resource that you specified for the SourceArn parameter doesn't exist.")
            tasks = list(reversed(self._by_source.get(source_arn, [])))
        return tasks[:max_results]

    def cancel(self, task_handle: str) -> int:
        with self._service._lock:
            task = self._tasks.get(task_handle)
            if task is None:
                raise ResourceNotFoundError("Task does not exist.")
            if task.status != "RUNNING":
                raise InvalidParameterValueError("Only active tasks can be cancelled.")
            task.status = "CANCELLING"
            moved = task.moved
        self._wake.set()
        return moved

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=5)

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        while not self._stopping:
            busy = False
            with self._service._lock:
                running = [t for t in self._tasks.values()
                           if t.status in ("RUNNING", "CANCELLING")]
            next_due = 1.0
            for task in running:
                delay = self._step(task)
                if delay is not None:
                    busy = True
                    next_due = min(next_due, delay)
            self._wake.wait(next_due if busy else None)
            self._wake.clear()

    def _step(self, task: MoveTask) -> float | None:
        """Move one step of a task; seconds until its next step, None when it ended."""
        svc = self._service
        rate = task.max_per_second or DEFAULT_RATE
        with svc._lock:
            if task.status == "CANCELLING":
                task.status = "CANCELLED"
                return None
            if svc.closed:
                return None
            source = svc._queue_by_arn(task.source_arn)
            if source is None:
                self._fail(task, "AWS.SimpleQueueService.NonExistentQueue")
                return None
            # budget: what the rate allows since the start, at most one step
            elapsed = max(0.0, (svc.now_ms() - task.started_ms) / 1000.0)
            allowed = min(STEP, int(elapsed * rate) + STEP - task.moved)
            left = task.to_move - task.moved
            if left <= 0:
                task.status = "COMPLETED"
                return None
            if allowed <= 0:
                return STEP / rate
            now = svc.now_ms()
            taken = source._take_for_move(min(allowed, left), now)
            if not taken:
                task.status = "COMPLETED"
                return None
            by_dest: dict[str, list[int]] = {}
            for i, (_p, m) in enumerate(taken):
                target = task.destination_arn or m.source_arn
                if target is None:
                    source._release([p for p, _ in taken])
                    self._fail(task, "AWS.SimpleQueueService.NonExistentQueue")
                    return None
                by_dest.setdefault(target, []).append(i)
            done: list[int] = []
            try:
                for dest_arn, idx in by_dest.items():
                    dest = svc._queue_by_arn(dest_arn)
                    if dest is None:
                        raise ResourceNotFoundError("destination")
                    dest._accept_moved([taken[i][1] for i in idx], None, now)
                    done.extend(idx)
            except QueueError:
                source._finish_move([taken[i][0] for i in done], now)
                source._release([taken[i][0] for i in range(len(taken)) if i not in done])
                task.moved += len(done)
                self._fail(task, "AWS.SimpleQueueService.NonExistentQueue")
                return None
            source._finish_move([p for p, _ in taken], now)
            task.moved += len(taken)
            if task.moved >= task.to_move:
                task.status = "COMPLETED"
                return None
        return 0.0 if task.moved < int(elapsed * rate) else STEP / rate

    @staticmethod
    def _fail(task: MoveTask, reason: str) -> None:
        task.status = "FAILED"
        task.failure_reason = reason

