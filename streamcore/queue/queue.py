"""One queue: sends, receives, deletes and visibility changes with SQS's
semantics, durable in the queue's message log and state journal.

Every change is written before it is acknowledged: a send appends the
messages to the message log; a receive, delete, visibility change or purge
appends one record to the journal (see ``journal``).  The in-memory state
(``state.MessageState``) follows.  All of a service's queues share its lock:
a dead-letter move touches two queues, and a server runs on one thread anyway.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import struct
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import streamcore

from . import attributes as qattrs
from . import journal
from .errors import (
    BatchEntryIdsNotDistinctError,
    BatchRequestTooLongError,
    EmptyBatchRequestError,
    InvalidBatchEntryIdError,
    InvalidParameterValueError,
    MessageNotInflightError,
    MissingParameterError,
    OverLimitError,
    PurgeQueueInProgressError,
    QueueDoesNotExistError,
    QueueError,
    ReceiptHandleIsInvalidError,
    from_storage,
)
from .messages import (
    F_ATTRIBUTES,
    F_DEDUP_ID,
    F_DLQ_SOURCE_ARN,
    F_FIRST_SENT,
    F_GROUP_ID,
    F_SENDER_ID,
    F_SOURCE_ARN,
    F_SYSTEM_ATTRIBUTES,
    MAX_MESSAGE_BYTES,
    StoredMessage,
    check_body,
    decode_attributes,
    decode_key,
    decode_message,
    encode_attributes,
    encode_key,
    format_message_id,
    md5_hex,
    select_attributes,
)
from .results import BatchError, Message, SendResult
from .state import DedupTable, MessageState, Pick, Snapshot, Tracked

if TYPE_CHECKING:
    from .service import QueueService

MAX_BATCH_ENTRIES = 10
MAX_INFLIGHT = 120_000
PURGE_INTERVAL_MS = 60_000
ATTEMPT_WINDOW_MS = 300_000
MAX_VISIBILITY_S = 43_200
_BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,80}\Z")
# MessageGroupId, MessageDeduplicationId, ReceiveRequestAttemptId: 1-128 of these.
_TOKEN = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}\Z")
_SEQ_BASE = 10**19  # FIFO sequence numbers: 20 digits, increasing with the offset
_U64 = struct.Struct(">q")
ALL_SYSTEM_ATTRIBUTES = frozenset((
    "SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp",
    "SequenceNumber", "MessageDeduplicationId", "MessageGroupId", "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
))


def _bad_value(name: str, value: object, reason: str) -> InvalidParameterValueError:
    return InvalidParameterValueError(
        f"Value {value} for parameter {name} is invalid. Reason: {reason}")


def check_batch_ids(ids: Sequence[object], what: str) -> None:
    """SQS's checks on a batch request as a whole (they fail the whole request)."""
    if not ids:
        raise EmptyBatchRequestError(f"There should be at least one {what} in the request.")
    if len(ids) > MAX_BATCH_ENTRIES:
        raise TooManyEntries(len(ids))
    seen: set[object] = set()
    for i in ids:
        if not isinstance(i, str) or not _BATCH_ID.match(i):
            raise InvalidBatchEntryIdError(
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long.")
        if i in seen:
            raise BatchEntryIdsNotDistinctError(f"Id {i} repeated.")
        seen.add(i)


def TooManyEntries(n: int) -> QueueError:  # noqa: N802 - reads as the error it builds
    from .errors import TooManyEntriesInBatchRequestError

    return TooManyEntriesInBatchRequestError(
        f"Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {n}.")


class _Prepared:
    """A validated message, ready to append."""

    __slots__ = ("body", "key_fields", "delay", "group", "dedup_key", "dedup_id", "md5_body",
                 "md5_attrs", "md5_sys", "size", "entry_id")

    def __init__(self) -> None:
        self.body = b""
        self.size = 0
        self.delay = 0
        self.md5_body = ""
        self.key_fields: list[tuple[int, bytes]] = []
        self.group: str | None = None
        self.dedup_key: str | None = None
        self.dedup_id: str | None = None
        self.md5_attrs: str | None = None
        self.md5_sys: str | None = None
        self.entry_id: str | None = None


class Queue:
    """A standard or FIFO queue.  Get one from ``QueueService.create_queue``
    or ``get_queue``; its methods raise ``QueueError`` subclasses carrying
    SQS's error codes."""

    def __init__(self, service: QueueService, region: str, account: str, name: str,
                 incarnation: int, attributes: dict[str, str], tags: dict[str, str],
                 created_s: int, modified_s: int) -> None:
        self._service = service
        self._lock: threading.RLock = service._lock
        self.region = region
        self.account = account
        self.name = name
        self.fifo = name.endswith(".fifo")
        self.incarnation = incarnation
        self.arn = f"arn:aws:sqs:{region}:{account}:{name}"
        self.stored_attributes = attributes
        self.tags = tags
        self.created_s = created_s
        self.modified_s = modified_s
        self.deleted = False
        base = f"{region}.{account}.{name}.{incarnation:016x}"
        self.log_name = base
        self.journal_name = f"{base}.journal"
        self._log: streamcore.Log | None = None
        self._journal: streamcore.Log | None = None
        self._state: MessageState | None = None
        self._dedup = DedupTable()
        self._attempts: dict[str, tuple[int, list[tuple[int, int]]]] = {}
        self._cond = threading.Condition(self._lock)
        self._sync_waiters = 0
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._last_purge_ms = -PURGE_INTERVAL_MS
        self._ops_since_checkpoint = 0
        self._checkpoint_ms = 0
        self._checkpoint_end = 0  # message log end at the last checkpoint
        self._next_maintain_ms = 0
        self._configure()

    def __repr__(self) -> str:
        return f"<Queue {self.arn}>"

    # ------------------------------------------------------------ attributes

    def _configure(self) -> None:
        a = self.effective_attributes()
        self.visibility_ms = int(a["VisibilityTimeout"]) * 1000
        self.delay_s = int(a["DelaySeconds"])
        self.retention_ms = int(a["MessageRetentionPeriod"]) * 1000
        self.max_message_bytes = int(a["MaximumMessageSize"])
        self.wait_s = int(a["ReceiveMessageWaitTimeSeconds"])
        self.content_dedup = a.get("ContentBasedDeduplication") == "true"
        self.dedup_per_group = a.get("DeduplicationScope") == "messageGroup"
        rp = a.get("RedrivePolicy")
        self.redrive: tuple[str, int] | None = (
            qattrs.parse_redrive_policy(rp) if rp else None)
        self._next_maintain_ms = 0  # apply a new retention period at the next call

    def effective_attributes(self) -> dict[str, str]:
        a = dict(qattrs.DEFAULTS)
        if self.fifo:
            a.update(qattrs.FIFO_DEFAULTS)
        a.update({k: v for k, v in self.stored_attributes.items() if v != ""})
        return a

    def attributes(self, names: Iterable[str] | None = None) -> dict[str, str]:
        """Queue attributes (GetQueueAttributes): ``names`` None or containing
        ``All`` for every one; unknown names give InvalidAttributeNameError."""
        from .errors import InvalidAttributeNameError

        wanted = ["All"] if names is None else list(names)
        for n in wanted:
            if n != "All" and n not in qattrs.READABLE:
                raise InvalidAttributeNameError(f"Unknown Attribute {n}.")
        with self._lock:
            self._check_alive()
            st = self._loaded(self._service.now_ms())
            a = self.effective_attributes()
            a["ApproximateNumberOfMessages"] = str(st.n_visible)
            a["ApproximateNumberOfMessagesNotVisible"] = str(st.n_inflight)
            a["ApproximateNumberOfMessagesDelayed"] = str(st.n_delayed)
            a["CreatedTimestamp"] = str(self.created_s)
            a["LastModifiedTimestamp"] = str(self.modified_s)
            a["QueueArn"] = self.arn
        if "All" in wanted:
            return a
        return {n: a[n] for n in wanted if n in a}

    def set_attributes(self, attributes: Mapping[str, str]) -> None:
        """SetQueueAttributes."""
        self._service._set_queue_attributes(self, attributes)

    # ------------------------------------------------------------ loading

    def _check_alive(self) -> None:
        if self.deleted:
            raise QueueDoesNotExistError("The specified queue does not exist.")

    def _loaded(self, now: int) -> MessageState:
        """The state, recovered from storage on first use; the clock applied."""
        st = self._state
        if st is None:
            st = self._recover(now)
        if now >= self._next_maintain_ms:
            self._maintain(now)
        elif st.advance(now):
            self._notify()
        return st

    def _open_logs(self) -> tuple[streamcore.Log, streamcore.Log]:
        if self._log is None or self._journal is None:
            from .store import JOURNAL_OPTIONS, MESSAGE_LOG_OPTIONS

            mgr = self._service._manager
            self._log = mgr.open(self.log_name, **MESSAGE_LOG_OPTIONS)
            self._journal = mgr.open(self.journal_name, **JOURNAL_OPTIONS)
        return self._log, self._journal

    def _recover(self, now: int) -> MessageState:
        log, jlog = self._open_logs()
        cp, ops = journal.read((r.timestamp, bytes(r.value or b"")) for r in jlog.records())
        if cp is not None:
            snap = Snapshot.load(cp.header, cp.parts)
            self._dedup.load(cp.get("dedup"), now)
            self._checkpoint_end = snap.end
        else:
            snap = Snapshot(fifo=self.fifo, end=log.start_offset, fresh_lo=log.start_offset,
                            floor=log.start_offset)
        scan_from = max(snap.end, log.start_offset)
        if scan_from < log.end_offset:
            for rec in log.records(scan_from):
                raw_id, delay, fields = decode_key(bytes(rec.key or b""))
                g = fields.get(F_GROUP_ID)
                group = g.decode() if g is not None else None
                snap.add_message(rec.offset, rec.timestamp + delay * 1000, now,
                                 group if self.fifo else None)
                d = fields.get(F_DEDUP_ID)
                if self.fifo and d is not None:
                    key = self._dedup_key(d.decode(), group)
                    self._dedup.add(key, rec.timestamp, format_message_id(raw_id),
                                    str(_SEQ_BASE + rec.offset), rec.offset)
        snap.end = max(snap.end, log.end_offset)
        for ts, kind, entries in ops:
            if kind == journal.RECEIVE:
                for off, number, deadline in entries:
                    snap.received(off, number, deadline, ts)
            elif kind == journal.VISIBILITY:
                for off, deadline in entries:
                    snap.visibility(off, deadline)
            elif kind == journal.DELETE:
                for off in entries:
                    snap.deleted(off)
            elif kind == journal.PURGE:
                snap.drop_below(entries[0])
                self._dedup.drop_below(entries[0])
        snap.drop_below(log.start_offset)
        snap.drop_from(log.end_offset)
        self._state = st = MessageState.build(snap, now)
        self._ops_since_checkpoint = len(ops) + max(0, log.end_offset - scan_from)
        self._checkpoint_ms = now
        self._next_maintain_ms = 0
        return st

    # ------------------------------------------------------------ maintenance

    def _maintain(self, now: int) -> None:
        """Retention, giving space back, checkpoints; at most about once a second."""
        st = self._state
        if st is None:
            return
        self._next_maintain_ms = now + 1000
        log, jlog = self._open_logs()
        try:
            if st.end > st.floor:
                cutoff = log.offset_for_timestamp(now - self.retention_ms)
                cutoff = st.end if cutoff is None else cutoff
                if cutoff > st.floor:
                    st.drop_below(cutoff)  # dedup ids outlive their messages: kept
            st.advance(now)
            if self._ops_since_checkpoint and (
                    self._ops_since_checkpoint >= self._service.checkpoint_ops
                    or now - self._checkpoint_ms >= self._service.checkpoint_interval_ms):
                self._checkpoint(now)
            low = min(st.low_watermark(), self._checkpoint_end)
            if low > log.start_offset:
                from .store import delete_records

                delete_records(log, low)
        except streamcore.StreamcoreError as exc:
            raise from_storage(exc) from exc
        if self._attempts:
            for k in [k for k, (exp, _) in self._attempts.items() if exp <= now]:
                del self._attempts[k]
        self._dedup.expire(now)
        self._notify()

    def _checkpoint(self, now: int) -> None:
        st = self._state
        if st is None:
            return
        _, jlog = self._open_logs()
        snap = st.snapshot()
        parts = snap.parts()
        parts["dedup"] = self._dedup.dump()
        records = journal.checkpoint_records(snap.header(), parts)
        first = -1
        chunk: list[bytes] = []
        size = 0
        for rec in records:  # several appends when the state is large
            if chunk and size + len(rec) > 512 << 10:
                off = jlog.append(chunk, timestamps=now)
                first = off if first < 0 else first
                chunk, size = [], 0
            chunk.append(rec)
            size += len(rec) + 64
        off = jlog.append(chunk, timestamps=now)
        first = off if first < 0 else first
        from .store import delete_records

        delete_records(jlog, first)
        self._ops_since_checkpoint = 0
        self._checkpoint_ms = now
        self._checkpoint_end = snap.end

    def _journal_append(self, records: list[bytes], now: int) -> None:
        _, jlog = self._open_logs()
        try:
            self._service._write(jlog, records, None, now)
        except streamcore.StreamcoreError as exc:
            raise from_storage(exc) from exc
        self._ops_since_checkpoint += len(records)

    def close(self) -> None:
        """Checkpoint (so the next start replays nothing) and release the logs."""
        with self._lock:
            if self._state is not None and self._log is not None and not self.deleted:
                try:
                    self._checkpoint(self._service.now_ms())
                except streamcore.StreamcoreError:
                    pass
            self._log = self._journal = None
            self._state = None
            self._notify()

    # ------------------------------------------------------------ waiting

    def _notify(self) -> None:
        if self._sync_waiters:
            self._cond.notify_all()
        if self._async_waiters:
            waiters, self._async_waiters = self._async_waiters, []
            running = asyncio._get_running_loop()
            for loop, fut in waiters:
                if loop is running:
                    if not fut.done():
                        fut.set_result(None)
                elif not loop.is_closed():
                    loop.call_soon_threadsafe(_set_done, fut)

    # ------------------------------------------------------------ sending

    def _dedup_key(self, dedup_id: str, group: str | None) -> str:
        return f"{group}\x00{dedup_id}" if self.dedup_per_group else dedup_id

    def _prepare(self, body: str, attributes: Mapping[str, Any] | None,
                 delay_seconds: int | None, group_id: str | None, dedup_id: str | None,
                 system_attributes: Mapping[str, Any] | None, sender_id: str | None) -> _Prepared:
        p = _Prepared()
        if (not self.fifo and type(body) is str and attributes is None and group_id is None
                and delay_seconds is None and dedup_id is None and system_attributes is None):
            p.body = raw = check_body(body)  # the plain message: nothing else to check
            p.size = len(raw)
            if p.size > self.max_message_bytes:
                raise InvalidParameterValueError(
                    "One or more parameters are invalid. Reason: Message must be shorter than "
                    f"{self.max_message_bytes} bytes.")
            p.delay = self.delay_s
            p.md5_body = md5_hex(raw)
            if sender_id:
                p.key_fields.append((F_SENDER_ID, sender_id.encode()))
            return p
        if not isinstance(body, str):
            raise InvalidParameterValueError("The message body must be a string.")
        p.body = check_body(body)
        attr_buf, attr_size = encode_attributes(attributes)
        sys_buf, _ = encode_attributes(system_attributes, system=True)
        p.size = len(p.body) + attr_size
        if p.size > self.max_message_bytes:
            raise InvalidParameterValueError(
                "One or more parameters are invalid. Reason: Message must be shorter than "
                f"{self.max_message_bytes} bytes.")
        if delay_seconds is None:
            p.delay = self.delay_s
        else:
            if (isinstance(delay_seconds, bool) or not isinstance(delay_seconds, int)
                    or not 0 <= delay_seconds <= 900):
                raise _bad_value("DelaySeconds", delay_seconds,
                                 "Must be >= 0 and <= 900, if provided.")
            if self.fifo and delay_seconds:
                raise _bad_value("DelaySeconds", delay_seconds,
                                 "The request include parameter that is not valid for this "
                                 "queue type.")
            p.delay = delay_seconds if not self.fifo else self.delay_s
        fields = p.key_fields
        if attr_buf:
            fields.append((F_ATTRIBUTES, attr_buf))
            p.md5_attrs = md5_hex(attr_buf)
        if sys_buf:
            fields.append((F_SYSTEM_ATTRIBUTES, sys_buf))
            p.md5_sys = md5_hex(sys_buf)
        if group_id is not None:
            if not isinstance(group_id, str) or not _TOKEN.match(group_id):
                raise _bad_value("MessageGroupId", group_id,
                                 "MessageGroupId can only include alphanumeric and punctuation "
                                 "characters. 1 to 128 in length.")
            p.group = group_id
            fields.append((F_GROUP_ID, group_id.encode()))
        elif self.fifo:
            raise MissingParameterError("The request must contain the parameter MessageGroupId.")
        if dedup_id is not None:
            if not isinstance(dedup_id, str) or not _TOKEN.match(dedup_id):
                raise _bad_value("MessageDeduplicationId", dedup_id,
                                 "MessageDeduplicationId can only include alphanumeric and "
                                 "punctuation characters. 1 to 128 in length.")
            if not self.fifo:
                raise _bad_value("MessageDeduplicationId", dedup_id,
                                 "The request includes a parameter that is not valid for this "
                                 "queue type.")
        if self.fifo:
            if dedup_id is None:
                if not self.content_dedup:
                    raise InvalidParameterValueError(
                        "The queue should either have ContentBasedDeduplication enabled or "
                        "MessageDeduplicationId provided explicitly")
                dedup_id = hashlib.sha256(p.body).hexdigest()
            p.dedup_id = dedup_id
            p.dedup_key = self._dedup_key(dedup_id, p.group)
            fields.append((F_DEDUP_ID, dedup_id.encode()))
        if sender_id:
            fields.append((F_SENDER_ID, sender_id.encode()))
        p.md5_body = md5_hex(p.body)
        return p

    def send(self, body: str, attributes: Mapping[str, Any] | None = None,
             delay_seconds: int | None = None, group_id: str | None = None,
             dedup_id: str | None = None, *,
             system_attributes: Mapping[str, Any] | None = None,
             sender_id: str | None = None) -> SendResult:
        """SendMessage.  ``attributes``: {name: {"DataType", "StringValue" or
        "BinaryValue"}}; ``system_attributes``: {"AWSTraceHeader": {...}}."""
        p = self._prepare(body, attributes, delay_seconds, group_id, dedup_id,
                          system_attributes, sender_id)
        return self._append([p])[0]

    def send_batch(self, entries: Sequence[str | Mapping[str, Any]], *,
                   sender_id: str | None = None) -> list[SendResult | BatchError]:
        """SendMessageBatch.  Each entry is a body, or a mapping of the
        SendMessageBatchRequestEntry fields (Id, MessageBody, DelaySeconds,
        MessageAttributes, MessageSystemAttributes, MessageDeduplicationId,
        MessageGroupId).  Entries without an Id are numbered from "0".  A
        per-entry problem fails only that entry (a BatchError in its place)."""
        ids: list[Any] = []
        for i, e in enumerate(entries):
            if isinstance(e, str):
                ids.append(str(i))
            elif isinstance(e, Mapping):
                ids.append(e.get("Id", str(i)))
            else:
                raise InvalidParameterValueError("A batch entry must be a body or a mapping.")
        check_batch_ids(ids, "SendMessageBatchRequestEntry")
        out: list[SendResult | BatchError | None] = [None] * len(ids)
        prepared: list[_Prepared] = []
        where: list[int] = []
        total = 0
        for i, e in enumerate(entries):
            try:
                if isinstance(e, str):
                    p = self._prepare(e, None, None, None, None, None, sender_id)
                else:
                    body = e.get("MessageBody")
                    if body is None:
                        raise MissingParameterError(
                            "The request must contain the parameter MessageBody.")
                    p = self._prepare(body, e.get("MessageAttributes"), e.get("DelaySeconds"),
                                      e.get("MessageGroupId"), e.get("MessageDeduplicationId"),
                                      e.get("MessageSystemAttributes"), sender_id)
            except QueueError as exc:
                out[i] = BatchError(ids[i], exc.query_code, exc.message, exc.sender_fault)
                continue
            p.entry_id = ids[i]
            total += p.size
            prepared.append(p)
            where.append(i)
        if total > MAX_MESSAGE_BYTES:
            raise BatchRequestTooLongError(
                f"Batch requests cannot be longer than {MAX_MESSAGE_BYTES} bytes. "
                f"You have sent {total} bytes.")
        if prepared:
            for i, r in zip(where, self._append(prepared), strict=True):
                out[i] = r
        return [r for r in out if r is not None]

    def _append(self, prepared: list[_Prepared]) -> list[SendResult]:
        with self._lock:
            self._check_alive()
            now = self._service.now_ms()
            st = self._loaded(now)
            results: list[SendResult | None] = [None] * len(prepared)
            new: list[tuple[int, _Prepared, bytes]] = []
            if self.fifo:
                batch_keys: dict[str, int] = {}
                for i, p in enumerate(prepared):
                    assert p.dedup_key is not None
                    seen = self._dedup.get(p.dedup_key, now)
                    if seen is not None:
                        results[i] = SendResult(seen[1], p.md5_body, p.md5_attrs, p.md5_sys,
                                                seen[2], p.entry_id)
                    elif p.dedup_key in batch_keys:
                        batch_keys[p.dedup_key] = batch_keys[p.dedup_key]  # resolved below
                    else:
                        batch_keys[p.dedup_key] = i
            raw_ids = new_message_ids(len(prepared))
            values: list[bytes] = []
            keys: list[bytes] = []
            for i, p in enumerate(prepared):
                if results[i] is not None:
                    continue
                if self.fifo and batch_keys.get(p.dedup_key or "") != i:
                    continue  # a repeat of an earlier entry of this batch
                raw = raw_ids[16 * i:16 * i + 16]
                new.append((i, p, raw))
                values.append(p.body)
                keys.append(encode_key(raw, p.delay, p.key_fields))
            if values:
                log, _ = self._open_logs()
                try:
                    first = self._service._write(log, values, keys, now)
                except streamcore.StreamcoreError as exc:
                    raise from_storage(exc) from exc
                self._ops_since_checkpoint += len(values)
                for n, (i, p, raw) in enumerate(new):
                    off = first + n
                    mid = format_message_id(raw)
                    seq = str(_SEQ_BASE + off) if self.fifo else None
                    st.add(off, now + p.delay * 1000, now, p.group if self.fifo else None)
                    if p.dedup_key is not None:
                        self._dedup.add(p.dedup_key, now, mid, seq, off)
                    results[i] = SendResult(mid, p.md5_body, p.md5_attrs, p.md5_sys, seq,
                                            p.entry_id)
                self._notify()
            if self.fifo:  # repeats within the batch answer like the entry they repeat
                for i, p in enumerate(prepared):
                    if results[i] is None:
                        first_i = batch_keys[p.dedup_key or ""]
                        r = results[first_i]
                        assert r is not None
                        results[i] = SendResult(r.message_id, p.md5_body, p.md5_attrs,
                                                p.md5_sys, r.sequence_number, p.entry_id)
            return [r for r in results if r is not None]

    def _accept_moved(self, messages: list[StoredMessage], dlq_source: str | None,
                      now: int) -> None:
        """Append messages moved here (dead-letter move, move task), keeping
        their attributes, first send time and FIFO ids."""
        self._check_alive()
        st = self._loaded(now)
        values: list[bytes] = []
        keys: list[bytes] = []
        groups: list[str | None] = []
        for m in messages:
            fields: list[tuple[int, bytes]] = []
            if m.attributes:
                fields.append((F_ATTRIBUTES, m.attributes))
            if m.system_attributes:
                fields.append((F_SYSTEM_ATTRIBUTES, m.system_attributes))
            if m.group_id is not None:
                fields.append((F_GROUP_ID, m.group_id.encode()))
            if m.dedup_id is not None:
                fields.append((F_DEDUP_ID, m.dedup_id.encode()))
            if dlq_source is not None:  # moved to a dead-letter queue: remember from where
                fields.append((F_DLQ_SOURCE_ARN, dlq_source.encode()))
                fields.append((F_SOURCE_ARN, dlq_source.encode()))
            fields.append((F_FIRST_SENT, _U64.pack(m.first_sent_ms or m.sent_ms)))
            if m.sender_id is not None:
                fields.append((F_SENDER_ID, m.sender_id.encode()))
            raw = bytes.fromhex(m.message_id.replace("-", ""))
            values.append(m.body_bytes)
            keys.append(encode_key(raw, 0, fields))
            groups.append(m.group_id if self.fifo else None)
        log, _ = self._open_logs()
        try:
            first = self._service._write(log, values, keys, now)
        except streamcore.StreamcoreError as exc:
            raise from_storage(exc) from exc
        self._ops_since_checkpoint += len(values)
        for n, g in enumerate(groups):
            st.add(first + n, now, now, g)
        self._notify()

    # ------------------------------------------------------------ receiving

    def _read(self, offsets: list[int]) -> dict[int, StoredMessage]:
        """The stored messages at these offsets (missing ones are left out)."""
        log, _ = self._open_logs()
        want = sorted(offsets)
        out: dict[int, StoredMessage] = {}
        i = 0
        while i < len(want):
            off = want[i]
            try:
                view = log.read(off, 256 << 10)
            except streamcore.OffsetOutOfRangeError:
                i += 1
                continue
            except streamcore.StreamcoreError as exc:
                raise from_storage(exc) from exc
            nxt = view.next_offset
            if nxt <= off:
                break
            for rec in view.records(off):
                o = rec.offset
                while i < len(want) and want[i] < o:
                    i += 1
                if i >= len(want) or want[i] >= nxt:
                    break
                if o == want[i]:
                    out[o] = decode_message(bytes(rec.key or b""), bytes(rec.value or b""),
                                            rec.timestamp)
                    i += 1
            while i < len(want) and want[i] < nxt:
                i += 1
        return out

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
        attrs: dict[str, str] = {}
        if system_names:
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
        if m.attributes and attribute_names:
            mattrs, md5_attrs = select_attributes(m.attributes, attribute_names)
        else:
            mattrs, md5_attrs = {}, None
        return Message(m.message_id, handle, m.body, md5_hex(m.body_bytes), attrs, mattrs,
                       md5_attrs)

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
            stored = self._read([p[0] for p in picks])
        except QueueError:
            for p in picks:
                st.release(p)
            raise
        out: list[Message] = []
        received: list[tuple[int, int, int]] = []
        gone: list[int] = []
        to_dlq: list[tuple[Pick, StoredMessage]] = []
        deadline = now + visibility_ms
        redrive = self.redrive
        for pick in picks:
            off, t, _g = pick
            m = stored.get(off)
            if m is None or (m.first_sent_ms is not None
                             and m.first_sent_ms + self.retention_ms <= now):
                st.discard_taken(pick)
                gone.append(off)
                continue
            prev = t.number if t is not None else 0
            if redrive is not None and prev >= redrive[1]:
                to_dlq.append((pick, m))
                continue
            t = st.mark_received(pick, prev + 1, deadline, now)
            handle = self._service._signer.issue(self.incarnation, off, t.number)
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

    def _sleep_for(self, left: float, now: int) -> float:
        st = self._state
        wake = st.next_wake() if st is not None else None
        if wake is not None:
            left = min(left, max(0.0, (wake - now) / 1000.0) + 0.001)
        return max(left, 0.0)

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
        t = st.msgs.get(off)
        if t is None:
            return None  # already deleted: DeleteMessage is idempotent
        if t.number != number:
            if self.fifo:
                raise self._expired(receipt_handle)
            return None  # received again since: a stale handle deletes nothing
        if not t.inflight and self.fifo:
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
            for e in entries:
                try:
                    off = self._delete_one(st, e.get("ReceiptHandle", ""))
                except QueueError as exc:
                    out.append(BatchError(e["Id"], exc.query_code, exc.message,
                                          exc.sender_fault))
                    continue
                if off is not None:
                    done.append(off)
                out.append(e["Id"])
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

    def counts(self) -> tuple[int, int, int]:
        """(visible, in flight, delayed), as ApproximateNumberOfMessages* report them."""
        with self._lock:
            st = self._loaded(self._service.now_ms())
            return st.n_visible, st.n_inflight, st.n_delayed

    def oldest_message_age(self) -> float | None:
        """Seconds since the oldest message still in the queue was sent (None if empty)."""
        with self._lock:
            now = self._service.now_ms()
            st = self._loaded(now)
            off = st.oldest_offset()
            if off is None:
                return None
            m = self._read([off]).get(off)
            if m is None:
                return None
            return max(0.0, (now - (m.first_sent_ms or m.sent_ms)) / 1000.0)


def new_message_ids(n: int) -> bytes:
    """``n`` random 16-byte message ids, each laid out as a version 4 UUID."""
    raw = bytearray(os.urandom(16 * n))
    for i in range(6, 16 * n, 16):
        raw[i] = (raw[i] & 0x0F) | 0x40
        raw[i + 2] = (raw[i + 2] & 0x3F) | 0x80
    return bytes(raw)


def _set_done(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


__all__ = ["Queue", "check_batch_ids"]
