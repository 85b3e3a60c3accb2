"""A standard queue's message state (``StandardState``, in C) driven by random
sends, receives, clock ticks, visibility changes, deletes, drops and
checkpoint round trips, checked after every step against a plain model: a
dict of every live message and what it is doing."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from streamcore.queue._native import StandardState, Tracked
from streamcore.queue.state import Snapshot, build_state


@dataclass
class Model:
    state: str  # "visible", "inflight", "delayed"
    until: int = 0  # due time (delayed) or visibility deadline (in flight)
    number: int = 0  # receives so far


class StandardStateMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 1_000
        self.st = build_state(Snapshot(fifo=False), self.now)
        self.model: dict[int, Model] = {}
        self.handles: list[tuple[int, int]] = []  # (offset, receive number) ever handed out

    def _tick_model(self) -> None:
        for m in self.model.values():
            if m.state != "visible" and m.until <= self.now:
                m.state = "visible"

    @rule(n=st.integers(1, 12), delay=st.sampled_from([0, 0, 0, 5, 40]))
    def send(self, n: int, delay: int) -> None:
        first = self.st.end
        if n > 1 and not delay:
            self.st.add_many(first, n, self.now, self.now)
        else:
            for off in range(first, first + n):
                self.st.add(off, self.now + delay, self.now, None)
        for off in range(first, first + n):
            self.model[off] = Model("delayed", self.now + delay) if delay else Model("visible")

    @rule(ms=st.integers(0, 60))
    def tick(self, ms: int) -> None:
        self.now += ms
        self.st.advance(self.now)
        self._tick_model()

    @rule(k=st.integers(1, 10), visibility=st.sampled_from([0, 10, 30, 100]),
          outcome=st.sampled_from(["receive", "release", "discard"]))
    def receive(self, k: int, visibility: int, outcome: str) -> None:
        visible = {o for o, m in self.model.items() if m.state == "visible"}
        picks = self.st.take(k)
        offsets = [p[0] for p in picks]
        assert len(offsets) == len(set(offsets)) == min(k, len(visible))
        assert set(offsets) <= visible
        for pick in picks:
            off, t, group = pick
            m = self.model[off]
            assert group is None
            assert (t.number if t is not None else 0) == m.number
            if outcome == "receive":
                t = self.st.mark_received(pick, m.number + 1, self.now + visibility, self.now)
                assert isinstance(t, Tracked) and t.inflight
                m.number += 1
                m.state, m.until = "inflight", self.now + visibility
                self.handles.append((off, m.number))
            elif outcome == "release":
                self.st.release(pick)
            else:
                self.st.discard_taken(pick)
                del self.model[off]

    @rule(data=st.data(), seconds=st.integers(0, 50))
    def change_visibility(self, data: st.DataObject, seconds: int) -> None:
        inflight = sorted(o for o, m in self.model.items() if m.state == "inflight")
        if not inflight:
            return
        off = data.draw(st.sampled_from(inflight))
        self.st.set_deadline(off, self.st.msgs[off], self.now + seconds)
        self.model[off].until = self.now + seconds

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        if not self.handles:
            return
        off, number = data.draw(st.sampled_from(self.handles))
        m = self.model.get(off)
        expect = m is not None and m.number == number
        assert self.st.delete_received(off, number) == expect
        if expect:
            del self.model[off]

    @rule(data=st.data())
    def drop_below(self, data: st.DataObject) -> None:
        before = data.draw(st.integers(0, self.st.end + 2))
        if before <= self.st.floor:
            return
        self.st.drop_below(min(before, self.st.end))
        for off in [o for o in self.model if o < before]:
            del self.model[off]

    @rule()
    def restart(self) -> None:
        """A checkpoint and a recovery from it."""
        self.st = build_state(self.st.snapshot(), self.now)
        assert isinstance(self.st, StandardState)
        self._tick_model()  # recovery applies the clock

    @invariant()
    def counts_match(self) -> None:
        states = [m.state for m in self.model.values()]
        assert (self.st.n_visible, self.st.n_inflight, self.st.n_delayed) == (
            states.count("visible"), states.count("inflight"), states.count("delayed"))
        low = min(self.model, default=self.st.end)
        assert self.st.low_watermark() == low
        assert self.st.oldest_offset() == (low if self.model else None)
        pending = [m.until for m in self.model.values() if m.state != "visible"]
        wake = self.st.next_wake()
        if pending:  # never later than the next real change (stale entries may wake early)
            assert wake is not None and wake <= min(pending)


StandardStateMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40,
                                                  deadline=None)
test_standard_state = StandardStateMachine.TestCase
