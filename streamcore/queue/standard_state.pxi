# Included by _native.pyx.
#
# The in-memory message state of a standard queue, in C: the contract of
# state.FifoState (which keeps FIFO queues) without FIFO's groups, and without a
# Python call, tuple or heapq comparison per message.
#
# Every offset in [fresh_lo, end) that is not delayed has never been received
# and is visible: it costs no memory.  A message received at least once is a
# Tracked in ``msgs`` until deleted.  Three binary heaps of (key, offset) pairs
# in C arrays: visible tracked offsets (``ready``, key = offset), in-flight
# messages by visibility deadline, delayed messages by due time.  As in
# FifoState, heaps keep stale entries and drop them when popped.

from libc.stdint cimport int64_t
from libc.stdlib cimport free, realloc


@cython.auto_pickle(False)
cdef class Tracked:
    """A message received at least once (or made visible after a delay)."""

    cdef public int64_t number  # receives so far (ApproximateReceiveCount)
    cdef public int64_t deadline  # visibility deadline (ms) while in flight
    cdef public int64_t first_ms  # ApproximateFirstReceiveTimestamp (0: never)
    cdef public int64_t received_ms  # the latest receive (ms)
    cdef public bint inflight
    cdef public bint ready  # waiting in a standard queue's ready heap
    cdef public object group  # FIFO: the message group

    def __init__(self, int64_t number, int64_t deadline, int64_t first_ms,
                 int64_t received_ms, object group):
        self.number = number
        self.deadline = deadline
        self.first_ms = first_ms
        self.received_ms = received_ms
        self.group = group


cdef inline Tracked _tracked(int64_t number, int64_t deadline, int64_t first_ms,
                             int64_t received_ms):
    cdef Tracked t = Tracked.__new__(Tracked)
    t.number = number
    t.deadline = deadline
    t.first_ms = first_ms
    t.received_ms = received_ms
    t.group = None
    return t


cdef struct HeapItem:
    int64_t key
    int64_t off


cdef struct Heap:
    HeapItem *items
    Py_ssize_t n
    Py_ssize_t cap


cdef inline bint _less(HeapItem a, HeapItem b) noexcept nogil:
    return a.key < b.key or (a.key == b.key and a.off < b.off)


cdef int _heap_push(Heap *h, int64_t key, int64_t off) except -1:
    cdef Py_ssize_t i, parent, cap
    cdef HeapItem *grown
    cdef HeapItem item
    if h.n == h.cap:
        cap = h.cap * 2 if h.cap else 64
        grown = <HeapItem *>realloc(h.items, cap * sizeof(HeapItem))
        if grown == NULL:
            raise MemoryError()
        h.items = grown
        h.cap = cap
    item.key = key
    item.off = off
    i = h.n
    h.n += 1
    while i > 0:
        parent = (i - 1) >> 1
        if not _less(item, h.items[parent]):
            break
        h.items[i] = h.items[parent]
        i = parent
    h.items[i] = item
    return 0


cdef HeapItem _heap_pop(Heap *h) noexcept nogil:
    """The smallest item; the heap must not be empty."""
    cdef HeapItem top = h.items[0]
    cdef HeapItem last
    cdef Py_ssize_t i = 0, child
    h.n -= 1
    if h.n:
        last = h.items[h.n]
        while True:
            child = 2 * i + 1
            if child >= h.n:
                break
            if child + 1 < h.n and _less(h.items[child + 1], h.items[child]):
                child += 1
            if not _less(h.items[child], last):
                break
            h.items[i] = h.items[child]
            i = child
        h.items[i] = last
    return top


cdef void _heap_free(Heap *h) noexcept nogil:
    free(h.items)
    h.items = NULL
    h.n = h.cap = 0


@cython.auto_pickle(False)
cdef class StandardState:
    """The live state of one standard queue's messages (see the file's comment);
    the methods and counts of state.FifoState."""

    cdef readonly bint fifo
    cdef public int64_t end  # the message log's end offset this state covers
    cdef public int64_t fresh_lo
    cdef public int64_t floor  # every offset below it is gone
    cdef public Py_ssize_t n_visible
    cdef public Py_ssize_t n_inflight
    cdef public dict msgs  # offset -> Tracked
    cdef public dict delayed  # offset -> (due ms, None)
    cdef Heap ready_heap
    cdef Heap inflight_heap
    cdef Heap delayed_heap

    def __init__(self, int64_t end=0):
        self.fifo = False
        self.end = end
        self.fresh_lo = end
        self.floor = 0
        self.msgs = {}
        self.delayed = {}

    def __dealloc__(self):
        _heap_free(&self.ready_heap)
        _heap_free(&self.inflight_heap)
        _heap_free(&self.delayed_heap)

    @property
    def n_delayed(self) -> int:
        return len(self.delayed)

    # -- building

    @classmethod
    def build(cls, snap, int64_t now):
        """The state a ``Snapshot`` describes, the clock at ``now``."""
        cdef StandardState st = cls(snap.end)
        st._load(snap, now)
        return st

    cdef int _load(self, snap, int64_t now) except -1:
        cdef Tracked t
        cdef int64_t off, due, fresh
        _heap_free(&self.ready_heap)
        _heap_free(&self.inflight_heap)
        _heap_free(&self.delayed_heap)
        self.msgs = {}
        self.delayed = {}
        self.n_visible = self.n_inflight = 0
        self.end = snap.end
        self.floor = snap.floor
        self.fresh_lo = max(<int64_t>snap.fresh_lo, self.floor)
        for o, (d, group) in snap.delayed.items():
            off = o
            due = d
            self.delayed[off] = (due, None)
            _heap_push(&self.delayed_heap, due, off)
        for o, (number, deadline, first_ms, received_ms, _group) in snap.tracked.items():
            off = o
            t = _tracked(number, deadline, first_ms, received_ms)
            self.msgs[off] = t
            if t.deadline > now and t.number > 0:
                t.inflight = True
                _heap_push(&self.inflight_heap, t.deadline, off)
                self.n_inflight += 1
            else:
                self._make_visible(off, t)
        fresh = self.end - self.fresh_lo
        for o in self.delayed:
            if <int64_t>o >= self.fresh_lo:
                fresh -= 1
        if fresh > 0:
            self.n_visible += fresh
        return 0

    def snapshot(self):
        """This state in plain form (a checkpoint's content)."""
        from .state import Snapshot

        cdef Tracked t
        snap = Snapshot(fifo=False, end=self.end, fresh_lo=self.fresh_lo, floor=self.floor)
        tracked = snap.tracked
        for off, t in self.msgs.items():
            tracked[off] = [t.number, t.deadline if t.inflight else 0, t.first_ms,
                            t.received_ms, None]
        snap.delayed = dict(self.delayed)
        return snap

    # -- changes

    cdef inline int _make_visible(self, int64_t off, Tracked t) except -1:
        self.n_visible += 1
        t.ready = True
        return _heap_push(&self.ready_heap, off, off)

    def add(self, int64_t offset, int64_t visible_at, int64_t now, object group):
        """A message was appended at ``offset``."""
        if offset + 1 > self.end:
            self.end = offset + 1
        if visible_at > now:
            self.delayed[offset] = (visible_at, None)
            _heap_push(&self.delayed_heap, visible_at, offset)
        else:
            self.n_visible += 1

    def add_many(self, int64_t first, int64_t n, int64_t visible_at, int64_t now):
        """Messages were appended at ``first`` .. ``first + n - 1``."""
        cdef int64_t off
        if visible_at > now:
            for off in range(first, first + n):
                self.add(off, visible_at, now, None)
            return
        if first + n > self.end:
            self.end = first + n
        self.n_visible += n

    def advance(self, int64_t now):
        """Apply due delays and ended visibility timeouts; True if any message became visible."""
        cdef bint changed = False
        cdef HeapItem item
        cdef Tracked t
        cdef object d
        while self.delayed_heap.n and self.delayed_heap.items[0].key <= now:
            item = _heap_pop(&self.delayed_heap)
            d = self.delayed.get(item.off)
            if d is None or <int64_t>d[0] != item.key:
                continue
            del self.delayed[item.off]
            changed = True
            if item.off >= self.fresh_lo:
                self.n_visible += 1  # fresh again: the scan of the fresh range finds it
            else:
                t = _tracked(0, 0, 0, 0)
                self.msgs[item.off] = t
                self._make_visible(item.off, t)
        while self.inflight_heap.n and self.inflight_heap.items[0].key <= now:
            item = _heap_pop(&self.inflight_heap)
            t = self.msgs.get(item.off)
            if t is None or not t.inflight or t.deadline != item.key:
                continue
            t.inflight = False
            self.n_inflight -= 1
            changed = True
            self._make_visible(item.off, t)
        return changed

    def next_wake(self):
        """When the next delay or visibility timeout ends (ms), if any."""
        if self.delayed_heap.n and self.inflight_heap.n:
            return min(self.delayed_heap.items[0].key, self.inflight_heap.items[0].key)
        if self.delayed_heap.n:
            return self.delayed_heap.items[0].key
        if self.inflight_heap.n:
            return self.inflight_heap.items[0].key
        return None

    def take(self, Py_ssize_t n):
        """Up to ``n`` visible messages in delivery order, no longer visible:
        (offset, Tracked or None, None) each.  The caller then either
        ``mark_received`` or ``remove``s each one."""
        cdef list out = []
        cdef int64_t off
        cdef Tracked t
        msgs = self.msgs
        while self.ready_heap.n and len(out) < n:
            off = _heap_pop(&self.ready_heap).off
            t = msgs.get(off)
            if t is None or not t.ready:
                continue
            t.ready = False
            out.append((off, t, None))
        delayed = self.delayed
        while self.fresh_lo < self.end and len(out) < n:
            off = self.fresh_lo
            self.fresh_lo = off + 1
            if off in delayed or off in msgs:
                continue
            out.append((off, None, None))
        self.n_visible -= len(out)
        return out

    def mark_received(self, tuple pick, int64_t number, int64_t deadline, int64_t now):
        cdef int64_t off = pick[0]
        cdef Tracked t = pick[1]
        if t is None:
            t = _tracked(number, deadline, now, now)
            self.msgs[off] = t
        else:
            t.number = number
            t.deadline = deadline
            t.received_ms = now
            if not t.first_ms:
                t.first_ms = now
        t.inflight = True
        self.n_inflight += 1
        _heap_push(&self.inflight_heap, deadline, off)
        return t

    def release(self, tuple pick):
        """A taken message was neither received nor removed: visible again."""
        cdef int64_t off = pick[0]
        cdef Tracked t = pick[1]
        if t is None:
            t = _tracked(0, 0, 0, 0)
            self.msgs[off] = t
        self._make_visible(off, t)

    def discard_taken(self, tuple pick):
        """A taken message is gone (moved to a dead-letter queue, expired, unreadable)."""
        self.msgs.pop(pick[0], None)

    def set_deadline(self, int64_t off, Tracked t not None, int64_t deadline):
        t.deadline = deadline
        _heap_push(&self.inflight_heap, deadline, off)

    def remove(self, int64_t off):
        """Delete a tracked message (in flight, or visible after its timeout); True if it was."""
        cdef Tracked t = self.msgs.get(off)
        if t is None:
            return False
        self._forget(off, t)
        return True

    cdef int _forget(self, int64_t off, Tracked t) except -1:
        """A tracked message is deleted: out of ``msgs`` and the counts (its
        heap entries go stale)."""
        del self.msgs[off]
        if t.inflight:
            self.n_inflight -= 1
        else:
            self.n_visible -= 1
        return 0

    def delete_received(self, int64_t off, int64_t number):
        """DeleteMessage of receive ``number`` of the message at ``off``: True
        if it was deleted; False if it is gone already or was received again
        since (a stale handle deletes nothing in a standard queue)."""
        cdef Tracked t = self.msgs.get(off)
        if t is None or t.number != number:
            return False
        self._forget(off, t)
        return True

    def delete_handles(self, bytes key not None, uint64_t incarnation, list handles):
        """DeleteMessage for each version 2 handle (under ``key``) of this queue
        incarnation; a stale handle (received again since) deletes nothing.
        (offsets deleted, indexes of the handles not resolved here: not version
        2, not genuine, or of another queue), the latter for the caller to check."""
        cdef const uint8_t *k = _key16(key)
        cdef uint64_t inc, off
        cdef uint32_t number
        cdef Tracked t
        cdef Py_ssize_t i
        cdef list deleted = [], unresolved = []
        for i in range(len(handles)):
            if not _check(k, handles[i], &inc, &off, &number) or inc != incarnation:
                unresolved.append(i)
                continue
            t = self.msgs.get(off)
            if t is None or t.number != number:
                continue
            self._forget(off, t)
            deleted.append(off)
        return deleted, unresolved

    def receive_plain(self, list picks, dict rows, int64_t deadline, int64_t now,
                      int64_t max_receives, bytes key not None, uint64_t incarnation,
                      str account not None, bint with_attributes):
        """Receive the plain messages among taken ``picks``: those whose record
        (``rows``: offset -> (timestamp, key, value)) is a body and at most a
        sender, received fewer than ``max_receives`` times.  Each is marked
        received until ``deadline`` and made a ``Message``, its system
        attributes every one ("All") or none.  (messages, [(offset, receive number, deadline)], picks left for
        the general path).

        A plain record key is the message id (16 bytes) and the delay (u16),
        then nothing or only the sender field (tag 7, u32 length, bytes): the
        layout of ``messages.encode_key``."""
        cdef const uint8_t *k = _key16(key)
        cdef list out = [], received = [], rest = []
        cdef Tracked t
        cdef int64_t off, number, ts, last_ts = -1
        cdef bytes rkey, value
        cdef const uint8_t *kp
        cdef Py_ssize_t klen
        cdef str sender, sent_text = None, now_text = None
        cdef tuple row
        cdef dict attrs
        msgs = self.msgs
        for pick in picks:
            off = pick[0]
            t = pick[1]
            row = rows.get(off)
            number = t.number if t is not None else 0
            if row is None or number >= max_receives:
                rest.append(pick)
                continue
            rkey = row[1]
            kp = <const uint8_t *>PyBytes_AS_STRING(rkey)
            klen = PyBytes_GET_SIZE(rkey)
            if klen == 18:
                sender = account
            elif klen > 23 and kp[18] == 7 and <uint64_t>klen == 23 + _get_be(kp + 19, 4):
                sender = rkey[23:].decode()
            else:
                rest.append(pick)
                continue
            number += 1
            if t is None:
                t = _tracked(number, deadline, now, now)
                msgs[off] = t
            else:
                t.number = number
                t.deadline = deadline
                t.received_ms = now
                if not t.first_ms:
                    t.first_ms = now
            t.inflight = True
            self.n_inflight += 1
            _heap_push(&self.inflight_heap, deadline, off)
            if with_attributes:
                ts = row[0]
                if ts != last_ts or sent_text is None:
                    sent_text = str(ts)
                    last_ts = ts
                if now_text is None:
                    now_text = str(now)
                attrs = {"SenderId": sender, "SentTimestamp": sent_text,
                         "ApproximateReceiveCount": "1" if number == 1 else str(number),
                         "ApproximateFirstReceiveTimestamp":
                             now_text if t.first_ms == now else str(t.first_ms)}
            else:
                attrs = {}
            value = row[2]
            out.append(_plain_message(_format_id(kp),
                                      _issue(k, incarnation, off, <uint32_t>number),
                                      value.decode(), attrs))
            received.append((off, number, deadline))
        return out, received, rest

    def drop_below(self, int64_t before):
        """Every message below ``before`` is gone (purge, retention)."""
        if before <= self.floor:
            return
        snap = self.snapshot()
        snap.drop_below(before)
        self._load(snap, 0)  # now=0: every deadline kept as it is; advance() applies the clock

    def purge(self, int64_t before):
        self.drop_below(before)

    def low_watermark(self):
        """The lowest offset still live (``end`` when none is)."""
        cdef int64_t low = self.fresh_lo
        if self.msgs:
            low = min(low, <int64_t>min(self.msgs))
        if self.delayed:
            low = min(low, <int64_t>min(self.delayed))
        return max(low, self.floor) if low < self.end else self.end

    def oldest_offset(self):
        cdef int64_t low = self.low_watermark()
        return low if low < self.end else None
