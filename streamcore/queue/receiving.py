"""Receiving and settling: receives (with visibility timeouts, FIFO group
locks, dead-letter moves, ReceiveRequestAttemptId), waiting receives, deletes,
visibility changes, purges and the steps of message move tasks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import journal
from ._native import StandardState, Tracked
from .errors import (
    InvalidParameterValueError,
    MessageNotInflightError,
    OverLimitError,
    PurgeQueueInProgressError,
    QueueError,
    ReceiptHandleIsInvalidError,
)
from .messages import (
    StoredMessage,
    decode_attributes,
    decode_message,
    select_attributes,
)
from .results import BatchError, Message
from .state import DedupTable, MessageState, Pick

if TYPE_CHECKING:
    pass

from .base import (
    _SEQ_BASE,
    _TOKEN,
    ATTEMPT_WINDOW_MS,
    MAX_INFLIGHT,
    MAX_VISIBILITY_S,
    PURGE_INTERVAL_MS,
    QueueBase,
    _bad_value,
    _set_done,
    check_batch_ids,
)


class ReceivingQueue(QueueBase):
    def check_receive_args(self, max_messages: int, wait_seconds: int | None,
                            visibility_timeout: int | None, attempt_id: str | None) -> None:
        if (isinstance(max_messages, bool) or not isinstance(max_messages, int)
                or not 1 <= max_messages <= 10):
            raise _bad_value("MaxNumberOfMessages", max_messages,
                             "Must be between 1 and 10, if provided.")
        if wait_seconds is not None and (isinstance(wait_seconds, bool)
                                         or not isinstance(wait_seconds, int)
                                         or not 0 <= wait_seconds <= 20):
            raise _bad_value("WaitTimeSeconds", wait_seconds,
                             "Must be >= 0 and <= 20, if provided.")
        if visibility_timeout is not None and (
                isinstance(visibility_timeout, bool) or not isinstance(visibility_timeout, int)
                or not 0 <= visibility_timeout <= MAX_VISIBILITY_S):
            raise _bad_value("VisibilityTimeout", visibility_timeout,
                             f"Must be between 0 and {MAX_VISIBILITY_S}, if provided.")
        if attempt_id is not None and (not isinstance(attempt_id, str)
                                       or not _TOKEN.match(attempt_id)):
            raise _bad_value("ReceiveRequestAttemptId", attempt_id,
                             "ReceiveRequestAttemptId can only include alphanumeric and "
                             "punctuation characters. 1 to 128 in length.")

    def _message(self, m: StoredMessage, off: int, handle: str, t: Tracked,
                 system_names: frozenset[str], attribute_names: tuple[str, ...] | None) -> Message:
        attrs: dict[str, str]
        if system_names:
            attrs = {}
            every = "All" in system_names
            if every or "SenderId" in system_names:
                attrs["SenderId"] = m.sender_id or self.account
            if every or "SentTimestamp" in system_names:
                attrs["SentTimestamp"] = str(m.first_sent_ms or m.sent_ms)
            if every or "ApproximateReceiveCount" in system_names:
                attrs["ApproximateReceiveCount"] = str(t.number)
            if every or "ApproximateFirstReceiveTimestamp" in system_names:
                attrs["ApproximateFirstReceiveTimestamp"] = str(t.first_ms)
            if self.fifo:
                if every or "SequenceNumber" in system_names:
                    attrs["SequenceNumber"] = str(_SEQ_BASE + off)
                if m.dedup_id is not None and (every or "MessageDeduplicationId" in system_names):
                    attrs["MessageDeduplicationId"] = m.dedup_id
            if m.group_id is not None and (every or "MessageGroupId" in system_names):
                attrs["MessageGroupId"] = m.group_id
            if m.system_attributes and (every or "AWSTraceHeader" in system_names):
                for name, _dtype, _binary, value in decode_attributes(m.system_attributes):
                    if name == "AWSTraceHeader":
                        attrs["AWSTraceHeader"] = value.decode()
            if m.dlq_source_arn is not None and (every or "DeadLetterQueueSourceArn"
                                                 in system_names):
                attrs["DeadLetterQueueSourceArn"] = m.dlq_source_arn
        else:
            attrs = {}
        if m.attributes and attribute_names:
            mattrs, md5_attrs = select_attributes(m.attributes, attribute_names)
        else:
            mattrs, md5_attrs = {}, None
        return Message(m.message_id, handle, m.body, None, attrs, mattrs, md5_attrs)

    def _receive_now(self, max_n: int, visibility_ms: int, now: int,
                     system_names: frozenset[str], attribute_names: tuple[str, ...] | None,
                     attempt_id: str | None) -> list[Message]:
        self._check_alive()
        st = self._loaded(now)
        if attempt_id is not None and self.fifo:
            again = self._retry_attempt(attempt_id, visibility_ms, now, system_names,
                                        attribute_names)
            if again is not None:
                return again
        if st.n_inflight >= MAX_INFLIGHT:
            if self.fifo:
                return []
            raise OverLimitError(
                "You have reached the limit of in-flight messages for this queue.")
        picks = st.take(max_n)
        if not picks:
            return []
        try:
            rows = self._read_rows([p[0] for p in picks])
        except QueueError:
            for p in picks:
                st.release(p)
            raise
        deadline = now + visibility_ms
        redrive = self.redrive
        max_receives = redrive[1] if redrive is not None else 1 << 62
        out: list[Message]
        received: list[tuple[int, int, int]]
        if isinstance(st, StandardState) and (not system_names or "All" in system_names):
            # plain messages (a body and perhaps a sender) are received in C
            out, received, picks = st.receive_plain(
                picks, rows, deadline, now, max_receives, self._service._signer.v2_key,
                self.incarnation, self.account, bool(system_names))
        else:
            out, received = [], []
        gone: list[int] = []
        to_dlq: list[tuple[Pick, StoredMessage]] = []
        issue = self._service._signer.issue
        for pick in picks:
            off, t, _g = pick
            row = rows.get(off)
            if row is None:
                st.discard_taken(pick)
                gone.append(off)
                continue
            ts, key, value = row
            prev = t.number if t is not None else 0
            m = decode_message(key, value, ts)
            if m.first_sent_ms is not None and m.first_sent_ms + self.retention_ms <= now:
                st.discard_taken(pick)
                gone.append(off)
                continue
            if prev >= max_receives:
                to_dlq.append((pick, m))
                continue
            t = st.mark_received(pick, prev + 1, deadline, now)
            handle = issue(self.incarnation, off, t.number)
            out.append(self._message(m, off, handle, t, system_names, attribute_names))
            received.append((off, t.number, deadline))
        if to_dlq:
            assert redrive is not None
            dlq = self._service._queue_by_arn(redrive[0])
            if dlq is None or dlq is self or dlq.deleted:
                for pick, m in to_dlq:  # no dead-letter queue: deliver as usual
                    off, t, _g = pick
                    t = st.mark_received(pick, (t.number if t else 0) + 1, deadline, now)
                    handle = self._service._signer.issue(self.incarnation, off, t.number)
                    out.append(self._message(m, off, handle, t, system_names,
                                             attribute_names))
                    received.append((off, t.number, deadline))
            else:
                try:
                    dlq._accept_moved([m for _, m in to_dlq], self.arn, now)
                except QueueError:
                    for pick, _m in to_dlq:
                        st.release(pick)
                    raise
                for pick, _m in to_dlq:
                    st.discard_taken(pick)
                    gone.append(pick[0])
        records: list[bytes] = []
        if received:
            records.append(journal.receive_record(received))
        if gone:
            records.append(journal.delete_record(gone))
        if records:
            self._journal_append(records, now)
        if gone and self.fifo:
            self._notify()
        if attempt_id is not None and self.fifo and received:
            self._attempts[attempt_id] = (now + ATTEMPT_WINDOW_MS,
                                          [(o, n) for o, n, _ in received])
        return out

    def _retry_attempt(self, attempt_id: str, visibility_ms: int, now: int,
                       system_names: frozenset[str], attribute_names: tuple[str, ...] | None
                       ) -> list[Message] | None:
        """The messages of an earlier receive with this ReceiveRequestAttemptId,
        with the same receipt handles, if none of them changed since."""
        entry = self._attempts.get(attempt_id)
        if entry is None or entry[0] <= now:
            return None
        st = self._state
        assert st is not None
        for off, number in entry[1]:
            t = st.msgs.get(off)
            if t is None or t.number != number or not t.inflight:
                del self._attempts[attempt_id]
                return None
        stored = self._read([o for o, _ in entry[1]])
        out: list[Message] = []
        changes: list[tuple[int, int]] = []
        deadline = now + visibility_ms
        for off, number in entry[1]:
            t = st.msgs[off]
            st.set_deadline(off, t, deadline)
            changes.append((off, deadline))
            handle = self._service._signer.issue(self.incarnation, off, number)
            m = stored.get(off)
            if m is not None:
                out.append(self._message(m, off, handle, t, system_names, attribute_names))
        self._journal_append([journal.visibility_record(changes)], now)
        return out

    def _receive_args(self, max_messages: int, wait_seconds: int | None,
                      visibility_timeout: int | None, attempt_id: str | None,
                      attribute_names: Iterable[str] | None,
                      message_attribute_names: Iterable[str] | None
                      ) -> tuple[int, frozenset[str], tuple[str, ...] | None]:
        self.check_receive_args(max_messages, wait_seconds, visibility_timeout, attempt_id)
        vis_ms = self.visibility_ms if visibility_timeout is None else visibility_timeout * 1000
        names = frozenset(attribute_names or ())
        mnames = tuple(message_attribute_names) if message_attribute_names else None
        return vis_ms, names, mnames

    def receive(self, max_messages: int = 1, wait_seconds: int | None = 0,
                visibility_timeout: int | None = None, attempt_id: str | None = None, *,
                attribute_names: Iterable[str] | None = ("All",),
                message_attribute_names: Iterable[str] | None = ("All",)) -> list[Message]:
        """ReceiveMessage.  Waits up to ``wait_seconds`` (None: the queue's
        ReceiveMessageWaitTimeSeconds) for at least one message; returns as
        soon as one is visible."""
        vis_ms, names, mnames = self._receive_args(
            max_messages, wait_seconds, visibility_timeout, attempt_id, attribute_names,
            message_attribute_names)
        wait = self.wait_s if wait_seconds is None else wait_seconds
        end = time.monotonic() + wait
        with self._lock:
            while True:
                now = self._service.now_ms()
                msgs = self._receive_now(max_messages, vis_ms, now, names, mnames, attempt_id)
                left = end - time.monotonic()
                if msgs or left <= 0 or self._service.closed or self._service.draining:
                    return msgs
                self._sync_waiters += 1
                try:
                    self._cond.wait(self._sleep_for(left, now))
                finally:
                    self._sync_waiters -= 1

    async def receive_async(self, max_messages: int = 1, wait_seconds: int | None = 0,
                            visibility_timeout: int | None = None,
                            attempt_id: str | None = None, *,
                            attribute_names: Iterable[str] | None = ("All",),
                            message_attribute_names: Iterable[str] | None = ("All",)
                            ) -> list[Message]:
        """``receive`` for asyncio: a waiting receive holds no thread and wakes
        when a message is sent, or a delay or visibility timeout ends."""
        vis_ms, names, mnames = self._receive_args(
            max_messages, wait_seconds, visibility_timeout, attempt_id, attribute_names,
            message_attribute_names)
        wait = self.wait_s if wait_seconds is None else wait_seconds
        loop = asyncio.get_running_loop()
        end = loop.time() + wait
        while True:
            with self._lock:
                now = self._service.now_ms()
                msgs = self._receive_now(max_messages, vis_ms, now, names, mnames, attempt_id)
                left = end - loop.time()
                if msgs or left <= 0 or self._service.closed or self._service.draining:
                    return msgs
                fut: asyncio.Future[None] = loop.create_future()
                self._async_waiters.append((loop, fut))
                sleep = self._sleep_for(left, now)
            timer = loop.call_later(sleep, _set_done, fut)
            try:
                await fut
            finally:
                timer.cancel()
                if not fut.done():
                    with self._lock:
                        try:
                            self._async_waiters.remove((loop, fut))
                        except ValueError:
                            pass

    # ------------------------------------------------------------ delete / visibility

    def _resolve(self, receipt_handle: str) -> tuple[int, int]:
        inc, off, number = self._service._signer.check(receipt_handle)
        if inc != self.incarnation:
            raise ReceiptHandleIsInvalidError(
                f'The input receipt handle "{receipt_handle}" is not a valid receipt handle.')
        return off, number

    def _expired(self, receipt_handle: str) -> InvalidParameterValueError:
        return _bad_value("ReceiptHandle", receipt_handle, "The receipt handle has expired.")

    def _delete_one(self, st: MessageState, receipt_handle: str) -> int | None:
        off, number = self._resolve(receipt_handle)
        if isinstance(st, StandardState):  # a stale handle (received again since)
            return off if st.delete_received(off, number) else None  # deletes nothing
        t = st.msgs.get(off)
        if t is None:
            return None  # already deleted: DeleteMessage is idempotent
        if t.number != number or not t.inflight:
            raise self._expired(receipt_handle)
        st.remove(off)
        return off

    def delete(self, receipt_handle: str) -> None:
        """DeleteMessage."""
        with self._lock:
            self._check_alive()
            now = self._service.now_ms()
            st = self._loaded(now)
            off = self._delete_one(st, receipt_handle)
            if off is not None:
                self._journal_append([journal.delete_record([off])], now)
                if self.fifo:
                    self._notify()

    def delete_batch(self, entries: Sequence[Mapping[str, str]]) -> list[str | BatchError]:
        """DeleteMessageBatch: entries {Id, ReceiptHandle}; per entry, its Id or a BatchError."""
        check_batch_ids([e.get("Id") for e in entries], "DeleteMessageBatchRequestEntry")
        out: list[str | BatchError] = []
        with self._lock:
            self._check_alive()
            now = self._service.now_ms()
            st = self._loaded(now)
            done: list[int] = []
            check: Iterable[int] = range(len(entries))
            if isinstance(st, StandardState):  # version 2 handles of this queue, in C
                done, check = st.delete_handles(
                    self._service._signer.v2_key, self.incarnation,
                    [e.get("ReceiptHandle", "") for e in entries])
            errors: dict[int, BatchError] = {}
            for i in check:
                e = entries[i]
                try:
                    off = self._delete_one(st, e.get("ReceiptHandle", ""))
                except QueueError as exc:
                    errors[i] = BatchError(e["Id"], exc.query_code, exc.message,
                                           exc.sender_fault)
                    continue
                if off is not None:
                    done.append(off)
            for i, e in enumerate(entries):
                out.append(errors[i] if errors and i in errors else e["Id"])
            if done:
                self._journal_append([journal.delete_record(done)], now)
                if self.fifo:
                    self._notify()
        return out

    def _change_one(self, st: MessageState, receipt_handle: str, seconds: object,
                    now: int) -> tuple[int, int]:
        if (isinstance(seconds, bool) or not isinstance(seconds, int)
                or not 0 <= seconds <= MAX_VISIBILITY_S):
            raise _bad_value("VisibilityTimeout", seconds,
                             f"Must be between 0 and {MAX_VISIBILITY_S}, if provided.")
        off, number = self._resolve(receipt_handle)
        t = st.msgs.get(off)
        if t is None or t.number != number:
            raise _bad_value("ReceiptHandle", receipt_handle,
                             "Message does not exist or is not available for visibility "
                             "timeout change.")
        if not t.inflight:
            raise MessageNotInflightError("The message referred to is not in flight.")
        deadline = now + seconds * 1000
        if deadline > t.received_ms + MAX_VISIBILITY_S * 1000:
            raise _bad_value("VisibilityTimeout", seconds,
                             "Total VisibilityTimeout for the message is beyond the limit "
                             f"[{MAX_VISIBILITY_S} seconds]")
        st.set_deadline(off, t, deadline)
        return off, deadline

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        """ChangeMessageVisibility: the message becomes visible ``seconds`` from now."""
        with self._lock:
            self._check_alive()
            now = self._service.now_ms()
            st = self._loaded(now)
            change = self._change_one(st, receipt_handle, seconds, now)
            self._journal_append([journal.visibility_record([change])], now)
            if st.advance(now) or seconds == 0:
                pass
            self._notify()

    def change_visibility_batch(self, entries: Sequence[Mapping[str, Any]]
                                ) -> list[str | BatchError]:
        """ChangeMessageVisibilityBatch: entries {Id, ReceiptHandle, VisibilityTimeout}."""
        check_batch_ids([e.get("Id") for e in entries],
                        "ChangeMessageVisibilityBatchRequestEntry")
        out: list[str | BatchError] = []
        with self._lock:
            self._check_alive()
            now = self._service.now_ms()
            st = self._loaded(now)
            changes: list[tuple[int, int]] = []
            for e in entries:
                try:
                    seconds = e.get("VisibilityTimeout")
                    changes.append(self._change_one(
                        st, e.get("ReceiptHandle", ""),
                        self.visibility_ms // 1000 if seconds is None else seconds, now))
                except QueueError as exc:
                    out.append(BatchError(e["Id"], exc.query_code, exc.message,
                                          exc.sender_fault))
                    continue
                out.append(e["Id"])
            if changes:
                self._journal_append([journal.visibility_record(changes)], now)
                st.advance(now)
                self._notify()
        return out

    def purge(self) -> None:
        """PurgeQueue: every message (visible, in flight, delayed) and the dedup ids go."""
        with self._lock:
            self._check_alive()
            now = self._service.now_ms()
            if now - self._last_purge_ms < PURGE_INTERVAL_MS:
                raise PurgeQueueInProgressError(
                    f"Only one PurgeQueue operation on {self.name} is allowed every 60 seconds.")
            st = self._loaded(now)
            before = st.end
            self._journal_append([journal.purge_record(before)], now)
            st.purge(before)
            self._dedup = DedupTable()
            self._attempts.clear()
            self._last_purge_ms = now

    # ------------------------------------------------------------ moves

    def _take_for_move(self, n: int, now: int) -> list[tuple[Pick, StoredMessage]]:
        st = self._loaded(now)
        picks = st.take(n)
        if not picks:
            return []
        stored = self._read([p[0] for p in picks])
        out = []
        for p in picks:
            m = stored.get(p[0])
            if m is None:
                st.discard_taken(p)
            else:
                out.append((p, m))
        return out

    def _finish_move(self, moved: list[Pick], now: int) -> None:
        st = self._state
        assert st is not None
        for p in moved:
            st.discard_taken(p)
        self._journal_append([journal.delete_record([p[0] for p in moved])], now)

    def _release(self, picks: list[Pick]) -> None:
        st = self._state
        if st is not None:
            for p in picks:
                st.release(p)
            self._notify()
