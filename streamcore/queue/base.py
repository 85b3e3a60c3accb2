"""The part of a queue every operation shares: identity and attributes,
storage (recovery from a checkpoint plus the journal tail, checkpoints,
retention, giving space back) and waking waiting receivers.

Every change is written before it is acknowledged: a send appends the
messages to the message log; a receive, delete, visibility change or purge
appends one record to the journal (see ``journal``).  The in-memory state
(``state.MessageState``) follows.  All of a service's queues share its lock:
a dead-letter move touches two queues, and a server runs on one thread anyway.
"""


from __future__ import annotations

import asyncio
import re
import struct
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import streamcore

from . import attributes as qattrs
from . import journal
from .errors import (
    BatchEntryIdsNotDistinctError,
    EmptyBatchRequestError,
    InvalidBatchEntryIdError,
    InvalidParameterValueError,
    QueueDoesNotExistError,
    QueueError,
    from_storage,
)
from .messages import (
    F_DEDUP_ID,
    F_GROUP_ID,
    StoredMessage,
    decode_key,
    decode_message,
    format_message_id,
)
from .state import DedupTable, MessageState, Snapshot, build_state

if TYPE_CHECKING:
    from .service import QueueService

MAX_BATCH_ENTRIES = 10
MAX_INFLIGHT = 120_000
PURGE_INTERVAL_MS = 60_000
ATTEMPT_WINDOW_MS = 300_000
MAX_VISIBILITY_S = 43_200
_BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,80}\Z")
_BATCH_IDS = re.compile(r"(?:[A-Za-z0-9_-]{1,80}\n)+\Z")
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
    if all(type(i) is str for i in ids) and len(set(ids)) == len(ids):
        joined = "\n".join(ids) + "\n"  # type: ignore[arg-type]
        if joined.count("\n") == len(ids) and _BATCH_IDS.match(joined):
            return  # all well formed and distinct (one match for the lot); else find which is not
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



class QueueBase:
    """State and storage of one queue; ``Queue`` adds the operations."""

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
        self._state = st = build_state(snap, now)
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
        from .store import start_checkpoint

        start_checkpoint(jlog)
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

    # ------------------------------------------------------------ shared by the operations

    def _dedup_key(self, dedup_id: str, group: str | None) -> str:
        return f"{group}\x00{dedup_id}" if self.dedup_per_group else dedup_id


    def _read_rows(self, offsets: list[int]) -> dict[int, tuple[int, bytes, bytes]]:
        """{offset: (timestamp, key, value)} of the message records at these
        offsets (missing ones are left out)."""
        log, _ = self._open_logs()
        try:
            rows = log.records_at(offsets)
        except streamcore.StreamcoreError as exc:
            raise from_storage(exc) from exc
        return {o: (ts, k or b"", v or b"") for o, ts, k, v in rows}

    def _read(self, offsets: list[int]) -> dict[int, StoredMessage]:
        """The stored messages at these offsets (missing ones are left out)."""
        return {o: decode_message(k, v, ts) for o, (ts, k, v) in self._read_rows(offsets).items()}

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

    def _sleep_for(self, left: float, now: int) -> float:
        st = self._state
        wake = st.next_wake() if st is not None else None
        if wake is not None:
            left = min(left, max(0.0, (wake - now) / 1000.0) + 0.001)
        return max(left, 0.0)


def _set_done(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
