"""Sending: SQS's checks on a message, FIFO deduplication, and appending
messages to the queue's log (also messages moved in from another queue)."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import streamcore

from . import _native
from .errors import (
    BatchRequestTooLongError,
    InvalidParameterValueError,
    MissingParameterError,
    QueueError,
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
    encode_attributes,
    encode_key,
    format_message_id,
    md5_hex,
)
from .results import BatchError, SendResult

if TYPE_CHECKING:
    pass

from .base import (
    _SEQ_BASE,
    _TOKEN,
    _U64,
    MAX_BATCH_ENTRIES,
    QueueBase,
    _bad_value,
    check_batch_ids,
)

_DELAY = struct.Struct(">H")
_SENDER_FIELD = struct.Struct(">BI")
_ENTRY_IDS = tuple(str(i) for i in range(MAX_BATCH_ENTRIES))


class _Prepared:
    """A validated message, ready to append."""

    __slots__ = ("body", "key_fields", "delay", "group", "dedup_key", "dedup_id", "md5_attrs",
                 "md5_sys", "size", "entry_id")

    def __init__(self) -> None:
        self.body = b""
        self.size = 0
        self.delay = 0
        self.key_fields: list[tuple[int, bytes]] = []
        self.group: str | None = None
        self.dedup_key: str | None = None
        self.dedup_id: str | None = None
        self.md5_attrs: str | None = None
        self.md5_sys: str | None = None
        self.entry_id: str | None = None


class SendingQueue(QueueBase):
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
        plain = self._send_plain(entries, sender_id)
        if plain is not None:
            return plain  # type: ignore[return-value]
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

    def _send_plain(self, entries: Sequence[str | Mapping[str, Any]],
                    sender_id: str | None) -> list[SendResult] | None:
        """``send_batch`` when the queue is a standard one and every entry is a
        valid bare body (a str, or a dict of MessageBody and Id only): the
        common case, without per-entry objects, keys and ids built in C.  None
        when an entry needs the general path, which also reports its errors."""
        n = len(entries)
        if self.fifo or not 0 < n <= MAX_BATCH_ENTRIES:
            return None
        plain = _native.plain_bodies(entries if type(entries) is list else list(entries),
                                     self.max_message_bytes, _ENTRY_IDS, check_body, QueueError)
        if plain is None:
            return None
        bodies, ids, named, total = plain
        if named:
            check_batch_ids(ids, "SendMessageBatchRequestEntry")
        if total > MAX_MESSAGE_BYTES:
            return None
        suffix = _DELAY.pack(self.delay_s)
        if sender_id:
            sender = sender_id.encode()
            suffix += _SENDER_FIELD.pack(F_SENDER_ID, len(sender)) + sender
        keys, mids = _native.message_keys(n, suffix)
        with self._lock:
            self._check_alive()
            now = self._service.now_ms()
            st = self._loaded(now)
            log, _ = self._open_logs()
            try:
                first = self._service._write(log, bodies, keys, now)
            except streamcore.StreamcoreError as exc:
                raise from_storage(exc) from exc
            self._ops_since_checkpoint += n
            st.add_many(first, n, now + self.delay_s * 1000, now)
            self._notify()
        return _native.plain_send_results(mids, ids, bodies)

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
                        results[i] = SendResult(seen[1], None, p.md5_attrs, p.md5_sys,
                                                seen[2], p.entry_id, body=p.body)
                    elif p.dedup_key in batch_keys:
                        batch_keys[p.dedup_key] = batch_keys[p.dedup_key]  # resolved below
                    else:
                        batch_keys[p.dedup_key] = i
            raw_ids = _native.new_message_ids(len(prepared))
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
                    results[i] = SendResult(mid, None, p.md5_attrs, p.md5_sys, seq,
                                            p.entry_id, body=p.body)
                self._notify()
            if self.fifo:  # repeats within the batch answer like the entry they repeat
                for i, p in enumerate(prepared):
                    if results[i] is None:
                        first_i = batch_keys[p.dedup_key or ""]
                        r = results[first_i]
                        assert r is not None
                        results[i] = SendResult(r.message_id, None, p.md5_attrs,
                                                p.md5_sys, r.sequence_number, p.entry_id,
                                                body=p.body)
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
