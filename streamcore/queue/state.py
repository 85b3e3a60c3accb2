"""A queue's message states in memory: which messages are visible, in flight or
delayed, in what order they are handed out, and FIFO group locks.

Nothing here touches storage.  The queue calls these methods after each change
is written; recovery rebuilds a ``MessageState`` from a ``Snapshot`` (the plain
form a checkpoint stores) plus the operations replayed after it.

A standard queue's state is ``StandardState``, in C (``standard_state.pxi``):
it costs no memory per waiting message, since every offset in
``[fresh_lo, end)`` that is not delayed has never been received and is
visible.  A FIFO queue's is ``FifoState``, here: per group, a heap of its
visible offsets, and a group with a message in flight is locked: none of its
messages is handed out until none is in flight.  In both, a message received
at least once is ``Tracked`` (receive number, deadline) until deleted;
delayed messages wait in a heap by due time, in-flight ones in a heap by
deadline, and heaps drop stale entries when popped.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ._native import StandardState, Tracked

Pick = tuple[int, "Tracked | None", "str | None"]  # (offset, tracked state, FIFO group)


class _Group:
    __slots__ = ("heap", "inflight")

    def __init__(self) -> None:
        self.heap: list[int] = []
        self.inflight = 0


@dataclass
class Snapshot:
    """A queue's message state in plain form: what a checkpoint stores and
    what recovery edits while it replays the journal."""

    fifo: bool
    end: int = 0  # the message log's end offset this state covers
    fresh_lo: int = 0  # standard: every untracked, undelayed offset >= it is fresh
    floor: int = 0  # every offset below it is gone (purged, expired, deleted)
    tracked: dict[int, list[Any]] = field(default_factory=dict)
    # offset -> [number, deadline, first_ms, received_ms, group]
    delayed: dict[int, tuple[int, str | None]] = field(default_factory=dict)
    # offset -> (due ms, group)
    ready: dict[int, str | None] = field(default_factory=dict)
    # FIFO: visible never-received offset -> group

    def add_message(self, offset: int, visible_at: int, now: int, group: str | None) -> None:
        if offset < self.floor:
            return
        if visible_at > now:
            self.delayed[offset] = (visible_at, group)
        elif self.fifo:
            self.ready[offset] = group
        self.end = max(self.end, offset + 1)

    def received(self, offset: int, number: int, deadline: int, ts: int) -> None:
        if offset < self.floor:
            return
        t = self.tracked.get(offset)
        group = self.ready.pop(offset, None)
        self.delayed.pop(offset, None)
        if t is None:
            t = [number, deadline, ts if number == 1 else 0, ts, group]
            self.tracked[offset] = t
        else:
            t[0] = number
            t[1] = deadline
            t[3] = ts
            if number == 1 or not t[2]:
                t[2] = ts
        if not self.fifo and offset >= self.fresh_lo:
            self.fresh_lo = offset + 1

    def visibility(self, offset: int, deadline: int) -> None:
        t = self.tracked.get(offset)
        if t is not None:
            t[1] = deadline

    def deleted(self, offset: int) -> None:
        self.tracked.pop(offset, None)
        self.ready.pop(offset, None)
        self.delayed.pop(offset, None)

    def drop_below(self, before: int) -> None:
        """Every message below ``before`` is gone (purge, retention, space given back)."""
        if before <= self.floor:
            return
        self.floor = before
        self.fresh_lo = max(self.fresh_lo, before)
        for d in (self.tracked, self.delayed, self.ready):
            for off in [o for o in d if o < before]:
                del d[off]

    def drop_from(self, end: int) -> None:
        """Forget state about offsets the message log does not hold (a lost tail)."""
        for d in (self.tracked, self.delayed, self.ready):
            for off in [o for o in d if o >= end]:
                del d[off]
        self.end = min(self.end, end)
        self.fresh_lo = min(self.fresh_lo, max(end, self.floor))

    # -- checkpoint form

    def header(self) -> dict[str, Any]:
        return {"v": 1, "fifo": self.fifo, "end": self.end, "fresh_lo": self.fresh_lo,
                "floor": self.floor}

    def parts(self) -> dict[str, list[Any]]:
        groups: dict[str | None, list[int]] = {}
        for off, g in self.ready.items():
            groups.setdefault(g, []).append(off)
        return {
            "tracked": [[o, *t] for o, t in self.tracked.items()],
            "delayed": [[o, v, g] for o, (v, g) in self.delayed.items()],
            "ready": [[g, offs] for g, offs in groups.items()],
        }

    @classmethod
    def load(cls, header: dict[str, Any], parts: dict[str, list[Any]]) -> Snapshot:
        snap = cls(fifo=bool(header["fifo"]), end=int(header["end"]),
                   fresh_lo=int(header["fresh_lo"]), floor=int(header["floor"]))
        for o, *t in parts.get("tracked", []):
            snap.tracked[int(o)] = list(t)
        for o, v, g in parts.get("delayed", []):
            snap.delayed[int(o)] = (int(v), g)
        for g, offs in parts.get("ready", []):
            for o in offs:
                snap.ready[int(o)] = g
        return snap


class FifoState:
    """The live state of one FIFO queue's messages (see the module comment)."""

    fifo = True

    def __init__(self, end: int = 0) -> None:
        self.end = end
        self.floor = 0
        self.msgs: dict[int, Tracked] = {}
        self.inflight: list[tuple[int, int]] = []  # (deadline, offset)
        self.delayed_heap: list[tuple[int, int]] = []  # (due, offset)
        self.delayed: dict[int, tuple[int, str | None]] = {}
        self.groups: dict[str | None, _Group] = {}
        self.ready_groups: list[tuple[int, str | None]] = []  # (head offset, group)
        self.n_visible = 0
        self.n_inflight = 0

    @property
    def n_delayed(self) -> int:
        return len(self.delayed)

    # -- building

    @classmethod
    def build(cls, snap: Snapshot, now: int) -> FifoState:
        st = cls(snap.end)
        st.floor = snap.floor
        for off, (due, group) in snap.delayed.items():
            st.delayed[off] = (due, group)
            st.delayed_heap.append((due, off))
        heapq.heapify(st.delayed_heap)
        for off, (number, deadline, first_ms, received_ms, group) in snap.tracked.items():
            t = Tracked(int(number), int(deadline), int(first_ms), int(received_ms), group)
            st.msgs[off] = t
            if deadline > now and number > 0:
                t.inflight = True
                st.inflight.append((t.deadline, off))
                st.n_inflight += 1
                st._group(group).inflight += 1
            else:
                st._make_visible(off, t)
        heapq.heapify(st.inflight)
        for off, group in snap.ready.items():
            st._group(group).heap.append(off)
            st.n_visible += 1
        for gid, g in st.groups.items():
            heapq.heapify(g.heap)
            if g.heap and not g.inflight:
                st.ready_groups.append((g.heap[0], gid))
        heapq.heapify(st.ready_groups)
        return st

    def snapshot(self) -> Snapshot:
        snap = Snapshot(fifo=True, end=self.end, fresh_lo=self.end, floor=self.floor)
        for off, t in self.msgs.items():
            snap.tracked[off] = [t.number, t.deadline if t.inflight else 0, t.first_ms,
                                 t.received_ms, t.group]
        snap.delayed = dict(self.delayed)
        for gid, g in self.groups.items():
            for off in g.heap:
                if off not in self.msgs:
                    snap.ready[off] = gid
        return snap

    # -- changes

    def _group(self, gid: str | None) -> _Group:
        g = self.groups.get(gid)
        if g is None:
            g = self.groups[gid] = _Group()
        return g

    def _make_visible(self, off: int, t: Tracked | None, group: str | None = None) -> None:
        """A message joins the visible ones (counted here)."""
        self.n_visible += 1
        gid = t.group if t is not None else group
        g = self._group(gid)
        old_head = g.heap[0] if g.heap else None
        heapq.heappush(g.heap, off)
        if not g.inflight and (old_head is None or off < old_head):
            heapq.heappush(self.ready_groups, (off, gid))

    def add(self, offset: int, visible_at: int, now: int, group: str | None) -> None:
        """A message was appended at ``offset``."""
        if offset + 1 > self.end:
            self.end = offset + 1
        if visible_at > now:
            self.delayed[offset] = (visible_at, group)
            heapq.heappush(self.delayed_heap, (visible_at, offset))
        else:
            self._make_visible(offset, None, group)

    def add_many(self, first: int, n: int, visible_at: int, now: int) -> None:
        """Messages without a group were appended at ``first`` .. ``first + n - 1``."""
        for off in range(first, first + n):
            self.add(off, visible_at, now, None)

    def advance(self, now: int) -> bool:
        """Apply due delays and ended visibility timeouts; True if any message became visible."""
        changed = False
        dh = self.delayed_heap
        while dh and dh[0][0] <= now:
            due, off = heapq.heappop(dh)
            d = self.delayed.get(off)
            if d is None or d[0] != due:
                continue
            del self.delayed[off]
            changed = True
            self._make_visible(off, None, d[1])
        ih = self.inflight
        while ih and ih[0][0] <= now:
            deadline, off = heapq.heappop(ih)
            t = self.msgs.get(off)
            if t is None or not t.inflight or t.deadline != deadline:
                continue
            t.inflight = False
            self.n_inflight -= 1
            changed = True
            g = self._group(t.group)
            g.inflight -= 1
            self._make_visible(off, t)
            if not g.inflight and g.heap:
                heapq.heappush(self.ready_groups, (g.heap[0], t.group))
        return changed

    def next_wake(self) -> int | None:
        """When the next delay or visibility timeout ends (ms), if any."""
        times = []
        if self.delayed_heap:
            times.append(self.delayed_heap[0][0])
        if self.inflight:
            times.append(self.inflight[0][0])
        return min(times) if times else None

    def take(self, n: int) -> list[Pick]:
        """Up to ``n`` visible messages in delivery order, no longer visible.

        The caller then either ``mark_received`` or ``remove``s each one."""
        out: list[Pick] = []
        rg = self.ready_groups
        while rg and len(out) < n:
            head, gid = heapq.heappop(rg)
            g = self.groups.get(gid)
            if g is None or g.inflight or not g.heap or g.heap[0] != head:
                continue
            while g.heap and len(out) < n:
                off = heapq.heappop(g.heap)
                out.append((off, self.msgs.get(off), gid))
                g.inflight += 1
        self.n_visible -= len(out)
        return out

    def mark_received(self, pick: Pick, number: int, deadline: int, now: int) -> Tracked:
        off, t, group = pick
        if t is None:
            t = Tracked(number, deadline, now, now, group)
            self.msgs[off] = t
        else:
            t.number = number
            t.deadline = deadline
            t.received_ms = now
            if not t.first_ms:
                t.first_ms = now
        t.inflight = True
        self.n_inflight += 1
        heapq.heappush(self.inflight, (deadline, off))
        return t

    def release(self, pick: Pick) -> None:
        """A taken message was neither received nor removed: visible again."""
        off, _t, group = pick
        g = self._group(group)
        g.inflight -= 1
        self.n_visible += 1
        heapq.heappush(g.heap, off)
        if not g.inflight:
            heapq.heappush(self.ready_groups, (g.heap[0], group))

    def discard_taken(self, pick: Pick) -> None:
        """A taken message is gone (moved to a dead-letter queue, expired, unreadable)."""
        off, _t, group = pick
        self.msgs.pop(off, None)
        g = self.groups.get(group)
        if g is not None:
            g.inflight -= 1
            self._unlock(group, g)

    def _unlock(self, gid: str | None, g: _Group) -> None:
        if g.inflight:
            return
        if g.heap:
            heapq.heappush(self.ready_groups, (g.heap[0], gid))
        else:
            del self.groups[gid]

    def set_deadline(self, off: int, t: Tracked, deadline: int) -> None:
        t.deadline = deadline
        heapq.heappush(self.inflight, (deadline, off))

    def remove(self, off: int) -> bool:
        """Delete a tracked message (in flight, or visible after its timeout); True if it was."""
        t = self.msgs.pop(off, None)
        if t is None:
            return False
        g = self.groups.get(t.group)
        if t.inflight:
            self.n_inflight -= 1
            if g is not None:
                g.inflight -= 1
                self._unlock(t.group, g)
        else:
            self.n_visible -= 1
            if g is not None and off in g.heap:  # drop it from its group's heap
                g.heap.remove(off)
                heapq.heapify(g.heap)
                if not g.inflight:
                    self._unlock(t.group, g)
        return True

    def drop_below(self, before: int) -> None:
        """Every message below ``before`` is gone (purge, retention)."""
        if before <= self.floor:
            return
        snap = self.snapshot()
        snap.drop_below(before)
        # now=0: every deadline kept as it is; advance() applies the clock
        self.__dict__.update(FifoState.build(snap, 0).__dict__)

    def purge(self, before: int) -> None:
        self.drop_below(before)

    def low_watermark(self) -> int:
        """The lowest offset still live (``end`` when none is)."""
        low = self.end
        if self.msgs:
            low = min(low, min(self.msgs))
        if self.delayed:
            low = min(low, min(self.delayed))
        for g in self.groups.values():
            if g.heap:
                low = min(low, g.heap[0])
        return max(low, self.floor) if low < self.end else self.end

    def oldest_offset(self) -> int | None:
        low = self.low_watermark()
        return low if low < self.end else None


MessageState = FifoState | StandardState


def build_state(snap: Snapshot, now: int) -> MessageState:
    """The live state a snapshot describes: in C for a standard queue."""
    if snap.fifo:
        return FifoState.build(snap, now)
    return StandardState.build(snap, now)


class DedupTable:
    """FIFO deduplication ids seen in the last five minutes: key -> (expiry ms,
    message id, sequence number, offset)."""

    WINDOW_MS = 300_000

    def __init__(self) -> None:
        self.entries: dict[str, tuple[int, str, str | None, int]] = {}
        self._order: deque[tuple[int, str]] = deque()

    def expire(self, now: int) -> None:
        order = self._order
        entries = self.entries
        while order and order[0][0] <= now:
            expiry, key = order.popleft()
            e = entries.get(key)
            if e is not None and e[0] == expiry:
                del entries[key]

    def get(self, key: str, now: int) -> tuple[int, str, str | None, int] | None:
        e = self.entries.get(key)
        if e is None or e[0] <= now:
            return None
        return e

    def add(self, key: str, sent_ms: int, message_id: str, seq: str | None, offset: int) -> None:
        expiry = sent_ms + self.WINDOW_MS
        self.entries[key] = (expiry, message_id, seq, offset)
        self._order.append((expiry, key))

    def drop_below(self, before: int) -> None:
        for key in [k for k, e in self.entries.items() if e[3] < before]:
            del self.entries[key]

    def dump(self) -> list[list[Any]]:
        return [[k, *e] for k, e in self.entries.items()]

    def load(self, items: list[list[Any]], now: int) -> None:
        for key, expiry, message_id, seq, offset in sorted(items, key=lambda e: e[1]):
            if expiry > now:
                self.entries[key] = (int(expiry), message_id, seq, int(offset))
                self._order.append((int(expiry), key))
