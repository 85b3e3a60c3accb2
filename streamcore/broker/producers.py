"""Idempotent producers: producer ids, and per partition the last batches of each producer.

Kafka's rules (ProducerAppendInfo / ProducerStateEntry): per (partition,
producer id) the last five batches are remembered; a retry of one of them is
acknowledged with its original offsets, the next batch must continue the
sequence (else OUT_OF_ORDER_SEQUENCE_NUMBER), an older epoch is fenced
(INVALID_PRODUCER_EPOCH), a new epoch starts at sequence 0, and a producer the
partition has no state for is accepted at any sequence.

Nothing here is stored: a partition's state is rebuilt from the batch headers
of its last segments the first time an idempotent producer writes to it after
a start (``rebuild``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .._core import iter_batches
from .batches import BatchHeader
from .errors import InvalidProducerEpochError, OutOfOrderSequenceError

BATCHES_KEPT = 5
SEQUENCE_MODULO = 0x80000000
REBUILD_SEGMENTS = 2  # the producers' recent batches are in the newest segments
_REBUILD_READ_BYTES = 8 << 20


@dataclass
class _Batch:
    first_seq: int
    last_seq: int
    first_offset: int
    last_offset: int


@dataclass
class _Producer:
    epoch: int
    batches: deque[_Batch] = field(default_factory=lambda: deque(maxlen=BATCHES_KEPT))


class PartitionProducers:
    """The producer state of one partition."""

    def __init__(self) -> None:
        self._producers: dict[int, _Producer] = {}

    def check(self, h: BatchHeader) -> tuple[int, int] | None:
        """Offsets of the original when ``h`` is a retried batch; None to append it."""
        p = self._producers.get(h.producer_id)
        if p is None:
            return None
        if h.producer_epoch < p.epoch:
            raise InvalidProducerEpochError(
                f"producer {h.producer_id} epoch {h.producer_epoch} is older than {p.epoch}"
            )
        if h.producer_epoch > p.epoch:
            if h.base_sequence != 0:
                raise OutOfOrderSequenceError(
                    f"a new epoch starts at sequence 0, not {h.base_sequence}"
                )
            return None
        last_seq = h.last_sequence
        for b in p.batches:
            if b.first_seq == h.base_sequence and b.last_seq == last_seq:
                return b.first_offset, b.last_offset
        if p.batches:
            expected = (p.batches[-1].last_seq + 1) % SEQUENCE_MODULO
            if h.base_sequence != expected:
                raise OutOfOrderSequenceError(
                    f"producer {h.producer_id}: sequence {h.base_sequence}, expected {expected}"
                )
        return None

    def update(self, h: BatchHeader, first_offset: int, last_offset: int) -> None:
        p = self._producers.get(h.producer_id)
        if p is None or h.producer_epoch > p.epoch:
            p = self._producers[h.producer_id] = _Producer(h.producer_epoch)
        p.batches.append(_Batch(h.base_sequence, h.last_sequence, first_offset, last_offset))

    def _update_from_batch(self, b: Any) -> None:
        if b.producer_id < 0 or b.is_control:
            return
        p = self._producers.get(b.producer_id)
        if p is None or b.producer_epoch > p.epoch:
            p = self._producers[b.producer_id] = _Producer(b.producer_epoch)
        elif b.producer_epoch < p.epoch:
            return
        last_seq = (b.base_sequence + b.last_offset_delta) % SEQUENCE_MODULO
        p.batches.append(_Batch(b.base_sequence, last_seq, b.base_offset, b.last_offset))

    @classmethod
    def rebuild(cls, log: Any) -> PartitionProducers:
        """The state the batch headers of a log's newest segments describe."""
        state = cls()
        segments = log.segments()
        if not segments:
            return state
        at = max(segments[-min(REBUILD_SEGMENTS, len(segments))].base_offset, log.start_offset)
        end = log.end_offset
        while at < end:
            view = log.read(at, _REBUILD_READ_BYTES)
            if len(view) == 0:
                break
            for b in iter_batches(view, validate=False):
                state._update_from_batch(b)
            at = view.next_offset
        return state


class ProducerIds:
    """Hands out producer ids from blocks reserved in the metadata log."""

    BLOCK = 1000

    def __init__(self, next_id: int, reserve: Any) -> None:
        self._next = next_id
        self._limit = next_id  # nothing reserved yet
        self._reserve = reserve  # reserve(new_limit): persist before handing out

    def allocate(self) -> int:
        if self._next >= self._limit:
            self._limit = self._next + self.BLOCK
            self._reserve(self._limit)
        pid = self._next
        self._next += 1
        return pid
